/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9.2): the regular files a model holds. */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { stateOf } from './file-state.ts';
import type { FileState } from './file-state.ts';
import {
  danglingSymlink,
  fromFileSystemError,
  modelChanged,
  nameNotUtf8,
  specialEntry,
  symlinkNotAllowed,
  symlinkToDirectory,
} from './model-digest-errors.ts';

/** One regular file of a model, with the state it had when listed. */
export interface ModelFile {
  /** Path relative to the model root, components joined by `/`; `.` when the model is one file. */
  name: string;
  /** Absolute path to open (a symbolic link is opened through, when links are allowed). */
  path: string;
  /** Identity and state at listing time; a file whose state moves is reported, never hashed. */
  state: FileState;
}

export interface ListOptions {
  allowSymlinks: boolean;
  /** Normalized relative POSIX paths (see normalizeIgnorePaths); each hides itself and all below. */
  ignorePaths: readonly string[];
}

/**
 * Lists the regular files of the model at `root` (a file or a directory). Directories contribute
 * only their files: an empty directory adds nothing. Ignored paths are skipped before any other
 * check, as the OMS reference does, so an ignored socket or link is no error.
 */
export async function listModelFiles(root: string, options: ListOptions): Promise<ModelFile[]> {
  const rootStats = await resolveEntry(root, options.allowSymlinks, true);
  if (rootStats.isFile()) return [{ name: '.', path: root, state: stateOf(rootStats) }];
  if (!rootStats.isDirectory()) throw specialEntry();

  const files: ModelFile[] = [];
  const pending: Array<{ path: string; name: string }> = [{ path: root, name: '' }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    for (const childName of await readNames(next.path)) {
      const name = next.name === '' ? childName : `${next.name}/${childName}`;
      if (isIgnored(name, options.ignorePaths)) continue;
      const path = join(next.path, childName);
      const stats = await resolveEntry(path, options.allowSymlinks, false);
      if (stats.isFile()) files.push({ name, path, state: stateOf(stats) });
      else if (stats.isDirectory()) pending.push({ path, name });
      else throw specialEntry();
    }
  }
  return files;
}

/** Checks and normalizes ignore paths: relative POSIX paths inside the model, sorted, unique. */
export function normalizeIgnorePaths(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of paths) {
    if (typeof raw !== 'string') throw new TypeError('ignorePaths must hold strings');
    const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
    if (raw.startsWith('/') || parts.length === 0 || parts.includes('..')) {
      throw new RangeError('ignorePaths must be relative paths inside the model');
    }
    out.add(parts.join('/'));
  }
  return [...out].sort();
}

function isIgnored(name: string, ignorePaths: readonly string[]): boolean {
  return ignorePaths.some((ignored) => name === ignored || name.startsWith(`${ignored}/`));
}

// File names are bytes on POSIX. A name that is not UTF-8 has no faithful JSON form, and Node
// would silently replace its bad bytes, so two different files could get one resource name.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

async function readNames(directory: string): Promise<string[]> {
  let raw: Buffer[];
  try {
    raw = await readdir(directory, { encoding: 'buffer' });
  } catch (error) {
    throw fromFileSystemError(error);
  }
  const names = raw.map((bytes) => {
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw nameNotUtf8();
    }
  });
  // Sorted only so that the first bad entry reported is the same on every run.
  return names.sort();
}

// lstat, then through a symbolic link when links are allowed. A link to a directory is refused:
// following it risks cycles and content outside the model, and the OMS reference itself does
// not descend into it (it would drop its files without a word).
async function resolveEntry(path: string, allowSymlinks: boolean, isRoot: boolean): Promise<BigIntStats> {
  let stats: BigIntStats;
  try {
    stats = await lstat(path, { bigint: true });
  } catch (error) {
    // The root missing is the caller's mistake; an entry vanishing after readdir is a change.
    if (!isRoot && (error as { code?: unknown }).code === 'ENOENT') throw modelChanged();
    throw fromFileSystemError(error);
  }
  if (!stats.isSymbolicLink()) return stats;
  if (!allowSymlinks) throw symlinkNotAllowed();
  let target: BigIntStats;
  try {
    target = await stat(path, { bigint: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') throw danglingSymlink();
    throw fromFileSystemError(error);
  }
  if (target.isDirectory() && !isRoot) throw symlinkToDirectory();
  return target;
}
