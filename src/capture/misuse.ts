/**
 * Programmer errors of runprint's capture APIs (a bad option, a callback that is not a function,
 * an argument of the wrong type): thrown at once as `TypeError`s with Node's own codes, so a
 * caller can match on `code` as on Node's: `ERR_INVALID_ARG_TYPE` for a value of the wrong type,
 * `ERR_INVALID_ARG_VALUE` for a value of the right type that is not allowed (an unknown option or
 * name, a URL of the wrong form). Pure: runprint/capture (captureFetch) and runprint/capture-node
 * (runprintFetch, withParent, ...) throw the same errors.
 */
import { closestName } from '../io/closest-name.ts';

export type MisuseCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE';

/** A TypeError with a stable `code`. */
export type MisuseError = TypeError & { readonly code: MisuseCode };

function misuse(code: MisuseCode, message: string): MisuseError {
  const error = new TypeError(message) as TypeError & { code: MisuseCode };
  error.code = code;
  return error;
}

/** A value of the wrong type (not a string, not a function, ...): `ERR_INVALID_ARG_TYPE`. */
export function wrongType(message: string): MisuseError {
  return misuse('ERR_INVALID_ARG_TYPE', message);
}

/** A value of the right type that is not allowed: `ERR_INVALID_ARG_VALUE`. */
export function wrongValue(message: string): MisuseError {
  return misuse('ERR_INVALID_ARG_VALUE', message);
}

/**
 * The known name a mistyped one most likely meant: the nearest by edit distance when at most a
 * third of it differs (`durabilty`: `durability`, io/closest-name.ts), else the longest known
 * name it starts with (`dataDir`: `data`); undefined when none is near.
 */
export function closestOption(word: string, names: readonly string[]): string | undefined {
  const near = closestName(word, names);
  if (near !== undefined || word.length > 64) return near;
  const lower = word.toLowerCase();
  let prefix: string | undefined;
  for (const name of names) if (lower.startsWith(name.toLowerCase()) && name.length > (prefix?.length ?? 0)) prefix = name;
  return prefix;
}

/**
 * An option name `of` (a function's name) does not have, refused: ERR_INVALID_ARG_VALUE naming
 * the nearest one, or listing them all. Undefined when every name of `options` is known.
 */
export function unknownOption(options: object, names: readonly string[], of: string): MisuseError | undefined {
  for (const name of Object.keys(options)) {
    if (names.includes(name)) continue;
    const meant = closestOption(name, names);
    return wrongValue(`options.${name.length > 64 ? `${name.slice(0, 64)}\u2026` : name} is not an option of ${of}${meant === undefined ? ` (its options: ${names.join(', ')})` : `: did you mean ${meant}?`}`);
  }
  return undefined;
}

/** How a value that is not what was asked for is named in a message: its type, or null or an array. */
export function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
