/**
 * One-line in-process capture for Node: a `fetch` for any SDK that records every provider call
 * into a data directory's run store (the runs.sqlite a `runprint serve --data DIR` on the same
 * directory reads and writes), with capture `sdk`, parents from async context or a call's
 * `runprint-parent` header, and receipts signed with the directory's receipt key
 * (docs/CAPTURE.md, "In process (Node)"). As the proxy, it sends no `runprint-*` request header
 * to the provider (captureFetch).
 */
import type { RequestComponentName, Salts, ServedFact } from '../identity/composition.ts';
import { join, resolve } from 'node:path';
import { captureFetch, type CaptureCounts, type RunContent } from '../capture/capture-fetch.ts';
import type { RunRecord } from '../capture/run-record.ts';
import { freshSalts, saltedComponents, type CapturedRun } from '../capture/capture-run.ts';
import { providerFor } from '../providers/registry.ts';
import { REQUEST_FORMATS } from '../providers/request-format.ts';
import { EXCHANGES_PATH, exchangeOf, type ExchangeRetrievalError } from '../capture/exchange.ts';
import { LogError, RunprintError, type ErrorCode } from '../errors.ts';
import type { SigningKey } from '../keys/keys.ts';
import { makeFolders, notOwnerOnly } from '../store/owner-only.ts';
import { RECEIPT_KEY_FILE, RUNS_DATABASE, receiptKey } from '../store/receipt-key.ts';
import { RunRecorder, type RecorderCounts } from '../store/run-recorder.ts';
import { isRetentionDays, RETENTION_FORM, retentionDaysOf, sweepRetention, type RetentionSweep } from '../store/retention.ts';
import { KEEP_FORMS, keepPolicy } from '../store/capture-keep.ts';
import { CONTENT_PARTS, defaultContentPolicy, type ContentPart, type ContentPolicy, type RunStorage } from '../store/run-storage.ts';
// Type only: the SQLite store (node:sqlite) is loaded when a local store is opened (loadSqliteRuns).
import type { SqliteRuns } from '../store/sqlite-runs.ts';
import { callStarted, collectRuns, recordCollected, type Collected, type CollectedCall } from './collect.ts';
import { folderError } from './fs-errors.ts';
import { closestOption, unknownOption, wrongType, wrongValue } from './misuse.ts';
import { FLUSH_SEND_WAIT_MS, Outbox, SEND_TIMEOUT_MS, type OutboxCounts } from './outbox.ts';
import { currentParents, currentSteps } from './parents.ts';
import { currentRetrieval } from './retrieval.ts';
import { otelApi, otelHooks } from './otel.ts';
import { runprintVersion, runprintVersionNow } from './version.ts';

/**
 * Not part of the package's API: an option under this key gives every call these salts instead
 * of fresh ones, so a test can compare a call captured in process with the same call through the
 * proxy under equal salts. Reusing salts defeats their purpose (docs/RECEIPTS.md 17.0).
 */
export const SALTS_SEAM = Symbol('runprint.testSalts');
/**
 * Not part of the package's API: the clock (ms since the epoch) the retention sweeps take "now"
 * from, instead of Date.now, so a test ages the stored runs without waiting days.
 */
export const RETENTION_CLOCK_SEAM = Symbol('runprint.testRetentionClock');

/**
 * Not part of the package's API: how long calls wait for the local run store to open (ms), instead
 * of STORE_OPEN_WAIT_MS, so a test of a store that never opens does not wait half a minute.
 */
export const STORE_OPEN_WAIT_SEAM = Symbol('runprint.testStoreOpenWait');
/**
 * Not part of the package's API: with `url`, the outbox's time limit for one send and flush's
 * wait for its pass (ms, `{ sendMs, flushMs }`), instead of SEND_TIMEOUT_MS and
 * FLUSH_SEND_WAIT_MS, so a test of a server that never answers does not wait 10 s.
 */
export const OUTBOX_WAIT_SEAM = Symbol('runprint.testOutboxWait');
/**
 * How long, from its start, calls wait for the local run store to open (ms): as long as the run
 * recorder gives a commit (its commitTimeoutMs default). A store still opening then (a file system
 * that does not answer, a receipt key file that is a named pipe no one writes) holds no answer
 * longer: the runs of the calls made until it opens are not recorded, reported and counted.
 */
export const STORE_OPEN_WAIT_MS = 30_000;

/** The data directory when neither `data` nor RUNPRINT_DATA says otherwise: serve's default too. */
export const DEFAULT_DATA = 'runprint-data';
/** In the data directory, with `url`: the exchanges waiting for the server. */
export const OUTBOX_FOLDER = 'outbox';
/** With `url`: most capture ids kept while their exchange awaits the server's answer (to report a declaration's failure once). */
const MAX_AWAITED = 4096;

export interface RunprintFetchOptions {
  /**
   * The data directory (as `runprint serve --data DIR`), relative to the working directory;
   * created owner-only when missing. Default: RUNPRINT_DATA, else `runprint-data`.
   */
  data?: string;
  /** The fetch the calls go through (and, with `url`, the exchanges). Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * A runprint server to record to instead of the local run store (its `POST /v1/exchanges`):
   * the exchanges go through a durable outbox in `<data>/outbox` and wait there while the server
   * cannot take them. Default: RUNPRINT_URL, else none (the local store).
   */
  url?: string;
  /** The server's capture token (`runprint-capture-token`), with `url`. Default: RUNPRINT_CAPTURE_TOKEN. */
  token?: string;
  /**
   * `sync` (default, as serve's proxy): the application's last byte of each answer waits until
   * its run is durable (committed, or written to the outbox), so every answer it saw has a
   * record. `async`: the run is recorded after the application has its answer (less latency; a
   * crash can lose the last runs). Default: RUNPRINT_CAPTURE_DURABILITY, else `sync`.
   */
  durability?: 'sync' | 'async';
  /**
   * What the local store keeps, per part, as serve's --capture-keep: a value it takes (`'digest'`,
   * `'output=content'`; several separated by spaces, as RUNPRINT_CAPTURE_KEEP), an array of them
   * applied in order as repeated --capture-keep (`['digest', 'output=content']` keeps only
   * outputs), or an object of PART: 'content' | 'digest' (`{ output: 'digest' }`); the parts not
   * named as serve's default. Default: RUNPRINT_CAPTURE_KEEP, else serve's default.
   */
  keep?: string | readonly string[] | Partial<ContentPolicy>;
  /**
   * Days after which the local store's content is deleted, as serve's --capture-retention (a
   * whole number from 1 to 99999): the content of runs that ended longer ago goes, except content a
   * newer run keeps; records, digests and receipts stay. A sweep when the store opens and every
   * hour while this fetch is open (its timer does not keep the process alive; close stops it).
   * Local store only: with `url` the server's --capture-retention decides. Default:
   * RUNPRINT_CAPTURE_RETENTION (ignored with `url`), else none (content is kept).
   */
  retention?: number;
  /**
   * Request components to salt (serve's --capture-salt): names such as `['system', 'input']`, or
   * `['all']`. Each call gets a fresh random salt per component, so its receipt (and log entry)
   * carries commitments (SPEC 5.6); the salts are kept in the run store (part `salts`), or sent
   * with the exchange to a server (`url`). With `keep` keeping salts by digest only (`'digest'`)
   * they are not kept, so the commitments can never be opened from the store: as serve with
   * --capture-keep digest, taken on purpose (docs/CAPTURE.md, "Salted commitments"); add
   * `'salts=content'` to keep them. Default: RUNPRINT_CAPTURE_SALT, else none.
   */
  salt?: readonly string[];
  /**
   * A span per call through `@opentelemetry/api` (GenAI conventions, runprint's identities), in the
   * trace active when the call started: on when the application has the package. false: never.
   */
  spans?: boolean;
  /**
   * Served facts the application derived itself for the next call, each `{"source": "derived",
   * "value": ...}`: a local model's `weights` (SPEC 9.6, the `model-digest` of the weights it
   * loaded), so that `runprint replay --weights` can check them. Local store only: a server
   * (`url`) derives every fact from the bytes and refuses facts a client states
   * (ERR_CAPTURE_SERVED_FACT_REFUSED, docs/CAPTURE.md "Local models").
   */
  servedFacts?: () => { readonly [name: string]: ServedFact } | undefined;
  /**
   * The run identities the next call follows from. Default: the async context's (withParent, or
   * withSteps: the runs that ended inside it since its last call started). A call
   * with a `runprint-parent` header (an SDK's defaultHeaders, or per request) has the parents it
   * names instead, read as the proxy reads it; one that is not run identities goes to onError
   * (ERR_CAPTURE_PARENT_INVALID), and the call goes on, recorded with no parents. A call's
   * `runprint-retrieval` header adds its documents to withRetrieval's. Neither header, nor any
   * other `runprint-*` one (`runprint-capture-token`), is sent to the provider.
   */
  parents?: () => readonly string[];
  /**
   * Runprint's own failures (the store cannot be opened or written, a receipt cannot be signed,
   * the server cannot be reached: its exchanges wait in the outbox; the server refused an exchange
   * for good, ERR_CAPTURE_EXCHANGE_REJECTED; a `runprint-parent` header that is not run
   * identities, ERR_CAPTURE_PARENT_INVALID; declared retrieval that cannot be recorded,
   * ERR_CAPTURE_RETRIEVAL_* (a `runprint-retrieval` header that cannot be read among them), found by this process's check or, with `url`, named in the server's
   * answer for an exchange this process did not report itself): the calls go on. Default: one line
   * on stderr per kind of failure, again after capture worked once more.
   */
  onError?: (error: RunprintError) => void;
}

/** What a runprintFetch has done so far: the runs it captured and what the recorder made of them. */
export interface RunprintFetchCounts extends Readonly<CaptureCounts> {
  /** Into the local store (all zero with `url`). */
  readonly recorder: Readonly<RecorderCounts>;
  /** Through the outbox to a server (all zero without `url`). */
  readonly outbox: Readonly<OutboxCounts>;
  /**
   * Of `failures`, runs recorded after all: held while the local run store failed (a full disk),
   * and committed once it worked again; with `url`, exchanges counted in `outbox.refused` that
   * the server took later. `failures - recovered` were lost (or are still held or waiting).
   */
  readonly recovered: number;
}

export type RunprintFetch = typeof fetch & {
  readonly counts: RunprintFetchCounts;
  /** The data directory's absolute path. */
  readonly data: string;
  /** The server's base URL with `url`, else null. */
  readonly url: string | null;
  /**
   * The record of a call this fetch captured, by the `runprint-capture-id` header of its answer:
   * resolves once the answer has ended (read to its end, cancelled, failed, or dropped unread and
   * garbage-collected) and its record is
   * made, with `runId` for an agent's next step (`withParent(record.runId, ...)`); null for a
   * capture id it does not know (another process's, or more than 1,024 calls ago) or a call it
   * could not record. The record is made before it is durable (see flush).
   */
  runOf(captureId: string): Promise<RunRecord | null>;
  /**
   * Runs `fn` and resolves with `{ value, runs }`: what it gave, and the records of the calls this
   * fetch captured that started inside it (across awaits and callbacks, through async context,
   * whatever SDK made them), in the order they started, each with `captureId`, `requestId`,
   * `runId` (null for a failed call) and `response.status`: for clients that do not show the
   * answer's `runprint-capture-id` (LangChain). Resolves once `fn` has settled and the records of
   * the answers that ended inside it are made: with `sync` durability before `fn` has each
   * answer's end; with `async` a turn later, which it waits for. A call whose answer `fn` did not
   * read to its end (a stream returned unread), or that could not be recorded, is not listed.
   * `fn`'s error rejects it as thrown (catch inside `fn` to keep the runs of a failed step).
   * Collects nest: a call is listed by every collect around it. The records are made before they
   * are durable (see flush).
   */
  collect<T>(fn: () => T): Promise<Collected<Awaited<T>>>;
  /**
   * Resolves once every run whose response has ended is committed and its receipt signed (with
   * `url`: written to the outbox, and one attempt made to send what waits there, waited for at
   * most 15 s, each send cut after 10 s without the server's answer); call it before the process
   * exits on purpose (`process.exit` does not wait for the background writes).
   */
  flush(): Promise<void>;
  /**
   * flush, then closes the run store (or stops sending: a send in progress is cut, its exchange
   * left for the next process); calls made afterwards go on unrecorded (and are counted as failures).
   */
  close(): Promise<void>;
};

/** Where runs go: the local store, or the outbox to a server. */
interface Sink {
  /** Resolves when the run is durable (committed, or written to the outbox); rejects with Counted once reported. */
  record(run: CapturedRun, content: RunContent): Promise<void>;
  /** After the runs handed over are durable: sign them, or try to send them. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** The names of runprintFetch's options: any other is refused (a typo would silently do nothing). */
const OPTION_NAMES = ['data', 'fetch', 'url', 'token', 'durability', 'keep', 'retention', 'salt', 'spans', 'servedFacts', 'parents', 'onError'] as const satisfies ReadonlyArray<keyof RunprintFetchOptions>;
// Every option of RunprintFetchOptions is in OPTION_NAMES (a compile error otherwise).
const EVERY_OPTION: Exclude<keyof RunprintFetchOptions, (typeof OPTION_NAMES)[number]> extends never ? true : never = true;
void EVERY_OPTION;

const KEEP_TYPE = 'options.keep must be a string or an array of strings as --capture-keep takes them (such as "digest", "output=content"), or an object of PART: "content" | "digest"';

/**
 * What the local store keeps: `keep` (or RUNPRINT_CAPTURE_KEEP) parsed by serve's own parser of
 * --capture-keep (store/capture-keep.ts), so both take the same values; or the object form.
 */
function policyOf(keep: RunprintFetchOptions['keep'], local: boolean): ContentPolicy {
  if (keep === undefined) {
    const env = local ? process.env['RUNPRINT_CAPTURE_KEEP'] || undefined : undefined;
    return env === undefined ? defaultContentPolicy() : keepValues(env.split(/\s+/).filter((value) => value !== ''), 'RUNPRINT_CAPTURE_KEEP');
  }
  if (typeof keep === 'string') {
    const values = keep.split(/\s+/).filter((value) => value !== '');
    if (values.length === 0) throw wrongValue(`options.keep is empty: give ${KEEP_FORMS}`);
    return keepValues(values, 'options.keep');
  }
  if (Array.isArray(keep)) {
    if (!keep.every((value) => typeof value === 'string')) throw wrongType(KEEP_TYPE);
    return keepValues(keep, 'options.keep');
  }
  if (keep === null || typeof keep !== 'object') throw wrongType(KEEP_TYPE);
  const policy = defaultContentPolicy();
  for (const [part, mode] of Object.entries(keep)) {
    if (!(CONTENT_PARTS as readonly string[]).includes(part)) {
      const meant = closestOption(part, CONTENT_PARTS);
      throw wrongValue(`options.keep: unknown part ${JSON.stringify(part.length > 64 ? `${part.slice(0, 64)}\u2026` : part)}${meant === undefined ? '' : ` (did you mean ${meant}?)`}; PART is one of ${CONTENT_PARTS.join(', ')}`);
    }
    if (mode !== 'content' && mode !== 'digest') throw wrongValue(`options.keep: each part is "content" or "digest", not ${typeof mode === 'string' ? JSON.stringify(mode) : typeof mode} for ${part}`);
    policy[part as ContentPart] = mode;
  }
  return policy;
}

/** `values` through serve's parser of --capture-keep; a value it refuses is ERR_INVALID_ARG_VALUE naming it. */
function keepValues(values: readonly string[], name: string): ContentPolicy {
  try {
    return keepPolicy(values);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    // serve's --capture-keep takes one value each time: `output=digest,request=content` is two.
    const comma = values.find((value) => value.includes(','));
    const hint = comma === undefined ? '' : `; one value each, not comma-separated: ${JSON.stringify(comma.split(',').filter((value) => value !== ''))}`;
    throw wrongValue(`${name}: ${error.message}${hint}`);
  }
}

/**
 * The retention period in days: `retention`, or RUNPRINT_CAPTURE_RETENTION for a local store
 * (with `url` it is the server's), checked as serve checks --capture-retention; undefined for none.
 */
function retentionOf(retention: unknown, url: string | null): number | undefined {
  if (retention === undefined) {
    const env = url === null ? process.env['RUNPRINT_CAPTURE_RETENTION'] || undefined : undefined;
    if (env === undefined) return undefined;
    const days = retentionDaysOf(env);
    if (days === undefined) throw wrongValue(`RUNPRINT_CAPTURE_RETENTION must be ${RETENTION_FORM}`);
    return days;
  }
  if (typeof retention !== 'number') throw wrongType(`options.retention must be ${RETENTION_FORM}, not ${retention === null ? 'null' : `a ${typeof retention}`}`);
  if (!isRetentionDays(retention)) throw wrongValue(`options.retention must be ${RETENTION_FORM}, a whole number: not ${retention}`);
  if (url !== null) throw wrongValue(`options.retention needs the local run store (no url): the server deletes content after its own --capture-retention`);
  return retention;
}

/** The Node versions runprint supports, as package.json's engines and bin/runprint.js say them. */
const NODE_NEEDED = 'runprint needs Node 22.23.3 or later on the 22 line, or 24.3 or later';

/**
 * The SQLite run store, loaded only when a local store is opened: importing runprint/capture-node
 * needs no node:sqlite (with `url`, none is used), and on a Node without it the local store fails
 * as a store that cannot be opened (fail-open), with the versions runprint needs.
 */
async function loadSqliteRuns(): Promise<typeof SqliteRuns> {
  try {
    return (await import('../store/sqlite-runs.ts')).SqliteRuns;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_BUILTIN_MODULE') throw error;
    throw new LogError('ERR_STORE_UNAVAILABLE', `${NODE_NEEDED}: the local run store uses node:sqlite, which this Node (${process.version}) does not have`);
  }
}

/** Per-call faults of the application's own request or declarations, not of recording: never reported again. */
const PER_CALL = /^ERR_CAPTURE_(RETRIEVAL|REQUEST)_/;

/**
 * The default onError: one line on stderr per kind of failure, as `runprint serve` reports its own,
 * and reported again only after capture worked once more (`worked`: a run committed to the local
 * store, or an exchange the server took), so a later failure of the same kind is seen. After the
 * local run store failed, its recovery is said as serve says it, with the held records committed.
 */
function stderrReporter(): { report: (error: RunprintError) => void; worked: (committed?: number) => void } {
  const reported = new Set<string>();
  return {
    report: (error) => {
      if (reported.has(error.code)) return;
      reported.add(error.code);
      process.stderr.write(`runprint: capture: ${error.toLine()} (the calls go on)\n`);
    },
    worked: (committed) => {
      let again = false;
      for (const code of reported) {
        if (PER_CALL.test(code)) continue;
        reported.delete(code);
        again = true;
      }
      if (!again) return;
      process.stderr.write(committed === undefined ? 'runprint: capture: runs are recorded again\n' : `runprint: capture: the run store works again (${committed} held record${committed === 1 ? '' : 's'} committed)\n`);
    },
  };
}

/** The data directories whose modes this process has checked (the warnings are printed once). */
const modesWarned = new Set<string>();

/**
 * The local sink: the data directory's run store, and receipts signed with its key. `worked` is
 * told each time a run is committed. Runs wait for the store to open for at most `openWaitMs` from
 * its start: a run that comes while it is still opening after that is not recorded (reported once
 * as ERR_STORE_UNAVAILABLE, each counted), so an answer held for its run (sync durability),
 * flush and close are never held longer; a store that opens later takes the runs after it.
 */
function localSink(data: string, policy: ContentPolicy, retention: { days: number; now?: () => number } | undefined, report: (error: unknown) => void, worked: (committed?: number) => void, openWaitMs: number): Sink & { counts(): Readonly<RecorderCounts> } {
  let recorder: RunRecorder | undefined;
  // With a retention period: serve's sweep, on this process's recorder, from the store's opening to close.
  let sweep: RetentionSweep | undefined;
  // The store failing the same way again before anything worked (the first commit and the signing
  // pass at open both meet a read-only store) is one failure: reported once.
  let lastFailure: { key: string; progress: number } | undefined;
  const onFailure = (error: RunprintError) => {
    const progress = recorder === undefined ? 0 : recorder.counts.recorded + recorder.counts.signed;
    const key = `${error.code} ${error.message}`;
    if (error.code.startsWith('ERR_STORE_') && lastFailure?.key === key && lastFailure.progress === progress) return;
    lastFailure = { key, progress };
    report(error);
  };
  type Opened = { storage: RunStorage; recorder: RunRecorder };
  /** The store and its recorder, once open (in time or not). */
  let opened: Opened | undefined;
  const opening: Promise<Opened> = (async () => {
    // First: on a Node without node:sqlite the store can never open, and nothing is written for it
    // (not the data directory, not its receipt key).
    const Runs = await loadSqliteRuns();
    try {
      await makeFolders(data, 0o700);
    } catch (error) {
      throw folderError('the data directory', data, error);
    }
    // One that was there is left as it is (its mode is the user's): a line says who else may read it, once per process.
    if (!modesWarned.has(data)) {
      modesWarned.add(data);
      for (const warning of await notOwnerOnly(data, [RUNS_DATABASE, RECEIPT_KEY_FILE], `the data directory ${data}`)) process.stderr.write(`runprint: capture: ${warning}\n`);
    }
    const key: SigningKey = await receiptKey(data, data, undefined).catch((error: unknown) => namingKeyFile(error, join(data, RECEIPT_KEY_FILE)));
    const version = await runprintVersion();
    const storage = Runs.open(join(data, RUNS_DATABASE), { writerThread: true });
    // Signs only the runs captured in process: the proxy's are serve's to sign and log. A claim in
    // the store keeps a serve on the same directory and this process from signing one run twice.
    recorder = new RunRecorder({ storage, policy, sign: { key, runprintVersion: version }, signCapture: 'sdk', claimant: `sdk:${key.keyId}:${data}`, onFailure, onRecovered: (committed) => worked(committed) });
    // What this process left unsigned before (it stopped between commit and signing).
    void recorder.signPending();
    if (retention !== undefined) sweep = sweepRetention(recorder, retention.days, report, retention.now === undefined ? {} : { now: retention.now });
    opened = { storage, recorder };
    return opened;
  })();
  // Not an unhandled rejection: the failure is reported once, here, and each run is counted.
  opening.catch(report);
  // Settles once the store opened or failed to, or once openWaitMs passed (a timer that is gone
  // as soon as the store opens). `settled` says which.
  let settled = false;
  const waited = new Promise<void>((done) => {
    const timer = setTimeout(done, openWaitMs);
    const end = () => {
      settled = true;
      clearTimeout(timer);
      done();
    };
    opening.then(end, end);
  });
  const notOpened = new LogError('ERR_STORE_UNAVAILABLE', `the run store of the data directory ${data} has not opened within ${openWaitMs / 1000} s (a file system that does not answer, or a file in the directory that blocks its reading, such as a named pipe): the runs of the calls made until it opens are not recorded`);
  /** The open store, or (past the wait, still opening) the failure reported and counted; an open that failed is counted only (reported as it failed). */
  const store = async (): Promise<Opened> => {
    await waited;
    if (opened !== undefined) return opened;
    if (!settled) {
      report(notOpened);
      throw new Counted();
    }
    return opening.catch(() => {
      throw new Counted();
    });
  };
  /** Closes what the store opened (the retention sweep, the recorder, the store). */
  const closeOpened = async (what: Opened): Promise<void> => {
    await sweep?.stop();
    await what.recorder.close();
    await what.storage.close();
  };
  const none: RecorderCounts = { recorded: 0, unidentified: 0, failed: 0, signed: 0, logged: 0 };
  return {
    // The recorder reports a failed commit itself (onFailure); the rejection only counts it.
    record: (run, content) => store().then((open) => open.recorder.record(run, content, 'sdk').then(() => worked(), () => {
      throw new Counted();
    })),
    settle: async () => {
      await waited;
      await opened?.recorder.signPending();
    },
    close: async () => {
      await waited;
      // Still opening past the wait: what it opens is closed once it has (its runs are not taken).
      if (opened === undefined && !settled) {
        void opening.then(closeOpened, () => undefined);
        return;
      }
      if (opened !== undefined) await closeOpened(opened);
    },
    counts: () => recorder?.counts ?? none,
  };
}

/**
 * The receipt key's error with the key file's path (and, when it could not be read, the file
 * system's reason) in its message: an application with RUNPRINT_DATA from its environment learns
 * which file.
 */
async function namingKeyFile(error: unknown, file: string): Promise<never> {
  // An unreadable one is named, with the reason, by receiptKey itself.
  if (!(error instanceof RunprintError) || error.code === 'ERR_INPUT_UNREADABLE') throw error;
  const Kind = error.constructor as new (code: ErrorCode, message: string, path?: string) => RunprintError;
  throw new Kind(error.code, `${error.message}: ${file}`, error.path);
}

/**
 * The server URL of `url` or RUNPRINT_URL: the server's base URL (its root, or a reverse proxy's
 * path prefix), http(s), no query, fragment or credentials, not the exchanges route itself nor a
 * provider's base URL; without its trailing slashes.
 */
function serverUrl(given: string | undefined): string | null {
  const text = given ?? (process.env['RUNPRINT_URL'] || undefined);
  if (text === undefined) return null;
  const name = given === undefined ? 'RUNPRINT_URL' : 'options.url';
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    // `localhost:8480` parses with the scheme `localhost:`, `127.0.0.1:8480` not at all: the scheme was forgotten.
    if (!text.includes('://')) {
      let meant: string | undefined;
      try {
        const guess = new URL(`http://${text}`);
        if (guess.username === '' && guess.password === '' && guess.search === '' && guess.hash === '') meant = guess.href.replace(/\/+$/, '');
      } catch {
        meant = undefined;
      }
      throw wrongValue(`${name} has no scheme: it must be an http(s) URL${meant === undefined ? ', such as http://127.0.0.1:8480' : `: ${meant}?`}`);
    }
    // http(s) with a host or port that URL refuses (`http://256.1.1.1`): say which, not the scheme.
    const authority = /^(https?):\/\/([^/?#]*)/i.exec(text);
    if (authority !== null) throw wrongValue(`${name} is an http(s) URL whose ${hostOrPort(authority[2]!)} is not valid: ${JSON.stringify(authority[2]!.slice(0, 200))}`);
    throw wrongValue(`${name} must be an http(s) URL`);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw wrongValue(`${name} must be an http(s) URL without query, fragment, user name or password`);
  }
  // Any run of trailing slashes goes (`http://host:8480//` is the root address).
  const base = url.href.replace(/\/+$/, '');
  const path = url.pathname.replace(/\/+$/, '');
  if (path === EXCHANGES_PATH || path.endsWith(EXCHANGES_PATH)) {
    const prefix = `${url.origin}${path.slice(0, -EXCHANGES_PATH.length)}`;
    throw wrongValue(`${name} is the runprint server's base URL, without ${EXCHANGES_PATH} (runprintFetch posts to ${EXCHANGES_PATH} under it): ${prefix}`);
  }
  // A path prefix is a serve behind a reverse proxy (https://gw.example/runprint: exchanges go to
  // PREFIX/v1/exchanges). What is plainly a provider's base URL is refused instead: one ending in
  // /v1 (the proxy's /openai/v1, a provider's own), or one with a segment that names one of
  // serve's provider routes (/openai/, /anthropic/): posted under it, every exchange would wait in
  // the outbox for ever.
  const segments = path.split('/').filter((segment) => segment !== '');
  const route = segments.find((segment) => PROVIDER_ROUTES.has(segment.toLowerCase()));
  if (segments.at(-1)?.toLowerCase() === 'v1' || route !== undefined) {
    throw wrongValue(`${name} must be the runprint serve's address (its root, or the path prefix a reverse proxy serves it under), not a provider's base URL: ${JSON.stringify(path.slice(0, 200))} ${route === undefined ? 'ends in /v1' : `names serve's ${route} provider route`} (runprintFetch posts to ${EXCHANGES_PATH} under the url; the provider's base URL, such as the proxy's /openai/v1, goes to the SDK), such as ${url.origin}`);
  }
  return base;
}

/** serve's provider routes, by upstream name (/openai/..., /anthropic/...): never a runprint server's path. */
const PROVIDER_ROUTES = new Set(REQUEST_FORMATS.map((format) => providerFor(format).upstream.name.toLowerCase()));

/** Which part of a URL's authority (`host:port`, no user name) URL refused: its port when that is not 0 to 65535, else its host. */
function hostOrPort(authority: string): string {
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const port = /:([^:\]]*)$/.exec(hostPort);
  if (port !== null && (!/^[0-9]*$/.test(port[1]!) || Number(port[1]) > 65535)) return 'port';
  return 'host';
}

/**
 * A `fetch` that records every provider call (OpenAI chat completions and responses, Anthropic
 * messages) and passes everything through untouched: `new OpenAI({ fetch: runprintFetch() })`.
 * The runs go to the run store of a data directory, or with `url` (RUNPRINT_URL) to a runprint
 * server through a durable outbox in that directory. The store, key or outbox open in the
 * background; a failure there or later never reaches the application (fail-open): it goes to
 * `onError`. By default the last byte of each answer waits until its run is durable (serve's sync
 * durability); with `durability: 'async'` runs are recorded after, and `flush()` waits for them.
 * Receipts are signed after the commit, in the background. Bad options, and option names it does
 * not have, are a programmer error thrown at once: a TypeError with `code` ERR_INVALID_ARG_TYPE or
 * ERR_INVALID_ARG_VALUE (misuse.ts).
 */
export function runprintFetch(options: RunprintFetchOptions = {}): RunprintFetch {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw wrongType('options must be an object, such as { data: "runprint-data" }');
  const unknown = unknownOption(options, OPTION_NAMES, 'runprintFetch');
  if (unknown !== undefined) throw unknown;
  if (options.data !== undefined && typeof options.data !== 'string') throw wrongType('options.data must be a string: the data directory\'s path');
  if (options.data === '') throw wrongValue('options.data must be a directory path, not empty');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw wrongType('options.fetch must be a function');
  if (options.url !== undefined && typeof options.url !== 'string') throw wrongType('options.url must be a string');
  if (options.token !== undefined && typeof options.token !== 'string') throw wrongType('options.token must be a string');
  if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token)) throw wrongValue('options.token must be visible ASCII characters with no spaces');
  if (options.parents !== undefined && typeof options.parents !== 'function') throw wrongType('options.parents must be a function');
  if (options.servedFacts !== undefined && typeof options.servedFacts !== 'function') throw wrongType('options.servedFacts must be a function');
  if (options.spans !== undefined && typeof options.spans !== 'boolean') throw wrongType('options.spans must be true or false');
  if (options.durability !== undefined && typeof options.durability !== 'string') throw wrongType('options.durability must be a string: sync or async');
  const durability = options.durability ?? (process.env['RUNPRINT_CAPTURE_DURABILITY'] || 'sync');
  if (durability !== 'sync' && durability !== 'async') throw wrongValue(`${options.durability === undefined ? 'RUNPRINT_CAPTURE_DURABILITY' : 'options.durability'} must be sync or async`);
  if (options.onError !== undefined && typeof options.onError !== 'function') throw wrongType('options.onError must be a function');
  if (options.salt !== undefined && !Array.isArray(options.salt)) throw wrongType('options.salt must be an array of request component names, such as ["system", "input"]');
  let salted: RequestComponentName[];
  try {
    salted = saltedComponents(options.salt ?? (process.env['RUNPRINT_CAPTURE_SALT'] ?? '').split(/\s+/));
  } catch (error) {
    const name = options.salt === undefined ? 'RUNPRINT_CAPTURE_SALT' : 'options.salt';
    if (error instanceof RangeError) throw wrongValue(`${name}: ${error.message}`);
    if (error instanceof TypeError) throw wrongType(`${name}: ${error.message}`);
    throw error;
  }
  // The test seam: fixed salts for every call (proxy and in-process equality under equal salts).
  const fixed = (options as { [SALTS_SEAM]?: () => Salts })[SALTS_SEAM];
  const url = serverUrl(options.url);
  // With url, the server's --capture-keep decides what it keeps: RUNPRINT_CAPTURE_KEEP is its own.
  if (url !== null && options.keep !== undefined) throw wrongValue('options.keep needs the local run store (no url): the server keeps what its own --capture-keep says');
  const policy = policyOf(options.keep, url === null);
  const retentionDays = retentionOf(options.retention, url);
  if (url !== null && options.servedFacts !== undefined) throw wrongValue('options.servedFacts needs the local run store (no url): a server derives every fact from the bytes and refuses facts a client states (ERR_CAPTURE_SERVED_FACT_REFUSED); for a model server behind serve, give serve --upstream-weights');
  // A token is for a server: without one it would be dropped, and the runs go to the local store.
  if (url === null && options.token !== undefined) throw wrongValue('options.token needs url (or RUNPRINT_URL): it is the runprint server\'s capture token; the local run store takes none');
  const token = options.token ?? (process.env['RUNPRINT_CAPTURE_TOKEN'] || undefined);
  const data = resolve(options.data ?? (process.env['RUNPRINT_DATA'] || DEFAULT_DATA));
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const stderr = options.onError === undefined ? stderrReporter() : undefined;
  const onError = options.onError ?? stderr!.report;
  const worked: (committed?: number) => void = stderr === undefined ? () => undefined : stderr.worked;
  // One failure met again (the same error: an outbox folder that cannot be made fails every send
  // and every call) is reported once.
  const reported = new WeakSet<RunprintError>();
  const report = (error: unknown) => {
    const known = error instanceof RunprintError ? error : new RunprintError('ERR_INTERNAL', 'recording a run failed unexpectedly');
    if (reported.has(known)) return;
    reported.add(known);
    try {
      onError(known);
    } catch {
      // Reporting must not fail the call.
    }
  };

  const noRecorder: RecorderCounts = { recorded: 0, unidentified: 0, failed: 0, signed: 0, logged: 0 };
  const noOutbox: OutboxCounts = { queued: 0, delivered: 0, rejected: 0, refused: 0 };
  let sink: Sink;
  let recorderCounts = (): Readonly<RecorderCounts> => noRecorder;
  let outboxCounts = (): Readonly<OutboxCounts> => noOutbox;
  // Exchanges counted refused (so in failures) that the outbox delivered after all.
  let outboxRecovered = (): number => 0;
  // Declaration failures the server's answers named that this process had not reported itself.
  let serverRetrievalErrors = 0;
  // Runs counted failed whose records the local store committed after all (RunprintFetchCounts.recovered).
  let recovered = 0;
  if (url === null) {
    const clock = (options as { [RETENTION_CLOCK_SEAM]?: () => number })[RETENTION_CLOCK_SEAM];
    const openWait = (options as { [STORE_OPEN_WAIT_SEAM]?: number })[STORE_OPEN_WAIT_SEAM] ?? STORE_OPEN_WAIT_MS;
    // The store worked again after failing: the runs held meanwhile are committed (counted recovered).
    const recoveredBy = (committed?: number) => {
      if (committed !== undefined) recovered += committed;
      worked(committed);
    };
    const local = localSink(data, policy, retentionDays === undefined ? undefined : { days: retentionDays, ...(clock === undefined ? {} : { now: clock }) }, report, recoveredBy, openWait);
    recorderCounts = local.counts;
    sink = local;
  } else {
    // The capture ids whose declared retrieval this process's own check failed (reported then,
    // by captureFetch) and the code: the server's answer with the same code is not news. An
    // exchange the server has not answered yet (down, or left for another process) keeps its
    // entry until it does; the oldest go past MAX_AWAITED.
    const reportedAtCapture = new Map<string, string>();
    const onRecorded = (captureId: string, retrievalError: ExchangeRetrievalError | null) => {
      worked();
      const reported = reportedAtCapture.get(captureId);
      reportedAtCapture.delete(captureId);
      if (retrievalError === null || reported === retrievalError.code) return;
      // An exchange another process captured, or a server whose check differs from this one's:
      // reported the way this process's own check reports one (onError, counts.failures).
      serverRetrievalErrors++;
      report(new RunprintError(retrievalError.code, `the runprint server recorded capture ${captureId} without ${retrievalError.sources.length} declared document(s): ${retrievalError.message.slice(0, 2000)}`));
    };
    const waits = (options as { [OUTBOX_WAIT_SEAM]?: { sendMs: number; flushMs: number } })[OUTBOX_WAIT_SEAM] ?? { sendMs: SEND_TIMEOUT_MS, flushMs: FLUSH_SEND_WAIT_MS };
    const outbox = new Outbox({ dir: join(data, OUTBOX_FOLDER), url, ...(token === undefined ? {} : { token }), fetch: fetchImpl, onError: report, onRecorded, sendTimeoutMs: waits.sendMs });
    outboxCounts = () => outbox.counts;
    outboxRecovered = () => outbox.recovered;
    sink = {
      record: (run, content) => {
        if (run.retrievalError !== null) {
          if (reportedAtCapture.size >= MAX_AWAITED) reportedAtCapture.delete(reportedAtCapture.keys().next().value!);
          reportedAtCapture.set(run.record.captureId, run.retrievalError.code);
        }
        return outbox.put(exchangeOf(run, content)).catch((error: unknown) => {
          report(error);
          throw new Counted();
        });
      },
      // One pass over the outbox, waited for within flushMs (each send is cut at sendMs): flush
      // and close are never held longer by a server that answers slowly or not at all.
      settle: async () => {
        if (await outbox.settle(waits.flushMs)) return;
        const waiting = await outbox.waiting();
        report(new RunprintError('ERR_CAPTURE_UNAVAILABLE', `the runprint server at ${url} has not taken the outbox's exchanges within ${waits.flushMs / 1000} s of flush: ${waiting} exchange${waiting === 1 ? ' waits' : 's wait'} in the outbox, sent later (or by the next process on this data directory)`));
      },
      close: () => outbox.close(),
    };
  }

  const pending = new Set<Promise<void>>();
  let closed = false;
  // Spans through @opentelemetry/api when the application has it (and options.spans is not false).
  const api = options.spans === false ? null : otelApi();
  // The tracer's instrumentation scope: runprint and its version, as the proxy's OTLP spans name it.
  // Parameters or configuration kept by digest only are no attribute (no content is); with a url, the server's policy decides its store, not the spans'.
  const spans = api === null ? undefined : otelHooks(api, runprintVersionNow(), { parameters: policy.parameters, configuration: policy.configuration });
  // Each call's caller's context as it starts: its span's parent, and the collects around it.
  const owner = {};
  const onStart = (): Started => ({ span: spans?.onStart(), call: callStarted(owner) });
  const record = (run: CapturedRun, content: RunContent, started?: unknown): Promise<void> => {
    const begun = started as Started | undefined;
    recordCollected(begun?.call, run.record);
    if (spans !== undefined) {
      try {
        spans.emit(run, begun?.span, null);
      } catch {
        // A tracer's failure never fails a call or its record.
      }
    }
    if (closed) {
      report(new LogError('ERR_STORE_UNAVAILABLE', 'runprintFetch was closed: a run was not recorded'));
      return Promise.reject(new Counted());
    }
    const work = sink.record(run, content);
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    pending.add(tracked);
    void tracked.then(() => pending.delete(tracked));
    return work;
  };

  const capturing = captureFetch(fetchImpl, {
    onCapturedRun: record,
    // Failures already reported are only counted by captureFetch.
    onError: (error) => {
      if (!(error instanceof Counted)) report(error);
    },
    parents: options.parents ?? currentParents,
    // withSteps: the calls inside it are linked step by step (captureFetch notes each end).
    steps: currentSteps,
    retrieval: currentRetrieval,
    ...(options.servedFacts === undefined ? {} : { derived: options.servedFacts }),
    ...(fixed !== undefined ? { salts: fixed } : salted.length === 0 ? {} : { salts: () => freshSalts(salted) }),
    onStart,
    holdEnd: durability === 'sync',
    // runprint-capture-id and runprint-request-id on each answer, as the proxy's: runOf gives the run.
    idHeaders: true,
  });
  const inner = capturing.counts;
  const counts: RunprintFetchCounts = {
    get runs() {
      return inner.runs;
    },
    get unidentified() {
      return inner.unidentified;
    },
    get abandoned() {
      return inner.abandoned;
    },
    get failures() {
      // With url: exchanges the server refused for good (ERR_CAPTURE_EXCHANGE_REJECTED) are runs lost
      // too, and those a server would not take from this client (404, 401, 403: kept in the
      // outbox for a fixed configuration; an earlier process's among them, as delivered counts
      // them) are not recorded so far; those delivered later are counted in recovered.
      return inner.failures + serverRetrievalErrors + outboxCounts().rejected + outboxCounts().refused;
    },
    get recorder() {
      return recorderCounts();
    },
    get outbox() {
      return outboxCounts();
    },
    get recovered() {
      return recovered + outboxRecovered();
    },
  };
  // console.log(fetch.counts) shows the numbers as they are now, not a list of getters.
  Object.defineProperty(counts, Symbol.for('nodejs.util.inspect.custom'), {
    value: (_depth: number, options: object, inspect: (value: unknown, options: object) => string) => inspect({ ...counts }, options),
  });

  const flush = async (): Promise<void> => {
    // A response that has ended hands its run over on a later timer: let those run first.
    await new Promise((done) => setTimeout(done, 0));
    while (pending.size > 0) await Promise.all([...pending]);
    await sink.settle();
  };
  const close = async (): Promise<void> => {
    await flush();
    closed = true;
    await sink.close();
  };
  // With async durability a record is made on a later turn than its answer's end (its request
  // body, when a stream, one more): let those run before collect lists the records.
  const turn = () => new Promise<void>((done) => setTimeout(done, 0));
  const settleCollected = durability === 'sync' ? () => Promise.resolve() : async () => {
    await turn();
    await turn();
  };
  const collect = <T>(fn: () => T): Promise<Collected<Awaited<T>>> => collectRuns(owner, fn, settleCollected);
  return Object.assign(capturing, { counts, data, url, flush, close, collect }) as unknown as RunprintFetch;
}

/** What captureFetch's onStart gives each call, handed back with its run: its span's context, its collects. */
interface Started {
  readonly span: unknown;
  readonly call: CollectedCall | undefined;
}

/** A failure already reported to onError: captureFetch counts it, nothing reports it twice. */
class Counted extends Error {}
