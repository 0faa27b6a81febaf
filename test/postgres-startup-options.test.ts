/**
 * A PostgreSQL server that refuses the connection's startup options (the URL's `?options=`) says
 * so, with the SQLSTATE and the names of the settings the options set (never their values, the
 * password or the server's text): a syntax error (42601), an unknown setting (42704), a value
 * refused (22023), a setting a session cannot change (55P02), one the role may not (42501). Before,
 * each was "PostgreSQL run database is unavailable (42601)", as for an outage. A server with no
 * connection left (53300) says that too. Through runs list, serve, and the stores' open directly.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PostgresReplayLinks } from '../src/replay/postgres-replay-links.ts';
import { PostgresLog, postgresUnavailable } from '../src/store/postgres-log.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { pgSchemas, TEST_PG, type PgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-pg-options-');
let pgs: PgSchemas;
const roles: string[] = [];
before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB', 'PGOPTIONS']) delete process.env[name];
  pgs = await pgSchemas();
});
after(async () => {
  await endServeTest(undefined, scratch);
  for (const role of roles) await pgs.admin.query(`DROP ROLE IF EXISTS ${role}`);
  await pgs.drop();
});

const SECRET = 'hunter2-options';
const server = new URL(TEST_PG);
const AT = `${server.hostname}:${server.port || '5432'}`;
const HINT = '; options takes -c name=value settings, such as ?options=-c%20search_path%3Dname';

/** The test database's URL with a password, `options` as the startup options, and `user` as the user. */
function withOptions(options: string, user = server.username || 'postgres'): string {
  const url = new URL(TEST_PG);
  url.username = user;
  url.password = SECRET;
  url.searchParams.set('options', options);
  return url.href;
}

const refused = (what: 'run' | 'log', why: string) => `the PostgreSQL server at ${AT} refused the startup options of the ${what} database's connection (the URL's options parameter): ${why}`;

function clean(stderr: string): void {
  assert.equal(stderr.split('\n').filter((line) => line !== '').length, 1, stderr);
  assert.doesNotMatch(stderr, /hunter2|\n\s+at |Error:/, stderr);
}

test('runs list with ?options=garbage: the server refused the startup options (42601), and what options takes', async () => {
  const listed = await runCliInProcess(['runs', 'list', '--runs-db', withOptions('garbage')]);
  assert.equal(listed.code, 4, listed.stderr);
  assert.equal(listed.stderr, `runprint: ERR_STORE_UNAVAILABLE: ${refused('run', 'they are not settings the server can read (42601)')}${HINT}\n`);
  clean(listed.stderr);
});

test('an unknown setting (42704) and a refused value (22023): the settings are named, not their values', async () => {
  const unknown = await runCliInProcess(['runs', 'list', '--runs-db', withOptions('-c runprint_no_such_setting=1')]);
  assert.equal(unknown.code, 4, unknown.stderr);
  assert.equal(unknown.stderr, `runprint: ERR_STORE_UNAVAILABLE: ${refused('run', 'a setting they name does not exist (42704; they set runprint_no_such_setting)')}\n`);

  const value = await runCliInProcess(['runs', 'list', '--runs-db', withOptions(`-c search_path=public --work-mem=${SECRET}`)]);
  assert.equal(value.code, 4, value.stderr);
  assert.equal(value.stderr, `runprint: ERR_STORE_UNAVAILABLE: ${refused('run', 'a setting has a value the server refuses (22023; they set search_path, work_mem)')}\n`);
  clean(value.stderr);
});

test('serve --runs-db and --log-db with a refused value: the same words', { timeout: 90_000 }, async () => {
  for (const [args, what] of [
    [['--no-log', '--runs-db'], 'run'],
    [['--no-capture', '--log-db'], 'log'],
  ] as const) {
    const served = await runRunprint(['serve', '--port', '0', '--data', scratch.tempDir(), ...args, withOptions('-c lock_timeout=-5')], { timeoutMs: 60_000 });
    assert.equal(served.code, 4, served.stderr);
    assert.equal(served.stderr, `runprint: ERR_STORE_UNAVAILABLE: ${refused(what, 'a setting has a value the server refuses (22023; they set lock_timeout)')}\n`);
    clean(served.stderr);
  }
});

test('the stores opened directly: a setting a session cannot change (55P02), one the role may not (42501), and replay links', async () => {
  await assert.rejects(PostgresRuns.open(withOptions('-c shared_buffers=1')), { code: 'ERR_STORE_UNAVAILABLE', message: refused('run', 'a setting they name cannot be set for a session (55P02; they set shared_buffers)') });
  await assert.rejects(PostgresReplayLinks.open(withOptions('garbage')), { code: 'ERR_STORE_UNAVAILABLE', message: `${refused('run', 'they are not settings the server can read (42601)')}${HINT}` });

  const role = `runprint_options_${randomBytes(5).toString('hex')}`;
  await pgs.admin.query(`CREATE ROLE ${role} LOGIN`);
  roles.push(role);
  await assert.rejects(PostgresLog.open(withOptions('-c log_min_messages=debug', role)), {
    code: 'ERR_STORE_UNAVAILABLE',
    message: refused('log', `the user ${role} may not change a setting they name (42501; they set log_min_messages)`),
  });
});

test('a server with no connection left for the role (53300) says so, at the first connection and after it', async () => {
  const role = `runprint_no_slots_${randomBytes(5).toString('hex')}`;
  await pgs.admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`);
  roles.push(role);
  const url = new URL(TEST_PG);
  url.username = role;
  await assert.rejects(PostgresRuns.open(url.href, { readOnly: true }), {
    code: 'ERR_STORE_UNAVAILABLE',
    message: `the PostgreSQL server at ${AT} has no connection left for the run database (53300: max_connections, or the role's or the database's connection limit, is reached)`,
  });
  assert.equal(postgresUnavailable(Object.assign(new Error('too many connections'), { code: '53300' }), 'log').message, "PostgreSQL log database is unavailable (53300: the server has no connection left: max_connections, or the role's or the database's connection limit, is reached)");
});
