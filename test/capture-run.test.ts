/**
 * The capture core without an SDK: the route table, captureRun over every recorded SDK wire
 * fixture (the record's identities and digests are those of the identity and output code over the
 * same bytes), the streaming tee, and captureFetch's pass-through and fail-open behaviour.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { captureFetch, captureRun, observeBody, routeOf, type ObservedBody, type RunRecord } from '../src/capture/index.ts';
import { compositionFromDocument } from '../src/compose/from-document.ts';
import { computeIdentity } from '../src/identity/index.ts';
import { parseJson } from '../src/jcs/index.ts';
import { rawDigest, runOutputFrom } from '../src/providers/index.ts';
import type { SdkWireFixture } from './helpers/fake-upstream/sdk-wire.ts';

const WIRE = new URL('./fixtures/sdk-wire/', import.meta.url);
const utf8 = (text: string) => new TextEncoder().encode(text);
/** captureFetch builds a record on a later turn of the event loop, after the application's last byte. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), 'the run was recorded');
}
const times = { started: Date.UTC(2026, 0, 1), response: Date.UTC(2026, 0, 1, 0, 0, 1), ended: Date.UTC(2026, 0, 1, 0, 0, 2) };

describe('routeOf', () => {
  test('the three provider routes, under a base-URL prefix too; anything else is not a run', () => {
    assert.equal(routeOf('POST', '/v1/chat/completions'), 'openai-chat');
    assert.equal(routeOf('post', '/v1/responses'), 'openai-responses');
    assert.equal(routeOf('POST', '/v1/messages'), 'anthropic-messages');
    assert.equal(routeOf('POST', '/api/v1/chat/completions'), 'openai-chat');
    assert.equal(routeOf('GET', '/v1/chat/completions'), null);
    assert.equal(routeOf('GET', '/v1/models'), null);
    assert.equal(routeOf('POST', '/v1/messages/count_tokens'), null);
    assert.equal(routeOf('POST', '/v1/chat/completions/'), null);
  });

  test('chat completions at an OpenAI-compatible base path without /v1 are runs too; other paths ending alike are not', () => {
    for (const path of ['/chat/completions', '/v1beta/openai/chat/completions', '/openai/deployments/gpt-4o/chat/completions']) assert.equal(routeOf('POST', path), 'openai-chat', path);
    for (const path of ['/v1/threads/thread_1/messages', '/responses', '/xchat/completions', '/chat/completions/', '/v1/chat/completions/cmpl_1']) assert.equal(routeOf('POST', path), null, path);
  });
});

describe('captureRun over the SDK wire fixtures', () => {
  const files = readdirSync(WIRE).filter((name) => name.endsWith('.json')).sort();
  test('there are fixtures', () => assert.ok(files.length >= 10));
  for (const name of files) {
    test(name, () => {
      const fixture = JSON.parse(readFileSync(new URL(name, WIRE), 'utf8')) as SdkWireFixture;
      const format = routeOf(fixture.method, fixture.path);
      assert.ok(format !== null);
      const requestBytes = utf8(fixture.request.body);
      const responseBytes = utf8(fixture.response.body);
      const headers = new Headers({ 'content-type': fixture.response.contentType, authorization: 'Bearer sk-secret', 'set-cookie': 'session=secret' });
      const record = captureRun({
        format, method: fixture.method, path: fixture.path, requestBytes, status: fixture.response.status,
        headers, responseBytes, outcome: 'complete', times,
      });
      assert.deepEqual(record.response.headers, { 'content-type': fixture.response.contentType });
      assert.ok(!JSON.stringify(record).includes('secret'));
      assert.deepEqual(record.request, { size: requestBytes.length, rawDigest: rawDigest(requestBytes) });
      assert.deepEqual(record.response.rawDigest, rawDigest(responseBytes));
      const request = computeIdentity(compositionFromDocument(parseJson(requestBytes), { from: format }).composition);
      assert.equal(record.requestId, request.requestId);
      if (fixture.response.status >= 400) {
        assert.deepEqual(record.incomplete, { reason: 'http-status', code: null });
        assert.equal(record.runId, null);
        assert.equal(record.output, null);
        return;
      }
      const output = runOutputFrom(responseBytes, format);
      const run = computeIdentity(compositionFromDocument(parseJson(requestBytes), { from: format, response: responseBytes }).composition);
      assert.equal(record.incomplete, null);
      assert.equal(record.runId, run.runId);
      assert.deepEqual(record.output, { digest: output.digest, finishReason: output.finishReason, usage: output.usage });
      assert.deepEqual(record.served, output.served);
      assert.equal(record.response.stream, output.stream);
      assert.deepEqual(record.times, { started: '2026-01-01T00:00:00.000Z', response: '2026-01-01T00:00:01.000Z', ended: '2026-01-01T00:00:02.000Z' });
    });
  }

  test('a stream with its terminal event is complete even when the client hung up after it', () => {
    const fixture = JSON.parse(readFileSync(new URL('openai-chat-stream.json', WIRE), 'utf8')) as SdkWireFixture;
    const exchange = { format: 'openai-chat' as const, method: 'POST', path: '/v1/chat/completions', requestBytes: utf8(fixture.request.body), status: 200, headers: null, times };
    const whole = captureRun({ ...exchange, responseBytes: utf8(fixture.response.body), outcome: 'aborted' });
    assert.equal(whole.incomplete, null);
    assert.equal(whole.outcome, 'aborted');
    const cut = captureRun({ ...exchange, responseBytes: utf8(fixture.response.body.slice(0, 200)), outcome: 'aborted' });
    assert.deepEqual(cut.incomplete, { reason: 'aborted', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' });
    assert.equal(cut.runId, null);
    assert.match(cut.requestId ?? '', /^rp-req-/);
  });

  test('an unidentifiable request is a run with its code and path; a 2xx body that is not JSON is unreadable output', () => {
    const record = captureRun({
      format: 'anthropic-messages', method: 'POST', path: '/v1/messages', requestBytes: utf8('{"model":"claude","messages":[],"max_tokens":1e400}'),
      status: 200, headers: null, responseBytes: utf8('{"type":'), outcome: 'complete', times,
    });
    assert.deepEqual(record.unidentified, { code: 'ERR_JSON_NON_FINITE', path: "$['max_tokens']" });
    assert.equal(record.requestId, null);
    assert.deepEqual(record.incomplete, { reason: 'unreadable-output', code: 'ERR_JSON_TRUNCATED' });
  });

  test('parents must be run identities (a programmer error otherwise)', () => {
    const exchange = { format: 'openai-chat' as const, method: 'POST', path: '/v1/chat/completions', requestBytes: utf8('{}'), status: null, headers: null, responseBytes: new Uint8Array(0), outcome: 'network-error' as const, times };
    assert.throws(() => captureRun({ ...exchange, parents: ['not-an-id'] }), TypeError);
    const record = captureRun({ ...exchange, parents: [`rp-run-v1-sha256-${'0'.repeat(64)}`] });
    assert.deepEqual(record.parents, [`rp-run-v1-sha256-${'0'.repeat(64)}`]);
    assert.deepEqual(record.incomplete, { reason: 'network-error', code: null });
  });

  test('a parent named twice is recorded once, the parents in the order first named', () => {
    const [a, b] = [`rp-run-v1-sha256-${'a'.repeat(64)}`, `rp-run-v1-sha256-${'b'.repeat(64)}`];
    const exchange = { format: 'openai-chat' as const, method: 'POST', path: '/v1/chat/completions', requestBytes: utf8('{}'), status: null, headers: null, responseBytes: new Uint8Array(0), outcome: 'network-error' as const, times };
    assert.deepEqual(captureRun({ ...exchange, parents: [a, a] }).parents, [a]);
    assert.deepEqual(captureRun({ ...exchange, parents: [b, a, b, a, a] }).parents, [b, a]);
    assert.throws(() => captureRun({ ...exchange, parents: [a, a, 'not-an-id'] }), TypeError, 'a bad parent after a repeated one is still refused');
  });

  test('derived served facts join the response\'s in the record and the run identity; the response\'s win a name; none without an answer', () => {
    const request = utf8(JSON.stringify({ model: 'local-model', messages: [{ role: 'user', content: 'hi' }] }));
    const response = utf8(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'local-model-q4', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.' }, finish_reason: 'stop' }] }));
    const exchange = { format: 'openai-chat' as const, method: 'POST', path: '/v1/chat/completions', requestBytes: request, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes: response, outcome: 'complete' as const, times };
    const weights = { source: 'derived' as const, value: { digest: { sha256: 'a'.repeat(64) } } };
    const plain = captureRun(exchange);
    const derived = captureRun({ ...exchange, derived: { weights } });
    assert.deepEqual(derived.served, { ...plain.served, weights });
    assert.equal(derived.requestId, plain.requestId);
    assert.notEqual(derived.runId, plain.runId, 'the weights are part of the run identity');
    const clash = captureRun({ ...exchange, derived: { model: { source: 'derived', value: 'other' } } });
    assert.deepEqual(clash.served, plain.served, 'the response\'s reported model is kept');
    assert.throws(() => captureRun({ ...exchange, derived: { weights: { source: 'reported', value: 1 } } }), TypeError);
    const failed = captureRun({ ...exchange, status: 500, derived: { weights } });
    assert.equal(failed.served, null, 'a run without served facts gets no derived ones');
  });
});

describe('captureRun: a stream that ended against one cut before its end event', () => {
  const fixture = (name: string) => JSON.parse(readFileSync(new URL(name, WIRE), 'utf8')) as SdkWireFixture;
  /** The record of a 200 stream whose transport completed, with the request of fixture `name`. */
  function streamed(name: string, body: string): RunRecord {
    const wire = fixture(name);
    const format = routeOf(wire.method, wire.path);
    assert.ok(format !== null);
    return captureRun({
      format, method: wire.method, path: wire.path, requestBytes: utf8(wire.request.body), status: 200,
      headers: new Headers({ 'content-type': 'text/event-stream' }), responseBytes: utf8(body), outcome: 'complete', times,
    });
  }
  /** The fixture's stream without the event (its two lines and the blank line) that holds `marker`. */
  function withoutEvent(body: string, marker: string): string {
    const events = body.split('\n\n');
    const kept = events.filter((event) => !event.includes(marker));
    assert.equal(kept.length, events.length - 1, `one event holds ${marker}`);
    return kept.join('\n\n');
  }
  /** The fixture's stream up to (not with) the first event that holds `marker`. */
  function before(body: string, marker: string): string {
    const events = body.split('\n\n');
    const at = events.findIndex((event) => event.includes(marker));
    assert.ok(at > 0, `an event holds ${marker}`);
    return `${events.slice(0, at).join('\n\n')}\n\n`;
  }
  /** The fixture's stream with the data of the first event holding `marker` without its last character (not JSON). */
  function garbled(body: string, marker: string): string {
    const events = body.split('\n\n');
    const at = events.findIndex((event) => event.includes(marker));
    assert.ok(at >= 0, `an event holds ${marker}`);
    events[at] = events[at]!.replace(/data: .*/, (line) => line.slice(0, -1));
    return events.join('\n\n');
  }
  const unreadable = { reason: 'unreadable-output', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' };
  const cut = { reason: 'cut', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' };

  test('openai-chat: [DONE] arrived with a choice that never had a role (or a finish_reason) is unreadable output; no [DONE] is cut', () => {
    const chunk = (delta: string, finish: string) => `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":${delta},"finish_reason":${finish}}]}\n\n`;
    const noRole = `${chunk('{"content":"hi"}', 'null')}${chunk('{}', '"stop"')}data: [DONE]\n\n`;
    const record = streamed('openai-chat-stream.json', noRole);
    assert.deepEqual(record.incomplete, unreadable);
    assert.equal(record.runId, null);
    assert.equal(record.output, null);
    const noFinish = `${chunk('{"role":"assistant","content":"hi"}', 'null')}data: [DONE]\n\n`;
    assert.deepEqual(streamed('openai-chat-stream.json', noFinish).incomplete, unreadable);
    assert.deepEqual(streamed('openai-chat-stream.json', `${chunk('{"role":"assistant","content":"hi"}', 'null')}${chunk('{}', '"stop"')}`).incomplete, cut);
    const body = fixture('openai-chat-stream.json').response.body;
    assert.equal(streamed('openai-chat-stream.json', body).incomplete, null, 'the fixture itself is whole');
    assert.deepEqual(streamed('openai-chat-stream.json', before(body, '[DONE]')).incomplete, cut);
  });

  test('openai-chat: event data that is not JSON is unreadable output when [DONE] follows it, cut when nothing does', () => {
    const body = fixture('openai-chat-stream.json').response.body;
    const broken = garbled(body, 'chat.completion.chunk');
    assert.deepEqual(streamed('openai-chat-stream.json', broken).incomplete, unreadable);
    assert.deepEqual(streamed('openai-chat-stream.json', before(broken, '[DONE]')).incomplete, cut);
  });

  test('openai-responses: response.completed arrived with an output item never done is unreadable output; none is cut', () => {
    const body = fixture('openai-responses-tool-stream.json').response.body;
    assert.equal(streamed('openai-responses-tool-stream.json', body).incomplete, null, 'the fixture itself is whole');
    assert.deepEqual(streamed('openai-responses-tool-stream.json', withoutEvent(body, 'response.output_item.done')).incomplete, unreadable);
    assert.deepEqual(streamed('openai-responses-tool-stream.json', before(body, 'response.completed')).incomplete, cut);
    const broken = garbled(body, 'response.function_call_arguments.done');
    assert.deepEqual(streamed('openai-responses-tool-stream.json', broken).incomplete, unreadable);
    assert.deepEqual(streamed('openai-responses-tool-stream.json', before(broken, 'response.completed')).incomplete, cut);
  });

  test('anthropic-messages: message_stop arrived with a content block never stopped is unreadable output; none is cut', () => {
    const body = fixture('anthropic-messages-stream.json').response.body;
    assert.equal(streamed('anthropic-messages-stream.json', body).incomplete, null, 'the fixture itself is whole');
    assert.deepEqual(streamed('anthropic-messages-stream.json', withoutEvent(body, 'content_block_stop')).incomplete, unreadable);
    assert.deepEqual(streamed('anthropic-messages-stream.json', before(body, 'message_stop')).incomplete, cut);
    assert.deepEqual(streamed('anthropic-messages-stream.json', before(body, 'content_block_stop')).incomplete, cut, 'cut with a block open');
    assert.deepEqual(streamed('anthropic-messages-stream.json', garbled(body, '"ping"')).incomplete, unreadable);
    // The end event itself garbled: its `event:` name says it came.
    assert.deepEqual(streamed('anthropic-messages-stream.json', garbled(body, '"message_stop"')).incomplete, unreadable);
    assert.deepEqual(streamed('anthropic-messages-stream.json', before(garbled(body, '"ping"'), 'message_stop')).incomplete, cut);
  });
});

function streamOf(chunks: string[], failAfter?: number): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream({
    pull(controller) {
      if (index === failAfter) return controller.error(new TypeError('terminated'));
      const chunk = chunks[index++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(utf8(chunk));
    },
  }, { highWaterMark: 0 });
}

describe('observeBody', () => {
  test('chunks pass through as they are, the copy is whole, the end is noticed once', async () => {
    const ends: ObservedBody[] = [];
    const seen: string[] = [];
    const body = observeBody(streamOf(['data: a\n\n', 'data: b\n\n']), { onEnd: (end) => void ends.push(end) });
    const reader = body.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) seen.push(new TextDecoder().decode(read.value));
    assert.deepEqual(seen, ['data: a\n\n', 'data: b\n\n']);
    assert.equal(ends.length, 1);
    assert.equal(new TextDecoder().decode(ends[0]!.bytes), 'data: a\n\ndata: b\n\n');
    assert.equal(ends[0]!.outcome, 'complete');
  });

  test('a read failure reaches the reader and ends as a network error; a cancel ends as aborted', async () => {
    const ends: ObservedBody[] = [];
    const failing = observeBody(streamOf(['x', 'y'], 1), { onEnd: (end) => void ends.push(end) }).getReader();
    assert.equal((await failing.read()).done, false);
    await assert.rejects(failing.read(), { name: 'TypeError', message: 'terminated' });
    assert.equal(ends[0]!.outcome, 'network-error');
    assert.equal(new TextDecoder().decode(ends[0]!.bytes), 'x');
    const cancelled = observeBody(streamOf(['x', 'y', 'z']), { onEnd: (end) => void ends.push(end) }).getReader();
    await cancelled.read();
    await cancelled.cancel(new DOMException('stop', 'AbortError'));
    assert.equal(ends[1]!.outcome, 'aborted');
    assert.equal(new TextDecoder().decode(ends[1]!.bytes), 'x');
  });

  test('drainOnCancel reads the rest on the side and ends complete; an observer that throws changes nothing', async () => {
    let end: ObservedBody | undefined;
    const reader = observeBody(streamOf(['{"error":', '{"message":"no"}}']), { drainOnCancel: 1024, onEnd: (observed) => { end = observed; throw new Error('observer bug'); } }).getReader();
    await reader.cancel();
    for (let i = 0; i < 100 && end === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(end?.outcome, 'complete');
    assert.equal(new TextDecoder().decode(end!.bytes), '{"error":{"message":"no"}}');
  });
});

describe('captureFetch', () => {
  const chat = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
  const answer = '{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}]}';
  const fake = (async () => new Response(answer, { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'req_1', 'set-cookie': 'a=b' } })) as typeof fetch;

  test('fail-open: onRun throwing never reaches the application; it is counted and reported', async () => {
    const reported: unknown[] = [];
    const capturing = captureFetch(fake, { onRun: () => { throw new Error('store down'); }, onError: (error) => void reported.push(error) });
    const response = await capturing('http://upstream.test/v1/chat/completions', { method: 'POST', body: chat });
    assert.equal(await response.text(), answer);
    await until(() => capturing.counts.failures === 1);
    assert.equal((reported[0] as Error).message, 'store down');
    const rejecting = captureFetch(fake, { onRun: async () => { throw new Error('later'); }, onError: (error) => void reported.push(error) });
    await (await rejecting('http://upstream.test/v1/chat/completions', { method: 'POST', body: chat })).text();
    await until(() => rejecting.counts.failures === 1);
    assert.equal(rejecting.counts.runs, 1);
  });

  test('the call reaches fetchImpl as given; a stream body is teed and recorded; one runprint cannot read is forwarded unrecorded', async () => {
    const calls: Array<[unknown, RequestInit | undefined]> = [];
    const spying = (async (input: string | URL | Request, init?: RequestInit) => { calls.push([input, init]); return fake(input, init); }) as typeof fetch;
    const records: RunRecord[] = [];
    const capturing = captureFetch(spying, { onRun: (record) => void records.push(record) });
    const init = { method: 'POST', body: chat, headers: { authorization: 'Bearer sk-secret' }, signal: new AbortController().signal };
    const response = await capturing('http://upstream.test/v1/chat/completions', init);
    assert.equal(calls[0]![0], 'http://upstream.test/v1/chat/completions');
    assert.equal(calls[0]![1], init, 'the same init object, untouched');
    assert.equal(response.url, '', 'url as fetchImpl gave it');
    await response.text();
    await until(() => records.length === 1);
    assert.deepEqual(records[0]!.response.headers, { 'content-type': 'application/json', 'x-request-id': 'req_1' });
    assert.ok(!JSON.stringify(records[0]).includes('sk-secret'));
    // A stream body is teed: fetchImpl gets one branch (duplex kept), the record is made from the other.
    const stream = streamOf([chat]);
    const streamed = await capturing('http://upstream.test/v1/chat/completions', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    await streamed.text();
    await until(() => records.length === 2);
    assert.ok(calls[1]![1]!.body instanceof ReadableStream && calls[1]![1]!.body !== stream);
    assert.equal((calls[1]![1] as { duplex?: string }).duplex, 'half');
    assert.equal(records[1]!.requestId, records[0]!.requestId, 'the bytes of the stream');
    // What fetch cannot re-read (an async iterable) is forwarded as given and not recorded.
    const iterable = { method: 'POST', body: (async function* () { yield new TextEncoder().encode(chat); })(), duplex: 'half' } as unknown as RequestInit;
    const unread = await capturing('http://upstream.test/v1/chat/completions', iterable);
    await unread.text();
    assert.equal(calls[2]![1], iterable);
    assert.equal(capturing.counts.failures, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(records.length, 2);
  });

  test('no response at all: the error reaches the application as it was, the run is a network error', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const records: RunRecord[] = [];
    const capturing = captureFetch(globalThis.fetch, { onRun: (record) => void records.push(record) });
    const failure = await capturing(`http://127.0.0.1:${port}/v1/messages`, { method: 'POST', body: '{}' }).then(() => null, (error: unknown) => error);
    assert.ok(failure instanceof TypeError);
    await until(() => records.length === 1);
    assert.equal(records[0]!.outcome, 'network-error');
    assert.equal(records[0]!.response.status, null);
    assert.deepEqual(records[0]!.incomplete, { reason: 'network-error', code: null });
    assert.deepEqual(records[0]!.unidentified, { code: 'ERR_PROVIDER_INVALID_REQUEST', path: "$['model']" });
  });
});
