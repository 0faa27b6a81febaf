/** runprint/merkle: RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs. */
export { emptyRootHash, hashChildren, hashLeaf, rootFromLeafHashes } from './rfc6962.ts';
export { proveInclusion, verifyInclusion } from './inclusion.ts';
export {
  completeSubtrees,
  consistencyProofRanges,
  inclusionProofRanges,
  proveConsistency,
  rootHashAt,
  subtreeHash,
  subtreeHashFrom,
  verifyConsistency,
} from './consistency.ts';
export type { LeafRange, SubtreeNode } from './consistency.ts';
