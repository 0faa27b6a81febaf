/** PostgreSQL storage of the log: being written (issue 4, section 3); this placeholder refuses. */
import { LogError } from '../errors.ts';
import type { LogStorage } from './storage.ts';

export class PostgresLog {
  static async open(_url: string): Promise<LogStorage> {
    throw new LogError('ERR_STORE_UNAVAILABLE', 'PostgreSQL storage is not built yet');
  }
}
