/**
 * A data directory's files are owner-only whatever the umask: they hold prompts, answers, salts and
 * keys. SQLite makes a new database file with mode 0644 less the umask, and gives its -wal, -shm and
 * -journal files the database file's mode, so a database file made here first, empty, with 0600,
 * keeps all of them owner-only. Directories and files that are there already are never changed:
 * the mode is the user's; `notOwnerOnly` says which others may access, for a warning at start.
 */
import { closeSync, constants, fchmodSync, openSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** What SQLite makes beside a database file: named like it with these endings. */
const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'];

/**
 * Creates the SQLite database file `path`, empty and owner-only (0600, exactly, whatever the
 * umask), when it does not exist; does nothing when it does. A failure is left for SQLite's own
 * open to meet and report by its cause (storage-faults.ts).
 */
export function createOwnerOnly(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch {
    return;
  }
  try {
    // The umask may have taken bits off: the mode is exact whatever it is.
    if (process.platform !== 'win32') fchmodSync(fd, 0o600);
  } catch {
    // Made with 0600 less the umask: no wider.
  } finally {
    closeSync(fd);
  }
}

async function modeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch {
    return undefined;
  }
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/**
 * The warnings (each one line, without "runprint: " and the newline) for a data directory that
 * users other than its owner may access, and for those of its files `names` (each SQLite database
 * with its -wal, -shm and -journal) that are not owner-only. `what` names the directory in them
 * ("the data directory"). None where modes do not exist (Windows).
 */
export async function notOwnerOnly(dataDir: string, names: readonly string[], what: string): Promise<string[]> {
  if (process.platform === 'win32') return [];
  const warnings: string[] = [];
  const folder = await modeOf(dataDir);
  if (folder !== undefined && (folder & 0o077) !== 0) {
    warnings.push(`warning: ${what} has mode ${octal(folder)}: users other than its owner have access to the runs, salts and keys in it; chmod 700 it`);
  }
  const files = [...new Set(names.flatMap((name) => (name.endsWith('.sqlite') ? [name, ...SQLITE_SIDE_FILES.map((end) => name + end)] : [name])))].sort();
  const open: string[] = [];
  for (const name of files) {
    const mode = await modeOf(join(dataDir, name));
    if (mode !== undefined && (mode & 0o077) !== 0) open.push(`${name} (${octal(mode)})`);
  }
  if (open.length === 1) warnings.push(`warning: ${open[0]} in ${what} is not owner-only: users other than its owner may have access to what it holds; chmod 600 it`);
  if (open.length > 1) warnings.push(`warning: ${open.join(', ')} in ${what} are not owner-only: users other than their owner may have access to what they hold; chmod 600 them`);
  return warnings;
}

/** An error as the file system gives one: `code` and a message naming the path. */
function fsError(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code, path });
}

/**
 * `mkdir -p`: makes `path` and the folders missing above it, each with `mode`, one level at a time,
 * and fails as mkdir does (EEXIST when `path` is a file, ENOTDIR when a folder above it is, EACCES,
 * ENOENT, ...). Node's recursive mkdir loops for ever where a file system refuses a new entry with
 * ENOENT (under /proc: `serve --data /proc/x` hung).
 */
export async function makeFolders(path: string, mode: number): Promise<void> {
  const target = resolve(path);
  const missing: string[] = [];
  for (let current = target; ; ) {
    let kind: 'folder' | 'other' | undefined;
    try {
      kind = (await stat(current)).isDirectory() ? 'folder' : 'other';
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (kind === 'folder') break;
    if (kind === 'other') throw fsError(current === target ? 'EEXIST' : 'ENOTDIR', current);
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of missing) {
    try {
      await mkdir(folder, { mode });
    } catch (error) {
      // Made meanwhile by another process: fine when it is a folder.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(folder).then((stats) => stats.isDirectory(), () => false))) continue;
      throw error;
    }
  }
}
