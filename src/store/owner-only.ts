/**
 * A data directory's files are owner-only whatever the umask: they hold prompts, answers, salts and
 * keys. SQLite makes a new database file with mode 0644 less the umask, and gives its -wal, -shm and
 * -journal files the database file's mode, so a database file made here first, empty, with 0600,
 * keeps all of them owner-only. Directories and files that are there already are never changed:
 * the mode is the user's.
 */
import { closeSync, constants, fchmodSync, openSync } from 'node:fs';

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
