/** The naive recursive definitions of RFC 9162 section 2.1.1, kept only to check the fast code. */
import { createHash } from 'node:crypto';

/** SHA-256 of the concatenation of `parts`, with node:crypto (independent of src/hash). */
export function sha(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** MTH over leaf hashes, as RFC 9162 2.1.1 writes it: split at the largest power of two below n. */
export function referenceRoot(leafHashes: Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return sha();
  if (leafHashes.length === 1) return leafHashes[0]!;
  let k = 1;
  while (k * 2 < leafHashes.length) k *= 2;
  return sha(new Uint8Array([1]), referenceRoot(leafHashes.slice(0, k)), referenceRoot(leafHashes.slice(k)));
}

/** PATH(m, D[n]) exactly as RFC 9162 2.1.3.1 defines it; subtree roots are memoized per range. */
export function referencePath(m: number, leafHashes: Uint8Array[], memo = new Map<string, Uint8Array>(), start = 0, end = leafHashes.length): Uint8Array[] {
  const n = end - start;
  if (n === 1) return [];
  let k = 1;
  while (k * 2 < n) k *= 2;
  const root = (from: number, to: number) => {
    const key = `${from}:${to}`;
    let hash = memo.get(key);
    if (hash === undefined) memo.set(key, (hash = referenceRoot(leafHashes.slice(from, to))));
    return hash;
  };
  if (m < k) return [...referencePath(m, leafHashes, memo, start, start + k), root(start + k, end)];
  return [...referencePath(m - k, leafHashes, memo, start + k, end), root(start, start + k)];
}
