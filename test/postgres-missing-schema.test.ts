/**
 * A PostgreSQL URL whose search_path names no schema that exists is said so, naming the database
 * (without its credentials) and the schemas the search_path lists, with how to make the schema or
 * name another: a command that only reads (runs list, runs verify --log-db) finds no store there
 * (ERR_INPUT_NOT_FOUND, as for an empty schema); serve and replay, which make tables but not
 * schemas, stop with ERR_STORE_UNAVAILABLE. Before, all said "ERR_STORE_UNAVAILABLE: PostgreSQL
 * search_path names no schema that exists", naming neither. One line, no password; no schema is made.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { PostgresReplayLinks } from '../src/replay/postgres-replay-links.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { pgSchemas, TEST_PG, type PgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint } from './helpers/serve-process.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-pg-no-schema-');
let pgs: PgSchemas;
before(async () => {
  for (const name of ['RUNPRINT_RUNS_DB', 'RUNPRINT_LOG_DB']) delete process.env[name];
  pgs = await pgSchemas();
});
after(async () => {
  await endServeTest(undefined, scratch);
  await pgs.drop();
});

const SECRET = 'hunter2-no-schema';
const base = new URL(TEST_PG);
/** The database as messages show it. */
const DATABASE = `postgres://${base.host}${base.pathname}`;

/** The test database's URL with a password, and a search_path of `path` (as written in SQL, without spaces: options splits at them). */
function withSearchPath(path: string): string {
  const url = new URL(TEST_PG);
  url.username ||= 'postgres';
  url.password = SECRET;
  url.searchParams.set('options', `-c search_path=${path}`);
  return url.href;
}

const missing = () => `runprint_no_schema_${randomBytes(5).toString('hex')}`;

function oneCleanLine(stderr: string): void {
  assert.equal(stderr.split('\n').filter((line) => line !== '').length, 1, stderr);
  assert.doesNotMatch(stderr, /hunter2|\n\s+at |Error:/, stderr);
}

async function schemaExists(schema: string): Promise<boolean> {
  return (await pgs.admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount !== 0;
}

test('runs list: no run store there (ERR_INPUT_NOT_FOUND) naming the database and the schema, and CREATE SCHEMA', async () => {
  const schema = missing();
  const listed = await runCliInProcess(['runs', 'list', '--runs-db', withSearchPath(schema)]);
  assert.equal(listed.code, 4, listed.stderr);
  assert.equal(
    listed.stderr,
    `runprint: ERR_INPUT_NOT_FOUND: no run store in the PostgreSQL database ${DATABASE}: the schema ${schema} that the search_path names does not exist: create it (CREATE SCHEMA ${schema}) for runprint serve --runs-db to make the run store in, or name the run store's schema in the URL (?options=-c%20search_path%3DNAME)\n`,
  );
  oneCleanLine(listed.stderr);
  assert.equal(await schemaExists(schema), false);

  // Several schemas, none there: each is named ("$user" as the server shows it), and the first that is a name is the one to make.
  const other = missing();
  const several = await runCliInProcess(['runs', 'list', '--runs-db', withSearchPath(`"$user",${schema},${other}`)]);
  assert.equal(several.code, 4, several.stderr);
  assert.equal(
    several.stderr,
    `runprint: ERR_INPUT_NOT_FOUND: no run store in the PostgreSQL database ${DATABASE}: none of the schemas the search_path names ("$user", ${schema}, ${other}) exists: create one (CREATE SCHEMA ${schema}) for runprint serve --runs-db to make the run store in, or name the run store's schema in the URL (?options=-c%20search_path%3DNAME)\n`,
  );

  // A name a terminal must not get is escaped, and a long list is cut.
  const odd = await runCliInProcess(['runs', 'list', '--runs-db', withSearchPath(`"a\u001b[31mb",s1,s2,s3,s4,s5`)]);
  assert.equal(odd.code, 4, odd.stderr);
  assert.match(odd.stderr, /\(\\"a\\u001b\[31mb\\", s1, s2, s3, and 2 more\) exists: create one \(CREATE SCHEMA \\"a\\u001b\[31mb\\"\)/);
  assert.doesNotMatch(odd.stderr, /\u001b/);

  // An empty search_path: nothing to make, a schema to name.
  const empty = await runCliInProcess(['runs', 'list', '--runs-db', withSearchPath('')]);
  assert.equal(empty.stderr, `runprint: ERR_INPUT_NOT_FOUND: no run store in the PostgreSQL database ${DATABASE}: the search_path names no schema: name the run store's schema in the URL (?options=-c%20search_path%3DNAME)\n`);
});

test('serve --runs-db and --log-db: ERR_STORE_UNAVAILABLE naming the database and the schema, and CREATE SCHEMA', { timeout: 90_000 }, async () => {
  const schema = missing();
  for (const [args, what] of [
    [['--no-log', '--runs-db'], 'run'],
    [['--no-capture', '--log-db'], 'log'],
  ] as const) {
    const served = await runRunprint(['serve', '--port', '0', '--data', scratch.tempDir(), ...args, withSearchPath(schema)], { timeoutMs: 60_000 });
    assert.equal(served.code, 4, served.stderr);
    assert.equal(
      served.stderr,
      `runprint: ERR_STORE_UNAVAILABLE: in the PostgreSQL ${what} database ${DATABASE}, the schema ${schema} that the search_path names does not exist: create it (CREATE SCHEMA ${schema}), or name another in the URL (?options=-c%20search_path%3DNAME)\n`,
    );
    oneCleanLine(served.stderr);
  }
  assert.equal(await schemaExists(schema), false);
});

test('the stores opened directly: a reader finds no store, a writer (and replay links) is refused, each saying the same', async () => {
  const schema = missing();
  const url = withSearchPath(schema);
  const writer = `in the PostgreSQL run database ${DATABASE}, the schema ${schema} that the search_path names does not exist: create it (CREATE SCHEMA ${schema}), or name another in the URL (?options=-c%20search_path%3DNAME)`;
  await assert.rejects(PostgresRuns.open(url), { code: 'ERR_STORE_UNAVAILABLE', message: writer });
  await assert.rejects(PostgresReplayLinks.open(url), { code: 'ERR_STORE_UNAVAILABLE', message: writer });
  await assert.rejects(PostgresRuns.open(url, { create: false }), { code: 'ERR_INPUT_NOT_FOUND', message: new RegExp(`^no run store in the PostgreSQL database .*: the schema ${schema} that the search_path names does not exist`) });
  await assert.rejects(PostgresLog.open(url, { readOnly: true }), {
    code: 'ERR_INPUT_NOT_FOUND',
    message: `no log in the PostgreSQL database ${DATABASE}: the schema ${schema} that the search_path names does not exist: create it (CREATE SCHEMA ${schema}) for runprint serve --log-db to make the log in, or name the log's schema in the URL (?options=-c%20search_path%3DNAME)`,
  });
});

test('runs verify --log-db naming a schema that does not exist: no log there (ERR_INPUT_NOT_FOUND)', { timeout: 60_000 }, async () => {
  const { url: runsUrl } = await pgs.fresh('runprint_no_schema_runs');
  const store = await PostgresRuns.open(runsUrl);
  const { run, bytes } = chatRun('Is the schema there?');
  try {
    await store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)]);
  } finally {
    await store.close();
  }
  const logKey = (await generateKeyFiles('localhost/runprint')).verifierKey;
  const schema = missing();
  const verified = await runCliInProcess(['runs', 'verify', run.record.captureId, '--runs-db', runsUrl, '--log-db', withSearchPath(schema), '--log-key', logKey]);
  assert.equal(verified.code, 4, verified.stderr);
  assert.match(verified.stderr, new RegExp(`^runprint: ERR_INPUT_NOT_FOUND: no log in the PostgreSQL database .*: the schema ${schema} that the search_path names does not exist: create it \\(CREATE SCHEMA ${schema}\\) for runprint serve --log-db to make the log in`));
  oneCleanLine(verified.stderr);
});
