/**
 * The worker's side of a writer thread (sqlite-writer-thread.ts): opens its own connection with
 * `open`, then runs each task it is sent with the handler `open` returned and answers with the
 * result or the error's code, message and public message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RunprintError } from '../errors.ts';
import type { ErrorDescription, WriterReply, WriterTask } from './sqlite-writer-thread.ts';

export interface Writer<Task, Result> {
  write(task: Task): Result | Promise<Result>;
  close(): void | Promise<void>;
}

/**
 * An error as it crosses to the thread that sent the task: its code, its message and its public
 * message (RunprintError.publicMessage, without the server's file paths), which the other side
 * gives the error it makes again. Anything else is `fallback`, a sentence that names no file.
 */
function described(error: unknown, fallback: string): ErrorDescription {
  if (!(error instanceof RunprintError)) return { code: 'ERR_STORE_UNAVAILABLE', message: fallback, publicMessage: fallback };
  return error.publicMessage === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, publicMessage: error.publicMessage };
}

/**
 * Serves the tasks of the thread that started this worker. `open` gets the database path;
 * a failure to open is sent as `failed` (its code from the error, else ERR_STORE_UNAVAILABLE).
 * Tasks are run one at a time, in the order sent.
 */
export async function serveWrites<Task, Result>(open: (path: string) => Writer<Task, Result> | Promise<Writer<Task, Result>>, fallback: string): Promise<void> {
  const path = (workerData as { path: string }).path;
  const port = parentPort!;
  let writer: Writer<Task, Result>;
  try {
    writer = await open(path);
  } catch (error) {
    port.postMessage({ failed: described(error, fallback) } satisfies WriterReply<Result>);
    port.close();
    return;
  }
  let queue = Promise.resolve();
  port.on('message', (message: WriterTask<Task>) => {
    queue = queue.then(async () => {
      if ('close' in message) {
        await writer.close();
        port.close();
        return;
      }
      try {
        port.postMessage({ id: message.id, result: await writer.write(message.task) } satisfies WriterReply<Result>);
      } catch (error) {
        port.postMessage({ id: message.id, error: described(error, fallback) } satisfies WriterReply<Result>);
      }
    });
  });
  port.postMessage({ opened: true } satisfies WriterReply<Result>);
}
