/**
 * Verifying a stored run end to end (docs/REPLAY.md section 7): everything about one run of the
 * run store that can be checked from what is stored, as a checklist. Each check says what it
 * relies on, and a check whose material is not there is `not-checked` with the reason, never a
 * pass. The crypto is the receipt verifier's (verifyReceipt) and the log proof's (checkLogProof).
 */
import { LogError, RunprintError, type ErrorCode } from '../errors.ts';
import { sha256Once, toHex } from '../hash/sha256.ts';
import { escapeUnsafe } from '../io/printable.ts';
import type { Composition } from '../identity/composition.ts';
import { computeIdentity, withServedFacts, type IdentityDocument } from '../identity/identity.ts';
import { canonicalBytes } from '../jcs/canonicalize.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import type { PublicKey } from '../keys/keys.ts';
import { MAX_ENTRY_SIZE } from '../log/entry-bundle.ts';
import { formatTlogProof } from '../log/tlog-proof.ts';
import type { NoteVerifier } from '../log/note.ts';
import { parseNote } from '../log/note.ts';
import { fetchCheckpointNote, httpTileReader, printableUrl, verifyCheckpointNote } from '../log/client.ts';
import { parseCheckpoint } from '../log/checkpoint.ts';
import { consistencyProofFromTiles, inclusionProofFromTiles, type TileReader } from '../log/tiles.ts';
import { verifyConsistency } from '../merkle/consistency.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import { checkLogProof } from '../receipt/log-proof-check.ts';
import { retrievalAgreement } from '../receipt/predicate.ts';
import { signedFactsDiffer, signedPredicate, type SignedFactDifference, type StoredRunFacts } from '../receipt/signed-facts.ts';
import { verifyReceipt, type VerificationCheck, type VerificationReport, type VerifyOptions } from '../receipt/verify.ts';
import type { RunStorage, StoredRun } from '../store/run-storage.ts';
import type { LogStorage } from '../store/storage.ts';
import { storedComposition } from './rebuild-request.ts';

export const RUN_CHECKS = ['record', 'identity', 'output', 'receipt', 'log', 'monitor'] as const;
export type RunCheckName = (typeof RUN_CHECKS)[number];

export interface RunCheck {
  name: RunCheckName;
  status: 'pass' | 'fail' | 'not-checked';
  /** What the check rests on: which stored material and which key. */
  reliesOn: string;
  /** For `fail`: the stable code; for `not-checked`: why not, as a code when there is one. */
  code?: ErrorCode;
  message?: string;
  /** For `receipt` and `log`: the steps of the receipt verifier and of the log proof, as they ran. */
  steps?: VerificationCheck[];
  /** For `log`: where the log holds the receipt. */
  log?: { index: number; treeSize: number; origin: string; cosignedBy: string[] };
}

export interface RunVerification {
  run: { captureId: string; recordDigest: string; requestId: string | null; runId: string | null };
  /** True when no check failed (checks not made are not failures, and are listed as such). */
  ok: boolean;
  counts: { pass: number; fail: number; 'not-checked': number };
  checks: RunCheck[];
}

/** A key to check the receipt with, and where it came from (said in `reliesOn`). */
export interface KeySource {
  key: PublicKey;
  from: string;
}

export interface VerifyRunOptions {
  storage: RunStorage;
  /** The receipt's public key; absent: the receipt is not checked, with `receiptKeyMissing` as the reason. */
  receiptKey?: KeySource;
  receiptKeyMissing?: string;
  /**
   * The log holding the receipts, the log key and origin its checkpoints are checked with, and the
   * witnesses of which at least `threshold` must have cosigned the checkpoint (none: no witness
   * policy); absent: `logMissing` says why. The log is its storage, or (`url`) a runprint log
   * over HTTP whose latest checkpoint and tiles are fetched (serve --capture-log's log), every
   * read of it within one deadline (`timeoutMs`, default 10,000 ms; past it: not checked,
   * ERR_LOG_UNREACHABLE), so a log that hangs or trickles does not hold the verification open.
   * A checkpoint the log key did not sign names the key by `from` (`the log key given with
   * --log-key is ...`), then says `remedy` (what to give instead) when there is one.
   */
  log?: ({ storage: LogStorage; url?: undefined } | { url: URL; storage?: undefined; timeoutMs?: number }) & { logKey: NoteVerifier; origin: string; from: string; remedy?: string; witnesses?: readonly NoteVerifier[]; threshold?: number };
  logMissing?: string;
  /** A checkpoint a monitor verified earlier (`log monitor --state`): the log must be consistent with it. */
  monitor?: { note: string; from: string };
  /**
   * Where the identity is recomputed from the stored composition (computeIdentity's document) and
   * the receipt verified (verifyReceipt's report), when not in this thread: serve has a large
   * run's done in a worker thread, so that its event loop is not held the second they take.
   */
  compute?: RunVerifyCompute;
}

/**
 * computeIdentity and verifyReceipt, done elsewhere (VerifyRunOptions.compute); the receipt's
 * report with signedFactsDiffer of `facts` and the receipt when every check passed, so that its
 * payload (10 MB for 100,000 elements) is read there too, not again on the event loop.
 */
export interface RunVerifyCompute {
  identity(composition: Composition): Promise<IdentityDocument>;
  receipt(receipt: string, options: VerifyOptions, facts: StoredRunFacts): Promise<VerificationReport & { signedFacts?: SignedFactDifference[] }>;
}

const encoder = new TextEncoder();

/** Where the log checks read the log: its latest checkpoint (unverified here) and its tiles. */
interface LogReader {
  /** In `reliesOn`: what is read. */
  what: string;
  latest(): Promise<{ size: number; note: string } | undefined>;
  tile: TileReader;
}

/** The longest a verification waits for a log over HTTP, all its reads together (ms), by default. */
const REMOTE_LOG_TIMEOUT_MS = 10_000;

function logReader(log: NonNullable<VerifyRunOptions['log']>, signal: AbortSignal | undefined): LogReader {
  if (log.url === undefined) {
    const storage = log.storage;
    return { what: 'the log\'s stored tiles and latest checkpoint', latest: () => storage.latestCheckpoint(), tile: (tile) => storage.tileData(tile) };
  }
  const url = log.url;
  const ms = log.timeoutMs ?? REMOTE_LOG_TIMEOUT_MS;
  // A read cut off by the deadline says so (it would read as "cannot reach").
  const timed = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (error) {
      if (signal?.aborted === true) throw new LogError('ERR_LOG_UNREACHABLE', `the log at ${printableUrl(url)} gave no whole answer within ${ms} ms`);
      throw error;
    }
  };
  const readTile = httpTileReader(url, signal);
  return {
    what: `the tiles and latest checkpoint the log at ${printableUrl(url)} serves`,
    // The size is read from the note before it is verified: a note that says another size fails the proof.
    latest: () => timed(async () => {
      const note = await fetchCheckpointNote(url, signal);
      return { size: parseCheckpoint(parseNote(note).text).size, note };
    }),
    tile: (tile) => timed(async () => readTile(tile)),
  };
}

function failed(error: unknown): { code: ErrorCode; message: string } {
  if (error instanceof RunprintError) return { code: error.code, message: error.message };
  throw error;
}

/** The record digest recomputed from the stored record: SHA-256 of its RFC 8785 canonical JSON. */
function checkRecord(run: StoredRun): RunCheck {
  const reliesOn = 'the run record as stored in the run store; its digest is the name the store gives it';
  const digest = toHex(sha256Once(canonicalBytes(run.record as unknown as JsonValue)));
  if (digest === run.recordDigest) return { name: 'record', status: 'pass', reliesOn };
  return { name: 'record', status: 'fail', reliesOn, code: 'ERR_REPLAY_CONTENT_MISMATCH', message: 'the stored record does not give its record digest: the run store is damaged or altered' };
}

/**
 * The request identity recomputed from the stored components (each piece checked against the
 * digest naming it, as for replay), and the run identity from it and the record's served facts.
 */
async function checkIdentity(storage: RunStorage, run: StoredRun, compute: RunVerifyCompute | undefined): Promise<{ check: RunCheck; composition?: Composition }> {
  const reliesOn = 'the component content in the run store (each piece checked against its digest) and the served facts of the record';
  const { record } = run;
  if (record.requestId === null || run.identity === null) {
    return { check: { name: 'identity', status: 'not-checked', reliesOn, code: 'ERR_REPLAY_UNIDENTIFIED', message: `the run has no request identity (${record.unidentified?.code ?? 'unidentified'}): nothing to recompute` } };
  }
  let composition: Composition;
  try {
    composition = await storedComposition(storage, run);
  } catch (error) {
    const { code, message } = failed(error);
    // Content that is not there is not checkable: never a pass, and not a failure of the run.
    if (code === 'ERR_REPLAY_CONTENT_NOT_STORED') return { check: { name: 'identity', status: 'not-checked', reliesOn, code, message: `content not stored: not checkable (${message})` } };
    return { check: { name: 'identity', status: 'fail', reliesOn, code, message } };
  }
  let identity = compute === undefined ? computeIdentity(composition) : await compute.identity(composition);
  if (identity.requestId !== record.requestId || identity.requestId !== run.identity.requestId) {
    return { check: { name: 'identity', status: 'fail', reliesOn, code: 'ERR_IDENTITY_MISMATCH', message: 'the stored components give another request identity than the record states' } };
  }
  if (record.runId !== null) {
    if (record.served === null) return { check: { name: 'identity', status: 'fail', reliesOn, code: 'ERR_IDENTITY_MISMATCH', message: 'the record states a run identity but no served facts' } };
    identity = withServedFacts(identity, record.served);
    if (identity.runId !== record.runId) {
      return { check: { name: 'identity', status: 'fail', reliesOn, code: 'ERR_IDENTITY_MISMATCH', message: 'the stored components and the record\'s served facts give another run identity than the record states' } };
    }
    composition = { ...composition, served: record.served };
  }
  return { check: { name: 'identity', status: 'pass', reliesOn, message: record.runId === null ? 'request identity recomputed (the run has no run identity)' : 'request and run identities recomputed' }, composition };
}

/** The raw digest and the output digest (SPEC 12) recomputed from the stored response bytes. */
async function checkOutput(storage: RunStorage, run: StoredRun): Promise<{ check: RunCheck; bytes?: Uint8Array }> {
  const reliesOn = 'the response bytes in the run store';
  const { record } = run;
  const raw = record.response.rawDigest;
  if (raw === null) return { check: { name: 'output', status: 'not-checked', reliesOn, message: 'the run has no response' } };
  const bytes = await storage.content(raw.sha256);
  if (bytes === undefined) {
    const why = run.contentExpired ? 'deleted by the retention period' : 'kept as a digest only';
    return { check: { name: 'output', status: 'not-checked', reliesOn, code: 'ERR_REPLAY_CONTENT_NOT_STORED', message: `content not stored: not checkable (the response bytes were ${why})` } };
  }
  if (toHex(sha256Once(bytes)) !== raw.sha256) {
    return { check: { name: 'output', status: 'fail', reliesOn, code: 'ERR_REPLAY_CONTENT_MISMATCH', message: 'the stored response bytes do not give the record\'s raw digest' } };
  }
  if (record.output === null) return { check: { name: 'output', status: 'pass', reliesOn, message: 'raw digest recomputed (the run has no whole output)' }, bytes };
  let digest: string | undefined;
  try {
    digest = runOutputFrom(bytes, record.format).digest?.sha256;
  } catch (error) {
    const { code, message } = failed(error);
    return { check: { name: 'output', status: 'fail', reliesOn, code, message: `the stored response bytes have no output: ${message}` } };
  }
  if (digest !== record.output.digest.sha256) {
    return { check: { name: 'output', status: 'fail', reliesOn, code: 'ERR_OUTPUT_MISMATCH', message: 'the output digest recomputed from the stored response bytes is not the record\'s' } };
  }
  return { check: { name: 'output', status: 'pass', reliesOn, message: 'raw digest and output digest recomputed' }, bytes };
}

/**
 * A value as a mismatch names it: as JSON, characters that reorder or hide text drawn as \uXXXX,
 * cut past 200 characters; "nothing" when the side has none.
 */
function factValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = escapeUnsafe(JSON.stringify(value));
  return text.length > 200 ? `${text.slice(0, 200)}... (${text.length} characters)` : text;
}

const factDiffers = (fact: SignedFactDifference) => `${fact.fact}: the run store says ${factValue(fact.stored)}, the receipt signs ${factValue(fact.signed)}`;

/** The receipt verified with its public key, against the recomputed composition and output when there are. */
async function checkReceipt(run: StoredRun, options: VerifyRunOptions, composition: Composition | undefined, output: Uint8Array | undefined): Promise<RunCheck> {
  const base = (reliesOn: string) => ({ name: 'receipt' as const, reliesOn });
  if (run.receipt === null) {
    const why = run.record.runId === null || run.record.output === null ? 'the run gets no receipt (no run identity or no whole output)' : 'the run is not signed yet (a serve running on the data directory signs it after its next capture, else the next serve when it starts)';
    return { ...base('the receipt in the run store'), status: 'not-checked', code: 'ERR_RUN_NO_RECEIPT', message: why };
  }
  if (options.receiptKey === undefined) return { ...base('a receipt public key'), status: 'not-checked', message: options.receiptKeyMissing ?? 'no receipt key' };
  const extra = [composition === undefined ? '' : 'the recomputed composition', output === undefined ? '' : 'the stored response bytes'].filter((text) => text !== '');
  const reliesOn = `the receipt public key ${options.receiptKey.key.keyId} (${options.receiptKey.from})${extra.length === 0 ? '' : `; checked against ${extra.join(' and ')}`}`;
  const compute = options.compute;
  const facts: StoredRunFacts = { model: run.model, capture: run.capture, record: run.record, identity: run.identity };
  const report: VerificationReport & { signedFacts?: SignedFactDifference[] } = await (compute === undefined ? verifyReceipt : (receipt: string, verify: VerifyOptions) => compute.receipt(receipt, verify, facts))(run.receipt, {
    keys: [options.receiptKey.key],
    ...(composition === undefined ? {} : { composition: composition as unknown as JsonValue, from: 'composition' as const }),
    ...(output === undefined ? {} : { output, outputFormat: run.record.format }),
  });
  const steps = report.checks;
  if (!report.ok) {
    const first = steps.find((step) => !step.ok);
    return { ...base(reliesOn), status: 'fail', code: first?.code ?? 'ERR_SIGNATURE_INVALID', message: `${first?.name ?? 'receipt'}: ${first?.message ?? 'verification failed'}`, steps };
  }
  if (report.runId !== run.record.runId) {
    return { ...base(reliesOn), status: 'fail', code: 'ERR_IDENTITY_MISMATCH', message: 'the receipt is about another run identity than the record states', steps };
  }
  // Every other fact the run store states that the receipt signs (RECEIPTS 13.2): a store changed
  // after signing (its record rewritten, its record digest made to match, or its model or capture
  // column changed) no longer agrees with it, and each fact that differs is named with both values.
  const differs = report.signedFacts ?? signedFactsDiffer(facts, signedPredicate(run.receipt));
  if (differs.length > 0) {
    return { ...base(reliesOn), status: 'fail', code: 'ERR_IDENTITY_MISMATCH', message: `signed-facts: the run store states other facts than the receipt signs: ${differs.map(factDiffers).join('; ')}`, steps };
  }
  // The receipt signs the record's declared retrieval (RECEIPTS 13.2): a store that gained or lost a
  // declaration after signing no longer agrees with it. A receipt signed before receipts carried
  // declarations (no member, RECEIPTS 13.3) says nothing of them: not checked, which is said, not failed.
  // A document found in a salted component is not stated (RECEIPTS 13.2), by receipts signed since.
  const agreement = retrievalAgreement(run.record.retrieval ?? [], report.retrieval, run.identity ?? undefined);
  if (agreement === 'withheld') {
    return { ...base(reliesOn), status: 'pass', message: 'receipt verified; the record\'s declared retrieval is not checked: its documents are in salted components, which a receipt does not state them for', steps };
  }
  if (agreement === 'receipt-none') {
    return { ...base(reliesOn), status: 'pass', message: 'receipt verified; the record\'s declared retrieval is not checked: the receipt states none (signed before receipts carried declarations)', steps };
  }
  if (agreement === 'differs') {
    return { ...base(reliesOn), status: 'fail', code: 'ERR_IDENTITY_MISMATCH', message: 'the receipt declares other retrieved documents than the record states', steps };
  }
  return { ...base(reliesOn), status: 'pass', steps };
}

/** The receipt's inclusion at its stored log index, by the tlog-proof the log's stored tiles and latest checkpoint give. */
async function checkLog(run: StoredRun, options: VerifyRunOptions, signal: AbortSignal | undefined): Promise<RunCheck> {
  const name = 'log' as const;
  if (run.receipt === null) return { name, status: 'not-checked', reliesOn: 'the receipt in the run store', message: 'no receipt to look for in the log' };
  if (run.logIndex === null && run.receipt.length > MAX_ENTRY_SIZE) {
    return { name, status: 'not-checked', reliesOn: 'the receipt in the run store', message: `the receipt (${run.receipt.length} bytes) is longer than a log entry can be (${MAX_ENTRY_SIZE} bytes), so no log holds it` };
  }
  if (run.logIndex === null) return { name, status: 'not-checked', reliesOn: 'the stored log index', message: 'the receipt has no log index yet: it waits to be appended to a log (one serve sends it to with --capture-log keeps it in its outbox while that log cannot be reached: GET /healthz, capture.log, says why; a run captured in process, by runprintFetch, is appended by a serve with a log on the same run store, its data directory or --runs-db, once one runs), or the serve that signed it keeps no log (--no-log)' };
  if (options.log === undefined) return { name, status: 'not-checked', reliesOn: 'the log', message: options.logMissing ?? 'no log' };
  const { logKey, origin, from } = options.log;
  const reader = logReader(options.log, signal);
  const witnesses = options.log.witnesses ?? [];
  const threshold = options.log.threshold ?? 0;
  const policy = witnesses.length === 0 ? 'no witness policy' : `at least ${threshold} of the witnesses ${witnesses.map((witness) => witness.name).join(', ')} cosigning it`;
  const reliesOn = `the stored log index ${run.logIndex}, ${reader.what}, the log key ${from} with origin ${origin}, and ${policy}`;
  let latest;
  let proof;
  try {
    latest = await reader.latest();
    if (latest === undefined || latest.size <= run.logIndex) {
      // The data directory's own log may never cover it: the receipt went to a --capture-log log.
      const elsewhere = options.log.url === undefined ? ' (if serve sent its receipts to another log with --capture-log, check it there: --log URL --log-key VKEY)' : '';
      return { name, status: 'not-checked', reliesOn, code: 'ERR_LOG_ENTRY_NOT_FOUND', message: `no signed checkpoint of this log covers index ${run.logIndex} yet${elsewhere}` };
    }
    proof = await inclusionProofFromTiles(run.logIndex, latest.size, reader.tile);
  } catch (error) {
    // The storage's own failures are the caller's, as before; a log over HTTP's are this check's.
    if (options.log.url === undefined) throw error;
    const { code, message } = failed(error);
    // A log over HTTP that cannot be reached was not checked; one that answers what cannot be read fails.
    if (code === 'ERR_LOG_UNREACHABLE') return { name, status: 'not-checked', reliesOn, code, message };
    return { name, status: 'fail', reliesOn, code, message };
  }
  const text = formatTlogProof({ index: run.logIndex, proof, checkpoint: parseNote(latest.note) });
  const logKeyWording = { keys: `the log key ${from}`, ...(options.log.remedy === undefined ? {} : { remedy: options.log.remedy }) };
  const result = await checkLogProof({ proof: text, entry: encoder.encode(run.receipt), policy: { logKey, origin, witnesses, threshold }, logKeyWording });
  if (result.summary === undefined) {
    const first = result.checks.find((step) => !step.ok);
    return { name, status: 'fail', reliesOn, code: first?.code ?? 'ERR_LOG_PROOF_INVALID', message: `${first?.name ?? 'log'}: ${first?.message ?? 'inclusion failed'}`, steps: result.checks };
  }
  return { name, status: 'pass', reliesOn, steps: result.checks, log: { index: result.summary.index, treeSize: result.summary.treeSize, origin: result.summary.origin, cosignedBy: result.summary.cosignedBy } };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * The log's latest stored checkpoint is consistent with one a monitor verified before: both signed
 * by the log key, and the later tree extends the earlier (a consistency proof from the stored
 * tiles), so the log has not forked, rewritten or dropped what the monitor saw.
 */
async function checkMonitor(options: VerifyRunOptions, signal: AbortSignal | undefined): Promise<RunCheck> {
  const name = 'monitor' as const;
  if (options.monitor === undefined) return { name, status: 'not-checked', reliesOn: 'a monitor\'s state', message: 'no monitor state given (--monitor-state)' };
  if (options.log === undefined) return { name, status: 'not-checked', reliesOn: 'the log', message: options.logMissing ?? 'no log' };
  const { logKey, origin, from } = options.log;
  const reader = logReader(options.log, signal);
  const reliesOn = `the checkpoint kept in ${options.monitor.from}, ${reader.what}, and the log key ${from} with origin ${origin}`;
  const fail = (code: ErrorCode, message: string): RunCheck => ({ name, status: 'fail', reliesOn, code, message });
  let kept;
  let latest;
  try {
    kept = (await verifyCheckpointNote(options.monitor.note, logKey, origin)).checkpoint;
  } catch (error) {
    const { code, message } = failed(error);
    return fail(code, `the monitor's checkpoint: ${message}`);
  }
  let stored;
  try {
    stored = await reader.latest();
  } catch (error) {
    if (options.log.url === undefined) throw error;
    const { code, message } = failed(error);
    if (code === 'ERR_LOG_UNREACHABLE') return { name, status: 'not-checked', reliesOn, code, message };
    return fail(code, `the log's latest checkpoint: ${message}`);
  }
  if (stored === undefined) return fail('ERR_LOG_DROPPED', `the log has no checkpoint, the monitor verified one of size ${kept.size}`);
  try {
    latest = (await verifyCheckpointNote(stored.note, logKey, origin)).checkpoint;
  } catch (error) {
    const { code, message } = failed(error);
    return fail(code, `the log's latest checkpoint: ${message}`);
  }
  if (latest.size < kept.size) return fail('ERR_LOG_DROPPED', `the log's latest checkpoint has ${latest.size} entries, the monitor verified ${kept.size}`);
  if (latest.size === kept.size) {
    if (!sameBytes(latest.rootHash, kept.rootHash)) return fail('ERR_LOG_FORK', `the log signed two root hashes for size ${kept.size}`);
  } else {
    let proof;
    try {
      proof = await consistencyProofFromTiles(kept.size, latest.size, reader.tile);
    } catch (error) {
      if (options.log.url === undefined) throw error;
      const { code, message } = failed(error);
      if (code === 'ERR_LOG_UNREACHABLE') return { name, status: 'not-checked', reliesOn, code, message };
      return fail(code, message);
    }
    if (!verifyConsistency(kept.size, latest.size, proof, kept.rootHash, latest.rootHash)) {
      return fail('ERR_LOG_REWRITE', `the log's checkpoint of size ${latest.size} is not consistent with the monitor's of size ${kept.size}`);
    }
  }
  return { name, status: 'pass', reliesOn, message: `the monitor's checkpoint of size ${kept.size} leads to the log's latest of size ${latest.size}` };
}

/** Runs every check on a stored run; a check that fails does not stop the others. */
export async function verifyRun(run: StoredRun, options: VerifyRunOptions): Promise<RunVerification> {
  const record = checkRecord(run);
  const identity = await checkIdentity(options.storage, run, options.compute);
  const output = await checkOutput(options.storage, run);
  // The receipt is checked against recomputed material only when that material passed its own check.
  const composition = identity.check.status === 'pass' && run.record.runId !== null ? identity.composition : undefined;
  const bytes = output.check.status === 'pass' && run.record.output !== null ? output.bytes : undefined;
  const receipt = await checkReceipt(run, options, composition, bytes);
  // One deadline for every read of a log over HTTP (the log and monitor checks together).
  const signal = options.log?.url === undefined ? undefined : AbortSignal.timeout(options.log.timeoutMs ?? REMOTE_LOG_TIMEOUT_MS);
  const log = await checkLog(run, options, signal);
  const monitor = await checkMonitor(options, signal);
  const checks = [record, identity.check, output.check, receipt, log, monitor];
  const counts = { pass: 0, fail: 0, 'not-checked': 0 };
  for (const check of checks) counts[check.status]++;
  return {
    run: { captureId: run.record.captureId, recordDigest: run.recordDigest, requestId: run.record.requestId, runId: run.record.runId },
    ok: counts.fail === 0,
    counts,
    checks,
  };
}
