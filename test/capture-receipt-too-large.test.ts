/**
 * A receipt longer than a log entry can be (65,535 bytes: a data tile writes each entry's length
 * in two bytes), from an ordinary call of many hundreds of messages: the log refuses it instead of
 * storing an entry no tile could serve; the run keeps its receipt (it verifies with the key), with
 * no log index, reported once; calls before and after are logged, and every tile stays readable.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openSqliteLog } from '../src/store/log-service.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-receipt-size-');
before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

test('the log refuses an entry over 65,535 bytes with ERR_LOG_ENTRY_TOO_LARGE and takes one of exactly 65,535', async () => {
  const dir = scratch.tempDir();
  const key = await parsePrivateKey((await generateKeyFiles('example.test/entry-size')).privateKeyPem);
  const log = await openSqliteLog({ path: join(dir, 'log.sqlite'), key, origin: 'example.test/entry-size' });
  try {
    await assert.rejects(log.append(new Uint8Array(65_536).fill(0x61)), { code: 'ERR_LOG_ENTRY_TOO_LARGE' });
    const stored = await log.append(new Uint8Array(65_535).fill(0x62));
    assert.equal(stored.index, 0);
  } finally {
    await log.close();
  }
});

test('serve: a call whose receipt is too long for the log keeps its receipt, unlogged; the log and its tiles stay whole', async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const call = async (messages: unknown[]) => {
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages }) });
    await response.text();
    assert.equal(response.status, 200);
    return response.headers.get('runprint-capture-id')!;
  };
  const receiptOf = async (captureId: string) => {
    for (let i = 0; i < 200; i++) {
      const answer = await fetch(`${serve.base}/v1/runs/${captureId}/receipt`);
      if (answer.status === 200) return answer.text();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no receipt for ${captureId}`);
  };
  const first = await call([{ role: 'user', content: 'before' }]);
  await receiptOf(first);
  const long = await call(Array.from({ length: 700 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i}` })));
  const receipt = await receiptOf(long);
  assert.ok(receipt.length > 65_535, `the receipt is ${receipt.length} bytes`);
  const last = await call([{ role: 'user', content: 'after' }]);
  await receiptOf(last);

  const view = async (captureId: string) => ((await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: Array<{ receipt: { logIndex: number | null } | null }> }).runs[0]!;
  // The calls around it are logged; it is not, and is not signed again.
  for (let i = 0; i < 200 && (await view(last)).receipt?.logIndex == null; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal((await view(first)).receipt!.logIndex, 0);
  assert.equal((await view(last)).receipt!.logIndex, 1);
  assert.equal((await view(long)).receipt!.logIndex, null);
  const verify = (await (await fetch(`${serve.base}/v1/runs/${long}/verify`)).json()) as { checks: Array<{ name: string; status: string; message?: string }> };
  const check = (name: string) => verify.checks.find((each) => each.name === name)!;
  assert.equal(check('receipt').status, 'pass', 'the receipt verifies with the key');
  assert.equal(check('log').status, 'not-checked');
  assert.match(check('log').message!, /longer than a log entry can be \(65535 bytes\), so no log holds it/);
  const proof = await fetch(`${serve.base}/v1/runs/${long}/tlog-proof`);
  assert.equal(proof.status, 404);
  const refusal = ((await proof.json()) as { error: { code: string; message: string } }).error;
  assert.equal(refusal.code, 'ERR_LOG_ENTRY_NOT_FOUND');
  assert.match(refusal.message, /longer than a log entry can be \(65535 bytes\), so no log holds it/);

  // The checkpoint counts the two entries; the entry bundle holding them is served.
  let size = 0;
  for (let i = 0; i < 200 && size < 2; i++) {
    size = Number((await (await fetch(`${serve.base}/checkpoint`)).text()).split('\n')[1]);
    if (size < 2) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.equal(size, 2);
  const bundle = await fetch(`${serve.base}/tile/entries/000.p/2`);
  assert.equal(bundle.status, 200);
  await bundle.arrayBuffer();
  const health = (await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { signed: number; logged: number } };
  assert.equal(health.capture.logged, 2);
  assert.equal(health.capture.signed, 3, 'the long run was signed once');
  assert.equal(serve.stderr().match(/ERR_LOG_ENTRY_TOO_LARGE/g)?.length, 1, serve.stderr());
  assert.equal(await serve.stop(), 0);
});
