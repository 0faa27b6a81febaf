/**
 * `runprint runs group` over runs a real `runprint serve` captured from the fake upstream: distinct
 * request and run identities, which system prompt versions ran (with their stored content), which
 * runs shared one input element (a document), the filters of runs list, and bad input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canonicalBytes } from '../src/jcs/canonicalize.ts';
import { sha256Once, toHex } from '../src/hash/sha256.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;

const cli = (argv: string[]) => runCliInProcess(argv);

interface Groups {
  by: string;
  runs: number;
  distinct: number;
  groups: Array<{ key: string | null; count: number; first: string; last: string; captureIds: string[]; elements?: string[]; value?: string | null }>;
}

async function group(args: string[]): Promise<Groups> {
  const out = await cli(['runs', 'group', '--data', data, '--json', ...args]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as Groups;
}

/** One chat call through the proxy, raw JSON text (so a number the spec refuses can be sent); its capture id. */
async function capture(body: string): Promise<string> {
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-group' }, body });
  await response.arrayBuffer();
  return response.headers.get('runprint-capture-id')!;
}

const DOCUMENT = 'Document: The Rhine rises in the Swiss Alps.';
const V1 = 'You answer in one sentence.';
const V2 = 'You answer in one word.';
const chat = (system: string, messages: string[], model = 'gpt-4o') =>
  JSON.stringify({ model, messages: [{ role: 'system', content: system }, ...messages.map((content) => ({ role: 'user', content }))] });

const ids: Record<string, string> = {};

before(async () => {
  upstream = await startFakeUpstream();
  data = mkdtempSync(join(tmpdir(), 'runprint-runs-group-'));
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  ids['a'] = await capture(chat(V1, [DOCUMENT, 'Where does it rise?']));
  ids['a2'] = await capture(chat(V1, [DOCUMENT, 'Where does it rise?'])); // the same request again
  ids['b'] = await capture(chat(V1, ['Name a colour.']));
  ids['c'] = await capture(chat(V2, [DOCUMENT, 'Which country?']));
  upstream.enqueue({ kind: 'text', text: 'Hello from the fake upstream.', servedModel: 'gpt-4o-2024-11-20' });
  ids['d'] = await capture(chat(V2, ['Name a colour.'])); // another served snapshot
  ids['d2'] = await capture(chat(V2, ['Name a colour.'])); // the same request, the usual snapshot
  ids['e'] = await capture(chat(V2, ['Name a shape.'], 'gpt-4.1'));
  // A seed beyond 2^53 - 1: forwarded, recorded, unidentified.
  ids['u'] = await capture('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"seed":18446744073709551615}');
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  rmSync(data, { recursive: true, force: true });
});

const keyOf = (groups: Groups, captureId: string) => groups.groups.find((entry) => entry.captureIds.includes(captureId))!;

describe('runs group', () => {
  test('--by request: distinct request identities, the same request twice in one group, unidentified runs as (none)', async () => {
    const groups = await group(['--by', 'request']);
    assert.equal(groups.by, 'request');
    assert.equal(groups.runs, 8);
    assert.equal(groups.distinct, 5, 'a and a2 are one request, d and d2 another; u has none');
    const first = groups.groups[0]!;
    assert.equal(first.count, 2, 'largest group first');
    assert.deepEqual(new Set(first.captureIds), new Set([ids['a'], ids['a2']]));
    assert.match(first.key!, /^rp-req-v1-sha256-/);
    const none = groups.groups.find((entry) => entry.key === null)!;
    assert.deepEqual(none.captureIds, [ids['u']]);
    assert.equal(keyOf(groups, ids['d']!).count, 2);
    assert.equal(groups.groups.reduce((sum, entry) => sum + entry.count, 0), 8);
  });

  test('--by run: another served snapshot is another run identity', async () => {
    const requests = await group(['--by', 'request']);
    const runs = await group(['--by', 'run']);
    // d and d2 are one request served by two snapshots: two run identities.
    assert.equal(runs.distinct, 6);
    assert.match(keyOf(runs, ids['d']!).key!, /^rp-run-v1-sha256-/);
    assert.notEqual(keyOf(runs, ids['d']!).key, keyOf(runs, ids['d2']!).key);
    assert.equal(keyOf(requests, ids['d']!).key, keyOf(requests, ids['d2']!).key);
    assert.equal(keyOf(requests, ids['a']!).count, keyOf(runs, ids['a']!).count);
  });

  test('--by component=system --values: which system prompt versions ran, how often, and what they say', async () => {
    const groups = await group(['--by', 'component=system', '--values']);
    assert.equal(groups.distinct, 2);
    const v1 = keyOf(groups, ids['a']!);
    const v2 = keyOf(groups, ids['c']!);
    assert.equal(v1.count, 3);
    assert.equal(v2.count, 4);
    assert.deepEqual(new Set(v1.captureIds), new Set([ids['a'], ids['a2'], ids['b']]));
    assert.equal(v1.elements!.length, 1);
    assert.match(v1.value!, /You answer in one sentence\./);
    assert.match(v2.value!, /You answer in one word\./);
    const text = await cli(['runs', 'group', '--data', data, '--by', 'component=system', '--values']);
    assert.match(text.stdout, /^8 runs, 2 distinct by component=system\n/);
    assert.match(text.stdout, /You answer in one word\./);
  });

  test('--by element=input: the runs that shared one document', async () => {
    const groups = await group(['--by', 'element=input', '--values']);
    const shared = groups.groups.find((entry) => entry.value?.includes('The Rhine rises') === true)!;
    assert.equal(shared.count, 3, 'a, a2 and c hold the document, under two system prompts');
    assert.deepEqual(new Set(shared.captureIds), new Set([ids['a'], ids['a2'], ids['c']]));
    assert.equal(groups.runs, 8, 'each run counted once, whatever its number of elements');
    const colour = groups.groups.find((entry) => entry.value?.includes('Name a colour.') === true)!;
    assert.deepEqual(new Set(colour.captureIds), new Set([ids['b'], ids['d'], ids['d2']]));
  });

  test('the filters of runs list select the runs grouped, and --limit caps them', async () => {
    const model = await group(['--by', 'component=model', '--model', 'gpt-4.1']);
    assert.equal(model.runs, 1);
    assert.deepEqual(model.groups[0]!.captureIds, [ids['e']]);
    const served = await group(['--by', 'request', '--served-model', 'gpt-4o-2024-11-20']);
    assert.deepEqual(served.groups.flatMap((entry) => entry.captureIds), [ids['d']]);
    assert.equal(served.runs, 1);
    const unidentified = await group(['--by', 'request', '--status', 'unidentified', '--until', '2100-01-01T00:00:00Z']);
    assert.deepEqual([unidentified.runs, unidentified.groups.flatMap((entry) => entry.captureIds)], [1, [ids['u']]], 'the new filters of runs list too');
    const limited = await group(['--by', 'request', '--limit', '2']);
    assert.equal(limited.runs, 2);
    assert.deepEqual(new Set(limited.groups.flatMap((entry) => entry.captureIds)), new Set([ids['e'], ids['u']]), 'the two newest');
  });

  test('--values prints stored content as its JSON text: quotes as they are, characters that could move the terminal escaped', async () => {
    const system = 'Say "hi" \\ \u202e\u0085\u001b[2J ok';
    const id = await capture(chat(system, ['Hello?'], 'gpt-4o-mini'));
    const text = await cli(['runs', 'group', '--data', data, '--by', 'component=system', '--model', 'gpt-4o-mini', '--values']);
    assert.equal(text.code, 0, text.stderr);
    const shown = text.stdout.split('\n')[2]!.trim();
    assert.doesNotMatch(text.stdout, /[\u0000-\u0009\u000b-\u001f\u0085\u202e]/, 'no control or reordering character reaches the terminal');
    assert.equal(shown, String.raw`{"content":"Say \"hi\" \\ \u202e\u0085\u001b[2J ok","role":"system"}`, 'the JSON text once, not escaped again');
    assert.deepEqual(JSON.parse(shown), { content: system, role: 'system' }, 'the escapes are JSON\'s own: the text reads back as the value');
    const json = await group(['--by', 'component=system', '--model', 'gpt-4o-mini', '--values']);
    assert.deepEqual(json.groups.map((entry) => [entry.captureIds, entry.value]), [[[id], shown]]);
  });

  test('bad input is a usage error with its code', async () => {
    for (const args of [[], ['--by', 'colour'], ['--by', 'element=model'], ['--by', 'component=nope'], ['--by', 'request', '--values'], ['--by', 'run', '--limit', '0'], ['--by', 'run', 'extra']]) {
      const out = await cli(['runs', 'group', '--data', data, ...args]);
      assert.equal(out.code, 2, args.join(' '));
      assert.match(out.stderr, /^runprint: ERR_CLI_USAGE: /, args.join(' '));
    }
  });

  test('more runs than one page of the store (1,000): every one is counted, and --limit caps them across pages', async () => {
    // 1,005 captures of one run in a real run store: the record of a captured run with new capture ids.
    const source = SqliteRuns.open(join(data, 'runs.sqlite'));
    const [run] = await source.find(ids['b']!);
    await source.close();
    const dir = mkdtempSync(join(tmpdir(), 'runprint-runs-group-pages-'));
    try {
      const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
      const batch = Array.from({ length: 1005 }, (_, i) => {
        const record = { ...run!.record, captureId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` };
        const recordJson = new TextDecoder().decode(canonicalBytes(record));
        return { recordDigest: toHex(sha256Once(recordJson)), record, recordJson, identity: run!.identity, model: run!.model, servedModel: null, capture: run!.capture, digests: run!.digests, content: [], kept: [], receiptable: false };
      });
      await store.put(batch);
      await store.close();
      const all = await cli(['runs', 'group', '--data', dir, '--by', 'run', '--json']);
      const groups = JSON.parse(all.stdout) as Groups;
      assert.equal(groups.runs, 1005);
      assert.equal(groups.groups.length, 1);
      assert.equal(groups.groups[0]!.count, 1005);
      assert.equal(new Set(groups.groups[0]!.captureIds).size, 1005, 'no run counted twice across pages');
      const capped = JSON.parse((await cli(['runs', 'group', '--data', dir, '--by', 'element=input', '--limit', '1001', '--json'])).stdout) as Groups;
      assert.equal(capped.runs, 1001);
      assert.equal(capped.groups[0]!.captureIds[0], '00000000-0000-4000-8000-000000001004', 'newest first');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
