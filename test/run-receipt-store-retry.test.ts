/**
 * Receipts signed and logged whose storing fails (the run store locked as they are stored) are
 * stored by the recorder's next pass, about a second later: not signed or logged again, and not
 * left until the run's claim is stale (a minute), which is when a sweep would take it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LogError, type RunprintError } from '../src/errors.ts';
import type { TransparencyLog } from '../src/store/log-service.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-receipt-store-');
after(() => scratch.removeAll());

test('receipts the store could not take are stored a second later, each signed and logged once', { timeout: 30_000 }, async () => {
  const dir = scratch.tempDir();
  const real = SqliteRuns.open(join(dir, 'runs.sqlite'));
  let refusals = 2;
  const storage = new Proxy(real, {
    get(target, name) {
      if (name === 'setReceipts') {
        return (...args: Parameters<RunStorage['setReceipts']>) => (refusals-- > 0 ? Promise.reject(new LogError('ERR_STORE_LOCKED', 'run database is locked by another process')) : target.setReceipts(...args));
      }
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const entries: Uint8Array[] = [];
  const log = { append: async (entry: Uint8Array) => ({ index: entries.push(entry) - 1 }) } as unknown as TransparencyLog;
  const failures: RunprintError[] = [];
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), sign: { key: await receiptKey(dir, dir, undefined), runprintVersion: 'test' }, log, claimant: 'serve:test', onFailure: (error) => void failures.push(error) });
  try {
    const one = chatRun('Store my receipt?', 'Be brief.');
    await recorder.record(one.run, one.bytes, 'proxy');
    const started = performance.now();
    for (;;) {
      const [stored] = await real.find(one.run.record.captureId);
      if (stored?.receipt != null) break;
      assert.ok(performance.now() - started < 10_000, 'stored within 10 s, not after the claim went stale');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(recorder.counts.signed, 1, 'signed once');
    assert.equal(entries.length, 1, 'logged once');
    assert.equal((await real.find(one.run.record.captureId))[0]!.logIndex, 0);
    assert.ok(failures.some((error) => error.code === 'ERR_STORE_LOCKED'), 'the failure is reported');
  } finally {
    await recorder.close();
    await real.close();
  }
});

test('one record recorded twice in one batch (an exchange sent again while the first waited) is one run: recorded, signed and logged once', { timeout: 30_000 }, async () => {
  const dir = scratch.tempDir();
  const storage = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const entries: Uint8Array[] = [];
  const log = { append: async (entry: Uint8Array) => ({ index: entries.push(entry) - 1 }) } as unknown as TransparencyLog;
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), sign: { key: await receiptKey(dir, dir, undefined), runprintVersion: 'test' }, log, claimant: 'serve:test' });
  try {
    const one = chatRun('Twice?', 'Be brief.');
    await Promise.all([recorder.record(one.run, one.bytes, 'sdk'), recorder.record(one.run, one.bytes, 'sdk')]);
    for (let i = 0; i < 200 && recorder.counts.logged === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual({ recorded: recorder.counts.recorded, signed: recorder.counts.signed, logged: recorder.counts.logged }, { recorded: 1, signed: 1, logged: 1 });
    assert.equal(entries.length, 1);
    assert.equal((await storage.list({ limit: 10 })).length, 1);
  } finally {
    await recorder.close();
    await storage.close();
  }
});
