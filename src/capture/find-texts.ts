/**
 * Where texts first occur in a sequence of strings, in one pass over the strings whatever the
 * texts (Aho-Corasick over UTF-16 code units): time linear in the strings' length plus the texts'
 * length, memory linear in the texts' length. Declared retrieval (capture-run.ts, locate) uses it
 * so that no declaration makes capture search a request once per document, and no text makes a
 * search slow: String.prototype.includes may compare a long text at almost every position of a
 * periodic string (seconds on a request of a few MiB). Pure: no Node APIs.
 */

const EMPTY = -1;

/**
 * Finds each of `texts` (distinct, non-empty) in the strings given to `scan`, in order: `first[i]`
 * is the slot of the first string that contains texts[i] (a match never spans two strings), or -1.
 */
export class TextFinder {
  /** The slot of the first string holding each text, or -1. */
  readonly first: Int32Array;
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

  constructor(texts: readonly string[]) {
    let total = 0;
    let shortest = Infinity;
    for (const text of texts) {
      if (typeof text !== 'string' || text === '') throw new TypeError('TextFinder searches for non-empty strings');
      total += text.length;
      shortest = Math.min(shortest, text.length);
    }
    const nodes = total + 1;
    this.first = new Int32Array(texts.length).fill(-1);
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
    const first = this.first;
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
      if (own >= 0 && first[own] === -1) {
        this.#found(own, slot);
        if (this.#remaining === 0) return;
      }
      if (dict[state] !== 0) {
        let node = this.#live(state);
        while (node !== 0) {
          this.#found(out[node]!, slot);
          node = this.#live(node);
        }
        if (this.#remaining === 0) return;
      }
    }
  }

  #found(text: number, slot: number): void {
    if (this.first[text] !== -1) return;
    this.first[text] = slot;
    this.#remaining--;
  }

  /**
   * The first node after `node` on its failure chain whose text is not found yet (0: none); the
   * chain is shortened past found texts, so each is stepped over a bounded number of times.
   */
  #live(node: number): number {
    const dict = this.#dict;
    let live = dict[node]!;
    while (live !== 0 && this.first[this.#out[live]!] !== -1) live = dict[live]!;
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
