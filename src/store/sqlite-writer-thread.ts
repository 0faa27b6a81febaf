/**
 * A writer thread for an SQLite store: writes are committed there, on a connection of its own,
 * so the event loop of the process that sends them does not wait for the inserts or for the disk.
 * A write resolves once the thread committed it, as it would on the caller's thread. A thread
 * that stops fails the writes it holds (ERR_STORE_UNAVAILABLE) and is started again by the next
 * write. The worker's side is serveWrites (sqlite-writer-worker.ts).
 */
import { Worker } from 'node:worker_threads';
import { LogError, type ErrorCode } from '../errors.ts';

export type WriterTask<Task> = { id: number; task: Task } | { close: true };
/** An error sent across the thread: `publicMessage` when it has one (RunprintError.publicMessage). */
export interface ErrorDescription {
  code: string;
  message: string;
  publicMessage?: string;
}
export type WriterReply<Result> =
  | { id: number; result: Result }
  | { id: number; error: ErrorDescription }
  | { opened: true }
  | { failed: ErrorDescription };

/** The error a worker sent, made again on this side with its public message. */
function received(error: ErrorDescription): LogError {
  return new LogError(error.code as ErrorCode, error.message, undefined, error.publicMessage === undefined ? {} : { publicMessage: error.publicMessage });
}

/** ERR_STORE_UNAVAILABLE with a message that names the store, not its file: public as it is. */
function nameless(message: string): LogError {
  return new LogError('ERR_STORE_UNAVAILABLE', message, undefined, { publicMessage: message });
}

interface Pending<Result> {
  resolve: (result: Result) => void;
  reject: (error: LogError) => void;
}

/**
 * Run in runprint's writer thread before its module loads: drops the one warning Node 22 prints as
 * node:sqlite loads ("ExperimentalWarning: SQLite is an experimental feature ...") in that thread
 * only, so a process with a local store says it once (its main thread's, which is the application's
 * to silence or not: docs/CAPTURE.md), not twice. Every other warning of the thread is printed.
 */
export const QUIET_SQLITE_WARNING = `{
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (type === 'ExperimentalWarning' && typeof text === 'string' && text.startsWith('SQLite is an experimental feature')) return;
    return emitWarning.call(this, warning, ...rest);
  };
}`;

export class SqliteWriterThread<Task, Result> {
  readonly #workerUrl: URL;
  readonly #path: string;
  /** What the errors call the store: "the run store", "the log". */
  readonly #store: string;
  #worker: Worker | undefined;
  /** Resolves once the worker's connection is open; rejects with the reason it cannot open. */
  #opened: Promise<void> | undefined;
  readonly #pending = new Map<number, Pending<Result>>();
  #next = 0;
  #closed = false;
  /** Writes not settled yet, including those waiting for the thread to open. */
  readonly #inflight = new Set<Promise<Result>>();

  constructor(workerUrl: URL, path: string, store: string) {
    this.#workerUrl = workerUrl;
    this.#path = path;
    this.#store = store;
  }

  #stopped(): LogError {
    return nameless(`${this.#store}'s writer thread stopped; the write was not committed`);
  }

  #start(): Promise<void> {
    // execArgv: [] because the worker needs no flag of the caller's (see model-digest/hash-pool.ts).
    // The worker module is loaded after QUIET_SQLITE_WARNING (node:sqlite warns as it loads).
    const worker = new Worker(`${QUIET_SQLITE_WARNING}\nimport(${JSON.stringify(this.#workerUrl.href)});`, { eval: true, workerData: { path: this.#path }, execArgv: [] });
    this.#worker = worker;
    worker.unref();
    const opened = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: WriterReply<Result>) => {
        if ('opened' in reply) return resolve();
        if ('failed' in reply) {
          // The next write starts a thread again.
          if (this.#worker === worker) {
            this.#worker = undefined;
            this.#opened = undefined;
          }
          return reject(received(reply.failed));
        }
        const pending = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        if (this.#pending.size === 0) worker.unref();
        if (pending === undefined) return;
        if ('error' in reply) pending.reject(received(reply.error));
        else pending.resolve(reply.result);
      });
      const gone = () => {
        if (this.#worker === worker) {
          this.#worker = undefined;
          this.#opened = undefined;
        }
        reject(this.#stopped());
        for (const pending of this.#pending.values()) pending.reject(this.#stopped());
        this.#pending.clear();
      };
      worker.on('error', gone);
      worker.on('exit', gone);
    });
    // A failure to open is reported to the writes that wait for it; nothing else waits.
    opened.catch(() => undefined);
    return opened;
  }

  /** Sends `task` to the thread; the buffers in `transfer` are moved with it, not copied (and are unusable here afterwards). */
  write(task: Task, transfer: readonly ArrayBuffer[] = []): Promise<Result> {
    if (this.#closed) return Promise.reject(nameless(`${this.#store} is closed`));
    const write = this.#send(task, transfer);
    this.#inflight.add(write);
    const forget = () => void this.#inflight.delete(write);
    write.then(forget, forget);
    return write;
  }

  async #send(task: Task, transfer: readonly ArrayBuffer[]): Promise<Result> {
    this.#opened ??= this.#start();
    const opened = this.#opened;
    await opened;
    const worker = this.#worker;
    if (worker === undefined) throw this.#stopped();
    const id = this.#next++;
    return new Promise<Result>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Held while a write is in the thread: a process does not end with a commit outstanding.
      worker.ref();
      worker.postMessage({ id, task } satisfies WriterTask<Task>, transfer);
    });
  }

  /** Waits for the writes sent, then closes the thread's connection and stops it. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
    const worker = this.#worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ close: true } satisfies WriterTask<Task>);
    await exited;
  }
}
