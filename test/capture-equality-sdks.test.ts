/**
 * docs/CAPTURE.md: a call captured through the proxy (`runprint serve`) and the same call captured
 * in process (`runprintFetch`, a local data folder) get the same record. Checked here for every
 * SDK the project supports, with the real clients: openai (Chat Completions and Responses),
 * @anthropic-ai/sdk (messages, streaming, betas), the Vercel AI SDK (`ai` with @ai-sdk/openai and
 * @ai-sdk/anthropic, generateText and streamText), and LangChain.js (ChatOpenAI and ChatAnthropic,
 * invoke and stream); streamed and not, tool calls, an image input, structured output, a served
 * model other than the one requested, and the failures: 400 and 500 answers (retries off), a
 * provider error event mid-stream, a stream the upstream cuts, and a stream the client aborts.
 *
 * Each case makes the call twice, once with the SDK's base URL at the proxy and once with its
 * `fetch` option set to runprintFetch and its base URL at the fake upstream, and checks: the
 * upstream received the same bytes both times, each record names those bytes, the SDK got the
 * same answer (or the same error), and the two records are equal in everything but the capture
 * id and the times: request and run identities, output digest, finish reason and usage, response
 * status, size and raw digest, outcome and incomplete reason, served facts, path.
 *
 * One difference is by design and asserted as such: a caller's AbortSignal.timeout is `timeout`
 * in process (the read fails with its TimeoutError) and `aborted` through the proxy (which sees a
 * client that went away). A stream whose provider error event the SDK throws at (openai,
 * @anthropic-ai/sdk, LangChain's ChatAnthropic: they cancel the body there) is `complete` both
 * ways, with sync and async durability in process, as the proxy reads on to its end.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, jsonSchema, Output, streamText, tool, type ToolSet } from 'ai';
import OpenAI from 'openai';
import { z } from 'zod';
import type { RunRecord } from '../src/capture/index.ts';
import { runprintFetch, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-equality-openai-0123456789';
const ANTHROPIC_KEY = 'sk-ant-test-equality-0123456789';
const HI = [{ role: 'user' as const, content: 'Say hello.' }];
// A 1x1 PNG.
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const WEATHER_PARAMETERS = {
  type: 'object' as const,
  properties: { city: { type: 'string' as const }, unit: { type: 'string' as const } },
  required: ['city', 'unit'],
  additionalProperties: false as const,
};
const WEATHER_CALL: Scenario = { kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Zürich","unit":"celsius"}' }] };
const LONG_TEXT = 'one two three four five six seven eight';

let upstream: FakeUpstream;
let serve: ServeProcess;
let local: RunprintFetch;
/** In process with async durability (no hold of the stream's end: the record is made after the SDK let go). */
let localAsync: RunprintFetch;
const localErrors: RunprintError[] = [];
const scratch = scratchFolders('runprint-equality-');
/** Resolved at the end: lets a paused stream go on if a client never went away. */
let release: () => void = () => undefined;
const released = new Promise<void>((resolve) => (release = resolve));

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
  local = runprintFetch({ data: scratch.tempDir(), onError: (error) => void localErrors.push(error) });
  localAsync = runprintFetch({ data: scratch.tempDir(), durability: 'async', onError: (error) => void localErrors.push(error) });
});
after(async () => {
  release();
  await local?.close();
  await localAsync?.close();
  await endServeTest(upstream, scratch);
  assert.deepEqual(localErrors, [], 'in-process capture reported no failure of its own');
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Where a call goes: the SDK's fetch and its base URLs. */
interface Side {
  name: 'proxy' | 'in process';
  fetch: typeof fetch;
  /** The OpenAI base URL, ending in /v1. */
  openai: string;
  /** The Anthropic base URL without /v1 (as @anthropic-ai/sdk and LangChain take it). */
  anthropic: string;
  /** In process: the runprintFetch whose runOf gives the record (default the sync one, `local`). */
  runs?: RunprintFetch;
}

const proxySide = (): Side => ({ name: 'proxy', fetch: globalThis.fetch, openai: `${serve.base}/openai/v1`, anthropic: `${serve.base}/anthropic` });
const localSide = (): Side => ({ name: 'in process', fetch: local, openai: `${upstream.url}/v1`, anthropic: upstream.url });

interface Captured {
  /** What the call gave the test (a text, events), or undefined when it threw. */
  result: unknown;
  /** What the SDK threw: its class name and status, or null. */
  error: { name: string; status: number | null } | null;
  record: RunRecord;
  received: RecordedRequest;
}

/** The run serve stored for a capture id: asked until it is there (a client that went away is recorded after). */
async function proxyRecord(captureId: string): Promise<RunRecord> {
  for (let i = 0; i < 500; i++) {
    const response = await fetch(`${serve.base}/v1/runs/${captureId}`);
    if (response.status === 200) {
      const { runs } = (await response.json()) as { runs: Array<{ capture: string; record: RunRecord }> };
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.capture, 'proxy');
      return runs[0]!.record;
    }
    await response.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`serve never stored capture ${captureId}`);
}

/** Makes the call on one side, with its scripted answer; returns the one request the upstream got and its record. */
async function captureOn(side: Side, call: (side: Side) => Promise<unknown>, scenario: Scenario): Promise<Captured> {
  upstream.enqueue(scenario);
  const mark = upstream.requests.length;
  // The capture id of each answer (the proxy's and runprintFetch's runprint-capture-id header); nothing else changes.
  const ids: string[] = [];
  const inner = side.fetch;
  const recording = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await inner(input, init);
    const id = response.headers.get('runprint-capture-id');
    if (id !== null) ids.push(id);
    return response;
  }) as typeof fetch;
  let result: unknown;
  let error: Captured['error'] = null;
  try {
    result = await call({ ...side, fetch: recording });
  } catch (caught) {
    const status = (caught as { status?: unknown; statusCode?: unknown }).status ?? (caught as { statusCode?: unknown }).statusCode;
    error = { name: (caught as Error).constructor.name, status: typeof status === 'number' ? status : null };
  }
  await upstream.settled();
  const received = upstream.requests.slice(mark);
  assert.equal(received.length, 1, `${side.name}: one request reached the upstream (retries off)`);
  assert.equal(ids.length, 1, `${side.name}: one answer named its capture`);
  const record = side.name === 'proxy' ? await proxyRecord(ids[0]!) : await (side.runs ?? local).runOf(ids[0]!);
  assert.ok(record !== null, `${side.name}: the call is recorded`);
  assert.equal(record.captureId, ids[0]);
  assert.equal(record.request.rawDigest.sha256, sha256(received[0]!.body), `${side.name}: the record names the exact request bytes the upstream received`);
  return { result, error, record, received: received[0]! };
}

/**
 * What a record says of the run, without what names this capture (captureId) and when it happened
 * (times), as JSON (in process, usage is parsed JSON: objects without a prototype).
 */
function ofTheRun(record: RunRecord): unknown {
  const { captureId, times, ...rest } = record;
  void captureId;
  void times;
  return JSON.parse(JSON.stringify(rest));
}

interface Expected {
  format: RunRecord['format'];
  outcome: RunRecord['outcome'];
  incomplete: RunRecord['incomplete'];
  status: number;
  stream: boolean;
  /** The served model the record names (SPEC 4.6), when the run has an output. */
  served?: string;
}

/**
 * The same call through the proxy and in process: the same request bytes at the upstream, the
 * same answer to the SDK, and equal records but for capture id and times.
 */
async function same(call: (side: Side) => Promise<unknown>, scenario: () => Scenario, expected: Expected, known: Known = {}): Promise<{ proxy: Captured; local: Captured }> {
  const proxy = await captureOn(proxySide(), call, scenario());
  const inProcess = await captureOn(localSide(), call, scenario());
  assert.equal(sha256(proxy.received.body), sha256(inProcess.received.body), 'the SDK sent the same request bytes both ways');
  assert.equal(proxy.received.path, inProcess.received.path, 'to the same upstream path');
  assert.equal(proxy.received.response.outcome, inProcess.received.response.outcome, 'the upstream ended its answer the same way');
  assert.deepEqual(proxy.error, inProcess.error, 'the SDK failed (or not) the same way');
  assert.deepEqual(proxy.result, inProcess.result, 'the SDK gave the same answer');

  // A documented difference: each side has its own value, asserted; the rest must be equal.
  const [p, l] = [{ ...proxy.record }, { ...inProcess.record }];
  if (known.outcome !== undefined) {
    assert.deepEqual([p.outcome, l.outcome], known.outcome, 'outcome through the proxy, and in process');
    l.outcome = p.outcome;
  }
  if (known.incomplete !== undefined) {
    assert.deepEqual([p.incomplete, l.incomplete], known.incomplete, 'incomplete reason through the proxy, and in process');
    l.incomplete = p.incomplete;
  }
  assert.equal(p.requestId, l.requestId, 'request identity');
  assert.equal(p.runId, l.runId, 'run identity');
  assert.deepEqual(p.output?.digest, l.output?.digest, 'output digest');
  assert.deepEqual(p.response.rawDigest, l.response.rawDigest, 'response raw digest');
  assert.equal(p.response.status, l.response.status, 'status');
  assert.equal(p.outcome, l.outcome, 'outcome');
  assert.deepEqual(p.incomplete, l.incomplete, 'incomplete reason');
  assert.deepEqual(p.served, l.served, 'served facts');
  assert.deepEqual(ofTheRun(p), ofTheRun(l), 'the whole record but capture id and times');

  // And what the run is (so an equality of two empty records passes nothing).
  assert.equal(l.format, expected.format);
  assert.equal(inProcess.record.outcome, known.outcome?.[1] ?? expected.outcome);
  assert.deepEqual(inProcess.record.incomplete, known.incomplete?.[1] ?? expected.incomplete);
  assert.equal(l.response.status, expected.status);
  assert.equal(l.response.stream, expected.stream);
  assert.match(l.requestId ?? '', /^rp-req-v1-sha256-[0-9a-f]{64}$/);
  assert.equal(l.unidentified, null);
  if (expected.incomplete === null) {
    assert.match(l.runId ?? '', /^rp-run-v1-sha256-[0-9a-f]{64}$/);
    assert.ok(l.output !== null);
    if (expected.served !== undefined) assert.equal(l.served?.['model']?.value, expected.served);
  } else {
    assert.equal(l.runId, null, 'an incomplete run has no run identity');
    assert.equal(l.output, null);
  }
  return { proxy, local: inProcess };
}

/** A field each side records its own way, for a reason docs/CAPTURE.md gives: [proxy, in process]. */
interface Known {
  outcome?: [RunRecord['outcome'], RunRecord['outcome']];
  incomplete?: [RunRecord['incomplete'], RunRecord['incomplete']];
}

const complete = (format: RunRecord['format'], stream: boolean, served?: string): Expected => ({ format, outcome: 'complete', incomplete: null, status: 200, stream, ...(served === undefined ? {} : { served }) });
const httpStatus = (format: RunRecord['format'], status: number): Expected => ({ format, outcome: 'complete', incomplete: { reason: 'http-status', code: null }, status, stream: false });

/** A stream held after two events until the client goes away (or the file ends). */
const paused = (): Scenario => ({ kind: 'text', text: LONG_TEXT, pauseBeforeEvent: 3, resume: released });

describe('openai', () => {
  const client = (side: Side) => new OpenAI({ apiKey: OPENAI_KEY, baseURL: side.openai, fetch: side.fetch, maxRetries: 0 });
  const text = (scenario: Scenario) => () => scenario;
  const chatText = async (side: Side, params: Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, 'stream'>) => {
    const completion = await client(side).chat.completions.create(params);
    return { text: completion.choices[0]?.message.content, tools: completion.choices[0]?.message.tool_calls, model: completion.model };
  };
  const chatStream = async (side: Side, params: Omit<OpenAI.ChatCompletionCreateParamsStreaming, 'stream'>) => {
    let out = '';
    const tools: string[] = [];
    for await (const chunk of await client(side).chat.completions.create({ ...params, stream: true })) {
      out += chunk.choices[0]?.delta.content ?? '';
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) tools.push(call.function?.arguments ?? '');
    }
    return { text: out, tools };
  };

  test('chat completion', async () => {
    await same((side) => chatText(side, { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, ...HI], temperature: 0.2 }), text({ kind: 'text', text: 'Hello.' }), complete('openai-chat', false, 'gpt-4o-mini-2024-07-18'));
  });

  test('chat completion streamed, with usage', async () => {
    await same((side) => chatStream(side, { model: 'gpt-4o', messages: HI, stream_options: { include_usage: true } }), text({ kind: 'text', text: 'Hello, streamed.' }), complete('openai-chat', true, 'gpt-4o-2024-08-06'));
  });

  test('responses', async () => {
    await same(async (side) => (await client(side).responses.create({ model: 'gpt-4.1', input: 'Say hello.', instructions: 'Be brief.' })).output_text, text({ kind: 'text', text: 'Hello, responses.' }), complete('openai-responses', false, 'gpt-4.1-2025-04-14'));
  });

  test('responses streamed', async () => {
    await same(async (side) => {
      let out = '';
      for await (const event of await client(side).responses.create({ model: 'gpt-4.1', input: 'Say hello.', stream: true })) {
        if (event.type === 'response.output_text.delta') out += event.delta;
      }
      return out;
    }, text({ kind: 'text', text: 'Hello, streamed responses.' }), complete('openai-responses', true, 'gpt-4.1-2025-04-14'));
  });

  const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: WEATHER_PARAMETERS } }];

  test('a tool call, and one streamed', async () => {
    await same((side) => chatText(side, { model: 'gpt-4o', messages: HI, tools }), text(WEATHER_CALL), complete('openai-chat', false));
    await same((side) => chatStream(side, { model: 'gpt-4o', messages: HI, tools }), text({ ...WEATHER_CALL, text: 'Checking.' }), complete('openai-chat', true));
  });

  test('a tool call in the Responses API, streamed', async () => {
    await same(async (side) => {
      const args: string[] = [];
      for await (const event of await client(side).responses.create({ model: 'gpt-4.1', input: 'Weather?', stream: true, tools: [{ type: 'function', name: 'get_weather', parameters: WEATHER_PARAMETERS, strict: true }] })) {
        if (event.type === 'response.function_call_arguments.done') args.push(event.arguments);
      }
      return args;
    }, text(WEATHER_CALL), complete('openai-responses', true));
  });

  test('an image input', async () => {
    await same((side) => chatText(side, { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } }] }] }), text({ kind: 'text', text: 'A pixel.' }), complete('openai-chat', false));
  });

  test('structured output', async () => {
    await same((side) => chatText(side, { model: 'gpt-4o', messages: HI, response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema: WEATHER_PARAMETERS } } }), text({ kind: 'text', text: '{"city":"Paris","unit":"celsius"}' }), complete('openai-chat', false));
  });

  test('a served model other than the one requested', async () => {
    const { local: run } = await same((side) => chatText(side, { model: 'gpt-4o', messages: HI }), text({ kind: 'text', text: 'Hello.', servedModel: 'gpt-4o-2024-11-20' }), complete('openai-chat', false, 'gpt-4o-2024-11-20'));
    assert.deepEqual(run.result, { text: 'Hello.', tools: undefined, model: 'gpt-4o-2024-11-20' });
  });

  test('400 and 500 answers', async () => {
    await same((side) => chatText(side, { model: 'gpt-4o', messages: HI }), text({ kind: 'error', status: 400, message: 'scripted 400' }), httpStatus('openai-chat', 400));
    await same((side) => chatText(side, { model: 'gpt-4o', messages: HI }), text({ kind: 'error', status: 500, message: 'scripted 500' }), httpStatus('openai-chat', 500));
    await same(async (side) => (await client(side).responses.create({ model: 'gpt-4.1', input: 'Hi.' })).output_text, text({ kind: 'error', status: 400 }), httpStatus('openai-responses', 400));
  });

  // The body ends after the error event; the SDK throws at the event and cancels the body before
  // reading its end. Through the proxy the body is read to its end: outcome complete. In process
  // the record says aborted, for the same bytes (same size and digest): a difference no doc
  // gives, reported as a product bug; this test fails until both say the same.
  test('a provider error event mid-stream', async () => {
    await same((side) => chatStream(side, { model: 'gpt-4o', messages: HI }), text({ kind: 'text', text: LONG_TEXT, errorAfterEvents: 2 }),
      { format: 'openai-chat', outcome: 'complete', incomplete: { reason: 'provider-error', code: 'ERR_OUTPUT_PROVIDER_ERROR' }, status: 200, stream: true });
  });

  test('a provider error event mid-stream, in process with async durability: complete, as through the proxy (the SDK cancels the body at the error event)', async () => {
    const call = (side: Side) => chatStream(side, { model: 'gpt-4o', messages: HI });
    const scenario: Scenario = { kind: 'text', text: LONG_TEXT, errorAfterEvents: 2 };
    const proxy = await captureOn(proxySide(), call, scenario);
    const inProcess = await captureOn({ ...localSide(), fetch: localAsync, runs: localAsync }, call, scenario);
    assert.deepEqual(inProcess.error, proxy.error, 'the SDK threw at the error event both ways');
    assert.ok(inProcess.error !== null);
    assert.deepEqual(ofTheRun(inProcess.record), ofTheRun(proxy.record));
    assert.equal(inProcess.record.outcome, 'complete');
    assert.deepEqual(inProcess.record.incomplete, { reason: 'provider-error', code: 'ERR_OUTPUT_PROVIDER_ERROR' });
  });

  test('a stream the upstream cuts', async () => {
    const { proxy, local: run } = await same((side) => chatStream(side, { model: 'gpt-4o', messages: HI }), text({ kind: 'text', text: LONG_TEXT, cutAfterEvents: 3 }),
      { format: 'openai-chat', outcome: 'network-error', incomplete: { reason: 'cut', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
    assert.equal(run.received.response.outcome, 'cut');
    assert.ok(proxy.record.response.size > 0 && proxy.record.response.size === run.received.response.body.length, 'the bytes that arrived are recorded');
    assert.equal(run.record.response.rawDigest?.sha256, sha256(run.received.response.body));
  });

  test('a stream the client aborts after two events', async () => {
    const { local: run } = await same(async (side) => {
      const controller = new AbortController();
      const seen: string[] = [];
      const stream = await client(side).chat.completions.create({ model: 'gpt-4o', messages: HI, stream: true }, { signal: controller.signal });
      for await (const chunk of stream) {
        seen.push(chunk.choices[0]?.delta.content ?? '');
        if (seen.length === 2) controller.abort();
      }
      return seen;
    }, paused, { format: 'openai-chat', outcome: 'aborted', incomplete: { reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
    assert.deepEqual(run.result, ['', 'one ']);
    assert.equal(run.received.response.outcome, 'client-closed');
  });
});

describe('@anthropic-ai/sdk', () => {
  const client = (side: Side) => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: side.anthropic, fetch: side.fetch, maxRetries: 0 });
  const text = (scenario: Scenario) => () => scenario;
  const params = { model: 'claude-sonnet-4-5', max_tokens: 64, system: 'Be brief.', messages: HI };
  const blocks = (message: { content: Array<{ type: string; text?: string; input?: unknown }> }) => message.content.map((block) => (block.type === 'text' ? block.text : block.type === 'tool_use' ? block.input : block.type));
  const streamed = async (side: Side, extra: Partial<Anthropic.MessageStreamParams> = {}, signal?: AbortController) => {
    const out: string[] = [];
    try {
      for await (const event of client(side).messages.stream({ ...params, ...extra }, signal === undefined ? {} : { signal: signal.signal })) {
        if (event.type === 'content_block_delta') {
          out.push(event.delta.type === 'text_delta' ? event.delta.text : event.delta.type === 'input_json_delta' ? event.delta.partial_json : '');
          if (signal !== undefined && out.length === 2) signal.abort();
        }
      }
    } catch (error) {
      // What the stream gave before it failed, then how it failed.
      if (signal === undefined) throw error;
      out.push(`threw ${(error as Error).constructor.name}`);
    }
    return out;
  };

  test('a message', async () => {
    await same(async (side) => blocks(await client(side).messages.create(params)), text({ kind: 'text', text: 'Hello.' }), complete('anthropic-messages', false, 'claude-sonnet-4-5-20250929'));
  });

  test('a message streamed', async () => {
    await same((side) => streamed(side), text({ kind: 'text', text: 'Hello, streamed.' }), complete('anthropic-messages', true, 'claude-sonnet-4-5-20250929'));
  });

  test('betas (the anthropic-beta header), not streamed and streamed', async () => {
    const betas = ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'];
    const plain = await same(async (side) => blocks(await client(side).beta.messages.create({ ...params, betas })), text({ kind: 'text', text: 'Hello, beta.' }), complete('anthropic-messages', false));
    assert.equal(plain.proxy.received.headers['anthropic-beta'], betas.join(','));
    assert.equal(plain.local.received.headers['anthropic-beta'], betas.join(','));
    const without = await same(async (side) => blocks(await client(side).messages.create(params)), text({ kind: 'text', text: 'Hello, beta.' }), complete('anthropic-messages', false));
    assert.notEqual(plain.local.record.requestId, without.local.record.requestId, 'the betas are part of the identity');
    await same(async (side) => {
      const out: string[] = [];
      for await (const event of client(side).beta.messages.stream({ ...params, betas })) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') out.push(event.delta.text);
      return out;
    }, text({ kind: 'text', text: 'Hello, beta stream.' }), complete('anthropic-messages', true));
  });

  const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Weather for a city', input_schema: WEATHER_PARAMETERS }];

  test('a tool call, and one streamed after text', async () => {
    await same(async (side) => blocks(await client(side).messages.create({ ...params, tools })), text(WEATHER_CALL), complete('anthropic-messages', false));
    await same((side) => streamed(side, { tools }), text({ ...WEATHER_CALL, text: 'Checking.' }), complete('anthropic-messages', true));
  });

  test('an image input', async () => {
    await same(async (side) => blocks(await client(side).messages.create({ ...params, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_BASE64 } }, { type: 'text', text: 'What is this?' }] }] })), text({ kind: 'text', text: 'A pixel.' }), complete('anthropic-messages', false));
  });

  test('structured output (a JSON answer from a prefilled assistant turn)', async () => {
    await same(async (side) => blocks(await client(side).messages.create({ ...params, messages: [...HI, { role: 'assistant', content: '{' }] })), text({ kind: 'text', text: '"city":"Paris","unit":"celsius"}' }), complete('anthropic-messages', false));
  });

  test('a served model other than the one requested', async () => {
    await same(async (side) => blocks(await client(side).messages.create(params)), text({ kind: 'text', text: 'Hello.', servedModel: 'claude-sonnet-4-5-20991231' }), complete('anthropic-messages', false, 'claude-sonnet-4-5-20991231'));
  });

  test('400, 500 and 529 answers', async () => {
    for (const status of [400, 500, 529]) {
      await same(async (side) => blocks(await client(side).messages.create(params)), text({ kind: 'error', status }), httpStatus('anthropic-messages', status));
    }
  });

  // As for openai: the proxy records complete, in process aborted (the product bug above).
  test('a provider error event mid-stream', async () => {
    await same((side) => streamed(side), text({ kind: 'text', text: LONG_TEXT, errorAfterEvents: 4 }),
      { format: 'anthropic-messages', outcome: 'complete', incomplete: { reason: 'provider-error', code: 'ERR_OUTPUT_PROVIDER_ERROR' }, status: 200, stream: true });
  });

  test('a stream the upstream cuts', async () => {
    const { local: run } = await same((side) => streamed(side), text({ kind: 'text', text: LONG_TEXT, cutAfterEvents: 5 }),
      { format: 'anthropic-messages', outcome: 'network-error', incomplete: { reason: 'cut', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
    assert.equal(run.received.response.outcome, 'cut');
    assert.equal(run.record.response.rawDigest?.sha256, sha256(run.received.response.body));
  });

  test('a stream the client aborts after two deltas', async () => {
    // Events: message_start, content_block_start, ping, then one delta per word: paused before the third delta.
    const { local: run } = await same((side) => streamed(side, {}, new AbortController()), () => ({ kind: 'text', text: LONG_TEXT, pauseBeforeEvent: 5, resume: released }),
      { format: 'anthropic-messages', outcome: 'aborted', incomplete: { reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
    assert.deepEqual(run.result, ['one ', 'two ', 'threw APIUserAbortError'], 'the SDK throws at an abort of its stream, both ways');
    assert.equal(run.received.response.outcome, 'client-closed');
  });
});

describe('Vercel AI SDK', () => {
  const openai = (side: Side) => createOpenAI({ apiKey: OPENAI_KEY, baseURL: side.openai, fetch: side.fetch });
  const anthropic = (side: Side) => createAnthropic({ apiKey: ANTHROPIC_KEY, baseURL: `${side.anthropic}/v1`, fetch: side.fetch });
  const text = (scenario: Scenario) => () => scenario;
  const weatherTools = { get_weather: tool({ description: 'Weather for a city', inputSchema: z.object({ city: z.string(), unit: z.string() }) }) } as ToolSet;
  const streamedText = async (result: { textStream: AsyncIterable<string> }) => {
    let out = '';
    for await (const part of result.textStream) out += part;
    return out;
  };

  test('@ai-sdk/openai: generateText (Responses API and Chat Completions)', async () => {
    await same(async (side) => (await generateText({ model: openai(side)('gpt-4.1'), prompt: 'Say hello.', maxRetries: 0 })).text, text({ kind: 'text', text: 'Hello, ai responses.' }), complete('openai-responses', false, 'gpt-4.1-2025-04-14'));
    await same(async (side) => (await generateText({ model: openai(side).chat('gpt-4o'), system: 'Be brief.', prompt: 'Say hello.', maxRetries: 0 })).text, text({ kind: 'text', text: 'Hello, ai chat.' }), complete('openai-chat', false, 'gpt-4o-2024-08-06'));
  });

  test('@ai-sdk/openai: streamText (Chat Completions and Responses API)', async () => {
    await same((side) => streamedText(streamText({ model: openai(side).chat('gpt-4o'), prompt: 'Count.', maxRetries: 0 })), text({ kind: 'text', text: 'one two three' }), complete('openai-chat', true));
    await same((side) => streamedText(streamText({ model: openai(side)('gpt-4.1'), prompt: 'Count.', maxRetries: 0 })), text({ kind: 'text', text: 'one two three' }), complete('openai-responses', true));
  });

  test('@ai-sdk/openai: a streamed tool call, structured output, an image input', async () => {
    await same(async (side) => (await streamText({ model: openai(side)('gpt-4.1'), prompt: 'Weather?', tools: weatherTools, maxRetries: 0 }).toolCalls).map((call) => call.input), text(WEATHER_CALL), complete('openai-responses', true));
    await same(async (side) => (await generateText({ model: openai(side).chat('gpt-4o'), prompt: 'Weather?', maxRetries: 0, output: Output.object({ schema: jsonSchema<{ city: string; unit: string }>(WEATHER_PARAMETERS) }) })).output, text({ kind: 'text', text: '{"city":"Zürich","unit":"celsius"}' }), complete('openai-chat', false));
    await same(async (side) => (await generateText({ model: openai(side).chat('gpt-4o'), maxRetries: 0, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', image: PNG_BASE64, mediaType: 'image/png' }] }] })).text, text({ kind: 'text', text: 'A pixel.' }), complete('openai-chat', false));
  });

  test('@ai-sdk/openai: a 400 and a 500 (maxRetries 0)', async () => {
    await same(async (side) => (await generateText({ model: openai(side).chat('gpt-4o'), prompt: 'Hi.', maxRetries: 0 })).text, text({ kind: 'error', status: 400 }), httpStatus('openai-chat', 400));
    await same(async (side) => (await generateText({ model: openai(side)('gpt-4.1'), prompt: 'Hi.', maxRetries: 0 })).text, text({ kind: 'error', status: 500 }), httpStatus('openai-responses', 500));
  });

  test('@ai-sdk/anthropic: generateText and streamText', async () => {
    await same(async (side) => (await generateText({ model: anthropic(side)('claude-sonnet-4-5'), system: 'Be brief.', prompt: 'Say hello.', maxRetries: 0 })).text, text({ kind: 'text', text: 'Hello, ai claude.' }), complete('anthropic-messages', false, 'claude-sonnet-4-5-20250929'));
    await same((side) => streamedText(streamText({ model: anthropic(side)('claude-sonnet-4-5'), prompt: 'Count.', maxRetries: 0 })), text({ kind: 'text', text: 'one two three' }), complete('anthropic-messages', true));
  });

  test('@ai-sdk/anthropic: a streamed tool call, an image input, a served model other than the one requested', async () => {
    await same(async (side) => (await streamText({ model: anthropic(side)('claude-sonnet-4-5'), prompt: 'Weather?', tools: weatherTools, maxRetries: 0 }).toolCalls).map((call) => call.input), text({ ...WEATHER_CALL, text: 'Checking.' }), complete('anthropic-messages', true));
    await same(async (side) => (await generateText({ model: anthropic(side)('claude-sonnet-4-5'), maxRetries: 0, messages: [{ role: 'user', content: [{ type: 'image', image: PNG_BASE64, mediaType: 'image/png' }, { type: 'text', text: 'What is this?' }] }] })).text, text({ kind: 'text', text: 'A pixel.' }), complete('anthropic-messages', false));
    await same(async (side) => (await generateText({ model: anthropic(side)('claude-3-5-haiku-latest'), prompt: 'Hi.', maxRetries: 0 })).response.modelId, text({ kind: 'text', text: 'Hi.', servedModel: 'claude-3-5-haiku-20991231' }), complete('anthropic-messages', false, 'claude-3-5-haiku-20991231'));
  });

  test('@ai-sdk/anthropic: a 400 and a 500 (maxRetries 0)', async () => {
    await same(async (side) => (await generateText({ model: anthropic(side)('claude-sonnet-4-5'), prompt: 'Hi.', maxRetries: 0 })).text, text({ kind: 'error', status: 400 }), httpStatus('anthropic-messages', 400));
    await same(async (side) => (await generateText({ model: anthropic(side)('claude-sonnet-4-5'), prompt: 'Hi.', maxRetries: 0 })).text, text({ kind: 'error', status: 500 }), httpStatus('anthropic-messages', 500));
  });

  test('a stream the upstream cuts, and one the caller aborts (abortSignal)', async () => {
    await same((side) => streamedText(streamText({ model: openai(side).chat('gpt-4o'), prompt: 'Count.', maxRetries: 0, onError: () => undefined })), text({ kind: 'text', text: LONG_TEXT, cutAfterEvents: 3 }),
      { format: 'openai-chat', outcome: 'network-error', incomplete: { reason: 'cut', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
    await same(async (side) => {
      const controller = new AbortController();
      const parts: string[] = [];
      const result = streamText({ model: anthropic(side)('claude-sonnet-4-5'), prompt: 'Count.', maxRetries: 0, abortSignal: controller.signal, onError: () => undefined });
      for await (const part of result.textStream) {
        parts.push(part);
        if (parts.length === 2) controller.abort();
      }
      return parts;
    }, () => ({ kind: 'text', text: LONG_TEXT, pauseBeforeEvent: 5, resume: released }),
    { format: 'anthropic-messages', outcome: 'aborted', incomplete: { reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
  });
  test('a provider error event mid-stream: streamText reads on to the end of the body', async () => {
    await same((side) => streamedText(streamText({ model: openai(side).chat('gpt-4o'), prompt: 'Count.', maxRetries: 0, onError: () => undefined })), text({ kind: 'text', text: LONG_TEXT, errorAfterEvents: 2 }),
      { format: 'openai-chat', outcome: 'complete', incomplete: { reason: 'provider-error', code: 'ERR_OUTPUT_PROVIDER_ERROR' }, status: 200, stream: true });
    await same((side) => streamedText(streamText({ model: anthropic(side)('claude-sonnet-4-5'), prompt: 'Count.', maxRetries: 0, onError: () => undefined })), text({ kind: 'text', text: LONG_TEXT, errorAfterEvents: 4 }),
      { format: 'anthropic-messages', outcome: 'complete', incomplete: { reason: 'provider-error', code: 'ERR_OUTPUT_PROVIDER_ERROR' }, status: 200, stream: true });
  });

  test('a stream the caller times out (abortSignal: AbortSignal.timeout): aborted through the proxy, timeout in process', async () => {
    // The signal reaches fetch as given, so in process the read fails with its TimeoutError and
    // the run is timeout; the proxy sees only a client that went away: aborted. The stream is held
    // after two events until the client goes away, so the time out comes mid-stream.
    const { local: run } = await same(async (side) => {
      const parts: string[] = [];
      const result = streamText({ model: openai(side).chat('gpt-4o'), prompt: 'Count.', maxRetries: 0, abortSignal: AbortSignal.timeout(1000), onError: () => undefined });
      for await (const part of result.textStream) parts.push(part);
      return parts;
    }, paused, { format: 'openai-chat', outcome: 'aborted', incomplete: { reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true }, { outcome: ['aborted', 'timeout'], incomplete: [{ reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, { reason: 'timeout', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }] });
    assert.deepEqual(run.result, ['one ', 'two '], 'the two events before the hold, then the stream ends quietly (streamText)');
  });
});

describe('LangChain.js', () => {
  const chatOpenAI = (side: Side) => new ChatOpenAI({ model: 'gpt-4o', apiKey: OPENAI_KEY, maxRetries: 0, configuration: { baseURL: side.openai, fetch: side.fetch } });
  const chatAnthropic = (side: Side) => new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: ANTHROPIC_KEY, maxRetries: 0, anthropicApiUrl: side.anthropic, clientOptions: { fetch: side.fetch } });
  const text = (scenario: Scenario) => () => scenario;
  const weatherTool = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city', parameters: WEATHER_PARAMETERS } };
  const streamed = async (chunks: AsyncIterable<{ content: unknown }>) => {
    let out = '';
    for await (const chunk of chunks) out += typeof chunk.content === 'string' ? chunk.content : '';
    return out;
  };

  test('ChatOpenAI: invoke and stream', async () => {
    await same(async (side) => (await chatOpenAI(side).invoke('Say hello.')).content, text({ kind: 'text', text: 'Hello, LangChain.' }), complete('openai-chat', false, 'gpt-4o-2024-08-06'));
    await same(async (side) => streamed(await chatOpenAI(side).stream('Count.')), text({ kind: 'text', text: 'one two three' }), complete('openai-chat', true));
  });

  test('ChatOpenAI: a tool call, structured output, a served model other than the one requested', async () => {
    await same(async (side) => (await chatOpenAI(side).bindTools([weatherTool]).invoke('Weather?')).tool_calls?.map((call) => call.args), text(WEATHER_CALL), complete('openai-chat', false));
    await same(async (side) => chatOpenAI(side).withStructuredOutput(WEATHER_PARAMETERS, { name: 'weather', method: 'jsonSchema' }).invoke('Weather?'), text({ kind: 'text', text: '{"city":"Zürich","unit":"celsius"}' }), complete('openai-chat', false));
    await same(async (side) => (await chatOpenAI(side).invoke('Hi.')).response_metadata['model_name'], text({ kind: 'text', text: 'Hi.', servedModel: 'gpt-4o-2024-11-20' }), complete('openai-chat', false, 'gpt-4o-2024-11-20'));
  });

  test('ChatOpenAI: a 400 and a 500 (maxRetries 0)', async () => {
    await same(async (side) => (await chatOpenAI(side).invoke('Hi.')).content, text({ kind: 'error', status: 400 }), httpStatus('openai-chat', 400));
    await same(async (side) => (await chatOpenAI(side).invoke('Hi.')).content, text({ kind: 'error', status: 500 }), httpStatus('openai-chat', 500));
  });

  test('ChatAnthropic: invoke and stream', async () => {
    await same(async (side) => (await chatAnthropic(side).invoke('Say hello.')).content, text({ kind: 'text', text: 'Hello, LangChain.' }), complete('anthropic-messages', false, 'claude-sonnet-4-5-20250929'));
    await same(async (side) => streamed(await chatAnthropic(side).stream('Count.')), text({ kind: 'text', text: 'one two three' }), complete('anthropic-messages', true));
  });

  test('ChatAnthropic: a tool call, an image input', async () => {
    await same(async (side) => (await chatAnthropic(side).bindTools([weatherTool]).invoke('Weather?')).tool_calls?.map((call) => call.args), text(WEATHER_CALL), complete('anthropic-messages', false));
    await same(async (side) => (await chatAnthropic(side).invoke([{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } }, { type: 'text', text: 'What is this?' }] }])).content, text({ kind: 'text', text: 'A pixel.' }), complete('anthropic-messages', false));
  });

  test('ChatAnthropic: a 400 and a 500 (maxRetries 0)', async () => {
    await same(async (side) => (await chatAnthropic(side).invoke('Hi.')).content, text({ kind: 'error', status: 400 }), httpStatus('anthropic-messages', 400));
    await same(async (side) => (await chatAnthropic(side).invoke('Hi.')).content, text({ kind: 'error', status: 500 }), httpStatus('anthropic-messages', 500));
  });

  // LangChain's nested @anthropic-ai/sdk throws at the event too: aborted in process (the product bug above).
  test('ChatAnthropic: a provider error event mid-stream', async () => {
    await same(async (side) => streamed(await chatAnthropic(side).stream('Count.')), text({ kind: 'text', text: LONG_TEXT, errorAfterEvents: 4 }),
      { format: 'anthropic-messages', outcome: 'complete', incomplete: { reason: 'provider-error', code: 'ERR_OUTPUT_PROVIDER_ERROR' }, status: 200, stream: true });
  });

  test('ChatAnthropic: a stream the upstream cuts; ChatOpenAI: a stream the caller aborts (signal)', async () => {
    await same(async (side) => streamed(await chatAnthropic(side).stream('Count.')), text({ kind: 'text', text: LONG_TEXT, cutAfterEvents: 5 }),
      { format: 'anthropic-messages', outcome: 'network-error', incomplete: { reason: 'cut', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
    await same(async (side) => {
      const controller = new AbortController();
      const parts: unknown[] = [];
      try {
        for await (const chunk of await chatOpenAI(side).stream('Count.', { signal: controller.signal })) {
          parts.push(chunk.content);
          if (parts.length === 2) controller.abort();
        }
      } catch (error) {
        parts.push(`threw ${(error as Error).name}`);
      }
      return parts;
    }, paused, { format: 'openai-chat', outcome: 'aborted', incomplete: { reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, status: 200, stream: true });
  });
});
