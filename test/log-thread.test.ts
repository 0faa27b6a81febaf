/**
 * The SQLite log with a writer thread (as serve opens it): appends are sequenced and committed on
 * the thread's own connection with the results, rows and tile hashes an append on the caller's
 * thread gives; an append resolves once committed (another connection sees it); a thread that
 * cannot open fails the appends with the store's code and is started again by the next one; the
 * log service publishes checkpoints over it; close waits for the appends sent.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import type { NewEntry } from '../src/store/storage.ts';
import { TransparencyLog } from '../src/store/log-service.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';

const folders: string[] = [];
after(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
function databasePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-log-thread-'));
  folders.push(dir);
  return join(dir, 'log.sqlite');
}

const encoder = new TextEncoder();
function entry(n: number): NewEntry {
  const bytes = encoder.encode(`entry ${n}`);
  return n % 3 === 0 ? { entry: bytes, leafHash: hashLeaf(bytes), runId: `rp-run-v1-sha256-${createHash('sha256').update(String(n)).digest('hex')}` } : { entry: bytes, leafHash: hashLeaf(bytes) };
}

/** Every row an append writes, in a stable order. */
function rows(path: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return {
      entries: db.prepare('SELECT idx, hex(entry) AS entry, hex(leaf_hash) AS leaf, CAST(leaf_key AS TEXT) AS leaf_key, run_id FROM entries ORDER BY idx').all(),
      tiles: db.prepare('SELECT level, idx, hex(hash) AS hash FROM tile_hashes ORDER BY level, idx').all(),
      nodes: db.prepare('SELECT level, idx, hex(nodes) AS nodes FROM tile_nodes ORDER BY level, idx').all(),
    };
  } finally {
    db.close();
  }
}

test('appends on the writer thread give the results, rows and tile hashes of appends on the caller\'s thread, and are committed when they resolve', async () => {
  // 600 entries cross two full tiles; entries sent again are found, not stored again.
  const batches = [[entry(0), entry(1), entry(1)], Array.from({ length: 300 }, (_, i) => entry(i + 2)), [entry(5), entry(302)], Array.from({ length: 297 }, (_, i) => entry(i + 303))];
  const threaded = databasePath();
  const inline = databasePath();
  const log = SqliteLog.open(threaded, { writerThread: true });
  const plain = SqliteLog.open(inline);
  try {
    for (const batch of batches) {
      const results = await log.append(batch);
      assert.deepEqual(results, await plain.append(batch));
      // Committed: another connection already sees every entry of the batch.
      const reader = new DatabaseSync(threaded, { readOnly: true });
      const { size } = reader.prepare('SELECT COUNT(*) AS size FROM entries').get() as { size: number };
      reader.close();
      assert.equal(size, Math.max(...results.map((result) => result.index)) + 1);
      // This connection reads what the thread committed.
      assert.equal(await log.size(), size);
    }
    assert.equal(await log.size(), 600);
    assert.deepEqual(await log.hashes(1, 0, 2), await plain.hashes(1, 0, 2));
  } finally {
    await log.close();
    await plain.close();
  }
  assert.deepEqual(rows(threaded), rows(inline));
  assert.equal((rows(threaded) as { tiles: unknown[] }).tiles.length, 2);
});

test('a thread that cannot open fails the append with the store\'s code; the next append starts it again and nothing is lost', async () => {
  const path = databasePath();
  const log = SqliteLog.open(path, { writerThread: true });
  try {
    assert.equal((await log.append([entry(1)]))[0]!.index, 0);
    await log.close();
  } catch (error) {
    await log.close();
    throw error;
  }
  const reopened = SqliteLog.open(path, { writerThread: true });
  try {
    // The thread opens at the first append: let it find no database where the log was.
    renameSync(path, `${path}.aside`);
    writeFileSync(path, 'not a database, and long enough to be read as a header by SQLite '.repeat(20));
    await assert.rejects(reopened.append([entry(2)]), { code: 'ERR_STORE_CORRUPT' });
    renameSync(`${path}.aside`, path);
    const [second] = await reopened.append([entry(2)]);
    assert.deepEqual({ index: second!.index, created: second!.created }, { index: 1, created: true });
    assert.equal(await reopened.size(), 2);
  } finally {
    await reopened.close();
  }
});

test('the log service publishes checkpoints over a writer thread, and close waits for the appends sent', async () => {
  const path = databasePath();
  const key = await parsePrivateKey((await generateKeyFiles('example.test/thread-log')).privateKeyPem);
  const storage = SqliteLog.open(path, { writerThread: true });
  const log = await TransparencyLog.open({ storage, origin: 'example.test/thread-log', key, checkpointDelayMs: 10 });
  const appends = Array.from({ length: 40 }, (_, i) => log.append(encoder.encode(`receipt ${i}`)));
  const results = await Promise.all(appends);
  assert.deepEqual(results.map((result) => result.index).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  assert.equal(await log.waitForCheckpoint(39, 5000), true);
  const last = log.append(encoder.encode('the last one'));
  await log.close();
  assert.equal((await last).index, 40);
  const reader = SqliteLog.open(path);
  try {
    assert.equal(await reader.size(), 41);
  } finally {
    await reader.close();
  }
  assert.throws(() => SqliteLog.open(path, { writerThread: true, maxPageCount: 10 }), TypeError);
});
