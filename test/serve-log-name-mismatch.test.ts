/**
 * serve on a log database that belongs to a log of another name (another --log-name, or none
 * given where the log has one) says so with both names and how to give the log's name
 * (--log-name, RUNPRINT_LOG_NAME), as a log key that did not sign the store names both key IDs,
 * and with the same code: ERR_LOG_CONFIG_MISMATCH, exit 2 (docs/LOG.md 19.5), a wrong option and
 * not a corrupt store (before, ERR_STORE_CORRUPT, exit 3: an operator told "corrupt" may delete
 * or restore a healthy log). In PostgreSQL and in SQLite. A stored name is printed escaped.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { openSqliteLog, TransparencyLog } from '../src/store/log-service.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-log-name-');
let pgs: PgSchemas;
before(async () => {
  for (const name of ['RUNPRINT_LOG_NAME', 'RUNPRINT_LOG_DB', 'RUNPRINT_RUNS_DB', 'RUNPRINT_DATA']) delete process.env[name];
  pgs = await pgSchemas();
});
after(async () => {
  await endServeTest(undefined, scratch);
  await pgs.drop();
});

/** A PostgreSQL log of the name `origin` holding one entry, in a fresh schema. */
async function namedLog(origin: string): Promise<{ schema: string; url: string }> {
  const fresh = await pgs.fresh('runprint_log_name');
  const key = await parsePrivateKey((await generateKeyFiles(origin)).privateKeyPem);
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(fresh.url), origin, key, checkpointDelayMs: 10 });
  await log.append(new TextEncoder().encode('one entry'));
  await log.close();
  return fresh;
}

const remedy = "give serve the log's name (--log-name or RUNPRINT_LOG_NAME; without either it is localhost/runprint), or another log database; every server sharing a log database needs the same log name (docs/LOG.md 19.5)";

test('serve --log-db of the log example.com/log without --log-name: both names, and --log-name', { timeout: 90_000 }, async () => {
  const { url } = await namedLog('example.com/log');
  const served = await runRunprint(['serve', '--data', scratch.tempDir(), '--port', '0', '--no-capture', '--log-db', url], { timeoutMs: 60_000 });
  assert.equal(served.code, 2, served.stderr);
  assert.equal(served.stderr, `runprint: ERR_LOG_CONFIG_MISMATCH: the log database belongs to the log "example.com/log", and this server's log name is "localhost/runprint": ${remedy}\n`);

  const other = await runRunprint(['serve', '--data', scratch.tempDir(), '--port', '0', '--no-capture', '--log-db', url, '--log-name', 'example.com/other'], { timeoutMs: 60_000 });
  assert.equal(other.code, 2, other.stderr);
  assert.equal(other.stderr, `runprint: ERR_LOG_CONFIG_MISMATCH: the log database belongs to the log "example.com/log", and this server's log name is "example.com/other": ${remedy}\n`);
});

test('a stored name is printed escaped and cut', async () => {
  const { schema, url } = await namedLog('example.com/log');
  await pgs.admin.query(`UPDATE ${schema}.meta SET value = $1 WHERE key = 'origin'`, [`evil\u001b[2J"name${'x'.repeat(200)}`]);
  const key = await parsePrivateKey((await generateKeyFiles('example.com/log')).privateKeyPem);
  await assert.rejects(TransparencyLog.open({ storage: await PostgresLog.open(url), origin: 'example.com/log', key }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'ERR_LOG_CONFIG_MISMATCH');
    assert.match(error.message, new RegExp(`^the log database belongs to the log "evil\\\\u001b\\[2J\\\\"namex{87}…", and this server's log name is "example\\.com/log": `));
    assert.doesNotMatch(error.message, /\u001b/);
    return true;
  });
});

/** A data directory whose SQLite log (log.sqlite, log-key.pem) is the log `origin` holding one entry. */
async function sqliteDataDir(origin: string): Promise<string> {
  const data = scratch.tempDir();
  const files = await generateKeyFiles(origin);
  writeFileSync(join(data, 'log-key.pem'), files.privateKeyPem, { mode: 0o600 });
  const log = await openSqliteLog({ path: join(data, 'log.sqlite'), origin, key: await parsePrivateKey(files.privateKeyPem), checkpointDelayMs: 10 });
  await log.append(new TextEncoder().encode('one entry'));
  await log.close();
  return data;
}

test('serve --data of an SQLite log with another --log-key or --log-name: ERR_LOG_CONFIG_MISMATCH, exit 2, naming both', { timeout: 90_000 }, async () => {
  const data = await sqliteDataDir('localhost/runprint');
  const other = join(scratch.tempDir(), 'other-log-key.pem');
  writeFileSync(other, (await generateKeyFiles('localhost/runprint')).privateKeyPem, { mode: 0o600 });
  const wrongKey = await runRunprint(['serve', '--data', data, '--port', '0', '--no-capture', '--log-key', other], { timeoutMs: 60_000 });
  assert.equal(wrongKey.code, 2, wrongKey.stderr);
  assert.match(
    wrongKey.stderr,
    /^runprint: ERR_LOG_CONFIG_MISMATCH: last stored checkpoint is not signed by this log's key: it is signed by another key of this log's name \(key ID [0-9a-f]{8}, this key's [0-9a-f]{8}\); every server sharing a log database needs the same log key \(serve --log-key, docs\/LOG\.md 19\.5\)\n$/,
  );

  const wrongName = await runRunprint(['serve', '--data', data, '--port', '0', '--no-capture', '--log-name', 'example.com/other'], { timeoutMs: 60_000 });
  assert.equal(wrongName.code, 2, wrongName.stderr);
  assert.equal(wrongName.stderr, `runprint: ERR_LOG_CONFIG_MISMATCH: the log database belongs to the log "localhost/runprint", and this server's log name is "example.com/other": ${remedy}\n`);
});
