/**
 * The log outbox (serve --capture-log with --capture-log-key) checks the remote log's signed
 * checkpoints against each other and against what it delivered before, as `runprint log monitor`
 * does: a log rolled back, forked or replaced with the same key stops delivery and no index it
 * answered is stored (two runs would hold one index otherwise). On a real SQLite run store and
 * real runprint logs (log-service.ts) behind an HTTP front on loopback that can swap one log for
 * another, as a log serve restarted on another log.sqlite with the same log-key.pem does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
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

const ORIGIN = 'outbox.example';
const folders: string[] = [];
const closing: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closing.reverse()) await close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const encoder = new TextEncoder();

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-outbox-history-'));
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
async function addReceipts(store: SqliteRuns, count: number): Promise<void> {
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
async function indexes(store: SqliteRuns): Promise<(number | null)[]> {
  return (await store.list({ limit: 10_000 })).reverse().map((run) => run.logIndex);
}

type Failure = [string, OutboxOutcome, string];

/** An outbox (one serve process) on `storage` to the front, with the log key; its failures as reported. */
function outbox(storage: Pick<SqliteRuns, 'unlogged' | 'unloggedCount' | 'setLogIndexes' | 'lastLogged' | 'logCheckpoint'>, to: Front, verifier: NoteVerifier): { box: LogOutbox; failures: Failure[] } {
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
async function noSharedIndex(store: SqliteRuns): Promise<void> {
  const held = (await indexes(store)).filter((index) => index !== null);
  assert.equal(new Set(held).size, held.length, `no two runs share a log index: ${JSON.stringify(held)}`);
}

test('a log replaced by a fresh one with the same key (rolled back): ERR_LOG_DROPPED stops delivery, no index it answered is stored', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(3);
  const { box, failures } = outbox(store, to, verifier);
  await until(() => box.state.proved === 3, 'the three receipts are delivered and proved');
  assert.deepEqual(await indexes(store), [0, 1, 2]);

  to.log = await newLog(key);
  await addReceipts(store, 2);
  box.wake();
  await until(() => box.state.stopped !== null, 'delivery stopped');
  assert.deepEqual(box.state.stopped, { code: 'ERR_LOG_DROPPED', status: null, message: 'the log\'s signed checkpoint has 2 entries, the one verified before 3: it was rolled back or replaced; no index it answers is stored' });
  assert.deepEqual(failures.map(([code, outcome]) => [code, outcome]), [['ERR_LOG_DROPPED', 'stop']]);
  assert.deepEqual(await indexes(store), [0, 1, 2, null, null], 'the indexes 0 and 1 the new log answered are not stored');
  await noSharedIndex(store);
  assert.equal(box.state.proved, 3);
  const posts = to.posts;
  await addReceipts(store, 1);
  box.wake();
  await box.close();
  assert.equal(to.posts, posts, 'nothing more is sent');
});

test('a log with other entries at the size verified before: ERR_LOG_FORK; with more entries that do not extend it: ERR_LOG_REWRITE', async () => {
  const { key, verifier } = await logKey();
  for (const [foreign, code, message] of [
    [0, 'ERR_LOG_FORK', /^the log signed two root hashes for size 1: it forked, or was replaced; no index it answers is stored$/],
    [2, 'ERR_LOG_REWRITE', /^the log's checkpoint of size 3 is not consistent with the one of size 1 verified before: it rewrote entries it had signed, or was replaced; no index it answers is stored$/],
  ] as const) {
    const to = await front(await newLog(key));
    const store = await newStore(1);
    const { box } = outbox(store, to, verifier);
    await until(() => box.state.proved === 1, 'the first receipt is delivered and proved');
    to.log = await newLog(key, foreign);
    await addReceipts(store, 1);
    box.wake();
    await until(() => box.state.stopped !== null, 'delivery stopped');
    assert.equal(box.state.stopped!.code, code);
    assert.match(box.state.stopped!.message, message);
    assert.deepEqual(await indexes(store), [0, null]);
    await box.close();
  }
});

test('after a restart (a new outbox), the log must still hold the store\'s last delivered receipt at its index: a replaced log is ERR_LOG_REWRITE, the same log delivers', async () => {
  const { key, verifier } = await logKey();
  const original = await newLog(key);
  const to = await front(original);
  const store = await newStore(3);
  const first = outbox(store, to, verifier);
  await until(() => first.box.state.proved === 3, 'the three receipts are delivered and proved');
  await first.box.close();
  await addReceipts(store, 1);

  // A fresh log with the same key (smaller than the store's last index + 1), then one with more
  // entries than that, but another one at index 2: neither holds the receipt the store has at 2.
  for (const replaced of [await newLog(key), await newLog(key, 5)]) {
    to.log = replaced;
    const { box, failures } = outbox(store, to, verifier);
    await until(() => box.state.stopped !== null, 'delivery stopped');
    const size = (await replaced.checkpoint()).size;
    assert.deepEqual(box.state.stopped, {
      code: 'ERR_LOG_REWRITE',
      status: null,
      message: `the capture log no longer holds the run store's last delivered receipt at index 2 (its signed checkpoint has ${size} entr${size === 1 ? 'y' : 'ies'}): it was rolled back or replaced (or the store's receipts went to another log); no index it answers is stored${size <= 2 ? ' (read again for 1 s: a process of the log lagging longer behind the checkpoint another serve on this store proved with is taken for a rollback too)' : ''}`,
    });
    assert.deepEqual(failures.map(([code, outcome]) => [code, outcome]), [['ERR_LOG_REWRITE', 'stop']]);
    assert.deepEqual(await indexes(store), [0, 1, 2, null]);
    await box.close();
  }

  to.log = original;
  const { box, failures } = outbox(store, to, verifier);
  await until(() => box.state.proved === 1, 'the waiting receipt is delivered to the log that holds the others');
  assert.deepEqual(await indexes(store), [0, 1, 2, 3]);
  assert.deepEqual({ stopped: box.state.stopped, failures }, { stopped: null, failures: [] });
  await box.close();
});

test('a checkpoint read that lags behind the one verified before (another process of the log) is read again, not taken for a rollback', async () => {
  const { key, verifier } = await logKey();
  const log = await newLog(key);
  const to = await front(log);
  const store = await newStore(2);
  const [r0, r1] = await store.unlogged(2);
  // The log holds r1 already (delivered before a crash, its index not stored), at index 0.
  await log.append(encoder.encode(r1!.receipt));
  await log.publishCheckpoint();
  const older = (await log.checkpoint()).note;
  // One receipt a page, so each is proved against a checkpoint of its own.
  let lagged = false;
  const storage = {
    unlogged: async (_limit: number, after = 0) => {
      // The second page (r1, which the log answers with index 0): the next checkpoint read answers the older one, of size 1.
      if (after !== 0 && !lagged) {
        lagged = true;
        to.stale.push(older);
      }
      return store.unlogged(1, after);
    },
    setLogIndexes: (items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }) => store.setLogIndexes(items, checkpoint),
    lastLogged: () => store.lastLogged(),
    logCheckpoint: (origin: string) => store.logCheckpoint(origin),
    unloggedCount: (atMost: number) => store.unloggedCount(atMost),
  };
  const { box, failures } = outbox(storage, to, verifier);
  await until(() => box.state.proved === 2 || box.state.stopped !== null, 'both proved, or delivery stopped');
  assert.deepEqual({ stopped: box.state.stopped, failures }, { stopped: null, failures: [] });
  const stored = new Map((await store.list({ limit: 10 })).map((run) => [run.recordDigest, run.logIndex]));
  assert.deepEqual([stored.get(r0!.recordDigest), stored.get(r1!.recordDigest)], [1, 0]);
  assert.equal(to.stale.length, 0, 'the older checkpoint was served');
  await box.close();
});

test('delivery across many checkpoints, over a tile boundary: each consistent with the one before, nothing stops', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key, 251));
  const store = await newStore(8);
  // One receipt a page: a checkpoint for each (sizes 252 to 259, over the first tile's 256).
  const sizes = new Set<number>();
  const storage = {
    unlogged: async (_limit: number, after = 0) => {
      sizes.add((await to.log.checkpoint()).size);
      return store.unlogged(1, after);
    },
    setLogIndexes: (items: ReadonlyArray<{ recordDigest: string; logIndex: number }>, checkpoint?: LogCheckpoint & { origin: string }) => store.setLogIndexes(items, checkpoint),
    lastLogged: () => store.lastLogged(),
    logCheckpoint: (origin: string) => store.logCheckpoint(origin),
    unloggedCount: (atMost: number) => store.unloggedCount(atMost),
  };
  const { box, failures } = outbox(storage, to, verifier);
  await until(() => box.state.proved === 8 || box.state.stopped !== null, 'all proved, or delivery stopped');
  assert.deepEqual({ stopped: box.state.stopped, failures }, { stopped: null, failures: [] });
  assert.deepEqual(await indexes(store), [251, 252, 253, 254, 255, 256, 257, 258]);
  assert.ok(sizes.size >= 8, `a checkpoint for each receipt: ${[...sizes].join(' ')}`);
  await box.close();
});

/**
 * After a restart, a log forked under the same key that keeps the store's last delivered receipt at
 * its index (3) but holds the waiting receipt at index 1, where a delivered run is: with the
 * checkpoint the store holds, or (`forget`) with none, as a store made before it kept one.
 */
async function forkedAfterRestart(forget: boolean): Promise<{ stopped: unknown; failures: [string, string][]; waiting: string; holder: string }> {
  const { key, verifier } = await logKey();
  const original = await newLog(key);
  const to = await front(original);
  const path = join(folder(), 'runs.sqlite');
  const store = SqliteRuns.open(path);
  closing.push(() => store.close());
  await addReceipts(store, 4);
  const first = outbox(store, to, verifier);
  await until(() => first.box.state.proved === 4, 'four receipts delivered and proved');
  await first.box.close();
  assert.deepEqual(await indexes(store), [0, 1, 2, 3]);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 4, 'the checkpoint that proved them is kept');
  if (forget) {
    const db = new DatabaseSync(path);
    db.exec('DELETE FROM run_log_checkpoints');
    db.close();
  }
  const delivered = (await store.list({ limit: 10 })).reverse();
  await addReceipts(store, 1);
  const [waiting] = await store.unlogged(1);
  const forked = await newLog(key);
  await forked.append(encoder.encode('{"foreign":0}'));
  await forked.append(encoder.encode(waiting!.receipt));
  await forked.append(encoder.encode('{"foreign":2}'));
  await forked.append(encoder.encode(delivered[3]!.receipt!));
  await forked.publishCheckpoint();
  to.log = forked;
  const second = outbox(store, to, verifier);
  await until(() => second.box.state.proved === 1 || second.box.state.stopped !== null, 'delivered, or stopped');
  await noSharedIndex(store);
  assert.deepEqual(await indexes(store), [0, 1, 2, 3, null]);
  assert.equal(second.box.state.proved, 0);
  await second.box.close();
  const result = { stopped: second.box.state.stopped, failures: second.failures.map(([code, outcome]): [string, string] => [code, outcome]), waiting: waiting!.recordDigest, holder: delivered[1]!.recordDigest };
  // Nothing was lost, and nothing of the fork kept: the log that holds the others takes the receipt after a restart.
  to.log = original;
  const third = outbox(store, to, verifier);
  await until(() => third.box.state.proved === 1 || third.box.state.stopped !== null, 'the waiting receipt delivered, or stopped');
  assert.equal(third.box.state.stopped, null);
  assert.deepEqual(await indexes(store), [0, 1, 2, 3, 4]);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 5);
  await third.box.close();
  return result;
}

test('after a restart, a log forked under the same key that keeps the last delivered receipt at its index but another entry before it: the checkpoint the run store kept tells (ERR_LOG_FORK), nothing is stored, the receipt waits', async () => {
  const { stopped, failures } = await forkedAfterRestart(false);
  assert.deepEqual(stopped, {
    code: 'ERR_LOG_FORK',
    status: null,
    message: "the log signed two root hashes for size 4, its checkpoint's and the one the run store holds (verified by a serve on it before): it forked, or was replaced; no index it answers is stored",
  });
  assert.deepEqual(failures, [['ERR_LOG_FORK', 'stop']]);
});

test('the same fork on a store that kept no checkpoint (made before it kept one): the store refuses the index another run holds (ERR_LOG_REWRITE), nothing of the batch is stored, the receipt waits', async () => {
  const { stopped, failures, waiting, holder } = await forkedAfterRestart(true);
  assert.deepEqual(stopped, {
    code: 'ERR_LOG_REWRITE',
    status: null,
    message: `the log answered index 1 for run ${waiting}, but run ${holder} holds that index in the run store: the log gave it out twice (rolled back, forked or replaced), or the store's receipts went to another log; no index of this batch is stored`,
  });
  assert.deepEqual(failures, [['ERR_LOG_REWRITE', 'stop']]);
});

test('after a restart, a log forked under the same key that keeps the last delivered receipt at its index and answers the waiting receipt a new index: only the checkpoint the run store kept tells (ERR_LOG_REWRITE), nothing is stored', async () => {
  const { key, verifier } = await logKey();
  const to = await front(await newLog(key));
  const store = await newStore(4);
  const first = outbox(store, to, verifier);
  await until(() => first.box.state.proved === 4, 'four receipts delivered and proved');
  await first.box.close();
  const delivered = (await store.list({ limit: 10 })).reverse();
  await addReceipts(store, 1);
  // The fork holds another entry at index 1 and every other receipt where it was: the waiting one
  // gets index 4, which no run holds, and the store's last delivered receipt is at 3.
  const forked = await newLog(key);
  for (const [i, run] of delivered.entries()) await forked.append(encoder.encode(i === 1 ? '{"foreign":1}' : run.receipt!));
  await forked.publishCheckpoint();
  to.log = forked;
  const second = outbox(store, to, verifier);
  await until(() => second.box.state.proved === 1 || second.box.state.stopped !== null, 'delivered, or stopped');
  assert.deepEqual(await indexes(store), [0, 1, 2, 3, null]);
  assert.deepEqual(second.box.state.stopped, {
    code: 'ERR_LOG_REWRITE',
    status: null,
    message: "the log's checkpoint of size 5 is not consistent with the one of size 4 the run store holds (verified by a serve on it before): it rewrote entries it had signed, or was replaced; no index it answers is stored",
  });
  assert.deepEqual(second.failures.map(([code, outcome]) => [code, outcome]), [['ERR_LOG_REWRITE', 'stop']]);
  assert.equal((await store.logCheckpoint(ORIGIN))?.size, 4, 'the fork\'s checkpoint is not kept');
  await second.box.close();
});
