/**
 * The commands that only read a data directory's SQLite run store (runs list, show, diff, verify,
 * group, and runs verify's log.sqlite) open it read-only: they make no table, migrate nothing and
 * create no file, so they read a store in a folder the user may not write, never migrate a store an
 * older serve is writing, and a write through what they open fails with ERR_STORE_READ_ONLY.
 * Before, they opened it as serve does (schema, migrations, a read-write connection making -wal
 * and -shm files). A store a running serve is writing is read with every committed run, also by
 * a reader opened before that serve started.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { openStore } from '../src/cli/runs-command.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';
import { captureChat, untilLogged } from './helpers/proxy-calls.ts';
import { chatRun } from './helpers/stored-runs.ts';
import { runprintUnprivileged } from './helpers/unprivileged.ts';

const OPENAI_KEY = 'sk-test-sqlite-read-only-0123456789';
const scratch = scratchFolders('runprint-sqlite-read-only-');
let upstream: FakeUpstream;
/** A data directory a real serve filled (two runs, signed and logged) and then stopped cleanly. */
let filled: string;
const ids: string[] = [];


/** Waits until the run store holds `count` runs (serve stores captured runs in batches). */
async function stored(serve: ServeProcess, count: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const page = (await (await fetch(`${serve.base}/v1/runs`)).json()) as { runs: unknown[] };
    if (page.runs.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`the run store did not reach ${count} runs in time`);
}

/** Everything a command could change in a folder: its names, its own modification time (a file made and removed changes it), and each file's bytes and times. */
function folderState(folder: string): unknown {
  const files = readdirSync(folder).sort();
  return {
    files,
    folder: statSync(folder, { bigint: true }).mtimeNs,
    each: files.map((name) => {
      const stats = statSync(join(folder, name), { bigint: true });
      return { name, sha256: createHash('sha256').update(readFileSync(join(folder, name))).digest('hex'), mtime: stats.mtimeNs, size: stats.size };
    }),
  };
}

/** A copy of the filled data directory (files owner-only, as serve makes them). */
function copyOfFilled(): string {
  const data = join(scratch.tempDir(), 'data');
  cpSync(filled, data, { recursive: true });
  return data;
}

/** The runs commands, each with what it must print (stdout) and exit with. */
function everyCommand(data: string): Array<{ args: string[]; code: number; check: (stdout: string) => void }> {
  const [a, b] = ids as [string, string];
  return [
    { args: ['runs', 'list', '--data', data], code: 0, check: (out) => assert.deepEqual(out.trim().split('\n').map((line) => line.split('  ')[1]), [b, a]) },
    { args: ['runs', 'list', '--data', data, '--json'], code: 0, check: (out) => assert.deepEqual((JSON.parse(out) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId), [b, a]) },
    { args: ['runs', 'show', a, '--data', data], code: 0, check: (out) => assert.match(out, /^stored +model, system, input, parameters, configuration, response \(this run keeps them\)$/m) },
    { args: ['runs', 'show', a, '--data', data, '--json'], code: 0, check: (out) => assert.equal((JSON.parse(out) as { runs: Array<{ captureId: string }> }).runs[0]!.captureId, a) },
    { args: ['runs', 'show', a, '--data', data, '--composition'], code: 0, check: (out) => assert.equal(typeof JSON.parse(out), 'object') },
    { args: ['runs', 'diff', a, b, '--data', data, '--values'], code: 1, check: (out) => assert.match(out, /^differ \(different requests\)/) },
    {
      args: ['runs', 'verify', a, '--data', data, '--json'],
      code: 0,
      check: (out) => {
        const checks = (JSON.parse(out) as { checks: Array<{ name: string; status: string }> }).checks;
        assert.deepEqual(Object.fromEntries(checks.map((check) => [check.name, check.status])), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
      },
    },
    { args: ['runs', 'group', '--by', 'component=system', '--data', data, '--values'], code: 0, check: (out) => assert.match(out, /^2 runs, 1 distinct by component=system/) },
  ];
}

const io = { cwd: tmpdir() } as Parameters<typeof openStore>[1];

before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB', 'RUNPRINT_DATA']) delete process.env[name];
  upstream = await startFakeUpstream();
  filled = join(scratch.tempDir(), 'data');
  const serve = await startServe({ data: filled, args: ['--upstream', `openai=${upstream.url}`] });
  ids.push(await captureChat(serve.base, OPENAI_KEY, 'Name a colour.'), await captureChat(serve.base, OPENAI_KEY, 'Name a river.'));
  for (const id of ids) await untilLogged(serve.base, id);
  assert.equal(await serve.stop(), 0);
  // A clean stop: SQLite copied the WALs into the files and removed them.
  assert.deepEqual(readdirSync(filled).filter((name) => name.endsWith('-wal') || name.endsWith('-shm')), []);
});
after(() => endServeTest(upstream, scratch));

test('every runs command works on a store serve filled and stopped, and leaves the folder as it was: no -wal or -shm made, no byte or time changed', { timeout: 60_000 }, async () => {
  const data = copyOfFilled();
  const state = folderState(data);
  for (const { args, code, check } of everyCommand(data)) {
    const result = await runCliInProcess(args);
    assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
    check(result.stdout);
    assert.deepEqual(folderState(data), state, args.join(' '));
  }
});

test('every runs command reads a store in a folder the user may not write (0500, files 0400), and changes nothing in it', { timeout: 60_000 }, async () => {
  const data = copyOfFilled();
  for (const name of readdirSync(data)) chmodSync(join(data, name), 0o400);
  chmodSync(data, 0o500);
  try {
    const state = folderState(data);
    for (const { args, code, check } of everyCommand(data)) {
      const result = await runprintUnprivileged(args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, '', args.join(' '));
      check(result.stdout);
      assert.deepEqual(folderState(data), state, args.join(' '));
    }
  } finally {
    chmodSync(data, 0o700);
  }
});

test('a write through the run store and the log a reading command opens fails with ERR_STORE_READ_ONLY, and writes nothing', { timeout: 30_000 }, async () => {
  const data = copyOfFilled();
  const state = folderState(data);
  const store = await openStore({ data }, io);
  try {
    const { run, bytes } = chatRun('A write that must not happen');
    await assert.rejects(store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)]), { code: 'ERR_STORE_READ_ONLY', message: /open read-only/ });
    await assert.rejects(store.expire(new Date(Date.now() + 86_400_000).toISOString()), { code: 'ERR_STORE_READ_ONLY' });
    await assert.rejects(store.setReceipts([{ recordDigest: '0'.repeat(64), receipt: '{}', logIndex: null }]), { code: 'ERR_STORE_READ_ONLY' });
    await assert.rejects(store.setLogIndexes([{ recordDigest: '0'.repeat(64), logIndex: 7 }]), { code: 'ERR_STORE_READ_ONLY' });
    await assert.rejects(store.claimUnsigned(10, 'reader', new Date().toISOString()), { code: 'ERR_STORE_READ_ONLY' });
    await assert.rejects(store.probe(), { code: 'ERR_STORE_READ_ONLY' });
    // It still reads.
    assert.equal((await store.list({})).length, 2);
  } finally {
    await store.close();
  }
  const log = SqliteLog.openReader(join(data, 'log.sqlite'));
  try {
    const size = await log.size();
    assert.ok(size >= 2);
    const entry = new TextEncoder().encode('not to be logged');
    const leafHash = new Uint8Array(createHash('sha256').update(new Uint8Array([0])).update(entry).digest());
    await assert.rejects(log.append([{ entry, leafHash }]), { code: 'ERR_STORE_READ_ONLY' });
    await assert.rejects(log.setMetaOnce('runprint-test', 'x'), { code: 'ERR_STORE_READ_ONLY' });
    assert.equal(await log.size(), size);
  } finally {
    await log.close();
  }
  assert.deepEqual(folderState(data), state);
});

test('a data directory without a run store is ERR_INPUT_NOT_FOUND in one line, and nothing is made: no folder, no file, no table', { timeout: 60_000 }, async () => {
  const root = scratch.tempDir();
  const missing = join(root, 'typo-folder');
  for (const args of [['runs', 'list'], ['runs', 'show', 'x'], ['runs', 'diff', 'x', 'y'], ['runs', 'verify', 'x'], ['runs', 'group', '--by', 'run']]) {
    const result = await runRunprint([...args, '--data', missing]);
    assert.equal(result.code, 4, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^runprint: ERR_INPUT_NOT_FOUND: no run store in [^\n]*typo-folder [^\n]*\n$/, args.join(' '));
    assert.equal(existsSync(missing), false, args.join(' '));
  }
  // An empty runs.sqlite (a file that is not a run store yet) is no run store either: it stays empty.
  const empty = join(root, 'empty');
  mkdirSync(empty, { mode: 0o700 });
  writeFileSync(join(empty, 'runs.sqlite'), '', { mode: 0o600 });
  const state = folderState(empty);
  for (const args of [['runs', 'list'], ['runs', 'show', 'x'], ['runs', 'group', '--by', 'run']]) {
    const result = await runRunprint([...args, '--data', empty]);
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /^runprint: ERR_INPUT_NOT_FOUND: no run store in [^\n]*runs\.sqlite: the file holds no runs table \(runprint serve creates it when it captures\)\n$/, args.join(' '));
    assert.deepEqual(folderState(empty), state, args.join(' '));
  }
});

test('a data directory named by RUNPRINT_DATA is the one the error names, and a file given for it is said to be a file', async () => {
  const root = scratch.tempDir();
  const file = join(root, 'req.json');
  writeFileSync(file, '{}');
  const saved = process.env['RUNPRINT_DATA'];
  const commands = [['runs', 'list'], ['runs', 'show', 'x'], ['runs', 'diff', 'x', 'y'], ['runs', 'verify', 'x'], ['runs', 'group', '--by', 'run'], ['replay', 'x']];
  try {
    process.env['RUNPRINT_DATA'] = join(root, 'env-folder');
    for (const args of commands) {
      const result = await runCliInProcess(args, { cwd: root });
      assert.equal(result.stderr, `runprint: ERR_INPUT_NOT_FOUND: no run store in ${join(root, 'env-folder')} (RUNPRINT_DATA) (runprint serve creates runs.sqlite there when it captures; a run store in PostgreSQL is named with --runs-db URL)\n`, args.join(' '));
      assert.equal(result.code, 4);
    }
    process.env['RUNPRINT_DATA'] = file;
    for (const args of commands) {
      const result = await runCliInProcess(args, { cwd: root });
      assert.equal(result.stderr, `runprint: ERR_INPUT_NOT_FOUND: no run store in ${file} (RUNPRINT_DATA): it is a file, not a folder (the data directory is the folder runprint serve --data DIR keeps runs.sqlite in)\n`, args.join(' '));
    }
    // --data wins over RUNPRINT_DATA, and is named as given.
    for (const args of commands) {
      const result = await runCliInProcess([...args, '--data', 'req.json'], { cwd: root });
      assert.equal(result.stderr, 'runprint: ERR_INPUT_NOT_FOUND: no run store in req.json: it is a file, not a folder (the data directory is the folder runprint serve --data DIR keeps runs.sqlite in)\n', args.join(' '));
    }
  } finally {
    if (saved === undefined) delete process.env['RUNPRINT_DATA'];
    else process.env['RUNPRINT_DATA'] = saved;
  }
  assert.equal(existsSync(join(root, 'env-folder')), false, 'nothing is made');
});

test('a store of an older layout is refused with what upgrades it, not migrated by a reader; serve upgrades it, then it reads', { timeout: 60_000 }, async () => {
  const data = copyOfFilled();
  // The layout before run_parents (the parents of each run, for --parent).
  const db = new DatabaseSync(join(data, 'runs.sqlite'));
  db.exec('DROP TRIGGER runs_parents; DROP TABLE run_parents;');
  db.close();
  const state = folderState(data);
  const result = await runRunprint(['runs', 'list', '--data', data]);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /^runprint: ERR_STORE_UNAVAILABLE: the run store [^\n]*runs\.sqlite has an older layout than this runprint reads: runprint serve with its data directory upgrades it when it starts\n$/);
  assert.deepEqual(folderState(data), state);
  // What serve's open does when it starts.
  await SqliteRuns.open(join(data, 'runs.sqlite')).close();
  const upgraded = await runCliInProcess(['runs', 'list', '--data', data]);
  assert.equal(upgraded.code, 0, upgraded.stderr);
  assert.equal(upgraded.stdout.trim().split('\n').length, 2);
});

test('a reader sees every run a running serve commits, also one opened before that serve started, and cannot write the store serve writes', { timeout: 60_000 }, async () => {
  const data = copyOfFilled();
  // Opened while no serve has the store open: read as the file is.
  const reader = await openStore({ data }, io);
  try {
    assert.equal((await reader.list({})).length, 2);
    const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
    const third = await captureChat(serve.base, OPENAI_KEY, 'Name a mountain.');
    await stored(serve, 3);
    assert.deepEqual((await reader.list({})).map((run) => run.record.captureId), [third, ids[1], ids[0]]);
    // Commands started while serve runs (its -wal and -shm beside the store).
    const show = await runRunprint(['runs', 'show', third, '--data', data]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`^capture id +${third}$`, 'm'));
    const fourth = await captureChat(serve.base, OPENAI_KEY, 'Name a lake.');
    await stored(serve, 4);
    const list = await runCliInProcess(['runs', 'list', '--data', data, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId), [fourth, third, ids[1], ids[0]]);
    assert.equal((await reader.find(fourth)).length, 1);
    // The store serve writes is not written through the reader.
    const { run, bytes } = chatRun('A write that must not happen');
    await assert.rejects(reader.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)]), { code: 'ERR_STORE_READ_ONLY' });
    assert.equal(await serve.stop(), 0);
    assert.equal((await reader.list({})).length, 4);
  } finally {
    await reader.close();
  }
  const after = await runCliInProcess(['runs', 'list', '--data', data]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.stdout.trim().split('\n').length, 4);
});

test('a runs.sqlite that is a folder, or not SQLite, is an error naming the file (exit 4 and 3), for the read-only commands and serve alike', async () => {
  const folder = scratch.tempDir();
  mkdirSync(join(folder, 'runs.sqlite'), { mode: 0o700 });
  const notSqlite = scratch.tempDir();
  writeFileSync(join(notSqlite, 'runs.sqlite'), 'not an SQLite database\n', { mode: 0o600 });
  for (const args of [['runs', 'list'], ['runs', 'show', 'rp-run-v1-sha256-' + '0'.repeat(64)]]) {
    const asFolder = await runRunprint([...args, '--data', folder]);
    assert.deepEqual([asFolder.code, asFolder.stderr], [4, `runprint: ERR_STORE_UNAVAILABLE: run database ${join(folder, 'runs.sqlite')} is a directory, not an SQLite file (move it away, or give another data directory)\n`]);
    const garbage = await runRunprint([...args, '--data', notSqlite]);
    assert.deepEqual([garbage.code, garbage.stderr], [3, `runprint: ERR_STORE_CORRUPT: run database ${join(notSqlite, 'runs.sqlite')} is damaged, or not an SQLite file\n`]);
  }
  const serve = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', folder, '--no-log']);
  assert.equal(serve.code, 4, serve.stderr);
  assert.match(serve.stderr, new RegExp(`ERR_STORE_UNAVAILABLE: run database ${join(folder, 'runs.sqlite').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is a directory, not an SQLite file`));
});
