/** The log's storage in one node:sqlite file: entries, tile hashes and signed checkpoints (issue 4, section 3). */
import { DatabaseSync } from 'node:sqlite';
import { LogError } from '../errors.ts';
import { hashLeaf, rootFromLeafHashes } from '../merkle/rfc6962.ts';
import { TILE_HEIGHT, TILE_WIDTH, type TileCoordinates } from '../log/tiles.ts';
import { equalBytes, storeCorrupt, type LogStorage, type NewEntry, type StoredCheckpoint, type StoredEntry } from './storage.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS entries (
  idx INTEGER PRIMARY KEY,
  entry BLOB NOT NULL,
  leaf_hash BLOB NOT NULL,
  content_hash BLOB NOT NULL UNIQUE,
  run_id TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS entries_run_id ON entries (run_id) WHERE run_id IS NOT NULL;
-- Hashes of complete subtrees of 256^level leaves, level >= 1 (level 0 is entries.leaf_hash).
CREATE TABLE IF NOT EXISTS tile_hashes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL) STRICT;
-- As a witness: the latest checkpoint cosigned for each log.
CREATE TABLE IF NOT EXISTS witnessed (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL) STRICT;
`;

/**
 * The storage. Every write is one transaction on a WAL database with synchronous=FULL: the WAL is
 * fsynced at each commit, so a commit that returned survives a crash or power loss ("acknowledged
 * means on disk"). NORMAL would only fsync at checkpoints of the WAL and could lose the last
 * acknowledged appends on power loss. Writes take SQLite's write lock (BEGIN IMMEDIATE) and read
 * the size inside it, so two processes on one file still sequence one at a time.
 */
export class SqliteLog implements LogStorage {
  readonly kind = 'SQLite';
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    const row = db.prepare('SELECT COUNT(*) AS count, COALESCE(MAX(idx), -1) AS last FROM entries').get() as { count: number; last: number };
    if (row.last !== row.count - 1) throw storeCorrupt('stored entries are not numbered 0 .. size - 1');
  }

  /** Opens (creating if needed) the database file. Verification against a checkpoint is the service's job. */
  static open(path: string): SqliteLog {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
      const check = db.prepare('PRAGMA quick_check').get() as Record<string, unknown> | undefined;
      if (check === undefined || Object.values(check)[0] !== 'ok') throw storeCorrupt('log database fails SQLite quick_check');
      db.exec(SCHEMA);
    } catch (error) {
      if (error instanceof LogError) throw error;
      throw storeCorrupt('log database cannot be opened (not an SQLite file, or damaged)');
    }
    try {
      return new SqliteLog(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  #size(): number {
    return (this.#db.prepare('SELECT COALESCE(MAX(idx), -1) + 1 AS size FROM entries').get() as { size: number }).size;
  }

  async size(): Promise<number> {
    return this.#size();
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setMetaOnce(key: string, value: string): Promise<string> {
    this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value);
    return (await this.getMeta(key))!;
  }

  /** Runs `write` in one BEGIN IMMEDIATE transaction (SQLite's write lock, across processes). */
  #transaction<T>(write: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = write();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async append(batch: ReadonlyArray<NewEntry>): Promise<StoredEntry[]> {
    const find = this.#db.prepare('SELECT idx, leaf_hash FROM entries WHERE content_hash = ?');
    const insert = this.#db.prepare('INSERT INTO entries (idx, entry, leaf_hash, content_hash, run_id) VALUES (?, ?, ?, ?, ?)');
    return this.#transaction(() => {
      const results: StoredEntry[] = [];
      const oldSize = this.#size();
      let size = oldSize;
      for (const item of batch) {
        const existing = find.get(item.contentHash) as { idx: number; leaf_hash: Uint8Array } | undefined;
        if (existing !== undefined) {
          results.push({ index: existing.idx, leafHash: new Uint8Array(existing.leaf_hash), created: false });
          continue;
        }
        const leafHash = hashLeaf(item.entry);
        insert.run(size, item.entry, leafHash, item.contentHash, item.runId ?? null);
        results.push({ index: size, leafHash, created: true });
        size++;
      }
      this.#storeTileHashes(oldSize, size);
      return results;
    });
  }

  /** Stores the level >= 1 hashes that growing the tree from oldSize to newSize completes. */
  #storeTileHashes(oldSize: number, newSize: number): void {
    const insert = this.#db.prepare('INSERT INTO tile_hashes (level, idx, hash) VALUES (?, ?, ?)');
    for (let level = 1; ; level++) {
      const span = 2 ** (TILE_HEIGHT * level);
      const before = Math.floor(oldSize / span);
      const after = Math.floor(newSize / span);
      if (after === 0) break;
      for (let index = before; index < after; index++) {
        insert.run(level, index, rootFromLeafHashes(this.#hashes(level - 1, index * TILE_WIDTH, TILE_WIDTH)));
      }
    }
  }

  #hashes(level: number, start: number, count: number): Uint8Array[] {
    const rows = (level === 0
      ? this.#db.prepare('SELECT leaf_hash AS hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').all(start, start + count)
      : this.#db.prepare('SELECT hash FROM tile_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx').all(level, start, start + count)) as Array<{ hash: Uint8Array }>;
    if (rows.length !== count) throw storeCorrupt(`tile hashes at level ${level} are missing`);
    return rows.map((row) => new Uint8Array(row.hash));
  }

  async hashes(level: number, start: number, count: number): Promise<Uint8Array[]> {
    return this.#hashes(level, start, count);
  }

  async tileData(tile: TileCoordinates): Promise<Uint8Array> {
    const hashes = this.#hashes(tile.level, tile.index * TILE_WIDTH, tile.width);
    const data = new Uint8Array(hashes.length * 32);
    hashes.forEach((hash, i) => data.set(hash, i * 32));
    return data;
  }

  async entries(start: number, count: number): Promise<Uint8Array[]> {
    const rows = this.#db.prepare('SELECT entry FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').all(start, start + count) as Array<{ entry: Uint8Array }>;
    if (rows.length !== count) throw storeCorrupt('stored entries are missing');
    return rows.map((row) => new Uint8Array(row.entry));
  }

  async indexesOfRun(runId: string): Promise<number[]> {
    const rows = this.#db.prepare('SELECT idx FROM entries WHERE run_id = ? ORDER BY idx').all(runId) as Array<{ idx: number }>;
    return rows.map((row) => row.idx);
  }

  async checkHashes(): Promise<void> {
    const rows = this.#db.prepare('SELECT idx, entry, leaf_hash FROM entries ORDER BY idx').iterate() as Iterable<{ idx: number; entry: Uint8Array; leaf_hash: Uint8Array }>;
    for (const row of rows) {
      if (!equalBytes(hashLeaf(new Uint8Array(row.entry)), new Uint8Array(row.leaf_hash))) {
        throw storeCorrupt(`stored leaf hash of entry ${row.idx} does not match its entry`);
      }
    }
    const size = this.#size();
    for (let level = 1; ; level++) {
      const count = Math.floor(size / 2 ** (TILE_HEIGHT * level));
      const stored = (this.#db.prepare('SELECT COUNT(*) AS count FROM tile_hashes WHERE level = ?').get(level) as { count: number }).count;
      if (stored !== count) throw storeCorrupt(`stored tile hashes at level ${level} do not match the number of entries`);
      if (count === 0) break;
      const below = this.#hashes(level - 1, 0, count * TILE_WIDTH);
      const here = this.#hashes(level, 0, count);
      for (let index = 0; index < count; index++) {
        if (!equalBytes(rootFromLeafHashes(below.slice(index * TILE_WIDTH, (index + 1) * TILE_WIDTH)), here[index]!)) {
          throw storeCorrupt(`stored tile hash ${index} at level ${level} does not match the level below`);
        }
      }
    }
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const row = this.#db.prepare('SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1').get() as StoredCheckpoint | undefined;
    return row === undefined ? undefined : { size: row.size, note: row.note };
  }

  async saveCheckpoint(previousSize: number, checkpoint: StoredCheckpoint): Promise<boolean> {
    return this.#transaction(() => {
      const row = this.#db.prepare('SELECT COALESCE(MAX(size), -1) AS size FROM checkpoints').get() as { size: number };
      if (row.size !== previousSize) return false;
      this.#db.prepare('INSERT INTO checkpoints (size, note) VALUES (?, ?)').run(checkpoint.size, checkpoint.note);
      return true;
    });
  }

  async updateCheckpointNote(checkpoint: StoredCheckpoint): Promise<void> {
    this.#db.prepare('UPDATE checkpoints SET note = ? WHERE size = ?').run(checkpoint.note, checkpoint.size);
  }

  async witnessed(origin: string): Promise<StoredCheckpoint | undefined> {
    const row = this.#db.prepare('SELECT size, note FROM witnessed WHERE origin = ?').get(origin) as StoredCheckpoint | undefined;
    return row === undefined ? undefined : { size: row.size, note: row.note };
  }

  async saveWitnessed(origin: string, previousSize: number, checkpoint: StoredCheckpoint): Promise<boolean> {
    return this.#transaction(() => {
      const row = this.#db.prepare('SELECT size FROM witnessed WHERE origin = ?').get(origin) as { size: number } | undefined;
      if ((row?.size ?? -1) !== previousSize) return false;
      this.#db
        .prepare('INSERT INTO witnessed (origin, size, note) VALUES (?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, note = excluded.note')
        .run(origin, checkpoint.size, checkpoint.note);
      return true;
    });
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
