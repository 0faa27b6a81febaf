/**
 * Element digests remembered by canonical text (src/identity/digest.ts): a remembered digest is
 * the digest (every identity vector computed again after it was remembered gives the same
 * identity), each caller gets its own copy, and the bounds (element length, count) keep the
 * answers right when they are passed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { elementDigest } from '../src/identity/digest.ts';
import { computeIdentity } from '../src/identity/identity.ts';

const direct = (canonical: string) => createHash('sha256').update('\u0000runprint/v1/element\u0000' + canonical, 'utf8').digest('hex');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

test('the identity vectors, computed twice in a row (the second time from remembered digests), give the expected identities', () => {
  const { vectors } = JSON.parse(readFileSync(new URL('../testdata/identity/compositions.json', import.meta.url), 'utf8')) as { vectors: Array<{ desc: string; composition: unknown; wantIdentity: unknown }> };
  assert.ok(vectors.length > 10);
  for (let round = 0; round < 2; round++) {
    for (const vector of vectors) assert.deepEqual(computeIdentity(vector.composition), vector.wantIdentity, `${vector.desc} (round ${round + 1})`);
  }
});

test('each caller gets its own copy: changing one does not change what the next caller gets', () => {
  const canonical = '{"content":"remembered, then changed by a caller","role":"user"}';
  const first = elementDigest(canonical);
  assert.equal(hex(first), direct(canonical));
  first.fill(0);
  const second = elementDigest(canonical);
  assert.equal(hex(second), direct(canonical));
  second[0] = second[0]! ^ 0xff;
  assert.equal(hex(elementDigest(canonical)), direct(canonical));
});

test('past the bounds: an element longer than is remembered, and more elements than are, still digest right', () => {
  const long = JSON.stringify('x'.repeat(70_000));
  for (let i = 0; i < 2; i++) assert.equal(hex(elementDigest(long)), direct(long));
  const many = Array.from({ length: 5_000 }, (_, i) => `{"n":${i}}`);
  for (let round = 0; round < 2; round++) {
    for (const canonical of many) assert.equal(hex(elementDigest(canonical)), direct(canonical), canonical);
  }
  const unicode = '"Zürich 🌦️ \\u0000"';
  for (let i = 0; i < 2; i++) assert.equal(hex(elementDigest(unicode)), direct(unicode));
});
