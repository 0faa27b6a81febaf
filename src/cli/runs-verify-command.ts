/**
 * `runprint runs verify RUN`: every check of a stored run, each saying what it relies on
 * (docs/REPLAY.md section 7), with the keys and the log of the data directory unless given.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { dataDirectory } from './serve-data.ts';
import { parsePrivateKey, parsePublicKey } from '../keys/keys.ts';
import { noteVerifier } from '../log/note-keys.ts';
import type { NoteVerifier } from '../log/note.ts';
import { logKeyGivenAs } from '../receipt/log-proof-check.ts';
import { verifyRun, type RunCheck, type RunVerification, type VerifyRunOptions } from '../replay/verify-run.ts';
import { findRuns } from '../server/run-routes.ts';
import { DEFAULT_LOG_NAME } from '../store/log-service.ts';
import { LOG_DATABASE, openStorage } from '../store/open-storage.ts';
import { RECEIPT_KEY_FILE } from '../store/receipt-key.ts';
import type { RunStorage } from '../store/run-storage.ts';
import { SqliteLog } from '../store/sqlite-log.ts';
import { EXIT, type CliIo } from './io.ts';
import { logUrl, readLogKey, readWitnessKey } from './log-options.ts';
import { parseCommandLine } from './parse-options.ts';
import { readInput } from './read-input.ts';
import { openStore, runsDatabase, runStorePath, sayWhereRunsAre } from './runs-command.ts';
import { LOG_KEY_FILE } from './serve-command.ts';
import { formatCommandHelp } from './usage.ts';

const VERIFY_OPTIONS = {
  data: { type: 'string' },
  'runs-db': { type: 'string' },
  'log-db': { type: 'string' },
  log: { type: 'string' },
  key: { type: 'string' },
  'log-key': { type: 'string' },
  'log-origin': { type: 'string' },
  witness: { type: 'string', multiple: true },
  'witness-threshold': { type: 'string' },
  'monitor-state': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The keys `runs verify` checks with: the receipt key from --key, else derived from the data
 * directory's receipt-key.pem; the log from the data directory's log.sqlite, its key from
 * --log-key (a verifier key), else derived from log-key.pem, its origin --log-origin (else the
 * verifier key's name, else RUNPRINT_LOG_NAME, else serve's default); the witnesses from
 * --witness, at least --witness-threshold of them (default all). What is missing is said, not guessed.
 */
async function verifySources(storePath: string, values: VerifyValues, io: CliIo, keysInData: boolean): Promise<Omit<VerifyRunOptions, 'storage'>> {
  const dataDir = dirname(storePath);
  const sources: Omit<VerifyRunOptions, 'storage'> = {};
  // An empty origin names no log (serve refuses an empty --log-name or RUNPRINT_LOG_NAME alike).
  if (values['log-origin'] === '') throw new UsageError('ERR_CLI_USAGE', '--log-origin must not be empty: give the log\'s origin, or leave it out for the --log-key\'s name');
  const envOrigin = values['log-origin'] === undefined ? process.env['RUNPRINT_LOG_NAME'] : undefined;
  if (envOrigin === '') throw new UsageError('ERR_CLI_USAGE', `RUNPRINT_LOG_NAME must not be empty: give the log's name, or unset RUNPRINT_LOG_NAME (${DEFAULT_LOG_NAME} when none is given)`);
  if (values.key !== undefined) {
    sources.receiptKey = { key: await parsePublicKey(new TextDecoder().decode(await readInput(values.key, io))), from: 'given with --key' };
  } else if (!keysInData) {
    sources.receiptKeyMissing = `not checked: the run store is in PostgreSQL and no --data names the data directory of the serve that signed it: give the receipt key's public half with --key (or that serve's --data)`;
  } else if (existsSync(join(dataDir, RECEIPT_KEY_FILE))) {
    const key = await parsePrivateKey(await readInput(join(dataDir, RECEIPT_KEY_FILE), io));
    sources.receiptKey = { key: key.publicKey, from: `derived from ${RECEIPT_KEY_FILE} in the data directory: whoever can write the directory can re-sign, so give --key for a check independent of it` };
  } else {
    sources.receiptKeyMissing = `not checked: no --key and no ${RECEIPT_KEY_FILE} in the data directory (serve ran with --capture-key or --sign-key: give that key's public half with --key)`;
  }
  const witnesses: NoteVerifier[] = [];
  for (const name of values.witness ?? []) {
    const witness = await readWitnessKey(name, io);
    // The policy counts witnesses by name: two keys under one name would count once.
    if (witnesses.some((other) => other.name === witness.name)) throw new UsageError('ERR_CLI_USAGE', 'each --witness must have its own name');
    witnesses.push(witness);
  }
  let threshold = witnesses.length;
  if (values['witness-threshold'] !== undefined) {
    const text = values['witness-threshold'];
    if (witnesses.length === 0) throw new UsageError('ERR_CLI_USAGE', '--witness-threshold goes with --witness');
    if (!/^[0-9]{1,4}$/.test(text) || Number(text) < 1 || Number(text) > witnesses.length) throw new UsageError('ERR_CLI_USAGE', `--witness-threshold must be a number from 1 to ${witnesses.length} (the --witness keys given)`);
    threshold = Number(text);
  }
  if (values['monitor-state'] !== undefined) {
    // The monitor's state file: {"checkpoint": "<signed note>"}; the note is verified in the check.
    const text = new TextDecoder().decode(await readInput(values['monitor-state'], io));
    let note: unknown;
    try {
      note = (JSON.parse(text) as { checkpoint?: unknown }).checkpoint;
    } catch {
      note = undefined;
    }
    if (typeof note !== 'string') throw new InputError('ERR_INPUT_UNREADABLE', 'monitor state file is not {"checkpoint": "<signed note>"} (as log monitor --state writes it)');
    sources.monitor = { note, from: 'the monitor state file given with --monitor-state' };
  }
  // A runprint log over HTTP (serve --capture-log's): its own key, never derived from the data directory.
  if (values.log !== undefined) {
    if (values['log-db'] !== undefined) throw new UsageError('ERR_CLI_USAGE', '--log URL and --log-db URL name two logs: give the one holding the receipts');
    if (values['log-key'] === undefined) throw new UsageError('ERR_CLI_USAGE', `--log URL needs --log-key VKEY, that log's verifier key (the data directory's ${LOG_KEY_FILE} is serve's own log)`);
    const logKey = await readLogKey(values['log-key'], io);
    sources.log = { url: logUrl(values.log), logKey, origin: values['log-origin'] ?? logKey.name, from: 'given with --log-key', remedy: GIVE_LOG_KEY, witnesses, threshold };
    return sources;
  }
  // The log serve --log-db writes, else the data directory's log.sqlite.
  const logDb = values['log-db'] ?? (process.env['RUNPRINT_LOG_DB'] || undefined);
  const logPath = join(dataDir, LOG_DATABASE);
  if (logDb === undefined && !existsSync(logPath)) {
    sources.logMissing = `not checked: no ${LOG_DATABASE} in the data directory (the log is elsewhere: give --log-db, or serve ran with --no-log)`;
    return sources;
  }
  let logKey;
  let from: string;
  if (values['log-key'] !== undefined) {
    logKey = await readLogKey(values['log-key'], io);
    from = 'given with --log-key';
  } else if (!keysInData) {
    sources.logMissing = `not checked: the run store is in PostgreSQL and no --data names the data directory of the serve that keeps the log: give the log's verifier key with --log-key (or that serve's --data)`;
    return sources;
  } else if (existsSync(join(dataDir, LOG_KEY_FILE))) {
    const key = await parsePrivateKey(await readInput(join(dataDir, LOG_KEY_FILE), io));
    logKey = noteVerifier(values['log-origin'] ?? envOrigin ?? DEFAULT_LOG_NAME, key.publicKey);
    from = `derived from ${LOG_KEY_FILE} in the data directory`;
  } else {
    sources.logMissing = `not checked: no --log-key and no ${LOG_KEY_FILE} in the data directory`;
    return sources;
  }
  sources.log = { storage: logDb === undefined ? SqliteLog.openReader(logPath) : await openStorage({ dataDir, url: logDb, readOnly: true }), logKey, origin: values['log-origin'] ?? logKey.name, from, remedy: GIVE_LOG_KEY, witnesses, threshold };
  return sources;
}

/** What to do when the log key (given with --log-key, or derived from log-key.pem) did not sign the log's checkpoint. */
const GIVE_LOG_KEY = logKeyGivenAs('--log-key').remedy;

interface VerifyValues {
  'log-db'?: string | undefined;
  log?: string | undefined;
  key?: string | undefined;
  'log-key'?: string | undefined;
  'log-origin'?: string | undefined;
  witness?: string[] | undefined;
  'witness-threshold'?: string | undefined;
  'monitor-state'?: string | undefined;
}

function formatVerification(result: RunVerification): string {
  let out = `${result.ok ? 'ok' : 'FAILED'} ${result.run.captureId}  ${result.run.runId ?? result.run.requestId ?? '(unidentified)'}\n`;
  for (const check of result.checks) {
    const mark = check.status === 'pass' ? 'pass' : check.status === 'fail' ? 'FAIL' : 'not checked';
    const why = check.status === 'pass' ? (check.log === undefined ? (check.message ?? '') : `index ${check.log.index} of ${check.log.treeSize}, origin ${check.log.origin}${check.log.cosignedBy.length === 0 ? '' : `, cosigned by ${check.log.cosignedBy.join(', ')}`}`) : `${check.code === undefined ? '' : `${check.code}: `}${check.message ?? ''}`;
    // No blanks at the end of a line whose check has nothing more to say.
    out += `${`${mark.padEnd(11)} ${check.name.padEnd(8)} ${why}`.trimEnd()}\n${' '.repeat(21)}relies on ${check.reliesOn}\n`;
  }
  out += `${result.counts.pass} passed, ${result.counts.fail} failed, ${result.counts['not-checked']} not checked\n`;
  return out;
}

/**
 * A run whose log index the run store gives other runs too (a store an earlier version of runprint
 * wrote, before the store refused an index another run holds): unless the log holds this run's
 * receipt there (its check passes: the others' indexes are the wrong ones, and their checks fail),
 * its log check fails with ERR_LOG_REWRITE naming them, whatever else it found (it says that too).
 */
async function sharedLogIndex(result: RunVerification, logIndex: number | null, store: RunStorage): Promise<RunVerification> {
  if (logIndex === null) return result;
  const others = (await store.logIndexHolders(logIndex)).filter((digest) => digest !== result.run.recordDigest);
  const check = result.checks.find((item) => item.name === 'log');
  if (others.length === 0 || check === undefined || check.status === 'pass') return result;
  const found = check.status === 'fail' ? `the log's check: ${check.code === undefined ? '' : `${check.code}: `}${check.message ?? ''}` : `the log's check not made: ${(check.message ?? '').replace(/^not checked: /, '')}`;
  const shared: RunCheck = {
    ...check,
    status: 'fail',
    code: 'ERR_LOG_REWRITE',
    message: `the run store gives log index ${logIndex} to ${others.length === 1 ? 'another run' : `${others.length}${others.length === 10 ? ' or more' : ''} other runs`} too (${others.join(', ')}): an earlier version of runprint stored an index its log gave out twice (the log replaced, rolled back or forked, or the store's receipts sent to two logs), so this run's index is not to be trusted; ${found}`,
  };
  const checks = result.checks.map((item) => (item === check ? shared : item));
  const counts = { pass: 0, fail: 0, 'not-checked': 0 };
  for (const item of checks) counts[item.status]++;
  return { ...result, ok: counts.fail === 0, counts, checks };
}

/**
 * `runs verify RUN [--key PUB] [--log-key VKEY] [--log-origin O] [--witness VKEY]... [--witness-threshold K] [--json]`: every check of a
 * stored run (docs/REPLAY.md section 7). Exit 0 when no check made fails, 1 when one does.
 */
export async function verifyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs verify', args, VERIFY_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs verify')!);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'runs verify takes one RUN: a capture id, a record digest or a run identity (run "runprint runs verify --help")');
  // Standard input is read once: a second `-` would read it empty (as verify, sign, show and diff say).
  const stdin = [values.key, values['log-key'], ...(values.witness ?? []), values['monitor-state']].filter((name) => name === '-');
  if (stdin.length > 1) throw new UsageError('ERR_CLI_USAGE', 'only one input can be standard input');
  sayWhereRunsAre(values, io, 'runs verify', `the keys it checks with (and its ${LOG_DATABASE}, when no other log is given)`);
  // The command that checks: SQLite's quick_check of the whole store at open, at any size (the
  // query commands skip it above a bound), so a damaged page anywhere in it is ERR_STORE_CORRUPT.
  const store = await openStore(values, io, 'read', 'whole');
  let sources: Omit<VerifyRunOptions, 'storage'> | undefined;
  try {
    // A run identity may name several captures: the latest is verified (its capture id is printed).
    const run = (await findRuns(store, positionals[0]!)).at(-1)!;
    // With the runs in PostgreSQL, the keys come from a data directory only when one is named
    // (--data, RUNPRINT_DATA): the default ./runprint-data may be another serve's.
    const keysInData = runsDatabase(values) === undefined || values.data !== undefined || dataDirectory(undefined).fromEnv;
    sources = await verifySources(runStorePath(values.data, io), values, io, keysInData);
    const result = await sharedLogIndex(await verifyRun(run, { storage: store, ...sources }), run.logIndex, store);
    io.stdout(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatVerification(result));
    return result.ok ? EXIT.ok : EXIT.differs;
  } finally {
    await sources?.log?.storage?.close();
    await store.close();
  }
}
