/**
 * An answer longer than capture keeps (MAX_CAPTURED_RESPONSE_BYTES, 64 MiB), made for real by the
 * fake upstream: through a real `runprint serve`'s proxy, captured in process and sent to that
 * serve as an exchange (runprintFetch with `url`), and captured in process into a local run store.
 * The application gets every byte each time, and each record is the proxy's: `too-large`, the
 * size that passed, no raw digest, no output. And the exchange's `response.tooLarge` form as the
 * server reads it: refused for a size capture would have kept.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runprintFetch } from '../src/capture-node/index.ts';
import { MAX_CAPTURED_RESPONSE_BYTES } from '../src/capture/capture-run.ts';
import { EXCHANGE_VERSION, EXCHANGES_PATH } from '../src/capture/exchange.ts';
import type { RunRecord } from '../src/capture/run-record.ts';
import { RUNS_DATABASE } from '../src/store/receipt-key.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-too-large-');
let upstream: FakeUpstream;
let serve: ServeProcess;
const CALL = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Write a very long answer.' }] };
// One byte of text past the limit: the JSON around it makes the body longer still.
const LONG = 'x'.repeat(MAX_CAPTURED_RESPONSE_BYTES + 1);

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

/** Reads a body to its end, keeping only its length. */
async function lengthOf(response: Response): Promise<number> {
  const reader = response.body!.getReader();
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return length;
    length += value.length;
  }
}

/** One long answer through `fetchImpl` (to `base`): its capture id, the bytes the application read, the bytes the upstream sent. */
async function longCall(fetchImpl: typeof fetch, base: string): Promise<{ captureId: string; read: number; sent: number }> {
  upstream.enqueue({ kind: 'text', text: LONG });
  const response = await fetchImpl(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify(CALL) });
  assert.equal(response.status, 200);
  const captureId = response.headers.get('runprint-capture-id');
  assert.ok(captureId !== null);
  const read = await lengthOf(response);
  await upstream.settled();
  const recorded = upstream.requests.splice(0).at(-1)!;
  return { captureId, read, sent: recorded.response.body.length };
}

async function serverRecord(captureId: string): Promise<RunRecord> {
  const answer = (await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: { record: RunRecord }[] };
  assert.equal(answer.runs.length, 1);
  return answer.runs[0]!.record;
}

/** A record without what differs between two captures of one call. */
function comparable(record: RunRecord): Omit<RunRecord, 'captureId' | 'times'> {
  const { captureId: _id, times: _times, ...rest } = record;
  return rest;
}

test('an answer over 64 MiB is recorded too-large the same way through the proxy, as an exchange to serve, and into a local run store', { timeout: 120_000 }, async () => {
  // Through the proxy.
  const proxied = await longCall(fetch, `${serve.base}/openai`);
  assert.ok(proxied.sent > MAX_CAPTURED_RESPONSE_BYTES);
  assert.equal(proxied.read, proxied.sent, 'the client gets every byte');
  const proxyRecord = await serverRecord(proxied.captureId);
  assert.deepEqual(proxyRecord.incomplete, { reason: 'too-large', code: null });
  assert.equal(proxyRecord.response.size, proxied.sent);
  assert.equal(proxyRecord.response.rawDigest, null);
  assert.equal(proxyRecord.output, null);
  assert.notEqual(proxyRecord.requestId, null);

  // In process, sent to serve as an exchange through the outbox.
  const remoteData = scratch.tempDir();
  const remote = runprintFetch({ data: remoteData, url: serve.base, spans: false, onError: (error) => assert.fail(`no capture failure expected: ${error.code} ${error.message}`) });
  const sent = await longCall(remote, upstream.url);
  assert.equal(sent.read, sent.sent, 'the application gets every byte');
  await remote.flush();
  assert.deepEqual({ queued: remote.counts.outbox.queued, delivered: remote.counts.outbox.delivered, rejected: remote.counts.outbox.rejected }, { queued: 1, delivered: 1, rejected: 0 });
  await remote.close();
  const ingested = await serverRecord(sent.captureId);
  assert.equal(ingested.response.size, sent.sent, 'the size that passed, not 0');
  assert.deepEqual(comparable(ingested), comparable(proxyRecord), 'the proxy\'s record but for capture id and times');

  // In process, into a local run store.
  const localData = scratch.tempDir();
  const local = runprintFetch({ data: localData, spans: false, onError: (error) => assert.fail(`no capture failure expected: ${error.code} ${error.message}`) });
  const kept = await longCall(local, upstream.url);
  assert.equal(kept.read, kept.sent);
  await local.close();
  const storage = SqliteRuns.open(join(localData, RUNS_DATABASE));
  try {
    const [run] = await storage.find(kept.captureId);
    assert.ok(run !== undefined);
    assert.deepEqual(comparable(run.record), comparable(proxyRecord));
  } finally {
    await storage.close();
  }
});

test('POST /v1/exchanges: response.tooLarge is a size past the limit, alone', async () => {
  const exchange = (response: unknown) => ({
    version: EXCHANGE_VERSION,
    captureId: globalThis.crypto.randomUUID(),
    method: 'POST',
    path: '/v1/chat/completions',
    request: Buffer.from(JSON.stringify(CALL)).toString('base64'),
    response,
    outcome: 'complete',
    times: { started: 1_700_000_000_000, response: 1_700_000_000_100, ended: 1_700_000_001_000 },
    parents: [],
  });
  const post = async (body: unknown) => {
    const response = await fetch(`${serve.base}${EXCHANGES_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { captureId?: string; error?: { code: string; message: string; path?: string } } };
  };
  const headers = { 'content-type': 'application/json' };
  for (const [tooLarge, path] of [
    [{ size: MAX_CAPTURED_RESPONSE_BYTES }, "$['response']['tooLarge']['size']"],
    [{ size: -1 }, "$['response']['tooLarge']['size']"],
    [{ size: MAX_CAPTURED_RESPONSE_BYTES + 1, sha256: 'a'.repeat(64) }, "$['response']['tooLarge']"],
    [7, "$['response']['tooLarge']"],
  ] as const) {
    const answer = await post(exchange({ status: 200, headers, tooLarge }));
    assert.equal(answer.status, 400, JSON.stringify(tooLarge));
    assert.equal(answer.body.error?.code, 'ERR_HTTP_BAD_REQUEST');
    assert.equal(answer.body.error?.path, path);
  }
  const both = await post(exchange({ status: 200, headers, body: '', tooLarge: { size: MAX_CAPTURED_RESPONSE_BYTES + 1 } }));
  assert.equal(both.status, 400);
  assert.match(both.body.error?.message ?? '', /one of them/);

  // A 5xx too long to keep is recorded too-large too (the proxy's reason comes before http-status).
  const error = exchange({ status: 502, headers, tooLarge: { size: MAX_CAPTURED_RESPONSE_BYTES + 10 } });
  const taken = await post(error);
  assert.equal(taken.status, 200);
  const record = await serverRecord(error.captureId);
  assert.deepEqual([record.incomplete, record.response.status, record.response.size, record.response.rawDigest], [{ reason: 'too-large', code: null }, 502, MAX_CAPTURED_RESPONSE_BYTES + 10, null]);
});

