/**
 * runprintFetch's collect: the records of the calls made inside a function, through async
 * context, for clients that do not show an answer's headers (LangChain's ChatOpenAI and
 * ChatAnthropic with bindTools, whose response_metadata has no runprint-capture-id), so an agent
 * links its next step with withParent. Real LangChain clients against the fake upstream: one
 * call, parallel calls and two collects at once, a failed call, async durability, nesting; and
 * withParent with null (a failed call's runId, a capture id runOf does not know), which runs its
 * function with the parents around it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ChatAnthropic } from '@langchain/anthropic';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { runprintFetch, withParent, withSteps, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunRecord } from '../src/capture/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';

const KEY = 'sk-test-capture-node-collect';
const OUTER = `rp-run-v1-sha256-${'ef'.repeat(32)}`;
const RUN_ID = /^rp-run-v1-sha256-[0-9a-f]{64}$/;
const REQUEST_ID = /^rp-req-v1-sha256-[0-9a-f]{64}$/;
const weather = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
let upstream: FakeUpstream;
const dirs: string[] = [];
const fetches: RunprintFetch[] = [];
const errors: RunprintError[] = [];

before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  for (const fetch of fetches) await fetch.close();
  await upstream.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(errors, []);
});

/** A runprintFetch on a fresh data directory, and LangChain's two chat models through it. */
function capturing(durability: 'sync' | 'async' = 'sync'): { fetch: RunprintFetch; openai: ChatOpenAI; anthropic: ChatAnthropic } {
  const data = mkdtempSync(join(tmpdir(), 'runprint-collect-'));
  dirs.push(data);
  const fetch = runprintFetch({ data, durability, spans: false, onError: (error) => void errors.push(error) });
  fetches.push(fetch);
  return {
    fetch,
    openai: new ChatOpenAI({ model: 'gpt-4o', apiKey: KEY, maxRetries: 0, configuration: { baseURL: `${upstream.url}/v1`, fetch } }),
    anthropic: new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: KEY, maxRetries: 0, anthropicApiUrl: upstream.url, clientOptions: { fetch } }),
  };
}

/** The stored records of a fetch's data directory, by capture id (after flush). */
async function stored(fetch: RunprintFetch): Promise<Map<string, RunRecord>> {
  await fetch.flush();
  const store = SqliteRuns.open(join(fetch.data, 'runs.sqlite'));
  try {
    return new Map((await store.list({ limit: 100 })).map((run) => [run.record.captureId, run.record]));
  } finally {
    await store.close();
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The body the upstream received for a record (by its raw digest), as text. */
function bodyOf(record: RunRecord): string {
  const request = upstream.requests.find((received) => sha256(received.body) === record.request.rawDigest.sha256);
  assert.ok(request !== undefined, 'the upstream received the recorded request');
  return Buffer.from(request.body).toString('utf8');
}

/** A successful call's record, as collect lists it: the same as runOf's and the store's. */
async function checkRun(fetch: RunprintFetch, record: RunRecord | undefined, status = 200): Promise<RunRecord> {
  assert.ok(record !== undefined);
  assert.match(record.captureId, /^[0-9a-f-]{36}$/);
  assert.match(record.requestId ?? '', REQUEST_ID);
  assert.equal(record.response.status, status);
  if (status === 200) assert.match(record.runId ?? '', RUN_ID);
  assert.deepEqual(await fetch.runOf(record.captureId), record, 'runOf gives the same record');
  assert.deepEqual(JSON.parse(JSON.stringify((await stored(fetch)).get(record.captureId))), JSON.parse(JSON.stringify(record)), 'the store has the same record');
  return record;
}

test('LangChain ChatOpenAI with bindTools: collect gives the tool call\'s record, withParent links the next step to it', async () => {
  const { fetch, openai } = capturing();
  upstream.enqueue({ kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Basel"}' }] }, { kind: 'text', text: 'Sunny in Basel.' });
  const withTools = openai.bindTools([weather]);
  const question = new HumanMessage('Weather in Basel?');
  const { value: first, runs } = await fetch.collect(() => withTools.invoke([question]));
  // What the reviewer met: LangChain shows no runprint header on the message.
  assert.equal((first.response_metadata as { headers?: unknown }).headers, undefined);
  assert.equal(first.tool_calls?.[0]?.name, 'get_weather');
  assert.equal(runs.length, 1);
  const step1 = await checkRun(fetch, runs[0]);
  const toolAnswer = new ToolMessage({ content: 'Sunny.', tool_call_id: first.tool_calls![0]!.id! });
  const next = await fetch.collect(() => withParent(step1.runId, () => withTools.invoke([question, first, toolAnswer])));
  assert.equal(next.value.content, 'Sunny in Basel.');
  assert.equal(next.runs.length, 1);
  const step2 = await checkRun(fetch, next.runs[0]);
  assert.deepEqual(step2.parents, [step1.runId]);
});

test('LangChain ChatAnthropic with bindTools, invoked and streamed: collect gives each record', async () => {
  const { fetch, anthropic } = capturing();
  upstream.enqueue({ kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Bern"}' }] }, { kind: 'text', text: 'Cloudy in Bern.' });
  const withTools = anthropic.bindTools([weather]);
  const { value, runs } = await fetch.collect(() => withTools.invoke('Weather in Bern?'));
  assert.equal(value.tool_calls?.[0]?.name, 'get_weather');
  assert.equal(runs.length, 1);
  const step1 = await checkRun(fetch, runs[0]);
  assert.equal(step1.format, 'anthropic-messages');
  const streamed = await fetch.collect(() =>
    withParent(step1.runId, async () => {
      let text = '';
      for await (const chunk of await anthropic.stream('And tomorrow?')) text += typeof chunk.content === 'string' ? chunk.content : '';
      return text;
    }),
  );
  assert.equal(streamed.value, 'Cloudy in Bern.');
  assert.equal(streamed.runs.length, 1);
  const step2 = await checkRun(fetch, streamed.runs[0]);
  assert.equal(step2.response.stream, true);
  assert.deepEqual(step2.parents, [step1.runId]);
});

test('parallel calls in one collect, and two collects at once: each lists the calls started inside it, no other', async () => {
  const { fetch, openai, anthropic } = capturing();
  // The answers come late, so the calls of both collects are in flight together.
  const slow = { kind: 'text', text: 'Late.', headersDelayMs: 100 } as const;
  upstream.enqueue(slow, slow, slow, slow, slow);
  const [one, two] = await Promise.all([
    fetch.collect(() => Promise.all([openai.invoke('one-a'), anthropic.invoke('one-b'), openai.invoke('one-c')])),
    fetch.collect(() => Promise.all([anthropic.invoke('two-a'), openai.invoke('two-b')])),
  ]);
  assert.deepEqual(one.value.map((message) => message.content), ['Late.', 'Late.', 'Late.']);
  assert.equal(one.runs.length, 3);
  assert.equal(two.runs.length, 2);
  for (const record of one.runs) assert.match(bodyOf(await checkRun(fetch, record)), /"one-[abc]"/);
  for (const record of two.runs) assert.match(bodyOf(await checkRun(fetch, record)), /"two-[ab]"/);
  assert.equal(new Set([...one.runs, ...two.runs].map((record) => record.captureId)).size, 5);
  assert.deepEqual(one.runs.map((record) => record.format).sort(), ['anthropic-messages', 'openai-chat', 'openai-chat']);
});

test('a failed call: listed with runId null and its status; fn\'s error rejects collect as thrown; withParent(null) links nothing', async () => {
  const { fetch, openai } = capturing();
  upstream.enqueue({ kind: 'error', status: 500, message: 'Upstream broke.' });
  const { value: error, runs } = await fetch.collect(() => openai.invoke('Fail.').then(() => null, (thrown: unknown) => thrown));
  assert.ok(error instanceof Error, 'the SDK threw');
  assert.equal(runs.length, 1);
  const failed = await checkRun(fetch, runs[0], 500);
  assert.equal(failed.runId, null);
  // A call that got no answer (nothing listens at the address): listed, with no status.
  const unreachable = new ChatOpenAI({ model: 'gpt-4o', apiKey: KEY, maxRetries: 0, configuration: { baseURL: 'http://127.0.0.1:1/v1', fetch } });
  const refused = await fetch.collect(() => unreachable.invoke('Anyone?').then(() => null, (thrown: unknown) => thrown));
  assert.ok(refused.value instanceof Error);
  assert.equal(refused.runs.length, 1);
  assert.deepEqual([refused.runs[0]!.response.status, refused.runs[0]!.runId, refused.runs[0]!.outcome], [null, null, 'network-error']);
  // Unhandled, fn's own error is collect's: the same object.
  upstream.enqueue({ kind: 'error', status: 400, message: 'Bad.' });
  let thrown: unknown;
  await assert.rejects(fetch.collect(() => openai.invoke('Fail again.').catch((sdkError: unknown) => {
    thrown = sdkError;
    throw sdkError;
  })), (rejected) => rejected === thrown);
  // The next step after the failed one, linked as the README's recipe links it: follows from what
  // the failed step followed from (the outer parents here; none at the top).
  upstream.enqueue({ kind: 'text', text: 'Retried.' }, { kind: 'text', text: 'Alone.' });
  const inner = await fetch.collect(() => withParent(OUTER, () => withParent(failed.runId, () => openai.invoke('Retry.'))));
  assert.deepEqual((await checkRun(fetch, inner.runs[0])).parents, [OUTER]);
  // The documented recipe with a capture id runOf does not know (null).
  const unknown = await fetch.runOf('00000000-0000-4000-8000-000000000000');
  const top = await fetch.collect(() => withParent(unknown?.runId, () => openai.invoke('Alone.')));
  assert.equal(unknown, null);
  assert.deepEqual((await checkRun(fetch, top.runs[0])).parents, []);
});

test('a call the SDK retried: each attempt listed in the order they started, the failed one with runId null', async () => {
  const { fetch } = capturing();
  const retrying = new ChatOpenAI({ model: 'gpt-4o', apiKey: KEY, maxRetries: 1, configuration: { baseURL: `${upstream.url}/v1`, fetch } });
  upstream.enqueue({ kind: 'error', status: 500, message: 'Try again.' }, { kind: 'text', text: 'Second try.' });
  const { value, runs } = await fetch.collect(() => retrying.invoke('Try.'));
  assert.equal(value.content, 'Second try.');
  assert.deepEqual(runs.map((record) => [record.response.status, record.runId === null]), [[500, true], [200, false]]);
  await checkRun(fetch, runs.at(-1));
});

test('withParent(null) inside withSteps: the call is still a step, linked as the steps link it', async () => {
  const { fetch, openai } = capturing();
  upstream.enqueue({ kind: 'text', text: 'One.' }, { kind: 'text', text: 'Two.' });
  const { runs } = await fetch.collect(() =>
    withSteps(async () => {
      await openai.invoke('One.');
      await withParent(null, () => openai.invoke('Two.'));
    }),
  );
  assert.equal(runs.length, 2);
  assert.deepEqual(runs[1]!.parents, [runs[0]!.runId]);
});

test('async durability: collect waits for the records made after the answers ended', async () => {
  const { fetch, openai, anthropic } = capturing('async');
  for (let round = 0; round < 5; round++) {
    upstream.enqueue({ kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Chur"}' }] }, { kind: 'text', text: 'Streamed.' });
    const { runs } = await fetch.collect(async () => {
      await openai.bindTools([weather]).invoke('Weather in Chur?');
      for await (const chunk of await anthropic.stream('Stream.')) void chunk;
    });
    assert.equal(runs.length, 2, `round ${round}`);
    for (const record of runs) await checkRun(fetch, record);
    assert.deepEqual(runs.map((record) => record.format), ['openai-chat', 'anthropic-messages'], 'in the order the calls started');
  }
});

test('collects nest; another fetch\'s calls and calls outside are not listed; a callback that is not a function is a TypeError', async () => {
  const { fetch, openai } = capturing();
  const other = capturing();
  upstream.enqueue({ kind: 'text', text: 'Outer.' }, { kind: 'text', text: 'Other.' }, { kind: 'text', text: 'Inner.' }, { kind: 'text', text: 'Outside.' });
  const outer = await fetch.collect(async () => {
    await openai.invoke('Outer.');
    await other.openai.invoke('Other.');
    return fetch.collect(() => openai.invoke('Inner.'));
  });
  await openai.invoke('Outside.');
  assert.equal(outer.value.runs.length, 1);
  assert.match(bodyOf(outer.value.runs[0]!), /"Inner\."/);
  assert.deepEqual(outer.runs.map((record) => bodyOf(record).match(/"(Outer|Inner)\."/)?.[1]), ['Outer', 'Inner']);
  assert.equal(other.fetch.counts.runs, 1);
  assert.throws(() => fetch.collect(5 as never), (error: TypeError & { code?: string }) => error instanceof TypeError && error.code === 'ERR_INVALID_ARG_TYPE' && error.message === 'collect: the callback must be a function');
  // A function that throws at once rejects collect with its error.
  const boom = new Error('boom');
  await assert.rejects(fetch.collect(() => {
    throw boom;
  }), (rejected) => rejected === boom);
});
