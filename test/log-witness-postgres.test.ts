/**
 * A witness whose state is in PostgreSQL (serve --log-db): two witness instances on one database,
 * as two processes would be, racing add-checkpoint requests for one log: exactly one is cosigned
 * each time, and a restarted instance knows the size. Uses a fresh schema of RUNPRINT_TEST_PG.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import pg from 'pg';
import { cosignatureSigner, cosignatureVerifier, verifyCosignatures } from '../src/log/cosignature.ts';
import { formatAddCheckpoint, witnessedLogs } from '../src/log/witness.ts';
import { createApp, type App } from '../src/server/app.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { newKey, TestLog } from './helpers/witness-fixtures.ts';

const BASE = process.env['RUNPRINT_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: BASE });
await admin.connect();
const schema = `runprint_witness_${randomBytes(6).toString('hex')}`;
await admin.query(`CREATE SCHEMA ${schema}`);
after(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

function schemaUrl(): string {
  const url = new URL(BASE);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

test('two witnesses on one PostgreSQL database: of concurrent requests from one old size exactly one is cosigned; the state outlives them', async () => {
  const log = await TestLog.create('example.test/pg-witnessed', 200);
  const key = await newKey('witness.example/pg');
  const signer = cosignatureSigner('witness.example/pg', key);
  const verifier = cosignatureVerifier('witness.example/pg', key.publicKey);
  const storages = [await PostgresLog.open(schemaUrl()), await PostgresLog.open(schemaUrl())];
  const apps: App[] = storages.map((storage) =>
    createApp({
      witness: {
        logs: witnessedLogs([log.verifier]),
        signers: [signer],
        state: { witnessed: (origin) => storage.witnessed(origin), saveWitnessed: (origin, previous, checkpoint) => storage.saveWitnessed(origin, previous, checkpoint) },
      },
    }),
  );
  const add = async (app: App, oldSize: number, size: number) =>
    app.request('/add-checkpoint', {
      method: 'POST',
      body: formatAddCheckpoint({ oldSize, proof: oldSize === 0 ? [] : log.proof(oldSize, size), note: await log.note(size) }),
    });
  try {
    let held = 0;
    for (let round = 0; round < 10; round++) {
      const sizes = [held + 3 + round, held + 5 + round];
      // Both instances get a request from the same old size at once, plus a third request on the first.
      const responses = await Promise.all([add(apps[0]!, held, sizes[0]!), add(apps[1]!, held, sizes[1]!), add(apps[0]!, held, sizes[1]!)]);
      const won = responses.filter((response) => response.status === 200);
      const lost = responses.filter((response) => response.status !== 200);
      assert.equal(won.length, 1, `round ${round}: ${responses.map((response) => response.status).join(', ')}`);
      const stored = (await storages[1]!.witnessed(log.origin))!.size;
      assert.ok(sizes.includes(stored));
      for (const response of lost) {
        assert.equal(response.status, 409);
        assert.equal(response.headers.get('content-type'), 'text/x.tlog.size');
        assert.equal(await response.text(), `${stored}\n`);
      }
      assert.equal((await verifyCosignatures(`${await log.note(stored)}${await won[0]!.text()}`, [verifier])).length, 1);
      held = stored;
    }
  } finally {
    for (const storage of storages) await storage.close();
  }
  const reopened = await PostgresLog.open(schemaUrl());
  try {
    assert.ok(((await reopened.witnessed(log.origin))?.size ?? 0) > 30);
  } finally {
    await reopened.close();
  }
});
