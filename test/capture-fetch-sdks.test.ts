/**
 * captureFetch with the official SDK clients (openai, @anthropic-ai/sdk, the Vercel AI SDK,
 * LangChain.js) against the fake upstream on loopback: every call the fake answered is one run
 * record whose content is exactly the bytes the fake received and sent, whose request identity is
 * what `runprint id` gives for the recorded request bytes and whose run identity and output digest
 * are what `runprint id --response` and runOutputFrom give for the recorded response bytes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { captureFetch, type RunContent, type RunRecord } from '../src/capture/index.ts';
import { currentParents, withParent } from '../src/capture-node/index.ts';
import { run as runCli } from '../src/cli/main.ts';
import { runOutputFrom, type RequestFormat } from '../src/providers/index.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';

const OPENAI_KEY = 'sk-test-capture-openai';
const ANTHROPIC_KEY = 'sk-ant-test-capture';
const PARENT = `rp-run-v1-sha256-${'ab'.repeat(32)}`;
/** Never settles: a paused stream (pauseBeforeEvent) is held until the client goes away. */
const never = new Promise<never>(() => undefined);

let upstream: FakeUpstream;
let scratch: string;
const runs: Array<{ record: RunRecord; content: RunContent }> = [];
const errors: unknown[] = [];
const capturing = captureFetch(globalThis.fetch, {
  onRun: (record, content) => void runs.push({ record, content }),
  onError: (error) => void errors.push(error),
  parents: currentParents,
});

before(async () => {
  upstream = await startFakeUpstream();
  scratch = mkdtempSync(join(tmpdir(), 'runprint-capture-'));
});
after(async () => {
  await upstream.close();
  rmSync(scratch, { recursive: true, force: true });
  assert.deepEqual(errors, [], 'runprint recorded every call without a failure of its own');
});

/** `runprint id` (the real command, in process) for request bytes, with the response bytes when given. */
async function cliId(format: RequestFormat, request: Uint8Array, response?: Uint8Array): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const args = ['id', '-', '--from', format];
  if (response !== undefined) {
    const file = join(scratch, `response-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, response);
    args.push('--response', file);
  }
  const code = await runCli(args, {
    readStdin: async () => request, stdout: (text) => void (out += typeof text === 'string' ? text : new TextDecoder().decode(text)),
    stderr: (text) => void (err += text), stderrIsTTY: false, cwd: scratch,
  });
  return { code, out: out.trim(), err };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'every run was recorded');
}

/**
 * Runs `call` (its failure is returned, not thrown) and checks each request the fake received
 * against its run record: same bytes both ways, identities and digests as the CLI and SPEC 12
 * compute them from the recorded bytes, and no credential anywhere in the record.
 */
async function captured<T>(format: RequestFormat, call: () => Promise<T>, ...script: Scenario[]): Promise<{ result: T | undefined; error: unknown; records: RunRecord[]; received: RecordedRequest[] }> {
  upstream.enqueue(...script);
  const runMark = runs.length;
  const receivedMark = upstream.requests.length;
  let result: T | undefined;
  let error: unknown;
  try {
    result = await call();
  } catch (caught) {
    error = caught;
  }
  await upstream.settled();
  const received = upstream.requests.slice(receivedMark);
  await until(() => runs.length - runMark >= received.length);
  const got = runs.slice(runMark);
  assert.equal(got.length, received.length, 'one record per request the fake received');
  for (const [index, request] of received.entries()) {
    const { record, content } = got[index]!;
    assert.equal(record.format, format);
    assert.equal(record.path, request.path.split('?')[0]);
    assert.ok(Buffer.from(content.requestBytes).equals(request.body), 'the record names the exact request bytes');
    assert.ok(Buffer.from(content.responseBytes).equals(request.response.body), 'the record names the exact response bytes');
    assert.equal(record.response.status, request.response.status);
    const cli = await cliId(format, request.body);
    if (record.unidentified === null) {
      assert.equal(cli.code, 0, 'runprint id accepts the recorded request');
      assert.equal(record.requestId, cli.out);
    } else {
      assert.equal(record.requestId, null);
      assert.equal(cli.code, 3, 'runprint id rejects the recorded request too');
      assert.ok(cli.err.startsWith(`runprint: ${record.unidentified.code}: `), 'with the same code');
    }
    const text = JSON.stringify(record);
    for (const secret of [OPENAI_KEY, ANTHROPIC_KEY, 'authorization', 'x-api-key', 'Bearer']) assert.ok(!text.includes(secret), `no ${secret} in a record`);
    if (record.incomplete === null) {
      const output = runOutputFrom(request.response.body, format);
      assert.deepEqual(record.output?.digest, output.digest);
      assert.deepEqual(record.served, output.served);
      if (record.unidentified === null) assert.equal(record.runId, (await cliId(format, request.body, request.response.body)).out);
    } else {
      assert.equal(record.output, null);
      assert.equal(record.runId, null);
    }
  }
  return { result, error, records: got.map((entry) => entry.record), received };
}

const openai = (options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
  new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: capturing, maxRetries: 0, ...options });
const anthropic = () => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: upstream.url, fetch: capturing, maxRetries: 0 });
const HI = [{ role: 'user' as const, content: 'Say hello.' }];

describe('openai', () => {
  test('chat completion: the served model differs from the requested one and is in the run identity', async () => {
    const { result, records } = await captured('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'text', text: 'Hello there.' });
    assert.equal(result?.choices[0]?.message.content, 'Hello there.');
    const record = records[0]!;
    assert.equal(record.served?.['model']?.value, 'gpt-4o-2024-08-06');
    assert.match(record.runId ?? '', /^rp-run-v1-sha256-/);
    assert.equal(record.output?.finishReason, 'stop');
    assert.equal(record.outcome, 'complete');
    assert.equal(record.response.stream, false);
    assert.equal(record.response.headers['content-type'], 'application/json');
    assert.match(record.response.headers['x-request-id'] ?? '', /^req_/);
  });

  test('chat completion stream with a tool call: the application reads it, the record has the same output as JSON would', async () => {
    const { result, records } = await captured('openai-chat', async () => {
      const stream = await openai().chat.completions.create({
        model: 'gpt-4o', stream: true, messages: HI,
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      });
      let args = '';
      for await (const chunk of stream) for (const call of chunk.choices[0]?.delta.tool_calls ?? []) args += call.function?.arguments ?? '';
      return args;
    }, { kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Zürich"}' }], argumentPieces: 4 });
    assert.equal(result, '{"city":"Zürich"}');
    assert.equal(records[0]!.response.stream, true);
    assert.equal(records[0]!.output?.finishReason, 'tool_calls');
  });

  test('responses stream', async () => {
    const { result, records } = await captured('openai-responses', async () => {
      let text = '';
      for await (const event of await openai().responses.create({ model: 'gpt-4.1', input: 'Say hello.', stream: true })) {
        if (event.type === 'response.output_text.delta') text += event.delta;
      }
      return text;
    }, { kind: 'text', text: 'Hello from a stream.' });
    assert.equal(result, 'Hello from a stream.');
    assert.equal(records[0]!.served?.['model']?.value, 'gpt-4.1-2025-04-14');
  });

  test('4xx: a run with its request identity, marked incomplete, no output', async () => {
    const { error, records } = await captured('openai-chat', () => openai().chat.completions.create({ model: 'gpt-nope', messages: HI }), { kind: 'error', status: 404 });
    assert.ok(error instanceof OpenAI.NotFoundError, 'the application gets the SDK error as without capture');
    assert.deepEqual(records[0]!.incomplete, { reason: 'http-status', code: null });
    assert.equal(records[0]!.response.status, 404);
    assert.ok(records[0]!.response.rawDigest !== null);
  });

  test('5xx retried by the SDK: one record per attempt, equal request identities', async () => {
    const retryNow = { 'retry-after-ms': '1' };
    const { result, records } = await captured('openai-chat', () => openai({ maxRetries: 2 }).chat.completions.create({ model: 'gpt-4o', messages: HI }),
      { kind: 'error', status: 500, headers: retryNow }, { kind: 'error', status: 503, headers: retryNow }, { kind: 'text', text: 'Third time.' });
    assert.equal(result?.choices[0]?.message.content, 'Third time.');
    assert.deepEqual(records.map((record) => record.response.status), [500, 503, 200]);
    assert.deepEqual(records.map((record) => record.incomplete?.reason ?? null), ['http-status', 'http-status', null]);
    assert.equal(new Set(records.map((record) => record.requestId)).size, 1);
  });

  test('a stream cut off mid-way: incomplete (cut), with the bytes that arrived', async () => {
    const { error, records, received } = await captured('openai-chat', async () => {
      for await (const _ of await openai().chat.completions.create({ model: 'gpt-4o', stream: true, messages: HI })) void _;
    }, { kind: 'text', text: 'one two three four five', cutAfterEvents: 3, eventDelayMs: 5 });
    assert.ok(error instanceof Error);
    assert.equal(received[0]!.response.outcome, 'cut');
    assert.equal(records[0]!.outcome, 'network-error');
    assert.deepEqual(records[0]!.incomplete, { reason: 'cut', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' });
    assert.ok(records[0]!.response.size > 0);
  });

  test('a provider error event mid-stream: no output (SPEC 12)', async () => {
    const { error, records } = await captured('openai-chat', async () => {
      for await (const _ of await openai().chat.completions.create({ model: 'gpt-4o', stream: true, messages: HI })) void _;
    }, { kind: 'text', text: 'one two three', errorAfterEvents: 2 });
    assert.ok(error instanceof Error);
    assert.deepEqual(records[0]!.incomplete, { reason: 'provider-error', code: 'ERR_OUTPUT_PROVIDER_ERROR' });
  });

  test('the client aborts a stream: the application sees what it saw without capture, the run is aborted', async () => {
    const controller = new AbortController();
    const texts: string[] = [];
    // The fake sends the first two events, then holds the rest until the client has gone away: the
    // bytes it sent are the bytes the application was given, whatever the load.
    const { records } = await captured('openai-chat', async () => {
      const stream = await openai().chat.completions.create({ model: 'gpt-4o', stream: true, messages: HI }, { signal: controller.signal });
      for await (const chunk of stream) {
        texts.push(chunk.choices[0]?.delta.content ?? '');
        if (texts.length === 2) controller.abort();
      }
    }, { kind: 'text', text: 'one two three four five six', pauseBeforeEvent: 2, resume: never });
    assert.deepEqual(texts, ['', 'one ']);
    assert.equal(records[0]!.outcome, 'aborted');
    assert.deepEqual(records[0]!.incomplete, { reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' });
  });

  test('the SDK times out before the headers: the error is the SDK\'s, the run has no response and is aborted', async () => {
    // The SDK aborts its own controller without a reason, so its timeout is an abort to fetch;
    // `timeout` is kept for a TimeoutError reason (AbortSignal.timeout), see the plain fetch test.
    const { error, records } = await captured('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: HI }, { timeout: 1000 }),
      { kind: 'text', text: 'Too late.', headersDelayMs: 60_000 });
    assert.ok(error instanceof OpenAI.APIConnectionTimeoutError);
    assert.equal(records[0]!.response.status, null);
    assert.equal(records[0]!.outcome, 'aborted');
    assert.deepEqual(records[0]!.incomplete, { reason: 'aborted', code: null });
  });

  test('parents through async context', async () => {
    const { records } = await captured('openai-chat', () => withParent(PARENT, () => openai().chat.completions.create({ model: 'gpt-4o', messages: HI })));
    assert.deepEqual(records[0]!.parents, [PARENT]);
    const outside = await captured('openai-chat', () => openai().chat.completions.create({ model: 'gpt-4o', messages: HI }));
    assert.deepEqual(outside.records[0]!.parents, []);
    assert.throws(() => withParent('rp-req-v1-sha256-' + '00'.repeat(32), () => undefined), TypeError);
  });
});

describe('@anthropic-ai/sdk', () => {
  test('message, JSON and stream: same output digest both ways', async () => {
    const plain = await captured('anthropic-messages', () => anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: HI }), { kind: 'text', text: 'Hello.' });
    assert.equal(plain.records[0]!.served?.['model']?.value, 'claude-sonnet-4-5-20250929');
    assert.match(plain.records[0]!.response.headers['request-id'] ?? '', /^req_/);
    const streamed = await captured('anthropic-messages', async () => {
      let text = '';
      for await (const event of anthropic().messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: HI })) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      }
      return text;
    }, { kind: 'text', text: 'Hello.' });
    assert.equal(streamed.result, 'Hello.');
    assert.equal(streamed.records[0]!.response.stream, true);
    assert.deepEqual(streamed.records[0]!.output?.digest, plain.records[0]!.output?.digest);
    assert.equal(streamed.records[0]!.runId, plain.records[0]!.runId);
  });

  test('5xx (529 overloaded): incomplete with its status', async () => {
    const { error, records } = await captured('anthropic-messages', () => anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: HI }), { kind: 'error', status: 529 });
    assert.ok(error instanceof Anthropic.APIError);
    assert.equal(records[0]!.response.status, 529);
    assert.equal(records[0]!.incomplete?.reason, 'http-status');
  });
});

describe('Vercel AI SDK', () => {
  test('generateText with @ai-sdk/openai, streamText with @ai-sdk/anthropic', async () => {
    const ai = createOpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: capturing });
    const text = await captured('openai-chat', async () => (await generateText({ model: ai.chat('gpt-4o'), prompt: 'Say hello.' })).text, { kind: 'text', text: 'Hi from ai.' });
    assert.equal(text.result, 'Hi from ai.');
    const claude = createAnthropic({ apiKey: ANTHROPIC_KEY, baseURL: `${upstream.url}/v1`, fetch: capturing });
    const streamed = await captured('anthropic-messages', async () => {
      let out = '';
      for await (const part of streamText({ model: claude('claude-sonnet-4-5'), prompt: 'Say hello.' }).textStream) out += part;
      return out;
    }, { kind: 'text', text: 'Streamed hi.' });
    assert.equal(streamed.result, 'Streamed hi.');
    assert.equal(streamed.records[0]!.response.stream, true);
  });
});

test('Vercel AI SDK: a stream the caller aborts mid-way is an aborted run', async () => {
  const claude = createAnthropic({ apiKey: ANTHROPIC_KEY, baseURL: `${upstream.url}/v1`, fetch: capturing });
  const controller = new AbortController();
  // The fake sends message_start, content_block_start, ping and the first text delta, then holds
  // the rest until the client has gone away.
  const { records } = await captured('anthropic-messages', async () => {
    const parts: string[] = [];
    const result = streamText({ model: claude('claude-sonnet-4-5'), prompt: 'Count.', abortSignal: controller.signal, onError: () => undefined });
    for await (const part of result.textStream) {
      parts.push(part);
      controller.abort();
    }
    return parts;
  }, { kind: 'text', text: 'one two three four five six', pauseBeforeEvent: 4, resume: never });
  assert.equal(records[0]!.outcome, 'aborted');
  assert.equal(records[0]!.incomplete?.reason, 'aborted');
});

describe('LangChain.js', () => {
  test('ChatOpenAI invoke, ChatAnthropic stream', async () => {
    const chat = new ChatOpenAI({ model: 'gpt-4o', apiKey: OPENAI_KEY, maxRetries: 0, configuration: { baseURL: `${upstream.url}/v1`, fetch: capturing } });
    const invoked = await captured('openai-chat', async () => (await chat.invoke('Say hello.')).content, { kind: 'text', text: 'Hi from LangChain.' });
    assert.equal(invoked.result, 'Hi from LangChain.');
    const claude = new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: ANTHROPIC_KEY, maxRetries: 0, anthropicApiUrl: upstream.url, clientOptions: { fetch: capturing } });
    const streamed = await captured('anthropic-messages', async () => {
      let out = '';
      for await (const chunk of await claude.stream('Say hello.')) out += typeof chunk.content === 'string' ? chunk.content : '';
      return out;
    }, { kind: 'text', text: 'Streamed from LangChain.' });
    assert.equal(streamed.result, 'Streamed from LangChain.');
  });
});

describe('plain fetch', () => {
  const post = (path: string, body: string, init: RequestInit = {}) => capturing(`${upstream.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` }, body, ...init,
  });

  test('an unidentifiable request (an integer beyond I-JSON) goes through untouched and is recorded as unidentified', async () => {
    const body = '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"seed":12345678901234567890}';
    const before = capturing.counts.unidentified;
    let bytes: Uint8Array | undefined;
    const { records, received } = await captured('openai-chat', async () => {
      const response = await post('/v1/chat/completions', body);
      bytes = new Uint8Array(await response.arrayBuffer());
    });
    assert.ok(received[0]!.body.equals(Buffer.from(body)), 'the upstream got the body as sent');
    assert.ok(Buffer.from(bytes!).equals(received[0]!.response.body), 'the application got exactly the bytes the upstream sent');
    assert.deepEqual(records[0]!.unidentified, { code: 'ERR_JSON_UNSAFE_INTEGER', path: "$['seed']" });
    assert.equal(records[0]!.requestId, null);
    assert.deepEqual(records[0]!.output?.digest, runOutputFrom(received[0]!.response.body, 'openai-chat').digest);
    assert.equal(capturing.counts.unidentified, before + 1);
  });

  test('a streamed body reaches the application byte for byte, chunk by chunk', async () => {
    const chunks: Uint8Array[] = [];
    const { received } = await captured('anthropic-messages', async () => {
      const response = await post('/v1/messages', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: HI }), { headers: { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' } });
      const reader = response.body!.getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read()) chunks.push(read.value);
    }, { kind: 'text', text: 'a b c d', eventDelayMs: 5 });
    assert.ok(chunks.length > 1, 'the body arrived in several chunks');
    assert.ok(Buffer.concat(chunks).equals(received[0]!.response.body));
  });

  test('a Request object and a URL object are captured too', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: HI });
    const { records } = await captured('openai-chat', async () => {
      await (await capturing(new Request(`${upstream.url}/v1/chat/completions`, { method: 'POST', body }))).text();
      await (await capturing(new URL(`${upstream.url}/v1/chat/completions`), { method: 'POST', body })).text();
    });
    assert.equal(records.length, 2);
    assert.equal(records[0]!.requestId, records[1]!.requestId);
  });

  test('other routes pass through unrecorded', async () => {
    const mark = runs.length;
    const response = await capturing(`${upstream.url}/v1/models`);
    assert.equal(response.status, 200);
    assert.equal((await response.json() as { object: string }).object, 'list');
    assert.equal(runs.length, mark);
  });

  test('a timeout before the headers: the error reaches the application, the run is recorded as a timeout', async () => {
    const { error, records } = await captured('openai-chat', () => post('/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: HI }), { signal: AbortSignal.timeout(200) }),
      { kind: 'text', text: 'Too late.', headersDelayMs: 5000 });
    assert.equal((error as Error).name, 'TimeoutError');
    assert.equal(records[0]!.outcome, 'timeout');
    assert.equal(records[0]!.response.status, null);
    assert.equal(records[0]!.response.rawDigest, null);
    assert.match(records[0]!.requestId ?? '', /^rp-req-/);
  });
});
