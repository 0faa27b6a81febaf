/**
 * The commands that only read a PostgreSQL store (runs list, show, diff, verify, group, and runs
 * verify's log) open read-only sessions (default_transaction_read_only): a write through the
 * store they open fails with ERR_STORE_READ_ONLY and changes nothing, so a bug can never write.
 * Before, they only avoided writing. Every runs command still works on a real store a real
 * `runprint serve --log-db` filled (runs and log in PostgreSQL).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { openStore } from '../src/cli/runs-command.ts';
import { openStorage } from '../src/store/open-storage.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe } from './helpers/serve-process.ts';
import { captureChat, untilLogged } from './helpers/proxy-calls.ts';
import { chatRun } from './helpers/stored-runs.ts';

const OPENAI_KEY = 'sk-test-read-only-session-0123456789';
const scratch = scratchFolders('runprint-pg-read-only-session-');
let upstream: FakeUpstream;
let pgs: PgSchemas;
let url: string;
let schema: string;
let data: string;
const ids: string[] = [];


before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB']) delete process.env[name];
  pgs = await pgSchemas();
  ({ url, schema } = await pgs.fresh('runprint_read_only_session'));
  upstream = await startFakeUpstream();
  data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--log-db', url, '--upstream', `openai=${upstream.url}`] });
  ids.push(await captureChat(serve.base, OPENAI_KEY, 'Name a colour.'), await captureChat(serve.base, OPENAI_KEY, 'Name a river.'));
  for (const id of ids) await untilLogged(serve.base, id);
  assert.equal(await serve.stop(), 0);
});
after(async () => {
  await endServeTest(upstream, scratch);
  await pgs.drop();
});

const rows = async (table: string) => Number(((await pgs.admin.query(`SELECT count(*) AS n FROM ${schema}.${table}`)).rows[0] as { n: string }).n);

test('a write through the run store a reading command opens fails with ERR_STORE_READ_ONLY, on every connection of its pool, and writes nothing', { timeout: 30_000 }, async () => {
  const before = { runs: await rows('runs'), content: await rows('content') };
  const store = await openStore({ 'runs-db': url }, { cwd: tmpdir() } as Parameters<typeof openStore>[1]);
  try {
    const { run, bytes } = chatRun('A write that must not happen');
    // Eight at once: the pool's four connections each refuse.
    const puts = await Promise.allSettled(Array.from({ length: 8 }, () => store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)])));
    for (const put of puts) {
      assert.equal(put.status, 'rejected');
      assert.equal((put.reason as { code: string }).code, 'ERR_STORE_READ_ONLY', String(put.reason));
      assert.match((put.reason as Error).message, /read-only transaction/);
    }
    await assert.rejects(store.expire(new Date(Date.now() + 86_400_000).toISOString()), { code: 'ERR_STORE_READ_ONLY' });
    await assert.rejects(store.setReceipts([{ recordDigest: '0'.repeat(64), receipt: '{}', logIndex: null }]), { code: 'ERR_STORE_READ_ONLY' });
    // It still reads.
    assert.equal((await store.list({})).length, 2);
  } finally {
    await store.close();
  }
  assert.deepEqual({ runs: await rows('runs'), content: await rows('content') }, before);
  assert.equal((await pgs.admin.query(`SELECT count(*) AS n FROM ${schema}.runs WHERE content_expired`)).rows[0].n, '0', 'retention expired nothing');
});

test('a write through the log runs verify opens fails with ERR_STORE_READ_ONLY and writes nothing', { timeout: 30_000 }, async () => {
  const entries = await rows('entries');
  const log = await openStorage({ dataDir: data, url, readOnly: true });
  try {
    assert.equal(await log.size(), entries);
    const entry = new TextEncoder().encode('not to be logged');
    const leafHash = new Uint8Array(createHash('sha256').update(new Uint8Array([0])).update(entry).digest());
    await assert.rejects(log.append([{ entry, leafHash }]), { code: 'ERR_STORE_READ_ONLY' });
    await assert.rejects(log.setMetaOnce('runprint-test', 'x'), { code: 'ERR_STORE_READ_ONLY' });
  } finally {
    await log.close();
  }
  assert.equal(await rows('entries'), entries);
  assert.equal((await pgs.admin.query(`SELECT count(*) AS n FROM ${schema}.meta WHERE key = 'runprint-test'`)).rows[0].n, '0');
});

test('every runs command works on the PostgreSQL store serve filled', { timeout: 60_000 }, async () => {
  const list = await runCliInProcess(['runs', 'list', '--runs-db', url, '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId), [...ids].reverse());
  const show = await runCliInProcess(['runs', 'show', ids[0]!, '--runs-db', url]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^stored +model, system, input, parameters, configuration, response \(this run keeps them\)$/m);
  const composition = await runCliInProcess(['runs', 'show', ids[0]!, '--runs-db', url, '--composition']);
  assert.equal(composition.code, 0, composition.stderr);
  const diff = await runCliInProcess(['runs', 'diff', ids[0]!, ids[1]!, '--runs-db', url, '--values']);
  assert.equal(diff.code, 1, diff.stderr);
  assert.match(diff.stdout, /^differ \(different requests\)/);
  const group = await runCliInProcess(['runs', 'group', '--by', 'component=system', '--runs-db', url]);
  assert.equal(group.code, 0, group.stderr);
  assert.match(group.stdout, /^2 runs, 1 distinct by component=system/);
  // runs verify reads the runs and the log where serve put them (--log-db), with the log key serve made in the data directory.
  for (const id of ids) {
    const verified = await runCliInProcess(['runs', 'verify', id, '--data', data, '--log-db', url, '--json']);
    assert.equal(verified.code, 0, verified.stderr);
    const checks = (JSON.parse(verified.stdout) as { checks: Array<{ name: string; status: string }> }).checks;
    assert.deepEqual(Object.fromEntries(checks.map((check) => [check.name, check.status])), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
  }
  // As a process of its own: nothing on standard error (no warning of the driver either).
  for (const args of [['runs', 'show', ids[1]!, '--runs-db', url], ['runs', 'verify', ids[1]!, '--data', data, '--log-db', url]]) {
    const child = await runRunprint(args);
    assert.equal(child.code, 0, child.stderr);
    assert.equal(child.stderr, '', args.join(' '));
  }
});
