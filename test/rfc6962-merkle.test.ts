/** RFC 6962 section 2.1: Merkle Tree Hash, checked against a naive recursive reference and RFC vectors. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { emptyRootHash, hashChildren, hashLeaf, rootFromLeafHashes } from '../src/merkle/rfc6962.ts';

function sha(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** The definition as RFC 6962 writes it: split at the largest power of two smaller than n. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(new Uint8Array([0]), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(new Uint8Array([1]), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

test('the iterative root equals the recursive definition for every size up to 300', () => {
  const leaves: Uint8Array[] = [];
  for (let size = 0; size <= 300; size++) {
    assert.equal(hex(rootFromLeafHashes(leaves.map(hashLeaf))), hex(referenceRoot(leaves)), `size ${size}`);
    leaves.push(new Uint8Array([size & 0xff, size >> 8, 7]));
  }
});

test('leaf and node hashes use the 0x00 and 0x01 prefixes', () => {
  const leaf = new Uint8Array([1, 2, 3]);
  assert.equal(hex(hashLeaf(leaf)), hex(sha(new Uint8Array([0]), leaf)));
  const left = sha(new Uint8Array([9]));
  const right = sha(new Uint8Array([8]));
  assert.equal(hex(hashChildren(left, right)), hex(sha(new Uint8Array([1]), left, right)));
});

test('the empty tree hashes to SHA-256 of the empty string', () => {
  assert.equal(hex(emptyRootHash()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('RFC 6962 reference tree of 8 leaves has the published root', () => {
  // Leaves of the test tree used by Certificate Transparency implementations (RFC 6962 examples).
  const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']
    .map((h) => new Uint8Array(Buffer.from(h, 'hex')));
  assert.equal(
    hex(rootFromLeafHashes(leaves.map(hashLeaf))),
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  );
});
