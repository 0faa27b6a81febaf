/**
 * The run store in PostgreSQL (docs/CAPTURE.md, "The run store"): the same tables and answers as
 * SqliteRuns, shared by several `runprint serve` processes. Its tables sit beside the log's in the
 * URL's schema (their names differ), so one database can hold both.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../capture/large-run.ts';
import { atOnce, inTurns, utf8BytesSteps } from '../io/steps.ts';
import { identityText, identityTextSteps } from './identity-text.ts';
import { InputError, LogError, type StoreName } from '../errors.ts';
import { advisoryLockKey, noSuchDatabase, postgresUnavailable } from './postgres-log.ts';
import { READ_ONLY_SESSIONS } from './postgres-read-only.ts';
import { STEPS_PROBE, STEPS_TABLE } from './postgres-steps.ts';
import { postgresTransaction } from './postgres-transaction.ts';
import { connectionRefused, databaseShown, noSuchSchema, pinSslMode } from './postgres-url.ts';
import { requireKeys, shapeFault, type TableKey } from './postgres-keys.ts';
import type { BindsLog, LogBinding } from './own-log-checkpoint.ts';
import { checkpointForked, COUNTS_GROUPS, FAILED_REASONS, firstHeld, indexHeld, type LogCheckpoint, type LoggedRun, formatsOf, replayLinkOf, type ContentPart, type PutResult, type RunRowOf, RUN_COLUMNS, type ReplayLinkRow, type StoredReplayLink, type RunCounts, type RunQuery, type RunStorage, type RunToStore, type StoredRun, storedRun, claimedRuns, type ClaimedRuns, largeIdentityText, storedRunInSteps, type RunDigest } from './run-storage.ts';

/**
 * A record column's JSON as jsonb. jsonb refuses the escape \u0000 (22P05), which the record's
 * canonical JSON keeps for a NUL in a string (a model name, a message): each is read as \ufffd
 * here. What this reads (the format, how the run ended, its parents) never holds a NUL, and the
 * text stays valid JSON (a \u0000 replaced is an escape, or follows an escaped backslash). The
 * record column itself keeps the exact JSON.
 */
const jsonb = (column: string): string => `replace(${column}, E'\\\\u0000', E'\\\\ufffd')::jsonb`;
const RECORD = jsonb('record');
/** How a run ended (run-storage.ts runEnding), from its record: the index runs_ending and the status filter use this one text. */
const ENDING = `(CASE WHEN ${RECORD} ->> 'incomplete' IS NULL THEN 'complete' WHEN ${RECORD} -> 'incomplete' ->> 'reason' IN (${FAILED_REASONS.map((reason) => `'${reason}'`).join(', ')}) THEN 'failed' ELSE 'incomplete' END)`;
/** A run's request format: the index runs_format and the provider filter use this one text. */
const FORMAT = `(${RECORD} ->> 'format')`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  seq bigserial PRIMARY KEY,
  record_digest text NOT NULL UNIQUE,
  capture_id text NOT NULL,
  run_id text,
  request_id text,
  model text,
  served_model text,
  model_escaped boolean NOT NULL DEFAULT false,
  served_model_escaped boolean NOT NULL DEFAULT false,
  started text NOT NULL,
  ended text NOT NULL,
  capture text NOT NULL,
  record text NOT NULL,
  identity text,
  receiptable boolean NOT NULL,
  receipt text,
  log_index bigint,
  content_expired boolean NOT NULL DEFAULT false,
  claimed_by text,
  claimed_at text,
  log_claimed_by text,
  log_claimed_at timestamptz
);
CREATE INDEX IF NOT EXISTS runs_capture_id ON runs (capture_id);
CREATE INDEX IF NOT EXISTS runs_run_id ON runs (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE INDEX IF NOT EXISTS runs_unsigned ON runs (seq) WHERE receiptable AND receipt IS NULL;
CREATE INDEX IF NOT EXISTS runs_unlogged ON runs (seq) WHERE receipt IS NOT NULL AND log_index IS NULL;
-- The run with the highest log index (lastLogged), read by the log outbox as it starts; made when
-- serve opens a store of an older layout (a reader does without it).
CREATE INDEX IF NOT EXISTS runs_log_index ON runs (log_index) WHERE log_index IS NOT NULL;
-- The largest checkpoint of the capture log (by its origin) a serve's log outbox verified, shared
-- by the serves on this store (log-outbox.ts); made when serve opens a store of an older layout.
CREATE TABLE IF NOT EXISTS run_log_checkpoints (origin text PRIMARY KEY, size bigint NOT NULL, root_hash bytea NOT NULL);
-- The log serve's own log indexes refer to: one row, its verifier key, which the first serve that
-- starts with its own log inserts before it appends anything (own-log-checkpoint.ts bindOwnLog);
-- made when serve opens a store of an older layout.
CREATE TABLE IF NOT EXISTS run_log_binding (id integer PRIMARY KEY CHECK (id = 1), verifier_key text NOT NULL, bound_at text NOT NULL);
CREATE TABLE IF NOT EXISTS run_digests (seq bigint NOT NULL, part text NOT NULL, position integer NOT NULL, digest text NOT NULL, kept boolean NOT NULL DEFAULT false, PRIMARY KEY (seq, part, position));
CREATE TABLE IF NOT EXISTS content (digest text PRIMARY KEY, bytes bytea NOT NULL);
-- Hash indexes: a model name may be longer than a btree entry can be (2,704 bytes: 54000), and the names are only compared for equality.
CREATE INDEX IF NOT EXISTS runs_model ON runs USING hash (model);
CREATE INDEX IF NOT EXISTS runs_served_model ON runs USING hash (served_model);
CREATE INDEX IF NOT EXISTS runs_request_id ON runs (request_id);
-- The status and provider filters (as SQLite's runs_ending and runs_format), newest first within each.
CREATE INDEX IF NOT EXISTS runs_ending ON runs (${ENDING}, seq);
CREATE INDEX IF NOT EXISTS runs_format ON runs (${FORMAT}, seq);
CREATE TABLE IF NOT EXISTS run_parents (parent text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (parent, seq));
CREATE OR REPLACE FUNCTION runs_parents() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO run_parents (parent, seq) SELECT parent, NEW.seq FROM jsonb_array_elements_text(${jsonb('NEW.record')} -> 'parents') AS parent ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER runs_parents AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION runs_parents();
`;

/**
 * From a store of the first layout (sqlite-runs.ts KEPT_MIGRATION): run_digests gains `kept`
 * (from run_content, then dropped), the response bytes' digest of every run becomes a row, and
 * the digest index covers `kept`. After SCHEMA, in its transaction.
 */
const KEPT_MIGRATION = `
ALTER TABLE run_digests ADD COLUMN IF NOT EXISTS kept boolean NOT NULL DEFAULT false;
UPDATE run_digests SET kept = true FROM run_content WHERE run_content.digest = run_digests.digest AND run_content.seq = run_digests.seq;
INSERT INTO run_digests (seq, part, position, digest, kept)
  SELECT seq, 'response', -1, ${RECORD} -> 'response' -> 'rawDigest' ->> 'sha256',
         EXISTS (SELECT 1 FROM run_content WHERE run_content.seq = runs.seq AND run_content.digest = ${jsonb('runs.record')} -> 'response' -> 'rawDigest' ->> 'sha256')
  FROM runs WHERE ${RECORD} -> 'response' -> 'rawDigest' ->> 'sha256' IS NOT NULL
  ON CONFLICT DO NOTHING;
DROP INDEX IF EXISTS run_digests_digest;
DROP TABLE run_content;
`;

/**
 * From a store made before the NUL-safe layout: runs gains the escaped flags of its model columns
 * (nameColumn), and the indexes on the record's jsonb made with the plain cast (\u0000 refused)
 * and the btree indexes of the model names (a long name refused) are dropped, for SCHEMA to make
 * them again. Before SCHEMA.
 */
async function nulSafeMigration(client: pg.PoolClient, layout: Layout): Promise<void> {
  if (layout.runs && !layout.flags) {
    await client.query('ALTER TABLE runs ADD COLUMN model_escaped boolean NOT NULL DEFAULT false, ADD COLUMN served_model_escaped boolean NOT NULL DEFAULT false');
  }
  // The four indexes of this schema are found first, and only their definitions are made: pg_indexes
  // makes every index's definition in the database, and one of another schema dropped meanwhile
  // (another serve's, a test's) failed this open with XX000 "could not open relation with OID".
  const stale = await client.query(`WITH mine AS MATERIALIZED (
    SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'i' AND c.relname IN ('runs_ending', 'runs_format', 'runs_model', 'runs_served_model'))
    SELECT relname AS indexname FROM mine WHERE
    relname IN ('runs_ending', 'runs_format') AND pg_get_indexdef(oid) NOT LIKE '%replace(%' OR relname IN ('runs_model', 'runs_served_model') AND pg_get_indexdef(oid) NOT LIKE '%USING hash%'`);
  for (const row of stale.rows as { indexname: string }[]) await client.query(`DROP INDEX ${row.indexname}`);
}

/**
 * From a store made before signing claims (78d9759 to 8182774): runs gains who is signing a run's
 * receipt and since when (run-storage.ts claimUnsigned), empty: no run is being signed. Before SCHEMA.
 */
async function claimMigration(client: pg.PoolClient, layout: Layout): Promise<void> {
  if (layout.runs && !layout.claims) await client.query('ALTER TABLE runs ADD COLUMN IF NOT EXISTS claimed_by text, ADD COLUMN IF NOT EXISTS claimed_at text');
}

/**
 * From a store made before delivery claims: runs gains which serve is delivering a receipt to the
 * remote log and since when (PostgresRuns.unlogged), empty: no receipt is claimed. Before SCHEMA.
 */
async function logClaimMigration(client: pg.PoolClient, layout: Layout): Promise<void> {
  if (layout.runs && !layout.log_claims) await client.query('ALTER TABLE runs ADD COLUMN IF NOT EXISTS log_claimed_by text, ADD COLUMN IF NOT EXISTS log_claimed_at timestamptz');
}

/**
 * What every layout serve upgrades has, from the first (78d9759) on: a reader finding a store of an
 * older layout checks these before saying serve upgrades it.
 */
const upgradableProbe = (layout: Layout): string => `
SELECT seq, record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture, record, identity, receiptable, receipt, log_index, content_expired FROM runs LIMIT 0;
SELECT seq, part, position, digest${layout.first ? '' : ', kept'} FROM run_digests LIMIT 0;
SELECT digest, bytes FROM content LIMIT 0;
${layout.first ? 'SELECT digest, seq FROM run_content LIMIT 0;' : ''}
${layout.parents ? 'SELECT parent, seq FROM run_parents LIMIT 0;' : ''}
`;

/** The parents of the runs stored before run_parents existed (an older store), once, when the table is made. */
const BACKFILL_PARENTS = `INSERT INTO run_parents (parent, seq) SELECT parent, seq FROM runs, jsonb_array_elements_text(${RECORD} -> 'parents') AS parent ON CONFLICT DO NOTHING`;

/**
 * Reads every column the store uses: fails on tables of the same names that are something else.
 * `flags`: with the model names' escaped flags (a store read as it is, made before them, has none).
 */
const probe = (flags: boolean): string => `
SELECT seq, record_digest, capture_id, run_id, request_id, model, served_model, ${flags ? 'model_escaped, served_model_escaped, ' : ''}started, ended, capture, record, identity, receiptable, receipt, log_index, content_expired, claimed_by, claimed_at FROM runs LIMIT 0;
SELECT seq, part, position, digest, kept FROM run_digests LIMIT 0;
SELECT digest, bytes FROM content LIMIT 0;
SELECT parent, seq FROM run_parents LIMIT 0;
`;

/**
 * The keys the store's inserts rely on (postgres-keys.ts): those their ON CONFLICT clauses name
 * (put: runs, content; runprint-steps: run_steps), and those that make the trigger's, the parents'
 * backfill's and the first layout's upgrade's ON CONFLICT DO NOTHING skip a row stored already.
 */
const RUN_KEYS: readonly TableKey[] = [
  { table: 'runs', columns: ['record_digest'] },
  { table: 'content', columns: ['digest'] },
  { table: 'run_parents', columns: ['parent', 'seq'] },
  { table: 'run_digests', columns: ['seq', 'part', 'position'] },
  { table: 'run_steps', columns: ['name'] },
  { table: 'run_log_checkpoints', columns: ['origin'] },
  { table: 'run_log_binding', columns: ['id'] },
];

/** The tables only serve uses, checked when it opens the store (a reader does without them: an older store has none). */
const WRITER_PROBE = 'SELECT origin, size, root_hash FROM run_log_checkpoints LIMIT 0; SELECT id, verifier_key, bound_at FROM run_log_binding LIMIT 0; SELECT log_claimed_by, log_claimed_at FROM runs LIMIT 0';

/** A run store whose tables this code neither reads nor upgrades, in `where` (the database and schema). */
const runsRefused = (where: string): string => `${where} holds tables of another shape: not a runprint run store of this version, nor of an older layout this version upgrades`;

/** What the URL's schema holds: the tables and columns that say which layout a store has. */
const LAYOUT = `SELECT to_regclass('runs') IS NOT NULL AS runs, to_regclass('run_parents') IS NOT NULL AS parents, to_regclass('run_content') IS NOT NULL AS first,
  EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('runs') AND attname = 'model_escaped' AND NOT attisdropped) AS flags,
  (SELECT count(*) = 2 FROM pg_attribute WHERE attrelid = to_regclass('runs') AND attname IN ('claimed_by', 'claimed_at') AND NOT attisdropped) AS claims,
  (SELECT count(*) = 2 FROM pg_attribute WHERE attrelid = to_regclass('runs') AND attname IN ('log_claimed_by', 'log_claimed_at') AND NOT attisdropped) AS log_claims`;
interface Layout {
  runs: boolean;
  parents: boolean;
  /** run_content: made before run_digests.kept. */
  first: boolean;
  /** The model names' escaped flags. */
  flags: boolean;
  /** claimed_by and claimed_at. */
  claims: boolean;
  /** log_claimed_by and log_claimed_at (a reader does without them). */
  log_claims: boolean;
}

/** How a command opens the run store (PostgresRuns.open). */
export interface PostgresRunsAccess {
  /**
   * Reads only (runs list, show, ...): no table is made or migrated, and every session is
   * read-only (default_transaction_read_only: a write fails with ERR_STORE_READ_ONLY), so a role
   * that may only SELECT can read and a bug cannot write; a store of a layout this code cannot
   * read (serve upgrades it) is refused.
   */
  readOnly?: boolean;
  /** Makes the tables when the schema has none (default true: serve); false, or readOnly: ERR_INPUT_NOT_FOUND instead. */
  create?: boolean;
  /**
   * How long a claim on receipts to deliver (unlogged) holds, in ms (default LOG_CLAIM_MS): a claim
   * another process made longer ago than this is taken over (its serve died or hangs).
   */
  logClaimMs?: number;
}

/**
 * How long a receipt `unlogged` handed to one process is left to it (ms) before another process
 * takes it over: a serve killed or hung while it delivered (PostgresRuns.unlogged). Each read
 * renews the claims of the reader; the log outbox reads what it has not delivered again at least
 * every pass (a few seconds apart, 10 s at most after a failure), and a pass holds a page no
 * longer than its sends and one wait for a checkpoint (30 s and 10 s at most). A claim that
 * lapses early costs requests only: the log answers a receipt sent twice with the index it has.
 */
export const LOG_CLAIM_MS = 60_000;

/**
 * The longest a put waits for a lock (ms), as SQLite's busy timeout: a table another session
 * locked, retention's sweep (the content lock). Past it the put fails with ERR_STORE_LOCKED, and
 * the recorder holds its records and tries again (run-recorder.ts), instead of holding every
 * answer in sync durability until the statement timeout (30 s).
 */
const PUT_LOCK_MS = 5_000;
/**
 * The longest a put's inserts wait (ms), once it holds its locks, for a row another open transaction
 * inserted: content a large run's transaction (tens of thousands of rows, seconds) or a retry of held
 * records inserts too. That transaction is runprint's own and ends, so the put waits for it, as long
 * as the statement timeout, rather than failing as if the store were locked.
 */
const PUT_ROW_WAIT_MS = 30_000;
/** The longest a probe waits for a lock (ms): a probe is made again a few seconds later. */
const PROBE_LOCK_MS = 1_000;
/** Runs that expire reads at a time, and digests it releases (with their content deleted) per transaction at most: whole runs while they fit, a larger run alone. */
const EXPIRE_RUNS = 256;
const EXPIRE_DIGESTS = 4_096;
/** The longest close's statement handing back the receipts it claimed to deliver runs, or waits for a lock (ms). */
const RELEASE_MS = 2_000;

const OID_INT8 = 20;
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === OID_INT8 && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

type RunRow = RunRowOf<boolean> & { model_escaped: boolean };

/**
 * A model name as its text column holds it: the name itself, or, when it has a NUL (which
 * PostgreSQL text cannot hold: 22021), its JSON string, with the column's escaped flag set. The
 * flag keeps the two apart (a name may be the JSON string of another): a query by a name selects
 * the rows holding the same text and flag.
 */
function nameColumn(name: string | null): { text: string | null; escaped: boolean } {
  if (name === null || !name.includes('\u0000')) return { text: name, escaped: false };
  return { text: JSON.stringify(name), escaped: true };
}

/**
 * Inserts the rows of `batch` into runs in one statement, in batch order; each run's seq, or
 * undefined where its record digest was stored already (before, or earlier in the batch), as
 * put's INSERT ... ON CONFLICT DO NOTHING of each run gives it.
 */
async function insertRuns(client: pg.PoolClient, batch: readonly RunToStore[]): Promise<Array<number | undefined>> {
  const columns: unknown[][] = Array.from({ length: 16 }, () => []);
  const claimedAt = new Date().toISOString();
  for (const run of batch) {
    const model = nameColumn(run.model);
    const served = nameColumn(run.servedModel);
    const row = [run.recordDigest, run.record.captureId, run.record.runId, run.record.requestId, model.text, served.text, model.escaped, served.escaped, run.record.times.started, run.record.times.ended, run.capture, run.recordJson, identityText(run.identity), run.receiptable, run.claimedBy ?? null, run.claimedBy === undefined ? null : claimedAt];
    row.forEach((value, column) => columns[column]!.push(value));
  }
  const inserted = await client.query(
    `INSERT INTO runs (record_digest, capture_id, run_id, request_id, model, served_model, model_escaped, served_model_escaped, started, ended, capture, record, identity, receiptable, claimed_by, claimed_at)
     SELECT d, c, r, q, m, s, me, se, st, en, ca, re, id, rc, cb, cat
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::boolean[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::boolean[], $15::text[], $16::text[])
       WITH ORDINALITY AS u(d, c, r, q, m, s, me, se, st, en, ca, re, id, rc, cb, cat, n)
     ORDER BY n
     ON CONFLICT (record_digest) DO NOTHING RETURNING seq, record_digest`,
    columns,
  );
  const seqOf = new Map<string, number>();
  for (const row of inserted.rows as Array<{ seq: string | number; record_digest: string }>) seqOf.set(row.record_digest, Number(row.seq));
  // A record twice in the batch was inserted once, for its first.
  return batch.map((run) => {
    const seq = seqOf.get(run.recordDigest);
    seqOf.delete(run.recordDigest);
    return seq;
  });
}

/** The name a text column and its escaped flag hold (nameColumn undone). */
const nameOf = (text: string | null, escaped: boolean): string | null => (text === null || !escaped ? text : (JSON.parse(text) as string));

/** A database failure by its SQLSTATE (storage-faults.ts), else ERR_STORE_UNAVAILABLE; never the driver's text. */
const unavailable = (error: unknown): LogError => postgresUnavailable(error, 'run');

/** As unavailable, for the statements that make or read the tables at open: a table or column of another shape is named, with `where` it is. */
function openFault(error: unknown, where: string): LogError {
  return shapeFault(error, runsRefused(where)) ?? unavailable(error);
}

/** A receipt this long or longer (a large run's) is stored in a statement of its own, as bytes (setReceipts); also its step. */
const LARGE_RECEIPT_CHARACTERS = 1 << 20;

/**
 * A put that failed for what a record holds, not for the database: a data exception (class 22: a
 * character the database's encoding lacks, a value a type refuses) or a limit (class 54: a value
 * too large for an index). Tried again, it fails again: the recorder commits the batch's other
 * records and sets the one that fails alone aside (run-recorder.ts), instead of holding it, and
 * every record after it, as for an outage.
 */
function refusedRecord(error: unknown): LogError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^(22|54)[0-9A-Z]{3}$/.test(code)) return undefined;
  return new LogError('ERR_STORE_RECORD_REFUSED', `the PostgreSQL run database refused a record for what it holds (${code})`);
}

export class PostgresRuns implements RunStorage, BindsLog {
  readonly kind = 'PostgreSQL';
  readonly #pool: pg.Pool;
  /**
   * Puts hold it shared, retention holds it exclusive: a sweep never deletes content that a put
   * in another process is linking to a new run at the same moment.
   */
  readonly #contentLock: string;
  /** The first key of the two-key advisory locks on capture ids (put, captureIdOnce): its own key space. */
  readonly #captureIdLocks: number;
  /** Held by setLogIndexes, so that two processes never give one log index to two runs. */
  readonly #logIndexLock: string;

  /**
   * False for a store read as it is (readOnly) that was made before the model names' escaped
   * flags: it holds no escaped name, and queries read every flag as false.
   */
  readonly #flags: boolean;
  /** RUN_COLUMNS, and whether the model column holds the name escaped (nameColumn). */
  readonly #columns: string;

  /** How errors name this store (run-storage.ts damagedRun): the database and schema for the operator, neither for an HTTP answer. */
  readonly #names: StoreName;

  /**
   * Who this process is to the other processes on the store when it claims receipts to deliver
   * (unlogged): the host, the process id and a random part, new at each open; null for a reader
   * (readOnly), which claims nothing.
   */
  readonly #logClaimant: string | null;
  /** How long another process's claim on a receipt to deliver holds (ms; PostgresRunsAccess.logClaimMs). */
  readonly #logClaimMs: number;
  /** Whether unlogged claimed anything: close then hands back what is left of it. */
  #logClaimed = false;

  private constructor(pool: pg.Pool, schema: string, database: string, flags = true, writer = true, logClaimMs = LOG_CLAIM_MS) {
    this.#pool = pool;
    this.#logClaimant = writer ? `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}` : null;
    this.#logClaimMs = logClaimMs;
    this.#names = { local: `PostgreSQL run database ${database} (schema ${schema})`, remote: 'PostgreSQL run database' };
    this.#flags = flags;
    this.#columns = `${RUN_COLUMNS}, ${flags ? '' : 'false AS '}model_escaped`;
    this.#contentLock = advisoryLockKey('runprint/runs content', schema);
    this.#captureIdLocks = Number(BigInt.asIntN(32, BigInt(advisoryLockKey('runprint/runs capture ids', schema))));
    this.#logIndexLock = advisoryLockKey('runprint/runs log indexes', schema);
  }

  /**
   * Connects (a pool of 4) to the run store in the first schema of the URL's search_path, and
   * creates the tables if missing and migrates an older layout, in one transaction: tables of
   * another shape (ERR_STORE_CORRUPT) are refused with nothing made or changed. `access` says how
   * else (PostgresRunsAccess).
   */
  static async open(url: string, access: PostgresRunsAccess = {}): Promise<PostgresRuns> {
    let database: string;
    try {
      database = databaseShown(url);
    } catch {
      throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL connection URL is not a valid URL');
    }
    const readOnly = access.readOnly === true;
    const create = !readOnly && access.create !== false;
    const logClaimMs = access.logClaimMs ?? LOG_CLAIM_MS;
    if (!Number.isSafeInteger(logClaimMs) || logClaimMs < 1) throw Object.assign(new RangeError(`PostgresRuns.open: logClaimMs must be a whole number of milliseconds from 1, not ${String(logClaimMs)}`), { code: 'ERR_OUT_OF_RANGE' });
    // A statement that runs 30 s fails (57014) instead of holding a connection and its callers for ever.
    // A reader's sessions are read-only: a write (a bug) fails instead of changing the store.
    const pool = new pg.Pool({ connectionString: pinSslMode(url).url, max: 4, connectionTimeoutMillis: 10_000, statement_timeout: 30_000, types, application_name: 'runprint-runs', ...(readOnly ? READ_ONLY_SESSIONS : {}) });
    pool.on('error', () => undefined);
    try {
      const session = (await pool.query("SELECT current_schema() AS schema, current_setting('search_path') AS search_path, current_setting('synchronous_commit') AS sync, current_setting('default_transaction_read_only') AS read_only").catch((error: unknown) => {
        // A database that does not exist is named, not taken for an outage.
        if ((error as { code?: unknown } | null)?.code !== '3D000') throw connectionRefused(error, url, 'run') ?? unavailable(error);
        throw noSuchDatabase(database, 'run', !create);
      })).rows[0] as { schema: unknown; search_path: unknown; sync: unknown; read_only: unknown } | undefined;
      // A search_path naming no schema that exists: named, with how to make the schema or name another.
      if (typeof session?.schema !== 'string') throw noSuchSchema(String(session?.search_path ?? ''), database, 'run', !create);
      if (readOnly && session.read_only !== 'on') throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL session of the run store could not be made read-only (default_transaction_read_only)');
      if (!readOnly && session.sync === 'off') throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL synchronous_commit is off: committed run records would not be durable');
      const where = `the PostgreSQL database ${database} (schema ${session.schema})`;
      if (!create) {
        const layout = (await pool.query(LAYOUT).catch((error: unknown) => {
          throw unavailable(error);
        })).rows[0] as Layout;
        // Opening would create an empty store: a database without one is named instead (as a data directory without runs.sqlite).
        if (!layout.runs) throw new InputError('ERR_INPUT_NOT_FOUND', `no run store in ${where}: runprint serve --runs-db creates it when it starts`);
        if (readOnly) {
          if (!layout.parents || layout.first || !layout.claims) {
            // Said to be upgraded by serve only if it has what serve's upgrades take.
            await pool.query(upgradableProbe(layout)).catch((error: unknown) => {
              throw openFault(error, where);
            });
            throw new LogError('ERR_STORE_UNAVAILABLE', `the run store in ${where} has an older layout than this runprint reads: runprint serve --runs-db with this database upgrades it when it starts`);
          }
          await pool.query(probe(layout.flags)).catch((error: unknown) => {
            throw openFault(error, where);
          });
          return new PostgresRuns(pool, session.schema, database, layout.flags, false);
        }
      }
      const client = await pool.connect().catch((error: unknown) => {
        throw unavailable(error);
      });
      let broken = false;
      const onError = () => (broken = true);
      client.on('error', onError);
      try {
        // Two processes starting at once would race on CREATE TABLE IF NOT EXISTS: creation holds a lock.
        await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${advisoryLockKey('runprint/runs schema', session.schema)});`);
        const layout = (await client.query(LAYOUT)).rows[0] as Layout;
        await claimMigration(client, layout);
        await logClaimMigration(client, layout);
        await nulSafeMigration(client, layout);
        await client.query(SCHEMA);
        if (layout.runs && !layout.parents) await client.query(BACKFILL_PARENTS);
        if (((await client.query("SELECT to_regclass('run_content') IS NOT NULL AS first")).rows[0] as { first: boolean }).first) await client.query(KEPT_MIGRATION);
        await client.query('CREATE INDEX IF NOT EXISTS run_digests_digest ON run_digests (digest, kept, seq)');
        // The steps runprint-steps names, which serves on this store share (postgres-steps.ts).
        await client.query(STEPS_TABLE);
        // Tables of another shape that the statements above left as they were (a runs table
        // without a column this code reads) fail here, before anything is committed: a store this
        // code cannot take is refused unchanged, not half upgraded.
        await client.query(probe(true));
        await client.query(WRITER_PROBE);
        await client.query(STEPS_PROBE);
        // And the keys the writes' ON CONFLICT clauses need, which no probe of columns sees.
        await requireKeys(client, RUN_KEYS, runsRefused(where));
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw openFault(error, where);
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
      return new PostgresRuns(pool, session.schema, database, true, true, logClaimMs);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  async #query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.#pool.query(text, values);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async put(batch: readonly RunToStore[]): Promise<PutResult> {
    if (batch.length === 0) return { existing: [], refused: [] };
    const refused: string[] = [];
    const existing: string[] = [];
    // A large run's identity document's text made in steps before its transaction (identityText
    // remembers it): JSON.stringify of the 8 MB of a run of 100,000 elements held the event loop
    // about 60 ms in one go.
    for (const run of batch) if (run.digests.length >= LARGE_RUN_ELEMENTS) await inTurns(identityTextSteps(run.identity));
    // The locks (retention's content lock, the tables' ROW EXCLUSIVE that the inserts take) are
    // waited for PUT_LOCK_MS at most (a table another session locked: ERR_STORE_LOCKED); the inserts
    // then wait up to PUT_ROW_WAIT_MS for rows another transaction of the store inserted.
    await postgresTransaction(this.#pool, 'run', `BEGIN; SET LOCAL lock_timeout = ${PUT_LOCK_MS}; SELECT pg_advisory_xact_lock_shared(${this.#contentLock}); LOCK TABLE runs, run_digests, content IN ROW EXCLUSIVE MODE;`, async (client) => {
      refused.length = 0;
      existing.length = 0;
      // A capture id a sender chose is stored once across the processes sharing this store: each is
      // locked (in order, so two batches cannot wait for each other) until this transaction ends,
      // and checked under its lock; another process storing the same id waits, then finds it.
      const once = [...new Set(batch.filter((run) => run.captureIdOnce === true).map((run) => run.record.captureId))].sort();
      for (const captureId of once) await client.query(`SELECT pg_advisory_xact_lock(${this.#captureIdLocks}, hashtext($1))`, [captureId]);
      await client.query(`SET LOCAL lock_timeout = ${PUT_ROW_WAIT_MS}`);
      const digests: { seq: number[]; part: string[]; position: number[]; digest: string[]; kept: boolean[] } = { seq: [], part: [], position: [], digest: [], kept: [] };
      const content = new Map<string, Buffer>();
      /**
       * The digest rows and content of a run inserted as `seq`, for the statements below; a large
       * run's STEP_ELEMENTS at a time with a turn of the event loop between (in one go, 100,000 of
       * them held it about 130 ms).
       */
      function* keepSteps(seq: number, run: RunToStore): Generator<void, void> {
        const kept = new Set<string>();
        for (const [i, digest] of run.kept.entries()) {
          kept.add(digest);
          if ((i + 1) % STEP_ELEMENTS === 0) yield;
        }
        for (const [i, digest] of run.digests.entries()) {
          digests.seq.push(seq);
          digests.part.push(digest.part);
          digests.position.push(digest.position);
          digests.digest.push(digest.digest);
          digests.kept.push(kept.has(digest.digest));
          if ((i + 1) % STEP_ELEMENTS === 0) yield;
        }
        for (const [i, piece] of run.content.entries()) {
          content.set(piece.digest, Buffer.from(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.byteLength));
          if ((i + 1) % STEP_ELEMENTS === 0) yield;
        }
      }
      const keep = async (seq: number, run: RunToStore): Promise<void> => (run.digests.length >= LARGE_RUN_ELEMENTS ? inTurns(keepSteps(seq, run)) : atOnce(keepSteps(seq, run)));
      // Without a capture id to check, the runs are inserted in one statement (their seq in batch
      // order): one round trip per run made a batch of 512 take seconds while the event loop
      // served calls, and a retry of held records commit fewer per second than calls came.
      const seqs = once.length === 0 && batch.length > 1 ? await insertRuns(client, batch) : undefined;
      for (const [index, run] of batch.entries()) {
        if (seqs !== undefined) {
          const seq = seqs[index];
          if (seq === undefined) {
            const elsewhere = await client.query('SELECT 1 FROM runs WHERE record_digest = $1 AND (receipt IS NOT NULL OR claimed_by IS DISTINCT FROM $2)', [run.recordDigest, run.claimedBy ?? null]);
            if (elsewhere.rowCount !== 0) existing.push(run.recordDigest);
            continue;
          }
          await keep(seq, run);
          continue;
        }
        if (run.captureIdOnce === true) {
          const taken = await client.query('SELECT 1 FROM runs WHERE capture_id = $1 AND record_digest <> $2 LIMIT 1', [run.record.captureId, run.recordDigest]);
          if (taken.rowCount !== 0) {
            refused.push(run.recordDigest);
            continue;
          }
        }
        const model = nameColumn(run.model);
        const served = nameColumn(run.servedModel);
        const inserted = await client.query(
          `INSERT INTO runs (record_digest, capture_id, run_id, request_id, model, served_model, model_escaped, served_model_escaped, started, ended, capture, record, identity, receiptable, claimed_by, claimed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (record_digest) DO NOTHING RETURNING seq`,
          [run.recordDigest, run.record.captureId, run.record.runId, run.record.requestId, model.text, served.text, model.escaped, served.escaped, run.record.times.started, run.record.times.ended, run.capture, run.recordJson, identityText(run.identity), run.receiptable, run.claimedBy ?? null, run.claimedBy === undefined ? null : new Date().toISOString()],
        );
        const seq = inserted.rows[0]?.seq as number | undefined;
        if (seq === undefined) {
          const elsewhere = await client.query('SELECT 1 FROM runs WHERE record_digest = $1 AND (receipt IS NOT NULL OR claimed_by IS DISTINCT FROM $2)', [run.recordDigest, run.claimedBy ?? null]);
          if (elsewhere.rowCount !== 0) existing.push(run.recordDigest);
          continue;
        }
        await keep(seq, run);
      }
      // In statements of STEP_ELEMENTS rows at most: the driver encodes a statement's arrays on the
      // event loop in one go (about a tenth of a second for the 100,000 of a large run).
      const slices = <T extends unknown[][]>(columns: T, length: number): T[] => {
        if (length <= STEP_ELEMENTS) return length === 0 ? [] : [columns];
        const out: T[] = [];
        for (let start = 0; start < length; start += STEP_ELEMENTS) out.push(columns.map((column) => column.slice(start, start + STEP_ELEMENTS)) as T);
        return out;
      };
      for (const slice of slices([digests.seq, digests.part, digests.position, digests.digest, digests.kept], digests.seq.length)) {
        await client.query('INSERT INTO run_digests (seq, part, position, digest, kept) SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::boolean[])', slice);
      }
      for (const slice of slices([[...content.keys()], [...content.values()]], content.size)) {
        await client.query('INSERT INTO content (digest, bytes) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (digest) DO NOTHING', slice);
      }
    }, refusedRecord);
    return { existing, refused };
  }

  /**
   * Takes, and waits at most PROBE_LOCK_MS for, the locks a put takes (the content lock shared,
   * the tables' ROW EXCLUSIVE), in a transaction that writes nothing.
   */
  async probe(): Promise<void> {
    await postgresTransaction(this.#pool, 'run', `BEGIN; SET LOCAL lock_timeout = ${PROBE_LOCK_MS}; SELECT pg_advisory_xact_lock_shared(${this.#contentLock}); LOCK TABLE runs, run_digests, content IN ROW EXCLUSIVE MODE;`, async () => undefined);
  }

  /** `rows` decoded (#decoded; `roots`: list roots checked too). */
  async #stored(rows: RunRow[], roots = false): Promise<StoredRun[]> {
    const large = (row: RunRow) => largeIdentityText(row.identity);
    if (!rows.some(large)) {
      const runs = await this.#decoded(rows, roots);
      return rows.map((row) => runs(row));
    }
    // A large run in steps (storedRunInSteps), its digests a page of STEP_ELEMENTS rows at a
    // time: 100,000 digest rows decoded and checked at once held the event loop.
    const small = await this.#decoded(rows.filter((row) => !large(row)), roots);
    const runs: StoredRun[] = [];
    for (const row of rows) {
      if (!large(row)) {
        runs.push(small(row));
        continue;
      }
      const page = async (after: RunDigest | undefined): Promise<RunDigest[]> => {
        const found = after === undefined
          ? await this.#query('SELECT part, position, digest, kept FROM run_digests WHERE seq = $1 ORDER BY part, position LIMIT $2', [row.seq, STEP_ELEMENTS])
          : await this.#query('SELECT part, position, digest, kept FROM run_digests WHERE seq = $1 AND (part, position) > ($2, $3) ORDER BY part, position LIMIT $4', [row.seq, after.part, after.position, STEP_ELEMENTS]);
        return (found.rows as { part: string; position: number; digest: string; kept: boolean }[]).map((digest) => ({ part: digest.part as ContentPart, position: digest.position, digest: digest.digest, kept: digest.kept }));
      };
      runs.push(await storedRunInSteps(this.#names, { seq: row.seq, recordDigest: row.record_digest, record: row.record, identity: row.identity, model: nameOf(row.model, row.model_escaped), capture: row.capture, receipt: row.receipt, logIndex: row.log_index, contentExpired: row.content_expired }, page, roots));
    }
    return runs;
  }

  /**
   * A decoder of `rows` (each decoded when asked: a damaged one throws then), their digests read
   * once for all. `roots`: each identity document's list roots are computed from its element
   * digests too (storedIdentity), where one run or a batch to sign is read.
   */
  async #decoded(rows: RunRow[], roots = false): Promise<(row: RunRow) => StoredRun> {
    const bySeq = new Map<number, StoredRun['digests']>();
    const found = rows.length === 0 ? [] : (await this.#query('SELECT seq, part, position, digest, kept FROM run_digests WHERE seq = ANY($1::bigint[]) ORDER BY seq, part, position', [rows.map((row) => row.seq)])).rows;
    for (const digest of found as { seq: number; part: string; position: number; digest: string; kept: boolean }[]) {
      const list = bySeq.get(digest.seq) ?? [];
      list.push({ part: digest.part as ContentPart, position: digest.position, digest: digest.digest, kept: digest.kept });
      bySeq.set(digest.seq, list);
    }
    return (row) =>
      storedRun(this.#names, { seq: row.seq, recordDigest: row.record_digest, record: row.record, identity: row.identity, model: nameOf(row.model, row.model_escaped), capture: row.capture, receipt: row.receipt, logIndex: row.log_index, contentExpired: row.content_expired }, bySeq.get(row.seq) ?? [], roots);
  }

  async claimUnsigned(limit: number, claimant: string, staleBefore: string, capture?: 'proxy' | 'sdk', ownBefore?: string): Promise<ClaimedRuns> {
    // SKIP LOCKED: two processes claiming at once take different rows instead of waiting.
    const own = ownBefore === undefined ? 'claimed_by = $1' : `(claimed_by = $1 AND claimed_at < $${capture === undefined ? 5 : 6})`;
    const result = await this.#query(
      `UPDATE runs SET claimed_by = $1, claimed_at = $2 WHERE seq IN (
         SELECT seq FROM runs WHERE receiptable AND receipt IS NULL
           AND (claimed_by IS NULL OR ${own} OR claimed_at < $3) ${capture === undefined ? '' : 'AND capture = $5'}
         ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING ${this.#columns}`,
      [claimant, new Date().toISOString(), staleBefore, limit, ...(capture === undefined ? [] : [capture]), ...(ownBefore === undefined ? [] : [ownBefore])],
    );
    const rows = (result.rows as RunRow[]).sort((a, b) => a.seq - b.seq);
    return claimedRuns(rows, await this.#decoded(rows, true));
  }

  /**
   * As RunStorage.unlogged, and what it gives is claimed for this process (the serves sharing the
   * store divide what waits instead of each sending all of it): rows no process claimed, this
   * process's own (renewed), and those whose claim is older than logClaimMs (a serve killed or
   * hung while delivering), taken in one statement (FOR UPDATE SKIP LOCKED: two processes reading
   * at once take different rows, neither waits). A row another process claimed is left out, so
   * the cursor passes it. The times are the database's clock, one for every host. A reader
   * (readOnly) claims nothing.
   */
  async unlogged(limit: number, afterSeq = 0, maxBytes?: number): Promise<Array<{ seq: number; recordDigest: string; receipt: string; runId: string | null }>> {
    // octet_length of a stored text is its stored size: the text is not read.
    const longest = maxBytes === undefined ? '' : ` AND octet_length(receipt) <= ${Math.floor(maxBytes)}`;
    const waiting = `receipt IS NOT NULL AND log_index IS NULL AND seq > $2${longest}`;
    const found = this.#logClaimant === null
      ? await this.#query(`SELECT seq, record_digest, receipt, run_id FROM runs WHERE ${waiting} ORDER BY seq LIMIT $1`, [limit, afterSeq])
      : await this.#query(
        `UPDATE runs SET log_claimed_by = $3, log_claimed_at = clock_timestamp() WHERE seq IN (
           SELECT seq FROM runs WHERE ${waiting}
             AND (log_claimed_by IS NULL OR log_claimed_by = $3 OR log_claimed_at < clock_timestamp() - make_interval(secs => $4::double precision / 1000))
           ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING seq, record_digest, receipt, run_id`,
        [limit, afterSeq, this.#logClaimant, this.#logClaimMs],
      );
    if (found.rows.length > 0) this.#logClaimed = true;
    return (found.rows as { seq: number | string; record_digest: string; receipt: string; run_id: string | null }[]).map((row) => ({ seq: Number(row.seq), recordDigest: row.record_digest, receipt: row.receipt, runId: row.run_id })).sort((a, b) => a.seq - b.seq);
  }

  async unloggedCount(atMost: number): Promise<number> {
    const found = await this.#query('SELECT COUNT(*) AS count FROM (SELECT 1 FROM runs WHERE receipt IS NOT NULL AND log_index IS NULL LIMIT $1) AS waiting', [atMost]);
    return Number((found.rows[0] as { count: number | string }).count);
  }

  async lastLogged(): Promise<LoggedRun | undefined> {
    const found = await this.#query('SELECT log_index, receipt, record_digest FROM runs WHERE log_index IS NOT NULL AND receipt IS NOT NULL ORDER BY log_index DESC LIMIT 1');
    const row = found.rows[0] as { log_index: number | string; receipt: string; record_digest: string } | undefined;
    return row === undefined ? undefined : { logIndex: Number(row.log_index), receipt: row.receipt, recordDigest: row.record_digest };
  }

  async logIndexHolders(logIndex: number): Promise<string[]> {
    const found = await this.#query('SELECT record_digest FROM runs WHERE log_index = $1 ORDER BY seq LIMIT 10', [logIndex]);
    return (found.rows as { record_digest: string }[]).map((row) => row.record_digest);
  }

  async logCheckpoint(origin: string): Promise<LogCheckpoint | undefined> {
    const row = (await this.#query('SELECT size, root_hash FROM run_log_checkpoints WHERE origin = $1', [origin])).rows[0] as { size: number; root_hash: Buffer } | undefined;
    return row === undefined ? undefined : { size: Number(row.size), rootHash: new Uint8Array(row.root_hash) };
  }

  /**
   * The binding row inserted unless there is one, and read back, in one transaction: of two
   * processes inserting at once, the second waits for the first to commit and inserts nothing
   * (ON CONFLICT DO NOTHING), and its read (a statement of its own, READ COMMITTED) sees the first's.
   */
  async bindLog(verifierKey: string): Promise<LogBinding> {
    const row = await postgresTransaction(this.#pool, 'run', `BEGIN; SET LOCAL lock_timeout = ${PUT_LOCK_MS};`, async (client) => {
      await client.query('INSERT INTO run_log_binding (id, verifier_key, bound_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [verifierKey, new Date().toISOString()]);
      return (await client.query('SELECT verifier_key, bound_at FROM run_log_binding WHERE id = 1')).rows[0] as { verifier_key: string; bound_at: string };
    });
    return { verifierKey: row.verifier_key, boundAt: row.bound_at };
  }

  /**
   * In one transaction holding an advisory lock of this schema's log indexes (so two processes
   * checking at once cannot both find an index free and give it to two runs): an index another
   * run holds (runs_log_index) fails it with ERR_LOG_REWRITE and nothing is stored (indexHeld).
   * The checkpoint is written only in such a transaction, so the lock orders its compare-and-set
   * too.
   */
  async setLogIndexes(items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }): Promise<void> {
    // No index but a checkpoint: serve's own log keeps its checkpoint alone (own-log-checkpoint.ts).
    if (items.length === 0 && checkpoint === undefined) return;
    const values = [items.map((item) => item.recordDigest), items.map((item) => item.logIndex)];
    await this.#underIndexLock(items, 'index', async (client) => {
      if (checkpoint !== undefined) {
        const same = (await client.query('SELECT root_hash FROM run_log_checkpoints WHERE origin = $1 AND size = $2', [checkpoint.origin, checkpoint.size])).rows[0] as { root_hash: Buffer } | undefined;
        if (same !== undefined && Buffer.compare(same.root_hash, checkpoint.rootHash) !== 0) throw checkpointForked(checkpoint.size);
        await client.query(
          `INSERT INTO run_log_checkpoints (origin, size, root_hash) VALUES ($1, $2, $3)
           ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root_hash = excluded.root_hash WHERE run_log_checkpoints.size < excluded.size`,
          [checkpoint.origin, checkpoint.size, Buffer.from(checkpoint.rootHash)],
        );
      }
      await client.query(
        `UPDATE runs SET log_index = u.log_index, log_claimed_by = NULL, log_claimed_at = NULL FROM unnest($1::text[], $2::bigint[]) AS u(record_digest, log_index)
         WHERE runs.record_digest = u.record_digest AND runs.log_index IS NULL`,
        values,
      );
    });
  }

  /**
   * `work` in one transaction holding an advisory lock of this schema's log indexes (so two
   * processes checking at once cannot both find an index free and give it to two runs), after
   * checking that no index of `items` is held by another run with another receipt (runs_log_index)
   * or given to two of them with other receipts (firstHeld): else ERR_LOG_REWRITE (indexHeld) and
   * nothing is stored.
   */
  async #underIndexLock(items: ReadonlyArray<{ recordDigest: string; logIndex: number; receipt?: string }>, what: 'index' | 'receipt', work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await postgresTransaction(this.#pool, 'run', `BEGIN; SET LOCAL lock_timeout = ${PUT_LOCK_MS}; SELECT pg_advisory_xact_lock(${this.#logIndexLock});`, async (client) => {
      // One index given to two runs of the batch: their stored receipts, when the items bring none, decide.
      const stored = new Map<string, string>();
      const counted = new Map<number, number>();
      for (const item of items) counted.set(item.logIndex, (counted.get(item.logIndex) ?? 0) + 1);
      const unbrought = items.filter((item) => item.receipt === undefined && counted.get(item.logIndex)! > 1).map((item) => item.recordDigest);
      if (unbrought.length > 0) {
        for (const row of (await client.query('SELECT record_digest, receipt FROM runs WHERE record_digest = ANY($1::text[]) AND receipt IS NOT NULL', [unbrought])).rows as { record_digest: string; receipt: string }[]) stored.set(row.record_digest, row.receipt);
      }
      const doubled = firstHeld(items, () => undefined, what, (recordDigest) => stored.get(recordDigest));
      if (doubled !== undefined) throw doubled;
      const held = await client.query(
        // One look into runs_log_index per index (a join may read the whole table instead); almost
        // always no row: the receipts are compared only when another run holds an index (not sent
        // with the batch, a copy of each receipt per write).
        `SELECT u.log_index, u.record_digest, held.record_digest AS holder, held.receipt AS held_receipt,
           (SELECT me.receipt FROM runs me WHERE me.record_digest = u.record_digest) AS own
         FROM unnest($1::text[], $2::bigint[]) AS u(record_digest, log_index)
         CROSS JOIN LATERAL (SELECT record_digest, receipt FROM runs WHERE runs.log_index = u.log_index AND runs.record_digest <> u.record_digest) AS held`,
        [items.map((item) => item.recordDigest), items.map((item) => item.logIndex)],
      );
      const brought = new Map(items.map((item) => [item.recordDigest, item.receipt]));
      const row = (held.rows as { log_index: number; record_digest: string; holder: string; held_receipt: string | null; own: string | null }[]).find((found) => {
        const mine = brought.get(found.record_digest) ?? found.own ?? undefined;
        return mine === undefined || found.held_receipt !== mine;
      });
      if (row !== undefined) throw indexHeld(Number(row.log_index), row.record_digest, row.holder, what);
      await work(client);
    });
  }

  /** With log indexes (serve's own log), in a transaction under the log indexes' lock, checked as setLogIndexes checks its own. */
  async setReceipts(items: ReadonlyArray<{ recordDigest: string; receipt: string; logIndex: number | null }>, claimant?: string): Promise<void> {
    if (items.length === 0) return;
    const claimed = claimant === undefined ? '' : ' AND runs.claimed_by = $4';
    const sql = `UPDATE runs SET receipt = u.receipt, log_index = u.log_index FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(record_digest, receipt, log_index)
       WHERE runs.record_digest = u.record_digest AND runs.receipt IS NULL${claimed}`;
    // A large run's receipt (LARGE_RECEIPT_CHARACTERS or more) in a statement of its own, as its
    // UTF-8 made a slice at a time and sent as bytes: the driver made the 10 MB of a run of
    // 100,000 elements into the text array's literal and its UTF-8 in one go (about 80 ms).
    const small: typeof items[number][] = [];
    const large: unknown[][] = [];
    for (const item of items) {
      if (item.receipt.length < LARGE_RECEIPT_CHARACTERS) {
        small.push(item);
        continue;
      }
      const bytes = await inTurns(utf8BytesSteps(item.receipt, LARGE_RECEIPT_CHARACTERS));
      large.push([item.recordDigest, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), item.logIndex, ...(claimant === undefined ? [] : [claimant])]);
    }
    const one = `UPDATE runs SET receipt = $2::text, log_index = $3 WHERE runs.record_digest = $1 AND runs.receipt IS NULL${claimed}`;
    const values = [small.map((item) => item.recordDigest), small.map((item) => item.receipt), small.map((item) => item.logIndex), ...(claimant === undefined ? [] : [claimant])];
    const write = async (query: (text: string, values: unknown[]) => Promise<unknown>): Promise<void> => {
      if (small.length > 0) await query(sql, values);
      for (const each of large) await query(one, each);
    };
    const indexed = items.filter((item): item is { recordDigest: string; receipt: string; logIndex: number } => item.logIndex !== null);
    // Several statements: in one transaction, as the one statement was.
    if (indexed.length === 0 && large.length === 0) return write((text, values) => this.#query(text, values));
    if (indexed.length === 0) return postgresTransaction(this.#pool, 'run', 'BEGIN;', (client) => write((text, values) => client.query(text, values)));
    await this.#underIndexLock(indexed, 'receipt', (client) => write((text, values) => client.query(text, values)));
  }

  #replayLinks = false;

  /** True once the replay links table exists in the schema (it is never dropped, so a true answer is kept). */
  async #hasReplayLinks(): Promise<boolean> {
    this.#replayLinks ||= ((await this.#query("SELECT to_regclass('replay_links') IS NOT NULL AS found")).rows[0] as { found: boolean }).found;
    return this.#replayLinks;
  }

  /** The WHERE clause of a query's filters (not its paging); `arg` numbers the arguments; `replayLinks`: that table exists. */
  #where(query: RunQuery, arg: (value: unknown) => string, replayLinks: boolean): string {
    const where: string[] = [];
    if (query.since !== undefined) where.push(`started >= ${arg(query.since)}`);
    if (query.until !== undefined) where.push(`started < ${arg(query.until)}`);
    for (const [column, name] of [['model', query.model], ['served_model', query.servedModel]] as const) {
      if (name === undefined) continue;
      const { text, escaped } = nameColumn(name);
      if (!this.#flags) where.push(escaped ? 'false' : `${column} = ${arg(text)}`);
      else where.push(`${column} = ${arg(text)} AND ${escaped ? '' : 'NOT '}${column}_escaped`);
    }
    if (query.provider !== undefined) where.push(`${FORMAT} = ANY(${arg(formatsOf(query.provider))}::text[])`);
    if (query.status === 'unidentified') where.push('request_id IS NULL');
    else if (query.status !== undefined) where.push(`${ENDING} = ${arg(query.status)}`);
    if (query.parent !== undefined) where.push(`seq IN (SELECT seq FROM run_parents WHERE parent = ${arg(query.parent)})`);
    // The replay links sit in this schema, made by the first replay (replay/postgres-replay-links.ts): before it, no run was replayed.
    if (query.verdict !== undefined) where.push(replayLinks ? `record_digest IN (SELECT replay_of FROM replay_links WHERE verdict = ${arg(query.verdict)})` : 'false');
    if (query.component !== undefined) {
      const part = query.component.part === undefined ? '' : ` AND part = ${arg(query.component.part)}`;
      where.push(`seq IN (SELECT seq FROM run_digests WHERE digest = ${arg(query.component.digest)}${part})`);
    }
    return where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
  }

  async list(query: RunQuery): Promise<StoredRun[]> {
    const args: unknown[] = [];
    const arg = (value: unknown) => {
      args.push(value);
      return `$${args.length}`;
    };
    const where = this.#where(query, arg, query.verdict !== undefined && (await this.#hasReplayLinks()));
    const paged = query.before === undefined ? where : `${where === '' ? 'WHERE' : `${where} AND`} seq < ${arg(query.before)}`;
    const sql = `SELECT ${this.#columns} FROM runs ${paged} ORDER BY seq DESC LIMIT ${arg(query.limit ?? 100)}`;
    return this.#stored((await this.#query(sql, args)).rows as RunRow[]);
  }

  async replayLinks(recordDigests: readonly string[]): Promise<StoredReplayLink[]> {
    if (recordDigests.length === 0 || !(await this.#hasReplayLinks())) return [];
    const sql = `SELECT r.record_digest AS replay, r.capture_id AS replay_capture, r.seq AS replay_seq,
             o.record_digest AS original, o.capture_id AS original_capture, o.seq AS original_seq, l.verdict
      FROM replay_links l JOIN runs r ON r.record_digest = l.replay JOIN runs o ON o.record_digest = l.replay_of
      WHERE l.replay = ANY($1::text[]) OR l.replay_of = ANY($1::text[]) ORDER BY l.seq`;
    return ((await this.#query(sql, [recordDigests])).rows as ReplayLinkRow[]).map(replayLinkOf);
  }

  async counts(query: RunQuery): Promise<RunCounts> {
    const args: unknown[] = [];
    const links = query.verdict !== undefined && (await this.#hasReplayLinks());
    const where = this.#where(query, (value) => {
      args.push(value);
      return `$${args.length}`;
    }, links);
    const groups = (column: string) => {
      const flag = this.#flags ? `, ${column}_escaped` : '';
      return `SELECT ${column} AS name, ${this.#flags ? '' : 'false AS '}${column}_escaped AS escaped, count(*) AS runs FROM runs ${where} GROUP BY ${column}${flag} ORDER BY count(*) DESC, ${column} IS NULL, ${column}${flag} LIMIT ${COUNTS_GROUPS}`;
    };
    const [totals, models, served] = await Promise.all([
      this.#query(`SELECT count(*) AS runs, count(DISTINCT request_id) AS requests, count(DISTINCT run_id) AS identities FROM runs ${where}`, args),
      this.#query(groups('model'), args),
      this.#query(groups('served_model'), args),
    ]);
    const total = totals.rows[0] as { runs: number; requests: number; identities: number };
    return {
      runs: total.runs,
      requestIdentities: total.requests,
      runIdentities: total.identities,
      models: (models.rows as { name: string | null; escaped: boolean; runs: number }[]).map((group) => ({ model: nameOf(group.name, group.escaped), runs: group.runs })),
      servedModels: (served.rows as { name: string | null; escaped: boolean; runs: number }[]).map((group) => ({ servedModel: nameOf(group.name, group.escaped), runs: group.runs })),
    };
  }

  async find(id: string): Promise<StoredRun[]> {
    // No id holds a NUL, which a text parameter cannot (22021): an id asked for with one names no run.
    if (id.includes('\u0000')) return [];
    return this.#stored((await this.#query(`SELECT ${this.#columns} FROM runs WHERE run_id = $1 OR record_digest = $1 OR capture_id = $1 ORDER BY seq`, [id])).rows as RunRow[], true);
  }

  async content(digest: string): Promise<Uint8Array | undefined> {
    const row = (await this.#query('SELECT bytes FROM content WHERE digest = $1', [digest])).rows[0] as { bytes: Buffer } | undefined;
    return row === undefined ? undefined : new Uint8Array(row.bytes);
  }

  async contentStored(digests: readonly string[]): Promise<Set<string>> {
    // No digest holds a NUL, which a text parameter cannot (22021): one asked for with it names no content.
    const asked = [...new Set(digests)].filter((digest) => !digest.includes('\u0000'));
    if (asked.length === 0) return new Set();
    // The primary key only: the bytes (TOAST past about 2 KB) are not read; those of a large run
    // STEP_ELEMENTS at a time (one answer of 100,000 rows is decoded at once).
    const stored = new Set<string>();
    for (let start = 0; start < asked.length; start += STEP_ELEMENTS) {
      const found = await this.#query('SELECT digest FROM content WHERE digest = ANY($1::text[])', [asked.length <= STEP_ELEMENTS ? asked : asked.slice(start, start + STEP_ELEMENTS)]);
      for (const row of found.rows as { digest: string }[]) stored.add(row.digest);
    }
    return stored;
  }

  async contents(digests: readonly string[]): Promise<Map<string, Uint8Array>> {
    const asked = [...new Set(digests)].filter((digest) => !digest.includes('\u0000'));
    const found = new Map<string, Uint8Array>();
    if (asked.length === 0) return found;
    for (const row of (await this.#query('SELECT digest, bytes FROM content WHERE digest = ANY($1::text[])', [asked])).rows as { digest: string; bytes: Buffer }[]) found.set(row.digest, new Uint8Array(row.bytes));
    return found;
  }

  /**
   * In short transactions, so that puts (which wait for the content lock at most PUT_LOCK_MS)
   * commit between them: the runs to expire are read EXPIRE_RUNS at a time (by seq, without a
   * lock), each with how many digests it keeps (counted up to EXPIRE_DIGESTS + 1), and each
   * transaction, holding the content lock, takes the next of them whole while their kept digests
   * fit EXPIRE_DIGESTS, releases those digests, deletes the content of those that no run keeps any
   * more, and marks these runs expired. Only content these runs named is looked at (the content
   * table's other rows are not read), and content a newer run keeps stays. A run of EXPIRE_DIGESTS
   * digests or fewer is released, its content deleted and marked in one transaction, so a failure
   * or a crash in between leaves none half done: the next expire takes the runs not marked yet. A
   * run of more (a large run) is taken alone, released over several transactions and marked in the
   * one that releases its last digests; until then a reader sees its released pieces as not stored,
   * and after a crash the next expire takes the rest. Counts read before a transaction only fall
   * (only expire, under the content lock, releases a run's digests), so a group that fitted still
   * does; a transaction marks its runs only once it found none of their digests left to release.
   */
  async expire(before: string): Promise<number> {
    let expired = 0;
    for (let after = 0; ; ) {
      const batch = (await this.#query(
        `SELECT r.seq, (SELECT count(*) FROM (SELECT 1 FROM run_digests d WHERE d.seq = r.seq AND d.kept LIMIT $4) k) AS kept
         FROM runs r WHERE r.seq > $1 AND r.ended < $2 AND NOT r.content_expired ORDER BY r.seq LIMIT $3`,
        [after, before, EXPIRE_RUNS, EXPIRE_DIGESTS + 1],
      )).rows as { seq: number; kept: number }[];
      if (batch.length === 0) return expired;
      after = batch.at(-1)!.seq;
      for (let next = 0; next < batch.length; ) {
        // The next runs while their kept digests fit one transaction; a large run alone.
        const group = [batch[next]!.seq];
        let total = batch[next]!.kept;
        for (next++; total <= EXPIRE_DIGESTS && next < batch.length && total + batch[next]!.kept <= EXPIRE_DIGESTS; next++) {
          group.push(batch[next]!.seq);
          total += batch[next]!.kept;
        }
        let marked: number | undefined;
        while (marked === undefined) marked = await this.#expireStep(group);
        expired += marked;
      }
    }
  }

  /**
   * One transaction of expire: releases at most EXPIRE_DIGESTS of the kept digests of the runs
   * `seqs`, deletes the content of those no run keeps any more, and, if none of theirs is kept now,
   * marks the runs expired and answers how many it marked (undefined: more to release).
   */
  async #expireStep(seqs: readonly number[]): Promise<number | undefined> {
    return postgresTransaction(this.#pool, 'run', `BEGIN; SELECT pg_advisory_xact_lock(${this.#contentLock});`, async (client) => {
      // Up to one digest more than released is picked: whether any is left to release, without
      // reading the run's digest rows again.
      const released = (await client.query(
        `WITH picked AS (SELECT seq, part, position FROM run_digests WHERE seq = ANY($1::bigint[]) AND kept LIMIT $2),
              released AS (UPDATE run_digests d SET kept = false FROM (SELECT seq, part, position FROM picked LIMIT $3) p
                           WHERE d.seq = p.seq AND d.part = p.part AND d.position = p.position RETURNING d.digest)
         SELECT (SELECT count(*) FROM picked) AS picked, ARRAY(SELECT DISTINCT digest FROM released) AS digests`,
        [seqs, EXPIRE_DIGESTS + 1, EXPIRE_DIGESTS],
      )).rows[0] as { picked: number; digests: string[] };
      if (released.digests.length > 0) {
        // Content no run keeps any more; content a newer run keeps stays. Gone from every query, not
        // from disk: the dead tuples stay in the table's files until (auto)VACUUM, and the WAL, its
        // archives, replicas and backups keep the bytes (docs/CAPTURE.md, "Salted commitments").
        await client.query('DELETE FROM content WHERE digest = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM run_digests WHERE run_digests.digest = content.digest AND kept)', [released.digests]);
      }
      // More of these runs' digests to release: in the next transaction.
      if (released.picked > EXPIRE_DIGESTS) return undefined;
      return (await client.query('UPDATE runs SET content_expired = true WHERE seq = ANY($1::bigint[]) AND NOT content_expired', [seqs])).rowCount ?? 0;
    });
  }

  /**
   * Hands back the receipts this process claimed to deliver and did not (unlogged), so that another
   * serve, or this one restarted, delivers them at once rather than after logClaimMs (a process
   * killed hands back nothing: its claims lapse). It gives up after RELEASE_MS, counted by this
   * process and not only by the server (a store that does not answer, a network that stops
   * forwarding, or a row another transaction holds): the claims are then kept, and lapse after
   * logClaimMs, and the connection is closed rather than given back.
   */
  async close(): Promise<void> {
    if (this.#logClaimed) await this.#handBack();
    await this.#pool.end().catch(() => undefined);
  }

  /** close's hand-back of the claims, bounded by RELEASE_MS on this side; never throws. */
  async #handBack(): Promise<void> {
    const overdue = Symbol('overdue');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<typeof overdue>((resolve) => (timer = setTimeout(() => resolve(overdue), RELEASE_MS)));
    const within = async <T>(step: Promise<T>): Promise<T> => {
      const first = await Promise.race([step, late]);
      if (first === overdue) {
        step.catch(() => undefined);
        throw new Error('overdue');
      }
      return first as T;
    };
    const connecting = this.#pool.connect();
    let client: pg.PoolClient | undefined;
    let broken = false;
    const onError = () => (broken = true);
    try {
      client = await within(connecting);
      client.on('error', onError);
      await within(client.query(`BEGIN; SET LOCAL statement_timeout = ${RELEASE_MS}; SET LOCAL lock_timeout = ${RELEASE_MS};`));
      await within(client.query('UPDATE runs SET log_claimed_by = NULL, log_claimed_at = NULL WHERE receipt IS NOT NULL AND log_index IS NULL AND log_claimed_by = $1', [this.#logClaimant]));
      await within(client.query('COMMIT'));
    } catch {
      // Not handed back (the claims lapse). The connection may be in a transaction or wait for an
      // answer: it is closed (a query still waiting destroys its socket), not given back.
      broken = true;
    } finally {
      clearTimeout(timer);
      if (client) {
        client.removeListener('error', onError);
        client.release(broken);
      } else {
        connecting.then((late) => late.release(true), () => undefined);
      }
    }
  }
}
