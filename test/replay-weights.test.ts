/**
 * Replaying a local model's run (docs/REPLAY.md 3.2): a run captured in process by runprintFetch
 * from an OpenAI-compatible server (the fake upstream) with the weights digest of a small model
 * made here recorded as the derived served fact `weights`; `replay --weights PATH` recomputes the
 * digest with the recorded parameters before the call: equal, the replay carries the fact and can
 * be identical; different (one byte changed), nothing is sent (ERR_REPLAY_WEIGHTS_MISMATCH).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runprintFetch } from '../src/capture-node/runprint-fetch.ts';
import { computeModelDigest } from '../src/model-digest/index.ts';
import type { ServedFact } from '../src/identity/composition.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { writeModel } from './helpers/model-files.ts';

let upstream: FakeUpstream;
let data: string;
let model: string;
let weightsFact: ServedFact;
let withWeights: string;
let withoutWeights: string;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-replay-weights-'));
  scratch.push(dir);
  return dir;
}

const WEIGHTS = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37) % 256));

interface Result {
  verdict: string;
  reason?: { code: string; message: string };
  replay: { recordDigest: string; captureId: string } | null;
  served: Array<{ name: string; a: ServedFact | null; b: ServedFact | null }>;
  weights?: { recorded: string; found: string | null; equal: boolean };
}

async function replay(run: string, extra: string[]): Promise<{ code: number; result: Result | undefined; stderr: string }> {
  const out = await runCliInProcess(['replay', run, '--data', data, '--upstream', `openai=${upstream.url}`, '--json', ...extra]);
  return { code: out.code, result: out.stdout === '' ? undefined : (JSON.parse(out.stdout) as Result), stderr: out.stderr };
}

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  model = join(tempDir(), 'model');
  writeModel(model, WEIGHTS);
  const digest = await computeModelDigest(model, { method: 'shards', shardSize: 64 });
  weightsFact = { source: 'derived', value: { digest: digest.digest, serialization: digest.serialization } as never };
  // The application digests the weights its runtime loaded, and records them with each call.
  for (const [facts, text] of [[true, 'Name a colour.'], [false, 'Name a river.']] as const) {
    const fetch = runprintFetch({ data, spans: false, ...(facts ? { servedFacts: () => ({ weights: weightsFact }) } : {}) });
    const response = await fetch(`${upstream.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local-model', messages: [{ role: 'user', content: text }], temperature: 0 }),
    });
    await response.arrayBuffer();
    await fetch.close();
    const listed = await runCliInProcess(['runs', 'list', '--data', data, '--limit', '1', '--json']);
    const latest = (JSON.parse(listed.stdout) as { runs: Array<{ captureId: string }> }).runs[0]!.captureId;
    if (facts) withWeights = latest;
    else withoutWeights = latest;
  }
});

after(async () => {
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('replay --weights', () => {
  test('the weights fact is recorded as a derived served fact of the run', async () => {
    const shown = await runCliInProcess(['runs', 'show', withWeights, '--data', data, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const record = (JSON.parse(shown.stdout) as { runs: Array<{ record: { served: Record<string, ServedFact>; runId: string } }> }).runs[0]!.record;
    assert.deepEqual(record.served['weights'], weightsFact);
    assert.equal(record.served['model']?.source, 'reported', 'the response\'s own facts are kept beside it');
  });

  test('the same weights: checked before the call, carried by the replay, identical', async () => {
    const before = upstream.requests.length;
    const { code, result } = await replay(withWeights, ['--weights', model]);
    assert.equal(code, 0);
    assert.equal(result!.verdict, 'identical');
    assert.deepEqual(result!.weights, { recorded: `sha256:${(weightsFact.value as { digest: { sha256: string } }).digest.sha256}`, found: `sha256:${(weightsFact.value as { digest: { sha256: string } }).digest.sha256}`, equal: true });
    assert.equal(upstream.requests.length, before + 1);
    const shown = await runCliInProcess(['runs', 'show', result!.replay!.captureId, '--data', data, '--json']);
    const served = (JSON.parse(shown.stdout) as { runs: Array<{ record: { served: Record<string, ServedFact> } }> }).runs[0]!.record.served;
    assert.deepEqual(served['weights'], weightsFact, 'the replay\'s record carries the weights runprint derived');
  });

  test('other weights (one byte changed): refused before the call with ERR_REPLAY_WEIGHTS_MISMATCH', async () => {
    const other = join(tempDir(), 'model');
    const changed = Buffer.from(WEIGHTS);
    changed[70] = changed[70]! ^ 1;
    writeModel(other, changed);
    const before = upstream.requests.length;
    const { code, result } = await replay(withWeights, ['--weights', other]);
    assert.equal(code, 3);
    assert.equal(result!.verdict, 'cannot-replay');
    assert.equal(result!.reason!.code, 'ERR_REPLAY_WEIGHTS_MISMATCH');
    assert.equal(result!.replay, null);
    assert.equal(result!.weights!.equal, false);
    assert.notEqual(result!.weights!.found, result!.weights!.recorded);
    assert.equal(upstream.requests.length, before, 'nothing was sent');
  });

  test('without --weights the weights are not checked: the replay lacks the fact, never identical', async () => {
    const { code, result } = await replay(withWeights, []);
    assert.equal(code, 1);
    assert.equal(result!.verdict, 'same-request-other-server');
    assert.deepEqual(result!.served, [{ name: 'weights', a: weightsFact, b: null }]);
    assert.equal(result!.weights, undefined);
  });

  test('--weights for a run without a weights fact: ERR_REPLAY_WEIGHTS_NOT_RECORDED; a path that is no model: its ERR_MODEL_ code', async () => {
    const before = upstream.requests.length;
    const { code, result } = await replay(withoutWeights, ['--weights', model]);
    assert.equal(code, 3);
    assert.equal(result!.reason!.code, 'ERR_REPLAY_WEIGHTS_NOT_RECORDED');
    assert.equal(upstream.requests.length, before, 'nothing was sent');
    const missing = await replay(withWeights, ['--weights', join(tempDir(), 'no-such-model')]);
    assert.notEqual(missing.code, 0);
    assert.equal(missing.result, undefined);
    assert.match(missing.stderr, /^runprint: ERR_MODEL_NOT_FOUND: /);
    assert.equal(upstream.requests.length, before, 'nothing was sent');
  });

  test('runprintFetch refuses servedFacts with a server url (the server derives records from the bytes)', () => {
    assert.throws(() => runprintFetch({ data, url: 'http://127.0.0.1:1', servedFacts: () => ({ weights: weightsFact }) }), TypeError);
    assert.throws(() => runprintFetch({ data, servedFacts: 'weights' as never }), TypeError);
  });
});
