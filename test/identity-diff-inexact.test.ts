/**
 * diffCompositions' `inexact` (docs/API.md): the list components whose elements it aligned past
 * SPEC 10's bounds, from the alignment the diff made (the explorer's compare page reads it rather
 * than aligning each list a second time).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alignLists } from '../src/identity/align.ts';
import { diffCompositions } from '../src/identity/diff.ts';

const composition = (input: unknown[], context: unknown[] = []) => ({
  version: 'runprint/v1',
  model: { name: 'm' },
  system: [],
  input,
  context,
  tools: [],
  parameters: {},
  configuration: {},
});
const run = (prefix: string, length: number) => Array.from({ length }, (_, i) => `${prefix}${i}`);
const a = (length: number) => Array.from({ length }, () => 'a');
/** 2,000 x 2,000 pairs: within the pair bound. */
const withinA = [...a(900), ...run('p', 1100)];
const withinB = [...run('q', 1100), ...a(900)];
/** 2,001 x 2,000 pairs and 2,201 insertions and removals: past both bounds. */
const pastA = [...a(900), ...run('p', 1101)];
const pastB = [...run('q', 1100), ...a(900)];

test('inexact names the list components aligned past the bounds, in component order, and no other', () => {
  assert.deepEqual(diffCompositions(composition(withinA), composition(withinB)).inexact, []);
  assert.deepEqual(diffCompositions(composition(pastA), composition(pastB)).inexact, ['input']);
  assert.deepEqual(diffCompositions(composition(withinA, pastA), composition(withinB, pastB)).inexact, ['context']);
  assert.deepEqual(diffCompositions(composition(pastA, pastA), composition(pastB, pastB)).inexact, ['input', 'context']);
  // Equal lists are not aligned at all: exact.
  assert.deepEqual(diffCompositions(composition(pastA), composition(pastA)).inexact, []);
});

test('inexact agrees with alignLists over the element digests', () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 20; round++) {
    const length = 1500 + random(1500);
    const x = Array.from({ length }, () => `e${random(round % 2 === 0 ? 40 : 100_000)}`);
    const y = Array.from({ length: length + random(400) }, () => `e${random(round % 2 === 0 ? 40 : 100_000)}`);
    const diff = diffCompositions(composition(x), composition(y));
    const keys = (side: 'a' | 'b') => {
      const entry = diff[side].components.input;
      assert.equal(entry.kind, 'list');
      return entry.kind === 'list' ? entry.elements.map((digest) => digest.sha256) : [];
    };
    const { exact } = alignLists(keys('a'), keys('b'));
    assert.deepEqual(diff.inexact, exact ? [] : ['input'], `round ${round}`);
  }
});
