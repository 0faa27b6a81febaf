/**
 * A PostgreSQL run store that goes away for a few seconds while a real serve is under load
 * (30 clients, one call at a time each, sync durability): once the database is back, new records
 * are committed as usual (their answers wait for it) while the records held meanwhile are
 * committed, so what is held only shrinks, reaches 0, and every answer a client received whole
 * has its record. Before, every new record was held without a commit attempt (its answer not held)
 * until the last held one was committed: clients ran faster than the retry committed, `held` grew
 * to its cap of 10,000 and the records after it were lost (ERR_CAPTURE_RECORDS_LOST).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { TEST_PG } from './helpers/pg-schemas.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-pg-outage-');
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

interface Health {
  capture: { healthy: boolean; recorded: number; failed: number; held: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('after a PostgreSQL outage under load, new records are committed again at once, what is held drains to 0, and no answer received is left without its record', { timeout: 240_000 }, async (t) => {
  // A database of its own: connections to it are refused for the outage, others' are not.
  const name = `runprint_outage_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  databases.push(name);
  const url = new URL(TEST_PG);
  url.pathname = `/${name}`;
  const serve = await startServe({ data: scratch.tempDir(), args: ['--log-db', url.toString(), '--runs-db', url.toString(), '--upstream', `openai=${upstream.url}`] });
  const health = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as Health).capture;

  const received: string[] = [];
  const unexpected: string[] = [];
  let stop = false;
  const client = async (n: number) => {
    for (let i = 0; !stop; i++) {
      const answer = await fetch(`${serve.base}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `client ${n} call ${i}` }] }),
      });
      const text = await answer.text();
      const id = answer.headers.get('runprint-capture-id');
      // Received whole: the JSON of a completion, to its end.
      if (answer.status === 200 && id !== null && (JSON.parse(text) as { object?: string }).object === 'chat.completion') received.push(id);
      else unexpected.push(`${answer.status} ${text.slice(0, 200)}`);
    }
  };
  const clients = Array.from({ length: 30 }, (_, n) => client(n));
  try {
    while (received.length < 300) await sleep(20);
    assert.equal((await health()).held, 0, 'nothing held while the database works');

    // The outage: no new connection, and serve's connections ended.
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await sleep(3_000);
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    const atReturn = received.length;
    const returned = performance.now();
    const heldAtReturn = (await health()).held;
    assert.ok(heldAtReturn > 0, 'records were held during the outage');

    // Under the same load: `held` goes down once a retry commits, and never up again (new records
    // are committed, not held), to 0; and more calls are answered after that.
    let previous = heldAtReturn;
    let lowest = Number.POSITIVE_INFINITY;
    let fell = false;
    const grewAfterFalling: number[] = [];
    let drainedAt: number | undefined;
    while (received.length - atReturn < 15_000) {
      const { held } = await health();
      if (held < previous) fell = true;
      if (fell && held > lowest) grewAfterFalling.push(held);
      if (fell) lowest = Math.min(lowest, held);
      previous = held;
      if (held === 0 && drainedAt === undefined) {
        drainedAt = received.length;
        t.diagnostic(`held reached 0 ${Math.round(performance.now() - returned)} ms after the database came back, ${drainedAt - atReturn} answers later`);
      }
      if (drainedAt !== undefined && received.length - drainedAt >= 500) break;
      await sleep(100);
    }
    stop = true;
    await Promise.all(clients);
    const afterReturn = received.length - atReturn;

    // What is still held is committed once the load stops, with the fix or not (below the cap).
    const deadline = performance.now() + 120_000;
    let last = await health();
    while (last.held > 0 && performance.now() < deadline) {
      await sleep(200);
      last = await health();
    }
    const stored = new pg.Client({ connectionString: url.toString() });
    await stored.connect();
    let ids: Set<string>;
    try {
      ids = new Set(((await stored.query('SELECT capture_id FROM runs')).rows as Array<{ capture_id: string }>).map((row) => row.capture_id));
    } finally {
      await stored.end();
    }
    const lost = received.filter((id) => !ids.has(id)).length;
    const report = `${received.length} answers received (${afterReturn} after the database came back, ${heldAtReturn} records held then); held after the load ${last.held}; failed ${last.failed}; records missing ${lost}; held grew again ${grewAfterFalling.length} times after it fell (${grewAfterFalling.slice(0, 5).join(', ')})`;
    t.diagnostic(report);
    assert.deepEqual(unexpected.slice(0, 3), [], report);
    assert.equal(lost, 0, `every answer received whole has its record: ${report}`);
    assert.equal(last.failed, 0, `no record refused or dropped: ${report}`);
    assert.equal(last.held, 0, report);
    assert.equal(last.healthy, true, report);
    assert.ok(drainedAt !== undefined, `held reached 0 while the load went on: ${report}`);
    assert.deepEqual(grewAfterFalling, [], `once a retry committed, new records are not held: ${report}`);
  } finally {
    stop = true;
    await Promise.allSettled(clients);
    assert.equal(await serve.stop(), 0);
  }
});
