/**
 * A PostgreSQL log database that does not exist is said not to exist, as the run store says it:
 * `serve --log-db` stops with ERR_STORE_UNAVAILABLE saying how to make it, and `runs verify
 * --log-db`, which only reads the log, gets ERR_INPUT_NOT_FOUND; before, both said "PostgreSQL log
 * database is unavailable (3D000)", as for an outage. One line, no stack trace, no credentials.
 * runs verify makes no log where there is none (it created empty log tables before).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { pgSchemas, TEST_PG, type PgSchemas } from './helpers/pg-schemas.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint } from './helpers/serve-process.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-log-pg-missing-');
let pgs: PgSchemas;
before(async () => {
  pgs = await pgSchemas();
});
after(async () => {
  await endServeTest(undefined, scratch);
  await pgs.drop();
});

/** A database that does not exist, in a URL with a user name and password (which no message may show), and the URL as messages show it. */
function missingDatabase(): { url: string; shown: string } {
  const url = new URL(TEST_PG);
  url.pathname = `/no_such_db_${randomBytes(6).toString('hex')}`;
  url.username = 'postgres';
  url.password = 'hunter2secret';
  return { url: url.toString(), shown: `postgres://${url.host}${url.pathname}` };
}

/** What a failed command printed must be one line, with no stack trace and no credentials. */
function oneCleanLine(stderr: string): void {
  assert.equal(stderr.split('\n').filter((line) => line !== '').length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at |hunter2secret|postgres:\/\/postgres@|Error:/, stderr);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('serve --log-db with a database that does not exist: ERR_STORE_UNAVAILABLE naming it and how to make it', { timeout: 60_000 }, async () => {
  const missing = missingDatabase();
  const served = await runRunprint(['serve', '--data', scratch.tempDir(), '--port', '0', '--log-db', missing.url]);
  assert.equal(served.code, 4, served.stderr);
  assert.match(served.stderr, new RegExp(`^runprint: ERR_STORE_UNAVAILABLE: the PostgreSQL log database ${escape(missing.shown)} does not exist \\(3D000\\): create it \\(createdb\\), or name another in the URL\\n$`));
  oneCleanLine(served.stderr);
});

test('runs verify --log-db with a database that does not exist: ERR_INPUT_NOT_FOUND (a reader), the run store elsewhere', { timeout: 60_000 }, async () => {
  const { url: runsUrl } = await pgs.fresh('runprint_log_missing');
  const store = await PostgresRuns.open(runsUrl);
  const { run, bytes } = chatRun('Is the log there?');
  try {
    await store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)]);
  } finally {
    await store.close();
  }
  const logKey = (await generateKeyFiles('localhost/runprint')).verifierKey;
  const missing = missingDatabase();
  const verified = await runRunprint(['runs', 'verify', run.record.captureId, '--runs-db', runsUrl, '--log-db', missing.url, '--log-key', logKey]);
  assert.equal(verified.code, 4, verified.stderr);
  assert.match(verified.stderr, new RegExp(`^runprint: ERR_INPUT_NOT_FOUND: the PostgreSQL database ${escape(missing.shown)} does not exist \\(3D000\\)\\n$`));
  oneCleanLine(verified.stderr);

  // A schema of a database that exists, without a log: named, and no table is made there.
  const { schema, url: empty } = await pgs.fresh('runprint_log_none');
  const none = await runRunprint(['runs', 'verify', run.record.captureId, '--runs-db', runsUrl, '--log-db', empty, '--log-key', logKey]);
  assert.equal(none.code, 4, none.stderr);
  assert.match(none.stderr, new RegExp(`^runprint: ERR_INPUT_NOT_FOUND: no log in the PostgreSQL database ${escape(`postgres://${new URL(TEST_PG).host}${new URL(TEST_PG).pathname}`)} \\(schema ${schema}\\): runprint serve --log-db creates it when it starts\\n$`));
  oneCleanLine(none.stderr);
  assert.equal((await pgs.admin.query('SELECT 1 FROM pg_tables WHERE schemaname = $1', [schema])).rowCount, 0, 'no table was made');
});
