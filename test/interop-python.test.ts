/** Consistency across languages: an independent Python implementation of the spec agrees with every vector. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

test('interop/python/check_vectors.py, written from docs/SPEC.md alone, reproduces testdata/', async () => {
  const script = new URL('../interop/python/check_vectors.py', import.meta.url).pathname;
  const testdata = new URL('../testdata/', import.meta.url).pathname;
  const result = await promisify(execFile)('python3', [script, testdata]).catch((error) => error);
  const match = /(\d+) passed, (\d+) failed/.exec(result.stdout ?? '');
  assert.ok(match, `no summary from the Python checker: ${result.stderr ?? result.message}`);
  assert.equal(match[2], '0', result.stdout);
  assert.ok(Number(match[1]) >= 60, `the Python checker ran only ${match[1]} vectors`);
});
