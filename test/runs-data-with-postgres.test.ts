/**
 * A `runs` command given --data while its runs are in PostgreSQL says which store it reads: list,
 * show, diff and group, which read only runs, refuse --runs-db with --data (two run stores named,
 * one read: ERR_CLI_USAGE, exit 2, before anything opens); with the URL from RUNPRINT_RUNS_DB they
 * read PostgreSQL and say on stderr that --data is not used; runs verify reads the run from
 * PostgreSQL and, with the URL from the environment, says --data names only the data directory of
 * its keys (with --runs-db given, the user named both: nothing to say).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { chatRun, storeRuns } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-runs-data-pg-');
let pgs: PgSchemas;
before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB', 'RUNPRINT_DATA']) delete process.env[name];
  pgs = await pgSchemas();
});
after(async () => {
  delete process.env['RUNPRINT_RUNS_DB'];
  await endServeTest(undefined, scratch);
  await pgs.drop();
});

/** A PostgreSQL run store holding one run, and a data directory whose runs.sqlite holds another. */
async function twoStores(): Promise<{ url: string; inPostgres: string; data: string; inData: string }> {
  const { url } = await pgs.fresh('runprint_runs_data');
  const store = await PostgresRuns.open(url);
  const { run, bytes } = chatRun('In PostgreSQL.');
  try {
    await store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', false)]);
  } finally {
    await store.close();
  }
  const data = scratch.tempDir();
  const [inData] = await storeRuns(data, 1);
  return { url, inPostgres: run.record.captureId, data, inData: inData! };
}

test('runs list, show, diff and group refuse --runs-db with --data: they read one store', { timeout: 30_000 }, async () => {
  const { url, inPostgres, data, inData } = await twoStores();
  for (const [command, ...rest] of [['list'], ['show', inPostgres], ['diff', inPostgres, inData], ['group', '--by', 'request']]) {
    const result = await runCliInProcess(['runs', command!, ...rest, '--runs-db', url, '--data', data]);
    assert.deepEqual(result, { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: --runs-db and --data name two run stores and runs ${command} reads one: give --runs-db for the runs in PostgreSQL, or --data for the data directory's runs.sqlite\n` }, command);
  }
  // Each alone reads its own store.
  const listed = async (where: string[]) => (JSON.parse((await runCliInProcess(['runs', 'list', ...where, '--json'])).stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId);
  assert.deepEqual(await listed(['--runs-db', url]), [inPostgres]);
  assert.deepEqual(await listed(['--data', data]), [inData]);
});

test('with RUNPRINT_RUNS_DB and --data, the runs are read from PostgreSQL and stderr says --data is not used; runs verify says what --data is for', { timeout: 30_000 }, async () => {
  const { url, inPostgres, data } = await twoStores();
  process.env['RUNPRINT_RUNS_DB'] = url;
  try {
    const list = await runCliInProcess(['runs', 'list', '--data', data, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId), [inPostgres]);
    assert.equal(list.stderr, 'runprint: runs list reads the runs from the PostgreSQL run store RUNPRINT_RUNS_DB names, not from --data, which it does not use (unset RUNPRINT_RUNS_DB to read the data directory\'s runs.sqlite)\n');
    // Without --data, nothing to say.
    assert.equal((await runCliInProcess(['runs', 'list', '--json'])).stderr, '');
    const verify = await runCliInProcess(['runs', 'verify', inPostgres, '--data', data, '--json']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr, 'runprint: runs verify reads the run from the PostgreSQL run store RUNPRINT_RUNS_DB names; --data names only the data directory of the keys it checks with (and its log.sqlite, when no other log is given)\n');
  } finally {
    delete process.env['RUNPRINT_RUNS_DB'];
  }
  const verify = await runCliInProcess(['runs', 'verify', inPostgres, '--runs-db', url, '--data', data, '--json']);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(verify.stderr, '');
});
