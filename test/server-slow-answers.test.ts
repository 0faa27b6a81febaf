/**
 * Answers the server is slow to give, by no fault of the client: the request has arrived whole
 * and the server waits on its own work (a proxied call whose upstream thinks for longer than the
 * request timeout, a stream whose upstream pauses between events, a route that computes long).
 * The connection's idle timeout (`--request-timeout`) must not cut them; the upstream's own idle
 * limit governs the wait, and when it passes the client gets 504 ERR_CAPTURE_UPSTREAM_TIMEOUT
 * (nothing sent yet) or the bytes sent and the cut, and the run is recorded `timeout`. Idle
 * connections and clients that stop reading are still cut (server-slow-clients has the stalled
 * bodies). Timeouts are set small here: a 500 ms request timeout, upstreams silent for 1.5 s.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApp, type App } from '../src/server/app.ts';
import { listen, type Listening } from '../src/server/listen.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { createUpstreamFetch } from '../src/server/upstream-fetch.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const REQUEST_TIMEOUT_MS = 500;
/** How long the upstream (or the app) stays silent: three request timeouts. */
const SILENT_MS = 1500;
const CALL = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Think long, then name a colour.' }] };
const STREAMED_CALL = { ...CALL, stream: true };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A minimal app for the HTTP layer alone: `fetch` answers every request. */
function appOf(fetch: (request: Request) => Promise<Response>): App {
  return { fetch, request: (path, init) => fetch(new Request(`http://127.0.0.1${path}`, init)) };
}

describe('the HTTP layer: a request that arrived whole, its answer slow to come', () => {
  const servers: Listening[] = [];
  const start = async (app: App) => {
    const server = await listen(app, { host: '127.0.0.1', port: 0, headersTimeoutMs: 300, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    servers.push(server);
    return server;
  };
  after(() => Promise.all(servers.map((server) => server.close())));

  test('an app that takes three request timeouts to answer: the client gets the answer', async () => {
    const server = await start(appOf(async () => (await sleep(SILENT_MS), Response.json({ ok: true }))));
    const started = performance.now();
    const response = await fetch(`${server.url}/slow`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
    assert.ok(performance.now() - started >= SILENT_MS - 50);
    // The same for a POST whose body was read first (POST /v1/exchanges, an identity request).
    const posted = await fetch(`${server.url}/slow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 1 }) });
    assert.equal(posted.status, 200);
    assert.deepEqual(await posted.json(), { ok: true });
  });

  test('an answer whose body pauses for three request timeouts between two chunks: the client gets it whole', async () => {
    const encoder = new TextEncoder();
    const server = await start(
      appOf(async () => {
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            sent += 1;
            if (sent === 1) return controller.enqueue(encoder.encode('first\n'));
            await sleep(SILENT_MS);
            if (sent === 2) return controller.enqueue(encoder.encode('second\n'));
            controller.close();
          },
        }, { highWaterMark: 0 });
        return new Response(body, { headers: { 'content-type': 'text/plain' } });
      }),
    );
    const response = await fetch(`${server.url}/stream`);
    assert.equal(await response.text(), 'first\nsecond\n');
  });

  test('a client that stops reading its answer is still cut once nothing has moved for the request timeout', async () => {
    let cancelled = -1;
    const started = performance.now();
    const server = await start(
      appOf(async () => {
        const chunk = new Uint8Array(1024 * 1024);
        const body = new ReadableStream<Uint8Array>({
          pull: (controller) => controller.enqueue(chunk),
          cancel: () => void (cancelled = performance.now() - started),
        }, { highWaterMark: 0 });
        return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
      }),
    );
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.write('GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    socket.pause();
    const deadline = performance.now() + 5000;
    while (cancelled < 0 && performance.now() < deadline) await sleep(50);
    socket.destroy();
    assert.ok(cancelled >= REQUEST_TIMEOUT_MS, `the answer was cancelled after ${Math.round(cancelled)} ms: the client that does not read is cut`);
  });

  test('a request pipelined behind a slow one (the same write): both answers reach the client, in order', async () => {
    const server = await start(appOf(async (request) => (new URL(request.url).pathname === '/slow' ? (await sleep(SILENT_MS), Response.json({ slow: true })) : Response.json({ quick: true }))));
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // The latest request on the connection is the quick one, answered and queued while the slow one is worked on.
    socket.write('POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":1}GET /quick HTTP/1.1\r\nHost: 127.0.0.1\r\nconnection: close\r\n\r\n');
    await Promise.race([closed, sleep(SILENT_MS + 3000)]);
    socket.destroy();
    const text = Buffer.concat(chunks).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"slow":true\}\r\n0\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\{"quick":true\}\r\n0\r\n\r\n$/, `the client got: ${JSON.stringify(text)}`);
  });

  test('a large quick answer its client does not read, with a slow request pipelined behind it: the connection is cut about a request timeout after the slow work ends', async () => {
    let slowDone = -1;
    let cancelled = -1;
    const started = performance.now();
    const server = await start(
      appOf(async (request) => {
        if (new URL(request.url).pathname === '/slow') {
          await sleep(SILENT_MS);
          slowDone = performance.now() - started;
          return Response.json({ slow: true });
        }
        // 64 MiB, ready at once: far more than the socket buffers hold.
        const chunk = new Uint8Array(1024 * 1024);
        let left = 64;
        const body = new ReadableStream<Uint8Array>({
          pull: (controller) => (left-- > 0 ? controller.enqueue(chunk) : controller.close()),
          cancel: () => void (cancelled = performance.now() - started),
        }, { highWaterMark: 0 });
        return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
      }),
    );
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    // The request timeout passes while the slow request is worked on (let pass); once that work
    // ends, nothing moves: the big answer waits for its client, the slow one queued behind it.
    socket.write('GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    socket.pause();
    const deadline = performance.now() + SILENT_MS + 4000;
    while (cancelled < 0 && performance.now() < deadline) await sleep(50);
    socket.destroy();
    assert.ok(slowDone >= SILENT_MS - 50, `the slow work ended at ${Math.round(slowDone)} ms`);
    assert.ok(cancelled >= 0, `the connection was not cut ${Math.round(performance.now() - started - slowDone)} ms after the slow work ended`);
    assert.ok(cancelled >= slowDone + REQUEST_TIMEOUT_MS - 50 && cancelled < slowDone + REQUEST_TIMEOUT_MS + 700, `cut ${Math.round(cancelled - slowDone)} ms after the slow work ended (request timeout ${REQUEST_TIMEOUT_MS} ms)`);
  });

  test('bytes that cannot be parsed pipelined behind a whole request: its answer first, then 400 ERR_HTTP_BAD_REQUEST, and the connection closed', async () => {
    let served = 0;
    const server = await start(appOf(async () => (served += 1, await sleep(300), Response.json({ served: true }))));
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('POST /call HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":1}GARBAGE\r\n\r\n');
    const ended = await Promise.race([closed.then(() => true), sleep(3000).then(() => false)]);
    socket.destroy();
    const text = Buffer.concat(chunks).toString('latin1');
    assert.equal(served, 1);
    assert.ok(ended, 'the connection is closed');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"served":true\}\r\n0\r\n\r\nHTTP\/1\.1 400 Bad Request\r\n[\s\S]*connection: close\r\n\r\n\{"error":\{"code":"ERR_HTTP_BAD_REQUEST"/, `the client got: ${JSON.stringify(text)}`);
  });

  test('an idle keep-alive connection between requests is still closed', async () => {
    const server = await listen(appOf(async () => Response.json({ ok: true })), { host: '127.0.0.1', port: 0, headersTimeoutMs: 300, requestTimeoutMs: REQUEST_TIMEOUT_MS, keepAliveTimeoutMs: 200 });
    servers.push(server);
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
    socket.resume();
    socket.write('GET /one HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const sent = performance.now();
    const at = await Promise.race([closed, sleep(5000).then(() => Infinity)]);
    socket.destroy();
    assert.ok(at - sent < 2000, 'the idle connection was closed');
  });
});

describe('the capture proxy in process: an upstream that thinks longer than the request timeout', () => {
  let upstream: FakeUpstream;
  let dir: string;
  let storage: SqliteRuns;
  let server: Listening;
  let limited: Listening;
  const fetches: Array<{ close(): void }> = [];
  const proxyOn = async (idleMs: number | undefined) => {
    const fetch = createUpstreamFetch(idleMs === undefined ? {} : { idleMs });
    fetches.push(fetch);
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy() });
    const proxy = createProxy({ upstreams: { openai: upstream.url }, sink: recorder, maxBodyBytes: 1 << 20, receipts: false, fetch: fetch as typeof globalThis.fetch });
    return listen(createApp({ proxy }), { host: '127.0.0.1', port: 0, headersTimeoutMs: 300, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  };
  before(async () => {
    upstream = await startFakeUpstream();
    dir = mkdtempSync(join(tmpdir(), 'runprint-slow-answers-'));
    storage = SqliteRuns.open(join(dir, 'runs.sqlite'));
    server = await proxyOn(undefined);
    // An upstream idle limit of 1 s: an upstream silent for 1.5 s passes it.
    limited = await proxyOn(1000);
  });
  after(async () => {
    await server.close();
    await limited.close();
    for (const fetch of fetches) fetch.close();
    await storage.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (on: Listening, body: unknown) => fetch(`${on.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-slow-answers' }, body: JSON.stringify(body) });
  /** The run's record, stored by the time its answer has ended (sync durability), or within `waitMs` (a stream cut under its client). */
  const recorded = async (captureId: string | null, waitMs = 0) => {
    assert.ok(captureId !== null, 'the answer names its capture id');
    let runs = await storage.find(captureId);
    for (const deadline = performance.now() + waitMs; runs.length === 0 && performance.now() < deadline; runs = await storage.find(captureId)) await sleep(20);
    assert.equal(runs.length, 1, 'the run is recorded');
    return runs[0]!.record;
  };

  test('a non-streamed call whose upstream answers after 1.5 s: the client gets the answer, and the run is recorded complete', async () => {
    upstream.enqueue({ kind: 'text', text: 'Blue, after long thought.', headersDelayMs: SILENT_MS });
    const response = await call(server, CALL);
    assert.equal(response.status, 200);
    const answer = (await response.json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(answer.choices[0]!.message.content, 'Blue, after long thought.');
    const record = await recorded(response.headers.get('runprint-capture-id'));
    assert.equal(record.outcome, 'complete');
    assert.equal(record.incomplete, null);
    assert.equal(record.response.status, 200);
  });

  test('a streamed call whose upstream pauses 1.5 s between events: the client gets the whole stream, and the run is recorded complete', async () => {
    upstream.enqueue({ kind: 'text', text: 'Green, slowly.', eventDelayMs: SILENT_MS / 2, headersDelayMs: SILENT_MS });
    const response = await call(server, STREAMED_CALL);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /data: \[DONE\]/);
    const record = await recorded(response.headers.get('runprint-capture-id'));
    assert.equal(record.outcome, 'complete');
    assert.equal(record.incomplete, null);
    assert.equal(record.response.stream, true);
  });

  test('past the upstream idle limit before any answer: 504 ERR_CAPTURE_UPSTREAM_TIMEOUT, the run recorded as a timeout', async () => {
    upstream.enqueue({ kind: 'text', text: 'Too late.', headersDelayMs: SILENT_MS });
    const response = await call(limited, CALL);
    assert.equal(response.status, 504);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.deepEqual(error, { code: 'ERR_CAPTURE_UPSTREAM_TIMEOUT', message: 'the openai upstream sent nothing for 1 s, the proxy\'s limit for an upstream\'s silence: the call got no answer' });
    const record = await recorded(response.headers.get('runprint-capture-id'));
    assert.equal(record.outcome, 'timeout');
    assert.deepEqual(record.incomplete, { reason: 'timeout', code: null });
    assert.equal(record.response.status, null);
  });

  test('past the upstream idle limit mid-stream: the client gets the events sent, then the cut; the run is recorded as a timeout', async () => {
    upstream.enqueue({ kind: 'text', text: 'Red, then silence.', eventDelayMs: SILENT_MS });
    const response = await call(limited, STREAMED_CALL);
    assert.equal(response.status, 200);
    const captureId = response.headers.get('runprint-capture-id');
    const reader = response.body!.getReader();
    let text = '';
    await assert.rejects(async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    });
    assert.match(text, /^data: /, 'the first event arrived');
    assert.doesNotMatch(text, /\[DONE\]/);
    const record = await recorded(captureId, 3000);
    assert.equal(record.outcome, 'timeout');
    assert.deepEqual(record.incomplete, { reason: 'timeout', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' });
  });

  test('past the upstream idle limit after a stream\'s headers, before its first event: 504 ERR_CAPTURE_UPSTREAM_TIMEOUT with the capture id, the run recorded as a timeout', async () => {
    let resume: () => void = () => undefined;
    upstream.enqueue({ kind: 'text', text: 'Never sent.', pauseBeforeEvent: 0, resume: new Promise<void>((resolve) => (resume = resolve)) });
    try {
      const response = await call(limited, STREAMED_CALL);
      assert.equal(response.status, 504);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_UPSTREAM_TIMEOUT');
      const record = await recorded(response.headers.get('runprint-capture-id'));
      assert.equal(record.outcome, 'timeout');
      assert.equal(record.response.status, 200);
      assert.equal(record.incomplete?.reason, 'timeout');
    } finally {
      resume();
    }
  });
});

const LOG_TOKEN = 'slow-answers-log-token';

/**
 * Sends `head` and `sent` body bytes, then nothing, reading all along: the answer as latin1, and
 * how long after the head its first byte came (Infinity: none within 5 s).
 */
function stalledRequest(port: number, head: string, sent: number): Promise<{ answer: string; answeredMs: number }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    let answer = '';
    let answeredMs = Infinity;
    const started = performance.now();
    const done = () => {
      clearTimeout(guard);
      socket.destroy();
      resolve({ answer, answeredMs });
    };
    const guard = setTimeout(done, 5000);
    socket.setEncoding('latin1').on('data', (part: string) => {
      if (answer === '') answeredMs = performance.now() - started;
      answer += part;
    });
    socket.once('close', done);
    socket.write(head + ' '.repeat(sent));
  });
}

describe('runprint serve --request-timeout 500', () => {
  const scratch = scratchFolders('runprint-slow-answers-serve-');
  let upstream: FakeUpstream;
  let serve: ServeProcess;
  before(async () => {
    upstream = await startFakeUpstream();
    serve = await startServe({ data: scratch.tempDir(), token: LOG_TOKEN, args: ['--upstream', `openai=${upstream.url}`, '--headers-timeout', '300', '--request-timeout', String(REQUEST_TIMEOUT_MS)] });
  });
  after(() => endServeTest(upstream, scratch));

  test('a proxied call whose upstream answers after 1.5 s: the client gets the answer, and the run is stored', async () => {
    upstream.enqueue({ kind: 'text', text: 'Violet, eventually.', headersDelayMs: SILENT_MS });
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-slow-answers' }, body: JSON.stringify(CALL) });
    assert.equal(response.status, 200);
    const answer = (await response.json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(answer.choices[0]!.message.content, 'Violet, eventually.');
    const stored = await fetch(`${serve.base}/v1/runs/${response.headers.get('runprint-capture-id')}`);
    assert.equal(stored.status, 200);
    const { runs } = (await stored.json()) as { runs: Array<{ record: { outcome: string; response: { status: number } } }> };
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.record.outcome, 'complete');
    assert.equal(runs[0]!.record.response.status, 200);
  });

  test('a log entry without the log token is refused (401) before its body is read: the client that stalls its body gets it at once', async () => {
    const head = 'POST /v1/log/entries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer not-the-token\r\nContent-Length: 60000\r\n\r\n';
    const { answer, answeredMs } = await stalledRequest(serve.port, head, 1000);
    assert.match(answer, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.match(answer, /"code":"ERR_HTTP_UNAUTHORIZED","message":"writes need Authorization: Bearer with the log token"/);
    assert.ok(answeredMs < REQUEST_TIMEOUT_MS - 100, `answered after ${Math.round(answeredMs)} ms, before the request timeout`);
    // With its token, an entry is still read whole and logged (a malformed one refused for its body).
    const refused = await fetch(`${serve.base}/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${LOG_TOKEN}` }, body: '{}' });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'ERR_LOG_ENTRY_INVALID');
  });
});

describe('the capture proxy in process: a non-streamed answer whose upstream sends its headers and then no byte of its body', () => {
  let dir: string;
  let storage: SqliteRuns;
  let server: Listening;
  let upstreamFetch: ReturnType<typeof createUpstreamFetch>;
  const told: Array<{ upstream: string; code: string; message: string }> = [];
  // A raw upstream: the headers of a JSON answer, then silence, or the connection closed for a call that asks so.
  const sockets = new Set<import('node:net').Socket>();
  const upstream = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', (data: Buffer) => {
      const head = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n';
      if (data.toString('latin1').includes('Close after the headers.')) socket.end(head);
      else socket.write(head);
    });
  });
  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'runprint-slow-answers-'));
    storage = SqliteRuns.open(join(dir, 'runs.sqlite'));
    upstreamFetch = createUpstreamFetch({ idleMs: 1000 });
    const recorder = new RunRecorder({ storage, policy: defaultContentPolicy() });
    const proxy = createProxy({
      upstreams: { openai: `http://127.0.0.1:${port}` },
      sink: recorder,
      maxBodyBytes: 1 << 20,
      receipts: false,
      fetch: upstreamFetch as typeof globalThis.fetch,
      onUpstreamFailure: (name, error) => void told.push({ upstream: name, code: error.code, message: error.message }),
    });
    server = await listen(createApp({ proxy }), { host: '127.0.0.1', port: 0, headersTimeoutMs: 300, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  });
  after(async () => {
    await server.close();
    upstreamFetch.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const call = (name: string) => fetch(`${server.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-slow-answers' }, body: JSON.stringify(name === 'closed' ? { ...CALL, messages: [{ role: 'user', content: 'Close after the headers.' }] } : CALL) });

  for (const [name, status, code, message, outcome] of [
    ['silent', 504, 'ERR_CAPTURE_UPSTREAM_TIMEOUT', "the openai upstream sent nothing for 1 s, the proxy's limit for an upstream's silence: the call got no answer", 'timeout'],
    ['closed', 502, 'ERR_CAPTURE_UPSTREAM_UNREACHABLE', 'the openai upstream closed the connection after the headers of its answer (HTTP 200), before any byte of its body', 'network-error'],
  ] as const) {
    test(`headers then ${name === 'silent' ? 'silence past the idle limit' : 'the connection closed'}: ${status} ${code} with the capture id, told to onUpstreamFailure, the run recorded`, async () => {
      told.length = 0;
      const response = await call(name);
      assert.equal(response.status, status);
      assert.deepEqual(((await response.json()) as { error: unknown }).error, { code, message });
      assert.deepEqual(told, [{ upstream: 'openai', code, message }]);
      const captureId = response.headers.get('runprint-capture-id');
      assert.ok(captureId !== null, 'the answer names its capture id');
      const runs = await storage.find(captureId);
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.record.outcome, outcome);
    });
  }
});
