/**
 * SPEC 4.8: request members an API takes as headers. The Anthropic SDK sends `betas` as the
 * `anthropic-beta` header, so a captured call's identity reads the header as the `betas` member:
 * through the proxy, in process, through a server's exchanges and in a replay, the identity is
 * what `runprint id` gives for the body written with `betas`, and differs from the same call
 * without them. A body that has `betas` and the header too is refused as ambiguous, and so is a
 * header holding a byte outside printable ASCII (UTF-8 or ISO-8859-1 is not for runprint to guess).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { prepareRequest } from '../src/capture/capture-run.ts';
import { EXCHANGE_VERSION, readExchange } from '../src/capture/exchange.ts';
import { runprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { headerList, headerMembersOut, memberHeadersOf, withHeaderMembers } from '../src/providers/header-members.ts';
import { parseJson } from '../src/jcs/index.ts';
import type { JsonObject } from '../src/jcs/json-value.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const KEY = 'sk-ant-test-header-members-0123456789';
const BETAS = ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'];
const encoder = new TextEncoder();

let upstream: FakeUpstream;
let serve: ServeProcess;
let serveData: string;
const scratch = scratchFolders('runprint-header-members-');
const tempDir = () => scratch.tempDir();

before(async () => {
  upstream = await startFakeUpstream();
  serveData = tempDir();
  serve = await startServe({ data: serveData, args: ['--upstream', `anthropic=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

const params = { model: 'claude-sonnet-4-5', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user' as const, content: 'Say hello.' }] };

/** The request identity `runprint id` gives for a body: the standard of every captured call below. */
async function idOf(body: object): Promise<string> {
  const file = join(tempDir(), 'request.json');
  writeFileSync(file, JSON.stringify(body));
  const out = await runCliInProcess(['id', file, '--from', 'anthropic-messages']);
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.trim();
}

interface RunView { captureId: string; record: { requestId: string | null; unidentified: { code: string; path: string | null } | null } }

async function runOf(base: string, captureId: string): Promise<RunView> {
  const response = await fetch(`${base}/v1/runs/${captureId}`);
  assert.equal(response.status, 200);
  const runs = ((await response.json()) as { runs: RunView[] }).runs;
  assert.equal(runs.length, 1);
  return runs[0]!;
}

describe('the header as a list', () => {
  test('split at commas, parts trimmed of spaces and tabs, empty parts dropped, order kept', () => {
    assert.deepEqual(headerList('a,b'), ['a', 'b']);
    assert.deepEqual(headerList(' b ,\ta , ,'), ['b', 'a']);
    assert.deepEqual(headerList(' , '), []);
  });

  test('read into the body as its member; an empty list adds nothing; the body and the header both is refused', () => {
    const body = parseJson(encoder.encode(JSON.stringify(params)));
    const read = withHeaderMembers('anthropic-messages', body, { 'anthropic-beta': 'x, y' }) as JsonObject;
    assert.deepEqual(read['betas'], ['x', 'y']);
    assert.equal(Object.hasOwn(body as JsonObject, 'betas'), false, 'the parsed body is not changed');
    assert.equal(withHeaderMembers('anthropic-messages', body, { 'anthropic-beta': ' ,' }), body);
    const both = prepareRequest('anthropic-messages', encoder.encode(JSON.stringify({ ...params, betas: ['x'] })), undefined, { 'anthropic-beta': 'x' });
    assert.equal(both.error?.code, 'ERR_PROVIDER_INVALID_REQUEST');
    assert.equal(both.error?.path, "$['betas']");
    assert.throws(() => withHeaderMembers('openai-chat', body, { 'anthropic-beta': 'x' }), RangeError, 'OpenAI routes have no member headers');
    assert.equal(withHeaderMembers('openai-chat', body, undefined), body);
    assert.equal(memberHeadersOf('openai-chat', () => 'x'), undefined);
    assert.deepEqual(memberHeadersOf('anthropic-messages', (name) => (name === 'anthropic-beta' ? 'x' : null)), { 'anthropic-beta': 'x' });
  });

  test('a header holding a byte outside printable ASCII (tab and space allowed) is refused at betas, not read as ISO-8859-1 or UTF-8', () => {
    const body = parseJson(encoder.encode(JSON.stringify(params)));
    const prepared = (value: string, request: object = params) => prepareRequest('anthropic-messages', encoder.encode(JSON.stringify(request)), undefined, { 'anthropic-beta': value });
    // The UTF-8 bytes of "é" (C3 A9), a header value's characters being its bytes.
    const utf8 = Buffer.from('\u00e9-feature', 'utf8').toString('latin1');
    for (const [value, refused] of [[utf8, '0xC3'], ['\u00e9-feature', '0xE9'], ['a\u007fb', '0x7F'], ['a\u0001b', '0x01'], ['x, \u00a0', '0xA0'], ['\u65e5', 'U+65E5']] as const) {
      const result = prepared(value);
      assert.equal(result.error?.code, 'ERR_PROVIDER_INVALID_REQUEST', JSON.stringify(value));
      assert.equal(result.error?.path, "$['betas']");
      assert.ok(result.error?.message.includes(refused), result.error?.message);
      assert.equal(result.identity, null);
    }
    // Before the mapping's checks, and whatever the body's betas.
    assert.equal(prepared(utf8, { max_tokens: 64, messages: params.messages }).error?.path, "$['betas']");
    assert.equal(prepared(utf8, { ...params, betas: ['x'] }).error?.path, "$['betas']");
    // A body that is not an object is the mapping's to refuse, at $.
    assert.equal(prepareRequest('anthropic-messages', encoder.encode('[]'), undefined, { 'anthropic-beta': utf8 }).error?.path, '$');
    // A tab inside a part is read; a header of only spaces, tabs and commas is as if absent.
    assert.deepEqual((withHeaderMembers('anthropic-messages', body, { 'anthropic-beta': 'a\tb,\tc ' }) as JsonObject)['betas'], ['a\tb', 'c']);
    assert.equal(withHeaderMembers('anthropic-messages', body, { 'anthropic-beta': '   ' }), body);
    assert.equal(withHeaderMembers('anthropic-messages', body, { 'anthropic-beta': ' \t, ' }), body);
  });

  test('a request written with the member is sent with the header (what a replay sends), the rest of the body unchanged', () => {
    const request = parseJson(encoder.encode(JSON.stringify({ ...params, betas: BETAS }))) as JsonObject;
    const out = headerMembersOut('anthropic-messages', request);
    assert.deepEqual(out.headers, { 'anthropic-beta': BETAS.join(',') });
    assert.deepEqual(Object.keys(out.request), Object.keys(params));
    // A part a header cannot carry and be read back from (outside printable ASCII) stays in the
    // body: past U+00FF sending it would fail; "é" or DEL would be sent, and refused when read.
    for (const part of ['\u65e5', 'a\u0000b', 'caf\u00e9', 'a\u007fb', 'a\u0001b']) {
      const kept = parseJson(encoder.encode(JSON.stringify({ ...params, betas: ['x', part] }))) as JsonObject;
      assert.deepEqual(headerMembersOut('anthropic-messages', kept), { request: kept, headers: {} }, JSON.stringify(part));
    }
    // A tab inside a part is carried.
    const tab = parseJson(encoder.encode(JSON.stringify({ ...params, betas: ['a\tb', 'c'] }))) as JsonObject;
    assert.deepEqual(headerMembersOut('anthropic-messages', tab).headers, { 'anthropic-beta': 'a\tb,c' });
    // Not a list of strings: stays in the body (and the API will answer for it).
    const odd = parseJson(encoder.encode(JSON.stringify({ ...params, betas: 'x' }))) as JsonObject;
    assert.deepEqual(headerMembersOut('anthropic-messages', odd), { request: odd, headers: {} });
  });
});

test('an exchange\'s requestHeaders: only the route\'s member headers, each a header value', () => {
  const exchange = (path: string, requestHeaders: unknown) => encoder.encode(JSON.stringify({
    version: EXCHANGE_VERSION, captureId: crypto.randomUUID(), method: 'POST', path,
    request: Buffer.from(JSON.stringify(params)).toString('base64'), response: null, outcome: 'network-error',
    times: { started: 1, response: null, ended: 2 }, parents: [], requestHeaders,
  }));
  assert.deepEqual(readExchange(exchange('/v1/messages', { 'anthropic-beta': 'x,y' })).requestHeaders, { 'anthropic-beta': 'x,y' });
  const refused = (path: string, headers: unknown, at: string) => assert.throws(() => readExchange(exchange(path, headers)), (error: RunprintError) => error.code === 'ERR_HTTP_BAD_REQUEST' && error.path === at, JSON.stringify(headers));
  refused('/v1/chat/completions', { 'anthropic-beta': 'x' }, "$['requestHeaders']");
  refused('/v1/messages', { 'x-api-key': 'sk-ant-secret' }, "$['requestHeaders']");
  refused('/v1/messages', { 'anthropic-beta': 'x\r\nset-cookie: y' }, "$['requestHeaders']['anthropic-beta']");
  refused('/v1/messages', { 'anthropic-beta': 7 }, "$['requestHeaders']['anthropic-beta']");
  refused('/v1/messages', ['anthropic-beta'], "$['requestHeaders']");
});

describe('captured calls read anthropic-beta as betas', () => {
  test('the SDK\'s betas through the proxy and in process: the identity runprint id gives for the body with betas, not the one without', async () => {
    const withBetas = await idOf({ ...params, betas: BETAS });
    const without = await idOf(params);
    assert.notEqual(withBetas, without);

    // Through the proxy, with the SDK's base URL option.
    const client = new Anthropic({ apiKey: KEY, baseURL: `${serve.base}/anthropic`, maxRetries: 0 });
    upstream.enqueue({ kind: 'text', text: 'Hello.' }, { kind: 'text', text: 'Hello.' });
    const mark = upstream.requests.length;
    const beta = await client.beta.messages.create({ ...params, betas: BETAS }).withResponse();
    const plain = await client.messages.create(params).withResponse();
    await upstream.settled();
    const received = upstream.requests.slice(mark);
    assert.equal(received[0]!.headers['anthropic-beta'], BETAS.join(','), 'the header reaches the upstream as sent');
    assert.equal(received[1]!.headers['anthropic-beta'], undefined);
    assert.equal(beta.response.headers.get('runprint-request-id'), withBetas);
    assert.equal(plain.response.headers.get('runprint-request-id'), without);
    const stored = await runOf(serve.base, beta.response.headers.get('runprint-capture-id')!);
    assert.equal(stored.record.requestId, withBetas);

    // In process, into a local store and to the serve as exchanges: the same identities.
    for (const where of ['data', 'url'] as const) {
      const errors: RunprintError[] = [];
      const capturing = runprintFetch({ ...(where === 'data' ? { data: tempDir() } : { url: serve.base }), onError: (error) => void errors.push(error) });
      try {
        const local = new Anthropic({ apiKey: KEY, baseURL: upstream.url, maxRetries: 0, fetch: capturing });
        upstream.enqueue({ kind: 'text', text: 'Hello.' }, { kind: 'text', text: 'Hello.' });
        const a = await local.beta.messages.create({ ...params, betas: BETAS }).withResponse();
        const b = await local.messages.create(params).withResponse();
        await upstream.settled();
        const ids = [a, b].map((each) => each.response.headers.get('runprint-capture-id')!);
        await capturing.flush();
        const records = await Promise.all(ids.map((id) => capturing.runOf(id)));
        assert.deepEqual(records.map((record) => record?.requestId), [withBetas, without], where);
        if (where === 'url') {
          // The server made its record from the exchange: it read the header the exchange carried.
          assert.equal((await runOf(serve.base, ids[0]!)).record.requestId, withBetas);
          assert.equal((await runOf(serve.base, ids[1]!)).record.requestId, without);
        }
      } finally {
        await capturing.close();
      }
      assert.deepEqual(errors, [], where);
    }
  });

  test('betas in the body and in the header: forwarded untouched, recorded unidentified (ERR_PROVIDER_INVALID_REQUEST at betas)', async () => {
    upstream.enqueue({ kind: 'text', text: 'Hello.' });
    const response = await fetch(`${serve.base}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'x' },
      body: JSON.stringify({ ...params, betas: ['y'] }),
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.equal(response.headers.get('runprint-request-id'), null);
    const stored = await runOf(serve.base, response.headers.get('runprint-capture-id')!);
    assert.equal(stored.record.requestId, null);
    assert.deepEqual(stored.record.unidentified, { code: 'ERR_PROVIDER_INVALID_REQUEST', path: "$['betas']" });
  });

  test('a non-ASCII anthropic-beta (the UTF-8 bytes of "é") through the proxy and in process: forwarded untouched, recorded unidentified at betas', async () => {
    // The SDK's betas as a header: a value's characters are its bytes, so the UTF-8 bytes C3 A9 of "é" are "Ã©" here.
    const utf8 = Buffer.from('\u00e9-feature', 'utf8').toString('latin1');
    const unidentified = { code: 'ERR_PROVIDER_INVALID_REQUEST', path: "$['betas']" };
    const client = new Anthropic({ apiKey: KEY, baseURL: `${serve.base}/anthropic`, maxRetries: 0 });
    upstream.enqueue({ kind: 'text', text: 'Hello.' });
    const mark = upstream.requests.length;
    const proxied = await client.beta.messages.create({ ...params, betas: [utf8] }).withResponse();
    await upstream.settled();
    assert.equal(proxied.data.content[0]?.type === 'text' && proxied.data.content[0].text, 'Hello.');
    const received = upstream.requests[mark]!;
    assert.equal(received.headers['anthropic-beta'], utf8, 'the header reaches the upstream byte for byte');
    assert.deepEqual(JSON.parse(received.body.toString('utf8')), params, 'the body reaches the upstream as sent');
    assert.equal(proxied.response.headers.get('runprint-request-id'), null);
    const stored = await runOf(serve.base, proxied.response.headers.get('runprint-capture-id')!);
    assert.equal(stored.record.requestId, null);
    assert.deepEqual(stored.record.unidentified, unidentified);

    for (const where of ['data', 'url'] as const) {
      const errors: RunprintError[] = [];
      const capturing = runprintFetch({ ...(where === 'data' ? { data: tempDir() } : { url: serve.base }), onError: (error) => void errors.push(error) });
      try {
        const local = new Anthropic({ apiKey: KEY, baseURL: upstream.url, maxRetries: 0, fetch: capturing });
        upstream.enqueue({ kind: 'text', text: 'Hello.' });
        const at = upstream.requests.length;
        // The header set directly, as an application may: the same bytes.
        const answer = await local.messages.create(params, { headers: { 'anthropic-beta': utf8 } }).withResponse();
        await upstream.settled();
        assert.equal(answer.data.content[0]?.type === 'text' && answer.data.content[0].text, 'Hello.', where);
        assert.equal(upstream.requests[at]!.headers['anthropic-beta'], utf8, where);
        assert.deepEqual(JSON.parse(upstream.requests[at]!.body.toString('utf8')), params, where);
        const captureId = answer.response.headers.get('runprint-capture-id')!;
        assert.equal(answer.response.headers.get('runprint-request-id'), null, where);
        await capturing.flush();
        const record = await capturing.runOf(captureId);
        assert.equal(record?.requestId, null, where);
        assert.deepEqual(record?.unidentified, unidentified, where);
        if (where === 'url') assert.deepEqual((await runOf(serve.base, captureId)).record.unidentified, unidentified);
      } finally {
        await capturing.close();
      }
      assert.deepEqual(errors, [], where);
    }
  });

  test('a replay keeps in the body betas a header cannot carry as ASCII ("café"): sent as the body has them, identified', async () => {
    // Captured from a body with betas (no header): identified, "café" being JSON text.
    const betas = ['caf\u00e9', BETAS[0]!];
    upstream.enqueue({ kind: 'text', text: 'Hello.' });
    const response = await fetch(`${serve.base}/anthropic/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...params, betas }),
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    await upstream.settled();
    assert.equal(response.headers.get('runprint-request-id'), await idOf({ ...params, betas }));
    // Replayed with an override: the request is rebuilt from the composition, betas written out again.
    upstream.enqueue({ kind: 'text', text: 'Hello.' });
    const mark = upstream.requests.length;
    process.env['ANTHROPIC_API_KEY'] = KEY;
    const out = await runCliInProcess(['replay', response.headers.get('runprint-capture-id')!, '--data', serveData, '--upstream', `anthropic=${upstream.url}`, '--param', 'temperature=0.5', '--json']);
    await upstream.settled();
    const result = JSON.parse(out.stdout) as { replay: { requestId: string | null } | null };
    assert.equal(result.replay?.requestId, await idOf({ ...params, betas, temperature: 0.5 }), out.stdout + out.stderr);
    const sent = upstream.requests[mark]!;
    assert.equal(sent.headers['anthropic-beta'], undefined, 'no header: it would be read back refused');
    assert.deepEqual((JSON.parse(sent.body.toString('utf8')) as { betas: unknown }).betas, betas);
  });

  test('a replay of a beta call sends the header again and has the original\'s identity', async () => {
    const client = new Anthropic({ apiKey: KEY, baseURL: `${serve.base}/anthropic`, maxRetries: 0 });
    upstream.enqueue({ kind: 'text', text: 'Replayed.' });
    const original = await client.beta.messages.create({ ...params, betas: BETAS }).withResponse();
    const captureId = original.response.headers.get('runprint-capture-id')!;
    await upstream.settled();
    upstream.enqueue({ kind: 'text', text: 'Replayed.' });
    const mark = upstream.requests.length;
    process.env['ANTHROPIC_API_KEY'] = KEY;
    const out = await runCliInProcess(['replay', captureId, '--data', serveData, '--upstream', `anthropic=${upstream.url}`, '--json']);
    await upstream.settled();
    const result = JSON.parse(out.stdout) as { verdict: string; original: { requestId: string }; replay: { requestId: string } | null };
    assert.equal(result.replay?.requestId, result.original.requestId, out.stdout + out.stderr);
    assert.equal(result.verdict, 'identical', out.stdout);
    const sent = upstream.requests[mark]!;
    assert.equal(sent.headers['anthropic-beta'], BETAS.join(','));
    assert.equal(Object.hasOwn(JSON.parse(sent.body.toString('utf8')) as object, 'betas'), false, 'betas go as the header, not in the body');
  });
});
