/**
 * A writer thread (store/sqlite-writer-worker.ts) that warns as it starts, as node:sqlite does on
 * Node 22 ("SQLite is an experimental feature"), and with warnings of its own: for
 * test/sqlite-writer-warning.test.ts. Each write answers its task doubled.
 */
import { serveWrites } from '../../src/store/sqlite-writer-worker.ts';

process.emitWarning('SQLite is an experimental feature and might change at any time', 'ExperimentalWarning');
process.emitWarning('Another feature is experimental', 'ExperimentalWarning');
process.emitWarning(new Error('a warning of the thread itself'));

await serveWrites<number, number>(() => ({ write: (task) => task * 2, close: () => undefined }), 'the write failed');
