/**
 * A damaged run (its record no longer gives its record digest) left out of a claim to sign: the
 * recorder's sweep goes past it, also when a whole claim holds nothing else, signs the runs after
 * it, and reports each damaged run once however often it claims it again. And serve's count of
 * capture failures: a failure of one record, which the recorder reports and rejects that record's
 * call with, counts once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { failureTally } from '../src/cli/serve-capture.ts';
import type { RunprintError } from '../src/errors.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-recorder-damaged-');
after(() => scratch.removeAll());

test('a sweep goes past a claim of damaged runs only (more than one claim\'s 256), signs the runs after them, and reports each damaged run once', async () => {
  const dir = scratch.tempDir();
  const path = join(dir, 'runs.sqlite');
  const store = SqliteRuns.open(path);
  const runs = Array.from({ length: 300 }, (_, i) => {
    const { run, bytes } = chatRun(`Question ${i}.`);
    return runToStore(run, bytes, defaultContentPolicy(), 'proxy', true);
  });
  await store.put(runs);
  await store.close();
  // The first 260 runs' records changed in place (their digests as they were): damaged.
  const db = new DatabaseSync(path);
  assert.equal(db.prepare(`UPDATE runs SET record = replace(record, '"status":200', '"status":201') WHERE seq <= 260`).run().changes, 260);
  db.close();

  const key = await receiptKey(dir, dir, undefined);
  const storage = SqliteRuns.open(path);
  const reported: RunprintError[] = [];
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), sign: { key, runprintVersion: 'test' }, claimant: 'signer', onFailure: (error) => void reported.push(error) });
  try {
    await recorder.signPending();
    const read = new DatabaseSync(path, { readOnly: true });
    const signed = (read.prepare('SELECT seq FROM runs WHERE receipt IS NOT NULL ORDER BY seq').all() as Array<{ seq: number }>).map((row) => row.seq);
    read.close();
    assert.deepEqual(signed, Array.from({ length: 40 }, (_, i) => 261 + i), 'the 40 runs after the damaged ones are signed');
    assert.equal(reported.length, 260, 'each damaged run reported');
    assert.ok(reported.every((error) => error.code === 'ERR_STORE_CORRUPT'));
    assert.equal(new Set(reported.map((error) => error.message)).size, 260, 'each once');
  } finally {
    await recorder.close();
  }
  // A recorder whose claims go stale at once (after a minute in serve) claims them again at every
  // sweep: it reports each once all the same.
  const again: RunprintError[] = [];
  const eager = new RunRecorder({ storage, policy: defaultContentPolicy(), sign: { key, runprintVersion: 'test' }, claimant: 'signer', claimStaleMs: 0, onFailure: (error) => void again.push(error) });
  try {
    await eager.signPending();
    const first = again.length;
    assert.ok(first > 0 && again.every((error) => error.code === 'ERR_STORE_CORRUPT'), `claimed and reported: ${again.map((error) => error.code).join(', ')}`);
    await eager.signPending();
    await eager.signPending();
    assert.equal(again.length, first, 'not reported again');
  } finally {
    await eager.close();
  }
});

test('serve counts a failure of one record once: the recorder reports it and rejects its call with the same error, which the proxy tells too; a failed commit counts once per call', async () => {
  // A store whose commit never ends, and room for one record: the second is refused at once.
  const storage = { put: () => new Promise<never>(() => undefined) } as unknown as RunStorage;
  const reported: unknown[] = [];
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), maxPending: 1, onFailure: (error) => void reported.push(error) });
  const first = chatRun('first');
  const second = chatRun('second');
  void recorder.record(first.run, first.bytes, 'proxy').catch(() => undefined);
  const refused = await recorder.record(second.run, second.bytes, 'proxy').then(() => undefined, (error: unknown) => error);
  assert.equal((refused as RunprintError).code, 'ERR_CAPTURE_RECORDS_LOST');
  assert.equal(reported.length, 1);
  assert.equal(reported[0], refused, 'the premise: the call is rejected with the error the recorder reported');
  const tally = failureTally();
  const counted = [reported[0], refused].filter((error) => tally.counts(error)).length;
  assert.equal(counted, 1, 'told twice, counted once');
  // A commit that failed: one error for all its calls, each of which counts.
  const commit = new (await import('../src/errors.ts')).LogError('ERR_STORE_UNAVAILABLE', 'the run store failed');
  assert.deepEqual([commit, commit, commit].map((error) => tally.counts(error)), [true, true, true]);
});
