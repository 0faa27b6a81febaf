/**
 * The proxy's upstream client (src/server/upstream-fetch.ts) keeps a connection between calls only
 * within its idle limit: the upstream's `Keep-Alive: timeout=N` less 2 s, 4 s without one. A
 * connection idle longer is not reused even when serve's event loop was too busy for the idle timer
 * to fire and for the upstream's close to be read: before, the next call went out on a connection
 * the upstream had just closed and failed "the connection closed before an answer (ECONNRESET)"
 * (a 502 from the proxy). The upstream runs in a worker thread, so that it closes its idle
 * connection on time while this thread is blocked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createUpstreamFetch, idleLimitMs } from '../src/server/upstream-fetch.ts';

/**
 * An upstream that answers 'ok' and closes a connection idle for keepAliveMs (announced as
 * `Keep-Alive: timeout=...`); a path with `?timeout=N` is answered 100 ms late, announces N s
 * and closes its connection N s after. counts[0]: connections opened, counts[1]: closed.
 */
async function startUpstream(keepAliveMs: number): Promise<{ url: string; counts: Int32Array; stop(): Promise<number> }> {
  const counts = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    `
    const { createServer } = require('node:http');
    const { parentPort, workerData } = require('node:worker_threads');
    const counts = new Int32Array(workerData.counts);
    const server = createServer({ keepAliveTimeout: workerData.keepAliveMs, keepAliveTimeoutBuffer: 0 }, (request, response) => {
      request.resume();
      const timeout = /[?]timeout=(\\d+)$/.exec(request.url)?.[1];
      if (timeout === undefined) return request.on('end', () => response.end('ok'));
      response.setHeader('connection', 'keep-alive');
      response.setHeader('keep-alive', 'timeout=' + timeout);
      response.on('finish', () => setTimeout(() => request.socket.destroy(), Number(timeout) * 1000));
      request.on('end', () => setTimeout(() => response.end('ok'), 100));
    });
    server.on('connection', (socket) => {
      Atomics.add(counts, 0, 1);
      socket.on('close', () => {
        Atomics.add(counts, 1, 1);
        Atomics.notify(counts, 1);
      });
    });
    server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
    `,
    { eval: true, workerData: { counts: counts.buffer, keepAliveMs } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { url: `http://127.0.0.1:${port}/v1/chat/completions`, counts, stop: () => worker.terminate() };
}

const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode('{}') };

/** Blocks this thread (no timers run, nothing is read) for ms. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('idle limits: the announced timeout less 2 s (not kept at 2 s or less), 4 s without one, at most 600 s', () => {
  assert.equal(idleLimitMs(undefined), 4000);
  assert.equal(idleLimitMs('max=100'), 4000);
  assert.equal(idleLimitMs('timeout=5'), 3000);
  assert.equal(idleLimitMs('timeout=5, max=1000'), 3000);
  assert.equal(idleLimitMs('max=1000, timeout=10'), 8000);
  assert.equal(idleLimitMs('timeout=2'), 0);
  assert.equal(idleLimitMs('timeout=0'), 0);
  assert.equal(idleLimitMs('timeout=100000'), 600_000);
});

test('a connection idle past its limit while the event loop was blocked is not reused: the next call opens a new one and is answered', async () => {
  const upstream = await startUpstream(3000);
  const call = createUpstreamFetch();
  try {
    const first = await call(upstream.url, post);
    assert.equal(first.headers.get('keep-alive'), 'timeout=3');
    assert.equal(await first.text(), 'ok');
    // Blocked until the upstream has closed the idle connection (3 s): its close is not read here yet.
    assert.equal(Atomics.wait(upstream.counts, 1, 0, 8000), 'ok');
    const second = await call(upstream.url, post);
    assert.equal(await second.text(), 'ok');
    assert.equal(Atomics.load(upstream.counts, 0), 2, 'a new connection');
  } finally {
    call.close();
    await upstream.stop();
  }
});

test('of a host\'s idle connections, one past its limit is taken out of the pool, and one within its limit is reused (even when freed earlier)', async () => {
  const upstream = await startUpstream(10_000);
  const call = createUpstreamFetch();
  try {
    // Two connections: the first freed may idle 8 s, the last (which the agent would hand out next) 1 s.
    const [long, short] = await Promise.all([call(upstream.url, post), call(`${upstream.url}?timeout=3`, post)]);
    assert.equal(await long.text(), 'ok');
    assert.equal(await short.text(), 'ok');
    assert.equal(short.headers.get('keep-alive'), 'timeout=3');
    assert.equal(Atomics.load(upstream.counts, 0), 2);
    assert.equal(Atomics.wait(upstream.counts, 1, 0, 8000), 'ok');
    assert.equal(await (await call(upstream.url, post)).text(), 'ok');
    assert.equal(Atomics.load(upstream.counts, 0), 2, 'the first connection reused');
  } finally {
    call.close();
    await upstream.stop();
  }
});

test('a connection idle less than its limit is reused, also after the event loop was blocked', async () => {
  const upstream = await startUpstream(3000);
  const call = createUpstreamFetch();
  try {
    assert.equal(await (await call(upstream.url, post)).text(), 'ok');
    assert.equal(await (await call(upstream.url, post)).text(), 'ok');
    busy(400);
    assert.equal(await (await call(upstream.url, post)).text(), 'ok');
    assert.equal(Atomics.load(upstream.counts, 0), 1, 'one connection for three calls');
  } finally {
    call.close();
    await upstream.stop();
  }
});

test('with the event loop free, an idle connection is closed by runprint at its limit, before the upstream closes it', async () => {
  const upstream = await startUpstream(3000);
  const call = createUpstreamFetch();
  try {
    assert.equal(await (await call(upstream.url, post)).text(), 'ok');
    const freed = performance.now();
    const closed = Atomics.waitAsync(upstream.counts, 1, 0, 8000);
    assert.equal(closed.async ? await closed.value : closed.value, 'ok');
    const after = performance.now() - freed;
    // The limit is 1 s (3 s less 2 s); the upstream's own close would come at 3 s.
    assert.ok(after >= 900 && after < 2500, `closed after ${Math.round(after)} ms`);
  } finally {
    call.close();
    await upstream.stop();
  }
});

test('a connection whose upstream announces 2 s or less is not kept', async () => {
  const upstream = await startUpstream(2000);
  const call = createUpstreamFetch();
  try {
    const first = await call(upstream.url, post);
    assert.equal(first.headers.get('keep-alive'), 'timeout=2');
    assert.equal(await first.text(), 'ok');
    assert.equal(await (await call(upstream.url, post)).text(), 'ok');
    assert.equal(Atomics.load(upstream.counts, 0), 2);
  } finally {
    call.close();
    await upstream.stop();
  }
});
