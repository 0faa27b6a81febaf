/**
 * Writing captured runs to the SQLite run store: the rows of one batch as plain data (so they can
 * be handed to the writer thread, sqlite-runs-worker.ts, as they are) and the one transaction
 * that inserts them, and the receipts signed for them, used on the caller's thread and in the
 * writer thread alike.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../capture/large-run.ts';
import { inTurns, nextTurn, utf8BytesSteps } from '../io/steps.ts';
import { identityText, identityTextSteps } from './identity-text.ts';
import { RUN_COLUMNS, type PutResult, type RunRowOf, type RunToStore } from './run-storage.ts';
import { SQLITE_PRAGMAS } from './sqlite-log.ts';
import { sqliteWriteTransaction } from './storage-faults.ts';
import { LogError } from '../errors.ts';
import { checkpointForked, firstHeld } from './run-storage.ts';

/**
 * The pragmas of every connection to the run store: the log's, and secure_delete, so that what
 * retention deletes (content, salts) is overwritten with zeros in the pages, not only unlinked
 * (sqlite-runs.ts expire). Every connection that writes the file sets it: a page one connection
 * rewrote without it could keep a stale copy of a cell another later deletes. The WAL mode is the
 * file's, set at the store's first open (sqlite-runs.ts open, sqlite-wal.ts walAfterCheck).
 */
export const RUNS_PRAGMAS = `${SQLITE_PRAGMAS} PRAGMA secure_delete = ON;`;

/** One run's rows: the runs row's values, its digests (with whether it keeps each one's content), its content. */
export interface RunWrite {
  /**
   * record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture,
   * record, identity, receiptable, claimed_by, claimed_at. A large run's identity is its text's
   * UTF-8 (packedWriteSteps), moved to the writer thread and stored as that text (CAST AS TEXT).
   */
  run: [string, string, string | null, string | null, string | null, string | null, string, string, string, string, string | Uint8Array | null, number, string | null, string | null];
  parts: string[];
  positions: number[];
  digests: string[];
  kept: number[];
  content: { digest: string; bytes: Uint8Array }[];
  /**
   * A large run's digests and content (capture/large-run.ts), packed instead of in the five
   * arrays above (then empty): the same rows in a few typed arrays. A message to the writer thread
   * copies each object one by one on the sending thread, about 45 ms for the 100,000 digests and
   * pieces of content of a run of 100,000 messages, against a few for their packing; the typed
   * arrays it moves (packedTransfer).
   */
  packed?: PackedRows;
  /** RunToStore.captureIdOnce. */
  captureIdOnce: boolean;
}

/** A run's digest and content rows in a few objects (RunWrite.packed). */
export interface PackedRows {
  /** The part names, and each digest's part as an index into them. */
  partNames: string[];
  parts: Uint8Array;
  positions: Int32Array;
  /** The digests (ASCII, none holds a comma) joined by commas (AsciiList), and each one's kept flag. */
  digests: Uint8Array;
  kept: Uint8Array;
  /** The content's digests joined by commas (AsciiList); piece i is bytes[ends[i - 1] (0 for the first) .. ends[i]). */
  contentDigests: Uint8Array;
  bytes: Uint8Array;
  ends: Uint32Array;
}

/** A large run's identity text is encoded and copied this many characters or bytes at a time (packedWriteSteps). */
const STEP_BYTES = 1 << 20;

/** The runs row of a run (RunWrite.run). */
function runRow(run: RunToStore): RunWrite['run'] {
  return [
    run.recordDigest,
    run.record.captureId,
    run.record.runId,
    run.record.requestId,
    run.model,
    run.servedModel,
    run.record.times.started,
    run.record.times.ended,
    run.capture,
    run.recordJson,
    identityText(run.identity),
    run.receiptable ? 1 : 0,
    run.claimedBy ?? null,
    run.claimedBy === undefined ? null : new Date().toISOString(),
  ];
}

export function runWriteOf(run: RunToStore): RunWrite {
  const kept = new Set(run.kept);
  const write: RunWrite = {
    run: runRow(run),
    parts: [],
    positions: [],
    digests: [],
    kept: [],
    content: run.content,
    captureIdOnce: run.captureIdOnce === true,
  };
  for (const digest of run.digests) {
    write.parts.push(digest.part);
    write.positions.push(digest.position);
    write.digests.push(digest.digest);
    write.kept.push(kept.has(digest.digest) ? 1 : 0);
  }
  return write;
}

/**
 * The writes of a batch (runWriteOf each): at once when no run of it is large, else a promise of
 * them, a large run's rows packed (RunWrite.packed) in steps of STEP_ELEMENTS rows with a turn of
 * the event loop between.
 */
export function runWritesOf(batch: readonly RunToStore[]): RunWrite[] | Promise<RunWrite[]> {
  if (!batch.some((run) => run.digests.length >= LARGE_RUN_ELEMENTS)) return batch.map(runWriteOf);
  return (async () => {
    const writes: RunWrite[] = [];
    for (const run of batch) {
      if (run.digests.length < LARGE_RUN_ELEMENTS) {
        writes.push(runWriteOf(run));
        continue;
      }
      writes.push(await inTurns(packedWriteSteps(run)));
    }
    // The message that sends them is work of its own.
    await nextTurn();
    return writes;
  })();
}

/** runWritesOf, as a promise either way. */
export async function writesOf(batch: readonly RunToStore[]): Promise<RunWrite[]> {
  return runWritesOf(batch);
}

/**
 * runWriteOf with the rows packed, yielding between steps; the five arrays instead when a digest
 * holds a comma or a character beyond ASCII (never a SHA-256 in hex). Every piece is a typed array
 * made here, so the message to the writer thread moves them (packedTransfer) instead of copying
 * some 10 MB of fresh memory on this thread in one go (60 to 130 ms for a run of 100,000 messages).
 */
function* packedWriteSteps(run: RunToStore): Generator<void, RunWrite, void> {
  const text = yield* identityTextSteps(run.identity);
  const row = runRow(run);
  // The identity document's 8 MB text as UTF-8, moved: as a string the message copied it in one go (about 60 ms).
  if (text !== null) row[10] = yield* utf8BytesSteps(text, STEP_BYTES);
  yield;
  const kept = new Set<string>();
  let done = 0;
  for (const digest of run.kept) {
    kept.add(digest);
    if (++done % STEP_ELEMENTS === 0) yield;
  }
  const count = run.digests.length;
  const partNames: string[] = [];
  const parts = new Uint8Array(count);
  const positions = new Int32Array(count);
  const keptFlags = new Uint8Array(count);
  const digests = new AsciiList(run.digests.reduce((length, digest) => length + digest.digest.length + 1, 0));
  for (let i = 0; i < count; i++) {
    const digest = run.digests[i]!;
    let part = partNames.indexOf(digest.part);
    if (part < 0) part = partNames.push(digest.part) - 1;
    parts[i] = part;
    positions[i] = digest.position;
    keptFlags[i] = kept.has(digest.digest) ? 1 : 0;
    if (!digests.add(digest.digest)) return runWriteOf(run);
    if (++done % STEP_ELEMENTS === 0) yield;
  }
  let total = 0;
  const contentDigests = new AsciiList(run.content.reduce((length, piece) => length + piece.digest.length + 1, 0));
  const ends = new Uint32Array(run.content.length);
  for (let i = 0; i < run.content.length; i++) {
    const piece = run.content[i]!;
    if (!contentDigests.add(piece.digest)) return runWriteOf(run);
    total += piece.bytes.byteLength;
    ends[i] = total;
    if (++done % STEP_ELEMENTS === 0) yield;
  }
  yield;
  const bytes = new Uint8Array(total);
  for (let i = 0; i < run.content.length; i++) {
    bytes.set(run.content[i]!.bytes, i === 0 ? 0 : ends[i - 1]!);
    if (++done % STEP_ELEMENTS === 0) yield;
  }
  return {
    run: row,
    parts: [],
    positions: [],
    digests: [],
    kept: [],
    content: [],
    packed: { partNames, parts, positions, digests: digests.bytes(), kept: keptFlags, contentDigests: contentDigests.bytes(), bytes, ends },
    captureIdOnce: run.captureIdOnce === true,
  };
}

/** Strings of ASCII characters other than the comma, written one after the other into bytes, comma-separated. */
class AsciiList {
  readonly #bytes: Uint8Array;
  #length = 0;
  /** `capacity`: the strings' lengths, plus one each. */
  constructor(capacity: number) {
    this.#bytes = new Uint8Array(capacity);
  }
  /** Adds `text`; false (nothing added) when it holds a comma or a character beyond ASCII. */
  add(text: string): boolean {
    const start = this.#length === 0 ? 0 : this.#length + 1;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f || code === 0x2c) return false;
      this.#bytes[start + i] = code;
    }
    if (this.#length > 0) this.#bytes[this.#length] = 0x2c;
    this.#length = start + text.length;
    return true;
  }
  /** The strings so far, comma-separated. */
  bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }
}

const latin1 = new TextDecoder('latin1');

/** The strings of a comma-separated ASCII list (AsciiList). */
function asciiList(bytes: Uint8Array): string[] {
  return bytes.length === 0 ? [] : latin1.decode(bytes).split(',');
}

/** The buffers a message of `writes` moves to the writer thread instead of copying (each a packed write's own). */
export function packedTransfer(writes: readonly RunWrite[]): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const write of writes) {
    const packed = write.packed;
    if (packed === undefined) continue;
    const identity = write.run[10];
    for (const view of [packed.parts, packed.positions, packed.digests, packed.kept, packed.contentDigests, packed.bytes, packed.ends, ...(identity instanceof Uint8Array ? [identity] : [])]) {
      if (!buffers.includes(view.buffer as ArrayBuffer)) buffers.push(view.buffer as ArrayBuffer);
    }
  }
  return buffers;
}

export interface RunWriteStatements {
  insertRun: StatementSync;
  insertDigest: StatementSync;
  insertContent: StatementSync;
  /** A record other than the given one (record digest) with the given capture id (RunToStore.captureIdOnce). */
  otherWithCaptureId: StatementSync;
  /** The stored record of this digest, when it has a receipt or a claim other than the given one (PutResult.existing). */
  signedElsewhere: StatementSync;
  /** A receipt and its log index, where the run has none yet. */
  setReceipt: StatementSync;
  /** The same, only where `claimant` still holds the run's claim. */
  setClaimedReceipt: StatementSync;
  /** A log index for a receipt stored without one. */
  setLogIndex: StatementSync;
  /** The runs, other than the given one (record digest), that hold this log index (runs_log_index), with their receipts. */
  logIndexHolder: StatementSync;
  /** A run's stored receipt. */
  receiptOf: StatementSync;
  /** A log's verified checkpoint, where none is stored or the stored one is smaller. */
  advanceCheckpoint: StatementSync;
  /** The log's verified checkpoint stored (its root hash, for a size). */
  checkpointOf: StatementSync;
  /** insertRun with the run's seq given (a large run written in steps: its digest rows are there already under it). */
  insertRunAt: StatementSync;
  /** Whether a record of this digest is stored. */
  recordStored: StatementSync;
  /** How many digest rows a seq has. */
  countDigests: StatementSync;
  /** The digest rows of a seq no run has (a large run's written in steps, left). */
  dropStaged: StatementSync;
  /** The digest rows of seqs above every run's: those of large runs whose writing in steps never ended (a crash, a failure). */
  dropOrphans: StatementSync;
  /** A piece of content no digest row keeps (its digest given twice). */
  dropUnkept: StatementSync;
  /** Every piece of content no digest row keeps (as retention deletes it). */
  dropAllUnkept: StatementSync;
  /** The highest seq of a run (0 for none). */
  lastSeq: StatementSync;
  /** The runs after a seq, in seq order, each with whether it is due to expire (ended before a time, not expired yet): expireStep. */
  expireScan: StatementSync;
  /** Releases at most so many of a run's kept digests, answering them with their parts. */
  releaseDigests: StatementSync;
  /** Whether a run still keeps a digest. */
  keepsAny: StatementSync;
  /** How many digests a run keeps, counted up to a bound (expireStep: whether it fits what the step has left). */
  keptUpTo: StatementSync;
  /** Marks a run's content expired. */
  markExpired: StatementSync;
  /** Large runs being written in steps on this connection, by the id their writer gave (beginStaged). */
  staged: Map<number, Staged>;
}

/** A signed run's receipt (a DSSE envelope's JSON) and its log index, null when not logged yet. */
export interface ReceiptWrite {
  recordDigest: string;
  receipt: string;
  logIndex: number | null;
}

/** A receipt's index in a log, for a run whose receipt is stored without one. */
export interface LogIndexWrite {
  recordDigest: string;
  logIndex: number;
}

/** A log's verified checkpoint to store with the indexes it proved (RunStorage.setLogIndexes). */
export interface CheckpointWrite {
  origin: string;
  size: number;
  rootHash: Uint8Array;
}

/** A claim of runs to sign (RunStorage.claimUnsigned's arguments, and the time of the claim). */
export interface ClaimWrite {
  claimant: string;
  now: string;
  staleBefore: string;
  capture?: 'proxy' | 'sdk';
  ownBefore?: string;
  limit: number;
}

/** A run row as claims (and the store's reads) give it back. */
export type RunRow = RunRowOf<number>;
export { RUN_COLUMNS };

/**
 * What the writer thread is sent: a batch of runs to insert, receipts to store, their log
 * indexes, a claim (answered with the rows claimed), a probe (writeNothing), a step of retention
 * (expireStep), or a rewrite of the content table (rewriteContent).
 */
export type RunsTask =
  | { put: RunWrite[]; drop?: number }
  | { stage: { id: number; write: RunWrite } }
  | { stageStep: { id: number } }
  | { stageEnd: { id: number } }
  | { stageDrop: { id: number } }
  | { receipts: ReceiptWrite[]; claimant?: string }
  | { logIndexes: LogIndexWrite[]; checkpoint?: CheckpointWrite }
  | { claim: ClaimWrite }
  | { probe: true }
  | { expire: ExpireWrite }
  | { rewriteContent: true };
/**
 * The writer thread's answer: the rows of a claim, what a put did not store (writeRuns), a large
 * run's writing in steps (StageAnswer), nothing for the other tasks.
 */
export type RunsResult = RunRow[] | PutResult | StageAnswer | ExpireStep | undefined;

/**
 * How long a claim or a probe waits for the write lock (ms), instead of the connection's 5 s: a
 * claim that cannot be made is made by the next sweep, a second later, a probe is made again a
 * few seconds later, and meanwhile either holds the writer thread's queue (the puts behind it)
 * or, without a thread, the event loop.
 */
export const SHORT_BUSY_MS = 1000;
/** The busy timeout of every connection to the run store (SQLITE_PRAGMAS). */
const BUSY_MS = 5000;

export function prepareRunWrites(db: DatabaseSync): RunWriteStatements {
  return {
    insertRun: db.prepare(
      `INSERT INTO runs (record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture, record, identity, receiptable, claimed_by, claimed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?) ON CONFLICT (record_digest) DO NOTHING RETURNING seq`,
    ),
    insertDigest: db.prepare('INSERT INTO run_digests (seq, part, position, digest, kept) VALUES (?, ?, ?, ?, ?)'),
    insertContent: db.prepare('INSERT INTO content (digest, bytes) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING'),
    otherWithCaptureId: db.prepare('SELECT 1 AS taken FROM runs WHERE capture_id = ? AND record_digest <> ? LIMIT 1'),
    signedElsewhere: db.prepare('SELECT 1 AS elsewhere FROM runs WHERE record_digest = ? AND (receipt IS NOT NULL OR claimed_by IS NOT ?)'),
    setReceipt: db.prepare('UPDATE runs SET receipt = ?, log_index = ? WHERE record_digest = ? AND receipt IS NULL'),
    setClaimedReceipt: db.prepare('UPDATE runs SET receipt = ?, log_index = ? WHERE record_digest = ? AND receipt IS NULL AND claimed_by = ?'),
    setLogIndex: db.prepare('UPDATE runs SET log_index = ? WHERE record_digest = ? AND log_index IS NULL'),
    logIndexHolder: db.prepare('SELECT record_digest, receipt FROM runs WHERE log_index = ? AND record_digest <> ?'),
    receiptOf: db.prepare('SELECT receipt FROM runs WHERE record_digest = ?'),
    advanceCheckpoint: db.prepare('INSERT INTO run_log_checkpoints (origin, size, root_hash) VALUES (?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root_hash = excluded.root_hash WHERE run_log_checkpoints.size < excluded.size'),
    checkpointOf: db.prepare('SELECT root_hash FROM run_log_checkpoints WHERE origin = ? AND size = ?'),
    insertRunAt: db.prepare(
      `INSERT INTO runs (seq, record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture, record, identity, receiptable, claimed_by, claimed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq`,
    ),
    recordStored: db.prepare('SELECT 1 AS stored FROM runs WHERE record_digest = ?'),
    countDigests: db.prepare('SELECT count(*) AS count FROM run_digests WHERE seq = ?'),
    dropStaged: db.prepare('DELETE FROM run_digests WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM runs WHERE seq = ?)'),
    dropOrphans: db.prepare('DELETE FROM run_digests WHERE seq > (SELECT coalesce(max(seq), 0) FROM runs)'),
    dropUnkept: db.prepare('DELETE FROM content WHERE digest = ? AND NOT EXISTS (SELECT 1 FROM run_digests WHERE run_digests.digest = ? AND kept = 1)'),
    dropAllUnkept: db.prepare('DELETE FROM content WHERE NOT EXISTS (SELECT 1 FROM run_digests WHERE run_digests.digest = content.digest AND kept = 1)'),
    lastSeq: db.prepare('SELECT max((SELECT coalesce(max(seq), 0) FROM runs), (SELECT coalesce(max(seq), 0) FROM run_digests)) AS seq'),
    expireScan: db.prepare('SELECT seq, (content_expired = 0 AND ended < ?) AS due FROM runs WHERE seq > ? ORDER BY seq LIMIT ?'),
    releaseDigests: db.prepare('UPDATE run_digests SET kept = 0 WHERE (seq, part, position) IN (SELECT seq, part, position FROM run_digests WHERE seq = ? AND kept = 1 LIMIT ?) RETURNING part, digest'),
    keepsAny: db.prepare('SELECT 1 AS keeps FROM run_digests WHERE seq = ? AND kept = 1 LIMIT 1'),
    keptUpTo: db.prepare('SELECT count(*) AS kept FROM (SELECT 1 FROM run_digests WHERE seq = ? AND kept = 1 LIMIT ?)'),
    markExpired: db.prepare('UPDATE runs SET content_expired = 1 WHERE seq = ? AND content_expired = 0'),
    staged: new Map(),
  };
}

/**
 * A write transaction committed without waiting for the disk (synchronous = NORMAL: in WAL mode a
 * process crash loses nothing, a power loss may lose the last such commits). For claims and
 * receipts only, which the recorder can lose by design: a lost claim is taken over when stale, a
 * lost receipt is signed again from the durable record, the same bytes, which the log (committed
 * with a full sync before) holds once. The next full-sync commit makes them durable too.
 */
export function writeRelaxed<T>(db: DatabaseSync, path: string, work: () => T): T {
  // Waiting SHORT_BUSY_MS for the lock, not 5 s: a receipt or index not stored now is stored by
  // the recorder's next pass, and a long wait would hold up the writer thread (and a stop).
  return waitingShort(db, () => writeUnsynced(db, path, work));
}

/** A write transaction with synchronous = NORMAL (writeRelaxed), waiting for the lock as long as a put does. */
function writeUnsynced<T>(db: DatabaseSync, path: string, work: () => T): T {
  db.exec('PRAGMA synchronous = NORMAL');
  try {
    return sqliteWriteTransaction(db, path, 'run database', work);
  } finally {
    db.exec('PRAGMA synchronous = FULL');
  }
}

/**
 * Stores receipts of runs that have none yet; with `claimant`, only of runs that signer still
 * claims (relaxed). A log index another run holds, or one given to two runs of the batch, stores
 * none of the batch (ERR_LOG_REWRITE), checked in the write transaction as writeLogIndexes does.
 */
export function writeReceipts(db: DatabaseSync, path: string, statements: RunWriteStatements, items: readonly ReceiptWrite[], claimant?: string): void {
  writeRelaxed(db, path, () => {
    const held = firstHeld(items, holderIn(statements), 'receipt', receiptIn(statements));
    if (held !== undefined) throw held;
    for (const item of items) {
      if (claimant === undefined) statements.setReceipt.run(item.receipt, item.logIndex, item.recordDigest);
      else statements.setClaimedReceipt.run(item.receipt, item.logIndex, item.recordDigest, claimant);
    }
  });
}

/**
 * Stores log indexes where none is stored yet (relaxed, as receipts: a lost index is found again,
 * the log answering the index of an entry it holds). An index another run holds, or one given
 * to two runs of the batch, stores none of the batch: ERR_LOG_REWRITE (run-storage.ts indexHeld).
 * With `checkpoint`, it becomes the log's stored one where none is or the stored one is smaller;
 * one of its size with another root hash stores nothing (ERR_LOG_FORK, checkpointForked). Checked
 * and written in one write transaction, which SQLite's one write lock makes atomic across the
 * processes sharing the file.
 */
export function writeLogIndexes(db: DatabaseSync, path: string, statements: RunWriteStatements, items: readonly LogIndexWrite[], checkpoint?: CheckpointWrite): void {
  writeRelaxed(db, path, () => {
    if (checkpoint !== undefined) {
      const same = statements.checkpointOf.get(checkpoint.origin, checkpoint.size) as { root_hash: Uint8Array } | undefined;
      if (same !== undefined && Buffer.compare(same.root_hash, checkpoint.rootHash) !== 0) throw checkpointForked(checkpoint.size);
      statements.advanceCheckpoint.run(checkpoint.origin, checkpoint.size, checkpoint.rootHash);
    }
    const held = firstHeld(items, holderIn(statements), 'index', receiptIn(statements));
    if (held !== undefined) throw held;
    for (const item of items) statements.setLogIndex.run(item.logIndex, item.recordDigest);
  });
}

/** The run other than the given one that holds a log index (runs_log_index) with another receipt, for firstHeld. */
const holderIn = (statements: RunWriteStatements) => (logIndex: number, recordDigest: string, receipt: string | undefined): string | undefined => {
  // Almost always no row: the receipts are compared only when another run holds the index (and
  // not bound into the statement, a copy of each receipt per write).
  const holders = statements.logIndexHolder.all(logIndex, recordDigest) as { record_digest: string; receipt: string | null }[];
  if (holders.length === 0) return undefined;
  const mine = receipt ?? receiptIn(statements)(recordDigest);
  return holders.find((holder) => mine === undefined || holder.receipt !== mine)?.record_digest;
};

/** A run's stored receipt, for firstHeld. */
const receiptIn = (statements: RunWriteStatements) => (recordDigest: string) => (statements.receiptOf.get(recordDigest) as { receipt: string | null } | undefined)?.receipt ?? undefined;

/** Runs one task of the writer thread (or of the caller's thread, with the same statements). */
export function runTask(db: DatabaseSync, path: string, statements: RunWriteStatements, task: RunsTask): RunsResult {
  if ('put' in task) return writeRuns(db, path, statements, task.put, task.drop);
  if ('stage' in task) return beginStaged(db, path, statements, task.stage.id, task.stage.write);
  if ('stageStep' in task) return stepStaged(db, path, statements, task.stageStep.id);
  if ('stageEnd' in task) return endStaged(db, path, statements, task.stageEnd.id);
  if ('stageDrop' in task) dropStaged(db, path, statements, task.stageDrop.id);
  else if ('receipts' in task) writeReceipts(db, path, statements, task.receipts, task.claimant);
  else if ('logIndexes' in task) writeLogIndexes(db, path, statements, task.logIndexes, task.checkpoint);
  else if ('claim' in task) return writeClaim(db, path, task.claim);
  else if ('expire' in task) return expireStep(db, path, statements, task.expire);
  else if ('rewriteContent' in task) rewriteContent(db, path);
  else writeNothing(db, path);
  return undefined;
}

/** `work` with the connection's busy timeout at SHORT_BUSY_MS. */
export function waitingShort<T>(db: DatabaseSync, work: () => T): T {
  db.exec(`PRAGMA busy_timeout = ${SHORT_BUSY_MS}`);
  try {
    return work();
  } finally {
    db.exec(`PRAGMA busy_timeout = ${BUSY_MS}`);
  }
}

/**
 * Claims runs to sign (RunStorage.claimUnsigned) in one relaxed write transaction: SQLite's write
 * lock makes the claim atomic across processes. Waits SHORT_BUSY_MS at most for that lock.
 */
export function writeClaim(db: DatabaseSync, path: string, claim: ClaimWrite): RunRow[] {
  const { claimant, now, staleBefore, capture, ownBefore, limit } = claim;
  return waitingShort(db, () =>
    writeRelaxed(db, path, () =>
      db
        .prepare(
          `UPDATE runs SET claimed_by = ?, claimed_at = ? WHERE seq IN (
             SELECT seq FROM runs WHERE receiptable = 1 AND receipt IS NULL
               AND (claimed_by IS NULL OR (claimed_by = ?${ownBefore === undefined ? '' : ' AND claimed_at < ?'}) OR claimed_at < ?) ${capture === undefined ? '' : 'AND capture = ?'}
             ORDER BY seq LIMIT ?)
           RETURNING ${RUN_COLUMNS}`,
        )
        .all(...([claimant, now, claimant, ...(ownBefore === undefined ? [] : [ownBefore]), staleBefore, ...(capture === undefined ? [] : [capture]), limit] as (string | number)[])) as unknown as RunRow[],
    ),
  );
}

/**
 * A BEGIN IMMEDIATE transaction that writes nothing: it takes the write lock as a put does
 * (waiting SHORT_BUSY_MS at most), so it fails where a put would fail for a lock or a file that
 * cannot be written.
 */
export function writeNothing(db: DatabaseSync, path: string): void {
  waitingShort(db, () => sqliteWriteTransaction(db, path, 'run database', () => undefined));
}

/** Runs rows one step of retention reads at most (expireStep), runs it marks expired at most, digests it releases at most. */
export const EXPIRE_SCAN = 2_048;
export const EXPIRE_RUNS = 256;
export const EXPIRE_DIGESTS = 4_096;

/** A step of retention (expireStep): the runs that ended before `before`, from the first with a seq above `after`. */
export interface ExpireWrite {
  before: string;
  after: number;
}

/** What a step of retention did: the seq the next step starts after, the runs it marked expired, whether it deleted content or released salts, whether a rewrite of the content table is due (REWRITE_DUE), whether it was the last. */
export interface ExpireStep {
  after: number;
  marked: number;
  deleted: boolean;
  salts: boolean;
  rewriteDue: boolean;
  done: boolean;
}

/**
 * A rewrite of the content table is due (rewriteContent): one row, set in the transaction of the
 * step that deleted content or released salts, cleared in the rewrite's, so that a rewrite not
 * made (a crash after that step, a rewrite skipped as ERR_STORE_LOCKED and the process stopped)
 * is made by the next sweep of whichever process, even one that deletes nothing. Made the first
 * time a step needs it (a store of an older layout has none: nothing is due there).
 */
const REWRITE_DUE = 'CREATE TABLE IF NOT EXISTS content_rewrite_due (id INTEGER PRIMARY KEY CHECK (id = 1)) STRICT;';

/** Whether REWRITE_DUE holds its row. */
function rewriteDue(db: DatabaseSync): boolean {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'content_rewrite_due'").get() === undefined) return false;
  return db.prepare('SELECT 1 FROM content_rewrite_due').get() !== undefined;
}

/**
 * One step of retention (SqliteRuns.expire), in a write transaction of its own, so that the
 * writes sent meanwhile (a capture's commit) are committed between steps, not after one
 * transaction over every expiring run (tens of seconds for 75,000 runs, holding the write lock
 * and, on the caller's thread, the event loop). It reads at most EXPIRE_SCAN runs rows after
 * `after` in seq order; of those that ended before `before` and are not expired, it releases the
 * kept digests (at most EXPIRE_DIGESTS in all) of at most EXPIRE_RUNS runs, deletes the content of
 * the digests it released that no digest row keeps any more (the digest index: content another
 * run keeps stays, content these runs did not name is not read), and marks expired each run none
 * of whose digests is kept now. A run whose kept digests do not fit what the step has left is
 * left whole for the next step, which takes it first; so a run of EXPIRE_DIGESTS digests or fewer
 * is released and marked in one step, and a crash or a failure between steps leaves none of them
 * half done. A run of more (a large run) is released over several steps, each taking it first,
 * and is marked by its last; until then a reader sees its released pieces as not stored, and a
 * crash in between leaves it half released, not marked: the next expire takes the rest. Not
 * synced (synchronous = NORMAL): a step a power loss undoes is done again by the next sweep, and
 * the rewrite and checkpoint that follow a sweep that deleted content sync what it did.
 */
export function expireStep(db: DatabaseSync, path: string, statements: RunWriteStatements, step: ExpireWrite): ExpireStep {
  return writeUnsynced(db, path, () => {
    const rows = statements.expireScan.all(step.before, step.after, EXPIRE_SCAN) as { seq: number; due: number }[];
    const released = new Set<string>();
    let after = step.after;
    let marked = 0;
    let budget = EXPIRE_DIGESTS;
    let salts = false;
    let stopped = false;
    for (const row of rows) {
      if (row.due === 1) {
        if (marked === EXPIRE_RUNS || budget === 0) {
          stopped = true;
          break;
        }
        // A run that does not fit what the step has left waits for the next step, which takes it
        // first, unless the step has released nothing yet (a large run, spread over steps).
        if (budget < EXPIRE_DIGESTS && Number((statements.keptUpTo.get(row.seq, budget + 1) as { kept: number }).kept) > budget) {
          stopped = true;
          break;
        }
        const digests = statements.releaseDigests.all(row.seq, budget) as { part: string; digest: string }[];
        for (const { part, digest } of digests) {
          if (part === 'salts') salts = true;
          released.add(digest);
        }
        const more = digests.length === budget && statements.keepsAny.get(row.seq) !== undefined;
        budget -= digests.length;
        if (more) {
          // Its other digests in the next step, which takes it again (not marked, seq not passed).
          stopped = true;
          break;
        }
        marked += Number(statements.markExpired.run(row.seq).changes);
      }
      after = row.seq;
    }
    let deleted = false;
    for (const digest of released) if (Number(statements.dropUnkept.run(digest, digest).changes) > 0) deleted = true;
    if (deleted || salts) db.exec(`${REWRITE_DUE} INSERT OR IGNORE INTO content_rewrite_due (id) VALUES (1);`);
    return { after, marked, deleted, salts, rewriteDue: rewriteDue(db), done: !stopped && rows.length < EXPIRE_SCAN };
  });
}

/**
 * Rewrites the content table (after an expire that deleted content, salts or any other, and that
 * empties the WAL next): its rows copied to a new table, the old one dropped, the new one renamed
 * `content`, in one write transaction. secure_delete (RUNS_PRAGMAS) zeroes deleted cells and
 * freed pages, but a copy of a cell that a B-tree rebalance moved before the delete can stay in
 * the free space of its old page (seen about once in 50 runs of the salts' retention test, and a
 * few of 450 expired pieces of content, sqlite-retention-content.test.ts). Content's bytes are
 * only ever in the content table's pages (leaves, interior pages, overflow pages), and dropping
 * the table frees every one of them, which secure_delete overwrites with zeros: no copy of a
 * deleted row stays, as after a VACUUM of the whole file, which this replaces (it rewrote the
 * runs, digests and indexes too, ten times the content's size in a store of small runs, holding
 * the write lock for as long: 25 s for a store of 1.1 GB). Every row left is copied before the old
 * table's pages are freed: the first rewrite grows the file by about the content's size (later
 * ones reuse the freed pages), and the WAL holds about twice the content's size until the
 * checkpoint. Clears REWRITE_DUE in the same transaction. Waits SHORT_BUSY_MS at most for the write lock; throws as a write does
 * (ERR_STORE_LOCKED then, a full disk).
 */
export function rewriteContent(db: DatabaseSync, path: string): void {
  waitingShort(db, () =>
    sqliteWriteTransaction(db, path, 'run database', () => {
      db.exec(`DROP TABLE IF EXISTS content_rewritten;
        CREATE TABLE content_rewritten (digest TEXT PRIMARY KEY, bytes BLOB NOT NULL) STRICT, WITHOUT ROWID;
        INSERT INTO content_rewritten (digest, bytes) SELECT digest, bytes FROM content ORDER BY digest;
        DROP TABLE content;
        ALTER TABLE content_rewritten RENAME TO content;
        ${REWRITE_DUE} DELETE FROM content_rewrite_due;`);
    }),
  );
}

/**
 * Inserts a batch in one write transaction (synchronous = FULL: durable when it returns); says
 * which records it did not store (RunStorage.put): those stored before, and `captureIdOnce` runs
 * left out because another record has their capture id. SQLite's write transactions take the
 * database's one write lock, so that check and the insert are atomic across processes too.
 * `drop`: the seq of a large run's rows written in steps that could not end (endStaged), deleted
 * in the same transaction where no run has it.
 */
export function writeRuns(db: DatabaseSync, path: string, statements: RunWriteStatements, batch: readonly RunWrite[], drop?: number): PutResult {
  const refused: string[] = [];
  const existing: string[] = [];
  sqliteWriteTransaction(db, path, 'run database', () => {
    if (drop !== undefined) statements.dropStaged.run(drop, drop);
    for (const write of batch) {
      if (write.captureIdOnce && statements.otherWithCaptureId.get(write.run[1], write.run[0]) !== undefined) {
        refused.push(write.run[0]);
        continue;
      }
      const row = statements.insertRun.get(...write.run) as { seq: number } | undefined;
      // Stored before (the same record put twice): nothing more to do.
      if (row === undefined) {
        if (statements.signedElsewhere.get(write.run[0], write.run[12]) !== undefined) existing.push(write.run[0]);
        continue;
      }
      const packed = write.packed;
      if (packed !== undefined) {
        insertPacked(statements, row.seq, packed);
        continue;
      }
      for (let i = 0; i < write.digests.length; i++) statements.insertDigest.run(row.seq, write.parts[i]!, write.positions[i]!, write.digests[i]!, write.kept[i]!);
      for (const piece of write.content) statements.insertContent.run(piece.digest, piece.bytes);
    }
  });
  return { existing, refused };
}

/** The digest and content rows of a packed write (RunWrite.packed), as writeRuns inserts an unpacked one's. */
function insertPacked(statements: RunWriteStatements, seq: number, packed: PackedRows): void {
  const digests = asciiList(packed.digests);
  for (let i = 0; i < digests.length; i++) statements.insertDigest.run(seq, packed.partNames[packed.parts[i]!]!, packed.positions[i]!, digests[i]!, packed.kept[i]!);
  const contentDigests = asciiList(packed.contentDigests);
  for (let i = 0; i < contentDigests.length; i++) statements.insertContent.run(contentDigests[i]!, packed.bytes.subarray(i === 0 ? 0 : packed.ends[i - 1]!, packed.ends[i]!));
}

/**
 * A large run's rows written in steps (SqliteRuns.put, with a writer thread, of one run of
 * LARGE_RUN_ELEMENTS list elements or more, packed): its digest rows, then its content, each
 * STEP_ELEMENTS rows in a write transaction of their own (beginStaged, stepStaged), then its runs
 * row in one more (endStaged). SQLite has one write lock: a transaction of 100,000 digest and
 * content rows holds it, and every other run's commit, for a second and more; between these steps
 * the writer thread commits the puts sent meanwhile. The steps do not wait for the disk
 * (synchronous = NORMAL): the last transaction's (FULL, as a put's) syncs the write-ahead log that
 * holds them, or a checkpoint synced them before, so the run is durable when it is visible, with
 * one wait for the disk as in one go (fifty would add up to seconds on a busy disk).
 *
 * Until its runs row is committed the run does not exist for any reader: every read starts from
 * `runs`, and its digest rows are under a seq no run has, above every run's (lastSeq +
 * STAGED_SEQ_GAP: the runs committed meanwhile, each the highest seq plus one, stay below it).
 * Its digest rows keep its content (`kept`), so retention, which deletes content no digest row
 * keeps, leaves that content as it leaves a committed run's. Its content can be read by digest
 * (GET /v1/content) from its step on, as any stored content.
 *
 * A writing that does not end (a crash, a kill -9, a failed step whose rows could not be deleted)
 * leaves digest rows above every run's seq: the next writing in steps and the next open of the
 * store for writing delete them, and then the content no digest row keeps (dropLeftovers). The
 * runs row is inserted with the seq its digest rows have, only where they are all there: digest
 * rows are written before the content they keep and never again, so all of them there means none
 * was deleted and the content is there too (a process that deleted them as a crash's while this
 * one wrote: the run is written again in one go, writeRuns).
 */
export interface Staged {
  write: RunWrite;
  seq: number;
  /** The digests, and the content's digests, split from their packing. */
  digests: string[];
  contentDigests: string[];
  /** Digest rows then content pieces written so far. */
  done: number;
}

/** How far above the highest run's seq a large run's digest rows go while it is written in steps (Staged). */
export const STAGED_SEQ_GAP = 2 ** 20;

/** What a writing in steps answers: begun under a seq, or not begun (the record is stored: put it as usual); a step, whether it was the last; the end, what a put answers, or that it must be written in one go. */
export type StageAnswer = { seq: number } | { stored: true } | { done: boolean } | { redo: number };

/** Writes the next step of a large run (Staged): STEP_ELEMENTS digest rows or pieces of content; how many are written then. */
function writeStep(statements: RunWriteStatements, staged: Staged): number {
  const packed = staged.write.packed!;
  const end = staged.done + STEP_ELEMENTS;
  const digests = staged.digests.length;
  for (let i = staged.done; i < Math.min(end, digests); i++) statements.insertDigest.run(staged.seq, packed.partNames[packed.parts[i]!]!, packed.positions[i]!, staged.digests[i]!, packed.kept[i]!);
  for (let i = Math.max(staged.done, digests); i < Math.min(end, digests + staged.contentDigests.length); i++) {
    const piece = i - digests;
    statements.insertContent.run(staged.contentDigests[piece]!, packed.bytes.subarray(piece === 0 ? 0 : packed.ends[piece - 1]!, packed.ends[piece]!));
  }
  return Math.min(end, digests + staged.contentDigests.length);
}

/**
 * Begins writing a large run in steps (Staged) under `id`: deletes what writings that never ended
 * left, takes its seq and writes its first step. `{ stored: true }` when its record is stored
 * already (nothing written: the caller puts it as usual, which says what writeRuns says of it).
 */
export function beginStaged(db: DatabaseSync, path: string, statements: RunWriteStatements, id: number, write: RunWrite): StageAnswer {
  const packed = write.packed!;
  const staged = writeUnsynced(db, path, (): Staged | undefined => {
    if (statements.recordStored.get(write.run[0]) !== undefined) return undefined;
    // The seq is taken above every digest row's too, before any is deleted: another process may be
    // writing a large run in steps now (its rows look like a crash's to dropLeftovers), and the two
    // must never share a seq. Rows of such a writing that dropLeftovers deletes make its end write
    // it again in one go (endStaged counts them), never a run holding another's rows.
    const seq = (statements.lastSeq.get() as { seq: number }).seq + STAGED_SEQ_GAP;
    dropLeftovers(statements);
    const begun: Staged = { write, seq, digests: asciiList(packed.digests), contentDigests: asciiList(packed.contentDigests), done: 0 };
    begun.done = writeStep(statements, begun);
    return begun;
  });
  if (staged === undefined) return { stored: true };
  statements.staged.set(id, staged);
  return { seq: staged.seq };
}

/** The writing of `id` (ERR_STORE_UNAVAILABLE when this connection has none: the thread started again). */
function stagedOf(statements: RunWriteStatements, id: number): Staged {
  const staged = statements.staged.get(id);
  if (staged === undefined) throw new LogError('ERR_STORE_UNAVAILABLE', 'the run store\'s writer thread lost a large run it was writing in steps; the write was not committed');
  return staged;
}

/** Writes the next step of `id`; `{ done: true }` once every row is written. */
export function stepStaged(db: DatabaseSync, path: string, statements: RunWriteStatements, id: number): StageAnswer {
  const staged = stagedOf(statements, id);
  if (staged.done === staged.digests.length + staged.contentDigests.length) return { done: true };
  staged.done = writeUnsynced(db, path, () => writeStep(statements, staged));
  return { done: staged.done === staged.digests.length + staged.contentDigests.length };
}

/** Thrown in endStaged's transaction to roll it back: the run is written in one go instead. */
class WriteInOneGo {}

/**
 * Ends the writing of `id`: its runs row, under the seq its rows have, in a durable transaction,
 * with writeRuns' checks (a record stored before, a capture id another record has: its rows are
 * deleted). `{ redo: seq }` when not every row written is there any more (another process
 * deleted them as orphans) or another run has that seq: nothing is committed, and the caller
 * writes the run in one go (writeRuns with `drop`).
 */
export function endStaged(db: DatabaseSync, path: string, statements: RunWriteStatements, id: number): PutResult | StageAnswer {
  const staged = stagedOf(statements, id);
  const { write, seq } = staged;
  try {
    const ended = sqliteWriteTransaction(db, path, 'run database', (): PutResult => {
      if (write.captureIdOnce && statements.otherWithCaptureId.get(write.run[1], write.run[0]) !== undefined) {
        dropRows(statements, staged);
        return { existing: [], refused: [write.run[0]] };
      }
      if (statements.insertRunAt.get(seq, ...write.run) === undefined) {
        // Another run has this seq (then its rows are not touched): written in one go.
        if (statements.recordStored.get(write.run[0]) === undefined) throw new WriteInOneGo();
        dropRows(statements, staged);
        return { existing: statements.signedElsewhere.get(write.run[0], write.run[12]) === undefined ? [] : [write.run[0]], refused: [] };
      }
      if ((statements.countDigests.get(seq) as { count: number }).count !== staged.digests.length) throw new WriteInOneGo();
      return { existing: [], refused: [] };
    });
    statements.staged.delete(id);
    return ended;
  } catch (error) {
    if (!(error instanceof WriteInOneGo)) throw error;
    statements.staged.delete(id);
    return { redo: seq };
  }
}

/** Forgets the writing of `id` and deletes what it wrote (a failed step or end; orphans otherwise, deleted later: dropLeftovers). */
export function dropStaged(db: DatabaseSync, path: string, statements: RunWriteStatements, id: number): void {
  const staged = statements.staged.get(id);
  statements.staged.delete(id);
  if (staged !== undefined) writeRelaxed(db, path, () => dropRows(statements, staged));
}

/** The digest rows of a writing in steps (where no run has its seq), and the content it wrote that no digest row keeps now. */
function dropRows(statements: RunWriteStatements, staged: Staged): void {
  statements.dropStaged.run(staged.seq, staged.seq);
  const written = Math.max(0, Math.min(staged.contentDigests.length, staged.done - staged.digests.length));
  for (let i = 0; i < written; i++) statements.dropUnkept.run(staged.contentDigests[i]!, staged.contentDigests[i]!);
}

/**
 * Deletes what writings in steps that never ended left (a crash, a kill -9, a failed step whose
 * rows could not be deleted): their digest rows, above every run's seq, and then, where there
 * were some, the content no digest row keeps.
 */
export function dropLeftovers(statements: RunWriteStatements): void {
  if (Number(statements.dropOrphans.run().changes) > 0) statements.dropAllUnkept.run();
}
