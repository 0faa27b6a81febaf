/**
 * A test file's scratch folders, and the `after` of a test file that runs `runprint serve` in
 * front of the fake upstream: whatever failed, no serve process, upstream or folder is left behind.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeUpstream } from './fake-upstream/index.ts';
import { killServeProcesses } from './serve-process.ts';

export interface ScratchFolders {
  /** Makes a fresh folder under the system's temporary folder, named PREFIX and a random suffix. */
  tempDir(): string;
  /** Removes every folder made (call it in `after`). */
  removeAll(): void;
}

export function scratchFolders(prefix: string): ScratchFolders {
  const made: string[] = [];
  return {
    tempDir: () => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    removeAll: () => {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Kills every serve process still running, closes the fake upstream (if it was started), removes the scratch folders. */
export async function endServeTest(upstream: FakeUpstream | undefined, scratch: ScratchFolders): Promise<void> {
  await killServeProcesses();
  await upstream?.close();
  scratch.removeAll();
}

/** A store's file replaced by a directory (a connection open on the file keeps reading the one it opened): the file moved to `PATH.moved`. */
export function replaceByDirectory(path: string): void {
  renameSync(path, `${path}.moved`);
  mkdirSync(path);
}
