/**
 * A failing store over HTTP: the answer has the store error's code and status, and a message
 * without the server's file paths (a remote client's to read), while the error itself, which the
 * CLI and serve's stderr print, still names the file the operator must act on. Real SQLite stores
 * made to fail: the file replaced by a directory under a reader, and under the log's writer thread
 * (whose errors cross the thread with their public message), and the run store's writer thread
 * under another connection's lock.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { RunprintError } from '../src/errors.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { errorResponse } from '../src/server/http-status.ts';
import { HeldJournal } from '../src/store/held-journal.ts';
import { DEFAULT_LOG_NAME, TransparencyLog } from '../src/store/log-service.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { sqliteFault } from '../src/store/storage-faults.ts';
import { storeCorrupt } from '../src/store/storage.ts';
import { replaceByDirectory, scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-http-store-faults-');
after(() => scratch.removeAll());

test('a run store that fails under the run routes: HTTP answers its code and status without the file path; the error names it', async () => {
  const folder = scratch.tempDir();
  const path = join(folder, 'runs.sqlite');
  await SqliteRuns.open(path).close();
  const storage = SqliteRuns.openReader(path);
  try {
    const app = createApp({ runs: { storage } });
    assert.equal((await app.request('/v1/runs')).status, 200);
    replaceByDirectory(path);
    const message = 'run database is a directory, not an SQLite file (move it away, or give another data directory)';
    for (const route of ['/v1/runs', '/v1/runs/counts', '/v1/runs/groups?by=request', `/v1/runs/${'0'.repeat(64)}`, `/v1/runs/${'0'.repeat(64)}/receipt`, `/v1/content/${'a'.repeat(64)}`]) {
      const response = await app.request(route);
      const body = await response.text();
      assert.equal(response.status, 503, route);
      assert.deepEqual(JSON.parse(body), { error: { code: 'ERR_STORE_UNAVAILABLE', message } }, route);
      assert.ok(!body.includes(folder), `${route}: the answer names no path of the server`);
    }
    // What the CLI and serve's stderr print still names the file.
    await assert.rejects(storage.list({}), { code: 'ERR_STORE_UNAVAILABLE', message: `run database ${path} is a directory, not an SQLite file (move it away, or give another data directory)` });
  } finally {
    await storage.close();
  }
});

test('a log whose writer thread cannot open its file: POST /v1/log/entries answers ERR_STORE_UNAVAILABLE without the path, which the append\'s error names', async () => {
  const folder = scratch.tempDir();
  const path = join(folder, 'log.sqlite');
  const key = await parsePrivateKey((await generateKeyFiles(DEFAULT_LOG_NAME)).privateKeyPem);
  const log = await TransparencyLog.open({ storage: SqliteLog.open(path, { writerThread: true }), origin: DEFAULT_LOG_NAME, key, checkpointDelayMs: 10 });
  try {
    const app = createApp({ log: { log, token: 'token' } });
    replaceByDirectory(path);
    const entry = JSON.stringify({ payload: encodeBase64(new Uint8Array(30).fill(8)), payloadType: 't', signatures: [{ sig: 'AAAA' }] });
    const response = await app.request('/v1/log/entries', { method: 'POST', body: entry, headers: { 'content-type': 'application/json', authorization: 'Bearer token' } });
    const body = await response.text();
    assert.equal(response.status, 503);
    // The thread's error crossed with its public message: the specific sentence, not the code's fixed one.
    assert.deepEqual(JSON.parse(body), { error: { code: 'ERR_STORE_UNAVAILABLE', message: 'log database is a directory, not an SQLite file (move it away, or give another data directory)' } });
    assert.ok(!body.includes(folder), body);
    await assert.rejects(log.append(new Uint8Array(30).fill(9)), { code: 'ERR_STORE_UNAVAILABLE', message: `log database ${path} is a directory, not an SQLite file (move it away, or give another data directory)` });
  } finally {
    await log.close();
  }
});

test('every fault storage-faults names with a path has a public message without it, and HTTP answers that one', async () => {
  const folder = scratch.tempDir();
  const path = join(folder, 'runs.sqlite');
  // node:sqlite's errors, as sqliteFault reads them: READONLY, READONLY_DIRECTORY, PERM, CORRUPT, NOTADB, CANTOPEN, IOERR.
  for (const errcode of [8, 8 | (6 << 8), 3, 11, 26, 14, 10]) {
    const fault = sqliteFault(Object.assign(new Error('x'), { code: 'ERR_SQLITE_ERROR', errcode }), path, 'run database') as RunprintError;
    assert.ok(fault instanceof RunprintError && fault.message.includes(folder), `${errcode}: the operator's message names the file: ${fault.message}`);
    // The same sentence, without the file or its directory.
    assert.equal(fault.publicMessage, fault.message.replace(` ${path}`, '').replace(` ${folder}`, ''), String(errcode));
    const answer = await errorResponse(fault).json();
    assert.deepEqual(answer, { error: { code: fault.code, message: fault.publicMessage } }, String(errcode));
  }
});

test('a store error with no public message (made elsewhere) is answered with a fixed sentence for its code', async () => {
  const journal = new RunprintError('ERR_STORE_RECORD_REFUSED', 'the run database refused a record; it is kept in the held-records journal /srv/runprint/held-runs.sqlite');
  const response = errorResponse(journal);
  assert.equal(response.status, 422);
  assert.deepEqual(await response.json(), { error: { code: 'ERR_STORE_RECORD_REFUSED', message: 'the run store refused the record for what it holds: it is not stored, and sent again it is refused again' } });
  // Other errors keep their message.
  assert.deepEqual(await errorResponse(new RunprintError('ERR_RUN_NOT_FOUND', 'no captured run has that id')).json(), { error: { code: 'ERR_RUN_NOT_FOUND', message: 'no captured run has that id' } });
});

test('a store error whose message names no path (storeCorrupt) is answered with that message', async () => {
  const corrupt = storeCorrupt('stored entries are not numbered 0 .. size - 1');
  assert.equal(corrupt.publicMessage, corrupt.message);
  assert.deepEqual(await errorResponse(corrupt).json(), { error: { code: 'ERR_STORE_CORRUPT', message: 'stored entries are not numbered 0 .. size - 1' } });
});

test('the run store\'s writer thread passes its error\'s public message across: a lock held by another connection', { timeout: 30_000 }, async () => {
  const folder = scratch.tempDir();
  const path = join(folder, 'runs.sqlite');
  const storage = SqliteRuns.open(path, { writerThread: true });
  const holder = new DatabaseSync(path);
  try {
    // The thread's connection is open before the lock is taken.
    await storage.probe();
    holder.exec('BEGIN EXCLUSIVE');
    const error = await storage.probe().then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof RunprintError, String(error));
    assert.equal(error.code, 'ERR_STORE_LOCKED');
    assert.equal(error.message, 'run database is locked by another process');
    assert.equal(error.publicMessage, 'run database is locked by another process');
    assert.deepEqual(await errorResponse(error).json(), { error: { code: 'ERR_STORE_LOCKED', message: 'run database is locked by another process' } });
    holder.exec('ROLLBACK');
  } finally {
    if (holder.isTransaction) holder.exec('ROLLBACK');
    holder.close();
    await storage.close();
  }
  // The thread's own errors name the store, not its file: answered as they are.
  const closed = await storage.probe().then(() => undefined, (error: unknown) => error);
  assert.ok(closed instanceof RunprintError, String(closed));
  assert.deepEqual(await errorResponse(closed).json(), { error: { code: 'ERR_STORE_UNAVAILABLE', message: 'the run store is closed' } });
});

test('the held-records journal names its path once, and not in its public message', async () => {
  const folder = scratch.tempDir();
  // A directory where the journal should be.
  const directory = join(folder, 'held-dir.sqlite');
  mkdirSync(directory);
  const isDirectory = 'is a directory, not an SQLite file (move it away, or give another data directory)';
  assert.throws(() => new HeldJournal(directory).count(), (error: unknown) => {
    assert.ok(error instanceof RunprintError);
    assert.equal(error.message, `held-records journal ${directory} ${isDirectory}`);
    assert.equal(error.publicMessage, `held-records journal ${isDirectory}`);
    return true;
  });
  // A damaged one: what to do with it, with and without its path.
  const damaged = join(folder, 'held-damaged.sqlite');
  writeFileSync(damaged, 'not an SQLite file '.repeat(300));
  const advice = ': it may hold records not yet in the run store; stop serve, move it aside to keep it (or delete it to go on without them), then start serve again';
  let fault: unknown;
  try {
    new HeldJournal(damaged).count();
  } catch (error) {
    fault = error;
  }
  assert.ok(fault instanceof RunprintError, String(fault));
  assert.equal(fault.code, 'ERR_STORE_CORRUPT');
  assert.equal(fault.message, `held-records journal ${damaged} is damaged, or not an SQLite file${advice}`);
  assert.equal(fault.publicMessage, `held-records journal is damaged, or not an SQLite file${advice}`);
  const body = JSON.stringify(await errorResponse(fault).json());
  assert.ok(!body.includes(folder), body);
});
