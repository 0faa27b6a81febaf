/**
 * The errors serve answers with a 5xx status are printed on its stderr with their whole message
 * (a failing store's file path, which the HTTP answer leaves out): createApp's onServerError hook,
 * serve's reporter (one line per code at once, others held back and counted), and real serves:
 * one whose run store is cut short under it (its file truncated to its first page), one whose log
 * database is replaced by a directory before its writer thread opens it. A failure of the run
 * store under `POST /v1/exchanges` is capture's, printed once by capture's report (as a proxied
 * call's), not again as a 5xx answer.
 */
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, mock, test } from 'node:test';
import { serverErrorReporter } from '../src/cli/serve-command.ts';
import { captureIdTaken } from '../src/store/run-storage.ts';
import { LogError, RunprintError, storeFault } from '../src/errors.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { createApp } from '../src/server/app.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { chatExchange, HELLO_ANSWER, HELLO_REQUEST, postExchange } from './helpers/exchanges.ts';
import { lockRunStore, untilHealthy } from './helpers/run-store-lock.ts';
import { endServeTest, replaceByDirectory, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-serve-server-errors-');
after(() => endServeTest(undefined, scratch));

const IS_DIRECTORY = 'is a directory, not an SQLite file (move it away, or give another data directory)';

test('onServerError is told of each 5xx answer with the whole error and the route as the route table names it, not of other answers', async () => {
  const folder = scratch.tempDir();
  const path = join(folder, 'runs.sqlite');
  await SqliteRuns.open(path).close();
  const storage = SqliteRuns.openReader(path);
  const told: Array<{ error: unknown; route: string; status: number }> = [];
  try {
    const app = createApp({ runs: { storage }, onServerError: (error, route, status) => void told.push({ error, route, status }) });
    assert.equal((await app.request('/v1/runs')).status, 200);
    assert.equal((await app.request('/no/such/path')).status, 404);
    assert.equal((await app.request('/v1/runs?limit=x')).status, 400);
    assert.equal(told.length, 0, 'no 5xx yet');
    replaceByDirectory(path);
    const id = 'f'.repeat(64);
    const routes = [['/v1/runs', 'GET /v1/runs'], [`/v1/runs/${id}`, 'GET /v1/runs/{id}'], [`/v1/runs/${id}/receipt`, 'GET /v1/runs/{id}/receipt'], ['/v1/runs/groups?by=request', 'GET /v1/runs/groups'], [`/v1/content/${'a'.repeat(64)}`, 'GET /v1/content/{digest}']];
    for (const [request] of routes) {
      const response = await app.request(request!);
      assert.equal(response.status, 503, request);
      assert.ok(!(await response.text()).includes(folder), `${request}: the answer names no path of the server`);
    }
    assert.deepEqual(told.map(({ route, status }) => [route, status]), routes.map(([, route]) => [route, 503]));
    for (const { error } of told) {
      assert.ok(error instanceof RunprintError);
      assert.equal(error.message, `run database ${path} ${IS_DIRECTORY}`, 'the whole message, with the path');
    }
    // A hook that throws changes no answer.
    const throwing = createApp({ runs: { storage }, onServerError: () => { throw new Error('report failed'); } });
    assert.equal((await throwing.request('/v1/runs')).status, 503);
  } finally {
    await storage.close();
  }
});

test('serve\'s reporter: the first error of a code at once, the same one again a minute later with a count, another message a second after its code\'s line; flush prints what is held', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let clock = 0;
    const lines: string[] = [];
    const reporter = serverErrorReporter((text) => void lines.push(text), () => clock);
    const locked = new RunprintError('ERR_STORE_LOCKED', 'run database is locked by another process');
    const directory = new RunprintError('ERR_STORE_UNAVAILABLE', `run database /data/runs.sqlite ${IS_DIRECTORY}`);
    reporter.report(directory, 'GET /v1/runs', 503);
    assert.deepEqual(lines, [`runprint: GET /v1/runs answered 503: ERR_STORE_UNAVAILABLE: run database /data/runs.sqlite ${IS_DIRECTORY}\n`]);
    // The same error, 100 times over the next 50 s: nothing more.
    for (let i = 0; i < 100; i++) {
      clock += 500;
      mock.timers.tick(500);
      reporter.report(directory, i % 2 === 0 ? 'GET /v1/runs' : 'GET /v1/runs/counts', 503);
    }
    assert.equal(lines.length, 1);
    // Another code is its own group: printed at once.
    reporter.report(locked, 'GET /v1/runs', 503);
    assert.equal(lines.length, 2);
    assert.equal(lines[1], 'runprint: GET /v1/runs answered 503: ERR_STORE_LOCKED: run database is locked by another process\n');
    // A minute after its line, the held ones are counted in one line.
    clock += 10_000;
    mock.timers.tick(10_000);
    assert.equal(lines.length, 3);
    assert.equal(lines[2], `runprint: GET /v1/runs/counts answered 503: ERR_STORE_UNAVAILABLE: run database /data/runs.sqlite ${IS_DIRECTORY} (and 99 more answers with ERR_STORE_UNAVAILABLE since its line before)\n`);
    // Another message of a code comes a second after the code's last line, and is not hidden by repeats of the last.
    const cannotOpen = new RunprintError('ERR_STORE_UNAVAILABLE', 'run database /data/runs.sqlite cannot be opened (SQLite code 14)');
    clock += 200;
    mock.timers.tick(200);
    reporter.report(cannotOpen, 'GET /v1/runs', 503);
    reporter.report(directory, 'GET /v1/runs', 503);
    assert.equal(lines.length, 3);
    clock += 800;
    mock.timers.tick(800);
    assert.equal(lines.length, 4);
    assert.equal(lines[3], 'runprint: GET /v1/runs answered 503: ERR_STORE_UNAVAILABLE: run database /data/runs.sqlite cannot be opened (SQLite code 14) (and 1 more answer with ERR_STORE_UNAVAILABLE since its line before)\n');
    // A bug: one line, no stack.
    reporter.report(new TypeError('x is not\na function'), 'GET /v1/runs', 500);
    assert.equal(lines[4], 'runprint: GET /v1/runs answered 500: ERR_INTERNAL: unexpected failure (TypeError: x is not a function)\n');
    // At a stop, what is held is printed.
    reporter.report(locked, 'GET /v1/runs/{id}', 503);
    assert.equal(lines.length, 5);
    reporter.flush();
    assert.equal(lines.length, 6);
    assert.equal(lines[5], 'runprint: GET /v1/runs/{id} answered 503: ERR_STORE_LOCKED: run database is locked by another process\n');
    reporter.flush();
    assert.equal(lines.length, 6, 'nothing twice');
  } finally {
    mock.timers.reset();
  }
});

test('a real serve whose log database fails under POST /v1/log/entries: 503 without the path, and its stderr has the whole message with the path, once', { timeout: 60_000 }, async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, token: 'token', args: ['--no-capture'] });
  try {
    const logFile = join(data, 'log.sqlite');
    // The log's writer thread opens the file at the first append: now a directory.
    replaceByDirectory(logFile);
    const post = (n: number) =>
      fetch(`${serve.base}/v1/log/entries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer token' },
        body: JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] }),
      });
    for (let n = 0; n < 3; n++) {
      const response = await post(n);
      const body = await response.text();
      assert.equal(response.status, 503, body);
      assert.deepEqual(JSON.parse(body), { error: { code: 'ERR_STORE_UNAVAILABLE', message: `log database ${IS_DIRECTORY}` } });
      assert.ok(!body.includes(data), body);
    }
    const line = `runprint: POST /v1/log/entries answered 503: ERR_STORE_UNAVAILABLE: log database ${logFile} ${IS_DIRECTORY}\n`;
    const deadline = performance.now() + 5_000;
    while (!serve.stderr().includes(line)) {
      assert.ok(performance.now() < deadline, `stderr has the line within 5 s; stderr:\n${serve.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(serve.stderr().split(line).length - 1, 1, 'the same error of three answers is printed once');
    // At a stop, the two held back are counted.
    assert.equal(await serve.stop(), 0);
    assert.match(serve.stderr(), /ERR_STORE_UNAVAILABLE: log database .* \(and 1 more answer with ERR_STORE_UNAVAILABLE since its line before\)\n/);
  } finally {
    await serve.kill();
  }
});

/**
 * Damages a running serve's SQLite run store: every page in the file, then a change another
 * connection makes (serve's connection drops its cached pages at its next read), then the file cut
 * to its first page.
 */
function cutShort(runsFile: string): void {
  const other = new DatabaseSync(runsFile);
  try {
    other.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
    other.exec('PRAGMA user_version = 7');
  } finally {
    other.close();
  }
  truncateSync(runsFile, 4096);
}

test('a real serve whose run store is damaged under it: GET /v1/runs answers 500 without the path, and its stderr has the whole message with the path', { timeout: 60_000 }, async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data });
  try {
    assert.equal((await fetch(`${serve.base}/v1/runs`)).status, 200);
    const runsFile = join(data, 'runs.sqlite');
    cutShort(runsFile);
    const response = await fetch(`${serve.base}/v1/runs`);
    const body = await response.text();
    assert.equal(response.status, 500, body);
    assert.deepEqual(JSON.parse(body), { error: { code: 'ERR_STORE_CORRUPT', message: 'run database is damaged, or not an SQLite file' } });
    assert.ok(!body.includes(data), body);
    const line = `runprint: GET /v1/runs answered 500: ERR_STORE_CORRUPT: run database ${runsFile} is damaged, or not an SQLite file\n`;
    const deadline = performance.now() + 5_000;
    while (!serve.stderr().includes(line)) {
      assert.ok(performance.now() < deadline, `stderr has the line within 5 s; stderr:\n${serve.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await serve.kill();
  }
});

/** The code and message of an error answer. */
async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const { error } = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, code: error.code, message: error.message };
}

test('POST /v1/exchanges: a runprint error recording the exchange is told to the ingest\'s onFailure, once, and not to onServerError; a conflict is told to neither, a bug to onServerError', async () => {
  const failures: unknown[] = [];
  const serverErrors: Array<[unknown, string, number]> = [];
  let fault: unknown = storeFault('ERR_STORE_UNAVAILABLE', { local: 'run database /data/runs.sqlite', remote: 'run database' }, (name) => `${name} cannot be written (SQLite code 10)`);
  const app = createApp({
    ingest: { sink: { record: () => Promise.reject(fault) }, maxBodyBytes: 1 << 20, receipts: false, onFailure: (error) => void failures.push(error) },
    onServerError: (error, route, status) => void serverErrors.push([error, route, status]),
  });
  const post = () => app.request('/v1/exchanges', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatExchange(HELLO_REQUEST, HELLO_ANSWER)) });
  assert.deepEqual(await errorOf(await post()), { status: 503, code: 'ERR_STORE_UNAVAILABLE', message: 'run database cannot be written (SQLite code 10)' });
  assert.deepEqual(failures, [fault], 'told once, with the whole error (the path)');
  assert.equal(serverErrors.length, 0, 'not told as a server error too');
  // The sender's conflict is an answer, not a failure.
  fault = captureIdTaken();
  assert.equal((await post()).status, 409);
  assert.equal(failures.length, 1);
  // A bug is not a runprint error: a server error, as on any route.
  fault = new TypeError('x is not a function');
  assert.deepEqual(await errorOf(await post()), { status: 500, code: 'ERR_INTERNAL', message: 'unexpected failure' });
  assert.equal(failures.length, 1);
  assert.deepEqual(serverErrors.slice(), [[fault, 'POST /v1/exchanges', 500]]);
  // Without onFailure, nobody else reports it: onServerError is told.
  fault = new RunprintError('ERR_STORE_LOCKED', 'run database is locked by another process');
  const alone = createApp({ ingest: { sink: { record: () => Promise.reject(fault) }, maxBodyBytes: 1 << 20, receipts: false }, onServerError: (error, route, status) => void serverErrors.push([error, route, status]) });
  assert.equal((await alone.request('/v1/exchanges', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatExchange(HELLO_REQUEST, HELLO_ANSWER)) })).status, 503);
  assert.deepEqual(serverErrors.at(-1), [fault, 'POST /v1/exchanges', 503]);
});

test('POST /v1/exchanges: a record the recorder could not take (ERR_CAPTURE_RECORDS_LOST, its queue full) is 503 with Retry-After, which a sender\'s outbox sends again; not 400, which it sets aside for good', async () => {
  const lost = new LogError('ERR_CAPTURE_RECORDS_LOST', 'the run store is behind: too many records wait for a commit (10000); this one was not recorded');
  const app = createApp({ ingest: { sink: { record: () => Promise.reject(lost) }, maxBodyBytes: 1 << 20, receipts: false, onFailure: () => undefined } });
  const response = await app.request('/v1/exchanges', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatExchange(HELLO_REQUEST, HELLO_ANSWER)) });
  assert.equal(response.headers.get('retry-after'), '1');
  assert.deepEqual(await errorOf(response), { status: 503, code: 'ERR_CAPTURE_RECORDS_LOST', message: lost.message });
});

test('a real serve whose run store is locked under POST /v1/exchanges: 503s, and its stderr says so once, capture\'s line, with no 5xx line', { timeout: 60_000 }, async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data });
  try {
    assert.equal((await postExchange(serve.base, chatExchange(HELLO_REQUEST, HELLO_ANSWER))).status, 200);
    const lock = lockRunStore(data);
    try {
      // The first waits for the lock (5 s) and fails; the others come while the store fails and are held at once.
      assert.deepEqual(await errorOf(await postExchange(serve.base, chatExchange(HELLO_REQUEST, HELLO_ANSWER))), { status: 503, code: 'ERR_STORE_LOCKED', message: 'run database is locked by another process' });
      for (let i = 0; i < 2; i++) assert.equal((await postExchange(serve.base, chatExchange(HELLO_REQUEST, HELLO_ANSWER))).status, 503);
      lock.release();
      await untilHealthy(async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { healthy: boolean } }).capture);
    } finally {
      lock.close();
    }
    assert.equal(await serve.stop(), 0);
    const stderr = serve.stderr();
    assert.equal(stderr.split('ERR_STORE_LOCKED').length - 1, 1, `the lock is printed once:\n${stderr}`);
    assert.match(stderr, /^runprint: capture: ERR_STORE_LOCKED: run database is locked by another process \(the calls go on; records whose commit failed are held in memory and tried again every few seconds\)$/m);
    assert.match(stderr, /^runprint: capture: the run store works again \(3 held records committed\)$/m);
    assert.doesNotMatch(stderr, /answered 503/);
  } finally {
    await serve.kill();
  }
});

test('a real serve whose run store is damaged under POST /v1/exchanges: 500 without the path, and its stderr has the whole message with the path once', { timeout: 60_000 }, async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data });
  try {
    assert.equal((await postExchange(serve.base, chatExchange(HELLO_REQUEST, HELLO_ANSWER))).status, 200);
    const runsFile = join(data, 'runs.sqlite');
    cutShort(runsFile);
    for (let i = 0; i < 3; i++) {
      const response = await postExchange(serve.base, chatExchange(HELLO_REQUEST, HELLO_ANSWER));
      const body = await response.text();
      assert.equal(response.status, 500, body);
      assert.deepEqual(JSON.parse(body), { error: { code: 'ERR_STORE_CORRUPT', message: 'run database is damaged, or not an SQLite file' } });
      assert.ok(!body.includes(data), body);
    }
    const whole = `ERR_STORE_CORRUPT: run database ${runsFile} is damaged, or not an SQLite file`;
    const deadline = performance.now() + 5_000;
    while (!serve.stderr().includes(whole)) {
      assert.ok(performance.now() < deadline, `stderr has the message within 5 s; stderr:\n${serve.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const stderr = serve.stderr();
    assert.equal(stderr.split(whole).length - 1, 1, `printed once:\n${stderr}`);
    assert.ok(stderr.includes(`runprint: capture: ${whole}`), stderr);
    assert.doesNotMatch(stderr, /answered 500/);
  } finally {
    await serve.kill();
  }
});
