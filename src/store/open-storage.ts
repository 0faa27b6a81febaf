/** Chooses the log's storage: SQLite in the data directory by default, PostgreSQL by connection URL. */
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { SqliteLog } from './sqlite-log.ts';
import type { LogStorage } from './storage.ts';

/** In the data directory: the SQLite log database. */
export const LOG_DATABASE = 'log.sqlite';

/**
 * `url` undefined: `<dataDir>/log.sqlite` (with `writerThread`, appends are committed on a thread
 * of their own, see SqliteLog.open). `postgres://` or `postgresql://`: that PostgreSQL database
 * (see PostgresLog; `readOnly`: a command that only reads it, PostgresLogAccess). Anything else is
 * ERR_CLI_USAGE.
 */
export async function openStorage(options: { dataDir: string; url?: string; writerThread?: boolean; readOnly?: boolean }): Promise<LogStorage> {
  if (options.url === undefined || options.url === '') return SqliteLog.open(join(options.dataDir, LOG_DATABASE), { writerThread: options.writerThread === true });
  if (/^postgres(ql)?:\/\//.test(options.url)) {
    const { PostgresLog } = await import('./postgres-log.ts');
    return PostgresLog.open(options.url, { readOnly: options.readOnly === true });
  }
  throw new UsageError('ERR_CLI_USAGE', '--log-db must be a postgres:// or postgresql:// connection URL');
}
