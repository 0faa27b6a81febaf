/**
 * The run store's writer thread (SqliteRuns.open with writerThread starts it): its own connection
 * to the run database, on which it commits each batch of runs and of receipts it is sent, so that
 * the inserts, the updates and the commit's wait for the disk do not hold the event loop of the
 * process that captures.
 */
import { DatabaseSync } from 'node:sqlite';
import { prepareRunWrites, RUNS_PRAGMAS, runTask, type RunsResult, type RunsTask } from './sqlite-runs-write.ts';
import { sqliteFault } from './storage-faults.ts';
import { serveWrites } from './sqlite-writer-worker.ts';

await serveWrites<RunsTask, RunsResult>((path) => {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    db.exec(RUNS_PRAGMAS);
    const opened = db;
    const statements = prepareRunWrites(opened);
    return {
      write: (task) => runTask(opened, path, statements, task),
      close: () => {
        if (opened.isOpen) opened.close();
      },
    };
  } catch (error) {
    if (db?.isOpen === true) db.close();
    throw sqliteFault(error, path, 'run database');
  }
}, 'the run database could not be written');
