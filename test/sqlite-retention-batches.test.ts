/**
 * Retention on a SQLite run store (SqliteRuns.expire) in short transactions, as on PostgreSQL
 * (postgres-retention-batches.test.ts): a put commits between them, not only once every expired
 * run's content is deleted (one transaction over every expiring run held the write lock, and on
 * the caller's thread the event loop, for tens of seconds on a large store). Between two steps
 * the store is as a crash would leave it: no run marked expired keeps a digest, every digest kept
 * has its content. Only the content the expiring runs named is looked at: a row no run names is
 * not read (nor deleted); content a newer run keeps stays; a run of more digests than one step
 * releases (a large run) loses all of its content and is marked expired. A step leaves a run
 * that does not fit what it has left whole, for the next step (which takes it first): only a large
 * run is ever half released between steps.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { EXPIRE_DIGESTS, expireStep, prepareRunWrites } from '../src/store/sqlite-runs-write.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-retention-batches-');
after(() => scratch.removeAll());

/** Old runs, one digest each: more than 40 of expire's steps of runs. */
const OLD = 10_500;
/** The large old run's digests: more than one step releases. */
const LARGE = 10_000;
const BEFORE = '2025-01-01T00:00:00.000Z';

for (const writerThread of [false, true]) {
  test(`expire on SQLite commits in short transactions, a put committing between them; between them nothing is half done; only the expiring runs' content is looked at, and what a newer run keeps stays (${writerThread ? 'writer thread' : 'one connection'})`, { timeout: 120_000 }, async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    const store = SqliteRuns.open(path, { writerThread });
    const other = new DatabaseSync(path);
    try {
      const count = (sql: string) => (other.prepare(sql).get() as { n: number }).n;
      // Runs 1..OLD ended in 2020, one digest each (o1, ...), and run OLD+1 (large, 2020) names
      // LARGE digests (l0, ...); run OLD+2 ended in 2030 and keeps o1 and l0. Run OLD names o1 too.
      other.exec(`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${OLD + 2})
        INSERT INTO runs (record_digest, capture_id, started, ended, capture, record, receiptable)
        SELECT 'r' || n, 'c' || n, CASE WHEN n <= ${OLD + 1} THEN '2020-01-01T00:00:00.000Z' ELSE '2030-01-01T00:00:00.000Z' END,
               CASE WHEN n <= ${OLD + 1} THEN '2020-01-01T00:00:01.000Z' ELSE '2030-01-01T00:00:01.000Z' END, 'proxy', '{}', 0 FROM g`);
      const seq = (n: number) => count(`SELECT seq AS n FROM runs WHERE record_digest = 'r${n}'`);
      const [lastOld, large, newer] = [seq(OLD), seq(OLD + 1), seq(OLD + 2)];
      other.exec(`INSERT INTO run_digests (seq, part, position, digest, kept) SELECT seq, 'messages', 0, 'o' || substr(record_digest, 2), 1 FROM runs WHERE seq < ${large}`);
      other.exec(`UPDATE run_digests SET digest = 'o1' WHERE seq = ${lastOld}`);
      other.exec(`WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < ${LARGE - 1})
        INSERT INTO run_digests (seq, part, position, digest, kept) SELECT ${large}, 'messages', n, 'l' || n, 1 FROM g`);
      other.exec(`INSERT INTO run_digests (seq, part, position, digest, kept) VALUES (${newer}, 'messages', 0, 'o1', 1), (${newer}, 'messages', 1, 'l0', 1)`);
      other.exec("INSERT INTO content (digest, bytes) SELECT DISTINCT digest, x'00' FROM run_digests");
      // Content no run names (left by something else than a run): expire does not look for it.
      other.exec("INSERT INTO content (digest, bytes) VALUES ('unnamed', x'01')");
      const oldRuns = `SELECT count(*) AS n FROM runs WHERE ended < '${BEFORE}' AND content_expired = 0`;
      assert.equal(count(oldRuns), OLD + 1);

      let done = false;
      const expiring = store.expire(BEFORE).finally(() => (done = true));
      // Once the first of its transactions committed ...
      while (count(oldRuns) === OLD + 1 && !done) await new Promise((resolve) => setTimeout(resolve, 2));
      // ... what is committed is whole, as a crash there would leave it: a run marked expired keeps
      // no digest, a digest kept has its content (the next expire takes the runs not marked) ...
      assert.equal(count('SELECT count(*) AS n FROM run_digests d JOIN runs r USING (seq) WHERE r.content_expired = 1 AND d.kept = 1'), 0, 'a marked run keeps nothing');
      assert.equal(count('SELECT count(*) AS n FROM run_digests d WHERE kept = 1 AND NOT EXISTS (SELECT 1 FROM content c WHERE c.digest = d.digest)'), 0, 'every kept digest has its content');
      // ... and a put (a new run and its content) is committed while many of the old runs still wait for theirs.
      const one = chatRun('committed meanwhile');
      await store.put([runToStore(one.run, one.bytes, defaultContentPolicy(), 'proxy', true)]);
      const left = count(oldRuns);
      assert.ok(left > 0, 'the put committed before the expire\'s last transaction');
      assert.equal(await expiring, OLD + 1);

      assert.equal(count(oldRuns), 0);
      assert.equal(count('SELECT count(*) AS n FROM run_digests d JOIN runs r USING (seq) WHERE r.content_expired = 1 AND d.kept = 1'), 0, 'the expired runs keep nothing');
      // What the newer run keeps stays; the rest of what the old runs named is gone; the unnamed row was not looked at.
      assert.deepEqual((other.prepare("SELECT digest FROM content WHERE digest GLOB '[ol][0-9]*' OR digest = 'unnamed' ORDER BY digest").all() as { digest: string }[]).map((row) => row.digest), ['l0', 'o1', 'unnamed']);
      assert.equal(count(`SELECT count(*) AS n FROM runs WHERE seq = ${large} AND content_expired = 1`), 1, 'the large run is marked expired');
      // The put's run and content are whole.
      const [stored] = await store.find(one.run.record.captureId);
      assert.equal(stored?.contentExpired, false);
      assert.ok(stored!.digests.filter((digest) => digest.kept).length > 0);
      for (const digest of stored!.digests.filter((d) => d.kept)) assert.notEqual(await store.content(digest.digest), undefined);
      assert.equal(await store.expire(BEFORE), 0, 'expiring again expires nothing');
    } finally {
      other.close();
      await store.close();
    }
  });
}

test('a step of expire leaves a run that does not fit the digests it has left whole for the next step: only a run larger than a step is released over several', async () => {
  const path = join(scratch.tempDir(), 'runs.sqlite');
  await SqliteRuns.open(path, { writerThread: false }).close();
  const db = new DatabaseSync(path);
  try {
    // 15 runs of 300 digests (4,500: more than a step's 4,096), then a large run of 5,000, then 2 of 300.
    const sizes = [...Array.from({ length: 15 }, () => 300), 5_000, 300, 300];
    sizes.forEach((size, i) => {
      db.exec(`INSERT INTO runs (record_digest, capture_id, started, ended, capture, record, receiptable) VALUES ('r${i}', 'c${i}', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:01.000Z', 'proxy', '{}', 0)`);
      db.exec(`WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < ${size - 1})
        INSERT INTO run_digests (seq, part, position, digest, kept) SELECT (SELECT seq FROM runs WHERE record_digest = 'r${i}'), 'messages', n, 'd${i}_' || n, 1 FROM g`);
    });
    db.exec("INSERT INTO content (digest, bytes) SELECT digest, x'00' FROM run_digests");
    const statements = prepareRunWrites(db);
    /** Each run: [digests kept, digests with content, marked expired]. */
    const state = () => (db.prepare(`SELECT (SELECT count(*) FROM run_digests d WHERE d.seq = r.seq AND kept = 1) AS kept,
        (SELECT count(*) FROM run_digests d JOIN content c USING (digest) WHERE d.seq = r.seq) AS stored, content_expired AS marked FROM runs r ORDER BY seq`).all() as { kept: number; stored: number; marked: number }[])
      .map((row) => [row.kept, row.stored, row.marked]);
    const whole = (size: number) => [size, size, 0];
    const gone = [0, 0, 1];
    const steps: number[] = [];
    let after = 0;
    const step = () => {
      const done = expireStep(db, path, statements, { before: '2025-01-01T00:00:00.000Z', after });
      after = done.after;
      steps.push(done.marked);
      return done;
    };
    step();
    // 13 runs fit 4,096 (3,900); the 14th is left whole, not half released.
    assert.deepEqual(state(), [...Array.from({ length: 13 }, () => gone), whole(300), whole(300), whole(5_000), whole(300), whole(300)]);
    step();
    // The 14th and 15th, then the large run does not fit: left whole.
    assert.deepEqual(state(), [...Array.from({ length: 15 }, () => gone), whole(5_000), whole(300), whole(300)]);
    step();
    // The large run first: a step's worth of it released, not marked.
    assert.deepEqual(state(), [...Array.from({ length: 15 }, () => gone), [5_000 - EXPIRE_DIGESTS, 5_000 - EXPIRE_DIGESTS, 0], whole(300), whole(300)]);
    assert.equal(step().done, true);
    assert.deepEqual(state(), sizes.map(() => gone));
    assert.deepEqual(steps, [13, 2, 0, 3]);
  } finally {
    db.close();
  }
});

for (const writerThread of [false, true]) {
  test(`a rewrite of the content table a sweep did not make (a crash after its last step) is made by the next process's sweep, which deletes nothing (${writerThread ? 'writer thread' : 'one connection'})`, async () => {
    const path = join(scratch.tempDir(), 'runs.sqlite');
    await SqliteRuns.open(path, { writerThread: false }).close();
    const db = new DatabaseSync(path);
    try {
      db.exec(`INSERT INTO runs (record_digest, capture_id, started, ended, capture, record, receiptable) VALUES ('r1', 'c1', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:01.000Z', 'proxy', '{}', 0)`);
      db.exec("INSERT INTO run_digests (seq, part, position, digest, kept) SELECT seq, 'messages', 0, 'd1', 1 FROM runs");
      db.exec("INSERT INTO content (digest, bytes) VALUES ('d1', x'00'), ('other', x'01')");
      // The sweep's steps, and the process gone before its rewrite.
      const step = expireStep(db, path, prepareRunWrites(db), { before: '2025-01-01T00:00:00.000Z', after: 0 });
      assert.deepEqual([step.marked, step.deleted, step.rewriteDue, step.done], [1, true, true, true]);
      const contentRoot = () => (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'content'").get() as { rootpage: number }).rootpage;
      const root = contentRoot();
      const store = SqliteRuns.open(path, { writerThread });
      try {
        assert.equal(await store.expire('2025-01-01T00:00:00.000Z'), 0);
      } finally {
        await store.close();
      }
      assert.notEqual(contentRoot(), root, 'the content table was rewritten');
      assert.equal(db.prepare('SELECT count(*) AS n FROM content_rewrite_due').get()!['n'], 0, 'no rewrite due any more');
      assert.deepEqual(db.prepare('SELECT digest FROM content').all().map((row) => row['digest']), ['other']);
    } finally {
      db.close();
    }
  });
}
