/** RFC 8785 section 3.2 (JCS) over RFC 7493 I-JSON: canonical JSON text of docs/SPEC.md section 3.4. */
import type { JsonValue } from './json-value.ts';
import { readMaxDepth } from './limits.ts';
import { assertWellFormed } from './lone-surrogates.ts';
import { normalize } from './normalize.ts';

export interface CanonicalizeOptions {
  /** Deepest nesting accepted; the root array or object is depth 1. Default 128, at most 1000. */
  maxDepth?: number;
}

const encoder = new TextEncoder();

/**
 * The RFC 8785 canonical text of `value`: no whitespace, members sorted by UTF-16 code units,
 * strings as ECMAScript JSON.stringify writes them, numbers as Number::toString (-0 as 0).
 * `value` is a tree from parseJson or an in-process value (SPEC 3.5); both are validated in the
 * same single pass, and anything without an exact JSON form is a JsonError with its path.
 *
 * This is the hot path. The pass copies the value into a fresh tree whose members are inserted
 * in canonical order, and one native JSON.stringify writes it: for such a tree its output is the
 * RFC 8785 text. Two cases fall back to the sorted writer below: member names that start with a
 * digit (engines list integer-like names first, in numeric order) and a toJSON method installed on
 * Object.prototype or Array.prototype (JSON.stringify would call it on the copy). Lone surrogates
 * are found in the output: JSON.stringify writes each as \udXXX, so a text without "\ud" has none.
 */
export function canonicalize(value: unknown, options?: CanonicalizeOptions): string {
  const normalized = normalize(value, readMaxDepth(options?.maxDepth), false);
  const tree = normalized.value;
  const text =
    normalized.digitNames || prototypesHaveToJSON() ? writeSorted(tree) : JSON.stringify(tree);
  // "\ud" can also come from a backslash followed by "ud" in the data; the check then passes.
  if (text.includes('\\ud')) assertWellFormed(tree);
  return text;
}

/** The UTF-8 bytes of canonicalize(value) (RFC 8785 section 3.2.4). */
export function canonicalBytes(value: unknown, options?: CanonicalizeOptions): Uint8Array {
  return encoder.encode(canonicalize(value, options));
}

function prototypesHaveToJSON(): boolean {
  return (
    typeof (Object.prototype as { toJSON?: unknown }).toJSON === 'function' ||
    typeof (Array.prototype as { toJSON?: unknown }).toJSON === 'function'
  );
}

/**
 * Writes an already validated tree member by member, sorting names itself. Slower than the native
 * writer, and used only where the native writer's order or toJSON lookups cannot be trusted.
 */
export function writeSorted(value: JsonValue): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out += ',';
      out += writeSorted(value[index]!);
    }
    return out + ']';
  }
  // The default sort compares UTF-16 code units, the order RFC 8785 section 3.2.3 asks for.
  const names = Object.keys(value).sort();
  let out = '{';
  for (let index = 0; index < names.length; index++) {
    const name = names[index]!;
    if (index > 0) out += ',';
    out += JSON.stringify(name) + ':' + writeSorted(value[name]!);
  }
  return out + '}';
}
