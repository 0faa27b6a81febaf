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
