/**
 * docs/SPEC.md section 10: two lists of element digests aligned by a longest common subsequence,
 * with the work bounded for long lists.
 *
 * The common beginning is aligned first (it is part of the alignment the table below finds). What
 * is left is aligned exactly when it has at most ALIGN_PAIRS pairs of elements (the quadratic
 * table) or needs at most ALIGN_EDITS insertions and removals (Myers' O((N+M)·D) search, run from
 * the end, whose furthest reaches answer the table's questions: the same alignment the table would
 * give). Else the common end is set aside too and what is between is aligned exactly by the table
 * when it has at most ALIGN_PAIRS pairs. Past both bounds, the elements whose digest occurs once in
 * what is left of each list are aligned, as many as keep one order in both (a longest increasing
 * subsequence), and each gap between two of them is aligned the same way, exactly within the
 * bounds; a gap still past them aligns only elements with the same digest at the same index.
 * Last, an element that would be reported moved to its own index is kept in place where that costs
 * the alignment nothing (keepInPlace). The work is O((N+M)·ALIGN_EDITS) at most, the memory
 * O(ALIGN_PAIRS + ALIGN_EDITS² + N + M).
 */

/** What is left after the common beginning (or end) is aligned by the table up to this many pairs. */
export const ALIGN_PAIRS = 4_000_000;
/** What is left after the common beginning is aligned by Myers' search up to this many insertions and removals. */
export const ALIGN_EDITS = 2_000;

export interface AlignmentBounds {
  pairs: number;
  edits: number;
}

export interface ListAlignment {
  /** Index pairs [a, b] of elements aligned, both increasing. */
  pairs: Array<readonly [number, number]>;
  /** True when the pairs are a longest common subsequence; false when the bounds were passed. */
  exact: boolean;
}

const BOUNDS: AlignmentBounds = { pairs: ALIGN_PAIRS, edits: ALIGN_EDITS };

/** Aligns two lists of keys (element digests). `bounds` is for tests; runprint uses the defaults. */
export function alignLists(keysA: readonly string[], keysB: readonly string[], bounds: AlignmentBounds = BOUNDS): ListAlignment {
  return alignKeys(listKeys(keysA, keysB), bounds);
}

/** Two lists' keys as small integers, equal where the keys are: comparisons are then of numbers, not of strings. */
export interface ListKeys {
  a: Int32Array;
  b: Int32Array;
  /** How many distinct keys: each is below it. */
  count: number;
}

/** The keys of two lists as ListKeys (internal: alignLists and diff.ts). */
export function listKeys(keysA: readonly string[], keysB: readonly string[]): ListKeys {
  const ids = new Map<string, number>();
  const idOf = (key: string): number => {
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    return id;
  };
  const a = Int32Array.from(keysA, idOf);
  const b = Int32Array.from(keysB, idOf);
  return { a, b, count: ids.size };
}

/** alignLists over keys already numbered (internal: diff.ts numbers them once for the alignment and its moves). */
export function alignKeys(keys: ListKeys, bounds: AlignmentBounds = BOUNDS): ListAlignment {
  const aligner = new Aligner(keys.a, keys.b, keys.count, bounds);
  const exact = aligner.align(0, keys.a.length, 0, keys.b.length, true);
  keepInPlace(keys, aligner.pairs);
  return { pairs: aligner.pairs, exact };
}

/** The most rounds keepInPlace runs (random lists of up to 5,000 elements need at most 2 that change something). */
const KEEP_IN_PLACE_ROUNDS = 16;

/**
 * SPEC 10's moves for an alignment: each element of A not aligned, in order, taken with the first
 * element of B not aligned and not yet taken that has its key. Returns, for each element of A, the
 * index in B it moved to, or -1 (aligned, or no such element of B). The one rule both keepInPlace
 * and the diff's `moved` differences (diff.ts) follow: keepInPlace holds only while they agree.
 */
export function listMoves(keys: ListKeys, alignedA: Uint8Array, alignedB: Uint8Array): Int32Array {
  const { a, b } = keys;
  // For each key, B's elements not aligned, in order: a chain from first[key] through next[].
  const first = new Int32Array(keys.count).fill(-1);
  const last = new Int32Array(keys.count).fill(-1);
  const next = new Int32Array(b.length).fill(-1);
  for (let j = 0; j < b.length; j++) {
    if (alignedB[j] === 1) continue;
    if (first[b[j]!] === -1) first[b[j]!] = j;
    else next[last[b[j]!]!] = j;
    last[b[j]!] = j;
  }
  const moves = new Int32Array(a.length).fill(-1);
  for (let i = 0; i < a.length; i++) {
    const j = first[a[i]!]!;
    if (alignedA[i] === 1 || j === -1) continue;
    first[a[i]!] = next[j]!;
    moves[i] = j;
  }
  return moves;
}

/** The indices listMoves moves to themselves. */
function movesInPlace(keys: ListKeys, alignedA: Uint8Array, alignedB: Uint8Array): number[] {
  const moves = listMoves(keys, alignedA, alignedB);
  const found: number[] = [];
  for (let i = 0; i < moves.length; i++) if (moves[i] === i) found.push(i);
  return found;
}

/**
 * An element that the alignment would have reported as moved to its own index is aligned instead,
 * in place of the one aligned pair that crosses it (before it in one list and after it in the
 * other) when only one does, or added when none does: the alignment is no shorter, and the element
 * stays where it is ([a, b, c] and [c, b, a]: b aligned, a and c moved, rather than c aligned and
 * b moved to 1). The moves are found again after each round, until a round changes nothing (at most
 * KEEP_IN_PLACE_ROUNDS). An element crossed by two aligned pairs or more is left moved to its own
 * index: aligning it would shorten the alignment.
 */
function keepInPlace(keys: ListKeys, pairs: Array<readonly [number, number]>): void {
  const alignedA = new Uint8Array(keys.a.length);
  const alignedB = new Uint8Array(keys.b.length);
  for (const [x, y] of pairs) {
    alignedA[x] = 1;
    alignedB[y] = 1;
  }
  /** How many pairs have their index on side `side` below `index`. */
  const below = (side: 0 | 1, index: number): number => {
    let low = 0;
    let high = pairs.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (pairs[middle]![side] < index) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  for (let round = 0; round < KEEP_IN_PLACE_ROUNDS; round++) {
    let changed = false;
    // Aligning an element at its own index crosses no other such element: those no pair crosses
    // are all added after the round, in order.
    const uncrossed: number[] = [];
    for (const i of movesInPlace(keys, alignedA, alignedB)) {
      // The pairs crossing i are those from the lower to the higher of the two counts.
      const beforeA = below(0, i);
      const beforeB = below(1, i);
      if (beforeA === beforeB) uncrossed.push(i);
      if (Math.abs(beforeA - beforeB) !== 1) continue;
      const at = Math.min(beforeA, beforeB);
      const [x, y] = pairs[at]!;
      alignedA[x] = 0;
      alignedB[y] = 0;
      pairs[at] = [i, i];
      alignedA[i] = 1;
      alignedB[i] = 1;
      changed = true;
    }
    if (uncrossed.length > 0) {
      changed = true;
      const merged: Array<readonly [number, number]> = [];
      let next = 0;
      for (const pair of pairs) {
        while (next < uncrossed.length && uncrossed[next]! < pair[0]) merged.push([uncrossed[next]!, uncrossed[next++]!]);
        merged.push(pair);
      }
      while (next < uncrossed.length) merged.push([uncrossed[next]!, uncrossed[next++]!]);
      pairs.length = 0;
      for (const pair of merged) pairs.push(pair);
      for (const i of uncrossed) {
        alignedA[i] = 1;
        alignedB[i] = 1;
      }
    }
    if (!changed) return;
  }
}

class Aligner {
  readonly pairs: Array<readonly [number, number]> = [];
  readonly a: Int32Array;
  readonly b: Int32Array;
  private readonly keyCount: number;
  private readonly bounds: AlignmentBounds;

  constructor(a: Int32Array, b: Int32Array, keyCount: number, bounds: AlignmentBounds) {
    this.a = a;
    this.b = b;
    this.keyCount = keyCount;
    this.bounds = bounds;
  }

  /** Aligns a[a0, a1) with b[b0, b1), adding pairs in order; false when it is not exact. */
  align(a0: number, a1: number, b0: number, b1: number, top: boolean): boolean {
    const { a, b, pairs } = this;
    while (a0 < a1 && b0 < b1 && a[a0] === b[b0]) pairs.push([a0++, b0++]);
    if ((a1 - a0) * (b1 - b0) <= this.bounds.pairs) {
      this.table(a0, a1, b0, b1);
      return true;
    }
    if (this.search(a0, a1, b0, b1)) return true;
    let end = 0;
    while (a0 < a1 - end && b0 < b1 - end && a[a1 - 1 - end] === b[b1 - 1 - end]) end++;
    let exact = true;
    if ((a1 - end - a0) * (b1 - end - b0) <= this.bounds.pairs) this.table(a0, a1 - end, b0, b1 - end);
    else {
      exact = false;
      if (top) this.anchored(a0, a1 - end, b0, b1 - end);
      else this.sameIndex(a0, a1 - end, b0, b1 - end);
    }
    for (let k = end; k > 0; k--) pairs.push([a1 - k, b1 - k]);
    return exact;
  }

  /**
   * The quadratic table: the length of a longest common subsequence of every two suffixes, walked
   * from the front, aligning equal elements at once and else leaving A's element when that loses
   * nothing.
   */
  private table(a0: number, a1: number, b0: number, b1: number): void {
    const { a, b, pairs } = this;
    const n = a1 - a0;
    const m = b1 - b0;
    if (n === 0 || m === 0) return;
    const width = m + 1;
    const table = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        table[i * width + j] =
          a[a0 + i] === b[b0 + j] ? table[(i + 1) * width + j + 1]! + 1 : Math.max(table[(i + 1) * width + j]!, table[i * width + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (a[a0 + i] === b[b0 + j]) {
        pairs.push([a0 + i, b0 + j]);
        i++;
        j++;
      } else if (table[(i + 1) * width + j]! >= table[i * width + j + 1]!) i++;
      else j++;
    }
  }

  /**
   * Myers' search for the fewest insertions and removals, run backwards from the ends of the two
   * ranges: reach[d][(k + d) / 2] is the furthest point (counted from the ends) on diagonal k that
   * d insertions and removals reach, or -1. Every point before it on its diagonal is reached with
   * at most d as well, so the walk from the front can ask, as the table does, whether leaving A's
   * element loses nothing: whether the point after it is reached with one fewer. The same
   * alignment as table(), in O((N+M)·D) time and O(D²) memory; false (and nothing added) when D is
   * more than the bound.
   */
  private search(a0: number, a1: number, b0: number, b1: number): boolean {
    const { a, b, pairs } = this;
    const n = a1 - a0;
    const m = b1 - b0;
    const reach: Int32Array[] = [];
    let edits = -1;
    for (let d = 0; d <= this.bounds.edits && edits < 0; d++) {
      const row = new Int32Array(d + 1);
      const previous = reach[d - 1];
      for (let k = -d; k <= d; k += 2) {
        let x = d === 0 ? 0 : -1;
        if (previous !== undefined) {
          // One more element of B, from diagonal k + 1: its furthest point from which B has one left.
          if (k + 1 <= d - 1) {
            const from = previous[(k + d) >> 1]!;
            const at = Math.min(from, m + k);
            if (from >= 0 && at >= Math.max(0, k + 1)) x = at;
          }
          // One more element of A, from diagonal k - 1: its furthest point from which A has one left.
          if (k - 1 >= 1 - d) {
            const from = previous[(k + d - 2) >> 1]!;
            const at = Math.min(from, n - 1);
            if (from >= 0 && at >= Math.max(0, k - 1) && at + 1 > x) x = at + 1;
          }
        }
        if (x >= 0) {
          let y = x - k;
          while (x < n && y < m && a[a1 - 1 - x] === b[b1 - 1 - y]) {
            x++;
            y++;
          }
          if (x === n && y === m) edits = d;
        }
        row[(k + d) >> 1] = x;
      }
      reach.push(row);
    }
    if (edits < 0) return false;
    let i = 0;
    let j = 0;
    let left = edits;
    while (i < n && j < m) {
      if (a[a0 + i] === b[b0 + j]) {
        pairs.push([a0 + i, b0 + j]);
        i++;
        j++;
        continue;
      }
      // The point after A's element, counted from the ends, and whether left - 1 reaches it.
      const d = left - 1;
      const x = n - i - 1;
      const k = x - (m - j);
      if (k >= -d && k <= d && reach[d]![(k + d) >> 1]! >= x) i++;
      else j++;
      left = d;
    }
    return true;
  }

  /**
   * Past the bounds: the elements whose key occurs once in each range, as many as keep one order
   * in both (a longest increasing subsequence of their places in B, by A's order), are aligned;
   * each gap between two of them is aligned within the bounds, or by its elements at the same index.
   */
  private anchored(a0: number, a1: number, b0: number, b1: number): void {
    const { a, b, pairs } = this;
    const countA = new Int32Array(this.keyCount);
    const countB = new Int32Array(this.keyCount);
    const placeB = new Int32Array(this.keyCount);
    for (let i = a0; i < a1; i++) countA[a[i]!]!++;
    for (let j = b0; j < b1; j++) {
      countB[b[j]!]!++;
      placeB[b[j]!] = j;
    }
    const candidates: number[] = [];
    for (let i = a0; i < a1; i++) if (countA[a[i]!] === 1 && countB[a[i]!] === 1) candidates.push(i);
    // Patience sorting: tails[l] is the candidate ending the increasing run of length l + 1 with the
    // smallest place in B; before[c] the candidate preceding c in its run.
    const tails: number[] = [];
    const before = new Int32Array(candidates.length);
    for (let c = 0; c < candidates.length; c++) {
      const place = placeB[a[candidates[c]!]!]!;
      let low = 0;
      let high = tails.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (placeB[a[candidates[tails[middle]!]!]!]! < place) low = middle + 1;
        else high = middle;
      }
      before[c] = low > 0 ? tails[low - 1]! : -1;
      tails[low] = c;
    }
    const anchors: number[] = [];
    for (let c = tails.length > 0 ? tails[tails.length - 1]! : -1; c >= 0; c = before[c]!) anchors.push(candidates[c]!);
    anchors.reverse();
    // No anchor: the one gap is this range, already past the bounds.
    if (anchors.length === 0) return this.sameIndex(a0, a1, b0, b1);
    let i = a0;
    let j = b0;
    for (const anchor of anchors) {
      const place = placeB[a[anchor]!]!;
      this.align(i, anchor, j, place, false);
      pairs.push([anchor, place]);
      i = anchor + 1;
      j = place + 1;
    }
    this.align(i, a1, j, b1, false);
  }

  /** A gap past the bounds: only its elements with the same key at the same index are aligned. */
  private sameIndex(a0: number, a1: number, b0: number, b1: number): void {
    const { a, b, pairs } = this;
    for (let i = Math.max(a0, b0); i < Math.min(a1, b1); i++) if (a[i] === b[i]) pairs.push([i, i]);
  }
}
