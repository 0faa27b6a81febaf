/** docs/RECEIPTS.md section 14.1: Ed25519 keys for receipts, their key id, parsed once into WebCrypto keys. */
import { KeyError } from '../errors.ts';
import { sha256Once, toHex } from '../hash/sha256.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { describe, requireBytes, requireString } from './key-arguments.ts';
import { ED25519_SPKI_PREFIX, formatPem, parsePem, requireEd25519 } from './pem.ts';
import { formatVerifierKey, parseVerifierKey } from './verifier-key.ts';

const ED25519 = { name: 'Ed25519' } as const;

/** A public key ready to verify: parsed and imported once, then reused for every receipt. */
export interface PublicKey {
  /** Lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo (44 bytes for Ed25519). */
  keyId: string;
  /** The 32-byte Ed25519 public key (RFC 8032 encoding). */
  raw: Uint8Array;
  cryptoKey: CryptoKey;
}

/** A private key ready to sign, with its public half. */
export interface SigningKey {
  keyId: string;
  publicKey: PublicKey;
  cryptoKey: CryptoKey;
  /**
   * The same key's Ed25519 signature of `message`, computed at once (Node's `crypto.sign`, which
   * runprint's Node side attaches: store/receipt-key.ts withNodeSigner). Ed25519 is deterministic,
   * so the signature is WebCrypto's byte for byte, at about half its CPU per receipt. Absent (a
   * browser, or a key from parsePrivateKey alone): signing uses WebCrypto.
   */
  signBytes?: (message: Uint8Array) => Uint8Array;
}

/** The files `runprint keygen` writes, as text. */
export interface KeyFiles {
  keyId: string;
  /** PKCS #8, PEM label PRIVATE KEY. Secret. */
  privateKeyPem: string;
  /** SubjectPublicKeyInfo, PEM label PUBLIC KEY (what `openssl pkeyutl -pubin` reads). */
  publicKeyPem: string;
  /** RFC 8037 OKP JSON Web Key with `kid` = the key id. */
  publicKeyJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string };
  /** C2SP signed-note verifier key: `<name>+<8 hex key hash>+<base64(0x01 || key)>`. */
  verifierKey: string;
}

function subtle(): SubtleCrypto {
  const value = globalThis.crypto?.subtle;
  if (value === undefined) throw new KeyError('ERR_KEY_UNSUPPORTED', 'this runtime has no WebCrypto (crypto.subtle)');
  return value;
}

/** The key id rule: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo of the public key. */
export function keyIdOf(raw: Uint8Array): string {
  requireBytes(raw, 'keyIdOf raw key');
  return toHex(sha256Once(spkiOf(raw)));
}

function spkiOf(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  const spki = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
  spki.set(ED25519_SPKI_PREFIX, 0);
  spki.set(raw, ED25519_SPKI_PREFIX.length);
  return spki;
}

/** Imports a 32-byte Ed25519 public key. */
export async function importPublicKey(raw: Uint8Array): Promise<PublicKey> {
  requireBytes(raw, 'importPublicKey raw key');
  if (raw.length !== 32) throw new KeyError('ERR_KEY_INVALID', 'an Ed25519 public key is 32 bytes');
  const copy = Uint8Array.from(raw);
  let cryptoKey: CryptoKey;
  try {
    cryptoKey = await subtle().importKey('raw', copy, ED25519, true, ['verify']);
  } catch {
    throw new KeyError('ERR_KEY_INVALID', 'public key is not a valid Ed25519 point');
  }
  return { keyId: keyIdOf(copy), raw: copy, cryptoKey };
}

// Strict: a key file that is not UTF-8 is not a key file.
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The text of a key file given as a string or as its bytes (a Buffer from readFileSync, say). */
function keyText(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be the key file's text (a string or its bytes), not ${describe(value)}`);
  try {
    return decoder.decode(value);
  } catch {
    throw new KeyError('ERR_KEY_INVALID', `${what} is not UTF-8 text`);
  }
}

/**
 * Reads a public key from the text of a key file (a string, or its bytes): a PEM
 * SubjectPublicKeyInfo, a JSON Web Key or a C2SP signed-note verifier key, the three forms
 * `runprint keygen` writes. Key files come from the user, not from the receipt, but are still
 * read strictly.
 */
export async function parsePublicKey(input: string | Uint8Array): Promise<PublicKey> {
  const text = keyText(input, 'public key');
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    const pem = parsePem(text);
    if (pem === undefined) throw new KeyError('ERR_KEY_INVALID', 'public key file is not one well-formed PEM block');
    if (pem.label === 'PRIVATE KEY' || pem.label === 'ENCRYPTED PRIVATE KEY') {
      throw new KeyError('ERR_KEY_INVALID', 'a private key was given where a public key is expected');
    }
    if (pem.label !== 'PUBLIC KEY') throw new KeyError('ERR_KEY_UNSUPPORTED', 'public key PEM label must be PUBLIC KEY');
    requireEd25519(pem.der, 'spki');
    if (pem.der.length !== 44) throw new KeyError('ERR_KEY_INVALID', 'an Ed25519 SubjectPublicKeyInfo is 44 bytes');
    return importPublicKey(pem.der.subarray(12));
  }
  if (trimmed.startsWith('{')) return importPublicKey(rawFromJwk(trimmed));
  if (/^[^\s+]+\+[0-9a-fA-F]{8}\+\S+$/.test(trimmed)) return importPublicKey(parseVerifierKey(trimmed).raw);
  throw new KeyError('ERR_KEY_INVALID', 'public key is not a PEM SubjectPublicKeyInfo, a JWK or a signed-note verifier key');
}

function rawFromJwk(text: string): Uint8Array {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeyError('ERR_KEY_INVALID', 'public key JWK is not JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new KeyError('ERR_KEY_INVALID', 'public key JWK is not a JSON object');
  const { kty, crv, x, d } = jwk as Record<string, unknown>;
  if (kty !== 'OKP' || crv !== 'Ed25519') throw new KeyError('ERR_KEY_UNSUPPORTED', 'JWK is not an Ed25519 key ("kty": "OKP", "crv": "Ed25519")');
  if (d !== undefined) throw new KeyError('ERR_KEY_INVALID', 'a private JWK was given where a public key is expected');
  // RFC 7517: "x" is base64url without padding.
  const raw = typeof x === 'string' && !/[+/=]/.test(x) ? decodeBase64(x) : undefined;
  if (raw === undefined || raw.length !== 32) throw new KeyError('ERR_KEY_INVALID', 'JWK "x" must be the 32-byte key in base64url');
  return raw;
}

/** Reads a PKCS #8 PEM private key (unencrypted; a string, or its bytes) and imports it for signing. */
export async function parsePrivateKey(input: string | Uint8Array): Promise<SigningKey> {
  const text = keyText(input, 'private key');
  const pem = parsePem(text);
  if (pem === undefined) throw new KeyError('ERR_KEY_INVALID', 'private key file is not one well-formed PEM block');
  if (pem.label === 'ENCRYPTED PRIVATE KEY') throw new KeyError('ERR_KEY_UNSUPPORTED', 'encrypted private keys are not supported');
  if (pem.label !== 'PRIVATE KEY') throw new KeyError('ERR_KEY_UNSUPPORTED', 'private key PEM label must be PRIVATE KEY (PKCS #8)');
  requireEd25519(pem.der, 'pkcs8');
  let cryptoKey: CryptoKey;
  let jwk: JsonWebKey;
  try {
    // Imported extractable once, only to derive the public half; the signing key is re-imported
    // non-extractable so it cannot be exported from the object handed out.
    const extractable = await subtle().importKey('pkcs8', Uint8Array.from(pem.der), ED25519, true, ['sign']);
    jwk = await subtle().exportKey('jwk', extractable);
    cryptoKey = await subtle().importKey('pkcs8', Uint8Array.from(pem.der), ED25519, false, ['sign']);
  } catch {
    throw new KeyError('ERR_KEY_INVALID', 'private key is not a valid Ed25519 PKCS #8 key');
  }
  const publicKey = await importPublicKey(decodeBase64(jwk.x ?? '') ?? new Uint8Array());
  return { keyId: publicKey.keyId, publicKey, cryptoKey };
}

/** Generates a new Ed25519 key pair and renders every file `runprint keygen` writes. */
export async function generateKeyFiles(name: string): Promise<KeyFiles> {
  requireString(name, 'generateKeyFiles name');
  const pair = (await subtle().generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle().exportKey('pkcs8', pair.privateKey));
  const raw = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return keyFilesOf(pkcs8, raw, name);
}

/** The PEM (SubjectPublicKeyInfo, label PUBLIC KEY) of a raw Ed25519 public key: what keygen writes as the .pub.pem. */
export function publicKeyPem(raw: Uint8Array): string {
  return formatPem('PUBLIC KEY', spkiOf(raw));
}

/** The key files for a given PKCS #8 private key and its raw public key. */
export function keyFilesOf(pkcs8: Uint8Array, raw: Uint8Array, name: string): KeyFiles {
  requireBytes(pkcs8, 'keyFilesOf pkcs8');
  requireBytes(raw, 'keyFilesOf raw key');
  requireString(name, 'keyFilesOf name');
  const keyId = keyIdOf(raw);
  const x = encodeBase64(raw).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return {
    keyId,
    privateKeyPem: formatPem('PRIVATE KEY', pkcs8),
    publicKeyPem: publicKeyPem(raw),
    publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x, kid: keyId },
    verifierKey: formatVerifierKey(name, raw),
  };
}
