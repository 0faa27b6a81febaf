/**
 * RFC 8259 section 6 and docs/SPEC.md section 3: a number's leading zero is refused whatever digit
 * follows it (0 and 9 at the edges of the digit range), a size limit of 0 is a limit, not a
 * programmer error, and isJsonObject tells objects from arrays, null and scalars.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isJsonObject } from '../src/jcs/json-value.ts';
import { parseJson } from '../src/jcs/parse.ts';

test('a leading zero before any digit, 0 through 9, is ERR_JSON_SYNTAX at that digit', () => {
  for (const digit of '0123456789') {
    for (const [text, at] of [[`[0${digit}]`, 2], [`[-0${digit}]`, 3]] as const) {
      assert.throws(() => parseJson(text), {
        code: 'ERR_JSON_SYNTAX',
        message: `JSON syntax error: number has a leading zero at character ${at} (line 1, column ${at + 1})`,
      }, text);
    }
  }
  assert.deepEqual(parseJson('[0,-0.5,0e1]'), [0, -0.5, 0]);
});

test('maxBytes 0 refuses every input as too large; a negative or fractional limit is a RangeError', () => {
  assert.throws(() => parseJson('1', { maxBytes: 0 }), { code: 'ERR_JSON_TOO_LARGE', message: 'JSON text is longer than the limit of 0 UTF-16 code units' });
  assert.equal(parseJson('1', { maxBytes: 1 }), 1);
  for (const maxBytes of [-1, 0.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => parseJson('1', { maxBytes }), { name: 'RangeError', message: 'maxBytes must be a non-negative integer' }, String(maxBytes));
  }
});

test('isJsonObject is true for objects only', () => {
  assert.equal(isJsonObject({}), true);
  assert.equal(isJsonObject({ a: [1] }), true);
  for (const value of [null, [], [{}], 'object', 0, true, undefined]) assert.equal(isJsonObject(value), false, JSON.stringify(value));
});
