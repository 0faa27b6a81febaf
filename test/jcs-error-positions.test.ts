/**
 * docs/SPEC.md section 3.1: an error names its place as an offset, line and column in the input's
 * own unit. Byte offsets count UTF-8 bytes of 1, 2, 3 and 4 bytes, at the edges: U+007F, U+0080,
 * U+07FF, U+0800, U+FFFF, and U+10000, U+103FF, U+10FFFF (surrogates D800, DC00, DFFF, DBFF).
 * Lines end at LF, and an LF at the error itself or after it does not start a new line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJson } from '../src/jcs/parse.ts';

function failure(input: string | Uint8Array): string {
  try {
    parseJson(input);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail('expected a parse error');
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test('byte offsets count each character as its UTF-8 length, at every length boundary', () => {
  const cases: Array<[string, number]> = [
    ['\u007f', 1],
    ['\u0080', 2],
    ['\u07ff', 2],
    ['\u0800', 3],
    ['\u20ac', 3],
    ['\uffff', 3],
    ['\u{10000}', 4],
    ['\u{1f600}', 4],
    ['\u{103ff}', 4],
    ['\u{10ffff}', 4],
    ['\u00e9\u20ac\u0800\u{1f600}', 2 + 3 + 3 + 4],
  ];
  for (const [characters, length] of cases) {
    // `["` + characters + `", ]`: the error is at the `]`, after 2 + length + 3 bytes.
    const text = `["${characters}", ]`;
    const offset = 2 + length + 3;
    assert.equal(bytes(text).length, offset + 1);
    assert.equal(failure(bytes(text)), `JSON syntax error: expected a value at byte ${offset} (line 1, column ${offset + 1})`, JSON.stringify(characters));
    // As a string the same place is counted in UTF-16 code units.
    const units = 2 + characters.length + 3;
    assert.equal(failure(text), `JSON syntax error: expected a value at character ${units} (line 1, column ${units + 1})`, JSON.stringify(characters));
  }
});

test('columns on a later line count the bytes since that line began', () => {
  const text = '["\u20ac",\n "\u00e9", \n  ]';
  // Line 3 starts after the second LF; the error is at `]`, two spaces in.
  const offset = bytes(text).length - 1;
  assert.equal(failure(bytes(text)), `JSON syntax error: expected a value at byte ${offset} (line 3, column 3)`);
  assert.equal(failure(text), `JSON syntax error: expected a value at character ${text.length - 1} (line 3, column 3)`);
});

test('an LF at the error or after it does not count as a line', () => {
  // A raw LF inside a string is the error itself: still line 1.
  assert.equal(failure('["a\nb"]'), 'JSON syntax error: unescaped control character in a string at character 3 (line 1, column 4)');
  assert.equal(failure(bytes('["\u20ac\nb"]')), 'JSON syntax error: unescaped control character in a string at byte 5 (line 1, column 6)');
  // LFs after the error.
  assert.equal(failure('[1,]\n\n\n'), 'JSON syntax error: expected a value at character 3 (line 1, column 4)');
  assert.equal(failure(bytes('[1,]\n\n\n')), 'JSON syntax error: expected a value at byte 3 (line 1, column 4)');
});
