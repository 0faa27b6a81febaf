/**
 * The log outbox (serve --capture-log) when several serves share one PostgreSQL run store: what
 * waits is divided between them, so each receipt is sent to the log once, not once per serve
 * (before, two serves sent every receipt twice, and the log answered the second with the index it
 * gave the first). The store claims the receipts it hands a process to deliver
 * (PostgresRuns.unlogged); a claim of a serve killed -9 while it delivered is taken over once it
 * is older than the claim's bound (logClaimMs), one of a store closed is handed back at once, and
 * a store made before the claim columns gets them when serve opens it. On real PostgreSQL and a
 * real runprint log behind an HTTP front on loopback that counts the POSTs it takes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import type pg from 'pg';
import type { NoteVerifier } from '../src/log/note.ts';
import { LogOutbox } from '../src/store/log-outbox.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { outboxFixture } from './helpers/log-outbox-fixture.ts';

const { closing, logKey, newLog, front, addReceipts, indexes, until, noSharedIndex } = outboxFixture('runprint-outbox-claims-');

/** A fresh schema's URL; the schemas are dropped after the file's tests. */
async function freshUrl(): Promise<{ url: string; schema: string; admin: pg.Client }> {
  const pgs = await pgSchemas();
  closing.push(() => pgs.drop());
  const { url, schema } = await pgs.fresh('runprint_outbox_claims');
  return { url, schema, admin: pgs.admin };
}

async function open(url: string, logClaimMs?: number): Promise<PostgresRuns> {
  const store = await PostgresRuns.open(url, logClaimMs === undefined ? {} : { logClaimMs });
  closing.push(() => store.close());
  return store;
}

/** An outbox of one serve on `store`, without the log key unless given one. */
function outbox(store: PostgresRuns, url: URL, logKey?: NoteVerifier): LogOutbox {
  const box = new LogOutbox({ storage: store, url, ...(logKey === undefined ? {} : { logKey }), retryMinMs: 20, retryMaxMs: 50, pollMs: 50, checkpointWaitMs: 3_000 });
  box.start();
  closing.push(() => box.close());
  return box;
}

for (const withKey of [false, true]) {
  test(`two serves on one PostgreSQL run store send each waiting receipt to the log once (${withKey ? 'with' : 'without'} the log key)`, async () => {
    const { url } = await freshUrl();
    const [a, b] = [await open(url), await open(url)];
    // Without the key a pass reads 512 receipts at a time: more than one page, for both to take some.
    const count = withKey ? 40 : 530;
    await addReceipts(a, count);
    const { key, verifier } = await logKey();
    const to = await front(await newLog(key));
    const boxes = [outbox(a, to.url, withKey ? verifier : undefined), outbox(b, to.url, withKey ? verifier : undefined)];
    await until(async () => (await a.unloggedCount(1)) === 0, 'every receipt delivered', 30_000);
    for (const box of boxes) await box.close();
    assert.equal(to.posts, count, `the log took ${to.posts} POSTs for ${count} receipts`);
    assert.equal(boxes[0]!.state.delivered + boxes[1]!.state.delivered, count);
    assert.ok((await indexes(a)).every((index) => index !== null));
    await noSharedIndex(a);
    assert.deepEqual(boxes.map((box) => box.state.stopped), [null, null]);
  });
}

/** A log that takes POSTs and never answers them, counting them: a serve that delivers to it holds its receipts claimed. */
async function silentLog(): Promise<{ url: URL; posts: () => number }> {
  let posts = 0;
  const held: IncomingMessage[] = [];
  const server = createServer((request) => {
    if (request.method === 'POST') posts++;
    held.push(request);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closing.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`), posts: () => posts };
}

/**
 * A serve process's outbox on the store at `url`, delivering to `log`; resolves with the child
 * once it has sent a receipt (its receipts claimed, their POSTs unanswered).
 */
async function deliveringChild(url: string, log: { url: URL; posts: () => number }): Promise<ReturnType<typeof spawn>> {
  const code = `
    const { PostgresRuns } = await import(process.argv[1]);
    const { LogOutbox } = await import(process.argv[2]);
    const store = await PostgresRuns.open(process.argv[3]);
    new LogOutbox({ storage: store, url: new URL(process.argv[4]), pollMs: 50 }).start();
    setInterval(() => undefined, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, '--', new URL('../src/store/postgres-runs.ts', import.meta.url).href, new URL('../src/store/log-outbox.ts', import.meta.url).href, url, log.url.href], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  closing.push(async () => void child.kill('SIGKILL'));
  await until(() => log.posts() > 0 || child.exitCode !== null, 'the child serve sent a receipt', 15_000);
  assert.equal(child.exitCode, null, stderr);
  return child;
}

test('receipts a serve claimed and was killed -9 while delivering are delivered by another serve once the claim is older than its bound, not before', async () => {
  const { url, schema, admin } = await freshUrl();
  const a = await open(url);
  await addReceipts(a, 5);
  const silent = await silentLog();
  const child = await deliveringChild(url, silent);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  // The killed serve claimed all five (one page); another serve, with a bound of 3 s.
  const claims = await admin.query(`SELECT count(*)::int AS claimed, count(DISTINCT log_claimed_by)::int AS holders FROM ${schema}.runs WHERE log_claimed_by IS NOT NULL`);
  assert.deepEqual(claims.rows[0], { claimed: 5, holders: 1 });
  const BOUND_MS = 3_000;
  const { key } = await logKey();
  const to = await front(await newLog(key));
  const b = await open(url, BOUND_MS);
  const box = outbox(b, to.url);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  // The POSTs counted first, then the claims' age (the database's clock, which the store's bound is
  // measured by): a claim younger than the bound then was younger when the POSTs were counted.
  const posts = to.posts;
  const age = ((await admin.query(`SELECT extract(epoch FROM clock_timestamp() - max(log_claimed_at)) * 1000 AS ms FROM ${schema}.runs`)).rows[0] as { ms: string }).ms;
  assert.ok(Number(age) < BOUND_MS, `the check came ${age} ms after the claim: too late to tell`);
  assert.equal(posts, 0, 'a claim younger than its bound holds');
  await until(() => box.state.delivered === 5, 'the other serve delivered the killed one\'s receipts', 15_000);
  assert.equal(to.posts, 5);
  assert.ok((await indexes(a)).every((index) => index !== null));
  assert.equal(box.state.stopped, null);
});

test('a run store closed hands back the receipts it claimed and did not deliver: another serve delivers them at once', async () => {
  const { url } = await freshUrl();
  const a = await PostgresRuns.open(url);
  await addReceipts(a, 3);
  assert.equal((await a.unlogged(100)).length, 3);
  // Another process on the store (the default bound of a minute) gets none of them meanwhile.
  const b = await open(url);
  assert.deepEqual(await b.unlogged(100), []);
  await a.close();
  const { key } = await logKey();
  const to = await front(await newLog(key));
  const box = outbox(b, to.url);
  await until(() => box.state.delivered === 3, 'delivered after the first store closed');
  assert.equal(to.posts, 3);
});

test('a PostgreSQL run store made before delivery claims is read as it is, and gets them when serve opens it', async () => {
  const { url, schema, admin } = await freshUrl();
  const first = await PostgresRuns.open(url);
  await addReceipts(first, 4);
  await first.close();
  // As a runprint before delivery claims made it.
  await admin.query(`ALTER TABLE ${schema}.runs DROP COLUMN log_claimed_by, DROP COLUMN log_claimed_at`);
  const reader = await PostgresRuns.open(url, { readOnly: true });
  assert.equal((await reader.unlogged(100)).length, 4);
  await reader.close();
  const [a, b] = [await open(url), await open(url)];
  const columns = await admin.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'runs' AND column_name LIKE 'log_claimed%' ORDER BY column_name`, [schema]);
  assert.deepEqual(columns.rows, [{ column_name: 'log_claimed_at', data_type: 'timestamp with time zone' }, { column_name: 'log_claimed_by', data_type: 'text' }]);
  assert.equal((await a.unlogged(100)).length, 4);
  assert.deepEqual(await b.unlogged(100), []);
});

test('a run store that claimed receipts closes within a few seconds when PostgreSQL stops answering; its claims then lapse', async () => {
  const { url } = await freshUrl();
  // A TCP proxy on loopback to the store, which stops forwarding (a database or a network that
  // hangs: the connections stay open and nothing comes back).
  const sockets: Socket[] = [];
  const target = new URL(url);
  const proxy = createNetServer((from) => {
    const to = connect(Number(target.port || 5432), target.hostname);
    sockets.push(from, to);
    from.on('error', () => undefined);
    to.on('error', () => undefined);
    from.pipe(to);
    to.pipe(from);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  closing.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => proxy.close(() => resolve()));
  });
  const proxied = new URL(url);
  proxied.host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const other = await open(url, 1_000);
  await addReceipts(other, 3);
  const store = await PostgresRuns.open(proxied.toString(), { logClaimMs: 1_000 });
  assert.equal((await store.unlogged(100)).length, 3);
  for (const socket of sockets) {
    socket.unpipe();
    socket.pause();
  }
  const started = Date.now();
  const closed = await Promise.race([store.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still closing'), 8_000).unref())]);
  assert.equal(closed, 'closed');
  assert.ok(Date.now() - started < 4_000, `closed in ${Date.now() - started} ms`);
  // Not handed back: the claims lapse after logClaimMs, and another store gets them then.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  assert.equal((await other.unlogged(100)).length, 3);
});
