/**
 * A proxied call whose request body is content-coded (gzip, deflate) is forwarded as sent and
 * identified by the JSON in it, as the same call sent uncoded; a coding runprint does not decode,
 * a body that does not decode, or one that decodes past the request limit, is forwarded as sent
 * and recorded unidentified with ERR_CAPTURE_REQUEST_ENCODING.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { prepareRequest } from '../src/capture/capture-run.ts';
import type { RunRecord } from '../src/capture/index.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch = scratchFolders('runprint-request-coding-');
before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

const json = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Zürich weather? 🌦️' }] });
const requestId = prepareRequest('openai-chat', new TextEncoder().encode(json)).identity!.requestId;

async function call(body: Uint8Array, coding: string): Promise<{ headerId: string | null; record: RunRecord; forwarded: Buffer; forwardedCoding: string | undefined }> {
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': coding }, body: body as Uint8Array<ArrayBuffer> });
  await response.arrayBuffer();
  const captureId = response.headers.get('runprint-capture-id')!;
  const view = (await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: Array<{ record: RunRecord }> };
  const last = upstream.requests.at(-1)!;
  return { headerId: response.headers.get('runprint-request-id'), record: view.runs[0]!.record, forwarded: last.body, forwardedCoding: last.headers['content-encoding'] as string | undefined };
}

test('gzip and deflate: forwarded as sent, identified by the JSON they carry', async () => {
  for (const [coding, body] of [['gzip', gzipSync(json)], ['deflate', deflateSync(json)], ['GZIP', gzipSync(json)], ['gzip, identity', gzipSync(json)], ['deflate, gzip', gzipSync(deflateSync(json))]] as const) {
    const seen = await call(body, coding);
    assert.equal(seen.headerId, requestId, coding);
    assert.equal(seen.record.requestId, requestId, coding);
    assert.equal(seen.record.unidentified, null, coding);
    assert.equal(seen.record.request.size, body.length, `${coding}: the size as sent`);
    assert.deepEqual(new Uint8Array(seen.forwarded), new Uint8Array(body), `${coding}: the upstream got the bytes as sent`);
    assert.equal(seen.forwardedCoding, coding, `${coding}: and the coding`);
  }
});

test('a coding runprint does not decode, a body that does not decode, one that decodes past the limit: forwarded as sent, unidentified', async () => {
  const bomb = gzipSync(Buffer.alloc(33 * 1024 * 1024, 0x20));
  for (const [coding, body] of [['br', brotliCompressSync(json)], ['gzip', Buffer.from(json)], ['gzip', bomb]] as const) {
    const seen = await call(body, coding);
    assert.equal(seen.headerId, null, coding);
    assert.equal(seen.record.requestId, null);
    assert.equal(seen.record.unidentified?.code, 'ERR_CAPTURE_REQUEST_ENCODING', coding);
    assert.deepEqual(new Uint8Array(seen.forwarded), new Uint8Array(body), `${coding}: forwarded as sent`);
  }
});
