/** RFC 9162 section 2.1.4 (RFC 6962 section 2.1.2): Merkle consistency proofs, and the subtree hashes a tiled log reads. */
import { equalBytes } from '../hash/sha256.ts';
import { requireHashBytes, requireHashList, requireLeafHashes } from './merkle-arguments.ts';
import { emptyRootHash, hashChildren, rootFromLeafHashes } from './rfc6962.ts';

/** A complete subtree: the 2^level leaves from index * 2^level, whose hash a tiled log stores. */
export interface SubtreeNode {
  level: number;
  index: number;
}

/** A range [start, end) of leaves whose Merkle Tree Hash MTH(D[start:end]) a proof carries. */
export interface LeafRange {
  start: number;
  end: number;
}

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer`);
}

/** The largest power of two smaller than n (n >= 2): where RFC 9162 2.1.1 splits a tree. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The complete subtrees that make up the range [start, end), left to right, largest first. For a
 * range a proof can name (start is a multiple of a power of two at least end - start), MTH of
 * the range is the right fold of their hashes: H(c1, H(c2, ... cn)).
 */
export function completeSubtrees(start: number, end: number): SubtreeNode[] {
  checkSize('start', start);
  checkSize('end', end);
  if (start > end) throw new RangeError('start must not exceed end');
  const nodes: SubtreeNode[] = [];
  let position = start;
  while (position < end) {
    let width = 1;
    let level = 0;
    while (position % (width * 2) === 0 && position + width * 2 <= end) {
      width *= 2;
      level++;
    }
    nodes.push({ level, index: position / width });
    position += width;
  }
  return nodes;
}

/**
 * MTH(D[start:end]) (RFC 9162 2.1.1) from the hashes of complete subtrees, as `readHash` gives
 * them: how a client gets a proof node or a root from tiles without holding every leaf.
 */
export function subtreeHashFrom(start: number, end: number, readHash: (node: SubtreeNode) => Uint8Array): Uint8Array {
  const nodes = completeSubtrees(start, end);
  if (nodes.length === 0) return emptyRootHash();
  let hash = readHash(nodes[nodes.length - 1]!);
  for (let i = nodes.length - 2; i >= 0; i--) hash = hashChildren(readHash(nodes[i]!), hash);
  return hash;
}

/** MTH(D[start:end]) over leaf hashes: the hash of any subtree of the tree, complete or not. */
export function subtreeHash(leafHashes: ReadonlyArray<Uint8Array>, start: number, end: number): Uint8Array {
  if (end > leafHashes.length) throw new RangeError('end must not exceed the number of leaves');
  return rootFromLeafHashes(leafHashes.slice(start, end));
}

/** The root hash of the tree of the first `size` leaves: MTH(D[0:size]), an earlier tree head. */
export function rootHashAt(leafHashes: ReadonlyArray<Uint8Array>, size: number): Uint8Array {
  checkSize('size', size);
  return subtreeHash(leafHashes, 0, size);
}

/** The leaf ranges of PATH(index, D[0:size]) (RFC 9162 2.1.3.1), from the leaf up. */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  checkSize('size', size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError('index must be an integer in [0, size)');
  const ranges: LeafRange[] = [];
  let start = 0;
  let end = size;
  let m = index;
  // Walk down from the root; each step puts the sibling range on the path.
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
      m -= k;
    }
  }
  return ranges.reverse();
}

/**
 * The leaf ranges of PROOF(oldSize, D[0:newSize]) (RFC 9162 2.1.4.1), in proof order. Empty when
 * the sizes are equal or the old tree is empty: those need no proof.
 */
export function consistencyProofRanges(oldSize: number, newSize: number): LeafRange[] {
  checkSize('oldSize', oldSize);
  checkSize('newSize', newSize);
  if (oldSize > newSize) throw new RangeError('oldSize must not exceed newSize');
  if (oldSize === 0 || oldSize === newSize) return [];
  // SUBPROOF(m, D[start:end], b), unrolled: the ranges it appends are collected from the bottom up.
  const tail: LeafRange[] = [];
  let start = 0;
  let end = newSize;
  let m = oldSize;
  let complete = true;
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      tail.push({ start: start + k, end });
      end = start + k;
    } else {
      tail.push({ start, end: start + k });
      start += k;
      m -= k;
      complete = false;
    }
  }
  // SUBPROOF(m, D[m], false) = {MTH(D[m])}; with b still true it is empty.
  const head: LeafRange[] = complete ? [] : [{ start, end }];
  return [...head, ...tail.reverse()];
}

/**
 * The consistency proof (RFC 9162 2.1.4.1) that the tree of the first `oldSize` leaves is a
 * prefix of the tree of the first `newSize` leaves of `leafHashes`.
 */
export function proveConsistency(leafHashes: ReadonlyArray<Uint8Array>, oldSize: number, newSize: number): Uint8Array[] {
  requireLeafHashes(leafHashes, 'proveConsistency leafHashes');
  checkSize('newSize', newSize);
  if (newSize > leafHashes.length) throw new RangeError('newSize must not exceed the number of leaves');
  return consistencyProofRanges(oldSize, newSize).map((range) => subtreeHash(leafHashes, range.start, range.end));
}

/**
 * True when `proof` shows that the tree of `oldSize` leaves with root `oldRoot` is a prefix of the
 * tree of `newSize` leaves with root `newRoot`: the algorithm of RFC 9162 section 2.1.4.2, step by
 * step. As RFC 9162 leaves these cases to the caller: equal sizes are consistent with an empty
 * proof when the roots are equal, and an empty old tree is consistent with any tree through an
 * empty proof. A proof of the wrong length, or a hash that is not 32 bytes, is false.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: ReadonlyArray<Uint8Array>,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize)) throw new RangeError('oldSize and newSize must be safe integers');
  requireHashList(proof, 'verifyConsistency proof');
  requireHashBytes(oldRoot, 'verifyConsistency oldRoot');
  requireHashBytes(newRoot, 'verifyConsistency newRoot');
  if (oldSize < 0 || oldSize > newSize) return false;
  if (oldRoot.length !== 32 || newRoot.length !== 32) return false;
  if (proof.some((hash) => hash.length !== 32)) return false;
  if (oldSize === 0) return proof.length === 0;
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  // Step 1: an empty path fails.
  if (proof.length === 0) return false;
  // Step 2: when the old tree is a complete subtree its root is the first node of the path.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  // Step 3: fn = first - 1, sn = second - 1.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  // Step 4: while LSB(fn) is set, shift fn and sn right.
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5: fr = sr = the first node.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6: every later node.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    // 6a: a path longer than the tree fails.
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      // 6b: c is a left sibling of both roots.
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      // c is a right sibling of the new root only.
      sr = hashChildren(sr, c);
    }
    // 6c: one level up.
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7: both roots match and the whole path was used.
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

function isPowerOfTwo(n: number): boolean {
  let value = n;
  while (value > 1 && value % 2 === 0) value /= 2;
  return value === 1;
}
