/**
 * Another connection's write lock on a data directory's run store (BEGIN EXCLUSIVE on
 * runs.sqlite), as tests hold it to make serve's commits fail, and the wait for serve to find the
 * store working again once it is released.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export interface RunStoreLock {
  /** Ends the lock (ROLLBACK); the connection stays open. */
  release(): void;
  /** Ends the lock if it is still held and closes the connection (call it in `finally`). */
  close(): void;
}

/** Opens `DATA/runs.sqlite` and takes its write lock. */
export function lockRunStore(data: string): RunStoreLock {
  const holder = new DatabaseSync(join(data, 'runs.sqlite'));
  try {
    holder.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    holder.close();
    throw error;
  }
  return {
    release: () => holder.exec('ROLLBACK'),
    close: () => {
      if (holder.isTransaction) holder.exec('ROLLBACK');
      holder.close();
    },
  };
}

/** Polls `health` every 50 ms until it is healthy; fails the test after `withinMs`. */
export async function untilHealthy(health: () => Promise<{ healthy: boolean }>, withinMs = 20_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!(await health()).healthy) {
    assert.ok(performance.now() < deadline, `healthy again within ${withinMs / 1000} s of the release`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
