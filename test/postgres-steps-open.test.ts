/**
 * PostgresSteps.open (src/store/postgres-steps.ts) on the schema of a PostgreSQL run store: the
 * run store's open made run_steps and checked its shape; the steps' own open is one sweep, which
 * forgets names unused for 24 hours, keeps the others, and refuses a schema without the table.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LogError } from '../src/errors.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { PostgresSteps } from '../src/store/postgres-steps.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';

let schemas: PgSchemas;
before(async () => {
  schemas = await pgSchemas();
});
after(async () => {
  await schemas.drop();
});

test("the steps' open forgets names unused for 24 hours and keeps the others; takes and ends then work", async () => {
  const { schema, url } = await schemas.fresh('runprint_steps_open');
  const runs = await PostgresRuns.open(url);
  try {
    await schemas.admin.query(`INSERT INTO ${schema}.run_steps (name, ended, ended_calls, last, used) VALUES ('old', '{a}', 1, '{}', now() - interval '25 hours'), ('recent', '{b}', 1, '{}', now() - interval '23 hours')`);
    const steps = await PostgresSteps.open(url);
    try {
      const names = (await schemas.admin.query(`SELECT name FROM ${schema}.run_steps ORDER BY name`)).rows.map((row: { name: string }) => row.name);
      assert.deepEqual(names, ['recent']);
      assert.deepEqual(await steps.take('recent'), ['b']);
      await steps.end('recent', ['c']);
      assert.deepEqual(await steps.take('recent'), ['c']);
    } finally {
      await steps.close();
    }
  } finally {
    await runs.close();
  }
});

test('a schema without run_steps is refused with ERR_STORE_CORRUPT, and one PostgreSQL does not answer on with ERR_STORE_UNAVAILABLE', async () => {
  const { url } = await schemas.fresh('runprint_steps_none');
  await assert.rejects(PostgresSteps.open(url), (error: unknown) => error instanceof LogError && error.code === 'ERR_STORE_CORRUPT');
  await assert.rejects(PostgresSteps.open('postgres://postgres@127.0.0.1:1/test'), (error: unknown) => error instanceof LogError && error.code === 'ERR_STORE_UNAVAILABLE');
});
