/**
 * The HTTP API's input errors (docs/decisions/0015-http-input-errors.md): a request refused for its
 * input is 400 ERR_HTTP_BAD_REQUEST in the API's own terms, also where the check is shared with the
 * command line (which keeps ERR_CLI_USAGE and its --flags); every runprint route checks its query
 * alike (unknown, repeated, not valid percent-encoding); a path under a run that names no route is
 * 404; and the three requests Node's parser answered itself (no Host, an Expect it does not meet,
 * CONNECT) get the JSON error, over raw sockets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runQuery } from '../src/server/run-routes.ts';
import { createApp } from '../src/server/app.ts';
import { listen, REFUSED_IDLE_MS } from '../src/server/listen.ts';
import { APPLICATION_KEY } from './fixtures/receipt-run.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-input-errors-0123456789';

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
let captureId: string;

before(async () => {
  upstream = await startFakeUpstream();
  data = mkdtempSync(join(tmpdir(), 'runprint-input-errors-'));
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Name a colour.' }] }),
  });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  captureId = response.headers.get('runprint-capture-id')!;
  // The run's receipt in the log, so that the log has an entry (index 0).
  for (let i = 0; i < 400 && (await fetch(`${serve.base}/v1/runs/${captureId}/tlog-proof`)).status !== 200; i++) await new Promise((resolve) => setTimeout(resolve, 25));
});

after(async () => {
  await killServeProcesses();
  await upstream.close();
  rmSync(data, { recursive: true, force: true });
});

async function get(path: string): Promise<[number, { error: { code: string; message: string; path?: string } }]> {
  const response = await fetch(`${serve.base}${path}`);
  return [response.status, await response.json()];
}

describe('input errors are ERR_HTTP_BAD_REQUEST over HTTP, ERR_CLI_USAGE on the command line', () => {
  test('checks shared with the CLI answer ERR_HTTP_BAD_REQUEST with their message', async () => {
    assert.deepEqual(await get('/v1/runs?limit=abc'), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'limit must be a number from 1 to 1000' } }]);
    assert.deepEqual(await get('/v1/runs/nope'), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'a run is named by its capture id (a UUID), its record digest (64 lower-case hex digits) or its run identity (rp-run-v1-sha256- and 64 lower-case hex digits)' } }]);
    // The same check, called as the CLI calls it, keeps the CLI's code.
    assert.throws(() => runQuery((name) => (name === 'limit' ? 'abc' : undefined)), { code: 'ERR_CLI_USAGE', message: 'limit must be a number from 1 to 1000' });
  });

  test('runs grouped by a bad value: "by" over HTTP, --by on the command line', async () => {
    for (const query of ['', '?by=foo']) {
      const [status, body] = await get(`/v1/runs/groups${query}`);
      assert.equal(status, 400, query);
      assert.equal(body.error.code, 'ERR_HTTP_BAD_REQUEST');
      assert.match(body.error.message, /^by must be request, run, /);
      assert.doesNotMatch(body.error.message, /--/);
    }
    const cli = await runCliInProcess(['runs', 'group', '--data', data, '--by', 'foo']);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /^runprint: ERR_CLI_USAGE: --by must be request, run, /);
    // The whole message, both ways, but for the name.
    assert.equal((await get('/v1/runs/groups?by=foo'))[1].error.message.replace(/^by /, ''), cli.stderr.replace(/^runprint: ERR_CLI_USAGE: --by /, '').trimEnd());
  });

  test('body members, query parameters of the log and of the CLI-like routes', async () => {
    const post = (path: string, body: string) => fetch(`${serve.base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(async (response) => [response.status, await response.json()]);
    assert.deepEqual(await post('/v1/verify', '{}'), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'member "receipt" is required', path: "$['receipt']" } }]);
    assert.deepEqual(await post('/v1/explain', '{"request":{},"extra":1}'), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'unknown member "extra"; this route takes request, response, responseBase64, from', path: "$['extra']" } }]);
    assert.deepEqual(await get('/v1/log/proof?index=-1'), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'query parameter "index" must be a decimal integer' } }]);
  });

  test('the log routes refuse a malformed run identity as the run store\'s routes do, and say a missing parameter is missing', async () => {
    const malformed = [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'query parameter "runId" must be a run identity (rp-run-v1-sha256- and 64 lower-case hex digits)' } }];
    for (const runId of ['abc', 'rp-run-x', `rp-req-v1-sha256-${'a'.repeat(64)}`, `rp-run-v1-sha256-${'A'.repeat(64)}`, `rp-run-v2-sha256-${'a'.repeat(64)}`]) {
      assert.deepEqual(await get(`/v1/log/entries?runId=${encodeURIComponent(runId)}`), malformed, runId);
    }
    // The same code as a run store route gives the same id.
    const [status, body] = await get('/v1/runs?parent=abc');
    assert.deepEqual([status, (body as { error: { code: string } }).error.code], [400, 'ERR_HTTP_BAD_REQUEST']);
    const wellFormed = `rp-run-v1-sha256-${'a'.repeat(64)}`;
    assert.deepEqual(await get(`/v1/log/entries?runId=${wellFormed}`), [200, { runId: wellFormed, indexes: [] }]);
    const missing = (name: string, what: string) => [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: `query parameter "${name}" is missing: it must be ${what}` } }];
    assert.deepEqual(await get('/v1/log/entries'), missing('runId', 'a run identity (rp-run-...)'));
    assert.deepEqual(await get('/v1/log/tlog-proof'), missing('index', 'a decimal integer'));
    assert.deepEqual(await get('/v1/log/proof'), missing('index', 'a decimal integer'));
    assert.deepEqual(await get('/v1/log/tlog-proof?index=x'), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'query parameter "index" must be a decimal integer' } }]);
  });
});

describe('query and path checks are the same on every route', () => {
  test('the log routes refuse a repeated or unknown query parameter, as /v1/runs does', async () => {
    assert.equal((await get('/v1/log/proof?index=0'))[0], 200);
    const cases: Array<[string, string]> = [
      ['/v1/log/proof?index=0&index=1', 'index is given more than once; /v1/log/proof takes each query parameter once'],
      ['/v1/log/proof?index=0&foo=1', 'unknown query parameter; /v1/log/proof takes index and size'],
      ['/v1/log/tlog-proof?index=0&index=0', 'index is given more than once; /v1/log/tlog-proof takes each query parameter once'],
      ['/v1/log/tlog-proof?index=0&foo=1', 'unknown query parameter; /v1/log/tlog-proof takes index'],
      ['/v1/log/entries?runId=rp-run-x&foo=1', 'unknown query parameter; GET /v1/log/entries takes runId'],
      ['/v1/runs?limit=1&foo=1', 'unknown query parameter; /v1/runs takes since, until, model, servedModel, provider, status, parent, verdict, component, limit and before'],
    ];
    for (const [path, message] of cases) assert.deepEqual(await get(path), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message } }], path);
  });

  test('a run, its receipt, composition and tlog-proof and a content digest take no query parameter', async () => {
    assert.equal((await fetch(`${serve.base}/v1/runs/${captureId}`)).status, 200);
    for (const [path, name] of [[`/v1/runs/${captureId}`, '/v1/runs/{id}'], [`/v1/runs/${captureId}/receipt`, '/v1/runs/{id}/receipt'], [`/v1/runs/${captureId}/composition`, '/v1/runs/{id}/composition'], [`/v1/runs/${captureId}/tlog-proof`, '/v1/runs/{id}/tlog-proof'], [`/v1/content/${'a'.repeat(64)}`, '/v1/content/{digest}']]) {
      assert.deepEqual(await get(`${path}?foo=1`), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: `unknown query parameter; ${name} takes no query parameters` } }], path);
    }
    assert.deepEqual(await get(`/v1/runs/${captureId}/verify?foo=1`), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'unknown query parameter; /v1/runs/{id}/verify takes no query parameters' } }]);
  });

  test('every other /v1/ route refuses a query parameter it does not take, or one given twice', async () => {
    const refused = async (method: string, path: string, message: string) => {
      const response = await fetch(`${serve.base}${path}`, method === 'GET' ? {} : { method, headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.deepEqual([response.status, await response.json()], [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message } }], `${method} ${path}`);
    };
    await refused('GET', '/v1/log/key?x=1', 'unknown query parameter; /v1/log/key takes no query parameters');
    await refused('GET', '/v1/receipt-key?x=1', 'unknown query parameter; /v1/receipt-key takes no query parameters');
    await refused('POST', '/v1/exchanges?x=1', 'unknown query parameter; /v1/exchanges takes no query parameters');
    await refused('POST', '/v1/identity?x=1', 'unknown query parameter; /v1/identity takes from');
    await refused('POST', '/v1/identity?from=auto&from=composition', 'from is given more than once; /v1/identity takes each query parameter once');
    for (const path of ['/v1/explain', '/v1/diff', '/v1/verify']) await refused('POST', `${path}?x=1`, `unknown query parameter; ${path} takes no query parameters`);
  });

  test('a query that is not valid percent-encoding is refused, not read as other characters', async () => {
    for (const query of ['model=%ZZ', 'model=%', 'model=a%2', 'model=%FF', '%ZZ=1']) {
      assert.deepEqual(await get(`/v1/runs?${query}`), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'the query is not valid percent-encoding: a % must be followed by two hex digits, and the bytes they give must be UTF-8' } }], query);
    }
    assert.deepEqual(await get('/v1/runs?model=%67pt-4o%20x+y'), [200, { runs: [] }]);
  });

  test('a capture id in upper case names the same run', async () => {
    const lower = await fetch(`${serve.base}/v1/runs/${captureId}`);
    const upper = await fetch(`${serve.base}/v1/runs/${captureId.toUpperCase()}`);
    assert.equal(upper.status, 200);
    assert.deepEqual(await upper.json(), await lower.json());
    assert.equal((await fetch(`${serve.base}/v1/runs/${captureId.toUpperCase()}/receipt`)).status, 200);
  });

  test('a path under a run or a content digest that names no route is 404 ERR_HTTP_NOT_FOUND', async () => {
    for (const path of ['/v1/runs/nope/foo', `/v1/runs/${captureId}/foo`, `/v1/runs/${captureId}/receipt/more`, '/v1/runs/groups/x', `/v1/content/${'a'.repeat(64)}/x`]) {
      assert.deepEqual(await get(path), [404, { error: { code: 'ERR_HTTP_NOT_FOUND', message: 'no such path' } }], path);
    }
  });

  test('a content digest nothing is stored under is 404 ERR_CONTENT_NOT_FOUND, a code of its own, not a missing run\'s', async () => {
    const message = 'no content is stored under that digest (never kept, or past retention)';
    for (const digest of ['a'.repeat(64), `sha256:${'b'.repeat(64)}`]) {
      assert.deepEqual(await get(`/v1/content/${digest}`), [404, { error: { code: 'ERR_CONTENT_NOT_FOUND', message } }], digest);
    }
    assert.equal((await get(`/v1/runs/${'0'.repeat(64)}`))[1].error.code, 'ERR_RUN_NOT_FOUND', 'a missing run keeps its code');
  });

  test('/v1/log/proof of an index past the latest checkpoint is 404 ERR_LOG_ENTRY_NOT_FOUND, as /v1/log/tlog-proof', async () => {
    const notFound = [404, { error: { code: 'ERR_LOG_ENTRY_NOT_FOUND', message: 'no signed checkpoint covers that index yet' } }];
    assert.deepEqual(await get('/v1/log/proof?index=999'), notFound);
    assert.deepEqual(await get('/v1/log/tlog-proof?index=999'), notFound);
    // With a size the request itself asks for what cannot be: still 400.
    assert.deepEqual(await get('/v1/log/proof?index=1&size=1'), [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'query parameter "index" must be less than "size"' } }]);
  });

  test('POST /v1/verify: a key that cannot be read is named by its place among the keys', async () => {
    const response = await fetch(`${serve.base}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipt: '{}', keys: [APPLICATION_KEY.publicKeyPem, 'not a key', APPLICATION_KEY.publicKeyPem] }),
    });
    assert.equal(response.status, 400);
    const { error } = await response.json();
    assert.equal(error.code, 'ERR_KEY_INVALID');
    assert.equal(error.path, "$['keys'][1]");
  });
});

/** Sends `bytes` on a raw connection and resolves with everything answered until the server closes it. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no close in 5 s; got ${JSON.stringify(answer)}`)));
    socket.write(bytes);
  });
}

/** The status and JSON body of a raw answer. */
function parsed(answer: string): { status: number; headers: string; body: unknown } {
  const split = answer.indexOf('\r\n\r\n');
  assert.ok(split > 0, JSON.stringify(answer));
  const head = answer.slice(0, split);
  return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(answer.slice(split + 4)) };
}

describe('requests Node answered itself get the JSON error', () => {
  const cases: Array<[string, string, string]> = [
    ['HTTP/1.1 with no Host', 'GET /healthz HTTP/1.1\r\n\r\n', 'an HTTP/1.1 request must carry a Host header'],
    ['an Expect other than 100-continue', 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo\r\n\r\n', 'the Expect header may only be 100-continue, the one expectation this server meets'],
    ['CONNECT', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 'CONNECT is not served: this server opens no tunnels (the capture proxy takes provider calls as plain requests to its own paths)'],
  ];
  for (const [name, bytes, message] of cases) {
    test(`${name}: 400 ERR_HTTP_BAD_REQUEST as JSON, the connection closed (serve, and listen() with any host)`, async () => {
      const server = await listen(createApp(), { host: '127.0.0.1', port: 0 });
      try {
        for (const port of [serve.port, server.port]) {
          const answer = parsed(await raw(port, bytes));
          assert.equal(answer.status, 400, `${port}: ${answer.headers}`);
          assert.match(answer.headers, /\r\ncontent-type: application\/json(\r\n|$)/);
          assert.match(answer.headers, /\r\nconnection: close(\r\n|$)/);
          assert.deepEqual(answer.body, { error: { code: 'ERR_HTTP_BAD_REQUEST', message } });
        }
      } finally {
        await server.close();
      }
    });
  }

  test('clients that keep their end open after the JSON refusal (CONNECT, a request Node cannot parse) hold no connection slot and no stop', async () => {
    const server = await listen(createApp(), { host: '127.0.0.1', port: 0, maxClientConnections: 2 });
    const held: Socket[] = [];
    try {
      for (const bytes of ['CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n']) {
        // allowHalfOpen: the client does not end its side when the server ends its own.
        const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
        held.push(socket);
        socket.on('error', () => undefined);
        let answer = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
        const ended = new Promise<void>((resolve) => socket.once('end', resolve));
        socket.write(bytes);
        await ended;
        assert.equal(parsed(answer).status, 400);
      }
      // Both of this client's two connection slots were taken by the refused ones: a request gets
      // an answer only once the server has closed them. The server reads on after its answer, in
      // case a body follows, until REFUSED_IDLE_MS pass with nothing arriving.
      await new Promise((resolve) => setTimeout(resolve, REFUSED_IDLE_MS + 200));
      const health = await fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(3000) });
      assert.equal(health.status, 200);
      await health.arrayBuffer();
      const stopping = performance.now();
      await server.close({ graceMs: 500 });
      assert.ok(performance.now() - stopping < 1500, 'the stop did not wait for the refused connections');
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  test('HTTP/1.0 needs no Host; Expect: 100-continue still gets 100 Continue', async () => {
    const server = await listen(createApp(), { host: '127.0.0.1', port: 0 });
    try {
      const old = await raw(server.port, 'GET /healthz HTTP/1.0\r\n\r\n');
      assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
      const body = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
      const continued = await raw(server.port, `POST /v1/identity?from=openai-chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${body}`);
      assert.match(continued, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    } finally {
      await server.close();
    }
  });

  test('Expect: 100-continue with a Content-Length over the route\'s limit gets 413 at once, never 100 Continue; within it, 100 Continue before the body', async () => {
    const server = await listen(createApp({ maxBodyBytes: 1000 }), { host: '127.0.0.1', port: 0 });
    /** Sends the head only, and resolves with what the server writes before it closes, or within 2 s. */
    const headOnly = (head: string, onData?: (socket: Socket, text: string) => void) =>
      new Promise<string>((resolve) => {
        const socket = connect({ port: server.port, host: '127.0.0.1' });
        let text = '';
        const timer = setTimeout(() => socket.destroy(), 2000);
        socket.setEncoding('latin1').on('data', (part: string) => {
          text += part;
          onData?.(socket, text);
        });
        socket.on('error', () => undefined).on('close', () => {
          clearTimeout(timer);
          resolve(text);
        });
        socket.write(head);
      });
    try {
      const refused = await headOnly('POST /v1/identity?from=openai-chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n');
      assert.doesNotMatch(refused, /100 Continue/);
      const answer = parsed(refused);
      assert.equal(answer.status, 413);
      assert.match(answer.headers, /\r\nconnection: close(\r\n|$)/);
      assert.deepEqual(answer.body, { error: { code: 'ERR_HTTP_BODY_TOO_LARGE', message: 'request body is larger than 1000 bytes' } });
      // Within the limit: 100 Continue, then the body is read and answered.
      const body = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
      let sent = false;
      const continued = await headOnly(`POST /v1/identity?from=openai-chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`, (socket, text) => {
        if (!sent && /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(text)) (sent = true), socket.write(body);
      });
      assert.match(continued, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    } finally {
      await server.close();
    }
  });
});
