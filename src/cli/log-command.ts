/** `runprint log submit|proof|monitor`: a client of a runprint log (SPEC 19.6). */
import { LogError } from '../errors.ts';
import { fetchCheckpoint, findRunIndexes, LogAnswerError, proveInclusion, submitReceipt } from '../log/client.ts';
import { parseDecimal } from '../log/checkpoint.ts';
import { formatTlogProof, verifyTlogProof } from '../log/tlog-proof.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { decodePayload, readEnvelope } from '../receipt/envelope.ts';
import { parseStatement, readSubjects } from '../receipt/statement.ts';
import { EXIT, type CliIo } from './io.ts';
import { monitorCommand } from './log-monitor.ts';
import { GIVE_LOG_KEY, logUrl, logUsageError, naming, parseLogArgs, readLogKey, refuseExisting, writeNewFile } from './log-options.ts';
import { readInput } from './read-input.ts';
import { closestName } from '../io/closest-name.ts';
import { formatCommandHelp } from './usage.ts';

const usage = logUsageError;

const SUBMIT_OPTIONS = {
  log: { type: 'string' },
  token: { type: 'string' },
  'proof-out': { type: 'string' },
  key: { type: 'string' },
} as const;
const PROOF_OPTIONS = {
  log: { type: 'string' },
  key: { type: 'string' },
  index: { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string' },
} as const;

/** The checkpoints these commands check with --key, as a wrong key's message names them. */
const ANSWERED_PROOF = { note: (origin: string) => `the checkpoint of the tlog-proof the log answered (log "${origin}")`, remedy: GIVE_LOG_KEY };
const PROOF_CHECKPOINT = { note: (origin: string) => `the proof's checkpoint (the latest of log "${origin}")`, remedy: GIVE_LOG_KEY };

async function submitCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseLogArgs('log submit', args, SUBMIT_OPTIONS);
  if (positionals.length !== 1) throw usage('give exactly one RECEIPT file (or - for standard input)');
  if (typeof values.log !== 'string') throw usage('--log URL is required');
  const proofOut = values['proof-out'];
  // A proof is saved only once it is known good, and that needs the log's key.
  if (proofOut !== undefined && typeof values.key !== 'string') throw usage('--proof-out needs --key LOGKEY.vkey to verify the proof before saving it');
  if (proofOut === undefined && values.key !== undefined) throw usage('--key goes with --proof-out');
  if (proofOut === '-' || proofOut === '') throw usage('--proof-out must name a file');
  if (positionals[0] === '-' && values.key === '-') throw usage('only one input can be standard input');
  const base = logUrl(values.log);
  const token = typeof values.token === 'string' ? values.token : process.env['RUNPRINT_LOG_TOKEN'];
  // Before anything is sent: the key must read and the proof file must not exist.
  const logKey = values.key === undefined ? undefined : await readLogKey(values.key, io);
  if (proofOut !== undefined) await refuseExisting(proofOut, io);
  const receipt = await readInput(positionals[0], io);
  const given = token === undefined || token === '' ? undefined : token;
  let answer: Record<string, unknown>;
  try {
    answer = await submitReceipt(base, receipt, given, { waitForCheckpoint: proofOut !== undefined });
  } catch (error) {
    // Sent without a token and refused for it: say where the token goes.
    if (given === undefined && error instanceof LogAnswerError && error.status === 401) error.message = `${error.message}; no token was sent: give it with --token T or RUNPRINT_LOG_TOKEN`;
    throw error;
  }
  if (proofOut !== undefined && logKey !== undefined) {
    const text = answer['tlogProof'];
    if (typeof text !== 'string') {
      throw new LogError(
        'ERR_LOG_UNREACHABLE',
        `log accepted the receipt at index ${String(answer['index'])} but gave no tlog-proof (no signed checkpoint covered it in time); run "runprint log proof" later`,
      );
    }
    // The log's answer is untrusted: the proof must show these exact bytes under a checkpoint the log key signed.
    const verified = await naming(ANSWERED_PROOF, () => verifyTlogProof(text, receipt, { logKey, witnesses: [], threshold: 0 }));
    if (verified.index !== answer['index']) throw new LogError('ERR_LOG_PROOF_INVALID', 'log answered a tlog-proof for another index than the one it gave');
    await writeNewFile(proofOut, text, io);
  }
  io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
  return EXIT.ok;
}

/** The run identity a receipt names, or undefined (it is only a lookup hint; the proof checks the bytes). */
function runIdOf(receipt: Uint8Array): string | undefined {
  try {
    return readSubjects(parseStatement(decodePayload(readEnvelope(receipt)))).run.runId;
  } catch {
    return undefined;
  }
}

async function proofCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseLogArgs('log proof', args, PROOF_OPTIONS);
  if (positionals.length !== 1) throw usage('give exactly one RECEIPT file (or - for standard input)');
  if (typeof values.log !== 'string') throw usage('--log URL is required');
  if (typeof values.key !== 'string') throw usage('--key LOGKEY.vkey is required');
  if (positionals[0] === '-' && values.key === '-') throw usage('only one input can be standard input');
  if (values.out === '-' || values.out === '') throw usage('--out must name a file');
  let index: number | undefined;
  if (typeof values.index === 'string') {
    index = parseDecimal(values.index);
    if (index === undefined) throw usage('--index must be a decimal integer');
  }
  const base = logUrl(values.log);
  const logKey = await readLogKey(values.key, io);
  if (values.out !== undefined) await refuseExisting(values.out, io);
  const receipt = await readInput(positionals[0], io);
  let candidates: number[];
  if (index !== undefined) {
    candidates = [index];
  } else {
    const runId = runIdOf(receipt);
    if (runId === undefined) throw usage('the receipt names no run identity; give --index N');
    candidates = await findRunIndexes(base, runId);
  }
  // 1. The checkpoint: signed by the log key, under the log's origin.
  const signed = await naming(PROOF_CHECKPOINT, () => fetchCheckpoint(base, logKey));
  // 2. The entry and its inclusion proof, from tiles, against the signed root hash.
  const { index: found, proof } = await proveInclusion(base, signed, receipt, candidates);
  const text = formatTlogProof({ index: found, proof, checkpoint: signed.note });
  // 3. What is printed verifies offline, as a receipt's holder will check it.
  const verified = await naming(PROOF_CHECKPOINT, () => verifyTlogProof(text, receipt, { logKey, witnesses: [], threshold: 0 }));
  if (values.out !== undefined) await writeNewFile(values.out, text, io);
  if (values.json === true) {
    io.stdout(
      `${JSON.stringify({ index: found, size: verified.checkpoint.size, leafHash: encodeBase64(verified.leafHash), tlogProof: text }, null, 2)}\n`,
    );
  } else if (values.out === undefined) {
    io.stdout(text);
  }
  return EXIT.ok;
}

const SUBCOMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  submit: submitCommand,
  proof: proofCommand,
  monitor: monitorCommand,
};

export async function logCommand(args: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === 'help') {
    io.stdout(formatCommandHelp('log')!);
    return EXIT.ok;
  }
  const command = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined) {
    const closest = name === undefined ? undefined : closestName(name, Object.keys(SUBCOMMANDS));
    throw usage(`log takes submit, proof or monitor${closest === undefined ? '' : `; did you mean "log ${closest}"?`}; run "runprint log --help"`);
  }
  return command(rest, io);
}
