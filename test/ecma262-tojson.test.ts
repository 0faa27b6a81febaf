/**
 * RFC 8785 section 3.1 serializes as ECMA-262 JSON.stringify does (SerializeJSONProperty, 25.5.2.2):
 * a toJSON method is called with the member name, the index as a string, or "" at the top; a toJSON
 * member that is not a function is an ordinary member. And a canonicalization that fails midway
 * leaves nothing behind for the next one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalize } from '../src/jcs/canonicalize.ts';

test('toJSON methods are called with the key, as JSON.stringify calls them', () => {
  assert.equal(canonicalize({ d: new Date(0) }), '{"d":"1970-01-01T00:00:00.000Z"}');
  const value = { b: { toJSON: (key: string) => `key ${key}` }, a: [{ toJSON: (key: string) => `index ${key}` }] };
  assert.equal(canonicalize(value), '{"a":["index 0"],"b":"key b"}');
  assert.equal(canonicalize({ toJSON: (key: string) => ({ z: key, y: 2 }) }), '{"y":2,"z":""}');
  // Sorted keys aside, the same as JSON.stringify.
  assert.equal(canonicalize([new Date(0)]), JSON.stringify([new Date(0)]));
});

test('a toJSON member that is not a function is an ordinary member', () => {
  assert.equal(canonicalize({ toJSON: 1, a: 2 }), '{"a":2,"toJSON":1}');
  assert.equal(canonicalize({ toJSON: 'x' }), '{"toJSON":"x"}');
  assert.equal(canonicalize({ toJSON: null }), '{"toJSON":null}');
});

test('after a value fails deep inside, the next canonicalization at the same depths is unaffected', () => {
  assert.throws(() => canonicalize({ x: { y: { b: 1, a: 2n, c: [3] } } }), {
    code: 'ERR_JSON_UNSUPPORTED_VALUE',
    path: "$['x']['y']['a']",
  });
  assert.equal(canonicalize({ x: { y: { d: 4, c: 3 } } }), '{"x":{"y":{"c":3,"d":4}}}');
  assert.equal(canonicalize({ x: { y: [4, 3] } }), '{"x":{"y":[4,3]}}');
});
