/**
 * A put on PostgreSQL whose content another open transaction of the store has just inserted (a
 * large run's, seconds long, or a retry of held records) waits for that transaction and commits,
 * rather than failing ERR_STORE_LOCKED after the 5 s a put waits for a locked table; a table
 * another session locks still fails it after those 5 s.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { chatRun } from './helpers/stored-runs.ts';

let pgs: PgSchemas;
before(async () => {
  pgs = await pgSchemas();
});
after(() => pgs.drop());

test('a put waits past 5 s for content another transaction inserted, and commits once it ends', { timeout: 60_000 }, async () => {
  const { url } = await pgs.fresh('runprint_row_wait');
  const store = await PostgresRuns.open(url);
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  try {
    const { run, bytes } = chatRun('shared with a long transaction', 'A system prompt another transaction inserts first.');
    const toStore = runToStore(run, bytes, defaultContentPolicy(), 'proxy', true);
    const piece = toStore.content[0]!;
    // Another transaction inserts the same content and stays open 6.5 s (past the 5 s lock wait).
    await holder.query('BEGIN');
    await holder.query('INSERT INTO content (digest, bytes) VALUES ($1, $2)', [piece.digest, Buffer.from(piece.bytes)]);
    const ends = new Promise<void>((resolve, reject) => setTimeout(() => void holder.query('COMMIT').then(() => resolve(), reject), 6_500));
    const put = store.put([toStore]);
    let settledBeforeCommit = false;
    void put.then(() => (settledBeforeCommit = true), () => (settledBeforeCommit = true));
    await ends;
    assert.equal(settledBeforeCommit, false, 'the put waited for the other transaction');
    assert.deepEqual(await put, { existing: [], refused: [] });
    assert.equal((await store.find(run.record.captureId)).length, 1);
  } finally {
    await holder.end();
    await store.close();
  }
});

test('a table another session locks still fails a put with ERR_STORE_LOCKED', { timeout: 60_000 }, async () => {
  const { url } = await pgs.fresh('runprint_row_wait');
  const store = await PostgresRuns.open(url);
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  try {
    await holder.query('BEGIN; LOCK TABLE content IN ACCESS EXCLUSIVE MODE');
    const { run, bytes } = chatRun('a locked table');
    await assert.rejects(store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)]), { code: 'ERR_STORE_LOCKED' });
    await holder.query('ROLLBACK');
  } finally {
    await holder.end();
    await store.close();
  }
});
