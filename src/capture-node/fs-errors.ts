/** runprint errors for the folders and files in-process capture makes: what went wrong, and where. */
import { LogError } from '../errors.ts';

/**
 * The error for a folder (the data directory, the outbox) that could not be made at `path`, from
 * the file system's error: its code says which (permission, a file in the way, a read-only or full
 * file system), the message names the folder and the reason.
 */
export function folderError(what: string, path: string, error: unknown): LogError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EEXIST':
      return new LogError('ERR_STORE_UNAVAILABLE', `${what} ${path} exists and is not a directory`);
    case 'ENOTDIR':
      return new LogError('ERR_STORE_UNAVAILABLE', `${what} ${path} cannot be created: a part of its path is a file, not a directory`);
    case 'EACCES':
    case 'EPERM':
      return new LogError('ERR_STORE_PERMISSION', `${what} ${path} cannot be created: permission denied (${code})`);
    case 'EROFS':
      return new LogError('ERR_STORE_READ_ONLY', `${what} ${path} cannot be created: the file system is read-only`);
    case 'ENOSPC':
      return new LogError('ERR_STORE_NO_SPACE', `${what} ${path} cannot be created: no space left on the device`);
    default:
      return new LogError('ERR_STORE_UNAVAILABLE', `${what} ${path} cannot be created${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}
