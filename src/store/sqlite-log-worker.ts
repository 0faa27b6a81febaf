/**
 * The log's writer thread (SqliteLog.open with writerThread starts it): its own connection to the
 * log database, on which it commits each batch of entries it is sent (sequencing them and storing
 * the tile hashes they complete, as an append on the caller's thread does), so that the inserts
 * and the commit's fsync do not hold the event loop of a capturing serve.
 */
import { SqliteLog } from './sqlite-log.ts';
import type { NewEntry, StoredEntry } from './storage.ts';
import { serveWrites } from './sqlite-writer-worker.ts';

await serveWrites<NewEntry[], StoredEntry[]>((path) => {
  const log = SqliteLog.open(path, { checked: true });
  return { write: (batch) => log.append(batch), close: () => log.close() };
}, 'the log could not store the entry');
