/**
 * The run store never gives one log index to two runs (RunStorage.setLogIndexes): an index another
 * run holds, or one a batch gives two of its runs, stores none of the batch and fails with
 * ERR_LOG_REWRITE naming the index and the run holding it; the same index stored again for the
 * same run is no change. The log's verified checkpoint it keeps with them (run_log_checkpoints):
 * replaced only by a larger one, one of the same size with another root hash is ERR_LOG_FORK,
 * and a batch refused keeps none of its checkpoint; the table is made when serve opens a store
 * made before it (a reader does without it), and one of another shape is refused. SQLite (on the
 * caller's thread and on the writer thread) and PostgreSQL, and across two connections writing at
 * once (two serve processes on one store).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';

const pgs = await pgSchemas();
const folders: string[] = [];
after(async () => {
  await pgs.drop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function databasePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-run-log-index-'));
  folders.push(dir);
  return join(dir, 'runs.sqlite');
}

const encoder = new TextEncoder();
let made = 0;
function run(): RunToStore {
  const user = `question ${made++} ${Math.random()}`;
  const started = Date.parse('2026-12-01T00:00:00Z');
  const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: user }] }));
  const responseBytes = encoder.encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `About ${user}` } }] }));
  const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
  return runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
}

/** `count` runs stored with a receipt each and no log index (what the outbox delivers); their record digests. */
async function receipted(store: RunStorage, count: number): Promise<string[]> {
  const runs = Array.from({ length: count }, run);
  await store.put(runs);
  await store.setReceipts(runs.map((item) => ({ recordDigest: item.recordDigest, receipt: JSON.stringify({ receipt: item.recordDigest }), logIndex: null })));
  return runs.map((item) => item.recordDigest);
}

/** Each run's stored log index, by record digest. */
async function indexOf(store: RunStorage, digests: readonly string[]): Promise<(number | null)[]> {
  const found = new Map((await store.list({ limit: 10_000 })).map((stored) => [stored.recordDigest, stored.logIndex]));
  return digests.map((digest) => found.get(digest)!);
}

const held = (index: number, digest: string, holder: string) => ({
  code: 'ERR_LOG_REWRITE',
  message: `the log answered index ${index} for run ${digest}, but run ${holder} holds that index in the run store: the log gave it out twice (rolled back, forked or replaced), or the store's receipts went to another log; no index of this batch is stored`,
});

async function neverTwice(store: RunStorage): Promise<void> {
  const [a, b, c, d] = await receipted(store, 4);
  await store.setLogIndexes([
    { recordDigest: a!, logIndex: 0 },
    { recordDigest: b!, logIndex: 1 },
  ]);
  // d at the index b holds: nothing of the batch is stored, c's free index neither.
  await assert.rejects(
    store.setLogIndexes([
      { recordDigest: c!, logIndex: 2 },
      { recordDigest: d!, logIndex: 1 },
    ]),
    held(1, d!, b!),
  );
  assert.deepEqual(await indexOf(store, [a!, b!, c!, d!]), [0, 1, null, null]);
  // One index for two runs of one batch.
  await assert.rejects(
    store.setLogIndexes([
      { recordDigest: c!, logIndex: 2 },
      { recordDigest: d!, logIndex: 2 },
    ]),
    held(2, d!, c!),
  );
  assert.deepEqual(await indexOf(store, [a!, b!, c!, d!]), [0, 1, null, null]);
  // A run's own index again (another serve stored it first) is no change; the free ones are stored.
  await store.setLogIndexes([
    { recordDigest: a!, logIndex: 0 },
    { recordDigest: c!, logIndex: 2 },
    { recordDigest: d!, logIndex: 3 },
  ]);
  assert.deepEqual(await indexOf(store, [a!, b!, c!, d!]), [0, 1, 2, 3]);
}

/** `count` runs stored without a receipt (what serve signs, and appends to its own log); their record digests. */
async function unsigned(store: RunStorage, count: number): Promise<string[]> {
  const runs = Array.from({ length: count }, run);
  await store.put(runs);
  return runs.map((item) => item.recordDigest);
}

const receiptOf = (digest: string) => JSON.stringify({ receipt: digest });

/** Each run's stored receipt and log index, by record digest. */
async function receiptsOf(store: RunStorage, digests: readonly string[]): Promise<Array<[string | null, number | null]>> {
  const found = new Map((await store.list({ limit: 10_000 })).map((stored) => [stored.recordDigest, [stored.receipt, stored.logIndex] as [string | null, number | null]]));
  return digests.map((digest) => found.get(digest)!);
}

const heldReceipt = (index: number, digest: string, holder: string) => ({
  code: 'ERR_LOG_REWRITE',
  message: `the log answered index ${index} for run ${digest}, but run ${holder} holds that index in the run store: the log gave it out twice (rolled back, forked or replaced), or the store's receipts went to another log; no receipt of this batch is stored`,
});

/** setReceipts with log indexes (serve's own log appends them as it signs) never gives a run an index another holds either. */
async function receiptsNeverTwice(store: RunStorage): Promise<void> {
  const [a, b, c, d, e] = await unsigned(store, 5);
  await store.setReceipts([
    { recordDigest: a!, receipt: receiptOf(a!), logIndex: 0 },
    { recordDigest: b!, receipt: receiptOf(b!), logIndex: 1 },
  ]);
  // d at the index b holds: nothing of the batch is stored, c's receipt and free index neither.
  await assert.rejects(
    store.setReceipts([
      { recordDigest: c!, receipt: receiptOf(c!), logIndex: 2 },
      { recordDigest: d!, receipt: receiptOf(d!), logIndex: 1 },
    ]),
    heldReceipt(1, d!, b!),
  );
  assert.deepEqual(await receiptsOf(store, [a!, b!, c!, d!]), [[receiptOf(a!), 0], [receiptOf(b!), 1], [null, null], [null, null]]);
  // One index for two runs of one batch.
  await assert.rejects(
    store.setReceipts([
      { recordDigest: c!, receipt: receiptOf(c!), logIndex: 2 },
      { recordDigest: d!, receipt: receiptOf(d!), logIndex: 2 },
    ]),
    heldReceipt(2, d!, c!),
  );
  assert.deepEqual(await receiptsOf(store, [c!, d!]), [[null, null], [null, null]]);
  // An index setLogIndexes stored counts too, and a claimant's receipts are checked as well.
  await store.setReceipts([{ recordDigest: c!, receipt: receiptOf(c!), logIndex: null }]);
  await store.setLogIndexes([{ recordDigest: c!, logIndex: 2 }]);
  const claimed = await store.claimUnsigned(10, 'serve:test', '2000-01-01T00:00:00Z');
  assert.deepEqual(claimed.map((item) => item.recordDigest).sort(), [d!, e!].sort());
  await assert.rejects(store.setReceipts([{ recordDigest: e!, receipt: receiptOf(e!), logIndex: 2 }], 'serve:test'), heldReceipt(2, e!, c!));
  // A run's own index again (its receipt stored before) is no change; without an index, none is checked.
  await store.setReceipts([
    { recordDigest: a!, receipt: receiptOf(a!), logIndex: 0 },
    { recordDigest: d!, receipt: receiptOf(d!), logIndex: 3 },
    { recordDigest: e!, receipt: receiptOf(e!), logIndex: null },
  ], 'serve:test');
  assert.deepEqual(await receiptsOf(store, [a!, b!, c!, d!, e!]), [[receiptOf(a!), 0], [receiptOf(b!), 1], [receiptOf(c!), 2], [receiptOf(d!), 3], [receiptOf(e!), null]]);
}

/** Two connections, one storing a receipt with its index, the other an index, give one index to two runs at once, `rounds` times: one is stored. */
async function receiptAtOnce(first: RunStorage, second: RunStorage, rounds: number): Promise<void> {
  const signed = await unsigned(first, rounds);
  const delivered = await receipted(first, rounds);
  for (let round = 0; round < rounds; round++) {
    const [x, y] = [signed[round]!, delivered[round]!];
    const results = await Promise.allSettled([first.setReceipts([{ recordDigest: x, receipt: receiptOf(x), logIndex: round }]), second.setLogIndexes([{ recordDigest: y, logIndex: round }])]);
    const refused = results.filter((result) => result.status === 'rejected').map((result) => ((result as PromiseRejectedResult).reason as { code: string }).code);
    assert.deepEqual(refused, ['ERR_LOG_REWRITE'], `round ${round}: one of the two is refused`);
    const stored = (await indexOf(first, [x, y])).filter((index) => index !== null);
    assert.deepEqual(stored, [round], `round ${round}: one run holds the index`);
  }
}

const root = (byte: number) => new Uint8Array(32).fill(byte);

async function checkpointKept(store: RunStorage): Promise<void> {
  const [a, b, c, d, e] = await receipted(store, 5);
  assert.equal(await store.logCheckpoint('log.example'), undefined, 'none before the first');
  await store.setLogIndexes([{ recordDigest: a!, logIndex: 0 }], { origin: 'log.example', size: 1, rootHash: root(1) });
  assert.deepEqual(await store.logCheckpoint('log.example'), { size: 1, rootHash: root(1) });
  assert.equal(await store.logCheckpoint('other.example'), undefined, 'one per origin');
  await store.setLogIndexes([{ recordDigest: b!, logIndex: 1 }], { origin: 'log.example', size: 3, rootHash: root(3) });
  // A smaller one (another serve's, proved before the larger was stored) stores its indexes, not itself.
  await store.setLogIndexes([{ recordDigest: c!, logIndex: 2 }], { origin: 'log.example', size: 2, rootHash: root(2) });
  assert.deepEqual(await store.logCheckpoint('log.example'), { size: 3, rootHash: root(3) });
  // The same size with another root hash: nothing stored.
  await assert.rejects(store.setLogIndexes([{ recordDigest: d!, logIndex: 3 }], { origin: 'log.example', size: 3, rootHash: root(9) }), {
    code: 'ERR_LOG_FORK',
    message: 'the log signed two root hashes for size 3, one of them verified by another serve on the run store meanwhile: it forked, or was replaced; no index of this batch is stored',
  });
  // A batch refused for a held index keeps none of its checkpoint.
  await assert.rejects(store.setLogIndexes([{ recordDigest: d!, logIndex: 1 }], { origin: 'log.example', size: 5, rootHash: root(5) }), { code: 'ERR_LOG_REWRITE' });
  assert.deepEqual(await store.logCheckpoint('log.example'), { size: 3, rootHash: root(3) });
  assert.deepEqual(await indexOf(store, [a!, b!, c!, d!, e!]), [0, 1, 2, null, null]);
  await store.setLogIndexes([{ recordDigest: d!, logIndex: 3 }], { origin: 'log.example', size: 4, rootHash: root(4) });
  assert.deepEqual(await store.logCheckpoint('log.example'), { size: 4, rootHash: root(4) });
}

/** Two connections to one store give one free index each to another run, at once, `rounds` times: one of each pair is stored, the other refused. */
async function atOnce(first: RunStorage, second: RunStorage, rounds: number): Promise<void> {
  const digests = await receipted(first, 2 * rounds);
  for (let round = 0; round < rounds; round++) {
    const [x, y] = [digests[2 * round]!, digests[2 * round + 1]!];
    const results = await Promise.allSettled([first.setLogIndexes([{ recordDigest: x, logIndex: round }]), second.setLogIndexes([{ recordDigest: y, logIndex: round }])]);
    const refused = results.filter((result) => result.status === 'rejected').map((result) => ((result as PromiseRejectedResult).reason as { code: string }).code);
    assert.deepEqual(refused, ['ERR_LOG_REWRITE'], `round ${round}: one of the two is refused`);
    const stored = (await indexOf(first, [x, y])).filter((index) => index !== null);
    assert.deepEqual(stored, [round], `round ${round}: one run holds the index`);
  }
}

/**
 * Two runs whose receipts are the same bytes may hold one index: the log answers a receipt it
 * holds already with that entry's index (two captures of one run, one output, signed alike), in
 * one batch or two, through setReceipts and setLogIndexes; a run with another receipt still may not.
 */
async function sameReceiptShares(store: RunStorage): Promise<void> {
  const [a, b, c, d, e] = await unsigned(store, 5);
  const alike = JSON.stringify({ receipt: 'the same bytes' });
  await store.setReceipts([{ recordDigest: a!, receipt: alike, logIndex: 0 }]);
  await store.setReceipts([{ recordDigest: b!, receipt: alike, logIndex: 0 }]);
  await assert.rejects(store.setReceipts([{ recordDigest: c!, receipt: receiptOf(c!), logIndex: 0 }]), { code: 'ERR_LOG_REWRITE' });
  const other = JSON.stringify({ receipt: 'other bytes, alike twice' });
  await store.setReceipts([
    { recordDigest: c!, receipt: other, logIndex: 1 },
    { recordDigest: d!, receipt: other, logIndex: 1 },
  ]);
  await assert.rejects(
    store.setReceipts([
      { recordDigest: e!, receipt: receiptOf(e!), logIndex: 2 },
      { recordDigest: e! + '-not-stored', receipt: receiptOf(a!), logIndex: 2 },
    ]),
    { code: 'ERR_LOG_REWRITE' },
  );
  assert.deepEqual(await receiptsOf(store, [a!, b!, c!, d!, e!]), [[alike, 0], [alike, 0], [other, 1], [other, 1], [null, null]]);

  // setLogIndexes (the outbox: receipts stored first, indexes after): the stored receipts decide.
  const [f, g, h, i] = Array.from({ length: 4 }, run);
  await store.put([f!, g!, h!, i!]);
  const delivered = JSON.stringify({ receipt: 'delivered alike' });
  await store.setReceipts([f!, g!, i!].map((item) => ({ recordDigest: item.recordDigest, receipt: delivered, logIndex: null })));
  await store.setReceipts([{ recordDigest: h!.recordDigest, receipt: receiptOf(h!.recordDigest), logIndex: null }]);
  await store.setLogIndexes([
    { recordDigest: f!.recordDigest, logIndex: 5 },
    { recordDigest: g!.recordDigest, logIndex: 5 },
  ]);
  await assert.rejects(store.setLogIndexes([{ recordDigest: h!.recordDigest, logIndex: 5 }]), { code: 'ERR_LOG_REWRITE' });
  await assert.rejects(
    store.setLogIndexes([
      { recordDigest: h!.recordDigest, logIndex: 6 },
      { recordDigest: i!.recordDigest, logIndex: 6 },
    ]),
    { code: 'ERR_LOG_REWRITE' },
  );
  await store.setLogIndexes([{ recordDigest: i!.recordDigest, logIndex: 5 }]);
  assert.deepEqual(await indexOf(store, [f!.recordDigest, g!.recordDigest, h!.recordDigest, i!.recordDigest]), [5, 5, null, 5]);
}

describe('SQLite', () => {
  test('an index another run holds, or one given twice in a batch, stores none of the batch (ERR_LOG_REWRITE)', async () => {
    const store = SqliteRuns.open(databasePath());
    try {
      await neverTwice(store);
    } finally {
      await store.close();
    }
  });

  test('the same on the writer thread', async () => {
    const store = SqliteRuns.open(databasePath(), { writerThread: true });
    try {
      await neverTwice(store);
    } finally {
      await store.close();
    }
  });

  test('receipts stored with their log index (setReceipts) never take an index another run holds, on both threads', async () => {
    for (const writerThread of [false, true]) {
      const store = SqliteRuns.open(databasePath(), { writerThread });
      try {
        await receiptsNeverTwice(store);
      } finally {
        await store.close();
      }
    }
  });

  test('two runs whose receipts are the same bytes may hold one index (the log answers a receipt it holds with its index); another receipt may not; on both threads', async () => {
    for (const writerThread of [false, true]) {
      const store = SqliteRuns.open(databasePath(), { writerThread });
      try {
        await sameReceiptShares(store);
      } finally {
        await store.close();
      }
    }
  });

  test('two connections giving one index at once, one with a receipt, the other alone: one is stored', async () => {
    const path = databasePath();
    const first = SqliteRuns.open(path, { writerThread: true });
    const second = SqliteRuns.open(path, { writerThread: true });
    try {
      await receiptAtOnce(first, second, 20);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('the log\'s verified checkpoint is kept with the indexes it proved, replaced by a larger one only; on both threads', async () => {
    for (const writerThread of [false, true]) {
      const store = SqliteRuns.open(databasePath(), { writerThread });
      try {
        await checkpointKept(store);
      } finally {
        await store.close();
      }
    }
  });

  test('the checkpoints table is made when serve opens a store made before it; a reader does without it; one of another shape is refused', async () => {
    const path = databasePath();
    await SqliteRuns.open(path).close();
    const db = new DatabaseSync(path);
    db.exec('DROP TABLE run_log_checkpoints');
    db.close();
    const reader = SqliteRuns.openReader(path);
    try {
      assert.deepEqual(await reader.list({}), []);
    } finally {
      await reader.close();
    }
    const store = SqliteRuns.open(path);
    try {
      await checkpointKept(store);
    } finally {
      await store.close();
    }
    const other = databasePath();
    await SqliteRuns.open(other).close();
    const shaped = new DatabaseSync(other);
    shaped.exec('DROP TABLE run_log_checkpoints; CREATE TABLE run_log_checkpoints (origin TEXT PRIMARY KEY, size INTEGER NOT NULL)');
    shaped.close();
    assert.throws(() => SqliteRuns.open(other), { code: 'ERR_STORE_CORRUPT' });
  });

  test('two connections (writer threads) giving one index to two runs at once: one is stored', async () => {
    const path = databasePath();
    const first = SqliteRuns.open(path, { writerThread: true });
    const second = SqliteRuns.open(path, { writerThread: true });
    try {
      await atOnce(first, second, 20);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe('PostgreSQL', () => {
  test('an index another run holds, or one given twice in a batch, stores none of the batch (ERR_LOG_REWRITE)', async () => {
    const store = await PostgresRuns.open((await pgs.fresh('runprint_log_index')).url);
    try {
      await neverTwice(store);
    } finally {
      await store.close();
    }
  });

  test('receipts stored with their log index (setReceipts) never take an index another run holds', async () => {
    const store = await PostgresRuns.open((await pgs.fresh('runprint_log_index')).url);
    try {
      await receiptsNeverTwice(store);
    } finally {
      await store.close();
    }
  });

  test('two runs whose receipts are the same bytes may hold one index (the log answers a receipt it holds with its index); another receipt may not', async () => {
    const store = await PostgresRuns.open((await pgs.fresh('runprint_log_index')).url);
    try {
      await sameReceiptShares(store);
    } finally {
      await store.close();
    }
  });

  test('two stores giving one index at once, one with a receipt, the other alone: one is stored', async () => {
    const url = (await pgs.fresh('runprint_log_index')).url;
    const first = await PostgresRuns.open(url);
    const second = await PostgresRuns.open(url);
    try {
      await receiptAtOnce(first, second, 40);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('the log\'s verified checkpoint is kept with the indexes it proved, replaced by a larger one only', async () => {
    const store = await PostgresRuns.open((await pgs.fresh('runprint_log_index')).url);
    try {
      await checkpointKept(store);
    } finally {
      await store.close();
    }
  });

  test('the checkpoints table is made when serve opens a store made before it; a reader does without it; one of another shape is refused', async () => {
    const { schema, url } = await pgs.fresh('runprint_log_index');
    await (await PostgresRuns.open(url)).close();
    await pgs.admin.query(`DROP TABLE ${schema}.run_log_checkpoints`);
    const reader = await PostgresRuns.open(url, { readOnly: true });
    try {
      assert.deepEqual(await reader.list({}), []);
    } finally {
      await reader.close();
    }
    const store = await PostgresRuns.open(url);
    try {
      await checkpointKept(store);
    } finally {
      await store.close();
    }
    const other = await pgs.fresh('runprint_log_index');
    await (await PostgresRuns.open(other.url)).close();
    await pgs.admin.query(`DROP TABLE ${other.schema}.run_log_checkpoints; CREATE TABLE ${other.schema}.run_log_checkpoints (origin text PRIMARY KEY, size bigint NOT NULL)`);
    await assert.rejects(PostgresRuns.open(other.url), { code: 'ERR_STORE_CORRUPT' });
    // Without the key the upsert's ON CONFLICT needs.
    const keyless = await pgs.fresh('runprint_log_index');
    await (await PostgresRuns.open(keyless.url)).close();
    await pgs.admin.query(`DROP TABLE ${keyless.schema}.run_log_checkpoints; CREATE TABLE ${keyless.schema}.run_log_checkpoints (origin text, size bigint NOT NULL, root_hash bytea NOT NULL)`);
    await assert.rejects(PostgresRuns.open(keyless.url), { code: 'ERR_STORE_CORRUPT' });
  });

  test('two stores (two serve processes) giving one index to two runs at once: one is stored', async () => {
    const url = (await pgs.fresh('runprint_log_index')).url;
    const first = await PostgresRuns.open(url);
    const second = await PostgresRuns.open(url);
    try {
      await atOnce(first, second, 40);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
