/**
 * The search behind declared retrieval (capture/find-texts.ts, capture-run.ts locate): every
 * text in one pass over the request's strings. It must find exactly what String.prototype.includes
 * finds, string by string, in the first place it occurs, and never a match across two strings;
 * locate searches a text declared twice once, and refuses more than it may search.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { locate } from '../src/capture/capture-run.ts';
import { MAX_DECLARED_DOCUMENTS, MAX_DECLARED_TEXT } from '../src/capture/declared.ts';
import { TextFinder } from '../src/capture/find-texts.ts';
import type { Composition } from '../src/identity/composition.ts';

/** A small deterministic generator (xorshift32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function word(next: () => number, alphabet: string, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
  return text;
}

test('TextFinder finds what includes finds, string by string, in the first string that holds each text', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    // Few letters, so texts overlap, nest and share prefixes and suffixes; a surrogate pair and a unit no text has.
    const alphabet = seed % 3 === 0 ? 'ab' : seed % 3 === 1 ? 'abc\u{1F600}' : 'aab\u00e9';
    const strings = Array.from({ length: 1 + Math.floor(next() * 6) }, () => word(next, alphabet + (seed % 5 === 0 ? 'z' : ''), Math.floor(next() * 40)));
    const texts = [...new Set(Array.from({ length: 1 + Math.floor(next() * 12) }, () => word(next, alphabet, 1 + Math.floor(next() * 7))))];
    const finder = new TextFinder(texts);
    strings.forEach((value, slot) => finder.scan(value, slot));
    const expected = texts.map((text) => strings.findIndex((value) => value.includes(text)));
    assert.deepEqual([...finder.first], expected, `seed ${seed}: ${JSON.stringify({ strings, texts })}`);
  }
});

/** Limits that spend the quick search's budget at once, early, midway or never. */
const LIMITS = [
  { base: 0, perUnit: 0, max: 0 },
  { base: 40, perUnit: 0, max: 40 },
  { base: 100, perUnit: 1, max: 400 },
  { base: 0, perUnit: 3, max: 1000 },
  { base: 1e12, perUnit: 0, max: 1e12 },
];

test('TextFinder finds what includes finds whichever search finds it: the automaton, the quick one, or the quick one giving up in the middle', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    const alphabet = seed % 2 === 0 ? 'ab' : 'abc\u{1F600}';
    const strings = Array.from({ length: 1 + Math.floor(next() * 5) }, () => word(next, alphabet, Math.floor(next() * 60)));
    const texts = [...new Set(Array.from({ length: 1 + Math.floor(next() * 8) }, () => word(next, alphabet, 1 + Math.floor(next() * 6))))];
    const expected = texts.map((text) => strings.findIndex((value) => value.includes(text)));
    for (const limits of LIMITS) {
      const finder = new TextFinder(texts, limits);
      strings.forEach((value, slot) => finder.scan(value, slot));
      assert.deepEqual([...finder.first], expected, `seed ${seed}, ${JSON.stringify(limits)}: ${JSON.stringify({ strings, texts })}`);
    }
  }
});

test('texts longer than the quick search\'s anchor (128 code units): the anchor\'s places are checked in full, windows cut where the budget runs out', () => {
  for (let seed = 1; seed <= 120; seed++) {
    const next = random(seed * 7919);
    // Long runs of one letter, so an anchor is found in many places the whole text is not.
    const alphabet = seed % 3 === 0 ? 'aaaaaaaab' : seed % 3 === 1 ? 'aab' : 'ab';
    const base = Array.from({ length: 4 }, () => word(next, alphabet, 100 + Math.floor(next() * 200)));
    const texts = [...new Set(Array.from({ length: 1 + Math.floor(next() * 5) }, () => {
      const from = base[Math.floor(next() * base.length)]!;
      const start = Math.floor(next() * 60);
      const text = from.slice(start, start + 120 + Math.floor(next() * 100));
      // Some texts changed in one place past the anchor, so only the check finds them absent.
      return next() < 0.4 ? `${text.slice(0, -3)}c${text.slice(-2)}` : text;
    }))];
    const strings = Array.from({ length: 1 + Math.floor(next() * 4) }, () => base.slice(0, 1 + Math.floor(next() * 4)).join(word(next, alphabet, Math.floor(next() * 5))));
    const expected = texts.map((text) => strings.findIndex((value) => value.includes(text)));
    for (const limits of [...LIMITS, { base: 500, perUnit: 0, max: 500 }, { base: 3000, perUnit: 2, max: 9000 }]) {
      const finder = new TextFinder(texts, limits);
      strings.forEach((value, slot) => finder.scan(value, slot));
      assert.deepEqual([...finder.first], expected, `seed ${seed}, ${JSON.stringify(limits)}`);
    }
  }
});

test('a text is never found across two strings, and a long periodic text is found or not in one pass', () => {
  const finder = new TextFinder(['ab', 'abc', 'ca']);
  finder.scan('xa', 0);
  finder.scan('bc', 1);
  finder.scan('zab', 2);
  assert.deepEqual([...finder.first], [2, -1, -1]);
  // The case that costs includes seconds: a long text that almost matches everywhere.
  const long = `${'a'.repeat(2000)}b${'a'.repeat(2000)}`;
  const periodic = new TextFinder([long, 'a'.repeat(3000)]);
  periodic.scan('a'.repeat(200_000), 0);
  assert.deepEqual([...periodic.first], [-1, 0]);
  periodic.scan(`xx${long}yy`, 1);
  assert.deepEqual([...periodic.first], [1, 0]);
  assert.equal(periodic.done, true);
  assert.equal(periodic.search, 'automaton', 'the quick search gave up: its anchor is in every place');
});

test('the quick search keeps to its budget: a typical request is searched by it, one made to slow it down by the automaton', () => {
  // 20 documents of 2,000 characters in the last message of a 200 KB request: quick all through.
  const words = ['the', 'tower', 'river', 'stands', 'in', 'paris', 'and', 'lyon', 'of', 'metres', 'tall', 'a', 'city'];
  const next = random(42);
  const prose = (length: number) => {
    let text = '';
    while (text.length < length) text += `${words[Math.floor(next() * words.length)]} `;
    return text.slice(0, length);
  };
  const documents = Array.from({ length: 20 }, () => prose(2000));
  const strings = ['Answer from the documents.', prose(150_000), 'user', documents.join('\n')];
  const finder = new TextFinder(documents);
  strings.forEach((value, slot) => finder.scan(value, slot));
  assert.deepEqual([...finder.first], documents.map(() => 3));
  assert.equal(finder.search, 'quick');
  // A string the anchors of 64 texts are found nowhere in, searched one code unit at a time.
  const texts = Array.from({ length: 64 }, (_, i) => `${'a'.repeat(127)}b${'c'.repeat(100)}[${i}]`);
  const slow = new TextFinder(texts);
  slow.scan('a'.repeat(1 << 20), 0);
  slow.scan(`${texts[5]}`, 1);
  assert.equal(slow.search, 'automaton');
  assert.deepEqual([...slow.first], texts.map((_, i) => (i === 5 ? 1 : -1)));
  // An anchor found in many places the text is not: each place is checked once, within the budget...
  const block = `${'a'.repeat(129)}c`;
  const once = new TextFinder([`${'a'.repeat(130)}b`]);
  once.scan(`${block.repeat(50)}${'a'.repeat(130)}b`, 0);
  assert.deepEqual([once.search, [...once.first]], ['quick', [0]]);
  // ...and each check counts the text's length: a text of 1,001 checked at every place of 20,000 is too much.
  const everywhere = new TextFinder([`${'a'.repeat(1000)}b`]);
  everywhere.scan('a'.repeat(20_000), 0);
  assert.deepEqual([everywhere.search, [...everywhere.first]], ['automaton', [-1]]);
  // Many small strings: the budget runs out on their count, not their length.
  const short = new TextFinder(['Z', ...Array.from({ length: 255 }, (_, i) => `absent ${i}`)]);
  for (let slot = 0; slot < 200_000; slot++) short.scan(`m${slot}`.padEnd(12, '.'), slot);
  assert.equal(short.search, 'automaton');
  assert.equal(short.first.every((slot) => slot === -1), true);
});

const compose = (system: unknown[], input: unknown[]) => ({ system, input }) as unknown as Composition;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

test('locate: each document in declared order, in the first element that holds it; a text declared twice is found once for both; what is not there is named', () => {
  const composition = compose(
    [{ type: 'text', text: 'Rules. Chunk two of the FAQ.' }],
    [{ role: 'user', content: [{ type: 'text', text: 'Chunk one of the FAQ.' }, { type: 'text', text: 'Chunk two of the FAQ.' }] }, { role: 'user', content: 'Chunk three.' }],
  );
  const located = locate([
    { source: 'kb://faq', text: 'Chunk one of the FAQ.' },
    { source: 'kb://faq', text: 'Chunk two of the FAQ.' },
    { source: 'kb://faq#copy', text: 'Chunk one of the FAQ.' },
    { source: 'kb://faq', text: 'Chunk three.' },
    { source: 'kb://gone', text: 'Never sent.' },
  ], composition);
  assert.deepEqual(located.found, [
    { source: 'kb://faq', digest: { sha256: sha256('Chunk one of the FAQ.') }, component: 'input', element: 0 },
    { source: 'kb://faq', digest: { sha256: sha256('Chunk two of the FAQ.') }, component: 'system', element: 0 },
    { source: 'kb://faq#copy', digest: { sha256: sha256('Chunk one of the FAQ.') }, component: 'input', element: 0 },
    { source: 'kb://faq', digest: { sha256: sha256('Chunk three.') }, component: 'input', element: 1 },
  ]);
  assert.deepEqual(located.notFound, ['kb://gone']);
  assert.equal(located.error?.code, 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST');
  const unidentified = locate([{ source: 'a', text: 'x' }], null);
  assert.deepEqual([unidentified.found, unidentified.notFound, unidentified.error?.code], [[], ['a'], 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST'], 'a request without a composition holds nothing');
});

test(`locate searches at most ${MAX_DECLARED_DOCUMENTS} documents and ${MAX_DECLARED_TEXT} code units of text: more is ERR_CAPTURE_RETRIEVAL_TOO_LARGE and nothing is recorded`, () => {
  const text = Array.from({ length: MAX_DECLARED_DOCUMENTS + 1 }, (_, i) => `doc ${i};`).join(' ');
  const composition = compose([], [{ role: 'user', content: text }]);
  const documents = Array.from({ length: MAX_DECLARED_DOCUMENTS + 1 }, (_, i) => ({ source: `kb://${i}`, text: `doc ${i};` }));
  const within = locate(documents.slice(0, MAX_DECLARED_DOCUMENTS), composition);
  assert.equal(within.error, null);
  assert.equal(within.found.length, MAX_DECLARED_DOCUMENTS);
  const past = locate(documents, composition);
  assert.deepEqual([past.found, past.notFound, past.error?.code], [[], [], 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE']);
  assert.match(past.error!.message, new RegExp(`${MAX_DECLARED_DOCUMENTS + 1} documents are declared, more than the ${MAX_DECLARED_DOCUMENTS}`));
  // The text limit counts a text declared twice once.
  const half = 'h'.repeat(MAX_DECLARED_TEXT / 2);
  const other = `x${half.slice(1)}`;
  const big = compose([], [{ role: 'user', content: `${half}|${other}` }]);
  const exactly = locate([{ source: 'a', text: half }, { source: 'b', text: half }, { source: 'c', text: other }], big);
  assert.equal(exactly.error, null, 'exactly the limit');
  assert.equal(exactly.found.length, 3);
  const over = locate([{ source: 'a', text: half }, { source: 'c', text: `${other}y` }], big);
  assert.equal(over.error?.code, 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
  assert.doesNotMatch(over.error!.message, /hhhh/, 'no text in the message');
});
