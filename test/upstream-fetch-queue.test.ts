/**
 * Calls past an upstream host's maxSockets wait in upstream-fetch's own queue, not in the agent's:
 * no request is made while every connection of its host is held, so the agent never queues one (Node documents its queue,
 * agent.requests, as not to be modified, and a queued request that is destroyed stays in it until
 * a connection is handed to it). Calls that wait are sent oldest first as connections free; one
 * that waits past the idle limit fails as a silent upstream, one whose caller aborts fails with the
 * signal's reason, and neither is ever sent; a connection that fails, or an answer that is no
 * answer (101), frees its slot for the next call.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { test } from 'node:test';
import { UpstreamSilent } from '../src/io/upstream-silent.ts';
import { createUpstreamFetch } from '../src/server/upstream-fetch.ts';
import { requestsAlive } from './helpers/requests-alive.ts';

/**
 * Requests alive at once (made, not yet closed), and the most there were: a call made past
 * maxSockets while every connection is held would be a request the agent has to queue.
 */
const requests = requestsAlive();

/** An upstream that answers /slow/N after N ms, /trickle with a byte every 200 ms (8 bytes), /reset by cutting the connection, anything else at once; it notes each path asked. */
async function upstream(): Promise<{ base: string; asked: string[]; server: Server }> {
  const asked: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? '';
    asked.push(path);
    request.resume();
    if (path === '/reset') return void request.socket.destroy();
    if (path === '/trickle') {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      let left = 8;
      const tick = setInterval(() => {
        response.write('x');
        if (--left === 0) {
          clearInterval(tick);
          response.end();
        }
      }, 200);
      return;
    }
    const slow = /^\/slow\/(\d+)/.exec(path);
    setTimeout(() => response.end(path), slow === null ? 0 : Number(slow[1]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, asked, server };
}

async function stop(server: Server | NetServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

test('twelve calls at once with two connections: all answered, sent oldest first, two at a time, none queued by the agent', { timeout: 10_000 }, async () => {
  const { base, asked, server } = await upstream();
  const upstreamFetch = createUpstreamFetch({ maxSockets: 2, idleMs: 5000 });
  requests.mostAlive = 0;
  try {
    const paths = Array.from({ length: 12 }, (_, i) => `/slow/100?n=${i}`);
    const started = performance.now();
    const bodies = await Promise.all(paths.map(async (path) => (await upstreamFetch(`${base}${path}`, { method: 'POST', body: new TextEncoder().encode('{}') })).text()));
    const tookMs = performance.now() - started;
    assert.deepEqual(bodies, paths);
    assert.deepEqual(asked, paths, 'sent in the order they were made');
    // Six rounds of two 100 ms answers.
    assert.ok(tookMs >= 550 && tookMs < 3000, `${Math.round(tookMs)} ms`);
    assert.equal(requests.mostAlive, 2, 'more requests than connections: the agent queued calls');
  } finally {
    upstreamFetch.close();
    await stop(server);
  }
});

test('calls waiting for the one connection: past the idle limit each fails as a silent upstream, an aborted one with its reason; none is sent, the others keep their order', { timeout: 10_000 }, async () => {
  const { base, asked, server } = await upstream();
  const upstreamFetch = createUpstreamFetch({ maxSockets: 1, idleMs: 300 });
  requests.mostAlive = 0;
  try {
    // The connection is held by an answer trickled within the idle limit, for 1.6 s.
    const held = upstreamFetch(`${base}/trickle`).then((response) => response.text());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    const waiting = Array.from({ length: 5 }, (_, i) => upstreamFetch(`${base}/late?n=${i}`));
    const leaving = new AbortController();
    const aborted = upstreamFetch(`${base}/aborted`, { signal: leaving.signal });
    setTimeout(() => leaving.abort(new DOMException('the client went away', 'AbortError')), 100);
    await assert.rejects(aborted, { name: 'AbortError', message: 'the client went away' });
    assert.ok(performance.now() - started < 250, 'the abort is told at once');
    for (const call of waiting) {
      await assert.rejects(call, (error: Error) => error instanceof UpstreamSilent && error.name === 'TimeoutError' && !error.answered && error.connections === 1 && error.message === 'fetch failed: no connection to the upstream came free within 300 ms (the idle limit; 1 connection in use)');
    }
    const failedMs = performance.now() - started;
    assert.ok(failedMs >= 280 && failedMs < 1000, `the waiting calls failed after ${Math.round(failedMs)} ms`);
    assert.equal(await held, 'xxxxxxxx', 'the held answer arrives whole');
    // The slot is free again: the next calls are served, in order; the failed ones were never sent.
    const next = await Promise.all([upstreamFetch(`${base}/next?n=0`), upstreamFetch(`${base}/next?n=1`)].map(async (call) => (await call).text()));
    assert.deepEqual(next, ['/next?n=0', '/next?n=1']);
    assert.deepEqual(asked, ['/trickle', '/next?n=0', '/next?n=1']);
    assert.equal(requests.mostAlive, 1, 'more requests than connections: the agent queued calls');
  } finally {
    upstreamFetch.close();
    await stop(server);
  }
});

test('a call whose connection is cut, and one answered 101, free their slot: the calls waiting behind them are sent', { timeout: 10_000 }, async () => {
  const { base, asked, server } = await upstream();
  const upstreamFetch = createUpstreamFetch({ maxSockets: 1, idleMs: 2000 });
  // A raw upstream that answers with a 101 and then sends nothing.
  const upgrader = createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n'));
  });
  await new Promise<void>((resolve) => upgrader.listen(0, '127.0.0.1', resolve));
  const upgraderBase = `http://127.0.0.1:${(upgrader.address() as { port: number }).port}`;
  requests.mostAlive = 0;
  try {
    const cut = upstreamFetch(`${base}/reset`);
    const behind = upstreamFetch(`${base}/behind`);
    await assert.rejects(cut, (error: Error) => error instanceof TypeError && error.message.startsWith('fetch failed'));
    assert.equal(await (await behind).text(), '/behind');
    const upgraded = upstreamFetch(`${upgraderBase}/up`, { method: 'POST', body: new TextEncoder().encode('{}') });
    const afterUpgrade = upstreamFetch(`${upgraderBase}/up`, { method: 'POST', body: new TextEncoder().encode('{}') });
    for (const call of [upgraded, afterUpgrade]) await assert.rejects(call, { message: 'fetch failed: the upstream answered 101 Switching Protocols, which the proxy does not take' });
    assert.deepEqual(asked, ['/reset', '/behind']);
    assert.equal(requests.mostAlive, 1, 'more requests than connections: the agent queued calls');
  } finally {
    upstreamFetch.close();
    await stop(server);
    await stop(upgrader);
  }
});
