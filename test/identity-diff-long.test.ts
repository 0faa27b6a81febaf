/**
 * SPEC 10 diffs of long lists: list components aligned by element digest past the old bound (two
 * lengths multiplying to more than 4,000,000, where nothing was aligned and every unchanged element
 * was reported as moved to its own index), with the exact differences of each case; the bounds of
 * runprint's alignment (4,000,000 pairs left after the common beginning and end; 2,000 insertions
 * and removals) and what is aligned past them; an element kept at its own index rather than
 * reported moved there; and, on random small lists, the alignment checked against the quadratic
 * table: a longest common subsequence within the bounds, the same one by either search.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { alignLists, type AlignmentBounds } from '../src/identity/align.ts';
import { diffCompositions, type Difference } from '../src/identity/diff.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const withInput = (input: unknown[]) => ({
  version: 'runprint/v1',
  model: { name: 'm' },
  system: [],
  input,
  context: [],
  tools: [],
  parameters: {},
  configuration: {},
});
const diffInputs = (a: unknown[], b: unknown[]) => diffCompositions(withInput(a), withInput(b)).differences;
/** deepEqual, after a short message when the counts differ (a diff of 50,000 differences would be too long to print). */
function assertDifferences(actual: Difference[], expected: Difference[]): void {
  const count = (list: Difference[]) => `${list.length} (${list.filter((difference) => difference.change === 'moved').length} moved)`;
  assert.ok(actual.length === expected.length, `${count(actual)} differences, expected ${count(expected)}: ${JSON.stringify(actual.slice(0, 3))}`);
  assert.deepEqual(actual, expected);
}
const at = (index: number) => `$['input'][${index}]`;
const messages = (length: number, text = (i: number) => `message ${i}`) => Array.from({ length }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: text(i) }));
const moved = (from: number, to: number): Difference => ({ component: 'input', change: 'moved', path: at(to), from, to });
const added = (to: number): Difference => ({ component: 'input', change: 'added', path: at(to), to });
const removed = (from: number): Difference => ({ component: 'input', change: 'removed', path: at(from), from });
const changed = (from: number, to: number, path = ''): Difference => ({ component: 'input', change: 'changed', path: `${at(to)}${path}`, from, to });

test('the reported reproduction: `runprint diff` of 2,000 and 2,001 chat messages is the one added message', async (t) => {
  const { folder, file, cli } = cliFolder('runprint-diff-long-');
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const request = (length: number) => ({ model: 'gpt-4o', messages: Array.from({ length }, (_, i) => ({ role: 'user', content: `m${i}` })) });
  file('a.json', JSON.stringify(request(2000)));
  file('b.json', JSON.stringify(request(2001)));
  const result = await cli(['diff', 'a.json', 'b.json']);
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines.filter((line) => line.startsWith('moved')).length, 0);
  assert.deepEqual(lines.slice(3), ["added    input          $['input'][2000]"]);
  const json = await cli(['diff', 'a.json', 'b.json', '--json']);
  assertDifferences(JSON.parse(json.stdout).differences, [added(2000)]);
});

test('50,000 messages against 50,000 with one changed in the middle: that one change', () => {
  const a = messages(50_000);
  const b = messages(50_000);
  b[25_000] = { role: 'user', content: 'changed' };
  assertDifferences(diffInputs(a, b), [changed(25_000, 25_000, "['content']")]);
});

test('one message inserted in the middle of 50,000: that one addition; and removed: that one removal', () => {
  const a = messages(50_000);
  const b = [...a.slice(0, 25_000), { role: 'user', content: 'inserted' }, ...a.slice(25_000)];
  assertDifferences(diffInputs(a, b), [added(25_000)]);
  assertDifferences(diffInputs(b, a), [removed(25_000)]);
});

test('a list reversed: one element aligned, every other moved to its mirrored place, none to its own index', () => {
  // 3,000 elements (even): the last of A is aligned with the first of B.
  const even = messages(3000);
  assertDifferences(diffInputs(even, [...even].reverse()), Array.from({ length: 2999 }, (_, i) => moved(i, 2999 - i)));
  // 3,001 (odd): the middle element stays where it is, aligned; it is not "moved" to index 1500.
  const odd = messages(3001);
  assertDifferences(
    diffInputs(odd, [...odd].reverse()),
    Array.from({ length: 3001 }, (_, i) => i).filter((i) => i !== 1500).map((i) => moved(i, 3000 - i)),
  );
  // Small lists, within the bounds, the same: b stays aligned at 1, a and c move (not c aligned and b moved to 1).
  assertDifferences(diffInputs(['a', 'b', 'c'], ['c', 'b', 'a']), [moved(0, 2), moved(2, 0)]);
  assertDifferences(diffInputs(['a', 'b', 'c', 'd', 'e'], ['a', 'd', 'c', 'b', 'e']), [moved(1, 3), moved(3, 1)]);
});

test('two lists of 3,000 elements with no element in common: each pair walked in order', () => {
  const a = messages(3000, (i) => `a${i}`);
  const b = messages(3000, (i) => `b${i}`);
  assertDifferences(diffInputs(a, b), Array.from({ length: 3000 }, (_, i) => changed(i, i, "['content']")));
});

test('repeated identical elements: one more, one fewer, one other in the middle', () => {
  const same = (length: number) => Array.from({ length }, () => ({ role: 'user', content: 'again' }));
  assertDifferences(diffInputs(same(3000), same(3001)), [added(3000)]);
  assertDifferences(diffInputs(same(50_000), same(49_999)), [removed(49_999)]);
  const other = [...same(25_000), { role: 'user', content: 'other' }, ...same(25_000)];
  assertDifferences(diffInputs(same(50_000), other), [added(25_000)]);
  const swapped = [...same(25_000), { role: 'user', content: 'other' }, ...same(24_999)];
  assertDifferences(diffInputs(same(50_000), swapped), [changed(25_000, 25_000, "['content']")]);
});

test('the bounds: 4,000,000 pairs left after the common ends, 2,000 insertions and removals', () => {
  const run = (prefix: string, length: number) => Array.from({ length }, (_, i) => `${prefix}${i}`);
  const a = (length: number) => Array.from({ length }, () => 'a');
  // Only the a's are common (not unique, so past the bounds nothing anchors on them).
  // 2,000 x 2,000 pairs, 2,200 insertions and removals: within the pair bound, exact.
  const within = alignLists([...a(900), ...run('p', 1100)], [...run('q', 1100), ...a(900)]);
  assert.equal(within.exact, true);
  assert.equal(within.pairs.length, 900);
  assertDifferences(diffInputs([...a(900), ...run('p', 1100)], [...run('q', 1100), ...a(900)]), [
    ...Array.from({ length: 1100 }, (_, i) => added(i)),
    ...Array.from({ length: 1100 }, (_, i) => removed(900 + i)),
  ]);
  // 2,001 x 2,000 pairs, 2,201 insertions and removals: past both, not aligned; the a's are moved.
  const past = alignLists([...a(900), ...run('p', 1101)], [...run('q', 1100), ...a(900)]);
  assert.deepEqual(past, { pairs: [], exact: false });
  assertDifferences(diffInputs([...a(900), ...run('p', 1101)], [...run('q', 1100), ...a(900)]), [
    ...Array.from({ length: 900 }, (_, i) => moved(i, 1100 + i)),
    ...Array.from({ length: 1100 }, (_, i) => changed(900 + i, i)),
    removed(2000),
  ]);
  // 3,100 x 3,100 pairs and exactly 2,000 insertions and removals: exact by Myers' search.
  const edits = alignLists([...a(2100), ...run('p', 1000)], [...run('q', 1000), ...a(2100)]);
  assert.equal(edits.exact, true);
  assert.deepEqual(edits.pairs, Array.from({ length: 2100 }, (_, i) => [i, 1000 + i]));
  // 2,002: past both bounds. Only a's at the same index are aligned (1,001 to 2,099).
  const more = alignLists([...a(2100), ...run('p', 1001)], [...run('q', 1001), ...a(2100)]);
  assert.equal(more.exact, false);
  assert.deepEqual(more.pairs, Array.from({ length: 1099 }, (_, i) => [1001 + i, 1001 + i]));
  // Past the bounds, the common beginning and end are aligned, and elements unique in both anchor
  // the rest: two halves of 3,000 swapped, one half aligned, the other moved.
  const first = run('f', 3000);
  const second = run('s', 3000);
  const swapped = alignLists(['start', ...first, ...second, 'end'], ['start', ...second, ...first, 'end']);
  assert.equal(swapped.exact, false);
  assert.deepEqual(swapped.pairs, [[0, 0], ...Array.from({ length: 3000 }, (_, i) => [3001 + i, 1 + i]), [6001, 6001]]);
  assertDifferences(diffInputs(['start', ...first, ...second, 'end'], ['start', ...second, ...first, 'end']), Array.from({ length: 3000 }, (_, i) => moved(1 + i, 3001 + i)));
});

/** The length of a longest common subsequence, by the quadratic table. */
function lcsLength(a: readonly string[], b: readonly string[]): number {
  let row = new Array<number>(b.length + 1).fill(0);
  for (let i = a.length - 1; i >= 0; i--) {
    const next = new Array<number>(b.length + 1).fill(0);
    for (let j = b.length - 1; j >= 0; j--) next[j] = a[i] === b[j] ? row[j + 1]! + 1 : Math.max(row[j]!, next[j + 1]!);
    row = next;
  }
  return row[0]!;
}

/**
 * Checks pairs are a common subsequence, and that an element the diff reports moved to its own index
 * (SPEC 10's moves: each element of A not aligned, in order, with the first element of B not aligned
 * and not yet taken with its digest) is crossed by two aligned pairs or more, so that no alignment as
 * long could keep it in place.
 */
function checkAlignment(a: readonly string[], b: readonly string[], pairs: ReadonlyArray<readonly [number, number]>): void {
  let previous: readonly [number, number] = [-1, -1];
  for (const pair of pairs) {
    assert.ok(pair[0] > previous[0] && pair[1] > previous[1], `pairs in order: ${JSON.stringify(pairs)}`);
    assert.equal(a[pair[0]], b[pair[1]]);
    previous = pair;
  }
  const alignedA = new Set(pairs.map((pair) => pair[0]));
  const alignedB = new Set(pairs.map((pair) => pair[1]));
  const taken = new Set<number>();
  for (let i = 0; i < a.length; i++) {
    if (alignedA.has(i)) continue;
    const to = b.findIndex((key, j) => key === a[i] && !alignedB.has(j) && !taken.has(j));
    if (to === -1) continue;
    taken.add(to);
    if (to !== i) continue;
    const crossing = pairs.filter(([x, y]) => (x < i && y > i) || (x > i && y < i)).length;
    assert.ok(crossing >= 2, `element ${i} of ${a.join('')} / ${b.join('')} moved to its own index, crossed by ${crossing} pair(s)`);
  }
}

const lists = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 40 });

test('property: within the bounds, a longest common subsequence, as long as the table\'s', () => {
  fc.assert(
    fc.property(lists, lists, (a, b) => {
      const { pairs, exact } = alignLists(a, b);
      assert.equal(exact, true);
      assert.equal(pairs.length, lcsLength(a, b));
      checkAlignment(a, b, pairs);
    }),
    { numRuns: 2000 },
  );
});

test('property: Myers\' search gives the same alignment as the table', () => {
  const searchOnly: AlignmentBounds = { pairs: 0, edits: Number.POSITIVE_INFINITY };
  const tableOnly: AlignmentBounds = { pairs: Number.POSITIVE_INFINITY, edits: 0 };
  fc.assert(
    fc.property(lists, lists, (a, b) => {
      const search = alignLists(a, b, searchOnly);
      assert.deepEqual(search, alignLists(a, b, tableOnly));
      assert.equal(search.pairs.length, lcsLength(a, b));
    }),
    { numRuns: 2000 },
  );
});

test('property: with small bounds, exact within them, and past them a common subsequence', () => {
  const bounds = fc.record({ pairs: fc.nat(60), edits: fc.nat(6) });
  fc.assert(
    fc.property(lists, lists, bounds, (a, b, limits) => {
      const { pairs, exact } = alignLists(a, b, limits);
      checkAlignment(a, b, pairs);
      const longest = lcsLength(a, b);
      if (exact) assert.equal(pairs.length, longest);
      else assert.ok(pairs.length <= longest);
    }),
    { numRuns: 3000 },
  );
});
