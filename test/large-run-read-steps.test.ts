/**
 * A large stored run (capture/large-run.ts: LARGE_RUN_ELEMENTS list elements or more) is read back
 * in steps that give the event loop back between them, and gives exactly what it gave read in one
 * go: the JSON text of a value with long arrays (stringifyInSteps, which the run store's routes
 * answer with), a list root from its element digests (listRootInSteps), the stored run the run
 * store gives (find and list: its digests a page at a time, its identity document checked as in
 * one go, damage found as in one go) on SQLite and PostgreSQL, its content read a page at a time
 * (contents, contentStored), its composition rebuilt from it (storedComposition), and the identity
 * and receipt report a worker thread computes for its verification (run-identity, run-receipt).
 */
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { captureRunWith, type CapturedRun } from '../src/capture/capture-run.ts';
import { LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../src/capture/large-run.ts';
import { receiptFactsOfRecord } from '../src/capture/run-receipt.ts';
import { listRoot } from '../src/identity/digest.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { stringifyInSteps } from '../src/jcs/stringify-steps.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { formatEnvelope } from '../src/receipt/envelope.ts';
import { signReceipt } from '../src/receipt/sign.ts';
import { verifyReceipt, type VerifyOptions } from '../src/receipt/verify.ts';
import { storedComposition } from '../src/replay/rebuild-request.ts';
import { computeInProcess, operationAnswer, type RunReceiptTask } from '../src/server/api-answers.ts';
import { runAnalysisRoutes } from '../src/server/run-analysis-routes.ts';
import { jsonAnswer } from '../src/server/run-routes.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { databaseShown } from '../src/store/postgres-url.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { defaultContentPolicy, listRootInSteps, runToStore, storedRun, type RunDigest, type RunStorage, type StoredRun } from '../src/store/run-storage.ts';
import { SqliteRuns, storedTextReader } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import type { DigestRowRead, RunRowRead } from './helpers/run-rows.ts';
import { onePieceAtATime } from './helpers/one-piece-store.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-large-read-');
after(() => scratch.removeAll());

const utf8 = (text: string) => new TextEncoder().encode(text);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const hex = (i: number) => i.toString(16).padStart(64, '0');

/** The text of every piece of stringifyInSteps, and how many times it paused. */
async function stepped(value: unknown, step: number, space?: number): Promise<{ text: string; pauses: number }> {
  let pauses = 0;
  let text = '';
  for await (const piece of stringifyInSteps(value, async () => void pauses++, step, space)) text += piece;
  return { text, pauses };
}

describe('stringifyInSteps', () => {
  const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
  const values: Array<[string, unknown]> = [
    ['a run view: long arrays of digest sets and of content states deep inside', { runs: [{ seq: 1, identity: { components: { input: { kind: 'list', elements: Array.from({ length: 10_000 }, (_, i) => ({ sha256: hex(i) })) } } }, content: { input: { kept: 10_000, elements: Array.from({ length: 10_000 }, () => 'kept') } }, '10': 'digit names', '9': -0 }] }],
    ['a long array at the root, of values of every kind', Array.from({ length: 9_000 }, (_, i) => [i, -0, 1.5e-7, 'a\u2028"\\\u0001\n', null, true, { b: [1, 2], a: { '2': 'x', '10': 'y' } }, [], {}][i % 9])],
    ['long arrays inside long arrays, and beside each other', { a: Array.from({ length: 5_000 }, (_, i) => Array.from({ length: i % 1_000 === 0 ? 5_000 : 2 }, (_, j) => ({ j }))), b: Array.from({ length: 4_097 }, (_, i) => String(i)), c: [] }],
    ['a "__proto__" member (parsed: an own member) next to a long array', parseJson(utf8(`{"__proto__":{"x":1},"list":[${Array.from({ length: 5_000 }, (_, i) => `{"__proto__":${i}}`).join(',')}]}`))],
    ['values JSON leaves out or writes as null: undefined, functions, holes', { u: undefined, f: () => 1, list: Array.from({ length: 5_000 }, (_, i) => (i % 3 === 0 ? undefined : i % 3 === 1 ? () => 1 : { u: undefined })), holes: new Array(5_000) }],
    ['a value with toJSON (a Date) in a long array, and one that holds a long array', { when: Array.from({ length: 5_000 }, (_, i) => new Date(i * 1000)), own: { toJSON: () => Array.from({ length: 5_000 }, (_, i) => i) } }],
    ['deep values in a long array', { a: { b: Array.from({ length: 5_000 }, (_, i) => (i % 1000 === 0 ? nested(40) : i)) } }],
    ['no long array', { a: [1, 2, 3], b: 'short' }],
  ];
  for (const [name, value] of values) {
    for (const space of [undefined, 2, 4]) {
      test(`${name}${space === undefined ? '' : `, indented ${space}`}: the text of JSON.stringify`, async () => {
        const { text, pauses } = await stepped(value, STEP_ELEMENTS, space);
        assert.equal(text, JSON.stringify(value, null, space));
        if (name !== 'no long array') assert.ok(pauses >= 2, `${pauses} pauses`);
      });
    }
  }

  test('any JSON value, any step, any indentation: the text of JSON.stringify', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 5 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(undefined, 0, 1, 2, 3), async (value, step, space) => {
        assert.equal((await stepped(value, step, space)).text, JSON.stringify(value, null, space));
      }),
      { numRuns: 2_000 },
    );
  });

  test('jsonAnswer of a large value: the bytes of the answer made in one go, in several pieces', async () => {
    const value = values[0]![1];
    for (const [space, end] of [[undefined, ''], [2, '\n']] as const) {
      const answer = jsonAnswer(value, true, { 'cache-control': 'no-store' }, space, end);
      const reader = answer.body!.getReader();
      let pieces = 0;
      const chunks: Uint8Array[] = [];
      for (let next = await reader.read(); next.done !== true; next = await reader.read()) {
        chunks.push(next.value);
        pieces++;
      }
      assert.equal(Buffer.concat(chunks).toString('utf8'), `${JSON.stringify(value, null, space)}${end}`);
      assert.ok(pieces >= 3, `${pieces} pieces`);
      assert.equal(answer.headers.get('content-type'), 'application/json');
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      const small = jsonAnswer({ a: 1 }, false, {}, space, end);
      assert.equal(await small.text(), `${JSON.stringify({ a: 1 }, null, space)}${end}`);
    }
  });
});

describe('listRootInSteps', () => {
  test('the root listRoot gives, for lists of 0 to 3 steps and more; undefined for a digest not spelt as one', async () => {
    for (const size of [0, 1, 2, 3, STEP_ELEMENTS - 1, STEP_ELEMENTS, STEP_ELEMENTS + 1, 2 * STEP_ELEMENTS, 2 * STEP_ELEMENTS + 1, 3 * STEP_ELEMENTS + 7, 20_000]) {
      const elements = Array.from({ length: size }, (_, i) => ({ sha256: hex(i * 7919) }));
      let pauses = 0;
      const root = await listRootInSteps(elements, async () => void pauses++);
      assert.deepEqual(Buffer.from(root!), Buffer.from(listRoot(elements.map((element) => Buffer.from(element.sha256, 'hex')))), `${size} elements`);
      assert.equal(pauses, Math.ceil(size / STEP_ELEMENTS));
    }
    const spelt = Array.from({ length: 9_000 }, (_, i) => ({ sha256: hex(i) }));
    spelt[8_500] = { sha256: hex(1).toUpperCase().replace('0', 'A') };
    assert.equal(await listRootInSteps(spelt, turn), undefined);
  });
});

const ANSWER = utf8(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Done.' } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));

/** A Chat Completions run of `count` short messages (some of them the same) and a tool, answered ANSWER; `edit` changes the messages. */
function chatRun(count: number, edit: (messages: Array<{ role: string; content: string }>) => void = () => undefined): { run: CapturedRun; requestBytes: Uint8Array } {
  const tools = [{ type: 'function', function: { name: 'look_up', parameters: { type: 'object' } } }];
  const messages = Array.from({ length: count }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i % 5 === 0 ? 'the same' : i}: \u00e9\u2028` }));
  edit(messages);
  const requestBytes = utf8(JSON.stringify({ model: 'gpt-4o', tools, messages }));
  const started = Date.now();
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes: ANSWER, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
  return { run, requestBytes };
}

/** A run store, and its rows and digests read in one go with the store's own query (as it read them before steps). */
interface Stores {
  kind: string;
  open(): Promise<{ store: RunStorage; rows(): Promise<StoredRunRows>; exec(sql: string, ...args: unknown[]): Promise<void>; names: { local: string; remote: string } }>;
}
type StoredRunRows = Array<{ row: Parameters<typeof storedRun>[1]; digests: RunDigest[] }>;

const stores: Stores[] = [
  {
    kind: 'SQLite',
    open: async () => {
      const path = join(scratch.tempDir(), 'runs.sqlite');
      const store = SqliteRuns.open(path);
      const db = new DatabaseSync(path);
      after(() => db.close());
      return {
        store,
        names: { local: `run database ${path}`, remote: 'run database' },
        exec: async (sql, ...args) => void db.prepare(sql).run(...(args as string[])),
        rows: async () =>
          (db.prepare('SELECT seq, record_digest, model, capture, record, identity, receipt, log_index, content_expired FROM runs ORDER BY seq').all() as unknown as RunRowRead[]).map((row) => ({
            row: { seq: Number(row['seq']), recordDigest: row['record_digest'], record: row['record'], identity: row['identity'], model: row['model'], capture: row['capture'], receipt: row['receipt'], logIndex: row['log_index'], contentExpired: row['content_expired'] === 1 || row['content_expired'] === true },
            digests: (db.prepare('SELECT part, position, digest, kept FROM run_digests WHERE seq = ? ORDER BY part, position').all(row['seq']) as unknown as DigestRowRead[]).map((d) => ({ part: d['part'] as RunDigest['part'], position: d['position'], digest: d['digest'], kept: d['kept'] === 1 || d['kept'] === true })),
          })),
      };
    },
  },
  {
    kind: 'PostgreSQL',
    open: async () => {
      const pgs = await pgSchemas();
      const { url, schema } = await pgs.fresh();
      const store = await PostgresRuns.open(url);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      after(async () => {
        await client.end();
        await store.close();
        await pgs.drop();
      });
      return {
        store,
        names: { local: `PostgreSQL run database ${databaseShown(url)} (schema ${schema})`, remote: 'PostgreSQL run database' },
        exec: async (sql, ...args) => void (await client.query(sql.replace(/\?/g, (() => { let n = 0; return () => `$${++n}`; })()), args)),
        rows: async () =>
          Promise.all(
            ((await client.query('SELECT seq, record_digest, model, capture, record, identity, receipt, log_index, content_expired FROM runs ORDER BY seq')).rows as unknown as RunRowRead[]).map(async (row) => ({
              row: { seq: Number(row['seq']), recordDigest: row['record_digest'], record: row['record'], identity: row['identity'], model: row['model'], capture: row['capture'], receipt: row['receipt'], logIndex: row['log_index'], contentExpired: row['content_expired'] === true },
              digests: ((await client.query('SELECT part, position, digest, kept FROM run_digests WHERE seq = $1 ORDER BY seq, part, position', [row['seq']])).rows as unknown as DigestRowRead[]).map((d) => ({ part: d['part'] as RunDigest['part'], position: d['position'], digest: d['digest'], kept: d['kept'] === true })),
            })),
          ),
      };
    },
  },
];

for (const { kind, open } of stores) {
  describe(`a large run read from the run store (${kind})`, () => {
    const count = 10_000;
    assert.ok(count >= LARGE_RUN_ELEMENTS && count > 2 * STEP_ELEMENTS);

    test('find and list give the run read in one go, in steps; its content and composition read a page at a time are the same', async () => {
      const { store, rows, names } = await open();
      const large = chatRun(count);
      const small = chatRun(3);
      await store.put([runToStore(large.run, { requestBytes: large.requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true), runToStore(small.run, { requestBytes: small.requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true)]);
      const [largeRow, smallRow] = await rows();
      const oneGo = (roots: boolean) => [storedRun(names, largeRow!.row, largeRow!.digests, roots), storedRun(names, smallRow!.row, smallRow!.digests, roots)];
      // The turns of the event loop while it reads (SQLite reads without any I/O of its own).
      let turns = 0;
      let reading = true;
      const count_ = () => {
        turns++;
        if (reading) setImmediate(count_);
      };
      setImmediate(count_);
      const found = await store.find(large.run.record.captureId);
      reading = false;
      assert.ok(turns >= count / STEP_ELEMENTS, `${turns} turns`);
      assert.deepStrictEqual(found, [oneGo(true)[0]]);
      assert.deepStrictEqual(await store.find(small.run.record.captureId), [oneGo(true)[1]]);
      assert.deepStrictEqual(await store.list({}), oneGo(false).reverse());
      assert.deepStrictEqual(await store.list({ limit: 1 }), [oneGo(false)[1]]);

      // Content: a page of it, and which of many digests are stored.
      const run = found[0]!;
      const elements = (run.identity!.components.input as { elements: Array<{ sha256: string }> }).elements.map((element) => element.sha256);
      const page = await store.contents([...elements.slice(0, 100), hex(1), elements[0]!]);
      assert.equal(page.size, new Set(elements.slice(0, 100)).size);
      for (const digest of elements.slice(0, 100)) assert.deepEqual(page.get(digest), await store.content(digest));
      const asked = [...elements, ...Array.from({ length: 5_000 }, (_, i) => hex(i))];
      assert.deepEqual(await store.contentStored(asked), new Set(elements));

      // The composition, from pages of content and from one piece at a time.
      const perPiece = onePieceAtATime(store);
      const composition = await storedComposition(store, run);
      assert.deepStrictEqual(composition, await storedComposition(perPiece, run));
      assert.equal(composition.input.length, count);
      assert.equal(computeIdentity(composition).requestId, run.record.requestId);
    });

    test('a damaged identity document or missing content: the error read in one go gives', async () => {
      const { store, rows, names, exec } = await open();
      const large = chatRun(count);
      await store.put([runToStore(large.run, { requestBytes: large.requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true)]);
      const [row] = await rows();
      const run = (await store.find(large.run.record.captureId))[0]!;
      const elements = (run.identity!.components.input as { elements: Array<{ sha256: string }> }).elements;
      // Element 5,001's content gone (its message is its own): not stored, as the piece read on its own says.
      await exec('DELETE FROM content WHERE digest = ?', elements[5_001]!.sha256);
      const perPiece = onePieceAtATime(store);
      let expected: unknown;
      await assert.rejects(storedComposition(perPiece, run), (error) => ((expected = error), true));
      await assert.rejects(storedComposition(store, run), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERR_REPLAY_CONTENT_NOT_STORED');
        assert.equal(error.message, (expected as Error).message);
        assert.match(error.message, /element 5001 of component "input"/);
        return true;
      });
      // An element digest changed in the stored document: its root is no longer the one it states.
      const text = row!.row.identity!;
      const damaged = text.replace(elements[7_000]!.sha256, hex(7));
      assert.notEqual(damaged, text);
      await exec('UPDATE runs SET identity = ? WHERE seq = ?', damaged, String(row!.row.seq));
      assert.throws(() => storedRun(names, { ...row!.row, identity: damaged }, row!.digests, true), (error) => ((expected = error), true));
      await assert.rejects(store.find(large.run.record.captureId), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERR_STORE_CORRUPT');
        assert.equal(error.message, (expected as Error).message);
        assert.match(error.message, /does not give its identities/);
        return true;
      });
      // Text that is not JSON.
      await exec('UPDATE runs SET identity = ? WHERE seq = ?', `${text.slice(0, -1)},`, String(row!.row.seq));
      assert.throws(() => storedRun(names, { ...row!.row, identity: `${text.slice(0, -1)},` }, row!.digests, true), (error) => ((expected = error), true));
      await assert.rejects(store.find(large.run.record.captureId), (error: Error) => error.message === (expected as Error).message && /is not JSON/.test(error.message));
    });
  });
}

describe('what a worker thread computes for the verification of a large run', () => {
  test('run-identity gives computeIdentity\'s document; run-receipt verifyReceipt\'s report, passed and failed', async () => {
    const dir = scratch.tempDir();
    const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
    after(() => store.close());
    const large = chatRun(LARGE_RUN_ELEMENTS + 10);
    await store.put([runToStore(large.run, { requestBytes: large.requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true)]);
    const run: StoredRun = (await store.find(large.run.record.captureId))[0]!;
    const composition = { ...(await storedComposition(store, run)), served: run.record.served! };
    const answer = (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    const { served: _served, ...request } = composition;
    assert.deepStrictEqual(answer(await operationAnswer('run-identity', utf8(JSON.stringify(request)), 0)), JSON.parse(JSON.stringify(computeIdentity(request))));

    const key = await receiptKey(dir, dir, undefined);
    const receipt = formatEnvelope(await signReceipt(receiptFactsOfRecord(run.record, run.identity, 'gpt-4o', 'proxy', '0.1.0'), key));
    const other = await receiptKey(scratch.tempDir(), dir, undefined);
    for (const [name, keys, withComposition] of [['passed', [key.publicKey], true], ['without a composition', [key.publicKey], false], ['another key', [other.publicKey], true]] as const) {
      const task: RunReceiptTask = { keys: keys.map((each) => encodeBase64(each.raw)), output: encodeBase64(ANSWER), outputFormat: 'openai-chat' };
      if (withComposition) Object.assign(task, { composition, from: 'composition' });
      const options: VerifyOptions = { keys: [...keys], output: ANSWER, outputFormat: 'openai-chat' };
      if (withComposition) Object.assign(options, { composition, from: 'composition' });
      const expected = await verifyReceipt(receipt, options);
      assert.equal(expected.ok, name !== 'another key', name);
      // The task's JSON, a line feed, the receipt as it is (a text of several lines).
      assert.deepStrictEqual(answer(await operationAnswer('run-receipt', utf8(`${JSON.stringify(task)}\n${receipt}`), 0)), JSON.parse(JSON.stringify(expected)), name);
    }
  });
});

describe('the verification and comparison of large runs, with what a worker computes', () => {
  test('GET /v1/runs/{id}/verify and /v1/runs/diff (with and without values) answer the same bytes computed here and through run-identity, run-receipt and run-diff', async () => {
    const dir = scratch.tempDir();
    const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
    after(() => store.close());
    const count = LARGE_RUN_ELEMENTS + 2_000;
    const a = chatRun(count);
    // Another run: messages changed, one taken out, one put in, and two swapped.
    const b = chatRun(count, (messages) => {
      messages[17]!.content = 'changed';
      messages[4_500]!.content = 'changed too';
      messages.splice(3_000, 1);
      messages.splice(5_000, 0, { role: 'user', content: 'put in' });
      [messages[6_001], messages[6_003]] = [messages[6_003]!, messages[6_001]!];
    });
    await store.put([a, b].map(({ run, requestBytes }) => runToStore(run, { requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true)));
    const key = await receiptKey(dir, dir, undefined);
    for (const { run } of [a, b]) {
      const [stored] = await store.find(run.record.captureId);
      await store.setReceipts([{ recordDigest: stored!.recordDigest, receipt: formatEnvelope(await signReceipt(receiptFactsOfRecord(stored!.record, stored!.identity, 'gpt-4o', 'proxy', '0.1.0'), key)), logIndex: null }]);
    }
    const answers = async (compute?: typeof computeInProcess) => {
      const routes = runAnalysisRoutes({ storage: store, verify: { receiptKey: { key: key.publicKey, from: 'the test\'s key' } }, ...(compute === undefined ? {} : { compute }) });
      const get = async (handler: (request: Request, url: URL) => Promise<Response>, path: string) => {
        const url = new URL(`http://localhost${path}`);
        const response = await handler(new Request(url), url);
        return `${response.status} ${await response.text()}`;
      };
      const [idA, idB] = [a.run.record.captureId, b.run.record.captureId];
      return [
        await get(routes.verify, `/v1/runs/${idA}/verify`),
        await get(routes.verify, `/v1/runs/${idB}/verify`),
        await get(routes.diff, `/v1/runs/diff?a=${idA}&b=${idB}`),
        await get(routes.diff, `/v1/runs/diff?a=${idA}&b=${idB}&values=1`),
        await get(routes.diff, `/v1/runs/diff?a=${idB}&b=${idA}&values=1`),
      ];
    };
    const here = await answers();
    const verified = JSON.parse(here[0]!.slice(4)) as { ok: boolean; counts: unknown };
    assert.deepEqual([here[0]!.slice(0, 3), verified.ok, verified.counts], ['200', true, { pass: 4, fail: 0, 'not-checked': 2 }]);
    const diff = JSON.parse(here[3]!.slice(4)) as { differences: Array<{ change: string; values?: unknown }> };
    assert.ok(diff.differences.length >= 4 && diff.differences.some((difference) => difference.change === 'changed'), here[3]!.slice(0, 2_000));
    assert.ok(diff.differences.some((difference) => difference.values !== undefined));
    const worker = await answers(computeInProcess);
    for (const [index, answer] of here.entries()) assert.equal(worker[index], answer, `answer ${index}`);
  });
});

test('a large run\'s texts, read as bytes in pieces and decoded (storedTextReader), are what node:sqlite gives for the TEXT column: well-formed or not, with a byte order mark, split anywhere', () => {
  const db = new DatabaseSync(':memory:');
  try {
    db.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY, x TEXT)');
    const fixed = [[0xef, 0xbb, 0xbf, 0x61], [0x61, 0xff, 0x62], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xc0, 0xaf, 0x41], [0xf4, 0x90, 0x80, 0x80], [...Buffer.from('h\u00e9llo \u{1f600} ok')]].map((bytes) => Uint8Array.from(bytes));
    const insert = db.prepare('INSERT INTO t (seq, x) VALUES (?, CAST(? AS TEXT))');
    const asText = db.prepare('SELECT x FROM t WHERE seq = ?');
    const asBytes = db.prepare('SELECT CAST(x AS BLOB) AS x FROM t WHERE seq = ?');
    let seq = 0;
    const same = (bytes: Uint8Array, cuts: readonly number[]) => {
      insert.run(++seq, bytes);
      const text = (asText.get(seq) as { x: string }).x;
      const stored = (asBytes.get(seq) as { x: Uint8Array }).x;
      const at = [0, ...[...new Set(cuts.map((cut) => cut % (stored.length + 1)))].sort((a, b) => a - b), stored.length];
      const reader = storedTextReader();
      const pieces = at.slice(1).map((end, i) => reader.piece(stored.subarray(at[i]!, end)));
      assert.equal(pieces.join('') + reader.end(), text, `${Buffer.from(bytes).toString('hex')} cut at ${at.join(',')}`);
    };
    for (const bytes of fixed) {
      for (let cut = 0; cut <= bytes.length; cut++) same(bytes, [cut]);
    }
    // Random bytes, mostly ill-formed UTF-8, and random strings as the store writes them, cut anywhere.
    const cuts = fc.array(fc.nat(80), { maxLength: 4 });
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), cuts, (bytes, at) => same(bytes, at)), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }), cuts, (text, at) => same(new TextEncoder().encode(text), at)), { numRuns: 1000 });
  } finally {
    db.close();
  }
});
