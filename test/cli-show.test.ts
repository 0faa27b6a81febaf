/** `runprint show`: a receipt's claims as a person reads them, and as JSON; nothing is verified, and it says so. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog } from '../src/store/log-service.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { folder, file, cli } = cliFolder('runprint-cli-show-');
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

const request = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Capital of France?' }], temperature: 0 };
const response = {
  id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Paris' }, finish_reason: 'stop' }],
};
const PARENT = `rp-run-v1-sha256-${'ab'.repeat(32)}`;

async function signed(): Promise<{ receipt: string; bundle: string; keyId: string; runId: string }> {
  const keys = JSON.parse((await cli(['keygen', '--out', 'keys', '--json'])).stdout);
  file('request.json', JSON.stringify(request));
  file('response.json', JSON.stringify(response));
  const result = await cli([
    'sign', '--key', 'keys/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--capture', 'sdk',
    '--started', '2026-03-01T10:00:00Z', '--finished', '2026-03-01T10:00:02Z', '--parent', PARENT, '--out', 'receipt.json', '--bundle', 'receipt.bundle.json',
  ]);
  assert.equal(result.code, 0, result.stderr);
  const runId = (await cli(['id', 'request.json', '--response', 'response.json'])).stdout.trim();
  return { receipt: join(folder, 'receipt.json'), bundle: join(folder, 'receipt.bundle.json'), keyId: keys.keyId, runId };
}
const ready = signed();

test('show prints the claims, says they are not verified and points to verify', async () => {
  const { keyId, runId } = await ready;
  const requestId = (await cli(['id', 'request.json'])).stdout.trim();
  const result = await cli(['show', 'receipt.json']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const lines = result.stdout.split('\n');
  assert.equal(lines[0], 'receipt (claims only, NOT verified; check them with "runprint verify RECEIPT --key PUB")');
  assert.deepEqual(lines.slice(1, 8), [
    '  form           DSSE envelope',
    `  run            ${runId}`,
    `  request        ${requestId}`,
    '  model asked    gpt-4o',
    '  served         model gpt-4o-2024-08-06 (reported), systemFingerprint fp_1 (reported)',
    '  captured       sdk by https://runprint.dev/capture/sdk, runprint ' + JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version,
    '  started        2026-03-01T10:00:00Z',
  ]);
  assert.match(result.stdout, /\n {2}output {9}sha256:[0-9a-f]{64} \(read as openai-chat, body, finish stop\)\n/);
  assert.ok(result.stdout.includes(`\n  parents        ${PARENT}\n`));
  assert.ok(result.stdout.includes(`\n  signatures     1, key ids as the envelope names them: ${keyId}\n`));
  assert.ok(result.stdout.includes('\n  log proof      (none given; --log-proof FILE shows one)\n'));
  assert.ok(!result.stdout.includes('Paris') && !result.stdout.includes('Capital of France'), 'no content');
});

test('show --json: the documented shape, the same for the envelope and its Sigstore bundle but for the form', async () => {
  const { keyId, runId } = await ready;
  const envelope = JSON.parse((await cli(['show', 'receipt.json', '--json'])).stdout);
  assert.deepEqual(Object.keys(envelope), [
    'verified', 'form', 'runId', 'requestId', 'requestedModel', 'served', 'capture', 'builder', 'startedOn', 'finishedOn', 'output', 'parentRunIds', 'retrieval', 'signatures', 'logProof',
  ]);
  assert.equal(envelope.verified, false);
  assert.equal(envelope.runId, runId);
  assert.deepEqual(envelope.served, { model: { source: 'reported', value: 'gpt-4o-2024-08-06' }, systemFingerprint: { source: 'reported', value: 'fp_1' } });
  assert.deepEqual([envelope.startedOn, envelope.finishedOn, envelope.capture], ['2026-03-01T10:00:00Z', '2026-03-01T10:00:02Z', 'sdk']);
  assert.deepEqual(envelope.parentRunIds, [PARENT]);
  assert.deepEqual(envelope.retrieval, [], 'a receipt that declares no retrieval: an empty list');
  assert.deepEqual(envelope.signatures, [{ keyId }]);
  assert.equal(envelope.output.format, 'openai-chat');
  assert.equal(envelope.logProof, null);
  const verified = JSON.parse((await cli(['verify', 'receipt.json', '--key', 'keys/receipt-key.pub.pem', '--json'])).stdout);
  assert.equal(verified.runId, envelope.runId, 'what show claims is what verify establishes for a good receipt');
  const bundle = JSON.parse((await cli(['show', 'receipt.bundle.json', '--json'])).stdout);
  assert.equal(bundle.form, 'bundle');
  assert.equal(typeof bundle.bundleKeyHint, 'string');
  const { form: _a, bundleKeyHint: _b, ...restBundle } = bundle;
  const { form: _c, ...restEnvelope } = envelope;
  assert.deepEqual(restBundle, restEnvelope);
  assert.match((await cli(['show', 'receipt.bundle.json'])).stdout, /\n {2}form {11}Sigstore bundle, key hint \S+\n/);
});

test('show does not verify: a receipt whose signature was altered is shown the same, and verify refuses it', async () => {
  await ready;
  const receipt = JSON.parse(readFileSync(join(folder, 'receipt.json'), 'utf8'));
  const sig = receipt.signatures[0].sig as string;
  receipt.signatures[0].sig = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
  file('altered.json', JSON.stringify(receipt));
  const shown = await cli(['show', 'altered.json']);
  assert.equal(shown.code, 0);
  assert.equal(shown.stdout, (await cli(['show', 'receipt.json'])).stdout);
  assert.equal((await cli(['verify', 'altered.json', '--key', 'keys/receipt-key.pub.pem'])).code, 1);
});

test('show --log-proof: where the proof says the log holds the receipt, marked not checked', async () => {
  await ready;
  const origin = 'example.test/show-log';
  const key = await parsePrivateKey((await generateKeyFiles(origin)).privateKeyPem);
  const log = await openSqliteLog({ path: join(folder, 'log.sqlite'), origin, key, checkpointDelayMs: 20 });
  const server = await listen(createApp({ log: { log, token: 'token-0123456789abcdef' } }), { host: '127.0.0.1', port: 0 });
  closers.push(async () => {
    await server.close();
    await log.close();
  });
  file('log.vkey', `${log.verifierKey}\n`);
  const submitted = await cli(['log', 'submit', 'receipt.json', '--log', `http://127.0.0.1:${server.port}/`, '--token', 'token-0123456789abcdef', '--proof-out', 'receipt.tlog', '--key', 'log.vkey']);
  assert.equal(submitted.code, 0, submitted.stderr);
  const json = JSON.parse((await cli(['show', 'receipt.json', '--log-proof', 'receipt.tlog', '--json'])).stdout);
  assert.deepEqual(json.logProof, { origin, index: 0, size: 1, signedBy: [origin] });
  const text = await cli(['show', 'receipt.json', '--log-proof', 'receipt.tlog']);
  assert.ok(text.stdout.includes(`\n  log proof      index 0 of 1 in ${origin}, signed by ${origin} (not checked: verify --log-proof)\n`), text.stdout);
});

test('show escapes what the payload says, and refuses what is not a receipt with its code', async () => {
  await ready;
  file('composition.json', JSON.stringify({
    version: 'runprint/v1', model: { api: 'openai-chat', name: 'gpt\u001b[2J-4o' }, system: [], input: [], context: [], tools: [], parameters: {}, configuration: {},
    served: { model: { source: 'reported', value: 'x\u009b31m\u202e' } },
  }));
  file('empty.json', '{}');
  const signedWeird = await cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'composition.json', '--output', 'empty.json', '--out', 'weird.json']);
  assert.equal(signedWeird.code, 0, signedWeird.stderr);
  const shown = await cli(['show', 'weird.json']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/.test(shown.stdout), JSON.stringify(shown.stdout));
  assert.ok(shown.stdout.includes('  model asked    gpt\\u001b[2J-4o\n'));
  assert.ok(shown.stdout.includes('  served         model x\\u009b31m\\u202e (reported)\n'));
  writeFileSync(join(folder, 'not-a-receipt.json'), '{"payload": 1}');
  const refused = await cli(['show', 'not-a-receipt.json']);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /^runprint: ERR_ENVELOPE_INVALID: /);
  assert.deepEqual(await cli(['show']), { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: give exactly one RECEIPT or BUNDLE file (or - for standard input); run "runprint show --help"\n' });
});
