/**
 * Clients that stall, send what Node cannot parse, or send a body they may not send, over raw
 * sockets against the HTTP layer (listen) and a real `runprint serve`:
 * - a request whose body stops coming (or trickles) is answered 408 ERR_HTTP_TIMEOUT with
 *   `connection: close` once the request timeout passes, and the connection is closed (it was
 *   closed with no answer at all) once what still comes is read and discarded, so a client that
 *   reads only once it has sent its body gets the 408 (it got EPIPE); an answer already given
 *   before the body (a 404) is ended whole;
 * - a request Node's parser refuses (a bad header, a header block too long, a bad chunk) and
 *   CONNECT, each followed by a large body: the client that sends its body before it reads gets the
 *   JSON error, not a broken pipe or a reset (serve reads on and discards what still comes);
 * - a request that needs the capture token (or the sign token) and lacks it is refused before its
 *   body is read: serve does not buffer an unauthenticated body.
 * Timeouts are set small here, so nothing waits long.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { LINGER_MS, listen, REFUSED_IDLE_MS, type Listening } from '../src/server/listen.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';
import { parseAnswer } from './helpers/raw-answer.ts';

const REQUEST_TIMEOUT_MS = 800;

interface Exchange {
  /** Everything the server sent, as latin1. */
  answer: string;
  /** The first socket error the client saw (EPIPE, ECONNRESET), if any. */
  error?: string;
  /** Body bytes the client handed to its socket. */
  sent: number;
  /** From the first byte written to the close, in ms. */
  ms: number;
  /** From the first byte written to the first byte of the answer, in ms (Infinity: none came). */
  answeredMs: number;
}

/**
 * Writes `head`, then body bytes as `body` says: `size` bytes in `piece`-byte writes `pauseMs`
 * apart, reading nothing until all are sent (as Python's http.client does), then the answer
 * until the server closes; or, with `stallAfter`, that many bytes and then nothing, reading all along.
 */
function exchange(port: number, head: string, body: { size: number; piece: number; pauseMs?: number; stallAfter?: number }): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let sent = 0;
    let answeredMs = Infinity;
    const guard = setTimeout(() => socket.destroy(new Error('no close within 20 s')), 20_000);
    if (body.stallAfter === undefined) socket.pause();
    socket.on('data', (chunk: Buffer) => {
      if (chunks.length === 0) answeredMs = performance.now() - started;
      chunks.push(chunk);
    });
    socket.on('error', (cause: NodeJS.ErrnoException) => (error ??= cause.code ?? cause.message));
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), ...(error === undefined ? {} : { error }), sent, ms: performance.now() - started, answeredMs });
    });
    const total = body.stallAfter ?? body.size;
    const next = (): void => {
      if (socket.destroyed) return;
      if (sent >= total) return void (body.stallAfter === undefined && socket.resume());
      const length = Math.min(body.piece, total - sent);
      socket.write(Buffer.alloc(length, 0x20), (cause) => {
        if (cause) return void (error ??= (cause as NodeJS.ErrnoException).code ?? cause.message);
        sent += length;
        setTimeout(next, body.pauseMs ?? 0);
      });
    };
    socket.write(head, () => next());
  });
}

/** The client read a whole answer of `status` with `connection: close`, and saw no error; its JSON error. */
function answered(result: Exchange, status: number, what: string): { code: string; message: string } {
  assert.equal(result.error, undefined, `${what}: no EPIPE or reset`);
  const answer = parseAnswer(result.answer);
  assert.equal(answer.status, status, what);
  assert.equal(answer.headers['connection'], 'close', what);
  assert.ok(answer.whole, `${what}: the whole answer`);
  return (JSON.parse(answer.body) as { error: { code: string; message: string } }).error;
}

const head = (line: string, headers: string[]) => `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((header) => `${header}\r\n`).join('')}\r\n`;

describe('the HTTP layer', () => {
  let server: Listening;
  before(async () => {
    server = await listen(createApp(), { host: '127.0.0.1', port: 0, headersTimeoutMs: 300, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxHeaderBytes: 4096 });
  });
  after(() => server.close());

  test('a body that stops coming after the headers: 408 ERR_HTTP_TIMEOUT once the request timeout passes, the connection closed', async () => {
    const stalled = await exchange(server.port, head('POST /v1/identity', ['Content-Type: application/json', 'Content-Length: 1000']), { size: 1000, piece: 10, stallAfter: 10 });
    const error = answered(stalled, 408, 'a stalled body');
    assert.equal(error.code, 'ERR_HTTP_TIMEOUT');
    assert.equal(error.message, `the request's body did not arrive in time (the server waits ${REQUEST_TIMEOUT_MS} ms for a whole request)`);
    assert.ok(stalled.ms >= REQUEST_TIMEOUT_MS - 50 && stalled.ms < REQUEST_TIMEOUT_MS + 2000, `answered after ${Math.round(stalled.ms)} ms`);
    // No body byte at all, chunked.
    const none = await exchange(server.port, head('POST /v1/identity', ['Content-Type: application/json', 'Transfer-Encoding: chunked']), { size: 0, piece: 1, stallAfter: 0 });
    assert.equal(answered(none, 408, 'no body byte').code, 'ERR_HTTP_TIMEOUT');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('a body that trickles (a byte every 100 ms): 408 once the whole request has taken longer than the request timeout', async () => {
    const trickle = await exchange(server.port, head('POST /v1/identity', ['Content-Type: application/json', 'Content-Length: 100000']), { size: 100_000, piece: 1, pauseMs: 100, stallAfter: 100_000 });
    assert.deepEqual(answered(trickle, 408, 'a trickle'), { code: 'ERR_HTTP_TIMEOUT', message: `the request's body did not arrive in time (the server waits ${REQUEST_TIMEOUT_MS} ms for a whole request)` });
    assert.ok(trickle.answeredMs < REQUEST_TIMEOUT_MS + 2000, `answered after ${Math.round(trickle.answeredMs)} ms`);
    // What the client still sends after its 408 is read on and discarded for at most LINGER_MS.
    assert.ok(trickle.ms < REQUEST_TIMEOUT_MS + LINGER_MS + 2000, `closed after ${Math.round(trickle.ms)} ms`);
    assert.ok(trickle.sent < 100, `${trickle.sent} bytes sent`);
  });

  test('a body that trickles past the request timeout from a client that reads only once it has sent it: the client reads the 408, not a broken pipe', async () => {
    // 30 bytes a byte every 100 ms: the 408 comes after 800 ms, while the client still writes.
    const trickle = await exchange(server.port, head('POST /v1/identity', ['Content-Type: application/json', 'Content-Length: 100000']), { size: 30, piece: 1, pauseMs: 100 });
    assert.equal(answered(trickle, 408, 'a trickle read after it is sent').code, 'ERR_HTTP_TIMEOUT');
    assert.equal(trickle.sent, 30, 'the whole trickle sent');
    // Closed once nothing more came for REFUSED_IDLE_MS.
    assert.ok(trickle.ms >= 3000 && trickle.ms < 3000 + REFUSED_IDLE_MS + 2000, `closed after ${Math.round(trickle.ms)} ms`);
  });

  test('a body that stops coming on a route that reads none: its 404, given before the body, is ended whole as the request times out', async () => {
    const stalled = await exchange(server.port, head('POST /v1/no-such-path', ['Content-Type: application/json', 'Content-Length: 1000']), { size: 1000, piece: 10, stallAfter: 10 });
    assert.equal(answered(stalled, 404, 'a stalled body on a route that reads none').code, 'ERR_HTTP_NOT_FOUND');
  });

  const size = 4 * 1024 * 1024;
  const sending = { size, piece: 64 * 1024, pauseMs: 2 };
  const refusals: Array<[string, string, number, string]> = [
    ['a header line Node cannot parse', head('POST /v1/identity', ['Bad Header', `Content-Length: ${size}`]), 400, 'ERR_HTTP_BAD_REQUEST'],
    ['a header block over the limit', head('POST /v1/identity', [`x-long: ${'a'.repeat(5000)}`, `Content-Length: ${size}`]), 431, 'ERR_HTTP_HEADERS_TOO_LARGE'],
    ['a chunked body with a chunk size that is not hex', `${head('POST /v1/identity', ['Content-Type: application/json', 'Transfer-Encoding: chunked'])}zz\r\n`, 400, 'ERR_HTTP_BAD_REQUEST'],
    ['CONNECT', `CONNECT elsewhere.example:443 HTTP/1.1\r\nHost: elsewhere.example:443\r\nContent-Length: ${size}\r\n\r\n`, 400, 'ERR_HTTP_BAD_REQUEST'],
  ];
  for (const [what, text, status, code] of refusals) {
    test(`${what}, then a 4 MiB body sent before the answer is read: the client reads the JSON ${status}`, async () => {
      const result = await exchange(server.port, text, sending);
      assert.equal(answered(result, status, what).code, code);
      assert.equal(result.sent, size, `${what}: the whole body sent`);
    });
  }

  test('an Upgrade request is served as a plain request: its answer reaches a client that sends a 4 MiB body first', async () => {
    const result = await exchange(server.port, head('POST /v1/no-such-path', ['Connection: upgrade', 'Upgrade: websocket', `Content-Length: ${size}`]), sending);
    assert.equal(answered(result, 404, 'upgrade').code, 'ERR_HTTP_NOT_FOUND');
  });

  test('after a refusal Node\'s parser gave, at most the largest body the app takes (32 MiB) is read on: a flood is cut', async () => {
    const flood = await exchange(server.port, head('POST /v1/identity', ['Bad Header', 'Content-Length: 1000000000']), { size: 1_000_000_000, piece: 1024 * 1024 });
    assert.ok(flood.error !== undefined, 'the connection is cut under the client');
    // 32 MiB read on, and what the sockets' buffers hold.
    assert.ok(flood.sent > 32 * 1024 * 1024 && flood.sent < 96 * 1024 * 1024, `${flood.sent} bytes sent`);
  });

  test('a client that keeps sending after a refusal Node\'s parser gave is cut past the bounds, and a stop does not wait for it', async () => {
    const stopped = await listen(createApp(), { host: '127.0.0.1', port: 0 });
    const socket: Socket = connect({ port: stopped.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    let answer = '';
    socket.setEncoding('latin1').on('data', (part: string) => (answer += part));
    socket.write('POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\nContent-Length: 100000000\r\n\r\n');
    // A byte every 50 ms: never idle, never done.
    const trickle = setInterval(() => socket.write(' '), 50);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
      const stopping = performance.now();
      await stopped.close();
      await closed;
      assert.ok(performance.now() - stopping < 500, 'the stop cut the refused connection');
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });
});

describe('runprint serve', () => {
  const CAPTURE_TOKEN = 'slow-clients-capture-token';
  const SIGN_TOKEN = 'slow-clients-sign-token';
  const scratch = scratchFolders('runprint-slow-clients-');
  let upstream: FakeUpstream;
  let serve: ServeProcess;
  before(async () => {
    upstream = await startFakeUpstream();
    const data = scratch.tempDir();
    const key = await generateKeyFiles('receipts');
    await writeFile(join(data, 'sign.pem'), key.privateKeyPem, { mode: 0o600 });
    serve = await startServe({
      data,
      args: ['--capture-token', CAPTURE_TOKEN, '--upstream', `openai=${upstream.url}`, '--sign-key', join(data, 'sign.pem'), '--sign-token', SIGN_TOKEN, '--headers-timeout', '300', '--request-timeout', String(REQUEST_TIMEOUT_MS)],
    });
  });
  after(() => endServeTest(upstream, scratch));

  test('--request-timeout: a stalled body is answered 408 ERR_HTTP_TIMEOUT and the connection closed', async () => {
    const stalled = await exchange(serve.port, head('POST /v1/identity', ['Content-Type: application/json', 'Content-Length: 1000']), { size: 1000, piece: 10, stallAfter: 10 });
    assert.equal(answered(stalled, 408, 'a stalled body').code, 'ERR_HTTP_TIMEOUT');
  });

  // 20 MB declared, 64 KiB sent, then nothing: a refusal before the body comes at once; a server
  // that read the body first would wait for the rest, and answer only the request timeout.
  const declared = 20_000_000;
  const refused: Array<[string, string[], string]> = [
    ['a proxied call', ['POST /openai/v1/chat/completions', 'Content-Type: application/json'], 'the proxy needs the runprint-capture-token header with the capture token'],
    ['a proxied call with a wrong token', ['POST /v1/chat/completions', 'Content-Type: application/json', 'runprint-capture-token: not-the-token'], 'the proxy needs the runprint-capture-token header with the capture token'],
    ['a sent exchange', ['POST /v1/exchanges', 'Content-Type: application/json'], 'sending exchanges needs the runprint-capture-token header with the capture token'],
    ['a sign request', ['POST /v1/sign', 'Content-Type: application/json'], 'signing needs Authorization: Bearer with the sign token'],
  ];
  for (const [what, [line, ...headers], message] of refused) {
    test(`${what} without its token is 401 before its body is read`, async () => {
      const result = await exchange(serve.port, head(line!, [...headers, `Content-Length: ${declared}`]), { size: declared, piece: 16 * 1024, stallAfter: 64 * 1024 });
      assert.deepEqual(answered(result, 401, what), { code: 'ERR_HTTP_UNAUTHORIZED', message });
      assert.ok(result.answeredMs < REQUEST_TIMEOUT_MS - 100, `${what}: answered after ${Math.round(result.answeredMs)} ms, before the request timeout`);
      assert.equal(result.sent, 64 * 1024);
    });
  }

  test('with Expect: 100-continue, a call without the token gets its 401 and no 100 Continue: the client sends no body', async () => {
    const result = await exchange(serve.port, head('POST /openai/v1/chat/completions', ['Content-Type: application/json', 'Expect: 100-continue', `Content-Length: ${declared}`]), { size: declared, piece: 1, stallAfter: 0 });
    assert.doesNotMatch(result.answer, /100 Continue/);
    assert.equal(answered(result, 401, 'expect').code, 'ERR_HTTP_UNAUTHORIZED');
    assert.ok(result.answeredMs < REQUEST_TIMEOUT_MS - 100, `answered after ${Math.round(result.answeredMs)} ms`);
  });

  test('with its token, a proxied call is still read whole and forwarded', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Name a colour.' }] });
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-slow-clients', 'runprint-capture-token': CAPTURE_TOKEN }, body });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  });
});
