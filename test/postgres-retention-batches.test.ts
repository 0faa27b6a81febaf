/**
 * Retention on a PostgreSQL run store (PostgresRuns.expire) in short transactions: a put commits
 * between them, not only once every expired run's content is deleted (one transaction holding the
 * content lock, which made every serve's commits wait up to their lock timeout on a large store).
 * Only the content the expiring runs named is looked at: a row no run names is not read (nor
 * deleted); content a newer run keeps stays; a run of more digests than one transaction releases
 * (a large run) loses all of its content and is marked expired.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
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
