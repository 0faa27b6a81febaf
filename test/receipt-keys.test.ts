/** Receipt keys (SPEC 14.1): private keys read once, refused keys with stable codes, keygen output forms. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { generateKeyFiles, parsePrivateKey, parsePublicKey } from '../src/keys/keys.ts';
import { formatVerifierKey, parseVerifierKey } from '../src/keys/verifier-key.ts';

const openssl = (...args: string[]) => execFileSync('/usr/bin/openssl', args, { encoding: 'utf8' });

test('generated keys: the private key signs for the public key in all three forms, with one key id', async () => {
  const files = await generateKeyFiles('example.com/log');
  const key = await parsePrivateKey(files.privateKeyPem);
  assert.equal(key.keyId, files.keyId);
  assert.equal(key.cryptoKey.extractable, false);
  const message = new TextEncoder().encode('m');
  const signature = new Uint8Array(await crypto.subtle.sign('Ed25519', key.cryptoKey, message));
  for (const text of [files.publicKeyPem, JSON.stringify(files.publicKeyJwk), files.verifierKey]) {
    const publicKey = await parsePublicKey(text);
    assert.equal(publicKey.keyId, files.keyId);
    assert.equal(await crypto.subtle.verify('Ed25519', publicKey.cryptoKey, signature, message), true);
  }
  assert.deepEqual(parseVerifierKey(files.verifierKey), { name: 'example.com/log', raw: key.publicKey.raw });
});

test('private keys refused: EC, encrypted, public in place of private, broken PEM', async () => {
  const ec = openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
  await assert.rejects(parsePrivateKey(ec), { code: 'ERR_KEY_UNSUPPORTED', message: 'private key is not an Ed25519 key; runprint receipts are signed with Ed25519' });
  const encrypted = openssl('genpkey', '-algorithm', 'ed25519', '-aes-128-cbc', '-pass', 'pass:x');
  await assert.rejects(parsePrivateKey(encrypted), { code: 'ERR_KEY_UNSUPPORTED', message: 'encrypted private keys are not supported' });
  const files = await generateKeyFiles('n');
  await assert.rejects(parsePrivateKey(files.publicKeyPem), { code: 'ERR_KEY_UNSUPPORTED', message: 'private key PEM label must be PRIVATE KEY (PKCS #8)' });
  await assert.rejects(parsePrivateKey(files.privateKeyPem.replace('MC4', 'MC5')), { code: 'ERR_KEY_INVALID' });
  await assert.rejects(parsePrivateKey('-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n'), {
    code: 'ERR_KEY_INVALID', message: 'private key file is not one well-formed PEM block',
  });
  await assert.rejects(parsePublicKey(files.privateKeyPem), { code: 'ERR_KEY_INVALID', message: 'a private key was given where a public key is expected' });
});

test('verifier key names follow signed-note: no spaces, no plus, not empty', () => {
  const raw = new Uint8Array(32);
  for (const name of ['', 'a b', 'a+b', 'tab\tname']) {
    assert.throws(() => formatVerifierKey(name, raw), { code: 'ERR_KEY_INVALID', message: 'key name must be non-empty and contain no spaces and no "+"' });
  }
  assert.match(formatVerifierKey('runprint.dev/ü', raw), /^runprint\.dev\/ü\+[0-9a-f]{8}\+AQAAAAAA/);
});
