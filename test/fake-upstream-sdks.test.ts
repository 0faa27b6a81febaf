/**
 * The official SDK clients (openai, @anthropic-ai/sdk, the Vercel AI SDK with @ai-sdk/openai and
 * @ai-sdk/anthropic, LangChain.js) pointed at the fake upstream by their base-URL option, with a
 * custom `fetch` that records what it was given and calls globalThis.fetch. Each call checks that
 * the SDK read the answer, that the fake received exactly the body bytes the SDK handed to
 * `fetch`, and the API key header. The fake's streams and JSON bodies give the same SPEC 12 output
 * digest, and test/fixtures/sdk-wire/ holds what each client sent and got. These facts are what live capture builds on (docs/decisions/0009-fake-upstream.md).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { APICallError, generateText, jsonSchema, Output, streamText, tool, type ToolSet } from 'ai';
import OpenAI from 'openai';
import { z } from 'zod';
import { runOutputFrom, type RequestFormat } from '../src/providers/index.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';
import { buildSdkWireFixtures, formatSdkWireFixture, SDK_WIRE_FOLDER, type SdkWireFixture } from './helpers/fake-upstream/sdk-wire.ts';

interface SentCall {
  input: unknown;
  init: RequestInit | undefined;
  body: Buffer;
}

const sent: SentCall[] = [];
let upstream: FakeUpstream;

/** The custom fetch every client gets: records the bytes it was handed, then calls the real fetch. */
const recordingFetch = (async (input: string | URL | Request, init?: RequestInit) => {
  sent.push({ input, init, body: await bodyBytes(input, init) });
  return globalThis.fetch(input, init);
}) as typeof fetch;

async function bodyBytes(input: string | URL | Request, init: RequestInit | undefined): Promise<Buffer> {
  const body = init?.body ?? (input instanceof Request ? await input.clone().arrayBuffer() : undefined);
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return Buffer.from(body as Uint8Array);
  throw new Error(`unexpected body type ${Object.prototype.toString.call(body)}`);
}

/**
 * Runs `call` and returns the requests the fake received meanwhile, after checking each against
 * what the SDK handed to fetch: same body bytes, a string URL, and the credential header.
 */
async function exchange<T>(credential: [string, string], call: () => Promise<T>, ...script: Scenario[]): Promise<{ result: T; received: RecordedRequest[] }> {
  upstream.enqueue(...script);
  const sentMark = sent.length;
  const receivedMark = upstream.requests.length;
  const result = await call();
  await upstream.settled();
  const calls = sent.slice(sentMark);
  const received = upstream.requests.slice(receivedMark);
  assert.ok(received.length > 0, 'the fake upstream received the request');
  assert.equal(received.length, calls.length, 'every fetch reached the fake upstream');
  received.forEach((request, index) => {
    const call = calls[index]!;
    assert.equal(typeof call.input, 'string', 'the SDK passes the URL as a string, not a Request');
    assert.equal(upstream.url + request.path, call.input);
    assert.ok(request.body.equals(call.body), 'the fake received exactly the bytes the SDK sent');
    assert.equal(request.headers[credential[0]], credential[1]);
  });
  return { result, received };
}

/** Like exchange, for a call that must fail: returns the error. */
async function failedExchange(credential: [string, string], call: () => Promise<unknown>, ...script: Scenario[]): Promise<{ error: unknown; received: RecordedRequest[] }> {
  const { result, received } = await exchange(credential, () => call().then(
    () => assert.fail('the call should have failed'),
    (error: unknown) => error,
  ), ...script);
  return { error: result, received };
}

function json(request: RecordedRequest): { [key: string]: unknown } {
  return JSON.parse(request.body.toString('utf8')) as { [key: string]: unknown };
}

const WEATHER_CALL: Scenario = { kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Zürich","unit":"celsius"}' }] };
const WEATHER_PARAMETERS = {
  type: 'object' as const,
  properties: { city: { type: 'string' }, unit: { type: 'string' } },
  required: ['city', 'unit'],
  additionalProperties: false,
};
// A 1x1 PNG.
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  await upstream.close();
});

describe('openai', () => {
  const key: [string, string] = ['authorization', 'Bearer sk-test-openai'];
  const client = () => new OpenAI({ apiKey: 'sk-test-openai', baseURL: `${upstream.url}/v1`, fetch: recordingFetch, maxRetries: 0 });

  test('chat completion: text, served model and system fingerprint', async () => {
    const { result, received } = await exchange(key, () => client().chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }],
    }), { kind: 'text', text: 'Hello there.' });
    assert.equal(result.choices[0]?.message.content, 'Hello there.');
    assert.equal(result.model, 'gpt-4o-2024-08-06');
    assert.equal(result.system_fingerprint, 'fp_fake0001');
    assert.equal(received[0]?.path, '/v1/chat/completions');
    assert.equal(received[0]?.headers['x-stainless-retry-count'], '0');
  });

  test('chat completion stream with usage, and an image input', async () => {
    const { result, received } = await exchange(key, async () => {
      const stream = await client().chat.completions.create({
        model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
        messages: [{ role: 'user', content: [
          { type: 'text', text: 'What is in this image?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
        ] }],
      });
      let text = '';
      let usage: unknown = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      return { text, usage };
    }, { kind: 'text', text: 'A single white pixel.' });
    assert.equal(result.text, 'A single white pixel.');
    assert.equal((result.usage as { completion_tokens: number }).completion_tokens, 4);
    assert.ok(received[0]?.body.includes(PNG_BASE64));
    assert.match(received[0]!.response.body.toString('utf8'), /data: \[DONE\]\n\n$/);
  });

  test('chat completion stream with a tool call, arguments in pieces', async () => {
    const { result, received } = await exchange(key, async () => {
      const stream = await client().chat.completions.create({
        model: 'gpt-4o', stream: true,
        messages: [{ role: 'user', content: 'Weather in Zürich?' }],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER_PARAMETERS } }],
      });
      let name = '';
      let args = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
          name += call.function?.name ?? '';
          args += call.function?.arguments ?? '';
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { name, args, finish };
    }, { ...WEATHER_CALL, argumentPieces: 4 });
    assert.deepEqual(result, { name: 'get_weather', args: '{"city":"Zürich","unit":"celsius"}', finish: 'tool_calls' });
    assert.equal(received[0]!.response.body.toString('utf8').match(/"arguments":"[^"]/g)?.length, 4);
  });

  test('structured output: response_format json_schema', async () => {
    const { result, received } = await exchange(key, () => client().chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'user', content: 'Weather?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema: WEATHER_PARAMETERS } },
    }), { kind: 'text', text: '{"city":"Zürich","unit":"celsius"}' });
    assert.deepEqual(JSON.parse(result.choices[0]?.message.content ?? ''), { city: 'Zürich', unit: 'celsius' });
    assert.equal((json(received[0]!)['response_format'] as { type: string }).type, 'json_schema');
  });

  test('responses: JSON and stream, text and a function call', async () => {
    const plain = await exchange(key, () => client().responses.create({ model: 'gpt-4.1', input: 'Say hello.' }), { kind: 'text', text: 'Hello there.' });
    assert.equal(plain.result.output_text, 'Hello there.');
    assert.equal(plain.result.model, 'gpt-4.1-2025-04-14');
    const streamed = await exchange(key, async () => {
      const events: string[] = [];
      let args = '';
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of await client().responses.create({ model: 'gpt-4.1', input: 'Weather?', stream: true })) {
        events.push(event.type);
        if (event.type === 'response.function_call_arguments.delta') args += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      return { events, args, completed };
    }, { ...WEATHER_CALL, text: 'Checking.' });
    assert.equal(streamed.result.events[0], 'response.created');
    assert.equal(streamed.result.events.at(-1), 'response.completed');
    assert.equal(streamed.result.args, '{"city":"Zürich","unit":"celsius"}');
    assert.deepEqual(streamed.result.completed?.output.map((item) => item.type), ['message', 'function_call']);
    assert.equal(streamed.received[0]?.path, '/v1/responses');
  });

  test('4xx: the error body in OpenAI shape reaches the caller, no retry', async () => {
    const { error, received } = await failedExchange(key, () => client().chat.completions.create({
      model: 'gpt-nope', messages: [{ role: 'user', content: 'Hi' }],
    }), { kind: 'error', status: 404 });
    assert.ok(error instanceof OpenAI.NotFoundError);
    assert.equal(error.code, 'model_not_found');
    assert.equal(received.length, 1);
  });

  test('5xx is retried by default (twice), honouring retry-after-ms; each retry is a new request', async () => {
    const retrying = new OpenAI({ apiKey: 'sk-test-openai', baseURL: `${upstream.url}/v1`, fetch: recordingFetch });
    const retryNow = { 'retry-after-ms': '1' };
    const { result, received } = await exchange(key, () => retrying.chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }],
    }), { kind: 'error', status: 500, headers: retryNow }, { kind: 'error', status: 503, headers: retryNow }, { kind: 'text', text: 'Third time.' });
    assert.equal(result.choices[0]?.message.content, 'Third time.');
    assert.deepEqual(received.map((request) => request.headers['x-stainless-retry-count']), ['0', '1', '2']);
    assert.deepEqual(received.map((request) => request.response.status), [500, 503, 200]);
    assert.ok(received.every((request) => request.body.equals(received[0]!.body)), 'a retry sends the same body bytes');
  });

  test('a delay before the headers times the client out; the fake sees the client go', async () => {
    const { error, received } = await failedExchange(key, () => client().chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }, { timeout: 1000 },
    ), { kind: 'text', text: 'Too late.', headersDelayMs: 60_000 });
    assert.ok(error instanceof OpenAI.APIConnectionTimeoutError);
    assert.equal(received[0]?.response.outcome, 'client-closed');
    assert.equal(received[0]?.response.status, null);
  });

  test('a stream cut off mid-way fails the iteration after the events that arrived', async () => {
    const texts: string[] = [];
    const { error, received } = await failedExchange(key, async () => {
      const stream = await client().chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Count.' }] });
      for await (const chunk of stream) texts.push(chunk.choices[0]?.delta.content ?? '');
    }, { kind: 'text', text: 'one two three four five', cutAfterEvents: 3, eventDelayMs: 5 });
    assert.ok(error instanceof Error);
    assert.deepEqual(texts, ['', 'one ', 'two ']);
    assert.equal(received[0]?.response.outcome, 'cut');
  });

  test('an error event mid-stream (Chat and Responses) fails the iteration with an APIError', async () => {
    const failing = { kind: 'text', text: 'one two three four', errorAfterEvents: 2 } as const;
    const chat = await failedExchange(key, async () => {
      for await (const _ of await client().chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }] })) void _;
    }, failing);
    assert.ok(chat.error instanceof OpenAI.APIError);
    assert.match(chat.error.message, /The server had an error/);
    const responses = await failedExchange(key, async () => {
      for await (const _ of await client().responses.create({ model: 'gpt-4.1', input: 'Hi', stream: true })) void _;
    }, failing);
    assert.ok(responses.error instanceof OpenAI.APIError);
    assert.deepEqual([...chat.received, ...responses.received].map((request) => request.response.outcome), ['complete', 'complete']);
  });

  test('a client that aborts a slow stream: the iteration ends quietly, the fake records what it wrote', async () => {
    const controller = new AbortController();
    const { result, received } = await exchange(key, async () => {
      const texts: string[] = [];
      const stream = await client().chat.completions.create(
        { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Count slowly.' }] }, { signal: controller.signal },
      );
      for await (const chunk of stream) {
        texts.push(chunk.choices[0]?.delta.content ?? '');
        if (texts.length === 2) controller.abort();
      }
      return texts;
    }, { kind: 'text', text: 'one two three four five six seven eight', eventDelayMs: 100 });
    // Events already buffered when the abort lands may still be yielded; the rest never comes.
    assert.deepEqual(result.slice(0, 2), ['', 'one ']);
    assert.ok(result.length < 9);
    const response = received[0]!.response;
    assert.equal(response.outcome, 'client-closed');
    assert.ok(!response.body.toString('utf8').includes('[DONE]'));
  });

  test('models list passes through', async () => {
    const { result } = await exchange(key, async () => {
      const ids: string[] = [];
      for await (const model of client().models.list()) ids.push(model.id);
      return ids;
    });
    assert.ok(result.includes('gpt-4o-2024-08-06'));
  });
});

describe('@anthropic-ai/sdk', () => {
  // This major sends the API key as a bearer token, not x-api-key.
  const key: [string, string] = ['authorization', 'Bearer sk-test-anthropic'];
  const client = (maxRetries = 0) => new Anthropic({ apiKey: 'sk-test-anthropic', baseURL: upstream.url, fetch: recordingFetch, maxRetries });
  const ask = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Say hello.' }] };

  test('message: text, served model, anthropic-version header', async () => {
    const { result, received } = await exchange(key, () => client().messages.create(ask), { kind: 'text', text: 'Hello there.' });
    assert.deepEqual(result.content, [{ type: 'text', text: 'Hello there.' }]);
    assert.equal(result.model, 'claude-sonnet-4-5-20250929');
    assert.equal(result.stop_reason, 'end_turn');
    assert.ok(typeof received[0]?.headers['anthropic-version'] === 'string');
  });

  test('stream with an image input: events in order, text assembled', async () => {
    const { result, received } = await exchange(key, async () => {
      const events: string[] = [];
      let text = '';
      const stream = await client().messages.create({
        ...ask, stream: true,
        messages: [{ role: 'user', content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_BASE64 } },
          { type: 'text', text: 'What is this?' },
        ] }],
      });
      for await (const event of stream) {
        events.push(event.type);
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      }
      return { events, text };
    }, { kind: 'text', text: 'A single pixel.' });
    assert.equal(result.text, 'A single pixel.');
    assert.deepEqual(result.events.slice(0, 2), ['message_start', 'content_block_start']);
    assert.deepEqual(result.events.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    assert.ok(received[0]?.body.includes(PNG_BASE64));
    assert.match(received[0]!.response.body.toString('utf8'), /event: ping\n/);
  });

  test('streamed tool use through the stream helper', async () => {
    const { result } = await exchange(key, () => client().messages.stream({
      ...ask, tools: [{ name: 'get_weather', input_schema: WEATHER_PARAMETERS }],
    }).finalMessage(), { ...WEATHER_CALL, text: 'Let me check.', argumentPieces: 5 });
    assert.equal(result.stop_reason, 'tool_use');
    assert.deepEqual(result.content.map((block) => block.type), ['text', 'tool_use']);
    const call = result.content[1];
    assert.ok(call?.type === 'tool_use');
    assert.deepEqual(call.input, { city: 'Zürich', unit: 'celsius' });
  });

  test('4xx and 529: Anthropic error bodies reach the caller', async () => {
    const bad = await failedExchange(key, () => client().messages.create(ask), { kind: 'error', status: 400, message: 'max_tokens: too large' });
    assert.ok(bad.error instanceof Anthropic.BadRequestError);
    assert.deepEqual(bad.error.error, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: too large' }, request_id: 'req_fake0001' });
    const overloaded = await failedExchange(key, () => client().messages.create(ask), { kind: 'error', status: 529 });
    assert.ok(overloaded.error instanceof Anthropic.APIError);
    assert.equal(overloaded.error.status, 529);
  });

  test('an overloaded_error event mid-stream fails the iteration', async () => {
    const { error } = await failedExchange(key, async () => {
      for await (const _ of await client().messages.create({ ...ask, stream: true })) void _;
    }, { kind: 'text', text: 'one two three', errorAfterEvents: 4 });
    assert.ok(error instanceof Anthropic.APIError);
    assert.match(error.message, /overloaded_error/);
  });

  test('a JSON body cut off mid-way is sent again by the SDK itself', async () => {
    const { result, received } = await exchange(key, () => client(2).messages.create(ask),
      { kind: 'text', text: 'Cut.', cutAfterBytes: 40 }, { kind: 'text', text: 'Whole.' });
    assert.deepEqual(result.content, [{ type: 'text', text: 'Whole.' }]);
    assert.deepEqual(received.map((request) => request.response.outcome), ['cut', 'complete']);
  });

  test('models list passes through', async () => {
    const { result } = await exchange(key, async () => {
      const ids: string[] = [];
      for await (const model of client().models.list()) ids.push(model.id);
      return ids;
    });
    assert.ok(result.includes('claude-sonnet-4-5-20250929'));
  });
});

describe('ai with @ai-sdk/openai and @ai-sdk/anthropic', () => {
  const openaiKey: [string, string] = ['authorization', 'Bearer sk-test-ai-openai'];
  const anthropicKey: [string, string] = ['x-api-key', 'sk-test-ai-anthropic'];
  const openai = () => createOpenAI({ apiKey: 'sk-test-ai-openai', baseURL: `${upstream.url}/v1`, fetch: recordingFetch });
  const anthropic = () => createAnthropic({ apiKey: 'sk-test-ai-anthropic', baseURL: `${upstream.url}/v1`, fetch: recordingFetch });
  // A tool without execute: the call comes back to the caller. (The cast: ai's Tool types and exactOptionalPropertyTypes disagree.)
  const weatherTools = { get_weather: tool({ description: 'Weather for a city', inputSchema: z.object({ city: z.string(), unit: z.string() }) }) } as ToolSet;

  test('openai: the default model is the Responses API; chat() is Chat Completions', async () => {
    const responses = await exchange(openaiKey, () => generateText({ model: openai()('gpt-4.1'), prompt: 'Say hello.', maxRetries: 0 }), { kind: 'text', text: 'Hello there.' });
    assert.equal(responses.result.text, 'Hello there.');
    assert.equal(responses.result.response.modelId, 'gpt-4.1-2025-04-14');
    assert.equal(responses.received[0]?.path, '/v1/responses');
    const chat = await exchange(openaiKey, () => generateText({ model: openai().chat('gpt-4o'), prompt: 'Say hello.', maxRetries: 0 }), { kind: 'text', text: 'Hello chat.' });
    assert.equal(chat.result.text, 'Hello chat.');
    assert.equal(chat.received[0]?.path, '/v1/chat/completions');
  });

  test('openai: streamed text and a streamed tool call', async () => {
    const text = await exchange(openaiKey, async () => {
      let out = '';
      for await (const part of streamText({ model: openai().chat('gpt-4o'), prompt: 'Count.', maxRetries: 0 }).textStream) out += part;
      return out;
    }, { kind: 'text', text: 'one two three' });
    assert.equal(text.result, 'one two three');
    const call = await exchange(openaiKey, async () => {
      const result = streamText({ model: openai()('gpt-4.1'), prompt: 'Weather?', tools: weatherTools, maxRetries: 0 });
      return result.toolCalls;
    }, WEATHER_CALL);
    assert.equal(call.result[0]?.toolName, 'get_weather');
    assert.deepEqual(call.result[0]?.input, { city: 'Zürich', unit: 'celsius' });
  });

  test('openai: structured output', async () => {
    const { result, received } = await exchange(openaiKey, () => generateText({
      model: openai().chat('gpt-4o'), prompt: 'Weather?', maxRetries: 0,
      output: Output.object({ schema: jsonSchema<{ city: string; unit: string }>(WEATHER_PARAMETERS) }),
    }), { kind: 'text', text: '{"city":"Zürich","unit":"celsius"}' });
    assert.deepEqual(result.output, { city: 'Zürich', unit: 'celsius' });
    assert.equal((json(received[0]!)['response_format'] as { type: string }).type, 'json_schema');
  });

  test('anthropic: text, streamed tool call, and a 4xx', async () => {
    const plain = await exchange(anthropicKey, () => generateText({ model: anthropic()('claude-sonnet-4-5'), prompt: 'Say hello.', maxRetries: 0 }), { kind: 'text', text: 'Hello there.' });
    assert.equal(plain.result.text, 'Hello there.');
    assert.equal(plain.result.response.modelId, 'claude-sonnet-4-5-20250929');
    const call = await exchange(anthropicKey, async () => {
      const result = streamText({ model: anthropic()('claude-sonnet-4-5'), prompt: 'Weather?', tools: weatherTools, maxRetries: 0 });
      return result.toolCalls;
    }, { ...WEATHER_CALL, text: 'Checking.' });
    assert.deepEqual(call.result[0]?.input, { city: 'Zürich', unit: 'celsius' });
    const { error } = await failedExchange(anthropicKey, () => generateText({ model: anthropic()('claude-sonnet-4-5'), prompt: 'Hi', maxRetries: 0 }), { kind: 'error', status: 401 });
    assert.ok(APICallError.isInstance(error));
    assert.equal(error.statusCode, 401);
    assert.match(error.message, /invalid x-api-key/);
  });

  test('a 429 is retried by generateText itself, honouring retry-after-ms', async () => {
    const { result, received } = await exchange(openaiKey, () => generateText({ model: openai().chat('gpt-4o'), prompt: 'Hi' }),
      { kind: 'error', status: 429, headers: { 'retry-after-ms': '1' } }, { kind: 'text', text: 'After the limit.' });
    assert.equal(result.text, 'After the limit.');
    assert.deepEqual(received.map((request) => request.response.status), [429, 200]);
  });
});

describe('LangChain.js', () => {
  const openaiKey: [string, string] = ['authorization', 'Bearer sk-test-lc-openai'];
  const anthropicKey: [string, string] = ['x-api-key', 'sk-test-lc-anthropic'];
  const openai = () => new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk-test-lc-openai', maxRetries: 0, configuration: { baseURL: `${upstream.url}/v1`, fetch: recordingFetch } });
  const anthropic = () => new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: 'sk-test-lc-anthropic', maxRetries: 0, anthropicApiUrl: upstream.url, clientOptions: { fetch: recordingFetch } });
  const weatherTool = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city', parameters: WEATHER_PARAMETERS } };

  test('ChatOpenAI: invoke, stream, a tool call and a 5xx', async () => {
    const plain = await exchange(openaiKey, () => openai().invoke('Say hello.'), { kind: 'text', text: 'Hello there.' });
    assert.equal(plain.result.content, 'Hello there.');
    assert.equal(plain.result.response_metadata['model_name'], 'gpt-4o-2024-08-06');
    const streamed = await exchange(openaiKey, async () => {
      let text = '';
      for await (const chunk of await openai().stream('Count.')) text += String(chunk.content);
      return text;
    }, { kind: 'text', text: 'one two three' });
    assert.equal(streamed.result, 'one two three');
    const call = await exchange(openaiKey, () => openai().bindTools([weatherTool]).invoke('Weather?'), WEATHER_CALL);
    assert.deepEqual(call.result.tool_calls?.[0]?.args, { city: 'Zürich', unit: 'celsius' });
    const { error } = await failedExchange(openaiKey, () => openai().invoke('Hi'), { kind: 'error', status: 500 });
    assert.equal((error as { status?: number }).status, 500);
  });

  test('ChatAnthropic: invoke, stream, a tool call and a 4xx', async () => {
    const plain = await exchange(anthropicKey, () => anthropic().invoke('Say hello.'), { kind: 'text', text: 'Hello there.' });
    assert.equal(plain.result.content, 'Hello there.');
    const streamed = await exchange(anthropicKey, async () => {
      let text = '';
      for await (const chunk of await anthropic().stream('Count.')) text += typeof chunk.content === 'string' ? chunk.content : '';
      return text;
    }, { kind: 'text', text: 'one two three' });
    assert.equal(streamed.result, 'one two three');
    const call = await exchange(anthropicKey, () => anthropic().bindTools([weatherTool]).invoke('Weather?'), WEATHER_CALL);
    assert.deepEqual(call.result.tool_calls?.[0]?.args, { city: 'Zürich', unit: 'celsius' });
    const { error } = await failedExchange(anthropicKey, () => anthropic().invoke('Hi'), { kind: 'error', status: 403 });
    assert.equal((error as { status?: number }).status, 403);
  });
});

describe('the fake answers the same output streamed and not (SPEC 12)', () => {
  const cases = [
    { format: 'openai-chat', path: '/v1/chat/completions', body: { model: 'gpt-4o', messages: [] }, streamExtra: { stream_options: { include_usage: true } } },
    { format: 'openai-responses', path: '/v1/responses', body: { model: 'gpt-4.1', input: 'x' }, streamExtra: {} },
    { format: 'anthropic-messages', path: '/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 9, messages: [] }, streamExtra: {} },
  ] as const;
  for (const { format, path, body, streamExtra } of cases) {
    test(format, async () => {
      for (const scenario of [{ kind: 'text', text: 'Grüße aus Zürich.' }, { ...WEATHER_CALL, text: 'Checking.' }] as Scenario[]) {
        const bodies: Buffer[] = [];
        for (const request of [body, { ...body, stream: true, ...streamExtra }]) {
          upstream.enqueue(scenario);
          const response = await fetch(upstream.url + path, { method: 'POST', body: JSON.stringify(request) });
          bodies.push(Buffer.from(await response.arrayBuffer()));
        }
        const [whole, streamed] = bodies.map((bytes) => runOutputFrom(new Uint8Array(bytes), format));
        assert.equal(streamed?.stream, true);
        assert.equal(whole?.stream, false);
        assert.deepEqual(streamed?.digest, whole?.digest);
        assert.deepEqual(streamed?.served, whole?.served);
        assert.equal(streamed?.finishReason, whole?.finishReason);
      }
    });
  }

  test('an error event mid-stream is a provider error (SPEC 12), never an output', async () => {
    for (const { format, path, body, streamExtra } of cases) {
      upstream.enqueue({ kind: 'text', text: 'one two three', errorAfterEvents: 3 });
      const response = await fetch(upstream.url + path, { method: 'POST', body: JSON.stringify({ ...body, stream: true, ...streamExtra }) });
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.throws(() => runOutputFrom(bytes, format), { code: 'ERR_OUTPUT_PROVIDER_ERROR' }, format);
    }
  });

  test('deterministic by default, varied on request', async () => {
    const ask = () => fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', body: '{"model":"gpt-4o","messages":[]}' }).then((response) => response.text());
    assert.equal(await ask(), await ask());
    const varied = await startFakeUpstream({ deterministic: false });
    try {
      const first = await fetch(`${varied.url}/v1/messages`, { method: 'POST', body: '{"model":"m"}' }).then((response) => response.json()) as { content: [{ text: string }] };
      const second = await fetch(`${varied.url}/v1/messages`, { method: 'POST', body: '{"model":"m"}' }).then((response) => response.json()) as { content: [{ text: string }] };
      assert.notEqual(first.content[0].text, second.content[0].text);
    } finally {
      await varied.close();
    }
  });
});

describe('the fake upstream itself', () => {
  test('a body that is not a JSON object is a 400, an unknown route a 404, each in the provider\'s error shape', async () => {
    const anthropic = await fetch(`${upstream.url}/v1/messages`, { method: 'POST', body: 'not json' });
    assert.equal(anthropic.status, 400);
    assert.equal(((await anthropic.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    const openai = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', body: '[1]' });
    assert.equal(openai.status, 400);
    assert.equal(((await openai.json()) as { error: { param: null } }).error.param, null);
    const unknown = await fetch(`${upstream.url}/v1/files`, { headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { type: string }).type, 'error');
    assert.deepEqual(upstream.requests.slice(-3).map((request) => request.response.status), [400, 400, 404]);
  });
});

describe('test/fixtures/sdk-wire', () => {
  test('rebuilt from the pinned SDKs and the fake, they equal the committed files', async () => {
    const fixtures = await buildSdkWireFixtures();
    assert.deepEqual(readdirSync(SDK_WIRE_FOLDER).filter((name) => name.endsWith('.json')).sort(), [...fixtures.keys()].sort());
    for (const [name, fixture] of fixtures) {
      assert.equal(readFileSync(new URL(name, SDK_WIRE_FOLDER), 'utf8'), formatSdkWireFixture(fixture), `${name} drifted: run node scripts/sdk-wire-fixtures.ts`);
    }
  });

  test('every 200 answer has an output digest under SPEC 12, every error body is a provider error', () => {
    const formats: Record<string, RequestFormat> = { '/v1/chat/completions': 'openai-chat', '/v1/responses': 'openai-responses', '/v1/messages': 'anthropic-messages' };
    for (const name of readdirSync(SDK_WIRE_FOLDER)) {
      const fixture = JSON.parse(readFileSync(new URL(name, SDK_WIRE_FOLDER), 'utf8')) as SdkWireFixture;
      const body = new TextEncoder().encode(fixture.response.body);
      const format = formats[fixture.path];
      assert.ok(format !== undefined, name);
      if (fixture.response.status === 200) {
        assert.notEqual(runOutputFrom(body, format).digest, null, name);
      } else {
        assert.throws(() => runOutputFrom(body, format), { code: 'ERR_OUTPUT_PROVIDER_ERROR' }, name);
      }
    }
  });
});
