/**
 * canonicalBytes in steps: the same bytes, for a value holding long arrays (a receipt's identity
 * document names every list element of its request: 100,000 digests for a request of 100,000
 * messages), made a slice of each long array at a time, with `pause` awaited between slices, so
 * that the caller's event loop is not held for the whole value (about 50 ms for those 100,000).
 */
import { joinBytes } from '../io/read-limited.ts';
import { canonicalBytes, canonicalize } from './canonicalize.ts';
import { DEFAULT_MAX_DEPTH } from './limits.ts';
import { outlineLongArrays } from './long-arrays.ts';

const encoder = new TextEncoder();
const OPEN = encoder.encode('[');
const CLOSE = encoder.encode(']');

/** A rejection of the caller's `pause`: passed on as it is, never taken for canonicalize's own error. */
class PauseFailed {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/**
 * canonicalBytes(value), made `step` elements of each array longer than `step` at a time (each
 * slice canonicalized with the depth limit it has in place), `pause` awaited after each slice.
 * Throws what canonicalBytes(value) throws: a value the steps cannot make is made in one go.
 * Rejects with `pause`'s own error, at once, when `pause` rejects or throws.
 */
export async function canonicalBytesInSteps(value: unknown, pause: () => Promise<void>, step: number): Promise<Uint8Array> {
  try {
    // A copy of the containers around the long arrays, each long array replaced by a placeholder string.
    const { outline, long, placeholder: placeholderOf } = outlineLongArrays(value, step);
    if (long.length === 0) return canonicalBytes(value);
    const text = canonicalize(outline);
    // Where each long array goes in the outline's text: its placeholder as the text spells it,
    // once, else the value is made in one go.
    const places: Array<{ at: number; end: number; index: number }> = [];
    for (let index = 0; index < long.length; index++) {
      const quoted = JSON.stringify(placeholderOf(index));
      const at = text.indexOf(quoted);
      if (at < 0 || text.indexOf(quoted, at + 1) >= 0) return canonicalBytes(value);
      places.push({ at, end: at + quoted.length, index });
    }
    places.sort((a, b) => a.at - b.at);
    // Each array's text as UTF-8, a slice at a time: the bytes are put together once at the end
    // (a text of the whole, then its UTF-8, was two copies more of some 8 MB in one go).
    const arrays: Uint8Array[][] = [];
    for (const { array, depth } of long) {
      // The array's slices: each canonicalized as an array of its own (depth 1 there, `depth` in place).
      const maxDepth = DEFAULT_MAX_DEPTH - (depth - 1);
      if (maxDepth < 2) return canonicalBytes(value);
      const pieces: Uint8Array[] = [];
      for (let start = 0; start < array.length; start += step) {
        const slice = canonicalize(array.slice(start, start + step), { maxDepth }).slice(1, -1);
        pieces.push(encoder.encode(start === 0 ? slice : `,${slice}`));
        try {
          await pause();
        } catch (error) {
          throw new PauseFailed(error);
        }
      }
      arrays.push(pieces);
    }
    const parts: Uint8Array[] = [];
    let from = 0;
    for (const { at, end, index } of places) {
      parts.push(encoder.encode(text.slice(from, at)), OPEN, ...arrays[index]!, CLOSE);
      from = end;
    }
    parts.push(encoder.encode(text.slice(from)));
    let total = 0;
    for (const part of parts) total += part.length;
    return joinBytes(parts, total);
  } catch (error) {
    // `pause` rejected: its error, at once (nothing more is made).
    if (error instanceof PauseFailed) throw error.error;
    // canonicalBytes' own error (with its path), or its bytes.
    return canonicalBytes(value);
  }
}
