/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9.2): what says a file has not changed. */
import type { BigIntStats } from 'node:fs';

// Kept free of runtime imports: every worker thread loads it, and its start-up time counts.

/** What identifies a file's content between two looks at it. */
export interface FileState {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

export function stateOf(stats: BigIntStats): FileState {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeNs: stats.mtimeNs };
}

/** True when both looks saw the same file (device and inode), size and modification time. */
export function sameState(a: FileState, b: FileState): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}
