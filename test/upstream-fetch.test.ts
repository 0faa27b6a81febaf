/**
 * The proxy's upstream calls over node:http (src/server/upstream-fetch.ts) behave as fetch does
 * where the proxy relies on it: the request's method, headers and bytes reach the upstream; the
 * answer's status, headers (each Set-Cookie on its own) and bytes come back; a content coding the
 * upstream used anyway is decoded; no body for 204 and HEAD; errors are fetch's (TypeError "fetch
 * failed" before an answer, "terminated" for a body cut off, the signal's reason on an abort). A
 * body that is not in the coding its header names fails the call before it is answered, so the
 * proxy answers 502 rather than cutting the client's connection.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import type { CapturedRun } from '../src/capture/capture-run.ts';
import { createApp } from '../src/server/app.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { createUpstreamFetch } from '../src/server/upstream-fetch.ts';
import { UpstreamSilent } from '../src/io/upstream-silent.ts';

/** A body larger than the socket buffers hold: the upstream is held back while the caller does not read. */
const BIG = 8 * 1024 * 1024;
let server: Server;
let base: string;
const call = createUpstreamFetch();

const routes: Record<string, (request: IncomingMessage, body: Buffer, response: ServerResponse) => void> = {
  '/echo': (request, body, response) => {
    response.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
    response.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-upstream': 'yes' });
    response.end(JSON.stringify({ method: request.method, headers: request.headers, body: body.toString('utf8') }));
  },
  '/gzip': (_request, _body, response) => {
    response.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/plain' });
    response.end(gzipSync('zipped words'));
  },
  '/br': (_request, _body, response) => {
    response.writeHead(200, { 'content-encoding': 'br' });
    response.end(brotliCompressSync('brotli words'));
  },
  '/bad-gzip': (_request, _body, response) => {
    response.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
    response.end('{"not":"gzip"}');
  },
  '/gzip-empty': (_request, _body, response) => {
    response.writeHead(200, { 'content-encoding': 'gzip' });
    response.end(gzipSync(''));
  },
  '/gzip-stream': (_request, _body, response) => {
    // Two gzip members, the second 300 ms later: the answer comes with the first.
    response.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/event-stream' });
    response.write(gzipSync('data: one\n\n'));
    setTimeout(() => response.end(gzipSync('data: two\n\n')), 300);
  },
  '/deployments/gpt-4o/chat/completions?api-version=2024-10-21': (_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hi."}}]}');
  },
  '/v1beta/openai/chat/completions': (_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"id":"x","object":"chat.completion","created":1,"model":"gemini-2.5-flash-001","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hi."}}]}');
  },
  '/v1/chat/completions': (_request, _body, response) => {
    response.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
    response.end('{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[]}');
  },
  '/odd-coding': (_request, _body, response) => {
    response.writeHead(200, { 'content-encoding': 'x-unheard-of' });
    response.end('????');
  },
  '/empty': (_request, _body, response) => {
    response.writeHead(204, { 'x-empty': '1' });
    response.end();
  },
  '/cut': (_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write('data: one\n\n');
    setTimeout(() => response.socket?.destroy(), 50);
  },
  '/slow': (_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write('data: first\n\n');
    // Never ends: the caller aborts.
  },
  '/status-999': (_request, _body, response) => {
    response.writeHead(999, 'Odd', { 'content-type': 'application/json' });
    response.end('{}');
  },
  '/status-999/v1/chat/completions': (_request, _body, response) => {
    response.writeHead(999, 'Odd', { 'content-type': 'application/json' });
    response.end('{}');
  },
  '/silent': () => undefined,
  '/big': (_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
    response.end(Buffer.alloc(BIG, 7));
  },
  '/hang-up': (request) => request.socket.destroy(),
};

before(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => routes[request.url ?? '']!(request, Buffer.concat(chunks), response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  call.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('method, headers and bytes go up; status, headers (each Set-Cookie) and bytes come back', async () => {
  const body = new TextEncoder().encode('{"model":"gpt-4o","note":"é"}');
  const response = await call(`${base}/echo`, { method: 'POST', headers: new Headers({ authorization: 'Bearer sk-test', 'content-type': 'application/json' }), body });
  assert.equal(response.status, 201);
  assert.equal(response.statusText, 'Made');
  assert.equal(response.headers.get('x-upstream'), 'yes');
  assert.deepEqual(response.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Path=/']);
  const echoed = (await response.json()) as { method: string; headers: Record<string, string>; body: string };
  assert.equal(echoed.method, 'POST');
  assert.equal(echoed.headers['authorization'], 'Bearer sk-test');
  assert.equal(echoed.headers['content-length'], String(body.byteLength));
  assert.equal(echoed.headers['accept-encoding'], undefined, 'no coding asked for');
  assert.equal(echoed.body, '{"model":"gpt-4o","note":"é"}');
});

test('a content coding used anyway is decoded (gzip, br); one it cannot decode fails as fetch failed', async () => {
  assert.equal(await (await call(`${base}/gzip`)).text(), 'zipped words');
  assert.equal(await (await call(`${base}/br`)).text(), 'brotli words');
  await assert.rejects(call(`${base}/odd-coding`), (error: Error) => error instanceof TypeError && error.message === 'fetch failed: the upstream answered in a content coding runprint cannot decode (x-unheard-of)');
});

test('a body not in the coding it names fails before it is answered; a coded stream is answered with its first bytes', async () => {
  await assert.rejects(call(`${base}/bad-gzip`), (error: Error) => error instanceof TypeError && error.message === "fetch failed: the upstream's body is not valid gzip data, as its content-encoding says");
  assert.equal(await (await call(`${base}/gzip-empty`)).text(), '');
  const started = performance.now();
  const streamed = await call(`${base}/gzip-stream`);
  assert.ok(performance.now() - started < 250, 'answered before the second member was sent');
  assert.equal(await streamed.text(), 'data: one\n\ndata: two\n\n');
});

test('through the proxy, chat completions at an upstream base path without /v1 are recorded as openai-chat', async () => {
  const runs: CapturedRun[] = [];
  const upstreamFetch = createUpstreamFetch();
  const proxy = createProxy({ upstreams: { openai: `${base}/v1beta/openai` }, sink: { healthy: true, record: async (run) => void runs.push(run) }, fetch: upstreamFetch as typeof fetch, maxBodyBytes: 1 << 20, receipts: false });
  try {
    const response = await createApp({ proxy }).request('/openai/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Hi."}]}' });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /gemini-2\.5-flash-001/);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.record.format, 'openai-chat');
    assert.equal(runs[0]!.record.served?.['model']?.value, 'gemini-2.5-flash-001');
    assert.equal(response.headers.get('runprint-run-id'), runs[0]!.record.runId);
  } finally {
    upstreamFetch.close();
  }
});

test('through the proxy, chat completions under a base path of the upstream\'s own (Azure\'s deployments) are recorded as openai-chat', async () => {
  const runs: CapturedRun[] = [];
  const upstreamFetch = createUpstreamFetch();
  const proxy = createProxy({ upstreams: { openai: base, anthropic: base }, sink: { healthy: true, record: async (run) => void runs.push(run) }, fetch: upstreamFetch as typeof fetch, maxBodyBytes: 1 << 20, receipts: false });
  try {
    const response = await createApp({ proxy }).request('/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages":[{"role":"user","content":"Hi."}]}' });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.record.format, 'openai-chat');
    assert.equal(response.headers.get('runprint-capture-id'), runs[0]!.record.captureId);
    // The same path under the other upstream's prefix is not an Anthropic run.
    const other = await createApp({ proxy }).request('/anthropic/deployments/gpt-4o/chat/completions?api-version=2024-10-21', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(other.status, 200, 'passed through');
    await other.arrayBuffer();
    assert.equal(runs.length, 1);
  } finally {
    upstreamFetch.close();
  }
});

test('through the proxy, such a body is a 502 that says why, and the call is recorded as a network error', async () => {
  const runs: CapturedRun[] = [];
  const upstreamFetch = createUpstreamFetch();
  const proxy = createProxy({ upstreams: { openai: base }, sink: { healthy: true, record: async (run) => void runs.push(run) }, fetch: upstreamFetch as typeof fetch, maxBodyBytes: 1 << 20, receipts: false });
  try {
    const response = await createApp({ proxy }).request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi."}]}' });
    assert.equal(response.status, 502);
    assert.deepEqual(await response.json(), { error: { code: 'ERR_CAPTURE_UPSTREAM_UNREACHABLE', message: "the openai upstream's body is not valid gzip data, as its content-encoding says" } });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.record.incomplete?.reason, 'network-error');
    assert.equal(response.headers.get('runprint-capture-id'), runs[0]!.record.captureId);
  } finally {
    upstreamFetch.close();
  }
});

test('an upstream status no Response can carry (999) is a 502 that names it, not a failure of fetch', async () => {
  await assert.rejects(call(`${base}/status-999`), (error: Error) => error instanceof TypeError && error.message === 'fetch failed: the upstream answered an invalid HTTP status (999)');
  const upstreamFetch = createUpstreamFetch();
  const proxy = createProxy({ upstreams: { openai: `${base}/status-999` }, sink: { healthy: true, record: async () => undefined }, fetch: upstreamFetch as typeof fetch, maxBodyBytes: 1 << 20, receipts: false });
  try {
    const response = await createApp({ proxy }).request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi."}]}' });
    assert.equal(response.status, 502);
    const { error } = await response.json();
    assert.equal(error.code, 'ERR_CAPTURE_UPSTREAM_UNREACHABLE');
    assert.equal(error.message, 'the openai upstream answered an invalid HTTP status (999)');
    assert.doesNotMatch(error.message, /fetch/);
  } finally {
    upstreamFetch.close();
  }
});

test('no body for 204 and HEAD', async () => {
  const empty = await call(`${base}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
  assert.equal(empty.headers.get('x-empty'), '1');
  const head = await call(`${base}/echo`, { method: 'HEAD' });
  assert.equal(head.status, 201);
  assert.equal(head.body, null);
});

test('errors are fetch\'s: unreachable, cut off, aborted before and during the answer, a timeout', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  // "fetch failed", and why, as the proxy's 502 then says.
  await assert.rejects(call(`http://127.0.0.1:${port}/`), (error: Error) => error instanceof TypeError && error.message === 'fetch failed: the connection was refused (ECONNREFUSED)');
  await assert.rejects(call(`${base}/hang-up`), (error: Error) => error instanceof TypeError && error.message === 'fetch failed: the connection closed before an answer (ECONNRESET)');
  await assert.rejects(call('ftp://127.0.0.1/'), TypeError);

  const cut = await call(`${base}/cut`);
  const reader = cut.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), 'data: one\n\n');
  await assert.rejects(reader.read(), (error: Error) => error instanceof TypeError && error.message === 'terminated');

  const before = new AbortController();
  const waiting = call(`${base}/silent`, { signal: before.signal });
  setTimeout(() => before.abort(new DOMException('the client went away', 'AbortError')), 50);
  await assert.rejects(waiting, { name: 'AbortError', message: 'the client went away' });
  await assert.rejects(call(`${base}/silent`, { signal: AbortSignal.timeout(50) }), { name: 'TimeoutError' });
  const already = new AbortController();
  already.abort(new DOMException('no', 'AbortError'));
  await assert.rejects(call(`${base}/echo`, { signal: already.signal }), { name: 'AbortError' });

  const during = new AbortController();
  const slow = await call(`${base}/slow`, { signal: during.signal });
  const slowReader = slow.body!.getReader();
  assert.equal(new TextDecoder().decode((await slowReader.read()).value), 'data: first\n\n');
  during.abort(new DOMException('stop', 'AbortError'));
  await assert.rejects(slowReader.read(), { name: 'AbortError', message: 'stop' });
});

test('an upstream silent past the idle limit fails the call as a timeout (UpstreamSilent, named TimeoutError), before its answer and mid-body', async () => {
  const idle = createUpstreamFetch({ idleMs: 100 });
  try {
    await assert.rejects(idle(`${base}/silent`), (error: Error) => error instanceof UpstreamSilent && error instanceof TypeError && error.name === 'TimeoutError' && error.message === 'fetch failed: the upstream sent nothing for 100 ms (the idle limit)' && !error.answered);
    const slow = await idle(`${base}/slow`);
    const reader = slow.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), 'data: first\n\n');
    await assert.rejects(reader.read(), (error: Error) => error instanceof UpstreamSilent && error.message === 'terminated: the upstream sent nothing for 100 ms (the idle limit)' && error.answered);
  } finally {
    idle.close();
  }
});

test('an unasked-for 101 Switching Protocols fails the call at once as a network error, and through the proxy is a 502 recorded network-error', { timeout: 10_000 }, async () => {
  // A raw upstream: answers each request with a 101 and then sends nothing (or closes).
  const sockets = new Set<import('node:net').Socket>();
  const upgrader = (await import('node:net')).createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    // With Upgrade headers Node takes it as an upgrade; a bare 101 (then closed) comes as an answer.
    socket.once('data', (data: Buffer) => {
      if (data.toString('latin1').startsWith('POST /bare')) socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n');
      else socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => upgrader.listen(0, '127.0.0.1', resolve));
  const upBase = `http://127.0.0.1:${(upgrader.address() as { port: number }).port}`;
  const upstreamFetch = createUpstreamFetch({ idleMs: 60_000 });
  try {
    const started = performance.now();
    for (const path of ['/x', '/bare']) {
      await assert.rejects(upstreamFetch(`${upBase}${path}`, { method: 'POST', body: new TextEncoder().encode('{}') }), (error: Error) => error instanceof TypeError && error.message === 'fetch failed: the upstream answered 101 Switching Protocols, which the proxy does not take');
    }
    assert.ok(performance.now() - started < 5000);
    const runs: CapturedRun[] = [];
    const proxy = createProxy({ upstreams: { openai: upBase }, sink: { healthy: true, record: async (run) => void runs.push(run) }, fetch: upstreamFetch as typeof fetch, maxBodyBytes: 1 << 20, receipts: false });
    const response = await createApp({ proxy }).request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi."}]}' });
    assert.equal(response.status, 502);
    assert.deepEqual(await response.json(), { error: { code: 'ERR_CAPTURE_UPSTREAM_UNREACHABLE', message: 'the openai upstream answered 101 Switching Protocols, which the proxy does not take' } });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.record.incomplete?.reason, 'network-error');
    assert.equal(response.headers.get('runprint-capture-id'), runs[0]!.record.captureId);
  } finally {
    upstreamFetch.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => upgrader.close(() => resolve()));
  }
});

test('a caller that pauses reading a big body for longer than the idle limit is not taken for a silent upstream: the body then arrives whole', async () => {
  const idle = createUpstreamFetch({ idleMs: 200 });
  try {
    const response = await idle(`${base}/big`);
    const reader = response.body!.getReader();
    let size = (await reader.read()).value!.length;
    // Not reading for three idle limits: the upstream is held back by backpressure, not silent.
    await new Promise((resolve) => setTimeout(resolve, 600));
    for (let next = await reader.read(); !next.done; next = await reader.read()) size += next.value.length;
    assert.equal(size, BIG);
    // Still a timeout when the upstream itself stops while a read is pending.
    const slow = await idle(`${base}/slow`);
    const slowReader = slow.body!.getReader();
    await slowReader.read();
    await new Promise((resolve) => setTimeout(resolve, 400));
    await assert.rejects(slowReader.read(), (error: Error) => error instanceof UpstreamSilent && error.answered);
  } finally {
    idle.close();
  }
});

test('a call queued for a pooled connection (all maxSockets busy) longer than the idle limit fails as a silent upstream: through the proxy a 504, recorded timeout, never sent', { timeout: 10_000 }, async () => {
  // The one connection is held by an answer trickled a byte every 200 ms, within the 300 ms limit.
  const asked: string[] = [];
  const trickler = createServer((request, response) => {
    asked.push(request.url ?? '');
    request.resume();
    if (request.url === '/trickle') {
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
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hi."}}]}');
  });
  await new Promise<void>((resolve) => trickler.listen(0, '127.0.0.1', resolve));
  const upBase = `http://127.0.0.1:${(trickler.address() as { port: number }).port}`;
  const upstreamFetch = createUpstreamFetch({ maxSockets: 1, idleMs: 300 });
  try {
    const held = (async () => {
      const response = await upstreamFetch(`${upBase}/trickle`);
      return (await response.text()).length;
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const runs: CapturedRun[] = [];
    const proxy = createProxy({ upstreams: { openai: upBase }, sink: { healthy: true, record: async (run) => void runs.push(run) }, fetch: upstreamFetch as typeof fetch, maxBodyBytes: 1 << 20, receipts: false });
    const app = createApp({ proxy });
    const ask = () => app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi."}]}' });
    const started = performance.now();
    const response = await Promise.race([ask(), new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 1200))]);
    const tookMs = performance.now() - started;
    assert.notEqual(response, 'waiting', 'no answer after 1.2 s: the queued call waits for the connection without a limit');
    if (response === 'waiting') return;
    assert.equal(response.status, 504);
    const { error } = await response.json();
    // Said as what it is: no connection came free (the upstream was sending, to another call), not the upstream's silence.
    assert.deepEqual(error, { code: 'ERR_CAPTURE_UPSTREAM_TIMEOUT', message: "no connection to the openai upstream came free within 300 ms (1 connection in use), the proxy's limit for an upstream's silence: the call was not sent" });
    assert.ok(tookMs >= 250 && tookMs < 1000, `answered after ${Math.round(tookMs)} ms`);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.record.outcome, 'timeout');
    assert.equal(response.headers.get('runprint-capture-id'), runs[0]!.record.captureId);
    // The held answer is not cut, and the call that failed was never sent: once the connection
    // is free, the next call is the only one the upstream gets after the trickle.
    assert.equal(await held, 8);
    const next = await ask();
    assert.equal(next.status, 200);
    await next.arrayBuffer();
    assert.deepEqual(asked, ['/trickle', '/v1/chat/completions']);
    // A queued call whose caller aborts fails at once with the signal's reason.
    const holding = upstreamFetch(`${upBase}/trickle`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const leaving = new AbortController();
    const queued = upstreamFetch(`${upBase}/echo`, { signal: leaving.signal });
    setTimeout(() => leaving.abort(new DOMException('the client went away', 'AbortError')), 50);
    const abortStarted = performance.now();
    await assert.rejects(queued, { name: 'AbortError', message: 'the client went away' });
    assert.ok(performance.now() - abortStarted < 250);
    await (await holding).arrayBuffer();
  } finally {
    upstreamFetch.close();
    trickler.closeAllConnections();
    await new Promise<void>((resolve) => trickler.close(() => resolve()));
  }
});
