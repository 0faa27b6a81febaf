/**
 * In process, the application learns each call's ids as through the proxy: runprintFetch's
 * answers carry `runprint-capture-id` and `runprint-request-id` (read with the official SDKs'
 * `.withResponse()`), and `fetch.runOf(captureId)` gives the call's record, whose `runId` links
 * the agent's next step with `withParent`. Real openai and @anthropic-ai/sdk clients against the
 * fake upstream, streamed and not, into a real SQLite run store; the ids are those the store holds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { captureFetch } from '../src/capture/capture-fetch.ts';
import { runprintFetch, withParent, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';

const KEY = 'sk-test-capture-node-ids';
let upstream: FakeUpstream;
let data: string;
let fetch: RunprintFetch;
const errors: RunprintError[] = [];

before(async () => {
  upstream = await startFakeUpstream();
  data = mkdtempSync(join(tmpdir(), 'runprint-capture-node-ids-'));
  fetch = runprintFetch({ data, spans: false, onError: (error) => void errors.push(error) });
});
after(async () => {
  await fetch.close();
  await upstream.close();
  rmSync(data, { recursive: true, force: true });
  assert.deepEqual(errors, []);
});

/** The stored records of a capture id. */
async function storedRecords(captureId: string) {
  await fetch.flush();
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    return (await store.find(captureId)).map((run) => run.record);
  } finally {
    await store.close();
  }
}

describe('runprintFetch: the ids of each call', () => {
  test('openai: .withResponse() shows runprint-capture-id and runprint-request-id; runOf gives the run; the next step inside withParent names it as parent', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 });
    const { data: completion, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Step one.' }] }).withResponse();
    assert.equal(completion.object, 'chat.completion');
    const captureId = response.headers.get('runprint-capture-id');
    assert.match(captureId ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(response.headers.get('runprint-run-id'), null, 'no run id before the body has ended');
    const record = await fetch.runOf(captureId!);
    assert.ok(record !== null);
    assert.equal(record.captureId, captureId);
    assert.equal(response.headers.get('runprint-request-id'), record.requestId);
    assert.match(record.runId ?? '', /^rp-run-v1-sha256-/);
    const [stored] = await storedRecords(captureId!);
    assert.equal(stored?.runId, record.runId, 'the run the store holds');
    assert.equal(stored?.requestId, record.requestId);
    // The provider's own headers are still there.
    assert.equal(response.headers.get('content-type'), 'application/json');

    const step2 = await withParent(record.runId!, () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Step two.' }] }).withResponse());
    const child = await fetch.runOf(step2.response.headers.get('runprint-capture-id')!);
    assert.deepEqual(child?.parents, [record.runId]);
  });

  test('openai streamed: the headers come with the answer; runOf resolves once the stream has ended', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Stream it.' }] }).withResponse();
    const captureId = response.headers.get('runprint-capture-id')!;
    assert.match(response.headers.get('runprint-request-id') ?? '', /^rp-req-v1-sha256-/);
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.ok(text.length > 0);
    const record = await fetch.runOf(captureId);
    assert.equal(record?.response.stream, true);
    assert.equal(record?.requestId, response.headers.get('runprint-request-id'));
    assert.equal((await storedRecords(captureId))[0]?.runId, record?.runId);
  });

  test('anthropic: .withResponse() shows the ids too; runOf gives the run', async () => {
    const client = new Anthropic({ apiKey: KEY, baseURL: upstream.url, fetch, maxRetries: 0 });
    const { response } = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi.' }] }).withResponse();
    const captureId = response.headers.get('runprint-capture-id')!;
    const record = await fetch.runOf(captureId);
    assert.equal(record?.format, 'anthropic-messages');
    assert.equal(response.headers.get('runprint-request-id'), record?.requestId);
    assert.match(record?.runId ?? '', /^rp-run-v1-sha256-/);
  });

  test('an unidentified request: a capture id, no request id; an error answer has the ids too; runOf of an unknown id is null', async () => {
    const bad = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "gpt-4o", "messages": "not a list"}' });
    await bad.arrayBuffer();
    const captureId = bad.headers.get('runprint-capture-id')!;
    assert.equal(bad.headers.get('runprint-request-id'), null);
    assert.notEqual((await fetch.runOf(captureId))?.unidentified, null);
    upstream.enqueue({ kind: 'error', status: 401 });
    const refused = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(refused.status, 401);
    await refused.arrayBuffer();
    assert.equal((await fetch.runOf(refused.headers.get('runprint-capture-id')!))?.response.status, 401);
    assert.equal(await fetch.runOf('00000000-0000-4000-8000-000000000000'), null);
  });

  test('captureFetch adds no header unless idHeaders is set', async () => {
    const plain = captureFetch(globalThis.fetch, { onRun: () => undefined });
    const response = await plain(`${upstream.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }) });
    await response.arrayBuffer();
    assert.equal(response.headers.get('runprint-capture-id'), null);
  });
});
