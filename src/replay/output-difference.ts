/**
 * Where two assembled outputs (SPEC 12) first differ (docs/REPLAY.md section 4): the JSON path in
 * the output (which choice, message, content block or tool call), and inside a string the
 * character offset and the range of words that differ, with a word-level edit distance. Words,
 * not tokens: runprint has no provider's tokenizer, so it does not pretend to token positions.
 */
import { formatNormalizedPath } from '../errors.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { isJsonObject, type JsonValue } from '../jcs/json-value.ts';

export interface TextDifference {
  /** UTF-16 offset of the first differing character (the length of the common prefix). */
  offset: number;
  /** Index of the first differing word, and the words that differ in each (from the end, the common suffix is left out). */
  words: { from: number; a: number; b: number };
  /** Word-level Levenshtein distance, and 1 - distance / longer length (null when too long to compute). */
  editDistance: number | null;
  similarity: number | null;
}

/**
 * `text` in the words of the commands' text output: ` at character N, word index W: A words of a
 * against B of b differ, word similarity S`. The word index counts from 0, as `words.from` does.
 */
export function describeTextDifference(text: TextDifference): string {
  const count = (n: number) => `${n} word${n === 1 ? '' : 's'}`;
  return ` at character ${text.offset}, word index ${text.words.from}: ${count(text.words.a)} of a against ${text.words.b} of b differ${text.similarity === null ? '' : `, word similarity ${text.similarity}`}`;
}

export interface OutputDifference {
  /** RFC 9535 normalized path in the output value where the outputs first differ. */
  path: string;
  /** `changed`: both have a value there; `added`/`removed`: only B / only A has it. */
  change: 'changed' | 'added' | 'removed';
  /** When both values at `path` are strings: where in the text. */
  text?: TextDifference;
}

/** Word-level edit distance is quadratic: above this many word pairs (of the differing middles) it is not computed. */
const MAX_EDIT_CELLS = 4_000_000;

function same(a: JsonValue, b: JsonValue): boolean {
  return canonicalize(a) === canonicalize(b);
}

function words(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/gu) ?? [];
}

function editDistance(a: readonly string[], b: readonly string[]): number | null {
  if (a.length * b.length > MAX_EDIT_CELLS) return null;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Where two texts first differ, and how much. */
export function textDifference(a: string, b: string): TextDifference {
  let offset = 0;
  while (offset < a.length && offset < b.length && a[offset] === b[offset]) offset++;
  const wordsA = words(a);
  const wordsB = words(b);
  let from = 0;
  while (from < wordsA.length && from < wordsB.length && wordsA[from] === wordsB[from]) from++;
  let tail = 0;
  while (tail < wordsA.length - from && tail < wordsB.length - from && wordsA[wordsA.length - 1 - tail] === wordsB[wordsB.length - 1 - tail]) tail++;
  // The common beginning and end add nothing to the distance: only the middle is compared (quadratic).
  const distance = editDistance(wordsA.slice(from, wordsA.length - tail), wordsB.slice(from, wordsB.length - tail));
  const longer = Math.max(wordsA.length, wordsB.length);
  return {
    offset,
    words: { from, a: wordsA.length - from - tail, b: wordsB.length - from - tail },
    editDistance: distance,
    similarity: distance === null ? null : longer === 0 ? 1 : Math.round((1 - distance / longer) * 1000) / 1000,
  };
}

/**
 * The first place, in document order (object members sorted by name, array elements in order),
 * where output B differs from output A; undefined when they are equal.
 */
export function firstOutputDifference(a: JsonValue, b: JsonValue, path: Array<string | number> = []): OutputDifference | undefined {
  if (same(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let index = 0; index < Math.max(a.length, b.length); index++) {
      if (index >= a.length) return { path: formatNormalizedPath([...path, index]), change: 'added' };
      if (index >= b.length) return { path: formatNormalizedPath([...path, index]), change: 'removed' };
      const found = firstOutputDifference(a[index]!, b[index]!, [...path, index]);
      if (found !== undefined) return found;
    }
  } else if (isJsonObject(a) && isJsonObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (!Object.hasOwn(b, key)) return { path: formatNormalizedPath([...path, key]), change: 'removed' };
      if (!Object.hasOwn(a, key)) return { path: formatNormalizedPath([...path, key]), change: 'added' };
      const found = firstOutputDifference(a[key]!, b[key]!, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  const difference: OutputDifference = { path: formatNormalizedPath(path), change: 'changed' };
  if (typeof a === 'string' && typeof b === 'string') difference.text = textDifference(a, b);
  return difference;
}
