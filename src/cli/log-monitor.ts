/** `runprint log monitor`: follows a log and keeps its last verified checkpoint on disk (SPEC 19.6). */
import { rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError, RunprintError } from '../errors.ts';
import { checkLogProgress, checkpointText, fetchCheckpoint, verifyCheckpointNote, type SignedCheckpoint } from '../log/client.ts';
import { parseDecimal } from '../log/checkpoint.ts';
import type { NoteVerifier } from '../log/note.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { EXIT, type CliIo } from './io.ts';
import { fileName } from './read-input.ts';
import { writeFailureReason } from './output-file.ts';
import { readFileAtMost } from '../store/small-file.ts';
import { GIVE_LOG_KEY, logUrl, logUsageError, naming, parseLogArgs, readLogKey } from './log-options.ts';

const OPTIONS = {
  key: { type: 'string' },
  state: { type: 'string' },
  once: { type: 'boolean' },
  interval: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Seconds between checks when --interval is not given. */
const DEFAULT_INTERVAL = 60;

/**
 * The longest --interval: 2^31 - 1 ms, the longest wait one Node timer takes (a longer one is
 * taken as 1 ms, a check every millisecond), in whole seconds: about 24.8 days.
 */
const MAX_INTERVAL = Math.floor(0x7fffffff / 1000);

/** The state file when --state is not given: in the working directory, named after the log key. */
export function defaultStatePath(cwd: string, logKey: NoteVerifier): string {
  return resolve(cwd, `runprint-monitor-${logKey.name.replace(/[^A-Za-z0-9.-]/g, '_')}.json`);
}

/**
 * The state file: `{"checkpoint": "<signed note>"}`. Only the signed note is kept, and it is
 * verified again with the log key when read, so a state file cannot vouch for what the key did not sign.
 */
async function readState(path: string, logKey: NoteVerifier): Promise<SignedCheckpoint | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileAtMost(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') return undefined;
    // It was read, or opened: too large or a folder is said as such, not as unreadable.
    if (code === 'ETOOBIG') throw new InputError('ERR_INPUT_UNREADABLE', `monitor state file is larger than 1 MiB, so not one runprint log monitor wrote (a few hundred bytes): ${fileName(path)}`);
    throw new InputError('ERR_INPUT_UNREADABLE', `monitor state file cannot be read (${code === 'EISDIR' ? 'it is a directory, not a file' : writeFailureReason(error)}): ${fileName(path)}`);
  }
  let note: unknown;
  try {
    note = (JSON.parse(new TextDecoder().decode(bytes)) as { checkpoint?: unknown }).checkpoint;
  } catch {
    note = undefined;
  }
  if (typeof note !== 'string') throw new InputError('ERR_INPUT_UNREADABLE', `monitor state file is not {"checkpoint": "<signed note>"}: ${fileName(path)}`);
  // Checked before the log is asked: a state file kept for another log (or key) names itself.
  const kept = {
    note: (origin: string) => `the checkpoint kept in the state file ${fileName(path)} (log "${origin}")`,
    remedy: 'give the key of the log this state file follows, or another --state file',
  };
  return naming(kept, () => verifyCheckpointNote(note, logKey));
}

/** Written to a temporary file and renamed over the old one: the state is the old or the new, never half. */
async function writeState(path: string, signed: SignedCheckpoint): Promise<void> {
  const { origin, size, rootHash } = signed.checkpoint;
  const text = `${JSON.stringify({ origin, size, rootHash: encodeBase64(rootHash), checkpoint: checkpointText(signed) }, null, 2)}\n`;
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new InputError('ERR_FILE_UNWRITABLE', `monitor state file cannot be written (${writeFailureReason(error)}): ${fileName(path)}`);
  }
}

const LATEST = { note: (origin: string) => `the log's latest checkpoint (log "${origin}")`, remedy: GIVE_LOG_KEY };

/** One check: verify the latest checkpoint, check it against the kept one, then keep it. */
async function checkOnce(base: URL, logKey: NoteVerifier, statePath: string, json: boolean, io: CliIo): Promise<void> {
  const previous = await readState(statePath, logKey);
  const latest = await naming(LATEST, () => fetchCheckpoint(base, logKey));
  const progress = await checkLogProgress(base, previous?.checkpoint, latest.checkpoint);
  // Only a checkpoint that passed every check replaces the kept one.
  if (previous === undefined || progress.to !== progress.from) await writeState(statePath, latest);
  if (json) {
    // One JSON object per line, one line per check (docs/CLI.md).
    const { origin, rootHash } = latest.checkpoint;
    const change = previous === undefined ? 'first' : progress.to === progress.from ? 'unchanged' : 'grown';
    io.stdout(`${JSON.stringify({ origin, size: progress.to, rootHash: encodeBase64(rootHash), previousSize: previous === undefined ? null : progress.from, change, entriesChecked: progress.entriesChecked })}\n`);
    return;
  }
  const seen = previous === undefined ? 'first checkpoint' : progress.to === progress.from ? 'no new entries' : `consistent with size ${progress.from}`;
  io.stdout(`checkpoint ${latest.checkpoint.origin} size ${progress.to} verified: ${seen}, ${progress.entriesChecked} entries checked\n`);
}

export async function monitorCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseLogArgs('log monitor', args, OPTIONS);
  if (positionals.length !== 1) throw logUsageError('give exactly one log URL');
  if (values.key === undefined) throw logUsageError('--key LOGKEY.vkey is required');
  const interval = values.interval === undefined ? DEFAULT_INTERVAL : parseDecimal(values.interval);
  if (interval === undefined || interval < 1 || interval > MAX_INTERVAL) throw logUsageError(`--interval must be a whole number of seconds from 1 to ${MAX_INTERVAL} (about 24.8 days)`);
  const base = logUrl(positionals[0]!);
  const logKey = await readLogKey(values.key, io);
  if (values.state === '' || values.state === '-') throw logUsageError('--state must name a file');
  const statePath = values.state === undefined ? defaultStatePath(io.cwd, logKey) : resolve(io.cwd, values.state);
  // With --once any failure ends the monitor with its code. Following, a log that cannot be reached
  // (or answers 503) is reported and tried again at the next interval; anything else, and above all
  // a fork, a rewrite or a drop, ends it: those are never retried away.
  for (;;) {
    try {
      await checkOnce(base, logKey, statePath, values.json === true, io);
    } catch (error) {
      if (values.once === true || !(error instanceof RunprintError) || !TRANSIENT.has(error.code)) throw error;
      io.stderr(`runprint: ${error.toLine()}; trying again in ${interval} s\n`);
    }
    if (values.once === true) return EXIT.ok;
    await sleep(interval * 1000);
  }
}

/** Failures a following monitor waits out: the log is down or overloaded, it did not lie. */
const TRANSIENT = new Set<string>(['ERR_LOG_UNREACHABLE', 'ERR_STORE_UNAVAILABLE']);
