/**
 * Storage faults on a real PostgreSQL (LOG.md 19.4, "Storage faults"; 19.5): a full disk
 * (SQLSTATE 53100), a read-only transaction (25006) and a missing privilege (42501) each under
 * its own code, no acknowledged entry lost; and sslmode=require kept to one stderr line. Each test
 * uses a fresh schema of RUNPRINT_TEST_PG (default the local test database), dropped afterwards.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { DEFAULT_LOG_NAME, TransparencyLog } from '../src/store/log-service.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { pinSslMode } from '../src/store/postgres-url.ts';
import { RUNPRINT_BIN } from './helpers/serve-process.ts';

const BASE = process.env['RUNPRINT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: BASE });
await admin.connect();
const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await admin.end();
});

/** A new empty schema and the URL whose search_path selects it, with any further `-c` settings. */
async function freshSchema(settings = ''): Promise<{ schema: string; url: string }> {
  const schema = `runprint_faults_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  cleanups.push(() => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  const url = new URL(BASE);
  url.searchParams.set('options', `-c search_path=${schema}${settings}`);
  return { schema, url: url.toString() };
}

const entry = (n: number) => new TextEncoder().encode(`entry ${n} ${'x'.repeat(200)}`);
const key = await parsePrivateKey((await generateKeyFiles(DEFAULT_LOG_NAME)).privateKeyPem);
const NO_SPACE = 'no space left on the file system holding the PostgreSQL log database (stored entries are intact; free space, then retry)';

/** Opens the log, appends `count` entries, checks them signed, and closes it. */
async function appendSome(url: string, from: number, count: number): Promise<void> {
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: DEFAULT_LOG_NAME, key, checkpointDelayMs: 10 });
  for (let n = from; n < from + count; n++) await log.append(entry(n));
  await log.close();
}

async function checkpointSize(url: string): Promise<number> {
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: DEFAULT_LOG_NAME, key, check: 'full' });
  const size = (await log.checkpoint()).size;
  await log.close();
  return size;
}

test('the server reporting a full disk (SQLSTATE 53100, raised by the server on insert) is ERR_STORE_NO_SPACE; nothing acknowledged is lost', async () => {
  const { schema, url } = await freshSchema();
  await appendSome(url, 0, 5);
  // The server itself raises disk_full on the next insert into entries, as it does when a relation cannot grow.
  await admin.query(`CREATE FUNCTION ${schema}.full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$`);
  await admin.query(`CREATE TRIGGER full_disk BEFORE INSERT ON ${schema}.entries FOR EACH ROW EXECUTE FUNCTION ${schema}.full_disk()`);
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: DEFAULT_LOG_NAME, key, checkpointDelayMs: 10 });
  await assert.rejects(log.append(entry(5)), { code: 'ERR_STORE_NO_SPACE', message: NO_SPACE });
  await log.close();
  await admin.query(`DROP TRIGGER full_disk ON ${schema}.entries`);
  await appendSome(url, 5, 1);
  assert.equal(await checkpointSize(url), 6);
});

test('a real full disk under PostgreSQL (its tables in a tablespace on a 4 MiB tmpfs) is ERR_STORE_NO_SPACE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-pg-full-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // The server runs outside any namespace of ours: only a mount it can see will do, which needs root.
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    mounted = true;
    const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const postgresGid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, postgresUid, postgresGid);
  } catch {
    // Not root, no mount, or the server's user is not local.
  }
  if (!mounted) {
    t.diagnostic('cannot mount a tmpfs the PostgreSQL server sees (not root here): the full disk is the server-raised 53100 of the test above');
    if (mounted) execFileSync('umount', ['-l', dir]);
    return;
  }
  cleanups.push(() => execFileSync('umount', ['-l', dir]));
  const tablespace = `runprint_full_${randomBytes(4).toString('hex')}`;
  try {
    await admin.query(`CREATE TABLESPACE ${tablespace} LOCATION '${dir}'`);
  } catch (error) {
    t.diagnostic(`the PostgreSQL server cannot use a local tmpfs (${(error as { code?: string }).code}): the full disk is the server-raised 53100 of the test above`);
    return;
  }
  const { schema, url } = await freshSchema(` -c default_tablespace=${tablespace}`);
  cleanups.push(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`DROP TABLESPACE IF EXISTS ${tablespace}`);
  });
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(url), origin: DEFAULT_LOG_NAME, key, checkpointDelayMs: 10 });
  // Incompressible 4 KiB entries, 200 at a time (one transaction each), until the tablespace is full.
  let acknowledged = 0;
  let failure: unknown;
  for (let round = 0; round < 100 && failure === undefined; round++) {
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => log.append(new Uint8Array(randomBytes(4096)))));
    for (const result of results) {
      if (result.status === 'fulfilled') acknowledged++;
      else failure ??= result.reason;
    }
  }
  await log.close();
  assert.ok(acknowledged > 0);
  assert.deepEqual({ code: (failure as { code?: string }).code, message: (failure as Error).message }, { code: 'ERR_STORE_NO_SPACE', message: NO_SPACE });
  // Reads still work on the full disk: every acknowledged entry is there.
  const storage = await PostgresLog.open(url);
  assert.equal(await storage.size(), acknowledged);
  await storage.close();
});

test('a read-only transaction (default_transaction_read_only, as on a standby: SQLSTATE 25006) is ERR_STORE_READ_ONLY at open, exit 4 from serve', async () => {
  const { url: writable } = await freshSchema();
  await appendSome(writable, 0, 3);
  const url = new URL(writable);
  url.searchParams.set('options', `${url.searchParams.get('options')} -c default_transaction_read_only=on`);
  const message = 'PostgreSQL log database (a read-only transaction: a standby, or default_transaction_read_only) cannot be written (stored entries are intact; make it writable, then retry)';
  await assert.rejects(PostgresLog.open(url.toString()), { code: 'ERR_STORE_READ_ONLY', message });
  const data = mkdtempSync(join(tmpdir(), 'runprint-pg-ro-'));
  cleanups.push(() => rmSync(data, { recursive: true, force: true }));
  const result = await serve(['--data', data, '--log-db', url.toString()]);
  assert.equal(result.code, 4);
  assert.equal(result.stderr, `runprint: ERR_STORE_READ_ONLY: ${message}\n`);
  assert.equal(await checkpointSize(writable), 3);
});

test('a role without the privilege to write the tables (SQLSTATE 42501) is ERR_STORE_PERMISSION', async () => {
  const { schema, url: owner } = await freshSchema();
  await appendSome(owner, 0, 2);
  const role = `runprint_reader_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  cleanups.push(() => admin.query(`DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`));
  await admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
  const url = new URL(owner);
  url.username = role;
  await assert.rejects(PostgresLog.open(url.toString()), { code: 'ERR_STORE_PERMISSION', message: 'PostgreSQL log database (insufficient privilege): permission denied' });
});

function serve(args: string[]): Promise<{ code: number | string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (/^runprint: log /m.test(stderr)) child.kill('SIGTERM');
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', stderr }));
  });
}

test('serve --log-db ...?sslmode=require keeps stderr to one-line runprint messages (no multi-line node-postgres warning)', async () => {
  const data = mkdtempSync(join(tmpdir(), 'runprint-pg-ssl-'));
  cleanups.push(() => rmSync(data, { recursive: true, force: true }));
  const url = new URL(BASE);
  url.searchParams.set('sslmode', 'require');
  const result = await serve(['--data', data, '--log-db', url.toString()]);
  const lines = result.stderr.split('\n').slice(0, -1);
  assert.ok(lines.length >= 2, result.stderr);
  for (const line of lines) assert.match(line, /^runprint: /, result.stderr);
  assert.equal(
    lines[0],
    "runprint: warning: the log database URL's sslmode=require is taken as sslmode=verify-full: the server's certificate and host name are verified, as node-postgres does today (uselibpqcompat=true gives libpq's meaning)",
  );
  assert.doesNotMatch(result.stderr, /SECURITY WARNING/);
});

test('pinSslMode: prefer, require and verify-ca become verify-full; other modes and uselibpqcompat=true are left alone', () => {
  assert.deepEqual(pinSslMode('postgres://h/db?sslmode=require'), { url: 'postgres://h/db?sslmode=verify-full', replaced: 'require' });
  assert.deepEqual(pinSslMode('postgres://h/db?a=1&sslmode=prefer&b=2'), { url: 'postgres://h/db?a=1&sslmode=verify-full&b=2', replaced: 'prefer' });
  assert.deepEqual(pinSslMode('postgres://h/db?sslmode=verify-ca'), { url: 'postgres://h/db?sslmode=verify-full', replaced: 'verify-ca' });
  for (const url of ['postgres://h/db', 'postgres://h/db?sslmode=disable', 'postgres://h/db?sslmode=verify-full', 'postgres://h/db?sslmode=no-verify', 'postgres://h/db?uselibpqcompat=true&sslmode=require', 'postgres://h/db?sslmode=requirex']) {
    assert.deepEqual(pinSslMode(url), { url });
  }
});
