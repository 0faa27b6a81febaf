/**
 * Named steps (`runprint-steps`) on a PostgreSQL run store are kept in the store: two serves on it
 * link one agent's calls whichever serve each call reaches, a serve started after a restart
 * links the next call to the last one before it, calls started together on two serves follow
 * from the same run, and a failed call stands for what it followed from. A run_steps table of
 * another shape is refused unchanged. (On SQLite, steps stay in the process: capture-node-steps.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { postgresServeTest } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const fixture = postgresServeTest('runprint-pg-steps-');
const scratch = fixture.scratch;

interface Call {
  status: number;
  runId: string | null;
  parents: string[];
}

/** One chat call through `serve` with these headers, answered whole, and its record's run identity and parents. */
async function call(serve: ServeProcess, content: string, headers: Record<string, string>, stream = false): Promise<Call> {
  const answer = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-steps', ...headers },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }], stream }),
  });
  await answer.arrayBuffer();
  const captureId = answer.headers.get('runprint-capture-id');
  assert.ok(captureId !== null, 'a capture id');
  // With async durability the record is committed a little after the answer's end.
  const deadline = performance.now() + 10_000;
  for (;;) {
    const found = await fetch(`${serve.base}/v1/runs/${captureId}`);
    if (found.status === 200) {
      const runs = (await found.json()) as { runs: Array<{ record: { runId: string | null; parents: string[] } }> };
      assert.equal(runs.runs.length, 1, `the record of ${content}`);
      return { status: answer.status, runId: runs.runs[0]!.record.runId, parents: runs.runs[0]!.record.parents };
    }
    await found.arrayBuffer();
    assert.ok(performance.now() < deadline, `the record of ${content} within 10 s (${found.status})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const steps = (name: string) => ({ 'runprint-steps': name });

test('two serves on one PostgreSQL store link one agent\'s steps whichever serve each call reaches, and across a restart', { timeout: 90_000 }, async () => {
  const { url } = await fixture.pgs.fresh('runprint_steps');
  // Each serve in a data directory of its own, all with one log (--log-db, one log key): serves on
  // one run store share one log (a serve's own log.sqlite beside another's indexes is refused).
  const logKey = join(scratch.tempDir(), 'log-key.pem');
  writeFileSync(logKey, (await generateKeyFiles('localhost/runprint')).privateKeyPem, { mode: 0o600 });
  const args = ['--runs-db', url, '--log-db', (await fixture.pgs.fresh('runprint_steps_log')).url, '--log-key', logKey, '--upstream', `openai=${fixture.upstream.url}`];
  const a = await startServe({ data: scratch.tempDir(), args });
  const b = await startServe({ data: scratch.tempDir(), args });

  const one = await call(a, 'one', steps('agent-1'));
  assert.deepEqual(one.parents, [], 'the first step follows from nothing');
  const two = await call(b, 'two', steps('agent-1'));
  assert.deepEqual(two.parents, [one.runId], 'the step on the other serve follows from the one before it');
  const other = await call(b, 'other agent', steps('agent-2'));
  assert.deepEqual(other.parents, [], 'another name is other steps');
  const three = await call(a, 'three', steps('agent-1'));
  assert.deepEqual(three.parents, [two.runId]);

  // Started together, one on each serve: both follow from three; the call after them from both.
  // The upstream answers each 1.5 s late, so both have started (taken) before either ends.
  fixture.upstream.enqueue({ kind: 'text', text: 'left', headersDelayMs: 1_500 }, { kind: 'text', text: 'right', headersDelayMs: 1_500 });
  const [left, right] = await Promise.all([call(a, 'left', steps('agent-1')), call(b, 'right', steps('agent-1'))]);
  assert.deepEqual(left.parents, [three.runId]);
  assert.deepEqual(right.parents, [three.runId]);
  const joined = await call(b, 'joined', steps('agent-1'));
  assert.deepEqual([...joined.parents].sort(), [left.runId, right.runId].sort());

  // A failed call has no run identity: the call after it follows from what it followed from.
  fixture.upstream.enqueue({ kind: 'error', status: 500 });
  const failed = await call(a, 'failed', steps('agent-1'));
  assert.equal(failed.status, 500);
  assert.equal(failed.runId, null);
  assert.deepEqual(failed.parents, [joined.runId]);
  const retried = await call(b, 'retried', steps('agent-1'));
  assert.deepEqual(retried.parents, [joined.runId], 'the retry follows from what the failed attempt followed from');

  // Both serves stop; a new one on the store links the next step to the last one before.
  assert.equal(await a.stop(), 0);
  assert.equal(await b.stop(), 0);
  const c = await startServe({ data: scratch.tempDir(), args });
  const after = await call(c, 'after the restart', steps('agent-1'));
  assert.deepEqual(after.parents, [retried.runId]);
  const rows = await fixture.pgs.admin.query(`SELECT name, ended_calls FROM ${new URL(url).searchParams.get('options')!.split('=')[1]}.run_steps ORDER BY name`);
  assert.deepEqual(rows.rows, [{ name: 'agent-1', ended_calls: 1 }, { name: 'agent-2', ended_calls: 1 }]);
  assert.equal(await c.stop(), 0);
});

test('with async durability, one serve\'s steps on PostgreSQL link each call to the one before, streamed or not', { timeout: 60_000 }, async () => {
  const { url } = await fixture.pgs.fresh('runprint_steps_async');
  const serve = await startServe({ data: scratch.tempDir(), args: ['--runs-db', url, '--upstream', `openai=${fixture.upstream.url}`, '--capture-durability', 'async'] });
  // The answer's end leaves before the store has the step's end: the next call's take waits for it.
  let before: Call | undefined;
  for (let index = 0; index < 6; index++) {
    const now = await call(serve, `async ${index}`, steps('agent-async'), index % 2 === 1);
    assert.deepEqual(now.parents, before === undefined ? [] : [before.runId], `call ${index}`);
    before = now;
  }
  assert.equal(await serve.stop(), 0);
});

test('a run_steps table of another shape is refused with the run store, the schema unchanged: serve does not start', { timeout: 60_000 }, async () => {
  const { schema, url } = await fixture.pgs.fresh('runprint_steps_shape');
  await fixture.pgs.admin.query(`CREATE TABLE ${schema}.run_steps (name text PRIMARY KEY, ended jsonb NOT NULL)`);
  await fixture.pgs.admin.query(`INSERT INTO ${schema}.run_steps VALUES ('kept', '[1]')`);
  const serve = startServe({ data: scratch.tempDir(), args: ['--runs-db', url, '--upstream', `openai=${fixture.upstream.url}`] });
  await assert.rejects(serve, (error: Error) => {
    assert.match(error.message, /ERR_STORE_CORRUPT/);
    assert.match(error.message, new RegExp(`the PostgreSQL database \\S+ \\(schema ${schema}\\) holds tables of another shape: not a runprint run store of this version, nor of an older layout this version upgrades`));
    return true;
  });
  // Refused in the transaction that would make the run store: none of its tables was made.
  const tables = await fixture.pgs.admin.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
  assert.deepEqual(tables.rows.map((row: { table_name: string }) => row.table_name), ['run_steps']);
  const columns = await fixture.pgs.admin.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'run_steps' ORDER BY column_name`, [schema]);
  assert.deepEqual(columns.rows.map((row: { column_name: string }) => row.column_name), ['ended', 'name']);
  assert.deepEqual((await fixture.pgs.admin.query(`SELECT name, ended FROM ${schema}.run_steps`)).rows, [{ name: 'kept', ended: [1] }]);
});
