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
import { parseTilePath } from '../src/log/tiles.ts';
import { noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import type { NoteVerifier } from '../src/log/note.ts';
import { LogOutbox, type LogOutboxOptions, type OutboxOutcome } from '../src/store/log-outbox.ts';
import { sqliteFault } from '../src/store/storage-faults.ts';
import { openSqliteLog } from '../src/store/log-service.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, type LogCheckpoint } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { verifyRun } from '../src/replay/verify-run.ts';

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
function outbox(store: Pick<SqliteRuns, 'unlogged' | 'unloggedCount' | 'setLogIndexes' | 'lastLogged' | 'logCheckpoint'>, log: FakeLog, options: Partial<LogOutboxOptions> = {}): { outbox: LogOutbox; failures: [string, OutboxOutcome, string][] } {
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

test('with the log key, receipts the log answered are proved again, not sent again, while no checkpoint covers them; the ones the checkpoint covers are stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-outbox-faults-'));
  folders.push(dir);
  const key = await parsePrivateKey((await generateKeyFiles('outbox.example')).privateKeyPem);
  const real = await openSqliteLog({ path: join(dir, 'log.sqlite'), origin: 'outbox.example', key, checkpointDelayMs: 10 });
  const store = await storeWithReceipts(5);
  const receipts = await store.unlogged(10);
  // The log holds the first 3 receipts already, under a signed checkpoint of size 3.
  for (const receipt of receipts.slice(0, 3)) await real.append(encoder.encode(receipt.receipt));
  await real.publishCheckpoint();
  const frozen = (await real.checkpoint()).note;
  let checkpoint: 'busy' | 'frozen' | 'latest' = 'busy';
  const log = await fakeLog((request, body, response) => {
    void (async () => {
      if (request.method === 'POST') {
        const stored = await real.append(body);
        response.writeHead(stored.created ? 201 : 200, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ index: stored.index, leafHash: Buffer.from(stored.leafHash).toString('base64') }));
      }
      if (request.url === '/checkpoint' && checkpoint === 'busy') {
        response.writeHead(503, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ error: { code: 'ERR_STORE_UNAVAILABLE', message: 'busy' } }));
      }
      if (request.url === '/checkpoint') return response.end(checkpoint === 'frozen' ? frozen : (await real.checkpoint()).note);
      const path = parseTilePath(request.url!.slice(1));
      const data = path.kind === 'hashes' ? await real.tile(path.tile) : undefined;
      if (data === undefined) return response.writeHead(404).end();
      return response.end(Buffer.from(data));
    })();
  });
  const logKey = await parseNoteVerifier(noteVerifierKey('outbox.example', key.publicKey));
  const { outbox: box, failures } = outbox(store, log, { logKey, checkpointWaitMs: 50 });
  await until(() => log.gets.length >= 5, 'five checkpoint reads failed (503)');
  assert.equal(log.posts, 5, 'each receipt sent once, though each pass failed');
  assert.deepEqual(await logIndexes(store), [null, null, null, null, null]);
  assert.ok(box.state.retries >= 4);
  assert.deepEqual(failures[0]!.slice(0, 2), ['ERR_STORE_UNAVAILABLE', 'retry']);

  checkpoint = 'frozen';
  await until(() => box.state.proved === 3, 'the three receipts the checkpoint covers are proved');
  const reads = log.gets.length;
  await until(() => log.gets.length >= reads + 3, 'three more passes for the others');
  const indexes = new Map((await store.list({ limit: 10 })).map((run) => [run.recordDigest, run.logIndex]));
  assert.deepEqual(receipts.map((receipt) => indexes.get(receipt.recordDigest)), [0, 1, 2, null, null], 'the covered ones are stored, the others wait');
  assert.ok(failures.some(([code, outcome, message]) => code === 'ERR_LOG_ENTRY_NOT_FOUND' && outcome === 'retry' && /covered 2 of the delivered receipts/.test(message)), JSON.stringify(failures));
  assert.equal(log.posts, 5, 'still sent once each');

  checkpoint = 'latest';
  await until(() => box.state.proved === 5, 'the others are proved once a checkpoint covers them');
  assert.deepEqual((await logIndexes(store)).sort(), [0, 1, 2, 3, 4]);
  assert.equal(log.posts, 5);
  assert.deepEqual({ delivered: box.state.delivered, stopped: box.state.stopped, lastError: box.state.lastError }, { delivered: 5, stopped: null, lastError: null });
  await box.close();
  await log.close();
  await real.close();
});

test('receipts the log refused are read once per pass, not again with every batch (a cursor)', async () => {
  const log = await fakeLog((_request, _body, response) => {
    response.writeHead(413, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: { code: 'ERR_LOG_ENTRY_TOO_LARGE', message: 'too large' } }));
  });
  const store = await storeWithReceipts(30);
  const asked: { limit: number; after: number | undefined; rows: number }[] = [];
  const storage = {
    unlogged: async (limit: number, after?: number) => {
      const rows = await store.unlogged(limit, after);
      asked.push({ limit, after, rows: rows.length });
      return rows;
    },
    setLogIndexes: (items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }) => store.setLogIndexes(items, checkpoint),
    lastLogged: () => store.lastLogged(),
    logCheckpoint: (origin: string) => store.logCheckpoint(origin),
    unloggedCount: (atMost: number) => store.unloggedCount(atMost),
  };
  const { outbox: box } = outbox(storage, log, { pollMs: 20 });
  await until(() => box.state.refused === 30, 'the 30 are refused');
  const from = asked.length;
  await until(() => asked.length >= from + 6, 'three more passes');
  await box.close();
  assert.equal(log.posts, 30, 'none sent again');
  assert.ok(asked.every(({ limit }) => limit === 512), `the same page size on every read: ${JSON.stringify(asked.slice(-4))}`);
  assert.equal(asked.slice(from).reduce((sum, { rows }) => sum + rows, 0) / asked.slice(from).filter(({ after }) => after === 0).length, 30, 'each pass reads each waiting receipt once');
  await log.close();
});

test('runs verify against the capture log over HTTP: a log that hangs or trickles is not checked (ERR_LOG_UNREACHABLE) once the deadline passed', async () => {
  let trickle = false;
  const log = await fakeLog((request, _body, response, self) => {
    if (!trickle) return hang(request, response, self);
    response.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => response.write('a'), 50);
    response.on('close', () => {
      clearInterval(timer);
      self.closedHung++;
    });
    self.hung.push(request);
  });
  const store = await storeWithReceipts(1);
  const [waiting] = await store.unlogged(1);
  await store.setLogIndexes([{ recordDigest: waiting!.recordDigest, logIndex: 0 }]);
  const [run] = await store.list({ limit: 1 });
  const logKey = await someLogKey();
  for (const mode of [false, true]) {
    trickle = mode;
    const started = performance.now();
    const result = await Promise.race([verifyRun(run!, { storage: store, log: { url: log.url, logKey, origin: logKey.name, from: 'a test key', timeoutMs: 300 } }), new Promise<undefined>((resolve) => setTimeout(resolve, 5_000))]);
    const elapsed = performance.now() - started;
    assert.ok(result !== undefined && elapsed < 2_000, `answered after ${Math.round(elapsed)} ms (${trickle ? 'trickle' : 'hang'})`);
    const check = result.checks.find((one) => one.name === 'log')!;
    assert.deepEqual([check.status, check.code], ['not-checked', 'ERR_LOG_UNREACHABLE'], JSON.stringify(check));
    assert.match(check.message!, /^the log at http:\/\/127\.0\.0\.1:[0-9]+\/ gave no whole answer within 300 ms$/);
    await until(() => log.closedHung === log.hung.length, 'the read is given up', 2_000);
  }
  await log.close();
});

test('with the log key, a 4xx for a checkpoint read while proving is retried, not a stop (the log took the receipts)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-outbox-faults-'));
  folders.push(dir);
  const key = await parsePrivateKey((await generateKeyFiles('outbox.example')).privateKeyPem);
  const real = await openSqliteLog({ path: join(dir, 'log.sqlite'), origin: 'outbox.example', key, checkpointDelayMs: 10 });
  const store = await storeWithReceipts(2);
  let refusals = 2;
  const log = await fakeLog((request, body, response) => {
    void (async () => {
      if (request.method === 'POST') {
        const stored = await real.append(body);
        response.writeHead(201, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ index: stored.index, leafHash: Buffer.from(stored.leafHash).toString('base64') }));
      }
      if (request.url === '/checkpoint' && refusals-- > 0) {
        response.writeHead(404, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ error: { code: 'ERR_LOG_ENTRY_NOT_FOUND', message: 'not yet' } }));
      }
      if (request.url === '/checkpoint') return response.end((await real.checkpoint()).note);
      const path = parseTilePath(request.url!.slice(1));
      const data = path.kind === 'hashes' ? await real.tile(path.tile) : undefined;
      if (data === undefined) return response.writeHead(404).end();
      return response.end(Buffer.from(data));
    })();
  });
  const logKey = await parseNoteVerifier(noteVerifierKey('outbox.example', key.publicKey));
  const { outbox: box, failures } = outbox(store, log, { logKey, checkpointWaitMs: 500 });
  await until(() => box.state.proved === 2 || box.state.stopped !== null, 'both proved, or delivery stopped');
  assert.equal(box.state.stopped, null);
  assert.deepEqual(failures.map(([code, outcome]) => [code, outcome]), [['ERR_LOG_ENTRY_NOT_FOUND', 'retry'], ['ERR_LOG_ENTRY_NOT_FOUND', 'retry']]);
  assert.deepEqual((await logIndexes(store)).sort(), [0, 1]);
  assert.equal(log.posts, 2);
  await box.close();
  await log.close();
  await real.close();
});

test('a run store failure the outbox meets is shown in its state (and so in /healthz, which needs no token) without the server\'s file path, which its report names', async () => {
  const log = await fakeLog((_request, body, response) => answerEntry(new Map(), body, response));
  const path = join(tmpdir(), 'runprint-secret-folder', 'runs.sqlite');
  const storage = {
    unlogged: async (): Promise<never> => {
      throw sqliteFault(Object.assign(new Error('file is not a database'), { code: 'ERR_SQLITE_ERROR', errcode: 26 }), path, 'run database');
    },
    setLogIndexes: async () => undefined,
    lastLogged: async () => undefined,
    logCheckpoint: async () => undefined,
    unloggedCount: async () => 0,
  };
  const { outbox: box, failures } = outbox(storage, log, { pollMs: 20 });
  await until(() => failures.length > 0, 'the failure is reported');
  await box.close();
  await log.close();
  const [code, , message] = failures[0]!;
  assert.equal(code, 'ERR_STORE_CORRUPT');
  assert.ok(message.includes(path), `the report names the file: ${message}`);
  const shown = box.state.lastError!;
  assert.equal(shown.code, 'ERR_STORE_CORRUPT');
  assert.ok(!shown.message.includes('runprint-secret-folder'), `the state names no path: ${shown.message}`);
  assert.equal(shown.message, 'run database is damaged, or not an SQLite file');
});

test('capture.log.waiting says what waits once a pass ends, not what waited when it began: 0 after everything was delivered, by this outbox or by another on the store', async () => {
  const seen = new Map<string, number>();
  const log = await fakeLog((_request, body, response) => answerEntry(seen, body, response));
  const store = await storeWithReceipts(300);
  // Two outboxes on the store (two serves), looking again only after a minute unless woken.
  const boxes = [outbox(store, log, { pollMs: 60_000 }).outbox, outbox(store, log, { pollMs: 60_000 }).outbox];
  try {
    await until(() => boxes.every((box) => box.state.waiting !== null), 'both counted what waits');
    await until(() => seen.size === 300 && boxes.every((box) => box.state.delivered > 0), 'all delivered', 20_000);
    const indexes = async () => (await logIndexes(store)).filter((index) => index !== null).length;
    for (let i = 0; i < 500 && (await indexes()) < 300; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(await indexes(), 300);
    await until(() => boxes.every((box) => box.state.waiting === 0), `both say none waits (${boxes.map((box) => box.state.waiting).join(', ')})`, 5_000);
  } finally {
    for (const box of boxes) await box.close();
    await log.close();
  }
});
