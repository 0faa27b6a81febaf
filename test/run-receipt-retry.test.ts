/**
 * `GET /v1/runs/{id}/receipt` (and `/tlog-proof`) for a run whose receipt is not signed yet: 404
 * ERR_RUN_NO_RECEIPT with `Retry-After: 1` (the receipt follows the record's commit within about
 * a second); for a run that never gets one, the same 404 without Retry-After; a tlog-proof no
 * checkpoint covers yet, 404 ERR_LOG_ENTRY_NOT_FOUND with Retry-After. Over a real run
 * store (runs.sqlite) served by the app's run routes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { createApp, type App } from '../src/server/app.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { REQUEST } from './fixtures/receipt-run.ts';
import { storeRuns } from './helpers/stored-runs.ts';

let data: string;
let store: SqliteRuns;
let app: App;
let unsigned: string;
let logged: string;
let failed: string;

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'runprint-receipt-retry-'));
  [unsigned, logged] = (await storeRuns(data, 2)) as [string, string];
  store = SqliteRuns.open(join(data, 'runs.sqlite'));
  // A run whose receipt is in the log at index 0, which no signed checkpoint covers yet.
  const [run] = await store.find(logged);
  await store.setReceipts([{ recordDigest: run!.recordDigest, receipt: '{"payloadType":"x","payload":"","signatures":[]}', logIndex: 0 }]);
  // A call the upstream answered with 500: a record, never a receipt.
  const requestBytes = new TextEncoder().encode(JSON.stringify(REQUEST));
  const responseBytes = new TextEncoder().encode('{"error":{"message":"upstream failed"}}');
  const started = Date.parse('2026-12-02T00:00:00Z');
  const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 500, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
  await store.put([runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', false)]);
  failed = captured.record.captureId;
  app = createApp({ runs: { storage: store, log: { tlogProof: async () => undefined } } });
});
after(async () => {
  await store.close();
  rmSync(data, { recursive: true, force: true });
});

async function answer(path: string, method = 'GET'): Promise<{ status: number; retryAfter: string | null; code: string | undefined }> {
  const response = await app.request(path, { method });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), code: text === '' ? undefined : (JSON.parse(text) as { error: { code: string } }).error.code };
}

test('a receipt not signed yet: 404 ERR_RUN_NO_RECEIPT with Retry-After: 1, GET and HEAD, receipt and tlog-proof', async () => {
  assert.deepEqual(await answer(`/v1/runs/${unsigned}/receipt`), { status: 404, retryAfter: '1', code: 'ERR_RUN_NO_RECEIPT' });
  assert.deepEqual(await answer(`/v1/runs/${unsigned}/receipt`, 'HEAD'), { status: 404, retryAfter: '1', code: undefined });
  assert.deepEqual(await answer(`/v1/runs/${unsigned}/tlog-proof`), { status: 404, retryAfter: '1', code: 'ERR_RUN_NO_RECEIPT' });
});

test('a receipt no signed checkpoint covers yet: tlog-proof answers 404 ERR_LOG_ENTRY_NOT_FOUND with Retry-After: 1', async () => {
  assert.deepEqual(await answer(`/v1/runs/${logged}/tlog-proof`), { status: 404, retryAfter: '1', code: 'ERR_LOG_ENTRY_NOT_FOUND' });
  assert.equal((await app.request(`/v1/runs/${logged}/receipt`)).status, 200);
});

test('a run that never gets a receipt, or no such run: 404 without Retry-After', async () => {
  assert.deepEqual(await answer(`/v1/runs/${failed}/receipt`), { status: 404, retryAfter: null, code: 'ERR_RUN_NO_RECEIPT' });
  assert.deepEqual(await answer(`/v1/runs/${failed}/tlog-proof`), { status: 404, retryAfter: null, code: 'ERR_RUN_NO_RECEIPT' });
  assert.deepEqual(await answer('/v1/runs/0b5e87a4-3f38-4f6b-a1a9-5d1e0e0f3c2a/receipt'), { status: 404, retryAfter: null, code: 'ERR_RUN_NOT_FOUND' });
});
