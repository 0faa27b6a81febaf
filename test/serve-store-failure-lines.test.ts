/**
 * A real `runprint serve` whose run store is locked by another connection (BEGIN EXCLUSIVE on
 * runs.sqlite) says so once on stderr, fail-open and fail-closed: one ERR_STORE_LOCKED line whose
 * end says what the calls get in that mode, though the lock is met first by the recorder's
 * background sweep (a claim of runs to sign, while recording still works) and then by the calls'
 * commits; not a second line for the commits (which said "the calls go on" first, under
 * --capture-fail-closed too), nor one for each record held while the store fails.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { chatCall } from './helpers/proxy-calls.ts';
import { lockRunStore, untilHealthy } from './helpers/run-store-lock.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-store-failure-lines-');
before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

const LOCKED = 'runprint: capture: ERR_STORE_LOCKED: run database is locked by another process';

for (const { mode, args, status, line } of [
  {
    mode: 'fail-closed',
    args: ['--capture-fail-closed'],
    status: 503,
    line: `${LOCKED} (the calls go on while commits work; fail-closed: once one fails, calls get 503 ERR_CAPTURE_UNAVAILABLE, not forwarded, until the run store works again (tried every few seconds))`,
  },
  {
    mode: 'fail-open',
    args: [],
    status: 200,
    line: `${LOCKED} (the calls go on; records whose commit fails are held in memory and tried again every few seconds)`,
  },
]) {
  test(`${mode}: a locked run store met by the signing sweep, then by commits, is one line on stderr`, { timeout: 90_000 }, async () => {
    const data = scratch.tempDir();
    const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, ...args] });
    try {
      // A run to sign and log, so the recorder's sweep (every 5 s) has work on the store.
      const warm = await chatCall(serve.base, 'Before the lock.');
      assert.equal(warm.status, 200);
      await warm.text();
      const lock = lockRunStore(data);
      try {
        // The sweep meets the lock first, while recording still works.
        const deadline = performance.now() + 20_000;
        while (!serve.stderr().includes(LOCKED)) {
          assert.ok(performance.now() < deadline, `the sweep meets the lock within 20 s; stderr:\n${serve.stderr()}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // Then the calls: the first commit waits for the lock (5 s) and fails; the others come while the store fails.
        for (let i = 0; i < 3; i++) {
          const response = await chatCall(serve.base, `During the lock, ${i}.`);
          assert.equal(response.status, status, `${mode}: call ${i}`);
          await response.text();
        }
        lock.release();
        await untilHealthy(async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { healthy: boolean } }).capture);
      } finally {
        lock.close();
      }
      assert.equal(await serve.stop(), 0);
      const failures = serve.stderr().split('\n').filter((each) => each.startsWith('runprint: capture: ERR_'));
      assert.deepEqual(failures, [line], `stderr:\n${serve.stderr()}`);
      assert.match(serve.stderr(), /^runprint: capture: the run store works again \([0-9]+ held records? committed/m);
    } finally {
      await serve.kill();
    }
  });
}
