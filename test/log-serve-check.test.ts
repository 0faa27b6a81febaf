/** `runprint serve --log-check`: the open check of the log's storage chosen on the command line. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { encodeBase64 } from '../src/keys/base64.ts';
import { killServeProcesses, runRunprint, startServe } from './helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

const TOKEN = 'check-token-0123456789';

test('--log-check tiles opens a store whose damage lies inside the signed tree, --log-check full (the default) refuses it', async () => {
  const data = await mkdtemp(join(tmpdir(), 'runprint-serve-check-'));
  folders.push(data);
  const first = await startServe({ data, token: TOKEN });
  for (let n = 0; n < 300; n++) {
    const body = JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] });
    const response = await fetch(`${first.base}/v1/log/entries${n === 299 ? '?wait=checkpoint' : ''}`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.ok, true);
    await response.arrayBuffer();
  }
  await first.stop();

  // A leaf hash inside the first, complete, signed tile no longer matches its entry.
  const db = new DatabaseSync(join(data, 'log.sqlite'));
  db.prepare('UPDATE entries SET entry = ? WHERE idx = 7').run(new TextEncoder().encode('{"payload":"","payloadType":"x","signatures":[{"sig":""}]}'));
  db.close();

  const full = await runRunprint(['serve', '--port', '0', '--data', data, '--log-token', TOKEN], { timeoutMs: 20_000 });
  assert.equal(full.code, 3);
  assert.match(full.stderr, /ERR_STORE_CORRUPT: stored leaf hash of entry 7 does not match its entry/);

  const tiles = await startServe({ data, token: TOKEN, args: ['--log-check', 'tiles'] });
  const checkpoint = await (await fetch(`${tiles.base}/checkpoint`)).text();
  assert.match(checkpoint, /\n300\n/);
  await tiles.stop();

  const bad = await runRunprint(['serve', '--port', '0', '--data', data, '--log-check', 'quick'], { timeoutMs: 20_000 });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /ERR_CLI_USAGE: --log-check must be full or tiles/);
});
