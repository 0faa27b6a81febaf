/** docs/SPEC.md section 3.3 on hostile input: 100000-deep nesting ends in ERR_JSON_TOO_DEEP, never a stack overflow. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonError } from '../src/errors.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';

function rejectsDeep(run: () => unknown, path: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof JsonError, String(error));
    assert.equal(error.code, 'ERR_JSON_TOO_DEEP');
    assert.equal(error.message, 'JSON value is nested deeper than the limit of 128 levels');
    assert.equal(error.path, path);
    return true;
  });
}

describe('100000-deep nesting ends in ERR_JSON_TOO_DEEP, never a stack overflow', () => {
  const depth = 100_000;
  test('arrays, unclosed and closed, as a string and as bytes', () => {
    const path = `$${'[0]'.repeat(128)}`;
    rejectsDeep(() => parseJson('['.repeat(depth)), path);
    const closed = '['.repeat(depth) + ']'.repeat(depth);
    rejectsDeep(() => parseJson(closed), path);
    rejectsDeep(() => parseJson(new TextEncoder().encode(closed)), path);
  });

  test('objects', () => {
    const text = '{"k":'.repeat(depth) + 'null' + '}'.repeat(depth);
    rejectsDeep(() => parseJson(text), `$${"['k']".repeat(128)}`);
  });

  test('even with the largest maxDepth', () => {
    assert.throws(() => parseJson('['.repeat(depth), { maxDepth: 1000 }), { code: 'ERR_JSON_TOO_DEEP', message: 'JSON value is nested deeper than the limit of 1000 levels' });
  });

  test('in-process values: an object chain and an array chain', () => {
    let chain: unknown = null;
    for (let i = 0; i < depth; i++) chain = { k: chain };
    rejectsDeep(() => canonicalize(chain), `$${"['k']".repeat(128)}`);
    let arrays: unknown = null;
    for (let i = 0; i < depth; i++) arrays = [arrays];
    rejectsDeep(() => canonicalize(arrays), `$${'[0]'.repeat(128)}`);
  });
});
