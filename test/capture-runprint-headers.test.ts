/**
 * runprint's own request headers in process, as the proxy treats them: captureFetch (and
 * runprintFetch around it) reads `runprint-parent` (the call's parents, parsed as the proxy parses
 * it) and `runprint-retrieval` (declared documents, read as the proxy reads them), and sends no
 * `runprint-*` header to the provider, `runprint-capture-token` among them. An application that
 * moves from the proxy to in-process capture keeps its headers and gets the same record. The
 * real openai SDK, in process and through a real `runprint serve`, against a fake upstream on
 * loopback that records every header it received.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { captureFetch, MAX_RETRIEVAL_HEADER_BYTES, retrievalHeader, type RunRecord } from '../src/capture/index.ts';
import { runprintFetch, withParent, withRetrieval } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const KEY = 'sk-test-runprint-headers-0123456789';
const TOKEN = 'capture-token-of-the-runprint-server';
const PARENT_A = `rp-run-v1-sha256-${'a1'.repeat(32)}`;
const PARENT_B = `rp-run-v1-sha256-${'b2'.repeat(32)}`;
const DOC_A = 'The Eiffel Tower is 330 metres tall and stands in Paris.';
const DOC_B = 'Lyon lies at the confluence of the Rhone and the Saone.';
const A = { source: 'kb://towers/eiffel', text: DOC_A };
const B = { source: 'kb://cities/lyon', text: DOC_B };

let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch = scratchFolders('runprint-own-headers-');

before(async () => {
  upstream = await startFakeUpstream();
  // With a capture token: the proxy needs runprint-capture-token, as an application of it sends.
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--capture-token', TOKEN] });
});
after(() => endServeTest(upstream, scratch));

const ask = (question: string) => ({
  model: 'gpt-4o',
  messages: [
    { role: 'system' as const, content: 'Answer from the documents.' },
    { role: 'user' as const, content: `Documents:\n${DOC_A}\n${DOC_B}\n\nQuestion: ${question}` },
  ],
});

/** The requests the upstream received while `work` ran, and what it returned. */
async function received<T>(work: () => Promise<T>): Promise<{ result: T; requests: RecordedRequest[] }> {
  const mark = upstream.requests.length;
  const result = await work();
  await upstream.settled();
  return { result, requests: upstream.requests.slice(mark) };
}

/** The runprint-* header names a request reached the upstream with. */
const ownHeaders = (request: RecordedRequest) => Object.keys(request.headers).filter((name) => name.startsWith('runprint-')).sort();

/** A run serve stored, by capture id. */
async function stored(captureId: string): Promise<RunRecord> {
  const response = await fetch(`${serve.base}/v1/runs/${captureId}`, { headers: { 'runprint-capture-token': TOKEN } });
  assert.equal(response.status, 200);
  const { runs } = (await response.json()) as { runs: { record: RunRecord }[] };
  assert.equal(runs.length, 1);
  return runs[0]!.record;
}

const sources = (record: RunRecord | null) => record?.retrieval.map((document) => document.source);

describe('runprint-* request headers in process', () => {
  test('the openai SDK\'s defaultHeaders and per-request headers: the same record in process (local store and server) as through the proxy (request id, run id, parents, retrieval), and no runprint-* header reaches the upstream', async () => {
    const defaultHeaders = { 'runprint-parent': `${PARENT_A}, ${PARENT_B}`, 'runprint-capture-token': TOKEN };
    const perRequest = { headers: { 'runprint-retrieval': retrievalHeader([A, B]) } };

    // Through the proxy: the standard.
    const viaProxy = new OpenAI({ apiKey: KEY, baseURL: `${serve.base}/openai/v1`, maxRetries: 0, defaultHeaders });
    const proxied = await received(() => viaProxy.chat.completions.create(ask('How tall?'), perRequest).withResponse());
    assert.equal(proxied.requests.length, 1);
    assert.deepEqual(ownHeaders(proxied.requests[0]!), []);
    const proxyRecord = await stored(proxied.result.response.headers.get('runprint-capture-id')!);
    assert.ok(proxyRecord.runId !== null);
    assert.deepEqual(proxyRecord.parents, [PARENT_A, PARENT_B]);
    assert.deepEqual(sources(proxyRecord), [A.source, B.source]);

    // In process, the application keeping its headers: into a local store, and to the server as exchanges.
    for (const where of ['data', 'url'] as const) {
      const errors: RunprintError[] = [];
      const capturing = runprintFetch({ data: scratch.tempDir(), ...(where === 'url' ? { url: serve.base, token: TOKEN } : {}), onError: (error) => void errors.push(error) });
      const client = new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, maxRetries: 0, fetch: capturing, defaultHeaders });
      const local = await received(() => client.chat.completions.create(ask('How tall?'), perRequest).withResponse());
      assert.equal(local.result.data.choices[0]?.message.content, proxied.result.data.choices[0]?.message.content, where);
      assert.equal(local.requests.length, 1);
      assert.deepEqual(ownHeaders(local.requests[0]!), [], `${where}: no runprint-* header reaches the provider, the capture token least of all`);
      assert.equal(local.requests[0]!.headers['authorization'], `Bearer ${KEY}`, `${where}: the application's other headers do`);
      const captureId = local.result.response.headers.get('runprint-capture-id')!;
      const record = await capturing.runOf(captureId);
      await capturing.close();
      assert.deepEqual(errors, [], where);
      assert.ok(record !== null);
      assert.equal(record.requestId, proxyRecord.requestId, `${where}: same request identity`);
      assert.equal(record.runId, proxyRecord.runId, `${where}: same run identity`);
      assert.deepEqual(record.parents, proxyRecord.parents, `${where}: the header's parents`);
      assert.deepEqual(record.retrieval, proxyRecord.retrieval, `${where}: the header's documents`);
      if (where === 'url') {
        // The server recorded the exchange with them too.
        const remote = await stored(captureId);
        assert.deepEqual(remote.parents, proxyRecord.parents);
        assert.deepEqual(remote.retrieval, proxyRecord.retrieval);
        assert.equal(remote.runId, proxyRecord.runId);
      }
    }
  });

  test('runprint-parent beats withParent for its call, withParent\'s parents otherwise; an invalid one: the call succeeds, onError gets ERR_CAPTURE_PARENT_INVALID, the record names no parents, nothing runprint-* is forwarded (the proxy still refuses it)', async () => {
    const errors: RunprintError[] = [];
    const capturing = runprintFetch({ data: scratch.tempDir(), onError: (error) => void errors.push(error) });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, maxRetries: 0, fetch: capturing });
    const call = async (question: string, headers?: Record<string, string>) => {
      const done = await received(() => client.chat.completions.create(ask(question), headers === undefined ? undefined : { headers }).withResponse());
      assert.equal(done.requests.length, 1);
      assert.deepEqual(ownHeaders(done.requests[0]!), [], question);
      assert.equal(done.result.response.status, 200, question);
      return (await capturing.runOf(done.result.response.headers.get('runprint-capture-id')!))!;
    };
    await withParent(PARENT_A, async () => {
      assert.deepEqual((await call('Ambient?')).parents, [PARENT_A], 'no header: the async context\'s parents');
      assert.deepEqual((await call('Explicit?', { 'runprint-parent': PARENT_B })).parents, [PARENT_B], 'the header wins for its call');
      assert.deepEqual((await call('Both named?', { 'runprint-parent': `${PARENT_B},${PARENT_A},${PARENT_B}` })).parents, [PARENT_B, PARENT_A], 'each once, in the order first named, as the proxy records them');
      assert.deepEqual(errors, []);
      const invalid = await call('Invalid?', { 'runprint-parent': 'not-a-run' });
      assert.deepEqual(invalid.parents, [], 'recorded without parents: neither the header\'s nor those it replaced');
      assert.ok(invalid.runId !== null, 'recorded as usual otherwise');
      assert.deepEqual((await call('Empty?', { 'runprint-parent': '' })).parents, []);
    });
    await capturing.close();
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_PARENT_INVALID', 'ERR_CAPTURE_PARENT_INVALID']);
    assert.ok(!errors.some((error) => error.message.includes('not-a-run')), 'the value is not echoed');
    assert.equal(capturing.counts.failures, 2);
    assert.equal(capturing.counts.runs, 5);

    // The proxy's behaviour is unchanged: refused, not forwarded.
    const proxied = await received(() => fetch(`${serve.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'runprint-capture-token': TOKEN, 'runprint-parent': 'not-a-run' },
      body: JSON.stringify(ask('Invalid?')),
    }));
    assert.equal(proxied.result.status, 400);
    assert.equal(((await proxied.result.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_PARENT_INVALID');
    assert.equal(proxied.requests.length, 0);
  });

  test('a call with both an invalid runprint-parent and an invalid runprint-steps: onError gets both errors, and counts.failures counts both', async () => {
    const errors: RunprintError[] = [];
    const capturing = runprintFetch({ data: scratch.tempDir(), onError: (error) => void errors.push(error) });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, maxRetries: 0, fetch: capturing });
    const call = async (headers: Record<string, string>) => {
      const done = await received(() => client.chat.completions.create(ask('Both invalid?'), { headers }).withResponse());
      assert.equal(done.result.response.status, 200, 'the call goes on');
      assert.deepEqual(ownHeaders(done.requests[0]!), []);
      return (await capturing.runOf(done.result.response.headers.get('runprint-capture-id')!))!;
    };
    const both = await call({ 'runprint-parent': 'garbage', 'runprint-steps': 'a b' });
    assert.deepEqual(both.parents, []);
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_STEPS_INVALID', 'ERR_CAPTURE_PARENT_INVALID']);
    assert.equal(capturing.counts.failures, 2);
    // A valid parent beside an invalid steps header is no failure of its own (the call still has no parents).
    assert.deepEqual((await call({ 'runprint-parent': PARENT_A, 'runprint-steps': 'a b' })).parents, []);
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_STEPS_INVALID', 'ERR_CAPTURE_PARENT_INVALID', 'ERR_CAPTURE_STEPS_INVALID']);
    assert.equal(capturing.counts.failures, 3);
    await capturing.close();
  });

  test('runprint-retrieval adds its documents to withRetrieval\'s (one declared both ways once); one that cannot be read: the call goes on, onError gets the proxy\'s code, withRetrieval\'s documents are recorded', async () => {
    const errors: RunprintError[] = [];
    const capturing = runprintFetch({ data: scratch.tempDir(), onError: (error) => void errors.push(error) });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, maxRetries: 0, fetch: capturing });
    const call = async (question: string, retrieval: string) => {
      const done = await received(() => client.chat.completions.create(ask(question), { headers: { 'runprint-retrieval': retrieval } }).withResponse());
      assert.equal(done.requests.length, 1);
      assert.deepEqual(ownHeaders(done.requests[0]!), [], question);
      assert.equal(done.result.response.status, 200, question);
      return (await capturing.runOf(done.result.response.headers.get('runprint-capture-id')!))!;
    };
    assert.deepEqual(sources(await call('Header only?', retrievalHeader([B]))), [B.source]);
    await withRetrieval([A], async () => {
      assert.deepEqual(sources(await call('Both?', retrievalHeader([B]))), [A.source, B.source], 'the context\'s, then the header\'s');
      assert.deepEqual(sources(await call('Twice?', retrievalHeader([A, B]))), [A.source, B.source], 'a document declared both ways is recorded once');
      assert.deepEqual(errors, []);
      assert.deepEqual(sources(await call('Malformed?', 'not base64url!')), [A.source]);
      assert.deepEqual(sources(await call('Too large?', 'A'.repeat(MAX_RETRIEVAL_HEADER_BYTES + 1))), [A.source]);
    });
    await capturing.close();
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_RETRIEVAL_INVALID', 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE']);
    assert.equal(capturing.counts.failures, 2);
  });

  test('a Request input, a Headers, an array of pairs, another iterable or an object init: runprint-* headers taken out, the rest sent as fetch sends it (names, values, order, body), the parents read from each', async () => {
    const records: RunRecord[] = [];
    const errors: unknown[] = [];
    const capturing = captureFetch(fetch, { onRun: (record) => void records.push(record), onError: (error) => void errors.push(error), idHeaders: true });
    const url = `${upstream.url}/v1/chat/completions`;
    const body = JSON.stringify(ask('Forms?'));
    const plain: [string, string][] = [['x-b', '2'], ['content-type', 'application/json'], ['authorization', `Bearer ${KEY}`], ['x-a', '1']];
    const mixed: [string, string][] = [plain[0]!, ['Runprint-Parent', PARENT_A], plain[1]!, plain[2]!, ['runprint-capture-token', TOKEN], plain[3]!];
    // What fetch itself sends without runprint's headers.
    const standard = (await received(async () => (await fetch(url, { method: 'POST', headers: plain, body })).text())).requests[0]!;
    const forms: { [name: string]: () => Promise<Response> } = {
      'an array of pairs': () => capturing(url, { method: 'POST', headers: mixed, body }),
      'a Headers': () => capturing(url, { method: 'POST', headers: new Headers(mixed), body }),
      'a Map': () => capturing(url, { method: 'POST', headers: new Map(mixed) as unknown as HeadersInit, body }),
      'an object': () => capturing(url, { method: 'POST', headers: Object.fromEntries(mixed), body }),
      'a Request': () => capturing(new Request(url, { method: 'POST', headers: mixed, body })),
      'a Request and an init without headers': () => capturing(new Request(url, { method: 'POST', headers: mixed, body }), { redirect: 'follow' }),
      // fetch sends init's headers, not the Request's.
      'a Request and an init with headers': () => capturing(new Request(url, { method: 'POST', headers: [['runprint-parent', PARENT_B]], body }), { headers: mixed }),
    };
    for (const [name, call] of Object.entries(forms)) {
      const done = await received(async () => {
        const response = await call();
        await response.text();
        return response;
      });
      assert.equal(done.requests.length, 1, name);
      const sent = done.requests[0]!;
      assert.deepEqual(sent.rawHeaders, standard.rawHeaders, `${name}: the headers fetch sends without runprint's`);
      assert.deepEqual(sent.body, standard.body, name);
      assert.equal(sent.method, 'POST', name);
      const record = await capturing.runOf(done.result.headers.get('runprint-capture-id')!);
      assert.deepEqual(record?.parents, [PARENT_A], name);
    }
    assert.deepEqual(errors, []);

    // The Request's signal still stops the call.
    const controller = new AbortController();
    upstream.enqueue({ kind: 'text', text: 'Late.', headersDelayMs: 30_000 });
    const mark = upstream.requests.length;
    const pending = capturing(new Request(url, { method: 'POST', headers: mixed, body, signal: controller.signal }));
    while (upstream.requests.length === mark) await new Promise((done) => setTimeout(done, 5));
    assert.deepEqual(ownHeaders(upstream.requests[mark]!), []);
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    await upstream.settled();
    await new Promise((done) => setTimeout(done, 0));
    assert.equal(records.at(-1)?.outcome, 'aborted');
    assert.deepEqual(records.at(-1)?.parents, [PARENT_A]);
  });

  test('calls capture does not record: runprint-* taken out on a provider\'s own API (api.openai.com), any other host\'s untouched (the application\'s runprint server needs its token)', async () => {
    // The provider's API reached on loopback: the application's fetch sends https://api.openai.com to the fake upstream.
    const toLoopback = ((input: string | URL | Request, init?: RequestInit) => fetch(String(input).replace('https://api.openai.com', upstream.url), init)) as typeof fetch;
    const errors: unknown[] = [];
    const capturing = captureFetch(toLoopback, { onRun: () => undefined, onError: (error) => void errors.push(error) });
    const headers = { authorization: `Bearer ${KEY}`, 'runprint-capture-token': TOKEN, 'runprint-parent': PARENT_A };
    const provider = await received(async () => (await capturing('https://api.openai.com/v1/models', { headers })).text());
    assert.equal(provider.requests.length, 1);
    assert.deepEqual(ownHeaders(provider.requests[0]!), [], 'GET /v1/models on the provider\'s API: no runprint-* header');
    assert.equal(provider.requests[0]!.headers['authorization'], `Bearer ${KEY}`);
    const other = await received(async () => (await capturing(`${upstream.url}/v1/models`, { headers })).text());
    assert.deepEqual(ownHeaders(other.requests[0]!), ['runprint-capture-token', 'runprint-parent'], 'another host\'s call passes through as given');
    const runs = await capturing(`${serve.base}/v1/runs?limit=1`, { headers: { 'runprint-capture-token': TOKEN } });
    assert.equal(runs.status, 200, 'the runprint server gets its token');
    await runs.text();
    assert.equal(capturing.counts.runs, 0);
    assert.deepEqual(errors, []);
  });

  test('headers fetch refuses on a recorded route (a name with a space, a value with a line break, a pair of three): the application gets fetch\'s own TypeError, runprint reports and counts nothing, nothing is sent', async () => {
    const errors: unknown[] = [];
    const capturing = captureFetch(fetch, { onRun: () => undefined, onError: (error) => void errors.push(error) });
    const before = upstream.requests.length;
    for (const headers of [{ 'bad header': 'x' }, { 'x-a': 'line\nbreak' }, [['a', 'b', 'c']]] as unknown as HeadersInit[]) {
      await assert.rejects(capturing(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(ask('Hi')) }), TypeError);
    }
    assert.equal(upstream.requests.length, before, 'nothing was sent');
    assert.deepEqual(errors, [], 'not runprint\'s failure');
    assert.deepEqual(capturing.counts, { runs: 0, unidentified: 0, failures: 0, abandoned: 0 });
  });
});
