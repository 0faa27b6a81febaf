/**
 * A PostgreSQL connection the server closes while a transaction holds it between two statements
 * (`pg_terminate_backend`, a restart, a failover) fails that transaction with
 * ERR_STORE_UNAVAILABLE and is not given back to the pool; it must not reach the process as an
 * 'error' event nobody listens to (serve reported those as ERR_INTERNAL, a bug). The pool then
 * gives a working connection.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { postgresTransaction } from '../src/store/postgres-transaction.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';

let pgs: PgSchemas;
before(async () => {
  pgs = await pgSchemas();
});
after(() => pgs.drop());

test('a connection terminated between two statements of a transaction fails it with ERR_STORE_UNAVAILABLE, and the pool goes on', async () => {
  const { url } = await pgs.fresh('runprint_lost');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined);
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => void uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    await assert.rejects(
      postgresTransaction(pool, 'run', 'BEGIN', async (client) => {
        const pid = ((await client.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid;
        await pgs.admin.query('SELECT pg_terminate_backend($1)', [pid]);
        // The server's notice of the termination arrives while no statement runs.
        await new Promise((resolve) => setTimeout(resolve, 300));
        await client.query('SELECT 1');
      }),
      (error: { code?: string }) => error.code === 'ERR_STORE_UNAVAILABLE',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(uncaught, [], 'no error event reached the process');
    const answer = await postgresTransaction(pool, 'run', 'BEGIN', async (client) => (await client.query('SELECT 41 + 1 AS n')).rows[0] as { n: number });
    assert.equal(answer.n, 42, 'the pool gives a working connection');
  } finally {
    process.off('uncaughtException', onUncaught);
    await pool.end();
  }
});
