/**
 * serve's own log and the run store's log indexes: the store keeps the checkpoint of the log its
 * indexes refer to (run_log_checkpoints, as the --capture-log outbox has it keep), and serve refuses
 * to start with a log that is not that one (ERR_LOG_CONFIG_MISMATCH, exit 2, nothing stored): a
 * second serve with its own data directory on a shared PostgreSQL run store, a log.sqlite moved
 * aside, and a replaced log grown past the store's highest index (which no index clash would ever
 * show). A store an older runprint wrote (no checkpoint kept) is taken when the log holds its last
 * logged receipt, and its checkpoint kept from then on. A running serve whose log stops being the
 * store's (two started at once) stops appending (RunRecorder.logStopped).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { openSqliteLog, type TransparencyLog } from '../src/store/log-service.ts';
import { keepOwnLog } from '../src/store/own-log-checkpoint.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { killServeProcesses, runRunprint, startServe } from './helpers/serve-process.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-own-log-');
const pgs = await pgSchemas();
const upstream = await startFakeUpstream();
const closing: Array<() => Promise<void>> = [];
after(async () => {
  await killServeProcesses();
  for (const close of closing.reverse()) await close();
  await upstream.close();
  await pgs.drop();
  scratch.removeAll();
});

async function call(base: string, n: number): Promise<void> {
  const response = await fetch(`${base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `question ${n} ${Math.random()}` }] }) });
  assert.equal(response.status, 200);
  await response.text();
}

async function until(condition: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The runs of a data directory's run store. */
async function sqliteRuns(data: string) {
  const store = SqliteRuns.openReader(join(data, 'runs.sqlite'));
  try {
    return await store.list({ limit: 1000 });
  } finally {
    await store.close();
  }
}

/** A start refused because its log is not the store's: where its log is, what the store holds; then, when it left files the data directory lacked before it, which (serve-data.ts NewAtStart). */
const REFUSED = /^runprint: ERR_LOG_CONFIG_MISMATCH: serve's log localhost\/runprint\+[0-9a-f]{8} \((.+)\) is not the log the run store's log indexes refer to: (.+)\. The store's indexes are of another log \(another serve's own log, or this log before it was replaced or rolled back\); nothing was stored\. Serves sharing a run store must share one log: give each the same --log-db, or start this serve with the data directory whose log the store's runs went to \(or restore that log database from a backup\)(?:\. Left as (?:it is|they are) \(a refused start removes nothing, .*)?$/m;

/** `runprint serve ARGS` that must refuse to start: its exit code and stderr. */
async function refusedStart(args: string[]): Promise<{ code: number | string; stderr: string }> {
  const { code, stderr } = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', ...args], { timeoutMs: 30_000 });
  return { code, stderr };
}

test('two serves, each with its own data directory (and log), on one PostgreSQL run store: the second refuses to start, naming both logs; the first goes on', async () => {
  const { url } = await pgs.fresh('runprint_own_log');
  const [dirA, dirB] = [scratch.tempDir(), scratch.tempDir()];
  const args = ['--upstream', `openai=${upstream.url}`, '--runs-db', url];
  const a = await startServe({ data: dirA, args });
  for (let i = 0; i < 5; i++) await call(a.base, i);
  const store = await PostgresRuns.open(url, { readOnly: true });
  closing.push(() => store.close());
  await until(async () => (await store.list({ limit: 100 })).filter((run) => run.logIndex !== null).length === 5, 'the first serve logged its five runs');
  // Kept about a second after the appends.
  await until(async () => ((await store.logCheckpoint('localhost/runprint'))?.size ?? 0) === 5, 'the first serve kept its log\'s checkpoint of 5');

  const b = await refusedStart(['--data', dirB, ...args]);
  assert.equal(b.code, 2, b.stderr);
  const line = REFUSED.exec(b.stderr);
  assert.ok(line !== null, b.stderr);
  assert.equal(line[1], join(dirB, 'log.sqlite'));
  assert.match(line[2]!, /^the run store \(PostgreSQL postgres:\/\/127\.0\.0\.1:5432\/test\) keeps a checkpoint of 5 entries of the log localhost\/runprint \(root hash [0-9a-f]{16}\.\.\.\), which a serve on it verified, and this log has 0 entries$/);
  assert.doesNotMatch(b.stderr, /listening on/);

  // The first serve goes on: its runs get the next indexes of its log.
  for (let i = 5; i < 8; i++) await call(a.base, i);
  await until(async () => (await store.list({ limit: 100 })).filter((run) => run.logIndex !== null).length === 8, 'the first serve logged three more');
  const indexes = (await store.list({ limit: 100 })).map((run) => run.logIndex).sort((x, y) => x! - y!);
  assert.deepEqual(indexes, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(await a.stop(), 0);
  assert.doesNotMatch(a.stderr(), /ERR_/);
});

test('serve restarted with a replaced log grown past the store\'s highest index: refused (no index clash would show it); with the right log back it starts and appends', async () => {
  const data = scratch.tempDir();
  const other = scratch.tempDir();
  const args = ['--upstream', `openai=${upstream.url}`];
  let serve = await startServe({ data, args });
  for (let i = 0; i < 3; i++) await call(serve.base, i);
  await until(async () => (await sqliteRuns(data)).filter((run) => run.logIndex !== null).length === 3, 'three runs logged');
  assert.equal(await serve.stop(), 0);
  // Another data directory's serve, with this one's log key, logs six runs in its own log.
  copyFileSync(join(data, 'log-key.pem'), join(other, 'log-key.pem'));
  const grower = await startServe({ data: other, args });
  for (let i = 0; i < 6; i++) await call(grower.base, 100 + i);
  await until(async () => (await sqliteRuns(other)).filter((run) => run.logIndex !== null).length === 6, 'six runs logged in the other log');
  assert.equal(await grower.stop(), 0);
  renameSync(join(data, 'log.sqlite'), join(data, 'log.sqlite.kept'));
  copyFileSync(join(other, 'log.sqlite'), join(data, 'log.sqlite'));
  assert.equal(existsSync(join(other, 'log.sqlite-wal')) ? 'wal left' : 'no wal', 'no wal');

  const refused = await refusedStart(['--data', data, ...args]);
  assert.equal(refused.code, 2, refused.stderr);
  const line = REFUSED.exec(refused.stderr);
  assert.ok(line !== null, refused.stderr);
  assert.equal(line[1], join(data, 'log.sqlite'));
  assert.match(line[2]!, new RegExp(`^the run store \\(${join(data, 'runs.sqlite').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\) keeps a checkpoint of 3 entries of the log localhost/runprint \\(root hash [0-9a-f]{16}\\.\\.\\.\\), which a serve on it verified, and this log holds other entries in its first 3$`));
  const runs = await sqliteRuns(data);
  assert.equal(runs.length, 3, 'nothing stored');

  // The store's own log back: serve starts and appends at 3.
  renameSync(join(data, 'log.sqlite.kept'), join(data, 'log.sqlite'));
  serve = await startServe({ data, args });
  await call(serve.base, 3);
  await until(async () => (await sqliteRuns(data)).filter((run) => run.logIndex !== null).length === 4, 'the fourth run logged');
  assert.equal(await serve.stop(), 0);
  assert.deepEqual((await sqliteRuns(data)).map((run) => run.logIndex).sort(), [0, 1, 2, 3]);
});

test('a store an older runprint wrote (no checkpoint kept): taken when the log holds its last logged receipt, and the checkpoint kept; refused when it does not', async () => {
  const data = scratch.tempDir();
  const args = ['--upstream', `openai=${upstream.url}`];
  let serve = await startServe({ data, args });
  for (let i = 0; i < 2; i++) await call(serve.base, i);
  await until(async () => (await sqliteRuns(data)).filter((run) => run.logIndex !== null).length === 2, 'two runs logged');
  assert.equal(await serve.stop(), 0);
  const forget = () => {
    const db = new DatabaseSync(join(data, 'runs.sqlite'));
    try {
      db.exec('DELETE FROM run_log_checkpoints');
    } finally {
      db.close();
    }
  };
  const kept = () => {
    const db = new DatabaseSync(join(data, 'runs.sqlite'));
    try {
      return db.prepare('SELECT origin, size FROM run_log_checkpoints').all();
    } finally {
      db.close();
    }
  };
  forget();
  serve = await startServe({ data, args });
  assert.deepEqual(kept().map((row) => ({ ...row })), [{ origin: 'localhost/runprint', size: 2 }], 'kept at the start');
  assert.equal(await serve.stop(), 0);

  // An older store whose log was replaced by an empty one: the last logged receipt (index 1) decides.
  forget();
  renameSync(join(data, 'log.sqlite'), join(data, 'log.sqlite.moved'));
  const refused = await refusedStart(['--data', data, ...args]);
  assert.equal(refused.code, 2, refused.stderr);
  const line = REFUSED.exec(refused.stderr);
  assert.ok(line !== null, refused.stderr);
  assert.match(line[2]!, /holds run [0-9a-f]{64} at log index 1, and this log has 0 entries$/);
  assert.deepEqual(kept(), [], 'nothing kept');
});

test('a recorder whose log stops being the store\'s while it runs (two serves started at once on an empty store) stops appending at its next keep, reported once', async () => {
  const store: RunStorage = await SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'), { writerThread: true });
  closing.push(() => store.close());
  const dir = scratch.tempDir();
  const key = await receiptKey(dir, dir, undefined);
  const logKey = await parsePrivateKey((await generateKeyFiles('localhost/runprint')).privateKeyPem);
  const logs: TransparencyLog[] = [];
  for (let i = 0; i < 2; i++) {
    const log = await openSqliteLog({ path: join(scratch.tempDir(), 'log.sqlite'), origin: 'localhost/runprint', key: logKey, checkpointDelayMs: 10 });
    closing.push(() => log.close());
    logs.push(log);
  }
  const names = (i: number) => ({ log: `log ${i}`, store: 'the test store' });
  // Both pass the start's check: the store holds nothing yet.
  await keepOwnLog(store, logs[0]!, names(0));
  await keepOwnLog(store, logs[1]!, names(1));
  const failures: RunprintError[][] = [[], []];
  const recorders = logs.map(
    (log, i) =>
      new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log, claimant: `serve:${i}`, keepLog: () => keepOwnLog(store, log, names(i)), keepLogEveryMs: 50, onFailure: (error) => failures[i]!.push(error) }),
  );
  try {
    // The first appends two and keeps its checkpoint.
    for (let n = 0; n < 2; n++) {
      const one = chatRun(`first ${n}`);
      await recorders[0]!.record(one.run, one.bytes, 'proxy');
      await recorders[0]!.signPending();
    }
    await until(async () => ((await store.logCheckpoint('localhost/runprint'))?.size ?? 0) === 2, 'the first log\'s checkpoint of 2 kept');
    // The second appends three (indexes 0..2 of its log; 0 and 1 clash, caught by the store) ...
    const more = chatRun('second 0');
    await recorders[1]!.record(more.run, more.bytes, 'proxy');
    await recorders[1]!.signPending();
    await until(async () => recorders[1]!.logStopped !== undefined, 'the second stopped appending');
    assert.equal(recorders[0]!.logStopped, undefined);
    assert.deepEqual(failures[0], []);
    assert.deepEqual(failures[1]!.map((error) => error.code), [recorders[1]!.logStopped!.code], 'reported once');
    // Whichever came first (the clash at index 0, or the keep), later runs are stored unlogged.
    for (let n = 1; n < 4; n++) {
      const one = chatRun(`second ${n}`);
      await recorders[1]!.record(one.run, one.bytes, 'proxy');
      await recorders[1]!.signPending();
    }
    const runs = await store.list({ limit: 100 });
    assert.equal(runs.length, 6);
    assert.deepEqual(runs.map((run) => run.logIndex).filter((index) => index !== null).sort(), [0, 1], 'only the first log\'s indexes');
  } finally {
    for (const recorder of recorders) await recorder.close();
  }
});

test('a recorder whose log is not the one whose checkpoint the store keeps, appending where no run clashes: its keep stops appending with ERR_LOG_CONFIG_MISMATCH', async () => {
  const store: RunStorage = await SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'), { writerThread: true });
  closing.push(() => store.close());
  const dir = scratch.tempDir();
  const key = await receiptKey(dir, dir, undefined);
  const logKey = await parsePrivateKey((await generateKeyFiles('localhost/runprint')).privateKeyPem);
  const open = async () => {
    const log = await openSqliteLog({ path: join(scratch.tempDir(), 'log.sqlite'), origin: 'localhost/runprint', key: logKey, checkpointDelayMs: 10 });
    closing.push(() => log.close());
    return log;
  };
  const [first, second] = [await open(), await open()];
  // The second log has grown to 5 entries elsewhere before the store's first run.
  for (let n = 0; n < 5; n++) await second.append(new TextEncoder().encode(`elsewhere ${n}`));
  await second.publishCheckpoint();
  await keepOwnLog(store, second, { log: 'second', store: 'the test store' });
  await keepOwnLog(store, first, { log: 'first', store: 'the test store' }).then(
    () => assert.fail('the first log is refused once the store keeps the second\'s checkpoint'),
    (error: RunprintError) => assert.equal(error.code, 'ERR_LOG_CONFIG_MISMATCH'),
  );
  // A recorder on the first log (its start's check passed before the second's checkpoint was
  // kept): it appends at index 0, which no run holds, and its next keep stops it.
  const failures: RunprintError[] = [];
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log: first, claimant: 'serve:first', keepLog: () => keepOwnLog(store, first, { log: 'first', store: 'the test store' }), keepLogEveryMs: 50, onFailure: (error) => failures.push(error) });
  try {
    const one = chatRun('first log');
    await recorder.record(one.run, one.bytes, 'proxy');
    await recorder.signPending();
    await until(async () => recorder.logStopped !== undefined, 'appending stopped');
    assert.equal(recorder.logStopped!.code, 'ERR_LOG_CONFIG_MISMATCH');
    assert.match(recorder.logStopped!.message, /^serve's log localhost\/runprint\+[0-9a-f]{8} \(first\) is not the log the run store's log indexes refer to: the run store \(the test store\) keeps a checkpoint of 5 entries of the log localhost\/runprint .*, and this log has 1 entry\. .*\. Appending to the log stopped: receipts are stored without a log index and wait in the run store$/);
    assert.deepEqual(failures.map((error) => error.code), ['ERR_LOG_CONFIG_MISMATCH']);
    const two = chatRun('first log again');
    await recorder.record(two.run, two.bytes, 'proxy');
    await recorder.signPending();
    const runs = await store.list({ limit: 10 });
    assert.deepEqual(runs.map((run) => run.logIndex), [null, 0], 'the receipt after the stop waits unlogged');
  } finally {
    await recorder.close();
  }
});
