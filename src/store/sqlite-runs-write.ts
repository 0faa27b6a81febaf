/**
 * Writing captured runs to the SQLite run store: the rows of one batch as plain data (so they can
 * be handed to the writer thread, sqlite-runs-worker.ts, as they are) and the one transaction
 * that inserts them, used on the caller's thread and in the writer thread alike.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { RunToStore } from './run-storage.ts';
import { SQLITE_PRAGMAS } from './sqlite-log.ts';
import { sqliteWriteTransaction } from './storage-faults.ts';

/**
 * The pragmas of every connection to the run store: the log's, and secure_delete, so that what
 * retention deletes (content, salts) is overwritten with zeros in the pages, not only unlinked
 * (sqlite-runs.ts expire). Every connection that writes the file sets it: a page one connection
 * rewrote without it could keep a stale copy of a cell another later deletes.
 */
export const RUNS_PRAGMAS = `${SQLITE_PRAGMAS} PRAGMA secure_delete = ON;`;

/** One run's rows: the runs row's values, its digests (with whether it keeps each one's content), its content. */
export interface RunWrite {
  /** record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture, record, identity, receiptable, claimed_by, claimed_at. */
  run: [string, string, string | null, string | null, string | null, string | null, string, string, string, string, string | null, number, string | null, string | null];
  parts: string[];
  positions: number[];
  digests: string[];
  kept: number[];
  content: { digest: string; bytes: Uint8Array }[];
}

export function runWriteOf(run: RunToStore): RunWrite {
  const kept = new Set(run.kept);
  const write: RunWrite = {
    run: [
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
      run.identity === null ? null : JSON.stringify(run.identity),
      run.receiptable ? 1 : 0,
      run.claimedBy ?? null,
      run.claimedBy === undefined ? null : new Date().toISOString(),
    ],
    parts: [],
    positions: [],
    digests: [],
    kept: [],
    content: run.content,
  };
  for (const digest of run.digests) {
    write.parts.push(digest.part);
    write.positions.push(digest.position);
    write.digests.push(digest.digest);
    write.kept.push(kept.has(digest.digest) ? 1 : 0);
  }
  return write;
}

export interface RunWriteStatements {
  insertRun: StatementSync;
  insertDigest: StatementSync;
  insertContent: StatementSync;
}

export function prepareRunWrites(db: DatabaseSync): RunWriteStatements {
  return {
    insertRun: db.prepare(
      `INSERT INTO runs (record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture, record, identity, receiptable, claimed_by, claimed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_digest) DO NOTHING RETURNING seq`,
    ),
    insertDigest: db.prepare('INSERT INTO run_digests (seq, part, position, digest, kept) VALUES (?, ?, ?, ?, ?)'),
    insertContent: db.prepare('INSERT INTO content (digest, bytes) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING'),
  };
}

/** Inserts a batch in one BEGIN IMMEDIATE transaction (synchronous = FULL): durable when it returns. */
export function writeRuns(db: DatabaseSync, path: string, statements: RunWriteStatements, batch: readonly RunWrite[]): void {
  sqliteWriteTransaction(db, path, 'run database', () => {
    for (const write of batch) {
      const row = statements.insertRun.get(...write.run) as { seq: number } | undefined;
      // Stored before (the same record put twice): nothing more to do.
      if (row === undefined) continue;
      for (let i = 0; i < write.digests.length; i++) statements.insertDigest.run(row.seq, write.parts[i]!, write.positions[i]!, write.digests[i]!, write.kept[i]!);
      for (const piece of write.content) statements.insertContent.run(piece.digest, piece.bytes);
    }
  });
}
