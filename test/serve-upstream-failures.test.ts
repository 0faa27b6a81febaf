/**
 * Calls the proxy answers 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE (an upstream that is down, a
 * --upstream URL that points nowhere) are shown to the operator, not only to the clients: /healthz
 * counts them since start by upstream (`capture.upstreams`), and stderr has the first at once and
 * then one line a minute at most counting them by cause (`runprint: the proxy answered N calls
 * with 502 ...`), never a line per call. An upstream's own 5xx, passed through, is not counted.
 * serve's reporter with mocked timers, and a real serve with an upstream on a closed port.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, mock, test } from 'node:test';
import { upstreamFailureReporter } from '../src/cli/serve-upstreams.ts';
import { RunprintError } from '../src/errors.ts';
import { createApp } from '../src/server/app.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { UpstreamSilent } from '../src/io/upstream-silent.ts';
import { validate } from './helpers/json-schema.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';
import { closedPort } from './helpers/closed-port.ts';

const scratch = scratchFolders('runprint-serve-upstream-failures-');
after(() => endServeTest(undefined, scratch));

const OPENAPI = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };
const HEALTH_SCHEMA = OPENAPI.paths['/healthz']!['get']!.responses['200']!.content['application/json']!.schema;

const REFUSED = 'cannot reach the anthropic upstream: the connection was refused (ECONNREFUSED)';
const NOT_FOUND = 'cannot reach the openai upstream: the host name was not found (ENOTFOUND)';
const unreachable = (message: string) => new RunprintError('ERR_CAPTURE_UPSTREAM_UNREACHABLE', message);
const LEAD = 'runprint: the proxy answered ';
const TAIL = '; /healthz capture.upstreams counts them since start\n';

test('serve\'s upstream-failure reporter: the first at once with its message, the others counted by cause in one line a minute after the line before; /healthz counts by upstream since start; flush prints the count held', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let clock = 0;
    // 2026-01-31T12:00:00Z at clock 0.
    const wall = () => Date.UTC(2026, 0, 31, 12) + clock;
    const lines: string[] = [];
    const reporter = upstreamFailureReporter((text) => void lines.push(text), ['openai', 'anthropic'], () => clock, wall);
    // None failed: every upstream is listed, a stop prints nothing.
    assert.deepEqual(reporter.counts(), { openai: { unreachable: 0, timedOut: 0, last: null, lastAt: null }, anthropic: { unreachable: 0, timedOut: 0, last: null, lastAt: null } });
    reporter.flush();
    assert.deepEqual(lines, []);
    reporter.report('anthropic', unreachable(REFUSED));
    assert.deepEqual(lines, [`${LEAD}1 call with 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE since 2026-01-31T12:00:00Z: 1 with "${REFUSED}"${TAIL}`]);
    // 300 more over the next 30 s, of two upstreams (the first 2.5 s after the line): nothing printed yet.
    clock += 2_500;
    mock.timers.tick(2_500);
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) reporter.report('openai', unreachable(NOT_FOUND));
      else reporter.report('anthropic', unreachable(REFUSED));
      clock += 100;
      mock.timers.tick(100);
    }
    assert.equal(lines.length, 1, 'no line per call');
    assert.deepEqual(reporter.counts(), {
      openai: { unreachable: 100, timedOut: 0, last: NOT_FOUND, lastAt: '2026-01-31T12:00:32.200Z' },
      anthropic: { unreachable: 201, timedOut: 0, last: REFUSED, lastAt: '2026-01-31T12:00:32.400Z' },
    });
    // A minute after the line: one line with their counts by cause, since the first of them.
    clock += 27_500;
    mock.timers.tick(27_500);
    assert.equal(lines.length, 2);
    assert.equal(lines[1], `${LEAD}300 calls with 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE since 2026-01-31T12:00:02Z: 100 with "${NOT_FOUND}"; 200 with "${REFUSED}"${TAIL}`);
    // Quiet for longer than a minute: no line, and the next is printed at once.
    clock += 120_000;
    mock.timers.tick(120_000);
    assert.equal(lines.length, 2, 'nothing to print');
    reporter.report('openai', unreachable(NOT_FOUND));
    assert.equal(lines.length, 3);
    assert.equal(lines[2], `${LEAD}1 call with 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE since 2026-01-31T12:03:00Z: 1 with "${NOT_FOUND}"${TAIL}`);
    // More causes than a line names one by one (an upstream chooses part of some): the rest counted together.
    for (let i = 0; i < 10; i++) reporter.report('openai', unreachable(`the openai upstream answered an invalid HTTP status (${600 + i})`));
    assert.equal(lines.length, 3);
    // At a stop, the count held is printed, once.
    reporter.flush();
    reporter.flush();
    assert.equal(lines.length, 4);
    assert.equal(lines[3], `${LEAD}10 calls with 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE since 2026-01-31T12:03:00Z: ${[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `1 with "the openai upstream answered an invalid HTTP status (${600 + i})"`).join('; ')}; 2 with other causes${TAIL}`);
    // The timer set for them does not print again.
    clock += 60_000;
    mock.timers.tick(60_000);
    assert.equal(lines.length, 4);
    assert.equal(reporter.counts()['openai']!.unreachable, 111);
  } finally {
    mock.timers.reset();
  }
});

/** An upstream that answers every call 500 with a JSON error of its own. */
async function failingUpstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    request.resume().on('end', () => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

type Health = { status: string; capture: { healthy: boolean; failures: number; upstreams: Record<string, { unreachable: number; timedOut: number; last: string | null; lastAt: string | null }> } };

test('a real serve whose upstream is on a closed port: each call gets 502, stderr has one line at once and the rest at the stop, /healthz counts them by upstream with the cause; the upstream\'s own 500, passed through, is not counted', { timeout: 60_000 }, async () => {
  const data = scratch.tempDir();
  const port = await closedPort();
  const openai = await failingUpstream();
  const serve = await startServe({ data, args: ['--upstream', `anthropic=http://127.0.0.1:${port}`, '--upstream', `openai=${openai.url}`] });
  try {
    const upstreamLines = () => serve.stderr().split('\n').filter((line) => line.startsWith(LEAD));
    const health = async () => {
      const body = (await (await fetch(`${serve.base}/healthz`)).json()) as Health;
      assert.deepEqual(validate(body, HEALTH_SCHEMA as never, OPENAPI as never), [], 'the answer docs/openapi.json documents');
      return body;
    };
    const message = (content: string) =>
      fetch(`${serve.base}/anthropic/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-secret-key-of-the-test', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content }] }),
      });
    const before = await health();
    assert.deepEqual(before.capture.upstreams['anthropic'], { unreachable: 0, timedOut: 0, last: null, lastAt: null });
    const answers = [await message('first private question'), await message('second private question')];
    for (const answer of answers) {
      assert.equal(answer.status, 502);
      const body = (await answer.json()) as { error: { code: string; message: string } };
      assert.deepEqual(body.error, { code: 'ERR_CAPTURE_UPSTREAM_UNREACHABLE', message: REFUSED });
    }
    // The first is printed at once, the second is counted.
    const deadline = performance.now() + 5_000;
    while (upstreamLines().length === 0) {
      assert.ok(performance.now() < deadline, `the first is printed at once; stderr:\n${serve.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(upstreamLines().length, 1, `one line, at once; stderr:\n${serve.stderr()}`);
    assert.match(upstreamLines()[0]!, /^runprint: the proxy answered 1 call with 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z: 1 with "cannot reach the anthropic upstream: the connection was refused \(ECONNREFUSED\)"; \/healthz capture\.upstreams counts them since start$/);
    const counted = (await health()).capture;
    assert.equal(counted.upstreams['anthropic']!.unreachable, 2);
    assert.equal(counted.upstreams['anthropic']!.last, REFUSED);
    assert.ok(Math.abs(Date.parse(counted.upstreams['anthropic']!.lastAt!) - Date.now()) < 60_000, 'when, as a UTC time');
    // The proxy itself and recording work: capture stays healthy (the calls are recorded, incomplete).
    assert.equal(counted.healthy, true);
    assert.equal((await health()).status, 'ok');
    // A path the proxy passes through unrecorded, to the same upstream: counted the same way.
    const models = await fetch(`${serve.base}/anthropic/v1/models`, { headers: { 'x-api-key': 'sk-ant-secret-key-of-the-test' } });
    assert.equal(models.status, 502);
    await models.body?.cancel();
    assert.equal((await health()).capture.upstreams['anthropic']!.unreachable, 3);
    // The openai upstream answers 500 itself: that answer passes through as sent, and is no
    // failure of runprint's: not counted, no line.
    const chat = await fetch(`${serve.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-openai-secret-of-the-test' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'third private question' }] }),
    });
    assert.equal(chat.status, 500);
    assert.equal(((await chat.json()) as { error: { type: string } }).error.type, 'server_error');
    const after500 = (await health()).capture.upstreams;
    assert.deepEqual(after500['openai'], { unreachable: 0, timedOut: 0, last: null, lastAt: null });
    assert.equal(upstreamLines().length, 1, `no line per call, none for the upstream's own 500; stderr:\n${serve.stderr()}`);
    assert.equal(await serve.stop(), 0);
    // The stop prints the line of those counted since the first.
    const lines = upstreamLines();
    assert.equal(lines.length, 2, serve.stderr());
    assert.match(lines[1]!, new RegExp(`^runprint: the proxy answered 2 calls with 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE since [0-9-]{10}T[0-9:]{8}Z: 2 with "cannot reach the anthropic upstream: the connection was refused \\(ECONNREFUSED\\)"; /healthz capture\\.upstreams counts them since start$`));
    // Nothing of the requests or their credentials reaches stderr.
    for (const secret of ['private question', 'sk-ant-secret', 'sk-openai-secret']) assert.ok(!serve.stderr().includes(secret), `stderr shows ${secret}:\n${serve.stderr()}`);
  } finally {
    await serve.kill();
    await new Promise<void>((resolve) => openai.server.close(() => resolve()));
  }
});

test('the proxy tells onUpstreamFailure of its 502s, not of a call whose client went away before the upstream answered', async () => {
  const told: Array<[string, string]> = [];
  const refused = new TypeError('fetch failed: the connection was refused (ECONNREFUSED)');
  const proxy = createProxy({
    sink: { healthy: true, record: async () => undefined },
    maxBodyBytes: 1 << 20,
    receipts: false,
    // As serve's upstream fetch: the signal's reason once the client went away, else why it failed.
    fetch: (async (_url: string, init: RequestInit) => {
      throw init.signal?.aborted === true ? init.signal.reason : refused;
    }) as typeof fetch,
    onUpstreamFailure: (upstream, error) => void told.push([upstream, error.message]),
  });
  const app = createApp({ proxy });
  const call = (path: string, signal?: AbortSignal) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), ...(signal === undefined ? {} : { signal }) });
  // Recorded (a provider route) and passed through (any other path): both told.
  assert.equal((await call('/openai/v1/chat/completions')).status, 502);
  assert.equal((await call('/openai/v1/other')).status, 502);
  assert.deepEqual(told, [
    ['openai', 'cannot reach the openai upstream: the connection was refused (ECONNREFUSED)'],
    ['openai', 'cannot reach the openai upstream: the connection was refused (ECONNREFUSED)'],
  ]);
  // The client went away: no failure of the upstream's.
  const gone = new AbortController();
  gone.abort(new DOMException('the client went away', 'AbortError'));
  await call('/openai/v1/chat/completions', gone.signal);
  await call('/openai/v1/other', gone.signal);
  assert.equal(told.length, 2);
});

test('504s too: the reporter counts an upstream that sent nothing for the idle limit apart (timedOut), and its line names both answers when both came', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let clock = 0;
    const wall = () => Date.UTC(2026, 0, 31, 12) + clock;
    const lines: string[] = [];
    const reporter = upstreamFailureReporter((text) => void lines.push(text), ['openai'], () => clock, wall);
    const silent = 'the openai upstream sent nothing for 300 s, the proxy\'s limit for an upstream\'s silence: the call got no answer';
    reporter.report('openai', new RunprintError('ERR_CAPTURE_UPSTREAM_TIMEOUT', silent));
    assert.deepEqual(lines, [`${LEAD}1 call with 504 ERR_CAPTURE_UPSTREAM_TIMEOUT since 2026-01-31T12:00:00Z: 1 with "${silent}"${TAIL}`]);
    clock = 1_000;
    reporter.report('openai', new RunprintError('ERR_CAPTURE_UPSTREAM_TIMEOUT', silent));
    reporter.report('openai', unreachable(NOT_FOUND));
    clock = 60_000;
    mock.timers.tick(60_000);
    assert.equal(lines[1], `${LEAD}2 calls with 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE or 504 ERR_CAPTURE_UPSTREAM_TIMEOUT since 2026-01-31T12:00:01Z: 1 with "${silent}"; 1 with "${NOT_FOUND}"${TAIL}`);
    assert.deepEqual(reporter.counts(), { openai: { unreachable: 1, timedOut: 2, last: NOT_FOUND, lastAt: '2026-01-31T12:00:01.000Z' } });
  } finally {
    mock.timers.reset();
  }
});

test('the proxy tells onUpstreamFailure of its 504s: an upstream silent before its answer, and before a stream\'s first byte', async () => {
  const told: Array<[string, string]> = [];
  let mode: 'before' | 'body' = 'before';
  const proxy = createProxy({
    sink: { healthy: true, record: async () => undefined },
    maxBodyBytes: 1 << 20,
    receipts: false,
    durability: 'async',
    fetch: (async () => {
      if (mode === 'before') throw new UpstreamSilent(1000, false);
      const body = new ReadableStream<Uint8Array>({ pull: (controller) => controller.error(new UpstreamSilent(1000, true)) });
      return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    }) as typeof fetch,
    onUpstreamFailure: (upstream, error) => void told.push([upstream, error.code]),
  });
  const app = createApp({ proxy });
  const call = () => app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
  assert.equal((await call()).status, 504);
  mode = 'body';
  // The upstream's headers came, its first event did not: the body fails before its first byte with
  // the 504's error, which the server answers in place of the upstream's status line.
  await assert.rejects((await call()).text(), { code: 'ERR_CAPTURE_UPSTREAM_TIMEOUT' });
  assert.deepEqual(told, [
    ['openai', 'ERR_CAPTURE_UPSTREAM_TIMEOUT'],
    ['openai', 'ERR_CAPTURE_UPSTREAM_TIMEOUT'],
  ]);
});
