/**
 * A read-only connection to an SQLite store a command only reads (runs list, show, diff, verify,
 * group): opened with SQLITE_OPEN_READONLY, it makes no schema, migrates nothing and creates no
 * file or folder, and a write through it (a bug) fails with SQLITE_READONLY.
 *
 * The stores are WAL databases. While a serve has one open, its -wal and -shm files are beside it,
 * and a read-only connection reads through them (an -shm it may not write too: SQLite keeps the
 * wal-index in its own memory then), seeing every committed run. Once the last serve has closed it
 * cleanly, SQLite has copied the WAL into the file and deleted both, and a read-only connection
 * would have to create them again: in a folder it may write it does, and leaves them behind; in
 * one it may not, every read fails (SQLITE_READONLY_DIRECTORY). So without a -wal file the file is
 * read as it is (SQLite's immutable: no -wal, -shm or lock), which is right only while nothing
 * writes it: after every read, the -wal file must still be absent and the file unchanged (inode,
 * size, modification and change times). When either is not so (a serve started meanwhile: it
 * makes the -wal before it writes, and the file changes only when the WAL is copied into it), the
 * result is dropped, the connection is replaced by an ordinary read-only one (which reads through
 * the -wal and -shm the serve made) and the read is made again there.
 */
import { existsSync, statSync, type BigIntStats } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';

/** What says a file was not written since: a write changes its modification time (and its change time), a replacement its inode. */
function fingerprint(path: string): string | undefined {
  let stats: BigIntStats;
  try {
    stats = statSync(path, { bigint: true });
  } catch {
    return undefined;
  }
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** True when SQLite may have more of the database than the file holds: a WAL, or a rollback journal. */
const sideFiles = (path: string): boolean => existsSync(`${path}-wal`) || existsSync(`${path}-journal`);

/**
 * The connection's settings: only a reader's (the pragmas that set journal_mode or secure_delete
 * are a writer's). cell_size_check: SQLite checks each b-tree page more closely as it reads it
 * (cells that overlap or run past the page are SQLITE_CORRUPT, not read), for a store a reader
 * opens without quick_check (sqlite-runs.ts openReader).
 */
const READER_PRAGMAS = 'PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536; PRAGMA cell_size_check = ON;';

export class SqliteReader {
  readonly #path: string;
  #db: DatabaseSync;
  /** The file's fingerprint when read as it is (immutable); undefined on an ordinary read-only connection. */
  #unchanged: string | undefined;
  /** Called with the new connection when one replaces the first (statements prepared on the old one are of no use). */
  readonly #replaced: Array<(db: DatabaseSync) => void> = [];

  /**
   * Opens the database file `path` read-only. It must exist (callers say where it was looked for
   * when it does not): a missing file is never created. Failures are SQLite's, for the caller to name.
   */
  constructor(path: string) {
    this.#path = path;
    const unchanged = fingerprint(path);
    if (unchanged !== undefined && !sideFiles(path)) {
      const url = pathToFileURL(path);
      url.searchParams.set('immutable', '1');
      this.#db = new DatabaseSync(url, { readOnly: true });
      this.#unchanged = unchanged;
    } else {
      this.#db = new DatabaseSync(path, { readOnly: true });
      this.#unchanged = undefined;
    }
    this.#db.exec(READER_PRAGMAS);
  }

  get db(): DatabaseSync {
    return this.#db;
  }

  /** True while the file is read as it is (no serve has it open). */
  get immutable(): boolean {
    return this.#unchanged !== undefined;
  }

  /**
   * The database's size as this connection reads it: its page count times its page size, the
   * pages quick_check walks. Pages committed to the -wal and not yet copied back count (a store
   * that grew); the -wal's other frames do not (it keeps its size once copied back, and holds
   * older versions of pages: neither is read). Call it inside `read`.
   */
  databaseBytes(): number {
    const value = (sql: string) => Number(Object.values(this.#db.prepare(sql).get() as Record<string, unknown>)[0]);
    return value('PRAGMA page_count') * value('PRAGMA page_size');
  }

  /** `listener` gets each connection that replaces the current one. */
  onReplaced(listener: (db: DatabaseSync) => void): void {
    this.#replaced.push(listener);
  }

  /**
   * Runs `work` (reads through `db`). On the file read as it is, its result (or failure: pages of
   * two versions may not fit) counts only when nothing wrote the file meanwhile; otherwise it is
   * made again on an ordinary read-only connection.
   */
  read<T>(work: () => T): T {
    if (this.#unchanged === undefined) return work();
    let result: T;
    try {
      result = work();
    } catch (error) {
      if (this.#stillUnchanged()) throw error;
      this.#replace();
      return work();
    }
    if (this.#stillUnchanged()) return result;
    this.#replace();
    return work();
  }

  /** False too when a read inside `work` has already replaced the connection: `work` may have read through both. */
  #stillUnchanged(): boolean {
    return this.#unchanged !== undefined && !sideFiles(this.#path) && fingerprint(this.#path) === this.#unchanged;
  }

  /** From the file read as it is to an ordinary read-only connection, which reads through the WAL a serve made. */
  #replace(): void {
    if (this.#unchanged === undefined) return;
    const db = new DatabaseSync(this.#path, { readOnly: true });
    db.exec(READER_PRAGMAS);
    if (this.#db.isOpen) this.#db.close();
    this.#db = db;
    this.#unchanged = undefined;
    for (const listener of this.#replaced) listener(db);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
