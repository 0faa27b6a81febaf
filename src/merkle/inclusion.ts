/** RFC 9162 section 2.1.3 (RFC 6962 section 2.1.1): Merkle inclusion proofs, made and checked. */
import { equalBytes } from '../hash/sha256.ts';
import { requireHashBytes, requireHashList, requireLeafHashes } from './merkle-arguments.ts';
import { hashChildren } from './rfc6962.ts';

function checkPosition(index: number, size: number): void {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('size must be a positive safe integer');
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError('index must be an integer in [0, size)');
}

/**
 * The inclusion proof (RFC 9162 2.1.3.1, the audit path PATH(index, D[size])) of the leaf at
 * `index` in the tree whose leaf hashes are `leafHashes`, ordered from the leaf up to the root.
 *
 * RFC 9162 defines the path recursively over the split at the largest power of two below the size.
 * The same tree is built here level by level: a node without a right sibling (the last node of a
 * level with an odd count) moves up unchanged, which is exactly where the recursive split puts it.
 * A node that moves up unchanged contributes no hash to the path.
 */
export function proveInclusion(leafHashes: ReadonlyArray<Uint8Array>, index: number): Uint8Array[] {
  requireLeafHashes(leafHashes, 'proveInclusion leafHashes');
  checkPosition(index, leafHashes.length);
  const proof: Uint8Array[] = [];
  let level: ReadonlyArray<Uint8Array> = leafHashes;
  let position = index;
  while (level.length > 1) {
    const sibling = position ^ 1;
    if (sibling < level.length) proof.push(level[sibling]!);
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(hashChildren(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
    position = Math.floor(position / 2);
  }
  return proof;
}

/**
 * True when `proof` shows that `leafHash` is the leaf at `index` of the tree of `size` leaves whose
 * root is `rootHash`: the verification algorithm of RFC 9162 section 2.1.3.2, step by step. A
 * proof of the wrong length, a hash that is not 32 bytes, or an index outside the tree is false.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: ReadonlyArray<Uint8Array>,
  rootHash: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size)) throw new RangeError('index and size must be safe integers');
  requireHashBytes(leafHash, 'verifyInclusion leafHash');
  requireHashList(proof, 'verifyInclusion proof');
  requireHashBytes(rootHash, 'verifyInclusion rootHash');
  // Step 1: leaf_index must be less than tree_size.
  if (index < 0 || index >= size) return false;
  if (leafHash.length !== 32 || rootHash.length !== 32) return false;
  // Step 2: fn = leaf_index, sn = tree_size - 1. Halving with Math.floor keeps 53-bit sizes exact.
  let fn = index;
  let sn = size - 1;
  // Step 3: r = leaf_hash.
  let r = leafHash;
  // Step 4: one node of the path per step.
  for (const p of proof) {
    if (p.length !== 32) return false;
    // 4a: a path longer than the tree is high.
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      // 4b: the path node is a left sibling.
      r = hashChildren(p, r);
      // Skip the levels where this node is the last of its level and moves up unchanged (LSB(fn)
      // not set: shift fn and sn until it is, or fn is 0). fn === sn === 0 was refused above.
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      // 4c: the path node is a right sibling.
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5: the whole path was used (sn is 0) and it leads to the root.
  return sn === 0 && equalBytes(r, rootHash);
}
