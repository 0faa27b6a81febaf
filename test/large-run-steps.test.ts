/**
 * A large run (capture/large-run.ts: LARGE_RUN_ELEMENTS list elements or more) is made in steps
 * that give the event loop back between them, and gives exactly what it gave made in one go: the
 * canonical bytes of a value with long arrays (canonicalBytesInSteps), a receipt (signStatement
 * with `pause`, and WebCrypto for a long message), the rows the run store keeps (runToStoreInSteps,
 * with the element bytes the prepare pool's worker made or without), the rows the SQLite writer
 * thread is sent packed, and the recorder's records, which pass a large run made in steps. The sweep's
 * read of receipts to log leaves out those longer than a log entry can be, without reading them.
 */
import assert from 'node:assert/strict';
import { sign as nodeSign } from 'node:crypto';
import { readFile, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { captureRunWith, MAX_CAPTURED_ELEMENTS, prepareRequest, type CapturedRun, type PreparedRequest } from '../src/capture/capture-run.ts';
import { LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../src/capture/large-run.ts';
import { nextTurn } from '../src/io/steps.ts';
import { receiptFactsOfRecord } from '../src/capture/run-receipt.ts';
import { canonicalBytesInSteps } from '../src/jcs/canonical-steps.ts';
import { canonicalBytes } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { MAX_ENTRY_SIZE } from '../src/log/entry-bundle.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { formatEnvelope, PAYLOAD_TYPE } from '../src/receipt/envelope.ts';
import { pae } from '../src/receipt/pae.ts';
import { signReceipt, signStatement } from '../src/receipt/sign.ts';
import { buildStatement } from '../src/receipt/statement.ts';
import { createPreparePool } from '../src/server/prepare-pool.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { RECEIPT_KEY_FILE, receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, runToStoreInSteps, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-large-run-');
after(() => scratch.removeAll());

const utf8 = (text: string) => new TextEncoder().encode(text);

test('nextTurn, awaited in an I/O callback, resumes only after the event loop has been round once more: a timer due by then has run (one setImmediate alone resumed in the same turn, before it)', async () => {
  const order = await new Promise<string[]>((resolve) => {
    // A file read's callback runs in the event loop's poll phase, as a request body's last chunk does.
    readFile(new URL(import.meta.url), () => {
      const seen: string[] = [];
      setTimeout(() => seen.push('timer'), 0);
      // The timer is due before the step below gives the loop back.
      const until = performance.now() + 5;
      while (performance.now() < until);
      void nextTurn().then(() => resolve([...seen, 'step']));
    });
  });
  assert.deepEqual(order, ['timer', 'step']);
});
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A Chat Completions request of `count` short messages (and two tools). */
function chatRequest(count: number, tag = ''): Uint8Array {
  const tools = [{ type: 'function', function: { name: 'look_up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }, { type: 'function', function: { name: 'note', parameters: { type: 'object' } } }];
  return utf8(JSON.stringify({ model: 'gpt-4o', temperature: 0.2, tools, messages: Array.from({ length: count }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `${tag}message ${i}: ${i % 7 === 0 ? 'the same words' : `lorem ${i}`} \u00e9\u2028` })) }));
}

const ANSWER = utf8(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Done.' } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));

/** The run of `requestBytes` answered ANSWER now, from `prepared` (the pool's answer) or prepared here. */
function capturedRun(requestBytes: Uint8Array, prepared?: PreparedRequest): CapturedRun {
  const started = Date.now();
  return captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes: ANSWER, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } }, prepared);
}

describe('canonicalBytesInSteps', () => {
  const hex = (i: number) => i.toString(16).padStart(64, '0');
  const values: Array<[string, unknown]> = [
    ['a statement-like value: a long array of digest sets deep inside', { predicate: { identity: { components: { input: { kind: 'list', elements: Array.from({ length: 10_000 }, (_, i) => ({ sha256: hex(i) })) } }, '10': 'digit names', '9': -0 } }, _type: 'x' }],
    ['a long array at the root, of values of every kind', Array.from({ length: 9_000 }, (_, i) => [i, -0, 1.5e-7, 'a\u2028"\\\u0001', null, true, { b: [1, 2], a: { '2': 'x', '10': 'y' } }][i % 7])],
    ['long arrays inside long arrays, and beside each other', { a: Array.from({ length: 5_000 }, (_, i) => Array.from({ length: i % 1_000 === 0 ? 5_000 : 2 }, (_, j) => j)), b: Array.from({ length: 4_097 }, (_, i) => String(i)), c: [] }],
    ['a "__proto__" member (parsed: an own member) next to a long array', parseJson(utf8(`{"__proto__":{"x":1},"list":[${Array.from({ length: 5_000 }, (_, i) => `{"__proto__":${i}}`).join(',')}]}`))],
    ['a value with toJSON (a Date) in a long array', { when: Array.from({ length: 5_000 }, (_, i) => new Date(i * 1000)) }],
    ['no long array', { a: [1, 2, 3], b: 'short' }],
  ];
  const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
  values.push(['a long array whose elements reach the depth limit in place', { a: { b: Array.from({ length: 5_000 }, (_, i) => (i % 1000 === 0 ? nested(125) : i)) } }]);
  for (const [name, value] of values) {
    test(`${name}: the bytes of canonicalBytes`, async () => {
      let pauses = 0;
      const stepped = await canonicalBytesInSteps(value, async () => void pauses++, 4096);
      assert.deepEqual(Buffer.from(stepped), Buffer.from(canonicalBytes(value)));
      if (name !== 'no long array') assert.ok(pauses >= 2, `${pauses} pauses`);
    });
  }

  test('a value canonicalBytes refuses: the same error (code and path)', async () => {
    const refused: Array<[string, unknown]> = [
      ['undefined in a long array', { list: Array.from({ length: 6_000 }, (_, i) => (i === 5_000 ? undefined : i)) }],
      ['a lone surrogate in a long array', { list: Array.from({ length: 6_000 }, (_, i) => (i === 4_500 ? 'x\ud800' : 'y')) }],
      ['too deep inside a long array', { list: Array.from({ length: 5_000 }, (_, i) => (i === 4_999 ? nested(130) : i)) }],
      // The long array at depth 3: its elements may nest 125 deep there, where they would be allowed 127 in an array of their own.
      ['a long array whose elements pass the depth limit only in place', { a: { b: Array.from({ length: 5_000 }, (_, i) => (i === 4_321 ? nested(126) : 0)) } }],
    ];
    for (const [name, value] of refused) {
      let expected: unknown;
      assert.throws(() => canonicalBytes(value), (error) => ((expected = error), true), name);
      await assert.rejects(canonicalBytesInSteps(value, turn, 4096), (error: unknown) => {
        assert.equal((error as { code?: string }).code, (expected as { code?: string }).code, name);
        assert.equal((error as { path?: string }).path, (expected as { path?: string }).path, name);
        return true;
      });
    }
  });
});

describe('a large run made in steps', () => {
  const count = 20_000;
  const requestBytes = chatRequest(count);
  const inline = prepareRequest('openai-chat', requestBytes);
  assert.equal(inline.error, null);

  test(`signStatement with a pause: the envelope made in one go; a message of 1 MiB or more (WebCrypto) signed as the key's own signer signs it`, async () => {
    const dir = scratch.tempDir();
    const key = await receiptKey(dir, dir, undefined);
    assert.ok(key.signBytes !== undefined, 'a key with Node\'s signer');
    const run = capturedRun(requestBytes);
    const facts = receiptFactsOfRecord(run.record, run.identity, 'gpt-4o', 'proxy', '0.1.0');
    const payload = canonicalBytes(buildStatement(facts));
    assert.ok(payload.length > 1024 * 1024, `${payload.length} bytes`);
    // What signing in one go gave before: the key's own signer over the PAE of the canonical bytes.
    const expected = formatEnvelope({ payload: encodeBase64(payload), payloadType: PAYLOAD_TYPE, signatures: [{ keyid: key.keyId, sig: encodeBase64(key.signBytes!(pae(PAYLOAD_TYPE, payload))) }] });
    let pauses = 0;
    const stepped = formatEnvelope(await signReceipt(facts, key, async () => void (pauses++, await turn())));
    assert.equal(stepped, expected);
    assert.ok(pauses >= count / STEP_ELEMENTS, `${pauses} pauses`);
    assert.equal(formatEnvelope(await signStatement(buildStatement(facts), key)), expected, 'in one go, signed with WebCrypto');
    // Node's own signer, without runprint's: the same signature.
    const pem = readFileSync(join(dir, RECEIPT_KEY_FILE), 'utf8');
    assert.equal(JSON.parse(stepped).signatures[0].sig, nodeSign(null, pae(PAYLOAD_TYPE, payload), pem).toString('base64'));
  });

  test('runToStoreInSteps gives what runToStore gives, with the element bytes a prepare pool\'s worker made and without', async () => {
    const pool = createPreparePool({ workers: 1 });
    try {
      const pooled = await pool.prepare('openai-chat', requestBytes);
      assert.deepEqual(pool.counts, { pooled: 1, inline: 0 });
      assert.deepEqual(pooled.identity, inline.identity);
      assert.equal(JSON.stringify(pooled.composition), JSON.stringify(inline.composition));
      for (const prepared of [pooled, inline]) {
        const run = capturedRun(requestBytes, prepared);
        const policy = defaultContentPolicy();
        let known = 0;
        // Content the store is known to hold is named kept but not made again: every seventh message is the same.
        const elements = (run.identity!.components.input as { elements: Array<{ sha256: string }> }).elements;
        const stored = (digest: string) => digest === elements[0]!.sha256 && known++ >= 0;
        const oneGo = runToStore(run, { requestBytes, responseBytes: ANSWER }, policy, 'proxy', true, stored);
        const stepped = await runToStoreInSteps(run, { requestBytes, responseBytes: ANSWER }, policy, 'proxy', true, stored);
        assert.deepEqual(stepped, oneGo);
        assert.ok(oneGo.content.length > count * 0.8 && oneGo.digests.length > count, `${oneGo.content.length} pieces of content, ${oneGo.digests.length} digests`);
        assert.ok(known > 0);
        // The bytes kept of each element are its canonical bytes, however they were made.
        const input = run.composition!.input;
        for (const i of [1, 2, count - 1]) {
          const piece = oneGo.content.find((each) => each.digest === elements[i]!.sha256)!;
          assert.deepEqual(Buffer.from(piece.bytes), Buffer.from(canonicalBytes(input[i])));
        }
      }
    } finally {
      await pool.close();
    }
  });

  /** Puts a large run and a small one beside it into `store`: each is stored as its RunToStore gives it. The two runs. */
  async function storesAsGiven(store: RunStorage): Promise<RunToStore[]> {
    const run = capturedRun(requestBytes);
    const small = chatRun('a small run beside it');
    const large = runToStore(run, { requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true);
    const beside = runToStore(small.run, small.bytes, defaultContentPolicy(), 'proxy', true);
    assert.ok(large.digests.length >= LARGE_RUN_ELEMENTS);
    await store.put([beside, large]);
    for (const expected of [large, beside]) {
      const [stored] = await store.find(expected.record.captureId);
      const kept = new Set(expected.kept);
      const order = (digests: Array<{ part: string; position: number; digest: string }>) => [...digests].sort((a, b) => (a.part === b.part ? a.position - b.position : a.part < b.part ? -1 : 1));
      assert.deepEqual(order(stored!.digests), order(expected.digests.map((digest) => ({ ...digest, kept: kept.has(digest.digest) }))));
      assert.deepEqual(stored!.identity, expected.identity);
      for (const piece of [...expected.content.slice(0, 50), ...expected.content.slice(-50)]) assert.deepEqual(Buffer.from((await store.content(piece.digest))!), Buffer.from(piece.bytes));
      assert.equal((await store.contentStored(expected.content.map((piece) => piece.digest))).size, new Set(expected.content.map((piece) => piece.digest)).size);
    }
    return [large, beside];
  }

  test('SQLite: the rows of a large run reach the writer thread packed and are stored as the run gives them, its identity document as text', async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const store = SqliteRuns.open(path, { writerThread: true });
    let runs: RunToStore[];
    try {
      runs = await storesAsGiven(store);
    } finally {
      await store.close();
    }
    // The large run's document went to the writer thread as UTF-8 bytes: stored as the text a string would be.
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      for (const run of runs) {
        const row = db.prepare('SELECT typeof(identity) AS kind, identity FROM runs WHERE record_digest = ?').get(run.recordDigest) as { kind: string; identity: string };
        assert.equal(row.kind, 'text');
        assert.equal(row.identity, JSON.stringify(run.identity));
      }
    } finally {
      db.close();
    }
  });

  test('PostgreSQL: the rows of a large run go in statements of STEP_ELEMENTS rows and are stored as the run gives them', async () => {
    const pgs = await pgSchemas();
    const store = await PostgresRuns.open((await pgs.fresh()).url);
    try {
      await storesAsGiven(store);
    } finally {
      await store.close();
      await pgs.drop();
    }
  });

  test('the records that come while a large run is made in steps pass it; its receipt is the one made in one go; close waits for it', async () => {
    const dir = scratch.tempDir();
    const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
    const key = await receiptKey(dir, dir, undefined);
    const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, claimant: 'serve:test' });
    try {
      const run = capturedRun(requestBytes);
      const first = chatRun('before the large run');
      const next = chatRun('after the large run');
      const records = [recorder.record(first.run, first.bytes, 'proxy'), recorder.record(run, { requestBytes, responseBytes: ANSWER }, 'proxy'), recorder.record(next.run, next.bytes, 'proxy')];
      // Not awaited: close waits for the records made in steps, then signs them.
      await recorder.close();
      await Promise.all(records);
      const listed = await store.list({ limit: 10 });
      // The small runs are committed while the large one is made (capture-large-run-passed.test.ts), it after them.
      assert.deepEqual(listed.map((each) => each.record.captureId).reverse(), [first.run.record.captureId, next.run.record.captureId, run.record.captureId]);
      const [stored] = await store.find(run.record.captureId);
      const facts = receiptFactsOfRecord(stored!.record, stored!.identity, stored!.model ?? '', 'proxy', '0.1.0');
      const payload = canonicalBytes(buildStatement(facts));
      const expected = formatEnvelope({ payload: encodeBase64(payload), payloadType: PAYLOAD_TYPE, signatures: [{ keyid: key.keyId, sig: encodeBase64(key.signBytes!(pae(PAYLOAD_TYPE, payload))) }] });
      assert.equal(stored!.receipt, expected);
      assert.equal(recorder.counts.recorded, 3);
      assert.equal(recorder.counts.signed, 3);
    } finally {
      await store.close();
    }
  });

  test(`the largest request capture identifies (${MAX_CAPTURED_ELEMENTS} elements): made in steps, the same rows`, async () => {
    const bytes = chatRequest(MAX_CAPTURED_ELEMENTS - 2);
    const run = capturedRun(bytes);
    assert.equal(run.record.unidentified, null);
    const oneGo = runToStore(run, { requestBytes: bytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true);
    let turns = 0;
    const steps = runToStoreInSteps(run, { requestBytes: bytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true);
    const counting = setInterval(() => turns++, 0);
    const stepped = await steps;
    clearInterval(counting);
    assert.deepEqual(stepped, oneGo);
    assert.ok(turns > 0, 'timers ran while it was made');
  });
});

test('PostgreSQL: a large run\'s receipt is stored as bytes in a statement of its own, beside short ones and under a log index: the same text read back', async () => {
  const pgs = await pgSchemas();
  const store = await PostgresRuns.open((await pgs.fresh()).url);
  try {
    const runs = ['a', 'b', 'c'].map((text) => runToStore(chatRun(text).run, chatRun(text).bytes, defaultContentPolicy(), 'proxy', true));
    await store.put(runs);
    // Past a mebibyte of characters, with two- and four-byte characters on every slice's edge.
    const large = (tag: string) => `{"receipt":"${tag}${'\u00e9\u{1f600}a'.repeat(450_000)}"}`;
    const receipts = ['short', large('first'), large('second')];
    await store.setReceipts([{ recordDigest: runs[0]!.recordDigest, receipt: receipts[0]!, logIndex: null }, { recordDigest: runs[1]!.recordDigest, receipt: receipts[1]!, logIndex: null }]);
    await store.setReceipts([{ recordDigest: runs[2]!.recordDigest, receipt: receipts[2]!, logIndex: 7 }]);
    for (const [i, run] of runs.entries()) {
      const [stored] = await store.find(run.record.captureId);
      assert.ok(stored!.receipt === receipts[i], `receipt ${i} read back as stored`);
      assert.equal(stored!.logIndex, i === 2 ? 7 : null);
    }
    // Set once: a second receipt for a run that has one is not stored.
    await store.setReceipts([{ recordDigest: runs[1]!.recordDigest, receipt: large('again'), logIndex: null }]);
    assert.ok((await store.find(runs[1]!.record.captureId))[0]!.receipt === receipts[1]);
  } finally {
    await store.close();
    await pgs.drop();
  }
});

describe('receipts too long for a log entry are not read by the sweep that logs receipts', () => {
  /** Two stored runs with receipts: one of 100 bytes, one of MAX_ENTRY_SIZE + 1. */
  async function fill(store: RunStorage): Promise<[RunToStore, RunToStore]> {
    const runs = [chatRun('short receipt'), chatRun('long receipt')].map((each) => runToStore(each.run, each.bytes, defaultContentPolicy(), 'proxy', true)) as [RunToStore, RunToStore];
    await store.put(runs);
    await store.setReceipts([
      { recordDigest: runs[0].recordDigest, receipt: 'r'.repeat(100), logIndex: null },
      // Two bytes per character: longer in bytes than a log entry, not in characters.
      { recordDigest: runs[1].recordDigest, receipt: '\u00e9'.repeat(MAX_ENTRY_SIZE / 2 + 1), logIndex: null },
    ]);
    return runs;
  }

  test('SQLite', async () => {
    const store = SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'));
    try {
      const [short, long] = await fill(store);
      assert.deepEqual((await store.unlogged(10)).map((each) => each.recordDigest), [short.recordDigest, long.recordDigest]);
      assert.deepEqual((await store.unlogged(10, 0, MAX_ENTRY_SIZE)).map((each) => each.recordDigest), [short.recordDigest]);
      assert.deepEqual((await store.unlogged(10, 0, MAX_ENTRY_SIZE + 2)).map((each) => each.recordDigest), [short.recordDigest, long.recordDigest]);
    } finally {
      await store.close();
    }
  });

  test('PostgreSQL', async () => {
    const pgs = await pgSchemas();
    const store = await PostgresRuns.open((await pgs.fresh()).url);
    try {
      const [short, long] = await fill(store);
      assert.deepEqual((await store.unlogged(10)).map((each) => each.recordDigest), [short.recordDigest, long.recordDigest]);
      assert.deepEqual((await store.unlogged(10, 0, MAX_ENTRY_SIZE)).map((each) => each.recordDigest), [short.recordDigest]);
      assert.deepEqual((await store.unlogged(10, 0, MAX_ENTRY_SIZE + 2)).map((each) => each.recordDigest), [short.recordDigest, long.recordDigest]);
    } finally {
      await store.close();
      await pgs.drop();
    }
  });
});
