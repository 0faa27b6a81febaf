/**
 * The run store's writer thread (sqlite-runs-thread.ts starts it): its own connection to the
 * run database, on which it commits each batch it is sent, so that the insert and the commit's
 * wait for the disk do not hold the event loop of the process that captures.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { RunprintError } from '../errors.ts';
import { SQLITE_PRAGMAS } from './sqlite-log.ts';
import { prepareRunWrites, writeRuns, type RunWrite } from './sqlite-runs-write.ts';
import { sqliteFault } from './storage-faults.ts';

export type WriterTask = { id: number; batch: RunWrite[] } | { close: true };
export type WriterReply = { id: number } | { id: number; error: { code: string; message: string } } | { opened: true } | { failed: { code: string; message: string } };

const path = (workerData as { path: string }).path;
const port = parentPort!;

function described(error: unknown): { code: string; message: string } {
  return error instanceof RunprintError ? { code: error.code, message: error.message } : { code: 'ERR_STORE_UNAVAILABLE', message: 'the run database could not be written' };
}

let db: DatabaseSync | undefined;
try {
  db = new DatabaseSync(path);
  db.exec(SQLITE_PRAGMAS);
  const opened = db;
  const statements = prepareRunWrites(opened);
  port.on('message', (task: WriterTask) => {
    if ('close' in task) {
      if (opened.isOpen) opened.close();
      port.close();
      return;
    }
    try {
      writeRuns(opened, path, statements, task.batch);
      port.postMessage({ id: task.id } satisfies WriterReply);
    } catch (error) {
      port.postMessage({ id: task.id, error: described(error) } satisfies WriterReply);
    }
  });
  port.postMessage({ opened: true } satisfies WriterReply);
} catch (error) {
  if (db?.isOpen === true) db.close();
  port.postMessage({ failed: described(sqliteFault(error, path, 'run database')) } satisfies WriterReply);
  port.close();
}
