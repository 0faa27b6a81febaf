/** testdata/receipt/*.json: PAE, base64, keys and receipts, checked against src/receipt (SPEC 13-15). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { RunprintError } from '../src/errors.ts';
import { decodePayload, readEnvelope } from '../src/receipt/envelope.ts';
import { formatEnvelope, keyFilesOf, pae, parsePrivateKey, parsePublicKey, signReceipt, verifyReceipt } from '../src/receipt/index.ts';
import { APPLICATION_KEY, fixtureFacts } from './fixtures/receipt-run.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Vector = Record<string, any>;
const load = (name: string): { vectors: Vector[] } & Vector =>
  JSON.parse(readFileSync(new URL(`../testdata/receipt/${name}`, import.meta.url), 'utf8'));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof RunprintError, String(error));
    return error.code;
  }
  assert.fail('expected an error');
}

test('pae.json: every PAE byte for byte', () => {
  const { vectors } = load('pae.json');
  assert.equal(vectors.length, 6);
  for (const vector of vectors) {
    const out = pae(vector['payloadType'], Buffer.from(vector['bodyHex'], 'hex'));
    assert.equal(hex(out), vector['wantPaeHex'], vector['desc']);
    if (vector['wantPaeText'] !== undefined) assert.equal(Buffer.from(out).toString(), vector['wantPaeText']);
  }
});

test('base64.json: accepted spellings decode, the rest fail with ERR_ENVELOPE_BASE64', async () => {
  for (const vector of load('base64.json').vectors) {
    const envelope = readEnvelope({ payload: vector['input'], payloadType: 'x', signatures: [{ sig: '' }] });
    if (vector['wantErr'] === undefined) assert.equal(hex(decodePayload(envelope)), vector['wantHex'], vector['desc']);
    else assert.equal(await codeOf(() => decodePayload(envelope)), vector['wantErr'], vector['desc']);
  }
});

test('keys.json: key id, PEM, JWK and verifier key of fixed keys; refused keys with their codes', async () => {
  for (const vector of load('keys.json').vectors) {
    if (vector['wantErr'] !== undefined) {
      assert.equal(await codeOf(() => parsePublicKey(vector['publicKeyText'])), vector['wantErr'], vector['desc']);
      continue;
    }
    if (vector['publicKeyText'] !== undefined) {
      assert.equal((await parsePublicKey(vector['publicKeyText'])).keyId, vector['wantKeyId'], vector['desc']);
      continue;
    }
    const key = await parsePrivateKey(vector['privateKeyPem']);
    assert.equal(key.keyId, vector['wantKeyId']);
    assert.equal(hex(key.publicKey.raw), vector['wantPublicKeyHex']);
    const pkcs8 = Buffer.from(vector['privateKeyPem'].replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const files = keyFilesOf(pkcs8, key.publicKey.raw, vector['name']);
    assert.equal(files.publicKeyPem, vector['wantPublicKeyPem']);
    assert.equal(files.publicKeyJwk.x, vector['wantJwkX']);
    assert.equal(files.verifierKey, vector['wantVerifierKey']);
    // Every public form reads back to the same key id.
    for (const text of [files.publicKeyPem, JSON.stringify(files.publicKeyJwk), files.verifierKey]) {
      assert.equal((await parsePublicKey(text)).keyId, vector['wantKeyId']);
    }
  }
});

test('receipts.json: each receipt verifies, or fails first at the named check with its code and message', async () => {
  const { vectors } = load('receipts.json');
  assert.ok(vectors.length >= 40);
  for (const vector of vectors) {
    const keys = await Promise.all((vector['publicKeys'] as string[]).map((pem) => parsePublicKey(pem)));
    const envelope = vector['envelope']['text'] ?? vector['envelope'];
    const options: Parameters<typeof verifyReceipt>[1] = { keys };
    if (vector['composition'] !== undefined) options.composition = vector['composition'];
    if (vector['from'] !== undefined) options.from = vector['from'];
    if (vector['outputText'] !== undefined) options.output = new TextEncoder().encode(vector['outputText']);
    const report = await verifyReceipt(envelope, options);
    if (vector['wantOk'] === true) {
      assert.ok(report.ok, `${vector['desc']}: ${JSON.stringify(report.checks.at(-1))}`);
      assert.ok(report.checks.every((check) => check.ok));
    } else {
      const failed = report.checks.filter((check) => !check.ok);
      assert.equal(report.ok, false, vector['desc']);
      assert.equal(failed[0]?.name, vector['wantCheck'], vector['desc']);
      assert.equal(failed[0]?.code, vector['wantErr'], vector['desc']);
      // The message tells apart steps that share a check name and code (SPEC 15 step 10 has five).
      assert.equal(failed[0]?.message, vector['wantMessage'], vector['desc']);
      assert.equal(failed[0]?.path, vector['wantPath'], vector['desc']);
      assert.equal(report.checks.at(-1), failed.at(-1), `${vector['desc']}: verification goes on after a failure`);
    }
  }
});

test('WebCrypto signing reproduces the node:crypto receipt byte for byte (Ed25519 is deterministic)', async () => {
  const first = load('receipts.json').vectors[0]!;
  const key = await parsePrivateKey(APPLICATION_KEY.privateKeyPem);
  const envelope = await signReceipt(fixtureFacts(), key);
  assert.deepEqual(envelope, first['envelope']);
  assert.equal(formatEnvelope(envelope), `${JSON.stringify(first['envelope'], null, 2)}\n`);
});
