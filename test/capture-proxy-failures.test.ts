/**
 * The proxy's failure modes in process, against the fake upstream and a real run store: fail-open
 * (a store that cannot record does not stop the call) and --capture-fail-closed (503 before
 * forwarding), and the capture options serve checks before it starts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { captureFetch } from '../src/capture/capture-fetch.ts';
import { captureOptions } from '../src/cli/serve-capture.ts';
import { UsageError } from '../src/errors.ts';
import { createApp } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';

let upstream: FakeUpstream;
let dir: string;
before(async () => {
  upstream = await startFakeUpstream();
  dir = mkdtempSync(join(tmpdir(), 'runprint-proxy-failures-'));
});
after(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

const CALL = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }] };

/** An app whose proxy records into a run store that is then closed under it: every commit fails. */
async function brokenStore(failClosed: boolean) {
  const storage = SqliteRuns.open(join(dir, `runs-${failClosed}.sqlite`));
  const failures: unknown[] = [];
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), onFailure: (error) => void failures.push(error) });
  const proxy = createProxy({ upstreams: { openai: upstream.url }, sink: recorder, failClosed, maxBodyBytes: 1 << 20, receipts: false, onFailure: (error) => void failures.push(error) });
  const app = createApp({ proxy });
  await storage.close();
  const call = () => app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify(CALL) });
  return { call, failures, recorder };
}

test('fail-open: when the store cannot record, the call still completes, and the failure is counted and reported', async () => {
  const { call, failures, recorder } = await brokenStore(false);
  for (let i = 0; i < 2; i++) {
    const response = await call();
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, 'Hello from the fake upstream.');
  }
  // Held in memory for a retry (committed if the store works again), not yet failed.
  assert.deepEqual([recorder.held, recorder.counts.failed], [2, 0]);
  assert.equal(recorder.healthy, false);
  assert.ok(failures.length >= 1 && failures.every((error) => (error as { code?: string }).code === 'ERR_STORE_UNAVAILABLE'), 'reported with its code');
});

test('--capture-fail-closed: once recording failed, calls get 503 ERR_CAPTURE_UNAVAILABLE and are not forwarded', async () => {
  const { call } = await brokenStore(true);
  const forwarded = upstream.requests.length;
  // The first call finds out the store is broken: forwarded, but its answer (held until its
  // record is committed, sync durability) is not passed on.
  const first = await call();
  assert.equal(first.status, 503);
  assert.equal(((await first.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_UNAVAILABLE');
  assert.equal(upstream.requests.length, forwarded + 1);
  const before = upstream.requests.length;
  const refused = await call();
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_UNAVAILABLE');
  assert.equal(upstream.requests.length, before, 'nothing was forwarded');
});

test('--capture-fail-closed over HTTP: a stream whose terminal event is in its first chunk is answered 503 with its capture id, not a connection closed without a status line', async () => {
  // An upstream that sends the whole stream in one write.
  const oneChunk = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi."},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => oneChunk.listen(0, '127.0.0.1', resolve));
  const storage = SqliteRuns.open(join(dir, 'runs-one-chunk.sqlite'));
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy() });
  await storage.close();
  const proxy = createProxy({ upstreams: { openai: `http://127.0.0.1:${(oneChunk.address() as { port: number }).port}` }, sink: recorder, failClosed: true, maxBodyBytes: 1 << 20, receipts: false });
  const server = await listen(createApp({ proxy }), { host: '127.0.0.1', port: 0 });
  try {
    const response = await fetch(`${server.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...CALL, stream: true }) });
    assert.equal(response.status, 503);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_UNAVAILABLE');
    assert.match(response.headers.get('runprint-capture-id') ?? '', /^[0-9a-f-]{36}$/, 'named, so its held record can be found');
    assert.equal(recorder.held, 1);
  } finally {
    await server.close();
    oneChunk.close();
    await recorder.close().catch(() => undefined);
  }
});

test('sync durability holds the chunk with the terminal event until the record is durable; the first events are not held', async () => {
  const storage = SqliteRuns.open(join(dir, 'runs-held.sqlite'));
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy() });
  let durableAt = 0;
  // A slow disk: the commit takes 400 ms.
  const slow = {
    get healthy() {
      return recorder.healthy;
    },
    record: async (...args: Parameters<RunRecorder['record']>) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await recorder.record(...args);
      durableAt = performance.now();
    },
  };
  for (const [format, path, body, marker] of [
    ['openai-chat', '/openai/v1/chat/completions', { ...CALL, stream: true }, 'data: [DONE]'],
    ['anthropic-messages', '/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: CALL.messages }, 'message_stop'],
    ['openai-responses', '/openai/v1/responses', { model: 'gpt-4o', input: 'Say hello.', stream: true }, 'response.completed'],
  ] as const) {
    durableAt = 0;
    const proxy = createProxy({ upstreams: { openai: upstream.url, anthropic: upstream.url }, sink: slow, maxBodyBytes: 1 << 20, receipts: false });
    const app = createApp({ proxy });
    upstream.enqueue({ kind: 'text', text: 'Several words arrive one event at a time.', eventDelayMs: 10 });
    const response = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k', authorization: 'Bearer k' }, body: JSON.stringify(body) });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let firstAt = 0;
    let markerAt = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (firstAt === 0) firstAt = performance.now();
      if (markerAt === 0 && text.includes(marker)) markerAt = performance.now();
    }
    assert.ok(durableAt > 0, `${format}: recorded`);
    assert.ok(firstAt < durableAt, `${format}: the first events pass at once, not after the commit`);
    assert.ok(markerAt >= durableAt, `${format}: the terminal event reaches the client only once the record is durable (${markerAt - durableAt} ms)`);
    const stored = await storage.list({ limit: 1 });
    assert.equal(stored[0]!.record.incomplete, null, `${format}: the stored record has the whole output`);
  }
  await recorder.close();
  await storage.close();
});

test('in process with holdEnd: an SDK that stops reading at data: [DONE] has its answer only once the slow sink is done', async () => {
  let durableAt = 0;
  const wrapped = captureFetch(globalThis.fetch, {
    holdEnd: true,
    onCapturedRun: async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      durableAt = performance.now();
    },
  });
  const client = new OpenAI({ apiKey: 'k', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
  upstream.enqueue({ kind: 'text', text: 'Streamed in process.', eventDelayMs: 5 });
  let text = '';
  let firstAt = 0;
  for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o', messages: CALL.messages as never, stream: true })) {
    if (firstAt === 0) firstAt = performance.now();
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  const doneAt = performance.now();
  assert.equal(text, 'Streamed in process.');
  assert.ok(durableAt > 0 && firstAt < durableAt, 'the first events pass at once');
  assert.ok(doneAt >= durableAt, 'the SDK finishes only after the sink');
});

test('capture options: an open proxy is never the default off loopback, and bad values are usage errors', () => {
  const lines: string[] = [];
  const io = { stderr: (text: string) => void lines.push(text) } as Parameters<typeof captureOptions>[3];
  assert.notEqual(captureOptions({}, {}, '127.0.0.1', io), undefined);
  assert.notEqual(captureOptions({}, {}, '::1', io), undefined);
  assert.equal(captureOptions({}, {}, '0.0.0.0', io), undefined, 'capture is off on a reachable address without a token');
  assert.match(lines.join(''), /capture is off: on 0\.0\.0\.0.*--capture-token/);
  assert.notEqual(captureOptions({ 'capture-token': 'T' }, {}, '0.0.0.0', io), undefined);
  assert.equal(captureOptions({ 'no-capture': true }, {}, '127.0.0.1', io), undefined);
  // A capture option on the command line with --no-capture is refused, not ignored; the environment's are not.
  const withNoCapture: Array<[Parameters<typeof captureOptions>[0], string]> = [
    [{ 'capture-log': 'http://127.0.0.1:8480/' }, '--capture-log'],
    [{ 'capture-token': 'T' }, '--capture-token'],
    [{ 'capture-durability': 'async' }, '--capture-durability'],
    [{ upstream: ['openai=http://127.0.0.1:11434'] }, '--upstream'],
    [{ 'capture-fail-closed': true }, '--capture-fail-closed'],
  ];
  for (const [values, named] of withNoCapture) {
    assert.throws(() => captureOptions({ 'no-capture': true, ...values }, {}, '127.0.0.1', io), (error: unknown) => error instanceof UsageError && error.message === `${named} goes with capture, which --no-capture turns off: give one or the other`, named);
  }
  assert.equal(captureOptions({ 'no-capture': true, upstream: [] }, { RUNPRINT_CAPTURE_LOG: 'http://127.0.0.1:8480/', RUNPRINT_CAPTURE_DURABILITY: 'async' }, '127.0.0.1', io), undefined);
  // A query or fragment in --capture-log would be dropped: refused.
  for (const url of ['http://127.0.0.1:8480/base?tok=1', 'http://127.0.0.1:8480/#x']) {
    assert.throws(() => captureOptions({ 'capture-log': url }, {}, '127.0.0.1', io), (error: unknown) => error instanceof UsageError && /--capture-log URL must not carry a query or fragment/.test(error.message), url);
  }
  const config = captureOptions({ upstream: ['openai=http://127.0.0.1:11434/'], 'capture-keep': ['digest', 'output=content'] }, {}, '127.0.0.1', io)!;
  assert.equal(config.upstreams['openai'], 'http://127.0.0.1:11434');
  assert.equal(config.policy.system, 'digest');
  assert.equal(config.policy.output, 'content');
  for (const values of [
    { upstream: ['gemini=http://x'] },
    { upstream: ['openai=ftp://x'] },
    { upstream: ['openai=http://user:pw@x'] },
    { upstream: ['openai'] },
    { 'capture-durability': 'eventually' },
    { 'capture-keep': ['secret=digest'] },
    { 'capture-retention': '0' },
    { 'capture-token': 'has space' },
  ]) {
    assert.throws(() => captureOptions(values, {}, '127.0.0.1', io), (error: unknown) => error instanceof UsageError && error.code === 'ERR_CLI_USAGE', JSON.stringify(values));
  }
  // A database URL that is not PostgreSQL is refused naming where it came from.
  for (const [values, env, named] of [
    [{ 'runs-db': 'mysql://h/d' }, {}, '--runs-db'],
    [{ 'log-db': 'mysql://h/d' }, {}, '--log-db'],
    [{}, { RUNPRINT_LOG_DB: 'mysql://h/d' }, 'RUNPRINT_LOG_DB'],
    [{}, { RUNPRINT_RUNS_DB: 'mysql://h/d' }, 'RUNPRINT_RUNS_DB'],
  ] as const) {
    assert.throws(() => captureOptions(values, env, '127.0.0.1', io), { code: 'ERR_CLI_USAGE', message: `${named} must be a postgres:// or postgresql:// connection URL` });
  }
});

test('a stuck store: commits time out and make the recorder unhealthy, and the waiting queue is bounded', async () => {
  const real = SqliteRuns.open(join(dir, 'runs-stuck.sqlite'));
  // Every method as the real store's, but put never settles (a database that stopped answering).
  const storage = Object.create(real) as typeof real;
  Object.defineProperty(storage, 'put', { value: () => new Promise<void>(() => undefined) });
  const failures: unknown[] = [];
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), commitTimeoutMs: 200, maxPending: 5, onFailure: (error) => void failures.push(error) });
  const proxy = createProxy({ upstreams: { openai: upstream.url }, sink: recorder, maxBodyBytes: 1 << 20, receipts: false });
  const app = createApp({ proxy });
  const call = () => app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CALL) });
  const started = performance.now();
  const answer = await call();
  assert.equal(answer.status, 200, 'the call completes: fail-open');
  assert.ok(performance.now() - started < 5000, 'after the commit timed out, not for ever');
  assert.equal(recorder.healthy, false);
  // With the store stuck, at most maxPending records wait; the rest are refused at once.
  const many = await Promise.all(Array.from({ length: 12 }, () => call()));
  assert.ok(many.every((response) => response.status === 200));
  // The first call's record and four more are held (maxPending in all); the other eight refused.
  assert.deepEqual([recorder.held, recorder.counts.failed], [5, 8]);
  assert.ok(failures.some((error) => /too many records wait/.test((error as Error).message)), 'the bound was reached and said so');
  await real.close();
});

test('an answer longer than capture keeps passes through whole and is recorded too-large, without its bytes', async () => {
  const storage = SqliteRuns.open(join(dir, 'runs-large.sqlite'));
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy() });
  const proxy = createProxy({ upstreams: { openai: upstream.url }, sink: recorder, maxBodyBytes: 1 << 20, maxCapturedBytes: 2000, receipts: false });
  const app = createApp({ proxy });
  const long = 'word '.repeat(2000);
  for (const stream of [false, true]) {
    upstream.enqueue({ kind: 'text', text: long });
    const response = await app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...CALL, stream }) });
    const text = await response.text();
    await upstream.settled();
    const sent = upstream.requests.at(-1)!.response.body;
    assert.equal(text, sent.toString('utf8'), `${stream ? 'stream' : 'JSON'}: the client gets every byte`);
    const [run] = await storage.list({ limit: 1 });
    assert.deepEqual(run!.record.incomplete, { reason: 'too-large', code: null });
    assert.equal(run!.record.response.size, sent.length);
    assert.equal(run!.record.response.rawDigest, null);
    assert.equal(run!.record.output, null);
  }
  await recorder.close();
  await storage.close();
});

test('a JSON answer cut by the upstream: the client gets the bytes that arrived, then the cut', async () => {
  const proxy = createProxy({ upstreams: { openai: upstream.url }, sink: { healthy: true, record: async () => undefined }, maxBodyBytes: 1 << 20, receipts: false });
  const app = createApp({ proxy });
  upstream.enqueue({ kind: 'text', text: 'A body cut in the middle.', cutAfterBytes: 40 });
  const response = await app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CALL) });
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(first.value?.length, 40, 'the 40 bytes that arrived');
  await assert.rejects(reader.read());
});

test('over HTTP too: a JSON answer cut by the upstream reaches the client as its status, headers and the bytes that arrived, then the cut', async () => {
  const proxy = createProxy({ upstreams: { openai: upstream.url }, sink: { healthy: true, record: async () => undefined }, maxBodyBytes: 1 << 20, receipts: false });
  const server = await listen(createApp({ proxy }), { host: '127.0.0.1', port: 0 });
  try {
    upstream.enqueue({ kind: 'text', text: 'A body cut in the middle.', cutAfterBytes: 40 });
    const response = await fetch(`${server.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CALL) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('runprint-capture-id') ?? '', /^[0-9a-f-]{36}$/);
    const reader = response.body!.getReader();
    let received = 0;
    await assert.rejects(async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        received += value.length;
      }
    }, 'then the cut');
    assert.equal(received, 40, 'the 40 bytes that arrived');
  } finally {
    await server.close();
  }
});

test('a proxied call that fails on a bug (an error that is not runprint\'s) is answered 500 ERR_INTERNAL and told to onFailure, not lost', async () => {
  const failures: unknown[] = [];
  const bug = new Error('a bug in the sink');
  const sink = {
    get healthy(): boolean {
      throw bug;
    },
    record: () => Promise.resolve(),
  };
  const proxy = createProxy({ upstreams: { openai: upstream.url }, sink, failClosed: true, maxBodyBytes: 1 << 20, receipts: false, onFailure: (error) => void failures.push(error) });
  const app = createApp({ proxy });
  const response = await app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify(CALL) });
  assert.equal(response.status, 500);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'ERR_INTERNAL');
  assert.deepEqual(failures, [bug]);
});
