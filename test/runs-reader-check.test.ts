/**
 * How the commands that read a SQLite run store check it at open. runs list, show, diff and group
 * run SQLite's quick_check (which reads the whole file: 5 to 10 s for an 8 GiB store) only for a
 * store of at most a bound (256 MiB); above it they skip it, and a damaged page a query reads is
 * SQLite's SQLITE_CORRUPT, ERR_STORE_CORRUPT naming the file (exit 3), while a damaged page it does
 * not read is not its business. runs verify checks the whole store at any size. Before, every one
 * of them ran quick_check at every open.
 *
 * The stores here are small: the bound is set low through openReader's test-only checkBound (the
 * CLI's call of openReader is wrapped to pass it). A damaged page is a b-tree page of one table
 * overwritten with zeros (page type 0, which no b-tree page has), found with SQLite's dbstat.
 *
 * A run record whose bytes changed inside a well-formed page (the second half of a torn write) is
 * read by SQLite without an error and passes quick_check: it is ERR_STORE_CORRUPT naming the file
 * and the run, exit 3 (before, JSON.parse's error came out as ERR_INTERNAL, exit 70).
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, mock, test } from 'node:test';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteRuns, type ReaderCheck } from '../src/store/sqlite-runs.ts';
import { chatRun } from './helpers/stored-runs.ts';
import { runCliInProcess, type CliResult } from './helpers/run-cli.ts';
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

/** Overwrites every b-tree page (not overflow pages) of `table` with zeros; answers how many. */
function damage(path: string, table: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  let pages: number[];
  let pageSize: number;
  try {
    pages = (db.prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype IN ('internal', 'leaf')").all(table) as Array<{ pageno: number }>).map((row) => row.pageno);
    pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
  } finally {
    db.close();
  }
  assert.ok(pages.length > 0, `${table} has b-tree pages`);
  const fd = openSync(path, 'r+');
  try {
    for (const page of pages) writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, (page - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
  return pages.length;
}

/**
 * Points the first cell of the first leaf page of `table` 8 bytes before the page's end: its cell
 * runs past the page, while the page's header and every other cell are as they were.
 */
function cellPastPage(path: string, table: string): void {
  const db = new DatabaseSync(path, { readOnly: true });
  let page: number;
  let pageSize: number;
  try {
    page = (db.prepare("SELECT min(pageno) AS page FROM dbstat WHERE name = ? AND pagetype = 'leaf'").get(table) as { page: number }).page;
    pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
  } finally {
    db.close();
  }
  assert.ok(page > 1);
  const pointer = Buffer.alloc(2);
  pointer.writeUInt16BE(pageSize - 8);
  const fd = openSync(path, 'r+');
  try {
    // A leaf page's header is 8 bytes; the cell pointers follow it.
    writeSync(fd, pointer, 0, 2, (page - 1) * pageSize + 8);
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs a runprint command line in this process, its readers of the run store opened with `check`
 * added (checkBound: the bound the query commands skip quick_check above).
 */
async function withReaderCheck(check: ReaderCheck, argv: string[]): Promise<CliResult> {
  const openReader = SqliteRuns.openReader.bind(SqliteRuns);
  const wrapped = mock.method(SqliteRuns, 'openReader', (path: string, options: ReaderCheck = {}) => openReader(path, { ...options, ...check }));
  try {
    return await runCliInProcess(argv);
  } finally {
    wrapped.mock.restore();
  }
}

const LOW = { checkBound: 4096 };

/** `text` matched as it is in a regular expression. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const quickCheckFailure = (path: string) => new RegExp(`^runprint: ERR_STORE_CORRUPT: run database ${literal(path)} fails SQLite quick_check \\(.+\\): it is damaged\\n$`);

test('above the bound, runs list opens a store with a damaged page it does not read and answers it whole (quick_check refused it before); runs show, which reads that page, is ERR_STORE_CORRUPT naming the file, exit 3', async () => {
  const { data, path, ids } = await filledStore();
  const before = await runCliInProcess(['runs', 'list', '--data', data]);
  assert.equal(before.code, 0, before.stderr);
  assert.equal(before.stdout.trim().split('\n').length, 60);
  assert.ok(damage(path, 'content') > 1, 'the content table spans pages');
  assert.ok(statSync(path).size > LOW.checkBound);

  // list reads the runs and their digests, never the content table.
  const list = await withReaderCheck(LOW, ['runs', 'list', '--data', data]);
  assert.deepEqual(list, before, 'the same answer, no error');
  const group = await withReaderCheck(LOW, ['runs', 'group', '--by', 'request', '--data', data]);
  assert.equal(group.code, 0, group.stderr);
  assert.match(group.stdout, /^60 runs, 60 distinct by request/);

  // show asks which content is stored: it reads the damaged pages.
  const show = await withReaderCheck(LOW, ['runs', 'show', ids[7]!, '--data', data]);
  assert.deepEqual(show, { code: 3, stdout: '', stderr: `runprint: ERR_STORE_CORRUPT: run database ${path} is damaged, or not an SQLite file\n` });
  const diff = await withReaderCheck(LOW, ['runs', 'diff', ids[1]!, ids[2]!, '--data', data]);
  assert.deepEqual(diff, { code: 3, stdout: '', stderr: `runprint: ERR_STORE_CORRUPT: run database ${path} is damaged, or not an SQLite file\n` });
});

test('above the bound, a damaged page of the runs table, which runs list reads, is ERR_STORE_CORRUPT naming the file, exit 3, never a partial list', async () => {
  const { data, path } = await filledStore();
  damage(path, 'runs');
  const list = await withReaderCheck(LOW, ['runs', 'list', '--data', data]);
  assert.deepEqual(list, { code: 3, stdout: '', stderr: `runprint: ERR_STORE_CORRUPT: run database ${path} is damaged, or not an SQLite file\n` });
  const json = await withReaderCheck(LOW, ['runs', 'list', '--data', data, '--json']);
  assert.deepEqual(json, list);
});

test('above the bound, a cell of the runs table that runs past its page is ERR_STORE_CORRUPT (SQLite\'s cell_size_check on the reader), not a list without that run', async () => {
  const { data, path } = await filledStore();
  cellPastPage(path, 'runs');
  const list = await withReaderCheck(LOW, ['runs', 'list', '--data', data]);
  assert.deepEqual(list, { code: 3, stdout: '', stderr: `runprint: ERR_STORE_CORRUPT: run database ${path} is damaged, or not an SQLite file\n` });
  // Below the bound, at open (quick_check, which meets the cell as it reads the page).
  const checked = await runCliInProcess(['runs', 'list', '--data', data]);
  assert.equal(checked.code, 3);
  assert.ok(checked.stderr.startsWith(`runprint: ERR_STORE_CORRUPT: run database ${path} `), checked.stderr);
});

test('at or below the bound, runs list still refuses a store with a damaged page anywhere: quick_check at open, the file and the finding named', async () => {
  const { data, path } = await filledStore();
  damage(path, 'content');
  // The default bound (256 MiB), and a bound of exactly the file's size.
  for (const check of [{}, { checkBound: statSync(path).size }]) {
    const list = await withReaderCheck(check, ['runs', 'list', '--data', data]);
    assert.equal(list.code, 3, JSON.stringify(check));
    assert.equal(list.stdout, '');
    assert.match(list.stderr, quickCheckFailure(path));
  }
});

test('runs verify checks the whole store at any size: a damaged page it need not read refuses it, above the bound too', async () => {
  const { data, path, ids } = await filledStore();
  damage(path, 'content');
  for (const check of [LOW, { checkBound: 0 }, {}]) {
    const verify = await withReaderCheck(check, ['runs', 'verify', ids[0]!, '--data', data]);
    assert.equal(verify.code, 3, JSON.stringify(check));
    assert.equal(verify.stdout, '');
    assert.match(verify.stderr, quickCheckFailure(path));
  }
});

test('openReader: check "whole" (the default) runs quick_check at any size; "bounded" only up to the bound', async () => {
  const { path } = await filledStore();
  damage(path, 'content');
  const size = statSync(path).size;
  for (const options of [{}, { check: 'whole', checkBound: 0 }, { check: 'bounded', checkBound: size }, { check: 'bounded' }] as ReaderCheck[]) {
    assert.throws(() => SqliteRuns.openReader(path, options), { code: 'ERR_STORE_CORRUPT', message: /fails SQLite quick_check/ }, JSON.stringify(options));
  }
  const reader = SqliteRuns.openReader(path, { check: 'bounded', checkBound: size - 1 });
  try {
    assert.equal((await reader.list({})).length, 60);
    await assert.rejects(reader.contentStored(['0'.repeat(64)]), (error: unknown) => {
      const fault = error as { code?: string; message?: string; publicMessage?: string };
      assert.equal(fault.code, 'ERR_STORE_CORRUPT');
      assert.equal(fault.message, `run database ${path} is damaged, or not an SQLite file`);
      assert.equal(fault.publicMessage, 'run database is damaged, or not an SQLite file');
      return true;
    });
  } finally {
    await reader.close();
  }
});

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

/**
 * The bound is on the pages quick_check walks (page count times page size, as the reader reads
 * the store), not on the file and its -wal: a serve's -wal keeps its size once copied back and
 * holds older versions of pages, which quick_check does not read.
 */
test('the bound counts the database\'s pages, with those a serve committed to the -wal, not the -wal file\'s size', async () => {
  const { path } = await filledStore();
  const setup = new DatabaseSync(path);
  setup.exec("CREATE TABLE pad (n INTEGER); INSERT INTO pad VALUES (0);");
  setup.close();
  damage(path, 'content');
  const size = statSync(path).size;
  // A serve's connection, open while the store is read: one row changed 300 times, each commit a
  // frame more in its -wal (never copied back here), the same page every time.
  const serve = new DatabaseSync(path);
  try {
    serve.exec('PRAGMA wal_autocheckpoint = 0');
    for (let i = 1; i <= 300; i++) serve.exec(`UPDATE pad SET n = ${i}`);
    assert.equal(statSync(path).size, size, 'nothing copied back');
    assert.ok(statSync(`${path}-wal`).size > size, 'a -wal larger than the store');
    // The store is `size` bytes as read: at a bound of its size it is checked, the -wal's frames not counted.
    assert.throws(() => SqliteRuns.openReader(path, { check: 'bounded', checkBound: size }), { code: 'ERR_STORE_CORRUPT', message: /fails SQLite quick_check/ });
    // Pages the serve added and has not copied back count: the store grows past the bound, unchecked.
    serve.exec(`CREATE TABLE grown (b BLOB); INSERT INTO grown VALUES (zeroblob(${4 * size}))`);
    assert.equal(statSync(path).size, size, 'nothing copied back');
    const reader = SqliteRuns.openReader(path, { check: 'bounded', checkBound: 2 * size });
    try {
      assert.equal((await reader.list({})).length, 60, 'opened without quick_check: the damaged content is not read');
    } finally {
      await reader.close();
    }
    assert.throws(() => SqliteRuns.openReader(path, { check: 'bounded', checkBound: 6 * size }), { code: 'ERR_STORE_CORRUPT', message: /fails SQLite quick_check/ });
  } finally {
    serve.close();
  }
});
