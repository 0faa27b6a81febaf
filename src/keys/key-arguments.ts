/**
 * Argument checks for the public functions that take keys, bytes or options objects: a wrong type
 * is a programmer error, a TypeError that says what was expected, thrown before WebCrypto or a
 * parser sees the value and fails with a message about something else.
 */
import type { PublicKey, SigningKey } from './keys.ts';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function cryptoKeyType(value: unknown): unknown {
  return isObject(value) && isObject(value['cryptoKey']) ? value['cryptoKey']['type'] : undefined;
}

/** What a value is, for a message: never the value itself (it may be a key). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return 'an object of another shape';
  return `a ${typeof value}`;
}

/** A PublicKey from parsePublicKey or importPublicKey. */
export function requirePublicKey(value: unknown, what: string): asserts value is PublicKey {
  if (isObject(value) && typeof value['keyId'] === 'string' && value['raw'] instanceof Uint8Array && cryptoKeyType(value) === 'public') return;
  if (typeof value === 'string' || value instanceof Uint8Array) {
    throw new TypeError(`${what} must be a public key object: parse key text (PEM, JWK or verifier key) with parsePublicKey first`);
  }
  if (cryptoKeyType(value) === 'private') throw new TypeError(`${what} must be a public key object, not a signing key: give its publicKey`);
  throw new TypeError(`${what} must be a public key object from parsePublicKey or importPublicKey, not ${describe(value)}`);
}

/** A SigningKey from parsePrivateKey. */
export function requireSigningKey(value: unknown, what: string): asserts value is SigningKey {
  if (isObject(value) && typeof value['keyId'] === 'string' && cryptoKeyType(value) === 'private') return;
  if (typeof value === 'string' || value instanceof Uint8Array) {
    throw new TypeError(`${what} must be a signing key object: parse the PEM text with parsePrivateKey first`);
  }
  if (cryptoKeyType(value) === 'public') throw new TypeError(`${what} must be a signing key object from parsePrivateKey, not a public key`);
  throw new TypeError(`${what} must be a signing key object from parsePrivateKey, not ${describe(value)}`);
}

/** Bytes: a Uint8Array (a Node Buffer is one). */
export function requireBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (value instanceof Uint8Array) return;
  const hint = typeof value === 'string' ? ' (encode text with TextEncoder, or read the file without an encoding)' : '';
  throw new TypeError(`${what} must be a Uint8Array, not ${describe(value)}${hint}`);
}

/** A string. */
export function requireString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, not ${describe(value)}`);
}

/** An object (not null, not an array): an options object, or facts. */
export function requireOptions(value: unknown, what: string): asserts value is Record<string, unknown> {
  if (!isObject(value) || Array.isArray(value)) throw new TypeError(`${what} must be an object, not ${describe(value)}`);
}

/**
 * A function, when given (undefined: none). A TypeError carrying Node's code for a value of the
 * wrong type, `ERR_INVALID_ARG_TYPE`, as runprint/capture-node's argument errors do.
 */
export function requireOptionalFunction(value: unknown, what: string): asserts value is ((...args: never[]) => unknown) | undefined {
  if (value === undefined || typeof value === 'function') return;
  const error = new TypeError(`${what} must be a function or undefined, not ${describe(value)}`) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  throw error;
}
