/** C2SP signed-note, "Signatures" and "Ed25519 signatures": the verifier key text of an Ed25519 key. */
import { KeyError } from '../errors.ts';
import { sha256Once, toHex } from '../hash/sha256.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';

/** Signature type identifier byte of Ed25519 signatures (signed-note, "Signature types"). */
const ED25519_TYPE = 0x01;
const encoder = new TextEncoder();

/** Key names are non-empty and contain no Unicode space and no `+` (signed-note, "Format"). */
export function isKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && name.isWellFormed();
}

/**
 * key ID = SHA-256(key name || 0x0A || type || 32-byte public key)[:4], as 8 lowercase hex digits;
 * the type is 0x01 for signed-note Ed25519 keys (the default) and 0x04 for cosignature/v1 keys.
 */
export function noteKeyHash(name: string, raw: Uint8Array, type: number = ED25519_TYPE): string {
  const nameBytes = encoder.encode(name);
  const input = new Uint8Array(nameBytes.length + 2 + raw.length);
  input.set(nameBytes, 0);
  input[nameBytes.length] = 0x0a;
  input[nameBytes.length + 1] = type;
  input.set(raw, nameBytes.length + 2);
  return toHex(sha256Once(input).subarray(0, 4));
}

/**
 * `<name>+<key hash>+<base64(0x01 || key)>`: the form golang.org/x/mod/sumdb/note's NewVerifier
 * reads, with the key hash as 8 lowercase hex digits and standard, padded base64.
 */
export function formatVerifierKey(name: string, raw: Uint8Array): string {
  if (!isKeyName(name)) throw new KeyError('ERR_KEY_INVALID', 'key name must be non-empty and contain no spaces and no "+"');
  if (raw.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  return `${name}+${noteKeyHash(name, raw)}+${encodeBase64(Uint8Array.of(ED25519_TYPE, ...raw))}`;
}

/** Parses a verifier key and checks its key hash against its name and key. */
export function parseVerifierKey(text: string): { name: string; raw: Uint8Array } {
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  const name = text.slice(0, first);
  const hash = text.slice(first + 1, second);
  const data = first < 0 || second < 0 ? undefined : decodeBase64(text.slice(second + 1));
  if (!isKeyName(name) || !/^[0-9a-fA-F]{8}$/.test(hash) || data === undefined) {
    throw new KeyError('ERR_KEY_INVALID', 'verifier key is not of the form <name>+<8 hex digits>+<base64>');
  }
  if (data[0] !== ED25519_TYPE) throw new KeyError('ERR_KEY_UNSUPPORTED', 'verifier key is not an Ed25519 (type 0x01) key');
  const raw = data.subarray(1);
  if (raw.length !== 32) throw new KeyError('ERR_KEY_INVALID', 'verifier key must hold a 32-byte Ed25519 key');
  if (noteKeyHash(name, raw) !== hash.toLowerCase()) throw new KeyError('ERR_KEY_INVALID', 'verifier key hash does not match its name and key');
  return { name, raw: Uint8Array.from(raw) };
}
