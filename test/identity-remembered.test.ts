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
import { elementDigest, listRoot } from '../src/identity/digest.ts';
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

/** The RFC 6962 root written out from its definition (MTH splits at the largest power of two below n), with node:crypto. */
function referenceRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return Buffer.from(leaves[0]!);
  let split = 1;
  while (split * 2 < leaves.length) split *= 2;
  return createHash('sha256').update(Buffer.from([1])).update(referenceRoot(leaves.slice(0, split))).update(referenceRoot(leaves.slice(split))).digest();
}

test('remembered list roots are the roots: lists seen again, lists that grow, lists that share a prefix, any remembered prefix, every size to 70, and each caller gets its own copy', () => {
  const leaf = (n: number, salt = 0) => createHash('sha256').update(`leaf ${n} ${salt}`).digest();
  for (let round = 0; round < 2; round++) {
    for (let size = 0; size <= 70; size++) {
      const leaves = Array.from({ length: size }, (_, n) => new Uint8Array(leaf(n)));
      const want = hex(referenceRoot(leaves));
      assert.equal(hex(listRoot(leaves, leaves.length)), want, `size ${size}, round ${round + 1}`);
      for (const known of [size >> 1, size - 1, size + 5]) assert.equal(hex(listRoot(leaves, known)), want, `size ${size}, ${known} known`);
      assert.equal(hex(listRoot(leaves)), want);
    }
  }
  // A list that shares its first 32 leaves with a remembered one and differs after them.
  const shared = Array.from({ length: 40 }, (_, n) => new Uint8Array(leaf(n, n < 32 ? 0 : 7)));
  assert.equal(hex(listRoot(shared, shared.length)), hex(referenceRoot(shared)));
  // A caller that changes what it got does not change what the next caller gets.
  const twelve = Array.from({ length: 12 }, (_, n) => new Uint8Array(leaf(n)));
  listRoot(twelve, 12).fill(0);
  assert.equal(hex(listRoot(twelve, 12)), hex(referenceRoot(twelve)));
  // Digests whose bytes differ only where a text decoding might merge them (0x80-0x9f, 0x81/0x8d/0x8f/0x90/0x9d).
  const odd = (byte: number) => Array.from({ length: 9 }, (_, n) => new Uint8Array(32).fill(n === 4 ? byte : n));
  for (const byte of [0x80, 0x81, 0x8d, 0x8f, 0x90, 0x9d, 0x9f, 0xff, 0x00]) assert.equal(hex(listRoot(odd(byte), 9)), hex(referenceRoot(odd(byte))), byte.toString(16));
});
