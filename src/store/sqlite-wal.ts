/**
 * Every SQLite file runprint writes (the run store, the log, the held-records journal) is in WAL
 * mode, which its first open sets. Setting it changes the file (bytes 18 and 19 of its header
 * become 2, and a -wal and a -shm are made beside it), so it is set only on a file whose tables
 * the open has checked: a file an open refuses (tables of another shape, not runprint's) is left
 * byte for byte as it was.
 */
import type { DatabaseSync } from 'node:sqlite';

/**
 * Puts the file of `db` in WAL mode once `check` has passed on it as it is. `check` is what the
 * open's own transaction does (make the missing tables, upgrade, and check every statement fits):
 * on a file not in WAL mode yet (a new one, or one runprint did not make) it runs first in a
 * BEGIN IMMEDIATE transaction that is rolled back whatever it did, SQLite's rollback journal
 * putting back every page it wrote, so a file it refuses (it throws) is unchanged. A file in WAL
 * mode already is left as it is: the caller's transaction checks it.
 *
 * This trial is not what the open relies on: the caller still makes and checks the tables in its
 * own transaction after this, in WAL mode, so a file changed by another process between the trial
 * and the switch (journal_mode cannot change inside a transaction) is refused there as before;
 * at worst such a file is left in WAL mode. Nothing is ever committed in the rollback-journal mode,
 * and SQLite takes the switch to WAL only with every other connection to the file closed.
 */
export function walAfterCheck(db: DatabaseSync, check: () => void): void {
  // Asking reads the header (a connection knows a file in WAL mode only once it has read it).
  if (journalMode(db) === 'wal') return;
  db.exec('BEGIN IMMEDIATE');
  try {
    check();
  } finally {
    if (db.isTransaction) db.exec('ROLLBACK');
  }
  db.exec('PRAGMA journal_mode = WAL');
}

/**
 * An open's tables, made and checked by `make` in one BEGIN IMMEDIATE transaction, after the file
 * is put in WAL mode once `make` has passed on it (walAfterCheck): a file of another shape is
 * refused (make throws) with nothing of it changed. Returns what `make` returns.
 */
export function makeChecked<T>(db: DatabaseSync, make: () => T): T {
  walAfterCheck(db, () => void make());
  db.exec('BEGIN IMMEDIATE');
  try {
    const made = make();
    db.exec('COMMIT');
    return made;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

function journalMode(db: DatabaseSync): string {
  const row = db.prepare('PRAGMA journal_mode').get() as Record<string, unknown> | undefined;
  return String(row === undefined ? '' : Object.values(row)[0]).toLowerCase();
}
