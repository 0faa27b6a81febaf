/**
 * A ReadableStream request body longer than capture keeps (MAX_CAPTURED_REQUEST_BYTES, 32 MiB),
 * captured in process: the fake upstream gets every byte as sent, and the run is recorded
 * unidentified (ERR_CAPTURE_REQUEST_TOO_LARGE) with the body's size and SHA-256, into a local run
 * store and, as an exchange (`requestTooLarge`), by a real `runprint serve`. A body of exactly the
 * limit is still identified.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runprintFetch, type RunprintFetch } from '../src/capture-node/index.ts';
import { MAX_CAPTURED_REQUEST_BYTES } from '../src/capture/capture-run.ts';
import { EXCHANGE_VERSION, EXCHANGES_PATH } from '../src/capture/exchange.ts';
import type { RunRecord } from '../src/capture/run-record.ts';
import { RUNS_DATABASE } from '../src/store/receipt-key.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-request-too-large-');
let upstream: FakeUpstream;
let serve: ServeProcess;

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

/** A chat completions request of exactly `size` bytes (a long user message). */
function requestOf(size: number): Buffer {
  const head = Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"');
  const tail = Buffer.from('"}]}');
  const body = Buffer.alloc(size, 'x');
  head.copy(body, 0);
  tail.copy(body, size - tail.length);
  return body;
}

/** The bytes as a stream of 1 MiB chunks (fresh copies: the application's stream, not the buffer). */
function streamOf(bytes: Buffer): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const end = Math.min(at + (1 << 20), bytes.length);
      controller.enqueue(new Uint8Array(bytes.subarray(at, end)));
      at = end;
    },
  });
}

/** One call with a stream body through `capturing`: the answer's capture id and request id header. */
async function streamCall(capturing: RunprintFetch, body: Buffer): Promise<{ captureId: string; requestId: string | null }> {
  const response = await capturing(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: streamOf(body), duplex: 'half' } as RequestInit);
  assert.equal(response.status, 200);
  await response.text();
  await upstream.settled();
  const received = upstream.requests.splice(0).at(-1)!.body;
  assert.equal(received.length, body.length, 'the upstream got every byte');
  assert.ok(received.equals(body), 'the bytes as sent');
  const captureId = response.headers.get('runprint-capture-id');
  assert.ok(captureId !== null);
  return { captureId, requestId: response.headers.get('runprint-request-id') };
}

const noFailure = (error: { code: string; message: string }) => assert.fail(`no capture failure expected: ${error.code} ${error.message}`);

function comparable(record: RunRecord): Omit<RunRecord, 'captureId' | 'times'> {
  const { captureId: _id, times: _times, ...rest } = record;
  // Plain objects (the parser makes usage's objects without a prototype).
  return JSON.parse(JSON.stringify(rest)) as Omit<RunRecord, 'captureId' | 'times'>;
}

test('a stream request body over 32 MiB goes through untouched and is recorded unidentified (ERR_CAPTURE_REQUEST_TOO_LARGE) by its size and SHA-256, locally and by serve', { timeout: 120_000 }, async () => {
  const body = requestOf(MAX_CAPTURED_REQUEST_BYTES + 1);
  const sha256 = createHash('sha256').update(body).digest('hex');

  const data = scratch.tempDir();
  // Keeping request bytes: none are kept for a body capture did not keep (not an empty one under its digest).
  const local = runprintFetch({ data, spans: false, onError: noFailure, keep: { request: 'content' } });
  const call = await streamCall(local, body);
  assert.equal(call.requestId, null, 'no request identity to name');
  const record = (await local.runOf(call.captureId))!;
  assert.deepEqual(record.unidentified, { code: 'ERR_CAPTURE_REQUEST_TOO_LARGE', path: null });
  assert.deepEqual(record.request, { size: body.length, rawDigest: { sha256 } });
  assert.equal(record.requestId, null);
  assert.equal(record.runId, null);
  assert.equal(record.incomplete, null, 'the answer is whole');
  assert.notEqual(record.output, null);
  assert.deepEqual({ runs: local.counts.runs, unidentified: local.counts.unidentified, failures: local.counts.failures }, { runs: 1, unidentified: 1, failures: 0 });
  await local.close();
  const storage = SqliteRuns.open(join(data, RUNS_DATABASE));
  try {
    const [stored] = await storage.find(call.captureId);
    assert.deepEqual(JSON.parse(JSON.stringify(stored?.record)), JSON.parse(JSON.stringify(record)), 'the local run store holds that record');
    assert.equal(await storage.content(sha256), undefined, 'no bytes stored under the body\'s digest');
  } finally {
    await storage.close();
  }

  const remote = runprintFetch({ data: scratch.tempDir(), url: serve.base, spans: false, onError: noFailure });
  const sent = await streamCall(remote, body);
  await remote.flush();
  assert.deepEqual({ delivered: remote.counts.outbox.delivered, rejected: remote.counts.outbox.rejected }, { delivered: 1, rejected: 0 });
  await remote.close();
  const answer = (await (await fetch(`${serve.base}/v1/runs/${sent.captureId}`)).json()) as { runs: { record: RunRecord }[] };
  assert.equal(answer.runs.length, 1);
  assert.deepEqual(comparable(answer.runs[0]!.record), comparable(record), 'serve records the exchange as in-process capture did');
});

test('a stream request body of exactly 32 MiB is still identified', { timeout: 60_000 }, async () => {
  const body = requestOf(MAX_CAPTURED_REQUEST_BYTES);
  const local = runprintFetch({ data: scratch.tempDir(), spans: false, onError: noFailure });
  const call = await streamCall(local, body);
  const record = (await local.runOf(call.captureId))!;
  assert.equal(record.unidentified, null);
  assert.match(record.requestId ?? '', /^rp-req-/);
  assert.equal(call.requestId, record.requestId);
  assert.equal(record.request.size, body.length);
  await local.close();
});

test('POST /v1/exchanges: requestTooLarge goes with an empty request and a size past the limit', async () => {
  const exchange = (request: string, requestTooLarge: unknown) => ({
    version: EXCHANGE_VERSION,
    captureId: globalThis.crypto.randomUUID(),
    method: 'POST',
    path: '/v1/chat/completions',
    request,
    requestTooLarge,
    response: null,
    outcome: 'network-error',
    times: { started: 1_700_000_000_000, response: null, ended: 1_700_000_001_000 },
    parents: [],
  });
  const post = async (body: unknown) => {
    const response = await fetch(`${serve.base}${EXCHANGES_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { error?: { code: string; path?: string } } };
  };
  const digest = 'a'.repeat(64);
  for (const [request, tooLarge, path] of [
    [Buffer.from('{}').toString('base64'), { size: MAX_CAPTURED_REQUEST_BYTES + 1, sha256: digest }, "$['request']"],
    ['', { size: MAX_CAPTURED_REQUEST_BYTES, sha256: digest }, "$['requestTooLarge']['size']"],
    ['', { size: MAX_CAPTURED_REQUEST_BYTES + 1, sha256: 'A'.repeat(64) }, "$['requestTooLarge']['sha256']"],
    ['', { size: MAX_CAPTURED_REQUEST_BYTES + 1 }, "$['requestTooLarge']['sha256']"],
    ['', { size: MAX_CAPTURED_REQUEST_BYTES + 1, sha256: digest, bytes: '' }, "$['requestTooLarge']"],
  ] as const) {
    const answer = await post(exchange(request, tooLarge));
    assert.equal(answer.status, 400, JSON.stringify(tooLarge));
    assert.deepEqual([answer.body.error?.code, answer.body.error?.path], ['ERR_HTTP_BAD_REQUEST', path]);
  }
  const good = exchange('', { size: MAX_CAPTURED_REQUEST_BYTES + 5, sha256: digest });
  const taken = await post(good);
  assert.equal(taken.status, 200);
  const answer = (await (await fetch(`${serve.base}/v1/runs/${good.captureId}`)).json()) as { runs: { record: RunRecord }[] };
  const record = answer.runs[0]!.record;
  assert.deepEqual([record.unidentified, record.request, record.incomplete], [{ code: 'ERR_CAPTURE_REQUEST_TOO_LARGE', path: null }, { size: MAX_CAPTURED_REQUEST_BYTES + 5, rawDigest: { sha256: digest } }, { reason: 'network-error', code: null }]);
});
