/** RFC 6962 section 2.1 (RFC 9162 section 2.1.1): Merkle Tree Hash over an ordered list of leaves. */
import { createSha256, sha256Once } from '../hash/sha256.ts';
import { requireHashBytes, requireLeafHashes } from './merkle-arguments.ts';

const NODE_PREFIX = new Uint8Array([0x01]);

// 0x00 || leaf is assembled here so that a leaf hash is one one-shot SHA-256 call with no
// allocation for leaves up to 64 KiB (a log entry's limit): about half the cost of an incremental hash.
const leafInput = new Uint8Array(64 * 1024);

/** leafHash = SHA-256(0x00 || leaf). */
export function hashLeaf(leaf: Uint8Array): Uint8Array {
  requireHashBytes(leaf, 'hashLeaf leaf');
  const input = leaf.length < leafInput.length ? leafInput.subarray(0, leaf.length + 1) : new Uint8Array(leaf.length + 1);
  input[0] = 0x00;
  input.set(leaf, 1);
  const digest = sha256Once(input);
  // A plain Uint8Array view (Node's one-shot hash answers a Buffer), as the incremental hash gave.
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
}

// Reused for every node hash: 0x01 || left || right is always 65 bytes.
const nodeInput = new Uint8Array(65);
nodeInput[0] = 0x01;

/** nodeHash = SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== 32 || right.length !== 32) {
    return createSha256().update(NODE_PREFIX).update(left).update(right).digest();
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return sha256Once(nodeInput);
}

/** SHA-256 of the empty string: the hash of a tree with no leaves. */
export function emptyRootHash(): Uint8Array {
  return createSha256().digest();
}

/**
 * The Merkle Tree Hash of `leafHashes` (already hashed with hashLeaf). The tree splits at the
 * largest power of two smaller than the size, as RFC 6962 defines; this iterative form folds
 * complete subtrees left to right and gives the same root.
 */
export function rootFromLeafHashes(leafHashes: ReadonlyArray<Uint8Array>): Uint8Array {
  requireLeafHashes(leafHashes, 'rootFromLeafHashes leafHashes');
  const size = leafHashes.length;
  if (size === 0) return emptyRootHash();
  // Stack of complete subtree roots; stack[i] covers 2^heights[i] leaves.
  const stack: Uint8Array[] = [];
  const heights: number[] = [];
  for (let index = 0; index < size; index++) {
    let node = leafHashes[index]!;
    let height = 0;
    while (heights.length > 0 && heights[heights.length - 1] === height) {
      node = hashChildren(stack.pop()!, node);
      heights.pop();
      height++;
    }
    stack.push(node);
    heights.push(height);
  }
  let root = stack.pop()!;
  while (stack.length > 0) root = hashChildren(stack.pop()!, root);
  return root;
}
