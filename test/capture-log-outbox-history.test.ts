/**
 * The log outbox (serve --capture-log with --capture-log-key) checks the remote log's signed
 * checkpoints against each other and against what it delivered before, as `runprint log monitor`
 * does: a log rolled back, forked or replaced with the same key stops delivery and no index it
 * answered is stored (two runs would hold one index otherwise). On a real SQLite run store and
 * real runprint logs (log-service.ts) behind an HTTP front on loopback that can swap one log for
 * another, as a log serve restarted on another log.sqlite with the same log-key.pem does.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { outboxFixture, outboxStorage } from './helpers/log-outbox-fixture.ts';

const { ORIGIN, encoder, closing, folder, logKey, newLog, front, addReceipts, newStore, indexes, outbox, until, noSharedIndex } = outboxFixture('runprint-outbox-history-');

test('a log replaced by a fresh one with the same key (rolled back): ERR_LOG_DROPPED stops delivery, no index it answered is stored', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(3);
  const { box, failures } = outbox(store, to, verifier);
  await until(() => box.state.proved === 3, 'the three receipts are delivered and proved');
  assert.deepEqual(await indexes(store), [0, 1, 2]);

  to.log = await newLog(key);
  await addReceipts(store, 2);
  box.wake();
  await until(() => box.state.stopped !== null, 'delivery stopped');
  assert.deepEqual(box.state.stopped, { code: 'ERR_LOG_DROPPED', status: null, message: 'the log\'s signed checkpoint has 2 entries, the one verified before 3: it was rolled back or replaced; no index it answers is stored' });
  assert.deepEqual(failures.map(([code, outcome]) => [code, outcome]), [['ERR_LOG_DROPPED', 'stop']]);
  assert.deepEqual(await indexes(store), [0, 1, 2, null, null], 'the indexes 0 and 1 the new log answered are not stored');
  await noSharedIndex(store);
  assert.equal(box.state.proved, 3);
  const posts = to.posts;
  await addReceipts(store, 1);
  box.wake();
  await box.close();
  assert.equal(to.posts, posts, 'nothing more is sent');
});

test('a log with other entries at the size verified before: ERR_LOG_FORK; with more entries that do not extend it: ERR_LOG_REWRITE', async () => {
  const { key, verifier } = await logKey();
  for (const [foreign, code, message] of [
    [0, 'ERR_LOG_FORK', /^the log signed two root hashes for size 1: it forked, or was replaced; no index it answers is stored$/],
    [2, 'ERR_LOG_REWRITE', /^the log's checkpoint of size 3 is not consistent with the one of size 1 verified before: it rewrote entries it had signed, or was replaced; no index it answers is stored$/],
  ] as const) {
    const to = await front(await newLog(key));
    const store = await newStore(1);
    const { box } = outbox(store, to, verifier);
    await until(() => box.state.proved === 1, 'the first receipt is delivered and proved');
    to.log = await newLog(key, foreign);
    await addReceipts(store, 1);
    box.wake();
    await until(() => box.state.stopped !== null, 'delivery stopped');
    assert.equal(box.state.stopped!.code, code);
    assert.match(box.state.stopped!.message, message);
    assert.deepEqual(await indexes(store), [0, null]);
    await box.close();
  }
});

test('after a restart (a new outbox), the log must still hold the store\'s last delivered receipt at its index: a replaced log is ERR_LOG_REWRITE, the same log delivers', async () => {
  const { key, verifier } = await logKey();
  const original = await newLog(key);
  const to = await front(original);
  const store = await newStore(3);
  const first = outbox(store, to, verifier);
  await until(() => first.box.state.proved === 3, 'the three receipts are delivered and proved');
  await first.box.close();
  await addReceipts(store, 1);

  // A fresh log with the same key (smaller than the store's last index + 1), then one with more
  // entries than that, but another one at index 2: neither holds the receipt the store has at 2.
  for (const replaced of [await newLog(key), await newLog(key, 5)]) {
    to.log = replaced;
    const { box, failures } = outbox(store, to, verifier);
    await until(() => box.state.stopped !== null, 'delivery stopped');
    const size = (await replaced.checkpoint()).size;
    assert.deepEqual(box.state.stopped, {
      code: 'ERR_LOG_REWRITE',
      status: null,
      message: `the capture log no longer holds the run store's last delivered receipt at index 2 (its signed checkpoint has ${size} entr${size === 1 ? 'y' : 'ies'}): it was rolled back or replaced (or the store's receipts went to another log); no index it answers is stored${size <= 2 ? ' (read again for 1 s: a process of the log lagging longer behind the checkpoint another serve on this store proved with is taken for a rollback too)' : ''}`,
    });
    assert.deepEqual(failures.map(([code, outcome]) => [code, outcome]), [['ERR_LOG_REWRITE', 'stop']]);
    assert.deepEqual(await indexes(store), [0, 1, 2, null]);
    await box.close();
  }

  to.log = original;
  const { box, failures } = outbox(store, to, verifier);
  await until(() => box.state.proved === 1, 'the waiting receipt is delivered to the log that holds the others');
  assert.deepEqual(await indexes(store), [0, 1, 2, 3]);
  assert.deepEqual({ stopped: box.state.stopped, failures }, { stopped: null, failures: [] });
  await box.close();
});

test('a checkpoint read that lags behind the one verified before (another process of the log) is read again, not taken for a rollback', async () => {
  const { key, verifier } = await logKey();
  const log = await newLog(key);
  const to = await front(log);
  const store = await newStore(2);
  const [r0, r1] = await store.unlogged(2);
  // The log holds r1 already (delivered before a crash, its index not stored), at index 0.
  await log.append(encoder.encode(r1!.receipt));
  await log.publishCheckpoint();
  const older = (await log.checkpoint()).note;
  // One receipt a page, so each is proved against a checkpoint of its own.
  let lagged = false;
  const storage = outboxStorage(store, {
    unlogged: async (_limit: number, after = 0) => {
      // The second page (r1, which the log answers with index 0): the next checkpoint read answers the older one, of size 1.
      if (after !== 0 && !lagged) {
        lagged = true;
        to.stale.push(older);
      }
      return store.unlogged(1, after);
    },
  });
  const { box, failures } = outbox(storage, to, verifier);
  await until(() => box.state.proved === 2 || box.state.stopped !== null, 'both proved, or delivery stopped');
  assert.deepEqual({ stopped: box.state.stopped, failures }, { stopped: null, failures: [] });
  const stored = new Map((await store.list({ limit: 10 })).map((run) => [run.recordDigest, run.logIndex]));
  assert.deepEqual([stored.get(r0!.recordDigest), stored.get(r1!.recordDigest)], [1, 0]);
  assert.equal(to.stale.length, 0, 'the older checkpoint was served');
  await box.close();
});

test('delivery across many checkpoints, over a tile boundary: each consistent with the one before, nothing stops', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key, 251));
  const store = await newStore(8);
  // One receipt a page: a checkpoint for each (sizes 252 to 259, over the first tile's 256).
  const sizes = new Set<number>();
  const storage = outboxStorage(store, {
    unlogged: async (_limit: number, after = 0) => {
      sizes.add((await to.log.checkpoint()).size);
      return store.unlogged(1, after);
    },
  });
  const { box, failures } = outbox(storage, to, verifier);
  await until(() => box.state.proved === 8 || box.state.stopped !== null, 'all proved, or delivery stopped');
  assert.deepEqual({ stopped: box.state.stopped, failures }, { stopped: null, failures: [] });
  assert.deepEqual(await indexes(store), [251, 252, 253, 254, 255, 256, 257, 258]);
  assert.ok(sizes.size >= 8, `a checkpoint for each receipt: ${[...sizes].join(' ')}`);
  await box.close();
});

/**
 * After a restart, a log forked under the same key that keeps the store's last delivered receipt at
 * its index (3) but holds the waiting receipt at index 1, where a delivered run is: with the
 * checkpoint the store holds, or (`forget`) with none, as a store made before it kept one.
 */
async function forkedAfterRestart(forget: boolean): Promise<{ stopped: unknown; failures: [string, string][]; waiting: string; holder: string }> {
  const { key, verifier } = await logKey();
  const original = await newLog(key);
  const to = await front(original);
  const path = join(folder(), 'runs.sqlite');
  const store = SqliteRuns.open(path);
  closing.push(() => store.close());
  await addReceipts(store, 4);
  const first = outbox(store, to, verifier);
  await until(() => first.box.state.proved === 4, 'four receipts delivered and proved');
  await first.box.close();
  assert.deepEqual(await indexes(store), [0, 1, 2, 3]);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 4, 'the checkpoint that proved them is kept');
  if (forget) {
    const db = new DatabaseSync(path);
    db.exec('DELETE FROM run_log_checkpoints');
    db.close();
  }
  const delivered = (await store.list({ limit: 10 })).reverse();
  await addReceipts(store, 1);
  const [waiting] = await store.unlogged(1);
  const forked = await newLog(key);
  await forked.append(encoder.encode('{"foreign":0}'));
  await forked.append(encoder.encode(waiting!.receipt));
  await forked.append(encoder.encode('{"foreign":2}'));
  await forked.append(encoder.encode(delivered[3]!.receipt!));
  await forked.publishCheckpoint();
  to.log = forked;
  const second = outbox(store, to, verifier);
  await until(() => second.box.state.proved === 1 || second.box.state.stopped !== null, 'delivered, or stopped');
  await noSharedIndex(store);
  assert.deepEqual(await indexes(store), [0, 1, 2, 3, null]);
  assert.equal(second.box.state.proved, 0);
  await second.box.close();
  const result = { stopped: second.box.state.stopped, failures: second.failures.map(([code, outcome]): [string, string] => [code, outcome]), waiting: waiting!.recordDigest, holder: delivered[1]!.recordDigest };
  // Nothing was lost, and nothing of the fork kept: the log that holds the others takes the receipt after a restart.
  to.log = original;
  const third = outbox(store, to, verifier);
  await until(() => third.box.state.proved === 1 || third.box.state.stopped !== null, 'the waiting receipt delivered, or stopped');
  assert.equal(third.box.state.stopped, null);
  assert.deepEqual(await indexes(store), [0, 1, 2, 3, 4]);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 5);
  await third.box.close();
  return result;
}

test('after a restart, a log forked under the same key that keeps the last delivered receipt at its index but another entry before it: the checkpoint the run store kept tells (ERR_LOG_FORK), nothing is stored, the receipt waits', async () => {
  const { stopped, failures } = await forkedAfterRestart(false);
  assert.deepEqual(stopped, {
    code: 'ERR_LOG_FORK',
    status: null,
    message: "the log signed two root hashes for size 4, its checkpoint's and the one the run store holds (verified by a serve on it before): it forked, or was replaced; no index it answers is stored",
  });
  assert.deepEqual(failures, [['ERR_LOG_FORK', 'stop']]);
});

test('the same fork on a store that kept no checkpoint (made before it kept one): the store refuses the index another run holds (ERR_LOG_REWRITE), nothing of the batch is stored, the receipt waits', async () => {
  const { stopped, failures, waiting, holder } = await forkedAfterRestart(true);
  assert.deepEqual(stopped, {
    code: 'ERR_LOG_REWRITE',
    status: null,
    message: `the log answered index 1 for run ${waiting}, but run ${holder} holds that index in the run store: the log gave it out twice (rolled back, forked or replaced), or the store's receipts went to another log; no index of this batch is stored`,
  });
  assert.deepEqual(failures, [['ERR_LOG_REWRITE', 'stop']]);
});

test('after a restart, a log forked under the same key that keeps the last delivered receipt at its index and answers the waiting receipt a new index: only the checkpoint the run store kept tells (ERR_LOG_REWRITE), nothing is stored', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(4);
  const first = outbox(store, to, verifier);
  await until(() => first.box.state.proved === 4, 'four receipts delivered and proved');
  await first.box.close();
  const delivered = (await store.list({ limit: 10 })).reverse();
  await addReceipts(store, 1);
  // The fork holds another entry at index 1 and every other receipt where it was: the waiting one
  // gets index 4, which no run holds, and the store's last delivered receipt is at 3.
  const forked = await newLog(key);
  for (const [i, run] of delivered.entries()) await forked.append(encoder.encode(i === 1 ? '{"foreign":1}' : run.receipt!));
  await forked.publishCheckpoint();
  to.log = forked;
  const second = outbox(store, to, verifier);
  await until(() => second.box.state.proved === 1 || second.box.state.stopped !== null, 'delivered, or stopped');
  assert.deepEqual(await indexes(store), [0, 1, 2, 3, null]);
  assert.deepEqual(second.box.state.stopped, {
    code: 'ERR_LOG_REWRITE',
    status: null,
    message: "the log's checkpoint of size 5 is not consistent with the one of size 4 the run store holds (verified by a serve on it before): it rewrote entries it had signed, or was replaced; no index it answers is stored",
  });
  assert.deepEqual(second.failures.map(([code, outcome]) => [code, outcome]), [['ERR_LOG_REWRITE', 'stop']]);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 4, 'the fork\'s checkpoint is not kept');
  await second.box.close();
});
