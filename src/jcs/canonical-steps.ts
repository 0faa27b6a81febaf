/**
 * canonicalBytes in steps: the same bytes, for a value holding long arrays (a receipt's identity
 * document names every list element of its request: 100,000 digests for a request of 100,000
 * messages), made a slice of each long array at a time, with `pause` awaited between slices, so
 * that the caller's event loop is not held for the whole value (about 50 ms for those 100,000).
 */
import { canonicalBytes, canonicalize } from './canonicalize.ts';
import { DEFAULT_MAX_DEPTH } from './limits.ts';
import { outlineLongArrays } from './long-arrays.ts';

const encoder = new TextEncoder();

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
    let text = canonicalize(outline);
    for (const [index, { array, depth }] of long.entries()) {
      const placeholder = placeholderOf(index);
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
