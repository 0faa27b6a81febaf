// The compare page (#/compare?a=ID&b=ID): two runs side by side, component by component. List
// components are aligned element by element as `runprint diff` aligns them (SPEC 10): runprint's
// own diffCompositions, run in this browser, matches elements by their digests (a longest common
// subsequence), then names the others moved, changed, added or removed, so one inserted message is
// one added element. A changed element says where inside it differs (SPEC 10's JSON paths, the
// text word by word); the two outputs are shown side by side. Values are shown only where stored.
import { diffCompositions } from 'runprint/identity';
import { parseJson } from 'runprint/jcs';
// The one module of runprint/providers the page needs (the receipt check loads it already).
import { runOutputFrom } from 'runprint/providers/run-output';
import { api, errorBlock, h } from './common.js';
import { fetchStored, isStored } from './views.js';

/** Lines of a side's value shown before it is folded behind "Show". */
const FOLD = 24;
/** Equal elements in a row, at least this many, are folded behind one summary. */
const EQUAL_RUN = 4;
/** A text longer than this many words and signs on either side is not compared word by word (its words are hashed and aligned as list elements). */
const MAX_TOKENS = 2000;
/** Two texts whose line counts multiply to more than this are not marked line by line (their lines are hashed and aligned as list elements). */
const ALIGN_LIMIT = 4_000_000;

/** The latest capture an id names, or the error the store answered. */
async function load(id) {
  const { runs } = await api(`/v1/runs/${encodeURIComponent(id)}`);
  return runs[runs.length - 1];
}

/** A composition whose `input` is `list`, all else fixed: two of them differ only in that list. */
const standIn = (list) => ({ version: 'runprint/v1', model: { name: 'compare' }, system: [], input: list, context: [], tools: [], parameters: {}, configuration: {} });
const STAND_IN_ELEMENT = "$['input'][0]";

/**
 * Two sequences of keys (strings) aligned by the core's list alignment (SPEC 10,
 * src/identity/diff.ts), not a copy of it: diffCompositions over two stand-in compositions whose
 * `input` lists hold the keys, as `runprint runs diff` compares runs by their digests. Keys it
 * matches by a longest common subsequence are `equal` (the diff names none of them: what it leaves
 * unnamed on each side pairs up in order); a key found at another place is `moved`; unmatched keys
 * between the same aligned neighbours are paired in order as `changed`; the rest are `added` or
 * `removed`. Rows come in reading order: by their place in B, a removed one after the element
 * before it in A. Each row is { change, a, b } with a and b indices (a absent for added, b for removed).
 */
export function align(keysA, keysB) {
  return alignment(keysA, keysB).rows;
}

/** align()'s rows, and whether the core aligned the keys exactly (SPEC 10: within its bounds), from the one diff. */
function alignment(keysA, keysB) {
  const rows = [];
  const namedA = new Set();
  const namedB = new Set();
  const diff = diffCompositions(standIn(keysA), standIn(keysB));
  for (const { change, from, to } of diff.differences) {
    rows.push({ change, a: from, b: to });
    if (from !== undefined) namedA.add(from);
    if (to !== undefined) namedB.add(to);
  }
  const restA = keysA.map((_, index) => index).filter((index) => !namedA.has(index));
  const restB = keysB.map((_, index) => index).filter((index) => !namedB.has(index));
  if (restA.length !== restB.length) throw new Error(`the alignment left ${restA.length} elements of A and ${restB.length} of B unnamed`);
  restA.forEach((a, k) => rows.push({ change: 'equal', a, b: restB[k] }));
  // Equal and changed rows are in order on both sides: a removed row goes after the last of them before it in A.
  const anchors = rows.filter((row) => row.change === 'equal' || row.change === 'changed').sort((x, y) => x.a - y.a);
  /** The last anchor before A's index a (a binary search: long lists have many). */
  const anchorBefore = (a) => {
    let low = 0;
    let high = anchors.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (anchors[middle].a < a) low = middle + 1;
      else high = middle;
    }
    return anchors[low - 1];
  };
  const place = (row) => {
    if (row.b !== undefined) return [row.b, 0];
    const before = anchorBefore(row.a);
    return [before === undefined ? -0.5 : before.b + 0.5, row.a];
  };
  const ordered = rows.map((row) => ({ row, at: place(row) })).sort((x, y) => x.at[0] - y.at[0] || x.at[1] - y.at[1]).map(({ row }) => row);
  return { rows: ordered, exact: !diff.inexact.includes('input') };
}

/** The pairs (a, b) of equal keys align() finds, in order. */
const matches = (keysA, keysB) => align(keysA, keysB).filter((row) => row.change === 'equal').sort((x, y) => x.a - y.a);

/** Words, runs of white space and single signs: the units a text is compared by. */
const tokens = (text) => text.match(/[\p{L}\p{N}_]+|\s+|[^\p{L}\p{N}_\s]/gu) ?? [];

/**
 * Two texts compared word by word with align(): segments { kind: 'same' | 'del' | 'ins', text },
 * the words only in A deleted and those only in B inserted. Texts too long are one deletion and one insertion.
 */
export function textDiff(x, y) {
  const tx = tokens(x);
  const ty = tokens(y);
  if (tx.length > MAX_TOKENS || ty.length > MAX_TOKENS) return [{ kind: 'del', text: x }, { kind: 'ins', text: y }];
  const segments = [];
  const push = (kind, text) => {
    if (text === '') return;
    const last = segments.at(-1);
    if (last?.kind === kind) last.text += text;
    else segments.push({ kind, text });
  };
  let i = 0;
  let j = 0;
  for (const { a, b } of [...matches(tx, ty), { a: tx.length, b: ty.length }]) {
    push('del', tx.slice(i, a).join(''));
    push('ins', ty.slice(j, b).join(''));
    if (a < tx.length) push('same', tx[a]);
    i = a + 1;
    j = b + 1;
  }
  return segments;
}

/** A hidden word for screen readers, saying what a mark means. */
const spoken = (text) => h('span', { class: 'sr-only' }, text);
const del = (...children) => h('del', {}, spoken('removed: '), ...children);
const ins = (...children) => h('ins', {}, spoken('added: '), ...children);

/** Equal stretches longer than this many characters are cut to their ends around a change. */
const KEEP = 80;

/** A word-by-word difference as inline marks: <del> for A's words, <ins> for B's, long equal stretches cut. */
function inlineDiff(x, y) {
  const segments = textDiff(x, y);
  return h('span', { class: 'inline-diff' }, segments.map((segment, index) => {
    if (segment.kind === 'del') return del(segment.text);
    if (segment.kind === 'ins') return ins(segment.text);
    const { text } = segment;
    if (text.length <= KEEP * 2) return text;
    const first = index === 0;
    const last = index === segments.length - 1;
    const cut = h('span', { class: 'elided', title: 'equal text left out' }, ' … ');
    if (first) return [cut, text.slice(-KEEP)];
    if (last) return [text.slice(0, KEEP), cut];
    return [text.slice(0, KEEP), cut, text.slice(-KEEP)];
  }));
}

/** Reads a normalized path's segments after `$` (RFC 9535, as diff.ts writes them); undefined when it cannot. */
function segmentsOf(rest) {
  const segments = [];
  const pattern = /\[(\d+)\]|\['((?:[^'\\]|\\['\\bfnrt]|\\u[0-9a-f]{4})*)'\]/gy;
  const escapes = { "'": "'", '\\': '\\', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  while (pattern.lastIndex < rest.length) {
    const match = pattern.exec(rest);
    if (match === null) return undefined;
    segments.push(match[1] !== undefined ? Number(match[1]) : match[2].replace(/\\(u[0-9a-f]{4}|.)/g, (_, escape) => (escape.length > 1 ? String.fromCharCode(parseInt(escape.slice(1), 16)) : escapes[escape])));
  }
  return segments;
}

const at = (value, segments) => segments.reduce((inner, segment) => (inner === undefined || inner === null || typeof inner !== 'object' ? undefined : inner[segment]), value);

/** A JSON value as one line, cut when long. */
function oneLine(value) {
  const text = JSON.stringify(value);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/**
 * Where two values differ, as SPEC 10 walks them (the core's walk, over one-element stand-in
 * lists): each place's normalized path under `prefix` and the two values there, strings word by word.
 */
function valueChanges(prefix, x, y) {
  const places = diffCompositions(standIn([x]), standIn([y])).differences.filter((difference) => difference.path.startsWith(STAND_IN_ELEMENT));
  if (places.length === 0) return h('p', { class: 'muted' }, 'The same content.');
  return h('ul', { class: 'changes', 'aria-label': 'Where they differ' }, places.map(({ change, path }) => {
    const rest = path.slice(STAND_IN_ELEMENT.length);
    const where = `${prefix}${rest}`;
    const segments = segmentsOf(rest);
    const item = h('li', { 'data-path': where, 'data-change': change }, h('code', { class: 'path' }, where), ' ',
      h('span', { class: 'change-kind' }, change === 'added' ? 'only in B' : change === 'removed' ? 'only in A' : 'changed'), ': ');
    if (segments === undefined) return item;
    const [left, right] = [at(x, segments), at(y, segments)];
    if (change === 'changed' && typeof left === 'string' && typeof right === 'string') item.append(inlineDiff(left, right));
    else {
      if (change !== 'added') item.append(h('span', { class: 'side-label' }, 'A '), del(oneLine(left)));
      if (change === 'changed') item.append(' → ');
      if (change !== 'removed') item.append(h('span', { class: 'side-label' }, 'B '), ins(oneLine(right)));
    }
    return item;
  }));
}

/**
 * The stored bytes of these digests, fetched a few at a time: null where only the digest is kept.
 * `wanted` holds [digest, stored]: what the run view says is not stored is not asked for.
 */
async function fetchContent(wanted) {
  const content = new Map();
  const queue = [];
  for (const [digest, stored] of wanted) {
    if (content.has(digest)) continue;
    content.set(digest, null);
    if (stored) queue.push(digest);
  }
  await fetchStored(content, queue);
  return content;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A stored piece as the page shows and compares it: { text, value } (value: its JSON, when it is), or { note } when it cannot be shown. */
function pieceOf(content, digest) {
  const bytes = digest === undefined ? undefined : content.get(digest);
  if (bytes === null || bytes === undefined) return { note: 'Digest only: the content was not kept.' };
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { note: `${bytes.length} bytes, not UTF-8 text` };
  }
  try {
    const value = parseJson(text);
    return { text: JSON.stringify(JSON.parse(text), null, 2), value };
  } catch {
    return { text };
  }
}

/**
 * Lines of `text`, each a block of its own, those not in `kept` marked: <del> and a "−" in A, <ins>
 * and a "+" in B (the lines each side alone has).
 */
function markedText(text, kept, side) {
  if (kept === undefined) return h('pre', {}, text);
  return h('pre', { class: 'marked' }, text.split('\n').map((line, index) => {
    if (kept.has(index)) return h('span', { class: 'line' }, line);
    return side === 'A' ? h('del', { class: 'line' }, spoken('only in A: '), line) : h('ins', { class: 'line' }, spoken('only in B: '), line);
  }));
}

/** The lines of two texts that align() matches, for each side; undefined when either is too long to align. */
function keptLines(x, y) {
  const [linesA, linesB] = [x.split('\n'), y.split('\n')];
  if (linesA.length * linesB.length > ALIGN_LIMIT) return [undefined, undefined];
  const pairs = matches(linesA, linesB);
  return [new Set(pairs.map((pair) => pair.a)), new Set(pairs.map((pair) => pair.b))];
}

/** Two pieces side by side (stacked on a phone), the lines each has alone marked when both are text. */
function pairOf(left, right, labels) {
  const [keptA, keptB] = left.text !== undefined && right.text !== undefined ? keptLines(left.text, right.text) : [undefined, undefined];
  const column = (piece, kept, side, label) => {
    const body = piece.text === undefined ? h('div', { class: 'digest-only' }, piece.note) : markedText(piece.text, kept, side);
    const lines = piece.text?.split('\n').length ?? 0;
    return h('div', { class: 'side', 'data-side': side }, h('div', { class: 'side-head' }, label),
      lines > FOLD ? h('details', { open: kept !== undefined && (kept.size < lines) }, h('summary', {}, `Show ${lines} lines`), body) : body);
  };
  return h('div', { class: 'pair' }, column(left, keptA, 'A', labels[0]), column(right, keptB, 'B', labels[1]));
}

/** One side alone (an added or removed element), its lines marked as that side's. */
function single(piece, side, label) {
  const body = piece.text === undefined ? h('div', { class: 'digest-only' }, piece.note) : markedText(piece.text, new Set(), side);
  return h('div', { class: 'single', 'data-side': side }, h('div', { class: 'side-head' }, label), body);
}

const equalBadge = (equal) => h('span', { class: `badge ${equal ? 'derived' : 'fail'}` }, equal ? 'equal' : 'differs');
const contentBadge = (same) => (same === undefined ? h('span', { class: 'badge' }, 'not comparable: content not kept') : equalBadge(same));
const CHANGE_BADGES = {
  equal: ['derived', 'equal'],
  moved: ['reported', 'moved'],
  changed: ['fail', 'changed'],
  added: ['fail', 'added in B'],
  removed: ['fail', 'removed: only in A'],
  unknown: ['', 'not comparable: content not kept'],
};
const changeBadge = (change) => h('span', { class: `badge ${CHANGE_BADGES[change][0]}`.trim() }, CHANGE_BADGES[change][1]);

/** Said under a list component too long for SPEC 10's exact alignment (the core's bounds, src/identity/align.ts). */
const INEXACT_NOTE = 'Too long to align exactly (SPEC 10): past runprint\'s bounds, the elements whose digest occurs once in each list are aligned first, then the others gap by gap, so an element may be named moved, changed, added or removed where an exact alignment would find it equal.';

const SALTED_NOTE = 'Salted: each run commits to its content with its own salt, so the digests differ; the content the store keeps is compared, element by element.';

/** What each component of two identified runs needs to be compared: keys, alignment and the digests to read. */
function planOf(a, b) {
  const plans = [];
  for (const name of Object.keys(a.identity.components)) {
    const left = a.identity.components[name];
    const right = b.identity.components[name];
    const salted = left.salted === true || right.salted === true;
    plans.push({ name, left, right, salted, list: left.kind === 'list' && right.kind === 'list', equal: !salted && left.digest.sha256 === right.digest.sha256 });
  }
  return plans;
}

/** The digests a component's comparison reads: [digest, stored] pairs. */
function wantedOf(plan, a, b) {
  if (plan.equal) return [];
  if (!plan.list) return [[plan.left.digest.sha256, isStored(a, plan.name)], [plan.right.digest.sha256, isStored(b, plan.name)]];
  const elements = (run, entry, indices) => indices.map((index) => [entry.elements[index].sha256, isStored(run, plan.name, index)]);
  if (plan.salted) return [...elements(a, plan.left, plan.left.elements.map((_, index) => index)), ...elements(b, plan.right, plan.right.elements.map((_, index) => index))];
  // Unsalted: aligned by digest first; only the elements that are not equal are read.
  alignPlan(plan, plan.left.elements.map((digest) => digest.sha256), plan.right.elements.map((digest) => digest.sha256));
  const shown = plan.rows.filter((row) => row.change !== 'equal' && row.change !== 'moved');
  return [...elements(a, plan.left, shown.filter((row) => row.a !== undefined).map((row) => row.a)), ...elements(b, plan.right, shown.filter((row) => row.b !== undefined).map((row) => row.b))];
}

/** A list component's rows (align()), and whether runprint's alignment of its keys was exact: within SPEC 10's bound. */
function alignPlan(plan, keysA, keysB) {
  ({ rows: plan.rows, exact: plan.exact } = alignment(keysA, keysB));
}

/**
 * The key an element is aligned by: its digest; in a salted component (digests that differ by the
 * run's salt) its stored content, and where that is not stored a key of its own, matching nothing.
 */
function saltedKeys(entry, content, side) {
  return entry.elements.map((digest, index) => {
    const bytes = content.get(digest.sha256);
    return bytes === null || bytes === undefined ? `not stored: ${side}${index}` : `content: ${new TextDecoder().decode(bytes)}`;
  });
}

/** A list component's aligned rows, each an element: equal and moved ones by digest, the others with their content. */
function listRows(plan, content) {
  const { name, left, right } = plan;
  if (plan.salted) {
    alignPlan(plan, saltedKeys(left, content, 'A'), saltedKeys(right, content, 'B'));
    // Paired in a gap, with either side's content not stored: nothing says whether they differ.
    for (const row of plan.rows) {
      if (row.change === 'changed' && (content.get(left.elements[row.a].sha256) == null || content.get(right.elements[row.b].sha256) == null)) row.change = 'unknown';
    }
  }
  const label = (row) => {
    if (row.a === undefined) return `${name}[${row.b}]`;
    if (row.b === undefined) return `${name}[${row.a}]`;
    return row.a === row.b ? `${name}[${row.a}]` : `${name}[${row.a}] → ${name}[${row.b}]`;
  };
  const digestA = (row) => left.elements[row.a].sha256;
  const digestB = (row) => right.elements[row.b].sha256;
  const elements = plan.rows.map((row) => {
    const equalish = row.change === 'equal' || row.change === 'moved';
    const element = h('div', {
      class: 'element', 'data-element': `${name}[${row.b ?? row.a}]`, 'data-change': row.change,
      'data-a': row.a, 'data-b': row.b, 'data-equal': row.change === 'unknown' ? 'undefined' : String(equalish),
    }, h('div', { class: 'element-head' }, h('strong', {}, label(row)), ' ', changeBadge(row.change)));
    if (equalish) {
      element.append(plan.salted ? h('div', {}, h('div', { class: 'digest' }, `A ${digestA(row)}`), h('div', { class: 'digest' }, `B ${digestB(row)}`)) : h('div', { class: 'digest' }, digestA(row)));
    } else if (row.change === 'added') {
      element.append(single(pieceOf(content, digestB(row)), 'B', `B ${digestB(row)}`));
    } else if (row.change === 'removed') {
      element.append(single(pieceOf(content, digestA(row)), 'A', `A ${digestA(row)}`));
    } else {
      const [x, y] = [pieceOf(content, digestA(row)), pieceOf(content, digestB(row))];
      if (x.value !== undefined && y.value !== undefined) element.append(valueChanges(`$['${name}'][${row.b}]`, x.value, y.value));
      element.append(pairOf(x, y, [`A ${digestA(row)}`, `B ${digestB(row)}`]));
    }
    return element;
  });
  return foldEqualRuns(elements, name);
}

/** Runs of EQUAL_RUN or more equal elements folded behind one summary that names them. */
function foldEqualRuns(elements, name) {
  const out = [];
  for (let start = 0; start < elements.length;) {
    let end = start;
    while (end < elements.length && elements[end].dataset.change === 'equal') end++;
    if (end - start >= EQUAL_RUN) {
      const [first, last] = [elements[start].dataset, elements[end - 1].dataset];
      const span = (side) => `${name}[${first[side]}]–[${last[side]}]`;
      const names = first.a === first.b && last.a === last.b ? span('a') : `${span('a')} in A, ${span('b')} in B`;
      out.push(h('details', { class: 'equal-run' }, h('summary', {}, `${end - start} equal elements: ${names}`), elements.slice(start, end)));
      start = end;
    } else {
      out.push(...elements.slice(start, Math.max(end, start + 1)));
      start = Math.max(end, start + 1);
    }
  }
  return out;
}

/** One component of both runs: equal by digest (or, salted, by content), else element by element or value by value. */
function componentBlock(plan, content) {
  const { name, left, right } = plan;
  const block = h('div', { class: 'compare-part', 'data-component': name });
  if (plan.salted) block.dataset.salted = 'true';
  const heading = h('h3', {});
  block.append(heading);
  if (plan.salted) block.append(h('p', { class: 'muted' }, SALTED_NOTE));
  let equal;
  if (plan.equal) {
    equal = true;
    block.append(h('div', { class: 'digest' }, left.digest.sha256));
  } else if (plan.list) {
    const rows = listRows(plan, content);
    const counts = { equal: 0, moved: 0, changed: 0, added: 0, removed: 0, unknown: 0 };
    for (const row of plan.rows) counts[row.change]++;
    equal = plan.salted ? (counts.unknown > 0 ? undefined : counts.equal === plan.rows.length) : false;
    const said = Object.entries(counts).filter(([, count]) => count > 0).map(([change, count]) => `${count} ${CHANGE_BADGES[change][1].replace(/:.*$/, '')}`);
    block.append(h('p', { class: 'muted counts' }, `${left.elements.length} element${left.elements.length === 1 ? '' : 's'} in A, ${right.elements.length} in B: ${said.join(', ') || 'none'}.`),
      ...(plan.exact ? [] : [h('p', { class: 'muted inexact', 'data-inexact': name }, INEXACT_NOTE)]),
      ...rows);
  } else {
    const [x, y] = [pieceOf(content, left.digest.sha256), pieceOf(content, right.digest.sha256)];
    equal = plan.salted ? (x.text === undefined || y.text === undefined ? undefined : x.text === y.text) : false;
    if (equal !== true && x.value !== undefined && y.value !== undefined) block.append(valueChanges(`$['${name}']`, x.value, y.value));
    block.append(pairOf(x, y, [`A ${left.digest.sha256}`, `B ${right.digest.sha256}`]));
  }
  block.dataset.equal = String(equal);
  heading.append(name, ' ', plan.salted ? contentBadge(equal) : equalBadge(equal));
  return block;
}

function factsTable(a, b) {
  const facts = (run) => run.record.served ?? {};
  const names = [...new Set([...Object.keys(facts(a)), ...Object.keys(facts(b))])].sort();
  if (names.length === 0) return h('p', { class: 'muted' }, 'Neither run has served facts.');
  const value = (fact) => (fact === undefined ? '—' : `${JSON.stringify(fact.value)} (${fact.source})`);
  return h('table', { class: 'facts compare' }, h('thead', {}, h('tr', {}, h('th', {}, 'fact'), h('th', {}, 'A'), h('th', {}, 'B'))),
    h('tbody', {}, names.map((name) => {
      const [x, y] = [value(facts(a)[name]), value(facts(b)[name])];
      return h('tr', { 'data-fact': name, 'data-equal': String(x === y) }, h('th', { scope: 'row' }, name, ' ', equalBadge(x === y)), h('td', { 'data-label': 'A' }, h('code', {}, x)), h('td', { 'data-label': 'B' }, h('code', {}, y)));
    })));
}

/** The response body a run's output is read from, when the store keeps it (a 2xx answer's only). */
function responseDigest(run) {
  const status = run.record.response.status;
  return run.record.response.rawDigest !== null && status !== null && status >= 200 && status <= 299 ? run.record.response.rawDigest.sha256 : undefined;
}

/**
 * A run's output (SPEC 12) as the page shows it: assembled by the core's runOutputFrom from the
 * response body the store keeps, as its output digest is computed ({ text, value }), or a note
 * saying why not. `body` is the body as stored, to show under it.
 */
function outputOf(run, content) {
  const digest = responseDigest(run);
  if (digest === undefined) return { note: run.record.response.status === null ? 'No response arrived.' : `No body is kept for an answer of HTTP ${run.record.response.status}.` };
  const body = pieceOf(content, digest);
  if (body.text === undefined) return body;
  let output;
  try {
    output = runOutputFrom(content.get(digest), run.record.format).output;
  } catch (error) {
    return { ...body, value: undefined, why: `The body gives no output (${error.code ?? error.message}): it is shown as stored.` };
  }
  if (output === null) return { ...body, value: undefined, why: 'The body gives no output: it is shown as stored.' };
  return { text: JSON.stringify(output, null, 2), value: output, body };
}

/**
 * The two outputs side by side (stacked on a phone): equal when their output digests are (SPEC
 * 12.1), or, neither having one, their raw digests; each output as the core assembles it from the
 * stored response body, where they differ listed by path (as `runs diff` names a place in an
 * output) and the lines each has alone marked; each body as stored below it.
 */
function outputs(a, b, content) {
  const digest = (run) => run.record.output?.digest?.sha256 ?? null;
  const raw = (run) => run.record.response.rawDigest?.sha256 ?? null;
  const has = (run) => run.record.output !== null || raw(run) !== null;
  const equal = digest(a) !== null || digest(b) !== null ? digest(a) === digest(b) : raw(a) === raw(b);
  const badge = !has(a) && !has(b) ? h('span', { class: 'badge' }, 'neither has one') : equalBadge(equal);
  const [x, y] = [outputOf(a, content), outputOf(b, content)];
  const head = (run, side, piece) => [
    h('strong', {}, `${side}: run #${run.seq}`),
    h('div', { class: 'digest' }, `output ${digest(run) ?? 'none'}`),
    run.record.output === null ? '' : h('div', { class: 'muted' }, `finish reason ${run.record.output.finishReason ?? '—'}`),
    piece.why === undefined ? '' : h('div', { class: 'muted' }, piece.why),
  ];
  const pair = pairOf(x, y, [head(a, 'A', x), head(b, 'B', y)]);
  pair.id = 'compare-outputs';
  pair.classList.add('outputs');
  pair.dataset.equal = !has(a) && !has(b) ? 'none' : String(equal);
  // Each side's response body as stored, folded under its output.
  for (const [side, piece] of [['A', x], ['B', y]]) {
    if (piece.body?.text === undefined) continue;
    pair.querySelector(`.side[data-side="${side}"]`).append(h('details', { class: 'body' }, h('summary', {}, 'The response body as stored'), h('pre', {}, piece.body.text)));
  }
  const where = equal || x.value === undefined || y.value === undefined ? '' : valueChanges('$', x.value, y.value);
  if (where !== '') {
    where.id = 'outputs-changes';
    where.setAttribute('aria-label', 'Where the outputs differ');
  }
  // Equal outputs in other bytes: what differs is outside the output (ids, usage, the framing of a stream).
  const note = equal && raw(a) !== raw(b) ? h('p', { class: 'muted', id: 'outputs-note' }, 'The outputs are equal (SPEC 12.1); the response bodies differ outside them (ids, usage, or one streamed and one not).') : '';
  return [h('h2', { id: 'outputs' }, 'Outputs ', badge), note, where, pair];
}

function summaryTable(a, b) {
  const rows = [
    ['Run identity', (run) => run.record.runId ?? 'none'],
    ['Request identity', (run) => run.record.requestId ?? 'none'],
    ['Model', (run) => run.model ?? '—'],
    ['Status', (run) => String(run.record.response.status ?? 'no response')],
    ['Output digest', (run) => run.record.output?.digest.sha256 ?? 'none'],
  ];
  return h('table', { class: 'facts compare', id: 'compare-summary' }, h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, h('a', { href: `#/run/${a.captureId}` }, `A: run #${a.seq}`)), h('th', {}, h('a', { href: `#/run/${b.captureId}` }, `B: run #${b.seq}`)))),
    h('tbody', {}, rows.map(([name, of]) => {
      // Two runs without an identity are not equal in it: neither has one to compare.
      const neither = of(a) === 'none' && of(b) === 'none';
      return h('tr', { 'data-equal': neither ? 'none' : String(of(a) === of(b)) }, h('th', { scope: 'row' }, name, ' ', neither ? h('span', { class: 'badge' }, 'neither has one') : equalBadge(of(a) === of(b))), h('td', { class: 'digest', 'data-label': 'A' }, of(a)), h('td', { class: 'digest', 'data-label': 'B' }, of(b)));
    })));
}

/** Why there are no components to compare: each unidentified run ([label, run]), its code and where. */
function noComponents(unidentified) {
  const why = ([, run]) => {
    const { code, path } = run.record.unidentified ?? { code: 'no identity', path: null };
    return `${code}${path === null || path === undefined ? '' : ` at ${path}`}`;
  };
  const [first, second] = unidentified;
  const text = second === undefined
    ? `Run ${first[0]} has no components: its request was not identified (${why(first)}), so there is nothing to compare component by component.`
    : `Neither run has components: neither request was identified (A: ${why(first)}; B: ${why(second)}), so there is nothing to compare component by component.`;
  return h('p', { class: 'muted', id: 'compare-no-components', 'data-unidentified': unidentified.map(([label]) => label).join(' ') }, text);
}

export async function comparePage(main, params) {
  const form = h('form', { class: 'filters', 'aria-label': 'Runs to compare' },
    h('label', {}, 'Run A (capture id or run identity)', h('input', { name: 'a', value: params.get('a') ?? '', spellcheck: 'false' })),
    h('label', {}, 'Run B', h('input', { name: 'b', value: params.get('b') ?? '', spellcheck: 'false' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Compare')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/compare?${new URLSearchParams({ a: form.elements.a.value.trim(), b: form.elements.b.value.trim() })}`;
  });
  main.append(h('h1', {}, 'Compare runs'), form);
  if (!params.get('a') || !params.get('b')) {
    main.append(h('p', { class: 'muted' }, 'Tick two runs in the runs list and choose Compare, or give two ids here.'));
    return;
  }
  let a;
  let b;
  try {
    [a, b] = await Promise.all([load(params.get('a')), load(params.get('b'))]);
  } catch (error) {
    main.append(errorBlock(error));
    return;
  }
  const same = a.record.runId !== null && a.record.runId === b.record.runId;
  const sameRequest = a.record.requestId !== null && a.record.requestId === b.record.requestId;
  // A run whose request was not identified has no components: said once, with its code, rather
  // than each component "differing" from nothing.
  const unidentified = [['A', a], ['B', b]].filter(([, run]) => run.identity === null);
  const verdict = same ? 'The same run: equal request and served facts.' : sameRequest ? 'The same request, served differently.'
    : unidentified.length > 0 ? `Not comparable by identity: ${unidentified.length === 2 ? 'neither request was' : `the request of run ${unidentified[0][0]} was not`} identified.` : 'Different requests.';
  const plans = unidentified.length > 0 ? [] : planOf(a, b);
  const wanted = plans.flatMap((plan) => wantedOf(plan, a, b));
  for (const run of [a, b]) {
    const response = responseDigest(run);
    if (response !== undefined) wanted.push([response, isStored(run, 'response')]);
  }
  const content = await fetchContent(wanted);
  main.append(h('p', { class: 'summary', id: 'compare-verdict' }, verdict),
    h('p', { class: 'muted' }, 'Compared by the digests the store holds, list elements aligned as runprint diff aligns them (equal digests matched, the others moved, changed, added or removed); open each run to have its page recompute and verify them.'),
    summaryTable(a, b),
    h('h2', {}, 'Components'), ...(unidentified.length > 0 ? [noComponents(unidentified)] : plans.map((plan) => componentBlock(plan, content))),
    ...outputs(a, b, content),
    h('h2', {}, 'Served facts'), factsTable(a, b));
}
