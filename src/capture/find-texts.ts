/**
 * Where texts first occur in a sequence of strings, with work bounded whatever the texts and the
 * strings. Declared retrieval (capture-run.ts, locate) uses it so that no declaration makes
 * capture search a request once per document without end, and no text makes a search slow:
 * String.prototype.includes may compare a long text at almost every position of a periodic string
 * (seconds on a request of a few MiB). Pure: no Node APIs.
 *
 * Two searches, one result. First a quick one, text by text, each string for each text not found
 * yet: the engine's indexOf finds an anchor (a text's first ANCHOR code units: V8 searches a
 * pattern that short in about one step per code unit at worst, and skips most units of ordinary
 * text), and each place the anchor is found is checked with startsWith. Every call, code unit
 * passed over and code unit compared is counted against a budget (QUICK_SEARCH). Once it is spent,
 * the texts not found yet are searched with an automaton (Aho-Corasick over UTF-16 code units)
 * from the start of the string at hand on: time linear in the strings' length plus the texts'
 * length, memory linear in the texts' length.
 */

/** Code units of a text the quick search looks for with indexOf before comparing the whole text. */
const ANCHOR = 128;
/** What one indexOf or startsWith call is counted as, besides the code units it passes over or compares. */
const CALL_COST = 32;
/**
 * The work the quick search may do for one TextFinder before the automaton takes over, in code
 * units passed over or compared: `base`, plus `perUnit` for each code unit of the strings searched
 * so far, `max` in all. A typical request takes less (20 documents of 2,000 characters searched
 * through 150 KB of chat before the message holding them: about 3 Mi, 1 ms); a request made to
 * slow the quick search down (about 4 ns a unit at worst, against 0.3 ns in prose) costs at most
 * about 4 ms plus 64 ns per code unit, 16 ms in all, before the automaton's linear time.
 */
export interface QuickSearchLimits {
  base: number;
  perUnit: number;
  max: number;
}

export const QUICK_SEARCH: QuickSearchLimits = { base: 1024 * 1024, perUnit: 16, max: 4 * 1024 * 1024 };

/**
 * Finds each of `texts` (distinct, non-empty) in the strings given to `scan`, in order: `first[i]`
 * is the slot of the first string that contains texts[i] (a match never spans two strings), or -1.
 * `limits` (QUICK_SEARCH unless given; tests give less) bound the quick search's work.
 */
export class TextFinder {
  /** The slot of the first string holding each text, or -1. */
  readonly first: Int32Array;
  readonly #texts: readonly string[];
  /** Each text's anchor: its first ANCHOR code units (the text itself when no longer). */
  readonly #anchors: string[];
  /** The indexes of the texts not found yet, shortest first (the first #pendingCount entries). */
  readonly #pending: Int32Array;
  #pendingCount: number;
  readonly #limits: QuickSearchLimits;
  /** The work the quick search may still do, and what it has been given in all. */
  #budget: number;
  #granted: number;
  /** The automaton over the texts not found when the budget ran out. */
  #automaton: Automaton | undefined;

  constructor(texts: readonly string[], limits: QuickSearchLimits = QUICK_SEARCH) {
    for (const text of texts) {
      if (typeof text !== 'string' || text === '') throw new TypeError('TextFinder searches for non-empty strings');
    }
    this.first = new Int32Array(texts.length).fill(-1);
    this.#texts = texts;
    this.#anchors = texts.map((text) => (text.length <= ANCHOR ? text : text.slice(0, ANCHOR)));
    this.#pending = Int32Array.from(texts, (_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length);
    this.#pendingCount = texts.length;
    this.#limits = limits;
    this.#granted = Math.min(limits.base, limits.max);
    this.#budget = this.#granted;
  }

  /** True once every text has been found (scanning more changes nothing). */
  get done(): boolean {
    return this.#automaton === undefined ? this.#pendingCount === 0 : this.#automaton.done;
  }

  /** The search the scans have come to: the quick one, then the automaton once the quick one's budget ran out. */
  get search(): 'quick' | 'automaton' {
    return this.#automaton === undefined ? 'quick' : 'automaton';
  }

  /** Searches `value` for the texts not yet found; those found get `slot`. */
  scan(value: string, slot: number): void {
    if (this.#automaton === undefined) {
      if (this.#pendingCount === 0 || value.length < this.#texts[this.#pending[0]!]!.length) return;
      const grant = Math.min(this.#limits.perUnit * value.length, this.#limits.max - this.#granted);
      this.#granted += grant;
      this.#budget += grant;
      if (this.#quick(value, slot)) return;
      // The budget is spent: the texts not found yet, searched from the start of this string.
      this.#automaton = new Automaton(this.#texts, this.#pending.subarray(0, this.#pendingCount), this.first);
    }
    this.#automaton.scan(value, slot);
  }

  /**
   * The quick search of `value`, text by text; false when the budget ran out before every text
   * not found yet was decided (those found in `value` are recorded all the same).
   */
  #quick(value: string, slot: number): boolean {
    const texts = this.#texts;
    const anchors = this.#anchors;
    const pending = this.#pending;
    const count = this.#pendingCount;
    let budget = this.#budget;
    let kept = 0;
    let decided = true;
    for (let i = 0; i < count; i++) {
      const index = pending[i]!;
      const text = texts[index]!;
      if (text.length > value.length) {
        // Neither this text nor the longer ones after it fit in the string.
        if (kept < i) pending.copyWithin(kept, i, count);
        kept += count - i;
        break;
      }
      let found = false;
      if (decided) {
        // The last place the text may start, and where the anchor is looked for from.
        const last = value.length - text.length;
        const anchor = anchors[index]!;
        let from = 0;
        for (;;) {
          if (budget <= 0) {
            decided = false;
            break;
          }
          // The places this call looks at: from `from` to `end`, no more than the budget has left.
          const end = Math.min(last, from + budget);
          const stop = end + anchor.length;
          const at = stop === value.length ? value.indexOf(anchor, from) : value.slice(from, stop).indexOf(anchor);
          if (at < 0) {
            budget -= end + 1 - from + CALL_COST;
            if (end === last) break;
            from = end + 1;
            continue;
          }
          const place = stop === value.length ? at : from + at;
          budget -= place - from + 1 + CALL_COST;
          if (text.length <= ANCHOR) {
            found = true;
            break;
          }
          budget -= text.length + CALL_COST;
          if (value.startsWith(text, place)) {
            found = true;
            break;
          }
          from = place + 1;
        }
      }
      if (found) this.first[index] = slot;
      else pending[kept++] = index;
    }
    this.#pendingCount = kept;
    this.#budget = budget;
    return decided;
  }
}

const EMPTY = -1;

/**
 * Aho-Corasick over some of the texts (`ids`, indexes into `texts` and `first`): scans record in
 * `first` the slot of the first string holding each of them.
 */
class Automaton {
  readonly #first: Int32Array;
  /** Per text of the automaton (as numbered in `ids`): its index in `first`. */
  readonly #ids: Int32Array;
  /** Per text of the automaton: 1 once found. */
  readonly #found: Uint8Array;
  #remaining: number;
  /** Transitions out of the root, by code unit (0: none, stay at the root). */
  readonly #root = new Int32Array(65536);
  /**
   * Other transitions. A node's first child is kept with the node (most nodes of long texts have
   * one child, numbered next: a search along a text reads memory in order); further children in
   * an open-addressing table of (node, code unit) -> node, three Int32 per entry.
   */
  readonly #firstUnit: Int32Array;
  readonly #firstChild: Int32Array;
  readonly #more: Uint8Array;
  readonly #edges: Int32Array;
  readonly #mask: number;
  /** 1 for each code unit some text holds. */
  readonly #used = new Uint8Array(65536);
  /** The length of the shortest text: a shorter string holds none. */
  readonly #shortest: number;
  /** Per node: failure link, the text that ends here (-1: none), next node on the failure chain where a text not yet found ends (0: none). */
  readonly #fail: Int32Array;
  readonly #out: Int32Array;
  readonly #dict: Int32Array;

  constructor(all: readonly string[], ids: Int32Array, first: Int32Array) {
    const texts = Array.from(ids, (id) => all[id]!);
    let total = 0;
    let shortest = Infinity;
    for (const text of texts) {
      total += text.length;
      shortest = Math.min(shortest, text.length);
    }
    const nodes = total + 1;
    this.#first = first;
    this.#ids = Int32Array.from(ids);
    this.#found = new Uint8Array(texts.length);
    this.#remaining = texts.length;
    this.#shortest = shortest;
    this.#firstUnit = new Int32Array(nodes).fill(EMPTY);
    this.#firstChild = new Int32Array(nodes);
    this.#more = new Uint8Array(nodes);
    let capacity = 16;
    while (capacity < 2 * nodes) capacity *= 2;
    this.#mask = capacity - 1;
    this.#edges = new Int32Array(capacity * 3).fill(EMPTY);
    this.#fail = new Int32Array(nodes);
    this.#out = new Int32Array(nodes).fill(-1);
    this.#dict = new Int32Array(nodes);
    // Each node's children in a list (sibling), for the breadth-first pass below.
    const sibling = new Int32Array(nodes);
    const childOfRoot: number[] = [];
    const unit = new Uint16Array(nodes);
    const used = this.#used;
    const out = this.#out;
    let count = 1;
    for (let index = 0; index < texts.length; index++) {
      const text = texts[index]!;
      let node = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        used[c] = 1;
        let next = this.#next(node, c);
        if (next <= 0) {
          next = count++;
          unit[next] = c;
          this.#add(node, c, next, sibling, childOfRoot);
        }
        node = next;
      }
      out[node] = index;
    }
    // Failure links breadth first: a node's link is decided from its parent's.
    const fail = this.#fail;
    const dict = this.#dict;
    const queue = new Int32Array(count);
    let head = 0;
    let tail = 0;
    for (const node of childOfRoot) queue[tail++] = node;
    while (head < tail) {
      const parent = queue[head++]!;
      const first = this.#firstChild[parent]!;
      if (first === 0) continue;
      for (let node = first; node !== 0; node = sibling[node]!) {
        queue[tail++] = node;
        const c = unit[node]!;
        let f = fail[parent]!;
        let target = this.#next(f, c);
        while (target < 0) {
          f = fail[f]!;
          target = this.#next(f, c);
        }
        fail[node] = target;
        dict[node] = out[target]! >= 0 ? target : dict[target]!;
      }
    }
  }

  /** True once every text has been found (scanning more changes nothing). */
  get done(): boolean {
    return this.#remaining === 0;
  }

  /** Searches `value` for the texts not yet found; those found get `slot`. */
  scan(value: string, slot: number): void {
    if (this.#remaining === 0 || value.length < this.#shortest) return;
    const root = this.#root;
    const fail = this.#fail;
    const out = this.#out;
    const dict = this.#dict;
    const found = this.#found;
    const firstUnit = this.#firstUnit;
    const firstChild = this.#firstChild;
    const more = this.#more;
    const used = this.#used;
    let state = 0;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (used[c] === 0) {
        // A unit no text holds: no match goes on through it.
        state = 0;
        continue;
      }
      while (state !== 0) {
        const next = firstUnit[state] === c ? firstChild[state]! : more[state] === 0 ? -1 : this.#get(state, c);
        if (next >= 0) {
          state = next;
          break;
        }
        state = fail[state]!;
      }
      if (state === 0) {
        state = root[c]!;
        if (state === 0) continue;
      }
      const own = out[state]!;
      if (own >= 0 && found[own] === 0) {
        this.#record(own, slot);
        if (this.#remaining === 0) return;
      }
      if (dict[state] !== 0) {
        let node = this.#live(state);
        while (node !== 0) {
          this.#record(out[node]!, slot);
          node = this.#live(node);
        }
        if (this.#remaining === 0) return;
      }
    }
  }

  #record(text: number, slot: number): void {
    if (this.#found[text] !== 0) return;
    this.#found[text] = 1;
    this.#first[this.#ids[text]!] = slot;
    this.#remaining--;
  }

  /**
   * The first node after `node` on its failure chain whose text is not found yet (0: none); the
   * chain is shortened past found texts, so each is stepped over a bounded number of times.
   */
  #live(node: number): number {
    const dict = this.#dict;
    let live = dict[node]!;
    while (live !== 0 && this.#found[this.#out[live]!] !== 0) live = dict[live]!;
    let at = node;
    while (dict[at] !== live) {
      const next = dict[at]!;
      dict[at] = live;
      at = next;
    }
    return live;
  }

  /** The node after `node` on unit `c` in the trie: 0 from the root when there is none, -1 elsewhere. */
  #next(node: number, c: number): number {
    if (node === 0) return this.#root[c]!;
    if (this.#firstUnit[node] === c) return this.#firstChild[node]!;
    return this.#more[node] === 0 ? -1 : this.#get(node, c);
  }

  #slot(node: number, c: number): number {
    return ((Math.imul(node, 0x9e3779b1) ^ Math.imul(c + 1, 0x85ebca6b)) & this.#mask) * 3;
  }

  /** A transition other than a node's first. */
  #get(node: number, c: number): number {
    const edges = this.#edges;
    let at = this.#slot(node, c);
    for (;;) {
      const from = edges[at]!;
      if (from === EMPTY) return -1;
      if (from === node && edges[at + 1] === c) return edges[at + 2]!;
      at = at + 3 === edges.length ? 0 : at + 3;
    }
  }

  #add(node: number, c: number, to: number, sibling: Int32Array, childOfRoot: number[]): void {
    if (node === 0) {
      this.#root[c] = to;
      childOfRoot.push(to);
      return;
    }
    const first = this.#firstChild[node]!;
    if (first === 0) {
      this.#firstChild[node] = to;
      this.#firstUnit[node] = c;
      return;
    }
    sibling[to] = sibling[first]!;
    sibling[first] = to;
    this.#more[node] = 1;
    const edges = this.#edges;
    let at = this.#slot(node, c);
    while (edges[at] !== EMPTY) at = at + 3 === edges.length ? 0 : at + 3;
    edges[at] = node;
    edges[at + 1] = c;
    edges[at + 2] = to;
  }
}
