/**
 * A serve whose PostgreSQL run store is locked by another session as it starts waits for it, and
 * says so on stderr after 2 s instead of waiting silently; it starts once the lock is released.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-pg-start-');
after(async () => {
  await killServeProcesses();
  scratch.removeAll();
});

test('a locked PostgreSQL run store at start: serve says what it waits for, then starts once the lock is released', { timeout: 60_000 }, async () => {
  const pgs = await pgSchemas();
  const { url } = await pgs.fresh('runprint_start_wait');
  const holder = new pg.Client({ connectionString: url });
  try {
    await (await PostgresRuns.open(url)).close();
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
    // Long enough that the open waits more than 2 s after serve's own start-up (about 1 s).
    const release = setTimeout(() => void holder.query('ROLLBACK'), 6_000);
    const started = performance.now();
    const serve = await startServe({ data: scratch.tempDir(), args: ['--runs-db', url, '--upstream', 'openai=http://127.0.0.1:9'] });
    clearTimeout(release);
    assert.ok(performance.now() - started >= 5_500, 'it waited for the lock');
    assert.match(serve.stderr(), /runprint: capture: waiting for the PostgreSQL run store \(another session holds a lock on its tables, or the server is slow to answer\); serve gives up after 30 s\n/);
    assert.equal((await fetch(`${serve.base}/healthz`)).status, 200);
    assert.equal(await serve.stop(), 0);
  } finally {
    await holder.end().catch(() => undefined);
    await pgs.drop();
  }
});
