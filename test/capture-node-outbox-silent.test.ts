/**
 * runprintFetch with `url`: a runprint server that takes the connection and never answers (or
 * answers slowly) holds neither flush() nor close(). Each send has a time limit; past it the server
 * is down, as one that cannot be reached: reported (ERR_CAPTURE_UNAVAILABLE, saying how many
 * exchanges wait), the exchange kept in the outbox and sent again later. flush() waits for the
 * outbox's pass within its own bound, and says what still waits when that passes; close() cuts
 * the send in progress. The limits are given small through a test seam (10 s and 15 s by default).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OUTBOX_FOLDER, runprintFetch } from '../src/capture-node/index.ts';
import { OUTBOX_WAIT_SEAM } from '../src/capture-node/runprint-fetch.ts';
import type { RunprintError } from '../src/errors.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';

const scratch: string[] = [];
let upstream: FakeUpstream;
before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-outbox-silent-'));
  scratch.push(dir);
  return dir;
}

const waiting = (data: string) => readdirSync(join(data, OUTBOX_FOLDER)).filter((name) => name.endsWith('.json'));

/** Settles with what `work` gave, or 'still waiting' after `ms`. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function call(fetch: typeof globalThis.fetch, text: string): Promise<void> {
  const response = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }) });
  await response.text();
}

test('a server that takes the connection and never answers: flush and close return within their bounds, the exchange waits and is sent once the server answers', { timeout: 20_000 }, async () => {
  // Holds the first connections without a byte of answer; answers 200 once `answering`.
  const held: Socket[] = [];
  let answering = false;
  const delivered: string[] = [];
  const ingest = createHttpServer((request, response: ServerResponse) => {
    if (!answering) {
      held.push(request.socket);
      return;
    }
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => {
      delivered.push(body);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => ingest.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(ingest.address() as { port: number }).port}`;
  const data = tempDir();
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data, url, onError: (error) => void errors.push(error), [OUTBOX_WAIT_SEAM]: { sendMs: 300, flushMs: 1_000 } } as Parameters<typeof runprintFetch>[0]);
  try {
    await call(fetch, 'Hello.');
    const started = performance.now();
    assert.notEqual(await within(fetch.flush(), 5_000), 'still waiting', 'flush returns');
    assert.ok(performance.now() - started < 2_000, `flush took ${Math.round(performance.now() - started)} ms`);
    assert.equal(errors.length, 1, errors.map((error) => error.message).join('\n'));
    assert.equal(errors[0]!.code, 'ERR_CAPTURE_UNAVAILABLE');
    assert.equal(errors[0]!.message, `the runprint server at ${url} did not answer within 0.3 s: 1 exchange waits in the outbox, sent again later`);
    assert.equal(fetch.counts.failures, 0, 'waiting is not a failure: nothing is lost');
    assert.deepEqual(fetch.counts.outbox, { queued: 1, delivered: 0, rejected: 0, refused: 0 });
    assert.equal(waiting(data).length, 1, 'the exchange waits in the outbox');
    // The server answers now: the retry sends it.
    answering = true;
    for (let i = 0; i < 200 && fetch.counts.outbox.delivered === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.deepEqual(fetch.counts.outbox, { queued: 1, delivered: 1, rejected: 0, refused: 0 });
    assert.deepEqual(waiting(data), []);
    assert.equal(JSON.parse(delivered.at(-1)!).captureId !== undefined, true);
  } finally {
    // The held connections first: without a time limit on sends, close would wait for them.
    for (const socket of held) socket.destroy();
    await fetch.close();
    await new Promise<void>((resolve) => ingest.close(() => resolve()));
  }
});

test('close cuts a send in progress to a silent server: it returns within the send limit and the exchange waits for the next process', { timeout: 20_000 }, async () => {
  const held: Socket[] = [];
  const silent = createServer((socket) => void held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  const data = tempDir();
  const errors: RunprintError[] = [];
  // A long send limit: only close can end the send in time.
  const fetch = runprintFetch({ data, url, onError: (error) => void errors.push(error), [OUTBOX_WAIT_SEAM]: { sendMs: 60_000, flushMs: 500 } } as Parameters<typeof runprintFetch>[0]);
  try {
    await call(fetch, 'Hello.');
    const started = performance.now();
    assert.notEqual(await within(fetch.close(), 5_000), 'still waiting', 'close returns');
    assert.ok(performance.now() - started < 2_000, `close took ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_UNAVAILABLE']);
    assert.equal(errors[0]!.message, `the runprint server at ${url} has not taken the outbox's exchanges within 0.5 s of flush: 1 exchange waits in the outbox, sent later (or by the next process on this data directory)`);
    assert.equal(waiting(data).length, 1, 'kept for the next process');
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});
