/**
 * A request with more list elements than capture computes an identity for (MAX_CAPTURED_ELEMENTS,
 * 100,000) goes through untouched and is recorded unidentified (ERR_CAPTURE_TOO_MANY_ELEMENTS),
 * the same in process and through the proxy; one at the limit is identified. Before, such a request
 * held serve's event loop for seconds and its receipt named every element digest.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MAX_CAPTURED_ELEMENTS } from '../src/capture/capture-run.ts';
import { runprintFetch } from '../src/capture-node/index.ts';
import type { RunRecord } from '../src/capture/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-too-many-elements-');
let upstream: FakeUpstream;
let serve: ServeProcess;

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

/** A chat request of `count` one-word user messages. */
function request(count: number): string {
  return JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: count }, (_, i) => ({ role: 'user', content: `w${i}` })) });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('in process: one element over the limit is recorded unidentified and forwarded byte for byte; at the limit it is identified', async () => {
  assert.equal(MAX_CAPTURED_ELEMENTS, 100_000);
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data: scratch.tempDir(), onError: (error) => void errors.push(error) });
  const records: RunRecord[] = [];
  for (const count of [MAX_CAPTURED_ELEMENTS + 1, MAX_CAPTURED_ELEMENTS]) {
    const body = request(count);
    const response = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body });
    assert.equal(response.status, 200);
    await response.text();
    assert.equal(createHash('sha256').update(upstream.requests.at(-1)!.body).digest('hex'), sha256(body), 'forwarded untouched');
    records.push((await fetch.runOf(response.headers.get('runprint-capture-id')!))!);
  }
  await fetch.close();
  assert.deepEqual(errors, []);
  const [over, at] = records as [RunRecord, RunRecord];
  assert.equal(over.unidentified?.code, 'ERR_CAPTURE_TOO_MANY_ELEMENTS');
  assert.equal(over.requestId, null);
  assert.equal(at.unidentified, null);
  assert.match(at.requestId ?? '', /^rp-req-v1-sha256-/);
});

test('through the proxy: the same code, the request forwarded and recorded by its digest', async () => {
  const body = request(MAX_CAPTURED_ELEMENTS + 1);
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body });
  assert.equal(response.status, 200);
  await response.text();
  assert.equal(response.headers.get('runprint-request-id'), null);
  const { runs } = (await (await fetch(`${serve.base}/v1/runs/${response.headers.get('runprint-capture-id')}`)).json()) as { runs: Array<{ record: RunRecord }> };
  assert.equal(runs[0]!.record.unidentified?.code, 'ERR_CAPTURE_TOO_MANY_ELEMENTS');
  assert.equal(runs[0]!.record.request.rawDigest.sha256, sha256(body));
});
