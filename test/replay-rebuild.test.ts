/**
 * Rebuilding a stored run's request (docs/REPLAY.md section 2) over the requests the official SDKs
 * really sent (test/fixtures/sdk-wire) and edge requests, stored in a real SQLite run store with
 * each content policy: the rebuilt request has the stored request identity and the same
 * composition; exact bytes are used when kept; a piece kept as digest only, expired, or altered is
 * the error that names it. Also runs diff's comparison and the first output difference.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { RunprintError } from '../src/errors.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { parseJson } from '../src/jcs/index.ts';
import { compositionFromRequest, type RequestFormat } from '../src/providers/index.ts';
import { compareRuns } from '../src/replay/compare-runs.ts';
import { firstOutputDifference, textDifference } from '../src/replay/output-difference.ts';
import { rebuildRequest } from '../src/replay/rebuild-request.ts';
import { decideVerdict, determinismCaveats } from '../src/replay/verdict.ts';
import { CONTENT_PARTS, defaultContentPolicy, runToStore, type ContentPart, type ContentPolicy, type StoredRun } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function openStore(): { store: SqliteRuns; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-rebuild-'));
  scratch.push(dir);
  const path = join(dir, 'runs.sqlite');
  return { store: SqliteRuns.open(path), path };
}

const encoder = new TextEncoder();
const FORMATS: Record<string, RequestFormat> = { '/v1/chat/completions': 'openai-chat', '/v1/responses': 'openai-responses', '/v1/messages': 'anthropic-messages' };

interface Wire {
  path: string;
  request: { body: string };
  response: { status: number; contentType: string; body: string };
}

const fixtures = readdirSync(new URL('./fixtures/sdk-wire/', import.meta.url))
  .filter((name) => name.endsWith('.json'))
  .map((name) => ({ name, wire: JSON.parse(readFileSync(new URL(`./fixtures/sdk-wire/${name}`, import.meta.url), 'utf8')) as Wire }));

/** Stores one exchange as serve would, and gives back the stored run. */
async function store(storage: SqliteRuns, format: RequestFormat, path: string, requestBody: string, response: { status: number; contentType: string; body: string }, policy: ContentPolicy = defaultContentPolicy()): Promise<StoredRun> {
  const requestBytes = encoder.encode(requestBody);
  const responseBytes = encoder.encode(response.body);
  const captured = captureRunWith({
    format, method: 'POST', path, requestBytes, status: response.status,
    headers: new Headers({ 'content-type': response.contentType }), responseBytes, outcome: 'complete',
    times: { started: Date.now(), response: Date.now(), ended: Date.now() },
  });
  await storage.put([runToStore(captured, { requestBytes, responseBytes }, policy, 'proxy', false)]);
  return (await storage.find(captured.record.captureId))[0]!;
}

const okResponse = { status: 200, contentType: 'application/json', body: JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi.' }, finish_reason: 'stop' }] }) };

test('every request the SDKs sent rebuilds to its stored request identity and composition; exact bytes only when kept', async () => {
  const { store: storage } = openStore();
  // Content is stored once per digest: runs that kept their request bytes go to a store of their own.
  const { store: keeping } = openStore();
  const keepRequest = { ...defaultContentPolicy(), request: 'content' as const };
  let identified = 0;
  for (const { name, wire } of fixtures) {
    const format = FORMATS[wire.path]!;
    const run = await store(storage, format, wire.path, wire.request.body, wire.response);
    assert.ok(run.record.requestId !== null, `${name} is identified`);
    identified++;
    const rebuilt = await rebuildRequest(storage, run);
    assert.equal(rebuilt.requestId, run.record.requestId, name);
    assert.equal(rebuilt.bytesFrom, 'rebuilt', `${name}: serve keeps request bytes as digest by default`);
    const again = compositionFromRequest(format, parseJson(rebuilt.bytes));
    assert.deepEqual(JSON.parse(JSON.stringify(again)), JSON.parse(JSON.stringify(compositionFromRequest(format, parseJson(encoder.encode(wire.request.body))))), `${name}: the same composition`);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(rebuilt.bytes)), JSON.parse(wire.request.body), `${name}: the same request, member for member`);

    const kept = await store(keeping, format, wire.path, wire.request.body, wire.response, keepRequest);
    const exact = await rebuildRequest(keeping, kept);
    assert.equal(exact.bytesFrom, 'exact');
    assert.equal(new TextDecoder().decode(exact.bytes), wire.request.body, `${name}: byte for byte`);
  }
  assert.equal(identified, fixtures.length);
  assert.ok(identified >= 10, 'the SDK fixtures are there');
  await storage.close();
  await keeping.close();
});

test('edge requests rebuild: excluded members, a __proto__ member, non-ASCII text, empty lists, Anthropic system blocks', async () => {
  const { store: storage } = openStore();
  const requests: Array<[RequestFormat, string, string]> = [
    ['openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[{"role":"user","content":"Grüße 👋"}],"metadata":{"a":"b"},"user":"u1","__proto__":{"x":1},"seed":7}'],
    ['openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[]}'],
    ['anthropic-messages', '/v1/messages', '{"model":"claude-sonnet-4-5","max_tokens":5,"system":[{"type":"text","text":"A"},{"type":"text","text":"B","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"x"}],"metadata":{"user_id":"u"}}'],
  ];
  for (const [format, path, body] of requests) {
    const run = await store(storage, format, path, body, okResponse);
    const rebuilt = await rebuildRequest(storage, run);
    assert.equal(rebuilt.requestId, run.record.requestId, body);
    assert.equal(computeIdentity(compositionFromRequest(format, parseJson(rebuilt.bytes))).requestId, run.record.requestId);
  }
  const proto = await store(storage, 'openai-chat', '/v1/chat/completions', requests[0]![2], okResponse);
  const rebuilt = await rebuildRequest(storage, proto);
  assert.ok(Object.hasOwn(rebuilt.request, '__proto__'), 'a member named __proto__ stays a member');
  assert.ok(Object.hasOwn(rebuilt.composition, 'excluded'));
  await storage.close();
});

test('each part kept as digest only gives ERR_REPLAY_CONTENT_NOT_STORED naming the piece; expiry names the retention period', async () => {
  const { store: storage } = openStore();
  const body = '{"model":"gpt-4o","messages":[{"role":"system","content":"S"},{"role":"user","content":"U"}],"tools":[{"type":"function","function":{"name":"f"}}],"temperature":0,"store":true,"metadata":{"k":"v"}}';
  const expected: Partial<Record<ContentPart, RegExp>> = {
    model: /component "model"/, system: /element 0 of component "system"/, input: /element 0 of component "input"/,
    tools: /element 0 of component "tools"/, parameters: /component "parameters"/, configuration: /component "configuration"/, excluded: /excluded request members/,
  };
  for (const part of CONTENT_PARTS) {
    const run = await store(storage, 'openai-chat', '/v1/chat/completions', body, okResponse, { ...defaultContentPolicy(), [part]: 'digest' });
    const want = expected[part];
    // The content is stored once per digest: a piece another run kept would still be there, so each part is checked in a fresh store.
    const fresh = openStore();
    const alone = await store(fresh.store, 'openai-chat', '/v1/chat/completions', body, okResponse, { ...defaultContentPolicy(), [part]: 'digest' });
    if (want === undefined) {
      // context is empty, output and request bytes are not needed to rebuild.
      assert.equal((await rebuildRequest(fresh.store, alone)).requestId, run.record.requestId, part);
    } else {
      await assert.rejects(rebuildRequest(fresh.store, alone), (error: RunprintError) => {
        assert.equal(error.code, 'ERR_REPLAY_CONTENT_NOT_STORED', part);
        assert.match(error.message, want);
        assert.match(error.message, /digest only/);
        return true;
      });
    }
    await fresh.store.close();
  }
  const expiring = openStore();
  const old = await store(expiring.store, 'openai-chat', '/v1/chat/completions', body, okResponse);
  assert.equal(await expiring.store.expire(new Date(Date.now() + 60_000).toISOString()), 1);
  const expired = (await expiring.store.find(old.record.captureId))[0]!;
  await assert.rejects(rebuildRequest(expiring.store, expired), { code: 'ERR_REPLAY_CONTENT_NOT_STORED', message: /deleted by the retention period/ });
  await expiring.store.close();
  await storage.close();
});

test('altered content is ERR_REPLAY_CONTENT_MISMATCH, an unidentified run ERR_REPLAY_UNIDENTIFIED', async () => {
  const { store: storage, path } = openStore();
  const run = await store(storage, 'openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[{"role":"user","content":"U"}],"temperature":0}', okResponse);
  const db = new DatabaseSync(path);
  db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(encoder.encode('{"temperature":2}'), run.identity!.components.parameters.digest.sha256);
  db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(encoder.encode('not json'), run.identity!.components.model.digest.sha256);
  db.close();
  await assert.rejects(rebuildRequest(storage, run), { code: 'ERR_REPLAY_CONTENT_MISMATCH', message: /component "model" does not give the digest that names it/ });
  const restore = new DatabaseSync(path);
  restore.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(encoder.encode('{"api":"openai-chat","name":"gpt-4o"}'), run.identity!.components.model.digest.sha256);
  restore.close();
  await assert.rejects(rebuildRequest(storage, run), { code: 'ERR_REPLAY_CONTENT_MISMATCH', message: /component "parameters" does not give the digest that names it/ });
  // The same JSON value in another spelling is altered content too: the store keeps canonical text.
  const respelled = new DatabaseSync(path);
  respelled.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(encoder.encode('{"temperature":0}'), run.identity!.components.parameters.digest.sha256);
  respelled.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(encoder.encode('{ "api":"openai-chat","name":"gpt-4o"}'), run.identity!.components.model.digest.sha256);
  respelled.close();
  await assert.rejects(rebuildRequest(storage, run), { code: 'ERR_REPLAY_CONTENT_MISMATCH', message: /component "model"/ });
  const invalid = new DatabaseSync(path);
  invalid.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new Uint8Array([0x7b, 0xff, 0x7d]), run.identity!.components.model.digest.sha256);
  invalid.close();
  await assert.rejects(rebuildRequest(storage, run), { code: 'ERR_REPLAY_CONTENT_MISMATCH', message: /component "model"/ });
  const unidentified = await store(storage, 'openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[],"seed":12345678901234567890}', okResponse);
  assert.notEqual(unidentified.record.unidentified, null);
  await assert.rejects(rebuildRequest(storage, unidentified), { code: 'ERR_REPLAY_UNIDENTIFIED', message: /ERR_JSON_UNSAFE_INTEGER/ });
  await storage.close();
});

test('compareRuns: the same run against itself, and two runs by content and by digests', async () => {
  const { store: storage } = openStore();
  const a = await store(storage, 'openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[{"role":"user","content":"A"},{"role":"user","content":"B"}]}', okResponse);
  const b = await store(storage, 'openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[{"role":"user","content":"B"},{"role":"user","content":"A"},{"role":"user","content":"C"}]}', { ...okResponse, body: okResponse.body.replace('"Hi."', '"Hello."') });
  const self = (await compareRuns(storage, a, a)).diff;
  assert.equal(self.sameRun, true);
  assert.equal(self.output.equal, true);
  assert.deepEqual(self.differences, []);
  const { diff, compositions } = await compareRuns(storage, a, b);
  assert.equal(diff.compared, 'content');
  assert.ok(compositions !== undefined);
  assert.equal(diff.sameRequest, false);
  assert.deepEqual(diff.differences.map((d) => [d.change, d.path]), [['moved', "$['input'][1]"], ['added', "$['input'][2]"]]);
  assert.equal(diff.output.firstDifference!.path, "$['choices'][0]['message']['content']");
  // Without the content, the same alignment from the element digests.
  const digestsOnly = { ...defaultContentPolicy(), input: 'digest' as const };
  const fresh = openStore();
  const c = await store(fresh.store, 'openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[{"role":"user","content":"A"},{"role":"user","content":"B"}],"temperature":1}', okResponse, digestsOnly);
  const d = await store(fresh.store, 'openai-chat', '/v1/chat/completions', '{"model":"gpt-4o","messages":[{"role":"user","content":"B"},{"role":"user","content":"A"},{"role":"user","content":"C"}],"temperature":0}', okResponse, digestsOnly);
  const byDigests = await compareRuns(fresh.store, c, d);
  assert.equal(byDigests.diff.compared, 'digests');
  assert.equal(byDigests.compositions, undefined);
  assert.deepEqual(byDigests.diff.differences.map((x) => [x.component, x.change, x.path]), [['input', 'moved', "$['input'][1]"], ['input', 'added', "$['input'][2]"], ['parameters', 'changed', "$['parameters']"]]);
  await fresh.store.close();
  await storage.close();
});

test('the first output difference: path, added and removed, text offset, words and similarity', () => {
  assert.equal(firstOutputDifference({ a: [1, 2] }, { a: [1, 2] }), undefined);
  assert.deepEqual(firstOutputDifference({ a: [1, 2] }, { a: [1, 2, 3] }), { path: "$['a'][2]", change: 'added' });
  assert.deepEqual(firstOutputDifference({ a: 1, b: 2 }, { b: 2 }), { path: "$['a']", change: 'removed' });
  assert.deepEqual(firstOutputDifference({ a: 'x' }, { a: 1 }), { path: "$['a']", change: 'changed' });
  assert.deepEqual(textDifference('one two three', 'one two four'), { offset: 8, words: { from: 2, a: 1, b: 1 }, editDistance: 1, similarity: 0.667 });
  assert.deepEqual(textDifference('', ''), { offset: 0, words: { from: 0, a: 0, b: 0 }, editDistance: 0, similarity: 1 });
  // Only the differing middle is compared: a long common text costs nothing, two long different ones are too many pairs.
  const long = 'w '.repeat(2100);
  assert.deepEqual(textDifference(long, `${long}x`), { offset: 4200, words: { from: 2100, a: 0, b: 1 }, editDistance: 1, similarity: 1 });
  assert.equal(textDifference('a '.repeat(2100), 'b '.repeat(2100)).editDistance, null, 'too long for the quadratic distance');
  // The distance over the middles is the distance over the whole texts (a plain Levenshtein over words as reference).
  const levenshtein = (x: string[], y: string[]) => {
    let row = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
      const next = [i];
      for (let j = 1; j <= y.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
      row = next;
    }
    return row[y.length]!;
  };
  const words = (text: string) => text.match(/\s*\S+\s*|\s+/gu) ?? [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % 4;
  for (let round = 0; round < 200; round++) {
    const make = () => Array.from({ length: 1 + (next() * 3) + next() }, () => ['a', 'b', 'c', 'd'][next()]).join(' ');
    const a = make();
    const b = make();
    assert.equal(textDifference(a, b).editDistance, levenshtein(words(a), words(b)), `${a} / ${b}`);
  }
});

test('verdict rules: a served-model change and another output are never identical; a failure is never a verdict about the model', () => {
  const base = { requestId: 'rp-req-1', runId: 'rp-run-1', output: { digest: { sha256: 'aa' } } };
  const record = (over: Record<string, unknown>) => ({ ...base, ...over }) as never;
  const decide = (replay: Record<string, unknown> | null, changed = 0, reason: { code: 'ERR_REPLAY_UPSTREAM_REFUSED'; message: string } | null = null) =>
    decideVerdict({ original: record({}), replay: replay === null ? null : record(replay), reason, changed: Array.from({ length: changed }, () => ({ component: 'model', change: 'changed', path: "$['model']" })), served: [], output: null }).verdict;
  assert.equal(decide({}), 'identical');
  assert.equal(decide({ runId: 'rp-run-2' }), 'same-request-other-server');
  assert.equal(decide({ runId: 'rp-run-2', output: { digest: { sha256: 'aa' } } }), 'same-request-other-server');
  assert.equal(decide({ output: { digest: { sha256: 'bb' } } }), 'divergent');
  assert.equal(decide({ requestId: 'rp-req-2', runId: 'rp-run-2' }, 1), 'variant');
  assert.equal(decide({ requestId: 'rp-req-2', runId: 'rp-run-2' }, 0), 'cannot-replay', 'another request without an override is not a variant');
  assert.equal(decide({}, 0, { code: 'ERR_REPLAY_UPSTREAM_REFUSED', message: 'status 500' }), 'cannot-replay');
  assert.equal(decide({ requestId: 'rp-req-2' }, 1, { code: 'ERR_REPLAY_UPSTREAM_REFUSED', message: 'status 500' }), 'cannot-replay', 'a failed variant is no verdict');
  assert.equal(decide(null), 'cannot-replay');
  const caveats = determinismCaveats({ version: 'runprint/v1', model: { api: 'openai-chat', name: 'm' }, system: [], input: [], context: [], tools: [], parameters: { temperature: 0, seed: 3 }, configuration: {} });
  assert.deepEqual(caveats, ['temperature is 0 (greedy), yet providers do not promise the same output for the same request', 'seed is 3: OpenAI calls seeded sampling best effort, not a promise']);
});
