/**
 * An SDK's own timeout, in process: each official client, given runprintFetch and a short timeout,
 * against a fake upstream that never answers (no headers; or its first events, then nothing more).
 * A call ended by a timeout is recorded `timeout` (the record's outcome and incomplete reason, as a
 * caller's AbortSignal.timeout is) where the fetch can tell it from an abort: the signal the SDK
 * hands to fetch aborts with a reason named TimeoutError (the Vercel AI SDK's `timeout` in every
 * form, LangChain's call option `timeout` over ChatOpenAI, which the openai client composes with
 * its own signal). The openai and Anthropic clients abort their own controller without a reason on
 * their timeout, as on the caller's abort, so those calls (LangChain's ChatAnthropic, and
 * ChatOpenAI's own `timeout` field, which is the openai client's, among them) stay `aborted`
 * (docs/CAPTURE.md, "Failures").
 *
 * The mid-stream cases are the ones capture got wrong: a timeout that fired while the application
 * was not reading the stream was recorded `aborted`, since the SDK then cancels the body without
 * a reason; the call's signal says it timed out.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import type { RunRecord } from '../src/capture/run-record.ts';
import { runprintFetch, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream, type Scenario } from './helpers/fake-upstream/index.ts';
import { scratchFolders } from './helpers/scratch.ts';

const KEY = 'sk-test-capture-node-sdk-timeouts';
/** The SDKs' timeout before an answer (ms): short, the upstream never answers anyway. */
const TIMEOUT = 300;
/** The SDKs' timeout of a call whose stream stops (ms): its first events come well before it. */
const STREAM_TIMEOUT = 1000;
const scratch = scratchFolders('runprint-capture-node-sdk-timeouts-');
let upstream: FakeUpstream;
let fetch: RunprintFetch;
let store: SqliteRuns;
const errors: RunprintError[] = [];

before(async () => {
  upstream = await startFakeUpstream();
  const data = scratch.tempDir();
  fetch = runprintFetch({ data, onError: (error) => void errors.push(error) });
  await fetch.flush();
  store = SqliteRuns.open(join(data, 'runs.sqlite'));
});
after(async () => {
  await fetch.close();
  await store.close();
  await upstream.close();
  scratch.removeAll();
  assert.deepEqual(errors, [], 'every call was recorded');
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Never answers: no status line, no headers (the connection stays open until the client goes). */
const silent = (): Scenario => ({ kind: 'text', text: 'Too late.', headersDelayMs: 120_000 });
/** Its first events, then nothing more: the stream stays open, paused for good. */
const stalled = (): Scenario => ({ kind: 'text', text: 'one two three four five six seven eight', pauseBeforeEvent: 3, resume: new Promise(() => undefined) });
/** Many events at once (more than the SDK reads ahead of the application), then nothing more. */
const stalledLong = (): Scenario => ({ kind: 'text', text: Array.from({ length: 400 }, (_, i) => `w${i}`).join(' '), eventDelayMs: 0, pauseBeforeEvent: 390, resume: new Promise(() => undefined) });

/** Runs `call` (what it throws is returned) and gives the one run the store holds for it. */
async function recorded(call: () => Promise<unknown>, scenario: Scenario): Promise<{ error: unknown; record: RunRecord }> {
  upstream.enqueue(scenario);
  const mark = (await store.list({ limit: 1000 })).length;
  let error: unknown;
  try {
    await call();
  } catch (thrown) {
    error = thrown;
  }
  // A cancelled body is recorded as the cancel completes; flush waits for what has been handed over.
  await sleep(50);
  await fetch.flush();
  const all = await store.list({ limit: 1000 });
  assert.equal(all.length - mark, 1, 'one run for the call');
  return { error, record: all[0]!.record };
}

function assertOutcome(record: RunRecord, outcome: 'timeout' | 'aborted', stream: boolean): void {
  assert.equal(record.outcome, outcome);
  assert.deepEqual(record.incomplete, { reason: outcome, code: stream ? 'ERR_OUTPUT_INCOMPLETE_STREAM' : null });
  if (!stream) assert.equal(record.response.status, null, 'no answer');
}

const openaiClient = () => new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 });
const anthropicClient = () => new Anthropic({ apiKey: KEY, baseURL: upstream.url, fetch, maxRetries: 0 });
const vercelOpenAI = () => createOpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch });
const vercelAnthropic = () => createAnthropic({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch });
const langchainOpenAI = (fields: { timeout?: number } = {}) => new ChatOpenAI({ model: 'gpt-4o', apiKey: KEY, maxRetries: 0, ...fields, configuration: { baseURL: `${upstream.url}/v1`, fetch } });
const langchainAnthropic = () => new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: KEY, maxRetries: 0, anthropicApiUrl: upstream.url, clientOptions: { fetch } });

test('the Vercel AI SDK: generateText with timeout (a number, stepMs) before the answer is a timeout, with either provider', async () => {
  for (const [what, model, timeout] of [
    ['@ai-sdk/openai, timeout: ms', () => vercelOpenAI().chat('gpt-4o'), TIMEOUT],
    ['@ai-sdk/anthropic, timeout: ms', () => vercelAnthropic()('claude-sonnet-4-5'), TIMEOUT],
    ['@ai-sdk/openai, timeout: { stepMs }', () => vercelOpenAI().chat('gpt-4o'), { stepMs: TIMEOUT }],
  ] as const) {
    const { error, record } = await recorded(() => generateText({ model: model(), prompt: 'Hi.', maxRetries: 0, timeout }), silent());
    assert.equal((error as Error).name, 'TimeoutError', what);
    assertOutcome(record, 'timeout', false);
  }
});

test('the Vercel AI SDK: streamText whose timeout fires mid-stream while the application is not reading is a timeout', async () => {
  for (const [what, timeout] of [['timeout: ms', STREAM_TIMEOUT], ['timeout: { chunkMs }', { chunkMs: STREAM_TIMEOUT }]] as const) {
    let pieces = 0;
    const { record } = await recorded(async () => {
      const result = streamText({ model: vercelOpenAI().chat('gpt-4o'), prompt: 'Count.', maxRetries: 0, timeout, onError: () => undefined });
      // The application works on the first piece past the timeout, then stops.
      for await (const piece of result.textStream) {
        void piece;
        pieces++;
        await sleep(STREAM_TIMEOUT + 500);
        break;
      }
    }, stalledLong());
    assert.equal(pieces, 1, 'the stream had begun');
    assert.equal(record.outcome, 'timeout', what);
    assertOutcome(record, 'timeout', true);
  }
});

test('LangChain: the call option timeout over ChatOpenAI is a timeout, before the answer and mid-stream while the application is not reading', async () => {
  const chat = langchainOpenAI();
  const before = await recorded(() => chat.invoke('Hi.', { timeout: TIMEOUT }), silent());
  assert.ok(before.error instanceof Error);
  assertOutcome(before.record, 'timeout', false);

  let chunks = 0;
  const mid = await recorded(async () => {
    for await (const chunk of await chat.stream('Count.', { timeout: STREAM_TIMEOUT })) {
      void chunk;
      chunks++;
      await sleep(STREAM_TIMEOUT + 500);
    }
  }, stalled());
  assert.ok(chunks >= 1, 'the stream had begun');
  assert.equal((mid.error as Error).name, 'TimeoutError');
  assertOutcome(mid.record, 'timeout', true);
});

test('openai and @anthropic-ai/sdk abort without a reason on their own timeout: aborted, as LangChain over them', async () => {
  const openai = await recorded(() => openaiClient().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi.' }] }, { timeout: TIMEOUT }), silent());
  assert.ok(openai.error instanceof OpenAI.APIConnectionTimeoutError);
  assertOutcome(openai.record, 'aborted', false);

  const anthropic = await recorded(() => anthropicClient().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi.' }] }, { timeout: TIMEOUT }), silent());
  assert.ok(anthropic.error instanceof Anthropic.APIConnectionTimeoutError);
  assertOutcome(anthropic.record, 'aborted', false);

  // ChatOpenAI's own timeout field is the openai client's timeout.
  const field = await recorded(() => langchainOpenAI({ timeout: TIMEOUT }).invoke('Hi.'), silent());
  assert.ok(field.error instanceof Error);
  assertOutcome(field.record, 'aborted', false);

  // The call option's TimeoutError reaches the Anthropic client, which aborts its own controller without it.
  const over = await recorded(() => langchainAnthropic().invoke('Hi.', { timeout: TIMEOUT }), silent());
  assert.equal((over.error as Error).name, 'TimeoutError');
  assertOutcome(over.record, 'aborted', false);
});
