/** The log's storage in one node:sqlite file: entries, tile hashes and signed checkpoints (issue 4, section 3). */
import { DatabaseSync } from 'node:sqlite';
import { LogError } from '../errors.ts';
import { hashLeaf, rootFromLeafHashes } from '../merkle/rfc6962.ts';
import { TILE_HEIGHT, TILE_WIDTH, type TileCoordinates } from '../log/tiles.ts';

/** One stored entry as an append reports it. */
export interface StoredEntry {
  index: number;
  leafHash: Uint8Array;
  /** False when an identical entry was already in the log (its index is returned). */
  created: boolean;
}

/** An entry to append: its bytes, the SHA-256 used to find a resubmission, and an optional run identity. */
export interface NewEntry {
  entry: Uint8Array;
  contentHash: Uint8Array;
  runId?: string;
}

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
`;

export function storeCorrupt(message: string): LogError {
  return new LogError('ERR_STORE_CORRUPT', message);
}

/**
 * The storage. Every write is one transaction on a WAL database with synchronous=FULL: the WAL is
 * fsynced at each commit, so a commit that returned survives a crash or power loss ("acknowledged
 * means on disk"). NORMAL would only fsync at checkpoints of the WAL and could lose the last
 * acknowledged appends on power loss.
 */
export class SqliteLog {
  readonly #db: DatabaseSync;
  #size: number;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    const row = db.prepare('SELECT COUNT(*) AS count, COALESCE(MAX(idx), -1) AS last FROM entries').get() as { count: number; last: number };
    if (row.last !== row.count - 1) throw storeCorrupt('stored entries are not numbered 0 .. size - 1');
    this.#size = row.count;
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

  /** Number of stored entries (acknowledged appends, checkpointed or not). */
  get size(): number {
    return this.#size;
  }

  getMeta(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /**
   * Appends a batch in one transaction: each new entry gets the next index, an identical entry
   * (same content hash) already stored or earlier in the batch gets its existing index. Complete
   * subtrees of 256^L leaves the batch finishes are stored as tile hashes in the same transaction.
   */
  append(batch: ReadonlyArray<NewEntry>): StoredEntry[] {
    const find = this.#db.prepare('SELECT idx, leaf_hash FROM entries WHERE content_hash = ?');
    const insert = this.#db.prepare('INSERT INTO entries (idx, entry, leaf_hash, content_hash, run_id) VALUES (?, ?, ?, ?, ?)');
    const results: StoredEntry[] = [];
    let size = this.#size;
    this.#db.exec('BEGIN IMMEDIATE');
    try {
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
      this.#storeTileHashes(this.#size, size);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
    this.#size = size;
    return results;
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
        insert.run(level, index, rootFromLeafHashes(this.hashes(level - 1, index * TILE_WIDTH, TILE_WIDTH)));
      }
    }
  }

  /** `count` stored hashes at tile level `level` from position `start` (level 0: leaf hashes). */
  hashes(level: number, start: number, count: number): Uint8Array[] {
    const rows = (level === 0
      ? this.#db.prepare('SELECT leaf_hash AS hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').all(start, start + count)
      : this.#db.prepare('SELECT hash FROM tile_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx').all(level, start, start + count)) as Array<{ hash: Uint8Array }>;
    if (rows.length !== count) throw storeCorrupt(`tile hashes at level ${level} are missing`);
    return rows.map((row) => new Uint8Array(row.hash));
  }

  /** The bytes of a hash tile (32 bytes per hash), read from storage. */
  tileData(tile: TileCoordinates): Uint8Array {
    const hashes = this.hashes(tile.level, tile.index * TILE_WIDTH, tile.width);
    const data = new Uint8Array(hashes.length * 32);
    hashes.forEach((hash, i) => data.set(hash, i * 32));
    return data;
  }

  /** Entries start .. start + count - 1. */
  entries(start: number, count: number): Uint8Array[] {
    const rows = this.#db.prepare('SELECT entry FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').all(start, start + count) as Array<{ entry: Uint8Array }>;
    if (rows.length !== count) throw storeCorrupt('stored entries are missing');
    return rows.map((row) => new Uint8Array(row.entry));
  }

  /** Indexes of the entries whose receipt names this run identity, in log order. */
  indexesOfRun(runId: string): number[] {
    const rows = this.#db.prepare('SELECT idx FROM entries WHERE run_id = ? ORDER BY idx').all(runId) as Array<{ idx: number }>;
    return rows.map((row) => row.idx);
  }

  /**
   * Recomputes every stored hash from the entries: each leaf hash from its entry, each level >= 1
   * hash from the level below. Any difference is ERR_STORE_CORRUPT. Costs one pass over the log.
   */
  checkHashes(): void {
    const rows = this.#db.prepare('SELECT idx, entry, leaf_hash FROM entries ORDER BY idx').iterate() as Iterable<{ idx: number; entry: Uint8Array; leaf_hash: Uint8Array }>;
    for (const row of rows) {
      if (!equalBytes(hashLeaf(new Uint8Array(row.entry)), new Uint8Array(row.leaf_hash))) {
        throw storeCorrupt(`stored leaf hash of entry ${row.idx} does not match its entry`);
      }
    }
    for (let level = 1; ; level++) {
      const count = Math.floor(this.#size / 2 ** (TILE_HEIGHT * level));
      const stored = (this.#db.prepare('SELECT COUNT(*) AS count FROM tile_hashes WHERE level = ?').get(level) as { count: number }).count;
      if (stored !== count) throw storeCorrupt(`stored tile hashes at level ${level} do not match the number of entries`);
      if (count === 0) break;
      const below = this.hashes(level - 1, 0, count * TILE_WIDTH);
      const here = this.hashes(level, 0, count);
      for (let index = 0; index < count; index++) {
        if (!equalBytes(rootFromLeafHashes(below.slice(index * TILE_WIDTH, (index + 1) * TILE_WIDTH)), here[index]!)) {
          throw storeCorrupt(`stored tile hash ${index} at level ${level} does not match the level below`);
        }
      }
    }
  }

  /** The signed note of the largest checkpoint, or undefined if none was signed yet. */
  latestCheckpoint(): { size: number; note: string } | undefined {
    return this.#db.prepare('SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1').get() as { size: number; note: string } | undefined;
  }

  /** Persists a signed checkpoint (durable when this returns). */
  saveCheckpoint(size: number, note: string): void {
    this.#db.prepare('INSERT INTO checkpoints (size, note) VALUES (?, ?)').run(size, note);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}
