/** runprint/store: the transparency log service over SQLite or PostgreSQL storage, and its witness collector (Node only). */
export { DEFAULT_LOG_NAME, openSqliteLog, TransparencyLog, type Cosigner, type LogServiceOptions } from './log-service.ts';
export { LOG_DATABASE, openStorage } from './open-storage.ts';
export { SqliteLog } from './sqlite-log.ts';
export { type LogStorage, type NewEntry, type StoredCheckpoint, type StoredEntry } from './storage.ts';
export { DEFAULT_WITNESS_TIMEOUT_MS, witnessCollector, type WitnessCollectorOptions, type WitnessEndpoint } from './witness-collector.ts';
export { advisoryLockKey, PostgresLog } from './postgres-log.ts';
