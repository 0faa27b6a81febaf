/** `runprint serve --sign-key KEY.pem --sign-token T`: the options' checks at start, and signing through a real server. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { verifyReceipt } from '../src/receipt/verify.ts';
import { parsePublicKey } from '../src/keys/keys.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { killServeProcesses, runRunprint, startServe } from './helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'runprint-sign-serve-'));
  folders.push(path);
  return path;
}

test('serve refuses a sign key without a sign token, a token without a key, a bad token and the log key as sign key', async () => {
  const data = await folder();
  const key = await generateKeyFiles('receipts');
  await writeFile(join(data, 'sign.pem'), key.privateKeyPem, { mode: 0o600 });
  const base = ['serve', '--port', '0', '--data', data];
  const cases: Array<[string[], string]> = [
    [['--sign-key', join(data, 'sign.pem')], 'runprint: ERR_CLI_USAGE: signing needs both --sign-key KEY.pem and --sign-token T\n'],
    [['--sign-token', 'abc'], 'runprint: ERR_CLI_USAGE: signing needs both --sign-key KEY.pem and --sign-token T\n'],
    [['--sign-key', join(data, 'sign.pem'), '--sign-token', 'a b'], 'runprint: ERR_CLI_USAGE: --sign-token must be 1 or more visible ASCII characters with no spaces (a bearer token; letters, digits and -._~+/= are the portable choice)\n'],
    [['--sign-key', join(data, 'sign.pem'), '--sign-token', 'abc', '--log-key', join(data, 'sign.pem')], 'runprint: ERR_CLI_USAGE: --sign-key must not be the log key: give the service its own receipt key (runprint keygen)\n'],
  ];
  for (const [args, stderr] of cases) {
    const result = await runRunprint([...base, ...args]);
    assert.equal(result.code, 2, args.join(' '));
    assert.equal(result.stderr, stderr);
  }
  // The data directory's own log key, made on first start, is refused as a sign key too.
  const first = await startServe({ data });
  // Without --sign-key and --sign-token, POST /v1/sign is no such path, and says why.
  const unsigned = await fetch(`${first.base}/v1/sign`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(unsigned.status, 404);
  assert.deepEqual(await unsigned.json(), { error: { code: 'ERR_HTTP_NOT_FOUND', message: 'no such path: signing is off on this server (serve signs with --sign-key KEY.pem and --sign-token T)' } });
  await first.stop();
  const logKeyFile = join(data, 'log-key.pem');
  assert.match(await readFile(logKeyFile, 'utf8'), /PRIVATE KEY/);
  const again = await runRunprint([...base, '--sign-key', logKeyFile, '--sign-token', 'abc']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /--sign-key must not be the log key/);
});

test('a real serve signs with its key only for the sign token (not the log token), and the receipt verifies', async () => {
  const data = await folder();
  const key = await generateKeyFiles('receipts');
  await writeFile(join(data, 'sign.pem'), key.privateKeyPem, { mode: 0o600 });
  const serve = await startServe({ data, token: 'log-token-1', env: { RUNPRINT_SIGN_KEY: join(data, 'sign.pem'), RUNPRINT_SIGN_TOKEN: 'sign-token-1' } });
  const body = JSON.stringify({ composition: REQUEST, output: RESPONSE_TEXT, capture: 'sdk' });
  const post = (token: string) => fetch(`${serve.base}/v1/sign`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
  const refused = await post('log-token-1');
  assert.equal(refused.status, 401);
  assert.deepEqual(await refused.json(), { error: { code: 'ERR_HTTP_UNAUTHORIZED', message: 'signing needs Authorization: Bearer with the sign token' } });
  const signed = await post('sign-token-1');
  assert.equal(signed.status, 200);
  const receipt = await signed.text();
  const report = await verifyReceipt(receipt, { keys: [await parsePublicKey(key.publicKeyPem)], composition: REQUEST as never, output: new TextEncoder().encode(RESPONSE_TEXT) });
  assert.equal(report.ok, true);
  const statement = JSON.parse(Buffer.from(JSON.parse(receipt).payload, 'base64').toString('utf8'));
  assert.equal(statement.predicate.runDetails.builder.id, 'https://runprint.dev/capture/sdk');
  await serve.stop();
});
