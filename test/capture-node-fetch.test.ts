/**
 * captureFetch's options that runprintFetch builds on: onCapturedRun (the run with the
 * composition and identity document it was derived from, beside or instead of onRun) and holdEnd
 * (the end of an answer waits for the sinks' promises).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { captureFetch, type RunRecord } from '../src/capture/index.ts';
import type { CapturedRun } from '../src/capture/capture-run.ts';
import { computeIdentity } from '../src/identity/index.ts';
import { parseJson } from '../src/jcs/index.ts';
import { compositionFromRequest, runOutputFrom } from '../src/providers/index.ts';

const RESPONSE = readFileSync(new URL('fixtures/output/openai-chat/text.json', import.meta.url));
const STREAM = readFileSync(new URL('fixtures/output/openai-chat/text.sse', import.meta.url));
const REQUEST = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello.' }] });
const URL_CHAT = 'https://api.openai.com/v1/chat/completions';
const provider = (body: Uint8Array, type = 'application/json') => async () => new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': type } });

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition());
}

test('onCapturedRun gets the record with its composition and identity document; onRun the same record', async () => {
  const records: RunRecord[] = [];
  const runs: CapturedRun[] = [];
  const fetch = captureFetch(provider(RESPONSE), { onRun: (record) => void records.push(record), onCapturedRun: (run) => void runs.push(run) });
  await (await fetch(URL_CHAT, { method: 'POST', body: REQUEST })).text();
  await until(() => runs.length === 1 && records.length === 1);
  assert.equal(runs[0]!.record, records[0], 'the same record object');
  const composition = compositionFromRequest('openai-chat', parseJson(new TextEncoder().encode(REQUEST)));
  assert.deepEqual(runs[0]!.composition, composition);
  const identity = computeIdentity({ ...composition, served: runOutputFrom(RESPONSE, 'openai-chat').served });
  assert.equal(runs[0]!.identity?.runId, identity.runId);
  assert.equal(runs[0]!.record.runId, identity.runId);
  assert.equal(fetch.counts.runs, 1);
});

test('onCapturedRun alone is enough; one sink throwing does not keep the run from the other', async () => {
  const runs: CapturedRun[] = [];
  const errors: unknown[] = [];
  const alone = captureFetch(provider(RESPONSE), { onCapturedRun: (run) => void runs.push(run) });
  await (await alone(URL_CHAT, { method: 'POST', body: REQUEST })).text();
  await until(() => runs.length === 1);
  const both = captureFetch(provider(RESPONSE), {
    onRun: () => {
      throw new Error('sink down');
    },
    onCapturedRun: (run) => void runs.push(run),
    onError: (error) => void errors.push(error),
  });
  await (await both(URL_CHAT, { method: 'POST', body: REQUEST })).text();
  await until(() => runs.length === 2 && errors.length === 1);
  assert.equal(both.counts.failures, 1);
});

test('neither sink, or a sink that is not a function: TypeError', () => {
  assert.throws(() => captureFetch(globalThis.fetch, {}), /options.onRun must be a function \(or give options.onCapturedRun\)/);
  assert.throws(() => captureFetch(globalThis.fetch, { onCapturedRun: 1 as never }), /options.onCapturedRun must be a function/);
  assert.throws(() => captureFetch(globalThis.fetch, { onRun: 'x' as never, onCapturedRun: () => {} }), /options.onRun must be a function/);
});

for (const [name, body, type] of [['JSON', RESPONSE, 'application/json'], ['stream', STREAM, 'text/event-stream']] as const) {
  test(`holdEnd (${name}): the application sees the end of the answer only once the sinks' promises settle`, async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let handed = 0;
    const fetch = captureFetch(provider(body, type), {
      onCapturedRun: () => {
        handed++;
        return gate;
      },
      holdEnd: true,
    });
    let read = false;
    const reading = (async () => {
      const text = await (await fetch(URL_CHAT, { method: 'POST', body: REQUEST })).text();
      read = true;
      return text;
    })();
    await until(() => handed === 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(read, false, 'the end is held while the sink works');
    release();
    assert.equal(await reading, new TextDecoder().decode(body), 'then every byte, unchanged');
  });
}

test('holdEnd: a sink that fails releases the end too (fail-open), counted', async () => {
  const fetch = captureFetch(provider(RESPONSE), { onCapturedRun: async () => Promise.reject(new Error('store down')), holdEnd: true });
  assert.equal(await (await fetch(URL_CHAT, { method: 'POST', body: REQUEST })).text(), new TextDecoder().decode(RESPONSE));
  assert.equal(fetch.counts.failures, 1);
});
