/**
 * SPEC 19.4 on a real PostgreSQL: the log checks that a new tree extends its last signed checkpoint
 * (a consistency proof built from the stored tiles) before it signs, and refuses to sign when a
 * stored leaf hash or a stored subtree hash was rewritten under it. Each test uses a fresh schema of
 * RUNPRINT_TEST_PG (default the local test database), dropped afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import pg from 'pg';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { TransparencyLog } from '../src/store/log-service.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';

const BASE = process.env['RUNPRINT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ORIGIN = 'example.test/runprint-pg-consistency';

const admin = new pg.Client({ connectionString: BASE });
await admin.connect();
const schemas: string[] = [];
after(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

/** A log on a new empty schema, holding `count` entries under a signed checkpoint. */
async function signedLog(count: number): Promise<{ schema: string; log: TransparencyLog }> {
  const schema = `runprint_test_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  schemas.push(schema);
  const url = new URL(BASE);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const key = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const log = await TransparencyLog.open({ storage: await PostgresLog.open(url.toString()), origin: ORIGIN, key, checkpointDelayMs: 1000 });
  await Promise.all(Array.from({ length: count }, (_, n) => log.append(new TextEncoder().encode(`entry ${n}`))));
  await log.publishCheckpoint();
  assert.equal((await log.checkpoint()).size, count);
  return { schema, log };
}

async function storedCheckpointSizes(schema: string): Promise<number[]> {
  const { rows } = await admin.query(`SELECT size::integer AS size FROM ${schema}.checkpoints ORDER BY size`);
  return (rows as Array<{ size: number }>).map((row) => row.size);
}

/** After a rewrite: one more entry, then the signing must be refused and nothing new stored or served. */
async function assertRefusesToSign(schema: string, log: TransparencyLog, signedSize: number): Promise<void> {
  const before = (await log.checkpoint()).note;
  const sizesBefore = await storedCheckpointSizes(schema);
  assert.equal(sizesBefore.at(-1), signedSize);
  await log.append(new TextEncoder().encode('one more entry'));
  await assert.rejects(log.publishCheckpoint(), {
    code: 'ERR_LOG_INCONSISTENT',
    message: 'new tree does not extend the last signed checkpoint; not signing',
  });
  assert.equal((await log.checkpoint()).note, before);
  assert.deepEqual(await storedCheckpointSizes(schema), sizesBefore);
  await assert.rejects(log.append(new TextEncoder().encode('refused')), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored tree does not extend the last signed checkpoint; the log takes no entries',
  });
}

test('PostgreSQL: a rewritten leaf hash under a signed checkpoint makes the log refuse to sign the next tree', async () => {
  const { schema, log } = await signedLog(8);
  try {
    await admin.query(`UPDATE ${schema}.entries SET leaf_hash = $1 WHERE idx = 2`, [Buffer.alloc(32)]);
    await assertRefusesToSign(schema, log, 8);
  } finally {
    await log.close();
  }
});

test('PostgreSQL: a rewritten stored subtree hash (level-1 tile) makes the log refuse to sign the next tree', async () => {
  const { schema, log } = await signedLog(300);
  try {
    const { rowCount } = await admin.query(`UPDATE ${schema}.tile_hashes SET hash = $1 WHERE level = 1 AND idx = 0`, [Buffer.alloc(32, 7)]);
    assert.equal(rowCount, 1);
    await assertRefusesToSign(schema, log, 300);
  } finally {
    await log.close();
  }
});
