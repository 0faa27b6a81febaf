/**
 * captureFetch where its input or its answer is out of the ordinary, against a real loopback
 * upstream (node:http) and the global fetch:
 * - an upstream status no Response can be made with (600 to 999, which Node's fetch takes) reaches
 *   the application untouched, its body readable, as plain fetch gives it, and the call is recorded
 *   as the proxy records it (no answer, outcome network-error), runprint reporting nothing;
 * - a Request whose body is a stream is sent as it comes (the upstream has its first bytes before
 *   the stream has ended), as an init.body stream is, and is recorded from the bytes sent; a
 *   Request with `body: null` in init is recorded with the Request's body, which fetch sends;
 * - a body fetch refuses (a used Request, a locked stream) gets fetch's own TypeError, and
 *   runprint reports and counts nothing: it is the application's error.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { captureFetch } from '../src/capture/capture-fetch.ts';
import type { CapturedRun } from '../src/capture/capture-run.ts';
import type { RunRecord } from '../src/capture/run-record.ts';
import { createApp } from '../src/server/app.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { createUpstreamFetch } from '../src/server/upstream-fetch.ts';

const CHAT = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }] });
const ANSWER = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
const encoder = new TextEncoder();

let server: Server;
let base: string;
/** Resolves with the number of body bytes the upstream had when its first ones came, per call. */
let firstBytes: ((at: number) => void) | undefined;

before(async () => {
  server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    let size = 0;
    for await (const chunk of request) {
      if (size === 0) firstBytes?.(Date.now());
      size += (chunk as Buffer).length;
    }
    const status = request.headers['x-status'];
    if (typeof status === 'string') {
      response.writeHead(Number(status), { 'content-type': 'application/json' });
      response.end('{"error":{"message":"odd"}}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json', 'x-size': String(size) });
    response.end(ANSWER);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A capturing fetch whose records and failures are kept; `recorded(n)` waits for n records. */
function capturing() {
  const records: RunRecord[] = [];
  const failures: unknown[] = [];
  const fetch = captureFetch(globalThis.fetch, { onRun: (record) => void records.push(record), onError: (error) => void failures.push(error), idHeaders: true });
  const recorded = async (count: number) => {
    for (let i = 0; i < 400 && records.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(records.length, count, 'records made');
  };
  return { fetch, records, failures, recorded };
}

/** What a record says of the exchange, without what differs from call to call. */
function exchangePart(record: RunRecord) {
  const { captureId: _id, times: _times, ...rest } = record;
  return rest;
}

test('an upstream status past 599 reaches the application as plain fetch gives it, and is recorded as the proxy records it', async () => {
  const { fetch, records, failures, recorded } = capturing();
  for (const [i, status] of [600, 799, 999].entries()) {
    const url = `${base}/v1/chat/completions`;
    const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-status': String(status) }, body: CHAT };
    const plain = await globalThis.fetch(url, init);
    const captured = await fetch(url, init);
    assert.equal(captured.status, plain.status);
    assert.equal(captured.status, status);
    assert.equal(await captured.text(), await plain.text(), 'the body is readable, as plain fetch has it');
    await recorded(i + 1);
  }
  assert.deepEqual(failures, [], 'no failure of runprint: the call was recorded');
  assert.equal(fetch.counts.failures, 0);
  for (const record of records) {
    assert.equal(record.outcome, 'network-error');
    assert.equal(record.response.status, null, 'no answer a Response can hold, as the proxy records it');
    assert.deepEqual(record.incomplete, { reason: 'network-error', code: null });
    assert.ok(record.requestId?.startsWith('rp-req-v1-'), 'the request is identified');
  }

  // The proxy, whose upstream fetch takes no such answer: the same record.
  const runs: CapturedRun[] = [];
  const upstreamFetch = createUpstreamFetch();
  try {
    const proxy = createProxy({ upstreams: { openai: base }, sink: { healthy: true, record: async (run) => void runs.push(run) }, fetch: upstreamFetch as typeof globalThis.fetch, maxBodyBytes: 1 << 20, receipts: false });
    const response = await createApp({ proxy }).request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-status': '999' }, body: CHAT });
    assert.equal(response.status, 502);
    await response.text();
    assert.equal(runs.length, 1);
    assert.deepEqual(exchangePart(records[2]!), exchangePart(runs[0]!.record));
  } finally {
    upstreamFetch.close();
  }
});

test('a Request whose body is a stream is sent as it comes, and recorded from the bytes sent', async () => {
  const { fetch, records, failures, recorded } = capturing();
  const [head, tail] = [CHAT.slice(0, 20), CHAT.slice(20)];
  let gotFirst!: () => void;
  const upstreamHasFirst = new Promise<void>((resolve) => (gotFirst = resolve));
  let upstreamHad = false;
  firstBytes = () => {
    upstreamHad = true;
    gotFirst();
  };
  let firstBeforeTail: boolean | undefined;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode(head));
      // The rest only once the upstream has the first bytes, or after 3 s (a body read whole
      // before it is sent has none before then).
      await Promise.race([upstreamHasFirst, new Promise((resolve) => setTimeout(resolve, 3_000))]);
      firstBeforeTail = upstreamHad;
      controller.enqueue(encoder.encode(tail));
      controller.close();
    },
  });
  try {
    const response = await fetch(new Request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit));
    assert.equal(response.headers.get('x-size'), String(CHAT.length), 'the upstream had the whole body');
    await response.text();
  } finally {
    firstBytes = undefined;
  }
  await upstreamHasFirst;
  assert.equal(firstBeforeTail, true, 'the upstream had the first bytes before the stream ended');
  await recorded(1);
  assert.deepEqual(failures, []);
  // The same request sent as a string is identified the same.
  await (await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CHAT })).text();
  await recorded(2);
  assert.equal(records[0]!.request.size, CHAT.length);
  assert.deepEqual(records[0]!.request.rawDigest, records[1]!.request.rawDigest);
  assert.equal(records[0]!.requestId, records[1]!.requestId);
  assert.ok(records[0]!.requestId !== null);
});

test('a Request body longer than capture keeps is not read whole first: memory stays far below it', async () => {
  const { fetch, records, failures, recorded } = capturing();
  const MIB = 1 << 20;
  const total = 96;
  let sent = 0;
  // One chunk given again and again: what is held beyond it is what capture holds (at most the
  // 32 MiB it keeps of a request body).
  const chunk = new Uint8Array(MIB).fill(120);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < total) controller.enqueue(chunk);
      else controller.close();
    },
  });
  globalThis.gc?.();
  const start = process.memoryUsage().arrayBuffers;
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
  try {
    const response = await fetch(new Request(`${base}/v1/chat/completions`, { method: 'POST', body, duplex: 'half' } as RequestInit));
    assert.equal(response.headers.get('x-size'), String(total * MIB));
    await response.text();
  } finally {
    clearInterval(sampler);
  }
  // Read whole before it was sent, the 96 MiB were held about twice over (220 MiB measured); sent
  // as it comes, what capture keeps (32 MiB) and what fetch itself holds (20 to 50 MiB here).
  assert.ok(peak - start < 128 * MIB, `peak of ${Math.round((peak - start) / MIB)} MiB held while sending ${total} MiB`);
  await recorded(1);
  assert.deepEqual(failures, []);
  assert.deepEqual(records[0]!.unidentified, { code: 'ERR_CAPTURE_REQUEST_TOO_LARGE', path: null });
  assert.equal(records[0]!.request.size, total * MIB);
});

test('a Request with body null in init is recorded with the Request\'s own body, which fetch sends', async () => {
  const { fetch, records, recorded } = capturing();
  const response = await fetch(new Request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CHAT }), { body: null });
  assert.equal(response.headers.get('x-size'), String(CHAT.length), 'fetch sent the Request\'s body');
  await response.text();
  await recorded(1);
  assert.equal(records[0]!.request.size, CHAT.length);
  assert.ok(records[0]!.requestId !== null);
});

test('a body fetch refuses gets fetch\'s own error, and runprint reports nothing', async () => {
  const { fetch, records, failures } = capturing();
  const url = `${base}/v1/chat/completions`;
  const used = async () => {
    const request = new Request(url, { method: 'POST', body: CHAT });
    await request.text();
    return [request] as const;
  };
  const lockedRequest = async () => {
    const request = new Request(url, { method: 'POST', body: CHAT });
    request.body!.getReader();
    return [request] as const;
  };
  const lockedStream = async () => {
    const body = new ReadableStream({ start: (controller) => controller.enqueue(encoder.encode(CHAT)) });
    body.getReader();
    return [url, { method: 'POST', body, duplex: 'half' } as RequestInit] as const;
  };
  for (const make of [used, lockedRequest, lockedStream]) {
    const [input, init] = (await make()) as readonly [string | Request, RequestInit?];
    const plain = await globalThis.fetch(input, init).then(() => null, (error: unknown) => error as Error);
    const [again, againInit] = (await make()) as readonly [string | Request, RequestInit?];
    const captured = await fetch(again, againInit).then(() => null, (error: unknown) => error as Error);
    assert.ok(plain instanceof TypeError, make.name);
    assert.ok(captured instanceof TypeError, make.name);
    assert.equal(captured.message, plain.message, make.name);
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(failures, [], 'the application\'s error, not runprint\'s');
  assert.equal(fetch.counts.failures, 0);
  assert.equal(records.length, 0, 'nothing was sent: no run');
});

test('the answer is a byte stream as fetch\'s (a BYOB reader reads it, and the call is recorded), and its clones say where it came from', async () => {
  const { fetch, records, failures, recorded } = capturing();
  const url = `${base}/v1/chat/completions`;
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: CHAT };
  /** The whole body through a BYOB reader, 100 bytes at a time. */
  const byob = async (response: Response) => {
    const reader = response.body!.getReader({ mode: 'byob' });
    let text = '';
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(100));
      if (done) return text;
      text += new TextDecoder().decode(value);
    }
  };
  assert.equal(await byob(await globalThis.fetch(url, init)), ANSWER);
  assert.equal(await byob(await fetch(url, init)), ANSWER);
  await recorded(1);
  assert.equal(records[0]!.outcome, 'complete');
  assert.equal(records[0]!.response.size, ANSWER.length);
  assert.ok(records[0]!.runId !== null);

  const plain = await globalThis.fetch(url, init);
  const captured = await fetch(url, init);
  const origin = (response: Response) => ({ url: response.url, redirected: response.redirected, type: response.type });
  const clone = captured.clone();
  assert.deepEqual(origin(captured), origin(plain));
  assert.deepEqual(origin(clone), origin(plain), 'a clone says what the answer says');
  assert.deepEqual(origin(clone.clone()), origin(plain), 'and a clone of a clone');
  assert.equal(await clone.text(), ANSWER);
  assert.equal(await captured.text(), ANSWER);
  await plain.text();
  await recorded(2);
  assert.deepEqual(failures, []);
});
