/** The data directory serve keeps its stores and keys in, which the runs commands and replay read: --data, else RUNPRINT_DATA, else ./runprint-data. */
import { lstat, readFile, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.ts';

export const DEFAULT_DATA_DIR = 'runprint-data';

/**
 * The data directory as given, and whether RUNPRINT_DATA named it. `--data ""` names no folder and
 * is refused (ERR_CLI_USAGE), as `--out ""` is; RUNPRINT_DATA set to the empty string is taken as
 * not set (the default folder), as runprintFetch takes it, so every part of runprint that reads
 * the variable finds the same store.
 */
export function dataDirectory(data: string | undefined): { dir: string; fromEnv: boolean } {
  if (data === '') throw new UsageError('ERR_CLI_USAGE', '--data must name a folder: leave it out for RUNPRINT_DATA, else ./runprint-data');
  if (data !== undefined) return { dir: data, fromEnv: false };
  const variable = process.env['RUNPRINT_DATA'] || undefined;
  return variable === undefined ? { dir: DEFAULT_DATA_DIR, fromEnv: false } : { dir: variable, fromEnv: true };
}

/**
 * What one start of serve made in the data directory (and the folders it made for it), so that a
 * start refused because its log is not the run store's (ERR_LOG_CONFIG_MISMATCH) leaves nothing
 * it made, and a start with the right data directory or key later does not meet a new key, or a
 * new empty log database signed by it, left by the refused one. Only what this start made, and
 * only while no other process uses the directory: when, once this start closed its own, one of
 * its SQLite databases still has its -wal (SQLite deletes it when the last connection closes),
 * another serve has it open, and nothing is removed. Then a key file while it holds the text this
 * start wrote; an SQLite database (with its -shm) none of whose three files was there before; a
 * folder once it is empty. Nothing that was there before the start is removed.
 */
export class MadeAtStart {
  readonly #dir: string;
  /** Folders the start had to make, the data directory first. */
  readonly #folders: string[];
  /** The data directory's SQLite databases (file names). */
  readonly #names: readonly string[];
  /** Those (paths) none of whose three files was there before the start. */
  readonly #databases: string[];
  readonly #keys = new Map<string, string>();

  private constructor(dir: string, names: readonly string[], folders: string[], databases: string[]) {
    this.#dir = dir;
    this.#names = names;
    this.#folders = folders;
    this.#databases = databases;
  }

  /** Looks, before anything is made, at what is missing: `dir` (absolute) and its parents, and the `databases` (file names in it). */
  static async before(dir: string, databases: readonly string[]): Promise<MadeAtStart> {
    const folders: string[] = [];
    for (let current = dir; await missing(current); ) {
      folders.push(current);
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
    }
    const absent: string[] = [];
    for (const name of databases) {
      const path = join(dir, name);
      if (folders.length > 0 || ((await missing(path)) && (await missing(`${path}-wal`)) && (await missing(`${path}-shm`)))) absent.push(path);
    }
    return new MadeAtStart(dir, databases, folders, absent);
  }

  /** A key file this start wrote, with the text it wrote. */
  key(path: string, text: string): void {
    this.#keys.set(path, text);
  }

  /** Removes what the start made (the class's comment); a file or folder it cannot remove stays, unsaid. */
  async forget(): Promise<void> {
    for (const name of this.#names) if (!(await missing(join(this.#dir, `${name}-wal`)))) return;
    for (const [path, text] of this.#keys) {
      if ((await readFile(path, 'utf8').catch(() => undefined)) === text) await unlink(path).catch(() => undefined);
    }
    for (const path of this.#databases) {
      if (await missing(path)) continue;
      await unlink(`${path}-shm`).catch(() => undefined);
      await unlink(path).catch(() => undefined);
    }
    // The data directory first, then the parents made for it: each only once empty.
    for (const folder of this.#folders) {
      if (!(await rmdir(folder).then(() => true, () => false))) break;
    }
  }
}

/** True when nothing is at `path` (ENOENT); false when something is, or cannot be looked at. */
const missing = (path: string): Promise<boolean> => lstat(path).then(() => false, (error: NodeJS.ErrnoException) => error.code === 'ENOENT' || error.code === 'ENOTDIR');
