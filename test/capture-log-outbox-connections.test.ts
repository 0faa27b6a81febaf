/**
 * The log outbox's connections to the log, and what its state says once others delivered: an
 * outbox never holds more than LOG_CONNECTIONS connections to the log however many receipts wait
 * (counted at a TCP relay in front of a real runprint log on loopback: three serves sending 32 at
 * once went past a log's 128 connections per client, answered 429), and a failure it reported is
 * cleared once nothing waits in the store, when another serve on it delivered the backlog.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { LOG_CONNECTIONS, LogOutbox } from '../src/store/log-outbox.ts';
import { outboxFixture } from './helpers/log-outbox-fixture.ts';
import { closedPort } from './helpers/closed-port.ts';

const { closing, logKey, newLog, front, newStore, indexes, outbox, until, noSharedIndex } = outboxFixture('runprint-outbox-connections-');

/** A TCP relay on loopback to `to`, counting the connections open through it and the most at once. */
async function relay(to: URL): Promise<{ url: URL; open: number; most: number; opened: number }> {
  const state = { url: new URL('http://127.0.0.1/'), open: 0, most: 0, opened: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    state.open++;
    state.opened++;
    state.most = Math.max(state.most, state.open);
    const upstream = connect(Number(to.port), to.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      state.open--;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  closing.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

test(`one outbox holds at most ${LOG_CONNECTIONS} connections to the log while 600 receipts wait, and delivers them all`, async () => {
  assert.ok(LOG_CONNECTIONS >= 4 && LOG_CONNECTIONS <= 8);
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const counted = await relay(to.url);
  const store = await newStore(600);
  const box = new LogOutbox({ storage: store, url: counted.url, logKey: verifier, retryMinMs: 20, retryMaxMs: 50, pollMs: 50, checkpointWaitMs: 5_000 });
  box.start();
  closing.push(() => box.close());
  await until(() => box.state.proved === 600, 'all 600 proved', 60_000);
  assert.equal(box.state.retries, 0, JSON.stringify(box.state));
  assert.ok(counted.most <= LOG_CONNECTIONS, `at most ${LOG_CONNECTIONS} connections at once, not ${counted.most}`);
  assert.ok(counted.most >= 2, `receipts are sent several at a time (${counted.most} connections at once)`);
  assert.equal((await indexes(store)).filter((index) => index === null).length, 0);
  await noSharedIndex(store);
});

test('a failure the outbox reported is cleared once nothing waits in the store, when another serve on it delivered the backlog', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(3);
  // This serve's outbox cannot reach the log (a port nothing listens on).
  const down = new URL(`http://127.0.0.1:${await closedPort()}/`);
  const stuck = new LogOutbox({ storage: store, url: down, logKey: verifier, retryMinMs: 20, retryMaxMs: 100, pollMs: 50, checkpointWaitMs: 3_000 });
  stuck.start();
  closing.push(() => stuck.close());
  await until(() => stuck.state.lastError !== null && stuck.state.retries >= 2, 'the log unreachable is reported');
  assert.equal(stuck.state.lastError!.code, 'ERR_LOG_UNREACHABLE');
  // Another serve on the store reaches the log and delivers all three.
  const { box } = outbox(store, to, verifier);
  await until(() => box.state.proved === 3, 'the other serve delivered the three');
  await until(() => stuck.state.lastError === null, 'the first outbox\'s failure is cleared');
  assert.equal(stuck.state.waiting, 0);
  assert.equal(stuck.state.stopped, null);
  assert.equal(stuck.state.delivered, 0);
});
