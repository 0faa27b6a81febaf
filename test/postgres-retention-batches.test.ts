/**
 * Retention on a PostgreSQL run store (PostgresRuns.expire) in short transactions: a put commits
 * between them, not only once every expired run's content is deleted (one transaction holding the
 * content lock, which made every serve's commits wait up to their lock timeout on a large store).
 * Only the content the expiring runs named is looked at: a row no run names is not read (nor
 * deleted); content a newer run keeps stays; a run of more digests than one transaction releases
 * (a large run) loses all of its content and is marked expired. A transaction takes whole runs
 * while their digests fit: only a large run is ever half released between transactions.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { chatRun } from './helpers/stored-runs.ts';

const pgs = await pgSchemas();
after(() => pgs.drop());

/** Old runs, one digest each: more than 40 of expire's batches of runs. */
const OLD = 10_500;
/** The large old run's digests: more than one transaction releases. */
const LARGE = 10_000;
const BEFORE = '2025-01-01T00:00:00.000Z';

test('expire on PostgreSQL commits in short transactions, puts committing between them; only the expiring runs\' content is looked at, and what a newer run keeps stays', async () => {
  const { schema, url } = await pgs.fresh('runprint_retention');
  const store = await PostgresRuns.open(url);
  try {
    const q = (sql: string) => pgs.admin.query(sql);
    const count = async (sql: string) => Number((await q(sql)).rows[0].n);
    // Runs 1..OLD ended in 2020, one digest each (o1, ...), and run OLD+1 (large, 2020) names
    // LARGE digests (l0, ...); run OLD+2 ended in 2030 and keeps o1 and l0. Run OLD names o1 too.
    await q(`INSERT INTO ${schema}.runs (record_digest, capture_id, started, ended, capture, record, receiptable)
      SELECT 'r' || g, 'c' || g, CASE WHEN g <= ${OLD + 1} THEN '2020-01-01T00:00:00.000Z' ELSE '2030-01-01T00:00:00.000Z' END,
             CASE WHEN g <= ${OLD + 1} THEN '2020-01-01T00:00:01.000Z' ELSE '2030-01-01T00:00:01.000Z' END, 'proxy', '{}', false
      FROM generate_series(1, ${OLD + 2}) g`);
    const seq = async (g: number) => count(`SELECT seq n FROM ${schema}.runs WHERE record_digest = 'r${g}'`);
    const [lastOld, large, newer] = [await seq(OLD), await seq(OLD + 1), await seq(OLD + 2)];
    await q(`INSERT INTO ${schema}.run_digests (seq, part, position, digest, kept)
      SELECT seq, 'messages', 0, 'o' || substr(record_digest, 2), true FROM ${schema}.runs WHERE seq < ${large}`);
    await q(`UPDATE ${schema}.run_digests SET digest = 'o1' WHERE seq = ${lastOld}`);
    await q(`INSERT INTO ${schema}.run_digests (seq, part, position, digest, kept) SELECT ${large}, 'messages', g, 'l' || g, true FROM generate_series(0, ${LARGE - 1}) g`);
    await q(`INSERT INTO ${schema}.run_digests (seq, part, position, digest, kept) VALUES (${newer}, 'messages', 0, 'o1', true), (${newer}, 'messages', 1, 'l0', true)`);
    await q(`INSERT INTO ${schema}.content (digest, bytes) SELECT DISTINCT digest, '\\x00'::bytea FROM ${schema}.run_digests`);
    // Content no run names (left by something else than a run): expire does not look for it.
    await q(`INSERT INTO ${schema}.content (digest, bytes) VALUES ('unnamed', '\\x01'::bytea)`);
    const oldRuns = `SELECT count(*) n FROM ${schema}.runs WHERE ended < '${BEFORE}' AND NOT content_expired`;
    assert.equal(await count(oldRuns), OLD + 1);

    let done = false;
    const expiring = store.expire(BEFORE).finally(() => (done = true));
    // Once the first of its transactions committed, a put (a new run and its content) ...
    while ((await count(oldRuns)) === OLD + 1 && !done) await new Promise((resolve) => setTimeout(resolve, 5));
    const one = chatRun('committed meanwhile');
    await store.put([runToStore(one.run, one.bytes, defaultContentPolicy(), 'proxy', true)]);
    // ... is committed while many of the old runs still wait for theirs.
    const left = await count(oldRuns);
    assert.ok(left > 0, 'the put committed before the expire\'s last transaction');
    assert.equal(await expiring, OLD + 1);

    assert.equal(await count(oldRuns), 0);
    assert.equal(await count(`SELECT count(*) n FROM ${schema}.run_digests d JOIN ${schema}.runs r USING (seq) WHERE r.content_expired AND d.kept`), 0, 'the expired runs keep nothing');
    // What the newer run keeps stays; the rest of what the old runs named is gone; the unnamed row was not looked at.
    assert.deepEqual((await q(`SELECT digest FROM ${schema}.content WHERE digest ~ '^[ol][0-9]' OR digest = 'unnamed' ORDER BY digest`)).rows.map((row) => row.digest), ['l0', 'o1', 'unnamed']);
    assert.equal(await count(`SELECT count(*) n FROM ${schema}.runs WHERE seq = ${large} AND content_expired`), 1, 'the large run is marked expired');
    // The put's run and content are whole.
    const [stored] = await store.find(one.run.record.captureId);
    assert.equal(stored?.contentExpired, false);
    assert.equal(await store.expire(BEFORE), 0, 'expiring again expires nothing');
  } finally {
    await store.close();
  }
});

test('a transaction of expire on PostgreSQL takes whole runs while their digests fit: only a run larger than one transaction releases is half released between them', async () => {
  const { schema, url } = await pgs.fresh('runprint_retention');
  const store = await PostgresRuns.open(url);
  const q = (sql: string) => pgs.admin.query(sql);
  const query = pg.Client.prototype.query;
  try {
    const runs = `${schema}.runs`;
    const digestRows = `${schema}.run_digests`;
    /** Each old run: [digests kept, digests with content, marked expired]. */
    const state = async () => (await q(`SELECT (SELECT count(*) FROM ${digestRows} d WHERE d.seq = r.seq AND d.kept)::int AS kept,
        (SELECT count(*) FROM ${digestRows} d JOIN ${schema}.content c USING (digest) WHERE d.seq = r.seq)::int AS stored, r.content_expired AS marked
        FROM ${runs} r ORDER BY seq`)).rows.map((row: { kept: number; stored: number; marked: boolean }) => [row.kept, row.stored, row.marked]);
    // The state after each of the expire's transactions: read once its COMMIT is answered, before
    // the next transaction begins (the store's connections are pg.Clients, the admin's is not watched).
    let states: unknown[][] = [];
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const answer = (query as (...args: unknown[]) => unknown).apply(this, args);
      if (this === pgs.admin || args[0] !== 'COMMIT') return answer;
      return (answer as Promise<unknown>).then(async (done) => (states.push(await state()), done));
    } as typeof query;
    const whole = (size: number) => [size, size, false];
    const gone = [0, 0, true];
    const ended = '2020-01-01T00:00:01.000Z';
    const fill = async (sizes: number[]) => {
      await q(`TRUNCATE ${runs}, ${digestRows}, ${schema}.content`);
      for (const [i, size] of sizes.entries()) {
        await q(`INSERT INTO ${runs} (record_digest, capture_id, started, ended, capture, record, receiptable) VALUES ('r${i}', 'c${i}', '2020-01-01T00:00:00.000Z', '${ended}', 'proxy', '{}', false)`);
        await q(`INSERT INTO ${digestRows} (seq, part, position, digest, kept) SELECT (SELECT seq FROM ${runs} WHERE record_digest = 'r${i}'), 'messages', g, 'd${i}_' || g, true FROM generate_series(0, ${size - 1}) g`);
      }
      await q(`INSERT INTO ${schema}.content (digest, bytes) SELECT digest, '\\x00'::bytea FROM ${digestRows}`);
      states = [];
    };
    const times = <T>(n: number, row: T): T[] => Array.from({ length: n }, () => row);

    // 15 runs of 300 digests (4,500: more than one transaction's 4,096), a large run of 5,000, 2 of 300.
    await fill([...times(15, 300), 5_000, 300, 300]);
    assert.equal(await store.expire(BEFORE), 18);
    assert.deepEqual(states, [
      // 13 runs fit 4,096 (3,900); the 14th is left whole, not half released.
      [...times(13, gone), whole(300), whole(300), whole(5_000), whole(300), whole(300)],
      // The 14th and 15th; the large run does not fit what is left: left whole.
      [...times(15, gone), whole(5_000), whole(300), whole(300)],
      // The large run alone: one transaction's worth released, not marked; then the rest, marked.
      [...times(15, gone), [5_000 - 4_096, 5_000 - 4_096, false], whole(300), whole(300)],
      [...times(16, gone), whole(300), whole(300)],
      times(18, gone),
    ]);

    // Exactly one transaction's worth: a large run of twice 4,096 is marked in the transaction that
    // releases its last digest, 16 runs of 256 (4,096 together) in one transaction.
    await fill([8_192, ...times(16, 256)]);
    assert.equal(await store.expire(BEFORE), 17);
    assert.deepEqual(states, [
      [[4_096, 4_096, false], ...times(16, whole(256))],
      [gone, ...times(16, whole(256))],
      times(17, gone),
    ]);
    states = [];
    assert.equal(await store.expire(BEFORE), 0, 'expiring again expires nothing');
    assert.deepEqual(states, []);
  } finally {
    pg.Client.prototype.query = query;
    await store.close();
  }
});
