/**
 * The held-records journal (docs/CAPTURE.md, "Failures"): records whose commit to the run store
 * failed, kept on disk in a small SQLite file of their own beside the data directory's other
 * files until a commit stores them, so that neither a stop nor a crash while the run store fails
 * loses them. The run recorder keeps what fits in memory as before and commits from there; the
 * journal is what a restarted serve (or another one on the same data directory) commits from.
 *
 * Several processes may share one journal (SQLite's locking): a record committed twice is stored
 * once (the run store's puts are idempotent by record digest), so whoever commits a row first
 * wins and the other's commit changes nothing.
 *
 * A record the run store refuses for what it holds (ERR_STORE_RECORD_REFUSED: no retry would
 * store it) is moved out of the records to commit (`held`) into the journal's refused records
 * (`refused`, made when the first one comes, so a journal of an older serve is read as it is and
 * one with refused records is still read by an older serve, which commits only `held`): kept, never
 * deleted by runprint, and not tried again. docs/CAPTURE.md, "Failures", says how an operator
 * reads them and gives them back to `held` once the store would take them.
 */
import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import type { RunRecord } from '../capture/run-record.ts';
import type { RunToStore } from './run-storage.ts';
import { createOwnerOnly } from './owner-only.ts';
import { SQLITE_PRAGMAS } from './sqlite-log.ts';
import { walAfterCheck } from './sqlite-wal.ts';
import { isSqliteStatementError, sqliteFault, sqliteWriteTransaction } from './storage-faults.ts';
import { LogError, RunprintError, storeFault } from '../errors.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS held (
  seq INTEGER PRIMARY KEY,
  record_digest TEXT NOT NULL UNIQUE,
  held_at TEXT NOT NULL,
  run TEXT NOT NULL,
  content BLOB NOT NULL
);
`;

/**
 * The refused records: a held row's columns (so the documented statement gives them back to
 * `held`), with when and why the store refused it, and its capture id for the operator's queries.
 */
const REFUSED_SCHEMA = `
CREATE TABLE IF NOT EXISTS refused (
  seq INTEGER PRIMARY KEY,
  record_digest TEXT NOT NULL UNIQUE,
  held_at TEXT NOT NULL,
  run TEXT NOT NULL,
  content BLOB NOT NULL,
  capture_id TEXT NOT NULL,
  refused_at TEXT NOT NULL,
  code TEXT NOT NULL,
  reason TEXT NOT NULL
);
`;

const INSERT_HELD = 'INSERT INTO held (record_digest, held_at, run, content) VALUES (?, ?, ?, ?) ON CONFLICT (record_digest) DO NOTHING';

/**
 * For each table the journal may hold: every column it reads and writes, and the key its inserts
 * name. Preparing these (they are not run) fails with an SQL error on a table of another shape,
 * which is refused before anything is made.
 */
const PROBE: Record<'held' | 'refused', string[]> = {
  held: ['SELECT seq, record_digest, held_at, run, content FROM held', INSERT_HELD],
  refused: [
    'SELECT seq, record_digest, held_at, run, content, capture_id, refused_at, code, reason FROM refused',
    'INSERT INTO refused (record_digest, held_at, run, content, capture_id, refused_at, code, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_digest) DO NOTHING',
  ],
};

/** A RunToStore as a journal row keeps it: the record as its JSON only, the content pieces' digests and lengths (their bytes, in this order, are the row's BLOB). */
type JournalRun = Omit<RunToStore, 'record' | 'content'> & { content: Array<{ digest: string; length: number }> };

function rowOf(run: RunToStore): { run: string; content: Uint8Array } {
  const journal: JournalRun = {
    recordDigest: run.recordDigest,
    recordJson: run.recordJson,
    identity: run.identity,
    model: run.model,
    servedModel: run.servedModel,
    capture: run.capture,
    digests: run.digests,
    content: run.content.map((piece) => ({ digest: piece.digest, length: piece.bytes.byteLength })),
    kept: run.kept,
    receiptable: run.receiptable,
    ...(run.claimedBy === undefined ? {} : { claimedBy: run.claimedBy }),
    ...(run.captureIdOnce === undefined ? {} : { captureIdOnce: run.captureIdOnce }),
  };
  const content = new Uint8Array(run.content.reduce((sum, piece) => sum + piece.bytes.byteLength, 0));
  let offset = 0;
  for (const piece of run.content) {
    content.set(piece.bytes, offset);
    offset += piece.bytes.byteLength;
  }
  return { run: JSON.stringify(journal), content };
}

function runOf(row: { run: string; content: Uint8Array }): RunToStore {
  const journal = JSON.parse(row.run) as JournalRun;
  let offset = 0;
  const content = journal.content.map((piece) => {
    const bytes = row.content.slice(offset, offset + piece.length);
    offset += piece.length;
    return { digest: piece.digest, bytes };
  });
  return {
    recordDigest: journal.recordDigest,
    record: JSON.parse(journal.recordJson) as RunRecord,
    recordJson: journal.recordJson,
    identity: journal.identity,
    model: journal.model,
    servedModel: journal.servedModel,
    capture: journal.capture,
    digests: journal.digests,
    content,
    kept: journal.kept,
    receiptable: journal.receiptable,
    ...(journal.claimedBy === undefined ? {} : { claimedBy: journal.claimedBy }),
    ...(journal.captureIdOnce === undefined ? {} : { captureIdOnce: journal.captureIdOnce }),
  };
}

/** What `load` gives: records oldest first, with the journal's own size of each. */
export interface JournalRecord {
  run: RunToStore;
  bytes: number;
}

/** A record the run store refused, as `refusedRecords` lists it (its content left out). */
export interface RefusedRecord {
  recordDigest: string;
  captureId: string;
  /** When it was first written to the journal (RFC 3339; when it was refused, for one refused at its first commit). */
  heldAt: string;
  refusedAt: string;
  /** The refusal's code (ERR_STORE_RECORD_REFUSED) and message. */
  code: string;
  reason: string;
}

export class HeldJournal {
  readonly path: string;
  #db: DatabaseSync | undefined;
  /**
   * Its name in messages: what it is. sqliteFault adds the path where the operator must act on the
   * file, and leaves it out of the public message (RunprintError.publicMessage).
   */
  readonly #what = 'held-records journal';

  /** The journal at `path`; the file is made on the first write, not before. */
  constructor(path: string) {
    this.path = path;
  }

  #open(create: boolean): DatabaseSync | undefined {
    if (this.#db !== undefined) return this.#db;
    if (!create && !existsSync(this.path)) return undefined;
    let db: DatabaseSync | undefined;
    try {
      // Owner-only whatever the umask, and with it the -wal and -shm SQLite makes beside it.
      if (create) createOwnerOnly(this.path);
      db = new DatabaseSync(this.path);
      db.exec(SQLITE_PRAGMAS);
      // A row may stay long in a failing store's outage: what is deleted is overwritten too.
      db.exec('PRAGMA secure_delete = ON; PRAGMA busy_timeout = 1000;');
      // A table of another shape is refused before anything is made: the file is left as it was
      // (not put in WAL mode either: walAfterCheck).
      const opened = db;
      const make = () => {
        for (const [table, statements] of Object.entries(PROBE)) {
          if (opened.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined) for (const sql of statements) opened.prepare(sql);
        }
        opened.exec(SCHEMA);
      };
      walAfterCheck(db, make);
      make();
    } catch (error) {
      try {
        db?.close();
      } catch {
        // The failure that matters is the first one.
      }
      const fault = isSqliteStatementError(error)
        ? storeFault('ERR_STORE_CORRUPT', { local: `${this.#what} ${this.path}`, remote: this.#what }, (name) => `${name} holds tables of another shape (not a runprint held-records journal of this version)`)
        : sqliteFault(error, this.path, this.#what);
      // A damaged journal may hold records a stopped or crashed serve could not commit: say what to do.
      if (fault instanceof RunprintError && fault.code === 'ERR_STORE_CORRUPT') {
        const advice = ': it may hold records not yet in the run store; stop serve, move it aside to keep it (or delete it to go on without them), then start serve again';
        throw new LogError('ERR_STORE_CORRUPT', `${fault.message}${advice}`, undefined, fault.publicMessage === undefined ? {} : { publicMessage: `${fault.publicMessage}${advice}` });
      }
      throw fault;
    }
    this.#db = db;
    return db;
  }

  /** Writes `runs` (those not in it already) in one durable transaction; throws the storage fault. */
  add(runs: readonly RunToStore[]): void {
    if (runs.length === 0) return;
    const db = this.#open(true)!;
    const insert = db.prepare(INSERT_HELD);
    const at = new Date().toISOString();
    sqliteWriteTransaction(db, this.path, this.#what, () => {
      for (const run of runs) {
        const row = rowOf(run);
        insert.run(run.recordDigest, at, row.run, row.content);
      }
    });
  }

  /**
   * Moves these records, which the run store refused for what they hold, to the refused records,
   * with the refusal's code and message, in one durable transaction: out of `held` when there
   * (tried again no more), written from `run` when not (refused at its first commit). A record
   * refused already keeps its first refusal. Throws the storage fault.
   */
  refuse(refusals: ReadonlyArray<{ run: RunToStore; code: string; reason: string }>): void {
    if (refusals.length === 0) return;
    const db = this.#open(true)!;
    const at = new Date().toISOString();
    sqliteWriteTransaction(db, this.path, this.#what, () => {
      db.exec(REFUSED_SCHEMA);
      const insert = db.prepare(
        'INSERT INTO refused (record_digest, held_at, run, content, capture_id, refused_at, code, reason) VALUES (?, COALESCE((SELECT held_at FROM held WHERE record_digest = ?), ?), ?, ?, ?, ?, ?, ?) ON CONFLICT (record_digest) DO NOTHING',
      );
      const remove = db.prepare('DELETE FROM held WHERE record_digest = ?');
      for (const { run, code, reason } of refusals) {
        const row = rowOf(run);
        insert.run(run.recordDigest, run.recordDigest, at, row.run, row.content, run.record.captureId, at, code, reason);
        remove.run(run.recordDigest);
      }
    });
  }

  /** True when the journal has its refused records' table (made by the first refusal). */
  #hasRefused(db: DatabaseSync): boolean {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'refused'").get() !== undefined;
  }

  /** Records the run store refused, kept (0 when the journal or its refused records do not exist). */
  refusedCount(): number {
    const db = this.#open(false);
    if (db === undefined) return 0;
    try {
      if (!this.#hasRefused(db)) return 0;
      return Number((db.prepare('SELECT count(*) AS n FROM refused').get() as { n: number }).n);
    } catch (error) {
      throw sqliteFault(error, this.path, this.#what);
    }
  }

  /** The refused records, oldest refusal first, without their content. */
  refusedRecords(): RefusedRecord[] {
    const db = this.#open(false);
    if (db === undefined) return [];
    try {
      if (!this.#hasRefused(db)) return [];
      const rows = db.prepare('SELECT record_digest, capture_id, held_at, refused_at, code, reason FROM refused ORDER BY seq').all() as Array<{ record_digest: string; capture_id: string; held_at: string; refused_at: string; code: string; reason: string }>;
      return rows.map((row) => ({ recordDigest: row.record_digest, captureId: row.capture_id, heldAt: row.held_at, refusedAt: row.refused_at, code: row.code, reason: row.reason }));
    } catch (error) {
      throw sqliteFault(error, this.path, this.#what);
    }
  }

  /** Removes the rows of these record digests (committed, or exchanges whose capture id another record took meanwhile). */
  remove(recordDigests: readonly string[]): void {
    if (recordDigests.length === 0) return;
    const db = this.#open(false);
    if (db === undefined) return;
    const remove = db.prepare('DELETE FROM held WHERE record_digest = ?');
    // Not waited to disk: a row deleted and then lost is committed once more, which stores nothing twice.
    db.exec('PRAGMA synchronous = NORMAL');
    try {
      sqliteWriteTransaction(db, this.path, this.#what, () => {
        for (const digest of recordDigests) remove.run(digest);
      });
    } finally {
      db.exec('PRAGMA synchronous = FULL');
    }
    // Once no record waits, the WAL's frames (the rows as they were written, content and salts)
    // are of no use: written into the file, where secure_delete zeroed the deleted rows, and the
    // WAL truncated, so they do not stay beside it for as long as serve runs (the WAL is otherwise
    // reused, not emptied, until about 1,000 pages were written). A checkpoint another connection
    // holds off leaves it to the next emptying.
    if (Number((db.prepare('SELECT count(*) AS n FROM held').get() as { n: number }).n) === 0) {
      try {
        db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } catch {
        // Busy or failing: the rows are deleted all the same; the next emptying tries again.
      }
    }
  }

  /**
   * Records oldest first, until their bytes pass `maxBytes` (at least one is given when any is
   * there); none when the journal file does not exist.
   */
  load(maxBytes: number): JournalRecord[] {
    const db = this.#open(false);
    if (db === undefined) return [];
    const found: JournalRecord[] = [];
    let bytes = 0;
    try {
      for (const row of db.prepare('SELECT run, content FROM held ORDER BY seq').iterate() as Iterable<{ run: string; content: Uint8Array }>) {
        const size = row.run.length + row.content.byteLength;
        if (found.length > 0 && bytes + size > maxBytes) break;
        let run: RunToStore;
        try {
          run = runOf(row);
        } catch {
          // A row that does not read back (not written by this code) is left where it is.
          continue;
        }
        found.push({ run, bytes: size });
        bytes += size;
      }
    } catch (error) {
      throw sqliteFault(error, this.path, this.#what);
    }
    return found;
  }

  /** Records to commit in the journal (0 when it does not exist); refused ones are not counted (refusedCount). */
  count(): number {
    const db = this.#open(false);
    if (db === undefined) return 0;
    try {
      return Number((db.prepare('SELECT count(*) AS n FROM held').get() as { n: number }).n);
    } catch (error) {
      throw sqliteFault(error, this.path, this.#what);
    }
  }

  close(): void {
    try {
      this.#db?.close();
    } catch {
      // Closing cannot lose a committed row.
    }
    this.#db = undefined;
  }
}
