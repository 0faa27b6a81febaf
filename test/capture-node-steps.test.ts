/**
 * withSteps: an agent's calls linked step by step through async context, with no run identity
 * named by hand. The Vercel AI SDK's own tool loop (generateText with a tool and two steps) and
 * openai calls made by the test, in order, in parallel, failed and retried, with sync and async
 * durability; what each stored run names as its parents.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, isStepCount, tool, type ToolSet } from 'ai';
import OpenAI from 'openai';
import { z } from 'zod';
import { currentParents, runprintFetch, withParent, withSteps, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunRecord } from '../src/capture/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { NamedSteps, readStepsHeader } from '../src/capture/steps.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

const KEY = 'sk-test-capture-node-steps';
const OUTER = `rp-run-v1-sha256-${'ab'.repeat(32)}`;
const HEADER_PARENT = `rp-run-v1-sha256-${'cd'.repeat(32)}`;
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

/** A runprintFetch on a fresh data directory, and an openai client through it. */
function capturing(durability: 'sync' | 'async' = 'sync'): { fetch: RunprintFetch; openai: OpenAI } {
  const data = mkdtempSync(join(tmpdir(), 'runprint-steps-'));
  dirs.push(data);
  const fetch = runprintFetch({ data, durability, spans: false, onError: (error) => void errors.push(error) });
  fetches.push(fetch);
  return { fetch, openai: new OpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 }) };
}

/** One chat call through `openai`; its record, by the capture id on its answer. */
async function step(fetch: RunprintFetch, openai: OpenAI, text: string, headers?: Record<string, string>): Promise<RunRecord> {
  const { response } = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }, headers === undefined ? {} : { headers }).withResponse();
  const record = await fetch.runOf(response.headers.get('runprint-capture-id')!);
  assert.ok(record !== null && record.runId !== null, 'a run with an identity');
  return record;
}

test("the Vercel AI SDK's tool loop: the step after the tool call follows from the tool call's run", async () => {
  const { fetch } = capturing();
  const runs: RunRecord[] = [];
  const provider = createOpenAI({ apiKey: KEY, baseURL: `${upstream.url}/v1`, fetch });
  upstream.enqueue({ kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Zürich"}' }] }, { kind: 'text', text: 'It is sunny in Zürich.' });
  const mark = upstream.requests.length;
  const tools = { get_weather: tool({ description: 'Weather for a city', inputSchema: z.object({ city: z.string() }), execute: async ({ city }) => `Sunny in ${city}.` }) } as ToolSet;
  const result = await withParent(OUTER, () => withSteps(() => generateText({ model: provider.chat('gpt-4o'), prompt: 'Weather in Zürich?', tools, stopWhen: isStepCount(2), maxRetries: 0 })));
  assert.equal(result.text, 'It is sunny in Zürich.');
  assert.equal(upstream.requests.length - mark, 2, 'two steps, two calls');
  // The answers' capture ids are the SDK's to keep; the records come from the store, in order.
  await fetch.flush();
  const store = SqliteRuns.open(join(fetch.data, 'runs.sqlite'));
  try {
    for (const run of (await store.list({ limit: 10 })).reverse()) runs.push(run.record);
  } finally {
    await store.close();
  }
  assert.equal(runs.length, 2);
  const [first, second] = runs as [RunRecord, RunRecord];
  assert.deepEqual(first.parents, [OUTER], 'the first step follows from the parents around withSteps');
  assert.ok(first.runId !== null);
  assert.deepEqual(second.parents, [first.runId], 'the second step follows from the first');
});

test("LangChain's ChatOpenAI: a tool call, the tool's answer, the next call (its caller's queue keeps the caller's context)", async () => {
  const { fetch } = capturing();
  const chat = new ChatOpenAI({ model: 'gpt-4o', apiKey: KEY, maxRetries: 0, configuration: { baseURL: `${upstream.url}/v1`, fetch } });
  const weather = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  upstream.enqueue({ kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Basel"}' }] }, { kind: 'text', text: 'Sunny in Basel.' });
  const records = await withSteps(async () => {
    const withTools = chat.bindTools([weather]);
    const question = new HumanMessage('Weather in Basel?');
    const first = await withTools.invoke([question]);
    const call = first.tool_calls![0]!;
    const second = await withTools.invoke([question, first, new ToolMessage({ content: 'Sunny.', tool_call_id: call.id! })]);
    assert.equal(second.content, 'Sunny in Basel.');
    await fetch.flush();
    const store = SqliteRuns.open(join(fetch.data, 'runs.sqlite'));
    try {
      return (await store.list({ limit: 10 })).reverse().map((run) => run.record);
    } finally {
      await store.close();
    }
  });
  assert.equal(records.length, 2);
  assert.deepEqual(records[0]!.parents, []);
  assert.deepEqual(records[1]!.parents, [records[0]!.runId]);
});

test('steps in order, in parallel, then joined; currentParents looks without taking', async () => {
  const { fetch, openai } = capturing();
  await withSteps(async () => {
    assert.deepEqual(currentParents(), []);
    const a = await step(fetch, openai, 'a');
    assert.deepEqual(a.parents, []);
    assert.deepEqual(currentParents(), [a.runId]);
    assert.deepEqual(currentParents(), [a.runId], 'looking twice takes nothing');
    const b = await step(fetch, openai, 'b');
    assert.deepEqual(b.parents, [a.runId]);
    const [c, d] = await Promise.all([step(fetch, openai, 'c'), step(fetch, openai, 'd')]);
    assert.deepEqual(c.parents, [b.runId], 'calls started together follow from the same run');
    assert.deepEqual(d.parents, [b.runId]);
    const e = await step(fetch, openai, 'e');
    assert.deepEqual([...e.parents].sort(), [c.runId, d.runId].sort(), 'the call after them follows from both');
  });
  // Outside withSteps nothing links.
  const outside = await step(fetch, openai, 'outside');
  assert.deepEqual(outside.parents, []);
});

test('a failed call links nothing: the retry follows from what the failed attempt followed from', async () => {
  const { fetch, openai } = capturing();
  await withSteps(async () => {
    const a = await step(fetch, openai, 'a');
    upstream.enqueue({ kind: 'error', status: 429, message: 'Slow down.' });
    const failed = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'b' }] }).withResponse().catch((error: unknown) => error);
    assert.ok(failed instanceof OpenAI.APIError && failed.status === 429);
    const captureId = failed.headers?.get('runprint-capture-id');
    assert.ok(typeof captureId === 'string');
    const attempt = await fetch.runOf(captureId);
    assert.ok(attempt !== null);
    assert.equal(attempt.runId, null);
    assert.deepEqual(attempt.parents, [a.runId]);
    const retry = await step(fetch, openai, 'b');
    assert.deepEqual(retry.parents, [a.runId]);
  });
});

test('async durability links the same way', async () => {
  const { fetch, openai } = capturing('async');
  await withSteps(async () => {
    const a = await step(fetch, openai, 'a');
    const b = await step(fetch, openai, 'b');
    const c = await step(fetch, openai, 'c');
    assert.deepEqual([a.parents, b.parents, c.parents], [[], [a.runId], [b.runId]]);
  });
});

test("a runprint-parent header names its call's parents inside withSteps; the next step follows from that call", async () => {
  const { fetch, openai } = capturing();
  await withSteps(async () => {
    const a = await step(fetch, openai, 'a');
    const named = await step(fetch, openai, 'named', { 'runprint-parent': HEADER_PARENT });
    assert.deepEqual(named.parents, [HEADER_PARENT]);
    const next = await step(fetch, openai, 'next');
    assert.deepEqual(next.parents, [named.runId], 'the named call is the last call of the steps: a ended before it started');
    assert.notDeepEqual(next.parents, [a.runId]);
  });
});

test("a call's own runprint-steps header inside withSteps makes it a step of the named steps only", async () => {
  const { fetch, openai } = capturing();
  await withSteps(async () => {
    const a = await step(fetch, openai, 'a');
    const other = await step(fetch, openai, 'other', { 'runprint-steps': 'elsewhere' });
    assert.deepEqual(other.parents, [], 'the first of its steps');
    const b = await step(fetch, openai, 'b');
    assert.deepEqual(b.parents, [a.runId], 'the other steps\' call is not one of these');
  });
});

test("async durability: an SDK's next call starts before the last one's record is made, and still follows from it", async () => {
  const { fetch, openai } = capturing('async');
  await withSteps(async () => {
    // No runOf between the calls (it would wait for each record): as an SDK's tool loop calls.
    for (const text of ['a', 'b', 'c', 'd']) await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] });
    upstream.enqueue({ kind: 'error', status: 500, message: 'failed step' });
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'fails' }] }).catch(() => undefined);
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'retry' }] });
  });
  await fetch.flush();
  const store = SqliteRuns.open(join(fetch.data, 'runs.sqlite'));
  try {
    const runs = (await store.list({ limit: 10 })).reverse().map((run) => run.record);
    assert.equal(runs.length, 6);
    const [a, b, c, d, fails, retry] = runs as [RunRecord, RunRecord, RunRecord, RunRecord, RunRecord, RunRecord];
    assert.deepEqual([a.parents, b.parents, c.parents, d.parents], [[], [a.runId], [b.runId], [c.runId]]);
    assert.equal(fails.runId, null);
    assert.deepEqual(fails.parents, [d.runId]);
    assert.deepEqual(retry.parents, [d.runId], 'the failed call stands for what it followed from');
  } finally {
    await store.close();
  }
});

test('withParent and withSteps inside withSteps name their own calls\' parents; those calls are not its steps', async () => {
  const { fetch, openai } = capturing();
  await withSteps(async () => {
    const a = await step(fetch, openai, 'a');
    const inner = await withParent(OUTER, () => step(fetch, openai, 'inner'));
    assert.deepEqual(inner.parents, [OUTER]);
    const nested = await withSteps(async () => [await step(fetch, openai, 'n1'), await step(fetch, openai, 'n2')]);
    assert.deepEqual(nested.map((run) => run.parents), [[a.runId], [nested[0]!.runId]], 'a nested withSteps starts from the outer one\'s next parents');
    const b = await step(fetch, openai, 'b');
    assert.deepEqual(b.parents, [a.runId]);
  });
});

test('withSteps refuses a callback that is not a function', () => {
  assert.throws(() => withSteps(undefined as unknown as () => void), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /withSteps: the callback must be a function/ });
});

describe('runprint-steps: steps by name, through the proxy and in process alike', () => {
  let serve: ServeProcess;
  before(async () => {
    const data = mkdtempSync(join(tmpdir(), 'runprint-steps-serve-'));
    dirs.push(data);
    serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  });
  after(async () => {
    await killServeProcesses();
  });

  /** The stored record of a capture id, through serve's API. */
  async function storedRecord(captureId: string): Promise<RunRecord> {
    const response = await globalThis.fetch(`${serve.base}/v1/runs/${captureId}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { runs: Array<{ record: RunRecord }> };
    return body.runs[0]!.record;
  }

  /**
   * The same sequence of calls with `client`: two steps of agent-1, one of agent-2 between them,
   * a third of agent-1 that also names a parent itself, and a fourth after it; each call's record.
   */
  async function sequence(client: OpenAI, recordOf: (captureId: string) => Promise<RunRecord>): Promise<RunRecord[]> {
    const records: RunRecord[] = [];
    const calls: Array<[string, Record<string, string>]> = [
      ['one', { 'runprint-steps': 'agent-1' }],
      ['other', { 'runprint-steps': 'agent-2' }],
      ['two', { 'runprint-steps': 'agent-1' }],
      ['named', { 'runprint-steps': 'agent-1', 'runprint-parent': HEADER_PARENT }],
      ['three', { 'runprint-steps': ' agent-1 ' }],
    ];
    for (const [text, headers] of calls) {
      const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }, { headers }).withResponse();
      records.push(await recordOf(response.headers.get('runprint-capture-id')!));
    }
    return records;
  }

  test('the proxy links each call to the runs that ended in its steps; the same calls in process give the same links', async () => {
    const proxied = await sequence(new OpenAI({ apiKey: KEY, baseURL: `${serve.base}/openai/v1`, maxRetries: 0 }), storedRecord);
    const [one, other, two, named, three] = proxied as [RunRecord, RunRecord, RunRecord, RunRecord, RunRecord];
    assert.deepEqual(one.parents, []);
    assert.deepEqual(other.parents, [], 'other steps are not linked');
    assert.deepEqual(two.parents, [one.runId]);
    assert.deepEqual(named.parents, [HEADER_PARENT], 'a runprint-parent header names its call\'s parents');
    assert.deepEqual(three.parents, [named.runId], 'named, the last call of agent-1, took what ended before it');
    // In process, with a fetch of its own (its own names): the same run identities and parents.
    const { fetch, openai } = capturing();
    const local = await sequence(openai, async (captureId) => (await fetch.runOf(captureId))!);
    assert.deepEqual(local.map((run) => [run.runId, run.parents]), proxied.map((run) => [run.runId, run.parents]));
  });

  test('the Vercel AI SDK tool loop through the proxy, with the header on every step', async () => {
    const provider = createOpenAI({ apiKey: KEY, baseURL: `${serve.base}/openai/v1` });
    upstream.enqueue({ kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Bern"}' }] }, { kind: 'text', text: 'Sunny in Bern.' });
    const tools = { get_weather: tool({ description: 'Weather for a city', inputSchema: z.object({ city: z.string() }), execute: async ({ city }) => `Sunny in ${city}.` }) } as ToolSet;
    const result = await generateText({ model: provider.chat('gpt-4o'), prompt: 'Weather in Bern?', tools, stopWhen: isStepCount(2), maxRetries: 0, headers: { 'runprint-steps': 'loop-7' } });
    assert.equal(result.text, 'Sunny in Bern.');
    const page = (await (await globalThis.fetch(`${serve.base}/v1/runs?limit=2`)).json()) as { runs: Array<{ record: RunRecord }> };
    const [second, first] = page.runs.map((run) => run.record) as [RunRecord, RunRecord];
    assert.deepEqual(first.parents, []);
    assert.deepEqual(second.parents, [first.runId]);
  });

  test('a runprint-steps header that is not one name is refused with 400 and not forwarded; in process the call goes on unlinked', async () => {
    for (const value of ['', 'a,b', 'x'.repeat(129), 'agent 1', 'agent-é']) {
      const mark = upstream.requests.length;
      const response = await globalThis.fetch(`${serve.base}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, 'runprint-steps': value },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(response.status, 400, JSON.stringify(value));
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'ERR_CAPTURE_STEPS_INVALID');
      assert.equal(upstream.requests.length, mark, 'not forwarded');
    }
    const { fetch, openai } = capturing();
    const seen: RunprintError[] = [];
    const before = errors.length;
    await withSteps(async () => {
      await step(fetch, openai, 'a');
      const bad = await step(fetch, openai, 'b', { 'runprint-steps': 'a,b' });
      assert.deepEqual(bad.parents, []);
    });
    seen.push(...errors.splice(before));
    assert.deepEqual(seen.map((error) => error.code), ['ERR_CAPTURE_STEPS_INVALID']);
    assert.equal(upstream.requests.at(-1)!.headers['runprint-steps'], undefined, 'not sent to the provider');
  });
});

test('named steps: the least recently used name is forgotten first; a name is read trimmed, one name only', () => {
  const named = new NamedSteps(2);
  const a = named.get('a');
  a.ending([])(HEADER_PARENT);
  named.get('b').ending([])(OUTER);
  assert.equal(named.get('a'), a, 'a used again: now the most recent');
  named.get('c');
  assert.equal(named.get('a'), a, 'a kept');
  assert.deepEqual(named.get('b').peek(), [], 'b, the least recently used, was forgotten: new steps');
  assert.equal(readStepsHeader(null), null);
  assert.equal(readStepsHeader('  agent:7/session-1.x_y  '), 'agent:7/session-1.x_y');
  for (const value of ['', ' ', 'a, b', 'a b', 'x'.repeat(129), 'é', 'a;b']) {
    assert.throws(() => readStepsHeader(value), { code: 'ERR_CAPTURE_STEPS_INVALID' }, JSON.stringify(value));
  }
  assert.equal(readStepsHeader('x'.repeat(128)), 'x'.repeat(128));
});
