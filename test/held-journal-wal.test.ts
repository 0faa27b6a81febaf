/**
 * The held-records journal keeps records (content and salts) only while the run store cannot take
 * them. Once it has emptied, its WAL holds no copy of them: it is checkpointed and truncated, so
 * the rows do not stay in `held-runs.sqlite-wal` for as long as serve runs. Real SQLite files,
 * their bytes searched for the records' content.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HeldJournal } from '../src/store/held-journal.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-held-wal-');
after(() => scratch.removeAll());

const held = (marker: string) => {
  const { run, bytes } = chatRun(`What does ${marker} say?`, `Secret system prompt ${marker}.`);
  return runToStore(run, bytes, defaultContentPolicy(), 'proxy', true);
};

/** Whether the file at `path` (when there) holds `marker`'s bytes. */
const holds = (path: string, marker: string) => existsSync(path) && readFileSync(path).includes(Buffer.from(marker));

test('a journal emptied of its records holds none of their content in its WAL or its file; while one waits, its rows are there', () => {
  const path = join(scratch.tempDir(), 'held-runs.sqlite');
  const journal = new HeldJournal(path);
  try {
    const markers = Array.from({ length: 6 }, (_, i) => `HELD-MARKER-${i}-${'q'.repeat(40)}`);
    const runs = markers.map(held);
    journal.add(runs.slice(0, 3));
    journal.add(runs.slice(3));
    assert.equal(journal.count(), 6);
    assert.ok(markers.every((marker) => holds(`${path}-wal`, marker)), 'the premise: written, the rows are in the WAL');
    // One record still waits: nothing is checkpointed yet (its row must stay).
    journal.remove(runs.slice(0, 5).map((run) => run.recordDigest));
    assert.equal(journal.count(), 1);
    assert.ok(holds(`${path}-wal`, markers[5]!) || holds(path, markers[5]!), 'the waiting record is kept');
    journal.remove([runs[5]!.recordDigest]);
    assert.equal(journal.count(), 0);
    // The journal stays open (serve keeps it for its whole run): the WAL is empty now, and the file holds none of them.
    assert.equal(statSync(`${path}-wal`).size, 0, 'the WAL is truncated');
    for (const marker of markers) {
      assert.ok(!holds(`${path}-wal`, marker), `${marker} is not in the WAL`);
      assert.ok(!holds(path, marker), `${marker} is not in the journal file (secure_delete)`);
    }
    // Still usable: a record added after is held as before.
    journal.add([held('AFTER-MARKER')]);
    assert.equal(journal.count(), 1);
  } finally {
    journal.close();
  }
});
