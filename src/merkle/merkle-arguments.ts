/** Argument checks of the public Merkle functions: hashes are bytes, not hex or base64 text (a TypeError, not a silent false). */

/** A hash or leaf given as bytes. */
export function requireHashBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array${typeof value === 'string' ? ', not text (decode hex or base64 first)' : ''}`);
  }
}

/** A list of hashes, each bytes (proofs: at most 63 entries, so each is checked). */
export function requireHashList(value: unknown, what: string): asserts value is ReadonlyArray<Uint8Array> {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array of Uint8Array hashes`);
  for (const hash of value) requireHashBytes(hash, `each of ${what}`);
}

/** A list of leaf hashes; only its type is checked here, not each of its possibly millions of entries. */
export function requireLeafHashes(value: unknown, what: string): asserts value is ReadonlyArray<Uint8Array> {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array of Uint8Array leaf hashes`);
}
