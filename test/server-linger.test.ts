/**
 * Answers serve gives before it has read a request's body (a refusal before the body: connection
 * caps, too many requests, a token, a cross-origin page; a route that reads no body, its own or a
 * proxied one) reach a client that reads its answer only once it has sent its whole body, as
 * Python's http.client and urllib do: serve reads on and discards the rest of the body (at most
 * 5 s and 4 times the route's limit, at least 1 MiB; on a route that reads no body, as much as the
 * largest body serve takes: 130 MiB with capture on, 32 MiB without) before it closes the
 * connection, instead of closing under a client still sending (a broken pipe or a reset, the
 * answer lost). A body that does not end is cut at those bounds. Real `runprint serve` processes
 * and the fake upstream, driven over raw sockets.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';
import { parseAnswer } from './helpers/raw-answer.ts';

const TOKEN = 'linger-capture-token';
/** The least serve reads on after an answer to a body not read whole: 1 MiB. */
const NO_BODY_BOUND = 1024 * 1024;
/** POST /v1/identity's limit (and the capture proxy's), 32 MiB: the largest body a serve without capture takes. */
const IDENTITY_LIMIT = 32 * 1024 * 1024;
const scratch = scratchFolders('runprint-linger-');
let upstream: FakeUpstream;
let serve: ServeProcess;
/** A serve with --no-capture. */
let bare: ServeProcess;

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--capture-token', TOKEN, '--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
  bare = await startServe({ data: scratch.tempDir(), args: ['--no-capture'] });
});
after(() => endServeTest(upstream, scratch));

interface Exchange {
  /** Everything serve sent, as latin1. */
  answer: string;
  /** The first write or socket error the client saw (EPIPE, ECONNRESET), if any. */
  error?: string;
  /** Body bytes the client handed to its socket. */
  sent: number;
}

/**
 * Sends `head`, then `size` bytes of body (spaces) in pieces of `piece` bytes, each once the one
 * before is written (and `pauseMs` later, if given), reading nothing until the whole body is
 * sent (the socket paused, as Python's http.client does), then the answer until the connection
 * closes. The client never ends its side first.
 */
function sendThenRead(port: number, head: string, size: number, options: { piece: number; pauseMs?: number; onSent?: (sent: number) => void }): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let sent = 0;
    const guard = setTimeout(() => socket.destroy(), 60_000);
    socket.pause();
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (cause: NodeJS.ErrnoException) => (error ??= cause.code ?? cause.message));
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), ...(error === undefined ? {} : { error }), sent });
    });
    const next = (): void => {
      if (socket.destroyed) return;
      if (sent >= size) return void socket.resume();
      const length = Math.min(options.piece, size - sent);
      socket.write(Buffer.alloc(length, 0x20), (cause) => {
        if (cause) return void (error ??= (cause as NodeJS.ErrnoException).code ?? cause.message);
        sent += length;
        options.onSent?.(sent);
        if (options.pauseMs === undefined) next();
        else setTimeout(next, options.pauseMs);
      });
    };
    socket.write(head, () => next());
  });
}

/**
 * A body sent in 64 KiB pieces 20 ms apart: still arriving when serve answers (a body sent at once
 * that the sockets' buffers hold whole may reach serve before it closes, whatever serve does).
 */
const SLOWLY = { piece: 64 * 1024, pauseMs: 20 };

/** The client sent its whole body without a write error and then read the whole answer: `status`, `connection: close`, the whole body. */
function assertAnswered(exchange: Exchange, size: number, status: number, what: string): { headers: Record<string, string>; body: string } {
  assert.equal(exchange.error, undefined, `${what}: no EPIPE or reset while the body is sent or the answer read`);
  assert.equal(exchange.sent, size, `${what}: the whole body sent`);
  const answer = parseAnswer(exchange.answer);
  assert.equal(answer.status, status, what);
  assert.equal(answer.headers['connection'], 'close', what);
  assert.ok(answer.whole, `${what}: the whole answer`);
  return answer;
}

function errorOf(body: string): { code: string; message: string } {
  return (JSON.parse(body) as { error: { code: string; message: string } }).error;
}

/** A request's head with `Connection: close`, as urllib sends it. */
const head = (line: string, headers: string[]) => `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers.map((header) => `${header}\r\n`).join('')}\r\n`;

test('a path no route serves, a body sent whole before the answer is read: the client reads the whole 404', async () => {
  const size = NO_BODY_BOUND - 1000;
  const exchange = await sendThenRead(serve.port, head('POST /v1/no-such-path', ['Content-Type: application/json', `Content-Length: ${size}`]), size, SLOWLY);
  const answer = assertAnswered(exchange, size, 404, 'unknown route');
  assert.equal(errorOf(answer.body).code, 'ERR_HTTP_NOT_FOUND');
  // A chunked one, sent in slow pieces.
  const chunked = await sendChunked(serve.port, head('POST /v1/no-such-path', ['Content-Type: application/json', 'Transfer-Encoding: chunked']), 16, 60 * 1024);
  assert.equal(chunked.error, undefined, 'chunked: no EPIPE or reset');
  assert.equal(parseAnswer(chunked.answer).status, 404);
  assert.ok(parseAnswer(chunked.answer).whole, 'chunked: the whole answer');
});

test('a token check on a route that reads no body: the client that sent a body first reads the whole 401', async () => {
  const size = NO_BODY_BOUND - 1000;
  const exchange = await sendThenRead(serve.port, head('GET /v1/runs', [`Content-Length: ${size}`]), size, SLOWLY);
  const answer = assertAnswered(exchange, size, 401, 'no capture token');
  assert.deepEqual(errorOf(answer.body), { code: 'ERR_HTTP_UNAUTHORIZED', message: 'the run store needs the runprint-capture-token header with the capture token' });
});

test('a request from another origin\'s page, refused before its 34 MB body is read: the client reads the whole 403', async () => {
  const size = 34_000_000;
  const exchange = await sendThenRead(serve.port, head('POST /v1/identity', ['Content-Type: application/json', 'Origin: http://elsewhere.example', `Content-Length: ${size}`]), size, { piece: 1024 * 1024, pauseMs: 2 });
  const answer = assertAnswered(exchange, size, 403, 'cross-origin');
  assert.equal(errorOf(answer.body).code, 'ERR_HTTP_CROSS_ORIGIN');
});

test('too many requests in progress: the client that sent its 34 MB body first reads the whole 429', async () => {
  const capped = await startServe({ data: scratch.tempDir(), args: ['--max-client-requests', '1'] });
  // A request whose body never comes (it waits for 100 Continue) holds the client's one slot.
  const holder = connect({ port: capped.port, host: '127.0.0.1' });
  holder.on('error', () => undefined);
  const holding = new Promise((resolve) => holder.once('data', resolve));
  holder.write(head('POST /v1/identity', ['Content-Type: application/json', 'Content-Length: 1000', 'Expect: 100-continue']));
  await holding;
  try {
    const size = 34_000_000;
    const exchange = await sendThenRead(capped.port, head('POST /v1/identity', ['Content-Type: application/json', `Content-Length: ${size}`]), size, { piece: 4 * 1024 * 1024 });
    const answer = assertAnswered(exchange, size, 429, 'too many requests');
    assert.equal(answer.headers['retry-after'], '1');
    assert.equal(errorOf(answer.body).code, 'ERR_HTTP_TOO_MANY_REQUESTS');
  } finally {
    holder.destroy();
    await capped.stop();
  }
});

test('a connection past --max-client-connections: the client that sent its body first reads the whole 429', async () => {
  const capped = await startServe({ data: scratch.tempDir(), args: ['--max-client-connections', '1'] });
  const held = await new Promise<Socket>((resolve) => {
    const socket = connect({ port: capped.port, host: '127.0.0.1' }, () => resolve(socket));
    socket.on('error', () => undefined);
  });
  try {
    // Sent well within the second serve gives a refused connection.
    const size = 8 * 64 * 1024;
    const exchange = await sendThenRead(capped.port, head('POST /v1/identity', ['Content-Type: application/json', `Content-Length: ${size}`]), size, SLOWLY);
    const answer = assertAnswered(exchange, size, 429, 'past the connection cap');
    assert.equal(errorOf(answer.body).code, 'ERR_HTTP_TOO_MANY_REQUESTS');
    assert.match(errorOf(answer.body).message, /--max-client-connections/);
  } finally {
    held.destroy();
    await capped.stop();
  }
});

test('the capture proxy: a malformed runprint-parent (400) and a pass-through GET with a body reach a client that sends its body first', async () => {
  // A proxied call's body is read whole (up to 32 MiB) before the proxy looks at the call.
  const size = 8_000_000;
  const refused = await sendThenRead(serve.port, head('POST /openai/v1/chat/completions', ['Content-Type: application/json', `runprint-capture-token: ${TOKEN}`, 'runprint-parent: not-a-run', `Content-Length: ${size}`]), size, { piece: 1024 * 1024 });
  const answer = assertAnswered(refused, size, 400, 'malformed runprint-parent');
  assert.equal(errorOf(answer.body).code, 'ERR_CAPTURE_PARENT_INVALID');
  // GET reads no body: the upstream's answer is given while the body is still arriving.
  const small = NO_BODY_BOUND - 1000;
  const models = await sendThenRead(serve.port, head('GET /openai/v1/models', [`runprint-capture-token: ${TOKEN}`, `Content-Length: ${small}`]), small, SLOWLY);
  const listed = assertAnswered(models, small, 200, 'pass-through GET');
  assert.equal((JSON.parse(listed.body) as { object: string }).object, 'list');
});

test('a route that reads no body, sent a 20 MB body before its answer is read (as urllib sends it): the client reads the whole 404 or 405', async () => {
  // More than 4 MiB (4 times 1 MiB), less than the largest body serve takes (32 MiB).
  const size = 20_000_000;
  assert.ok(size > 4 * NO_BODY_BOUND && size < IDENTITY_LIMIT);
  const headers = ['Content-Type: application/json', `Content-Length: ${size}`];
  const unknown = await sendThenRead(serve.port, head('POST /v1/no-such-path', headers), size, { piece: 1024 * 1024 });
  assert.equal(errorOf(assertAnswered(unknown, size, 404, 'unknown path').body).code, 'ERR_HTTP_NOT_FOUND');
  const method = await sendThenRead(serve.port, head('POST /healthz', headers), size, { piece: 1024 * 1024 });
  const refused = assertAnswered(method, size, 405, 'a method /healthz does not take');
  assert.equal(errorOf(refused.body).code, 'ERR_HTTP_METHOD_NOT_ALLOWED');
  assert.equal(refused.headers['allow'], 'GET, HEAD');
  // Chunked, 20 pieces of 1 MB.
  const chunked = await sendChunked(serve.port, head('POST /v1/no-such-path', ['Content-Type: application/json', 'Transfer-Encoding: chunked']), 20, 1_000_000);
  assert.equal(chunked.error, undefined, 'chunked: no EPIPE or reset');
  assert.equal(chunked.sent, size, 'chunked: the whole body sent');
  assert.equal(parseAnswer(chunked.answer).status, 404);
  assert.ok(parseAnswer(chunked.answer).whole, 'chunked: the whole answer');
  // With capture on, serve takes exchanges of up to 130 MiB (POST /v1/exchanges): a 36 MB body is read on too.
  const large = 36_000_000;
  const past = await sendThenRead(serve.port, head('POST /v1/no-such-path', ['Content-Type: application/json', `Content-Length: ${large}`]), large, { piece: 1024 * 1024 });
  assert.equal(errorOf(assertAnswered(past, large, 404, '36 MB to an unknown path').body).code, 'ERR_HTTP_NOT_FOUND');
  // Capture's paths on a serve without capture (whose largest body is 32 MiB): 404 saying why.
  const proxied = await sendThenRead(bare.port, head('POST /v1/chat/completions', headers), size, { piece: 1024 * 1024 });
  assert.deepEqual(errorOf(assertAnswered(proxied, size, 404, 'capture off').body), { code: 'ERR_HTTP_NOT_FOUND', message: 'no such path: capture is off on this server (serve runs with --no-capture), so it serves no proxy and no run store' });
});

test('a connection reading on a 20 MB body after its answer still counts against --max-client-connections', async () => {
  const capped = await startServe({ data: scratch.tempDir(), args: ['--max-client-connections', '1'] });
  try {
    const size = 20_000_000;
    let second: Promise<string> | undefined;
    const exchange = await sendThenRead(capped.port, head('POST /v1/no-such-path', ['Content-Type: application/json', `Content-Length: ${size}`]), size, {
      piece: 1024 * 1024,
      // Once 15 MB are sent, more than the sockets' buffers hold (some 10 MB on loopback), serve
      // has read the request and answered it, and is reading on: a second connection is refused.
      onSent: (sent) => {
        if (sent >= 15_000_000 && second === undefined) second = readAll(capped.port, head('GET /healthz', []));
      },
    });
    assert.equal(errorOf(assertAnswered(exchange, size, 404, 'the first connection').body).code, 'ERR_HTTP_NOT_FOUND');
    assert.ok(second !== undefined, 'a second connection was made');
    const refused = parseAnswer(await second);
    assert.equal(refused.status, 429);
    assert.match(errorOf(refused.body).message, /--max-client-connections/);
  } finally {
    await capped.stop();
  }
});

/** Sends `text` on a new connection and resolves with everything serve answered once it closes (latin1). */
function readAll(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(text);
  });
}

/**
 * Sends `text` and then `count` chunks of `piece` bytes, 20 ms apart, and the last chunk; reads
 * only once all are sent, or all along with `readWhileSending`. With `endless`, no last chunk: it
 * sends until the connection closes (at most `count` chunks). Resolves once the connection closes,
 * with the chunks written after the answer had arrived.
 */
function sendChunked(port: number, text: string, count: number, piece: number, options: { endless?: boolean; readWhileSending?: boolean } = {}): Promise<Exchange & { wroteAfterAnswer: number }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let sent = 0;
    let written = 0;
    let wroteAfterAnswer = 0;
    const guard = setTimeout(() => socket.destroy(), 60_000);
    if (options.readWhileSending !== true) socket.pause();
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (cause: NodeJS.ErrnoException) => (error ??= cause.code ?? cause.message));
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), ...(error === undefined ? {} : { error }), sent, wroteAfterAnswer });
    });
    const frame = Buffer.concat([Buffer.from(`${piece.toString(16)}\r\n`), Buffer.alloc(piece, 0x20), Buffer.from('\r\n')]);
    const next = (): void => {
      if (socket.destroyed) return;
      if (written >= count) {
        if (options.endless === true) return;
        return void socket.write('0\r\n\r\n', () => socket.resume());
      }
      written += 1;
      const answered = Buffer.concat(chunks).includes('"}}');
      socket.write(frame, (cause) => {
        if (cause) return void (error ??= (cause as NodeJS.ErrnoException).code ?? cause.message);
        sent += piece;
        if (answered) wroteAfterAnswer += 1;
        setTimeout(next, 20);
      });
    };
    socket.write(text, () => next());
  });
}

test('a body that does not end is cut at the bounds: read on and discarded past its answer for at most 5 s and, on a route that reads none, the largest body serve takes', async () => {
  // A trickle that never ends, read while sent: the 404 comes at once, serve reads on (the client
  // goes on writing well past the answer), then cuts the connection under the client.
  const trickle = await sendChunked(serve.port, head('POST /v1/no-such-path', ['Transfer-Encoding: chunked']), 100_000, 16, { endless: true, readWhileSending: true });
  assert.equal(parseAnswer(trickle.answer.slice(0, trickle.answer.indexOf('"}}') + 3)).status, 404);
  // 20 ms apart for LINGER_MS: about 250 writes; a server that closed after its answer takes a few.
  assert.ok(trickle.wroteAfterAnswer >= 25, `${trickle.wroteAfterAnswer} chunks written after the answer`);
  assert.ok(trickle.sent < 100_000 * 16, 'cut before the client stopped');
  // A fast endless body, to a serve without capture: cut once 32 MiB past the answer has arrived
  // (the largest body it takes), long before the client stops (the rest of what it sent is what
  // the sockets' buffers hold).
  const flood = await sendChunked(bare.port, head('POST /v1/no-such-path', ['Transfer-Encoding: chunked']), 1000, 1024 * 1024, { endless: true, readWhileSending: true });
  assert.equal(parseAnswer(flood.answer.slice(0, flood.answer.indexOf('"}}') + 3)).status, 404);
  assert.ok(flood.error !== undefined, 'the connection is cut under the client');
  assert.ok(flood.sent < IDENTITY_LIMIT + 32 * 1024 * 1024, `${flood.sent} bytes sent`);
});
