/** RFC 9162 section 2.1.3: inclusion proofs, checked against a naive recursive reference and testdata/disclosure/rfc9162-inclusion-proofs.json. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { proveInclusion, verifyInclusion } from '../src/merkle/inclusion.ts';
import { checkInclusionSweep } from './helpers/inclusion-sweep.ts';
import { referenceRoot, sha } from './helpers/reference-tree.ts';

/** Which side each path hash is on (L: hashed to the left of the running hash), by the same recursion. */
function referenceSides(m: number, n: number): string {
  if (n === 1) return '';
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m < k ? `${referenceSides(m, k)}R` : `${referenceSides(m - k, n - k)}L`;
}

const leafOf = (i: number) => sha(new Uint8Array([0]), new Uint8Array([i & 0xff, i >> 8, 0x2a]));
const leaves = (size: number) => Array.from({ length: size }, (_, i) => leafOf(i));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

/**
 * Every index of every size up to 70 (every proof shape of trees up to 7 levels) and of sizes
 * around the next powers of two; `npm run test:slow` sweeps every size up to 256
 * (test/slow/rfc9162-inclusion-sweep.slow.ts).
 */
const SIZES = [...Array.from({ length: 70 }, (_, i) => i + 1), 127, 128, 129, 191, 255, 256];

test('proveInclusion equals the recursive PATH and verifies, for every index of sizes 1 to 70, 127 to 129, 191, 255 and 256', () => {
  checkInclusionSweep(SIZES);
});

test('a proof does not verify for a wrong index, a wrong size, another leaf or another root', () => {
  const all = leaves(40);
  for (let size = 1; size <= 40; size++) {
    const tree = all.slice(0, size);
    const root = referenceRoot(tree);
    for (let index = 0; index < size; index++) {
      const proof = proveInclusion(tree, index);
      for (let other = 0; other < size + 2; other++) {
        if (other !== index) assert.equal(verifyInclusion(tree[index]!, other, size, proof, root), false, `index ${other} for ${index}/${size}`);
      }
      for (let otherSize = 1; otherSize <= size + 3; otherSize++) {
        // The root alone does not fix the size: a size whose path has the same length and sides
        // (size 3 and size 4 for index 0) computes the same hash. That is why a verifier must take
        // the size from something signed (a disclosure: the list's count in the receipt). Every
        // other size fails.
        if (otherSize === size) continue;
        const sameShape = index < otherSize && referenceSides(index, otherSize) === referenceSides(index, size);
        assert.equal(verifyInclusion(tree[index]!, index, otherSize, proof, root), sameShape, `size ${otherSize} for ${index}/${size}`);
      }
      assert.equal(verifyInclusion(leafOf(1000), index, size, proof, root), false);
      assert.equal(verifyInclusion(tree[index]!, index, size, proof, sha(root)), false);
      assert.equal(verifyInclusion(tree[index]!, index, size, [...proof, root], root), false, 'one hash too many');
      if (proof.length > 0) assert.equal(verifyInclusion(tree[index]!, index, size, proof.slice(1), root), false, 'one hash too few');
    }
  }
});

test('any flipped bit of the leaf hash, a proof hash or the root fails verification (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 256 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (size, indexSeed, partSeed, bit) => {
      const tree = leaves(size);
      const index = indexSeed % size;
      const root = referenceRoot(tree);
      const proof = proveInclusion(tree, index);
      const parts = [tree[index]!, root, ...proof].map((part) => part.slice());
      const part = partSeed % parts.length;
      parts[part]![bit >> 3]! ^= 1 << (bit & 7);
      const [leaf, flippedRoot, ...flippedProof] = parts;
      return verifyInclusion(leaf!, index, size, flippedProof, flippedRoot!) === false;
    }),
    { numRuns: 2000 },
  );
});

test('malformed arguments: out-of-range positions are false to verify and RangeError to prove', () => {
  const tree = leaves(5);
  const root = referenceRoot(tree);
  assert.equal(verifyInclusion(tree[0]!, 5, 5, [], root), false);
  assert.equal(verifyInclusion(tree[0]!, -1, 5, [], root), false);
  assert.equal(verifyInclusion(tree[0]!, 0, 0, [], root), false);
  assert.equal(verifyInclusion(tree[0]!, 0, 1, [], tree[0]!), true, 'a one-leaf tree: the leaf hash is the root');
  assert.equal(verifyInclusion(tree[0]!.slice(0, 31), 0, 1, [], tree[0]!), false);
  assert.equal(verifyInclusion(tree[4]!, 4, 5, [new Uint8Array(33)], root), false);
  assert.throws(() => verifyInclusion(tree[0]!, 0.5, 5, [], root), { name: 'RangeError', message: 'index and size must be safe integers' });
  assert.throws(() => proveInclusion(tree, 5), { name: 'RangeError', message: 'index must be an integer in [0, size)' });
  assert.throws(() => proveInclusion([], 0), { name: 'RangeError', message: 'size must be a positive safe integer' });
});

test('testdata/disclosure/rfc9162-inclusion-proofs.json: every proof verifies or fails as stated', () => {
  const file = JSON.parse(readFileSync(new URL('../testdata/disclosure/rfc9162-inclusion-proofs.json', import.meta.url), 'utf8'));
  let valid = 0;
  let broken = 0;
  for (const v of file.vectors) {
    const got = verifyInclusion(bytes(v.leafHash), v.index, v.size, v.proof.map(bytes), bytes(v.rootHash));
    assert.equal(got, v.wantValid, v.desc);
    if (v.wantValid) {
      valid++;
      assert.deepEqual(proveInclusion(v.leafHashes.map(bytes), v.index).map(hex), v.proof, v.desc);
      assert.equal(hex(referenceRoot(v.leafHashes.map(bytes))), v.rootHash);
    } else broken++;
  }
  assert.equal(valid, 36, 'every index of every size 1..8');
  assert.ok(broken >= 36);
});
