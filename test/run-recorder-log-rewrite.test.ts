/**
 * serve's own log replaced under a run store that holds indexes of the log before it (its
 * log.sqlite lost or moved aside, log-key.pem kept): the log answers indexes the store gives other
 * runs. The recorder never stores such an index (RunStorage.setReceipts and setLogIndexes refuse
 * it, ERR_LOG_REWRITE), reports it once, stops appending to the log for the rest of the process
 * (as the capture log's outbox stops delivery), and goes on: capture records, runs are signed and
 * their receipts stored without a log index (waiting in the store, as the outbox's do), and the
 * sweep still claims what other signers left. SQLite and PostgreSQL run stores.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { openSqliteLog, type TransparencyLog } from '../src/store/log-service.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';
import { renameSync } from 'node:fs';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, runRunprint, startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-log-rewrite-');
const pgs = await pgSchemas();
const closing: Array<() => Promise<void>> = [];
after(async () => {
  await killServeProcesses();
  for (const close of closing.reverse()) await close();
  await pgs.drop();
  scratch.removeAll();
});

const ORIGIN = 'localhost/runprint';
let made = 0;
const chat = () => chatRun(`question ${made++} ${Math.random()}`);

async function newLog(key: SigningKey): Promise<TransparencyLog> {
  const log = await openSqliteLog({ path: join(scratch.tempDir(), 'log.sqlite'), origin: ORIGIN, key, checkpointDelayMs: 10 });
  closing.push(() => log.close());
  return log;
}

async function until(condition: () => Promise<boolean>, what: string, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** No two runs hold one log index. */
async function noSharedIndex(store: RunStorage): Promise<void> {
  const held = (await store.list({ limit: 10_000 })).map((run) => run.logIndex).filter((index) => index !== null);
  assert.equal(new Set(held).size, held.length, `no two runs share a log index: ${JSON.stringify(held)}`);
}

const STOPPED = /^the log answered index 0 for run [0-9a-f]{64}, but run [0-9a-f]{64} holds that index in the run store: the log gave it out twice \(rolled back, forked or replaced\), or the store's receipts went to another log\. Appending to the log stopped: receipts are stored without a log index and wait in the run store; after a restart serve appends them again, to a log that must hold the receipts logged before \(restore its database from a backup\)$/;

/**
 * Three runs logged to the first log; the log replaced by an empty one with the same key; then a
 * serve recorder on it. `unlogged`: an in-process run's receipt waits in the store without an
 * index as it starts (its sweep appends it first).
 */
async function replaced(store: RunStorage, unlogged: boolean): Promise<void> {
  const dir = scratch.tempDir();
  const key = await receiptKey(dir, dir, undefined);
  const logKey = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const sign = { key, runprintVersion: '0.1.0' };
  const firstLog = await newLog(logKey);
  const first = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign, log: firstLog, logOthers: true, claimant: 'serve:test' });
  for (let i = 0; i < 3; i++) {
    const one = chat();
    await first.record(one.run, one.bytes, 'proxy');
  }
  await until(async () => (await store.list({ limit: 100 })).filter((run) => run.logIndex !== null).length === 3, 'the first three are logged');
  await first.close();
  if (unlogged) {
    const sdk = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign, signCapture: 'sdk', claimant: 'sdk:test' });
    const one = chat();
    await sdk.record(one.run, one.bytes, 'sdk');
    await sdk.close();
  }
  // A run a crash left unsigned: the sweep claims it.
  const left = chat();
  await store.put([runToStore(left.run, left.bytes, defaultContentPolicy(), 'proxy', true)]);

  const log = await newLog(logKey);
  const failures: RunprintError[] = [];
  const serve = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign, log, logOthers: true, claimant: 'serve:test', onFailure: (error) => failures.push(error) });
  try {
    await serve.signPending();
    for (let i = 0; i < 4; i++) {
      const one = chat();
      await serve.record(one.run, one.bytes, 'proxy');
      await serve.signPending();
    }
    await serve.signPending();
    const runs = await store.list({ limit: 100 });
    assert.equal(runs.length, 3 + (unlogged ? 1 : 0) + 1 + 4, 'capture went on');
    assert.deepEqual(runs.filter((run) => run.receipt === null).map((run) => run.recordDigest), [], 'every run signed, the one a crash left too');
    await noSharedIndex(store);
    assert.deepEqual(
      runs.map((run) => run.logIndex).filter((index) => index !== null).sort(),
      [0, 1, 2],
      'only the first log\'s indexes are stored',
    );
    assert.deepEqual(failures.map((error) => error.code), ['ERR_LOG_REWRITE'], 'reported once');
    assert.match(failures[0]!.message, STOPPED);
    assert.equal(serve.logStopped?.code, 'ERR_LOG_REWRITE');
    await log.publishCheckpoint();
    assert.equal((await log.checkpoint()).size, 1, 'nothing appended to the replaced log after the first refusal');
  } finally {
    await serve.close();
  }
  // Restarted with the log restored (the first one's entries): what waits is appended and gets indexes.
  const restored = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign, log: firstLog, logOthers: true, claimant: 'serve:test', onFailure: (error) => failures.push(error) });
  try {
    await restored.signPending();
    const runs = await store.list({ limit: 100 });
    assert.deepEqual(runs.filter((run) => run.logIndex === null).map((run) => run.recordDigest), [], 'every receipt logged');
    assert.deepEqual(runs.map((run) => run.logIndex).sort((a, b) => a! - b!), runs.map((_, i) => i));
    assert.equal(failures.length, 1);
    assert.equal(restored.logStopped, undefined);
  } finally {
    await restored.close();
  }
}

for (const [name, open] of [
  ['SQLite', async () => SqliteRuns.open(join(scratch.tempDir(), 'runs.sqlite'), { writerThread: true })],
  ['PostgreSQL', async () => PostgresRuns.open((await pgs.fresh('runprint_log_rewrite')).url)],
] as const) {
  describe(name, () => {
    test('a receipt signed and appended to a replaced log: its held index is not stored, appending stops, runs are signed and stored unlogged', async () => {
      const store: RunStorage = await open();
      try {
        await replaced(store, false);
      } finally {
        await store.close();
      }
    });

    test('a waiting receipt the sweep appends to a replaced log: reported once, appending stops, the sweep still claims what was left unsigned', async () => {
      const store: RunStorage = await open();
      try {
        await replaced(store, true);
      } finally {
        await store.close();
      }
    });
  });
}

test('serve restarted with its log.sqlite moved aside: refused at start (ERR_LOG_CONFIG_MISMATCH, exit 2), nothing stored; with the log back it starts and appends', async () => {
  const upstream = await startFakeUpstream();
  closing.push(() => upstream.close());
  const data = scratch.tempDir();
  const call = async (base: string, n: number) => {
    upstream.enqueue({ kind: 'text', text: `Answer ${n}.` });
    const response = await fetch(`${base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `question ${n}` }] }) });
    assert.equal(response.status, 200);
    await response.text();
  };
  const args = ['--upstream', `openai=${upstream.url}`];
  let serve = await startServe({ data, args });
  for (let i = 0; i < 3; i++) await call(serve.base, i);
  const runs = async () => {
    const store = SqliteRuns.openReader(join(data, 'runs.sqlite'));
    try {
      return await store.list({ limit: 100 });
    } finally {
      await store.close();
    }
  };
  await until(async () => (await runs()).filter((run) => run.logIndex !== null).length === 3, 'the first three are logged');
  assert.equal(await serve.stop(), 0);
  renameSync(join(data, 'log.sqlite'), join(data, 'log.sqlite.moved'));
  // Before, serve started and its log answered indexes 0, 1, 2 again (refused by the store as held,
  // appending stopped); now the store's kept checkpoint of its log refuses the empty log at start.
  const refused = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, ...args]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /^runprint: ERR_LOG_CONFIG_MISMATCH: serve's log localhost\/runprint\+[0-9a-f]{8} \(.+log\.sqlite\) is not the log the run store's log indexes refer to: the run store \(.+runs\.sqlite\) keeps a checkpoint of 3 entries of the log localhost\/runprint \(root hash [0-9a-f]{16}\.\.\.\), which a serve on it verified, and this log has 0 entries\. /m);
  assert.doesNotMatch(refused.stderr, /listening on/);
  assert.equal((await runs()).length, 3);
  renameSync(join(data, 'log.sqlite.moved'), join(data, 'log.sqlite'));
  serve = await startServe({ data, args });
  for (let i = 3; i < 5; i++) await call(serve.base, i);
  await until(async () => (await runs()).filter((run) => run.logIndex !== null).length === 5, 'every run is logged');
  assert.equal(await serve.stop(), 0);
  assert.doesNotMatch(serve.stderr(), /ERR_/);
  assert.deepEqual((await runs()).map((run) => run.logIndex).sort(), [0, 1, 2, 3, 4]);
});
