/**
 * canonicalBytes in steps: the same bytes, for a value holding long arrays (a receipt's identity
 * document names every list element of its request: 100,000 digests for a request of 100,000
 * messages), made a slice of each long array at a time, with `pause` awaited between slices, so
 * that the caller's event loop is not held for the whole value (about 50 ms for those 100,000).
 */
import { canonicalBytes, canonicalize } from './canonicalize.ts';
import { DEFAULT_MAX_DEPTH } from './limits.ts';

/** Containers this deep (the root is 1) are not searched for long arrays: canonicalized with their parent. */
const SEARCH_DEPTH = 16;

const encoder = new TextEncoder();

/** A long array found in the value, the placeholder that stands for it in the skeleton, and its depth. */
interface LongArray {
  array: readonly unknown[];
  placeholder: string;
  depth: number;
}

/** A rejection of the caller's `pause`: passed on as it is, never taken for canonicalize's own error. */
class PauseFailed {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** Plain data canonicalize reads member by member: an array, or an object of Object.prototype or none, without toJSON. */
function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) return true;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * canonicalBytes(value), made `step` elements of each array longer than `step` at a time (each
 * slice canonicalized with the depth limit it has in place), `pause` awaited after each slice.
 * Throws what canonicalBytes(value) throws: a value the steps cannot make is made in one go.
 * Rejects with `pause`'s own error, at once, when `pause` rejects or throws.
 */
export async function canonicalBytesInSteps(value: unknown, pause: () => Promise<void>, step: number): Promise<Uint8Array> {
  const tag = `\u0000steps-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}-`;
  const long: LongArray[] = [];
  // A copy of the containers around the long arrays, each long array replaced by a placeholder string.
  const skeleton = (input: unknown, depth: number): unknown => {
    if (depth > SEARCH_DEPTH || !isPlainContainer(input)) return input;
    if (Array.isArray(input)) {
      if (input.length > step) {
        const placeholder = `${tag}${long.length}`;
        long.push({ array: input, placeholder, depth });
        return placeholder;
      }
      return input.map((element) => skeleton(element, depth + 1));
    }
    // No prototype: a member named __proto__ is a member here too, as canonicalize reads it.
    const copy = Object.create(null) as Record<string, unknown>;
    for (const name of Object.keys(input)) copy[name] = skeleton(input[name], depth + 1);
    return copy;
  };
  try {
    const outline = skeleton(value, 1);
    if (long.length === 0) return canonicalBytes(value);
    let text = canonicalize(outline);
    for (const { array, placeholder, depth } of long) {
      // The array's slices: each canonicalized as an array of its own (depth 1 there, `depth` in place).
      const maxDepth = DEFAULT_MAX_DEPTH - (depth - 1);
      if (maxDepth < 2) return canonicalBytes(value);
      const pieces: string[] = [];
      for (let start = 0; start < array.length; start += step) {
        pieces.push(canonicalize(array.slice(start, start + step), { maxDepth }).slice(1, -1));
        try {
          await pause();
        } catch (error) {
          throw new PauseFailed(error);
        }
      }
      // The placeholder as the outline's text spells it: once, else made in one go.
      const quoted = JSON.stringify(placeholder);
      const at = text.indexOf(quoted);
      if (at < 0 || text.indexOf(quoted, at + 1) >= 0) return canonicalBytes(value);
      text = `${text.slice(0, at)}[${pieces.join(',')}]${text.slice(at + quoted.length)}`;
    }
    return encoder.encode(text);
  } catch (error) {
    // `pause` rejected: its error, at once (nothing more is made).
    if (error instanceof PauseFailed) throw error.error;
    // canonicalBytes' own error (with its path), or its bytes.
    return canonicalBytes(value);
  }
}
