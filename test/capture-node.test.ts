/**
 * runprintFetch (runprint/capture-node) against a real `runprint serve` process on the same data
 * directory, both in front of the fake upstream: the same SDK call made through the proxy and in
 * process gives equal request and run identities and output digests; the in-process runs land in
 * the same runs.sqlite (two processes writing it at once), with capture `sdk`, parents from async
 * context, and a receipt signed with the directory's receipt-key.pem that verifies against the
 * bytes the upstream saw; `runprint runs list --data DIR` lists them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { RunRecord } from '../src/capture/index.ts';
import { runprintFetch, withParent, type RunprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { parseJson } from '../src/jcs/index.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { runOutputFrom, type RequestFormat } from '../src/providers/index.ts';
import { verifyReceipt } from '../src/receipt/index.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-capture-node-openai-0123';
const ANTHROPIC_KEY = 'sk-ant-test-capture-node-0123';
const PARENT = `rp-run-v1-sha256-${'ef'.repeat(32)}`;
const HI = [{ role: 'user' as const, content: 'Say hello.' }];

interface RunView {
  seq: number;
  captureId: string;
  capture: string;
  model: string | null;
  record: RunRecord;
  receipt: { logIndex: number | null } | null;
}

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
let local: RunprintFetch;
const errors: RunprintError[] = [];
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-capture-node-'));
  scratch.push(dir);
  return dir;
}

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  // The in-process side opens the directory first: it makes receipt-key.pem, serve then uses it.
  local = runprintFetch({ data, onError: (error) => void errors.push(error) });
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
});
after(async () => {
  await local.close();
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** `runprint runs list --data DIR --json` (the real CLI, another process): every stored run, oldest first. */
async function listed(dir = data): Promise<RunView[]> {
  const result = await runRunprint(['runs', 'list', '--data', dir, '--json', '--limit', '1000']);
  assert.equal(result.code, 0, result.stderr);
  return ((JSON.parse(result.stdout) as { runs: RunView[] }).runs).reverse();
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** Makes `call` and returns the requests the upstream received for it, once their answers have ended. */
async function made(call: () => Promise<unknown>, scenario: Scenario): Promise<RecordedRequest> {
  upstream.enqueue(scenario);
  const mark = upstream.requests.length;
  await call();
  await upstream.settled();
  const received = upstream.requests.slice(mark);
  assert.equal(received.length, 1, 'one request reached the upstream');
  return received[0]!;
}

/** The receipt of a stored run, read over serve's HTTP API, checked against the bytes the upstream saw. */
async function verifiedReceipt(captureId: string, format: RequestFormat, request: RecordedRequest): Promise<void> {
  const key = await parsePrivateKey(readFileSync(join(data, 'receipt-key.pem'), 'utf8'));
  const response = await fetch(`${serve.base}/v1/runs/${captureId}/receipt`);
  assert.equal(response.status, 200, 'the receipt of the in-process run is stored');
  const report = await verifyReceipt(await response.text(), {
    keys: [key.publicKey], composition: parseJson(request.body), from: format, output: request.response.body, outputFormat: format,
  });
  assert.ok(report.ok, `the receipt verifies: ${JSON.stringify(report.checks.filter((check) => !check.ok))}`);
}

const inProcess = {
  openai: () => new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: local, maxRetries: 0 }),
  anthropic: () => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: upstream.url, fetch: local, maxRetries: 0 }),
};
const proxied = {
  openai: () => new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${serve.base}/openai/v1`, maxRetries: 0 }),
  anthropic: () => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: `${serve.base}/anthropic`, maxRetries: 0 }),
};

type Client = { openai: () => OpenAI; anthropic: () => Anthropic };
const CASES: Array<{ name: string; format: RequestFormat; scenario: Scenario; call: (clients: Client) => Promise<unknown> }> = [
  {
    name: 'openai chat',
    format: 'openai-chat',
    scenario: { kind: 'text', text: 'Hello, both ways.' },
    call: (c) => c.openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, ...HI], temperature: 0.2 }),
  },
  {
    name: 'openai chat stream',
    format: 'openai-chat',
    scenario: { kind: 'text', text: 'Streamed, both ways.' },
    call: async (c) => {
      let text = '';
      for await (const chunk of await c.openai().chat.completions.create({ model: 'gpt-4o', messages: HI, stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(text, 'Streamed, both ways.');
    },
  },
  {
    name: 'anthropic messages',
    format: 'anthropic-messages',
    scenario: { kind: 'text', text: 'Hello from Claude, both ways.' },
    call: (c) => c.anthropic().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 256, system: 'Be brief.', messages: HI }),
  },
  {
    name: 'anthropic messages stream',
    format: 'anthropic-messages',
    scenario: { kind: 'text', text: 'Streamed Claude.' },
    call: async (c) => {
      const stream = c.anthropic().messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 256, messages: HI });
      const message = await stream.finalMessage();
      assert.deepEqual(message.content.map((block) => (block.type === 'text' ? block.text : '')), ['Streamed Claude.']);
    },
  },
];

describe('the same call through the proxy and in process with runprintFetch', () => {
  for (const { name, format, scenario, call } of CASES) {
    test(`${name}: equal request and run identities and output digests; the in-process run is stored as sdk with a receipt`, async () => {
      const mark = (await listed()).length;
      const direct = await made(() => call(inProcess), scenario);
      await local.flush();
      const viaProxy = await made(() => call(proxied), scenario);
      assert.ok(direct.body.equals(viaProxy.body), 'the SDK sent the same bytes both ways');
      assert.ok(direct.response.body.equals(viaProxy.response.body), 'the upstream answered the same bytes both ways');
      let runs: RunView[] = [];
      await until(async () => (runs = (await listed()).slice(mark)).length >= 2, 'both runs are stored');
      assert.equal(runs.length, 2);
      const sdk = runs.find((run) => run.capture === 'sdk');
      const proxy = runs.find((run) => run.capture === 'proxy');
      assert.ok(sdk !== undefined && proxy !== undefined, 'one run from each capture point');
      assert.equal(sdk.record.format, format);
      assert.equal(sdk.record.request.rawDigest.sha256, sha256(direct.body), 'the in-process record names the exact request bytes');
      assert.equal(sdk.record.response.rawDigest?.sha256, sha256(direct.response.body), 'and the exact response bytes');
      assert.match(sdk.record.runId ?? '', /^rp-run-v1-sha256-/);
      assert.equal(sdk.record.requestId, proxy.record.requestId, 'same request identity');
      assert.equal(sdk.record.runId, proxy.record.runId, 'same run identity');
      assert.deepEqual(sdk.record.output?.digest, proxy.record.output?.digest, 'same output digest');
      assert.deepEqual(sdk.record.output?.digest, runOutputFrom(direct.response.body, format).digest, 'the output digest SPEC 12 gives for the bytes');
      assert.equal(sdk.record.response.stream, proxy.record.response.stream);
      assert.equal(sdk.model, proxy.model);
      assert.ok(sdk.receipt !== null, 'the in-process run is signed');
      await verifiedReceipt(sdk.captureId, format, direct);
      const text = readFileSync(join(data, 'runs.sqlite')).toString('latin1');
      for (const secret of [OPENAI_KEY, ANTHROPIC_KEY]) assert.ok(!text.includes(secret), 'no credential in the run store');
    });
  }
});

describe('runprintFetch into a data directory', () => {
  test('runs list and show name the in-process run with capture sdk and a signed receipt', async () => {
    const request = await made(() => inProcess.openai().chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'text', text: 'Listed.' });
    await local.flush();
    const run = (await listed()).at(-1)!;
    assert.equal(run.capture, 'sdk');
    assert.equal(run.record.request.rawDigest.sha256, sha256(request.body));
    const show = await runRunprint(['runs', 'show', run.captureId, '--data', data]);
    assert.equal(show.code, 0, show.stderr);
    // Signed in process; a log index once the serve on this directory has appended it (within seconds).
    assert.match(show.stdout, /^receipt +signed(, log index [0-9]+|, no log index yet \(waiting to be appended to a log: in the outbox of a serve with --capture-log while that log cannot be reached; captured in process, until a serve with a log on this run store appends it; or signed by a serve that keeps none: runs verify says more\)); not checked here: runs verify compares the facts shown with what the receipt signs$/m);
    assert.match(show.stdout, new RegExp(`^run +${run.record.runId}$`, 'm'));
  });

  test('a serve on the same directory appends the in-process receipts to its log within seconds', async () => {
    await made(() => inProcess.openai().chat.completions.create({ model: 'gpt-4o', messages: HI }), { kind: 'text', text: 'Logged by serve.' });
    await local.flush();
    const run = (await listed()).at(-1)!;
    assert.equal(run.capture, 'sdk');
    // The serve sweeps at least every 5 s (and after its own commits).
    await until(async () => ((await listed()).find((item) => item.captureId === run.captureId)!.receipt?.logIndex ?? null) !== null, 'the in-process receipt is in the log');
    // Its inclusion proof, once a checkpoint covers the entry.
    await until(async () => (await fetch(`${serve.base}/v1/runs/${run.captureId}/tlog-proof`)).status === 200, 'the inclusion proof is served');
    const verify = await runRunprint(['runs', 'verify', run.captureId, '--data', data, '--json']);
    const checks = (JSON.parse(verify.stdout) as { checks: { name: string; status: string }[] }).checks;
    assert.equal(checks.find((check) => check.name === 'log')?.status, 'pass', 'runs verify finds the receipt in the log at its index');
    assert.equal(checks.find((check) => check.name === 'receipt')?.status, 'pass');
  });

  test('parents from withParent are recorded and signed into the receipt', async () => {
    const request = await made(() => withParent(PARENT, () => inProcess.openai().chat.completions.create({ model: 'gpt-4o', messages: HI })), { kind: 'text', text: 'A step.' });
    await local.flush();
    const run = (await listed()).at(-1)!;
    assert.deepEqual(run.record.parents, [PARENT]);
    await verifiedReceipt(run.captureId, 'openai-chat', request);
    const envelope = JSON.parse(await (await fetch(`${serve.base}/v1/runs/${run.captureId}/receipt`)).text()) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicate: unknown };
    assert.ok(JSON.stringify(statement.predicate).includes(PARENT), 'the receipt names the parent');
  });

  test('calls in both processes at once all land in one store (WAL, BEGIN IMMEDIATE)', async () => {
    const mark = (await listed()).length;
    const scenario: Scenario = { kind: 'text', text: 'Concurrent.' };
    for (let i = 0; i < 16; i++) upstream.enqueue(scenario);
    await Promise.all(Array.from({ length: 8 }, (_, i) => [
      inProcess.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `in process ${i}` }] }),
      proxied.openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `proxied ${i}` }] }),
    ]).flat());
    await upstream.settled();
    await local.flush();
    let runs: RunView[] = [];
    await until(async () => (runs = (await listed()).slice(mark)).length >= 16, 'all 16 runs are stored');
    assert.equal(runs.filter((run) => run.capture === 'sdk').length, 8);
    assert.equal(runs.filter((run) => run.capture === 'proxy').length, 8);
    assert.equal(new Set(runs.map((run) => run.record.requestId)).size, 16, 'each call its own request identity');
    assert.ok(runs.filter((run) => run.capture === 'sdk').every((run) => run.receipt !== null), 'every in-process run is signed');
    assert.equal(local.counts.failures, 0);
    assert.deepEqual(errors, []);
  });

  test('sync durability (the default): the run is committed before the answer\'s end reaches the application, streamed or not', async () => {
    const store = SqliteRuns.open(join(data, 'runs.sqlite'));
    try {
      await local.flush();
      const count = async () => (await store.list({ limit: 1000 })).length;
      const mark = await count();
      upstream.enqueue({ kind: 'text', text: 'Durable.' }, { kind: 'text', text: 'Durable stream.' });
      await inProcess.openai().chat.completions.create({ model: 'gpt-4o', messages: HI });
      // Read in the same turn: nothing of runprint's ran after the call returned.
      assert.equal(await count(), mark + 1, 'committed when the answer was read');
      // A stream read to its end (the SDKs stop at the terminal event and cancel the rest: the run
      // is then recorded right after, whole, but nothing holds the application for it).
      const body = JSON.stringify({ model: 'gpt-4o', messages: HI, stream: true });
      const text = await (await local(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
      assert.match(text, /data: \[DONE\]/);
      assert.equal(await count(), mark + 2, 'committed when the stream ended');
    } finally {
      await store.close();
    }
  });

  test('counts printed with console.log or util.inspect show the numbers as they are now', async () => {
    const dir = join(tempDir(), 'counts');
    const own = runprintFetch({ data: dir });
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: own, maxRetries: 0 });
    try {
      upstream.enqueue({ kind: 'text', text: 'Counted.' });
      await client.chat.completions.create({ model: 'gpt-4o', messages: HI });
      await own.flush();
      const shown = inspect(own.counts, { depth: 4 });
      assert.doesNotMatch(shown, /Getter/);
      assert.match(shown, /runs: 1,/);
      assert.match(shown, /failures: 0,/);
      assert.deepEqual(JSON.parse(JSON.stringify(own.counts)).runs, 1);
    } finally {
      await own.close();
    }
  });

  test('async durability: the call returns before its run is committed; flush commits it', async () => {
    const dir = join(tempDir(), 'async');
    const own = runprintFetch({ data: dir, durability: 'async' });
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: own, maxRetries: 0 });
    await own.flush();
    const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
    try {
      upstream.enqueue({ kind: 'text', text: 'Later.' });
      await client.chat.completions.create({ model: 'gpt-4o', messages: HI });
      assert.equal((await store.list({})).length, 0, 'not yet committed when the call returned');
      await own.flush();
      assert.equal((await store.list({})).length, 1);
    } finally {
      await own.close();
      await store.close();
    }
  });

  test('a fresh directory: created owner-only with its receipt key (0600), and the records are there after close', async () => {
    const dir = join(tempDir(), 'nested', 'data');
    const own = runprintFetch({ data: dir });
    assert.equal(own.data, dir);
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: own, maxRetries: 0 });
    upstream.enqueue({ kind: 'text', text: 'Fresh.' });
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: HI });
    assert.equal(completion.choices[0]?.message.content, 'Fresh.');
    await own.close();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'receipt-key.pem')).mode & 0o777, 0o600);
    assert.deepEqual({ runs: own.counts.runs, failures: own.counts.failures }, { runs: 1, failures: 0 });
    assert.deepEqual(own.counts.recorder, { recorded: 1, unidentified: 0, failed: 0, signed: 1, logged: 0 });
    const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
    try {
      const [run] = await store.list({});
      assert.equal(run?.capture, 'sdk');
      assert.ok(run?.receipt !== null);
    } finally {
      await store.close();
    }
  });

  test('RUNPRINT_DATA names the directory when data is not given', async () => {
    const dir = join(tempDir(), 'from-env');
    const saved = process.env['RUNPRINT_DATA'];
    process.env['RUNPRINT_DATA'] = dir;
    try {
      const own = runprintFetch();
      assert.equal(own.data, dir);
      await own.close();
      assert.ok(existsSync(join(dir, 'runs.sqlite')));
    } finally {
      if (saved === undefined) delete process.env['RUNPRINT_DATA'];
      else process.env['RUNPRINT_DATA'] = saved;
    }
  });

  test('fail-open: a data directory that cannot be opened reports once, and every call still completes', async () => {
    const file = join(tempDir(), 'not-a-directory');
    rmSync(file, { force: true });
    // A regular file where the directory should be.
    await import('node:fs/promises').then((fs) => fs.writeFile(file, 'x'));
    const reported: RunprintError[] = [];
    const own = runprintFetch({ data: file, onError: (error) => void reported.push(error) });
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: own, maxRetries: 0 });
    upstream.enqueue({ kind: 'text', text: 'Still here.' }, { kind: 'text', text: 'And again.' });
    assert.equal((await client.chat.completions.create({ model: 'gpt-4o', messages: HI })).choices[0]?.message.content, 'Still here.');
    assert.equal((await client.chat.completions.create({ model: 'gpt-4o', messages: HI })).choices[0]?.message.content, 'And again.');
    await own.close();
    assert.equal(reported.length, 1, 'reported once');
    assert.equal(reported[0]!.code, 'ERR_STORE_UNAVAILABLE');
    assert.equal(reported[0]!.message, `the data directory ${file} exists and is not a directory`);
    assert.deepEqual({ runs: own.counts.runs, failures: own.counts.failures }, { runs: 2, failures: 2 });
  });

  test('bad options are a programmer error, thrown at once', () => {
    assert.throws(() => runprintFetch({ data: '' }), TypeError);
    assert.throws(() => runprintFetch({ fetch: 'nope' as unknown as typeof fetch }), TypeError);
    assert.throws(() => runprintFetch({ keep: { prompts: 'content' } as never }), /unknown part/);
    assert.throws(() => runprintFetch({ keep: { output: 'all' } as never }), /"content" or "digest"/);
    assert.throws(() => runprintFetch({ durability: 'eventually' as never }), /options.durability must be sync or async/);
    assert.throws(() => runprintFetch({ url: 'ftp://runprint.example' }), /http\(s\) URL/);
    assert.throws(() => runprintFetch({ url: 'https://user:pw@runprint.example' }), /without query, fragment, user name or password/);
    assert.throws(() => runprintFetch({ token: 'has space' }), /visible ASCII/);
  });
});
