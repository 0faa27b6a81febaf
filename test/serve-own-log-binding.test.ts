/**
 * The run store is bound to serve's own log before anything is appended (run_log_binding,
 * own-log-checkpoint.ts bindOwnLog): of two serves started at the same moment on a store that
 * holds nothing of a log yet, each with its own log, exactly one starts; the other exits 2 with
 * ERR_LOG_CONFIG_MISMATCH naming both logs, and no run of the store gets an index of its log.
 * Before, both passed the start's check (the store kept no checkpoint and held no logged run) and
 * the second stopped only at its next check, its receipts keeping its log's indexes. Checked with
 * real serve processes on PostgreSQL and at the store's API on SQLite (two connections to one
 * file). A store an older runprint wrote (a checkpoint kept, no binding) is bound by the first
 * start whose log passes the checks of what it holds. And a refused start removes nothing from
 * its data directory (another serve started with it may use a key or database it made): its
 * refusal names what is there that was not before it, for the user to remove.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { openSqliteLog, type TransparencyLog } from '../src/store/log-service.ts';
import { bindOwnLog, keepOwnLog } from '../src/store/own-log-checkpoint.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { chatCall, untilLogged } from './helpers/proxy-calls.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-log-binding-');
const pgs = await pgSchemas();
const upstream = await startFakeUpstream();
const children = new Set<ReturnType<typeof spawn>>();
const closing: Array<() => Promise<void>> = [];
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await killServeProcesses();
  for (const close of closing.reverse()) await close();
  await upstream.close();
  await pgs.drop();
  scratch.removeAll();
});

/** The log's name and key ID as its verifier key begins. */
const keyName = (verifierKey: string): string => verifierKey.split('+').slice(0, 2).join('+');
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A serve process started here: it listens (its URL and log key), or exits first (its code); `stop` sends SIGTERM. */
interface Started {
  outcome: Promise<{ listening: { base: string; key: string } } | { exited: number | string }>;
  stderr(): string;
  stop(): Promise<number | string>;
}

function spawnServe(data: string, args: string[]): Started {
  const env = { ...process.env };
  for (const name of ['RUNPRINT_DATA', 'RUNPRINT_LOG_DB', 'RUNPRINT_LOG_KEY', 'RUNPRINT_LOG_NAME', 'RUNPRINT_RUNS_DB']) delete env[name];
  const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  const outcome = new Promise<{ listening: { base: string; key: string } } | { exited: number | string }>((resolve) => {
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const listening = /runprint: listening on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(stderr);
      const log = /^runprint: log (\S+)$/m.exec(stderr);
      if (listening !== null && log !== null) resolve({ listening: { base: listening[1]!, key: log[1]! } });
    });
    void exited.then((code) => resolve({ exited: code }));
  });
  return {
    outcome,
    stderr: () => stderr,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** What a refused start says it left: a data directory that was not there before it (`top`, the topmost folder it made), holding `files`. */
const leftNew = (dir: string, top: string, files: string): string =>
  `Left as it is (a refused start removes nothing, as another serve started with this data directory may be using what it made): the data directory ${dir}, which was not there before this start${top === dir ? '' : ` (nor ${top})`}, holding ${files}; remove ${top} if no serve uses it.`;

/** What a refused start says it left: `files` (one or more) that were not in the data directory `dir` before it. */
const leftIn = (dir: string, files: string, one: boolean): string =>
  `Left as ${one ? 'it is' : 'they are'} (a refused start removes nothing, as another serve started with this data directory may be using what it made): ${files} in the data directory ${dir}, not there before this start; remove ${one ? 'it' : 'them'} if no serve uses ${one ? 'it' : 'them'}.`;

/** The line of a start refused because the store is bound to another log: the refused log's name, where it is, and the bound log's name. */
const BOUND = /^runprint: ERR_LOG_CONFIG_MISMATCH: serve's log (localhost\/runprint\+[0-9a-f]{8}) \((.+)\) is not the log the run store's log indexes refer to: the run store \((.+)\) is bound to the log (localhost\/runprint\+[0-9a-f]{8}) \(since [0-9T:.Z-]+, by the first serve that started on it with its own log\)\. The store's indexes are of another log .*$/m;

test('two serves, each with a new data directory (and its own log), started at the same moment on one fresh PostgreSQL run store: exactly one runs, the other exits 2 naming both logs and what it left in its new data directory; every logged run is in the winner\'s log (three rounds)', async () => {
  for (let round = 0; round < 3; round++) {
    const { url } = await pgs.fresh('runprint_log_binding');
    const dirs = [join(scratch.tempDir(), 'data'), join(scratch.tempDir(), 'data')];
    const args = ['--upstream', `openai=${upstream.url}`, '--runs-db', url];
    const serves = dirs.map((dir) => spawnServe(dir, args));
    const outcomes = await Promise.all(serves.map((serve) => serve.outcome));
    const winners = outcomes.flatMap((outcome, i) => ('listening' in outcome ? [i] : []));
    try {
      assert.equal(winners.length, 1, `round ${round}: exactly one serve runs; ${winners.length} did:\n${serves.map((serve) => serve.stderr()).join('\n---\n')}`);
      const w = winners[0]!;
      const l = 1 - w;
      const winner = (outcomes[w] as { listening: { base: string; key: string } }).listening;
      assert.deepEqual(outcomes[l], { exited: 2 }, serves[l]!.stderr());
      const line = BOUND.exec(serves[l]!.stderr());
      assert.ok(line !== null, serves[l]!.stderr());
      assert.equal(line[2], join(dirs[l]!, 'log.sqlite'));
      assert.equal(line[3], 'PostgreSQL postgres://127.0.0.1:5432/test');
      assert.equal(line[4], keyName(winner.key), 'the bound log is the winner\'s');
      assert.notEqual(line[1], line[4], 'the refused log is another');
      assert.doesNotMatch(serves[l]!.stderr(), /listening on/);
      assert.ok(
        line[0].endsWith(`. ${leftNew(dirs[l]!, dirs[l]!, 'log-key.pem, receipt-key.pem and log.sqlite')}`),
        `the refused start says what it left: ${line[0]}`,
      );
      assert.deepEqual(readdirSync(dirs[l]!).sort(), ['log-key.pem', 'log.sqlite', 'receipt-key.pem']);
      // The winner captures and logs; every run the store logged is in its log at its index.
      const ids: string[] = [];
      for (let n = 0; n < 3; n++) {
        const response = await chatCall(winner.base, `round ${round} call ${n}`);
        await response.arrayBuffer();
        assert.equal(response.status, 200);
        ids.push(response.headers.get('runprint-capture-id')!);
      }
      for (const id of ids) await untilLogged(winner.base, id);
      const store = await PostgresRuns.open(url, { readOnly: true });
      try {
        const runs = await store.list({ limit: 100 });
        assert.equal(runs.length, 3);
        assert.deepEqual(runs.map((run) => run.logIndex).sort(), [0, 1, 2]);
        for (const run of runs) {
          const verdict = (await (await fetch(`${winner.base}/v1/runs/${run.record.captureId}/verify`)).json()) as { checks: Array<{ name: string; status: string }> };
          assert.equal(verdict.checks.find((check) => check.name === 'log')?.status, 'pass', `run at index ${run.logIndex} is in the winner's log`);
        }
      } finally {
        await store.close();
      }
      assert.equal(await serves[w]!.stop(), 0);
      assert.doesNotMatch(serves[w]!.stderr(), /ERR_/);
    } finally {
      for (const serve of serves) await serve.stop();
    }
  }
});

/** A fresh SQLite log of the default origin with a key of its own. */
async function freshLog(entries = 0): Promise<TransparencyLog> {
  const key = await parsePrivateKey((await generateKeyFiles('localhost/runprint')).privateKeyPem);
  const log = await openSqliteLog({ path: join(scratch.tempDir(), 'log.sqlite'), origin: 'localhost/runprint', key, checkpointDelayMs: 10 });
  closing.push(() => log.close());
  for (let n = 0; n < entries; n++) await log.append(new TextEncoder().encode(`entry ${n}`));
  if (entries > 0) await log.publishCheckpoint();
  return log;
}

/** The store's binding row, read by a connection of its own. */
function bindingOf(path: string): unknown[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare('SELECT verifier_key FROM run_log_binding').all().map((row) => row['verifier_key']);
  } finally {
    db.close();
  }
}

test('SQLite, at the store\'s API: two connections binding one fresh store to two logs at once: exactly one binds it, the other is ERR_LOG_CONFIG_MISMATCH naming both logs (five rounds)', async () => {
  for (let round = 0; round < 5; round++) {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const stores = [SqliteRuns.open(path, { writerThread: true }), SqliteRuns.open(path, { writerThread: true })];
    closing.push(async () => {
      for (const store of stores) await store.close();
    });
    const logs = [await freshLog(), await freshLog()];
    const names = (i: number) => ({ log: `log ${i}`, store: 'the test store' });
    // Both checks pass (the store holds nothing yet) before either binds: only the binding tells them apart.
    const results = await Promise.allSettled(stores.map((store, i) => bindOwnLog(store, logs[i]!, names(i))));
    const won = results.flatMap((result, i) => (result.status === 'fulfilled' ? [i] : []));
    assert.equal(won.length, 1, `round ${round}: exactly one binds; ${won.length} did`);
    const w = won[0]!;
    const l = 1 - w;
    const refusal = (results[l] as PromiseRejectedResult).reason as RunprintError;
    assert.equal(refusal.code, 'ERR_LOG_CONFIG_MISMATCH');
    assert.match(
      refusal.message,
      new RegExp(`^serve's log ${literal(keyName(logs[l]!.verifierKey))} \\(log ${l}\\) is not the log the run store's log indexes refer to: the run store \\(the test store\\) is bound to the log ${literal(keyName(logs[w]!.verifierKey))} \\(since [0-9T:.Z-]+, by the first serve that started on it with its own log\\)\\. `),
    );
    assert.deepEqual(bindingOf(path), [logs[w]!.verifierKey]);
    // Again later (a restart): the winner's log is taken, the other refused.
    await bindOwnLog(stores[l]!, logs[w]!, names(w));
    await assert.rejects(bindOwnLog(stores[w]!, logs[l]!, names(l)), { code: 'ERR_LOG_CONFIG_MISMATCH' });
  }
});

test('a store an older runprint wrote (its log\'s checkpoint kept, no binding): bound by the first start whose log extends that checkpoint, never by another log', async () => {
  const path = join(scratch.tempDir(), 'runs.sqlite');
  const older = await freshLog(2);
  let store = SqliteRuns.open(path, { writerThread: true });
  await keepOwnLog(store, older, { log: 'older', store: 'the test store' });
  await store.close();
  // As an older runprint left it: no binding table.
  const db = new DatabaseSync(path);
  db.exec('DROP TABLE run_log_binding');
  db.close();
  store = SqliteRuns.open(path, { writerThread: true });
  closing.push(() => store.close());
  const other = await freshLog();
  await assert.rejects(bindOwnLog(store, other, { log: 'other', store: 'the test store' }), (error: RunprintError) => {
    assert.equal(error.code, 'ERR_LOG_CONFIG_MISMATCH');
    assert.match(error.message, /keeps a checkpoint of 2 entries of the log localhost\/runprint .*, and this log has 0 entries\./);
    return true;
  });
  assert.deepEqual(bindingOf(path), [], 'a log that fails the checks binds nothing');
  await bindOwnLog(store, older, { log: 'older', store: 'the test store' });
  assert.deepEqual(bindingOf(path), [older.verifierKey], 'bound to the log whose checkpoint the store kept');
});

/** Every file of a folder (not the folders in it) with its bytes, as text. */
function filesOf(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name).sort().map((name) => [name, readFileSync(join(dir, name)).toString('base64')]));
}

test('a start refused because the run store is another log\'s removes nothing from its data directory, and says what it left there that was not there before it: a new data directory (and the folder made for it), a key or log database made in one that held a key; what was there stays as it was, and it says nothing of it', async () => {
  const { url } = await pgs.fresh('runprint_log_binding');
  const args = ['--upstream', `openai=${upstream.url}`, '--runs-db', url];
  // The store is bound to a first serve's log, which logs a run.
  const first = await startServe({ data: scratch.tempDir(), args });
  const response = await chatCall(first.base, 'bound');
  await response.arrayBuffer();
  await untilLogged(first.base, response.headers.get('runprint-capture-id')!);
  assert.equal(await first.stop(), 0);

  /** The refusal's line, from the sentence after the refusal's own (`Serves sharing ... backup)`) on. */
  const refusedIn = async (dir: string): Promise<string> => {
    const serve = spawnServe(dir, args);
    assert.deepEqual(await serve.outcome, { exited: 2 }, serve.stderr());
    const line = /^runprint: ERR_LOG_CONFIG_MISMATCH: serve's log .*$/m.exec(serve.stderr());
    assert.ok(line !== null, serve.stderr());
    const end = '(or restore that log database from a backup)';
    assert.ok(line[0].includes(end), line[0]);
    return line[0].slice(line[0].indexOf(end) + end.length);
  };

  // A new data directory, two folders deep: left with what the start made, both folders named.
  const parent = scratch.tempDir();
  const deep = join(parent, 'new', 'data');
  assert.equal(await refusedIn(deep), `. ${leftNew(deep, join(parent, 'new'), 'log-key.pem, receipt-key.pem and log.sqlite')}`);
  assert.deepEqual(readdirSync(deep).sort(), ['log-key.pem', 'log.sqlite', 'receipt-key.pem']);

  // A data directory holding only its log key: the key stays as it was, the log database and receipt key made are left and named.
  const keyed = scratch.tempDir();
  writeFileSync(join(keyed, 'log-key.pem'), (await generateKeyFiles('localhost/runprint')).privateKeyPem, { mode: 0o600 });
  const key = filesOf(keyed)['log-key.pem'];
  assert.equal(await refusedIn(keyed), `. ${leftIn(keyed, 'receipt-key.pem and log.sqlite', false)}`);
  assert.deepEqual(Object.keys(filesOf(keyed)), ['log-key.pem', 'log.sqlite', 'receipt-key.pem']);
  assert.equal(filesOf(keyed)['log-key.pem'], key);

  // A data directory a serve used before (its own SQLite run store): every file stays, as it was, and nothing is said left.
  const used = scratch.tempDir();
  const earlier = await startServe({ data: used, args: ['--upstream', `openai=${upstream.url}`] });
  assert.equal(await earlier.stop(), 0);
  mkdirSync(join(used, 'notes'));
  const kept = filesOf(used);
  assert.deepEqual(Object.keys(kept), ['log-key.pem', 'log.sqlite', 'receipt-key.pem', 'runs.sqlite'], 'what the earlier serve left');
  assert.equal(await refusedIn(used), '');
  assert.deepEqual(filesOf(used), kept);
  assert.ok(existsSync(join(used, 'notes')));

  // A data directory another serve is running with (its log open, no capture: no receipt key):
  // the receipt key the refused start made there stays, named; the running serve's files stay.
  const shared = scratch.tempDir();
  const running = await startServe({ data: shared, args: ['--no-capture'] });
  assert.equal(existsSync(join(shared, 'receipt-key.pem')), false);
  assert.equal(await refusedIn(shared), `. ${leftIn(shared, 'receipt-key.pem', true)}`);
  assert.ok(existsSync(join(shared, 'receipt-key.pem')));
  assert.ok(existsSync(join(shared, 'log-key.pem')) && existsSync(join(shared, 'log.sqlite')));
  assert.equal(await running.stop(), 0);
});
