/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9.4): the worker thread's loop. */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { HashTask, WorkerReply } from './hash-pool.ts';
import { sameState, stateOf } from './file-state.ts';

const port = parentPort;
if (port === null) throw new Error('hash-worker.ts runs only as a worker thread');

// One buffer for the worker's whole life: large reads, no per-chunk allocation.
const chunkSize = (workerData as { chunkSize: number }).chunkSize;
const buffer = Buffer.allocUnsafe(chunkSize);

/** A task failed: the file moved (`changed`) or could not be opened or read (`unreadable`). */
class Failure {
  readonly reason: 'changed' | 'unreadable';
  constructor(reason: 'changed' | 'unreadable') {
    this.reason = reason;
  }
}

port.on('message', (tasks: HashTask[]) => {
  port.postMessage(hashBatch(tasks));
});

function hashBatch(tasks: readonly HashTask[]): WorkerReply {
  const digests: Uint8Array[] = [];
  let unreported = 0;
  let open: { path: string; fd: number } | undefined;
  try {
    for (const task of tasks) {
      // Consecutive shards of one file share its descriptor.
      if (open?.path !== task.path) {
        if (open !== undefined) closeSync(open.fd);
        open = undefined; // closed: never closed twice, even if the next open fails
        open = { path: task.path, fd: openFile(task.path) };
      }
      digests.push(hashRange(open.fd, task, (bytes) => {
        unreported += bytes;
        if (unreported >= chunkSize) {
          port!.postMessage({ type: 'progress', bytes: unreported } satisfies WorkerReply);
          unreported = 0;
        }
      }));
    }
  } catch (error) {
    return { type: 'error', reason: error instanceof Failure ? error.reason : 'unreadable' };
  } finally {
    if (open !== undefined) closeSync(open.fd);
  }
  if (unreported > 0) port!.postMessage({ type: 'progress', bytes: unreported } satisfies WorkerReply);
  return { type: 'done', ids: tasks.map((task) => task.id), digests };
}

function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    throw new Failure((error as { code?: unknown }).code === 'ENOENT' ? 'changed' : 'unreadable');
  }
}

// Reads [start, end) in large chunks into SHA-256. The file must still be the one listed (same
// device, inode, size and modification time) before the first read and after the last, and must
// not end early: anything else means it changed under us, and the digest of a file in motion
// would be silently wrong.
function hashRange(fd: number, task: HashTask, onBytes: (bytes: number) => void): Uint8Array {
  if (!sameState(stateOf(fstatSync(fd, { bigint: true })), task.state)) throw new Failure('changed');
  const hash = createHash('sha256');
  let position = task.start;
  while (position < task.end) {
    const read = readSync(fd, buffer, 0, Math.min(buffer.length, task.end - position), position);
    if (read === 0) throw new Failure('changed');
    hash.update(buffer.subarray(0, read));
    position += read;
    onBytes(read);
  }
  if (!sameState(stateOf(fstatSync(fd, { bigint: true })), task.state)) throw new Failure('changed');
  return new Uint8Array(hash.digest());
}
