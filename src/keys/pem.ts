/** RFC 7468 (textual encodings) and RFC 8410 (Ed25519 in SPKI and PKCS #8): reading key files without a DER library. */
import { KeyError } from '../errors.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';

/** DER of the algorithm identifier id-Ed25519 (1.3.101.112), RFC 8410 section 3. */
const ED25519_OID = [0x06, 0x03, 0x2b, 0x65, 0x70];

/** SubjectPublicKeyInfo of an Ed25519 key: these 12 bytes, then the 32-byte key (RFC 8410 section 4). */
export const ED25519_SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, ...ED25519_OID, 0x03, 0x21, 0x00);

/** Wraps DER in an RFC 7468 PEM block with 64-character lines. */
export function formatPem(label: string, der: Uint8Array): string {
  const body = encodeBase64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/**
 * Reads the one PEM block in `text` and returns its label and DER bytes (RFC 7468 section 2,
 * lax parsing of white space between lines; the base64 itself is strict). Text before the block
 * and after it is not allowed: a key file holds one key.
 */
export function parsePem(text: string): { label: string; der: Uint8Array } | undefined {
  const match = /^\s*-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END ([A-Z0-9 ]+)-----\s*$/.exec(text);
  if (match === null || match[1] !== match[3]) return undefined;
  const der = decodeBase64(match[2]!.replace(/\s+/g, ''));
  if (der === undefined || der.length === 0) return undefined;
  return { label: match[1]!, der };
}

/** One DER tag-length-value, or undefined when it does not fit in `der` from `offset`. */
function readTlv(der: Uint8Array, offset: number): { tag: number; start: number; end: number } | undefined {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) return undefined;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) {
      const byte = der[start + i];
      if (byte === undefined) return undefined;
      length = length * 256 + byte;
    }
    start += count;
  }
  const end = start + length;
  return end <= der.length ? { tag, start, end } : undefined;
}

/**
 * The algorithm OID (its DER TLV bytes) of an SPKI (`SEQUENCE { SEQUENCE { OID, ... }, BIT
 * STRING }`) or a PKCS #8 key (`SEQUENCE { INTEGER, SEQUENCE { OID, ... }, OCTET STRING }`), so an
 * RSA or EC key gets ERR_KEY_UNSUPPORTED rather than a vague failure. Undefined when the DER does
 * not have that outline.
 */
function algorithmOid(der: Uint8Array, kind: 'spki' | 'pkcs8'): Uint8Array | undefined {
  const outer = readTlv(der, 0);
  if (outer === undefined || outer.tag !== 0x30 || outer.end !== der.length) return undefined;
  let offset = outer.start;
  if (kind === 'pkcs8') {
    const version = readTlv(der, offset);
    if (version === undefined || version.tag !== 0x02) return undefined;
    offset = version.end;
  }
  const algorithm = readTlv(der, offset);
  if (algorithm === undefined || algorithm.tag !== 0x30) return undefined;
  const oid = readTlv(der, algorithm.start);
  if (oid === undefined || oid.tag !== 0x06 || oid.end > algorithm.end) return undefined;
  return der.subarray(algorithm.start, oid.end);
}

/** Throws unless `der` is an SPKI or PKCS #8 structure naming Ed25519. */
export function requireEd25519(der: Uint8Array, kind: 'spki' | 'pkcs8'): void {
  const oid = algorithmOid(der, kind);
  const what = kind === 'spki' ? 'public key' : 'private key';
  if (oid === undefined) throw new KeyError('ERR_KEY_INVALID', `${what} is not a DER ${kind === 'spki' ? 'SubjectPublicKeyInfo' : 'PKCS #8'} structure`);
  if (oid.length !== ED25519_OID.length || oid.some((byte, i) => byte !== ED25519_OID[i])) {
    throw new KeyError('ERR_KEY_UNSUPPORTED', `${what} is not an Ed25519 key; runprint receipts are signed with Ed25519`);
  }
}
