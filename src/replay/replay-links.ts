/**
 * Which stored run replays which (docs/REPLAY.md section 5): a `replay_links` table beside the run
 * store's own tables (in its SQLite file here, in its PostgreSQL schema in
 * postgres-replay-links.ts), keyed by the replay's record digest. The receipt predicate has no
 * `replayOf` field, so the link lives here, with the verdict and its evidence as `runprint replay
 * --json` printed them.
 */
import { DatabaseSync } from 'node:sqlite';
import { RUNS_PRAGMAS } from '../store/sqlite-runs-write.ts';
import { isSqliteStatementError, sqliteFault } from '../store/storage-faults.ts';
import { makeChecked } from '../store/sqlite-wal.ts';
import { storeCorrupt } from '../store/storage.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS replay_links (
  replay TEXT PRIMARY KEY,
  replay_of TEXT NOT NULL,
  verdict TEXT NOT NULL,
  result TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS replay_links_of ON replay_links (replay_of);
-- The runs list's verdict filter (the originals replayed with a verdict).
CREATE INDEX IF NOT EXISTS replay_links_verdict ON replay_links (verdict, replay_of);
-- Batch replays (docs/REPLAY.md section 8): each original a batch has finished, with its verdict
-- document; written with the replay's link in one transaction, so a batch resumed after a crash
-- never sends a finished replay again.
CREATE TABLE IF NOT EXISTS replay_batch_items (
  batch TEXT NOT NULL,
  original TEXT NOT NULL,
  replay TEXT,
  verdict TEXT NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY (batch, original)
) STRICT;
`;

const INSERT_LINK = 'INSERT INTO replay_links (replay, replay_of, verdict, result) VALUES (?, ?, ?, ?) ON CONFLICT (replay) DO NOTHING';
const INSERT_ITEM = 'INSERT INTO replay_batch_items (batch, original, replay, verdict, result) VALUES (?, ?, ?, ?, ?) ON CONFLICT (batch, original) DO NOTHING';

/**
 * Every column read and written, and the keys the inserts name: preparing these (they are not run)
 * fails with an SQL error on tables of another shape.
 */
const PROBE = ['SELECT replay, replay_of, verdict, result FROM replay_links', 'SELECT batch, original, replay, verdict, result FROM replay_batch_items', INSERT_LINK, INSERT_ITEM];

export interface ReplayLink {
  /** Record digest (hex) of the replay's run. */
  replay: string;
  /** Record digest (hex) of the run it replays. */
  replayOf: string;
  verdict: string;
  /** The verdict document, JSON. */
  result: string;
}

/** The links and a batch's finished originals, in the run store's database. */
export interface ReplayLinks {
  /**
   * Records a link; the same replay linked twice keeps the first. With `batch`, the original is
   * marked finished in that batch in the same transaction.
   */
  link(link: ReplayLink, batch?: string): Promise<void>;
  /** Records links in one transaction, each marking its original finished in `batch`. */
  linkAll(links: readonly ReplayLink[], batch: string): Promise<void>;
  /** Marks an original finished in a batch without a replay (nothing was sent: cannot-replay, or an error of the request). */
  finishWithoutReplay(batch: string, original: string, verdict: string, result: string): Promise<void>;
  /** The originals a batch has finished: record digest -> verdict document (JSON). */
  batchItems(batch: string): Promise<Map<string, { verdict: string; result: string }>>;
  /** Record digests of every run that is a replay. */
  replays(): Promise<Set<string>>;
  /** The link of a replay's record digest, if it is one. */
  replayOf(replay: string): Promise<ReplayLink | undefined>;
  /** The replays of a run's record digest, oldest first. */
  replaysOf(original: string): Promise<ReplayLink[]>;
  close(): Promise<void>;
}

/** The links are in the run store's file: its storage faults name the run database, as the run store's own do. */
const RUN_DATABASE = 'run database';

export class SqliteReplayLinks implements ReplayLinks {
  readonly #db: DatabaseSync;
  readonly #path: string;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
  }

  /**
   * Opens the links tables in the run store's file, making them if needed. Tables of another shape
   * (a column or the key an insert names missing) are ERR_STORE_CORRUPT, refused in the
   * transaction that would make the missing ones, so a refused file is left as it was (and not
   * put in WAL mode: walAfterCheck).
   */
  static open(path: string): SqliteReplayLinks {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec(RUNS_PRAGMAS);
      const opened = db;
      const make = () => {
        opened.exec(SCHEMA);
        for (const sql of PROBE) opened.prepare(sql);
      };
      makeChecked(db, make);
      return new SqliteReplayLinks(db, path);
    } catch (error) {
      if (db?.isOpen === true) db.close();
      if (isSqliteStatementError(error)) throw storeCorrupt('replay tables in the run database are not those of a runprint run store');
      throw sqliteFault(error, path, RUN_DATABASE);
    }
  }

  /**
   * Records a link; the same replay linked twice keeps the first. With `batch`, the original is
   * marked finished in that batch in the same transaction.
   */
  async link(link: ReplayLink, batch?: string): Promise<void> {
    this.#write(() => {
      this.#db
        .prepare(INSERT_LINK)
        .run(link.replay, link.replayOf, link.verdict, link.result);
      if (batch !== undefined) this.#finish(batch, link.replayOf, link.replay, link.verdict, link.result);
    });
  }

  /** Records links in one transaction, each marking its original finished in `batch`. */
  async linkAll(links: readonly ReplayLink[], batch: string): Promise<void> {
    this.#write(() => {
      const insert = this.#db.prepare(INSERT_LINK);
      for (const link of links) {
        insert.run(link.replay, link.replayOf, link.verdict, link.result);
        this.#finish(batch, link.replayOf, link.replay, link.verdict, link.result);
      }
    });
  }

  /** Marks an original finished in a batch without a replay (nothing was sent: cannot-replay, or an error of the request). */
  async finishWithoutReplay(batch: string, original: string, verdict: string, result: string): Promise<void> {
    this.#write(() => this.#finish(batch, original, null, verdict, result));
  }

  #finish(batch: string, original: string, replay: string | null, verdict: string, result: string): void {
    this.#db
      .prepare(INSERT_ITEM)
      .run(batch, original, replay, verdict, result);
  }

  #write(work: () => void): void {
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw sqliteFault(error, this.#path, RUN_DATABASE);
    }
    try {
      work();
      this.#db.exec('COMMIT');
    } catch (error) {
      try {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      } catch {
        // Already rolled back by SQLite.
      }
      throw sqliteFault(error, this.#path, RUN_DATABASE);
    }
  }

  /** The originals a batch has finished: record digest -> verdict document (JSON). */
  async batchItems(batch: string): Promise<Map<string, { verdict: string; result: string }>> {
    try {
      const rows = this.#db.prepare('SELECT original, verdict, result FROM replay_batch_items WHERE batch = ?').all(batch) as unknown as Array<{ original: string; verdict: string; result: string }>;
      return new Map(rows.map((row) => [row.original, { verdict: row.verdict, result: row.result }]));
    } catch (error) {
      throw sqliteFault(error, this.#path, RUN_DATABASE);
    }
  }

  /** Record digests of every run that is a replay. */
  async replays(): Promise<Set<string>> {
    try {
      return new Set((this.#db.prepare('SELECT replay FROM replay_links').all() as unknown as Array<{ replay: string }>).map((row) => row.replay));
    } catch (error) {
      throw sqliteFault(error, this.#path, RUN_DATABASE);
    }
  }

  /** The link of a replay's record digest, if it is one. */
  async replayOf(replay: string): Promise<ReplayLink | undefined> {
    try {
      const row = this.#db.prepare('SELECT replay, replay_of, verdict, result FROM replay_links WHERE replay = ?').get(replay) as
        | { replay: string; replay_of: string; verdict: string; result: string }
        | undefined;
      return row === undefined ? undefined : { replay: row.replay, replayOf: row.replay_of, verdict: row.verdict, result: row.result };
    } catch (error) {
      throw sqliteFault(error, this.#path, RUN_DATABASE);
    }
  }

  /** The replays of a run's record digest, oldest first. */
  async replaysOf(original: string): Promise<ReplayLink[]> {
    try {
      const rows = this.#db.prepare('SELECT replay, replay_of, verdict, result FROM replay_links WHERE replay_of = ? ORDER BY rowid').all(original) as unknown as Array<{ replay: string; replay_of: string; verdict: string; result: string }>;
      return rows.map((row) => ({ replay: row.replay, replayOf: row.replay_of, verdict: row.verdict, result: row.result }));
    } catch (error) {
      throw sqliteFault(error, this.#path, RUN_DATABASE);
    }
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
