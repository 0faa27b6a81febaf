/**
 * A body over its route's limit, sent to a real `runprint serve` by a client that reads its answer
 * only once its body is sent (Python's http.client and urllib, as the README's Python block does):
 * the client gets the whole 413 ERR_HTTP_BODY_TOO_LARGE, not a broken pipe or a reset. serve
 * answers at once, then reads and discards the rest of the body (a bounded time and amount) before
 * it closes the connection; the lingering connection counts against the connection caps.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { LINGER_MS } from '../src/server/listen.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

/** POST /v1/identity's limit, 32 MiB. */
const LIMIT = 32 * 1024 * 1024;
const TOO_LARGE = { error: { code: 'ERR_HTTP_BODY_TOO_LARGE', message: `request body is larger than ${LIMIT} bytes` } };
const scratch = scratchFolders('runprint-body-too-large-');
let serve: ServeProcess;
/** The log's write token: a log entry without it is refused before its body is read. */
const LOG_TOKEN = 'body-too-large-log-token';

before(async () => {
  serve = await startServe({ data: scratch.tempDir(), token: LOG_TOKEN });
});
after(() => endServeTest(undefined, scratch));

interface Exchange {
  /** Everything serve sent, as latin1. */
  answer: string;
  /** The first write or socket error the client saw (EPIPE, ECONNRESET), if any. */
  error?: string;
  /** Body bytes the client handed to its socket. */
  sent: number;
  /** From the end of the headers to the connection's close, in ms. */
  ms: number;
}

/**
 * Sends `head`, then `body` in 1 MiB pieces, each once the one before is written, with a short
 * pause between; `readWhileSending` false: as Python's http.client, nothing is read until the body
 * is sent (the socket is paused), then the answer is read to the connection's close.
 */
function send(head: string, body: Iterable<Buffer>, options: { readWhileSending: boolean; port?: number }): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect({ port: options.port ?? serve.port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let sent = 0;
    let started = 0;
    const guard = setTimeout(() => socket.destroy(), 30_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (cause: NodeJS.ErrnoException) => (error ??= cause.code ?? cause.message));
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), ...(error === undefined ? {} : { error }), sent, ms: performance.now() - started });
    });
    if (!options.readWhileSending) socket.pause();
    const pieces = body[Symbol.iterator]();
    const next = (): void => {
      if (socket.destroyed) return;
      const piece = pieces.next();
      if (piece.done) return void socket.resume();
      socket.write(piece.value, (cause) => {
        if (cause) return void (error ??= (cause as NodeJS.ErrnoException).code ?? cause.message);
        sent += piece.value.length;
        setTimeout(next, 2);
      });
    };
    socket.write(head, () => {
      started = performance.now();
      next();
    });
  });
}

/** `total` bytes of spaces in pieces of at most 1 MiB, each framed as a chunk when `chunked` (then the last chunk). */
function* pieces(total: number, chunked: boolean): Iterable<Buffer> {
  const size = 1024 * 1024;
  for (let at = 0; at < total; at += size) {
    const piece = Buffer.alloc(Math.min(size, total - at), 0x20);
    yield chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece;
  }
  if (chunked) yield Buffer.from('0\r\n\r\n');
}

/** The status, headers (lower case) and body of one HTTP/1.1 answer. */
function parse(answer: string): { status: number; headers: Record<string, string>; body: string } {
  const end = answer.indexOf('\r\n\r\n');
  assert.ok(end > 0, `an answer with a header block: ${JSON.stringify(answer.slice(0, 200))}`);
  const [statusLine, ...lines] = answer.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  return { status: Number(/^HTTP\/1\.1 ([0-9]{3}) /.exec(statusLine!)?.[1]), headers, body: answer.slice(end + 4) };
}

function assertTooLarge(exchange: Exchange, what: string): void {
  const answer = parse(exchange.answer);
  assert.equal(answer.status, 413, what);
  assert.equal(answer.headers['connection'], 'close', what);
  assert.equal(answer.body.length, Number(answer.headers['content-length']), `${what}: the whole body`);
  assert.deepEqual(JSON.parse(answer.body), TOO_LARGE, what);
}

const identityHead = (framing: string) => `POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n\r\n`;

test('a declared length over the limit, the body sent whole before the answer is read: the client writes it all and reads the 413', async () => {
  const size = 34_000_000;
  const exchange = await send(identityHead(`Content-Length: ${size}`), pieces(size, false), { readWhileSending: false });
  assert.equal(exchange.error, undefined, 'no EPIPE or reset while the body is sent');
  assert.equal(exchange.sent, size);
  assertTooLarge(exchange, 'declared length');
});

test('a chunked body over the limit, sent whole before the answer is read: the client writes it all and reads the 413', async () => {
  const exchange = await send(identityHead('Transfer-Encoding: chunked'), pieces(LIMIT + 4 * 1024 * 1024, true), { readWhileSending: false });
  assert.equal(exchange.error, undefined, 'no EPIPE or reset while the body is sent');
  assertTooLarge(exchange, 'chunked');
});

test('the README\'s Python client (urllib) POSTing 34 MB to /v1/identity gets the JSON 413, not a broken pipe', async () => {
  // python3 is required, as by the README's Python block test (server-api-python).
  const script = [
    'import json, os, urllib.request, urllib.error',
    'body = b" " * 34_000_000',
    'request = urllib.request.Request(os.environ["RUNPRINT_URL"] + "/v1/identity", data=body, headers={"content-type": "application/json"})',
    'try:',
    '    urllib.request.urlopen(request)',
    '    print("no error")',
    'except urllib.error.HTTPError as error:',
    '    print(error.code, json.dumps(json.load(error), separators=(",", ":")))',
  ].join('\n');
  const { stdout, stderr } = await promisify(execFile)('python3', ['-c', script], { env: { ...process.env, RUNPRINT_URL: serve.base }, timeout: 30_000 });
  assert.equal(stderr, '');
  assert.equal(stdout, `413 ${JSON.stringify(TOO_LARGE)}\n`);
});

test('a client that declares a body over the limit and sends none: the answer at once, the connection closed after the linger', async () => {
  const exchange = await send(identityHead(`Content-Length: ${LIMIT + 1}`), [], { readWhileSending: true });
  assertTooLarge(exchange, 'nothing sent');
  assert.ok(exchange.ms >= LINGER_MS - 500 && exchange.ms < LINGER_MS + 3000, `closed after ${Math.round(exchange.ms)} ms`);
});

test('a declared length past what serve reads on (4 times the limit): the answer and the close at once, no linger', async () => {
  const exchange = await send(identityHead(`Content-Length: ${4 * LIMIT + 1}`), [], { readWhileSending: true });
  assertTooLarge(exchange, 'declared past the bound');
  assert.ok(exchange.ms < LINGER_MS - 1000, `closed after ${Math.round(exchange.ms)} ms`);
});

test('a chunked body that does not end: read on to 4 times the limit (at least 1 MiB), then the connection is cut', async () => {
  // POST /v1/log/entries (with its token: without, it is refused before the body): 64 KiB, so serve reads on 1 MiB after its answer.
  const head = `POST /v1/log/entries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${LOG_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const endless = (function* () {
    for (let i = 0; i < 1000; i += 1) yield Buffer.concat([Buffer.from('100000\r\n'), Buffer.alloc(1024 * 1024, 0x20), Buffer.from('\r\n')]);
  })();
  const exchange = await send(head, endless, { readWhileSending: true });
  assert.match(exchange.answer, /^HTTP\/1\.1 413 /);
  assert.match(exchange.answer, /"code":"ERR_HTTP_BODY_TOO_LARGE"/);
  assert.ok(exchange.error !== undefined, 'the connection is cut under the client');
  // 64 KiB read, 1 MiB discarded, and what the sockets' buffers hold.
  assert.ok(exchange.sent < 64 * 1024 * 1024, `${exchange.sent} bytes sent`);
  assert.ok(exchange.ms < LINGER_MS, `cut after ${Math.round(exchange.ms)} ms, before the linger's time ran out`);
});

test('a lingering connection counts against --max-client-connections', async () => {
  const capped = await startServe({ data: scratch.tempDir(), args: ['--max-client-connections', '1'] });
  // The first connection declares a body over the limit and sends none: once its answer is in, it lingers.
  const first = connect({ port: capped.port, host: '127.0.0.1' });
  first.on('error', () => undefined);
  let answer = '';
  const answered = new Promise<void>((resolve) => first.setEncoding('latin1').on('data', (part: string) => ((answer += part), answer.includes('"}}') && resolve())));
  const closed = new Promise<void>((resolve) => first.on('close', () => resolve()));
  first.write(identityHead(`Content-Length: ${LIMIT + 1}`));
  await answered;
  const second = await send('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', [], { readWhileSending: true, port: capped.port });
  assert.equal(parse(second.answer).status, 429, 'the second connection is past the cap while the first lingers');
  assert.match(second.answer, /"code":"ERR_HTTP_TOO_MANY_REQUESTS"/);
  await closed;
  assertTooLarge({ answer, sent: 0, ms: 0 }, 'lingering');
  await capped.stop();
});
