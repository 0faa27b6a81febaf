/** docs/SPEC.md section 2.5 (draft): fresh random salts for the components of a composition. */
import { capName } from '../errors.ts';
import { fromHex, toHex } from '../hash/sha256.ts';
import { isSaltHex, REQUEST_COMPONENTS, type RequestComponentName, type Salts } from './composition.ts';

/** Bytes in a salt: 256 bits, so a salted digest cannot be matched by guessing the salt too. */
export const SALT_BYTES = 32;

/**
 * A fresh salt for each named request component, from the platform's cryptographically secure
 * random generator (`crypto.getRandomValues`). Keep the result with the content it salts, never
 * with the receipt: whoever holds a salt and a guess can confirm the guess.
 */
export function createSalts(names: Iterable<string>): Salts {
  if (typeof names === 'string' || typeof (names as { [Symbol.iterator]?: unknown } | null | undefined)?.[Symbol.iterator] !== 'function') {
    throw new TypeError('createSalts takes an array (or other iterable) of component names, such as ["system", "input"]');
  }
  const salts: Salts = {};
  for (const name of names) {
    if (!(REQUEST_COMPONENTS as readonly string[]).includes(name)) throw new RangeError(`"${capName(name)}" is not a request component`);
    if (salts[name as RequestComponentName] !== undefined) throw new RangeError(`component "${name}" is named twice`);
    const salt = new Uint8Array(SALT_BYTES);
    globalThis.crypto.getRandomValues(salt);
    salts[name as RequestComponentName] = toHex(salt);
  }
  return salts;
}

/** The 32 bytes of a salt written as 64 lowercase hex digits; RangeError for anything else. */
export function saltBytes(hex: string): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError('a salt must be a string of 64 lowercase hex digits');
  if (!isSaltHex(hex)) throw new RangeError('a salt must be 64 lowercase hex digits');
  return fromHex(hex)!;
}
