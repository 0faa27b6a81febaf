/**
 * The SQLite run store with a writer thread (as serve opens it): a put resolves once its batch is
 * committed, visible to another connection; the same rows as a put on the caller's thread; a
 * batch the thread cannot write fails with the store's code and loses nothing else; the thread is
 * started again after it failed to open; close waits for the batches sent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { defaultContentPolicy, runToStore, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';

const folders: string[] = [];
after(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
function databasePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-run-thread-'));
  folders.push(dir);
  return join(dir, 'runs.sqlite');
}

const encoder = new TextEncoder();
function run(user: string, started = Date.parse('2026-12-01T00:00:00Z')): RunToStore {
  const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: user }] }));
  const responseBytes = encoder.encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `About ${user}` } }] }));
  const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
  return runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
}

/** Every row of the three tables a put writes, in a stable order. */
function rows(path: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return {
      runs: db.prepare('SELECT seq, record_digest, capture_id, run_id, request_id, model, served_model, started, ended, capture, record, identity, receiptable FROM runs ORDER BY seq').all(),
      digests: db.prepare('SELECT * FROM run_digests ORDER BY seq, part, position').all(),
      content: db.prepare('SELECT digest, hex(bytes) AS bytes FROM content ORDER BY digest').all(),
    };
  } finally {
    db.close();
  }
}

test('a put on the writer thread is committed when it resolves, with the rows a put on the caller\'s thread writes', async () => {
  const tides = run('tides');
  // The same record put twice is stored once.
  const batches = [[tides, run('moons')], [tides], [run('stars')]];
  const threaded = databasePath();
  const inline = databasePath();
  const store = SqliteRuns.open(threaded, { writerThread: true });
  const plain = SqliteRuns.open(inline);
  try {
    for (const batch of batches) {
      await store.put(batch);
      await plain.put(batch);
      // Another connection sees the batch as soon as the put resolved.
      const seen = new DatabaseSync(threaded, { readOnly: true });
      const count = seen.prepare('SELECT count(*) AS n FROM runs').get()!['n'];
      seen.close();
      assert.equal(count, batches.slice(0, batches.indexOf(batch) + 1).flat().filter((item, i, all) => all.findIndex((other) => other.recordDigest === item.recordDigest) === i).length);
    }
    assert.deepEqual(rows(threaded), rows(inline));
    assert.equal((await store.list({})).length, 3);
  } finally {
    await store.close();
    await plain.close();
  }
});

test('receipts and log indexes stored on the writer thread are the rows the caller\'s thread writes: where none is set yet and, with a claimant, only where it holds the claim', async () => {
  const threaded = databasePath();
  const inline = databasePath();
  const store = SqliteRuns.open(threaded, { writerThread: true });
  const plain = SqliteRuns.open(inline);
  const [a, b, c] = [run('apples'), run('pears'), { ...run('plums'), claimedBy: 'signer-1' }];
  const steps: Array<[Array<{ recordDigest: string; receipt: string; logIndex: number | null }>, string | undefined]> = [
    [[{ recordDigest: a.recordDigest, receipt: '{"receipt":"a"}', logIndex: 0 }], undefined],
    // Not replaced once set.
    [[{ recordDigest: a.recordDigest, receipt: '{"receipt":"a2"}', logIndex: 5 }, { recordDigest: b.recordDigest, receipt: '{"receipt":"b"}', logIndex: null }], undefined],
    // Another claimant does not hold c's claim; signer-1 does.
    [[{ recordDigest: c.recordDigest, receipt: '{"receipt":"c-other"}', logIndex: 1 }], 'signer-2'],
    [[{ recordDigest: c.recordDigest, receipt: '{"receipt":"c"}', logIndex: 2 }], 'signer-1'],
  ];
  try {
    await store.put([a, b, c]);
    await plain.put([a, b, c]);
    for (const [items, claimant] of steps) {
      await store.setReceipts(items, claimant);
      await plain.setReceipts(items, claimant);
    }
    // b was stored without a log index; an index already stored is kept.
    for (const indexes of [[{ recordDigest: b.recordDigest, logIndex: 7 }], [{ recordDigest: b.recordDigest, logIndex: 8 }, { recordDigest: a.recordDigest, logIndex: 9 }]]) {
      await store.setLogIndexes(indexes);
      await plain.setLogIndexes(indexes);
    }
    const receipts = (path: string) => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return db.prepare('SELECT record_digest, receipt, log_index FROM runs ORDER BY seq').all();
      } finally {
        db.close();
      }
    };
    // Committed when setReceipts resolved: another connection reads them.
    assert.deepEqual(receipts(threaded), receipts(inline));
    assert.deepEqual(receipts(threaded).map((row) => row['receipt']), ['{"receipt":"a"}', '{"receipt":"b"}', '{"receipt":"c"}']);
    assert.deepEqual(receipts(threaded).map((row) => row['log_index']), [0, 7, 2]);
  } finally {
    await store.close();
    await plain.close();
  }
});

test('while another connection holds the write lock, storing receipts and log indexes waits on the writer thread, not on the event loop', { timeout: 30_000 }, async () => {
  const path = databasePath();
  const store = SqliteRuns.open(path, { writerThread: true });
  const holder = new DatabaseSync(path);
  try {
    const one = run('lock');
    await store.put([one]);
    holder.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    const writes = Promise.all([
      store.setReceipts([{ recordDigest: one.recordDigest, receipt: '{"receipt":"lock"}', logIndex: null }]),
      store.setLogIndexes([{ recordDigest: one.recordDigest, logIndex: 3 }]),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    holder.exec('COMMIT');
    await writes;
    clearInterval(timer);
    assert.ok(performance.now() - started >= 450, 'the writes waited for the lock');
    assert.ok(ticks >= 20, `the event loop ran while they waited (${ticks} ticks of 10 ms in ${(performance.now() - started).toFixed(0)} ms)`);
    const [stored] = await store.find(one.record.captureId);
    assert.deepEqual([stored!.receipt, stored!.logIndex], ['{"receipt":"lock"}', 3]);
  } finally {
    if (holder.isTransaction) holder.exec('ROLLBACK');
    holder.close();
    await store.close();
  }
});

test('a batch the thread cannot write fails with the store\'s code; the thread starts again once the database can be written', async () => {
  const path = databasePath();
  const store = SqliteRuns.open(path, { writerThread: true });
  const other = new DatabaseSync(path);
  try {
    // The table the thread inserts into is gone before the thread opens: it cannot prepare its statements.
    other.exec('ALTER TABLE runs RENAME TO runs_elsewhere');
    await assert.rejects(store.put([run('tides')]), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ERR_STORE_UNAVAILABLE');
      assert.match(error.message, /run database/);
      assert.doesNotMatch(error.message, /runs_elsewhere|SQLITE/, 'no SQLite text reaches the caller');
      return true;
    });
    other.exec('ALTER TABLE runs_elsewhere RENAME TO runs');
    await store.put([run('moons')]);
    assert.equal((await store.list({})).length, 1);
    // A batch that fails inside the transaction is rolled back whole; the next one commits.
    other.exec('CREATE TRIGGER refuse BEFORE INSERT ON run_digests WHEN NEW.part = \'tools\' BEGIN SELECT RAISE(ABORT, \'refused\'); END');
    const withTools = run('stars');
    withTools.digests.push({ part: 'tools', position: -1, digest: 'ab'.repeat(32) });
    await assert.rejects(store.put([run('comets'), withTools]), { code: 'ERR_STORE_UNAVAILABLE' });
    other.exec('DROP TRIGGER refuse');
    await store.put([run('planets')]);
    assert.equal((await store.list({})).length, 2, 'moons and planets; nothing of the failed batch');
  } finally {
    other.close();
    await store.close();
  }
});

test('close waits for the batches sent to the thread', async () => {
  const path = databasePath();
  const store = SqliteRuns.open(path, { writerThread: true });
  const puts = [store.put([run('one')]), store.put([run('two')]), store.put([run('three')])];
  await store.close();
  await Promise.all(puts);
  assert.equal((rows(path) as { runs: unknown[] }).runs.length, 3);
  await assert.rejects(store.put([run('four')]), { code: 'ERR_STORE_UNAVAILABLE', message: 'the run store is closed' });
});
