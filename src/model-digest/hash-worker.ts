/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9.4): the worker thread's loop. */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { HashTask, WorkerReply } from './hash-pool.ts';
import { sameState, stateOf } from './model-files.ts';

const port = parentPort;
if (port === null) throw new Error('hash-worker.ts runs only as a worker thread');

// One buffer for the worker's whole life: large reads, no per-chunk allocation.
const buffer = Buffer.allocUnsafe((workerData as { chunkSize: number }).chunkSize);

port.on('message', (task: HashTask) => {
  port.postMessage(hashRange(task));
});

// Reads [start, end) of the file in large chunks into SHA-256. The file must still be the one
// listed (same device, inode, size and modification time) before the first read and after the
// last, and must not end early; anything else means it changed under us, and a digest of a file
// in motion would be silently wrong.
function hashRange(task: HashTask): WorkerReply {
  let fd: number;
  try {
    fd = openSync(task.path, 'r');
  } catch (error) {
    const reason = (error as { code?: unknown }).code === 'ENOENT' ? 'changed' : 'unreadable';
    return { type: 'error', id: task.id, reason };
  }
  try {
    if (!sameState(stateOf(fstatSync(fd, { bigint: true })), task.state)) {
      return { type: 'error', id: task.id, reason: 'changed' };
    }
    const hash = createHash('sha256');
    let position = task.start;
    while (position < task.end) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, task.end - position), position);
      if (read === 0) return { type: 'error', id: task.id, reason: 'changed' };
      hash.update(buffer.subarray(0, read));
      position += read;
      port!.postMessage({ type: 'progress', bytes: read } satisfies WorkerReply);
    }
    if (!sameState(stateOf(fstatSync(fd, { bigint: true })), task.state)) {
      return { type: 'error', id: task.id, reason: 'changed' };
    }
    return { type: 'done', id: task.id, digest: new Uint8Array(hash.digest()) };
  } catch {
    return { type: 'error', id: task.id, reason: 'unreadable' };
  } finally {
    closeSync(fd);
  }
}
