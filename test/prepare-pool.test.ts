/**
 * The capture proxy's prepare pool (src/server/prepare-pool.ts): worker threads give exactly what
 * prepareRequest gives on the calling thread (composition, identity document, or the input error
 * with its code, message and path) for every provider vector and for inputs that are hard to carry
 * between threads (a `__proto__` member, errors); calls a closing pool held, and calls beyond what
 * a worker may hold, are prepared on the calling thread with the same answers. A large call (1 MiB
 * or more) waits for a worker that is still starting, where a smaller one is prepared here; a
 * worker that cannot load, or dies holding calls, loses none of them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { prepareRequest, type PreparedRequest } from '../src/capture/capture-run.ts';
import { createSalts } from '../src/identity/salt.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import type { RequestFormat } from '../src/providers/request-format.ts';
import { createPreparePool, LARGE_REQUEST_BYTES, MAX_IN_FLIGHT, type PreparePool } from '../src/server/prepare-pool.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

interface Case {
  name: string;
  format: RequestFormat;
  bytes: Uint8Array;
}

function vectorCases(): Case[] {
  const cases: Case[] = [];
  for (const format of ['openai-chat', 'openai-responses', 'anthropic-messages'] as const) {
    const file = JSON.parse(readFileSync(new URL(`../testdata/providers/${format}.json`, import.meta.url), 'utf8')) as { vectors: Array<{ desc: string; format?: string; request?: unknown }> };
    for (const vector of file.vectors) {
      if (vector.request === undefined) continue;
      cases.push({ name: `${format}: ${vector.desc}`, format: (vector.format ?? format) as RequestFormat, bytes: utf8(JSON.stringify(vector.request)) });
    }
  }
  return cases;
}

const crafted: Case[] = [
  {
    name: 'a "__proto__" member in a tool schema (an own member, not a prototype)',
    format: 'openai-chat',
    bytes: utf8('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"__proto__":{"type":"string"},"constructor":{"type":"number"}}}}}]}'),
  },
  { name: 'a number the spec rejects', format: 'openai-chat', bytes: utf8('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":1e400}') },
  { name: 'a duplicate member', format: 'openai-chat', bytes: utf8('{"model":"gpt-4o","model":"gpt-4o","messages":[]}') },
  { name: 'bytes that are not UTF-8', format: 'anthropic-messages', bytes: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) },
  { name: 'not JSON at all', format: 'openai-responses', bytes: utf8('model=gpt-4o') },
  { name: 'an empty body', format: 'openai-chat', bytes: new Uint8Array(0) },
];

/** The answer in a form both threads' answers can be compared in: canonical JSON, or the error's code, message and path. */
function comparable(prepared: PreparedRequest): unknown {
  if (prepared.error !== null) return { code: prepared.error.code, message: prepared.error.message, path: prepared.error.path };
  return { composition: canonicalize(prepared.composition), identity: canonicalize(prepared.identity) };
}

/** Prepares until a worker has answered one call (calls before its module loaded are prepared here). */
async function warm(pool: PreparePool): Promise<void> {
  const bytes = utf8('{"model":"m","messages":[{"role":"user","content":"warm"}]}');
  for (let i = 0; i < 400 && pool.counts.pooled === 0; i++) {
    await pool.prepare('openai-chat', bytes);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(pool.counts.pooled > 0, 'a worker answered within 4 s');
}

describe('the prepare pool', () => {
  let pool: PreparePool;
  before(async () => {
    pool = createPreparePool({ workers: 1 });
    await warm(pool);
  });
  after(() => pool.close());

  const cases = [...vectorCases(), ...crafted];
  test(`a worker answers as prepareRequest on this thread, for ${cases.length} requests`, async () => {
    assert.ok(cases.length > 40, `${cases.length} cases`);
    let errors = 0;
    for (const { name, format, bytes } of cases) {
      const before = pool.counts.pooled;
      const pooled = await pool.prepare(format, bytes);
      assert.equal(pool.counts.pooled, before + 1, `${name}: answered by the worker`);
      const here = prepareRequest(format, bytes);
      assert.deepEqual(comparable(pooled), comparable(here), name);
      if (pooled.error !== null) {
        errors += 1;
        assert.equal(pooled.error.constructor, here.error!.constructor, `${name}: the same class (${here.error!.name})`);
        assert.ok(pooled.error instanceof Error);
      }
    }
    assert.ok(errors >= crafted.length - 1, `${errors} input errors compared`);
  });

  test('a "__proto__" member arrives as an own member with its value', async () => {
    const prepared = await pool.prepare(crafted[0]!.format, crafted[0]!.bytes);
    assert.equal(prepared.error, null);
    const tools = prepared.composition!.tools as Array<{ function: { parameters: { properties: Record<string, unknown> } } }>;
    const properties = tools[0]!.function.parameters.properties;
    assert.ok(Object.hasOwn(properties, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(properties, '__proto__')!.value, { type: 'string' });
    assert.equal(Object.getPrototypeOf(properties) === null || Object.getPrototypeOf(properties) === Object.prototype, true);
  });

  test('salted: the same salts give the same salted identity as on this thread', async () => {
    const salts = createSalts(['system', 'input']);
    const bytes = utf8('{"model":"gpt-4o","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}');
    const pooled = await pool.prepare('openai-chat', bytes, salts);
    assert.deepEqual(comparable(pooled), comparable(prepareRequest('openai-chat', bytes, salts)));
    assert.equal(pooled.identity!.components.input.kind, 'list');
    assert.equal((pooled.identity!.components.input as { salted?: boolean }).salted, true);
  });

  test('salts that are not salts: the same RangeError as prepareRequest throws here', async () => {
    const bytes = utf8('{"model":"gpt-4o","messages":[]}');
    const bad = { input: 'not hex' } as unknown as Parameters<typeof prepareRequest>[2];
    assert.throws(() => prepareRequest('openai-chat', bytes, bad), RangeError);
    await assert.rejects(pool.prepare('openai-chat', bytes, bad), RangeError);
  });

  test(`more calls at once than a worker may hold (${MAX_IN_FLIGHT}): the rest are prepared here, every answer the same`, async () => {
    const inline = pool.counts.inline;
    const pooled = pool.counts.pooled;
    const bytes = cases.slice(0, 40).map((each) => each);
    const answers = await Promise.all(bytes.map(({ format, bytes }) => pool.prepare(format, bytes)));
    answers.forEach((answer, i) => assert.deepEqual(comparable(answer), comparable(prepareRequest(bytes[i]!.format, bytes[i]!.bytes)), bytes[i]!.name));
    assert.equal(pool.counts.pooled - pooled, MAX_IN_FLIGHT, 'the worker took as many as it may hold');
    assert.equal(pool.counts.inline - inline, 40 - MAX_IN_FLIGHT, 'the rest were prepared here');
  });

  test('a view of part of a larger buffer: only its bytes are prepared', async () => {
    const whole = utf8('XXXX{"model":"gpt-4o","messages":[{"role":"user","content":"part"}]}YYYY');
    const part = whole.subarray(4, whole.length - 4);
    const prepared = await pool.prepare('openai-chat', part);
    assert.deepEqual(comparable(prepared), comparable(prepareRequest('openai-chat', part)));
    assert.equal(prepared.error, null);
    assert.equal(whole[0], 0x58, 'the caller\'s bytes are untouched');
  });
});

test('calls a worker holds when the pool closes are prepared on this thread, with the same answers', async () => {
  const pool = createPreparePool({ workers: 1 });
  await warm(pool);
  const bytes = utf8(JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: 2_000 }, (_, i) => ({ role: 'user', content: `message ${i} `.repeat(20) })) }));
  const before = { ...pool.counts };
  const calls = Array.from({ length: MAX_IN_FLIGHT }, () => pool.prepare('openai-chat', bytes));
  await pool.close();
  const answers = await Promise.all(calls);
  const here = comparable(prepareRequest('openai-chat', bytes));
  for (const answer of answers) assert.deepEqual(comparable(answer), here);
  assert.ok(pool.counts.inline - before.inline >= 1, `at least one call was still in the worker at close (${pool.counts.inline - before.inline})`);
  // After close, every call is prepared here.
  const later = await pool.prepare('openai-chat', bytes);
  assert.deepEqual(comparable(later), here);
  assert.equal(pool.counts.pooled - before.pooled + pool.counts.inline - before.inline, MAX_IN_FLIGHT + 1);
});

/** An Anthropic request of `count` short messages, `betas` in its anthropic-beta header: at least LARGE_REQUEST_BYTES from 12,000 on. */
function anthropicRequest(count: number, tag: string): Uint8Array {
  return utf8(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, system: 'Be brief.', messages: Array.from({ length: count }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `${tag} message ${i}: ${'lorem ipsum '.repeat(6)}` })) }));
}
const BETAS = { 'anthropic-beta': 'prompt-caching-2024-07-31' };

test(`a large call (${LARGE_REQUEST_BYTES} bytes or more) waits for a worker that is still starting; a smaller one is prepared here meanwhile; both as on this thread`, async () => {
  const pool = createPreparePool({ workers: 1 });
  try {
    const small = anthropicRequest(10, 'small');
    const large = anthropicRequest(12_000, 'large');
    assert.ok(large.byteLength >= LARGE_REQUEST_BYTES && small.byteLength < LARGE_REQUEST_BYTES, `${large.byteLength} bytes`);
    // The pool's first call starts its worker: this one is prepared here, as its module loads.
    const first = await pool.prepare('anthropic-messages', small, undefined, BETAS);
    assert.deepEqual(pool.counts, { pooled: 0, inline: 1 });
    const pooled = await pool.prepare('anthropic-messages', large, undefined, BETAS);
    assert.deepEqual(pool.counts, { pooled: 1, inline: 1 }, 'the large call went to the starting worker');
    assert.deepEqual(comparable(first), comparable(prepareRequest('anthropic-messages', small, undefined, BETAS)));
    const here = prepareRequest('anthropic-messages', large, undefined, BETAS);
    assert.equal(here.error, null);
    assert.deepEqual(comparable(pooled), comparable(here));
    assert.deepEqual(pooled.composition!.configuration, { betas: ['prompt-caching-2024-07-31'] }, 'the header\'s member reached the worker');
  } finally {
    await pool.close();
  }
});

describe('workers that fail: every call is answered, prepared here, with the same answers', () => {
  const large = anthropicRequest(12_000, 'failing');
  const here = comparable(prepareRequest('anthropic-messages', large, undefined, BETAS));
  const exited = 'the worker threads for calls\' identities are off: 4 in a row exited before they answered a call, so no more are started; every call\'s identity, a large request\'s too, is computed on the event loop from now on';
  const cases = [
    // A module that cannot load: the worker exits before it is ready, holding the large calls sent to it.
    { name: 'a worker that cannot load', url: new URL('data:text/javascript,throw new Error("broken on purpose")'), readyTimeoutMs: 20_000, why: exited },
    // A worker that says it is ready and exits on the first call it is given.
    { name: 'a worker that dies on its first call', url: new URL('data:text/javascript,import { parentPort } from "node:worker_threads"; parentPort.on("message", () => process.exit(7)); parentPort.postMessage({ ready: true });'), readyTimeoutMs: 20_000, why: exited },
    // A worker whose module never finishes loading (it never says it is ready, and never exits): stopped after readyTimeoutMs.
    {
      name: 'a worker that never becomes ready',
      url: new URL('data:text/javascript,await new Promise(() => setInterval(() => undefined, 1000));'),
      readyTimeoutMs: 300,
      why: 'the worker threads for calls\' identities are off: 4 in a row were not ready within 300 ms of starting (their module did not load in time), so no more are started; every call\'s identity, a large request\'s too, is computed on the event loop from now on',
    },
  ];
  // The workers that exit are given long to load, so a loaded machine does not count them late too.
  for (const { name, url, readyTimeoutMs, why } of cases) {
    test(`${name}; the pool that stops starting them says so once`, async () => {
      const told: string[] = [];
      const pool = createPreparePool({ workers: 1, workerUrl: url, readyTimeoutMs, onStopped: (text) => void told.push(text) });
      try {
        // More rounds than the pool restarts its workers (3): after that the pool prepares every call here.
        for (let round = 0; round < 5; round++) {
          const answers = await Promise.all([1, 2, 3].map(() => pool.prepare('anthropic-messages', large, undefined, BETAS)));
          for (const answer of answers) assert.deepEqual(comparable(answer), here, `round ${round}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.deepEqual(pool.counts, { pooled: 0, inline: 15 });
        assert.deepEqual(told, [why], 'told once, when the last worker was not started again');
      } finally {
        await pool.close();
      }
      assert.equal(told.length, 1, 'not again at close');
    });
  }
});

test('a pool whose workers die but answer in between is never off: onStopped is not told', async () => {
  const told: string[] = [];
  // A worker that answers its first call ("failed": prepared here again, still an answer) and exits on its second.
  const url = new URL('data:text/javascript,import { parentPort } from "node:worker_threads"; let calls = 0; parentPort.on("message", (task) => { calls += 1; if (calls > 1) process.exit(7); parentPort.postMessage({ id: task.id, failed: "x" }); }); parentPort.postMessage({ ready: true });');
  const pool = createPreparePool({ workers: 1, workerUrl: url, readyTimeoutMs: 2_000, onStopped: (text) => void told.push(text) });
  try {
    const large = anthropicRequest(12_000, 'answering');
    for (let round = 0; round < 12; round++) {
      await pool.prepare('anthropic-messages', large, undefined, BETAS);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    assert.deepEqual(told, []);
  } finally {
    await pool.close();
  }
});
