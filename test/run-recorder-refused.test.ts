/**
 * A record the run store refuses for what it holds, not for an outage (a PostgreSQL data
 * exception: here a model name a LATIN1 database cannot hold, 22P05) never holds up the others:
 * the records committed with it are stored, it is set aside (its caller told
 * ERR_STORE_RECORD_REFUSED, counted failed, reported once) and moved to the held-records journal's
 * refused records, kept there and not tried again, neither by this recorder nor at the next start,
 * and the recorder stays healthy. Before, it was held and retried first for ever, and every record
 * after it was held too; then it stayed with the records to commit, tried, refused, reported and
 * counted again at every start. In process and through a real serve; a journal an earlier serve
 * left with a refused record among the records to commit is moved over as it is tried; the
 * documented statement gives refused records back for a start to commit.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { HELD_JOURNAL_FILE } from '../src/cli/serve-capture.ts';
import type { RunprintError } from '../src/errors.ts';
import { HeldJournal } from '../src/store/held-journal.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { chatExchange, HELLO_ANSWER, postExchange } from './helpers/exchanges.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { TEST_PG } from './helpers/pg-schemas.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-refused-');
let upstream: FakeUpstream;
const admin = new pg.Client({ connectionString: TEST_PG });
const databases: string[] = [];
before(async () => {
  upstream = await startFakeUpstream();
  await admin.connect();
});
after(async () => {
  await endServeTest(upstream, scratch);
  for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

/** A fresh database in LATIN1, which cannot hold most of Unicode; its URL. */
async function latin1Database(): Promise<string> {
  const name = `runprint_latin1_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  databases.push(name);
  const url = new URL(TEST_PG);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A model name LATIN1 has no characters for. */
const UNSTORABLE = '模型-1';

/** A chat completions run of `model`, captured now. */
function chat(model: string, user: string) {
  const started = Date.now();
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const requestBytes = encode({ model, messages: [{ role: 'user', content: user }] });
  const responseBytes = encode({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `About ${user}.` } }] });
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
  return { run, bytes: { requestBytes, responseBytes } };
}

/** Waits until `condition` resolves true (checked every 50 ms), failing after `ms`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`waited ${ms} ms for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('in one commit batch, the record the store refuses is set aside to the journal\'s refused records; the others are committed, the recorder stays healthy, and the next start does not try it again', { timeout: 60_000 }, async () => {
  const storage = await PostgresRuns.open(await latin1Database());
  const journalPath = join(scratch.tempDir(), HELD_JOURNAL_FILE);
  const failures: RunprintError[] = [];
  const left: number[] = [];
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), journal: new HeldJournal(journalPath), onFailure: (error) => void failures.push(error), onJournalLeft: (count) => void left.push(count) });
  try {
    // Queued in one turn of the event loop: one batch, the refused record between the others.
    const calls = [chat('gpt-4o', 'one'), chat(UNSTORABLE, 'two'), chat('gpt-4o', 'three'), chat('gpt-4o', 'four')];
    const answers = await Promise.allSettled(calls.map(({ run, bytes }) => recorder.record(run, bytes, 'proxy')));
    assert.deepEqual(answers.map((answer) => answer.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const refused = (answers[1] as PromiseRejectedResult).reason as RunprintError;
    assert.equal(refused.code, 'ERR_STORE_RECORD_REFUSED');
    assert.match(refused.message, /\(22P05\).*capture id [0-9a-f-]{36} is not stored.*kept with the refused records of the held-records journal .*held-runs\.sqlite, not tried again$/);
    assert.deepEqual((await storage.list({})).map((run) => run.model), ['gpt-4o', 'gpt-4o', 'gpt-4o']);
    assert.deepEqual([recorder.healthy, recorder.held, recorder.counts.recorded, recorder.counts.failed, recorder.refused], [true, 0, 3, 1, 1]);
    assert.deepEqual(failures.map((error) => error.code), ['ERR_STORE_RECORD_REFUSED']);
    const journal = new HeldJournal(journalPath);
    assert.deepEqual([journal.count(), journal.load(1 << 20).length], [0, 0], 'not among the records to commit');
    assert.deepEqual(
      journal.refusedRecords().map((kept) => [kept.captureId, kept.recordDigest, kept.code, kept.reason]),
      [[calls[1]!.run.record.captureId, runToStore(calls[1]!.run, calls[1]!.bytes, defaultContentPolicy(), 'proxy', false).recordDigest, 'ERR_STORE_RECORD_REFUSED', 'the PostgreSQL run database refused a record for what it holds (22P05)']],
    );
    journal.close();
    // The next record is committed at once, not held behind it.
    const next = chat('gpt-4o', 'five');
    await recorder.record(next.run, next.bytes, 'proxy');
    assert.equal((await storage.list({})).length, 4);
    assert.equal(recorder.healthy, true);
  } finally {
    await recorder.close();
  }
  assert.deepEqual(left, [], 'nothing waits to be committed');

  // The next start neither tries it again nor reports or counts it again: it says how many are kept.
  const puts: number[] = [];
  const counting = new Proxy(storage, {
    get(target, name) {
      const value = Reflect.get(target, name, target) as unknown;
      if (name === 'put') return (batch: unknown[]) => (puts.push(batch.length), (value as RunStorage['put']).call(target, batch as Parameters<RunStorage['put']>[0]));
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const again: RunprintError[] = [];
  const second = new RunRecorder({ storage: counting, policy: defaultContentPolicy(), journal: new HeldJournal(journalPath), onFailure: (error) => void again.push(error) });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual([second.healthy, second.held, second.counts.failed, second.refused, puts.length, again.length], [true, 0, 0, 1, 0, 0]);
  } finally {
    await second.close();
    await storage.close();
  }
  assert.equal(new HeldJournal(journalPath).refusedCount(), 1, 'still kept');
});

test('serve on PostgreSQL commits a journal whose oldest record the store refuses: the others are stored, it is moved to the refused records, calls are recorded after it, and a restart does not try it again', { timeout: 60_000 }, async () => {
  const url = await latin1Database();
  const data = scratch.tempDir();
  // What a serve stopped while its store failed left: the refused record first.
  const held = [chat(UNSTORABLE, 'held one'), chat('gpt-4o', 'held two'), chat('gpt-4o', 'held three')].map(({ run, bytes }) => runToStore(run, bytes, defaultContentPolicy(), 'proxy', false));
  const journal = new HeldJournal(join(data, HELD_JOURNAL_FILE));
  journal.add(held);
  journal.close();
  const serve = await startServe({ data, args: ['--runs-db', url, '--upstream', `openai=${upstream.url}`] });
  const health = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { healthy: boolean; recorded: number; failed: number; held: number; refused: number; failures: number } }).capture;
  await until(async () => (await health()).recorded === 2, 'the two others committed from the journal');
  const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'after' }] };
  const answer = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify(body) });
  assert.equal(answer.status, 200);
  await answer.arrayBuffer();
  await until(async () => (await health()).recorded === 3, 'the call after it recorded');
  // An exchange the store refuses: 422, which a sender's outbox does not send again (503 it would, for ever).
  const refused = await postExchange(serve.base, chatExchange(JSON.stringify({ model: UNSTORABLE, messages: [{ role: 'user', content: 'Say hello.' }] }), HELLO_ANSWER));
  assert.equal(refused.status, 422);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'ERR_STORE_RECORD_REFUSED');
  const capture = await health();
  assert.deepEqual([capture.healthy, capture.held, capture.failed, capture.refused], [true, 0, 2, 2], '/healthz counts the refused records the journal keeps');
  // A proxied call whose record the store refuses: the call goes on (fail-open); one failure, told once.
  const unstorable = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify({ model: UNSTORABLE, messages: [{ role: 'user', content: 'proxied' }] }) });
  assert.equal(unstorable.status, 200);
  await unstorable.arrayBuffer();
  await until(async () => (await health()).refused === 3, 'the proxied call\'s record refused');
  const afterProxied = await health();
  assert.deepEqual([afterProxied.failed - capture.failed, afterProxied.failures - capture.failures], [1, 1], 'the refusal is counted once, though the recorder and the proxy both tell it');
  const runs = (await (await fetch(`${serve.base}/v1/runs`)).json()) as { runs: Array<{ captureId: string }> };
  assert.deepEqual(new Set(runs.runs.map((run) => run.captureId).slice(1)), new Set([held[1]!.record.captureId, held[2]!.record.captureId]));
  assert.equal(await serve.stop(), 0);
  assert.match(serve.stderr(), /runprint: capture: ERR_STORE_RECORD_REFUSED: the PostgreSQL run database refused a record for what it holds \(22P05\): the record of capture id [0-9a-f-]{36} is not stored, the records committed with it are; it is kept with the refused records of the held-records journal .*held-runs\.sqlite, not tried again/);
  assert.doesNotMatch(serve.stderr(), /could not take wait/, 'nothing waits to be committed');
  const after = new HeldJournal(join(data, HELD_JOURNAL_FILE));
  assert.equal(after.count(), 0);
  const kept = after.refusedRecords();
  assert.equal(kept.length, 3, 'the refused records are kept');
  assert.equal(kept[0]!.captureId, held[0]!.record.captureId);
  after.close();

  // Started again: the refused records are not tried again, reported or counted; capture is healthy.
  const again = await startServe({ data, args: ['--runs-db', url, '--upstream', `openai=${upstream.url}`] });
  const capture2 = ((await (await fetch(`${again.base}/healthz`)).json()) as { capture: { healthy: boolean; recorded: number; failed: number; held: number; refused: number; failures: number } }).capture;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const capture3 = ((await (await fetch(`${again.base}/healthz`)).json()) as { capture: { healthy: boolean; recorded: number; failed: number; held: number; refused: number; failures: number } }).capture;
  assert.equal(await again.stop(), 0);
  for (const seen of [capture2, capture3]) assert.deepEqual([seen.healthy, seen.held, seen.recorded, seen.failed, seen.refused], [true, 0, 0, 0, 3]);
  assert.doesNotMatch(again.stderr(), /ERR_STORE_RECORD_REFUSED|could not take wait/);
  const last = new HeldJournal(join(data, HELD_JOURNAL_FILE));
  assert.deepEqual([last.count(), last.refusedCount()], [0, 3]);
  last.close();
});

test('refused records given back with the documented statement are committed by the next start into a store that takes them', { timeout: 60_000 }, async () => {
  const storage = await PostgresRuns.open(await latin1Database());
  const dir = scratch.tempDir();
  const journalPath = join(dir, HELD_JOURNAL_FILE);
  const calls = [chat(UNSTORABLE, 'one'), chat(UNSTORABLE, 'two')];
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), journal: new HeldJournal(journalPath) });
  try {
    const answers = await Promise.allSettled(calls.map(({ run, bytes }) => recorder.record(run, bytes, 'proxy')));
    assert.deepEqual(answers.map((answer) => answer.status), ['rejected', 'rejected']);
  } finally {
    await recorder.close();
    await storage.close();
  }
  // docs/CAPTURE.md, "Failures": with serve stopped, the refused records back to those to commit.
  const db = new DatabaseSync(journalPath);
  db.exec('BEGIN IMMEDIATE; INSERT OR IGNORE INTO held (record_digest, held_at, run, content) SELECT record_digest, held_at, run, content FROM refused ORDER BY seq; DELETE FROM refused; COMMIT;');
  db.close();
  const journal = new HeldJournal(journalPath);
  assert.deepEqual([journal.count(), journal.refusedCount()], [2, 0]);
  journal.close();
  // A store that takes them (SQLite holds any model name).
  const sqlite = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const next = new RunRecorder({ storage: sqlite, policy: defaultContentPolicy(), journal: new HeldJournal(journalPath) });
  try {
    await until(async () => (await sqlite.list({})).length === 2, 'both committed from the journal');
    assert.deepEqual(new Set((await sqlite.list({})).map((run) => run.record.captureId)), new Set(calls.map((call) => call.run.record.captureId)));
    await until(() => next.healthy, 'healthy once they are committed');
  } finally {
    await next.close();
    await sqlite.close();
  }
  const empty = new HeldJournal(journalPath);
  assert.deepEqual([empty.count(), empty.refusedCount()], [0, 0]);
  empty.close();
});
