/**
 * runprint's node:http fetch (src/node-http/node-fetch.ts) when its reader cancels a body (the
 * proxy's client closed its connection): the source's 'data' or 'end' already on its way (the next
 * tick) when cancel() destroyed it is dropped, not thrown out of the event into the process
 * (ERR_INVALID_STATE: "Controller is already closed", which serve reported as a failure that
 * escaped the request handlers), for a plain body and a coded one; and a coded body cancelled
 * before its peer sent it whole frees its connection for the next call.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createNodeFetch } from '../src/node-http/node-fetch.ts';

const words = { peer: 'the peer', notHttp: () => new TypeError('not http'), switchingProtocols: () => new TypeError('101') };
const BODY = 'hello world, a body that arrives whole';
const LARGE = gzipSync(Buffer.from('x'.repeat(4_000_000)));

const server = createServer((request, response: ServerResponse) => {
  if (request.url === '/large-gzip') {
    // The first bytes, the rest a moment later: the body is cancelled before it is whole.
    response.writeHead(200, { 'content-encoding': 'gzip' });
    response.write(LARGE.subarray(0, 1_000));
    setTimeout(() => response.end(LARGE.subarray(1_000)), 200);
    return;
  }
  if (request.url === '/gzip') {
    response.writeHead(200, { 'content-encoding': 'gzip' });
    response.end(gzipSync(Buffer.from(BODY)));
    return;
  }
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end(BODY);
});
// An idle connection stays open longer than the test waits: only the client lets it go.
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const fetch = createNodeFetch({ maxSockets: 1, words });
after(() => {
  fetch.close();
  server.closeAllConnections();
  server.close();
});

/** The next turns of the event loop, for events already on their way to run. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 10));
};

for (const path of ['/plain', '/gzip']) {
  test(`a ${path.slice(1)} body cancelled while its last 'data' and 'end' are on their way: nothing thrown out of the events`, async () => {
    const escaped: Error[] = [];
    const collect = (error: Error) => escaped.push(error);
    process.on('uncaughtException', collect);
    try {
      for (const when of ['right after a read', 'on the tick after a read'] as const) {
        const response = await fetch(`${base}${path}`);
        assert.equal(response.status, 200);
        // The whole body and its end have arrived, waiting for the reader.
        await turns();
        const reader = response.body!.getReader();
        // A coded body's first decoded bytes are in hand before its answer: read, its end waits for the next read.
        if (path === '/gzip') assert.equal(new TextDecoder().decode((await reader.read()).value), BODY);
        const read = reader.read();
        if (when === 'right after a read') void reader.cancel();
        else process.nextTick(() => void reader.cancel());
        await read.catch(() => undefined);
        await turns();
        assert.deepEqual(escaped.map((error) => `${(error as { code?: string }).code}: ${error.message}`), [], when);
      }
      // The connection is free: the next call is answered whole.
      assert.equal(await (await fetch(`${base}${path}`)).text(), BODY);
    } finally {
      process.off('uncaughtException', collect);
    }
  });
}

test('a coded body cancelled before its peer sent it whole frees its connection: the next call (one connection at most) is answered', async () => {
  const response = await fetch(`${base}/large-gzip`);
  const reader = response.body!.getReader();
  assert.equal((await reader.read()).done, false);
  await reader.cancel();
  const next = fetch(`${base}/plain`).then((answer) => answer.text());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting for a connection after 10 s'), 10_000)));
  try {
    assert.equal(await Promise.race([next, stuck]), BODY);
  } finally {
    clearTimeout(timer);
  }
});
