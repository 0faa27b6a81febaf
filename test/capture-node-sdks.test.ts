/**
 * The one line per SDK that docs/CAPTURE.md and docs/API.md give for runprintFetch, each with the
 * real client against the fake upstream: openai, @anthropic-ai/sdk, the Vercel AI SDK's
 * @ai-sdk/openai and @ai-sdk/anthropic, LangChain's ChatOpenAI (`configuration: { fetch }`) and
 * ChatAnthropic (`clientOptions: { fetch }`). Every call the upstream answered is one stored run
 * with capture `sdk`, the exact request bytes, and a signed receipt.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { runprintFetch, withParent, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream, type Scenario } from './helpers/fake-upstream/index.ts';

const KEY = 'sk-test-capture-node-sdks';
const PARENT = `rp-run-v1-sha256-${'12'.repeat(32)}`;
let upstream: FakeUpstream;
let data: string;
let fetch: RunprintFetch;
let store: SqliteRuns;
const errors: RunprintError[] = [];

before(async () => {
  upstream = await startFakeUpstream();
  data = mkdtempSync(join(tmpdir(), 'runprint-capture-node-sdks-'));
  fetch = runprintFetch({ data, onError: (error) => void errors.push(error) });
  await fetch.flush();
  store = SqliteRuns.open(join(data, 'runs.sqlite'));
});
after(async () => {
  await fetch.close();
  await store.close();
  await upstream.close();
  rmSync(data, { recursive: true, force: true });
  assert.deepEqual(errors, []);
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Runs `call` and checks one stored sdk run, signed, per request the upstream answered; returns what the call gave. */
async function stored<T>(call: () => Promise<T>, scenario: Scenario): Promise<T> {
  upstream.enqueue(scenario);
  const mark = upstream.requests.length;
  const before = (await store.list({ limit: 1000 })).length;
  const result = await withParent(PARENT, call);
  await upstream.settled();
  await fetch.flush();
  const received = upstream.requests.slice(mark);
  const all = await store.list({ limit: 1000 });
  const runs = all.slice(0, all.length - before).reverse();
  assert.equal(received.length, 1);
  assert.equal(runs.length, 1, 'one stored run for the call');
  const run = runs[0]!;
  assert.equal(run.capture, 'sdk');
  assert.equal(run.record.request.rawDigest.sha256, sha256(received[0]!.body));
  assert.match(run.record.runId ?? '', /^rp-run-v1-sha256-/);
  assert.deepEqual(run.record.parents, [PARENT]);
  assert.ok(run.receipt !== null, 'signed');
  return result;
}

test('openai: new OpenAI({ fetch })', async () => {
  const client = new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 });
  const completion = await stored(() => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi.' }] }), { kind: 'text', text: 'OpenAI.' });
  assert.equal(completion.choices[0]?.message.content, 'OpenAI.');
});

test('@anthropic-ai/sdk: new Anthropic({ fetch })', async () => {
  const client = new Anthropic({ apiKey: KEY, baseURL: upstream.url, fetch, maxRetries: 0 });
  const message = await stored(() => client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi.' }] }), { kind: 'text', text: 'Anthropic.' });
  assert.deepEqual(message.content.map((block) => (block.type === 'text' ? block.text : '')), ['Anthropic.']);
});

test('@ai-sdk/openai: createOpenAI({ fetch }) with generateText', async () => {
  const openai = createOpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch });
  const { text } = await stored(() => generateText({ model: openai.chat('gpt-4o'), prompt: 'Hi.' }), { kind: 'text', text: 'Vercel OpenAI.' });
  assert.equal(text, 'Vercel OpenAI.');
});

test('@ai-sdk/anthropic: createAnthropic({ fetch }) with streamText', async () => {
  const anthropic = createAnthropic({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch });
  const text = await stored(async () => {
    let out = '';
    for await (const part of streamText({ model: anthropic('claude-sonnet-4-5'), prompt: 'Hi.' }).textStream) out += part;
    return out;
  }, { kind: 'text', text: 'Vercel Anthropic.' });
  assert.equal(text, 'Vercel Anthropic.');
});

test('@langchain/openai: new ChatOpenAI({ configuration: { fetch } })', async () => {
  const chat = new ChatOpenAI({ model: 'gpt-4o', apiKey: KEY, maxRetries: 0, configuration: { baseURL: `${upstream.url}/v1`, fetch } });
  const answer = await stored(() => chat.invoke('Hi.'), { kind: 'text', text: 'LangChain OpenAI.' });
  assert.equal(answer.content, 'LangChain OpenAI.');
});

test('@langchain/anthropic: new ChatAnthropic({ clientOptions: { fetch } })', async () => {
  const chat = new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: KEY, maxRetries: 0, anthropicApiUrl: upstream.url, clientOptions: { fetch } });
  const answer = await stored(() => chat.invoke('Hi.'), { kind: 'text', text: 'LangChain Anthropic.' });
  assert.equal(answer.content, 'LangChain Anthropic.');
});
