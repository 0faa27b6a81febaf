/** `runprint keygen`, `sign` and `verify`: files, outputs, exit codes and one-line errors. */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBundle } from '../src/receipt/sigstore-bundle.ts';
import { parsePublicKey } from '../src/keys/keys.ts';
import { verifyReceipt } from '../src/receipt/verify.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { folder, file, cli } = cliFolder('runprint-receipt-cli-');

file('request.json', JSON.stringify(REQUEST));
file('response.json', RESPONSE_TEXT);

test('keygen writes four files, the private key owner-only, and never overwrites', async () => {
  const result = await cli(['keygen', '--out', 'app', '--name', 'example.com/app']);
  assert.equal(result.code, 0, result.stderr);
  const keyId = /^key id ([0-9a-f]{64})$/m.exec(result.stdout)?.[1];
  assert.ok(keyId);
  assert.equal(statSync(join(folder, 'app/receipt-key.pem')).mode & 0o777, 0o600);
  for (const name of ['receipt-key.pub.pem', 'receipt-key.pub.jwk', 'receipt-key.vkey']) {
    assert.equal((await parsePublicKey(readFileSync(join(folder, 'app', name), 'utf8'))).keyId, keyId, name);
  }
  assert.match(readFileSync(join(folder, 'app/receipt-key.vkey'), 'utf8'), /^example\.com\/app\+[0-9a-f]{8}\+A[Q-Za-f][A-Za-z0-9+/]{42}\n$/);
  const before = readFileSync(join(folder, 'app/receipt-key.pem'), 'utf8');
  assert.deepEqual(await cli(['keygen', '--out', 'app']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_EXISTS: key file already exists, refusing to overwrite it: app/receipt-key.pem\n',
  });
  assert.equal(readFileSync(join(folder, 'app/receipt-key.pem'), 'utf8'), before);
});

test('sign prints a receipt that verify accepts with the composition and output; --bundle writes a Sigstore bundle', async () => {
  await cli(['keygen', '--out', 'k1']);
  const signed = await cli(['sign', '--key', 'k1/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json',
    '--started', '2026-01-01T00:00:00Z', '--finished', '2026-01-01T00:00:01Z', '--bundle', 'bundle.json']);
  assert.equal(signed.code, 0, signed.stderr);
  file('receipt.json', signed.stdout);
  const verified = await cli(['verify', 'receipt.json', '--key', 'k1/receipt-key.pub.pem', '--composition', 'request.json', '--output', 'response.json']);
  assert.equal(verified.code, 0, verified.stdout);
  assert.equal(verified.stdout.split('\n').filter((line) => line.startsWith('✓ ')).length, 12);
  assert.match(verified.stdout, /receipt verified: rp-run-v1-sha256-[0-9a-f]{64}\n$/);
  const bundle = parseBundle(JSON.parse(readFileSync(join(folder, 'bundle.json'), 'utf8')));
  assert.deepEqual(bundle.envelope, JSON.parse(signed.stdout));
  assert.equal((await cli(['verify', 'bundle.json', '--key', 'k1/receipt-key.vkey'])).code, 0);
});

test('verify exits 1 on a failed check, printing it with its code; --json gives the report', async () => {
  await cli(['keygen', '--out', 'k2']);
  await cli(['keygen', '--out', 'k3']);
  await cli(['sign', '--key', 'k2/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--out', 'r2.json']);
  const wrong = await cli(['verify', 'r2.json', '--key', 'k3/receipt-key.pub.pem']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stdout, /✗ Ed25519 signature over the DSSE PAE \(key [0-9a-f]{16}\): ERR_SIGNATURE_UNKNOWN_KEY: the receipt has no signature by this key\n/);
  assert.match(wrong.stdout, /receipt NOT verified\n$/);
  file('other-response.json', RESPONSE_TEXT.replace('Paris', 'Nice'));
  const json = await cli(['verify', 'r2.json', '--key', 'k2/receipt-key.pub.jwk', '--output', 'other-response.json', '--json']);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, false);
  assert.deepEqual(report.checks.at(-1), { name: 'output', ok: false, code: 'ERR_OUTPUT_MISMATCH', message: 'output digest of the given bytes does not match the receipt' });
});

test('sign --add-to adds a gateway signature; verify then needs both keys', async () => {
  await cli(['keygen', '--out', 'app2']);
  await cli(['keygen', '--out', 'gw']);
  await cli(['sign', '--key', 'app2/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--out', 'r3.json']);
  const added = await cli(['sign', '--add-to', 'r3.json', '--key', 'gw/receipt-key.pem']);
  assert.equal(added.code, 0, added.stderr);
  const envelope = JSON.parse(added.stdout);
  assert.equal(envelope.signatures.length, 2);
  assert.equal(envelope.payload, JSON.parse(readFileSync(join(folder, 'r3.json'), 'utf8')).payload);
  file('r3-both.json', added.stdout);
  assert.equal((await cli(['verify', 'r3-both.json', '--key', 'app2/receipt-key.pub.pem', '--key', 'gw/receipt-key.vkey'])).code, 0);
  assert.equal((await cli(['verify', 'r3.json', '--key', 'app2/receipt-key.pub.pem', '--key', 'gw/receipt-key.vkey'])).code, 1);
  assert.equal(added.stderr, '');
  // A key that signed it already adds nothing, and says so.
  const gwKeyId = JSON.parse(readFileSync(join(folder, 'gw/receipt-key.pub.jwk'), 'utf8')).kid;
  assert.deepEqual(await cli(['sign', '--add-to', 'r3-both.json', '--key', 'gw/receipt-key.pem']), {
    code: 0, stdout: added.stdout, stderr: `runprint: --add-to r3-both.json: key ${gwKeyId} already signed this receipt; nothing added\n`,
  });
  assert.deepEqual(await cli(['sign', '--add-to', 'r3.json', '--key', 'gw/receipt-key.pem', '--output', 'response.json']), {
    code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: --output cannot be used with --add-to: the payload is already signed\n',
  });
});

test('a JSON file that is no receipt at all, or a bundle where only an envelope is taken, is said so plainly and named', async () => {
  await cli(['keygen', '--out', 'k5']);
  await cli(['sign', '--key', 'k5/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--out', 'r5.json', '--bundle', 'r5.bundle.json']);
  const none = 'not a DSSE envelope (a runprint receipt) or a Sigstore bundle: it has none of "payload", "payloadType", "signatures"';
  const verify = await cli(['verify', 'request.json', '--key', 'k5/receipt-key.pub.pem']);
  assert.equal(verify.code, 1);
  assert.ok(verify.stdout.includes(`ERR_ENVELOPE_INVALID: ${none}\n`), verify.stdout);
  assert.deepEqual(await cli(['show', 'request.json']), { code: 3, stdout: '', stderr: `runprint: ERR_ENVELOPE_INVALID: request.json: ${none}\n` });
  assert.deepEqual(await cli(['sign', '--add-to', 'request.json', '--key', 'k5/receipt-key.pem']), {
    code: 3, stdout: '', stderr: `runprint: ERR_ENVELOPE_INVALID: --add-to request.json: ${none}\n`,
  });
  assert.deepEqual(await cli(['sign', '--add-to', 'r5.bundle.json', '--key', 'k5/receipt-key.pem']), {
    code: 3, stdout: '', stderr: 'runprint: ERR_ENVELOPE_INVALID: --add-to r5.bundle.json: this is a Sigstore bundle, where only a DSSE envelope (a runprint receipt) is taken\n',
  });
  // An envelope missing one member still names that member.
  file('no-payload.json', JSON.stringify({ ...JSON.parse(readFileSync(join(folder, 'r5.json'), 'utf8')), payload: undefined }));
  assert.deepEqual(await cli(['show', 'no-payload.json']), { code: 3, stdout: '', stderr: 'runprint: ERR_ENVELOPE_INVALID: no-payload.json: envelope "payload" must be a string\n' });
});

test('a composition without served facts and a response without format still gets a run identity (served: {})', async () => {
  await cli(['keygen', '--out', 'k4']);
  const composition = { version: 'runprint/v1', model: { name: 'local' }, system: [], input: ['hi'], context: [], tools: [], parameters: {}, configuration: {} };
  file('composition.json', JSON.stringify(composition));
  file('plain-output.json', '{"text": "hello"}');
  const signed = await cli(['sign', '--key', 'k4/receipt-key.pem', '--composition', 'composition.json', '--output', 'plain-output.json', '--capture', 'sdk']);
  assert.equal(signed.code, 0, signed.stderr);
  const statement = JSON.parse(Buffer.from(JSON.parse(signed.stdout).payload, 'base64').toString());
  assert.deepEqual(statement.predicate.runDetails.served, {});
  assert.equal(statement.predicate.runDetails.builder.id, 'https://runprint.dev/capture/sdk');
  assert.equal(statement.predicate.runDetails.output.format, null);
  const key = await parsePublicKey(readFileSync(join(folder, 'k4/receipt-key.pub.pem'), 'utf8'));
  const report = await verifyReceipt(signed.stdout, { keys: [key], composition, output: new TextEncoder().encode('{ "text":"hello" }') });
  assert.equal(report.ok, true);
});

test('errors: missing key file 4, bad key 3, bad options 2, each one line', async () => {
  assert.deepEqual(await cli(['verify', 'receipt.json', '--key', 'nope.pem']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: nope.pem\n',
  });
  file('bad.pem', 'not a key');
  assert.deepEqual(await cli(['verify', 'receipt.json', '--key', 'bad.pem']), {
    code: 3, stdout: '', stderr: 'runprint: ERR_KEY_INVALID: public key is not a PEM SubjectPublicKeyInfo, a JWK or a signed-note verifier key\n',
  });
  assert.equal((await cli(['verify', 'receipt.json'])).stderr, 'runprint: ERR_CLI_USAGE: --key is required\n');
  assert.equal((await cli(['sign', '--key', 'k1/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--capture', 'cron'])).stderr,
    'runprint: ERR_CLI_USAGE: --capture must be cli, sdk or proxy\n');
  assert.equal((await cli(['sign', '--key', 'k1/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--started', 'noon'])).code, 2);
  assert.equal((await cli(['sign', '--key', 'k1/receipt-key.pub.pem', '--composition', 'request.json', '--output', 'response.json'])).stderr,
    'runprint: ERR_KEY_UNSUPPORTED: private key PEM label must be PRIVATE KEY (PKCS #8)\n');
});

test('a Sigstore bundle that does not read, or whose hint names another key, fails a check: exit 1 with the check list', async () => {
  await cli(['keygen', '--out', 'k5']);
  await cli(['keygen', '--out', 'k6']);
  const signed = await cli(['sign', '--key', 'k5/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--bundle', 'b5.json']);
  assert.equal(signed.code, 0, signed.stderr);
  const bundle = JSON.parse(readFileSync(join(folder, 'b5.json'), 'utf8'));
  file('b5-v02.json', JSON.stringify({ ...bundle, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' }));
  const old = await cli(['verify', 'b5-v02.json', '--key', 'k5/receipt-key.pub.pem']);
  assert.deepEqual(old, {
    code: 1,
    stdout: '✗ envelope shape (DSSE v1.0): ERR_BUNDLE_INVALID: mediaType must be application/vnd.dev.sigstore.bundle.v0.3+json (at $[\'mediaType\'])\nreceipt NOT verified\n',
    stderr: '',
  });
  const json = JSON.parse((await cli(['verify', 'b5-v02.json', '--key', 'k5/receipt-key.pub.pem', '--json'])).stdout);
  assert.deepEqual(json.checks, [{ name: 'envelope', ok: false, code: 'ERR_BUNDLE_INVALID', message: 'mediaType must be application/vnd.dev.sigstore.bundle.v0.3+json', path: "$['mediaType']" }]);
  const otherKeyId = (await parsePublicKey(readFileSync(join(folder, 'k6/receipt-key.pub.pem'), 'utf8'))).keyId;
  for (const hint of [otherKeyId, 'https://keys.example/k5.pem']) {
    const hinted = structuredClone(bundle);
    hinted.verificationMaterial.publicKey.hint = hint;
    hinted.dsseEnvelope.signatures[0].keyid = hint;
    file('b5-hint.json', JSON.stringify(hinted));
    const result = await cli(['verify', 'b5-hint.json', '--key', 'k5/receipt-key.pub.pem']);
    assert.equal(result.code, 1, hint);
    assert.match(result.stdout, /✗ Ed25519 signature over the DSSE PAE \(key [0-9a-f]{16}\): ERR_SIGNATURE_UNKNOWN_KEY: the bundle's key hint does not name this key\nreceipt NOT verified\n$/);
  }
});
