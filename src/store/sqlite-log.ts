/** The log's storage in one node:sqlite file: entries, tile hashes and signed checkpoints (issue 4, section 3). */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { InputError, LogError } from '../errors.ts';
import { equalBytes } from '../hash/sha256.ts';
import { hashLeaf } from '../merkle/rfc6962.ts';
import { TILE_HEIGHT, TILE_SUBTREE_BYTES, TILE_WIDTH, tileSubtreeHashes, type TileCoordinates } from '../log/tiles.ts';
import { createOwnerOnly } from './owner-only.ts';
import { isSqliteStatementError, sqliteFault, sqliteWriteTransaction } from './storage-faults.ts';
import { SqliteWriterThread } from './sqlite-writer-thread.ts';
import { SqliteReader } from './sqlite-reader.ts';
import { makeChecked } from './sqlite-wal.ts';
import { existsSync } from 'node:fs';
import { storeCorrupt, type LogStorage, type NewEntry, type StoredCheckpoint, type StoredEntry } from './storage.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS entries (
  idx INTEGER PRIMARY KEY,
  entry BLOB NOT NULL,
  -- SHA-256(0x00 || entry).
  leaf_hash BLOB NOT NULL,
  -- Finds a resubmission: the first 8 bytes of leaf_hash as a signed big-endian integer. An index
  -- of 8-byte integers is far smaller than one of 32-byte hashes, and a batch writes fewer of its
  -- pages to the WAL. NULL for an entry whose key another entry already holds; that entry is then
  -- in leaf_collisions, found by its whole leaf hash.
  leaf_key INTEGER UNIQUE,
  run_id TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS entries_run_id ON entries (run_id) WHERE run_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS leaf_collisions (leaf_hash BLOB PRIMARY KEY, idx INTEGER NOT NULL) STRICT, WITHOUT ROWID;
-- Hashes of complete subtrees of 256^level leaves, level >= 1 (level 0 is entries.leaf_hash).
CREATE TABLE IF NOT EXISTS tile_hashes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) STRICT;
-- Derived, for proofs: the subtree hashes inside each complete tile at (level, idx), computed
-- anyway when its tile hash is: rows of 128, 64, .., 1 hashes (the last is the tile hash), 255 x 32
-- bytes. Logs written before this table have none for their older tiles; proofs then rehash.
CREATE TABLE IF NOT EXISTS tile_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, nodes BLOB NOT NULL, PRIMARY KEY (level, idx)) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL) STRICT;
-- As a witness: the latest checkpoint cosigned for each log.
CREATE TABLE IF NOT EXISTS witnessed (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL) STRICT;
`;

/** Stores an entry; one whose leaf key is taken (a resubmission, or very rarely another entry) is skipped, then looked up. */
const INSERT_ENTRY = 'INSERT INTO entries (idx, entry, leaf_hash, leaf_key, run_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (leaf_key) DO NOTHING';
const INSERT_META = 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING';
const SAVE_WITNESSED = 'INSERT INTO witnessed (origin, size, note) VALUES (?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, note = excluded.note';

/**
 * Every column the log reads and writes, and the keys its upserts name: preparing these (they are
 * not run) fails with an SQL error on tables of another shape, a table of the same name that is
 * something else or an older runprint's layout.
 */
const PROBE = [
  'SELECT key, value FROM meta',
  'SELECT idx, entry, leaf_hash, leaf_key, run_id FROM entries',
  'SELECT leaf_hash, idx FROM leaf_collisions',
  'SELECT level, idx, hash FROM tile_hashes',
  'SELECT level, idx, nodes FROM tile_nodes',
  'SELECT size, note FROM checkpoints',
  'SELECT origin, size, note FROM witnessed',
  INSERT_ENTRY,
  INSERT_META,
  SAVE_WITNESSED,
];

// The sources run as .ts in a checkout and as compiled .js from dist/ when installed.
const LOG_WORKER = new URL(import.meta.url.endsWith('.ts') ? './sqlite-log-worker.ts' : './sqlite-log-worker.js', import.meta.url);

/**
 * Every connection's settings. Durability: WAL with synchronous=FULL (see SqliteLog); WAL is the
 * file's mode, set at its first open once its tables are checked (sqlite-wal.ts walAfterCheck),
 * not here: setting it changes the file, which a refused file must not be. Performance only: a
 * 64 MiB page cache keeps the leaf-hash index of a large log in memory, and the WAL is copied back
 * into the database every 64 MiB (16,384 pages) instead of every 4 MiB, so index pages that many
 * batches change are written back once, not once per batch.
 */
export const SQLITE_PRAGMAS = 'PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384;';

/** The first 8 bytes of a leaf hash as a signed big-endian 64-bit integer: SQLite's INTEGER. */
export function leafKeyOf(leafHash: Uint8Array): bigint {
  return new DataView(leafHash.buffer, leafHash.byteOffset, 8).getBigInt64(0);
}


/**
 * The storage. Every write is one transaction on a WAL database with synchronous=FULL: the WAL is
 * fsynced at each commit, so a commit that returned survives a crash or power loss ("acknowledged
 * means on disk"). NORMAL would only fsync at checkpoints of the WAL and could lose the last
 * acknowledged appends on power loss. Writes take SQLite's write lock (BEGIN IMMEDIATE) and read
 * the size inside it, so two processes on one file still sequence one at a time.
 */
export class SqliteLog implements LogStorage {
  readonly kind = 'SQLite';
  #db: DatabaseSync;
  readonly #path: string;
  /** A log opened by openReader (runs verify): its read-only connection, which every read goes through. */
  readonly #reader: SqliteReader | undefined;
  // Prepared once: preparing a statement costs about as much as running a small one.
  #sizeQuery!: StatementSync;
  #insertEntry!: StatementSync;
  #insertTileHash!: StatementSync;
  #insertTileNodes!: StatementSync;
  #tileNodes!: StatementSync;
  #leafHashes!: StatementSync;
  #tileHashes!: StatementSync;
  #findKey!: StatementSync;
  #findCollision!: StatementSync;
  #insertCollision!: StatementSync;
  readonly #leafKey: (leafHash: Uint8Array) => bigint;
  #entryRange!: StatementSync;
  #leafTile!: StatementSync;
  #hashTile!: StatementSync;
  readonly #thread: SqliteWriterThread<NewEntry[], StoredEntry[]> | undefined;

  private constructor(db: DatabaseSync | SqliteReader, path: string, leafKey: (leafHash: Uint8Array) => bigint, thread: boolean) {
    this.#reader = db instanceof SqliteReader ? db : undefined;
    this.#db = db instanceof SqliteReader ? db.db : db;
    this.#path = path;
    this.#leafKey = leafKey;
    this.#thread = thread ? new SqliteWriterThread<NewEntry[], StoredEntry[]>(LOG_WORKER, path, 'the log') : undefined;
    const count = () => this.#db.prepare('SELECT COUNT(*) AS count, COALESCE(MAX(idx), -1) AS last FROM entries').get();
    const row = (this.#reader === undefined ? count() : this.#reader.read(count)) as { count: number; last: number };
    if (row.last !== row.count - 1) throw storeCorrupt('stored entries are not numbered 0 .. size - 1');
    this.#prepare(this.#db);
    this.#reader?.onReplaced((replacement) => {
      this.#db = replacement;
      this.#prepare(replacement);
    });
  }

  /** The statements, prepared once on a connection: preparing one costs about as much as running a small one. */
  #prepare(db: DatabaseSync): void {
    this.#sizeQuery = db.prepare('SELECT COALESCE(MAX(idx), -1) + 1 AS size FROM entries');
    this.#insertEntry = db.prepare(INSERT_ENTRY);
    this.#findKey = db.prepare('SELECT idx, leaf_hash FROM entries WHERE leaf_key = ?');
    this.#findCollision = db.prepare('SELECT idx FROM leaf_collisions WHERE leaf_hash = ?');
    this.#insertCollision = db.prepare('INSERT INTO leaf_collisions (leaf_hash, idx) VALUES (?, ?)');
    this.#insertTileHash = db.prepare('INSERT INTO tile_hashes (level, idx, hash) VALUES (?, ?, ?)');
    this.#insertTileNodes = db.prepare('INSERT OR REPLACE INTO tile_nodes (level, idx, nodes) VALUES (?, ?, ?)');
    this.#tileNodes = db.prepare('SELECT nodes FROM tile_nodes WHERE level = ? AND idx = ?');
    this.#leafHashes = db.prepare('SELECT leaf_hash AS hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx');
    this.#tileHashes = db.prepare('SELECT hash FROM tile_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx');
    this.#entryRange = db.prepare('SELECT entry FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx');
    // A tile as one value: SQLite concatenates the hashes in index order (group_concat keeps the
    // bytes of a blob in a UTF-8 database), which saves building one JavaScript object per hash.
    const tile = (table: string, column: string, where: string) =>
      db.prepare(`SELECT CAST(group_concat(${column}, x'' ORDER BY idx) AS BLOB) AS data, COUNT(*) AS count, MIN(length(${column})) AS shortest, MAX(length(${column})) AS longest FROM ${table} WHERE ${where}`);
    this.#leafTile = tile('entries', 'leaf_hash', 'idx >= ? AND idx < ?');
    this.#hashTile = tile('tile_hashes', 'hash', 'level = ? AND idx >= ? AND idx < ?');
  }

  /**
   * Opens (creating if needed) the database file. Verification against a checkpoint is the
   * service's job. A failure is named by its cause (see storage-faults.ts): ERR_STORE_CORRUPT only
   * for a file that is not an SQLite database, fails quick_check, or holds tables of another shape
   * (refused with nothing made: the tables are made in one transaction with the check of their shape);
   * a full disk, a read-only or forbidden file, or a lock is its own code. Test-only options:
   * `leafKey`, a coarser key that makes collisions happen; `maxPageCount`, SQLite's
   * max_page_count on this connection, so that a write that needs more pages fails as on a full disk.
   *
   * With `writerThread`, appends are committed on a thread of their own with its own connection
   * (sqlite-log-worker.ts), so the caller's event loop does not wait for the inserts and the
   * fsync: for a capturing serve. An append still resolves only once committed; reads stay on
   * this connection (WAL: they see every committed append). `checked`: the file was opened and
   * passed quick_check already (the writer thread's own open skips it).
   */
  static open(path: string, options: { leafKey?: (leafHash: Uint8Array) => bigint; maxPageCount?: number; writerThread?: boolean; checked?: boolean } = {}): SqliteLog {
    if (options.writerThread === true && (options.leafKey !== undefined || options.maxPageCount !== undefined)) throw new TypeError('leafKey and maxPageCount apply to this connection only, not to a writer thread');
    let db: DatabaseSync | undefined;
    try {
      // Owner-only whatever the umask, and with it the -wal and -shm SQLite makes beside it.
      createOwnerOnly(path);
      db = new DatabaseSync(path);
      db.exec(SQLITE_PRAGMAS);
      const check = options.checked === true ? { ok: 'ok' } : (db.prepare('PRAGMA quick_check').get() as Record<string, unknown> | undefined);
      if (check === undefined || Object.values(check)[0] !== 'ok') throw storeCorrupt('log database fails SQLite quick_check');
      // The tables, and a check that every statement fits them, in one transaction: a log of
      // another shape is refused unchanged, none of its missing tables made, and not put in WAL mode.
      const opened = db;
      const make = () => {
        opened.exec(SCHEMA);
        for (const sql of PROBE) opened.prepare(sql);
      };
      makeChecked(db, make);
      if (options.maxPageCount !== undefined) db.exec(`PRAGMA max_page_count = ${Math.trunc(options.maxPageCount)}`);
    } catch (error) {
      if (db?.isOpen === true) db.close();
      // CREATE INDEX on a column that an older schema's table lacks is an SQL error, not damage.
      if (isSqliteStatementError(error)) throw otherShape();
      throw sqliteFault(error, path);
    }
    try {
      return new SqliteLog(db, path, options.leafKey ?? leafKeyOf, options.writerThread === true);
    } catch (error) {
      db.close();
      // The statements of this version do not fit the tables: another schema (an older runprint's).
      if (isSqliteStatementError(error)) throw otherShape();
      throw sqliteFault(error, path);
    }
  }

  /**
   * Opens the log at `path` for runs verify, which only reads it: a read-only connection
   * (sqlite-reader.ts) that creates no file, makes no table and reads while a serve appends.
   * A missing file, or one without a log, is ERR_INPUT_NOT_FOUND; a write fails with
   * ERR_STORE_READ_ONLY.
   */
  static openReader(path: string): SqliteLog {
    if (!existsSync(path)) throw new InputError('ERR_INPUT_NOT_FOUND', `no log at ${path}`);
    let reader: SqliteReader | undefined;
    try {
      const opened = (reader = new SqliteReader(path));
      const found = opened.read(() => {
        const check = opened.db.prepare('PRAGMA quick_check').get() as Record<string, unknown> | undefined;
        if (check === undefined || Object.values(check)[0] !== 'ok') throw storeCorrupt('log database fails SQLite quick_check');
        return opened.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").get() !== undefined;
      });
      if (!found) throw new InputError('ERR_INPUT_NOT_FOUND', `no log in ${path}: the file holds no entries table`);
      return new SqliteLog(opened, path, leafKeyOf, false);
    } catch (error) {
      reader?.close();
      if (isSqliteStatementError(error)) throw otherShape();
      throw sqliteFault(error, path);
    }
  }

  /** Runs `work` (through a reader's connection, when opened by openReader), naming any SQLite failure by its cause. */
  #guard<T>(work: () => T): T {
    try {
      return this.#reader === undefined ? work() : this.#reader.read(work);
    } catch (error) {
      throw sqliteFault(error, this.#path);
    }
  }

  #size(): number {
    return (this.#sizeQuery.get() as { size: number }).size;
  }

  async size(): Promise<number> {
    return this.#guard(() => this.#size());
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.#guard(() => this.#getMeta(key));
  }

  #getMeta(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setMetaOnce(key: string, value: string): Promise<string> {
    return this.#guard(() => {
      // Always the INSERT, even when the key is there: a database that cannot be written fails
      // here, at open (the service stores its origin first), not at the first append.
      this.#db.prepare(INSERT_META).run(key, value);
      return this.#getMeta(key)!;
    });
  }

  /**
   * Runs `write` in one BEGIN IMMEDIATE transaction (SQLite's write lock, across processes). A
   * failure rolls it back (SQLite may already have, after SQLITE_FULL) and is named by its cause.
   */
  #transaction<T>(write: () => T): T {
    return sqliteWriteTransaction(this.#db, this.#path, 'log database', write);
  }

  async append(batch: ReadonlyArray<NewEntry>): Promise<StoredEntry[]> {
    if (this.#thread !== undefined) return this.#thread.write([...batch]);
    return this.#transaction(() => {
      const results: StoredEntry[] = [];
      const oldSize = this.#size();
      const fresh: Uint8Array[] = [];
      let size = oldSize;
      for (const item of batch) {
        const leafHash = item.leafHash;
        const key = this.#leafKey(leafHash);
        if (this.#insertEntry.run(size, item.entry, leafHash, key, item.runId ?? null).changes === 0) {
          // The key is taken: by this very entry, by an entry that collided with it, or by another.
          const holder = this.#findKey.get(key) as { idx: number; leaf_hash: Uint8Array } | undefined;
          if (holder === undefined) throw storeCorrupt('an entry was neither stored nor found by its leaf key');
          const existing = equalBytes(holder.leaf_hash, leafHash) ? holder : (this.#findCollision.get(leafHash) as { idx: number } | undefined);
          if (existing !== undefined) {
            results.push({ index: existing.idx, leafHash, created: false });
            continue;
          }
          this.#insertEntry.run(size, item.entry, leafHash, null, item.runId ?? null);
          this.#insertCollision.run(leafHash, size);
        }
        fresh.push(leafHash);
        results.push({ index: size, leafHash, created: true });
        size++;
      }
      this.#storeTileHashes(oldSize, size, fresh);
      return results;
    });
  }

  /**
   * Stores the level >= 1 hashes that growing the tree from oldSize to newSize completes.
   * `fresh` holds the leaf hashes of entries oldSize .. newSize - 1, just computed: only hashes
   * from before this batch are read back.
   */
  #storeTileHashes(oldSize: number, newSize: number, fresh: Uint8Array[]): void {
    let below = { start: oldSize, hashes: fresh };
    for (let level = 1; ; level++) {
      const span = 2 ** (TILE_HEIGHT * level);
      const before = Math.floor(oldSize / span);
      const after = Math.floor(newSize / span);
      if (after === 0) break;
      const here: Uint8Array[] = [];
      for (let index = before; index < after; index++) {
        const start = index * TILE_WIDTH;
        const offset = start - below.start;
        const children = offset >= 0 && offset + TILE_WIDTH <= below.hashes.length
          ? below.hashes.slice(offset, offset + TILE_WIDTH)
          : this.#hashes(level - 1, start, TILE_WIDTH);
        const nodes = tileSubtreeHashes(children);
        const hash = nodes.subarray(TILE_SUBTREE_BYTES - 32);
        this.#insertTileHash.run(level, index, hash);
        this.#insertTileNodes.run(level - 1, index, nodes);
        here.push(hash);
      }
      below = { start: before, hashes: here };
    }
  }

  #hashes(level: number, start: number, count: number): Uint8Array[] {
    const rows = (level === 0 ? this.#leafHashes.all(start, start + count) : this.#tileHashes.all(level, start, start + count)) as Array<{ hash: Uint8Array }>;
    if (rows.length !== count) throw storeCorrupt(`tile hashes at level ${level} are missing`);
    return rows.map((row) => new Uint8Array(row.hash));
  }

  async hashes(level: number, start: number, count: number): Promise<Uint8Array[]> {
    return this.#guard(() => this.#hashes(level, start, count));
  }

  async tileData(tile: TileCoordinates): Promise<Uint8Array> {
    return this.#guard(() => this.#tileData(tile));
  }

  #tileData(tile: TileCoordinates): Uint8Array {
    const start = tile.index * TILE_WIDTH;
    const row = (tile.level === 0 ? this.#leafTile.get(start, start + tile.width) : this.#hashTile.get(tile.level, start, start + tile.width)) as {
      data: Uint8Array | null;
      count: number;
      shortest: number | null;
      longest: number | null;
    };
    if (row.count !== tile.width) throw storeCorrupt(`tile hashes at level ${tile.level} are missing`);
    if (row.shortest !== 32 || row.longest !== 32 || row.data === null || row.data.length !== tile.width * 32) {
      throw storeCorrupt(`a stored hash at level ${tile.level} is not 32 bytes`);
    }
    return new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.length);
  }

  /**
   * SQLite only (not in LogStorage): the 255 subtree hashes inside the complete tile at `level`,
   * `index` (rows of 128, 64, .., 1), as stored when its tile hash was; undefined when not stored.
   */
  async tileNodes(level: number, index: number): Promise<Uint8Array | undefined> {
    const row = this.#guard(() => this.#tileNodes.get(level, index)) as { nodes: Uint8Array } | undefined;
    if (row === undefined) return undefined;
    if (row.nodes.length !== TILE_SUBTREE_BYTES) throw storeCorrupt(`stored subtree hashes of tile ${index} at level ${level} are not 255 hashes`);
    return row.nodes;
  }

  async entries(start: number, count: number): Promise<Uint8Array[]> {
    const rows = this.#guard(() => this.#entryRange.all(start, start + count)) as Array<{ entry: Uint8Array }>;
    if (rows.length !== count) throw storeCorrupt('stored entries are missing');
    return rows.map((row) => new Uint8Array(row.entry));
  }

  async indexesOfRun(runId: string): Promise<number[]> {
    const rows = this.#guard(() => this.#db.prepare('SELECT idx FROM entries WHERE run_id = ? ORDER BY idx').all(runId)) as Array<{ idx: number }>;
    return rows.map((row) => row.idx);
  }

  /**
   * One streaming pass in log order: each entry's leaf hash is recomputed and compared, and every
   * 256 hashes of a level are folded into the level above and compared with the stored tile hash.
   * Memory stays at a few tiles whatever the size of the log.
   */
  async checkHashes(): Promise<void> {
    // One read transaction: in WAL mode it sees one snapshot, so another process appending
    // meanwhile cannot make the counts and the hashes disagree.
    this.#guard(() => {
      this.#db.exec('BEGIN');
      try {
        this.#checkHashes();
      } finally {
        this.#db.exec('COMMIT');
      }
    });
  }

  #checkHashes(): void {
    const size = this.#size();
    const levels = [];
    for (let level = 1; Math.floor(size / 2 ** (TILE_HEIGHT * level)) > 0; level++) levels.push(level);
    for (const level of [...levels, levels.length + 1]) {
      const count = Math.floor(size / 2 ** (TILE_HEIGHT * level));
      const stored = (this.#db.prepare('SELECT COUNT(*) AS count FROM tile_hashes WHERE level = ?').get(level) as { count: number }).count;
      if (stored !== count) throw storeCorrupt(`stored tile hashes at level ${level} do not match the number of entries`);
    }
    // pending[L]: hashes at level L not yet folded into a complete tile; next[L]: next index at level L.
    const pending: Uint8Array[][] = [[]];
    const next: number[] = [0];
    const push = (level: number, hash: Uint8Array): void => {
      const row = (pending[level] ??= []);
      row.push(hash);
      if (row.length < TILE_WIDTH) return;
      const above = level + 1;
      const index = (next[above] ??= 0);
      const [stored] = this.#hashes(above, index, 1);
      const nodes = tileSubtreeHashes(row);
      if (!equalBytes(nodes.subarray(TILE_SUBTREE_BYTES - 32), stored!)) {
        throw storeCorrupt(`stored tile hash ${index} at level ${above} does not match the level below`);
      }
      const kept = this.#tileNodes.get(level, index) as { nodes: Uint8Array } | undefined;
      if (kept !== undefined && !equalBytes(kept.nodes, nodes)) {
        throw storeCorrupt(`stored subtree hashes of tile ${index} at level ${level} do not match the tile`);
      }
      next[above] = index + 1;
      pending[level] = [];
      push(above, stored!);
    };
    // leaf_key spans 64 bits: read as bigint (SQLite INTEGER), idx converted back.
    const select = this.#db.prepare('SELECT idx, entry, leaf_hash, leaf_key FROM entries ORDER BY idx');
    select.setReadBigInts(true);
    const rows = select.iterate() as Iterable<{ idx: bigint; entry: Uint8Array; leaf_hash: Uint8Array; leaf_key: bigint | null }>;
    let collided = 0;
    for (const row of rows) {
      const leafHash = hashLeaf(row.entry);
      if (!equalBytes(leafHash, row.leaf_hash)) {
        throw storeCorrupt(`stored leaf hash of entry ${row.idx} does not match its entry`);
      }
      if (row.leaf_key === null) {
        collided++;
        if ((this.#findCollision.get(leafHash) as { idx: number } | undefined)?.idx !== Number(row.idx)) {
          throw storeCorrupt(`entry ${row.idx} has no leaf key and is not among the collisions`);
        }
      } else if (row.leaf_key !== this.#leafKey(leafHash)) {
        throw storeCorrupt(`stored leaf key of entry ${row.idx} does not match its leaf hash`);
      }
      push(0, leafHash);
    }
    if ((this.#db.prepare('SELECT COUNT(*) AS count FROM leaf_collisions').get() as { count: number }).count !== collided) {
      throw storeCorrupt('stored leaf collisions do not match the entries without a leaf key');
    }
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const row = this.#guard(() => this.#db.prepare('SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1').get()) as StoredCheckpoint | undefined;
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

  async replaceCheckpointNote(size: number, note: string, replacement: string): Promise<boolean> {
    // One statement under the write lock: the note is replaced only while it is the stored note of the largest checkpoint.
    return this.#transaction(
      () => this.#db.prepare('UPDATE checkpoints SET note = ? WHERE size = ? AND note = ? AND size = (SELECT MAX(size) FROM checkpoints)').run(replacement, size, note).changes === 1,
    );
  }

  async witnessed(origin: string): Promise<StoredCheckpoint | undefined> {
    const row = this.#guard(() => this.#db.prepare('SELECT size, note FROM witnessed WHERE origin = ?').get(origin)) as StoredCheckpoint | undefined;
    return row === undefined ? undefined : { size: row.size, note: row.note };
  }

  async saveWitnessed(origin: string, previousSize: number, checkpoint: StoredCheckpoint): Promise<boolean> {
    return this.#transaction(() => {
      const row = this.#db.prepare('SELECT size FROM witnessed WHERE origin = ?').get(origin) as { size: number } | undefined;
      if ((row?.size ?? -1) !== previousSize) return false;
      this.#db.prepare(SAVE_WITNESSED).run(origin, checkpoint.size, checkpoint.note);
      return true;
    });
  }

  async close(): Promise<void> {
    try {
      await this.#thread?.close();
    } finally {
      this.#reader?.close();
      if (this.#db.isOpen) this.#db.close();
    }
  }
}

function otherShape(): LogError {
  return storeCorrupt('log database has tables of another shape than this version of runprint writes');
}
