/**
 * Salted commitments at capture (SPEC 5.6, docs/CAPTURE.md "The run store"): a real `runprint
 * serve --capture-salt system,input` in front of the fake upstream on loopback salts each run with
 * fresh salts, its receipt and log entry carry only commitments, the salts stay in the run store
 * (never in the receipt, the log, the run view or stderr), `runs show --composition` gives them
 * back, and `disclose create` + `disclose verify` open a revealed element against the receipt.
 * The proxy and in-process capture give equal identities under equal salts (the test seam), two
 * captures with fresh salts differ; replay, runs diff and runs group of salted runs; retention
 * deletes the salts from the store in SQLite and PostgreSQL alike, and with SQLite from the bytes
 * of runs.sqlite and its WAL too; GET /v1/content answers the salts row, as all content, no-store.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { captureFetch } from '../src/capture/capture-fetch.ts';
import { freshSalts, saltedComponents, type CapturedRun } from '../src/capture/capture-run.ts';
import { isReceiptable } from '../src/capture/run-receipt.ts';
import type { RunRecord } from '../src/capture/run-record.ts';
import { runprintFetch, SALTS_SEAM } from '../src/capture-node/runprint-fetch.ts';
import { captureOptions } from '../src/cli/serve-capture.ts';
import { RunprintError, UsageError } from '../src/errors.ts';
import { toHex } from '../src/hash/sha256.ts';
import type { Salts } from '../src/identity/composition.ts';
import { elementDigest } from '../src/identity/digest.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { compareRuns } from '../src/replay/compare-runs.ts';
import { groupRuns } from '../src/replay/group-runs.ts';
import { runComposition, storedSalts } from '../src/replay/rebuild-request.ts';
import { replayRun } from '../src/replay/replay-run.ts';
import { createApp } from '../src/server/app.ts';
import { spanOf } from '../src/server/otlp.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';

/** A short, guessable system prompt: the element the mapping makes of it is the message. */
const SYSTEM = { role: 'system', content: 'yes' };
const CALL = { model: 'gpt-4o-mini', messages: [SYSTEM, { role: 'user', content: 'Customer 4711 asks: refund?' }], temperature: 0 };
const SALTS_A: Salts = { system: '3b7d0a7c2f4e9b1d6a8c5e0f2b4d6f8a1c3e5a7b9d0f2a4c6e8b0d2f4a6c8e0b', input: 'a1'.repeat(32) };

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-salted-');

before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

interface RunView {
  captureId: string;
  record: RunRecord;
  identity: { requestId: string; components: Record<string, { salted?: true; digest: { sha256: string }; elements?: { sha256: string }[] }> };
  receipt: { logIndex: number | null } | null;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** The payload of a DSSE envelope, decoded. */
const payloadOf = (envelope: string) => Buffer.from((JSON.parse(envelope) as { payload: string }).payload, 'base64').toString('utf8');

/** Every file under a directory, as one latin1 text (for searching bytes). */
function filesText(dir: string, keep: (name: string) => boolean): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && keep(entry.name))
    .map((entry) => readFileSync(join(entry.parentPath, entry.name)).toString('latin1'))
    .join('\n');
}

describe('serve --capture-salt: commitments in the receipt and log, salts in the run store, disclosure end to end', () => {
  let serve: ServeProcess;
  let data: string;
  before(async () => {
    data = scratch.tempDir();
    serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--capture-salt', 'system,input'] });
  });

  const call = async () => {
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-salted-0123' }, body: JSON.stringify(CALL) });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    return { captureId: response.headers.get('runprint-capture-id')!, requestId: response.headers.get('runprint-request-id')! };
  };
  const view = async (captureId: string): Promise<RunView> => ((await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: RunView[] }).runs[0]!;

  test('each run is salted afresh; the receipt and log carry commitments only; runs show --composition and disclose open an element', async () => {
    const first = await call();
    const second = await call();
    assert.match(serve.stderr(), /salting system,input/);
    assert.notEqual(first.requestId, second.requestId, 'fresh salts: the same call has another request identity each time');
    await until(async () => (await view(first.captureId)).receipt?.logIndex !== null && (await view(first.captureId)).receipt !== null, 'the receipt is signed and logged');
    const run = await view(first.captureId);
    assert.equal(run.identity.requestId, first.requestId);
    assert.equal(run.identity.components['system']!.salted, true);
    assert.equal(run.identity.components['input']!.salted, true);
    assert.equal(run.identity.components['parameters']!.salted, undefined);

    // The salts, over HTTP and from the CLI: the same, one per salted component.
    const answer = await fetch(`${serve.base}/v1/runs/${first.captureId}/composition`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const composition = (await answer.json()) as { salts: Salts; system: unknown[]; served: unknown };
    assert.deepEqual(Object.keys(composition.salts).sort(), ['input', 'system']);
    assert.deepEqual(composition.system, [SYSTEM]);
    assert.ok(composition.served !== undefined, 'served facts, so disclose create needs no --output');
    const shown = await runRunprint(['runs', 'show', first.captureId, '--data', data, '--composition']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), composition);
    const other = (await (await fetch(`${serve.base}/v1/runs/${second.captureId}/composition`)).json()) as { salts: Salts };
    assert.notEqual(other.salts.system, composition.salts.system, 'another salt for the second run');

    // The salts are nowhere but the run store: not in the receipt, the log, the run view, stderr.
    const receipt = await (await fetch(`${serve.base}/v1/runs/${first.captureId}/receipt`)).text();
    const secrets = [composition.salts.system!, composition.salts.input!];
    const viewText = JSON.stringify(await view(first.captureId));
    const listText = await (await fetch(`${serve.base}/v1/runs`)).text();
    for (const salt of secrets) {
      assert.ok(!payloadOf(receipt).includes(salt) && !receipt.includes(salt), 'no salt in the receipt');
      assert.ok(!viewText.includes(salt) && !listText.includes(salt), 'no salt in the run views');
      assert.ok(!serve.stderr().includes(salt), 'no salt on stderr');
      assert.ok(!filesText(data, (name) => name.startsWith('log')).includes(salt), 'no salt in the log database');
      assert.ok(filesText(data, (name) => name.startsWith('runs')).includes(salt), 'the salt is in the run store');
    }
    // The guessable system prompt: its plain element digest is not in the receipt, its salted one is.
    const plain = toHex(elementDigest(canonicalize(SYSTEM)));
    assert.ok(!payloadOf(receipt).includes(plain), 'a guess of the system prompt cannot be confirmed from the receipt');
    assert.ok(payloadOf(receipt).includes(run.identity.components['system']!.elements![0]!.sha256));

    // Disclosure: create from the stored composition, verify against the receipt with the receipt key.
    const dir = scratch.tempDir();
    writeFileSync(join(dir, 'composition.json'), shown.stdout);
    writeFileSync(join(dir, 'receipt.json'), receipt);
    writeFileSync(join(dir, 'receipt.pub.pem'), ((await (await fetch(`${serve.base}/v1/receipt-key`)).json()) as { publicKey: string }).publicKey);
    const created = await runRunprint(['disclose', 'create', '--composition', join(dir, 'composition.json'), '--reveal', 'system[0]', '--reveal', 'input[0]', '--out', join(dir, 'disclosure.json')]);
    assert.equal(created.code, 0, created.stderr);
    const disclosure = JSON.parse(readFileSync(join(dir, 'disclosure.json'), 'utf8')) as { elements: { salt: string; element: unknown }[] };
    assert.deepEqual(disclosure.elements.map((element) => element.element), [SYSTEM, CALL.messages[1]]);
 assert.ok(!readFileSync(join(dir, 'disclosure.json'), 'utf8').includes(composition.salts.system!), 'an element carries its own salt, never S');
    const verified = await runRunprint(['disclose', 'verify', join(dir, 'disclosure.json'), '--receipt', join(dir, 'receipt.json'), '--key', join(dir, 'receipt.pub.pem')]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /disclosure verified: rp-run-/);
    // Another run's salts do not open this run's commitment.
    writeFileSync(join(dir, 'wrong.json'), JSON.stringify({ ...JSON.parse(shown.stdout), salts: other.salts }));
    const wrong = await runRunprint(['disclose', 'create', '--composition', join(dir, 'wrong.json'), '--reveal', 'system[0]', '--out', join(dir, 'wrong-disclosure.json')]);
    assert.equal(wrong.code, 0, wrong.stderr);
    const refused = await runRunprint(['disclose', 'verify', join(dir, 'wrong-disclosure.json'), '--receipt', join(dir, 'receipt.json'), '--key', join(dir, 'receipt.pub.pem')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /disclosure NOT verified/);

    // runs verify recomputes the salted identities from the stored content and salts.
    const checked = await runRunprint(['runs', 'verify', first.captureId, '--data', data, '--json']);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  });

  test('runs diff of two salted captures compares stored content (only the salts differ); runs group counts them as salted', async () => {
    const a = await call();
    const b = await call();
    const diff = await runRunprint(['runs', 'diff', a.captureId, b.captureId, '--data', data, '--json']);
    const parsed = JSON.parse(diff.stdout) as { compared: string; sameRequest: boolean; differences: { component: string; path: string }[]; output: { equal: boolean } };
    assert.equal(parsed.compared, 'content');
    assert.equal(parsed.sameRequest, false);
    assert.deepEqual(parsed.differences, [{ component: 'system', change: 'changed', path: "$['salts']['system']" }, { component: 'input', change: 'changed', path: "$['salts']['input']" }]);
    assert.equal(parsed.output.equal, true);
    const grouped = await runRunprint(['runs', 'group', '--by', 'component=system', '--data', data]);
    assert.equal(grouped.code, 0, grouped.stderr);
    assert.match(grouped.stdout, /salted: each salt makes its own key/);
    // --values checks each salted piece with its run's salts before it shows it.
    for (const [by, text] of [['component=system', '"yes"'], ['element=input', 'Customer 4711']] as const) {
      const shown = await runRunprint(['runs', 'group', '--by', by, '--values', '--json', '--data', data]);
      assert.equal(shown.code, 0, shown.stderr);
      const values = (JSON.parse(shown.stdout) as { groups: { value: string | null }[] }).groups.map((group) => group.value);
      assert.ok(values.length >= 2 && values.every((value) => value !== null && value.includes(text)), `${by}: ${JSON.stringify(values)}`);
    }
    const json = await fetch(`${serve.base}/v1/runs/groups?by=component%3Dsystem`);
    const groups = (await json.json()) as { runs: number; salted: number; groups: { salted?: true; count: number }[] };
    assert.equal(groups.salted, groups.runs);
    assert.ok(groups.groups.every((group) => group.salted === true && group.count === 1), 'one group per salt');
    const byModel = (await (await fetch(`${serve.base}/v1/runs/groups?by=component%3Dparameters`)).json()) as { salted: number; groups: { count: number }[] };
    assert.equal(byModel.salted, 0, 'parameters is not salted: equal content groups');
    assert.equal(byModel.groups[0]!.count, groups.runs);
  });

  test('replay of a salted run: rebuilt from stored content, identified with the original\'s salts, identical', async () => {
    const original = await call();
    const storage = SqliteRuns.open(join(data, 'runs.sqlite'));
    try {
      const [run] = await storage.find(original.captureId);
      const result = await replayRun(run!, { storage, upstreams: { openai: upstream.url } });
      assert.equal(result.verdict, 'identical', JSON.stringify(result.reason));
      assert.equal(result.replay!.requestId, original.requestId);
      const [replay] = await storage.find(result.replay!.captureId);
      assert.deepEqual(await storedSalts(storage, replay!), await storedSalts(storage, run!), 'the replay keeps the original\'s salts');
    } finally {
      await storage.close();
    }
  });
});

describe('one core: the proxy and in-process capture agree under equal salts', () => {
  test('equal injected salts give equal request and run identities and output digests; fresh ones differ', async () => {
    const dir = scratch.tempDir();
    const records: CapturedRun[] = [];
    const proxy = createProxy({ upstreams: { openai: upstream.url }, sink: { healthy: true, record: async (run) => void records.push(run) }, maxBodyBytes: 1 << 20, receipts: false, salts: () => SALTS_A });
    const app = createApp({ proxy });
    const proxied = await app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CALL) });
    await proxied.arrayBuffer();
    const local = runprintFetch({ data: dir, [SALTS_SEAM]: () => SALTS_A } as Parameters<typeof runprintFetch>[0]);
    const fresh = runprintFetch({ data: join(dir, 'fresh'), salt: ['system', 'input'] });
    try {
      for (const wrapped of [local, fresh, fresh]) await (await wrapped(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CALL) })).arrayBuffer();
      await local.flush();
      await fresh.flush();
      const byProxy = records[0]!.record;
      // The span (proxy and in process alike) names the salted digests, never a salt.
      const span = JSON.stringify(spanOf(records[0]!, { upstream: 'openai', server: new URL(upstream.url), trace: null, receipt: null, stream: false }));
      assert.ok(span.includes(records[0]!.identity!.components.system.digest.sha256));
      for (const salt of Object.values(SALTS_A)) assert.ok(!span.includes(salt), 'no salt in the span');
      assert.ok(!JSON.stringify(byProxy).includes(SALTS_A.system!), 'no salt in the record');
      const stored = SqliteRuns.open(join(dir, 'runs.sqlite'));
      const [inProcess] = await stored.list({});
      await stored.close();
      assert.equal(proxied.headers.get('runprint-request-id'), byProxy.requestId);
      assert.equal(inProcess!.record.requestId, byProxy.requestId);
      assert.equal(inProcess!.record.runId, byProxy.runId);
      assert.equal(inProcess!.record.output!.digest.sha256, byProxy.output!.digest.sha256);
      assert.equal(inProcess!.identity!.components.system.salted, true);
      const freshRuns = SqliteRuns.open(join(dir, 'fresh', 'runs.sqlite'));
      const two = await freshRuns.list({});
      await freshRuns.close();
      assert.equal(two.length, 2);
      assert.notEqual(two[0]!.record.requestId, two[1]!.record.requestId);
      assert.notEqual(two[0]!.record.requestId, byProxy.requestId);
      assert.equal(two[0]!.record.output!.digest.sha256, byProxy.output!.digest.sha256, 'the output is not salted');
    } finally {
      await local.close();
      await fresh.close();
    }
  });

  test('the option is checked: names of request components or all; served and unknown names are refused', () => {
    assert.deepEqual(saltedComponents(['input,system']), ['system', 'input']);
    assert.deepEqual(saltedComponents(['all']), ['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration']);
    const io = { cwd: process.cwd(), stderr: () => undefined } as unknown as Parameters<typeof captureOptions>[3];
    assert.deepEqual(captureOptions({ 'capture-salt': ['system', 'tools'] }, {}, '127.0.0.1', io)!.salted, ['system', 'tools']);
    assert.deepEqual(captureOptions({}, { RUNPRINT_CAPTURE_SALT: 'input configuration' }, '127.0.0.1', io)!.salted, ['input', 'configuration']);
    for (const bad of ['served', 'prompt', 'system;input']) {
      assert.throws(() => captureOptions({ 'capture-salt': [bad] }, {}, '127.0.0.1', io), (error: unknown) => error instanceof UsageError && error.code === 'ERR_CLI_USAGE' && /--capture-salt/.test(error.message));
    }
    assert.throws(() => runprintFetch({ salt: ['served'] }), TypeError);
    assert.throws(() => runprintFetch({ salt: 'system' as unknown as string[] }), TypeError);
    const salts = freshSalts(['system'])!;
    assert.match(salts.system!, /^[0-9a-f]{64}$/);
    assert.notEqual(freshSalts(['system'])!.system, salts.system);
  });
});

describe('exchanges carry the client\'s salts to a server', () => {
  test('runprintFetch({ url, salt }) sends its salts: the server\'s record has the identity the local store gives under them; bad salts are refused unechoed', async () => {
    const data = scratch.tempDir();
    const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
    const client = runprintFetch({ data: scratch.tempDir(), url: serve.base, [SALTS_SEAM]: () => SALTS_A } as Parameters<typeof runprintFetch>[0]);
    const local = runprintFetch({ data: scratch.tempDir(), [SALTS_SEAM]: () => SALTS_A } as Parameters<typeof runprintFetch>[0]);
    try {
      for (const wrapped of [client, local]) await (await wrapped(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CALL) })).arrayBuffer();
      await client.flush();
      await local.flush();
      assert.equal(client.counts.outbox.delivered, 1);
      const listed = ((await (await fetch(`${serve.base}/v1/runs`)).json()) as { runs: RunView[] }).runs;
      assert.equal(listed.length, 1);
      const localStore = SqliteRuns.open(join(local.data, 'runs.sqlite'));
      const [mine] = await localStore.list({});
      await localStore.close();
      assert.equal(listed[0]!.record.requestId, mine!.record.requestId);
      const composition = (await (await fetch(`${serve.base}/v1/runs/${listed[0]!.captureId}/composition`)).json()) as { salts: Salts };
      assert.deepEqual(composition.salts, SALTS_A);
      const exchange = { version: 'runprint/exchange/v1', captureId: globalThis.crypto.randomUUID(), method: 'POST', path: '/v1/chat/completions', request: Buffer.from(JSON.stringify(CALL)).toString('base64'), response: null, outcome: 'network-error', times: { started: 1, response: null, ended: 2 }, parents: [] };
      for (const [salts, path] of [[{ system: 'AB'.repeat(32) }, "$['salts']['system']"], [{ served: 'ab'.repeat(32) }, "$['salts']"], [['ab'], "$['salts']"]] as const) {
        const refused = await fetch(`${serve.base}/v1/exchanges`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...exchange, salts }) });
        const body = await refused.text();
        assert.equal(refused.status, 400);
        assert.equal((JSON.parse(body) as { error: { code: string; path: string } }).error.code, 'ERR_HTTP_BAD_REQUEST');
        assert.equal((JSON.parse(body) as { error: { path: string } }).error.path, path);
        assert.ok(!body.includes('AB'.repeat(32)) && !body.includes('ab'.repeat(32)), 'the salt is not echoed');
      }
    } finally {
      await client.close();
      await local.close();
      await serve.stop();
    }
  });
});

/** Captures CALL once with `salts` through captureFetch and stores it in `storage` under `policy`. */
async function storeSalted(storage: RunStorage, salts: Salts, keep: Partial<ReturnType<typeof defaultContentPolicy>> = {}) {
  let captured!: { run: CapturedRun; content: { requestBytes: Uint8Array; responseBytes: Uint8Array } };
  const wrapped = captureFetch(globalThis.fetch, { onCapturedRun: (run, content) => void (captured = { run, content }), salts: () => salts, holdEnd: true });
  await (await wrapped(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CALL) })).arrayBuffer();
  const prepared = runToStore(captured.run, captured.content, { ...defaultContentPolicy(), ...keep }, 'sdk', isReceiptable(captured.run));
  await storage.put([prepared]);
  return (await storage.find(prepared.recordDigest))[0]!;
}

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
  describe(`retention deletes the salts with the content from the store (${kind})`, () => {
    let storage: RunStorage;
    let pg: PgSchemas | undefined;
    before(async () => {
      if (kind === 'SQLite') storage = SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'));
      else {
        pg = await pgSchemas();
        storage = await PostgresRuns.open((await pg.fresh('runprint_salted')).url);
      }
    });
    after(async () => {
      await storage.close();
      await pg?.drop();
    });

    test('the composition with salts until the run expires, then ERR_REPLAY_CONTENT_NOT_STORED; its identity remains', async () => {
      const run = await storeSalted(storage, SALTS_A);
      const composition = await runComposition(storage, run);
      assert.deepEqual(composition.salts, SALTS_A);
      assert.deepEqual(composition.system, [SYSTEM]);
      const saltsRow = run.digests.find((digest) => digest.part === 'salts')!;
      assert.ok(await storage.content(saltsRow.digest), 'the salts are stored as content');
      assert.equal(await storage.expire(new Date(Date.now() + 60_000).toISOString()), 1);
      const [expired] = await storage.find(run.recordDigest);
      assert.equal(await storage.content(saltsRow.digest), undefined, 'the salts are deleted');
      await assert.rejects(storedSalts(storage, expired!), (error: unknown) => error instanceof RunprintError && error.code === 'ERR_REPLAY_CONTENT_NOT_STORED' && /retention period/.test(error.message));
      await assert.rejects(runComposition(storage, expired!), { code: 'ERR_REPLAY_CONTENT_NOT_STORED' });
      // Its identity, record and digests remain.
      assert.equal(expired!.identity!.requestId, run.identity!.requestId);
    });

    test('GET /v1/runs/{id}/composition needs the capture token as /v1/content does; an expired run is 404', async () => {
      const run = await storeSalted(storage, { input: 'c6'.repeat(32) });
      const app = createApp({ runs: { storage, token: 'content-token-1' } });
      const path = `/v1/runs/${run.record.captureId}/composition`;
      const refused = await app.request(path);
      assert.equal(refused.status, 401);
      const refusedText = await refused.text();
      assert.ok(!refusedText.includes('c6'.repeat(32)));
      const saltsDigest = run.digests.find((digest) => digest.part === 'salts')!.digest;
      assert.equal((await app.request(`/v1/content/${saltsDigest}`)).status, 401);
      const given = await app.request(path, { headers: { 'runprint-capture-token': 'content-token-1' } });
      assert.equal(given.status, 200);
      assert.deepEqual(((await given.json()) as { salts: Salts }).salts, { input: 'c6'.repeat(32) });
      assert.equal(await storage.expire(new Date(Date.now() + 60_000).toISOString()), 1);
      const gone = await app.request(path, { headers: { 'runprint-capture-token': 'content-token-1' } });
      assert.equal(gone.status, 404);
      assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'ERR_REPLAY_CONTENT_NOT_STORED');
    });

    test('GET /v1/content/{digest} answers a run\'s salts, and all other content, with Cache-Control: no-store (no cache keeps them past retention); so do the run views, counts, groups, diff and verify', async () => {
      const run = await storeSalted(storage, { system: 'c7'.repeat(32) });
      const app = createApp({ runs: { storage }, runAnalysis: { storage, verify: {} } });
      const saltsDigest = run.digests.find((digest) => digest.part === 'salts')!.digest;
      for (const method of ['GET', 'HEAD']) {
        const salts = await app.request(`/v1/content/${saltsDigest}`, { method });
        assert.equal(salts.status, 200);
        assert.equal(salts.headers.get('cache-control'), 'no-store', `${method} of the salts row`);
        if (method === 'GET') assert.ok((await salts.text()).includes('c7'.repeat(32)));
        else await salts.arrayBuffer();
      }
      assert.equal((await app.request(`/v1/content/sha256:${saltsDigest}`)).headers.get('cache-control'), 'no-store', 'named with its sha256: prefix too');
      const element = run.digests.find((digest) => digest.part === 'system' && digest.position === 0)!.digest;
      const cached = await app.request(`/v1/content/${element}`);
      assert.equal(cached.status, 200);
      assert.deepEqual(JSON.parse(await cached.text()), SYSTEM);
      assert.equal(cached.headers.get('cache-control'), 'no-store', 'a component element is content too: the explorer loads it through here, and no browser cache may keep it past retention');
      const id = run.record.captureId;
      for (const path of [`/v1/runs`, `/v1/runs/counts`, `/v1/runs/groups?by=request`, `/v1/runs/${id}`, `/v1/runs/${id}/composition`, `/v1/runs/diff?a=${id}&b=${id}&values=1`, `/v1/runs/${id}/verify`]) {
        const answer = await app.request(path);
        const body = await answer.text();
        assert.equal(answer.status, 200, `${path}: ${body}`);
        assert.equal(answer.headers.get('cache-control'), 'no-store', path);
      }
    });

    test('--capture-keep salts=digest keeps no salt: the commitment is unopenable from the start; diff by digests refuses unequal salts', async () => {
      const run = await storeSalted(storage, { system: 'c3'.repeat(32) }, { salts: 'digest', system: 'digest' });
      await assert.rejects(storedSalts(storage, run), (error: unknown) => error instanceof RunprintError && error.code === 'ERR_REPLAY_CONTENT_NOT_STORED' && /not kept/.test(error.message));
      const other = await storeSalted(storage, { system: 'c4'.repeat(32) }, { system: 'digest' });
      await assert.rejects(compareRuns(storage, run, other), (error: unknown) => error instanceof RunprintError && error.code === 'ERR_REPLAY_CONTENT_NOT_STORED' && /salted/.test(error.message));
      // Equal salts, content by digest only: the digests are comparable.
      const same1 = await storeSalted(storage, { system: 'c5'.repeat(32) }, { system: 'digest' });
      const same2 = await storeSalted(storage, { system: 'c5'.repeat(32) }, { system: 'digest' });
      const { diff } = await compareRuns(storage, same1, same2);
      assert.equal(diff.compared, 'digests');
      assert.deepEqual(diff.differences, []);
      assert.equal(diff.sameRequest, true);
      const groups = await groupRuns(storage, {}, { kind: 'component', name: 'system' });
      assert.ok(groups.salted >= 4);
    });
  });
}

/** Pauses a few milliseconds, so runs stored before and after a cut end on either side of it. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('SQLite retention overwrites the salts on disk: neither runs.sqlite nor its WAL keeps them after expire', () => {
  for (const writerThread of [false, true]) {
    test(`expired runs' salts, hex or raw, are in no file of the store; newer runs' salts are (${writerThread ? 'puts on the writer thread' : 'one connection'})`, async () => {
      const path = join(scratch.tempDir(), 'runs.sqlite');
      const storage = SqliteRuns.open(path, { writerThread });
      // Another connection to the file, as a runs command or a second serve has: the store's close
      // is then not the last one, so SQLite does not checkpoint and delete the WAL on it.
      const other = new DatabaseSync(path);
      try {
        other.prepare('SELECT count(*) FROM runs').get();
        const older: Salts[] = [];
        const newer: Salts[] = [];
        // Enough runs that their content rows share and split pages: the expired salts lie between kept ones.
        for (let i = 0; i < 40; i++) older.push(freshSalts(['system', 'input'])!);
        for (let i = 0; i < 40; i++) newer.push(freshSalts(['system', 'input'])!);
        for (const salts of older) await storeSalted(storage, salts);
        await pause();
        const cut = new Date().toISOString();
        await pause();
        for (const salts of newer) await storeSalted(storage, salts);
        assert.equal(await storage.expire(cut), older.length);
        await storage.close();
        const wal = `${path}-wal`;
        const files = { 'runs.sqlite': readFileSync(path), 'runs.sqlite-wal': existsSync(wal) ? readFileSync(wal) : Buffer.alloc(0) };
        const all = Buffer.concat(Object.values(files));
        for (const salts of newer) for (const salt of Object.values(salts)) assert.ok(all.includes(salt!), 'a salt still kept is found (the search works)');
        for (const salts of older) {
          for (const salt of Object.values(salts)) {
            for (const [name, bytes] of Object.entries(files)) {
              assert.ok(!bytes.includes(Buffer.from(salt!, 'latin1')), `an expired salt's hex is in ${name}`);
              assert.ok(!bytes.includes(Buffer.from(salt!, 'hex')), `an expired salt's raw bytes are in ${name}`);
            }
          }
        }
      } finally {
        other.close();
        await storage.close();
      }
    });
  }
});

describe('SQLite retention while another connection reads: the WAL is emptied at the next expire', () => {
  test('a reader of an older snapshot keeps the WAL (expire waits about a second, not the 5 s busy timeout); the next expire, with nothing to delete, empties it', async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const storage = SqliteRuns.open(path);
    const reader = new DatabaseSync(path);
    try {
      const salts = freshSalts(['system'])!;
      await storeSalted(storage, salts);
      await pause();
      const cut = new Date().toISOString();
      await pause();
      const kept = await storeSalted(storage, freshSalts(['system'])!);
      // A read transaction on the snapshot before the expire: its pages must stay readable.
      reader.exec('BEGIN');
      assert.equal((reader.prepare('SELECT count(*) AS n FROM content').get() as { n: number }).n > 0, true);
      const started = performance.now();
      assert.equal(await storage.expire(cut), 1);
      const waited = performance.now() - started;
      assert.ok(waited < 3000, `expire waited ${waited} ms for the reader`);
      assert.ok(readFileSync(`${path}-wal`).length > 0, 'the WAL is not truncated while the reader reads');
      reader.exec('COMMIT');
      assert.equal(await storage.expire(cut), 0, 'nothing more to expire');
      assert.equal(readFileSync(`${path}-wal`).length, 0, 'the WAL is truncated once the reader is done');
      const files = Buffer.concat([readFileSync(path), readFileSync(`${path}-wal`)]);
      assert.ok(!files.includes(Buffer.from(salts.system!, 'latin1')), 'the expired salt is in no file');
      // Nothing committed is lost by the checkpoints: the newer run and its content read back.
      const [again] = await storage.find(kept.recordDigest);
      assert.deepEqual(await storedSalts(storage, again!), await storedSalts(storage, kept));
    } finally {
      if (reader.isOpen) reader.close();
      await storage.close();
    }
  });
});
