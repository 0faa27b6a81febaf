/**
 * SQLite retention leaves no copy of expired content in the store's files: not only salts (which
 * capture-salted.test.ts checks), but every piece a sweep deletes, prompts, inputs and response
 * bytes. secure_delete zeroes deleted cells and freed pages, but not a copy a B-tree rebalance left
 * in a page's free space before the delete; the sweep rewrites the file after deleting content.
 * Real runs into a real SQLite store, interleaved with newer ones and signed (their rows updated
 * with receipts, as serve does), then the bytes of runs.sqlite and its WAL searched.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-retention-content-');
after(() => scratch.removeAll());

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A marker of varied length (so content rows of many sizes share and split pages), unique to one run. */
const marker = (what: string, i: number) => `${what}-${i}-${randomBytes(8).toString('hex')}-${'x'.repeat(20 + ((i * 37) % 900))}`;

/** Stores a run whose system prompt, input and answer hold `mark`, then its receipt (the row written again). */
async function store(storage: RunStorage, mark: string): Promise<void> {
  const { run, bytes } = chatRun(`input ${mark}`, `system ${mark}`);
  const prepared = runToStore(run, bytes, defaultContentPolicy(), 'proxy', false);
  await storage.put([prepared]);
  await storage.setReceipts([{ recordDigest: prepared.recordDigest, receipt: `{"receipt":"${'r'.repeat(300 + (mark.length % 500))}"}`, logIndex: null }]);
}

for (const writerThread of [false, true]) {
  test(`after a sweep, no expired content is in runs.sqlite or its WAL; newer content is (${writerThread ? 'writer thread' : 'one connection'})`, { timeout: 120_000 }, async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const storage = SqliteRuns.open(path, { writerThread });
    // Another connection, as a runs command has: the store's close is not the last, so SQLite does not clean up on it.
    const other = new DatabaseSync(path);
    try {
      other.prepare('SELECT count(*) FROM runs').get();
      const older: string[] = [];
      const newer: string[] = [];
      for (let i = 0; i < 150; i++) older.push(marker('OLD', i));
      for (let i = 0; i < 150; i++) newer.push(marker('NEW', i));
      for (const mark of older) await store(storage, mark);
      await pause();
      const cut = new Date().toISOString();
      await pause();
      for (const mark of newer) await store(storage, mark);
      assert.equal(await storage.expire(cut), older.length);
      await storage.close();
      const wal = `${path}-wal`;
      const files = { 'runs.sqlite': readFileSync(path), 'runs.sqlite-wal': existsSync(wal) ? readFileSync(wal) : Buffer.alloc(0) };
      const all = Buffer.concat(Object.values(files));
      // Only the marker's unique head: a tail of x's is shared by many.
      const head = (mark: string) => Buffer.from(mark.slice(0, mark.indexOf('-x')));
      for (const mark of newer) assert.ok(all.includes(head(mark)), 'content still kept is found (the search works)');
      const left = older.filter((mark) => all.includes(head(mark)));
      assert.deepEqual(left.map((mark) => mark.slice(0, 30)), [], `expired content left in ${Object.entries(files).filter(([, bytes]) => left.some((mark) => bytes.includes(head(mark)))).map(([name]) => name).join(', ')}`);
    } finally {
      other.close();
      await storage.close();
    }
  });
}
