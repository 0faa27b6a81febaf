/**
 * Batch replay (docs/REPLAY.md section 8): the runs a query selects, replayed with a concurrency
 * and a rate limit, resumable after a crash, summed up in a report. The set is fixed when the
 * batch starts (a state file beside the report names the batch and its originals); each finished
 * original is marked in the run store in the same transaction as its replay's link, so a batch
 * run again after kill -9 never sends a finished replay twice.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { wrongType, wrongValue } from '../capture-node/misuse.ts';
import { InputError, RunprintError } from '../errors.ts';
import { printable } from '../io/printable.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import type { RunQuery, RunStorage, RunToStore, StoredRun } from '../store/run-storage.ts';
import type { ReplayLink, ReplayLinks } from './replay-links.ts';
import { replayRun, type ReplayOptions, type ReplayResult } from './replay-run.ts';
import type { WeightsCheck } from './weights-check.ts';
import { VERDICTS, type Verdict } from './verdict.ts';

/** What the state file holds: enough to resume the same batch. */
export interface BatchState {
  version: 1;
  batch: string;
  /** The query as given (`--runs`) and the overrides, so a resume with other options is refused. */
  query: string;
  overrides: JsonValue;
  /** The model every original's weights were checked against (--weights), when given. */
  weights?: string;
  started: string;
  /** Record digests of the originals, oldest first. */
  originals: string[];
}

/** One run's row in the report. */
export interface BatchRow {
  original: string;
  recordDigest: string;
  replay: string | null;
  verdict: Verdict | null;
  /** For cannot-replay: the reason's code; for a run whose request the overrides made invalid: that error's. */
  code?: string;
  served?: Array<{ name: string; a: JsonValue | null; b: JsonValue | null }>;
  /** With --weights, when the original has a weights fact: the digests recorded and found. */
  weights?: WeightsCheck;
  outputEqual?: boolean | null;
  firstDifference?: string;
}

export interface BatchReport {
  batch: string;
  query: string;
  overrides: JsonValue;
  /** With --weights: the model each original's weights fact was checked against. */
  weights?: string;
  started: string;
  finished: string;
  total: number;
  /** Replays finished by an earlier, interrupted process of the same batch. */
  resumed: number;
  counts: Record<Verdict, number>;
  /** Runs not replayed because the overrides made their request invalid. */
  errors: number;
  /** cannot-replay and errors, by code. */
  codes: Record<string, number>;
  /** Served facts that changed, by fact and values: the served-model changes first. */
  servedChanges: Array<{ fact: string; a: JsonValue | null; b: JsonValue | null; count: number; originals: string[] }>;
  runs: BatchRow[];
}

export interface BatchOptions {
  storage: RunStorage;
  links: ReplayLinks;
  /** Where the state file lives (beside the report). */
  statePath: string;
  query: RunQuery;
  /** The query as given, kept in the state file. */
  queryText: string;
  replay: Omit<ReplayOptions, 'storage' | 'links' | 'batch'>;
  concurrency: number;
  /** Replays started per second, at most; undefined: no limit. */
  rate?: number;
  /** Called after each finished replay. */
  onProgress?: (done: number, total: number, counts: Record<Verdict, number>) => void;
}

const PAGE = 1000;

async function readState(path: string): Promise<BatchState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError('ERR_INPUT_UNREADABLE', `the batch state file cannot be read (${readFailureReason(error)}): ${printable(path, 200)}`);
  }
  try {
    const state = JSON.parse(text) as BatchState;
    if (state.version !== 1 || typeof state.batch !== 'string' || !Array.isArray(state.originals)) throw new Error('shape');
    return state;
  } catch {
    throw new RunprintError('ERR_REPLAY_BATCH_STATE_INVALID', 'the batch state file beside the report is not one runprint wrote (delete it to start a new batch)');
  }
}

/** Why a file could not be read or written, in words, from a node:fs error code. */
function readFailureReason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'EISDIR':
      return 'it is a directory, not a file';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'ENOENT':
      return 'no such folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'unknown error';
  }
}

/** Writes the state file so that it is whole or absent: a temporary file renamed over it. */
async function writeState(path: string, state: BatchState): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(state)}\n`, { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    // The write's own failure is the one said: removing what it left may fail the same way (ENOTDIR).
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new InputError('ERR_FILE_UNWRITABLE', `the batch state file cannot be written beside the report (${readFailureReason(error)}): ${printable(path, 200)}`);
  }
}

/** Every run the query selects (its limit caps the total), except runs that are replays, oldest first. */
async function selectOriginals(storage: RunStorage, links: ReplayLinks, query: RunQuery): Promise<string[]> {
  const replays = await links.replays();
  const cap = query.limit ?? Number.POSITIVE_INFINITY;
  const selected: string[] = [];
  let before = query.before;
  while (selected.length < cap) {
    const page = await storage.list({ ...query, limit: PAGE, ...(before === undefined ? {} : { before }) });
    for (const run of page) {
      if (selected.length >= cap) break;
      if (!replays.has(run.recordDigest)) selected.push(run.recordDigest);
    }
    if (page.length < PAGE) break;
    before = page[page.length - 1]!.seq;
  }
  return selected.reverse();
}

function rowOf(recordDigest: string, verdict: string, resultText: string): BatchRow {
  const result = JSON.parse(resultText) as ReplayResult & { error?: { code: string } };
  const row: BatchRow = { original: result.original.captureId, recordDigest, replay: result.replay?.captureId ?? null, verdict: verdict === 'error' ? null : (verdict as Verdict) };
  if (result.reason !== undefined) row.code = result.reason.code;
  if (result.error !== undefined) row.code = result.error.code;
  if (result.weights !== undefined) row.weights = result.weights;
  if (result.served !== undefined && result.served.length > 0) row.served = result.served.map((fact) => ({ name: fact.name, a: fact.a?.value ?? null, b: fact.b?.value ?? null }));
  if (result.output !== null && result.output !== undefined) {
    row.outputEqual = result.output.equal;
    if (result.output.firstDifference !== undefined) row.firstDifference = result.output.firstDifference.path;
  }
  return row;
}

const zeroCounts = (): Record<Verdict, number> => Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;

/** The report from what the run store says each original's replay gave. */
function report(state: BatchState, items: Map<string, { verdict: string; result: string }>, resumed: number): BatchReport {
  const counts = zeroCounts();
  const codes: Record<string, number> = {};
  const changes = new Map<string, BatchReport['servedChanges'][number]>();
  const runs: BatchRow[] = [];
  let errors = 0;
  for (const digest of state.originals) {
    const item = items.get(digest);
    if (item === undefined) continue;
    const row = rowOf(digest, item.verdict, item.result);
    runs.push(row);
    if (row.verdict === null) errors++;
    else counts[row.verdict]++;
    if (row.code !== undefined) codes[row.code] = (codes[row.code] ?? 0) + 1;
    // Only a replay of the same request says something about the server: variants changed the request.
    if (row.verdict === 'same-request-other-server') {
      for (const fact of row.served ?? []) {
        const key = JSON.stringify([fact.name, fact.a, fact.b]);
        const change = changes.get(key) ?? { fact: fact.name, a: fact.a, b: fact.b, count: 0, originals: [] };
        change.count++;
        change.originals.push(row.original);
        changes.set(key, change);
      }
    }
  }
  const servedChanges = [...changes.values()].sort((x, y) => Number(y.fact === 'model') - Number(x.fact === 'model') || y.count - x.count);
  return { batch: state.batch, query: state.query, overrides: state.overrides, ...(state.weights === undefined ? {} : { weights: state.weights }), started: state.started, finished: new Date().toISOString(), total: state.originals.length, resumed, counts, errors, codes, servedChanges, runs };
}

/**
 * Group commit: the replays that finish while one transaction is being written go together into
 * the next, their runs in one `put` and then their links (each marking its original finished) in
 * one transaction. A replay counts as finished only once its link is committed; a crash between
 * the two leaves stored replays without links, whose originals a resumed batch sends again.
 */
function groupCommitter(storage: RunStorage, links: ReplayLinks, batch: string): (stored: RunToStore, link: ReplayLink) => Promise<void> {
  let queue: Array<{ stored: RunToStore; link: ReplayLink; resolve: () => void; reject: (error: unknown) => void }> = [];
  let flushing = false;
  const flush = async () => {
    while (queue.length > 0) {
      const items = queue;
      queue = [];
      try {
        await storage.put(items.map((item) => item.stored));
        await links.linkAll(items.map((item) => item.link), batch);
        for (const item of items) item.resolve();
      } catch (error) {
        for (const item of items) item.reject(error);
      }
    }
    flushing = false;
  };
  return (stored, link) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ stored, link, resolve, reject });
      if (!flushing) {
        flushing = true;
        // On the next turn: replays finishing meanwhile join this transaction.
        setImmediate(() => void flush());
      }
    });
}

/** The longest wait one Node timer takes (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms. */
const LONGEST_TIMER_MS = 0x7fffffff;

/** Resolves at `deadline` (performance.now() time), however far off: a chain of timers, none longer than one can be. */
async function waitUntil(deadline: number): Promise<void> {
  for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now()) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, LONGEST_TIMER_MS)));
  }
}

/**
 * Waits so that starts are at least 1/rate seconds apart, across every worker. The k-th worker
 * waiting at once waits k intervals: at a low rate that is past one timer's reach, so the wait is
 * chained (a single timer would fire after 1 ms and start them all at once).
 */
function pacer(rate: number | undefined): () => Promise<void> {
  if (rate === undefined) return async () => undefined;
  const interval = 1000 / rate;
  let next = 0;
  return async () => {
    const now = performance.now();
    const start = Math.max(now, next);
    next = start + interval;
    if (start > now) await waitUntil(start);
  };
}

/** `rate`, checked: a finite number of replays per second above 0 (a TypeError as the library's other misuses). */
function checkedRate(rate: unknown): number | undefined {
  if (rate === undefined) return undefined;
  if (typeof rate !== 'number') throw wrongType(`replayBatch rate must be a number of replays started per second, not ${rate === null ? 'null' : typeof rate}`);
  if (!(rate > 0) || !Number.isFinite(rate) || !Number.isFinite(1000 / rate)) throw wrongValue(`replayBatch rate must be a finite number of replays started per second above 0, not ${rate}`);
  return rate;
}

/**
 * Runs (or resumes) the batch and returns its report. The state file is created when the batch
 * starts and is the caller's to delete once the report is written (deleteBatchState).
 */
export async function replayBatch(options: BatchOptions): Promise<BatchReport> {
  const rate = checkedRate(options.rate);
  const overrides = (options.replay.overrides ?? {}) as unknown as JsonValue;
  const given = options.replay.weights;
  const weights = given === undefined ? undefined : typeof given === 'string' ? given : given.path;
  let state = await readState(options.statePath);
  if (state !== undefined && (state.query !== options.queryText || JSON.stringify(state.overrides) !== JSON.stringify(overrides) || state.weights !== weights)) {
    throw new RunprintError('ERR_REPLAY_BATCH_MISMATCH', 'the batch state file beside the report belongs to a batch with another --runs query, other overrides or other --weights: resume it with the same options, or write the report elsewhere');
  }
  if (state === undefined) {
    state = { version: 1, batch: randomUUID(), query: options.queryText, overrides, ...(weights === undefined ? {} : { weights }), started: new Date().toISOString(), originals: await selectOriginals(options.storage, options.links, options.query) };
    await writeState(options.statePath, state);
  }
  const finished = await options.links.batchItems(state.batch);
  const resumed = finished.size;
  const pending = state.originals.filter((digest) => !finished.has(digest));
  const counts = zeroCounts();
  for (const item of finished.values()) if (item.verdict !== 'error') counts[item.verdict as Verdict]++;
  let done = finished.size;
  const total = state.originals.length;
  const wait = pacer(rate);
  const batch = state.batch;
  const commit = groupCommitter(options.storage, options.links, batch);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < pending.length) {
      const digest = pending[next++]!;
      await wait();
      const found = await options.storage.find(digest);
      const original: StoredRun | undefined = found.find((run) => run.recordDigest === digest);
      let verdict: string;
      try {
        if (original === undefined) throw new RunprintError('ERR_RUN_NOT_FOUND', 'the run is no longer in the run store');
        const result = await replayRun(original, { ...options.replay, storage: options.storage, links: options.links, batch, commit });
        verdict = result.verdict;
        // Sent replays were marked with their link; one with nothing sent is marked here.
        if (result.replay === null) await options.links.finishWithoutReplay(batch, digest, verdict, JSON.stringify(result));
      } catch (error) {
        // The overrides made this run's request invalid (or the run is gone): a row, not the end of the batch.
        if (!(error instanceof RunprintError) || !(error.code.startsWith('ERR_PROVIDER_') || error.code === 'ERR_RUN_NOT_FOUND')) {
          failure ??= error;
          return;
        }
        verdict = 'error';
        const captureId = original?.record.captureId ?? '';
        const row = { original: { captureId }, replay: null, served: [], output: null, error: { code: error.code, message: error.message } };
        await options.links.finishWithoutReplay(batch, digest, verdict, JSON.stringify(row));
      }
      done++;
      if (verdict !== 'error') counts[verdict as Verdict]++;
      options.onProgress?.(done, total, counts);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, pending.length)) }, worker));
  if (failure !== undefined) throw failure;
  return report(state, await options.links.batchItems(batch), resumed);
}

/** Removes the state file of a batch whose report is written: the same command then starts a new batch. */
export async function deleteBatchState(path: string): Promise<void> {
  await rm(path, { force: true });
}
