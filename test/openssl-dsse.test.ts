/** Independent check: receipts verify with `openssl pkeyutl -verify -rawin` over the DSSE PAE, as docs/RECEIPTS.md section 15.1 shows. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { addSignature, formatEnvelope, generateKeyFiles, pae, parsePrivateKey, signReceipt } from '../src/receipt/index.ts';
import { fixtureFacts } from './fixtures/receipt-run.ts';

const OPENSSL = '/usr/bin/openssl';
const folder = mkdtempSync(join(tmpdir(), 'runprint-openssl-'));
const path = (name: string) => join(folder, name);

function opensslVerifies(publicKeyPath: string, message: Uint8Array, signature: Uint8Array): boolean {
  writeFileSync(path('pae.bin'), message);
  writeFileSync(path('sig.bin'), signature);
  try {
    const out = execFileSync(OPENSSL, ['pkeyutl', '-verify', '-pubin', '-inkey', publicKeyPath, '-rawin', '-in', path('pae.bin'), '-sigfile', path('sig.bin')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.includes('Signature Verified Successfully');
  } catch {
    return false;
  }
}

test('openssl verifies both signatures of a receipt over the PAE, and rejects a flipped payload bit', async () => {
  const application = await generateKeyFiles('app');
  const gateway = await generateKeyFiles('gateway');
  writeFileSync(path('app.pub.pem'), application.publicKeyPem);
  writeFileSync(path('gateway.pub.pem'), gateway.publicKeyPem);
  const once = await signReceipt(fixtureFacts(), await parsePrivateKey(application.privateKeyPem));
  const envelope = await addSignature(formatEnvelope(once), await parsePrivateKey(gateway.privateKeyPem));
  const payload = Buffer.from(envelope.payload, 'base64');
  const message = pae(envelope.payloadType, payload);
  const [first, second] = envelope.signatures.map((s) => Buffer.from(s.sig, 'base64'));
  assert.equal(opensslVerifies(path('app.pub.pem'), message, first!), true);
  assert.equal(opensslVerifies(path('gateway.pub.pem'), message, second!), true);
  assert.equal(opensslVerifies(path('gateway.pub.pem'), message, first!), false);
  const flipped = Buffer.from(payload);
  flipped[100] = flipped[100]! ^ 0x01;
  assert.equal(opensslVerifies(path('app.pub.pem'), pae(envelope.payloadType, flipped), first!), false);
});

test('a key made by openssl genpkey signs receipts, and the key id is SHA-256 of the DER SPKI openssl prints', async () => {
  execFileSync(OPENSSL, ['genpkey', '-algorithm', 'ed25519', '-out', path('openssl.pem')]);
  execFileSync(OPENSSL, ['pkey', '-in', path('openssl.pem'), '-pubout', '-out', path('openssl.pub.pem')]);
  const spki = execFileSync(OPENSSL, ['pkey', '-in', path('openssl.pem'), '-pubout', '-outform', 'DER']);
  const key = await parsePrivateKey(readFileSync(path('openssl.pem'), 'utf8'));
  assert.equal(key.keyId, createHash('sha256').update(spki).digest('hex'));
  const envelope = await signReceipt(fixtureFacts(), key);
  const message = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  assert.equal(opensslVerifies(path('openssl.pub.pem'), message, Buffer.from(envelope.signatures[0]!.sig, 'base64')), true);
});

test('the shell recipe of docs/RECEIPTS.md section 15.1 (jq, base64 -d, printf, openssl) verifies a receipt', async () => {
  const files = await generateKeyFiles('recipe');
  writeFileSync(path('receipt-key.pub.pem'), files.publicKeyPem);
  const envelope = await signReceipt(fixtureFacts(), await parsePrivateKey(files.privateKeyPem));
  writeFileSync(path('receipt.json'), formatEnvelope(envelope));
  const recipe = [
    'set -e',
    'payload_type=$(jq -r .payloadType receipt.json)',
    'jq -r .payload receipt.json | base64 -d > payload.bin',
    "jq -r '.signatures[0].sig' receipt.json | base64 -d > sig.bin",
    `{ printf 'DSSEv1 %d %s %d ' "\${#payload_type}" "$payload_type" "$(wc -c < payload.bin | tr -d ' ')"; cat payload.bin; } > pae.bin`,
    'openssl pkeyutl -verify -pubin -inkey receipt-key.pub.pem -rawin -in pae.bin -sigfile sig.bin',
  ].join('\n');
  const out = execFileSync('bash', ['-c', recipe], { cwd: folder, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });
  assert.match(out, /Signature Verified Successfully/);
  // Without jq: the envelope as runprint writes it has one member per line.
  const plain = [
    'set -e',
    `field() { grep -m1 "\\"$1\\":" receipt.json | sed 's/.*": *"\\(.*\\)",*$/\\1/'; }`,
    'payload_type=$(field payloadType)',
    'field payload | base64 -d > payload.bin',
    'field sig | base64 -d > sig.bin',
    `{ printf 'DSSEv1 %d %s %d ' "\${#payload_type}" "$payload_type" "$(wc -c < payload.bin | tr -d ' ')"; cat payload.bin; } > pae.bin`,
    'openssl pkeyutl -verify -pubin -inkey receipt-key.pub.pem -rawin -in pae.bin -sigfile sig.bin',
  ].join('\n');
  assert.match(execFileSync('bash', ['-c', plain], { cwd: folder, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }), /Signature Verified Successfully/);
});
