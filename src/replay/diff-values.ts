/**
 * `runprint diff --values` and `runs diff --values` (CLI and `GET /v1/runs/diff?values=1`): the
 * differing values of two compositions or requests, cut and escaped.
 */
import type { Difference } from '../identity/diff.ts';
import type { RunStorage, StoredRun } from '../store/run-storage.ts';
import { STEP_ELEMENTS } from '../capture/large-run.ts';
import { nextTurn } from '../io/steps.ts';
import { isUnsafeCharacter } from '../io/printable.ts';
import { compareRuns, type CompositionDiffer, type RunsDiff } from './compare-runs.ts';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses an RFC 9535 normalized path as errors.ts writes it (names uncut) back into segments. */
export function parseNormalizedPath(text: string): Array<string | number> | undefined {
  const segments: Array<string | number> = [];
  if (text[0] !== '$') return undefined;
  let i = 1;
  while (i < text.length) {
    if (text[i] !== '[') return undefined;
    i++;
    if (text[i] !== "'") {
      const end = text.indexOf(']', i);
      if (end < 0) return undefined;
      segments.push(Number(text.slice(i, end)));
      i = end + 1;
      continue;
    }
    i++;
    let name = '';
    while (i < text.length && text[i] !== "'") {
      if (text[i] !== '\\') {
        name += text[i++];
        continue;
      }
      const escape = text[i + 1];
      const simple: Record<string, string> = { "'": "'", '\\': '\\', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (escape !== undefined && simple[escape] !== undefined) {
        name += simple[escape];
        i += 2;
      } else if (escape === 'u') {
        name += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else return undefined;
    }
    if (text[i] !== "'" || text[i + 1] !== ']') return undefined;
    segments.push(name);
    i += 2;
  }
  return segments;
}

function valueAt(root: unknown, segments: ReadonlyArray<string | number>): { value: unknown } | undefined {
  let value = root;
  for (const segment of segments) {
    if (typeof segment === 'number' ? !Array.isArray(value) || segment >= value.length : !isObject(value) || !Object.hasOwn(value, segment)) {
      return undefined;
    }
    value = (value as Record<string | number, unknown>)[segment];
  }
  return { value };
}

export const MAX_VALUE_CHARACTERS = 80;

/**
 * A value as `--values` shows it: its JSON text with control and reordering characters written as
 * `\uXXXX`, cut after at most 80 characters (an escape is never split) and marked with `…`.
 */
export function showValue(value: unknown): string {
  return showJsonText(JSON.stringify(value));
}

/**
 * JSON text as `--values` shows it (showValue; `runs group --values` shows stored content so):
 * as it is, quotes and backslashes unchanged, but control and reordering characters written as
 * `\uXXXX` (inside a JSON string, the same value) and cut after at most 80 characters.
 */
export function showJsonText(text: string): string {
  let out = '';
  let length = 0;
  for (const character of text) {
    // Written as JSON escapes (inside a JSON string, the same value): a character beyond U+FFFF,
    // a tag character say, as its two UTF-16 code units.
    const shown = isUnsafeCharacter(character) ? [...Array(character.length).keys()].map((unit) => `\\u${character.charCodeAt(unit).toString(16).padStart(4, '0')}`).join('') : character;
    const size = shown === character ? 1 : shown.length;
    if (length + size > MAX_VALUE_CHARACTERS) return `${out}…`;
    out += shown;
    length += size;
  }
  return out;
}

/**
 * The values of one difference between two compositions: A's at its place in A (for a list
 * element, at index `from`), B's at its place in B. A salt is never shown, nor a moved element.
 */
export function valuesOf(difference: Difference, a: unknown, b: unknown): { a?: string; b?: string } | undefined {
  if (difference.change === 'moved') return undefined;
  const segments = parseNormalizedPath(difference.path);
  if (segments === undefined || segments[0] === 'salts') return undefined;
  const out: { a?: string; b?: string } = {};
  if (difference.change !== 'added') {
    const inA = [...segments];
    if (difference.change === 'changed' && difference.from !== undefined && typeof inA[1] === 'number') inA[1] = difference.from;
    const found = valueAt(a, inA);
    if (found !== undefined) out.a = showValue(found.value);
  }
  if (difference.change !== 'removed') {
    const found = valueAt(b, segments);
    if (found !== undefined) out.b = showValue(found.value);
  }
  return out;
}

/** A difference with the values at its place when they were asked for and are stored. */
export type ShownDifference = Difference & { values?: { a?: string; b?: string } };

/**
 * Two stored runs compared, as `runs diff --json` prints it and `GET /v1/runs/diff` answers it:
 * with `values`, each difference carries the values at its place, but only when every piece of
 * both runs' content is stored (`compared` is then `content`); `valuesShown` says whether they are.
 */
export async function runsDiffView(storage: RunStorage, a: StoredRun, b: StoredRun, values: boolean, differ?: CompositionDiffer): Promise<{ diff: RunsDiff & { differences: ShownDifference[] }; valuesShown: boolean }> {
  const { diff, compositions } = await compareRuns(storage, a, b, differ);
  if (!values || compositions === undefined) return { diff, valuesShown: false };
  const differences: ShownDifference[] = [];
  for (const [index, difference] of diff.differences.entries()) {
    const shown = valuesOf(difference, compositions.a, compositions.b);
    differences.push(shown === undefined ? difference : { ...difference, values: shown });
    // Many differences (two large runs): a turn of the event loop after each STEP_ELEMENTS.
    if ((index + 1) % STEP_ELEMENTS === 0) await nextTurn();
  }
  return { diff: { ...diff, differences }, valuesShown: true };
}
