/** docs/SPEC.md section 6: identity strings, their one canonical spelling, and a strict parser. */
import { IdentityStringError } from '../errors.ts';
import { fromHex, toHex } from '../hash/sha256.ts';

/** `req` names a request identity, `run` a run identity (SPEC 5.5). */
export type IdentityKind = 'req' | 'run';

export interface ParsedIdentity {
  kind: IdentityKind;
  version: 1;
  algorithm: 'sha256';
  digest: Uint8Array;
}

/**
 * Formats `rp-<kind>-v1-sha256-<64 lowercase hex digits>`: the scheme `rp`, the kind, the spec
 * version, the digest algorithm and the digest. Only [a-z0-9-] occur, so the string is safe in a
 * URL path segment, a query value and a file name on every common file system.
 */
export function formatIdentity(kind: IdentityKind, digest: Uint8Array): string {
  if (kind !== 'req' && kind !== 'run') throw new RangeError('identity kind must be "req" or "run"');
  if (!(digest instanceof Uint8Array)) throw new TypeError('identity digest must be a Uint8Array of 32 bytes (hex text: decode it first)');
  if (digest.length !== 32) throw new RangeError('a v1 identity digest is 32 bytes');
  return `rp-${kind}-v1-sha256-${toHex(digest)}`;
}

// Loose shape first, so a future version or algorithm gets its own error; then the exact spelling.
const SHAPE = /^rp-([a-z]+)-v([0-9]+)-([a-z0-9]+)-([0-9a-zA-Z]*)$/;

/** Parses an identity string; rejects every spelling but the canonical one. */
export function parseIdentity(text: string): ParsedIdentity {
  if (typeof text !== 'string') throw new TypeError('identity must be a string');
  const match = SHAPE.exec(text);
  if (match === null) {
    throw new IdentityStringError('ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>');
  }
  const [, kind, version, algorithm, hex] = match as unknown as [string, string, string, string, string];
  if (kind !== 'req' && kind !== 'run') {
    throw new IdentityStringError('ERR_IDENTITY_MALFORMED', 'identity kind must be "req" or "run"');
  }
  if (version !== '1') {
    if (/^[1-9][0-9]*$/.test(version)) {
      throw new IdentityStringError('ERR_IDENTITY_UNSUPPORTED_VERSION', 'identity version is not supported; this implementation reads v1');
    }
    throw new IdentityStringError('ERR_IDENTITY_MALFORMED', 'identity version must be a decimal number without leading zeros');
  }
  if (algorithm !== 'sha256') {
    throw new IdentityStringError('ERR_IDENTITY_UNSUPPORTED_VERSION', 'identity algorithm is not supported; v1 uses sha256');
  }
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new IdentityStringError('ERR_IDENTITY_MALFORMED', 'identity digest must be 64 lowercase hexadecimal digits');
  }
  return { kind, version: 1, algorithm: 'sha256', digest: fromHex(hex)! };
}
