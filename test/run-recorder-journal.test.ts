/**
 * The held-records journal (store/held-journal.ts) under the recorder, with a real SQLite run
 * store made to fail (its puts and probes refused while `broken`): records held while the store
 * fails wait in the journal; a recorder that closes then loses none (no record counted failed),
 * and the next recorder on the journal commits them, each once, and signs them; records past
 * maxHeldBytes wait in the journal alone and retryForMs does not drop journaled ones; a journal
 * that cannot be written leaves the recorder as without one.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LogError, type RunprintError } from '../src/errors.ts';
import { HeldJournal } from '../src/store/held-journal.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder, type RecorderOptions } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { runToStore } from '../src/store/run-storage.ts';

const scratch = scratchFolders('runprint-journal-');
after(() => scratch.removeAll());

/** The store, refusing puts and probes while `state.broken`. */
function breakable(storage: RunStorage): { storage: RunStorage; state: { broken: boolean } } {
  const state = { broken: true };
  const wrapped = new Proxy(storage, {
    get(target, name) {
      if ((name === 'put' || name === 'probe') && state.broken) return () => Promise.reject(new LogError('ERR_STORE_UNAVAILABLE', 'the test broke the run store'));
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { storage: wrapped, state };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`waited ${ms} ms for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Records `users`' runs; each call's rejection (the store fails) is kept, not thrown. */
async function recordAll(recorder: RunRecorder, users: string[]): Promise<unknown[]> {
  return Promise.all(users.map((user) => { const one = chatRun(user, 'Be brief.'); return recorder.record(one.run, one.bytes, 'proxy').then(() => undefined, (error: unknown) => error); }));
}

describe('the held-records journal', () => {
  test('records held while the store fails outlive the recorder: the next one commits and signs them, each once', { timeout: 60_000 }, async () => {
    const dir = scratch.tempDir();
    const journalPath = join(dir, 'held-runs.sqlite');
    const key = await receiptKey(dir, dir, undefined);
    const options = (storage: RunStorage, extra: Partial<RecorderOptions> = {}): RecorderOptions => ({ storage, policy: defaultContentPolicy(), sign: { key, runprintVersion: 'test' }, claimant: 'serve:test', journal: new HeldJournal(journalPath), ...extra });

    const first = SqliteRuns.open(join(dir, 'runs.sqlite'));
    const { storage, state } = breakable(first);
    const failures: RunprintError[] = [];
    const left: number[] = [];
    const recorder = new RunRecorder(options(storage, { onFailure: (error) => void failures.push(error), onJournalLeft: (count) => void left.push(count) }));
    const answers = await recordAll(recorder, ['One?', 'Two?', 'Three?']);
    assert.ok(answers.every((answer) => (answer as { code?: string }).code === 'ERR_STORE_UNAVAILABLE'), 'each caller is told the store failed');
    await until(() => new HeldJournal(journalPath).count() === 3, 'the three in the journal');
    await recorder.close();
    assert.deepEqual(left, [3], 'closing says how many wait in the journal');
    assert.equal(recorder.counts.failed, 0, 'none is lost');
    assert.ok(!failures.some((error) => error.code === 'ERR_CAPTURE_RECORDS_LOST'));
    await first.close();

    // A restart: the store works again.
    state.broken = false;
    const second = SqliteRuns.open(join(dir, 'runs.sqlite'));
    const recovered: number[] = [];
    const next = new RunRecorder(options(second, { onRecovered: (count) => void recovered.push(count) }));
    try {
      await until(async () => (await second.list({ limit: 10 })).length === 3, 'the three committed by the next recorder');
      assert.deepEqual(recovered, [3]);
      assert.equal(new HeldJournal(journalPath).count(), 0, 'the journal is empty once they are committed');
      await until(async () => (await second.list({ limit: 10 })).every((run) => run.receipt !== null), 'each signed');
      const runs = await second.list({ limit: 10 });
      assert.equal(new Set(runs.map((run) => run.recordDigest)).size, 3, 'each once');
      for (const run of runs) {
        const response = run.digests.find((digest) => digest.part === 'response')!;
        assert.ok((await second.content(response.digest))?.byteLength, 'the content came through the journal too');
      }
    } finally {
      await next.close();
      await second.close();
    }
  });

  test('past maxHeldBytes records wait in the journal alone, retryForMs drops none of them, and all are committed once the store works', { timeout: 60_000 }, async () => {
    const dir = scratch.tempDir();
    const journal = new HeldJournal(join(dir, 'held-runs.sqlite'));
    const real = SqliteRuns.open(join(dir, 'runs.sqlite'));
    const { storage, state } = breakable(real);
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), journal, maxHeldBytes: 1, retryForMs: 50 });
    try {
      await recordAll(recorder, ['A?', 'B?', 'C?', 'D?', 'E?']);
      assert.equal(recorder.held, 0, 'none fits in memory');
      await until(() => new HeldJournal(join(dir, 'held-runs.sqlite')).count() === 5, 'all five in the journal');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(recorder.counts.failed, 0, 'none dropped after retryForMs');
      state.broken = false;
      await until(() => recorder.healthy, 'healthy once the store works', 30_000);
      assert.equal((await real.list({ limit: 10 })).length, 5);
      assert.equal(recorder.counts.recorded, 5);
      assert.equal(new HeldJournal(join(dir, 'held-runs.sqlite')).count(), 0);
    } finally {
      await recorder.close();
      await real.close();
    }
  });

  test('an exchange held while the store failed whose capture id another record took meanwhile is not stored, and that is reported', { timeout: 30_000 }, async () => {
    const dir = scratch.tempDir();
    const real = SqliteRuns.open(join(dir, 'runs.sqlite'));
    const { storage, state } = breakable(real);
    const failures: RunprintError[] = [];
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), journal: new HeldJournal(join(dir, 'held-runs.sqlite')), onFailure: (error) => void failures.push(error) });
    const exchange = (text: string) => {
      const requestBytes = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Which?' }] }));
      const responseBytes = new TextEncoder().encode(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text } }] }));
      const started = Date.parse('2026-12-01T00:00:00Z');
      return { run: captureRunWith({ captureId: 'one-id', format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } }), bytes: { requestBytes, responseBytes } };
    };
    try {
      const held = exchange('Held.');
      await assert.rejects(recorder.record(held.run, held.bytes, 'sdk', { captureIdOnce: true }), { code: 'ERR_STORE_UNAVAILABLE' });
      // Meanwhile another process stores another record under the capture id.
      const other = exchange('Stored elsewhere.');
      await real.put([{ ...runToStore(other.run, other.bytes, defaultContentPolicy(), 'sdk', false), captureIdOnce: true }]);
      state.broken = false;
      await until(() => recorder.healthy, 'healthy once the store works', 20_000);
      assert.deepEqual((await real.find('one-id')).map((run) => run.record.output?.digest), [other.run.record.output?.digest], 'the other record alone');
      assert.equal(recorder.counts.recorded, 0);
      assert.ok(failures.some((error) => error.code === 'ERR_CAPTURE_ID_TAKEN' && /1 held exchange was not stored/.test(error.message)), 'reported');
      assert.equal(new HeldJournal(join(dir, 'held-runs.sqlite')).count(), 0, 'not kept in the journal either');
    } finally {
      await recorder.close();
      await real.close();
    }
  });

  test('a journal that cannot be written: held in memory as without one; past maxHeldBytes lost, counted and reported', { timeout: 60_000 }, async () => {
    const dir = scratch.tempDir();
    const journal = new HeldJournal(join(dir, 'no such folder', 'held-runs.sqlite'));
    const real = SqliteRuns.open(join(dir, 'runs.sqlite'));
    const { storage } = breakable(real);
    const failures: RunprintError[] = [];
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), journal, maxHeldBytes: 1, onFailure: (error) => void failures.push(error) });
    try {
      await recordAll(recorder, ['A?', 'B?']);
      await until(() => recorder.counts.failed === 2, 'both lost');
      assert.ok(failures.some((error) => error.code.startsWith('ERR_STORE_') && error.message.includes(`held-records journal ${join(dir, 'no such folder', 'held-runs.sqlite')}`)), 'the journal\'s failure is reported as such, with its path');
      assert.ok(failures.some((error) => error.code === 'ERR_CAPTURE_RECORDS_LOST'));
      assert.equal(existsSync(join(dir, 'no such folder')), false);
    } finally {
      await recorder.close();
      await real.close();
    }
  });
});
