/**
 * The long arrays of a value, found for the serializers that make them in steps (canonical-steps.ts:
 * canonicalBytesInSteps; stringify-steps.ts: stringifyInSteps): an outline of the value in which
 * each stands as a placeholder string, serialized in one go, and the arrays a slice at a time.
 */

/** Containers this deep (the root is 1) are not searched for long arrays: serialized with their parent. */
const SEARCH_DEPTH = 16;

/**
 * Plain data canonicalize and JSON.stringify read member by member: an array, or an object of
 * Object.prototype or none, without toJSON.
 */
function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) return true;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A long array found in the value, and its depth (the root is 1). */
export interface LongArray {
  array: readonly unknown[];
  depth: number;
}

/**
 * A copy of the plain containers of `value` around its arrays of more than `step` elements (found
 * at most SEARCH_DEPTH deep), the n-th of them found replaced by the string `placeholder(n)`; and
 * those arrays, in the order found. The placeholders start with a NUL and a random tag.
 */
export function outlineLongArrays(value: unknown, step: number): { outline: unknown; long: LongArray[]; placeholder: (index: number) => string } {
  const tag = `\u0000steps-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}-`;
  const long: LongArray[] = [];
  const skeleton = (input: unknown, depth: number): unknown => {
    if (depth > SEARCH_DEPTH || !isPlainContainer(input)) return input;
    if (Array.isArray(input)) {
      if (input.length > step) {
        long.push({ array: input, depth });
        return `${tag}${long.length - 1}`;
      }
      // map keeps a hole a hole (the serializers read it as they read the original's).
      return input.map((element) => skeleton(element, depth + 1));
    }
    // No prototype: a member named __proto__ is a member here too, as the serializers read it.
    const copy = Object.create(null) as Record<string, unknown>;
    for (const name of Object.keys(input)) copy[name] = skeleton(input[name], depth + 1);
    return copy;
  };
  return { outline: skeleton(value, 1), long, placeholder: (index) => `${tag}${index}` };
}
