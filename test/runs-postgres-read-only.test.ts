/**
 * `runprint runs list` and `runs show` with `--runs-db postgres://...` read the run store without
 * writing to it: a SELECT-only role can use them; an empty schema is not made a run store (no run
 * store there: ERR_INPUT_NOT_FOUND naming the database without its credentials, as SQLite names a
 * data directory without runs.sqlite); a database that does not exist is said not to exist; a
 * store of an older layout is read where this code can read it, and otherwise named as one serve
 * upgrades.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { pgSchemas, TEST_PG, type PgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-runs-pg-read-');
let pgs: PgSchemas;
const roles: string[] = [];
before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB']) delete process.env[name];
  pgs = await pgSchemas();
});
after(async () => {
  await endServeTest(undefined, scratch);
  for (const role of roles) await pgs.admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
  await pgs.drop();
});

const schemaOf = (url: string) => new URL(url).searchParams.get('options')!.replace('-c search_path=', '');

/** A database URL as messages show it (no user, password or query), as a regular expression's text. */
function shown(url: URL | string): string {
  const { protocol, host, pathname } = new URL(url);
  return `${protocol}//${host}${pathname}`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A run store in a fresh schema holding one run; its URL and the run's capture id. */
async function storeWithRun(): Promise<{ url: string; captureId: string }> {
  const { url } = await pgs.fresh('runprint_read_only');
  const store = await PostgresRuns.open(url);
  try {
    const { run, bytes } = chatRun('Hello?');
    await store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', false)]);
    return { url, captureId: run.record.captureId };
  } finally {
    await store.close();
  }
}

/** The tables in `schema`. */
async function tables(schema: string): Promise<string[]> {
  return ((await pgs.admin.query('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', [schema])).rows as { tablename: string }[]).map((row) => row.tablename);
}

test('a role that may only SELECT lists and shows the runs', { timeout: 30_000 }, async () => {
  const { url, captureId } = await storeWithRun();
  const schema = schemaOf(url);
  const role = `runprint_reader_${randomBytes(4).toString('hex')}`;
  roles.push(role);
  await pgs.admin.query(`CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA ${schema} TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
  const reader = new URL(url);
  reader.username = role;
  const list = await runCliInProcess(['runs', 'list', '--runs-db', reader.toString(), '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId), [captureId]);
  const show = await runCliInProcess(['runs', 'show', captureId, '--runs-db', reader.toString()]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`capture id +${captureId}`));
});

test('an empty schema is no run store: ERR_INPUT_NOT_FOUND naming the database without its password, and nothing is created', { timeout: 30_000 }, async () => {
  const { url } = await pgs.fresh('runprint_read_empty');
  const withPassword = new URL(url);
  withPassword.username = 'postgres';
  withPassword.password = 'hunter2secret';
  for (const command of [['runs', 'list'], ['runs', 'show', 'rp-run-abc']]) {
    const result = await runCliInProcess([...command, '--runs-db', withPassword.toString()]);
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, new RegExp(`^runprint: ERR_INPUT_NOT_FOUND: no run store in the PostgreSQL database ${shown(url)} \\(schema runprint_read_empty_[0-9a-f]+\\): runprint serve --runs-db creates it`, 'm'));
    assert.doesNotMatch(result.stderr, /hunter2secret/);
  }
  assert.deepEqual(await tables(schemaOf(url)), [], 'no table was made');
});

test('a database that does not exist is said not to exist, by the runs commands and by serve', { timeout: 30_000 }, async () => {
  const name = `runprint_missing_${randomBytes(4).toString('hex')}`;
  const missing = new URL(TEST_PG);
  missing.pathname = `/${name}`;
  const list = await runCliInProcess(['runs', 'list', '--runs-db', missing.toString()]);
  assert.equal(list.code, 4);
  assert.match(list.stderr, new RegExp(`^runprint: ERR_INPUT_NOT_FOUND: the PostgreSQL database ${shown(missing)} does not exist \\(3D000\\)`, 'm'));
  await assert.rejects(startServe({ data: scratch.tempDir(), args: ['--runs-db', missing.toString(), '--upstream', 'openai=http://127.0.0.1:9'] }), (error: Error) => {
    assert.match(error.message, new RegExp(`ERR_STORE_UNAVAILABLE: the PostgreSQL run database ${shown(missing)} does not exist \\(3D000\\)`));
    return true;
  });
});

test('a store of an older layout: read where it can be (no NUL-safe name flags yet), else named as one serve upgrades; nothing is changed', { timeout: 30_000 }, async () => {
  const { url, captureId } = await storeWithRun();
  const schema = schemaOf(url);
  await pgs.admin.query(`ALTER TABLE ${schema}.runs DROP COLUMN model_escaped, DROP COLUMN served_model_escaped`);
  const list = await runCliInProcess(['runs', 'list', '--runs-db', url, '--model', 'gpt-4o', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { runs: Array<{ captureId: string; model: string }> }).runs.map((run) => [run.captureId, run.model]), [[captureId, 'gpt-4o']]);
  const columns = await pgs.admin.query("SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'runs' AND column_name = 'model_escaped'", [schema]);
  assert.equal(columns.rowCount, 0, 'the store is not migrated by a read');
  // A layout from before the parents table: only serve's migration makes it readable.
  await pgs.admin.query(`DROP TABLE ${schema}.run_parents CASCADE`);
  const before = await tables(schema);
  const older = await runCliInProcess(['runs', 'list', '--runs-db', url]);
  assert.equal(older.code, 4);
  assert.match(older.stderr, new RegExp(`^runprint: ERR_STORE_UNAVAILABLE: the run store in the PostgreSQL database ${shown(url)} \\(schema runprint_read_only_[0-9a-f]+\\) has an older layout than this runprint reads: runprint serve --runs-db with this database upgrades it when it starts`, 'm'));
  assert.deepEqual(await tables(schema), before, 'nothing was made');
});
