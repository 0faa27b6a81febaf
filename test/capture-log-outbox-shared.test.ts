/**
 * The log outbox (serve --capture-log with --capture-log-key) when several serves share one run
 * store (one SQLite file, or one PostgreSQL schema): each checkpoint must hold the store's last
 * delivered receipt, whichever serve delivered it, so a log rolled back below what another serve
 * stored is not taken by a serve whose own last checkpoint is older, and no two runs hold one
 * index; and receipts are counted proved once they are stored. On real run stores and real
 * runprint logs (log-service.ts) behind an HTTP front on loopback that can swap one log for
 * another, as a log restored from an older backup with the same log-key.pem is.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import type { NoteVerifier } from '../src/log/note.ts';
import { parseTilePath } from '../src/log/tiles.ts';
import { LogOutbox, type OutboxOutcome } from '../src/store/log-outbox.ts';
import { openSqliteLog, type TransparencyLog } from '../src/store/log-service.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, type LogCheckpoint } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import type { RunStorage } from '../src/store/run-storage.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';

const ORIGIN = 'outbox.example';
const folders: string[] = [];
const closing: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closing.reverse()) await close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const encoder = new TextEncoder();

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-outbox-shared-'));
  folders.push(dir);
  return dir;
}

/** The log key, and its verifier. */
async function logKey(): Promise<{ key: SigningKey; verifier: NoteVerifier }> {
  const key = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  return { key, verifier: await parseNoteVerifier(noteVerifierKey(ORIGIN, key.publicKey)) };
}

/** A runprint log with this key in a file of its own (a log serve's log.sqlite): `entries` foreign entries appended and checkpointed. */
async function newLog(key: SigningKey, entries = 0): Promise<TransparencyLog> {
  const log = await openSqliteLog({ path: join(folder(), 'log.sqlite'), origin: ORIGIN, key, checkpointDelayMs: 10 });
  closing.push(() => log.close());
  for (let i = 0; i < entries; i++) await log.append(encoder.encode(JSON.stringify({ foreign: i, nonce: Math.random() })));
  if (entries > 0) await log.publishCheckpoint();
  return log;
}

interface Front {
  url: URL;
  /** The log answering now (swap it: the log was replaced). */
  log: TransparencyLog;
  /** Served for the next checkpoint reads instead of the log's own, while any are left. */
  stale: string[];
  posts: number;
}

/** An HTTP front on loopback for `log`: submissions, /checkpoint and hash tiles, as a log serve answers them. */
async function front(log: TransparencyLog): Promise<Front> {
  const state: Front = { url: new URL('http://127.0.0.1/'), log, stale: [], posts: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        if (request.method === 'POST') {
          state.posts++;
          const stored = await state.log.append(Buffer.concat(chunks));
          response.writeHead(stored.created ? 201 : 200, { 'content-type': 'application/json' });
          return response.end(JSON.stringify({ index: stored.index, leafHash: Buffer.from(stored.leafHash).toString('base64') }));
        }
        if (request.url === '/checkpoint') return response.end(state.stale.shift() ?? (await state.log.checkpoint()).note);
        const path = parseTilePath(request.url!.slice(1));
        const data = path.kind === 'hashes' ? await state.log.tile(path.tile) : undefined;
        if (data === undefined) return response.writeHead(404).end();
        return response.end(Buffer.from(data));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  closing.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}

let made = 0;
/** Stores `count` more runs with a receipt each and no log index (what a capturing serve commits before delivery). */
async function addReceipts(store: RunStorage, count: number): Promise<void> {
  const recorder = new RunRecorder({ storage: store, policy: defaultContentPolicy() });
  for (let i = 0; i < count; i++) {
    const n = made++;
    const started = Date.now();
    const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `history ${n}` }] }));
    const responseBytes = encoder.encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `About ${n}.` } }] }));
    const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
    await recorder.record(run, { requestBytes, responseBytes }, 'sdk');
  }
  await recorder.close();
  const unsigned = (await store.list({ limit: 10_000 })).filter((run) => run.receipt === null);
  await store.setReceipts(unsigned.map((run) => ({ recordDigest: run.recordDigest, receipt: JSON.stringify({ receipt: run.recordDigest }), logIndex: null })));
}

async function newStore(receipts: number): Promise<SqliteRuns> {
  const store = SqliteRuns.open(join(folder(), 'runs.sqlite'));
  closing.push(() => store.close());
  await addReceipts(store, receipts);
  return store;
}

/** The stored log indexes, in the order the runs were stored. */
async function indexes(store: RunStorage): Promise<(number | null)[]> {
  return (await store.list({ limit: 10_000 })).reverse().map((run) => run.logIndex);
}

type Failure = [string, OutboxOutcome, string];

/** An outbox (one serve process) on `storage` to the front, with the log key; its failures as reported. */
function outbox(storage: Pick<RunStorage, 'unlogged' | 'unloggedCount' | 'setLogIndexes' | 'lastLogged' | 'logCheckpoint'>, to: Front, verifier: NoteVerifier): { box: LogOutbox; failures: Failure[] } {
  const failures: Failure[] = [];
  const box = new LogOutbox({ storage, url: to.url, logKey: verifier, retryMinMs: 20, retryMaxMs: 50, pollMs: 50, checkpointWaitMs: 3_000, onFailure: (error: RunprintError, outcome) => failures.push([error.code, outcome, error.message]) });
  box.start();
  closing.push(() => box.close());
  return { box, failures };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** No two runs hold one log index. */
async function noSharedIndex(store: RunStorage): Promise<void> {
  const held = (await indexes(store)).filter((index) => index !== null);
  assert.equal(new Set(held).size, held.length, `no two runs share a log index: ${JSON.stringify(held)}`);
}


/** `store` as a serve that is cut off from it for a while sees it: nothing waits while `paused.on`. */
function pausable(store: RunStorage): { storage: Pick<RunStorage, 'unlogged' | 'unloggedCount' | 'setLogIndexes' | 'lastLogged' | 'logCheckpoint'>; paused: { on: boolean } } {
  const paused = { on: false };
  return {
    paused,
    storage: {
      unlogged: async (limit: number, after = 0) => (paused.on ? [] : store.unlogged(limit, after)),
      unloggedCount: (atMost: number) => store.unloggedCount(atMost),
      setLogIndexes: (items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }) => store.setLogIndexes(items, checkpoint),
      lastLogged: () => store.lastLogged(),
      logCheckpoint: (origin: string) => store.logCheckpoint(origin),
    },
  };
}

/** Two serves (outboxes) on one run store, B with a last checkpoint of size 1, A having delivered indexes 1-3, then the log restored to size 1 and a new receipt: B must stop, not store the new receipt at index 1. */
async function rolledBackUnderAnotherServe(storeA: RunStorage, storeB: RunStorage): Promise<void> {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  await addReceipts(storeA, 1);
  // Serve B delivers the first receipt (its last verified checkpoint: size 1), then has nothing to do for a while.
  const b = pausable(storeB);
  const serveB = outbox(b.storage, to, verifier);
  await until(() => serveB.box.state.proved === 1, 'serve B delivered the first receipt');
  b.paused.on = true;
  // Serve A (another process on the same run store) delivers three more: indexes 1 to 3.
  await addReceipts(storeA, 3);
  const serveA = outbox(storeA, to, verifier);
  await until(() => serveA.box.state.proved === 3, 'serve A delivered three receipts');
  await serveA.box.close();
  assert.deepEqual(await indexes(storeA), [0, 1, 2, 3]);
  // The log is restored from a backup that holds the first receipt only (size 1).
  const [first] = (await storeA.list({ limit: 10 })).reverse();
  const restored = await newLog(key);
  await restored.append(encoder.encode(first!.receipt!));
  await restored.publishCheckpoint();
  to.log = restored;
  // A new receipt; serve B looks again. The log answers it index 1, and its checkpoint (size 2)
  // extends the one B verified before: only the store's last delivered receipt (index 3) tells.
  await addReceipts(storeA, 1);
  b.paused.on = false;
  serveB.box.wake();
  await until(() => serveB.box.state.proved === 2 || serveB.box.state.stopped !== null, 'serve B delivered the new receipt, or stopped');
  await noSharedIndex(storeA);
  assert.deepEqual(await indexes(storeA), [0, 1, 2, 3, null]);
  assert.equal(serveB.box.state.stopped?.code, 'ERR_LOG_REWRITE');
  assert.match(serveB.box.state.stopped!.message, /^the capture log no longer holds the run store's last delivered receipt at index 3 \(its signed checkpoint has 2 entries\)/);
  assert.equal(serveB.box.state.proved, 1);
  await serveB.box.close();
}

test('two serves on one SQLite run store: a log rolled back below what the other serve stored stops the serve whose own last checkpoint is older (ERR_LOG_REWRITE), and no two runs hold one index', async () => {
  // Two connections to one file, as two serve processes have.
  const path = join(folder(), 'runs.sqlite');
  const storeA = SqliteRuns.open(path);
  const storeB = SqliteRuns.open(path);
  closing.push(() => storeA.close(), () => storeB.close());
  await rolledBackUnderAnotherServe(storeA, storeB);
});

test('two serves on one PostgreSQL run store (two connections): a log rolled back below what the other serve stored stops the serve whose own last checkpoint is older, and no two runs hold one index', async () => {
  const pgs = await pgSchemas();
  closing.push(() => pgs.drop());
  const url = (await pgs.fresh('runprint_outbox_shared')).url;
  const storeA = await PostgresRuns.open(url);
  const storeB = await PostgresRuns.open(url);
  closing.push(() => storeA.close(), () => storeB.close());
  await rolledBackUnderAnotherServe(storeA, storeB);
});

test('a checkpoint that lags behind the index another serve on the store stored is read again, not taken for a rollback', async () => {
  const { key, verifier } = await logKey();
  const log = await newLog(key);
  const to = await front(log);
  const store = await newStore(1);
  const b = pausable(store);
  const serveB = outbox(b.storage, to, verifier);
  await until(() => serveB.box.state.proved === 1, 'serve B delivered the first receipt');
  const old = (await log.checkpoint()).note;
  b.paused.on = true;
  await addReceipts(store, 3);
  const serveA = outbox(store, to, verifier);
  await until(() => serveA.box.state.proved === 3, 'serve A delivered three receipts');
  await serveA.box.close();
  // Another process of the log, which has not read past size 1 yet, answers serve B's next reads.
  await addReceipts(store, 1);
  to.stale.push(old, old);
  b.paused.on = false;
  serveB.box.wake();
  await until(() => serveB.box.state.proved === 2 || serveB.box.state.stopped !== null, 'serve B delivered the new receipt, or stopped');
  assert.equal(to.stale.length, 0, 'the lagging checkpoints were read');
  assert.deepEqual({ stopped: serveB.box.state.stopped, indexes: await indexes(store) }, { stopped: null, indexes: [0, 1, 2, 3, 4] });
  await serveB.box.close();
});

test('a run store write that fails once after a proof counts each receipt proved once, when it is stored', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(2);
  let failOnce = true;
  const storage = {
    unlogged: (limit: number, after = 0) => store.unlogged(limit, after),
    unloggedCount: (atMost: number) => store.unloggedCount(atMost),
    lastLogged: () => store.lastLogged(),
    logCheckpoint: (origin: string) => store.logCheckpoint(origin),
    setLogIndexes: async (items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }) => {
      if (failOnce) {
        failOnce = false;
        throw new Error('disk I/O error');
      }
      return store.setLogIndexes(items, checkpoint);
    },
  };
  const { box, failures } = outbox(storage, to, verifier);
  await until(() => box.state.delivered === 2, 'both delivered');
  assert.deepEqual(failures.map(([code, outcome]) => [code, outcome]), [['ERR_STORE_UNAVAILABLE', 'retry']]);
  assert.deepEqual(await indexes(store), [0, 1]);
  assert.deepEqual({ delivered: box.state.delivered, proved: box.state.proved }, { delivered: 2, proved: 2 });
  await box.close();
});
