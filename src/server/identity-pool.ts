/**
 * Worker threads that compute identity answers, so one large request cannot hold the event loop
 * (and with it /healthz and the log's checkpoint timer). The CLI injects `pool.compute` into
 * `createApp()`; the app itself stays free of node:*.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RunprintError } from '../errors.ts';
import type { IdentityCompute } from './identity-answer.ts';
import type { IdentityReply, IdentityTask } from './identity-worker.ts';

export interface IdentityPoolOptions {
  /** Worker threads (default: the available parallelism less one, at least 1, at most 4). */
  workers?: number;
  /** Requests waiting for a worker beyond those computing; more are refused with ERR_HTTP_BUSY (default 8 per worker). */
  maxQueued?: number;
}

export interface IdentityPool {
  compute: IdentityCompute;
  /** Stops every worker; pending requests fail with ERR_HTTP_BUSY. */
  close(): Promise<void>;
}

// The sources run as .ts in a checkout and as compiled .js from dist/ when installed.
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './identity-worker.ts' : './identity-worker.js', import.meta.url);

interface Pending {
  task: IdentityTask;
  resolve: (answer: Uint8Array) => void;
  reject: (error: unknown) => void;
}

function busy(): RunprintError {
  return new RunprintError('ERR_HTTP_BUSY', 'the service is computing as many identities as it queues; retry later');
}

export function createIdentityPool(options: IdentityPoolOptions = {}): IdentityPool {
  const size = options.workers ?? Math.min(4, Math.max(1, availableParallelism() - 1));
  const maxQueued = options.maxQueued ?? 8 * size;
  const queue: Pending[] = [];
  const idle: Worker[] = [];
  const running = new Map<Worker, Pending>();
  let nextId = 0;
  let closed = false;
  let broken = false;
  let exitsInARow = 0;

  const start = (): void => {
    // execArgv: [] because the worker needs no flag of the caller's (see model-digest/hash-pool.ts).
    const worker = new Worker(workerUrl, { execArgv: [] });
    worker.unref();
    worker.on('message', (reply: IdentityReply) => {
      const pending = running.get(worker);
      running.delete(worker);
      exitsInARow = 0;
      if (pending !== undefined) {
        if ('answer' in reply) pending.resolve(reply.answer);
        else pending.reject(new RunprintError(reply.error.code, reply.error.message, reply.error.path));
      }
      idle.push(worker);
      feed();
    });
    // A worker that dies (out of memory, a bug) fails its request and is replaced.
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      const pending = running.get(worker);
      running.delete(worker);
      const at = idle.indexOf(worker);
      if (at >= 0) idle.splice(at, 1);
      pending?.reject(new RunprintError('ERR_INTERNAL', 'unexpected failure'));
      if (closed) return;
      // Workers that keep dying before any answers (one that cannot load, say) are not restarted
      // in a loop: requests fail instead.
      exitsInARow += 1;
      if (exitsInARow > 3) {
        broken = true;
        for (const waiting of queue.splice(0)) waiting.reject(new RunprintError('ERR_INTERNAL', 'unexpected failure'));
        return;
      }
      start();
      feed();
    });
    idle.push(worker);
  };

  const feed = (): void => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop()!;
      const pending = queue.shift()!;
      running.set(worker, pending);
      // A body that owns its whole buffer is moved to the worker, not copied (the caller is done with it).
      const { body } = pending.task;
      const movable = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
      worker.postMessage(pending.task, movable ? [body.buffer as ArrayBuffer] : []);
    }
  };

  // Workers start with the first request, not with the server: a service that only runs the log
  // or a witness never pays for loading them (it slowed the first checkpoints of a busy machine).
  let started = false;

  return {
    compute: (body, from, maxElements, operation = 'identity', declared) =>
      new Promise((resolve, reject) => {
        if (!started && !closed) {
          started = true;
          for (let i = 0; i < size; i++) start();
        }
        if (broken) return reject(new RunprintError('ERR_INTERNAL', 'unexpected failure'));
        if (closed || (idle.length === 0 && queue.length >= maxQueued)) return reject(busy());
        queue.push({ task: { id: nextId++, body, from, maxElements, operation, ...(declared === undefined ? {} : { declared }) }, resolve, reject });
        feed();
      }),
    close: async () => {
      closed = true;
      for (const pending of queue.splice(0)) pending.reject(busy());
      const workers = [...idle, ...running.keys()];
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
