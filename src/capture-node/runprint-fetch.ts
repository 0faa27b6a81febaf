/**
 * One-line in-process capture for Node: a `fetch` for any SDK that records every provider call
 * into a data directory's run store (the runs.sqlite a `runprint serve --data DIR` on the same
 * directory reads and writes), with capture `sdk`, parents from async context, and receipts
 * signed with the directory's receipt key (docs/CAPTURE.md, "In process (Node)").
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { captureFetch, type CaptureCounts, type RunContent } from '../capture/capture-fetch.ts';
import type { CapturedRun } from '../capture/capture-run.ts';
import { LogError, RunprintError } from '../errors.ts';
import type { SigningKey } from '../keys/keys.ts';
import { RUNS_DATABASE, receiptKey } from '../store/receipt-key.ts';
import { RunRecorder, type RecorderCounts } from '../store/run-recorder.ts';
import { CONTENT_PARTS, defaultContentPolicy, type ContentPart, type ContentPolicy, type RunStorage } from '../store/run-storage.ts';
import { SqliteRuns } from '../store/sqlite-runs.ts';
import { currentParents } from './parents.ts';
import { runprintVersion } from './version.ts';

/** The data directory when neither `data` nor RUNPRINT_DATA says otherwise: serve's default too. */
export const DEFAULT_DATA = 'runprint-data';

export interface RunprintFetchOptions {
  /**
   * The data directory (as `runprint serve --data DIR`), relative to the working directory;
   * created owner-only when missing. Default: RUNPRINT_DATA, else `runprint-data`.
   */
  data?: string;
  /** The fetch the calls go through. Default: the global fetch. */
  fetch?: typeof fetch;
  /** What the store keeps, per part (serve's --capture-keep); the rest as serve's default. */
  keep?: Partial<ContentPolicy>;
  /** The run identities the next call follows from. Default: currentParents (withParent). */
  parents?: () => readonly string[];
  /**
   * Runprint's own failures (the store cannot be opened or written, a receipt cannot be signed):
   * the calls go on. Default: one line on stderr per kind of failure.
   */
  onError?: (error: RunprintError) => void;
}

/** What a runprintFetch has done so far: the runs it captured and what the recorder made of them. */
export interface RunprintFetchCounts extends Readonly<CaptureCounts> {
  readonly recorder: Readonly<RecorderCounts>;
}

export type RunprintFetch = typeof fetch & {
  readonly counts: RunprintFetchCounts;
  /** The data directory's absolute path. */
  readonly data: string;
  /**
   * Resolves once every run whose response has ended is committed and its receipt signed; call it
   * before the process exits on purpose (`process.exit` does not wait for the background writes).
   */
  flush(): Promise<void>;
  /** flush, then closes the run store; calls made afterwards go on unrecorded (and are counted as failures). */
  close(): Promise<void>;
};

interface Opened {
  storage: RunStorage;
  recorder: RunRecorder;
}

/**
 * The store as this process's recorder sees it: it signs only the runs captured in process. The
 * proxy's runs are serve's to sign and log (serve signs what it left unsigned when it starts).
 */
function sdkRunsOnly(storage: SqliteRuns): RunStorage {
  return {
    kind: storage.kind,
    put: (batch) => storage.put(batch),
    unsigned: async (limit) => (await storage.unsigned(Math.max(limit, 1) * 16)).filter((run) => run.capture === 'sdk').slice(0, limit),
    setReceipts: (items) => storage.setReceipts(items),
    list: (query) => storage.list(query),
    find: (id) => storage.find(id),
    content: (digest) => storage.content(digest),
    expire: (before) => storage.expire(before),
    close: () => storage.close(),
  };
}

function policyOf(keep: Partial<ContentPolicy> | undefined): ContentPolicy {
  const policy = defaultContentPolicy();
  if (keep === undefined) return policy;
  if (keep === null || typeof keep !== 'object') throw new TypeError('options.keep must be an object of PART: "content" | "digest"');
  for (const [part, mode] of Object.entries(keep)) {
    if (!(CONTENT_PARTS as readonly string[]).includes(part)) throw new TypeError(`options.keep: unknown part (one of ${CONTENT_PARTS.join(', ')})`);
    if (mode !== 'content' && mode !== 'digest') throw new TypeError('options.keep: each part is "content" or "digest"');
    policy[part as ContentPart] = mode;
  }
  return policy;
}

/** One line on stderr per kind of failure, as `runprint serve` reports its own. */
function stderrOnce(): (error: RunprintError) => void {
  const reported = new Set<string>();
  return (error) => {
    if (reported.has(error.code)) return;
    reported.add(error.code);
    process.stderr.write(`runprint: capture: ${error.toLine()} (the calls go on)\n`);
  };
}

/**
 * A `fetch` that records every provider call (OpenAI chat completions and responses, Anthropic
 * messages) into the run store of a data directory, and passes everything through untouched:
 * `new OpenAI({ fetch: runprintFetch() })`. The store and key open in the background; a failure
 * there or later never reaches the application (fail-open): it goes to `onError`. Records are
 * committed after the application has its answer (serve's async durability); `flush()` waits for
 * them. Bad options are a programmer error (TypeError), thrown at once.
 */
export function runprintFetch(options: RunprintFetchOptions = {}): RunprintFetch {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.data !== undefined && (typeof options.data !== 'string' || options.data === '')) throw new TypeError('options.data must be a directory path');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError('options.fetch must be a function');
  if (options.parents !== undefined && typeof options.parents !== 'function') throw new TypeError('options.parents must be a function');
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('options.onError must be a function');
  const policy = policyOf(options.keep);
  const data = resolve(options.data ?? (process.env['RUNPRINT_DATA'] || DEFAULT_DATA));
  const onError = options.onError ?? stderrOnce();
  const report = (error: unknown) => {
    const known = error instanceof RunprintError ? error : new RunprintError('ERR_INTERNAL', 'recording a run failed unexpectedly');
    try {
      onError(known);
    } catch {
      // Reporting must not fail the call.
    }
  };
  let recorderCounts: Readonly<RecorderCounts> = { recorded: 0, failed: 0, signed: 0, logged: 0 };

  const opening: Promise<Opened> = (async () => {
    try {
      await mkdir(data, { recursive: true, mode: 0o700 });
    } catch {
      throw new LogError('ERR_STORE_PERMISSION', 'the data directory cannot be created');
    }
    const key: SigningKey = await receiptKey(data, data, undefined);
    const version = await runprintVersion();
    const sqlite = SqliteRuns.open(join(data, RUNS_DATABASE));
    const storage = sdkRunsOnly(sqlite);
    const recorder = new RunRecorder({ storage, policy, sign: { key, runprintVersion: version }, onFailure: report });
    recorderCounts = recorder.counts;
    // What this process left unsigned before (it stopped between commit and signing).
    void recorder.signPending();
    return { storage, recorder };
  })();
  // Not an unhandled rejection: the failure is reported once, here, and each call goes on.
  opening.catch(report);

  const pending = new Set<Promise<void>>();
  let closed = false;
  const record = (run: CapturedRun, content: RunContent): Promise<void> => {
    if (closed) return Promise.reject(new LogError('ERR_STORE_UNAVAILABLE', 'runprintFetch was closed: the run was not recorded'));
    const work = opening.then(
      // The recorder reports a failed commit itself (onFailure); the rejection only counts it.
      ({ recorder }) => recorder.record(run, content, 'sdk').catch(() => {
        throw new Counted();
      }),
      () => {
        throw new Counted();
      },
    );
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    pending.add(tracked);
    void tracked.then(() => pending.delete(tracked));
    return work;
  };

  const capturing = captureFetch(options.fetch ?? globalThis.fetch, {
    onCapturedRun: record,
    // Failures already reported (the store's) are only counted by captureFetch.
    onError: (error) => {
      if (!(error instanceof Counted)) report(error);
    },
    parents: options.parents ?? currentParents,
  });
  const inner = capturing.counts;
  const counts: RunprintFetchCounts = {
    get runs() {
      return inner.runs;
    },
    get unidentified() {
      return inner.unidentified;
    },
    get failures() {
      return inner.failures;
    },
    get recorder() {
      return recorderCounts;
    },
  };

  const flush = async (): Promise<void> => {
    // A response that has ended hands its run over on a later timer: let those run first.
    await new Promise((done) => setTimeout(done, 0));
    while (pending.size > 0) await Promise.all([...pending]);
    const opened = await opening.catch(() => undefined);
    await opened?.recorder.signPending();
  };
  const close = async (): Promise<void> => {
    await flush();
    closed = true;
    const opened = await opening.catch(() => undefined);
    if (opened === undefined) return;
    await opened.recorder.close();
    await opened.storage.close();
  };
  return Object.assign(capturing, { counts, data, flush, close }) as unknown as RunprintFetch;
}

/** A failure already reported to onError: captureFetch counts it, nothing reports it twice. */
class Counted extends Error {}
