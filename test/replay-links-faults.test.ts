/**
 * The SQLite replay links live in the run store's file: a storage fault there names the run
 * database (as the run store's own faults do), never the log database.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { SqliteReplayLinks } from '../src/replay/replay-links.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-replay-links-faults-');
after(() => scratch.removeAll());

test('a run store file that is not SQLite: ERR_STORE_CORRUPT naming the run database', () => {
  const path = join(scratch.tempDir(), 'runs.sqlite');
  writeFileSync(path, 'not an SQLite file, just text long enough to be read as a header '.repeat(20));
  assert.throws(() => SqliteReplayLinks.open(path), { code: 'ERR_STORE_CORRUPT', message: `run database ${path} is damaged, or not an SQLite file` });
});

test('a link while another connection holds the run store locked: ERR_STORE_LOCKED naming the run database (after the 5 s busy timeout)', async () => {
  const path = join(scratch.tempDir(), 'runs.sqlite');
  const links = SqliteReplayLinks.open(path);
  const other = new DatabaseSync(path);
  try {
    other.exec('BEGIN EXCLUSIVE');
    await assert.rejects(links.link({ replay: 'a'.repeat(64), replayOf: 'b'.repeat(64), verdict: 'identical', result: '{}' }), {
      code: 'ERR_STORE_LOCKED',
      message: 'run database is locked by another process',
    });
    other.exec('ROLLBACK');
  } finally {
    other.close();
    await links.close();
  }
});
