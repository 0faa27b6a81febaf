/** Files the CLI writes on request (`sign --out`, `--bundle`, `disclose create --out`): replaced whole or not at all, with errors that say why. */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { replaceFileAtomic } from '../store/key-file.ts';
import type { CliIo } from './io.ts';
import { fileName } from './read-input.ts';

/** Why a write failed, in words, from a node:fs error code. */
export function writeFailureReason(error: unknown): string {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the device';
    case 'EFBIG':
      return 'larger than the file size limit';
    case 'EISDIR':
      return 'it is a directory, not a file';
    case 'ENOENT':
      return 'no such folder';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    default:
      return code ?? 'unknown error';
  }
}

/** ERR_FILE_UNWRITABLE naming the file as given and why it could not be written. */
export function unwritable(name: string, error: unknown): InputError {
  return new InputError('ERR_FILE_UNWRITABLE', `cannot write file (${writeFailureReason(error)}): ${fileName(name)}`);
}

/** A file the command writes is never standard output (`-`) and never the empty name: a usage error. */
export function refuseStandardOutput(option: string, value: string | undefined, what = 'a file'): void {
  if (value === '-' || value === '') throw new UsageError('ERR_CLI_USAGE', `${option} must name ${what}`);
}

/**
 * Writes FILE (relative to the working directory), replacing a file of that name whole: on any
 * failure the file that was there stays as it was (ERR_FILE_UNWRITABLE, with the reason).
 */
export async function writeOutputFile(name: string, text: string, io: CliIo): Promise<void> {
  try {
    await replaceFileAtomic(resolve(io.cwd, name), text);
  } catch (error) {
    throw unwritable(name, error);
  }
}

/**
 * Checks, before any work is done, that FILE (relative to the working directory) could be written:
 * it is not a folder, its folder is there, is a folder, and this process may make a file in it.
 * ERR_FILE_UNWRITABLE naming the file as given and why otherwise, so a command that writes its
 * result at the end does not find out only then, and one that writes two files (or a file and
 * standard output) does not write the first before the second fails.
 */
export async function checkWritable(name: string, io: CliIo): Promise<void> {
  const path = resolve(io.cwd, name);
  const folder = dirname(path);
  try {
    if ((await stat(path).catch(() => undefined))?.isDirectory() === true) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!(await stat(folder)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    await access(folder, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw unwritable(name, error);
  }
}
