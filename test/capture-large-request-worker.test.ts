/**
 * serve's default below 4 cores computes a large request's identity (1 MiB or more) in a worker
 * thread started when the first comes, so the event loop answers /healthz and other calls while
 * it is computed: before, the identity of a request of 100,000 elements (8.9 MB) held the event
 * loop, and so /healthz, for more than a second. The identity is the event loop's; smaller calls
 * stay on the event loop; `--capture-workers 0` keeps every call there, as documented.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test, type TestContext } from 'node:test';
import { MAX_CAPTURED_ELEMENTS, prepareRequest } from '../src/capture/capture-run.ts';
import type { RunRecord } from '../src/capture/index.ts';
import { defaultCaptureWorkers } from '../src/cli/serve-capture.ts';
import { LARGE_REQUEST_BYTES } from '../src/server/prepare-pool.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-large-request-');

/**
 * An Anthropic upstream that tells when a request's whole body has arrived (`arrived`) and answers
 * it only when the test says (`release`).
 */
interface HeldUpstream {
  url: string;
  /** The next request: resolves once its whole body is here, with its length. */
  arrived(): Promise<number>;
  /** Answers the request that arrived. */
  release(): void;
  close(): Promise<void>;
}

async function startHeldUpstream(): Promise<HeldUpstream> {
  let onArrived: (length: number) => void = () => undefined;
  let arriving = new Promise<number>((resolve) => (onArrived = resolve));
  let releases: Array<() => void> = [];
  const server: Server = createServer((request, response) => {
    let length = 0;
    request.on('data', (chunk: Buffer) => (length += chunk.length));
    request.on('end', () => {
      releases.push(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ id: 'msg_held', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [{ type: 'text', text: 'Held.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } }));
      });
      onArrived(length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrived: () => arriving,
    release: () => {
      for (const each of releases) each();
      releases = [];
      arriving = new Promise<number>((resolve) => (onArrived = resolve));
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

after(() => endServeTest(undefined, scratch));

/** A held upstream for one test, closed at its end whatever failed (a call it holds is cut). */
async function heldUpstream(t: TestContext): Promise<HeldUpstream> {
  const upstream = await startHeldUpstream();
  t.after(() => upstream.close());
  return upstream;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const BETAS = { 'anthropic-beta': 'prompt-caching-2024-07-31' };

/** An Anthropic request of `count` list elements (a system prompt and messages), its member in a header. */
function anthropicRequest(count: number, words: number): Uint8Array {
  return utf8(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, system: 'Be brief.', messages: Array.from({ length: count - 1 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i}: ${'lorem '.repeat(words)}` })) }));
}

function call(base: string, body: Uint8Array): Promise<Response> {
  return fetch(`${base}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-large', 'anthropic-version': '2023-06-01', ...BETAS }, body: body as Uint8Array<ArrayBuffer> });
}

interface Health {
  capture: { workers?: { pooled: number; inline: number } };
}

async function health(base: string): Promise<Health> {
  const response = await fetch(`${base}/healthz`);
  assert.equal(response.status, 200);
  return (await response.json()) as Health;
}

/** The answer once the upstream has it and is told to answer: its status, request id and stored record. */
async function answered(base: string, answer: Promise<Response>): Promise<{ requestId: string | null; record: RunRecord }> {
  const response = await answer;
  assert.equal(response.status, 200, await response.clone().text());
  await response.arrayBuffer();
  const { runs } = (await (await fetch(`${base}/v1/runs/${response.headers.get('runprint-capture-id')}`)).json()) as { runs: Array<{ record: RunRecord }> };
  return { requestId: response.headers.get('runprint-request-id'), record: runs[0]!.record };
}

test('by default, /healthz answers while the identity of a request of 100,000 elements is computed (in a worker thread); the identity is the event loop\'s', async (t) => {
  const upstream = await heldUpstream(t);
  // Every list element capture identifies (the system prompt and the messages): the most work one identity can be.
  const large = anthropicRequest(MAX_CAPTURED_ELEMENTS, 6);
  assert.ok(large.byteLength > 5_000_000, `${large.byteLength} bytes`);
  const here = prepareRequest('anthropic-messages', large, undefined, BETAS);
  assert.equal(here.error, null);
  const serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `anthropic=${upstream.url}`] });

  const answer = call(serve.base, large);
  // Cut, should the test fail before the upstream answers.
  answer.catch(() => undefined);
  // The whole request is at the upstream: the proxy computes its identity now (on the event loop
  // before, from when the request was sent), and the upstream answers only once /healthz has.
  assert.equal(await upstream.arrived(), large.byteLength);
  const asked = performance.now();
  const during = await health(serve.base);
  const waited = Math.round(performance.now() - asked);
  // What /healthz counts says when it answered: the large call's identity was not computed yet
  // (without a worker, the event loop answered /healthz only once it had computed it).
  assert.deepEqual(during.capture.workers, { pooled: 0, inline: 0 }, `/healthz answered (after ${waited} ms) while the large call's identity was still being computed`);
  upstream.release();
  const { requestId, record } = await answered(serve.base, answer);
  assert.equal(requestId, here.identity!.requestId, 'the identity of the request with its header\'s member, as the event loop computes it');
  assert.equal(record.requestId, here.identity!.requestId);
  assert.equal(record.unidentified, null);
  assert.deepEqual((await health(serve.base)).capture.workers, { pooled: 1, inline: 0 }, 'a worker computed it');

  // A call under LARGE_REQUEST_BYTES: its identity computed on the event loop, not given to the worker.
  const small = anthropicRequest(50, 20);
  assert.ok(small.byteLength < LARGE_REQUEST_BYTES);
  const smallAnswer = call(serve.base, small);
  await upstream.arrived();
  upstream.release();
  assert.equal((await answered(serve.base, smallAnswer)).requestId, prepareRequest('anthropic-messages', small, undefined, BETAS).identity!.requestId);
  const workers = (await health(serve.base)).capture.workers!;
  // From 4 cores the default gives every call to one of 2 workers.
  if (defaultCaptureWorkers() === 'large') assert.deepEqual(workers, { pooled: 1, inline: 0 }, 'the small call was not the worker\'s');
  else assert.equal(workers.pooled + workers.inline, 2);

  // The stop ends the worker with the rest.
  assert.equal(await serve.stop(), 0);
});

test('--capture-workers 0: every identity on the event loop, a large request\'s too, the same identity', async (t) => {
  const upstream = await heldUpstream(t);
  const large = anthropicRequest(15_000, 6);
  assert.ok(large.byteLength >= LARGE_REQUEST_BYTES, `${large.byteLength} bytes`);
  const serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `anthropic=${upstream.url}`, '--capture-workers', '0'] });
  const answer = call(serve.base, large);
  await upstream.arrived();
  upstream.release();
  assert.equal((await answered(serve.base, answer)).requestId, prepareRequest('anthropic-messages', large, undefined, BETAS).identity!.requestId);
  assert.equal((await health(serve.base)).capture.workers, undefined, 'no worker: /healthz has no capture.workers');
  assert.equal(await serve.stop(), 0);
});

test('the proxy gives `prepare` only calls of `prepareFrom` bytes or more, from the start; a shorter one is prepared on this thread once it is sent', async () => {
  const steps: string[] = [];
  const proxy = createProxy({
    upstreams: { anthropic: 'http://upstream.test' },
    fetch: (async () => {
      steps.push('fetch');
      await new Promise((resolve) => setTimeout(resolve, 20));
      return new Response('{"id":"msg_1","type":"message"}', { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch,
    sink: { healthy: true, record: async () => undefined },
    maxBodyBytes: 1 << 20,
    receipts: false,
    prepare: async (format, bytes, salts, headers) => {
      steps.push('prepare');
      return prepareRequest(format, bytes, salts, headers);
    },
    prepareFrom: 1000,
    // Asked for once per call, as its identity is computed.
    salts: () => {
      steps.push('identity');
      return undefined;
    },
  });
  const url = new URL('http://127.0.0.1:8480/anthropic/v1/messages');
  for (const [count, expected] of [[3, ['fetch', 'identity']], [30, ['identity', 'prepare', 'fetch']]] as const) {
    steps.length = 0;
    const body = anthropicRequest(count, 4);
    assert.equal(body.byteLength >= 1000, count === 30, `${body.byteLength} bytes`);
    const response = await proxy.handle(new Request(url, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/json', ...BETAS } }), url)!;
    await response.text();
    assert.deepEqual(steps, expected, `${body.byteLength} bytes`);
    assert.equal(response.headers.get('runprint-request-id'), prepareRequest('anthropic-messages', body, undefined, BETAS).identity!.requestId);
  }
});
