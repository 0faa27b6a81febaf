/** docs/SPEC.md section 12.1: the output digest, SHA-256(tag("output") || JCS(output)), and the raw body digest. */
import { sha256, sha256Once } from '../hash/sha256.ts';
import { digestSet, domainTag, type DigestSet } from '../identity/digest.ts';
import { canonicalize } from '../jcs/index.ts';
import type { JsonValue } from '../jcs/json-value.ts';

/** tag("output"): the 19 ASCII bytes `runprint/v1/output` and one 0x00 (SPEC 5.1). */
const OUTPUT_TAG = domainTag('output');

/** SPEC 12.1: the digest of an assembled output value. */
export function outputDigest(output: JsonValue): DigestSet {
  return digestSet(sha256(OUTPUT_TAG, canonicalize(output)));
}

/** SPEC 12.1: plain SHA-256 of the body bytes exactly as received (what `sha256sum` prints). */
export function rawDigest(body: Uint8Array): DigestSet {
  return digestSet(sha256Once(body));
}
