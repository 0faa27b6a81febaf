/**
 * A PostgreSQL server that refuses the connection is said to in words, with what the URL names:
 * a role that does not exist (SQLSTATE 28000) names the URL's user and says authentication failed
 * or the role does not exist, where the message gave "(28000)" alone; a port nothing listens on
 * names the host and port (ECONNREFUSED). Never the password; one line, no stack trace. Through
 * `runs list --runs-db`, `serve --runs-db` and `serve --log-db`, against the test database's server.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TEST_PG } from './helpers/pg-schemas.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-pg-connect-');
after(() => endServeTest(undefined, scratch));

const SECRET = 'hunter2-never-shown';
const server = new URL(TEST_PG);

function clean(stderr: string): void {
  assert.equal(stderr.split('\n').filter((text) => text !== '').length, 1, stderr);
  assert.doesNotMatch(stderr, /hunter2|\n\s+at |Error:/, stderr);
}

test('a role the server does not know: "refused the user NAME ... authentication failed, or the role does not exist (28000)"', { timeout: 60_000 }, async () => {
  const url = new URL(TEST_PG);
  url.username = 'runprint_no_such_role';
  url.password = SECRET;
  const where = `${server.hostname}:${server.port || '5432'}`;
  for (const [args, what] of [
    [['runs', 'list', '--runs-db', url.href], 'run'],
    [['serve', '--port', '0', '--data', scratch.tempDir(), '--no-log', '--runs-db', url.href], 'run'],
    [['serve', '--port', '0', '--data', scratch.tempDir(), '--no-capture', '--log-db', url.href], 'log'],
  ] as const) {
    const result = await runRunprint([...args]);
    assert.equal(result.code, 4, result.stderr);
    assert.equal(result.stderr, `runprint: ERR_STORE_UNAVAILABLE: the PostgreSQL server at ${where} refused the user runprint_no_such_role for the ${what} database: authentication failed, or the role does not exist (28000)\n`, args.join(' '));
    clean(result.stderr);
  }
});

test('a port nothing listens on: the host and port are named (ECONNREFUSED)', { timeout: 60_000 }, async () => {
  const url = `postgres://someone:${SECRET}@127.0.0.1:1/db`;
  for (const [args, what] of [
    [['runs', 'list', '--runs-db', url], 'run'],
    [['serve', '--port', '0', '--data', scratch.tempDir(), '--no-log', '--runs-db', url], 'run'],
  ] as const) {
    const result = await runRunprint([...args]);
    assert.equal(result.code, 4, result.stderr);
    assert.equal(result.stderr, `runprint: ERR_STORE_UNAVAILABLE: the PostgreSQL ${what} database cannot be reached: nothing accepts connections at 127.0.0.1:1 (ECONNREFUSED); is the server running, on that host and port?\n`, args.join(' '));
    clean(result.stderr);
  }
});
