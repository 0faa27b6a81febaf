/**
 * The run stores' probe (a write transaction that writes nothing, what the recorder tries on a
 * store that failed) and SQLite's claims of runs to sign: on the writer thread, the rows a claim
 * on the caller's thread claims; while another connection holds the write lock, a claim and a
 * probe give up after about a second, waiting on the writer thread, not on the event loop; on
 * PostgreSQL a probe fails while another session locks the runs table.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-probe-');
after(() => scratch.removeAll());

const chat = (user: string) => chatRun(user);

describe('claims and probes of the SQLite run store', () => {
  test('a claim on the writer thread claims the rows a claim on the caller\'s thread does', async () => {
    const threaded = SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'), { writerThread: true });
    const inline = SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'));
    try {
      const runs = ['one', 'two', 'three'].map((user) => chat(user)).map((one) => runToStore(one.run, one.bytes, defaultContentPolicy(), 'proxy', true));
      const batch = [runs[0]!, { ...runs[1]!, claimedBy: 'other' }, { ...runs[2]!, capture: 'sdk' as const }];
      await threaded.put(batch);
      await inline.put(batch);
      const digests = (claimed: Awaited<ReturnType<RunStorage['claimUnsigned']>>) => claimed.map((run) => [run.recordDigest, run.capture, run.receipt]);
      for (const [claimant, stale, capture] of [['a', '2000-01-01T00:00:00Z', 'proxy'], ['a', '2000-01-01T00:00:00Z', undefined], ['b', '2999-01-01T00:00:00Z', undefined]] as const) {
        const fromThread = await threaded.claimUnsigned(10, claimant, stale, capture);
        const fromCaller = await inline.claimUnsigned(10, claimant, stale, capture);
        assert.deepEqual(digests(fromThread), digests(fromCaller), `${claimant} ${capture ?? 'any'}`);
      }
      assert.deepEqual(await threaded.claimUnsigned(10, 'c', '2000-01-01T00:00:00Z'), [], 'b holds every claim now, and it is fresh');
      assert.deepEqual((await threaded.list({})).map((run) => run.recordDigest).sort(), batch.map((run) => run.recordDigest).sort());
    } finally {
      await threaded.close();
      await inline.close();
    }
  });

  test('while another connection holds the lock, a claim and a probe fail after about a second, waiting on the writer thread, not on the event loop', { timeout: 30_000 }, async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const store = SqliteRuns.open(path, { writerThread: true });
    const holder = new DatabaseSync(path);
    try {
      await store.probe();
      const one = chat('locked');
      await store.put([runToStore(one.run, one.bytes, defaultContentPolicy(), 'proxy', true)]);
      holder.exec('BEGIN EXCLUSIVE');
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const started = performance.now();
      await assert.rejects(store.claimUnsigned(10, 'a', '2000-01-01T00:00:00Z'), { code: 'ERR_STORE_LOCKED' });
      await assert.rejects(store.probe(), { code: 'ERR_STORE_LOCKED' });
      const took = performance.now() - started;
      clearInterval(timer);
      assert.ok(took >= 1800 && took < 4000, `each waited about a second (${took.toFixed(0)} ms for both)`);
      assert.ok(ticks >= took / 10 / 2, `the event loop ran while they waited (${ticks} ticks of 10 ms in ${took.toFixed(0)} ms)`);
      holder.exec('ROLLBACK');
      await store.probe();
      assert.equal((await store.claimUnsigned(10, 'a', '2000-01-01T00:00:00Z')).length, 1);
    } finally {
      if (holder.isTransaction) holder.exec('ROLLBACK');
      holder.close();
      await store.close();
    }
  });
});

test('PostgreSQL: a probe fails with ERR_STORE_LOCKED while another session locks the runs table, and works once it is released', { timeout: 30_000 }, async () => {
  const pgs = await pgSchemas();
  const { url } = await pgs.fresh('runprint_probe');
  const store = await PostgresRuns.open(url);
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  try {
    await store.probe();
    await holder.query('BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
    const started = performance.now();
    await assert.rejects(store.probe(), { code: 'ERR_STORE_LOCKED' });
    assert.ok(performance.now() - started < 4000, 'within its lock timeout (1 s)');
    await holder.query('ROLLBACK');
    await store.probe();
  } finally {
    await holder.end();
    await store.close();
    await pgs.drop();
  }
});
