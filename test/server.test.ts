/** The HTTP service: routes through app.request() with no socket, then once over a real socket. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { captureOff, createApp, SIGNING_OFF } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';

const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], temperature: 0 };
const post = (body: string, type = 'application/json') => ({ method: 'POST', body, headers: { 'content-type': type } });

test('GET /healthz', async () => {
  const response = await createApp({ version: '9.9.9' }).request('/healthz');
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: 'ok', version: '9.9.9' });
});

test('POST /v1/identity answers the identity document', async () => {
  const app = createApp();
  const response = await app.request('/v1/identity?from=openai-chat', post(JSON.stringify(chat)));
  assert.equal(response.status, 200);
  const document = await response.json();
  assert.match(document.requestId, /^rp-req-v1-sha256-[0-9a-f]{64}$/);
  assert.equal(document.components.input.count, 1);
  const again = await (await app.request('/v1/identity?from=openai-chat', post(JSON.stringify(chat, null, 2)))).json();
  assert.equal(again.requestId, document.requestId);
});

test('errors are JSON with the codes of the CLI (input errors: ERR_HTTP_BAD_REQUEST) and the right status', async () => {
  const app = createApp({ maxBodyBytes: 1000 });
  const cases: Array<[Promise<Response>, number, string]> = [
    [app.request('/nope'), 404, 'ERR_HTTP_NOT_FOUND'],
    [app.request('/v1/identity'), 405, 'ERR_HTTP_METHOD_NOT_ALLOWED'],
    [app.request('/v1/identity', post('{}', 'text/plain')), 415, 'ERR_HTTP_MEDIA_TYPE'],
    [app.request('/v1/identity', post('x'.repeat(2000))), 413, 'ERR_HTTP_BODY_TOO_LARGE'],
    [app.request('/v1/identity', post('{"a":1,"a":2}')), 400, 'ERR_JSON_DUPLICATE_KEY'],
    [app.request('/v1/identity?from=bogus', post('{}')), 400, 'ERR_HTTP_BAD_REQUEST'],
    [app.request('/v1/identity', post('{"model":"m","messages":[],"max_tokens":5}')), 400, 'ERR_PROVIDER_AMBIGUOUS_FORMAT'],
  ];
  for (const [pending, status, code] of cases) {
    const response = await pending;
    assert.equal(response.status, status, code);
    const body = await response.json();
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, 'string');
  }
  const duplicate = await (await app.request('/v1/identity', post('{"a":1,"a":2}'))).json();
  assert.equal(duplicate.error.path, "$['a']");
  assert.equal((await app.request('/v1/identity')).headers.get('allow'), 'POST');
});

test('serves over a real socket on 127.0.0.1', async () => {
  const server = await listen(createApp(), { host: '127.0.0.1', port: 0 });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const response = await fetch(`${base}/v1/identity?from=openai-chat`, post(JSON.stringify(chat)));
    assert.equal(response.status, 200);
    assert.match((await response.json()).requestId, /^rp-req-/);
    await assert.rejects(listen(createApp(), { host: '127.0.0.1', port: server.port }), { code: 'ERR_HTTP_LISTEN' });
  } finally {
    await server.close();
  }
});

test('with capture off, a path of capture is 404 saying why; other unknown paths say only that there is none', async () => {
  const app = createApp({ off: [captureOff('serve runs with --no-capture')] });
  const why = 'no such path: capture is off on this server (serve runs with --no-capture), so it serves no proxy and no run store';
  for (const [method, path] of [['POST', '/openai/v1/chat/completions'], ['POST', '/anthropic/v1/messages'], ['POST', '/v1/chat/completions'], ['GET', '/v1/runs'], ['GET', '/v1/runs/3f0c'], ['POST', '/v1/exchanges'], ['GET', '/v1/content/abc'], ['GET', '/v1/receipt-key']]) {
    const response = await app.request(path!, { method: method! });
    assert.equal(response.status, 404, path);
    assert.deepEqual(await response.json(), { error: { code: 'ERR_HTTP_NOT_FOUND', message: why } }, path);
  }
  for (const path of ['/nothing', '/v1/nothing', '/v1/runsx', '/openai']) {
    assert.deepEqual(await (await createApp({ off: [captureOff('x')] }).request(path)).json(), { error: { code: 'ERR_HTTP_NOT_FOUND', message: 'no such path' } }, path);
  }
  // With capture on (or not said to be off), nothing changes.
  assert.deepEqual(await (await createApp().request('/v1/runs')).json(), { error: { code: 'ERR_HTTP_NOT_FOUND', message: 'no such path' } });
});

test('without signing, POST /v1/sign is 404 saying why; with signing, the route is there', async () => {
  const why = 'no such path: signing is off on this server (serve signs with --sign-key KEY.pem and --sign-token T)';
  // As serve tells it with capture and signing both off: each path gets its own reason.
  const app = createApp({ off: [captureOff('serve runs with --no-capture'), SIGNING_OFF] });
  for (const method of ['POST', 'GET']) {
    const response = await app.request('/v1/sign', { method, ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}) });
    assert.equal(response.status, 404, method);
    assert.deepEqual(await response.json(), { error: { code: 'ERR_HTTP_NOT_FOUND', message: why } }, method);
  }
  assert.match((await (await app.request('/v1/runs')).json()).error.message, /^no such path: capture is off/);
  for (const path of ['/v1/signs', '/v1/sign/x', '/sign']) {
    assert.deepEqual(await (await app.request(path, { method: 'POST' })).json(), { error: { code: 'ERR_HTTP_NOT_FOUND', message: 'no such path' } }, path);
  }
  // Not said to be off: the bare 404.
  assert.deepEqual(await (await createApp().request('/v1/sign', { method: 'POST' })).json(), { error: { code: 'ERR_HTTP_NOT_FOUND', message: 'no such path' } });
  // With signing on, the route answers (here: 401 without the sign token), whatever the list says.
  const key = await parsePrivateKey((await generateKeyFiles('test')).privateKeyPem);
  const signing = createApp({ sign: { key, token: 'sign-token', runprintVersion: '0.0.0-test' }, off: [SIGNING_OFF] });
  assert.equal((await signing.request('/v1/sign', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 401);
});
