/**
 * A large run (capture/large-run.ts: 4,096 list elements or more) is made and committed beside the
 * other records, not in front of them: a record that comes while a large run is made in steps, or
 * while its rows are written, is committed before it (RunRecorder: the large run outside the
 * queue; the SQLite store: its rows in transactions of 4,096 rows, the puts sent meanwhile
 * committed between them; PostgreSQL: a transaction of its own, beside the others'). Before, such
 * a record waited behind the large run's steps and commit, and with sync durability so did the end
 * of its answer (1 to 3 s for a run of 100,000 messages).
 *
 * What the large run stores is what it stored made in one go; no reader sees it before its last
 * step; a writing in steps that never ends (a kill -9) leaves nothing once the store is opened
 * again, and a writing whose rows another process took for a crash's is written again in one go.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { captureRunWith, type CapturedRun } from '../src/capture/capture-run.ts';
import { receiptFactsOfRecord } from '../src/capture/run-receipt.ts';
import { canonicalBytes } from '../src/jcs/canonicalize.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { formatEnvelope, PAYLOAD_TYPE } from '../src/receipt/envelope.ts';
import { pae } from '../src/receipt/pae.ts';
import { buildStatement } from '../src/receipt/statement.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { receiptKey, RUNS_DATABASE } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, runToStore, type PutResult, type RunStorage, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { beginStaged, endStaged, prepareRunWrites, RUNS_PRAGMAS, runWritesOf, stepStaged, writeRuns, type RunWrite } from '../src/store/sqlite-runs-write.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-large-run-passed-');
after(async () => {
  await killServeProcesses();
  scratch.removeAll();
});

const utf8 = (text: string) => new TextEncoder().encode(text);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A Chat Completions request of `count` short messages. */
function chatRequest(count: number): Uint8Array {
  return utf8(JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: count }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i}: lorem ipsum ${i % 7 === 0 ? 'the same words' : i}` })) }));
}

const ANSWER = utf8(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Done.' } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));

/** The run of `requestBytes` answered ANSWER now. */
function capturedRun(requestBytes: Uint8Array): CapturedRun {
  const started = Date.now();
  return captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes: ANSWER, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
}

/** Digest rows above every run's seq: a large run's, written in steps, whose runs row is not committed. */
const STAGED = 'SELECT count(*) AS count FROM run_digests WHERE seq > (SELECT coalesce(max(seq), 0) FROM runs)';
/** Content no digest row keeps (retention would delete it). */
const UNKEPT = 'SELECT count(*) AS count FROM content WHERE NOT EXISTS (SELECT 1 FROM run_digests WHERE run_digests.digest = content.digest AND kept = 1)';
const countOf = (db: DatabaseSync, sql: string): number => (db.prepare(sql).get() as { count: number }).count;

/**
 * `storage` whose put of a batch that `held` picks waits until `open` is called (before the store
 * sees it); `reached` resolves with that batch once it comes.
 */
function holdingPut(storage: RunStorage, held: (batch: readonly RunToStore[]) => boolean): { storage: RunStorage; open: () => void; reached: Promise<readonly RunToStore[]> } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let reach!: (batch: readonly RunToStore[]) => void;
  const reached = new Promise<readonly RunToStore[]>((resolve) => (reach = resolve));
  const wrapped = new Proxy(storage, {
    get(target, name) {
      if (name === 'put') {
        return async (batch: readonly RunToStore[]) => {
          if (held(batch)) {
            reach(batch);
            await gate;
          }
          return target.put(batch);
        };
      }
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { storage: wrapped, open, reached };
}

/**
 * A small record made after a large run's steps began is committed while the large run is not
 * (its commit held back), and so is one made while the large run's rows are being written
 * (`writing` says when they are); then both are stored and signed, the large run's receipt the one
 * made in one go.
 */
async function recordsPass(store: RunStorage, writing: () => Promise<boolean> | boolean): Promise<void> {
  const dir = scratch.tempDir();
  const key = await receiptKey(dir, dir, undefined);
  const requestBytes = chatRequest(20_000);
  const large = capturedRun(requestBytes);
  const held = holdingPut(store, (batch) => batch.some((run) => run.record.captureId === large.record.captureId));
  const recorder = new RunRecorder({ storage: held.storage, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, claimant: 'serve:test' });
  let largeSettled = false;
  const largeRecorded = recorder.record(large, { requestBytes, responseBytes: ANSWER }, 'proxy').finally(() => (largeSettled = true));
  try {
    // Its steps began (the first comes in a turn of its own).
    await turn();
    await turn();
    const small = chatRun('made while the large run is made in steps');
    const smallRecorded = recorder.record(small.run, small.bytes, 'proxy');
    const first = await Promise.race([smallRecorded.then(() => 'small'), held.reached.then(() => 'large')]);
    if (first === 'large') assert.ok(!(await held.reached).some((run) => run.record.captureId === small.run.record.captureId), 'the small record is committed with the large run');
    await smallRecorded;
    assert.equal(largeSettled, false);
    assert.equal((await store.find(small.run.record.captureId)).length, 1);
    assert.equal((await store.find(large.record.captureId)).length, 0);

    // Its commit goes on: a record made while its rows are being written is committed first too.
    held.open();
    while (!largeSettled && !(await writing())) await turn();
    assert.equal(largeSettled, false, 'the large run was committed before its rows were seen being written');
    const meanwhile = chatRun('made while the large run is written');
    await recorder.record(meanwhile.run, meanwhile.bytes, 'proxy');
    assert.equal(largeSettled, false);
    assert.equal((await store.find(meanwhile.run.record.captureId)).length, 1);
    assert.equal((await store.find(large.record.captureId)).length, 0, 'no reader sees the large run before its commit ends');
    await largeRecorded;
    await recorder.close();

    assert.deepEqual(recorder.counts, { recorded: 3, unidentified: 0, failed: 0, signed: 3, logged: 0 });
    for (const each of [small.run, meanwhile.run]) assert.notEqual((await store.find(each.record.captureId))[0]!.receipt, null);
    const [stored] = await store.find(large.record.captureId);
    const expected = runToStore(large, { requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true);
    assert.equal(stored!.recordDigest, expected.recordDigest);
    assert.deepEqual(stored!.identity, expected.identity);
    assert.equal(stored!.digests.length, expected.digests.length);
    const payload = canonicalBytes(buildStatement(receiptFactsOfRecord(stored!.record, stored!.identity, stored!.model ?? '', 'proxy', '0.1.0')));
    assert.equal(stored!.receipt, formatEnvelope({ payload: encodeBase64(payload), payloadType: PAYLOAD_TYPE, signatures: [{ keyid: key.keyId, sig: encodeBase64(key.signBytes!(pae(PAYLOAD_TYPE, payload))) }] }));
  } finally {
    held.open();
    await largeRecorded.catch(() => undefined);
    await recorder.close();
  }
}

describe('records pass a large run being made and committed', () => {
  test('SQLite (writer thread)', async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const store = SqliteRuns.open(path, { writerThread: true });
    const reader = new DatabaseSync(path, { readOnly: true });
    try {
      await recordsPass(store, () => countOf(reader, STAGED) > 0);
      assert.equal(countOf(reader, STAGED), 0);
      assert.equal(countOf(reader, UNKEPT), 0);
    } finally {
      reader.close();
      await store.close();
    }
  });

  test('PostgreSQL', async () => {
    const pgs = await pgSchemas();
    const { schema, url } = await pgs.fresh();
    const store = await PostgresRuns.open(url);
    try {
      // A transaction that inserted digest rows and has not ended holds its lock on run_digests.
      const writing = async () =>
        ((
          await pgs.admin.query(
            `SELECT count(*)::int AS count FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = 'run_digests' AND l.mode = 'RowExclusiveLock' AND l.granted`,
            [schema],
          )
        ).rows[0] as { count: number }).count > 0;
      await recordsPass(store, writing);
    } finally {
      await store.close();
      await pgs.drop();
    }
  });
});

test('SQLite: a step that fails (the store locked past its busy timeout) fails the large run\'s commit; the run is held, and the retry commits it whole, nothing left of the first try', async () => {
  const dir = scratch.tempDir();
  const path = join(dir, 'runs.sqlite');
  const store = SqliteRuns.open(path, { writerThread: true });
  const reader = new DatabaseSync(path, { readOnly: true });
  const locker = new DatabaseSync(path);
  locker.exec('PRAGMA busy_timeout = 10000');
  const failures: string[] = [];
  const key = await receiptKey(dir, dir, undefined);
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' }, claimant: 'serve:test', onFailure: (error) => failures.push(error.code) });
  try {
    const requestBytes = chatRequest(20_000);
    const large = capturedRun(requestBytes);
    let settled = false;
    const recorded = recorder.record(large, { requestBytes, responseBytes: ANSWER }, 'proxy').finally(() => (settled = true));
    while (!settled && countOf(reader, STAGED) === 0) await turn();
    assert.equal(settled, false);
    locker.exec('BEGIN IMMEDIATE');
    await assert.rejects(recorded, { code: 'ERR_STORE_LOCKED' });
    assert.deepEqual(failures, ['ERR_STORE_LOCKED']);
    assert.equal(recorder.held, 1);
    assert.ok(countOf(reader, STAGED) > 0, 'the rows of the failed try could not be deleted (the store is locked)');
    locker.exec('ROLLBACK');
    while (recorder.held > 0 || !recorder.healthy) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(countOf(reader, STAGED), 0);
    assert.equal(countOf(reader, UNKEPT), 0);
    const oneGo = join(scratch.tempDir(), 'runs.sqlite');
    const inOneGo = SqliteRuns.open(oneGo);
    const expected = runToStore(large, { requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true);
    expected.claimedBy = 'serve:test';
    await inOneGo.put([expected]);
    await inOneGo.close();
    assert.deepEqual(rowsOf(path, expected.recordDigest), rowsOf(oneGo, expected.recordDigest));
  } finally {
    if (locker.isTransaction) locker.exec('ROLLBACK');
    locker.close();
    await recorder.close();
    reader.close();
    await store.close();
  }
});

/** Every row a run has in an SQLite run store, its seq, claim time and receipt left out: its runs row, digest rows and the content they keep. */
function rowsOf(path: string, recordDigest: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const run = db.prepare('SELECT * FROM runs WHERE record_digest = ?').get(recordDigest) as Record<string, unknown>;
    const { seq, claimed_at: _claimedAt, receipt: _receipt, log_index: _logIndex, ...columns } = run;
    const digests = db.prepare('SELECT part, position, digest, kept FROM run_digests WHERE seq = ? ORDER BY part, position').all(seq as number);
    const content = db.prepare('SELECT digest, hex(bytes) AS bytes FROM content WHERE digest IN (SELECT digest FROM run_digests WHERE seq = ? AND kept = 1) ORDER BY digest').all(seq as number);
    return { columns, digests, content };
  } finally {
    db.close();
  }
}

describe('SQLite: a large run put alone is written in steps', () => {
  const requestBytes = chatRequest(20_000);
  const large = runToStore(capturedRun(requestBytes), { requestBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true);
  large.claimedBy = 'serve:test';

  /**
   * Puts `run` into `store` and runs `meanwhile` once its rows are seen being written (digest rows
   * above every run's seq), before it is committed; with `passes`, checks that it is not committed
   * yet when `meanwhile` ends.
   */
  async function putWriting(store: SqliteRuns, path: string, run: RunToStore, meanwhile: () => Promise<void>, passes = false): Promise<unknown> {
    const reader = new DatabaseSync(path, { readOnly: true });
    try {
      let settled = false;
      const put = store.put([run]).finally(() => (settled = true));
      while (!settled && countOf(reader, STAGED) === 0) await turn();
      assert.equal(settled, false, 'the large run was committed in one transaction');
      assert.equal((await store.find(run.record.captureId)).filter((each) => each.recordDigest === run.recordDigest).length, 0, 'a reader sees the large run before its last step');
      await meanwhile();
      if (passes) assert.equal(settled, false);
      return await put;
    } finally {
      reader.close();
    }
  }

  /** The seq of a stored run: a run written in steps has one above STAGED_SEQ_GAP. */
  const seqOf = (path: string, recordDigest: string): number => {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      return (db.prepare('SELECT seq FROM runs WHERE record_digest = ?').get(recordDigest) as { seq: number }).seq;
    } finally {
      db.close();
    }
  };

  test('a put sent while it is written is committed between its steps; its rows are those of one go', async () => {
    const oneGo = join(scratch.tempDir(), 'runs.sqlite');
    const inOneGo = SqliteRuns.open(oneGo);
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const store = SqliteRuns.open(path, { writerThread: true });
    try {
      const small = chatRun('put while the large run is written');
      const beside = runToStore(small.run, small.bytes, defaultContentPolicy(), 'proxy', true);
      const result = await putWriting(store, path, large, async () => {
        assert.deepEqual(await store.put([beside]), { existing: [], refused: [] });
        assert.equal((await store.find(small.run.record.captureId)).length, 1);
      }, true);
      assert.deepEqual(result, { existing: [], refused: [] });
      assert.ok(seqOf(path, large.recordDigest) > seqOf(path, beside.recordDigest) + 1, 'written in steps, under a seq above the runs committed meanwhile');
      assert.deepEqual(await inOneGo.put([large]), { existing: [], refused: [] });
      assert.deepEqual(rowsOf(path, large.recordDigest), rowsOf(oneGo, large.recordDigest));
      // Put again: stored once, nothing written (as in one go).
      assert.deepEqual(await store.put([large]), { existing: [], refused: [] });
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        assert.equal((db.prepare('SELECT count(*) AS count FROM runs').get() as { count: number }).count, 2);
        assert.equal(countOf(db, STAGED), 0);
      } finally {
        db.close();
      }
      // A run committed after it follows it.
      const next = chatRun('after the large run');
      const after = runToStore(next.run, next.bytes, defaultContentPolicy(), 'proxy', true);
      await store.put([after]);
      assert.equal(seqOf(path, after.recordDigest), seqOf(path, large.recordDigest) + 1);
    } finally {
      await store.close();
      await inOneGo.close();
    }
  });

  test("an exchange whose capture id another record takes meanwhile is refused, its rows deleted; rows another process took for a crash's are written again in one go", async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const store = SqliteRuns.open(path, { writerThread: true });
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const other = chatRun('has the capture id');
      const taken = runToStore(other.run, other.bytes, defaultContentPolicy(), 'sdk', true);
      const sameId = { ...taken, record: { ...taken.record, captureId: large.record.captureId } };
      const refused = await putWriting(store, path, { ...large, captureIdOnce: true }, async () => void (await store.put([sameId])));
      assert.deepEqual(refused, { existing: [], refused: [large.recordDigest] });
      assert.equal(countOf(db, STAGED), 0);
      assert.deepEqual((await store.find(large.record.captureId)).map((each) => each.recordDigest), [sameId.recordDigest]);
      assert.equal(countOf(db, UNKEPT), 0, 'nor the content it wrote');

      // Another process opens the store for writing while the large run is written: it deletes its
      // rows as a crash's; the large run is written again in one go, whole.
      const result = await putWriting(store, path, large, async () => {
        const opened = SqliteRuns.open(path);
        await opened.close();
      });
      assert.deepEqual(result, { existing: [], refused: [] });
      assert.ok(seqOf(path, large.recordDigest) < seqOf(path, sameId.recordDigest) + 10, 'written in one go');
      const oneGo = join(scratch.tempDir(), 'runs.sqlite');
      const inOneGo = SqliteRuns.open(oneGo);
      await inOneGo.put([large]);
      await inOneGo.close();
      assert.deepEqual(rowsOf(path, large.recordDigest), rowsOf(oneGo, large.recordDigest));
      assert.equal(countOf(db, STAGED), 0);
      assert.equal(countOf(db, UNKEPT), 0);
    } finally {
      db.close();
      await store.close();
    }
  });

  test('two processes writing large runs in steps on one store at once: each run is stored whole with its own rows, never under the other\'s seq', async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    await SqliteRuns.open(path).close();
    const otherBytes = chatRequest(20_001);
    const other = runToStore(capturedRun(otherBytes), { requestBytes: otherBytes, responseBytes: ANSWER }, defaultContentPolicy(), 'proxy', true);
    other.claimedBy = 'serve:other';
    // Two connections, as two serves' writer threads have: A begins, B begins (A's rows look like a
    // crash's to it), A writes every step and ends, then B does.
    const connect = () => {
      const db = new DatabaseSync(path);
      db.exec(RUNS_PRAGMAS);
      return { db, statements: prepareRunWrites(db) };
    };
    const a = connect();
    const b = connect();
    try {
      const [writeA] = await runWritesOf([large]);
      const [writeB] = await runWritesOf([other]);
      const finish = (side: typeof a, write: RunWrite): PutResult => {
        while (!(stepStaged(side.db, path, side.statements, 1) as { done: boolean }).done);
        const ended = endStaged(side.db, path, side.statements, 1);
        return 'redo' in ended ? writeRuns(side.db, path, side.statements, [write], ended.redo) : (ended as PutResult);
      };
      const seqA = (beginStaged(a.db, path, a.statements, 1, writeA!) as { seq: number }).seq;
      const seqB = (beginStaged(b.db, path, b.statements, 1, writeB!) as { seq: number }).seq;
      assert.notEqual(seqA, seqB, 'two writings in steps never share a seq');
      assert.deepEqual(finish(a, writeA!), { existing: [], refused: [] });
      assert.deepEqual(finish(b, writeB!), { existing: [], refused: [] });
    } finally {
      a.db.close();
      b.db.close();
    }
    const oneGo = join(scratch.tempDir(), 'runs.sqlite');
    const inOneGo = SqliteRuns.open(oneGo);
    try {
      await inOneGo.put([large, other]);
    } finally {
      await inOneGo.close();
    }
    assert.deepEqual(rowsOf(path, large.recordDigest), rowsOf(oneGo, large.recordDigest), 'the first run holds its own rows');
    assert.deepEqual(rowsOf(path, other.recordDigest), rowsOf(oneGo, other.recordDigest), 'the second run holds its own rows');
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal(countOf(db, STAGED), 0);
      assert.equal(countOf(db, UNKEPT), 0);
    } finally {
      db.close();
    }
  });
});

/** An upstream that answers every call ANSWER at once. */
async function upstream(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(ANSWER));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

test('serve, sync durability: a one-message call made while a run of 100,000 messages is written gets its whole answer before that run is committed; a kill -9 while one is written leaves nothing of it after a restart', async (t) => {
  const up = await upstream();
  t.after(up.close);
  const data = scratch.tempDir();
  const path = join(data, RUNS_DATABASE);
  const args = ['--upstream', `openai=${up.url}`];
  let serve = await startServe({ data, args });
  const call = async (body: Uint8Array | string) => {
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: body as Uint8Array<ArrayBuffer> });
    return { response, text: await response.text() };
  };
  const small = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal((await call(small)).text, new TextDecoder().decode(ANSWER));
  const body = chatRequest(100_000);
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const runs = () => (db.prepare('SELECT count(*) AS count FROM runs').get() as { count: number }).count;
    /** Calls with `body` and waits until its rows are being written; the call's answer, and whether it came. */
    const writing = async () => {
      let answered = false;
      const answer = call(body).finally(() => (answered = true));
      answer.catch(() => undefined);
      while (!answered && countOf(db, STAGED) === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      assert.equal(answered, false, 'the large call was answered before its rows were seen being written');
      return { answer, answered: () => answered };
    };

    const large = await writing();
    const during = await call(small);
    assert.equal(during.response.status, 200);
    assert.equal(during.text, new TextDecoder().decode(ANSWER), 'the whole answer');
    assert.equal(large.answered(), false, 'the large call was answered first');
    assert.equal(runs(), 2, 'the small call is committed, the large one not');
    const stored = db.prepare('SELECT count(*) AS count FROM runs WHERE capture_id = ?').get(during.response.headers.get('runprint-capture-id')) as { count: number };
    assert.equal(stored.count, 1);
    assert.equal((await large.answer).response.status, 200);
    assert.equal(runs(), 3);

    // A kill -9 while another one is written: its answer was not sent (sync), and nothing of it stays.
    const killed = await writing();
    assert.equal(await serve.kill(), 'SIGKILL');
    await killed.answer.catch(() => undefined);
    assert.ok(countOf(db, STAGED) > 0);
    serve = await startServe({ data, args });
    assert.equal(countOf(db, STAGED), 0, 'the killed run\'s digest rows are deleted at the start');
    assert.equal(countOf(db, UNKEPT), 0, 'and the content they kept');
    assert.equal(runs(), 3);
    assert.equal((await call(small)).response.status, 200);
    assert.equal(runs(), 4);
    assert.equal(await serve.stop(), 0);
  } finally {
    db.close();
  }
});
