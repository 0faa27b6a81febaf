/** RFC 9162 section 2.1.4: consistency proofs, checked against a naive recursive reference for every pair of sizes up to 64. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  completeSubtrees,
  inclusionProofRanges,
  proveConsistency,
  proveInclusion,
  rootHashAt,
  subtreeHash,
  subtreeHashFrom,
  verifyConsistency,
} from '../src/merkle/index.ts';
import { referenceRoot, sha } from './helpers/reference-tree.ts';

/** SUBPROOF(m, D[n], b) exactly as RFC 9162 2.1.4.1 defines it. */
function referenceSubproof(m: number, leaves: Uint8Array[], complete: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [referenceRoot(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (m <= k) return [...referenceSubproof(m, leaves.slice(0, k), complete), referenceRoot(leaves.slice(k))];
  return [...referenceSubproof(m - k, leaves.slice(k), false), referenceRoot(leaves.slice(0, k))];
}

function leaves(count: number, seed = 0): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => sha(new Uint8Array([0]), new TextEncoder().encode(`leaf ${seed} ${i}`)));
}

const LEAVES = leaves(64);

test('proveConsistency equals the RFC 9162 reference and verifies, for every 1 <= oldSize < newSize <= 64', () => {
  for (let newSize = 1; newSize <= 64; newSize++) {
    const tree = LEAVES.slice(0, newSize);
    const newRoot = referenceRoot(tree);
    for (let oldSize = 1; oldSize < newSize; oldSize++) {
      const proof = proveConsistency(LEAVES, oldSize, newSize);
      assert.deepEqual(proof.map((hash) => Uint8Array.from(hash)), referenceSubproof(oldSize, tree, true), `${oldSize} -> ${newSize}`);
      const oldRoot = referenceRoot(LEAVES.slice(0, oldSize));
      assert.equal(verifyConsistency(oldSize, newSize, proof, oldRoot, newRoot), true, `${oldSize} -> ${newSize}`);
    }
  }
});

test('every flipped bit, swapped root, wrong size, truncated or extended proof fails, for every pair up to 24', () => {
  for (let newSize = 2; newSize <= 24; newSize++) {
    const newRoot = rootHashAt(LEAVES, newSize);
    for (let oldSize = 1; oldSize < newSize; oldSize++) {
      const oldRoot = rootHashAt(LEAVES, oldSize);
      const proof = proveConsistency(LEAVES, oldSize, newSize);
      for (let i = 0; i < proof.length; i++) {
        for (const bit of [0, 77, 255]) {
          const broken = proof.map((hash) => Uint8Array.from(hash));
          broken[i]![bit >> 3]! ^= 1 << (bit & 7);
          assert.equal(verifyConsistency(oldSize, newSize, broken, oldRoot, newRoot), false);
        }
      }
      assert.equal(verifyConsistency(oldSize, newSize, proof, newRoot, oldRoot), false);
      assert.equal(verifyConsistency(oldSize, newSize, proof.slice(0, -1), oldRoot, newRoot), false);
      assert.equal(verifyConsistency(oldSize, newSize, [...proof, LEAVES[0]!], oldRoot, newRoot), false);
      // A size that is not the proof's, with the true roots of the sizes claimed. (Same roots with
      // another size can pass: a proof's shape does not pin the sizes, the roots do.)
      if (oldSize + 1 < newSize) assert.equal(verifyConsistency(oldSize + 1, newSize, proof, rootHashAt(LEAVES, oldSize + 1), newRoot), false);
      assert.equal(verifyConsistency(oldSize, newSize + 1, proof, oldRoot, rootHashAt(LEAVES, newSize + 1)), false);
      if (oldSize > 1) assert.equal(verifyConsistency(oldSize - 1, newSize, proof, rootHashAt(LEAVES, oldSize - 1), newRoot), false);
      if (newSize - 1 > oldSize) assert.equal(verifyConsistency(oldSize, newSize - 1, proof, oldRoot, rootHashAt(LEAVES, newSize - 1)), false);
    }
  }
});

test('equal sizes and an empty old tree need an empty proof', () => {
  const root = rootHashAt(LEAVES, 5);
  assert.deepEqual(proveConsistency(LEAVES, 5, 5), []);
  assert.deepEqual(proveConsistency(LEAVES, 0, 5), []);
  assert.equal(verifyConsistency(5, 5, [], root, root), true);
  assert.equal(verifyConsistency(5, 5, [], root, rootHashAt(LEAVES, 6)), false);
  assert.equal(verifyConsistency(5, 5, [root], root, root), false);
  assert.equal(verifyConsistency(0, 5, [], rootHashAt(LEAVES, 0), root), true);
  assert.equal(verifyConsistency(0, 5, [root], rootHashAt(LEAVES, 0), root), false);
  assert.equal(verifyConsistency(6, 5, [], root, root), false);
  assert.equal(verifyConsistency(3, 5, [], rootHashAt(LEAVES, 3), root), false);
  assert.equal(verifyConsistency(3, 5, [new Uint8Array(31)], rootHashAt(LEAVES, 3), root), false);
  assert.equal(verifyConsistency(3, 5, proveConsistency(LEAVES, 3, 5), new Uint8Array(32).subarray(1), root), false);
});

test('programmer errors are RangeErrors', () => {
  assert.throws(() => proveConsistency(LEAVES, 5, 65), { name: 'RangeError', message: 'newSize must not exceed the number of leaves' });
  assert.throws(() => proveConsistency(LEAVES, 6, 5), { name: 'RangeError', message: 'oldSize must not exceed newSize' });
  assert.throws(() => proveConsistency(LEAVES, -1, 5), { name: 'RangeError', message: 'oldSize must be a non-negative safe integer' });
  assert.throws(() => verifyConsistency(1.5, 5, [], LEAVES[0]!, LEAVES[0]!), { name: 'RangeError', message: 'oldSize and newSize must be safe integers' });
});

test('prove-then-verify for every pair of sizes up to 256 (fast-check)', () => {
  const tree = leaves(256, 1);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 0, max: 256 }), (newSize, pick) => {
      const oldSize = pick % (newSize + 1);
      const proof = proveConsistency(tree, oldSize, newSize);
      return verifyConsistency(oldSize, newSize, proof, rootHashAt(tree, oldSize), rootHashAt(tree, newSize));
    }),
    { numRuns: 500 },
  );
});

test('subtree hashes: complete subtrees fold to MTH of any proof range, read without the leaves', () => {
  const tree = LEAVES;
  // Stored hashes of complete subtrees, as a tiled log keeps them.
  const stored = new Map<string, Uint8Array>();
  const read = (node: { level: number; index: number }) => {
    const key = `${node.level}/${node.index}`;
    let hash = stored.get(key);
    if (hash === undefined) stored.set(key, (hash = subtreeHash(tree, node.index * 2 ** node.level, (node.index + 1) * 2 ** node.level)));
    return hash;
  };
  assert.deepEqual(completeSubtrees(0, 13), [
    { level: 3, index: 0 },
    { level: 2, index: 2 },
    { level: 0, index: 12 },
  ]);
  for (let size = 0; size <= 64; size++) {
    assert.deepEqual(Uint8Array.from(subtreeHashFrom(0, size, read)), Uint8Array.from(referenceRoot(tree.slice(0, size))));
    for (let index = 0; index < size; index++) {
      const fromRanges = inclusionProofRanges(index, size).map((range) => Uint8Array.from(subtreeHashFrom(range.start, range.end, read)));
      assert.deepEqual(fromRanges, proveInclusion(tree.slice(0, size), index).map((hash) => Uint8Array.from(hash)));
    }
  }
});
