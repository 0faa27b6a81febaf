/**
 * The capture proxy in a real `runprint serve` process, with the official SDK clients pointed at
 * it and the fake upstream behind it: what the client gets is what the upstream sent; each call is
 * one stored run whose identities and output digest are what `runprint id` and the in-process
 * fetch wrapper give for the same bytes; receipts verify against those bytes; no credential
 * reaches a file; a crash loses no committed record and duplicates no log entry.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { captureFetch, type RunRecord } from '../src/capture/index.ts';
import { run as runCli } from '../src/cli/main.ts';
import { runprintFetch } from '../src/capture-node/index.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { runOutputFrom, type RequestFormat } from '../src/providers/index.ts';
import { verifyReceipt } from '../src/receipt/index.ts';
import { parseJson } from '../src/jcs/index.ts';
import { validate } from './helpers/json-schema.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-proxy-openai-0123456789';
const ANTHROPIC_KEY = 'sk-ant-test-proxy-0123456789';
const PARENT = `rp-run-v1-sha256-${'cd'.repeat(32)}`;

interface RunView {
  seq: number;
  captureId: string;
  capture: string;
  model: string | null;
  record: RunRecord;
  identity: { requestId: string; runId: string | null; components: Record<string, { digest: { sha256: string }; elements?: { sha256: string }[] }> } | null;
  receipt: { logIndex: number | null } | null;
}

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-proxy-'));
  scratch.push(dir);
  return dir;
}

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

/** The stored captures of a capture id (the proxy names it in runprint-capture-id). */
async function stored(base: string, captureId: string): Promise<RunView> {
  const { status, body } = await json<{ runs: RunView[] }>(`${base}/v1/runs/${captureId}`);
  assert.equal(status, 200, 'the run is stored when its answer has ended (sync durability)');
  assert.equal(body.runs.length, 1);
  return body.runs[0]!;
}

/** The runs stored after the one numbered `mark`, oldest first. */
async function runsAfter(base: string, mark: number): Promise<RunView[]> {
  const { body } = await json<{ runs: RunView[] }>(`${base}/v1/runs?limit=1000`);
  return body.runs.filter((run) => run.seq > mark).reverse();
}

/** The number of the newest stored run (0 when none). */
async function latestSeq(base: string): Promise<number> {
  const { body } = await json<{ runs: RunView[] }>(`${base}/v1/runs?limit=1`);
  return body.runs[0]?.seq ?? 0;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/**
 * Runs `call` through the proxy and checks each request the fake received against its stored run:
 * the exact bytes both ways (by digest), identities and output digest from those bytes, and a
 * receipt that verifies against them with the service's receipt key.
 */
async function viaProxy<T>(format: RequestFormat, call: () => Promise<T>, ...script: Scenario[]): Promise<{ result: T | undefined; error: unknown; runs: RunView[]; received: RecordedRequest[] }> {
  upstream.enqueue(...script);
  const mark = upstream.requests.length;
  const seq = await latestSeq(serve.base);
  let result: T | undefined;
  let error: unknown;
  try {
    result = await call();
  } catch (caught) {
    error = caught;
  }
  await upstream.settled();
  const received = upstream.requests.slice(mark);
  let runs: RunView[] = [];
  await until(async () => {
    runs = await runsAfter(serve.base, seq);
    return runs.length >= received.length;
  }, 'every call is stored');
  assert.equal(runs.length, received.length, 'one run per call the upstream received');
  const key = await parsePrivateKey(readFileSync(join(data, 'receipt-key.pem'), 'utf8'));
  for (const [index, request] of received.entries()) {
    const run = runs[index]!;
    const { record } = run;
    assert.equal(run.capture, 'proxy');
    assert.equal(record.format, format);
    assert.equal(record.request.rawDigest.sha256, sha256(request.body), 'the record names the exact request bytes');
    if (request.response.outcome === 'complete') assert.equal(record.response.rawDigest?.sha256, sha256(request.response.body), 'and the exact response bytes');
    assert.equal(record.response.status, request.response.status);
    if (record.incomplete === null) {
      const output = runOutputFrom(request.response.body, format);
      assert.deepEqual(record.output?.digest, output.digest);
      assert.deepEqual(record.served, output.served);
      const receipt = await fetch(`${serve.base}/v1/runs/${record.captureId}/receipt`);
      await until(async () => (await fetch(`${serve.base}/v1/runs/${record.captureId}/receipt`)).status === 200, 'the receipt is signed');
      void receipt.body?.cancel();
      const text = await (await fetch(`${serve.base}/v1/runs/${record.captureId}/receipt`)).text();
      const report = await verifyReceipt(text, { keys: [key.publicKey], composition: parseJson(request.body), from: format, output: request.response.body, outputFormat: format });
      assert.ok(report.ok, `the receipt verifies against the bytes the upstream saw: ${JSON.stringify(report.checks.filter((check) => !check.ok))}`);
    }
  }
  return { result, error, runs, received };
}

const openai = (base = serve.base, options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
  new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${base}/openai/v1`, maxRetries: 0, ...options });
const anthropic = (base = serve.base) => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: `${base}/anthropic`, maxRetries: 0 });
const HI = [{ role: 'user' as const, content: 'Say hello.' }];

describe('openai through the proxy', () => {
  test('a chat completion: the client gets the upstream answer, headers name the capture, request, run and receipt', async () => {
    upstream.enqueue({ kind: 'text', text: 'Hello through the proxy.' });
    const { data: completion, response } = await openai().chat.completions.create({ model: 'gpt-4o', messages: HI }).withResponse();
    await upstream.settled();
    const sent = upstream.requests.at(-1)!;
    assert.equal(completion.choices[0]?.message.content, 'Hello through the proxy.');
    assert.equal(sent.headers['authorization'], `Bearer ${OPENAI_KEY}`, 'the client credential reaches the upstream untouched');
    assert.equal(sent.headers['runprint-capture-token'], undefined);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/, 'upstream headers reach the client');
    const captureId = response.headers.get('runprint-capture-id')!;
    const run = await stored(serve.base, captureId);
    assert.equal(response.headers.get('runprint-request-id'), run.record.requestId);
    assert.equal(response.headers.get('runprint-run-id'), run.record.runId);
    assert.equal(response.headers.get('runprint-receipt'), `/v1/runs/${captureId}/receipt`);
    assert.equal(run.record.served?.['model']?.value, 'gpt-4o-2024-08-06', 'the served model differs from the requested one');
    assert.equal(run.model, 'gpt-4o');
  });

  test('runprint-receipt: the receipt is there at once, or a 404 says Retry-After: 1 and it is there a second later', async (t) => {
    const early: string[] = [];
    for (let i = 0; i < 20; i++) {
      upstream.enqueue({ kind: 'text', text: `Answer ${i}.` });
      const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` }, body: JSON.stringify({ model: 'gpt-4o', messages: HI }) });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      const path = response.headers.get('runprint-receipt') ?? '';
      assert.match(path, /^\/v1\/runs\/[0-9a-f-]{36}\/receipt$/);
      const receipt = await fetch(`${serve.base}${path}`);
      const body = await receipt.text();
      if (receipt.status === 404) {
        assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'ERR_RUN_NO_RECEIPT');
        assert.equal(receipt.headers.get('retry-after'), '1', 'a receipt not signed yet says when to ask again');
        early.push(path);
      } else assert.equal(receipt.status, 200, body);
    }
    await upstream.settled();
    t.diagnostic(`${early.length} of 20 receipts not signed yet when asked at once`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const path of early) {
      const again = await fetch(`${serve.base}${path}`);
      assert.equal(again.status, 200, `${path} one Retry-After later`);
      await again.arrayBuffer();
    }
  });

  test('the same calls give the same request and run identities and output digests through the proxy and in process', async () => {
    const inProcess: RunRecord[] = [];
    const wrapped = captureFetch(globalThis.fetch, { onRun: (record) => void inProcess.push(record) });
    const direct = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
    const calls: Array<[string, (client: OpenAI) => Promise<unknown>]> = [
      ['chat', (client) => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, ...HI], temperature: 0.2 })],
      ['chat stream', async (client) => {
        const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: HI, stream: true });
        for await (const chunk of stream) void chunk;
      }],
      ['responses', (client) => client.responses.create({ model: 'gpt-4.1', input: 'Say hello.', instructions: 'Be brief.' })],
      ['tools', (client) => client.chat.completions.create({ model: 'gpt-4o', messages: HI, tools: [{ type: 'function', function: { name: 'lookup', description: 'Look up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }] })],
      ['image', (client) => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==' } }] }] })],
      ['structured', (client) => client.chat.completions.create({ model: 'gpt-4o', messages: HI, response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } } })],
    ];
    for (const [name, call] of calls) {
      const scenario: Scenario = name === 'tools' ? { kind: 'tool-calls', calls: [{ name: 'lookup', arguments: '{"q":"x"}' }] } : name === 'structured' ? { kind: 'text', text: '{"city":"Paris"}' } : { kind: 'text', text: `Answer to ${name}.` };
      upstream.enqueue(scenario);
      await call(direct);
      await upstream.settled();
      const { runs } = await viaProxy(name === 'responses' ? 'openai-responses' : 'openai-chat', () => call(openai()), scenario);
      await until(async () => inProcess.length > 0, 'the in-process record is made');
      const local = inProcess.shift()!;
      const proxied = runs[0]!.record;
      assert.equal(proxied.requestId, local.requestId, `${name}: same request identity`);
      assert.equal(proxied.runId, local.runId, `${name}: same run identity`);
      assert.deepEqual(proxied.output?.digest, local.output?.digest, `${name}: same output digest`);
      assert.ok(proxied.runId !== null && proxied.output !== null);
    }
  });

  test('a stream passes through event by event; its record is durable before the stream ends', async () => {
    const { data: stream, response } = await openai().chat.completions.create({ model: 'gpt-4o', messages: HI, stream: true }).withResponse();
    upstream.enqueue();
    assert.equal(response.headers.get('runprint-run-id'), null, 'a stream cannot name its run before it ends');
    const requestId = response.headers.get('runprint-request-id');
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'Hello from the fake upstream.');
    // Asked at once: sync durability means the record was committed before the last byte left.
    const run = await stored(serve.base, response.headers.get('runprint-capture-id')!);
    assert.equal(run.record.requestId, requestId);
    assert.equal(run.record.response.stream, true);
    assert.equal(run.record.outcome, 'complete');
    assert.match(run.record.runId ?? '', /^rp-run-v1-/);
  });

  test('4xx and 5xx reach the client verbatim and are stored as incomplete runs without a receipt', async () => {
    for (const status of [400, 429, 500]) {
      const { error, runs, received } = await viaProxy('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'error', status, message: `scripted ${status}` });
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, status);
      assert.match(error.message, new RegExp(`scripted ${status}`));
      assert.equal(received.length, 1);
      const { record } = runs[0]!;
      assert.deepEqual(record.incomplete, { reason: 'http-status', code: null });
      assert.equal(record.response.status, status);
      const errorBody = await fetch(`${serve.base}/v1/content/${record.response.rawDigest!.sha256}`);
      assert.equal(errorBody.status, 404, 'an error body is kept by digest only');
      void errorBody.body?.cancel();
      const receipt = await json<{ error: { code: string } }>(`${serve.base}/v1/runs/${record.captureId}/receipt`);
      assert.equal(receipt.status, 404);
      assert.equal(receipt.body.error.code, 'ERR_RUN_NO_RECEIPT');
    }
  });

  test('a stream cut off mid-way fails in the client as it would without runprint, and is stored as cut', async () => {
    const { error, runs } = await viaProxy('openai-chat', async () => {
      const stream = await openai().chat.completions.create({ model: 'gpt-4o', messages: HI, stream: true });
      for await (const chunk of stream) void chunk;
    }, { kind: 'text', text: 'This answer will not arrive whole.', cutAfterEvents: 2 });
    assert.ok(error !== undefined, 'the client sees the cut');
    assert.equal(runs[0]!.record.incomplete?.reason, 'cut');
    assert.equal(runs[0]!.record.output, null);
  });

  test('a client that aborts mid-stream: the upstream call stops, the run is stored as aborted', async () => {
    const controller = new AbortController();
    const { runs } = await viaProxy('openai-chat', async () => {
      const stream = await openai().chat.completions.create({ model: 'gpt-4o', messages: HI, stream: true }, { signal: controller.signal });
      for await (const chunk of stream) {
        void chunk;
        controller.abort();
      }
    }, { kind: 'text', text: 'A slow answer with several words in it.', eventDelayMs: 50 });
    assert.equal(runs[0]!.record.outcome, 'aborted');
    assert.equal(runs[0]!.record.incomplete?.reason, 'aborted');
  });

  test('a client that times out before the answer: the proxy stops the upstream call and stores the run as aborted', async () => {
    const { error, runs, received } = await viaProxy('openai-chat', () => openai(serve.base, { timeout: 300 }).chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'text', text: 'Too late.', headersDelayMs: 1500 });
    assert.ok(error instanceof OpenAI.APIConnectionTimeoutError, String(error));
    assert.equal(received[0]!.response.outcome, 'client-closed', 'the upstream saw the proxy go away');
    assert.equal(runs[0]!.record.outcome, 'aborted');
    assert.equal(runs[0]!.record.response.status, null);
  });

  test('runprint-parent names the parent runs in the record and in the receipt; a malformed one is refused', async () => {
    const { runs } = await viaProxy('openai-chat', () => openai(serve.base, { defaultHeaders: { 'runprint-parent': PARENT } }).chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'text', text: 'A step.' });
    assert.deepEqual(runs[0]!.record.parents, [PARENT]);
    const receipt = JSON.parse(await (await fetch(`${serve.base}/v1/runs/${runs[0]!.record.captureId}/receipt`)).text()) as { payload: string };
    const statement = JSON.parse(Buffer.from(receipt.payload, 'base64').toString('utf8')) as { predicate: { runDetails: { parentRunIds: string[] } } };
    assert.deepEqual(statement.predicate.runDetails.parentRunIds, [PARENT]);
    // A parent named twice (A,A) is one parent, in the record and the receipt; the order first named is kept.
    const other = `rp-run-v1-sha256-${'ef'.repeat(32)}`;
    const twice = await viaProxy('openai-chat', () => openai(serve.base, { defaultHeaders: { 'runprint-parent': `${PARENT},${other}, ${PARENT}` } }).chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'text', text: 'Another step.' });
    assert.deepEqual(twice.runs[0]!.record.parents, [PARENT, other]);
    const twiceReceipt = JSON.parse(await (await fetch(`${serve.base}/v1/runs/${twice.runs[0]!.record.captureId}/receipt`)).text()) as { payload: string };
    assert.deepEqual(JSON.parse(Buffer.from(twiceReceipt.payload, 'base64').toString('utf8')).predicate.runDetails.parentRunIds, [PARENT, other]);
    const before = upstream.requests.length;
    const bad = await json<{ error: { code: string } }>(`${serve.base}/openai/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'runprint-parent': 'not-a-run' }, body: JSON.stringify({ model: 'gpt-4o', messages: HI }),
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'ERR_CAPTURE_PARENT_INVALID');
    assert.equal(upstream.requests.length, before, 'nothing was forwarded');
  });

  test('several Set-Cookie headers reach the client one by one, recorded route and pass-through alike', async () => {
    const { request } = await import('node:http');
    const cookies = (path: string, method: string, body?: string) =>
      new Promise<string[]>((resolve, reject) => {
        const call = request({ host: '127.0.0.1', port: serve.port, path, method, headers: { 'content-type': 'application/json' } }, (answer) => {
          answer.resume();
          answer.on('end', () => resolve(answer.headers['set-cookie'] ?? []));
        });
        call.on('error', reject);
        call.end(body);
      });
    // Node writes an array value as one header line per item.
    const two = { 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'] } as unknown as Record<string, string>;
    upstream.enqueue({ kind: 'text', text: 'With cookies.', headers: two });
    assert.deepEqual(await cookies('/openai/v1/chat/completions', 'POST', JSON.stringify({ model: 'gpt-4o', messages: HI })), ['a=1; Path=/', 'b=2; Path=/']);
    upstream.enqueue({ kind: 'text', text: 'With cookies, streamed.', headers: two });
    assert.deepEqual(await cookies('/openai/v1/chat/completions', 'POST', JSON.stringify({ model: 'gpt-4o', messages: HI, stream: true })), ['a=1; Path=/', 'b=2; Path=/']);
  });

  test('other paths under a prefix pass through unrecorded', async () => {
    const count = (await json<{ runs: RunView[] }>(`${serve.base}/v1/runs?limit=1000`)).body.runs.length;
    const models = await openai().models.list();
    assert.ok(models.data.length > 0);
    assert.equal((await json<{ runs: RunView[] }>(`${serve.base}/v1/runs?limit=1000`)).body.runs.length, count);
  });

  test('the Vercel AI SDK and LangChain.js work through the proxy by base URL alone', async () => {
    const provider = createOpenAI({ apiKey: OPENAI_KEY, baseURL: `${serve.base}/openai/v1` });
    const generated = await viaProxy('openai-responses', () => generateText({ model: provider('gpt-4o'), prompt: 'Say hello.', maxRetries: 0 }), { kind: 'text', text: 'Hi from ai.' });
    assert.equal(generated.result?.text, 'Hi from ai.');
    const streamed = await viaProxy('openai-responses', async () => {
      const result = streamText({ model: provider('gpt-4o'), prompt: 'Say hello.', maxRetries: 0 });
      let text = '';
      for await (const part of result.textStream) text += part;
      return text;
    }, { kind: 'text', text: 'Streamed from ai.' });
    assert.equal(streamed.result, 'Streamed from ai.');
    const chain = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: OPENAI_KEY, configuration: { baseURL: `${serve.base}/openai/v1` }, maxRetries: 0 });
    const answered = await viaProxy('openai-chat', () => chain.invoke('Say hello.'), { kind: 'text', text: 'Hi from LangChain.' });
    assert.equal(answered.result?.content, 'Hi from LangChain.');
  });
});

describe('anthropic through the proxy', () => {
  test('a message, a stream and a tool call: each stored with its identities and a receipt that verifies', async () => {
    const message = await viaProxy('anthropic-messages', () => anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, system: 'Be brief.', messages: HI }), { kind: 'text', text: 'Hello from Claude.' });
    assert.equal(message.result?.content[0]?.type === 'text' ? message.result.content[0].text : '', 'Hello from Claude.');
    const sent = message.received[0]!.headers;
    assert.ok(sent['x-api-key'] === ANTHROPIC_KEY || sent['authorization'] === `Bearer ${ANTHROPIC_KEY}`, 'the client credential reaches the upstream untouched');
    const streamed = await viaProxy('anthropic-messages', async () => {
      const stream = anthropic().messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: HI });
      return (await stream.finalMessage()).content;
    }, { kind: 'text', text: 'Streamed Claude.' });
    assert.equal(streamed.runs[0]!.record.response.stream, true);
    const tools = await viaProxy('anthropic-messages', () => anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: HI, tools: [{ name: 'lookup', input_schema: { type: 'object', properties: {} } }] }), { kind: 'tool-calls', calls: [{ name: 'lookup', arguments: '{}' }] });
    assert.equal(tools.runs[0]!.record.output?.finishReason, 'tool_use');
  });
});

describe('the run store', () => {
  test('a component digest finds every run that used it; content is stored once and served by digest', async () => {
    const system = `A system prompt used twice ${Date.now()}.`;
    for (let i = 0; i < 2; i++) {
      await viaProxy('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'system', content: system }, { role: 'user', content: `Question ${i}` }] }), { kind: 'text', text: `Answer ${i}` });
    }
    const [latest] = (await json<{ runs: RunView[] }>(`${serve.base}/v1/runs?limit=1`)).body.runs;
    const digest = latest!.identity!.components['system']!.digest.sha256;
    const found = await json<{ runs: RunView[] }>(`${serve.base}/v1/runs?component=system=${digest}`);
    assert.equal(found.status, 200);
    assert.equal(found.body.runs.length, 2, 'both runs with that system prompt, and no other');
    const element = latest!.identity!.components['system']!.elements![0]!.sha256;
    const content = await fetch(`${serve.base}/v1/content/${element}`);
    assert.equal(content.status, 200);
    assert.equal(JSON.parse(await content.text()).content, system, 'the element is stored and served by its digest');
    const grouped = await json<{ by: string; runs: number; groups: { key: string | null; count: number; captureIds: string[] }[] }>(`${serve.base}/v1/runs/groups?by=component=system&limit=2`);
    assert.equal(grouped.status, 200);
    assert.deepEqual(grouped.body.groups.map((group) => [group.key, group.count]), [[`sha256:${digest}`, 2]], 'the two newest runs share one system prompt version');
    assert.deepEqual(validate(grouped.body, { $ref: '#/components/schemas/RunGroups' } as never, JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'))), []);
    const byModel = await json<{ runs: RunView[] }>(`${serve.base}/v1/runs?servedModel=gpt-4o-2024-08-06&limit=1000`);
    assert.ok(byModel.body.runs.length >= 2 && byModel.body.runs.every((run) => run.record.served?.['model']?.value === 'gpt-4o-2024-08-06'));
    const document = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'));
    const listed = await json<unknown>(`${serve.base}/v1/runs?limit=20`);
    assert.deepEqual(validate(listed.body, { $ref: '#/components/schemas/RunList' } as never, document), [], 'real run views match docs/openapi.json');
    const bad = await json<{ error: { code: string } }>(`${serve.base}/v1/runs?component=nonsense`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'ERR_HTTP_BAD_REQUEST');
    assert.equal((await fetch(`${serve.base}/v1/content/${element}`)).headers.get('x-content-type-options'), 'nosniff');
    const badEscape = await json<{ error: { code: string } }>(`${serve.base}/v1/runs/%E0%A4%A`);
    assert.equal(badEscape.status, 400);
    assert.equal(badEscape.body.error.code, 'ERR_HTTP_BAD_REQUEST');
    const missing = await json<{ error: { code: string } }>(`${serve.base}/v1/runs/${'0'.repeat(64)}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'ERR_RUN_NOT_FOUND');
  });

  test('/healthz counts what capture did since start, unidentified calls among the recorded', async () => {
    type Health = { status: string; capture: { healthy: boolean; recorded: number; unidentified: number; failed: number; signed: number; logged: number; failures: number } };
    const before = (await json<Health>(`${serve.base}/healthz`)).body.capture;
    // A number the specification refuses (1e400): forwarded untouched, recorded unidentified, counted.
    upstream.enqueue({ kind: 'text', text: 'Unidentified.' });
    const call = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":1e400}' });
    assert.equal(call.status, 200);
    await call.arrayBuffer();
    const run = await stored(serve.base, call.headers.get('runprint-capture-id')!);
    assert.equal(run.record.unidentified?.code, 'ERR_JSON_NON_FINITE');
    const health = await json<Health>(`${serve.base}/healthz`);
    assert.equal(health.body.capture.unidentified, before.unidentified + 1);
    assert.equal(health.body.capture.recorded, before.recorded + 1);
    assert.equal(health.body.status, 'ok');
    assert.equal(health.body.capture.healthy, true);
    assert.ok(health.body.capture.recorded >= 10, `recorded ${health.body.capture.recorded}`);
    assert.ok(health.body.capture.signed >= 1 && health.body.capture.logged === health.body.capture.signed);
    assert.equal(health.body.capture.failed, 0);
  });

  test('on loopback, a request whose Host names another site (DNS rebinding) is refused with 421', async () => {
    const { request } = await import('node:http');
    const ask = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const call = request({ host: '127.0.0.1', port: serve.port, path: '/v1/runs', headers: { host } }, (answer) => {
          let body = '';
          answer.on('data', (chunk: Buffer) => (body += chunk));
          answer.on('end', () => resolve({ status: answer.statusCode ?? 0, body }));
        });
        call.on('error', reject);
        call.end();
      });
    const rebound = await ask(`attacker.example:${serve.port}`);
    assert.equal(rebound.status, 421);
    assert.equal(JSON.parse(rebound.body).error.code, 'ERR_HTTP_HOST_NOT_ALLOWED');
    assert.doesNotMatch(rebound.body, /captureId/, 'nothing of the store is answered');
    for (const host of [`127.0.0.1:${serve.port}`, `localhost:${serve.port}`, `LOCALHOST:${serve.port}`]) assert.equal((await ask(host)).status, 200, host);
  });

  test('no credential reaches any file in the data directory', async () => {
    await viaProxy('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'text', text: 'Fine.' });
    for (const name of readdirSync(data)) {
      const bytes = readFileSync(join(data, name));
      for (const secret of [OPENAI_KEY, ANTHROPIC_KEY]) assert.ok(!bytes.includes(secret), `${name} holds no credential`);
    }
  });

  test('the receipt and its tlog-proof are retrievable by run identity', async () => {
    const { runs } = await viaProxy('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `unique ${Date.now()}` }] }), { kind: 'text', text: 'Logged.' });
    const runId = runs[0]!.record.runId!;
    await until(async () => (await fetch(`${serve.base}/v1/runs/${runId}/tlog-proof`)).status === 200, 'a checkpoint covers the receipt');
    const proof = await (await fetch(`${serve.base}/v1/runs/${runId}/tlog-proof`)).text();
    assert.match(proof, /^c2sp\.org\/tlog-proof@v1\n/);
  });
});

describe('in process, to the server', () => {
  test('runprintFetch with the server\'s URL: the run is stored, signed and logged by serve (POST /v1/exchanges), with the identities the proxy gives', async () => {
    const wrapped = runprintFetch({ data: tempDir(), url: serve.base });
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: `Sent in process ${Date.now()}` }];
    upstream.enqueue({ kind: 'text', text: 'From the application.' });
    const seq = await latestSeq(serve.base);
    await client.chat.completions.create({ model: 'gpt-4o', messages });
    await wrapped.flush();
    let runs: RunView[] = [];
    await until(async () => (runs = await runsAfter(serve.base, seq)).length === 1, 'serve stored the exchange');
    const sent = runs[0]!;
    assert.equal(sent.capture, 'sdk');
    await until(async () => (await json<{ runs: RunView[] }>(`${serve.base}/v1/runs/${sent.captureId}`)).body.runs[0]!.receipt?.logIndex != null, 'serve signs and logs it');
    // The same call through the proxy: the same identities.
    const { runs: proxied } = await viaProxy('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages }), { kind: 'text', text: 'From the application.' });
    assert.equal(proxied[0]!.record.requestId, sent.record.requestId);
    assert.equal(proxied[0]!.record.runId, sent.record.runId);
    assert.deepEqual(proxied[0]!.record.output?.digest, sent.record.output?.digest);
    await wrapped.close();
  });
});

describe('runprint runs', () => {
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runCli(args, { readStdin: async () => new Uint8Array(0), stdout: (text) => void (out += typeof text === 'string' ? text : new TextDecoder().decode(text)), stderr: (text) => void (err += text), stderrIsTTY: false, cwd: data });
    return { code, out, err };
  }

  test('list and show read the store serve writes, with the same JSON as GET /v1/runs', async () => {
    const { runs } = await viaProxy('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'system', content: 'CLI listing.' }, ...HI] }), { kind: 'text', text: 'Listed.' });
    const run = runs[0]!;
    const listed = await cli(['runs', 'list', '--data', data, '--limit', '1', '--json']);
    assert.equal(listed.code, 0, listed.err);
    const http = await json<{ runs: RunView[] }>(`${serve.base}/v1/runs?limit=1`);
    assert.equal(JSON.parse(listed.out).runs[0].captureId, http.body.runs[0]!.captureId);
    assert.equal(JSON.parse(listed.out).runs[0].record.runId, run.record.runId);
    const digest = run.identity!.components['system']!.digest.sha256;
    const byComponent = await cli(['runs', 'list', '--data', data, '--component', `system=${digest}`]);
    assert.equal(byComponent.code, 0);
    assert.equal(byComponent.out.trim().split('\n').length, 1, 'one run used that system prompt');
    assert.ok(byComponent.out.includes(run.record.captureId) && byComponent.out.includes(run.record.runId!));
    // The explorer's filters: the CLI and GET /v1/runs select the same runs.
    const filtered = await cli(['runs', 'list', '--data', data, '--provider', 'openai', '--status', 'complete', '--until', '2100-01-01T00:00:00Z', '--json']);
    assert.equal(filtered.code, 0, filtered.err);
    const filteredHttp = await json<{ runs: RunView[] }>(`${serve.base}/v1/runs?provider=openai&status=complete&until=2100-01-01T00:00:00Z`);
    assert.ok(filteredHttp.body.runs.length > 0);
    assert.deepEqual(JSON.parse(filtered.out).runs.map((view: RunView) => view.captureId), filteredHttp.body.runs.map((view) => view.captureId));
    assert.equal((await cli(['runs', 'list', '--data', data, '--provider', 'anthropic', '--status', 'complete', '--model', 'gpt-4o'])).err, 'runprint: no captured runs match\n');
    const childless = await cli(['runs', 'list', '--data', data, '--parent', run.record.runId!]);
    assert.deepEqual([childless.code, childless.out], [0, ''], 'no run names it as parent');
    const badStatus = await cli(['runs', 'list', '--data', data, '--status', 'done']);
    assert.equal(badStatus.code, 2);
    assert.match(badStatus.err, /^runprint: ERR_CLI_USAGE: status must be one of complete, incomplete, failed, unidentified/);
    const shown = await cli(['runs', 'show', run.record.captureId, '--data', data]);
    assert.equal(shown.code, 0);
    assert.match(shown.out, new RegExp(`^run +${run.record.runId}$`, 'm'));
    assert.match(shown.out, /^served model +gpt-4o-2024-08-06 \(reported\)$/m);
    const missing = await cli(['runs', 'show', `rp-run-v1-sha256-${'0'.repeat(64)}`, '--data', data]);
    assert.equal(missing.code, 3);
    assert.match(missing.err, /^runprint: ERR_RUN_NOT_FOUND: /);
    const noStore = await cli(['runs', 'list', '--data', join(data, 'nothing-here')]);
    assert.equal(noStore.code, 4);
    assert.match(noStore.err, /^runprint: ERR_INPUT_NOT_FOUND: no run store in /);
  });
});

describe('serve options', () => {
  test('an unreachable upstream is a 502 with a code, and the call is stored as a network error', async () => {
    const dir = tempDir();
    const closed = await startFakeUpstream();
    const url = closed.url;
    await closed.close();
    const down = await startServe({ data: dir, args: ['--upstream', `openai=${url}`] });
    const answer = await json<{ error: { code: string } }>(`${down.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: HI }) });
    assert.equal(answer.status, 502);
    assert.equal(answer.body.error.code, 'ERR_CAPTURE_UPSTREAM_UNREACHABLE');
    const run = await stored(down.base, answer.headers.get('runprint-capture-id')!);
    assert.equal(run.record.outcome, 'network-error');
    assert.equal(run.record.response.status, null);
    await down.stop();
  });

  test('--capture-token: proxied calls and the run store need it; the upstream never sees it', async () => {
    const guarded = await startServe({ data: tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--capture-token', 'capture-secret'] });
    const refused = await json<{ error: { code: string } }>(`${guarded.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'ERR_HTTP_UNAUTHORIZED');
    assert.equal((await fetch(`${guarded.base}/v1/runs`)).status, 401);
    upstream.enqueue({ kind: 'text', text: 'Allowed.' });
    const client = openai(guarded.base, { defaultHeaders: { 'runprint-capture-token': 'capture-secret' } });
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: HI });
    assert.equal(completion.choices[0]?.message.content, 'Allowed.');
    await upstream.settled();
    assert.equal(upstream.requests.at(-1)!.headers['runprint-capture-token'], undefined);
    assert.equal((await fetch(`${guarded.base}/v1/runs`, { headers: { 'runprint-capture-token': 'capture-secret' } })).status, 200);
    await guarded.stop();
  });

  test('--capture-durability async answers without waiting for the record, which still arrives', async () => {
    const quick = await startServe({ data: tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--capture-durability', 'async'] });
    upstream.enqueue({ kind: 'text', text: 'Async.' });
    const { response } = await openai(quick.base).chat.completions.create({ model: 'gpt-4o', messages: HI }).withResponse();
    const id = response.headers.get('runprint-capture-id')!;
    await until(async () => (await fetch(`${quick.base}/v1/runs/${id}`)).status === 200, 'the async record is stored');
    await quick.stop();
  });

  test('kill -9 in the middle of a stream: the store opens intact, keeps every committed record, and has no half record', async () => {
    const dir = tempDir();
    const first = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`] });
    upstream.enqueue({ kind: 'text', text: 'Committed before the crash.' });
    const { response: done } = await openai(first.base).chat.completions.create({ model: 'gpt-4o', messages: HI }).withResponse();
    const committed = done.headers.get('runprint-capture-id')!;
    upstream.enqueue({ kind: 'text', text: 'A long answer streamed word by word so that the crash comes in the middle of it.', eventDelayMs: 100 });
    const { data: stream, response } = await openai(first.base).chat.completions.create({ model: 'gpt-4o', messages: HI, stream: true }).withResponse();
    const interrupted = response.headers.get('runprint-capture-id')!;
    let chunks = 0;
    let failure: unknown;
    try {
      for await (const chunk of stream) {
        void chunk;
        if (++chunks === 2) await first.kill();
      }
    } catch (error) {
      failure = error;
    }
    assert.ok(failure !== undefined, 'the client sees the stream cut by the crash');
    await upstream.settled();
    const second = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`] });
    assert.equal((await fetch(`${second.base}/v1/runs/${committed}`)).status, 200, 'the committed record survived');
    const lost = await json<{ error: { code: string } }>(`${second.base}/v1/runs/${interrupted}`);
    assert.equal(lost.status, 404, 'the stream that never ended was never committed: no half record');
    await until(async () => (await json<{ runs: RunView[] }>(`${second.base}/v1/runs/${committed}`)).body.runs[0]!.receipt !== null, 'its receipt is signed');
    upstream.enqueue({ kind: 'text', text: 'After the restart.' });
    const after = await openai(second.base).chat.completions.create({ model: 'gpt-4o', messages: HI });
    assert.equal(after.choices[0]?.message.content, 'After the restart.');
    await second.stop();
  });

  test('kill -9 after answered calls loses no record; at restart every receipt is signed and logged once', async () => {
    const dir = tempDir();
    const first = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`] });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      upstream.enqueue({ kind: 'text', text: `Answer ${i}.` });
      const { response } = await openai(first.base).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `Crash test ${i}` }] }).withResponse();
      ids.push(response.headers.get('runprint-capture-id')!);
    }
    await first.kill();
    const second = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`] });
    for (const id of ids) assert.equal((await fetch(`${second.base}/v1/runs/${id}`)).status, 200, 'every answered call has its record');
    let views: RunView[] = [];
    await until(async () => {
      views = (await json<{ runs: RunView[] }>(`${second.base}/v1/runs?limit=100`)).body.runs;
      return views.length === 12 && views.every((view) => view.receipt?.logIndex !== null && view.receipt !== null);
    }, 'every record has a logged receipt');
    const indexes = new Set(views.map((view) => view.receipt!.logIndex));
    assert.equal(indexes.size, 12, 'one log entry per receipt');
    await until(async () => Number((await (await fetch(`${second.base}/checkpoint`)).text()).split('\n')[1]) === 12, 'the checkpoint covers the 12 receipts');
    assert.equal(Number((await (await fetch(`${second.base}/checkpoint`)).text()).split('\n')[1]), 12, 'and no more: nothing was logged twice');
    await second.stop();
  });
});
