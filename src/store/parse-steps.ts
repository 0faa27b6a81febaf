/**
 * JSON.parse of a stored text in steps: a large run's identity document (some 8 MB for a run of
 * 100,000 messages) held the event loop 50 to 100 ms in one JSON.parse when it was read back.
 */

/** Characters scanned between two steps. */
const SCAN_STEP = 1 << 20;

/** The value JSON.parse(text) gives, or its error, made with a yield after every `step` elements of a long array and every SCAN_STEP characters. */
export function* parseSteps(text: string, step: number): Generator<void, unknown, void> {
  const long = yield* longArrays(text, step);
  if (long === undefined || long.length === 0) return JSON.parse(text);
  // The text with each long array replaced by a placeholder string no other string of it spells.
  const tag = placeholderTag(text);
  const pieces: string[] = [];
  let from = 0;
  long.forEach((array, index) => {
    pieces.push(text.slice(from, array.open), JSON.stringify(`${tag}${index}`));
    from = array.close + 1;
  });
  pieces.push(text.slice(from));
  let outline: unknown;
  try {
    outline = JSON.parse(pieces.join(''));
  } catch {
    return JSON.parse(text);
  }
  yield;
  // Each long array where its placeholder is: every one once, else (a member named twice, the
  // last one kept) the text is parsed in one go.
  const places = placesOf(outline, tag, long.length);
  if (places === undefined) return JSON.parse(text);
  const arrays: unknown[][] = [];
  for (const array of long) {
    const elements: unknown[] = [];
    let start = array.open + 1;
    for (const end of [...array.cuts, array.close]) {
      let slice: unknown[];
      try {
        slice = JSON.parse(`[${text.slice(start, end)}]`) as unknown[];
      } catch {
        return JSON.parse(text);
      }
      for (const element of slice) elements.push(element);
      start = end + 1;
      yield;
    }
    // As many elements as the text has (a trailing comma would give one fewer): else its error.
    if (elements.length !== array.count) return JSON.parse(text);
    arrays.push(elements);
  }
  if (places.root !== undefined) return arrays[places.root];
  // Defined, not assigned: a member named "__proto__" is an own member, as JSON.parse makes it.
  for (const [index, { parent, key }] of places.inside) Object.defineProperty(parent, key, { value: arrays[index], writable: true, enumerable: true, configurable: true });
  return outline;
}

/** A long array of the text: its brackets' offsets, its element count and the offsets of the commas that end each `step` elements. */
interface LongArray {
  open: number;
  close: number;
  count: number;
  cuts: number[];
}

/**
 * The arrays of more than `step` elements not inside another such, in text order; undefined when
 * the text does not scan as JSON's brackets and strings do (JSON.parse says why).
 */
function* longArrays(text: string, step: number): Generator<void, LongArray[] | undefined, void> {
  // Open containers: an array's offset, its commas so far, whether it has an element, and the
  // commas that end each `step` elements; an object's offset, with commas -1.
  const open: Array<{ at: number; commas: number; element: boolean; cuts: number[] }> = [];
  const found: LongArray[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    if (i % SCAN_STEP === 0 && i > 0) yield;
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++;
      else if (code === 0x22) inString = false;
      continue;
    }
    const top = open[open.length - 1];
    if (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) continue;
    if (top !== undefined && top.commas >= 0 && code !== 0x5d) top.element = true;
    if (code === 0x22) inString = true;
    else if (code === 0x5b) open.push({ at: i, commas: 0, element: false, cuts: [] });
    else if (code === 0x7b) open.push({ at: i, commas: -1, element: false, cuts: [] });
    else if (code === 0x2c) {
      if (top === undefined) return undefined;
      if (top.commas >= 0 && ++top.commas % step === 0) top.cuts.push(i);
    } else if (code === 0x5d || code === 0x7d) {
      if (top === undefined || (code === 0x5d) !== top.commas >= 0) return undefined;
      open.pop();
      const count = top.commas + (top.element ? 1 : 0);
      if (code === 0x5d && count > step) {
        // Only the outermost: one found inside this one is part of its elements.
        while (found.length > 0 && found[found.length - 1]!.open > top.at) found.pop();
        found.push({ open: top.at, close: i, count, cuts: top.cuts });
      }
    }
  }
  return inString || open.length > 0 ? undefined : found;
}

/** A prefix no string of the text holds (the text does not hold it at all). */
function placeholderTag(text: string): string {
  for (let n = 0; ; n++) {
    const tag = `\u0000runprint-long-array-${n}-`;
    if (!text.includes(tag.slice(1))) return tag;
  }
}

/**
 * Where each placeholder `${tag}${index}` is in the outline: the root, or a container and its
 * member; undefined unless each of the `count` is there exactly once.
 */
function placesOf(outline: unknown, tag: string, count: number): { root?: number; inside: Map<number, { parent: unknown; key: string | number }> } | undefined {
  const indexOf = (value: unknown): number | undefined => (typeof value === 'string' && value.startsWith(tag) ? Number(value.slice(tag.length)) : undefined);
  const root = indexOf(outline);
  if (root !== undefined) return count === 1 && root === 0 ? { root, inside: new Map() } : undefined;
  const inside = new Map<number, { parent: unknown; key: string | number }>();
  const walk = (value: unknown): boolean => {
    if (value === null || typeof value !== 'object') return true;
    const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((element, index) => [index, element]) : Object.entries(value);
    for (const [key, member] of entries) {
      const index = indexOf(member);
      if (index !== undefined) {
        if (!(index >= 0 && index < count) || inside.has(index)) return false;
        inside.set(index, { parent: value, key });
      } else if (!walk(member)) return false;
    }
    return true;
  };
  return walk(outline) && inside.size === count ? { inside } : undefined;
}
