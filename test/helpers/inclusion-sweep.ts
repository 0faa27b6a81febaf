/** Inclusion proofs of runprint's Merkle code against RFC 9162's recursive PATH, for every index of the given tree sizes. */
import assert from 'node:assert/strict';
import { proveInclusion, verifyInclusion } from '../../src/merkle/inclusion.ts';
import { rootFromLeafHashes } from '../../src/merkle/rfc6962.ts';
import { referencePath, referenceRoot, sha } from './reference-tree.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** For each size: the root equals the reference, and every index's proof equals PATH and verifies. */
export function checkInclusionSweep(sizes: readonly number[]): void {
  const all = Array.from({ length: Math.max(...sizes) }, (_, i) => sha(new Uint8Array([0]), new Uint8Array([i & 0xff, i >> 8, 0x2a])));
  for (const size of sizes) {
    const tree = all.slice(0, size);
    const root = referenceRoot(tree);
    assert.equal(hex(rootFromLeafHashes(tree)), hex(root));
    const memo = new Map<string, Uint8Array>();
    for (let index = 0; index < size; index++) {
      const proof = proveInclusion(tree, index);
      assert.deepEqual(proof.map(hex), referencePath(index, tree, memo).map(hex), `size ${size} index ${index}`);
      assert.equal(verifyInclusion(tree[index]!, index, size, proof, root), true, `size ${size} index ${index}`);
    }
  }
}
