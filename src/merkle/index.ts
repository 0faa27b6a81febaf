/** runprint/merkle: RFC 6962 / RFC 9162 Merkle tree hashing and inclusion proofs. */
export { emptyRootHash, hashChildren, hashLeaf, rootFromLeafHashes } from './rfc6962.ts';
export { proveInclusion, verifyInclusion } from './inclusion.ts';
