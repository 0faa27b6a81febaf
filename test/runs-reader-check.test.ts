/**
 * A damaged SQLite run store as the commands that read it meet it: a run record whose bytes
 * changed inside a well-formed page (the second half of a torn write) is ERR_STORE_CORRUPT naming
 * the file and the run, exit 3. SQLite reads such a page without an error and quick_check passes
 * it; before, JSON.parse's error came out as ERR_INTERNAL, exit 70.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { chatRun } from './helpers/stored-runs.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-runs-reader-check-');
after(() => scratch.removeAll());
for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB', 'RUNPRINT_DATA']) delete process.env[name];

/** A data directory whose runs.sqlite holds 60 runs, each with content of its own (a few KB), closed cleanly (no -wal). */
async function filledStore(): Promise<{ data: string; path: string; ids: string[] }> {
  const data = scratch.tempDir();
  const path = join(data, 'runs.sqlite');
  const store = SqliteRuns.open(path);
  const ids: string[] = [];
  try {
    for (let i = 0; i < 60; i++) {
      const { run, bytes } = chatRun(`Question ${i}: ${'why is the sky blue? '.repeat(100)}`, `System prompt ${i}`);
      await store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)]);
      ids.push(run.record.captureId);
    }
  } finally {
    await store.close();
  }
  assert.deepEqual(readdirSync(data).sort(), ['runs.sqlite'], 'closed cleanly: the WAL is in the file');
  return { data, path, ids };
}

/** `text` matched as it is in a regular expression. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a run record whose bytes changed inside a well-formed page (quick_check passes it) is ERR_STORE_CORRUPT naming the file and the run, exit 3, not ERR_INTERNAL', async () => {
  const { data, path } = await filledStore();
  // One byte of one stored record: a ':' of its JSON made '#', as a torn write leaves other bytes.
  const bytes = readFileSync(path);
  const at = bytes.indexOf('"times":{');
  assert.ok(at > 0 && bytes.indexOf('"times":{', at + 1) > 0, 'each record once in the file');
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from('#'), 0, 1, at + '"times"'.length);
  } finally {
    closeSync(fd);
  }
  const list = await runCliInProcess(['runs', 'list', '--data', data]);
  assert.equal(list.code, 3, list.stderr);
  assert.equal(list.stdout, '');
  assert.match(list.stderr, new RegExp(`^runprint: ERR_STORE_CORRUPT: run database ${literal(path)} holds a run \\(seq \\d+\\) whose record is not JSON: it is damaged\\n$`));
});
