/** The HTTP layer against hostile clients, over real sockets: bodies, targets, methods, per-client limits. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApp } from '../src/server/app.ts';
import { createIdentityPool } from '../src/server/identity-pool.ts';
import { listen, type Listening } from '../src/server/listen.ts';
import type { LogService } from '../src/server/log-routes.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

let data: string;
let serve: ServeProcess;

before(async () => {
  data = await mkdtemp(join(tmpdir(), 'runprint-hardening-'));
  serve = await startServe({ data, token: 'secret-token' });
});

after(async () => {
  await killServeProcesses();
  await rm(data, { recursive: true, force: true });
});

/**
 * Sends `total` bytes chunked (no Content-Length) in `chunk`-sized writes, or cuts the connection
 * after `cutAfter` bytes; resolves with the status, or 0 when the server or the client hung up first.
 */
function postChunked(base: string, path: string, total: number, chunk: number, options: { headers?: Record<string, string>; cutAfter?: number } = {}): Promise<number> {
  return new Promise((resolve) => {
    const request = httpRequest(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...options.headers } });
    let settled = false;
    const done = (status: number) => {
      if (!settled) (settled = true), resolve(status);
    };
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => done(response.statusCode ?? 0));
      response.on('error', () => done(response.statusCode ?? 0));
    });
    request.on('error', () => done(0));
    request.on('close', () => setImmediate(() => done(0)));
    const block = Buffer.alloc(chunk, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < total && !request.destroyed) {
        if (options.cutAfter !== undefined && sent >= options.cutAfter) return void request.destroy();
        sent += chunk;
        if (!request.write(block)) return void request.once('drain', pump);
      }
      if (!request.destroyed) request.end();
    };
    pump();
  });
}

/** Writes `text` on a raw connection and resolves with everything the server sent until it closed. */
function raw(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (part: string) => (answer += part));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.end(text);
  });
}

async function healthy(base: string): Promise<boolean> {
  try {
    return (await fetch(`${base}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

async function withServer<T>(options: Parameters<typeof createApp>[0], limits: Partial<Parameters<typeof listen>[1]>, body: (server: Listening, base: string) => Promise<T>): Promise<T> {
  const server = await listen(createApp(options), { host: '127.0.0.1', port: 0, ...limits });
  try {
    return await body(server, server.url);
  } finally {
    await server.close();
  }
}

test('bodies over the limit, chunked or cut off, are refused or dropped and the process keeps serving', async () => {
  const token = { authorization: 'Bearer secret-token' };
  // 413, or the connection closing under a client still sending (docs/CAPTURE.md, "Request size":
  // the close can reach it first; seen about once in 15 runs on a loaded machine).
  const entries = await postChunked(serve.base, '/v1/log/entries', 1024 * 1024, 64 * 1024, { headers: token });
  assert.ok(entries === 413 || entries === 0, `status ${entries}`);
  const identity = await postChunked(serve.base, '/v1/identity', 40 * 1024 * 1024, 64 * 1024);
  assert.ok(identity === 413 || identity === 0, `status ${identity}`);
  // Many at once, in every chunk size, some cut off mid-body, some right at the limit.
  const attempts: Promise<number>[] = [];
  for (const chunk of [1, 1024, 16 * 1024, 65 * 1024]) {
    attempts.push(postChunked(serve.base, '/v1/log/entries', 256 * 1024, chunk === 1 ? 4096 : chunk, { headers: token }));
    attempts.push(postChunked(serve.base, '/v1/log/entries', 256 * 1024, chunk === 1 ? 4096 : chunk, { headers: token, cutAfter: 32 * 1024 }));
    attempts.push(postChunked(serve.base, '/v1/log/entries', 64 * 1024 + 1, chunk === 1 ? 4096 : chunk, { headers: token }));
    attempts.push(postChunked(serve.base, '/v1/identity', 4 * 1024 * 1024, chunk === 1 ? 4096 : chunk, { cutAfter: 1024 * 1024 }));
  }
  for (const status of await Promise.all(attempts)) assert.ok(status === 413 || status === 400 || status === 0, `status ${status}`);
  assert.equal(await healthy(serve.base), true);
  assert.doesNotMatch(serve.stderr(), /ERR_INVALID_STATE|ERR_INTERNAL|Error/);
});

test('a Content-Length over the route limit is refused before the body is read', async () => {
  const answer = await raw(serve.port, 'POST /v1/log/entries HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer secret-token\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n{');
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /"code":"ERR_HTTP_BODY_TOO_LARGE"/);
  assert.match(answer, /connection: close/i);
});

test('a malformed request target is 400 ERR_HTTP_BAD_REQUEST, not 500', async () => {
  for (const target of ['http://a:99999/healthz', 'http://[::1/healthz', 'http://[/']) {
    const answer = await raw(serve.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 400 /, target);
    assert.match(answer, /"code":"ERR_HTTP_BAD_REQUEST"/, target);
  }
  // An absolute-form target that is a URL is served by its path (RFC 9112 section 3.2.2).
  assert.match(await raw(serve.port, 'GET http://runprint.example/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
  assert.equal(await healthy(serve.base), true);
});

test('requests Node cannot parse, headers too long and headers too slow get runprint\'s JSON error with a stable code, then the connection closes', async () => {
  await withServer({}, { maxHeaderBytes: 4096, headersTimeoutMs: 300 }, async (server, base) => {
    const port = Number(new URL(base).port);
    const cases: Array<[string, string, RegExp]> = [
      ['not HTTP', 'HELLO THERE\r\n\r\n', /^HTTP\/1\.1 400 Bad Request\r\n/],
      ['a bad header line', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n', /^HTTP\/1\.1 400 Bad Request\r\n/],
      ['a header block over 4 KiB', `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nx-long: ${'a'.repeat(5000)}\r\n\r\n`, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/],
    ];
    for (const [what, text, status] of cases) {
      const answer = await raw(port, text);
      assert.match(answer, status, what);
      assert.match(answer, /connection: close/i, what);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
      assert.equal(body.error.code, what === 'a header block over 4 KiB' ? 'ERR_HTTP_HEADERS_TOO_LARGE' : 'ERR_HTTP_BAD_REQUEST', what);
      assert.doesNotMatch(body.error.message, /aaaa|Bad Header|HELLO/, what);
    }
    // Headers that stop coming: 408 once the headers timeout has passed.
    const slow = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.setEncoding('latin1');
      socket.on('data', (part: string) => (answer += part));
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    });
    assert.match(slow, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.equal((JSON.parse(slow.slice(slow.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }).error.code, 'ERR_HTTP_TIMEOUT');
    assert.equal(await healthy(base), true);
    void server;
  });
});

test('header lines are limited apart from bytes: 1,000 by default (1,001 short lines, 8 KB, are 431), set with maxHeaderLines; the 431 names both limits', async () => {
  /** A GET of `lines` header lines in all, each a few bytes. */
  const request = (lines: number) => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${'x-n: 1\r\n'.repeat(lines - 2)}connection: close\r\n\r\n`;
  const refusal = (answer: string) => {
    assert.match(answer, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.match(answer, /connection: close/i);
    return (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } }).error;
  };
  await withServer({}, { maxHeaderBytes: 80 * 1024 }, async (server, base) => {
    const port = Number(new URL(base).port);
    assert.match(await raw(port, request(1000)), /^HTTP\/1\.1 200 OK\r\n/, '1,000 header lines are read');
    const error = refusal(await raw(port, request(1001)));
    assert.equal(error.code, 'ERR_HTTP_HEADERS_TOO_LARGE');
    assert.equal(error.message, 'request headers are longer than 81920 bytes or more than 1000 header lines');
    assert.equal(await healthy(base), true);
    void server;
  });
  await withServer({}, { maxHeaderLines: 50 }, async (server, base) => {
    const port = Number(new URL(base).port);
    assert.match(await raw(port, request(50)), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(refusal(await raw(port, request(51))).message, 'request headers are longer than 16384 bytes or more than 50 header lines');
    void server;
  });
});

test('serves on an IPv6 address: the URL it gives has brackets and requests answer', async () => {
  const server = await listen(createApp(), { host: '::1', port: 0 });
  try {
    assert.equal(server.url, `http://[::1]:${server.port}`);
    const response = await fetch(`${server.url}/healthz`);
    assert.equal(response.status, 200);
    const identity = await fetch(`${server.url}/v1/identity?from=openai-chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [] }) });
    assert.equal(identity.status, 200);
    assert.match(await raw(server.port, 'GET http://[::1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', '::1'), /^HTTP\/1\.1 400 /);
  } finally {
    await server.close();
  }
});

test('HEAD on a GET route answers like GET without a body; other methods are 405 with Allow', async () => {
  const app = createApp({ version: '1.2.3' });
  const head = await app.request('/healthz', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'application/json');
  assert.equal(head.body, null);
  const options = await app.request('/healthz', { method: 'OPTIONS' });
  assert.equal(options.status, 405);
  assert.equal(options.headers.get('allow'), 'GET, HEAD');
  assert.equal((await options.json()).error.code, 'ERR_HTTP_METHOD_NOT_ALLOWED');
  assert.equal((await app.request('/v1/identity', { method: 'HEAD' })).status, 405);
  // Over a socket, on a log route of a real serve process.
  const response = await fetch(`${serve.base}/checkpoint`, { method: 'HEAD' });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('cache-control'), 'no-cache');
  assert.equal(await response.text(), '');
  const missing = await fetch(`${serve.base}/nope`, { method: 'HEAD' });
  assert.equal(missing.status, 404);
});

test('POST /v1/log/entries takes application/json only (415 otherwise); the log client still submits', async () => {
  const entry = JSON.stringify({ payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'AAAA' }] });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
    const response = await fetch(`${serve.base}/v1/log/entries`, { method: 'POST', body: entry, headers: { authorization: 'Bearer secret-token', 'content-type': type } });
    assert.equal(response.status, 415, type);
    assert.equal((await response.json()).error.code, 'ERR_HTTP_MEDIA_TYPE');
  }
  const json = await fetch(`${serve.base}/v1/log/entries`, { method: 'POST', body: entry, headers: { authorization: 'Bearer secret-token', 'content-type': 'application/json; charset=utf-8' } });
  assert.equal(json.status, 201);
});

test('a request with more list elements than the service answers for is 413 ERR_HTTP_TOO_MANY_ELEMENTS', async () => {
  const app = createApp({ maxIdentityElements: 3 });
  const messages = (n: number) => JSON.stringify({ model: 'm', messages: Array.from({ length: n }, () => ({ role: 'user', content: 'x' })) });
  const post = (body: string) => app.request('/v1/identity?from=openai-chat', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  assert.equal((await post(messages(3))).status, 200);
  const refused = await post(messages(4));
  assert.equal(refused.status, 413);
  assert.equal((await refused.json()).error.code, 'ERR_HTTP_TOO_MANY_ELEMENTS');
});

test('each route reads at most its own limit: a receipt route refuses 64 KiB + 1, a GET route reads no body', async () => {
  const log = { verifierKey: 'k' } as unknown as LogService;
  const app = createApp({ log: { log, anonymousWrites: true } });
  assert.equal(app.bodyLimit?.('POST', '/v1/log/entries'), 64 * 1024);
  assert.equal(app.bodyLimit?.('POST', '/v1/identity'), 32 * 1024 * 1024);
  assert.equal(app.bodyLimit?.('GET', '/healthz'), 0);
  assert.equal(app.bodyLimit?.('POST', '/nope'), 0);
  await withServer({ log: { log, anonymousWrites: true } }, {}, async (_server, base) => {
    assert.equal(await postChunked(base, '/v1/log/entries', 64 * 1024 + 1, 1024), 413);
    // A body sent to a route that reads none is not read; the answer closes the connection.
    const answer = await raw(Number(new URL(base).port), 'POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nxx');
    assert.match(answer, /^HTTP\/1\.1 404 /);
    assert.match(answer, /connection: close/i);
  });
});

test('a client with too many requests in progress gets 429 with Retry-After; others are served', async () => {
  await withServer({}, { maxClientRequests: 2 }, async (server) => {
    // Two requests whose bodies never finish hold the client's two slots.
    const holders = [0, 1].map(() => {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      // Node answers 100 Continue as it hands the request to the server: then it holds a slot.
      const started = new Promise((resolve) => socket.once('data', resolve));
      socket.write('POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n{');
      return { socket, started };
    });
    await Promise.all(holders.map((holder) => holder.started));
    try {
      const answer = await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      assert.match(answer, /^HTTP\/1\.1 429 /);
      assert.match(answer, /retry-after: 1/i);
      assert.match(answer, /"code":"ERR_HTTP_TOO_MANY_REQUESTS"/);
      // Another client address is not affected.
      const other = await new Promise<string>((resolve, reject) => {
        const socket = connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
        let text = '';
        socket.setEncoding('latin1').on('data', (part: string) => (text += part));
        socket.on('error', reject).on('close', () => resolve(text));
        socket.end('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      });
      assert.match(other, /^HTTP\/1\.1 200 /);
    } finally {
      for (const holder of holders) holder.socket.destroy();
    }
  });
});

test('a client gets at most 4 large-body requests in progress; a fifth is 429, small routes still answer', async () => {
  await withServer({}, {}, async (server) => {
    const holders = [0, 1, 2, 3].map(() => {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      const started = new Promise((resolve) => socket.once('data', resolve));
      socket.write('POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n{');
      return { socket, started };
    });
    await Promise.all(holders.map((holder) => holder.started));
    try {
      const fifth = await raw(server.port, 'POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
      assert.match(fifth, /^HTTP\/1\.1 429 /);
      assert.match(fifth, /"code":"ERR_HTTP_TOO_MANY_REQUESTS"/);
      assert.match(await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
    } finally {
      for (const holder of holders) holder.socket.destroy();
    }
  });
});

/** Opens `count` connections from `localAddress` and resolves once all are connected (idle: no request). */
function holdConnections(port: number, count: number, localAddress: string): Promise<Array<ReturnType<typeof connect>>> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof connect>>((resolve) => {
          const socket = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
          socket.on('error', () => undefined);
        }),
    ),
  );
}

/** Writes `text` on a raw connection from `localAddress` and resolves with everything the server sent until it closed. */
function rawFrom(port: number, localAddress: string, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let answer = '';
    socket.setEncoding('latin1').on('data', (part: string) => (answer += part));
    socket.on('error', () => undefined).on('close', () => resolve(answer));
    socket.write(text);
  });
}

/** The status, headers and JSON body of a raw HTTP/1.1 answer. */
function answerOf(text: string): { status: number; head: string; body: unknown } {
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, `an HTTP answer: ${JSON.stringify(text)}`);
  return { status: Number(/^HTTP\/1\.1 ([0-9]{3}) /.exec(text)?.[1]), head: text.slice(0, split).toLowerCase(), body: JSON.parse(text.slice(split + 4)) };
}

test('a connection past the client\'s connection cap is answered 429 ERR_HTTP_TOO_MANY_REQUESTS (its body unread), closed and counted; another address still connects', async () => {
  await withServer({}, { maxClientConnections: 3 }, async (server) => {
    const open = await holdConnections(server.port, 3, '127.0.0.2');
    try {
      // Connections are taken in the order they were accepted: the fourth finds three counted. It
      // declares 50 MB and sends none of it: the answer comes all the same.
      const fourth = answerOf(await rawFrom(server.port, '127.0.0.2', 'POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n'));
      assert.equal(fourth.status, 429);
      assert.match(fourth.head, /\r\nconnection: close(\r\n|$)/);
      assert.match(fourth.head, /\r\nretry-after: 1(\r\n|$)/);
      assert.deepEqual(fourth.body, { error: { code: 'ERR_HTTP_TOO_MANY_REQUESTS', message: 'too many connections open from this client address (3, --max-client-connections); retry later' } });
      assert.deepEqual(server.refused, { connections: 0, clientConnections: 1, unanswered: 0 });
      assert.equal(await healthy(server.url), true);
      // A burst of them, each on its own connection: every one answered, none a bare close.
      const burst = await Promise.all(Array.from({ length: 20 }, () => rawFrom(server.port, '127.0.0.2', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')));
      assert.deepEqual(burst.map((text) => answerOf(text).status), burst.map(() => 429));
      assert.deepEqual(server.refused, { connections: 0, clientConnections: 21, unanswered: 0 });
    } finally {
      for (const socket of open) socket.destroy();
    }
    // Once the held ones are closed, the client is served again.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(await rawFrom(server.port, '127.0.0.2', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
  });
});

test('a connection past the server\'s connection cap is answered 503 ERR_HTTP_BUSY, closed and counted, and told to onRefusedConnection', async () => {
  const told: string[] = [];
  await withServer({}, { maxConnections: 2, onRefusedConnection: (cap) => told.push(cap) }, async (server) => {
    const open = await holdConnections(server.port, 2, '127.0.0.3');
    try {
      const third = answerOf(await rawFrom(server.port, '127.0.0.4', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      assert.equal(third.status, 503);
      assert.match(third.head, /\r\nconnection: close(\r\n|$)/);
      assert.deepEqual(third.body, { error: { code: 'ERR_HTTP_BUSY', message: 'the server has as many connections open as it takes (2, --max-connections); retry later' } });
      assert.deepEqual(server.refused, { connections: 1, clientConnections: 0, unanswered: 0 });
      assert.deepEqual(told, ['connections']);
    } finally {
      for (const socket of open) socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await healthy(server.url), true);
  });
});

test('a refused connection whose client sends nothing, or keeps its end open, is closed within a second', async () => {
  await withServer({}, { maxClientConnections: 1 }, async (server) => {
    const open = await holdConnections(server.port, 1, '127.0.0.5');
    try {
      const started = performance.now();
      const silent = await new Promise<string>((resolve) => {
        const socket = connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.5', allowHalfOpen: true });
        let answer = '';
        socket.setEncoding('latin1').on('data', (part: string) => (answer += part));
        // Its end closed by the server (the client keeps its own open: allowHalfOpen).
        socket.on('error', () => undefined).on('end', () => resolve(answer)).on('close', () => resolve(answer));
      });
      assert.equal(silent, '');
      const took = performance.now() - started;
      assert.ok(took < 3000, `closed after ${took.toFixed(0)} ms`);
      assert.equal(server.refused.clientConnections, 1);
    } finally {
      for (const socket of open) socket.destroy();
    }
  });
});

test('the identity workers answer as the in-process compute does, refuse past their queue with 503 ERR_HTTP_BUSY, and keep error codes and paths', async () => {
  const pool = createIdentityPool({ workers: 1, maxQueued: 1 });
  try {
    const app = createApp({ computeIdentity: pool.compute });
    const body = JSON.stringify({ model: 'm', messages: Array.from({ length: 2_000 }, () => ({ role: 'user', content: 'x'.repeat(50) })) });
    const post = (text: string) => app.request('/v1/identity?from=openai-chat', { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
    // One computing, one queued, the third refused at once.
    const [first, second, third] = await Promise.all([post(body), post(body), post(body)]);
    assert.equal(first!.status, 200);
    assert.equal(second!.status, 200);
    assert.equal(third!.status, 503);
    assert.equal(third!.headers.get('retry-after'), '1');
    assert.equal((await third!.json()).error.code, 'ERR_HTTP_BUSY');
    assert.deepEqual(await first!.json(), await (await createApp().request('/v1/identity?from=openai-chat', { method: 'POST', body, headers: { 'content-type': 'application/json' } })).json());
    // A worker's error arrives with its code, message and path.
    const bad = await (await post('{"model":"m","messages":[{"role":"user","content":"x","content":"y"}]}')).json();
    assert.deepEqual(bad.error, { code: 'ERR_JSON_DUPLICATE_KEY', message: bad.error.message, path: "$['messages'][0]['content']" });
  } finally {
    await pool.close();
  }
});
