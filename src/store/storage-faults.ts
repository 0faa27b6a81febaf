/**
 * Storage failures named for what the operator must do (LOG.md 19.4, "Storage faults"): a full
 * disk, a store that cannot be written, a store the process may not open, a store locked by
 * another process, and only when the stored bytes are inconsistent, a corrupt store. A healthy
 * log must never be reported corrupt: an operator told "corrupt" may delete it.
 *
 * A message that names a file names it for the operator (the CLI, serve's stderr); every error made
 * here also carries its message without the path (RunprintError.publicMessage), which is what the
 * HTTP API answers a remote client: a server's file paths are not the client's to read.
 */
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { storeFault as fault, type LogError, type StoreName } from '../errors.ts';

/** SQLite primary result codes (the low byte of an extended code), https://sqlite.org/rescode.html. */
const SQLITE_ERROR = 1;
const SQLITE_PERM = 3;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;
/** Extended: the directory holding the database cannot be written (no -wal or -shm file). */
const SQLITE_READONLY_DIRECTORY = SQLITE_READONLY | (6 << 8);

/** Below this much free space a failed write is taken for a full file system (a WAL frame or the -shm file needs far less). */
const NEARLY_FULL_BYTES = 1 << 20;

const INTACT = 'stored entries are intact';

/** The database `what` at `path`, named with its path for the operator. */
function file(what: string, path: string): StoreName {
  return { local: `${what} ${path}`, remote: what };
}

/** The directory holding the database `what` at `path`. */
function directoryOf(what: string, path: string): StoreName {
  return { local: `the directory ${dirname(path)} holding the ${what}`, remote: `the directory holding the ${what}` };
}

export function storeNoSpace(where: StoreName): LogError {
  return fault('ERR_STORE_NO_SPACE', where, (name) => `no space left on the file system holding the ${name} (${INTACT}; free space, then retry)`);
}

export function storeReadOnly(what: StoreName): LogError {
  return fault('ERR_STORE_READ_ONLY', what, (name) => `${name} cannot be written (${INTACT}; make it writable, then retry)`);
}

export function storePermission(what: StoreName): LogError {
  return fault('ERR_STORE_PERMISSION', what, (name) => `${name}: permission denied`);
}

export function storeLocked(what: StoreName): LogError {
  return fault('ERR_STORE_LOCKED', what, (name) => `${name} is locked by another process`);
}

/** The SQLite extended result code of a node:sqlite error, or undefined for anything else. */
export function sqliteErrorCode(error: unknown): number | undefined {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return (error as { code?: unknown } | null)?.code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number' ? errcode : undefined;
}

/**
 * Names a failure of the SQLite database at `path`. SQLite's own codes say most faults; an I/O
 * error or a file that cannot be opened is then explained by the file system (node:sqlite does not
 * expose errno): little free space is a full disk, a file or directory that access(2) refuses is
 * read-only or not permitted. Any other SQLite failure is ERR_STORE_UNAVAILABLE with the SQLite
 * code, never the driver's text. What is not an SQLite error (a LogError, or a bug) is returned
 * as it is. `what` names the database in messages (a name, not a path: the path is added where the
 * operator must act on the file, and left out of the public message).
 */
export function sqliteFault(error: unknown, path: string, what = 'log database'): unknown {
  const code = sqliteErrorCode(error);
  if (code === undefined) return error;
  // The file, where the operator must act on it (not for a lock or a full disk).
  const named = file(what, path);
  switch (code & 0xff) {
    case SQLITE_FULL:
      return storeNoSpace(what);
    case SQLITE_READONLY:
      return storeReadOnly(code === SQLITE_READONLY_DIRECTORY ? directoryOf(what, path) : named);
    case SQLITE_PERM:
      return storePermission(named);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return storeLocked(what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return fault('ERR_STORE_CORRUPT', named, (name) => `${name} is damaged, or not an SQLite file`);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return fileSystemFault(path, what) ?? fault('ERR_STORE_UNAVAILABLE', named, (name) => `${name} cannot be ${(code & 0xff) === SQLITE_CANTOPEN ? 'opened' : 'read or written'} (SQLite code ${code})`);
    default:
      return fault('ERR_STORE_UNAVAILABLE', what, (name) => `${name} failed (SQLite code ${code})`);
  }
}

/**
 * Runs `work` in one BEGIN IMMEDIATE transaction (SQLite's write lock, across processes). A
 * failure rolls it back (SQLite may already have, after SQLITE_FULL) and is named by its cause
 * (sqliteFault, `what` naming the database).
 */
export function sqliteWriteTransaction<T>(db: DatabaseSync, path: string, what: string, work: () => T): T {
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      try {
        if (db.isTransaction) db.exec('ROLLBACK');
      } catch {
        // The failure that matters is the first one.
      }
      throw error;
    }
  } catch (error) {
    throw sqliteFault(error, path, what);
  }
}

/** True for an SQLite "SQL error": at open, statements that do not fit tables of another shape. */
export function isSqliteStatementError(error: unknown): boolean {
  const code = sqliteErrorCode(error);
  return code !== undefined && (code & 0xff) === SQLITE_ERROR;
}

/** The file-system reason a file and its directory cannot be used, if one is visible; `database` names the file in messages. */
function fileSystemFault(path: string, database: string): LogError | undefined {
  const directory = dirname(path);
  try {
    if (statSync(path).isDirectory()) return fault('ERR_STORE_UNAVAILABLE', file(database, path), (name) => `${name} is a directory, not an SQLite file (move it away, or give another data directory)`);
  } catch {
    // Not there, or not visible: the checks below say more.
  }
  // Permissions first: a read-only file system (a squashfs, say) may also report no free space.
  for (const [target, what] of [[directory, directoryOf(database, path)], [path, file(database, path)]] as const) {
    try {
      accessSync(target, constants.R_OK | constants.W_OK | (target === directory ? constants.X_OK : 0));
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException).code;
      if (errno === 'EROFS' || errno === 'EPERM' || errno === 'ETXTBSY') return storeReadOnly(what);
      if (errno === 'EACCES') return storePermission(what);
    }
  }
  try {
    const stats = statfsSync(directory);
    // Root may use the blocks reserved for it; anyone else only the available ones.
    const free = (process.getuid?.() === 0 ? stats.bfree : stats.bavail) * stats.bsize;
    // Some file systems (btrfs) report no inode counts at all: files 0.
    if (free < NEARLY_FULL_BYTES || (stats.files > 0 && stats.ffree === 0)) return storeNoSpace(database);
  } catch {
    // No statfs: nothing more to say.
  }
  return undefined;
}

/**
 * Names a PostgreSQL failure by its SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html),
 * or undefined when it is none of these faults.
 */
export function postgresFault(sqlstate: string, what: 'log' | 'run' = 'log'): LogError | undefined {
  switch (sqlstate) {
    case '53100': // disk_full
      return storeNoSpace(`PostgreSQL ${what} database`);
    case '25006': // read_only_sql_transaction: a standby, or default_transaction_read_only
      return storeReadOnly(`PostgreSQL ${what} database (a read-only transaction: a standby, or default_transaction_read_only)`);
    case '42501': // insufficient_privilege
      return storePermission(`PostgreSQL ${what} database (insufficient privilege)`);
    case '55P03': // lock_not_available (lock_timeout)
      return storeLocked(`PostgreSQL ${what} database`);
    case '57014': // query_canceled: the run store's statement_timeout (30 s), or a cancel
      return fault('ERR_STORE_UNAVAILABLE', `PostgreSQL ${what} database`, (name) => `${name} cancelled a statement (57014: it ran past the statement timeout, 30 s for the run store, or was cancelled): another session may hold a lock that long, or the server is overloaded`);
    case 'XX001': // data_corrupted
    case 'XX002': // index_corrupted
      return fault('ERR_STORE_CORRUPT', `the ${what} database`, (name) => `PostgreSQL reports damaged data in ${name} (${sqlstate})`);
    default:
      return undefined;
  }
}
