/**
 * RFC 8259 section 7 in the slower string reader (the one that handles escapes): \u takes exactly
 * four hexadecimal digits of either case and nothing next to them in ASCII ('/' ':' '@' 'G' '`' 'g'),
 * and a space after an escape is an ordinary character, not a control character.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJson } from '../src/jcs/parse.ts';

test('\\u takes 0-9, a-f and A-F only', () => {
  assert.deepEqual(parseJson('["\\u09aF", "\\uABCD", "\\u0000"]'), ['\u09af', '\uabcd', '\u0000']);
  for (const neighbour of ['/', ':', '@', 'G', '`', 'g', 'z', 'Z', ' ']) {
    const text = `["\\u00${neighbour}0"]`;
    assert.throws(() => parseJson(text), {
      code: 'ERR_JSON_SYNTAX',
      message: 'JSON syntax error: expected four hexadecimal digits after \\u at character 6 (line 1, column 7)',
    }, text);
  }
});

test('a space, and any character from U+0020 up, is taken as it is after an escape', () => {
  assert.deepEqual(parseJson('["\\n ", "\\t\\u0020 x", "\\" !~"]'), ['\n ', '\t  x', '" !~']);
  assert.throws(() => parseJson('["\\n\u001f"]'), {
    code: 'ERR_JSON_SYNTAX',
    message: 'JSON syntax error: unescaped control character in a string at character 4 (line 1, column 5)',
  });
});
