/**
 * Requests refused with 503 ERR_HTTP_BUSY because the identity workers' queue is full shed load:
 * no fault of the server's. createApp tells onShed of them, never onServerError; serve counts them
 * on one stderr line a minute at most (`runprint: shed N requests with 503 ERR_HTTP_BUSY ...`),
 * never as a server error's `answered 503` line. In process with a real pool that queues nothing,
 * serve's reporter with mocked timers, and a real serve sent more large requests than it queues.
 */
import assert from 'node:assert/strict';
import { after, mock, test } from 'node:test';
import { shedReporter } from '../src/cli/serve-command.ts';
import { createApp } from '../src/server/app.ts';
import { createIdentityPool } from '../src/server/identity-pool.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-serve-load-shedding-');
after(() => endServeTest(undefined, scratch));

/** A chat request of `count` messages: about 100 bytes each, so an identity that takes a while. */
function chatRequest(count: number): string {
  return JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: count }, (_, i) => ({ role: 'user', content: `message ${i}: ${'lorem ipsum '.repeat(6)}` })) });
}

test('createApp tells onShed, not onServerError, of a request refused with 503 ERR_HTTP_BUSY; a fault is still told to onServerError', async () => {
  // One worker and no queue: while it computes, every other request is refused.
  const pool = createIdentityPool({ workers: 1, maxQueued: 0 });
  const faults: Array<{ code: string; route: string; status: number }> = [];
  const shed: string[] = [];
  try {
    const app = createApp({
      computeIdentity: pool.compute,
      onServerError: (error, route, status) => void faults.push({ code: (error as { code: string }).code, route, status }),
      onShed: (route) => void shed.push(route),
    });
    const body = chatRequest(2_000);
    const post = (path: string) => app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: path === '/v1/explain' ? JSON.stringify({ request: JSON.parse(body) }) : body });
    const answers = await Promise.all(['/v1/identity', '/v1/identity', '/v1/identity', '/v1/explain'].map(post));
    const statuses = answers.map((answer) => answer.status);
    assert.equal(statuses[0], 200, 'the first takes the worker');
    const refused = answers.filter((answer) => answer.status === 503);
    assert.equal(refused.length, 3, `the others are refused: ${statuses.join(', ')}`);
    for (const answer of refused) {
      assert.equal(answer.headers.get('retry-after'), '1');
      assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'ERR_HTTP_BUSY');
    }
    assert.equal(faults.length, 0, 'shedding load is not a server error');
    assert.deepEqual(shed.sort(), ['POST /v1/explain', 'POST /v1/identity', 'POST /v1/identity']);
    // A bug in the compute is a server error, told as before.
    const broken = createApp({
      computeIdentity: () => Promise.reject(new TypeError('not a function')),
      onServerError: (error, route, status) => void faults.push({ code: (error as Error).name, route, status }),
      onShed: (route) => void shed.push(route),
    });
    assert.equal((await broken.request('/v1/identity', { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 500);
    assert.deepEqual(faults, [{ code: 'TypeError', route: 'POST /v1/identity', status: 500 }]);
    assert.equal(shed.length, 3);
  } finally {
    await pool.close();
  }
});

test('serve\'s shed reporter: the first at once, the others counted in one line a minute after the line before, since the first of them; flush prints the count held', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let clock = 0;
    // 2026-01-31T12:00:00Z at clock 0.
    const wall = () => Date.UTC(2026, 0, 31, 12) + clock;
    const lines: string[] = [];
    const reporter = shedReporter((text) => void lines.push(text), () => clock, wall);
    reporter.report();
    assert.deepEqual(lines, ['runprint: shed 1 request with 503 ERR_HTTP_BUSY (the identity queue was full; clients are told to retry after 1 s) since 2026-01-31T12:00:00Z\n']);
    // 500 more over the next 50 s (the first of them 2.5 s after the line): nothing printed yet.
    clock += 2_500;
    mock.timers.tick(2_500);
    for (let i = 0; i < 500; i++) {
      reporter.report();
      clock += 100;
      mock.timers.tick(100);
    }
    assert.equal(lines.length, 1);
    // A minute after the line: one line with their count, since the first of them.
    clock += 7_500;
    mock.timers.tick(7_500);
    assert.equal(lines.length, 2);
    assert.equal(lines[1], 'runprint: shed 500 requests with 503 ERR_HTTP_BUSY (the identity queue was full; clients are told to retry after 1 s) since 2026-01-31T12:00:02Z\n');
    // Quiet for longer than a minute: the next is printed at once.
    clock += 120_000;
    mock.timers.tick(120_000);
    assert.equal(lines.length, 2, 'nothing to print');
    reporter.report();
    assert.equal(lines.length, 3);
    assert.match(lines[2]!, /^runprint: shed 1 request with .* since 2026-01-31T12:03:0[0-9]Z\n$/);
    // At a stop, the count held is printed, once.
    reporter.report();
    reporter.report();
    assert.equal(lines.length, 3);
    reporter.flush();
    reporter.flush();
    assert.equal(lines.length, 4);
    assert.match(lines[3]!, /^runprint: shed 2 requests with 503 ERR_HTTP_BUSY /);
  } finally {
    mock.timers.reset();
  }
});

test('a real serve sent more large identity requests at once than its workers queue: the refused ones are 503 ERR_HTTP_BUSY, and its stderr counts them on a shed line, with no server error line', { timeout: 90_000 }, async () => {
  const data = scratch.tempDir();
  // No per-client cap, so that one client can fill the identity queue (at most 4 workers, 8 queued each).
  const serve = await startServe({ data, args: ['--no-capture', '--max-client-requests', '0'] });
  try {
    const body = chatRequest(10_000);
    const statuses = await Promise.all(Array.from({ length: 60 }, async () => {
      const answer = await fetch(`${serve.base}/v1/identity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await answer.arrayBuffer();
      return answer.status;
    }));
    const refused = statuses.filter((status) => status === 503).length;
    assert.ok(refused > 0, `some were refused: ${statuses.join(', ')}`);
    assert.equal(statuses.filter((status) => status === 200).length + refused, 60, statuses.join(', '));
    const first = /^runprint: shed 1 request with 503 ERR_HTTP_BUSY \(the identity queue was full; clients are told to retry after 1 s\) since [0-9-]{10}T[0-9:]{8}Z$/m;
    const deadline = performance.now() + 5_000;
    while (!first.test(serve.stderr())) {
      assert.ok(performance.now() < deadline, `the first is printed at once; stderr:\n${serve.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await serve.stop(), 0);
    const stderr = serve.stderr();
    assert.doesNotMatch(stderr, /answered 503/, 'no server error line');
    // The first at once, the rest counted in the line the stop prints.
    const counted = [...stderr.matchAll(/^runprint: shed ([0-9]+) requests? with 503 ERR_HTTP_BUSY/gm)].map((match) => Number(match[1]));
    assert.equal(counted.length, refused === 1 ? 1 : 2, stderr);
    assert.equal(counted.reduce((sum, each) => sum + each, 0), refused, stderr);
  } finally {
    await serve.kill();
  }
});
