/**
 * A record the run store refuses for what it holds, not for an outage (a PostgreSQL data
 * exception: here a model name a LATIN1 database cannot hold, 22P05) never holds up the others:
 * the records committed with it are stored, it is set aside (its caller told
 * ERR_STORE_RECORD_REFUSED, counted failed, reported) and kept in the held-records journal, tried
 * again at the next start, and the recorder stays healthy. Before, it was held and retried first
 * for ever, and every record after it was held too. In process and through a real serve.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { HELD_JOURNAL_FILE } from '../src/cli/serve-capture.ts';
import type { RunprintError } from '../src/errors.ts';
import { HeldJournal } from '../src/store/held-journal.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
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

test('in one commit batch, the record the store refuses is set aside and kept in the journal; the others are committed and the recorder stays healthy', { timeout: 60_000 }, async () => {
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
    assert.match(refused.message, /\(22P05\).*capture id [0-9a-f-]{36} is not stored.*stays in the held-records journal/);
    assert.deepEqual((await storage.list({})).map((run) => run.model), ['gpt-4o', 'gpt-4o', 'gpt-4o']);
    assert.deepEqual([recorder.healthy, recorder.held, recorder.counts.recorded, recorder.counts.failed], [true, 0, 3, 1]);
    assert.deepEqual(failures.map((error) => error.code), ['ERR_STORE_RECORD_REFUSED']);
    assert.deepEqual(new HeldJournal(journalPath).load(1 << 20).map((found) => found.run.record.captureId), [calls[1]!.run.record.captureId]);
    // The next record is committed at once, not held behind it.
    const next = chat('gpt-4o', 'five');
    await recorder.record(next.run, next.bytes, 'proxy');
    assert.equal((await storage.list({})).length, 4);
    assert.equal(recorder.healthy, true);
  } finally {
    await recorder.close();
    await storage.close();
  }
  assert.deepEqual(left, [1], 'it waits in the journal');
});

test('serve on PostgreSQL commits a journal whose oldest record the store refuses: the others are stored, it is set aside, and calls are recorded after it', { timeout: 60_000 }, async () => {
  const url = await latin1Database();
  const data = scratch.tempDir();
  // What a serve stopped while its store failed left: the refused record first.
  const held = [chat(UNSTORABLE, 'held one'), chat('gpt-4o', 'held two'), chat('gpt-4o', 'held three')].map(({ run, bytes }) => runToStore(run, bytes, defaultContentPolicy(), 'proxy', false));
  const journal = new HeldJournal(join(data, HELD_JOURNAL_FILE));
  journal.add(held);
  journal.close();
  const serve = await startServe({ data, args: ['--runs-db', url, '--upstream', `openai=${upstream.url}`] });
  const health = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { healthy: boolean; recorded: number; failed: number; held: number } }).capture;
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
  assert.deepEqual([capture.healthy, capture.held, capture.failed], [true, 0, 2]);
  const runs = (await (await fetch(`${serve.base}/v1/runs`)).json()) as { runs: Array<{ captureId: string }> };
  assert.deepEqual(new Set(runs.runs.map((run) => run.captureId).slice(1)), new Set([held[1]!.record.captureId, held[2]!.record.captureId]));
  assert.equal(await serve.stop(), 0);
  assert.match(serve.stderr(), /runprint: capture: ERR_STORE_RECORD_REFUSED: the PostgreSQL run database refused a record for what it holds \(22P05\): the record of capture id [0-9a-f-]{36} is not stored/);
  assert.match(serve.stderr(), /runprint: capture: 2 records the run store could not take wait in /);
  const after = new HeldJournal(join(data, HELD_JOURNAL_FILE));
  assert.deepEqual(after.load(1 << 20).map((found) => found.run.record.captureId)[0], held[0]!.record.captureId, 'the refused records stay in the journal');
  after.close();
});
