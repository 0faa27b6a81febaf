/**
 * JSON.stringify in steps: the same text, for a value holding long arrays (a stored run's view
 * names every list element of its request: 100,000 digests and as many content states for a
 * request of 100,000 messages; its composition holds the 100,000 messages), given as pieces, each
 * long array a slice at a time with `pause` awaited before each slice, so that a caller answering
 * it (the run store's routes) does not hold its event loop for the whole text (50 to 100 ms for
 * those 100,000, and as long again to encode it).
 */
import { outlineLongArrays } from './long-arrays.ts';

/**
 * The pieces of JSON.stringify(value, null, space) (space: a number of spaces, 0 or none for no
 * indentation), in order: joined, they are that text exactly. Each array of more than `step`
 * elements (found at most 16 deep in plain objects and arrays: outlineLongArrays) is stringified
 * `step` elements at a time, `pause` awaited before each slice; the rest of the value in one go. (An
 * element's toJSON, which plain data has none of, would be given its index within its slice.)
 * A value with no long array is one piece, JSON.stringify's.
 */
export async function* stringifyInSteps(value: unknown, pause: () => Promise<void>, step: number, space = 0): AsyncGenerator<string, void, void> {
  const whole = (): string => {
    const text = JSON.stringify(value, null, space) as string | undefined;
    if (text === undefined) throw new TypeError('stringifyInSteps: the value has no JSON text');
    return text;
  };
  // A copy of the containers around the long arrays, each long array replaced by a placeholder string
  // (map keeps a hole a hole: JSON.stringify writes null for it, as for the original).
  const { outline, long, placeholder } = outlineLongArrays(value, step);
  if (long.length === 0) {
    yield whole();
    return;
  }
  const text = JSON.stringify(outline, null, space);
  // Each placeholder, as the outline's text spells it, found once and in order; else in one go.
  const places: number[] = [];
  for (let index = 0; index < long.length; index++) {
    const quoted = JSON.stringify(placeholder(index));
    const at = text.indexOf(quoted, index === 0 ? 0 : places[index - 1]! + 1);
    if (at < 0 || text.indexOf(quoted, at + 1) >= 0) {
      yield whole();
      return;
    }
    places.push(at);
  }
  const indent = typeof space === 'number' && space >= 1;
  let from = 0;
  for (const [index, { array }] of long.entries()) {
    const at = places[index]!;
    if (at > from) yield text.slice(from, at);
    from = at + JSON.stringify(placeholder(index)).length;
    // The indentation of the line the array starts on: its elements are one level deeper, its `]` there.
    const base = indent ? /^ */.exec(text.slice(text.lastIndexOf('\n', at) + 1, at))![0] : '';
    for (let start = 0; start < array.length; start += step) {
      await pause();
      const slice = array.slice(start, start + step);
      if (!indent) {
        yield `${start === 0 ? '[' : ','}${JSON.stringify(slice).slice(1, -1)}`;
        continue;
      }
      // JSON.stringify(slice, null, space) is "[\n" + its elements one level deep + "\n]": each of
      // its lines moved `base` deeper (a newline is only ever between tokens, never in a string).
      const inner = JSON.stringify(slice, null, space).slice(2, -2);
      yield `${start === 0 ? '[\n' : ',\n'}${base}${inner.replaceAll('\n', `\n${base}`)}`;
    }
    yield indent ? `\n${base}]` : ']';
  }
  if (from < text.length) yield text.slice(from);
}
