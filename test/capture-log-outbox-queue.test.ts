/**
 * The log outbox's requests past its LOG_CONNECTIONS connections wait in its fetch's own queue
 * (store/capped-fetch.ts on node-http/node-fetch.ts), never in the node:http agent's: a request the
 * agent queued and that is then destroyed (its time is up, or the outbox closes) stays in the
 * agent's queue, its body held, until a connection is handed to it. Seen through Node's
 * diagnostics channel for each request made: no more requests alive at once (made, not closed)
 * than connections. A submission whose time runs out while it waits fails at once as a log that
 * cannot be reached, and is never sent.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { RunprintError } from '../src/errors.ts';
import { submitReceipt } from '../src/log/client.ts';
import { cappedFetch } from '../src/store/capped-fetch.ts';
import { LOG_CONNECTIONS, LogOutbox } from '../src/store/log-outbox.ts';
import { outboxFixture } from './helpers/log-outbox-fixture.ts';
import { requestsAlive } from './helpers/requests-alive.ts';

const { closing, logKey, newLog, front, newStore, until } = outboxFixture('runprint-outbox-queue-');

const requests = requestsAlive();

test(`submissions past the outbox's ${LOG_CONNECTIONS} connections whose time runs out while they wait fail at once, are never sent, and leave no request behind`, { timeout: 15_000 }, async () => {
  // A log that holds each submission `hold` ms (from the query), then refuses it as busy; it notes each one it got.
  const got: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://log');
    got.push(url.searchParams.get('n') ?? '');
    request.resume();
    const hold = Number(url.searchParams.get('hold') ?? '0');
    setTimeout(() => response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"ERR_LOG_BUSY","message":"busy"}}'), hold);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closing.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const http = cappedFetch(LOG_CONNECTIONS);
  closing.push(async () => http.close());
  // As the outbox sends each receipt: its own time limit and the outbox's close. Settled to the error it failed with.
  const submit = (n: string, hold: number, timeoutMs: number, closed = new AbortController()): Promise<unknown> => {
    const base = new URL(`http://127.0.0.1:${port}/`);
    const fetch = (url: URL, init: RequestInit) => {
      url.search = `?n=${n}&hold=${hold}`;
      return http.fetch(url, init);
    };
    return submitReceipt(base, new TextEncoder().encode(`{"receipt":"${n}"}`), undefined, { signal: AbortSignal.any([closed.signal, AbortSignal.timeout(timeoutMs)]), fetch }).then(
      () => undefined,
      (error: unknown) => error,
    );
  };
  const unreachable = (error: unknown) => (error as RunprintError).code === 'ERR_LOG_UNREACHABLE' && (error as Error).message === `cannot reach http://127.0.0.1:${port}/v1/log/entries`;
  const busy = (error: unknown) => (error as { code?: string }).code === 'ERR_LOG_BUSY' && (error as { status?: number }).status === 503;
  requests.mostAlive = 0;
  // Every connection held for 1.5 s.
  const held = Array.from({ length: LOG_CONNECTIONS }, (_, i) => submit(`held${i}`, 1500, 10_000));
  await until(() => got.length === LOG_CONNECTIONS, 'the log holds every connection');
  const started = performance.now();
  const late = Array.from({ length: 4 }, (_, i) => submit(`late${i}`, 0, 200));
  const closed = new AbortController();
  const leaving = submit('closed', 0, 10_000, closed);
  setTimeout(() => closed.abort(), 100);
  const closedError = await leaving;
  assert.ok(unreachable(closedError), String(closedError));
  assert.ok(performance.now() - started < 180, 'the closed one fails at once');
  for (const call of late) {
    const error = await call;
    assert.ok(unreachable(error), String(error));
  }
  const failedMs = performance.now() - started;
  assert.ok(failedMs >= 180 && failedMs < 1000, `the waiting submissions failed after ${Math.round(failedMs)} ms, not when a connection came free`);
  assert.equal(requests.mostAlive, LOG_CONNECTIONS, `${requests.mostAlive} requests alive at once with ${LOG_CONNECTIONS} connections: the agent queued requests`);
  assert.equal(requests.alive, LOG_CONNECTIONS, 'the failed submissions left requests behind');
  for (const call of held) assert.ok(busy(await call), 'the held ones are answered');
  // The connections are free again: the next submission is sent; the failed ones never were.
  assert.ok(busy(await submit('next', 0, 2000)));
  assert.deepEqual(got.filter((n) => !n.startsWith('held')), ['next']);
  await until(() => requests.alive === 0, 'no request is left');
});

test(`an outbox delivering 300 receipts never has more requests alive than its ${LOG_CONNECTIONS} connections (none waits in the agent's queue)`, { timeout: 60_000 }, async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(300);
  requests.mostAlive = 0;
  const box = new LogOutbox({ storage: store, url: to.url, logKey: verifier, retryMinMs: 20, retryMaxMs: 50, pollMs: 50, checkpointWaitMs: 5_000 });
  box.start();
  closing.push(() => box.close());
  await until(() => box.state.proved === 300, 'all 300 proved', 50_000);
  assert.ok(requests.mostAlive <= LOG_CONNECTIONS, `${requests.mostAlive} requests alive at once with ${LOG_CONNECTIONS} connections: the agent queued requests`);
  assert.ok(requests.mostAlive >= 2, `receipts are sent several at a time (${requests.mostAlive} at once)`);
});
