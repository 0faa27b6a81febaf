/**
 * The log outbox (serve --capture-log with --capture-log-key) when several serves share one run
 * store (one SQLite file, or one PostgreSQL schema): each checkpoint must hold the store's last
 * delivered receipt, whichever serve delivered it, so a log rolled back below what another serve
 * stored is not taken by a serve whose own last checkpoint is older, and no two runs hold one
 * index; and receipts are counted proved once they are stored. On real run stores and real
 * runprint logs (log-service.ts) behind an HTTP front on loopback that can swap one log for
 * another, as a log restored from an older backup with the same log-key.pem is.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import type { RunStorage } from '../src/store/run-storage.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { outboxFixture, outboxStorage, type OutboxStorage } from './helpers/log-outbox-fixture.ts';

const { encoder, closing, folder, logKey, newLog, front, addReceipts, newStore, indexes, outbox, until, noSharedIndex } = outboxFixture('runprint-outbox-shared-');

/** `store` as a serve that is cut off from it for a while sees it: nothing waits while `paused.on`. */
function pausable(store: RunStorage): { storage: OutboxStorage; paused: { on: boolean } } {
  const paused = { on: false };
  return { paused, storage: outboxStorage(store, { unlogged: async (limit, after = 0) => (paused.on ? [] : store.unlogged(limit, after)) }) };
}

/** Two serves (outboxes) on one run store, B with a last checkpoint of size 1, A having delivered indexes 1-3, then the log restored to size 1 and a new receipt: B must stop, not store the new receipt at index 1. */
async function rolledBackUnderAnotherServe(storeA: RunStorage, storeB: RunStorage): Promise<void> {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  await addReceipts(storeA, 1);
  // Serve B delivers the first receipt (its last verified checkpoint: size 1), then has nothing to do for a while.
  const b = pausable(storeB);
  const serveB = outbox(b.storage, to, verifier);
  await until(() => serveB.box.state.proved === 1, 'serve B delivered the first receipt');
  b.paused.on = true;
  // Serve A (another process on the same run store) delivers three more: indexes 1 to 3.
  await addReceipts(storeA, 3);
  const serveA = outbox(storeA, to, verifier);
  await until(() => serveA.box.state.proved === 3, 'serve A delivered three receipts');
  await serveA.box.close();
  assert.deepEqual(await indexes(storeA), [0, 1, 2, 3]);
  // The log is restored from a backup that holds the first receipt only (size 1).
  const [first] = (await storeA.list({ limit: 10 })).reverse();
  const restored = await newLog(key);
  await restored.append(encoder.encode(first!.receipt!));
  await restored.publishCheckpoint();
  to.log = restored;
  // A new receipt; serve B looks again. The log answers it index 1, and its checkpoint (size 2)
  // extends the one B verified before: only the store's last delivered receipt (index 3) tells.
  await addReceipts(storeA, 1);
  b.paused.on = false;
  serveB.box.wake();
  await until(() => serveB.box.state.proved === 2 || serveB.box.state.stopped !== null, 'serve B delivered the new receipt, or stopped');
  await noSharedIndex(storeA);
  assert.deepEqual(await indexes(storeA), [0, 1, 2, 3, null]);
  assert.equal(serveB.box.state.stopped?.code, 'ERR_LOG_REWRITE');
  assert.match(serveB.box.state.stopped!.message, /^the capture log no longer holds the run store's last delivered receipt at index 3 \(its signed checkpoint has 2 entries\)/);
  assert.equal(serveB.box.state.proved, 1);
  await serveB.box.close();
}

test('two serves on one SQLite run store: a log rolled back below what the other serve stored stops the serve whose own last checkpoint is older (ERR_LOG_REWRITE), and no two runs hold one index', async () => {
  // Two connections to one file, as two serve processes have.
  const path = join(folder(), 'runs.sqlite');
  const storeA = SqliteRuns.open(path);
  const storeB = SqliteRuns.open(path);
  closing.push(() => storeA.close(), () => storeB.close());
  await rolledBackUnderAnotherServe(storeA, storeB);
});

test('two serves on one PostgreSQL run store (two connections): a log rolled back below what the other serve stored stops the serve whose own last checkpoint is older, and no two runs hold one index', async () => {
  const pgs = await pgSchemas();
  closing.push(() => pgs.drop());
  const url = (await pgs.fresh('runprint_outbox_shared')).url;
  const storeA = await PostgresRuns.open(url);
  const storeB = await PostgresRuns.open(url);
  closing.push(() => storeA.close(), () => storeB.close());
  await rolledBackUnderAnotherServe(storeA, storeB);
});

test('a checkpoint that lags behind the index another serve on the store stored is read again, not taken for a rollback', async () => {
  const { key, verifier } = await logKey();
  const log = await newLog(key);
  const to = await front(log);
  const store = await newStore(1);
  const b = pausable(store);
  const serveB = outbox(b.storage, to, verifier);
  await until(() => serveB.box.state.proved === 1, 'serve B delivered the first receipt');
  const old = (await log.checkpoint()).note;
  b.paused.on = true;
  await addReceipts(store, 3);
  const serveA = outbox(store, to, verifier);
  await until(() => serveA.box.state.proved === 3, 'serve A delivered three receipts');
  await serveA.box.close();
  // Another process of the log, which has not read past size 1 yet, answers serve B's next reads.
  await addReceipts(store, 1);
  to.stale.push(old, old);
  b.paused.on = false;
  serveB.box.wake();
  await until(() => serveB.box.state.proved === 2 || serveB.box.state.stopped !== null, 'serve B delivered the new receipt, or stopped');
  assert.equal(to.stale.length, 0, 'the lagging checkpoints were read');
  assert.deepEqual({ stopped: serveB.box.state.stopped, indexes: await indexes(store) }, { stopped: null, indexes: [0, 1, 2, 3, 4] });
  await serveB.box.close();
});

test('a run store write that fails once after a proof counts each receipt proved once, when it is stored', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(2);
  let failOnce = true;
  const storage = outboxStorage(store, {
    setLogIndexes: async (items, checkpoint) => {
      if (failOnce) {
        failOnce = false;
        throw new Error('disk I/O error');
      }
      return store.setLogIndexes(items, checkpoint);
    },
  });

  const { box, failures } = outbox(storage, to, verifier);
  await until(() => box.state.delivered === 2, 'both delivered');
  assert.deepEqual(failures.map(([code, outcome]) => [code, outcome]), [['ERR_STORE_UNAVAILABLE', 'retry']]);
  assert.deepEqual(await indexes(store), [0, 1]);
  assert.deepEqual({ delivered: box.state.delivered, proved: box.state.proved }, { delivered: 2, proved: 2 });
  await box.close();
});
