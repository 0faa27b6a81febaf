/**
 * A real `runprint serve` whose run store is locked by another connection (BEGIN EXCLUSIVE on
 * runs.sqlite) keeps the records it cannot commit in its held-records journal
 * (DATA/held-runs.sqlite): stopped then (SIGTERM) it says how many wait there, killed (SIGKILL)
 * it says nothing; either way the next serve on the data directory commits them, signs and logs
 * them, and the journal is empty after.
 */
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ServeJournal } from '../src/cli/serve-capture.ts';
import { HeldJournal } from '../src/store/held-journal.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { chatCall } from './helpers/proxy-calls.ts';
import { lockRunStore } from './helpers/run-store-lock.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream | undefined;
const scratch = scratchFolders('runprint-held-journal-');
after(() => endServeTest(upstream, scratch));

interface Listed {
  runs: Array<{ captureId: string; receipt: { logIndex: number | null } | null }>;
}

test('records a locked run store could not take survive a stop and a kill -9 of serve, and the next serve commits them', { timeout: 120_000 }, async () => {
  upstream = await startFakeUpstream();
  const data = scratch.tempDir();
  const journal = () => new HeldJournal(join(data, 'held-runs.sqlite')).count();
  const start = () => startServe({ data, args: ['--upstream', `openai=${upstream!.url}`] });
  const call = async (serve: ServeProcess, content: string): Promise<string> => {
    const response = await chatCall(serve.base, content);
    assert.equal(response.status, 200, 'fail-open: the call completes');
    await response.text();
    return response.headers.get('runprint-capture-id')!;
  };
  const listed = async (serve: ServeProcess): Promise<Listed['runs']> => ((await (await fetch(`${serve.base}/v1/runs?limit=50`)).json()) as Listed).runs;
  const ids: string[] = [];

  let serve = await start();
  ids.push(await call(serve, 'Before the lock.'));
  for (const stop of ['SIGTERM', 'SIGKILL'] as const) {
    const lock = lockRunStore(data);
    try {
      // The first commit waits for the lock (5 s) and fails; the next is held at once.
      ids.push(await call(serve, `During the lock, before ${stop}, 1.`));
      ids.push(await call(serve, `During the lock, before ${stop}, 2.`));
      const deadline = performance.now() + 10_000;
      while (journal() < 2) {
        assert.ok(performance.now() < deadline, 'both in the journal within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (stop === 'SIGTERM') {
        assert.equal(await serve.stop(), 0);
        assert.match(serve.stderr(), /runprint: capture: 2 records the run store could not take wait in .*held-runs\.sqlite: committed when serve starts again with this data directory/);
        assert.doesNotMatch(serve.stderr(), /ERR_CAPTURE_RECORDS_LOST/, 'none is lost');
      } else {
        await serve.kill();
      }
    } finally {
      lock.close();
    }
    serve = await start();
    const deadline = performance.now() + 30_000;
    for (;;) {
      const runs = await listed(serve);
      if (runs.length === ids.length && runs.every((run) => run.receipt?.logIndex != null)) break;
      assert.ok(performance.now() < deadline, `every call recorded, signed and logged after the ${stop}: ${runs.length} of ${ids.length}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual((await listed(serve)).map((run) => run.captureId).sort(), [...ids].sort(), 'each call once');
    assert.equal(journal(), 0, 'the journal is empty once they are committed');
    assert.match(serve.stderr(), /the run store works again \(2 held records committed\)/);
  }
  assert.equal(await serve.stop(), 0);
});

test('a damaged held-records journal: serve says what to do with it and is unhealthy until it is moved aside and serve restarted', { timeout: 60_000 }, async () => {
  upstream ??= await startFakeUpstream();
  const data = scratch.tempDir();
  writeFileSync(join(data, 'held-runs.sqlite'), 'not an SQLite database, not an SQLite database\n', { mode: 0o600 });
  const start = () => startServe({ data, args: ['--upstream', `openai=${upstream!.url}`] });
  let serve = await start();
  const health = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { healthy: boolean } }).capture.healthy;
  const deadline = performance.now() + 10_000;
  while (!/held-runs\.sqlite/.test(serve.stderr())) {
    assert.ok(performance.now() < deadline, 'the journal is reported within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const damaged = `runprint: capture: ERR_STORE_CORRUPT: held-records journal ${join(data, 'held-runs.sqlite')} is damaged, or not an SQLite file: it may hold records not yet in the run store; stop serve, move it aside to keep it (or delete it to go on without them), then start serve again`;
  assert.equal(await health(), false, 'unhealthy: what it may hold is not recorded');
  // Calls still go through and are recorded (fail-open).
  const response = await chatCall(serve.base, 'With a damaged journal.');
  assert.equal(response.status, 200);
  await response.text();
  assert.equal(await serve.stop(), 0);
  // One line, whose end says what the damaged journal means (not a failing commit's records held
  // in memory); not again at the stop, after the call was recorded.
  assert.deepEqual(serve.stderr().split('\n').filter((line) => line.includes('held-runs.sqlite')), [`${damaged} (the calls go on and are recorded, but /healthz says unhealthy while serve runs with it)`]);
  // Fail-closed, it is unhealthy all the same: calls get 503, and the line says so.
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream!.url}`, '--capture-fail-closed'] });
  while (!/held-runs\.sqlite/.test(serve.stderr())) await new Promise((resolve) => setTimeout(resolve, 50));
  const refused = await chatCall(serve.base, 'Fail-closed with a damaged journal.');
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_UNAVAILABLE');
  assert.equal(await serve.stop(), 0);
  assert.deepEqual(serve.stderr().split('\n').filter((line) => line.includes('held-runs.sqlite')), [`${damaged} (fail-closed: calls get 503 ERR_CAPTURE_UNAVAILABLE, not forwarded, while serve runs with it)`]);
  renameSync(join(data, 'held-runs.sqlite'), join(data, 'held-runs.sqlite.damaged'));
  serve = await start();
  assert.equal(await health(), true, 'healthy once it is moved aside');
  assert.equal(await serve.stop(), 0);
});

test('serve\'s journal tells its failures apart from the run store\'s, by what it was doing: the same errors, thrown', () => {
  const data = scratch.tempDir();
  writeFileSync(join(data, 'held-runs.sqlite'), 'not an SQLite database, not an SQLite database\n', { mode: 0o600 });
  const journal = new ServeJournal(join(data, 'held-runs.sqlite'));
  const thrown = (work: () => unknown): unknown => {
    try {
      work();
    } catch (error) {
      return error;
    }
    assert.fail('it throws');
  };
  const counting = thrown(() => journal.count());
  assert.equal((counting as { code: string }).code, 'ERR_STORE_CORRUPT');
  assert.equal(journal.operationOf(counting), 'open');
  assert.equal(journal.operationOf(thrown(() => journal.load(1024))), 'read');
  assert.equal(journal.operationOf(thrown(() => journal.remove(['a'.repeat(64)]))), 'remove');
  // Not another journal's, nor the run store's.
  assert.equal(journal.operationOf(thrown(() => new HeldJournal(join(data, 'held-runs.sqlite')).count())), undefined);
  assert.equal(journal.operationOf(new Error('the run store\'s')), undefined);
});
