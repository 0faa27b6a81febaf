/**
 * `runs verify` with the runs in PostgreSQL takes keys from a data directory only when one is
 * named (--data, RUNPRINT_DATA): a ./runprint-data left in the folder it runs in (a SQLite serve
 * of the README's tour) holds another serve's keys, and failed a good run (ERR_SIGNATURE_UNKNOWN_KEY,
 * ERR_LOG_NOTE_SIGNATURE). Without a named one, the receipt and log checks are not made, and say
 * which option gives the key; with the serve's --data, or --key and --log-key, they pass.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { captureChat, untilLogged } from './helpers/proxy-calls.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { postgresServeTest } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

const fixture = postgresServeTest('runprint-verify-pg-keys-');
const scratch = fixture.scratch;

interface Check {
  name: string;
  status: string;
  reliesOn: string;
  message?: string;
}

test('runs verify on PostgreSQL does not take keys from an unnamed ./runprint-data', { timeout: 90_000 }, async () => {
  const { url } = await fixture.pgs.fresh('runprint_verify_keys');
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--log-db', url, '--upstream', `openai=${fixture.upstream.url}`] });
  const captureId = await captureChat(serve.base, 'sk-test-verify-keys', 'hello');
  await untilLogged(serve.base, captureId);
  assert.equal(await serve.stop(), 0);

  // A folder holding another serve's data directory (keys of its own), where the user runs verify.
  const folder = scratch.tempDir();
  mkdirSync(join(folder, 'runprint-data'));
  writeFileSync(join(folder, 'runprint-data', 'receipt-key.pem'), (await generateKeyFiles('receipt')).privateKeyPem);
  writeFileSync(join(folder, 'runprint-data', 'log-key.pem'), (await generateKeyFiles('localhost/runprint')).privateKeyPem);
  const verify = async (extra: string[]) => {
    const out = await runCliInProcess(['runs', 'verify', captureId, '--log-db', url, '--json', ...extra], { cwd: folder });
    const result = JSON.parse(out.stdout) as { ok: boolean; checks: Check[] };
    const check = (name: string) => result.checks.find((each) => each.name === name)!;
    return { code: out.code, ok: result.ok, receipt: check('receipt'), log: check('log'), record: check('record') };
  };

  const unnamed = await verify([]);
  assert.equal(unnamed.code, 0, 'no check fails');
  assert.equal(unnamed.record.status, 'pass');
  assert.equal(unnamed.receipt.status, 'not-checked');
  assert.match(unnamed.receipt.message!, /the run store is in PostgreSQL and no --data names the data directory .*--key/);
  assert.equal(unnamed.log.status, 'not-checked');
  assert.match(unnamed.log.message!, /--log-key/);

  // RUNPRINT_DATA set to the empty string is not set (as for every command): it names no data directory.
  const saved = process.env['RUNPRINT_DATA'];
  process.env['RUNPRINT_DATA'] = '';
  try {
    const empty = await verify([]);
    assert.deepEqual([empty.code, empty.receipt.status, empty.log.status], [0, 'not-checked', 'not-checked']);
    assert.match(empty.receipt.message!, /the run store is in PostgreSQL and no --data names the data directory/);
  } finally {
    if (saved === undefined) delete process.env['RUNPRINT_DATA'];
    else process.env['RUNPRINT_DATA'] = saved;
  }

  const named = await verify(['--data', data]);
  assert.deepEqual([named.code, named.receipt.status, named.log.status], [0, 'pass', 'pass']);
  assert.match(named.receipt.reliesOn, /derived from receipt-key\.pem in the data directory/);

  // The decoy named explicitly is the user's choice: its keys are used, and fail.
  const decoy = await verify(['--data', join(folder, 'runprint-data')]);
  assert.deepEqual([decoy.code, decoy.receipt.status, decoy.log.status], [1, 'fail', 'fail']);
});
