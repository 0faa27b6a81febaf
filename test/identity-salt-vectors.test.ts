/** Checks testdata/identity/salted-digests.json and the salted compositions, as another implementation would (SPEC 5.6 draft). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { elementSalt, saltedElementDigest, saltedValueComponentDigest } from '../src/identity/digest.ts';
import { computeIdentity } from '../src/identity/identity.ts';

type Vector = Record<string, any>;
const load = (name: string): Vector[] =>
  JSON.parse(readFileSync(new URL(`../testdata/identity/${name}`, import.meta.url), 'utf8')).vectors;
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');
const sha = (...parts: Array<Uint8Array | string>) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

test('salted digests byte by byte (SPEC 5.6), by the implementation and by node:crypto', () => {
  const vectors = load('salted-digests.json');
  assert.equal(vectors.length, 9);
  for (const v of vectors) {
    if ('wantElementSalt' in v) {
      assert.equal(hex(elementSalt(bytes(v.salt), v.index)), v.wantElementSalt, v.desc);
      const index = Buffer.alloc(8);
      index.writeBigUInt64BE(BigInt(v.index));
      assert.equal(sha('runprint/v1/salt\u0000', bytes(v.salt), index), v.wantElementSalt);
    } else if ('wantSaltedElementDigest' in v) {
      assert.equal(hex(saltedElementDigest(bytes(v.elementSalt), v.canonical)), v.wantSaltedElementDigest, v.desc);
      assert.equal(sha(new Uint8Array([0]), 'runprint/v1/salted-element\u0000', bytes(v.elementSalt), v.canonical), v.wantSaltedElementDigest);
    } else {
      assert.equal(hex(saltedValueComponentDigest(v.component, bytes(v.salt), v.canonical)), v.wantComponentDigest, v.desc);
      assert.equal(sha(`runprint/v1/salted-component/${v.component}\u0000`, bytes(v.salt), v.canonical), v.wantComponentDigest);
    }
  }
});

test('salted compositions: the identity document marks salted components, never holds a salt, and the salt decides', () => {
  const vectors = load('compositions.json');
  const byDesc = new Map(vectors.map((v) => [v.desc, v]));
  const salted = vectors.filter((v) => v.composition.salts !== undefined);
  assert.equal(salted.length, 6);
  for (const v of salted) {
    const text = JSON.stringify(v.wantIdentity);
    for (const salt of Object.values(v.composition.salts) as string[]) assert.equal(text.includes(salt), false, v.desc);
    for (const [name, entry] of Object.entries(v.wantIdentity.components) as Array<[string, any]>) {
      assert.equal(entry.salted === true, name in v.composition.salts, `${v.desc}: ${name}`);
    }
    assert.deepEqual(computeIdentity(v.composition), v.wantIdentity);
  }
  const base = byDesc.get('a complete local run with derived and reported served facts')!.wantIdentity;
  const a = byDesc.get('BASE with the system instructions salted with salt A')!.wantIdentity;
  const b = byDesc.get('BASE with the system instructions salted with salt B: same content, another salt, another identity')!.wantIdentity;
  assert.notEqual(a.requestId, b.requestId);
  assert.notEqual(a.requestId, base.requestId);
  assert.deepEqual(a.components.input, base.components.input);
  assert.deepEqual(byDesc.get('BASE with an empty "salts" object: nothing salted, the identity of BASE')!.wantIdentity, base);
});
