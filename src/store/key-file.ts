/**
 * Files written atomically: key files never over an existing file (private ones checked for their
 * mode), output files replacing the one there whole or not at all.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `text` to `path` so that `path` either does not exist or holds all of it, with exactly
 * `mode` from the start, and never replaces a file that is there (EEXIST). The bytes go to a
 * temporary file in the same directory (created with `mode`, written, fsynced), which is then
 * linked to `path` (link(2) fails rather than replace) and removed, and the directory is fsynced
 * so that the new name survives a crash. A full disk or a crash leaves no file, or a stray
 * `.NAME.*.tmp`, never an empty or partial key under its name. Errors are node:fs errors (with
 * `code`); the temporary file is removed on failure.
 */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    try {
      // The umask may have taken bits off: the mode is exact whatever it is.
      await file.chmod(mode);
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await linkNew(temporary, path);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  await syncDirectory(directory);
}

/**
 * Writes `data` to `path`, replacing the file there if there is one, so that `path` holds either
 * the old file whole or the new one whole, never a part: the bytes go to a temporary file in the
 * same directory (written, fsynced), which is then renamed over `path`, and the directory is
 * fsynced. A failure (a full disk, a file size limit) leaves the old file as it was and removes the
 * temporary one. The new file keeps the permission bits of the one it replaces (a new one gets
 * 0666 less the umask, as a plain write would); a symbolic link is followed, so it keeps naming the
 * file it named. A directory is refused (EISDIR) before anything is written. A path that is neither
 * a file nor a directory (a FIFO, /dev/stdout, /dev/null) cannot be renamed over and holds nothing
 * to lose: it is written directly. Errors are node:fs errors (with `code`).
 */
export async function replaceFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  let target = path;
  let mode: number | undefined;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!info.isFile()) {
      await writeFile(path, data);
      return;
    }
    target = await realpath(path);
    mode = info.mode & 0o7777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const directory = dirname(target);
  // Named after the file, unless that would pass the 255 bytes a file name may have.
  const name = Buffer.byteLength(basename(target)) > 200 ? 'runprint' : basename(target);
  const temporary = join(directory, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666);
  let renamed = false;
  try {
    try {
      if (mode !== undefined) await file.chmod(mode);
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, target);
    renamed = true;
  } finally {
    if (!renamed) await unlink(temporary).catch(() => undefined);
  }
  await syncDirectory(directory);
}

/** Gives `from` the name `to` unless `to` exists. */
async function linkNew(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // File systems without hard links: rename, which replaces, after a check (a narrow race).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    if (await exists(to)) throw Object.assign(new Error('file exists'), { code: 'EEXIST' });
    await rename(from, to);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** fsyncs a directory, so a name just made in it is durable. Some systems cannot open a directory: skipped there. */
async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, constants.O_RDONLY);
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // EINVAL or EISDIR on some file systems: nothing more can be done.
  } finally {
    await handle.close();
  }
}

/** The permission bits of a file (`mode & 0o777`), or undefined where there are none (Windows). */
export async function keyFileMode(path: string): Promise<number | undefined> {
  if (process.platform === 'win32') return undefined;
  return (await stat(path)).mode & 0o777;
}
