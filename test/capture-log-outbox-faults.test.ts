/**
 * The log outbox (serve --capture-log) against logs that misbehave, on a real SQLite run store and
 * a real HTTP log on loopback that hangs, refuses, redirects or answers what it must not: reads
 * that hang end when the outbox closes or their time is up (nothing keeps the process alive),
 * close() does not wait for them, and no index the log did not answer rightly is stored.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import type { NoteVerifier } from '../src/log/note.ts';
import { LogOutbox, type LogOutboxOptions, type OutboxOutcome } from '../src/store/log-outbox.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';

const folders: string[] = [];
const stores: SqliteRuns[] = [];
after(async () => {
  for (const store of stores) await store.close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const encoder = new TextEncoder();

/** A SQLite run store holding `count` receipts without a log index (as in-process capture leaves them). */
async function storeWithReceipts(count: number): Promise<SqliteRuns> {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-outbox-faults-'));
  folders.push(dir);
  const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
  stores.push(store);
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy() });
  for (let i = 0; i < count; i++) {
    const started = Date.now();
    const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `outbox fault ${i}` }] }));
    const responseBytes = encoder.encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `About ${i}.` } }] }));
    const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
    await recorder.record(run, { requestBytes, responseBytes }, 'sdk');
  }
  await recorder.close();
  const runs = await store.list({ limit: count });
  await store.setReceipts(runs.map((run, i) => ({ recordDigest: run.recordDigest, receipt: JSON.stringify({ receipt: i, of: run.recordDigest }), logIndex: null })));
  return store;
}

async function logIndexes(store: SqliteRuns): Promise<(number | null)[]> {
  return (await store.list({ limit: 10_000 })).map((run) => run.logIndex);
}

/** A log key of nobody's: these logs never serve a checkpoint it could verify. */
async function someLogKey(): Promise<NoteVerifier> {
  return parseNoteVerifier(noteVerifierKey('fake-log', (await parsePrivateKey((await generateKeyFiles('fake-log')).privateKeyPem)).publicKey));
}

type Handler = (request: IncomingMessage, body: Buffer, response: ServerResponse, log: FakeLog) => void;

interface FakeLog {
  url: URL;
  posts: number;
  gets: string[];
  /** Requests left unanswered, and how many of them the client has closed. */
  hung: IncomingMessage[];
  closedHung: number;
  close(): Promise<void>;
}

/** A log on loopback whose every answer `handler` gives (it may leave a request hanging with `hang`). */
async function fakeLog(handler: Handler): Promise<FakeLog> {
  const log: FakeLog = { url: new URL('http://127.0.0.1/'), posts: 0, gets: [], hung: [], closedHung: 0, close: async () => {} };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'POST') log.posts++;
      else log.gets.push(request.url ?? '');
      handler(request, Buffer.concat(chunks), response, log);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  log.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  log.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return log;
}

/** Leaves the request unanswered, counting when the client gives up on it (its connection closes). */
function hang(request: IncomingMessage, response: ServerResponse, log: FakeLog): void {
  log.hung.push(request);
  response.on('close', () => log.closedHung++);
}

/** Answers a submission as a log does: its index (one per distinct entry) and leaf hash. */
function answerEntry(seen: Map<string, number>, body: Buffer, response: ServerResponse, index?: number): void {
  const leaf = createHash('sha256').update(Buffer.concat([Buffer.from([0]), body])).digest();
  if (!seen.has(leaf.toString('hex'))) seen.set(leaf.toString('hex'), seen.size);
  response.writeHead(201, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ index: index ?? seen.get(leaf.toString('hex')), leafHash: leaf.toString('base64') }));
}

async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An outbox on `store` to `log`, recording its failures. */
function outbox(store: SqliteRuns, log: FakeLog, options: Partial<LogOutboxOptions> = {}): { outbox: LogOutbox; failures: [string, OutboxOutcome, string][] } {
  const failures: [string, OutboxOutcome, string][] = [];
  const box = new LogOutbox({ storage: store, url: log.url, retryMinMs: 20, retryMaxMs: 50, onFailure: (error: RunprintError, outcome) => failures.push([error.code, outcome, error.message]), ...options });
  box.start();
  return { outbox: box, failures };
}

/** close(), and how long it took (ms). */
async function timedClose(box: LogOutbox): Promise<number> {
  const started = performance.now();
  await Promise.race([box.close(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  return performance.now() - started;
}

test('with the log key, close() while the checkpoint read hangs ends that read at once (it would keep the process alive for minutes)', async () => {
  const seen = new Map<string, number>();
  const log = await fakeLog((request, body, response, self) => (request.method === 'POST' ? answerEntry(seen, body, response) : hang(request, response, self)));
  const store = await storeWithReceipts(2);
  const { outbox: box } = outbox(store, log, { logKey: await someLogKey() });
  await until(() => log.hung.length > 0, 'the outbox reads the checkpoint');
  assert.ok((await timedClose(box)) < 1_000, 'close() does not wait for the read');
  await until(() => log.closedHung === log.hung.length, 'the hung checkpoint read is given up (its connection closed)', 2_000);
  assert.deepEqual(await logIndexes(store), [null, null], 'no index stored: none was proved');
  await log.close();
});

test('with the log key, a checkpoint read that hangs is given up after the request timeout and retried', async () => {
  const seen = new Map<string, number>();
  const log = await fakeLog((request, body, response, self) => (request.method === 'POST' ? answerEntry(seen, body, response) : hang(request, response, self)));
  const store = await storeWithReceipts(1);
  const { outbox: box, failures } = outbox(store, log, { logKey: await someLogKey(), requestTimeoutMs: 200, checkpointWaitMs: 100 });
  await until(() => log.closedHung >= 2, 'two hung checkpoint reads were given up by their own timeout', 3_000);
  assert.deepEqual(failures[0]!.slice(0, 2), ['ERR_LOG_UNREACHABLE', 'retry']);
  assert.equal(box.state.stopped, null);
  await box.close();
  await until(() => log.closedHung === log.hung.length, 'every hung read is given up');
  assert.deepEqual(await logIndexes(store), [null]);
  await log.close();
});

test('close() while a submission hangs returns at once, without proving what was answered (nothing stored)', async () => {
  const seen = new Map<string, number>();
  const log = await fakeLog((request, body, response, self) => {
    if (request.method === 'POST' && self.posts === 1) return answerEntry(seen, body, response);
    hang(request, response, self);
  });
  const store = await storeWithReceipts(2);
  const { outbox: box } = outbox(store, log, { logKey: await someLogKey(), concurrency: 1 });
  await until(() => log.posts === 2, 'the second receipt is sent');
  assert.ok((await timedClose(box)) < 1_000, 'close() does not wait for a proof that cannot run');
  assert.deepEqual(log.gets, [], 'no checkpoint read once closed');
  await until(() => log.closedHung === log.hung.length, 'the hung submission is given up');
  assert.deepEqual(await logIndexes(store), [null, null]);
  await log.close();
});

test('without the log key, a negative index the log answers is not stored: a log error, retried', async () => {
  const seen = new Map<string, number>();
  const log = await fakeLog((_request, body, response) => answerEntry(seen, body, response, -1));
  const store = await storeWithReceipts(1);
  const { outbox: box, failures } = outbox(store, log);
  await until(() => failures.length >= 2, 'two attempts failed');
  assert.deepEqual(failures[0], ['ERR_LOG_UNREACHABLE', 'retry', 'log answer has no index (an integer from 0) and leafHash']);
  assert.equal(box.state.delivered, 0);
  await box.close();
  assert.deepEqual(await logIndexes(store), [null]);
  await log.close();
});

test('a redirect from the log is not followed (the token stays with the URL given) and stops delivery naming it', async () => {
  const log = await fakeLog((_request, _body, response) => {
    response.writeHead(308, { location: 'http://127.0.0.1:1/elsewhere/v1/log/entries' });
    response.end();
  });
  const store = await storeWithReceipts(1);
  const { outbox: box, failures } = outbox(store, log, { token: 'secret-token' });
  await until(() => box.state.stopped !== null, 'delivery stopped');
  assert.equal(failures.length, 1, 'reported once, not retried');
  assert.deepEqual(failures[0]!.slice(0, 2), ['ERR_LOG_UNREACHABLE', 'stop']);
  assert.match(failures[0]![2], /^log answered HTTP 308, a redirect \(not followed\) from http:\/\/127\.0\.0\.1:[0-9]+\/v1\/log\/entries: give the log URL it redirects to$/);
  assert.equal(box.state.stopped!.status, 308);
  assert.equal(log.posts, 1);
  await box.close();
  assert.deepEqual(await logIndexes(store), [null]);
  await log.close();
});
