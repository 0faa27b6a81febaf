/**
 * Programmer errors of runprint/capture-node (a bad option, a callback that is not a function):
 * thrown at once as `TypeError`s with Node's own codes, so a caller can match on `code` as on
 * Node's: `ERR_INVALID_ARG_TYPE` for a value of the wrong type, `ERR_INVALID_ARG_VALUE` for a
 * value of the right type that is not allowed (an unknown option or name, a URL of the wrong form).
 */

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

/** Edit distance counting a swap of two neighbouring letters as one edit (`durabilty` is one from `durability`). */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current[j] = d;
    }
    [before, previous] = [previous, current];
  }
  return previous[b.length]!;
}

/**
 * The known name a mistyped one most likely meant: the nearest by edit distance when at most a
 * third of it differs (`durabilty`: `durability`), else the longest known name it starts with
 * (`dataDir`: `data`); undefined when none is near. (As the command line's closest-name helper,
 * which this layer may not import.)
 */
export function closestName(word: string, names: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = distance(lower, name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.max(word.length, best.length) / 3))) return best;
  let prefix: string | undefined;
  for (const name of names) if (lower.startsWith(name.toLowerCase()) && name.length > (prefix?.length ?? 0)) prefix = name;
  return prefix;
}
