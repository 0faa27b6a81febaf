/**
 * A NUL in a captured call (`\u0000` in its JSON: the model name, a message) on a PostgreSQL run
 * store, through a real serve: the run is recorded as on SQLite (PostgreSQL text cannot hold a
 * NUL, and jsonb refuses the escape \u0000), the calls after it are recorded too, and its model
 * name is found as it was sent. A NUL in a query is a client's input, not an outage: the same
 * answers as SQLite (no run), never 503. So is a model name longer than a btree index entry can
 * be. A store of the layout before is migrated when opened.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { postgresServeTest } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';
import { chatRun } from './helpers/stored-runs.ts';

const fixture = postgresServeTest('runprint-pg-nul-');
const scratch = fixture.scratch;

/** Waits until `condition` resolves true (checked every 50 ms), failing after `ms`. */
async function until(condition: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`waited ${ms} ms for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const chat = (base: string, model: string, content: string) =>
  fetch(`${base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify({ model, messages: [{ role: 'user', content }] }) });

interface Health {
  capture: { healthy: boolean; recorded: number; failed: number; held: number };
}

test('serve on PostgreSQL records a call with a NUL in its model and messages, and the calls after it; queries with a NUL answer as SQLite', { timeout: 60_000 }, async () => {
  const { url } = await fixture.pgs.fresh('runprint_nul');
  const serve = await startServe({ data: scratch.tempDir(), args: ['--runs-db', url, '--upstream', `openai=${fixture.upstream.url}`] });
  const nul = 'gpt-4o\u0000evil';
  // The JSON string of that name: another name, which must not find it (nor be found by it).
  const lookalike = JSON.stringify(nul);
  for (const [model, content] of [[nul, 'a\u0000b'], ['gpt-4o', 'normal'], [lookalike, 'lookalike']]) {
    const answer = await chat(serve.base, model!, content!);
    assert.equal(answer.status, 200);
    await answer.arrayBuffer();
  }
  const health = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as Health).capture;
  await until(async () => (await health()).recorded === 3, 'the three calls recorded');
  const capture = await health();
  assert.deepEqual([capture.healthy, capture.held, capture.failed], [true, 0, 0]);

  const runs = async (query: string) => {
    const answer = await fetch(`${serve.base}/v1/runs?${query}`);
    assert.equal(answer.status, 200, `GET /v1/runs?${query}: ${answer.status}`);
    return ((await answer.json()) as { runs: Array<{ model: string; record: { served: { model?: { value: string } } | null } }> }).runs;
  };
  const found = await runs(`model=${encodeURIComponent(nul)}`);
  assert.equal(found.length, 1);
  assert.equal(found[0]!.model, nul, 'the model as it was sent, NUL included');
  assert.equal((await runs(`servedModel=${encodeURIComponent(nul)}`)).length, 1, 'the served model (the fake echoes the name) is found too');
  assert.deepEqual((await runs(`model=${encodeURIComponent(lookalike)}`)).map((run) => run.model), [lookalike]);
  assert.deepEqual((await runs('model=gpt-4o')).map((run) => run.model), ['gpt-4o']);
  assert.equal((await runs('status=complete&provider=openai')).length, 3);
  // A client's NUL names no run: 200 and none, as on SQLite (it was 503 ERR_STORE_UNAVAILABLE, 22021).
  assert.deepEqual(await runs('model=%00abc'), []);
  assert.deepEqual(await runs('servedModel=%00'), []);
  const counts = await fetch(`${serve.base}/v1/runs/counts?model=%00abc`);
  assert.equal(counts.status, 200);
  assert.equal(((await counts.json()) as { runs: number }).runs, 0);
  const groups = await fetch(`${serve.base}/v1/runs/groups?by=request&model=%00abc`);
  assert.equal(groups.status, 200);
  // A NUL in a run id is no run id: refused before the store is asked (400, not 503 from PostgreSQL).
  const nulId = await fetch(`${serve.base}/v1/runs/rp-run-%00`);
  assert.equal(nulId.status, 400);
  assert.equal(((await nulId.json()) as { error: { code: string } }).error.code, 'ERR_HTTP_BAD_REQUEST');
  // A well-formed run identity no run has: 404.
  assert.equal((await fetch(`${serve.base}/v1/runs/rp-run-v1-sha256-${'0'.repeat(64)}`)).status, 404);
  const all = (await (await fetch(`${serve.base}/v1/runs/counts`)).json()) as { runs: number; models: Array<{ model: string; runs: number }> };
  assert.equal(all.runs, 3);
  assert.deepEqual(all.models.map((group) => group.model).sort(), [lookalike, 'gpt-4o', nul].sort());
  assert.equal(await serve.stop(), 0);
  assert.doesNotMatch(serve.stderr(), /ERR_STORE|wait in/);
});

test('serve on PostgreSQL records a call whose model name is longer than a btree index entry can be (2,704 bytes), and finds it by that name', { timeout: 60_000 }, async () => {
  const { url } = await fixture.pgs.fresh('runprint_long_model');
  const serve = await startServe({ data: scratch.tempDir(), args: ['--runs-db', url, '--upstream', `openai=${fixture.upstream.url}`] });
  // Random text, which PostgreSQL cannot compress below the bound either.
  const long = randomBytes(3_000).toString('base64url');
  for (const model of [long, 'gpt-4o']) {
    const answer = await chat(serve.base, model, 'hello');
    assert.equal(answer.status, 200);
    await answer.arrayBuffer();
  }
  const health = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as Health).capture;
  await until(async () => (await health()).recorded === 2, 'both calls recorded');
  assert.deepEqual([(await health()).healthy, (await health()).held], [true, 0]);
  const found = (await (await fetch(`${serve.base}/v1/runs?model=${long}`)).json()) as { runs: Array<{ model: string }> };
  assert.deepEqual(found.runs.map((run) => run.model), [long]);
  const served = (await (await fetch(`${serve.base}/v1/runs?servedModel=${long}`)).json()) as { runs: unknown[] };
  assert.equal(served.runs.length, 1);
  assert.equal(await serve.stop(), 0);
});

test('a PostgreSQL run store of the layout before NUL-safe and long names is migrated when opened, its runs kept', { timeout: 30_000 }, async () => {
  const { url } = await fixture.pgs.fresh('runprint_nul_migrate');
  const store = await PostgresRuns.open(url);
  const { run, bytes } = chatRun('before');
  await store.put([runToStore(run, bytes, defaultContentPolicy(), 'proxy', false)]);
  await store.close();
  // The layout before: no escaped flags, the status and provider indexes on the plain jsonb cast, btree indexes of the names.
  const admin = fixture.pgs.admin;
  const schema = new URL(url).searchParams.get('options')!.replace('-c search_path=', '');
  await admin.query(`ALTER TABLE ${schema}.runs DROP COLUMN model_escaped, DROP COLUMN served_model_escaped`);
  await admin.query(`DROP INDEX ${schema}.runs_ending; DROP INDEX ${schema}.runs_format`);
  await admin.query(`CREATE INDEX runs_format ON ${schema}.runs ((record::jsonb ->> 'format'), seq)`);
  await admin.query(`CREATE INDEX runs_ending ON ${schema}.runs ((CASE WHEN record::jsonb ->> 'incomplete' IS NULL THEN 'complete' ELSE 'incomplete' END), seq)`);
  await admin.query(`DROP INDEX ${schema}.runs_model; DROP INDEX ${schema}.runs_served_model`);
  await admin.query(`CREATE INDEX runs_model ON ${schema}.runs (model); CREATE INDEX runs_served_model ON ${schema}.runs (served_model)`);
  const again = await PostgresRuns.open(url);
  try {
    const nul = chatRun('after \u0000');
    const captured = { ...nul.run, composition: { ...nul.run.composition!, model: { ...nul.run.composition!.model, name: 'gpt\u0000' } } };
    await again.put([runToStore(captured, nul.bytes, defaultContentPolicy(), 'proxy', false)]);
    assert.deepEqual((await again.list({})).map((stored) => stored.model), ['gpt\u0000', 'gpt-4o']);
    assert.deepEqual((await again.list({ model: 'gpt\u0000', status: 'complete' })).length, 1);
    const indexes = (await admin.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname IN ('runs_ending', 'runs_format') ORDER BY indexname`, [schema])).rows as { indexname: string; indexdef: string }[];
    assert.deepEqual(indexes.map((index) => index.indexname), ['runs_ending', 'runs_format']);
    for (const index of indexes) assert.match(index.indexdef, /replace\(record/, `${index.indexname} is made again NUL-safe`);
    const names = (await admin.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname IN ('runs_model', 'runs_served_model')`, [schema])).rows as { indexdef: string }[];
    assert.equal(names.length, 2);
    for (const index of names) assert.match(index.indexdef, /USING hash/);
    const long = 'm'.repeat(9_000) + randomBytes(2_000).toString('base64url');
    const other = chatRun('long');
    await again.put([runToStore({ ...other.run, composition: { ...other.run.composition!, model: { ...other.run.composition!.model, name: long } } }, other.bytes, defaultContentPolicy(), 'proxy', false)]);
    assert.equal((await again.list({ model: long })).length, 1);
  } finally {
    await again.close();
  }
});
