/**
 * The edges of the Merkle functions (RFC 6962 / RFC 9162): the argument checks and their messages,
 * hashes that are not 32 bytes, the 64 KiB leaf buffer, and proofs crafted so that each step of the
 * RFC 9162 verification algorithms is the only thing that rejects them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  completeSubtrees,
  consistencyProofRanges,
  emptyRootHash,
  hashChildren,
  hashLeaf,
  inclusionProofRanges,
  proveConsistency,
  proveInclusion,
  rootFromLeafHashes,
  rootHashAt,
  subtreeHash,
  subtreeHashFrom,
  verifyConsistency,
  verifyInclusion,
} from '../src/merkle/index.ts';
import { referenceRoot, sha } from './helpers/reference-tree.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const leafOf = (i: number) => sha(new Uint8Array([0]), new Uint8Array([i & 0xff, i >> 8, 0x17]));
const leaves = (count: number) => Array.from({ length: count }, (_, i) => leafOf(i));
const LEAVES = leaves(40);
const bytesOf = (length: number, fill: number) => new Uint8Array(length).fill(fill);

test('hash arguments must be bytes: TypeError naming the argument, with a hint for text', () => {
  const text = ', not text (decode hex or base64 first)';
  assert.throws(() => hashLeaf('00' as never), { name: 'TypeError', message: `hashLeaf leaf must be a Uint8Array${text}` });
  assert.throws(() => hashLeaf(7 as never), { name: 'TypeError', message: 'hashLeaf leaf must be a Uint8Array' });
  assert.throws(() => hashLeaf([0] as never), { name: 'TypeError', message: 'hashLeaf leaf must be a Uint8Array' });
  const root = rootFromLeafHashes(LEAVES.slice(0, 2));
  const proof = proveInclusion(LEAVES.slice(0, 2), 0);
  assert.throws(() => verifyInclusion(hex(LEAVES[0]!) as never, 0, 2, proof, root), {
    name: 'TypeError',
    message: `verifyInclusion leafHash must be a Uint8Array${text}`,
  });
  assert.throws(() => verifyInclusion(LEAVES[0]!, 0, 2, proof, hex(root) as never), {
    name: 'TypeError',
    message: `verifyInclusion rootHash must be a Uint8Array${text}`,
  });
  assert.throws(() => verifyInclusion(LEAVES[0]!, 0, 2, proof, null as never), { name: 'TypeError', message: 'verifyInclusion rootHash must be a Uint8Array' });
  assert.throws(() => verifyInclusion(LEAVES[0]!, 0, 2, 'ab' as never, root), {
    name: 'TypeError',
    message: 'verifyInclusion proof must be an array of Uint8Array hashes',
  });
  assert.throws(() => verifyInclusion(LEAVES[0]!, 0, 2, [hex(LEAVES[1]!)] as never, root), {
    name: 'TypeError',
    message: `each of verifyInclusion proof must be a Uint8Array${text}`,
  });
  // Every entry is checked, not only the first.
  assert.throws(() => verifyInclusion(LEAVES[0]!, 0, 4, [LEAVES[1]!, 5] as never, root), {
    name: 'TypeError',
    message: 'each of verifyInclusion proof must be a Uint8Array',
  });
  const old = rootHashAt(LEAVES, 1);
  assert.throws(() => verifyConsistency(1, 2, 'x' as never, old, root), { name: 'TypeError', message: 'verifyConsistency proof must be an array of Uint8Array hashes' });
  assert.throws(() => verifyConsistency(1, 2, [LEAVES[1]!, {}] as never, old, root), {
    name: 'TypeError',
    message: 'each of verifyConsistency proof must be a Uint8Array',
  });
  assert.throws(() => verifyConsistency(1, 2, [LEAVES[1]!], hex(old) as never, root), {
    name: 'TypeError',
    message: `verifyConsistency oldRoot must be a Uint8Array${text}`,
  });
  assert.throws(() => verifyConsistency(1, 2, [LEAVES[1]!], old, undefined as never), {
    name: 'TypeError',
    message: 'verifyConsistency newRoot must be a Uint8Array',
  });
  // Leaf lists: only the list's type is checked.
  for (const [call, name] of [
    [() => rootFromLeafHashes('ab' as never), 'rootFromLeafHashes'],
    [() => proveInclusion({ length: 2 } as never, 0), 'proveInclusion'],
    [() => proveConsistency('abcd' as never, 1, 2), 'proveConsistency'],
  ] as const) {
    assert.throws(call, { name: 'TypeError', message: `${name} leafHashes must be an array of Uint8Array leaf hashes` });
  }
});

test('hashLeaf: leaves around the 64 KiB buffer and past it, and the buffer reused without leftovers', () => {
  for (const length of [0, 1, 31, 32, 33, 65534, 65535, 65536, 65537, 70000]) {
    const leaf = bytesOf(length, (length % 251) + 1);
    const got = hashLeaf(leaf);
    assert.equal(hex(got), hex(sha(new Uint8Array([0]), leaf)), `leaf of ${length} bytes`);
    assert.equal(Object.getPrototypeOf(got), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer');
    assert.equal(got.length, 32);
  }
  // A long leaf, then a short one: the short one's hash covers only its own bytes.
  hashLeaf(bytesOf(1000, 0xff));
  assert.equal(hex(hashLeaf(new Uint8Array([1]))), hex(sha(new Uint8Array([0, 1]))));
  assert.equal(hex(hashLeaf(new Uint8Array(0))), hex(sha(new Uint8Array([0]))));
});

test('hashChildren: children that are not 32 bytes hash their own bytes, on either side', () => {
  const full = bytesOf(32, 0xaa);
  // Fill the reused node buffer with other bytes first, so a short child that reused it would show.
  hashChildren(bytesOf(32, 0xee), bytesOf(32, 0xdd));
  for (const [left, right] of [
    [bytesOf(31, 1), full],
    [full, bytesOf(31, 2)],
    [bytesOf(33, 3), full],
    [full, bytesOf(33, 4)],
    [bytesOf(31, 5), bytesOf(33, 6)],
    [new Uint8Array(0), new Uint8Array(0)],
  ]) {
    hashChildren(bytesOf(32, 0xee), bytesOf(32, 0xdd));
    assert.equal(hex(hashChildren(left!, right!)), hex(sha(new Uint8Array([1]), left!, right!)), `${left!.length} and ${right!.length} bytes`);
  }
  assert.equal(hex(hashChildren(full, full)), hex(sha(new Uint8Array([1]), full, full)));
  assert.equal(hex(emptyRootHash()), hex(sha()));
  assert.equal(hex(rootFromLeafHashes([])), hex(sha()));
  assert.equal(hex(rootFromLeafHashes([LEAVES[3]!])), hex(LEAVES[3]!));
});

test('proveInclusion: positions are checked with their own messages', () => {
  const tree = LEAVES.slice(0, 5);
  for (const index of [5, 6, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
    assert.throws(() => proveInclusion(tree, index), { name: 'RangeError', message: 'index must be an integer in [0, size)' }, `index ${index}`);
  }
  assert.throws(() => proveInclusion([], 0), { name: 'RangeError', message: 'size must be a positive safe integer' });
  assert.deepEqual(proveInclusion(tree.slice(0, 1), 0), [], 'a one-leaf tree has an empty path');
  assert.deepEqual(proveInclusion(tree.slice(0, 2), 1).map(hex), [hex(tree[0]!)]);
  assert.deepEqual(proveInclusion(tree, 4).map(hex), [hex(referenceRoot(tree.slice(0, 4)))]);
});

test('verifyInclusion: each step is the only one that rejects a crafted proof', () => {
  const tree = LEAVES.slice(0, 4);
  const root = referenceRoot(tree);
  const proof = proveInclusion(tree, 0);
  assert.equal(verifyInclusion(tree[0]!, 0, 4, proof, root), true);
  // Integer checks come before anything else, NaN and infinities included.
  for (const [index, size] of [
    [Number.NaN, 4],
    [0, Number.NaN],
    [0, Number.POSITIVE_INFINITY],
    [2 ** 53, 2 ** 53 + 2],
    [0, 4.5],
  ]) {
    assert.throws(() => verifyInclusion(tree[0]!, index!, size!, proof, root), { name: 'RangeError', message: 'index and size must be safe integers' });
  }
  // Step 1 at the edges: index == size and index == size - 1.
  assert.equal(verifyInclusion(tree[3]!, 3, 4, proveInclusion(tree, 3), root), true);
  assert.equal(verifyInclusion(tree[0]!, 0, 0, [], tree[0]!), false);
  assert.equal(verifyInclusion(tree[0]!, 1, 1, [], tree[0]!), false);
  assert.equal(verifyInclusion(tree[0]!, -1, 1, [], tree[0]!), false);
  // A leaf hash of 31 bytes, with a root computed over exactly it: only the length check refuses.
  const short = bytesOf(31, 9);
  assert.equal(verifyInclusion(short, 0, 2, [tree[1]!], hashChildren(short, tree[1]!)), false);
  assert.equal(verifyInclusion(short, 1, 2, [tree[0]!], hashChildren(tree[0]!, short)), false);
  assert.equal(verifyInclusion(bytesOf(33, 9), 0, 1, [], bytesOf(33, 9)), false);
  // A root that is not 32 bytes never equals the path's hash.
  assert.equal(verifyInclusion(tree[0]!, 0, 1, [], tree[0]!.subarray(0, 31)), false);
  // A proof hash of 31 bytes, with the root computed over it.
  assert.equal(verifyInclusion(tree[0]!, 0, 2, [short], hashChildren(tree[0]!, short)), false);
  assert.equal(verifyInclusion(tree[1]!, 1, 2, [short], hashChildren(short, tree[1]!)), false);
  // One hash more than the tree is high, with the root computed over it (step 4a).
  const extra = LEAVES[20]!;
  assert.equal(verifyInclusion(tree[0]!, 0, 4, [...proof, extra], hashChildren(extra, root)), false);
  assert.equal(verifyInclusion(tree[0]!, 0, 1, [extra], hashChildren(extra, tree[0]!)), false);
  assert.equal(verifyInclusion(tree[0]!, 0, 1, [extra], hashChildren(tree[0]!, extra)), false);
  // One hash too few, with the "root" the shorter path reaches (step 5: sn must be 0).
  assert.equal(verifyInclusion(tree[0]!, 0, 4, proof.slice(0, 1), hashChildren(tree[0]!, tree[1]!)), false);
  assert.equal(verifyInclusion(tree[3]!, 3, 4, [], tree[3]!), false);
  // Sizes with a last node that moves up unchanged, every index (the inner shift of step 4b).
  for (const size of [3, 5, 6, 7, 9, 11, 13, 21, 37]) {
    const sub = LEAVES.slice(0, size);
    const subRoot = referenceRoot(sub);
    for (let index = 0; index < size; index++) {
      assert.equal(verifyInclusion(sub[index]!, index, size, proveInclusion(sub, index), subRoot), true, `${index}/${size}`);
    }
  }
});

test('verifyInclusion reads its arguments without changing them', () => {
  const tree = LEAVES.slice(0, 7);
  const root = referenceRoot(tree);
  const proof = proveInclusion(tree, 6);
  const copy = proof.map(hex);
  assert.equal(verifyInclusion(tree[6]!, 6, 7, proof, root), true);
  assert.deepEqual(proof.map(hex), copy);
  assert.equal(hex(root), hex(referenceRoot(tree)));
});

test('completeSubtrees and subtreeHashFrom: ranges that do not start at 0, empty ranges, and their checks', () => {
  /** The reference: the largest aligned power-of-two block at each position that fits. */
  const reference = (start: number, end: number) => {
    const out: { level: number; index: number }[] = [];
    let position = start;
    while (position < end) {
      let level = 0;
      while (position % 2 ** (level + 1) === 0 && position + 2 ** (level + 1) <= end) level++;
      out.push({ level, index: position / 2 ** level });
      position += 2 ** level;
    }
    return out;
  };
  for (let start = 0; start <= 20; start++) {
    for (let end = start; end <= 24; end++) {
      assert.deepEqual(completeSubtrees(start, end), reference(start, end), `[${start}, ${end})`);
    }
  }
  assert.deepEqual(completeSubtrees(8, 16), [{ level: 3, index: 1 }]);
  assert.deepEqual(completeSubtrees(6, 7), [{ level: 0, index: 6 }]);
  assert.deepEqual(completeSubtrees(4, 12), [
    { level: 2, index: 1 },
    { level: 2, index: 2 },
  ]);
  assert.deepEqual(completeSubtrees(3, 3), []);
  assert.throws(() => completeSubtrees(4, 3), { name: 'RangeError', message: 'start must not exceed end' });
  assert.throws(() => completeSubtrees(-1, 3), { name: 'RangeError', message: 'start must be a non-negative safe integer' });
  assert.throws(() => completeSubtrees(0.5, 3), { name: 'RangeError', message: 'start must be a non-negative safe integer' });
  assert.throws(() => completeSubtrees(0, -1), { name: 'RangeError', message: 'end must be a non-negative safe integer' });
  assert.throws(() => completeSubtrees(0, Number.NaN), { name: 'RangeError', message: 'end must be a non-negative safe integer' });
  assert.deepEqual(completeSubtrees(0, 0), []);
  const read = (node: { level: number; index: number }) => subtreeHash(LEAVES, node.index * 2 ** node.level, (node.index + 1) * 2 ** node.level);
  assert.equal(hex(subtreeHashFrom(5, 5, read)), hex(sha()), 'an empty range is the empty tree');
  assert.equal(hex(subtreeHashFrom(0, 0, () => assert.fail('nothing to read'))), hex(sha()));
  for (const [start, end] of [
    [8, 16],
    [8, 13],
    [16, 17],
    [32, 40],
    [4, 6],
  ]) {
    assert.equal(hex(subtreeHashFrom(start!, end!, read)), hex(referenceRoot(LEAVES.slice(start, end))), `[${start}, ${end})`);
  }
});

test('subtreeHash and rootHashAt: bounds and messages', () => {
  assert.equal(hex(subtreeHash(LEAVES, 0, 40)), hex(referenceRoot(LEAVES)));
  assert.equal(hex(subtreeHash(LEAVES, 39, 40)), hex(LEAVES[39]!));
  assert.equal(hex(subtreeHash(LEAVES, 7, 7)), hex(sha()));
  assert.throws(() => subtreeHash(LEAVES, 0, 41), { name: 'RangeError', message: 'end must not exceed the number of leaves' });
  assert.equal(hex(rootHashAt(LEAVES, 40)), hex(referenceRoot(LEAVES)));
  assert.equal(hex(rootHashAt(LEAVES, 0)), hex(sha()));
  assert.throws(() => rootHashAt(LEAVES, 41), { name: 'RangeError', message: 'end must not exceed the number of leaves' });
  // A negative size is refused, not read as "all but the last leaves" by slice.
  assert.throws(() => rootHashAt(LEAVES, -1), { name: 'RangeError', message: 'size must be a non-negative safe integer' });
  assert.throws(() => rootHashAt(LEAVES, 1.5), { name: 'RangeError', message: 'size must be a non-negative safe integer' });
});

test('inclusionProofRanges: the ranges of small trees, and the argument checks', () => {
  assert.deepEqual(inclusionProofRanges(0, 1), []);
  assert.deepEqual(inclusionProofRanges(0, 2), [{ start: 1, end: 2 }]);
  assert.deepEqual(inclusionProofRanges(2, 3), [{ start: 0, end: 2 }]);
  assert.deepEqual(inclusionProofRanges(4, 6), [
    { start: 5, end: 6 },
    { start: 0, end: 4 },
  ]);
  assert.deepEqual(inclusionProofRanges(3, 8), [
    { start: 2, end: 3 },
    { start: 0, end: 2 },
    { start: 4, end: 8 },
  ]);
  assert.throws(() => inclusionProofRanges(0, -1), { name: 'RangeError', message: 'size must be a non-negative safe integer' });
  assert.throws(() => inclusionProofRanges(0, 0.5), { name: 'RangeError', message: 'size must be a non-negative safe integer' });
  for (const [index, size] of [
    [0, 0],
    [3, 3],
    [-1, 3],
    [1.5, 3],
    [Number.NaN, 3],
  ]) {
    assert.throws(() => inclusionProofRanges(index!, size!), { name: 'RangeError', message: 'index must be an integer in [0, size)' }, `${index}/${size}`);
  }
});

test('consistencyProofRanges and proveConsistency: small cases and argument checks', () => {
  assert.deepEqual(consistencyProofRanges(0, 0), []);
  assert.deepEqual(consistencyProofRanges(0, 9), []);
  assert.deepEqual(consistencyProofRanges(9, 9), []);
  assert.deepEqual(consistencyProofRanges(1, 2), [{ start: 1, end: 2 }]);
  assert.deepEqual(consistencyProofRanges(2, 4), [{ start: 2, end: 4 }]);
  assert.deepEqual(consistencyProofRanges(3, 4), [
    { start: 2, end: 3 },
    { start: 3, end: 4 },
    { start: 0, end: 2 },
  ]);
  assert.deepEqual(consistencyProofRanges(4, 8), [{ start: 4, end: 8 }]);
  assert.deepEqual(consistencyProofRanges(6, 8), [
    { start: 4, end: 6 },
    { start: 6, end: 8 },
    { start: 0, end: 4 },
  ]);
  assert.deepEqual(consistencyProofRanges(5, 7), [
    { start: 4, end: 5 },
    { start: 5, end: 6 },
    { start: 6, end: 7 },
    { start: 0, end: 4 },
  ]);
  assert.throws(() => consistencyProofRanges(-1, 3), { name: 'RangeError', message: 'oldSize must be a non-negative safe integer' });
  assert.throws(() => consistencyProofRanges(1, -1), { name: 'RangeError', message: 'newSize must be a non-negative safe integer' });
  assert.throws(() => consistencyProofRanges(1, 2.5), { name: 'RangeError', message: 'newSize must be a non-negative safe integer' });
  assert.throws(() => consistencyProofRanges(4, 3), { name: 'RangeError', message: 'oldSize must not exceed newSize' });
  assert.throws(() => proveConsistency(LEAVES, 1, -1), { name: 'RangeError', message: 'newSize must be a non-negative safe integer' });
  assert.throws(() => proveConsistency(LEAVES, 1, 1.5), { name: 'RangeError', message: 'newSize must be a non-negative safe integer' });
  assert.throws(() => proveConsistency(LEAVES, 1, 41), { name: 'RangeError', message: 'newSize must not exceed the number of leaves' });
  assert.deepEqual(proveConsistency(LEAVES, 39, 40).length, consistencyProofRanges(39, 40).length);
  assert.deepEqual(proveConsistency(LEAVES, 40, 40), []);
});

test('verifyConsistency: each check is the only one that rejects a crafted proof', () => {
  const root = (size: number) => rootHashAt(LEAVES, size);
  for (const [oldSize, newSize] of [
    [Number.NaN, 4],
    [1, Number.NaN],
    [1, Number.POSITIVE_INFINITY],
    [1, 4.5],
  ]) {
    assert.throws(() => verifyConsistency(oldSize!, newSize!, [], root(1), root(4)), { name: 'RangeError', message: 'oldSize and newSize must be safe integers' });
  }
  // An old size above the new size, with roots made to fit the path the algorithm would walk
  // (3 -> 2: fr stays p0, sr becomes H(p0, p1)): only the size check refuses it.
  const [p0, p1] = [LEAVES[8]!, LEAVES[9]!];
  assert.equal(verifyConsistency(3, 2, [p0, p1], p0, hashChildren(p0, p1)), false);
  // A negative old size with a "proof" made to fit the rest of the algorithm.
  const h = LEAVES[7]!;
  assert.equal(verifyConsistency(-1, 1, [h], h, h), false);
  assert.equal(verifyConsistency(-2, 0, [], h, h), false);
  assert.equal(verifyConsistency(-1, -1, [], h, h), false);
  // Roots that are not 32 bytes, where every other check would pass.
  const short = bytesOf(31, 3);
  assert.equal(verifyConsistency(5, 5, [], short, short), false);
  assert.equal(verifyConsistency(0, 5, [], short, root(5)), false);
  assert.equal(verifyConsistency(0, 5, [], root(0), short), false);
  assert.equal(verifyConsistency(0, 5, [], root(0), root(5)), true);
  assert.equal(verifyConsistency(0, 0, [], root(0), root(0)), true);
  // A proof hash of 31 bytes with the new root computed over it (1 -> 2, and the second of two in 1 -> 3).
  assert.equal(verifyConsistency(1, 2, [short], root(1), hashChildren(root(1), short)), false);
  assert.equal(verifyConsistency(1, 3, [LEAVES[1]!, short], root(1), hashChildren(root(2), short)), false);
  assert.equal(verifyConsistency(1, 3, [LEAVES[1]!, LEAVES[2]!], root(1), hashChildren(root(2), LEAVES[2]!)), true);
  assert.equal(verifyConsistency(5, 5, [short], root(5), root(5)), false);
  // One hash more than the tree is high, with the new root computed over it (step 6a).
  const extra = LEAVES[30]!;
  const proof = proveConsistency(LEAVES, 3, 4);
  assert.equal(verifyConsistency(3, 4, proof, root(3), root(4)), true);
  assert.equal(verifyConsistency(3, 4, [...proof, extra], root(3), hashChildren(extra, root(4))), false);
  assert.equal(verifyConsistency(3, 4, [...proof, extra], root(3), hashChildren(root(4), extra)), false);
  assert.equal(verifyConsistency(1, 2, [LEAVES[1]!, extra], root(1), hashChildren(root(2), extra)), false);
  // The same, with both roots the longer path reaches: past the top, the extra hash is a left
  // sibling of both, so the old root is H(extra, root(3)) (3 is not a complete subtree, so the old
  // root is not the path's first node). Only step 6a refuses it.
  assert.equal(verifyConsistency(3, 4, [...proof, extra], hashChildren(extra, root(3)), hashChildren(extra, root(4))), false);
  assert.equal(verifyConsistency(5, 7, [...proveConsistency(LEAVES, 5, 7), extra], hashChildren(extra, root(5)), hashChildren(extra, root(7))), false);
  // One hash too few, with the new root the shorter path reaches (step 7: sn must be 0).
  const long = proveConsistency(LEAVES, 1, 4);
  assert.equal(verifyConsistency(1, 4, long.slice(0, 1), root(1), root(2)), false);
  assert.equal(verifyConsistency(2, 8, proveConsistency(LEAVES, 2, 4), root(2), root(4)), false);
  // Equal sizes: the roots must be equal and the proof empty.
  assert.equal(verifyConsistency(7, 7, [], root(7), root(7)), true);
  assert.equal(verifyConsistency(7, 7, [], root(7), root(6)), false);
  // Old trees that are and are not complete subtrees, old roots that differ in one bit.
  for (const [oldSize, newSize] of [
    [1, 2],
    [2, 3],
    [4, 7],
    [6, 7],
    [8, 40],
    [12, 13],
    [15, 32],
    [16, 17],
  ]) {
    const p = proveConsistency(LEAVES, oldSize!, newSize!);
    assert.equal(verifyConsistency(oldSize!, newSize!, p, root(oldSize!), root(newSize!)), true, `${oldSize} -> ${newSize}`);
    const flipped = root(oldSize!).slice();
    flipped[31]! ^= 1;
    assert.equal(verifyConsistency(oldSize!, newSize!, p, flipped, root(newSize!)), false, `old root flipped ${oldSize} -> ${newSize}`);
    assert.deepEqual(p.map(hex), copyOf(p).map(hex));
  }
});

function copyOf(list: Uint8Array[]): Uint8Array[] {
  return list.map((hash) => Uint8Array.from(hash));
}
