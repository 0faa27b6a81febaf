/**
 * A test file's scratch folders, and the `after` of a test file that runs `runprint serve` in
 * front of the fake upstream: whatever failed, no serve process, upstream or folder is left behind.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream/index.ts';
import { pgSchemas, type PgSchemas } from './pg-schemas.ts';
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

/**
 * A test file whose serves run on PostgreSQL: its scratch folders, a fake upstream and the test
 * database's fresh schemas, made before its tests (`upstream` and `pgs` are there from then) and
 * all removed after them, whatever failed. Call it at the top of the file.
 */
export function postgresServeTest(prefix: string): { readonly scratch: ScratchFolders; readonly upstream: FakeUpstream; readonly pgs: PgSchemas } {
  const scratch = scratchFolders(prefix);
  let upstream: FakeUpstream | undefined;
  let pgs: PgSchemas | undefined;
  before(async () => {
    upstream = await startFakeUpstream();
    pgs = await pgSchemas();
  });
  after(async () => {
    await endServeTest(upstream, scratch);
    await pgs?.drop();
  });
  return {
    scratch,
    get upstream() {
      return upstream!;
    },
    get pgs() {
      return pgs!;
    },
  };
}

/** A store's file replaced by a directory (a connection open on the file keeps reading the one it opened): the file moved to `PATH.moved`. */
export function replaceByDirectory(path: string): void {
  renameSync(path, `${path}.moved`);
  mkdirSync(path);
}
