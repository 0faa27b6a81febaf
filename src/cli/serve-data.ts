/** The data directory serve keeps its stores and keys in, which the runs commands and replay read: --data, else RUNPRINT_DATA, else ./runprint-data. */
import { lstat } from 'node:fs/promises';
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
 * What the data directory lacked when a start of serve began: the directory itself (and the
 * folders above it), and which of the files serve makes there (its keys and SQLite databases).
 * A start refused because its log is not the one its log database or run store holds
 * (ERR_LOG_CONFIG_MISMATCH) removes none of them: another serve started with the same data
 * directory at the same moment may have read a key this start made, or opened a database it
 * made, and be running with it, and no check this process can make proves that none did (a key
 * read leaves no trace; a file found unused can be opened the moment after). Removing it would
 * lose that serve's key, and with it the log it signs; a file left costs one rm. So the refusal
 * says what is there now that was not before the start (`left`), for its user to remove once no
 * serve uses it.
 */
export class NewAtStart {
  readonly #dir: string;
  /** The topmost folder that was missing (the data directory or one above it), or undefined. */
  readonly #folder: string | undefined;
  /** The file names (in the data directory) that were missing. */
  readonly #files: readonly string[];

  private constructor(dir: string, folder: string | undefined, files: readonly string[]) {
    this.#dir = dir;
    this.#folder = folder;
    this.#files = files;
  }

  /** Looks, before anything is made, at what is missing: `dir` (absolute) and its parents, and the `files` (names in it). */
  static async before(dir: string, files: readonly string[]): Promise<NewAtStart> {
    let folder: string | undefined;
    for (let current = dir; await missing(current); ) {
      folder = current;
      const parent = dirname(current);
      if (parent === current) break;
      current = parent;
    }
    const absent: string[] = [];
    for (const name of files) if (folder !== undefined || (await missing(join(dir, name)))) absent.push(name);
    return new NewAtStart(dir, folder, absent);
  }

  /**
   * A sentence naming what was missing before the start and is there now, left as it is (the
   * class's comment), with what to remove once no serve uses it; '' when there is nothing.
   */
  async left(): Promise<string> {
    const files: string[] = [];
    for (const name of this.#files) if (!(await missing(join(this.#dir, name)))) files.push(name);
    const list = files.length <= 1 ? (files[0] ?? '') : `${files.slice(0, -1).join(', ')} and ${files.at(-1)}`;
    const why = 'a refused start removes nothing, as another serve started with this data directory may be using what it made';
    if (this.#folder !== undefined && !(await missing(this.#folder))) {
      const above = this.#folder === this.#dir ? '' : ` (nor ${this.#folder})`;
      return `Left as it is (${why}): the data directory ${this.#dir}, which was not there before this start${above}, holding ${files.length === 0 ? 'none of serve\'s files' : list}; remove ${this.#folder} if no serve uses it.`;
    }
    if (files.length === 0) return '';
    return `Left as ${files.length === 1 ? 'it is' : 'they are'} (${why}): ${list} in the data directory ${this.#dir}, not there before this start; remove ${files.length === 1 ? 'it' : 'them'} if no serve uses ${files.length === 1 ? 'it' : 'them'}.`;
  }
}

/** True when nothing is at `path` (ENOENT); false when something is, or cannot be looked at. */
export const missing = (path: string): Promise<boolean> => lstat(path).then(() => false, (error: NodeJS.ErrnoException) => error.code === 'ENOENT' || error.code === 'ENOTDIR');
