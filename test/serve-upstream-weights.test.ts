/**
 * A local model's weights through the proxy and to a server (docs/CAPTURE.md, "Local models"):
 * a real `runprint serve --upstream-weights openai=MODEL` in front of the fake upstream, with a
 * small model written here, records the `model-digest` of MODEL as the derived served fact
 * `weights` with every run through that upstream, so the same call captured in process with the
 * same fact (runprintFetch servedFacts) has the same request and run identities; bad values are
 * refused before serve listens; `replay --runs QUERY --weights PATH` checks each run's fact;
 * `POST /v1/exchanges` refuses facts a client states (ERR_CAPTURE_SERVED_FACT_REFUSED).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { captureFetch, type RunContent } from '../src/capture/capture-fetch.ts';
import type { CapturedRun } from '../src/capture/capture-run.ts';
import { exchangeOf } from '../src/capture/exchange.ts';
import { runprintFetch } from '../src/capture-node/runprint-fetch.ts';
import type { ServedFact } from '../src/identity/composition.ts';
import { computeModelDigest } from '../src/model-digest/index.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { writeModel } from './helpers/model-files.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { killServeProcesses, runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
let model: string;
let otherModel: string;
let weightsFact: ServedFact;
let otherFact: ServedFact;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-upstream-weights-'));
  scratch.push(dir);
  return dir;
}

const WEIGHTS = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 53) % 256));

const chat = (text: string) => JSON.stringify({ model: 'local-model', messages: [{ role: 'user', content: text }], temperature: 0 });

interface RunView {
  captureId: string;
  record: { requestId: string | null; runId: string | null; served: Record<string, ServedFact> | null };
}

async function show(id: string): Promise<RunView> {
  const shown = await runCliInProcess(['runs', 'show', id, '--data', data, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  return (JSON.parse(shown.stdout) as { runs: RunView[] }).runs[0]!;
}

/** One call through the proxy: its capture id and the identities its headers name. */
async function viaProxy(path: string, body: string, headers: Record<string, string> = {}): Promise<{ captureId: string; requestId: string | null; runId: string | null }> {
  const response = await fetch(`${serve.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  assert.equal(response.status, 200, await response.clone().text());
  await response.arrayBuffer();
  return { captureId: response.headers.get('runprint-capture-id')!, requestId: response.headers.get('runprint-request-id'), runId: response.headers.get('runprint-run-id') };
}

/** One call captured in process into the same data directory, with the facts given: its run. */
async function inProcess(body: string, facts: ServedFact | undefined): Promise<RunView> {
  const fetch = runprintFetch({ data, spans: false, ...(facts === undefined ? {} : { servedFacts: () => ({ weights: facts }) }) });
  const response = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await response.arrayBuffer();
  await fetch.close();
  const listed = await runCliInProcess(['runs', 'list', '--data', data, '--limit', '1', '--json']);
  return show((JSON.parse(listed.stdout) as { runs: Array<{ captureId: string }> }).runs[0]!.captureId);
}

/** serve's stderr once its capture banner (printed after the listening line) is there. */
async function bannerOf(process: ServeProcess): Promise<string> {
  for (let i = 0; i < 100 && !/runprint: capture on/.test(process.stderr()); i++) await new Promise((done) => setTimeout(done, 50));
  return process.stderr();
}

const factOf = async (path: string): Promise<ServedFact> => {
  // What `runprint model-digest --json PATH` prints: the default serialization, as serve computes it.
  const printed = await runCliInProcess(['model-digest', path, '--json']);
  assert.equal(printed.code, 0, printed.stderr);
  const { digest, serialization } = JSON.parse(printed.stdout) as { digest: unknown; serialization: unknown };
  return { source: 'derived', value: { digest, serialization } as never };
};

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  model = join(tempDir(), 'model');
  writeModel(model, WEIGHTS);
  otherModel = join(tempDir(), 'model');
  const changed = Buffer.from(WEIGHTS);
  changed[41] = changed[41]! ^ 1;
  writeModel(otherModel, changed);
  weightsFact = await factOf(model);
  otherFact = await factOf(otherModel);
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`, '--upstream-weights', `openai=${model}`] });
});

after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('serve --upstream-weights', () => {
  test('the banner names the weights digest serve derived at start, the same model-digest prints', async () => {
    const digest = (weightsFact.value as { digest: { sha256: string } }).digest.sha256;
    const banner = await bannerOf(serve);
    assert.match(banner, new RegExp(`/openai -> ${upstream.url.replace(/[.]/g, '\\.')} \\(weights sha256:${digest}\\)`));
    assert.doesNotMatch(banner, /\/anthropic -> [^,\n]* \(weights/);
    // The library's own digest with no options is the same: one code path for both.
    const library = await computeModelDigest(model, {});
    assert.equal(library.digest.sha256, digest);
  });

  test('a run through the upstream records the derived weights fact; the same call in process with the same fact has the same request and run identities', async () => {
    const body = chat('Name a colour.');
    const proxied = await viaProxy('/openai/v1/chat/completions', body);
    const stored = await show(proxied.captureId);
    assert.deepEqual(stored.record.served?.['weights'], weightsFact);
    assert.equal(stored.record.served?.['model']?.source, 'reported', 'the response\'s own facts are kept beside it');
    assert.equal(stored.record.runId, proxied.runId);
    // As text, the fact reads as its digest and method, not as escaped JSON (the whole fact is in --json).
    const text = await runCliInProcess(['runs', 'show', proxied.captureId, '--data', data]);
    const line = text.stdout.split('\n').find((row) => row.includes('served weights'));
    const value = weightsFact.value as { digest: { sha256: string }; serialization: { method: string } };
    assert.match(line ?? '', new RegExp(`^served weights +sha256:${value.digest.sha256} \\(method ${value.serialization.method}\\) \\(derived\\)$`));

    const local = await inProcess(body, weightsFact);
    assert.notEqual(local.captureId, proxied.captureId);
    assert.deepEqual(local.record.served, stored.record.served);
    assert.equal(local.record.requestId, proxied.requestId);
    assert.equal(local.record.runId, proxied.runId, 'proxy and in-process agree on the run identity');

    // Without the fact, or with another model's, the same call is another run (the request is the same).
    const without = await inProcess(body, undefined);
    const other = await inProcess(body, otherFact);
    assert.equal(without.record.requestId, proxied.requestId);
    assert.equal(other.record.requestId, proxied.requestId);
    assert.notEqual(without.record.runId, proxied.runId);
    assert.notEqual(other.record.runId, proxied.runId);
    assert.notEqual(other.record.runId, without.record.runId);
  });

  test('the bare provider route goes to the openai upstream and records its weights; the anthropic upstream records none', async () => {
    const bare = await viaProxy('/v1/chat/completions', chat('Name a city.'));
    assert.deepEqual((await show(bare.captureId)).record.served?.['weights'], weightsFact);
    const anthropic = await viaProxy('/anthropic/v1/messages', JSON.stringify({ model: 'claude-local', max_tokens: 32, messages: [{ role: 'user', content: 'Name a lake.' }] }), { 'anthropic-version': '2023-06-01' });
    const record = (await show(anthropic.captureId)).record;
    assert.notEqual(record.served, null);
    assert.equal(record.served!['weights'], undefined);
  });

  test('a replay of a proxied run with --weights MODEL is identical; with the other model nothing is sent', async () => {
    const proxied = await viaProxy('/openai/v1/chat/completions', chat('Name a colour.'));
    const before = upstream.requests.length;
    const same = await runCliInProcess(['replay', proxied.captureId, '--data', data, '--upstream', `openai=${upstream.url}`, '--weights', model, '--json']);
    assert.equal(same.code, 0, same.stderr);
    assert.equal((JSON.parse(same.stdout) as { verdict: string }).verdict, 'identical');
    assert.equal(upstream.requests.length, before + 1);
    const other = await runCliInProcess(['replay', proxied.captureId, '--data', data, '--upstream', `openai=${upstream.url}`, '--weights', otherModel, '--json']);
    assert.equal(other.code, 3);
    assert.equal((JSON.parse(other.stdout) as { reason: { code: string } }).reason.code, 'ERR_REPLAY_WEIGHTS_MISMATCH');
    assert.equal(upstream.requests.length, before + 1, 'nothing was sent for the other model');
  });

  test('bad values are ERR_CLI_USAGE before serve listens or makes its data directory', async () => {
    const cases: Array<{ args: string[]; message: RegExp }> = [
      { args: ['--upstream', `openai=${upstream.url}`, '--upstream-weights', `openai=${join(tempDir(), 'no-such-model')}`], message: /--upstream-weights openai: the model cannot be digested \(ERR_MODEL_NOT_FOUND: / },
      { args: ['--upstream', `openai=${upstream.url}`, '--upstream-weights', `mistral=${model}`], message: /--upstream-weights must be NAME=PATH: NAME one of openai, anthropic/ },
      { args: ['--upstream', `openai=${upstream.url}`, '--upstream-weights', model], message: /--upstream-weights must be NAME=PATH/ },
      { args: ['--upstream', `openai=${upstream.url}`, '--upstream-weights', 'openai='], message: /--upstream-weights must be NAME=PATH/ },
      { args: ['--upstream-weights', `openai=${model}`], message: /--upstream-weights openai needs --upstream openai=URL/ },
      { args: ['--upstream', `openai=${upstream.url}`, '--upstream-weights', `openai=${model}`, '--upstream-weights', `openai=${otherModel}`], message: /names the openai upstream more than once/ },
    ];
    for (const { args, message } of cases) {
      const dir = join(tempDir(), 'data');
      const result = await runRunprint(['serve', '--port', '0', '--data', dir, ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^runprint: ERR_CLI_USAGE: /);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /listening/);
      assert.equal(existsSync(dir), false, 'nothing was made');
    }
  });

  test('RUNPRINT_UPSTREAM_WEIGHTS is read as --upstream-weights is (a missing model refused the same way)', async () => {
    const dir = join(tempDir(), 'data');
    await assert.rejects(
      startServe({ data: dir, env: { RUNPRINT_UPSTREAMS: `openai=${upstream.url}`, RUNPRINT_UPSTREAM_WEIGHTS: `openai=${join(tempDir(), 'gone')}` } }),
      /exited \(2\) before it listened; stderr:\nrunprint: ERR_CLI_USAGE: --upstream-weights openai: the model cannot be digested \(ERR_MODEL_NOT_FOUND/,
    );
    const started = await startServe({ data: dir, env: { RUNPRINT_UPSTREAMS: `openai=${upstream.url}`, RUNPRINT_UPSTREAM_WEIGHTS: `openai=${otherModel}` } });
    try {
      assert.match(await bannerOf(started), new RegExp(`\\(weights sha256:${(otherFact.value as { digest: { sha256: string } }).digest.sha256}\\)`));
    } finally {
      await started.stop();
    }
  });
});

describe('POST /v1/exchanges and client-stated served facts', () => {
  let exchange: Record<string, unknown>;

  before(async () => {
    // An exchange as runprintFetch({ url }) makes it: the exact bytes of a real call to the fake upstream.
    let captured!: { run: CapturedRun; content: RunContent };
    const capturing = captureFetch(globalThis.fetch, { onCapturedRun: (run, content) => void (captured = { run, content }) });
    const response = await capturing(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('Name a star.') });
    await response.arrayBuffer();
    await new Promise((done) => setTimeout(done, 50));
    exchange = exchangeOf(captured.run, captured.content) as unknown as Record<string, unknown>;
  });

  const send = (body: unknown) => fetch(`${serve.base}/v1/exchanges`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('an exchange stating a weights fact is refused with ERR_CAPTURE_SERVED_FACT_REFUSED and nothing is recorded', async () => {
    const response = await send({ ...exchange, served: { weights: weightsFact } });
    assert.equal(response.status, 400);
    const { error } = (await response.json()) as { error: { code: string; message: string; path: string } };
    assert.equal(error.code, 'ERR_CAPTURE_SERVED_FACT_REFUSED');
    assert.equal(error.path, "$['served']");
    assert.match(error.message, /cannot recheck/);
    const shown = await runCliInProcess(['runs', 'show', exchange['captureId'] as string, '--data', data, '--json']);
    assert.notEqual(shown.code, 0, 'no run was recorded');
    assert.match(shown.stderr, /ERR_RUN_NOT_FOUND/);
  });

  test('the same exchange without it is recorded, and its record has no weights fact', async () => {
    const response = await send(exchange);
    assert.equal(response.status, 200, await response.clone().text());
    const answer = (await response.json()) as { captureId: string; runId: string };
    const record = (await show(answer.captureId)).record;
    assert.equal(record.runId, answer.runId);
    assert.equal(record.served?.['weights'], undefined);
    assert.equal(record.served?.['model']?.source, 'reported');
  });

  test('runprintFetch with a url refuses servedFacts at once, naming the code and serve --upstream-weights', () => {
    assert.throws(() => runprintFetch({ data: tempDir(), url: serve.base, servedFacts: () => ({ weights: weightsFact }) }), (error: unknown) => error instanceof TypeError && /ERR_CAPTURE_SERVED_FACT_REFUSED/.test(error.message) && /--upstream-weights/.test(error.message));
  });
});

describe('replay --runs QUERY --weights PATH', () => {
  interface Report {
    total: number;
    weights?: string;
    counts: Record<string, number>;
    codes: Record<string, number>;
    runs: Array<{ original: string; verdict: string | null; code?: string; replay: string | null; weights?: { recorded: string; found: string; equal: boolean } }>;
  }

  test('each run is checked against the model: equal ones replayed (identical), another digest ERR_REPLAY_WEIGHTS_MISMATCH, none ERR_REPLAY_WEIGHTS_NOT_RECORDED, nothing sent for those', async () => {
    // The runs of this file so far, and one more of each kind.
    const withWeights = await viaProxy('/openai/v1/chat/completions', chat('Name a mountain.'));
    const otherWeights = await inProcess(chat('Name a sea.'), otherFact);
    const noWeights = await inProcess(chat('Name a forest.'), undefined);
    const listed = await runCliInProcess(['runs', 'list', '--data', data, '--limit', '500', '--json']);
    const all = (JSON.parse(listed.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId);
    const factsOf = new Map<string, ServedFact | undefined>();
    for (const id of all) factsOf.set(id, (await show(id)).record.served?.['weights']);
    const out = join(tempDir(), 'report.json');
    const before = upstream.requests.length;
    const batch = await runCliInProcess(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`, '--weights', model, '--json', out]);
    assert.equal(batch.code, 1, batch.stderr);
    const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
    assert.equal(report.weights, model);
    // Replays of earlier tests are not originals.
    const originals = new Set(report.runs.map((row) => row.original));
    assert.ok(originals.has(withWeights.captureId) && originals.has(otherWeights.captureId) && originals.has(noWeights.captureId));
    let sent = 0;
    for (const row of report.runs) {
      const fact = factsOf.get(row.original);
      const recorded = fact === undefined ? undefined : `sha256:${(fact.value as { digest: { sha256: string } }).digest.sha256}`;
      if (fact === undefined) {
        assert.equal(row.verdict, 'cannot-replay', row.original);
        assert.equal(row.code, 'ERR_REPLAY_WEIGHTS_NOT_RECORDED');
        assert.equal(row.replay, null);
      } else if (recorded === `sha256:${(weightsFact.value as { digest: { sha256: string } }).digest.sha256}`) {
        assert.equal(row.verdict, 'identical', row.original);
        assert.deepEqual(row.weights, { recorded, found: recorded, equal: true });
        assert.notEqual(row.replay, null);
        sent++;
      } else {
        assert.equal(row.verdict, 'cannot-replay', row.original);
        assert.equal(row.code, 'ERR_REPLAY_WEIGHTS_MISMATCH');
        assert.equal(row.weights?.equal, false);
        assert.equal(row.weights?.recorded, recorded);
        assert.equal(row.replay, null);
      }
    }
    assert.equal(report.runs.find((row) => row.original === otherWeights.captureId)?.code, 'ERR_REPLAY_WEIGHTS_MISMATCH');
    assert.equal(report.runs.find((row) => row.original === noWeights.captureId)?.code, 'ERR_REPLAY_WEIGHTS_NOT_RECORDED');
    assert.equal(report.runs.find((row) => row.original === withWeights.captureId)?.verdict, 'identical');
    assert.ok(sent >= 3 && report.codes['ERR_REPLAY_WEIGHTS_MISMATCH']! >= 2 && report.codes['ERR_REPLAY_WEIGHTS_NOT_RECORDED']! >= 3, JSON.stringify(report.codes));
    assert.equal(report.counts['identical'], sent);
    assert.equal(upstream.requests.length, before + sent, 'only runs of the same weights were sent');
  });

  test('a missing model is refused before the batch starts; a batch state of another --weights is not resumed', async () => {
    const out = join(tempDir(), 'report.json');
    const missing = await runCliInProcess(['replay', '--runs', 'all', '--data', data, '--weights', join(tempDir(), 'gone'), '--json', out]);
    assert.equal(missing.code, 4, missing.stderr);
    assert.match(missing.stderr, /^runprint: ERR_MODEL_NOT_FOUND: model path does not exist: /);
    assert.equal(existsSync(`${out}.state`), false, 'no batch was started');
    // The state a batch without --weights leaves when interrupted.
    writeFileSync(`${out}.state`, `${JSON.stringify({ version: 1, batch: globalThis.crypto.randomUUID(), query: 'all', overrides: { params: [] }, started: new Date().toISOString(), originals: [] })}\n`);
    const before = upstream.requests.length;
    const resumed = await runCliInProcess(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${upstream.url}`, '--weights', model, '--json', out]);
    assert.notEqual(resumed.code, 0);
    assert.match(resumed.stderr, /^runprint: ERR_REPLAY_BATCH_MISMATCH: .*--weights/);
    assert.equal(upstream.requests.length, before);
    const plain = await runCliInProcess(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${upstream.url}`, '--json', out]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as Report).total, 0, 'the same options resume it');
  });
});
