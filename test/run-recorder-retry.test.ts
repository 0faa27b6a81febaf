/**
 * The recorder through a transient store failure, on SQLite and PostgreSQL, with a real lock held
 * by another connection (SQLite BEGIN EXCLUSIVE, PostgreSQL LOCK TABLE): the callers of a batch
 * whose commit failed are told at once, and so is a record that comes while the store fails;
 * those records are held and committed by a retry once the store works again, each once, signed
 * and logged once; a batch whose timed-out commit went through later is not stored twice; with
 * nothing held, the recorder probes the store and stays unhealthy until it works (what a
 * fail-closed proxy waits for); held records are dropped after retryForMs, and bounded in number
 * and bytes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { LogError, RunprintError } from '../src/errors.ts';
import type { TransparencyLog } from '../src/store/log-service.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder, type RecorderOptions } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-retry-');
after(() => scratch.removeAll());

const chat = (user: string) => chatRun(user, 'Be brief.');

/** A log that keeps what it is given, once per entry. */
function memoryLog(): { log: TransparencyLog; entries: Uint8Array[] } {
  const entries: Uint8Array[] = [];
  const log = {
    append: async (entry: Uint8Array) => {
      const known = entries.findIndex((other) => Buffer.from(other).equals(Buffer.from(entry)));
      if (known >= 0) return { index: known };
      entries.push(entry);
      return { index: entries.length - 1 };
    },
  } as unknown as TransparencyLog;
  return { log, entries };
}

/** Waits until `condition` holds (checked every 20 ms), failing after `ms`. */
async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`waited ${ms} ms for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A store as serve opens it, and another connection that can lock it. */
interface Locked {
  storage: RunStorage;
  lock(): Promise<void>;
  unlock(): Promise<void>;
  close(): Promise<void>;
}

async function sqliteLocked(): Promise<Locked> {
  const path = join(scratch.tempDir(), 'runs.sqlite');
  const storage = SqliteRuns.open(path, { writerThread: true });
  const holder = new DatabaseSync(path);
  return {
    storage,
    lock: async () => holder.exec('BEGIN EXCLUSIVE'),
    unlock: async () => holder.exec('ROLLBACK'),
    close: async () => {
      if (holder.isTransaction) holder.exec('ROLLBACK');
      holder.close();
      await storage.close();
    },
  };
}

async function postgresLocked(): Promise<Locked> {
  const pgs = await pgSchemas();
  const { url } = await pgs.fresh('runprint_retry');
  const storage = await PostgresRuns.open(url);
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  let locked = false;
  return {
    storage,
    lock: async () => {
      await holder.query('BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
      locked = true;
    },
    unlock: async () => {
      await holder.query('ROLLBACK');
      locked = false;
    },
    close: async () => {
      if (locked) await holder.query('ROLLBACK');
      await holder.end();
      await storage.close();
      await pgs.drop();
    },
  };
}

const STORES: Array<[string, () => Promise<Locked>]> = [
  ['SQLite', sqliteLocked],
  ['PostgreSQL', postgresLocked],
];

/** The store, counting its probes and how they ended. */
function probed(storage: RunStorage): { storage: RunStorage; probes: { ok: number; failed: number } } {
  const probes = { ok: 0, failed: 0 };
  const wrapped = new Proxy(storage, {
    get(target, name) {
      if (name === 'probe') {
        return () =>
          target.probe().then(
            () => void probes.ok++,
            (error: unknown) => {
              probes.failed++;
              throw error;
            },
          );
      }
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { storage: wrapped, probes };
}

const isStoreError = (error: unknown): boolean => error instanceof RunprintError && error.code.startsWith('ERR_STORE_');

// Each test waits for a lock (about 5 s); the stores' tests run side by side.
describe('a transient store failure', { concurrency: true }, () => {
  for (const [name, open] of STORES) {
    test(`records whose commit failed are held, committed once the lock is released, each once, signed and logged once; ${name}`, { timeout: 60_000 }, async () => {
      const store = await open();
      const dir = scratch.tempDir();
      const key = await receiptKey(dir, dir, undefined);
      const { log, entries } = memoryLog();
      const failures: string[] = [];
      const recovered: number[] = [];
      const recorder = new RunRecorder({ storage: store.storage, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log, claimant: 'serve:test', onFailure: (error) => void failures.push(error.code), onRecovered: (count) => void recovered.push(count) });
      try {
        // One commit first: the store (and SQLite's writer thread) is open and works.
        const warm = chat('before the lock');
        await recorder.record(warm.run, warm.bytes, 'proxy');
        await store.lock();
        const [a, b, c] = [chat('alpha'), chat('beta'), chat('gamma')];
        const first = await Promise.allSettled([recorder.record(a.run, a.bytes, 'proxy'), recorder.record(b.run, b.bytes, 'proxy')]);
        assert.ok(first.every((settled) => settled.status === 'rejected' && isStoreError(settled.reason)), 'both callers told the commit failed, with the store\'s error');
        assert.ok(failures.includes('ERR_STORE_LOCKED'), `the lock is named: ${failures.join(', ')}`);
        assert.equal(recorder.healthy, false);
        assert.equal(recorder.held, 2);
        assert.equal(recorder.counts.failed, 0, 'held, not failed');
        // While the store fails, a record is held at once: its caller does not wait for a commit attempt (5 s for a lock).
        const asked = performance.now();
        await assert.rejects(recorder.record(c.run, c.bytes, 'proxy'), (error: Error) => isStoreError(error) && /held in memory/.test(error.message));
        assert.ok(performance.now() - asked < 1000, `told at once (${(performance.now() - asked).toFixed(0)} ms)`);
        assert.equal(recorder.held, 3);
        await store.unlock();
        await until(() => recorder.healthy, 'the recorder healthy again');
        assert.deepEqual(recovered, [3]);
        assert.deepEqual({ held: recorder.held, recorded: recorder.counts.recorded, failed: recorder.counts.failed }, { held: 0, recorded: 4, failed: 0 });
        await recorder.close();
        assert.equal((await store.storage.list({ limit: 100 })).length, 4);
        for (const one of [warm, a, b, c]) {
          const found = await store.storage.find(one.run.record.captureId);
          assert.equal(found.length, 1, 'stored once');
          assert.ok(found[0]!.receipt !== null && found[0]!.logIndex !== null, 'signed and logged');
          const expected = runToStore(one.run, one.bytes, defaultContentPolicy(), 'proxy', true).digests.length;
          assert.equal(found[0]!.digests.length, expected, 'its digests once');
        }
        assert.equal(recorder.counts.signed, 4, 'each run signed once');
        assert.equal(entries.length, 4, 'each receipt logged once');
      } finally {
        await recorder.close();
        await store.close();
      }
    });

    test(`with nothing held, the recorder probes the store: unhealthy while the lock is held, healthy once it is released; held records are dropped after retryForMs; ${name}`, { timeout: 60_000 }, async () => {
      const store = await open();
      const { storage, probes } = probed(store.storage);
      const failures: RunprintError[] = [];
      const recovered: number[] = [];
      const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), retryForMs: 0, onFailure: (error) => void failures.push(error), onRecovered: (count) => void recovered.push(count) });
      try {
        const warm = chat('before the lock');
        await recorder.record(warm.run, warm.bytes, 'proxy');
        await store.lock();
        const lost = chat('dropped');
        await assert.rejects(recorder.record(lost.run, lost.bytes, 'proxy'), isStoreError);
        // retryForMs 0: dropped at the first retry, which then probes the store, and fails.
        await until(() => probes.failed >= 1, 'a probe failed');
        assert.equal(recorder.counts.failed, 1);
        assert.equal(recorder.held, 0);
        assert.ok(failures.some((error) => /1 held record was dropped, not recorded/.test(error.message)), 'the drop is reported');
        assert.equal(recorder.healthy, false, 'unhealthy while the store fails');
        assert.equal(probes.ok, 0);
        await store.unlock();
        await until(() => recorder.healthy, 'the recorder healthy again');
        assert.ok(probes.ok >= 1, 'a probe found the store working');
        assert.deepEqual(recovered, [0]);
        const next = chat('after the lock');
        await recorder.record(next.run, next.bytes, 'proxy');
        assert.deepEqual((await store.storage.list({ limit: 10 })).map((run) => run.record.captureId).sort(), [warm.run.record.captureId, next.run.record.captureId].sort());
      } finally {
        await recorder.close();
        await store.close();
      }
    });
  }

  test('a commit that timed out and went through later is not stored twice: the retry waits for it, then finds the rows there (SQLite)', { timeout: 60_000 }, async () => {
    const store = await sqliteLocked();
    const dir = scratch.tempDir();
    const key = await receiptKey(dir, dir, undefined);
    const { log, entries } = memoryLog();
    let puts = 0;
    const counted = new Proxy(store.storage, {
      get(target, name) {
        if (name === 'put') return (...args: Parameters<RunStorage['put']>) => (puts++, target.put(...args));
        const value = Reflect.get(target, name, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const options: RecorderOptions = { storage: counted, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log, claimant: 'serve:test', commitTimeoutMs: 500 };
    const recorder = new RunRecorder(options);
    try {
      // The writer thread open first (its start is not timed here).
      await store.storage.probe();
      await store.lock();
      const late = chat('late');
      // The put waits for the lock on the writer thread; the recorder stops waiting after 500 ms.
      await assert.rejects(recorder.record(late.run, late.bytes, 'proxy'), { code: 'ERR_STORE_UNAVAILABLE', message: /did not commit within 500 ms/ });
      assert.equal(recorder.held, 1);
      const putsBefore = puts;
      // Longer than the first retry (1 s): no second put while the first still runs.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(puts, putsBefore, 'no retry while the timed-out put runs');
      // Released within the thread's 5 s busy wait: the first put commits.
      await store.unlock();
      await until(() => recorder.healthy, 'the recorder healthy again');
      assert.ok(puts > putsBefore, 'the retry put the record again');
      await recorder.close();
      const found = await store.storage.find(late.run.record.captureId);
      assert.equal(found.length, 1);
      assert.equal(found[0]!.digests.length, runToStore(late.run, late.bytes, defaultContentPolicy(), 'proxy', true).digests.length, 'its digests once');
      assert.notEqual(found[0]!.receipt, null);
      assert.deepEqual([recorder.counts.recorded, recorder.counts.signed, entries.length], [1, 1, 1]);
    } finally {
      await recorder.close();
      await store.close();
    }
  });

  test('held records are bounded: by maxPending (with those waiting) and by bytes; beyond, refused and counted failed (SQLite)', { timeout: 60_000 }, async () => {
    const store = await sqliteLocked();
    const runs = Array.from({ length: 5 }, (_, i) => chat(`bounded ${i}`));
    // What the recorder holds of each: its record's JSON and content (nothing is known stored yet).
    const sizes = runs.map((one) => {
      const prepared = runToStore(one.run, one.bytes, defaultContentPolicy(), 'proxy', false);
      return prepared.recordJson.length + prepared.content.reduce((sum, piece) => sum + piece.bytes.byteLength, 0);
    });
    const recorder = new RunRecorder({ storage: store.storage, policy: defaultContentPolicy(), maxPending: 3, maxHeldBytes: sizes[0]! + sizes[1]! + 1 });
    try {
      const warm = chat('warm');
      await recorder.record(warm.run, warm.bytes, 'proxy');
      await store.lock();
      const settled = await Promise.allSettled(runs.map((one) => recorder.record(one.run, one.bytes, 'proxy')));
      const reasons = settled.map((item) => (item.status === 'rejected' ? (item.reason as LogError).message : 'recorded'));
      // The last two: more than 3 waiting. The first three fail their commit; two fit in the bytes held.
      assert.match(reasons[3]!, /too many records wait/);
      assert.match(reasons[4]!, /too many records wait/);
      assert.match(reasons[2]!, /records held for it fill/);
      // Each lost for good: a code serve reports every time, not once.
      for (const i of [2, 3, 4]) assert.equal(((settled[i] as PromiseRejectedResult).reason as LogError).code, 'ERR_CAPTURE_RECORDS_LOST');
      assert.ok(isStoreError((settled[0] as PromiseRejectedResult).reason) && isStoreError((settled[1] as PromiseRejectedResult).reason));
      assert.deepEqual([recorder.held, recorder.counts.failed], [2, 3]);
      await store.unlock();
      await until(() => recorder.healthy, 'the recorder healthy again');
      assert.deepEqual([recorder.counts.recorded, recorder.counts.failed], [3, 3]);
      assert.deepEqual((await store.storage.list({})).map((run) => run.record.captureId).sort(), [warm, runs[0]!, runs[1]!].map((one) => one.run.record.captureId).sort());
    } finally {
      await recorder.close();
      await store.close();
    }
  });
});
