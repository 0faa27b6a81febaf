/**
 * Storage faults (LOG.md 19.4, "Storage faults"): a full disk, a store that cannot be written or
 * opened, each under its own code, never ERR_STORE_CORRUPT for a healthy log; no acknowledged
 * entry lost. Real SQLite files, real `runprint serve` processes; a real full disk and a read-only
 * file system where a user and mount namespace can be had (test/helpers/store-fault-driver.ts).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { createApp } from '../src/server/app.ts';
import { DEFAULT_LOG_NAME, TransparencyLog } from '../src/store/log-service.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';
import { unprivileged } from './helpers/unprivileged.ts';

const DRIVER = fileURLToPath(new URL('./helpers/store-fault-driver.ts', import.meta.url));
const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
function folder(): string {
  const path = mkdtempSync(join(tmpdir(), 'runprint-faults-'));
  folders.push(path);
  return path;
}

const NO_SPACE = 'no space left on the file system holding the log database (stored entries are intact; free space, then retry)';
const entry = (n: number) => new TextEncoder().encode(`entry ${n} ${'x'.repeat(200)}`);

/** Runs a command to its end: exit code and stderr. */
function runToEnd(command: string, args: string[]): Promise<{ code: number | string; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}

/** `runprint serve` with the writes of every file limited to `blocks` (sh's ulimit -f): a write past it fails with EFBIG. */
function serveWithFileSizeLimit(data: string, blocks: number, extra: string[] = []) {
  return runToEnd('sh', ['-c', `ulimit -f ${blocks} && exec "$0" "$@"`, process.execPath, RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, ...extra]);
}

/** A log at `path` with 20 signed entries and 5 acknowledged ones no checkpoint covers (as a process killed before signing leaves them). */
async function makeLog(path: string) {
  const pem = (await generateKeyFiles(DEFAULT_LOG_NAME)).privateKeyPem;
  const key = await parsePrivateKey(pem);
  const log = await TransparencyLog.open({ storage: SqliteLog.open(path), origin: DEFAULT_LOG_NAME, key });
  for (let n = 0; n < 20; n++) await log.append(entry(n));
  await log.close();
  const storage = SqliteLog.open(path);
  await storage.append([20, 21, 22, 23, 24].map((n) => ({ entry: entry(n), leafHash: hashLeaf(entry(n)) })));
  await storage.close();
  return { pem, key };
}

/** The checkpoint size after opening the log again (the full check), and whether every stored entry is the one appended. */
async function reopen(path: string, key: Awaited<ReturnType<typeof makeLog>>['key']) {
  const log = await TransparencyLog.open({ storage: SqliteLog.open(path), origin: DEFAULT_LOG_NAME, key, check: 'full' });
  const size = (await log.checkpoint()).size;
  await log.close();
  const storage = SqliteLog.open(path);
  const stored = await storage.entries(0, size);
  await storage.close();
  return { size, intact: stored.every((bytes, n) => Buffer.from(bytes).equals(Buffer.from(entry(n)))) };
}

test('SQLite full (max_page_count): the append is ERR_STORE_NO_SPACE, HTTP 507, and no acknowledged entry is lost', async () => {
  const path = join(folder(), 'log.sqlite');
  const key = await parsePrivateKey((await generateKeyFiles(DEFAULT_LOG_NAME)).privateKeyPem);
  // The pages the empty log has now, and 8 more: small entries fit, a 40 KiB one does not.
  const probe = SqliteLog.open(path);
  await probe.close();
  const { DatabaseSync } = await import('node:sqlite');
  const pages = (new DatabaseSync(path).prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
  const log = await TransparencyLog.open({ storage: SqliteLog.open(path, { maxPageCount: pages + 8 }), origin: DEFAULT_LOG_NAME, key, checkpointDelayMs: 10 });
  for (let n = 0; n < 3; n++) await log.append(entry(n));
  await assert.rejects(log.append(new Uint8Array(40 * 1024).fill(7)), { code: 'ERR_STORE_NO_SPACE', message: NO_SPACE });
  const app = createApp({ log: { log, token: 'token' } });
  const big = JSON.stringify({ payload: encodeBase64(new Uint8Array(30 * 1024).fill(8)), payloadType: 't', signatures: [{ sig: 'AAAA' }] });
  const response = await app.request('/v1/log/entries', { method: 'POST', body: big, headers: { 'content-type': 'application/json', authorization: 'Bearer token' } });
  assert.equal(response.status, 507);
  assert.deepEqual(await response.json(), { error: { code: 'ERR_STORE_NO_SPACE', message: NO_SPACE } });
  await log.close();
  const again = await TransparencyLog.open({ storage: SqliteLog.open(path), origin: DEFAULT_LOG_NAME, key, check: 'full' });
  assert.equal((await again.checkpoint()).size, 3);
  await again.close();
});

test('a restart whose writes fail (a file size limit) is not reported corrupt: ERR_STORE_UNAVAILABLE, exit 4, and the log then starts whole', async () => {
  const data = folder();
  const { pem, key } = await makeLog(join(data, 'log.sqlite'));
  writeFileSync(join(data, 'log-key.pem'), pem, { mode: 0o600 });
  // Reads work; the -shm file cannot grow (EFBIG), so SQLite reports an I/O error.
  const failed = await serveWithFileSizeLimit(data, 0);
  assert.equal(failed.code, 4, failed.stderr);
  assert.equal(failed.stderr.replace(/SQLite code \d+/, 'SQLite code N'), `runprint: ERR_STORE_UNAVAILABLE: log database ${join(data, 'log.sqlite')} cannot be read or written (SQLite code N)\n`);
  assert.deepEqual(await reopen(join(data, 'log.sqlite'), key), { size: 25, intact: true });
});

/** Whether this process may make a user and mount namespace (unshare -rm), where the driver mounts what it needs. */
const namespaces = spawnSync('unshare', ['--map-root-user', '--mount', 'true']).status === 0;

function driver(scenario: string): Record<string, any> {
  const dir = folder();
  const child = spawnSync('unshare', ['--map-root-user', '--mount', process.execPath, DRIVER, scenario, dir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(child.status, 0, child.stderr);
  return { ...JSON.parse(child.stdout), dir };
}

test('a full disk (a 2 MiB tmpfs): a restart is ERR_STORE_NO_SPACE, not corrupt, and every acknowledged entry is signed once there is space; a first start leaves no log key', async (t) => {
  if (!namespaces) {
    // No namespace here (a container that forbids them): the full disk is SQLite's own limit instead.
    t.diagnostic('unshare --map-root-user --mount is not permitted here: checking a full database with max_page_count instead of a full tmpfs');
    const path = join(folder(), 'log.sqlite');
    const { key } = await makeLog(path);
    const storage = SqliteLog.open(path, { maxPageCount: 1 });
    await assert.rejects(storage.append([{ entry: new Uint8Array(100_000), leafHash: hashLeaf(new Uint8Array(100_000)) }]), { code: 'ERR_STORE_NO_SPACE', message: NO_SPACE });
    await storage.close();
    assert.deepEqual(await reopen(path, key), { size: 25, intact: true });
    return;
  }
  const result = driver('full-disk');
  assert.deepEqual(result.restart, { code: 4, stderr: `runprint: ERR_STORE_NO_SPACE: ${NO_SPACE}\n` });
  assert.deepEqual(result.afterRestart, { size: 25, entriesIntact: true });
  assert.deepEqual(result.firstStart, { code: 4, stderr: 'runprint: ERR_FILE_UNWRITABLE: log key file cannot be written in the data directory: no space left\n' });
  assert.deepEqual(result.freshFiles, [], 'no empty or partial log-key.pem, no temporary file');
  assert.equal(result.secondStart.started, true, result.secondStart.stderr);
  assert.equal(result.freshKeyMode, 0o600, 'the next start, with space, makes the key');
});

test('a log database on a read-only file system is ERR_STORE_READ_ONLY (exit 4), not corrupt', async (t) => {
  if (!namespaces) {
    t.diagnostic('unshare --map-root-user --mount is not permitted here: checking a read-only database file instead of a read-only mount');
    return readOnlyFile();
  }
  const result = driver('read-only');
  assert.deepEqual(result.readOnly, {
    code: 4,
    stderr: `runprint: ERR_STORE_READ_ONLY: the directory ${join(result.dir, 'data')} holding the log database cannot be written (stored entries are intact; make it writable, then retry)\n`,
  });
  assert.deepEqual(result.afterReadOnly, { size: 25, entriesIntact: true });
});

async function readOnlyFile(): Promise<void> {
  const data = folder();
  const { pem, key } = await makeLog(join(data, 'log.sqlite'));
  writeFileSync(join(data, 'log-key.pem'), pem, { mode: 0o600 });
  chmodSync(join(data, 'log.sqlite'), 0o444);
  const { command, args } = unprivileged(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data]);
  const result = await runToEnd(command, args);
  assert.equal(result.code, 4, result.stderr);
  assert.equal(
    result.stderr,
    // 0444 lets others read it too: said first, as for any data file that is not owner-only.
    'runprint: warning: log.sqlite (0444) in the data directory is not owner-only: users other than its owner may have access to what it holds; chmod 600 it\n' +
      `runprint: ERR_STORE_READ_ONLY: log database ${join(data, 'log.sqlite')} cannot be written (stored entries are intact; make it writable, then retry)\n`,
  );
  // SQLite gives the -wal and -shm files it makes the database file's mode: all of them are made writable again.
  for (const name of readdirSync(data).filter((file) => file.startsWith('log.sqlite'))) chmodSync(join(data, name), 0o644);
  assert.deepEqual(await reopen(join(data, 'log.sqlite'), key), { size: 25, intact: true });
}

test('a read-only log database file (mode 0444, to a process file modes bind) is ERR_STORE_READ_ONLY (exit 4)', readOnlyFile);

test('a log database the process may not open (mode 000) is ERR_STORE_PERMISSION (exit 4), not corrupt', async () => {
  const data = folder();
  const { pem } = await makeLog(join(data, 'log.sqlite'));
  writeFileSync(join(data, 'log-key.pem'), pem, { mode: 0o600 });
  chmodSync(join(data, 'log.sqlite'), 0o000);
  const { command, args } = unprivileged(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data]);
  const result = await runToEnd(command, args);
  chmodSync(join(data, 'log.sqlite'), 0o644);
  assert.equal(result.code, 4, result.stderr);
  assert.equal(result.stderr, `runprint: ERR_STORE_PERMISSION: log database ${join(data, 'log.sqlite')}: permission denied\n`);
});

test('a key write that fails midway (a file size limit) leaves no log-key.pem, and the next start makes one', async () => {
  const data = join(folder(), 'data');
  const failed = await serveWithFileSizeLimit(data, 0);
  assert.equal(failed.code, 4, failed.stderr);
  assert.equal(failed.stderr, 'runprint: ERR_FILE_UNWRITABLE: log key file cannot be written in the data directory\n');
  assert.deepEqual(readdirSync(data), []);
  const served = await startServe({ data });
  await served.stop();
  assert.equal(statSync(join(data, 'log-key.pem')).mode & 0o777, 0o600);
});

test('a log database another connection (as another process would) holds locked past the 5 s wait is ERR_STORE_LOCKED (503), and the append works once it lets go', async () => {
  const path = join(folder(), 'log.sqlite');
  const key = await parsePrivateKey((await generateKeyFiles(DEFAULT_LOG_NAME)).privateKeyPem);
  const log = await TransparencyLog.open({ storage: SqliteLog.open(path), origin: DEFAULT_LOG_NAME, key, checkpointDelayMs: 10 });
  const { DatabaseSync } = await import('node:sqlite');
  const other = new DatabaseSync(path);
  other.exec('BEGIN IMMEDIATE');
  await assert.rejects(log.append(entry(0)), { code: 'ERR_STORE_LOCKED', message: 'log database is locked by another process' });
  other.exec('ROLLBACK');
  other.close();
  assert.deepEqual(await log.append(entry(0)), { index: 0, leafHash: hashLeaf(entry(0)), created: true });
  await log.close();
});
