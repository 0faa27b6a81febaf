/**
 * The log's storage in PostgreSQL, chosen by a connection URL (issue 4, section 3): the same
 * tables and semantics as SqliteLog, shared by several `runprint serve` processes of which exactly
 * one sequences at a time.
 */
import pg from 'pg';
import { InputError, LogError } from '../errors.ts';
import { equalBytes, sha256Once } from '../hash/sha256.ts';
import { rootFromLeafHashes } from '../merkle/rfc6962.ts';
import { TILE_HEIGHT, TILE_WIDTH, type TileCoordinates } from '../log/tiles.ts';
import { READ_ONLY_SESSIONS } from './postgres-read-only.ts';
import { connectionRefused, databaseShown, NO_CONNECTION_LEFT, noSuchSchema, NOT_ACCEPTING, pinSslMode } from './postgres-url.ts';
import { postgresFault } from './storage-faults.ts';
import { requireKeys, shapeFault, type TableKey } from './postgres-keys.ts';
import { storeCorrupt, type LogStorage, type NewEntry, type StoredCheckpoint, type StoredEntry } from './storage.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
  idx bigint PRIMARY KEY CHECK (idx >= 0),
  entry bytea NOT NULL,
  leaf_hash bytea NOT NULL UNIQUE,
  run_id text
);
CREATE INDEX IF NOT EXISTS entries_run_id ON entries (run_id) WHERE run_id IS NOT NULL;
-- Hashes of complete subtrees of 256^level leaves, level >= 1 (level 0 is entries.leaf_hash).
CREATE TABLE IF NOT EXISTS tile_hashes (level integer NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx));
CREATE TABLE IF NOT EXISTS checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
-- As a witness: the latest checkpoint cosigned for each log.
CREATE TABLE IF NOT EXISTS witnessed (origin text PRIMARY KEY, size bigint NOT NULL, note text NOT NULL);
`;

/** Reads every column the storage uses: fails (42P01, 42703) on tables of the same names that are not a runprint log. */
const PROBE = `
SELECT key, value FROM meta LIMIT 0;
SELECT idx, entry, leaf_hash, run_id FROM entries LIMIT 0;
SELECT level, idx, hash FROM tile_hashes LIMIT 0;
SELECT size, note FROM checkpoints LIMIT 0;
SELECT origin, size, note FROM witnessed LIMIT 0;
`;

/** The keys the log's ON CONFLICT clauses name (setMetaOnce, saveWitnessed): postgres-keys.ts. */
const LOG_KEYS: readonly TableKey[] = [
  { table: 'meta', columns: ['key'] },
  { table: 'witnessed', columns: ['origin'] },
];

const LOG_REFUSED = 'tables in the PostgreSQL schema are not those of a runprint log';

/** Connections per process: one sequencing transaction at a time, the rest serve reads. */
const POOL_SIZE = 4;
const CONNECT_TIMEOUT_MS = 10_000;

const OID_BYTEA = 17;
const OID_TEXT = 25;
const OID_INT8 = 20;

/** bigint columns as JS numbers: sizes and indexes stay below 2^53. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === OID_INT8 && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A 64-bit advisory lock key (a decimal literal): the first 8 bytes of SHA-256(name "\n" schema),
 * big-endian, as a signed bigint. `name` is fixed ("runprint/log sequencer", "runprint/log
 * checkpoint", "runprint/log witness", "runprint/log schema"); `schema` is the one holding the log,
 * so processes sharing one log's tables share the key and logs in other schemas of the same
 * database do not wait for each other. Exported for operators and tests.
 */
export function advisoryLockKey(name: string, schema: string): string {
  const digest = sha256Once(`${name}\n${schema}`);
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(digest[i]!);
  return BigInt.asIntN(64, value).toString();
}

/**
 * A one-dimensional PostgreSQL array in the binary wire format (array_recv), sent as a binary
 * parameter: a batch's entries travel as raw bytes, not hex text. `null` items are SQL NULL.
 */
function binaryArray(elementOid: number, items: ReadonlyArray<Uint8Array | null>): Buffer {
  let length = 20;
  let hasNull = 0;
  for (const item of items) {
    length += 4 + (item?.length ?? 0);
    if (item === null) hasNull = 1;
  }
  const out = Buffer.allocUnsafe(length);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(hasNull, 4);
  out.writeInt32BE(elementOid, 8);
  out.writeInt32BE(items.length, 12);
  out.writeInt32BE(1, 16);
  let offset = 20;
  for (const item of items) {
    if (item === null) {
      out.writeInt32BE(-1, offset);
      offset += 4;
    } else {
      out.writeInt32BE(item.length, offset);
      out.set(item, offset + 4);
      offset += 4 + item.length;
    }
  }
  return out;
}

/** A bytea value as a plain Uint8Array (no copy). */
function bytes(value: Buffer): Uint8Array {
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** A map key for a 32-byte hash. */
function keyOf(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('latin1');
}

/** The connection broke or the server ended the session (shutdown, restart, pg_terminate_backend). */
function connectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code === '57P01' || code === '57P02' || code.startsWith('08') || code === 'ECONNRESET' || code === 'EPIPE';
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|not queryable/.test(message);
}

/**
 * A failure of the database or the connection: a full disk, a read-only transaction, a missing
 * privilege, a lock timeout or damaged data by its own code (storage-faults.ts), anything else
 * ERR_STORE_UNAVAILABLE. The message carries the SQLSTATE or system error code only: never the
 * driver's text, which may quote the URL.
 */
function unavailable(error: unknown): LogError {
  return postgresUnavailable(error, 'log');
}

/**
 * SQLSTATEs of a connection the server refuses, said in words where a pool opens another
 * connection after the first (the first is said by connectionRefused, with the server's address).
 */
const SERVER_REFUSALS: Readonly<Record<string, string>> = {
  '53300': `the server has no connection left: ${NO_CONNECTION_LEFT}`,
  '57P03': `the server is ${NOT_ACCEPTING}`,
};

/** As unavailable, for the log's or the run store's database (`what` names it in the message). */
export function postgresUnavailable(error: unknown, what: 'log' | 'run'): LogError {
  if (error instanceof LogError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const fault = typeof code === 'string' ? postgresFault(code, what) : undefined;
  if (fault !== undefined) return fault;
  // Without a code, one known case is named: sslmode asks for SSL and the server has none.
  const noSsl = error instanceof Error && /does not support SSL/.test(error.message) ? ' (the server does not offer SSL)' : '';
  const detail = typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? ` (${code}${SERVER_REFUSALS[code] === undefined ? '' : `: ${SERVER_REFUSALS[code]}`})` : noSsl;
  return new LogError('ERR_STORE_UNAVAILABLE', `PostgreSQL ${what} database is unavailable${detail}`);
}

/**
 * The error of a connection to a database that does not exist (3D000), named rather than taken for
 * an outage: for a process that writes (serve), ERR_STORE_UNAVAILABLE saying how to make it; for
 * a command that only reads, ERR_INPUT_NOT_FOUND (what it was to read is not there). `database`
 * is the URL as messages show it (databaseShown: no credentials).
 */
export function noSuchDatabase(database: string, what: 'log' | 'run', reader: boolean): LogError | InputError {
  if (reader) return new InputError('ERR_INPUT_NOT_FOUND', `the PostgreSQL database ${database} does not exist (3D000)`);
  return new LogError('ERR_STORE_UNAVAILABLE', `the PostgreSQL ${what} database ${database} does not exist (3D000): create it (createdb), or name another in the URL`);
}

/** How a command opens the log's storage (PostgresLog.open). */
export interface PostgresLogAccess {
  /**
   * Reads only (runs verify): no table is made (a schema without a log is ERR_INPUT_NOT_FOUND,
   * not made an empty log), every session is read-only (default_transaction_read_only: a write
   * fails with ERR_STORE_READ_ONLY), and a database that does not exist is ERR_INPUT_NOT_FOUND.
   */
  readOnly?: boolean;
}

/**
 * The storage. Every write is one transaction; open refuses a session with synchronous_commit
 * off, so a commit that returned is in the WAL on disk (given the server's fsync). Writers
 * serialize on transaction-level advisory locks, one per kind of write, so any number of
 * processes can share the tables:
 *  - append holds the sequencer lock, reads the size inside it, and commits entries and tile hashes;
 *  - saveCheckpoint holds the checkpoint lock and compares the largest stored size first;
 *  - replaceCheckpointNote holds the checkpoint lock and compares the stored note first;
 *  - saveWitnessed holds the witness lock and compares the stored size for the origin first.
 * Reads are plain statements on committed state.
 */
export class PostgresLog implements LogStorage {
  readonly kind = 'PostgreSQL';
  readonly #pool: pg.Pool;
  readonly #sequencer: string;
  readonly #checkpointLock: string;
  readonly #witnessLock: string;
  #closed = false;

  private constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#sequencer = advisoryLockKey('runprint/log sequencer', schema);
    this.#checkpointLock = advisoryLockKey('runprint/log checkpoint', schema);
    this.#witnessLock = advisoryLockKey('runprint/log witness', schema);
  }

  /**
   * Connects (a pool of 4) and creates the tables if missing, in the first schema of the URL's
   * search_path (`?options=-c%20search_path%3Dname`; `public` by default); tables of another shape
   * are ERR_STORE_CORRUPT, with nothing made (one transaction). Connection failures are
   * ERR_STORE_UNAVAILABLE (a database that does not exist is named: noSuchDatabase, and a
   * search_path naming no schema that exists: noSuchSchema); stored
   * entries not numbered 0 .. size - 1 are ERR_STORE_CORRUPT. Verification against a checkpoint is
   * the service's job. `access`: PostgresLogAccess.
   */
  static async open(url: string, access: PostgresLogAccess = {}): Promise<PostgresLog> {
    let database: string;
    try {
      database = databaseShown(url);
    } catch {
      throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL connection URL is not a valid URL');
    }
    const readOnly = access.readOnly === true;
    // sslmode=require and the like as node-postgres treats them today, without its multi-line warning.
    // A reader's sessions are read-only: a write (a bug) fails instead of changing the log.
    const pool = new pg.Pool({ connectionString: pinSslMode(url).url, max: POOL_SIZE, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, types, application_name: 'runprint', ...(readOnly ? READ_ONLY_SESSIONS : {}) });
    // An idle connection that breaks (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      let session: { schema: unknown; search_path: unknown; sync: unknown; read_only: unknown } | undefined;
      try {
        session = (await pool.query("SELECT current_schema() AS schema, current_setting('search_path') AS search_path, current_setting('synchronous_commit') AS sync, current_setting('default_transaction_read_only') AS read_only")).rows[0];
      } catch (error) {
        if ((error as { code?: unknown } | null)?.code === '3D000') throw noSuchDatabase(database, 'log', readOnly);
        throw connectionRefused(error, url, 'log') ?? unavailable(error);
      }
      // A search_path naming no schema that exists: named, with how to make the schema or name another.
      if (typeof session?.schema !== 'string') throw noSuchSchema(String(session?.search_path ?? ''), database, 'log', readOnly);
      if (readOnly && session.read_only !== 'on') throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL session of the log could not be made read-only (default_transaction_read_only)');
      // Acknowledged must mean durable: a commit that returns before its WAL is flushed is refused.
      if (!readOnly && session.sync === 'off') throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL synchronous_commit is off: acknowledged appends would not be durable');
      const log = new PostgresLog(pool, session.schema);
      if (readOnly) await log.#findTables(`the PostgreSQL database ${database} (schema ${session.schema})`);
      else await log.#createTables(session.schema);
      await log.#checkNumbering();
      return log;
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  async #createTables(schema: string): Promise<void> {
    try {
      // Two processes starting at once would race on CREATE TABLE IF NOT EXISTS (a unique
      // violation in the catalog): creation holds its own lock. The probe is in the same
      // transaction: tables of another shape are refused with none of the others made.
      await this.#rawTransaction(
        advisoryLockKey('runprint/log schema', schema),
        async (client) => {
          await client.query(SCHEMA);
          await client.query(PROBE);
          await requireKeys(client, LOG_KEYS, LOG_REFUSED);
        },
        'READ COMMITTED',
      );
    } catch (error) {
      // Undefined column, undefined table, wrong type: tables of these names that are something else.
      throw shapeFault(error, LOG_REFUSED) ?? unavailable(error);
    }
  }

  /** For a reader: the tables, which must be there (`where` names the schema in the error), and of the log's shape. */
  async #findTables(where: string): Promise<void> {
    const found = (await this.#query("SELECT to_regclass('entries') IS NOT NULL AS entries")).rows[0] as { entries: boolean };
    if (!found.entries) throw new InputError('ERR_INPUT_NOT_FOUND', `no log in ${where}: runprint serve --log-db creates it when it starts`);
    try {
      await this.#pool.query(PROBE);
    } catch (error) {
      throw shapeFault(error, LOG_REFUSED) ?? unavailable(error);
    }
  }

  async #checkNumbering(): Promise<void> {
    const row = (await this.#query('SELECT count(*) AS count, COALESCE(max(idx), -1) AS last FROM entries')).rows[0] as { count: number; last: number };
    if (row.last !== row.count - 1) throw storeCorrupt('stored entries are not numbered 0 .. size - 1');
  }

  /**
   * One statement on any pooled connection, tried again when the connection was lost (after a
   * server restart every pooled connection may be: at most POOL_SIZE are, so the last try is on a
   * new one).
   */
  async #query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL log storage is closed');
      try {
        return await this.#pool.query(text, values);
      } catch (error) {
        if (attempt < POOL_SIZE && connectionLost(error)) continue;
        throw unavailable(error);
      }
    }
  }

  /**
   * Runs `work` in one transaction on one connection, first taking the advisory lock `key` (held
   * until commit or rollback) when given. `isolation` REPEATABLE READ gives `work` one snapshot.
   * Failures are ERR_STORE_UNAVAILABLE unless already a LogError.
   */
  async #transaction<T>(key: string | undefined, work: (client: pg.PoolClient) => Promise<T>, isolation = 'READ COMMITTED'): Promise<T> {
    try {
      return await this.#rawTransaction(key, work, isolation);
    } catch (error) {
      throw unavailable(error);
    }
  }

  /**
   * #transaction with the driver's errors as they are. A connection found lost by the first
   * statement (BEGIN and the lock: nothing done yet, for example a pooled connection the server
   * closed while idle) is replaced, as in #query; a failure after that fails the transaction, which then
   * stored nothing, except when the connection is lost during COMMIT, whose outcome is unknown.
   */
  async #rawTransaction<T>(key: string | undefined, work: (client: pg.PoolClient) => Promise<T>, isolation: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL log storage is closed');
      const client = await this.#pool.connect();
      let broken = false;
      // A connection that breaks between two statements must not crash the process: the next statement fails.
      const onError = () => (broken = true);
      client.on('error', onError);
      let begun = false;
      try {
        // One round trip; the key is a decimal literal computed here, never input.
        await client.query(`BEGIN ISOLATION LEVEL ${isolation};${key === undefined ? '' : ` SELECT pg_advisory_xact_lock(${key});`}`);
        begun = true;
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        if (!begun && attempt < POOL_SIZE && connectionLost(error)) continue;
        throw error;
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
    }
  }

  async size(): Promise<number> {
    return (await this.#query('SELECT COALESCE(max(idx), -1) + 1 AS size FROM entries')).rows[0].size as number;
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = (await this.#query('SELECT value FROM meta WHERE key = $1', [key])).rows[0] as { value: string } | undefined;
    return row?.value;
  }

  async setMetaOnce(key: string, value: string): Promise<string> {
    await this.#query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    return (await this.getMeta(key))!;
  }

  async append(batch: ReadonlyArray<NewEntry>): Promise<StoredEntry[]> {
    if (batch.length === 0) return [];
    return this.#transaction(this.#sequencer, async (client) => {
      // Read inside the lock: every commit of an earlier holder is visible to this statement.
      const oldSize = (await client.query('SELECT COALESCE(max(idx), -1) + 1 AS size FROM entries')).rows[0].size as number;
      const known = new Map<string, StoredEntry>();
      const found = await client.query('SELECT idx, leaf_hash FROM entries WHERE leaf_hash = ANY($1::bytea[])', [
        binaryArray(OID_BYTEA, batch.map((item) => item.leafHash)),
      ]);
      for (const row of found.rows as Array<{ idx: number; leaf_hash: Buffer }>) {
        known.set(keyOf(row.leaf_hash), { index: row.idx, leafHash: bytes(row.leaf_hash), created: false });
      }
      const results: StoredEntry[] = [];
      const created: NewEntry[] = [];
      const leafHashes: Uint8Array[] = [];
      for (const item of batch) {
        const key = keyOf(item.leafHash);
        const existing = known.get(key);
        if (existing !== undefined) {
          results.push({ index: existing.index, leafHash: existing.leafHash, created: false });
          continue;
        }
        const leafHash = item.leafHash;
        const stored = { index: oldSize + created.length, leafHash, created: true };
        known.set(key, stored);
        results.push(stored);
        created.push(item);
        leafHashes.push(leafHash);
      }
      if (created.length === 0) return results;
      const encoder = new TextEncoder();
      await client.query(
        `INSERT INTO entries (idx, entry, leaf_hash, run_id)
         SELECT $1::bigint + n - 1, entry, leaf_hash, run_id
         FROM unnest($2::bytea[], $3::bytea[], $4::text[]) WITH ORDINALITY AS batch (entry, leaf_hash, run_id, n)`,
        [
          oldSize,
          binaryArray(OID_BYTEA, created.map((item) => item.entry)),
          binaryArray(OID_BYTEA, leafHashes),
          binaryArray(OID_TEXT, created.map((item) => (item.runId === undefined ? null : encoder.encode(item.runId)))),
        ],
      );
      await this.#storeTileHashes(client, oldSize, oldSize + created.length, leafHashes);
      return results;
    });
  }

  /**
   * Stores the level >= 1 hashes that growing the tree from oldSize to newSize completes, as
   * SqliteLog does. The hashes of the level below come from this transaction: those the batch
   * made are in hand, the older ones (at most 255 per level) are read under the lock.
   */
  async #storeTileHashes(client: pg.PoolClient, oldSize: number, newSize: number, newLeafHashes: Uint8Array[]): Promise<void> {
    const levels: number[] = [];
    const indexes: number[] = [];
    const hashes: Uint8Array[] = [];
    // The hashes of the level below that this batch made, from position `freshStart`.
    let fresh = newLeafHashes;
    let freshStart = oldSize;
    for (let level = 1; ; level++) {
      const span = 2 ** (TILE_HEIGHT * level);
      const before = Math.floor(oldSize / span);
      const after = Math.floor(newSize / span);
      if (after === before) break;
      const first = before * TILE_WIDTH;
      const older = freshStart > first ? await this.#hashesWith(client, level - 1, first, freshStart - first) : [];
      const below = older.concat(fresh);
      const made: Uint8Array[] = [];
      for (let index = before; index < after; index++) {
        const offset = (index - before) * TILE_WIDTH;
        const hash = rootFromLeafHashes(below.slice(offset, offset + TILE_WIDTH));
        made.push(hash);
        levels.push(level);
        indexes.push(index);
        hashes.push(hash);
      }
      fresh = made;
      freshStart = before;
    }
    if (levels.length === 0) return;
    await client.query('INSERT INTO tile_hashes (level, idx, hash) SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bytea[])', [
      levels,
      indexes,
      binaryArray(OID_BYTEA, hashes),
    ]);
  }

  async #hashesWith(client: { query(text: string, values: unknown[]): Promise<pg.QueryResult> }, level: number, start: number, count: number): Promise<Uint8Array[]> {
    const result =
      level === 0
        ? await client.query('SELECT leaf_hash AS hash FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx', [start, start + count])
        : await client.query('SELECT hash FROM tile_hashes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx', [level, start, start + count]);
    if (result.rows.length !== count) throw storeCorrupt(`tile hashes at level ${level} are missing`);
    return (result.rows as Array<{ hash: Buffer }>).map((row) => {
      if (row.hash.length !== 32) throw storeCorrupt(`a stored hash at level ${level} is not 32 bytes`);
      return bytes(row.hash);
    });
  }

  async hashes(level: number, start: number, count: number): Promise<Uint8Array[]> {
    // Through #query: a read on a lost connection is tried again on another (SPEC 19.4).
    return this.#hashesWith({ query: (text, values) => this.#query(text, values) }, level, start, count);
  }

  async tileData(tile: TileCoordinates): Promise<Uint8Array> {
    const hashes = await this.hashes(tile.level, tile.index * TILE_WIDTH, tile.width);
    const data = new Uint8Array(hashes.length * 32);
    hashes.forEach((hash, i) => data.set(hash, i * 32));
    return data;
  }

  async entries(start: number, count: number): Promise<Uint8Array[]> {
    const rows = (await this.#query('SELECT entry FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx', [start, start + count])).rows as Array<{ entry: Buffer }>;
    if (rows.length !== count) throw storeCorrupt('stored entries are missing');
    return rows.map((row) => bytes(row.entry));
  }

  async indexesOfRun(runId: string): Promise<number[]> {
    const rows = (await this.#query('SELECT idx FROM entries WHERE run_id = $1 ORDER BY idx', [runId])).rows as Array<{ idx: number }>;
    return rows.map((row) => row.idx);
  }

  /**
   * One pass, in one snapshot (another process may be appending meanwhile): the leaf hashes are
   * recomputed by the server (sha256 of 0x00 || entry), each higher level here from the one below.
   */
  async checkHashes(): Promise<void> {
    await this.#transaction(
      undefined,
      async (client) => {
        const bad = (await client.query("SELECT idx FROM entries WHERE leaf_hash IS DISTINCT FROM sha256('\\x00'::bytea || entry) ORDER BY idx LIMIT 1")).rows[0] as
          | { idx: number }
          | undefined;
        if (bad !== undefined) throw storeCorrupt(`stored leaf hash of entry ${bad.idx} does not match its entry`);
        const size = (await client.query('SELECT COALESCE(max(idx), -1) + 1 AS size FROM entries')).rows[0].size as number;
        for (let level = 1; ; level++) {
          const count = Math.floor(size / 2 ** (TILE_HEIGHT * level));
          const stored = (await client.query('SELECT count(*) AS count FROM tile_hashes WHERE level = $1', [level])).rows[0].count as number;
          if (stored !== count) throw storeCorrupt(`stored tile hashes at level ${level} do not match the number of entries`);
          if (count === 0) break;
          // 1024 hashes of this level (256 Ki of the level below) per round trip.
          for (let from = 0; from < count; from += 1024) {
            const chunk = Math.min(1024, count - from);
            const below = await this.#hashesWith(client, level - 1, from * TILE_WIDTH, chunk * TILE_WIDTH);
            const here = await this.#hashesWith(client, level, from, chunk);
            for (let i = 0; i < chunk; i++) {
              if (!equalBytes(rootFromLeafHashes(below.slice(i * TILE_WIDTH, (i + 1) * TILE_WIDTH)), here[i]!)) {
                throw storeCorrupt(`stored tile hash ${from + i} at level ${level} does not match the level below`);
              }
            }
          }
        }
        const extra = (await client.query('SELECT count(*) AS count FROM tile_hashes WHERE level < 1')).rows[0].count as number;
        if (extra !== 0) throw storeCorrupt('stored tile hashes at level 0 or below exist');
      },
      'REPEATABLE READ READ ONLY',
    );
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const row = (await this.#query('SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1')).rows[0] as StoredCheckpoint | undefined;
    return row === undefined ? undefined : { size: row.size, note: row.note };
  }

  async saveCheckpoint(previousSize: number, checkpoint: StoredCheckpoint): Promise<boolean> {
    return this.#transaction(this.#checkpointLock, async (client) => {
      const row = (await client.query('SELECT COALESCE(max(size), -1) AS size FROM checkpoints')).rows[0] as { size: number };
      if (row.size !== previousSize) return false;
      await client.query('INSERT INTO checkpoints (size, note) VALUES ($1, $2)', [checkpoint.size, checkpoint.note]);
      return true;
    });
  }

  async replaceCheckpointNote(size: number, note: string, replacement: string): Promise<boolean> {
    // Under the checkpoint lock, as saveCheckpoint: no checkpoint is stored meanwhile, and of
    // processes replacing the same note only the first finds it.
    return this.#transaction(this.#checkpointLock, async (client) => {
      const result = await client.query('UPDATE checkpoints SET note = $1 WHERE size = $2 AND note = $3 AND size = (SELECT max(size) FROM checkpoints)', [replacement, size, note]);
      return result.rowCount === 1;
    });
  }

  async witnessed(origin: string): Promise<StoredCheckpoint | undefined> {
    const row = (await this.#query('SELECT size, note FROM witnessed WHERE origin = $1', [origin])).rows[0] as StoredCheckpoint | undefined;
    return row === undefined ? undefined : { size: row.size, note: row.note };
  }

  async saveWitnessed(origin: string, previousSize: number, checkpoint: StoredCheckpoint): Promise<boolean> {
    return this.#transaction(this.#witnessLock, async (client) => {
      const row = (await client.query('SELECT size FROM witnessed WHERE origin = $1', [origin])).rows[0] as { size: number } | undefined;
      if ((row?.size ?? -1) !== previousSize) return false;
      await client.query(
        'INSERT INTO witnessed (origin, size, note) VALUES ($1, $2, $3) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, note = excluded.note',
        [origin, checkpoint.size, checkpoint.note],
      );
      return true;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end().catch(() => undefined);
  }
}
