/**
 * PostgresRuns.put inserts a batch's runs in one statement (a retry of held records commits
 * batches of 512): the same rows as one insert per run gave, in batch order, a record twice in
 * the batch stored once, a record stored before not inserted again (and named existing when
 * another signer claimed it), and each run's digests and content stored.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { chatRun } from './helpers/stored-runs.ts';

let pgs: PgSchemas;
before(async () => {
  pgs = await pgSchemas();
});
after(() => pgs.drop());

const prepared = (user: string, claimedBy?: string) => {
  const { run, bytes } = chatRun(user);
  const toStore = runToStore(run, bytes, defaultContentPolicy(), 'proxy', true);
  if (claimedBy !== undefined) toStore.claimedBy = claimedBy;
  return toStore;
};

test('a batch is stored in its order, a record twice in it once, one stored before not again (existing when another signer claimed it)', async () => {
  const { schema, url } = await pgs.fresh('runprint_batch');
  const store = await PostgresRuns.open(url);
  try {
    const earlier = prepared('earlier', 'key:other');
    await store.put([earlier]);
    const runs = Array.from({ length: 40 }, (_, i) => prepared(`call ${i}`, 'key:mine'));
    const batch = [runs[0]!, { ...earlier, claimedBy: 'key:mine' }, ...runs.slice(1, 20), runs[5]!, ...runs.slice(20)];
    const result = await store.put(batch);
    assert.deepEqual(result, { existing: [earlier.recordDigest], refused: [] });
    const rows = (await pgs.admin.query(`SELECT seq, record_digest, claimed_by FROM ${schema}.runs ORDER BY seq`)).rows as Array<{ record_digest: string; claimed_by: string }>;
    assert.deepEqual(rows.map((row) => row.record_digest), [earlier.recordDigest, ...runs.map((run) => run.recordDigest)], 'each once, in batch order');
    assert.deepEqual(rows.map((row) => row.claimed_by), ['key:other', ...runs.map(() => 'key:mine')]);
    const digests = (await pgs.admin.query(`SELECT count(*)::int AS n FROM ${schema}.run_digests`)).rows[0] as { n: number };
    assert.equal(digests.n, [earlier, ...runs].reduce((sum, run) => sum + run.digests.length, 0), 'the digests of each run once');
    for (const run of runs) assert.deepEqual((await store.find(run.record.captureId)).map((found) => found.recordDigest), [run.recordDigest], 'found by its capture id');
    const missing = (await pgs.admin.query(`SELECT count(*)::int AS n FROM unnest($1::text[]) AS d WHERE d NOT IN (SELECT digest FROM ${schema}.content)`, [runs.flatMap((run) => run.content.map((piece) => piece.digest))])).rows[0] as { n: number };
    assert.equal(missing.n, 0, 'their content stored');
  } finally {
    await store.close();
  }
});
