/**
 * Which stored run replays which (docs/REPLAY.md section 5): a `replay_links` table in the run
 * store's SQLite file, beside the store's own tables, keyed by the replay's record digest. The
 * receipt predicate has no `replayOf` field, so the link lives here, with the verdict and its
 * evidence as `runprint replay --json` printed them.
 */
import { DatabaseSync } from 'node:sqlite';
import { SQLITE_PRAGMAS } from '../store/sqlite-log.ts';
import { sqliteFault } from '../store/storage-faults.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS replay_links (
  replay TEXT PRIMARY KEY,
  replay_of TEXT NOT NULL,
  verdict TEXT NOT NULL,
  result TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS replay_links_of ON replay_links (replay_of);
`;

export interface ReplayLink {
  /** Record digest (hex) of the replay's run. */
  replay: string;
  /** Record digest (hex) of the run it replays. */
  replayOf: string;
  verdict: string;
  /** The verdict document, JSON. */
  result: string;
}

export class ReplayLinks {
  readonly #db: DatabaseSync;
  readonly #path: string;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
  }

  /** Opens the links table in the run store's file (creating the table if needed). */
  static open(path: string): ReplayLinks {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec(SQLITE_PRAGMAS);
      db.exec(SCHEMA);
      return new ReplayLinks(db, path);
    } catch (error) {
      if (db?.isOpen === true) db.close();
      throw sqliteFault(error, path);
    }
  }

  /** Records a link; the same replay linked twice keeps the first. */
  link(link: ReplayLink): void {
    try {
      this.#db
        .prepare('INSERT INTO replay_links (replay, replay_of, verdict, result) VALUES (?, ?, ?, ?) ON CONFLICT (replay) DO NOTHING')
        .run(link.replay, link.replayOf, link.verdict, link.result);
    } catch (error) {
      throw sqliteFault(error, this.#path);
    }
  }

  /** The link of a replay's record digest, if it is one. */
  replayOf(replay: string): ReplayLink | undefined {
    try {
      const row = this.#db.prepare('SELECT replay, replay_of, verdict, result FROM replay_links WHERE replay = ?').get(replay) as
        | { replay: string; replay_of: string; verdict: string; result: string }
        | undefined;
      return row === undefined ? undefined : { replay: row.replay, replayOf: row.replay_of, verdict: row.verdict, result: row.result };
    } catch (error) {
      throw sqliteFault(error, this.#path);
    }
  }

  /** The replays of a run's record digest, oldest first. */
  replaysOf(original: string): ReplayLink[] {
    try {
      const rows = this.#db.prepare('SELECT replay, replay_of, verdict, result FROM replay_links WHERE replay_of = ? ORDER BY rowid').all(original) as unknown as Array<{ replay: string; replay_of: string; verdict: string; result: string }>;
      return rows.map((row) => ({ replay: row.replay, replayOf: row.replay_of, verdict: row.verdict, result: row.result }));
    } catch (error) {
      throw sqliteFault(error, this.#path);
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
