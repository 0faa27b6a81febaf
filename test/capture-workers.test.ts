/**
 * `serve --capture-workers N`: proxied calls' identities computed in worker threads (the prepare
 * pool) while the calls go upstream. A call prepared by a worker gets the same answer headers,
 * stored record, identity and stored composition as the same bytes prepared in this process; a
 * request runprint cannot identify is recorded unidentified with the same error; /healthz counts
 * where calls were prepared; a bad value is a usage error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prepareRequest } from '../src/capture/capture-run.ts';
import type { RunRecord } from '../src/capture/index.ts';
import { defaultCaptureWorkers } from '../src/cli/serve-capture.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { validate } from './helpers/json-schema.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch: string[] = [];

before(async () => {
  upstream = await startFakeUpstream();
  const data = mkdtempSync(join(tmpdir(), 'runprint-capture-workers-'));
  scratch.push(data);
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`, '--capture-workers', '1', '--capture-keep', 'request=content'] });
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

interface Workers {
  pooled: number;
  inline: number;
}

const OPENAPI = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };

async function workers(): Promise<Workers> {
  const health = (await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { workers?: Workers } };
  assert.deepEqual(validate(health, OPENAPI.paths['/healthz']!['get']!.responses['200']!.content['application/json']!.schema as never, OPENAPI), [], 'the answer docs/openapi.json documents');
  assert.ok(health.capture.workers !== undefined, '/healthz capture.workers');
  return health.capture.workers;
}

function call(bytes: Uint8Array): Promise<Response> {
  return fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-workers-0123456789' }, body: bytes as Uint8Array<ArrayBuffer> });
}

/** Calls until a worker has prepared one (calls before its module loaded are prepared on the event loop). */
async function warm(): Promise<void> {
  const bytes = utf8('{"model":"gpt-4o","messages":[{"role":"user","content":"warm up"}]}');
  for (let i = 0; i < 200 && (await workers()).pooled === 0; i++) {
    await (await call(bytes)).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok((await workers()).pooled > 0, 'a worker prepared a call within about 5 s');
}

describe('serve --capture-workers 1', () => {
  before(warm);

  test('the banner says so', () => {
    assert.match(serve.stderr(), /capture on \(sync durability, identities in 1 worker thread, runs in SQLite, keeping all content\)/);
  });

  test('a call a worker prepared: headers, stored record, identity and composition as prepared in this process', async () => {
    // Unicode, an escaped character and an own "__proto__" member: what must survive the trip between threads.
    const bytes = utf8('{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief. \\u00e9t\\u00e9 🌦️"},{"role":"user","content":"Wie wird das Wetter in Zürich?"}],"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"__proto__":{"type":"string"},"city":{"type":"string"}}}}}],"temperature":0.2}');
    const before = await workers();
    const response = await call(bytes);
    const answer = await response.text();
    assert.equal(response.status, 200, answer);
    const after = await workers();
    assert.deepEqual(after, { pooled: before.pooled + 1, inline: before.inline }, 'this call was prepared by the worker');

    const here = prepareRequest('openai-chat', bytes);
    assert.equal(here.error, null);
    assert.equal(response.headers.get('runprint-request-id'), here.identity!.requestId);
    const captureId = response.headers.get('runprint-capture-id')!;
    const runId = response.headers.get('runprint-run-id');
    assert.match(runId ?? '', /^rp-run-v1-sha256-[0-9a-f]{64}$/);

    const view = (await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: Array<{ record: RunRecord; identity: { requestId: string; runId: string; components: unknown } }> };
    const [stored] = view.runs;
    assert.equal(stored!.record.requestId, here.identity!.requestId);
    assert.equal(stored!.record.runId, runId);
    assert.equal(stored!.record.unidentified, null);
    assert.equal(canonicalize(stored!.identity.components), canonicalize(here.identity!.components));

    const composition = (await (await fetch(`${serve.base}/v1/runs/${captureId}/composition`)).json()) as Record<string, unknown>;
    const { served, ...request } = composition;
    assert.ok(served !== undefined, 'the served facts are in the stored composition');
    assert.equal(canonicalize(request), canonicalize(here.composition));
  });

  test('a request runprint cannot identify, prepared by the worker: recorded unidentified with the same error, forwarded untouched', async () => {
    const bytes = utf8('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":1e400}');
    const here = prepareRequest('openai-chat', bytes);
    assert.notEqual(here.error, null);
    const before = await workers();
    const response = await call(bytes);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    assert.deepEqual(await workers(), { pooled: before.pooled + 1, inline: before.inline });
    assert.equal(response.headers.get('runprint-request-id'), null);
    const forwarded = upstream.requests.at(-1)!;
    assert.deepEqual(new Uint8Array(forwarded.body), bytes, 'the upstream got the bytes as sent');
    const view = (await (await fetch(`${serve.base}/v1/runs/${response.headers.get('runprint-capture-id')}`)).json()) as { runs: Array<{ record: RunRecord }> };
    assert.deepEqual(view.runs[0]!.record.unidentified, { code: here.error!.code, path: here.error!.path ?? null });
  });

  test('a member a header carries (anthropic-beta as betas), prepared by the worker: the identity of the body with the member, as the event loop gives', async () => {
    const bytes = utf8('{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}');
    const headers = { 'anthropic-beta': 'prompt-caching-2024-07-31, token-efficient-tools-2025-02-19' };
    const here = prepareRequest('anthropic-messages', bytes, undefined, headers);
    assert.equal(here.error, null);
    assert.notEqual(here.identity!.requestId, prepareRequest('anthropic-messages', bytes).identity!.requestId, 'the header changes the identity');
    const before = await workers();
    const response = await fetch(`${serve.base}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-workers', 'anthropic-version': '2023-06-01', ...headers }, body: bytes as Uint8Array<ArrayBuffer> });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    assert.deepEqual(await workers(), { pooled: before.pooled + 1, inline: before.inline }, 'this call was prepared by the worker');
    assert.equal(response.headers.get('runprint-request-id'), here.identity!.requestId);
    const view = (await (await fetch(`${serve.base}/v1/runs/${response.headers.get('runprint-capture-id')}`)).json()) as { runs: Array<{ record: RunRecord }> };
    assert.equal(view.runs[0]!.record.requestId, here.identity!.requestId);
  });

  test('calls at once: each stored with the identity of its own bytes', async () => {
    const bodies = Array.from({ length: 24 }, (_, i) => utf8(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `question ${i}: ${'x'.repeat(i * 100)}` }] })));
    const responses = await Promise.all(bodies.map(async (bytes) => {
      const response = await call(bytes);
      await response.arrayBuffer();
      return response;
    }));
    responses.forEach((response, i) => assert.equal(response.headers.get('runprint-request-id'), prepareRequest('openai-chat', bodies[i]!).identity!.requestId, `call ${i}`));
  });
});

test('--capture-workers: 0 to 8, else a usage error; the default leaves 2 cores, and below 4 gives only large requests to a worker', async () => {
  const data = mkdtempSync(join(tmpdir(), 'runprint-capture-workers-'));
  scratch.push(data);
  for (const value of ['9', '10', 'two', '', '1.5']) {
    const result = await runRunprint(['serve', '--port', '0', '--data', data, '--capture-workers', value]);
    assert.equal(result.code, 2, value);
    assert.match(result.stderr, /^runprint: ERR_CLI_USAGE: --capture-workers must be a number of worker threads from 0 to 8\n/, value);
  }
  assert.deepEqual([1, 2, 3, 4, 5, 8, 64].map((cores) => defaultCaptureWorkers(cores)), ['large', 'large', 'large', 2, 2, 2, 2]);
});
