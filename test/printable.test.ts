/**
 * src/io/printable.ts, the one list of characters that reorder or hide text (the CLI's messages and
 * the explorer's visible() both use it): each is written as `\uXXXX`, or `\u{XXXXX}` beyond
 * U+FFFF, and the explorer's form keeps tabs and line breaks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHiddenKeepingLines, escapeUnsafe, printable } from '../src/io/printable.ts';

/** Each character that hides text, as it is written. */
const HIDING: [string, string][] = [
  ['\u00ad', '\\u00ad'], // soft hyphen
  ['\u061c', '\\u061c'],
  ['\u180e', '\\u180e'], // Mongolian vowel separator
  ['\u200b', '\\u200b'],
  ['\u200e', '\\u200e'],
  ['\u202e', '\\u202e'],
  ['\u2060', '\\u2060'], // word joiner
  ['\u2066', '\\u2066'],
  ['\u3164', '\\u3164'], // Hangul filler
  ['\ufeff', '\\ufeff'],
  ['\u{e0000}', '\\u{e0000}'], // the first tag character
  ['\u{e0001}', '\\u{e0001}'], // language tag
  ['\u{e0049}', '\\u{e0049}'], // tag "I": invisible text in a prompt
  ['\u{e007f}', '\\u{e007f}'], // cancel tag, the last
];

test('every character that reorders or hides text is written out, by escapeUnsafe, printable and the explorer\'s escapeHiddenKeepingLines', () => {
  for (const [character, written] of HIDING) {
    assert.equal(escapeUnsafe(`a${character}b`), `a${written}b`, written);
    assert.equal(printable(`a${character}b`), `a${written}b`, written);
    assert.equal(escapeHiddenKeepingLines(`a${character}b`), `a${written}b`, written);
  }
});

test('the characters beside them are kept: the tag range ends at U+E007F, ordinary letters and emoji stay', () => {
  for (const kept of ['\u{e0080}', '\u{1f600}', 'é', '\u205f', '\u2065']) {
    assert.equal(escapeUnsafe(`a${kept}b`), `a${kept}b`, JSON.stringify(kept));
    assert.equal(escapeHiddenKeepingLines(`a${kept}b`), `a${kept}b`, JSON.stringify(kept));
  }
});

test('controls: escapeUnsafe writes every one out; the explorer\'s form keeps tab, line feed and carriage return', () => {
  assert.equal(escapeUnsafe('a\tb\nc\rd\u001be\u0085'), 'a\\u0009b\\u000ac\\u000dd\\u001be\\u0085');
  assert.equal(escapeHiddenKeepingLines('a\tb\nc\rd\u001be\u0085'), 'a\tb\nc\rd\\u001be\\u0085');
});

test('printable cuts by characters, a tag character counting as one', () => {
  assert.equal(printable(`${'\u{e0049}'.repeat(3)}x`, 2), '\\u{e0049}\\u{e0049}…');
});
