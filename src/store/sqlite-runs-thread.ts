/**
 * A writer thread for the SQLite run store (sqlite-runs-worker.ts): puts are committed there, on
 * a connection of its own, so a capturing process's event loop does not wait for inserts or for
 * the disk. A put resolves once its batch is committed, as on the caller's thread. A thread that
 * stops fails the puts it holds (ERR_STORE_UNAVAILABLE) and is started again by the next put.
 */
import { Worker } from 'node:worker_threads';
import { LogError, type ErrorCode } from '../errors.ts';
import type { RunWrite } from './sqlite-runs-write.ts';
import type { WriterReply, WriterTask } from './sqlite-runs-worker.ts';

// The sources run as .ts in a checkout and as compiled .js from dist/ when installed.
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './sqlite-runs-worker.ts' : './sqlite-runs-worker.js', import.meta.url);

interface Pending {
  resolve: () => void;
  reject: (error: LogError) => void;
}

const stopped = (): LogError => new LogError('ERR_STORE_UNAVAILABLE', "the run store's writer thread stopped; the batch was not committed");

export class RunWriterThread {
  readonly #path: string;
  #worker: Worker | undefined;
  /** Resolves once the worker's connection is open; rejects with the reason it cannot open. */
  #opened: Promise<void> | undefined;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #closed = false;
  /** Puts not settled yet, including those waiting for the thread to open. */
  readonly #inflight = new Set<Promise<void>>();

  constructor(path: string) {
    this.#path = path;
  }

  #start(): Promise<void> {
    // execArgv: [] because the worker needs no flag of the caller's (see model-digest/hash-pool.ts).
    const worker = new Worker(workerUrl, { workerData: { path: this.#path }, execArgv: [] });
    this.#worker = worker;
    worker.unref();
    const opened = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: WriterReply) => {
        if ('opened' in reply) return resolve();
        if ('failed' in reply) {
          // The next put starts a thread again.
          if (this.#worker === worker) {
            this.#worker = undefined;
            this.#opened = undefined;
          }
          return reject(new LogError(reply.failed.code as ErrorCode, reply.failed.message));
        }
        const pending = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        if (this.#pending.size === 0) worker.unref();
        if (pending === undefined) return;
        if ('error' in reply) pending.reject(new LogError(reply.error.code as ErrorCode, reply.error.message));
        else pending.resolve();
      });
      const gone = () => {
        if (this.#worker === worker) {
          this.#worker = undefined;
          this.#opened = undefined;
        }
        reject(stopped());
        for (const pending of this.#pending.values()) pending.reject(stopped());
        this.#pending.clear();
      };
      worker.on('error', gone);
      worker.on('exit', gone);
    });
    // A failure to open is reported to the puts that wait for it; nothing else waits.
    opened.catch(() => undefined);
    return opened;
  }

  put(batch: RunWrite[]): Promise<void> {
    if (this.#closed) return Promise.reject(new LogError('ERR_STORE_UNAVAILABLE', 'the run store is closed'));
    const put = this.#send(batch);
    this.#inflight.add(put);
    const forget = () => void this.#inflight.delete(put);
    put.then(forget, forget);
    return put;
  }

  async #send(batch: RunWrite[]): Promise<void> {
    this.#opened ??= this.#start();
    const opened = this.#opened;
    await opened;
    const worker = this.#worker;
    if (worker === undefined) throw stopped();
    const id = this.#next++;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Held while a batch is in the thread: a process does not end with a commit outstanding.
      worker.ref();
      worker.postMessage({ id, batch } satisfies WriterTask);
    });
  }

  /** Waits for the batches sent, then closes the thread's connection and stops it. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
    const worker = this.#worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ close: true } satisfies WriterTask);
    await exited;
  }
}
