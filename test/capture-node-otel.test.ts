/**
 * In-process spans: with @opentelemetry/api and a registered tracer provider (the OpenTelemetry
 * SDK's in-memory exporter here), runprintFetch makes one CLIENT span per call, a child of the
 * span active when the call started, with the GenAI attributes and runprint's identities, from
 * a tracer named runprint with the package's version (as the proxy's OTLP scope).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { runprintFetch, withSteps } from '../src/capture-node/index.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { startStreamMismatchUpstream } from './helpers/stream-mismatch-upstream.ts';
import { GENAI_CALLS, REQUEST_ATTRIBUTE_KEYS, startGenaiUpstream } from './helpers/genai-request-attributes.ts';

let upstream: FakeUpstream;
let dir: string;
const exporter = new InMemorySpanExporter();
before(async () => {
  upstream = await startFakeUpstream();
  dir = mkdtempSync(join(tmpdir(), 'runprint-otel-'));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});
after(async () => {
  trace.disable();
  context.disable();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

test('one span per call, in the caller\'s trace, with GenAI attributes and runprint identities', async () => {
  const wrapped = runprintFetch({ data: dir });
  const client = new OpenAI({ apiKey: 'sk-otel-in-process', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
  const tracer = trace.getTracer('application');
  upstream.enqueue({ kind: 'text', text: 'Traced in process.' });
  const parent = await withSteps(async () => {
    const step = await tracer.startActiveSpan('agent step', async (span) => {
      await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
      span.end();
      return span.spanContext();
    });
    upstream.enqueue({ kind: 'error', status: 429, message: 'slow down' });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Again' }] }).catch(() => undefined);
    return step;
  });
  await wrapped.close();
  const spans = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'runprint');
  assert.equal(spans.length, 2);
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const span of spans) assert.equal(span.instrumentationScope.version, version, 'the tracer has the package version');
  const [ok, failed] = spans;
  assert.equal(ok!.name, 'chat gpt-4o');
  assert.equal(ok!.kind, 2, 'CLIENT');
  assert.equal(ok!.spanContext().traceId, parent.traceId, 'in the caller\'s trace');
  assert.equal(ok!.parentSpanContext?.spanId, parent.spanId, 'a child of the span active when the call started');
  assert.equal(ok!.attributes['gen_ai.provider.name'], 'openai');
  assert.equal(ok!.attributes['gen_ai.request.model'], 'gpt-4o');
  assert.equal(ok!.attributes['gen_ai.response.model'], 'gpt-4o-2024-08-06');
  assert.deepEqual(ok!.attributes['gen_ai.response.finish_reasons'], ['stop']);
  assert.match(String(ok!.attributes['runprint.run.id']), /^rp-run-v1-sha256-/);
  assert.match(String(ok!.attributes['runprint.component.system.digest']), /^sha256:[0-9a-f]{64}$/);
  assert.equal(ok!.attributes['runprint.run.parents'], undefined, 'no parents, no attribute');
  assert.deepEqual(failed!.attributes['runprint.run.parents'], [ok!.attributes['runprint.run.id']], 'a step names the run it follows from');
  assert.equal(failed!.attributes['error.type'], '429');
  assert.equal(failed!.status.code, SpanStatusCode.ERROR);
  assert.ok(!JSON.stringify(spans.map((span) => span.attributes)).includes('sk-otel-in-process'), 'no credential in a span');
});

test('gen_ai.request.stream is the request\'s "stream": true, whatever the answer\'s body was', async () => {
  // An upstream that answers a streamed request with a JSON error and a plain one with text/plain.
  const odd = await startStreamMismatchUpstream();
  exporter.reset();
  const wrapped = runprintFetch({ data: dir });
  try {
    const url = `${odd.url}/v1/chat/completions`;
    for (const body of [{ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Stream please' }] }, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Plain please' }] }]) {
      await (await wrapped(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).arrayBuffer();
    }
  } finally {
    await wrapped.close();
    await odd.close();
  }
  const spans = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'runprint');
  assert.deepEqual(spans.map((span) => [span.name, span.attributes['gen_ai.request.stream'], span.attributes['error.type']]), [['chat gpt-4o', true, '400'], ['chat gpt-4o-mini', false, '500']]);
});

test('in process too: gen_ai.response.id from the answer (JSON or streamed), gen_ai.request.temperature, top_p and max_tokens from the request', async () => {
  exporter.reset();
  const wrapped = runprintFetch({ data: dir });
  const answered: string[] = [];
  try {
    for (const [path, body] of [
      ['/v1/chat/completions', { model: 'gpt-4o', stream: true, temperature: 0.7, top_p: 1, max_completion_tokens: 40, messages: [{ role: 'user', content: 'Hi' }] }],
      ['/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }],
    ] as const) {
      upstream.enqueue({ kind: 'text', text: 'Settings.' });
      const text = await (await wrapped(`${upstream.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) })).text();
      answered.push(JSON.parse('stream' in body ? /^data: (.*)$/m.exec(text)![1]! : text).id);
    }
  } finally {
    await wrapped.close();
  }
  const spans = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'runprint');
  const settings = spans.map((span) => Object.fromEntries(Object.entries(span.attributes).filter(([key]) => /^gen_ai\.(response\.id|request\.(temperature|top_p|max_tokens))$/.test(key))));
  assert.deepEqual(settings, [
    { 'gen_ai.response.id': answered[0], 'gen_ai.request.temperature': 0.7, 'gen_ai.request.top_p': 1, 'gen_ai.request.max_tokens': 40 },
    { 'gen_ai.response.id': answered[1], 'gen_ai.request.max_tokens': 64 },
  ]);
  assert.match(answered[0]!, /^chatcmpl-/);
  assert.match(answered[1]!, /^msg_/);
});

test('in process too: gen_ai.request.stop_sequences, openai.request.service_tier (not auto) and gen_ai.usage.reasoning.output_tokens, for Chat, Responses and Anthropic, JSON and streamed', async () => {
  const genai = await startGenaiUpstream();
  exporter.reset();
  const wrapped = runprintFetch({ data: dir });
  try {
    for (const call of GENAI_CALLS) {
      const response = await wrapped(`${genai.url}${call.path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(call.body) });
      assert.equal(response.status, 200, call.name);
      await response.text();
    }
  } finally {
    await wrapped.close();
    await genai.close();
  }
  const spans = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'runprint');
  assert.equal(spans.length, GENAI_CALLS.length);
  for (const call of GENAI_CALLS) {
    const span = spans.find((each) => each.attributes['gen_ai.response.id'] === call.responseId);
    assert.ok(span !== undefined, `${call.name}: its span, by the answer's id`);
    assert.equal(span.attributes['error.type'], undefined, `${call.name}: a whole answer`);
    assert.deepEqual(Object.fromEntries(Object.entries(span.attributes).filter(([key]) => REQUEST_ATTRIBUTE_KEYS.test(key))), call.expected, call.name);
  }
});

test('in process: no sampling setting is an attribute when the parameters are salted or kept by digest only, nor the requested service tier when the configuration is', async () => {
  const body = JSON.stringify({ model: 'gpt-4o', temperature: 0.3125, top_p: 0.75, frequency_penalty: 0.25, presence_penalty: 0.5, max_completion_tokens: 77, stop: ['END'], n: 3, seed: 1234, service_tier: 'flex', messages: [{ role: 'user', content: 'Hi' }] });
  const settingsWith = async (options: { salt?: string[]; keep?: string }): Promise<string[]> => {
    exporter.reset();
    const data = mkdtempSync(join(tmpdir(), 'runprint-otel-'));
    const wrapped = runprintFetch({ data, ...options });
    try {
      upstream.enqueue({ kind: 'text', text: 'Settings.' });
      await (await wrapped(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
    } finally {
      await wrapped.close();
      rmSync(data, { recursive: true, force: true });
    }
    const [span] = exporter.getFinishedSpans().filter((each) => each.instrumentationScope.name === 'runprint');
    assert.equal(span!.attributes['gen_ai.request.model'], 'gpt-4o');
    return Object.keys(span!.attributes).filter((key) => /^(gen_ai\.request\.(temperature|top_p|frequency_penalty|presence_penalty|max_tokens|stop_sequences|choice\.count|seed)|openai\.request\.service_tier)$/.test(key));
  };
  const SETTINGS = ['gen_ai.request.temperature', 'gen_ai.request.top_p', 'gen_ai.request.frequency_penalty', 'gen_ai.request.presence_penalty', 'gen_ai.request.max_tokens', 'gen_ai.request.stop_sequences', 'gen_ai.request.choice.count', 'gen_ai.request.seed'];
  const TIER = 'openai.request.service_tier';
  assert.deepEqual(await settingsWith({}), [...SETTINGS, TIER]);
  assert.deepEqual(await settingsWith({ salt: ['parameters'] }), [TIER], 'salted: the receipt holds a commitment only');
  assert.deepEqual(await settingsWith({ keep: 'parameters=digest' }), [TIER], 'kept by digest only');
  assert.deepEqual(await settingsWith({ salt: ['configuration'] }), SETTINGS, 'the configuration salted: no requested tier');
  assert.deepEqual(await settingsWith({ keep: 'configuration=digest' }), SETTINGS, 'the configuration kept by digest only: no requested tier');
  assert.deepEqual(await settingsWith({ salt: ['system'] }), [...SETTINGS, TIER], 'another component salted changes nothing');
});

test('in process too: Anthropic input tokens count the cached ones (cache_read and cache_creation their own attributes), and finish_reasons has every choice\'s', async () => {
  // A loopback upstream answering the two scripted bodies in turn.
  const replies = [
    { id: 'msg_cached', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [{ type: 'text', text: 'Cached.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 7, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 } },
    { id: 'chatcmpl-two', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', service_tier: 'default', system_fingerprint: 'fp_in_process', choices: [{ index: 0, message: { role: 'assistant', content: 'One.' }, finish_reason: 'stop' }, { index: 1, message: { role: 'assistant', content: 'Two' }, finish_reason: 'length' }], usage: { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 32 } } },
  ];
  const scripted = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(replies.shift())));
  });
  await new Promise<void>((resolve) => scripted.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(scripted.address() as AddressInfo).port}`;
  exporter.reset();
  const wrapped = runprintFetch({ data: dir });
  try {
    await (await wrapped(`${base}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }) })).text();
    await (await wrapped(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', n: 2, seed: 5, messages: [{ role: 'user', content: 'Hi' }] }) })).text();
  } finally {
    await wrapped.close();
    await new Promise((resolve) => scripted.close(resolve));
  }
  const spans = exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'runprint');
  const picked = spans.map((span) => Object.fromEntries(Object.entries(span.attributes).filter(([key]) => /^(gen_ai\.usage\.|gen_ai\.response\.finish_reasons$|gen_ai\.request\.(choice\.count|seed)$|openai\.response\.)/.test(key))));
  assert.deepEqual(picked, [
    { 'gen_ai.response.finish_reasons': ['end_turn'], 'gen_ai.usage.input_tokens': 130, 'gen_ai.usage.output_tokens': 7, 'gen_ai.usage.cache_read.input_tokens': 100, 'gen_ai.usage.cache_creation.input_tokens': 20 },
    { 'gen_ai.request.choice.count': 2, 'gen_ai.request.seed': 5, 'gen_ai.response.finish_reasons': ['stop', 'length'], 'gen_ai.usage.input_tokens': 50, 'gen_ai.usage.output_tokens': 9, 'gen_ai.usage.cache_read.input_tokens': 32, 'openai.response.service_tier': 'default', 'openai.response.system_fingerprint': 'fp_in_process' },
  ]);
});
