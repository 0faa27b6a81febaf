/**
 * A capture id an exchange's sender chose names one record even where several processes share
 * one run store: the store checks it in the transaction that stores the record
 * (RunToStore.captureIdOnce; PostgreSQL takes an advisory lock on the id, SQLite's write lock
 * covers it). Two stores on one database putting different records with one capture id at once
 * store one and refuse the other; two `runprint serve` processes on one PostgreSQL database sent
 * two different exchanges with one capture id at once answer one 200 and one 409
 * ERR_CAPTURE_ID_TAKEN, and the store holds one record under the id; the same exchange sent again
 * to the other serve (another receipt key) is not signed again, so the log holds one receipt.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { chatExchange, HELLO_REQUEST, postExchange } from './helpers/exchanges.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-ids-shared-');
let pgs: PgSchemas;
before(async () => {
  pgs = await pgSchemas();
});
after(async () => {
  await killServeProcesses();
  await pgs.drop();
  scratch.removeAll();
});

const encoder = new TextEncoder();
const answerOf = (text: string) =>
  JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text } }] });

/** The record of one chat call under `captureId`, answered `text`, as the exchanges route stores it (captureIdOnce). */
function exchangeRun(captureId: string, text: string, once = true): RunToStore {
  const requestBytes = encoder.encode(HELLO_REQUEST);
  const responseBytes = encoder.encode(answerOf(text));
  const started = Date.parse('2026-12-01T00:00:00Z');
  const run = captureRunWith({ captureId, format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
  const stored = runToStore(run, { requestBytes, responseBytes }, defaultContentPolicy(), 'sdk', true);
  return once ? { ...stored, captureIdOnce: true } : stored;
}

/**
 * Puts, for each of 30 capture ids, one record through `one` and a different one through `two`,
 * every put at once; then checks each id names one stored record, the other refused by its store.
 */
async function raceStores(one: RunStorage, two: RunStorage): Promise<void> {
  const ids = Array.from({ length: 30 }, () => randomUUID());
  const firsts = ids.map((id) => exchangeRun(id, 'First answer.'));
  const seconds = ids.map((id) => exchangeRun(id, 'Second answer.'));
  const refused = (await Promise.all(ids.flatMap((_, i) => [one.put([firsts[i]!]), two.put([seconds[i]!])]))).flatMap((result) => result.refused);
  assert.equal(refused.length, 30, 'one record of each pair refused');
  for (const [i, id] of ids.entries()) {
    const stored = (await one.find(id)).map((run) => run.recordDigest);
    assert.equal(stored.length, 1, `one record under ${id}`);
    const loser = stored[0] === firsts[i]!.recordDigest ? seconds[i]! : firsts[i]!;
    assert.ok(refused.includes(loser.recordDigest), 'the one not stored is the one refused');
  }
  // The same record put again is the one stored, not refused; a record without captureIdOnce (a
  // proxy call's) joins the id as before.
  const kept = (await one.find(ids[0]!))[0]!.recordDigest;
  const again = kept === firsts[0]!.recordDigest ? firsts[0]! : seconds[0]!;
  assert.deepEqual(await two.put([again]), { existing: [], refused: [] }, 'stored before under the same (no) claim: its signer is the one putting it');
  assert.deepEqual(await two.put([{ ...again, claimedBy: 'another signer' }]), { existing: [again.recordDigest], refused: [] }, 'another signer\'s to sign: listed');
  assert.deepEqual(await two.put([exchangeRun(ids[0]!, 'A proxy call.', false)]), { existing: [], refused: [] });
  assert.equal((await one.find(ids[0]!)).length, 2);
  // Within one batch: the first of two records with one new id is stored.
  const fresh = randomUUID();
  const batch = [exchangeRun(fresh, 'One.'), exchangeRun(fresh, 'Two.')];
  assert.deepEqual(await one.put(batch), { existing: [], refused: [batch[1]!.recordDigest] });
}

describe('a capture id chosen by a sender is stored once in a shared store', () => {
  test('SQLite: two connections to one file (one on a writer thread)', async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const one = SqliteRuns.open(path, { writerThread: true });
    const two = SqliteRuns.open(path);
    try {
      await raceStores(one, two);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('PostgreSQL: two stores on one schema', { timeout: 60_000 }, async () => {
    const { url } = await pgs.fresh('runprint_ids');
    const [one, two] = await Promise.all([PostgresRuns.open(url), PostgresRuns.open(url)]);
    try {
      await raceStores(one, two);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('two serve processes on one PostgreSQL database: one 200 and one 409 per capture id', { timeout: 120_000 }, async () => {
    const { url, schema } = await pgs.fresh('runprint_ids_serve');
    const upstream: FakeUpstream = await startFakeUpstream();
    try {
      const folder = scratch.tempDir();
      const one = await startServe({ data: join(folder, 'one'), args: ['--log-db', url, '--upstream', `openai=${upstream.url}`] });
      copyFileSync(join(folder, 'one', 'log-key.pem'), join(folder, 'log-key.pem'));
      const two = await startServe({ data: join(folder, 'two'), args: ['--log-db', url, '--log-key', join(folder, 'log-key.pem'), '--upstream', `openai=${upstream.url}`] });
      const ids = Array.from({ length: 40 }, () => randomUUID());
      const statuses = await Promise.all(
        ids.map(async (id) => {
          const answers = await Promise.all([postExchange(one.base, chatExchange(HELLO_REQUEST, answerOf('From one.'), { captureId: id })), postExchange(two.base, chatExchange(HELLO_REQUEST, answerOf('From two.'), { captureId: id }))]);
          const codes = await Promise.all(answers.map(async (answer) => (answer.status === 409 ? ((await answer.json()) as { error: { code: string } }).error.code : (await answer.arrayBuffer(), answer.status))));
          return codes.map(String).sort().join(' ');
        }),
      );
      assert.deepEqual(new Set(statuses), new Set(['200 ERR_CAPTURE_ID_TAKEN']), 'each capture id: one 200, one 409');
      for (const id of ids) {
        const runs = ((await (await fetch(`${two.base}/v1/runs/${id}`)).json()) as { runs: unknown[] }).runs;
        assert.equal(runs.length, 1, `one record under ${id}`);
      }
      assert.doesNotMatch(one.stderr() + two.stderr(), /ERR_CAPTURE_RECORDS_LOST|at .*\.ts:\d+/, 'a refused exchange is no lost record, and no stack trace');

      // The same exchange sent again to the other serve (an outbox resending behind a load
      // balancer), whose receipt key is another: answered as the first time, and not signed again,
      // so the log has one receipt for the run.
      const again = chatExchange(HELLO_REQUEST, answerOf('Sent twice.'), { captureId: randomUUID() });
      assert.equal((await postExchange(one.base, again)).status, 200);
      const entries = async () => Number((await pgs.admin.query(`SELECT count(*) AS n FROM ${schema}.entries`)).rows[0].n);
      const logged = async () => ((await (await fetch(`${one.base}/v1/runs/${again.captureId}`)).json()) as { runs: Array<{ receipt: { logIndex: number | null } | null }> }).runs[0]?.receipt?.logIndex != null;
      for (let i = 0; !(await logged()); i++) {
        assert.ok(i < 200, 'logged within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const before = await entries();
      const resent = await postExchange(two.base, again);
      assert.equal(resent.status, 200);
      await resent.arrayBuffer();
      // The other serve signs what it commits within about a second.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await entries(), before, 'no second receipt in the log');
      await one.stop();
      await two.stop();
    } finally {
      await killServeProcesses();
      await upstream.close();
    }
  });
});
