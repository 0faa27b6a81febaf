/**
 * The recorder claims the runs it signs in the transaction that stores them: they are signed from
 * memory (no claim transaction or read-back per batch), another signer cannot take them while the
 * claim is fresh, the receipt is the same bytes a signer reading the store makes, a run whose
 * receipt cannot be logged is signed again a second later, sweeps run at start and at most about
 * once a second after commits and leave the recorder's own claims to it (each run signed once),
 * and an earlier process's claims with the same key are taken over.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PostgresRuns } from '../src/store/postgres-runs.ts';

import { LogError } from '../src/errors.ts';
import type { TransparencyLog } from '../src/store/log-service.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-claims-');
after(() => scratch.removeAll());

const chat = (user: string) => chatRun(user);

/** The store, counting the claims it is asked for. */
function counted(store: SqliteRuns): { storage: RunStorage; claims: () => number } {
  let claims = 0;
  const storage = new Proxy(store, {
    get(target, name) {
      if (name === 'claimUnsigned') return (...args: Parameters<RunStorage['claimUnsigned']>) => (claims++, target.claimUnsigned(...args));
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as RunStorage;
  return { storage, claims: () => claims };
}

/** A log that keeps what it is given, or refuses while `down` is set. */
function memoryLog(): { log: TransparencyLog; entries: Uint8Array[]; down: { value: boolean } } {
  const entries: Uint8Array[] = [];
  const down = { value: false };
  const log = {
    append: async (entry: Uint8Array) => {
      if (down.value) throw new LogError('ERR_STORE_UNAVAILABLE', 'the log is down');
      const known = entries.findIndex((other) => Buffer.from(other).equals(Buffer.from(entry)));
      if (known >= 0) return { index: known };
      entries.push(entry);
      return { index: entries.length - 1 };
    },
  } as unknown as TransparencyLog;
  return { log, entries, down };
}

test('runs are claimed as they are stored and signed without a claim per batch; receipts equal those a signer reading the store makes', async () => {
  const dir = scratch.tempDir();
  const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const key = await receiptKey(dir, dir, undefined);
  const { storage, claims } = counted(store);
  const { log, entries } = memoryLog();
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log, claimant: 'serve:test' });
  try {
    await recorder.signPending();
    assert.equal(claims(), 1, 'a sweep at start');
    for (let i = 0; i < 20; i++) {
      await recorder.record(chat(`question ${i}`).run, chat(`question ${i}`).bytes, 'proxy');
      // Stored claimed: another signer gets nothing while the claim is fresh.
      if (i === 0) assert.deepEqual(await store.claimUnsigned(10, 'other', '2000-01-01T00:00:00Z'), []);
    }
    await recorder.close();
    const runs = await store.list({ limit: 100 });
    assert.equal(runs.length, 20);
    assert.ok(runs.every((run) => run.receipt !== null && run.logIndex !== null), 'every run signed and logged');
    assert.equal(entries.length, 20);
    assert.ok(claims() <= 4, `claims after start: ${claims() - 1} for 20 commits (sweeps are at most about one a second)`);

    // The same runs signed by a signer that reads them back from the store give the same receipts.
    const again = SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'));
    const reread = new RunRecorder({ storage: again, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, claimant: 'other' });
    const stored = await store.find(runs[0]!.record.captureId);
    await again.put([{ recordDigest: stored[0]!.recordDigest, record: stored[0]!.record, recordJson: JSON.stringify(stored[0]!.record), identity: stored[0]!.identity, model: stored[0]!.model, servedModel: null, capture: 'proxy', digests: [], content: [], kept: [], receiptable: true }]);
    await reread.signPending();
    const [signedFromStore] = await again.find(stored[0]!.record.captureId);
    assert.equal(signedFromStore!.receipt, stored[0]!.receipt);
    await reread.close();
    await again.close();
  } finally {
    await recorder.close();
    await store.close();
  }
});

test('a run whose receipt cannot be logged stays claimed and unsigned, and is signed again a second later', async () => {
  const dir = scratch.tempDir();
  const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const key = await receiptKey(dir, dir, undefined);
  const { log, entries, down } = memoryLog();
  const failures: string[] = [];
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log, claimant: 'serve:test', onFailure: (error) => failures.push(error.code) });
  try {
    await recorder.signPending();
    down.value = true;
    const one = chat('while the log is down');
    await recorder.record(one.run, one.bytes, 'proxy');
    // Wait for the pass that tried it.
    for (let i = 0; i < 100 && failures.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(failures.slice(0, 1), ['ERR_STORE_UNAVAILABLE']);
    const [unsigned] = await store.find(one.run.record.captureId);
    assert.equal(unsigned!.receipt, null);
    down.value = false;
    // The retry comes by itself (a timer), about a second later.
    for (let i = 0; i < 300; i++) {
      const [run] = await store.find(one.run.record.captureId);
      if (run!.receipt !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const [signed] = await store.find(one.run.record.captureId);
    assert.notEqual(signed!.receipt, null, 'signed once the log is back');
    assert.equal(entries.length, 1);
  } finally {
    await recorder.close();
    await store.close();
  }
});

test('each run is signed once: sweeps, however often, leave the runs this recorder claimed to it', async () => {
  const dir = scratch.tempDir();
  const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const key = await receiptKey(dir, dir, undefined);
  const { log, entries } = memoryLog();
  let appends = 0;
  // A slow log widens the time a claimed run waits to be signed, when a sweep could take it too.
  const slow = { append: async (entry: Uint8Array) => (appends++, await new Promise((resolve) => setTimeout(resolve, 2)), log.append(entry)) } as unknown as TransparencyLog;
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log: slow, claimant: 'serve:test', sweepEveryMs: 5 });
  try {
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => {
        const one = chat(`wave ${wave} question ${i}`);
        return recorder.record(one.run, one.bytes, 'proxy');
      }));
    }
    for (let i = 0; i < 300 && entries.length < 100; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await recorder.close();
    assert.equal(entries.length, 100);
    assert.equal(recorder.counts.signed, 100, 'signed once each');
    assert.equal(appends, 100, 'appended once each');
    assert.ok((await store.list({ limit: 200 })).every((run) => run.receipt !== null && run.logIndex !== null));
  } finally {
    await recorder.close();
    await store.close();
  }
});

/** `check` on a fresh SQLite run store and on a fresh PostgreSQL one (a schema named from `schema`), as two tests. */
function onBothStores(name: string, schema: string, check: (store: RunStorage) => Promise<void>): void {
  test(`${name}, SQLite`, async () => {
    const store = SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'));
    try {
      await check(store);
    } finally {
      await store.close();
    }
  });
  test(`${name}, PostgreSQL`, async () => {
    const pgs = await pgSchemas();
    const store = await PostgresRuns.open((await pgs.fresh(schema)).url);
    try {
      await check(store);
    } finally {
      await store.close();
      await pgs.drop();
    }
  });
}

/** claimUnsigned's ownBefore: the claimant's own claims are taken only when made before it; others' only when stale. */
async function ownClaims(store: RunStorage): Promise<void> {
  const before = new Date(Date.now() - 1000).toISOString();
  for (const user of ['one', 'two']) {
    const run = chat(user);
    await store.put([{ ...runToStore(run.run, run.bytes, defaultContentPolicy(), 'proxy', true), claimedBy: 'a' }]);
  }
  const after = new Date(Date.now() + 1000).toISOString();
  const past = '2000-01-01T00:00:00Z';
  assert.deepEqual(await store.claimUnsigned(10, 'a', past, undefined, before), [], 'claims made since: this process\'s own, left to it');
  assert.deepEqual(await store.claimUnsigned(10, 'b', past, undefined, after), [], 'another claimant: fresh claims are not taken');
  assert.equal((await store.claimUnsigned(10, 'a', past, 'proxy', after)).length, 2, 'claims made before: an earlier process\'s, taken over');
}

onBothStores('claimUnsigned with ownBefore', 'runprint_own_claims', ownClaims);

/** A receipt stored without a log index (in-process capture) is found by unlogged and taken out by setLogIndexes, once. */
async function unloggedOnce(store: RunStorage): Promise<void> {
  const one = chat('signed in process');
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy() });
  await recorder.record(one.run, one.bytes, 'sdk');
  await recorder.close();
  const [stored] = await store.find(one.run.record.captureId);
  assert.deepEqual(await store.unlogged(10), [], 'no receipt yet: nothing to log');
  await store.setReceipts([{ recordDigest: stored!.recordDigest, receipt: '{"receipt":1}', logIndex: null }]);
  assert.deepEqual(await store.unlogged(10), [{ seq: stored!.seq, recordDigest: stored!.recordDigest, receipt: '{"receipt":1}', runId: one.run.record.runId }]);
  assert.deepEqual(await store.unlogged(10, stored!.seq), [], 'none after its own seq (the cursor)');
  assert.equal((await store.unlogged(10, stored!.seq - 1)).length, 1);
  await store.setLogIndexes([{ recordDigest: stored!.recordDigest, logIndex: 7 }]);
  await store.setLogIndexes([{ recordDigest: stored!.recordDigest, logIndex: 9 }]);
  assert.deepEqual(await store.unlogged(10), []);
  assert.equal((await store.find(one.run.record.captureId))[0]!.logIndex, 7, 'a stored index is not replaced');
}

onBothStores('unlogged and setLogIndexes', 'runprint_unlogged', unloggedOnce);

test('a recorder with logOthers appends receipts others stored without a log, and stores their index', async () => {
  const dir = scratch.tempDir();
  const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const key = await receiptKey(dir, dir, undefined);
  // In process: signed, no log.
  const sdk = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, signCapture: 'sdk', claimant: 'sdk:test' });
  const one = chat('in process');
  await sdk.record(one.run, one.bytes, 'sdk');
  await sdk.close();
  const [signed] = await store.find(one.run.record.captureId);
  assert.notEqual(signed!.receipt, null);
  assert.equal(signed!.logIndex, null);
  const { log, entries } = memoryLog();
  const serve = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log, logOthers: true, claimant: 'serve:test' });
  try {
    await serve.signPending();
    assert.equal(entries.length, 1);
    assert.equal(new TextDecoder().decode(entries[0]), signed!.receipt, 'the receipt as stored');
    assert.equal((await store.find(one.run.record.captureId))[0]!.logIndex, 0);
    await serve.signPending();
    assert.equal(entries.length, 1, 'logged once');
  } finally {
    await serve.close();
    await store.close();
  }
});
