/**
 * serve's own log on PostgreSQL whose checkpoint cannot be stored for a while (the log database
 * fails or refuses it; here a trigger refuses every insert into its checkpoints table), while
 * receipts are appended and their indexes stored in the run store: the log's latest checkpoint
 * then lags behind the store's last logged index for longer than own-log-checkpoint.ts waits
 * for it. That is still the store's log (it holds the store's receipts at their indexes): the
 * keep passes, appending goes on, and the checkpoint is kept once stored again. A log that is
 * another one while its checkpoint lags is still refused, with what differs (ERR_LOG_CONFIG_MISMATCH).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { hashLeaf, rootFromLeafHashes } from '../src/merkle/rfc6962.ts';
import { TransparencyLog } from '../src/store/log-service.ts';
import { keepOwnLog } from '../src/store/own-log-checkpoint.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy } from '../src/store/run-storage.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const ORIGIN = 'localhost/runprint';
const scratch = scratchFolders('runprint-log-lag-');
const pgs = await pgSchemas();
const closing: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closing.reverse()) await close();
  await pgs.drop();
  scratch.removeAll();
});

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A log on a fresh PostgreSQL schema, checkpointing 10 ms after an append; `refuse` makes its checkpoints table refuse every insert until `allow`. */
async function pgLog(key: SigningKey) {
  const { schema, url } = await pgs.fresh('runprint_log_lag');
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: ORIGIN, key, checkpointDelayMs: 10 });
  closing.push(() => log.close());
  return {
    log,
    schema,
    refuse: async () => {
      await pgs.admin.query(`CREATE OR REPLACE FUNCTION ${schema}.refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'checkpoints refused'; END $$`);
      await pgs.admin.query(`CREATE TRIGGER refuse_checkpoint BEFORE INSERT ON ${schema}.checkpoints FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse_checkpoint()`);
    },
    allow: async () => {
      await pgs.admin.query(`DROP TRIGGER refuse_checkpoint ON ${schema}.checkpoints`);
    },
    /** The root hash of the first `size` entries its database holds, from the entries themselves. */
    rootOf: async (size: number) => {
      const rows = (await pgs.admin.query(`SELECT entry FROM ${schema}.entries WHERE idx < $1 ORDER BY idx`, [size])).rows as Array<{ entry: Buffer }>;
      assert.equal(rows.length, size);
      return rootFromLeafHashes(rows.map((row) => hashLeaf(new Uint8Array(row.entry))));
    },
  };
}

async function pgStore() {
  const { schema, url } = await pgs.fresh('runprint_log_lag_runs');
  const store = await PostgresRuns.open(url);
  closing.push(() => store.close());
  return { store, schema };
}

const names = { log: 'the test log', store: 'the test store' };

test('a checkpoint of serve\'s PostgreSQL log that cannot be stored for longer than the keep waits: the keep passes, appending goes on, and the checkpoint is kept once stored again', async () => {
  const logKey = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const own = await pgLog(logKey);
  const { store } = await pgStore();
  const dir = scratch.tempDir();
  const key = await receiptKey(dir, dir, undefined);
  const failures: RunprintError[] = [];
  /** Each keep the recorder made: when it started (counts.logged then) and whether it settled. */
  const keeps: Array<{ logged: number; settled: boolean }> = [];
  const recorder: RunRecorder = new RunRecorder({
    storage: store,
    policy: defaultContentPolicy(),
    sign: { key, runprintVersion: '0.1.0' },
    log: own.log,
    claimant: 'serve:lag',
    keepLog: () => {
      const keep = { logged: recorder.counts.logged, settled: false };
      keeps.push(keep);
      return keepOwnLog(store, own.log, names).finally(() => (keep.settled = true));
    },
    keepLogEveryMs: 50,
    onFailure: (error) => failures.push(error),
  });
  const sign = async (text: string) => {
    const one = chatRun(text);
    await recorder.record(one.run, one.bytes, 'proxy');
    await recorder.signPending();
  };
  try {
    for (let n = 0; n < 2; n++) await sign(`before ${n}`);
    assert.ok(await own.log.waitForCheckpoint(1, 20_000));
    await keepOwnLog(store, own.log, names);
    assert.equal((await store.logCheckpoint(ORIGIN))?.size, 2);

    // The log's database refuses its checkpoints: three more appended, their indexes stored.
    await own.refuse();
    for (let n = 0; n < 3; n++) await sign(`during ${n}`);
    assert.equal(recorder.counts.logged, 5);
    await until(() => recorder.logStopped !== undefined || keeps.some((keep) => keep.logged === 5 && keep.settled), 'a keep of the five appended settled');
    assert.equal(recorder.logStopped?.message, undefined, 'appending goes on');
    assert.equal((await own.log.checkpoint()).size, 2, 'the log\'s checkpoint still lags');
    assert.deepEqual(failures, []);
    // Still appending while the checkpoint cannot be stored.
    await sign('during 3');
    assert.deepEqual((await store.list({ limit: 100 })).map((run) => run.logIndex).sort(), [0, 1, 2, 3, 4, 5]);

    // The database takes checkpoints again: the log's checkpoint of all of them is kept.
    await own.allow();
    await sign('after 0');
    assert.ok(await own.log.waitForCheckpoint(6, 20_000));
    await keepOwnLog(store, own.log, names);
    assert.equal((await store.logCheckpoint(ORIGIN))?.size, 7);
    assert.equal(recorder.logStopped, undefined);
    assert.deepEqual(failures, []);
    assert.deepEqual((await store.list({ limit: 100 })).map((run) => run.logIndex).sort(), [0, 1, 2, 3, 4, 5, 6]);
  } finally {
    await recorder.close();
  }

  // A kept checkpoint larger than the one the log has read (kept from another serve's read of the
  // same log): the log's stored entries give the kept root hash, so it passes too, and the kept one stays.
  await own.refuse();
  const more = await own.log.append(new TextEncoder().encode('appended while refused'));
  assert.equal(more.index, 7);
  await store.setLogIndexes([], { origin: ORIGIN, size: 8, rootHash: await own.rootOf(8) });
  await keepOwnLog(store, own.log, names);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 8);
});

test('another log whose checkpoint lags is still refused, with what differs: fewer entries stored, or others at the store\'s indexes', async () => {
  const logKey = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const own = await pgLog(logKey);
  const { store, schema } = await pgStore();
  const dir = scratch.tempDir();
  const key = await receiptKey(dir, dir, undefined);
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, log: own.log, claimant: 'serve:own' });
  try {
    for (let n = 0; n < 4; n++) {
      const one = chatRun(`own ${n}`);
      await recorder.record(one.run, one.bytes, 'proxy');
      await recorder.signPending();
    }
  } finally {
    await recorder.close();
  }
  await keepOwnLog(store, own.log, names);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 4);
  const last = (await store.lastLogged())!;
  assert.equal(last.logIndex, 3);

  // Two other logs with the same key, whose checkpoints cannot be stored: one holds 6 entries
  // (others than the store's), one holds 2.
  const longer = await pgLog(logKey);
  const shorter = await pgLog(logKey);
  await longer.refuse();
  await shorter.refuse();
  for (let n = 0; n < 6; n++) await longer.log.append(new TextEncoder().encode(`elsewhere ${n}`));
  for (let n = 0; n < 2; n++) await shorter.log.append(new TextEncoder().encode(`shorter ${n}`));
  assert.equal((await longer.log.checkpoint()).size, 0);
  assert.equal((await shorter.log.checkpoint()).size, 0);

  const refused = async (log: TransparencyLog, found: RegExp) => {
    await assert.rejects(keepOwnLog(store, log, names), (error: RunprintError) => {
      assert.equal(error.code, 'ERR_LOG_CONFIG_MISMATCH');
      assert.match(error.message, /^serve's log localhost\/runprint\+[0-9a-f]{8} \(the test log\) is not the log the run store's log indexes refer to: /);
      assert.match(error.message, found);
      return true;
    });
  };
  // The kept checkpoint decides first.
  await refused(longer.log, /: the run store \(the test store\) keeps a checkpoint of 4 entries of the log localhost\/runprint \(root hash [0-9a-f]{16}\.\.\.\), which a serve on it verified, and this log holds other entries in its first 4\. /);
  await refused(shorter.log, /, which a serve on it verified, and this log has 2 entries\. /);
  // A store an older runprint wrote (no checkpoint kept): its last logged receipt decides.
  assert.equal((await pgs.admin.query(`DELETE FROM ${schema}.run_log_checkpoints`)).rowCount, 1);
  await refused(longer.log, new RegExp(`: the run store \\(the test store\\) holds run ${last.recordDigest} at log index 3, and this log holds another entry there\\. `));
  await refused(shorter.log, new RegExp(`holds run ${last.recordDigest} at log index 3, and this log has 2 entries\\. `));
  assert.equal(await store.logCheckpoint(ORIGIN), undefined, 'nothing kept');
  // The store's own log is taken: it holds the store's receipt at index 3.
  await keepOwnLog(store, own.log, names);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 4);
});
