/** The run store in one node:sqlite file (runs.sqlite in the data directory), beside the log's. */
import { existsSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { createOwnerOnly } from './owner-only.ts';
import { isSqliteStatementError, sqliteErrorCode, sqliteFault, sqliteWriteTransaction } from './storage-faults.ts';
import { SqliteWriterThread } from './sqlite-writer-thread.ts';
import { dropLeftovers, expireStep, prepareRunWrites, RUN_COLUMNS as COLUMNS, RUNS_PRAGMAS, packedTransfer, rewriteContent, runWritesOf, waitingShort, writeClaim, writeLogIndexes, writeNothing, writeReceipts, writeRuns, type ClaimWrite, type ExpireStep, type RunRow, type RunsResult, type RunsTask, type RunWrite, type RunWriteStatements, type StageAnswer, writesOf } from './sqlite-runs-write.ts';
import { storeCorrupt } from './storage.ts';
import { SqliteReader } from './sqlite-reader.ts';
import type { BindsLog, LogBinding } from './own-log-checkpoint.ts';
import { makeChecked } from './sqlite-wal.ts';
import { InputError, LogError, storeFault, type StoreName } from '../errors.ts';
import { printable } from '../io/printable.ts';
import { COUNTS_GROUPS, FAILED_REASONS, type LogCheckpoint, type LoggedRun, formatsOf, replayLinkOf, type ContentPart, type PutResult, type ReplayLinkRow, type StoredReplayLink, type RunCounts, type RunDigest, type RunQuery, type RunStorage, type RunToStore, type StoredRun, storedRun, claimedRuns, type ClaimedRuns, largeIdentityText, LARGE_IDENTITY_CHARACTERS, storedRunInSteps } from './run-storage.ts';
import { STEP_ELEMENTS } from '../capture/large-run.ts';
import { nextTurn } from '../io/steps.ts';

// The sources run as .ts in a checkout and as compiled .js from dist/ when installed.
const RUNS_WORKER = new URL(import.meta.url.endsWith('.ts') ? './sqlite-runs-worker.ts' : './sqlite-runs-worker.js', import.meta.url);

/**
 * COLUMNS, but a large run's identity document and receipt (largeIdentityText: 18 MB together for
 * 100,000 elements, 60 to 100 ms of the event loop to take as strings at once) left NULL, and
 * `large` 1 for it: list and find read those two after, each in a turn of its own (#largeTexts).
 */
const PAGE_COLUMNS = `seq, record_digest, model, capture, record, CASE WHEN length(identity) >= ${LARGE_IDENTITY_CHARACTERS} THEN NULL ELSE identity END AS identity, CASE WHEN length(identity) >= ${LARGE_IDENTITY_CHARACTERS} THEN NULL ELSE receipt END AS receipt, log_index, content_expired, length(identity) >= ${LARGE_IDENTITY_CHARACTERS} AS large`;

/** A row of PAGE_COLUMNS. */
type PageRow = RunRow & { large: number | null };

/** How a run ended (run-storage.ts runEnding), from its record: the index runs_ending and the status filter use this one text. */
const ENDING = `(CASE WHEN json_extract(record, '$.incomplete') IS NULL THEN 'complete' WHEN json_extract(record, '$.incomplete.reason') IN (${FAILED_REASONS.map((reason) => `'${reason}'`).join(', ')}) THEN 'failed' ELSE 'incomplete' END)`;
const FORMAT = `json_extract(record, '$.format')`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY,
  record_digest TEXT NOT NULL UNIQUE,
  capture_id TEXT NOT NULL,
  run_id TEXT,
  request_id TEXT,
  model TEXT,
  served_model TEXT,
  started TEXT NOT NULL,
  ended TEXT NOT NULL,
  capture TEXT NOT NULL,
  record TEXT NOT NULL,
  identity TEXT,
  receiptable INTEGER NOT NULL,
  receipt TEXT,
  log_index INTEGER,
  content_expired INTEGER NOT NULL DEFAULT 0,
  -- Who is signing the receipt, and since when (run-storage.ts claimUnsigned).
  claimed_by TEXT,
  claimed_at TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS runs_capture_id ON runs (capture_id);
CREATE INDEX IF NOT EXISTS runs_run_id ON runs (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE INDEX IF NOT EXISTS runs_unsigned ON runs (seq) WHERE receiptable = 1 AND receipt IS NULL;
CREATE INDEX IF NOT EXISTS runs_unlogged ON runs (seq) WHERE receipt IS NOT NULL AND log_index IS NULL;
-- The run with the highest log index (lastLogged), read by the log outbox as it starts; made when
-- a store of an older layout is opened by serve (a reader does without it).
CREATE INDEX IF NOT EXISTS runs_log_index ON runs (log_index) WHERE log_index IS NOT NULL;
-- The largest checkpoint of the capture log (by its origin) a serve's log outbox verified, which
-- every later one must extend, whichever serve on the store reads it (log-outbox.ts); made when
-- serve opens a store of an older layout (a reader does without it).
CREATE TABLE IF NOT EXISTS run_log_checkpoints (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root_hash BLOB NOT NULL) STRICT, WITHOUT ROWID;
-- The log serve's own log indexes refer to: one row, its verifier key, which the first serve that
-- starts with its own log inserts before it appends anything (own-log-checkpoint.ts bindOwnLog);
-- made when serve opens a store of an older layout (a reader does without it).
CREATE TABLE IF NOT EXISTS run_log_binding (id INTEGER PRIMARY KEY CHECK (id = 1), verifier_key TEXT NOT NULL, bound_at TEXT NOT NULL) STRICT;
-- Every digest a run names: components (position -1), list elements (0, 1, ..), output, request
-- and response bytes; kept = 1 where the run keeps that digest's content (retention deletes
-- content no unexpired run keeps).
CREATE TABLE IF NOT EXISTS run_digests (
  seq INTEGER NOT NULL,
  part TEXT NOT NULL,
  position INTEGER NOT NULL,
  digest TEXT NOT NULL,
  kept INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (seq, part, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_digests_digest ON run_digests (digest, kept, seq);
-- Content, once per digest.
CREATE TABLE IF NOT EXISTS content (digest TEXT PRIMARY KEY, bytes BLOB NOT NULL) STRICT, WITHOUT ROWID;
-- Queries (issue 12): pages by model, served model, status and format, newest first.
CREATE INDEX IF NOT EXISTS runs_model ON runs (model);
CREATE INDEX IF NOT EXISTS runs_served_model ON runs (served_model);
CREATE INDEX IF NOT EXISTS runs_ending ON runs (${ENDING});
CREATE INDEX IF NOT EXISTS runs_format ON runs (${FORMAT});
-- Counts: distinct identities read in order from an index, without a row read or a sort
-- (counts below), for all runs and for one model or served model.
DROP INDEX IF EXISTS runs_request_id;
CREATE INDEX IF NOT EXISTS runs_identities ON runs (request_id, run_id);
CREATE INDEX IF NOT EXISTS runs_model_identities ON runs (model, request_id, run_id);
CREATE INDEX IF NOT EXISTS runs_served_identities ON runs (served_model, request_id, run_id);
`;

/**
 * The parents each run names (record.parents), for the children of a run: filled by a trigger on
 * every insert into runs, and from the records already stored when an older store is opened.
 */
const PARENTS = `
CREATE TABLE IF NOT EXISTS run_parents (parent TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (parent, seq)) STRICT, WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS runs_parents AFTER INSERT ON runs WHEN json_array_length(NEW.record, '$.parents') > 0 BEGIN
  INSERT OR IGNORE INTO run_parents (parent, seq) SELECT value, NEW.seq FROM json_each(NEW.record, '$.parents');
END;
INSERT OR IGNORE INTO run_parents (parent, seq) SELECT value, runs.seq FROM runs, json_each(runs.record, '$.parents');
`;

/**
 * From a store of the first layout: run_digests gains `kept` (from run_content, then dropped), the
 * response bytes' digest of every run becomes a row, and the digest index covers `kept`.
 */
const KEPT_MIGRATION = `
ALTER TABLE run_digests ADD COLUMN kept INTEGER NOT NULL DEFAULT 0;
UPDATE run_digests SET kept = 1 WHERE EXISTS (SELECT 1 FROM run_content WHERE run_content.digest = run_digests.digest AND run_content.seq = run_digests.seq);
INSERT OR IGNORE INTO run_digests (seq, part, position, digest, kept)
  SELECT seq, 'response', -1, json_extract(record, '$.response.rawDigest.sha256'),
         EXISTS (SELECT 1 FROM run_content WHERE run_content.seq = runs.seq AND run_content.digest = json_extract(runs.record, '$.response.rawDigest.sha256'))
  FROM runs WHERE json_extract(record, '$.response.rawDigest.sha256') IS NOT NULL;
DROP INDEX IF EXISTS run_digests_digest;
CREATE INDEX run_digests_digest ON run_digests (digest, kept, seq);
DROP TABLE run_content;
`;

/**
 * Stores made before signing claims (3d88296 to 8182774): runs has no claimed_by and claimed_at
 * (who is signing a run's receipt and since when, run-storage.ts claimUnsigned); serve adds them.
 */
const CLAIM_COLUMNS = ['claimed_by', 'claimed_at'] as const;

/**
 * What every layout serve upgrades has, from the first (3d88296) on: a reader finding a store of an
 * older layout checks these before saying serve upgrades it. `first`: with run_content (before
 * run_digests.kept); `parents`: with run_parents.
 */
function upgradableProbe(first: boolean, parents: boolean): string[] {
  return [
    'SELECT seq, record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture, record, identity, receiptable, receipt, log_index, content_expired FROM runs LIMIT 0',
    `SELECT seq, part, position, digest${first ? '' : ', kept'} FROM run_digests LIMIT 0`,
    'SELECT digest, bytes FROM content LIMIT 0',
    ...(first ? ['SELECT digest, seq FROM run_content LIMIT 0'] : []),
    ...(parents ? ['SELECT parent, seq FROM run_parents LIMIT 0'] : []),
  ];
}

/** A run store whose tables this code neither reads nor upgrades (a statement error at open): the file named, and that it cannot be upgraded. */
const otherShape = (path: string): LogError =>
  storeFault('ERR_STORE_CORRUPT', { local: `run database ${path}`, remote: 'run database' }, (name) => `${name} holds tables of another shape: not a runprint run store of this version, nor of an older layout this version upgrades`);

/**
 * ERR_STORE_CORRUPT for a run store that fails quick_check at a reader's open: the file named
 * (the CLI prints it), and quick_check's first finding (`found`: the rows it answered, a row may
 * hold several lines), which names no file; the public message leaves the file out.
 */
function failsQuickCheck(path: string, found: readonly string[]): LogError {
  const findings = found.flatMap((row) => row.split('\n')).filter((line) => line !== '' && !line.startsWith('*** in database '));
  const first = findings[0] === undefined ? 'no finding said' : printable(findings[0], 200);
  const more = findings.length > 1 ? ', and more' : '';
  return storeFault('ERR_STORE_CORRUPT', { local: `run database ${path}`, remote: 'run database' }, (name) => `${name} fails SQLite quick_check (${first}${more}): it is damaged`);
}

/** SQLite's primary result code for a write a read-only connection refuses. */
const SQLITE_READONLY = 8;

/** A write through a reader's connection: SQLite refused it, nothing was written. */
const readerWrite = (): LogError => new LogError('ERR_STORE_READ_ONLY', 'run database is open read-only (by a command that only reads it): nothing was written');

/**
 * The largest run store (in bytes) a reader opened for a query checks whole at open with SQLite's
 * quick_check, which reads every page: 0.15 to 0.3 s at this size (0.6 to 1.1 s per GB measured;
 * BENCHMARKS.md, eighth session). The size is the database's as the reader reads it, the pages
 * quick_check walks (SqliteReader.databaseBytes: with the pages a serve committed to the -wal,
 * not the -wal file's size, which counts older versions of pages and keeps its size once they
 * are copied back, and would skip the check for a store far below the bound). Above it, a query's
 * reader skips the check and relies on SQLite's own checks of the pages the query reads (a
 * damaged one is SQLITE_CORRUPT, named ERR_STORE_CORRUPT with the file; cell_size_check on the
 * reader's connection, sqlite-reader.ts); `runs verify` checks the whole store at any size.
 */
const READER_CHECK_BOUND = 256 * 2 ** 20;

/** How openReader checks the store at open. */
export interface ReaderCheck {
  /**
   * 'whole' (the default): SQLite's quick_check at open, whatever the store's size, so damage
   * anywhere refuses the open (runs verify). 'bounded': quick_check only for a store of at most
   * READER_CHECK_BOUND bytes (runs list, show, diff, group).
   */
  check?: 'whole' | 'bounded';
  /** Test only: the bound in bytes, in place of READER_CHECK_BOUND. */
  checkBound?: number;
}

/** The tables and columns a reader reads (a statement error: tables of another shape). */
const READER_PROBE = [`SELECT ${COLUMNS} FROM runs LIMIT 0`, 'SELECT seq, part, position, digest, kept FROM run_digests LIMIT 0', 'SELECT digest, bytes FROM content LIMIT 0', 'SELECT parent, seq FROM run_parents LIMIT 0'];
/** The tables only serve uses, checked when it opens the store (a reader does without them: an older store has none). */
const WRITER_PROBE = ['SELECT origin, size, root_hash FROM run_log_checkpoints LIMIT 0', 'SELECT id, verifier_key, bound_at FROM run_log_binding LIMIT 0'];

/** A large run's identity document and receipt are read from SQLite this many bytes at a time. */
const LARGE_TEXT_STEP = 1 << 20;

/**
 * The text of a TEXT column read as a BLOB in pieces, as node:sqlite gives the column itself:
 * ill-formed UTF-8 becomes U+FFFD as there, a byte order mark is kept, a character split between
 * two pieces is read whole (test/large-run-read-steps.test.ts compares the two).
 */
export function storedTextReader(): { piece(bytes: Uint8Array): string; end(): string } {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  return { piece: (bytes) => decoder.decode(bytes, { stream: true }), end: () => decoder.decode() };
}

/** The store. Every write is one BEGIN IMMEDIATE transaction on a WAL database with synchronous=FULL (as the log's). */
export class SqliteRuns implements RunStorage, BindsLog {
  readonly kind = 'SQLite';
  #db: DatabaseSync;
  readonly #path: string;
  /** The insert and update statements: made at open for a store that writes, at the first write for a reader's (where it fails). */
  #writeStatements: RunWriteStatements | undefined;
  /** Where puts are committed when the store was opened with a writer thread. */
  readonly #thread: SqliteWriterThread<RunsTask, RunsResult> | undefined;
  /** A store opened by openReader: its read-only connection, which every read goes through. */
  readonly #reader: SqliteReader | undefined;
  #digestsOf!: StatementSync;
  #contentOf!: StatementSync;
  /** A large run's digests a page at a time (#storedInSteps): the first, and those after a (part, position). */
  #digestsFirst!: StatementSync;
  #digestsAfter!: StatementSync;

  /** `writes`: a writer's statements, prepared as it opened (a reader's are prepared at its first write, where they fail). */
  private constructor(db: DatabaseSync | SqliteReader, path: string, thread: boolean, writes?: RunWriteStatements) {
    this.#reader = db instanceof SqliteReader ? db : undefined;
    this.#db = db instanceof SqliteReader ? db.db : db;
    this.#path = path;
    this.#writeStatements = writes;
    this.#thread = thread ? new SqliteWriterThread<RunsTask, RunsResult>(RUNS_WORKER, path, 'the run store') : undefined;
    this.#prepareReads();
    this.#reader?.onReplaced((replacement) => {
      this.#db = replacement;
      this.#prepareReads();
    });
  }

  #prepareReads(): void {
    this.#digestsOf = this.#db.prepare('SELECT part, position, digest, kept FROM run_digests WHERE seq = ? ORDER BY part, position');
    this.#contentOf = this.#db.prepare('SELECT bytes FROM content WHERE digest = ?');
    this.#digestsFirst = this.#db.prepare('SELECT part, position, digest, kept FROM run_digests WHERE seq = ? ORDER BY part, position LIMIT ?');
    this.#digestsAfter = this.#db.prepare('SELECT part, position, digest, kept FROM run_digests WHERE seq = ? AND (part, position) > (?, ?) ORDER BY part, position LIMIT ?');
  }

  get #writes(): RunWriteStatements {
    this.#writeStatements ??= this.#guardWrite(() => prepareRunWrites(this.#db));
    return this.#writeStatements;
  }

  /** Opens (creating if needed) the database file; failures are named by cause, as the log's (storage-faults.ts). */
  /**
   * With `writerThread`, puts are committed on a thread of their own (sqlite-runs-worker.ts), so
   * the caller's event loop does not wait for inserts and the disk: for a capturing process.
   * With `create` false (a command that adds runs to a store serve made: replay), a missing file,
   * or one that holds no runs table (an empty file, a log database put in its place), is
   * ERR_INPUT_NOT_FOUND, and the file is left as it was: no table made, not put in WAL mode.
   */
  static open(path: string, options: { writerThread?: boolean; create?: boolean } = {}): SqliteRuns {
    const create = options.create !== false;
    if (!create && !existsSync(path)) throw new InputError('ERR_INPUT_NOT_FOUND', `no run store at ${path}: runprint serve creates it when it captures`);
    let db: DatabaseSync | undefined;
    try {
      // Owner-only whatever the umask, and with it the -wal and -shm SQLite makes beside it.
      if (create) createOwnerOnly(path);
      db = new DatabaseSync(path);
      db.exec(RUNS_PRAGMAS);
      const check = db.prepare('PRAGMA quick_check').get() as Record<string, unknown> | undefined;
      if (check === undefined || Object.values(check)[0] !== 'ok') throw storeCorrupt('run database fails SQLite quick_check');
      // A read, before any transaction: a file refused here is not written.
      if (!create && db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").get() === undefined) {
        throw new InputError('ERR_INPUT_NOT_FOUND', `no run store in ${path}: the file holds no runs table (runprint serve creates it when it captures)`);
      }
      // The tables and every upgrade in one transaction: a store of a shape this code cannot take
      // is refused unchanged, not half upgraded.
      // (Its errors are left as SQLite gives them: the catch below tells a statement that does not
      // fit the tables from a fault of the file.)
      // A file of another shape is not put in WAL mode either (walAfterCheck): it is left byte for byte.
      const opened = db;
      const make = (): RunWriteStatements => {
        opened.exec(SCHEMA);
        // Stores made before signing claims: the claim's two columns (empty: no run is being signed).
        const columns = new Set((opened.prepare("SELECT name FROM pragma_table_info('runs')").all() as Array<{ name: string }>).map((row) => row.name));
        for (const column of CLAIM_COLUMNS) if (!columns.has(column)) opened.exec(`ALTER TABLE runs ADD COLUMN ${column} TEXT`);
        // Stores made before run_parents: the table, its trigger and the parents of the runs stored.
        if (opened.prepare("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'runs_parents'").get() === undefined) opened.exec(PARENTS);
        // Stores made before run_digests.kept: which runs keep which content was a table of its own
        // (run_content); the response bytes' digest was not a row.
        if (opened.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_content'").get() !== undefined) opened.exec(KEPT_MIGRATION);
        // Tables of another shape that the statements above left as they were (a runs table
        // without a column this code reads) fail here, before anything is committed.
        for (const sql of [...READER_PROBE, ...WRITER_PROBE]) opened.prepare(sql).all();
        const writes = prepareRunWrites(opened);
        // What a large run written in steps left when its writing never ended (a crash).
        dropLeftovers(writes);
        return writes;
      };
      const writes = makeChecked(db, make);
      return new SqliteRuns(db, path, options.writerThread === true, writes);
    } catch (error) {
      if (db?.isOpen === true) db.close();
      if (isSqliteStatementError(error)) throw otherShape(path);
      throw sqliteFault(error, path, 'run database');
    }
  }

  /**
   * Opens the run store at `path` for a command that only reads it (runs list, show, diff, verify,
   * group): a read-only connection (sqlite-reader.ts) that creates no file or folder, makes
   * no table and migrates nothing, and reads while a serve writes. A missing file is
   * ERR_INPUT_NOT_FOUND, a file without a run store too; a store of an older layout, which this
   * code does not read, is refused (serve upgrades it when it opens it); a write through it fails
   * with ERR_STORE_READ_ONLY.
   *
   * SQLite's quick_check, which reads the whole file, runs at open as `options` say (ReaderCheck):
   * always by default; with check 'bounded' only for a store of at most READER_CHECK_BOUND bytes.
   * A store that fails it is ERR_STORE_CORRUPT naming the file and what quick_check found first.
   */
  static openReader(path: string, options: ReaderCheck = {}): SqliteRuns {
    if (!existsSync(path)) throw new InputError('ERR_INPUT_NOT_FOUND', `no run store at ${path}: runprint serve creates it when it captures`);
    let reader: SqliteReader | undefined;
    try {
      const opened = (reader = new SqliteReader(path));
      const layout = opened.read(() => {
        if (options.check !== 'bounded' || opened.databaseBytes() <= (options.checkBound ?? READER_CHECK_BOUND)) {
          const findings = (opened.db.prepare('PRAGMA quick_check').all() as Record<string, unknown>[]).map((row) => String(Object.values(row)[0]));
          if (findings[0] !== 'ok') throw failsQuickCheck(path, findings);
        }
        const has = (type: string, name: string) => opened.db.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get(type, name) !== undefined;
        const found = { runs: has('table', 'runs'), parents: has('trigger', 'runs_parents'), first: has('table', 'run_content') };
        const columns = new Set((opened.db.prepare("SELECT name FROM pragma_table_info('runs')").all() as Array<{ name: string }>).map((row) => row.name));
        const older = found.first || !found.parents || CLAIM_COLUMNS.some((column) => !columns.has(column));
        // A store of an older layout is said to be upgraded by serve only if it has what serve's upgrades take.
        if (found.runs) for (const sql of older ? upgradableProbe(found.first, has('table', 'run_parents')) : READER_PROBE) opened.db.prepare(sql).all();
        return { ...found, older };
      });
      if (!layout.runs) throw new InputError('ERR_INPUT_NOT_FOUND', `no run store in ${path}: the file holds no runs table (runprint serve creates it when it captures)`);
      if (layout.older) throw new LogError('ERR_STORE_UNAVAILABLE', `the run store ${path} has an older layout than this runprint reads: runprint serve with its data directory upgrades it when it starts`);
      return new SqliteRuns(opened, path, false);
    } catch (error) {
      reader?.close();
      if (isSqliteStatementError(error)) throw otherShape(path);
      // The file went between the look and the open.
      if (!existsSync(path)) throw new InputError('ERR_INPUT_NOT_FOUND', `no run store at ${path}: runprint serve creates it when it captures`);
      throw sqliteFault(error, path, 'run database');
    }
  }

  #write<T>(work: () => T): T {
    return this.#guardWrite(() => sqliteWriteTransaction(this.#db, this.#path, 'run database', work));
  }

  /**
   * A write through a reader's connection (a bug: the commands that open one only read) fails as
   * SQLite refuses it, SQLITE_READONLY: ERR_STORE_READ_ONLY, named as opened read-only.
   */
  #guardWrite<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (this.#reader === undefined) throw error;
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'ERR_STORE_READ_ONLY' || ((sqliteErrorCode(error) ?? 0) & 0xff) === SQLITE_READONLY) throw readerWrite();
      throw sqliteFault(error, this.#path, 'run database');
    }
  }

  #read<T>(work: () => T): T {
    try {
      return this.#reader === undefined ? work() : this.#reader.read(work);
    } catch (error) {
      throw sqliteFault(error, this.#path, 'run database');
    }
  }

  async put(batch: readonly RunToStore[]): Promise<PutResult> {
    if (batch.length === 0) return { existing: [], refused: [] };
    // At once when no run is large: a put is sent to the thread before put returns (close waits for it).
    const made = runWritesOf(batch);
    const writes = Array.isArray(made) ? made : await made;
    if (this.#thread !== undefined) return writes.length === 1 && writes[0]!.packed !== undefined ? this.#putInSteps(this.#thread, writes[0]!, () => writesOf(batch)) : ((await this.#thread.write({ put: writes }, packedTransfer(writes))) as PutResult);
    return this.#guardWrite(() => writeRuns(this.#db, this.#path, this.#writes, writes));
  }

  /** The last large run written in steps (#putInSteps): one at a time, so that none takes another's rows for a crash's. */
  #staging: Promise<void> = Promise.resolve();
  #nextStage = 0;

  /**
   * A large run put alone, in steps (sqlite-runs-write.ts Staged): its rows in transactions of
   * STEP_ELEMENTS rows, its runs row in a last one; the puts sent meanwhile are committed between
   * them. Durable and visible once it resolves, as a put in one transaction.
   */
  async #putInSteps(thread: SqliteWriterThread<RunsTask, RunsResult>, write: RunWrite, remake: () => Promise<RunWrite[]>): Promise<PutResult> {
    const before = this.#staging;
    let done!: () => void;
    this.#staging = new Promise<void>((resolve) => (done = resolve));
    await before;
    // The write's packing moved to the thread with its first message: made again to be sent again.
    const putAgain = async (drop?: number) => {
      const writes = await remake();
      return (await thread.write(drop === undefined ? { put: writes } : { put: writes, drop }, packedTransfer(writes))) as PutResult;
    };
    try {
      const id = this.#nextStage++;
      const begun = (await thread.write({ stage: { id, write } }, packedTransfer([write]))) as StageAnswer;
      if ('stored' in begun) return await putAgain();
      let ended: PutResult | StageAnswer;
      try {
        while (!((await thread.write({ stageStep: { id } })) as { done: boolean }).done);
        ended = (await thread.write({ stageEnd: { id } })) as PutResult | StageAnswer;
      } catch (error) {
        await thread.write({ stageDrop: { id } }).catch(() => undefined);
        throw error;
      }
      if ('redo' in ended) return await putAgain(ended.redo);
      return ended as PutResult;
    } finally {
      done();
    }
  }

  async probe(): Promise<void> {
    // A transaction that writes nothing is no write SQLite refuses: a reader answers for it.
    if (this.#reader !== undefined) throw readerWrite();
    if (this.#thread !== undefined) return void (await this.#thread.write({ probe: true }));
    this.#guardWrite(() => writeNothing(this.#db, this.#path));
  }

  /**
   * How errors name this store (run-storage.ts damagedRun): the file for the operator, not for an
   * HTTP answer.
   */
  get #names(): StoreName {
    return { local: `run database ${this.#path}`, remote: 'run database' };
  }

  /**
   * A run as stored. Its record must be JSON and give its row's record digest (storedRecord),
   * its identity document must be JSON and give its identities, the record's (storedIdentity;
   * `roots`: its list roots from its element digests too, where one run or a batch to sign is
   * read): a page whose bytes changed but whose cells are still well formed (the second half of a
   * torn write, a changed byte) is read by SQLite without an error and passes quick_check too.
   * ERR_STORE_CORRUPT naming the file and the run otherwise, never the wrong record, nor a JSON
   * parse error.
   */
  #stored(row: RunRow, roots = false): StoredRun {
    const digests = (this.#digestsOf.all(row.seq) as unknown as Array<Omit<RunDigest, 'kept'> & { kept: number }>).map((d) => ({ part: d.part as ContentPart, position: d.position, digest: d.digest, kept: d.kept === 1 }));
    return storedRun(this.#names, { seq: row.seq, recordDigest: row.record_digest, record: row.record, identity: row.identity, model: row.model, capture: row.capture, receipt: row.receipt, logIndex: row.log_index, contentExpired: row.content_expired === 1 }, digests, roots);
  }

  /**
   * #stored of each row, with a turn of the event loop between them; a large run's
   * (largeIdentityText) in steps, its digests a page of STEP_ELEMENTS rows at a time
   * (storedRunInSteps): 100,000 digest rows read at once held the event loop 0.2 to 0.5 s.
   */
  async #storedInSteps(rows: RunRow[], roots = false): Promise<StoredRun[]> {
    const runs: StoredRun[] = [];
    for (const row of rows) {
      if (!largeIdentityText(row.identity)) {
        await nextTurn();
        runs.push(this.#read(() => this.#stored(row, roots)));
        continue;
      }
      const page = (after: RunDigest | undefined) =>
        this.#read(() => {
          const found = (after === undefined ? this.#digestsFirst.all(row.seq, STEP_ELEMENTS) : this.#digestsAfter.all(row.seq, after.part, after.position, STEP_ELEMENTS)) as unknown as Array<Omit<RunDigest, 'kept'> & { kept: number }>;
          return Promise.resolve(found.map((d) => ({ part: d.part as ContentPart, position: d.position, digest: d.digest, kept: d.kept === 1 })));
        });
      runs.push(await storedRunInSteps(this.#names, { seq: row.seq, recordDigest: row.record_digest, record: row.record, identity: row.identity, model: row.model, capture: row.capture, receipt: row.receipt, logIndex: row.log_index, contentExpired: row.content_expired === 1 }, page, roots));
    }
    return runs;
  }

  async claimUnsigned(limit: number, claimant: string, staleBefore: string, capture?: 'proxy' | 'sdk', ownBefore?: string): Promise<ClaimedRuns> {
    const claim: ClaimWrite = { claimant, now: new Date().toISOString(), staleBefore, limit, ...(capture === undefined ? {} : { capture }), ...(ownBefore === undefined ? {} : { ownBefore }) };
    // On the writer thread when there is one: a claim waits for the write lock (up to
    // SHORT_BUSY_MS), which would hold the event loop and every call in it.
    const rows = this.#thread !== undefined ? (((await this.#thread.write({ claim })) ?? []) as RunRow[]) : this.#guardWrite(() => writeClaim(this.#db, this.#path, claim));
    return claimedRuns(rows.sort((a, b) => a.seq - b.seq), (row) => this.#stored(row, true));
  }

  async unlogged(limit: number, afterSeq = 0, maxBytes?: number): Promise<Array<{ seq: number; recordDigest: string; receipt: string; runId: string | null }>> {
    // octet_length reads a text's length from its row, not the text.
    const longest = maxBytes === undefined ? '' : ` AND octet_length(receipt) <= ${Math.floor(maxBytes)}`;
    return this.#read(() =>
      (this.#db.prepare(`SELECT seq, record_digest, receipt, run_id FROM runs WHERE receipt IS NOT NULL AND log_index IS NULL AND seq > ?${longest} ORDER BY seq LIMIT ?`).all(afterSeq, limit) as unknown as { seq: number; record_digest: string; receipt: string; run_id: string | null }[]).map(
        (row) => ({ seq: row.seq, recordDigest: row.record_digest, receipt: row.receipt, runId: row.run_id }),
      ),
    );
  }

  async unloggedCount(atMost: number): Promise<number> {
    return this.#read(() => (this.#db.prepare('SELECT COUNT(*) AS count FROM (SELECT 1 FROM runs WHERE receipt IS NOT NULL AND log_index IS NULL LIMIT ?)').get(atMost) as { count: number }).count);
  }

  async lastLogged(): Promise<LoggedRun | undefined> {
    const row = this.#read(() => this.#db.prepare('SELECT log_index, receipt, record_digest FROM runs WHERE log_index IS NOT NULL AND receipt IS NOT NULL ORDER BY log_index DESC LIMIT 1').get()) as { log_index: number; receipt: string; record_digest: string } | undefined;
    return row === undefined ? undefined : { logIndex: row.log_index, receipt: row.receipt, recordDigest: row.record_digest };
  }

  async logIndexHolders(logIndex: number): Promise<string[]> {
    return this.#read(() => (this.#db.prepare('SELECT record_digest FROM runs WHERE log_index = ? ORDER BY seq LIMIT 10').all(logIndex) as { record_digest: string }[]).map((row) => row.record_digest));
  }

  async logCheckpoint(origin: string): Promise<LogCheckpoint | undefined> {
    return this.#read(() => {
      const row = this.#db.prepare('SELECT size, root_hash FROM run_log_checkpoints WHERE origin = ?').get(origin) as { size: number; root_hash: Uint8Array } | undefined;
      return row === undefined ? undefined : { size: row.size, rootHash: new Uint8Array(row.root_hash) };
    });
  }

  /**
   * The binding row inserted unless there is one (only the first of the connections sharing the
   * file makes it), and read back, in one BEGIN IMMEDIATE transaction: on this connection, not the
   * writer thread's, as serve binds once at start, before anything is recorded.
   */
  async bindLog(verifierKey: string): Promise<LogBinding> {
    const row = this.#write(() => {
      this.#db.prepare('INSERT INTO run_log_binding (id, verifier_key, bound_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING').run(verifierKey, new Date().toISOString());
      return this.#db.prepare('SELECT verifier_key, bound_at FROM run_log_binding WHERE id = 1').get() as { verifier_key: string; bound_at: string };
    });
    return { verifierKey: row.verifier_key, boundAt: row.bound_at };
  }

  async setLogIndexes(items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }): Promise<void> {
    // No index but a checkpoint: serve's own log keeps its checkpoint alone (own-log-checkpoint.ts).
    if (items.length === 0 && checkpoint === undefined) return;
    const write = checkpoint === undefined ? undefined : { origin: checkpoint.origin, size: checkpoint.size, rootHash: checkpoint.rootHash };
    // On the writer thread when there is one: waiting here for the write lock (the thread holds it
    // through each commit's fsync) would hold the event loop.
    if (this.#thread !== undefined) {
      const logIndexes = items.map((item) => ({ recordDigest: item.recordDigest, logIndex: item.logIndex }));
      return void (await this.#thread.write(write === undefined ? { logIndexes } : { logIndexes, checkpoint: write }));
    }
    this.#guardWrite(() => writeLogIndexes(this.#db, this.#path, this.#writes, items, write));
  }

  async setReceipts(items: ReadonlyArray<{ recordDigest: string; receipt: string; logIndex: number | null }>, claimant?: string): Promise<void> {
    if (items.length === 0) return;
    // On the writer thread too: updating the rows (each with its record and identity) is work the
    // event loop need not do.
    if (this.#thread !== undefined) return void (await this.#thread.write(claimant === undefined ? { receipts: [...items] } : { receipts: [...items], claimant }));
    this.#guardWrite(() => writeReceipts(this.#db, this.#path, this.#writes, items, claimant));
  }

  #replayLinks = false;

  /** True once the replay links table exists (it is never dropped, so a true answer is kept). */
  #hasReplayLinks(): boolean {
    this.#replayLinks ||= this.#read(() => this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'replay_links'").get() !== undefined);
    return this.#replayLinks;
  }

  /** The WHERE clause of a query's filters (not its paging), and its arguments. */
  #where(query: RunQuery): { sql: string; args: (string | number)[] } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (sql: string, ...values: (string | number)[]) => {
      where.push(sql);
      args.push(...values);
    };
    if (query.since !== undefined) add('started >= ?', query.since);
    if (query.until !== undefined) add('started < ?', query.until);
    if (query.model !== undefined) add('model = ?', query.model);
    if (query.servedModel !== undefined) add('served_model = ?', query.servedModel);
    if (query.provider !== undefined) {
      const formats = formatsOf(query.provider);
      add(`${FORMAT} IN (${formats.map(() => '?').join(', ') || 'NULL'})`, ...formats);
    }
    if (query.status === 'unidentified') add('request_id IS NULL');
    else if (query.status !== undefined) add(`${ENDING} = ?`, query.status);
    if (query.parent !== undefined) add('seq IN (SELECT seq FROM run_parents WHERE parent = ?)', query.parent);
    // The replay links are a table of this file, made by the first replay (replay/replay-links.ts):
    // before it, no run was replayed.
    if (query.verdict !== undefined) {
      if (this.#hasReplayLinks()) add('record_digest IN (SELECT replay_of FROM replay_links WHERE verdict = ?)', query.verdict);
      else add('0');
    }
    if (query.component !== undefined) {
      if (query.component.part === undefined) add('seq IN (SELECT seq FROM run_digests WHERE digest = ?)', query.component.digest);
      else add('seq IN (SELECT seq FROM run_digests WHERE digest = ? AND part = ?)', query.component.digest, query.component.part);
    }
    return { sql: where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`, args };
  }

  async list(query: RunQuery): Promise<StoredRun[]> {
    const { sql, args } = this.#where(query);
    const paged = query.before === undefined ? sql : `${sql === '' ? 'WHERE' : `${sql} AND`} seq < ?`;
    if (query.before !== undefined) args.push(query.before);
    args.push(query.limit ?? 100);
    // The page's seqs first, then their rows: a filter whose index is not in seq order (a time
    // range) sorts seqs, not whole records (248 ms instead of 13 ms for a day of 1M runs).
    const page = `SELECT ${PAGE_COLUMNS} FROM runs WHERE seq IN (SELECT seq FROM runs ${paged} ORDER BY seq DESC LIMIT ?) ORDER BY seq DESC`;
    let rows: PageRow[] = [];
    const runs = this.#read(() => {
      rows = this.#db.prepare(page).all(...args) as unknown as PageRow[];
      return rows.some((row) => row.large === 1) ? undefined : rows.map((row) => this.#stored(row));
    });
    return runs ?? this.#storedInSteps(await this.#largeTexts(rows));
  }

  /**
   * The rows of a page (PAGE_COLUMNS) whole: each large run's identity document and receipt read
   * in a turn of its own. A run deleted meanwhile (retention) is left out, as a page read after.
   */
  async #largeTexts(rows: readonly PageRow[]): Promise<RunRow[]> {
    const whole: RunRow[] = [];
    for (const row of rows) {
      if (row.large !== 1) {
        whole.push(row);
        continue;
      }
      const identity = await this.#textInSteps(row.seq, 'identity');
      const receipt = identity === undefined ? undefined : await this.#textInSteps(row.seq, 'receipt');
      if (identity === undefined || receipt === undefined) continue;
      whole.push({ ...row, identity, receipt });
    }
    return whole;
  }

  /**
   * A large run's identity document or receipt, read LARGE_TEXT_STEP bytes of its UTF-8 at a time,
   * each in a turn of its own, and decoded as node:sqlite decodes the column (storedTextReader): read in
   * one go, the 8 to 10 MB of a run of 100,000 elements held the event loop 55 to 100 ms on a
   * 2-core machine, mostly in new memory. Both are written once (a receipt only where there was
   * none), so the pieces are of one text. Undefined when the run is gone (deleted meanwhile).
   */
  async #textInSteps(seq: number, column: 'identity' | 'receipt'): Promise<string | null | undefined> {
    await nextTurn();
    const size = this.#read(() => this.#db.prepare(`SELECT octet_length(${column}) AS size FROM runs WHERE seq = ?`).get(seq)) as { size: number | null } | undefined;
    if (size === undefined || size.size === null) return size === undefined ? undefined : null;
    const reader = storedTextReader();
    const pieces: string[] = [];
    for (let from = 0; from < size.size; from += LARGE_TEXT_STEP) {
      await nextTurn();
      const row = this.#read(() => this.#db.prepare(`SELECT substr(CAST(${column} AS BLOB), ?, ?) AS piece FROM runs WHERE seq = ?`).get(from + 1, LARGE_TEXT_STEP, seq)) as { piece: Uint8Array | null } | undefined;
      if (row === undefined || row.piece === null) return undefined;
      pieces.push(reader.piece(row.piece));
    }
    pieces.push(reader.end());
    await nextTurn();
    return pieces.join('');
  }

  async replayLinks(recordDigests: readonly string[]): Promise<StoredReplayLink[]> {
    if (recordDigests.length === 0 || !this.#hasReplayLinks()) return [];
    const sql = `WITH wanted(digest) AS (SELECT value FROM json_each(?))
      SELECT r.record_digest AS replay, r.capture_id AS replay_capture, r.seq AS replay_seq,
             o.record_digest AS original, o.capture_id AS original_capture, o.seq AS original_seq, l.verdict
      FROM replay_links l JOIN runs r ON r.record_digest = l.replay JOIN runs o ON o.record_digest = l.replay_of
      WHERE l.replay IN wanted OR l.replay_of IN wanted ORDER BY l.rowid`;
    return this.#read(() => (this.#db.prepare(sql).all(JSON.stringify(recordDigests)) as unknown as ReplayLinkRow[]).map(replayLinkOf));
  }

  async counts(query: RunQuery): Promise<RunCounts> {
    const { sql, args } = this.#where(query);
    // Filters other than the models have no index that holds the identities: their runs are read
    // once (four columns each) and counted here, instead of once per number.
    const { model: _model, servedModel: _servedModel, limit: _limit, before: _before, ...others } = query;
    if (Object.values(others).some((value) => value !== undefined)) return this.#read(() => this.#countRows(sql, args));
    return this.#read(() => {
      // One query per number, each able to use its own index. Distinct identities are counted as
      // distinct rows of an index in identity order (no temporary b-tree of a million strings); a
      // run identity names one request identity, so (request, run) pairs are as many as run identities.
      const and = sql === '' ? 'WHERE' : `${sql} AND`;
      const count = (from: string) => (this.#db.prepare(`SELECT count(*) AS n FROM ${from}`).get(...args) as { n: number }).n;
      const totals = {
        runs: count(`runs ${sql}`),
        requests: count(`(SELECT DISTINCT request_id FROM runs ${and} request_id IS NOT NULL)`),
        identities: count(`(SELECT DISTINCT request_id, run_id FROM runs ${and} run_id IS NOT NULL)`),
      };
      const groups = (column: string) => this.#db.prepare(`SELECT ${column} AS name, count(*) AS runs FROM runs ${sql} GROUP BY ${column} ORDER BY count(*) DESC, ${column} IS NULL, ${column} LIMIT ${COUNTS_GROUPS}`).all(...args) as { name: string | null; runs: number }[];
      return {
        runs: totals.runs,
        requestIdentities: totals.requests,
        runIdentities: totals.identities,
        models: groups('model').map((group) => ({ model: group.name, runs: group.runs })),
        servedModels: groups('served_model').map((group) => ({ servedModel: group.name, runs: group.runs })),
      };
    });
  }

  /** Counts of the runs `where` selects, from one read of their models and identities. */
  #countRows(where: string, args: (string | number)[]): RunCounts {
    const requests = new Set<string>();
    const identities = new Set<string>();
    const models = new Map<string | null, number>();
    const served = new Map<string | null, number>();
    let runs = 0;
    const rows = this.#db.prepare(`SELECT model, served_model, request_id, run_id FROM runs ${where}`).iterate(...args) as Iterable<{ model: string | null; served_model: string | null; request_id: string | null; run_id: string | null }>;
    for (const row of rows) {
      runs++;
      if (row.request_id !== null) requests.add(row.request_id);
      if (row.run_id !== null) identities.add(row.run_id);
      models.set(row.model, (models.get(row.model) ?? 0) + 1);
      served.set(row.served_model, (served.get(row.served_model) ?? 0) + 1);
    }
    // As the SQL of the other path orders them: most runs first, then by name, none last.
    const largest = (groups: Map<string | null, number>) => [...groups]
      .sort(([a, m], [b, n]) => n - m || (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0))
      .slice(0, COUNTS_GROUPS);
    return {
      runs,
      requestIdentities: requests.size,
      runIdentities: identities.size,
      models: largest(models).map(([model, count]) => ({ model, runs: count })),
      servedModels: largest(served).map(([servedModel, count]) => ({ servedModel, runs: count })),
    };
  }

  async find(id: string): Promise<StoredRun[]> {
    let rows: PageRow[] = [];
    const runs = this.#read(() => {
      // The rows by seq (their order in the index), not sorted: a sort copied a large run's record,
      // identity document and receipt (18 MB for 100,000 elements) into a temporary b-tree.
      rows = this.#db.prepare(`SELECT ${PAGE_COLUMNS} FROM runs WHERE seq IN (SELECT seq FROM runs WHERE run_id = ? OR record_digest = ? OR capture_id = ?) ORDER BY seq`).all(id, id, id) as unknown as PageRow[];
      return rows.some((row) => row.large === 1) ? undefined : rows.map((row) => this.#stored(row, true));
    });
    return runs ?? this.#storedInSteps(await this.#largeTexts(rows), true);
  }

  async content(digest: string): Promise<Uint8Array | undefined> {
    return this.#read(() => {
      const row = this.#contentOf.get(digest) as { bytes: Uint8Array } | undefined;
      return row === undefined ? undefined : new Uint8Array(row.bytes);
    });
  }

  async contentStored(digests: readonly string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    // The content table's key only: the bytes (overflow pages past a few KB) are not read.
    const sql = 'SELECT digest FROM content WHERE digest IN (SELECT value FROM json_each(?))';
    const asked = [...new Set(digests)];
    if (asked.length <= STEP_ELEMENTS) return this.#read(() => new Set((this.#db.prepare(sql).all(JSON.stringify(asked)) as { digest: string }[]).map((row) => row.digest)));
    // Those of a large run (100,000 elements kept as digests only), STEP_ELEMENTS at a time with a turn between.
    const found = new Set<string>();
    for (let start = 0; start < asked.length; start += STEP_ELEMENTS) {
      await nextTurn();
      for (const row of this.#read(() => this.#db.prepare(sql).all(JSON.stringify(asked.slice(start, start + STEP_ELEMENTS))) as { digest: string }[])) found.add(row.digest);
    }
    return found;
  }

  async contents(digests: readonly string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    if (digests.length === 0) return found;
    const sql = 'SELECT digest, bytes FROM content WHERE digest IN (SELECT value FROM json_each(?))';
    for (const row of this.#read(() => this.#db.prepare(sql).all(JSON.stringify([...new Set(digests)])) as Array<{ digest: string; bytes: Uint8Array }>)) found.set(row.digest, new Uint8Array(row.bytes));
    return found;
  }

  /** True while content was deleted but the WAL could not be emptied since (another connection was reading). */
  #walHoldsDeleted = false;

  /**
   * Deletes the content of runs that ended before `before`, in steps of a write transaction each
   * (sqlite-runs-write.ts expireStep: a bounded number of runs by seq, only the content their
   * digests named and no digest row keeps any more), on the writer thread when there is one, so
   * that the commits sent meanwhile are made between steps, else on this connection with a turn of
   * the event loop between steps. A failure or a crash between steps leaves no run half done but a
   * run larger than a step (released over several, marked by its last): the next expire takes the
   * runs not marked yet. With secure_delete (RUNS_PRAGMAS) the deleted rows
   * are zeros in the pages written; a sweep that deleted content then rewrites the content table
   * (rewriteContent: what secure_delete misses); the WAL still holds the frames that inserted them,
   * and the database file the pages as they were until a checkpoint: so a checkpoint follows that
   * copies every frame into the file and truncates the WAL to nothing (#emptyWal).
   */
  async expire(before: string): Promise<number> {
    let runs = 0;
    let deleted = false;
    // The store keeps whether a rewrite is due (content_rewrite_due, set in the transaction of the
    // step that deleted content or released salts), so one a crash or a held lock left is done too.
    let due = false;
    for (let after = 0; ; ) {
      const task = { before, after };
      const step = this.#thread !== undefined ? ((await this.#thread.write({ expire: task })) as ExpireStep) : this.#guardWrite(() => expireStep(this.#db, this.#path, this.#writes, task));
      runs += step.marked;
      after = step.after;
      deleted ||= step.deleted;
      due ||= step.rewriteDue;
      if (step.done) break;
      if (this.#thread === undefined) await nextTurn();
    }
    let rewritten = false;
    if (due) {
      // No copy of deleted content may stay in the file (rewriteContent): not of salts, which make a
      // commitment openable, nor of a prompt, an input or response bytes retention was asked to delete.
      try {
        if (this.#thread !== undefined) await this.#thread.write({ rewriteContent: true });
        else this.#guardWrite(() => rewriteContent(this.#db, this.#path));
        rewritten = true;
      } catch (error) {
        // Another connection held the write lock for more than SHORT_BUSY_MS: the next expire tries again.
        if ((error as { code?: unknown } | null)?.code !== 'ERR_STORE_LOCKED') throw error;
      }
    }
    // The rewritten pages are in the WAL until this copies them over the file's old ones.
    if (deleted || rewritten || this.#walHoldsDeleted) this.#walHoldsDeleted = !this.#emptyWal();
    return runs;
  }

  /**
   * wal_checkpoint(TRUNCATE): every committed frame is written to the database file and synced
   * before the WAL is truncated, so nothing committed is lost. It waits (at most SHORT_BUSY_MS, not
   * the usual 5 s: this blocks the thread) for a writer to commit and for readers of an older
   * snapshot to finish; when one does not, the WAL keeps those frames (copied into the file as far
   * as the readers allow) and false is answered: the next expire tries again, and SQLite deletes
   * the WAL when its last connection closes.
   */
  #emptyWal(): boolean {
    return this.#read(() => waitingShort(this.#db, () => (this.#db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number } | undefined)?.busy === 0));
  }


  async close(): Promise<void> {
    await this.#thread?.close();
    this.#reader?.close();
    if (this.#db.isOpen) this.#db.close();
  }
}
