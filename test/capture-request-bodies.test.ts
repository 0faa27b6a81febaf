/**
 * Request bodies of every kind fetch takes, through runprintFetch (a real SQLite run store)
 * to the fake upstream: a ReadableStream body is teed, so the call is recorded from the bytes
 * sent (the same request identity as the same bytes sent as a string), in one chunk or many; a
 * FormData body is encoded once and those exact bytes are sent and recorded (unidentified: not
 * JSON); URLSearchParams is recorded from its bytes. A stream that fails, or a body of a kind
 * runprint cannot read without consuming it (an async iterable), leaves the call as fetch makes it,
 * unrecorded, and reports ERR_CAPTURE_REQUEST_UNREADABLE (never ERR_INTERNAL).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runprintFetch, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import type { StoredRun } from '../src/store/run-storage.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';

let upstream: FakeUpstream;
const scratch: string[] = [];

before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const REQUEST = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello from a stream.' }] });
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** A runprintFetch on a fresh data directory, its errors kept. */
function capturing(): { fetch: RunprintFetch; data: string; errors: RunprintError[] } {
  const data = mkdtempSync(join(tmpdir(), 'runprint-bodies-'));
  scratch.push(data);
  const errors: RunprintError[] = [];
  return { fetch: runprintFetch({ data, spans: false, onError: (error) => void errors.push(error) }), data, errors };
}

/** Every run the data directory's store holds, oldest first. */
async function stored(data: string): Promise<StoredRun[]> {
  const storage = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    return (await storage.list({ limit: 100 })).reverse();
  } finally {
    await storage.close();
  }
}

const streamOf = (chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });

const chat = `/v1/chat/completions`;

describe('runprintFetch: request bodies', () => {
  test('a ReadableStream body (one chunk, or many): sent whole, recorded from the bytes sent, the identity of the same bytes as a string', async () => {
    const { fetch, data, errors } = capturing();
    const asString = await fetch(`${upstream.url}${chat}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: REQUEST });
    assert.equal(asString.status, 200);
    await asString.text();
    const pieces = [REQUEST.slice(0, 7), REQUEST.slice(7, 30), REQUEST.slice(30)];
    for (const chunks of [[REQUEST], pieces]) {
      const seen = upstream.requests.length;
      const response = await fetch(`${upstream.url}${chat}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: streamOf(chunks), duplex: 'half' } as RequestInit);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /chat\.completion/);
      assert.equal(upstream.requests[seen]!.body.toString('utf8'), REQUEST, 'the upstream got the whole body');
    }
    await fetch.close();
    const runs = await stored(data);
    assert.equal(runs.length, 3);
    for (const run of runs) {
      assert.equal(run.record.unidentified, null);
      assert.equal(run.record.requestId, runs[0]!.record.requestId, 'the same request identity');
      assert.deepEqual(run.record.request, { size: Buffer.byteLength(REQUEST), rawDigest: { sha256: sha256(REQUEST) } });
      assert.notEqual(run.record.output, null);
    }
    assert.deepEqual(errors, []);
    assert.equal(fetch.counts.failures, 0);
  });

  test('a FormData body: the exact multipart bytes the upstream got are recorded (unidentified: not JSON, with its code); URLSearchParams likewise', async () => {
    const { fetch, data, errors } = capturing();
    const form = new FormData();
    form.append('model', 'gpt-4o');
    form.append('file', new Blob(['hello'], { type: 'text/plain' }), 'a.txt');
    let seen = upstream.requests.length;
    const answered = await fetch(`${upstream.url}${chat}`, { method: 'POST', body: form });
    await answered.arrayBuffer();
    const sent = upstream.requests[seen]!;
    assert.match(String(sent.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.match(sent.body.toString('utf8'), /name="file"; filename="a.txt"/);
    seen = upstream.requests.length;
    const params = new URLSearchParams({ model: 'gpt-4o', q: 'é' });
    await (await fetch(`${upstream.url}${chat}`, { method: 'POST', body: params })).arrayBuffer();
    const sentParams = upstream.requests[seen]!;
    assert.equal(sentParams.body.toString('utf8'), params.toString());
    await fetch.close();
    const runs = await stored(data);
    assert.equal(runs.length, 2);
    assert.deepEqual(runs[0]!.record.request, { size: sent.body.length, rawDigest: { sha256: sha256(sent.body) } }, 'the bytes sent');
    assert.deepEqual(runs[1]!.record.request, { size: sentParams.body.length, rawDigest: { sha256: sha256(sentParams.body) } });
    for (const run of runs) assert.match(run.record.unidentified?.code ?? '', /^ERR_JSON_/);
    assert.equal(fetch.counts.unidentified, 2);
    assert.deepEqual(errors, []);
  });

  test('a stream that fails: fetch fails as it would, nothing is recorded, ERR_CAPTURE_REQUEST_UNREADABLE is reported and counted', async () => {
    const { fetch, data, errors } = capturing();
    const failing = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(REQUEST.slice(0, 10)));
        controller.error(new Error('disk gone'));
      },
    });
    await assert.rejects(fetch(`${upstream.url}${chat}`, { method: 'POST', body: failing, duplex: 'half' } as RequestInit));
    await fetch.close();
    assert.equal((await stored(data)).length, 0);
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_REQUEST_UNREADABLE']);
    assert.equal(fetch.counts.failures, 1);
  });

  test('an async iterable body: forwarded untouched (the upstream gets it), not recorded, ERR_CAPTURE_REQUEST_UNREADABLE', async () => {
    const { fetch, data, errors } = capturing();
    async function* body() {
      yield new TextEncoder().encode(REQUEST);
    }
    const seen = upstream.requests.length;
    const response = await fetch(`${upstream.url}${chat}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body() as unknown as BodyInit, duplex: 'half' } as RequestInit);
    assert.equal(response.status, 200);
    await response.text();
    assert.equal(upstream.requests[seen]!.body.toString('utf8'), REQUEST);
    await fetch.close();
    assert.equal((await stored(data)).length, 0);
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_REQUEST_UNREADABLE']);
  });
});
