/** docs/SPEC.md section 3.1 at the default size limit: a ~200 MB document parsed correctly in bounded memory (slow: `npm run test:slow`). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalDocument } from '../fixtures/large-document.ts';
import { canonicalize } from '../../src/jcs/canonicalize.ts';
import { DEFAULT_MAX_BYTES } from '../../src/jcs/limits.ts';
import { parseJson } from '../../src/jcs/parse.ts';

test('a 200 MB document parses to the right value while memory grows less than 6x its size', () => {
  const { text, bytes } = canonicalDocument(200_000_000);
  const before = process.memoryUsage().rss;
  const value = parseJson(bytes);
  const growth = process.memoryUsage().rss - before;
  process.stdout.write(`# RSS grew ${(growth / 1e6).toFixed(0)} MB for ${(bytes.length / 1e6).toFixed(0)} MB\n`);
  assert.ok(growth < 6 * bytes.length, `RSS grew ${(growth / 1e6).toFixed(0)} MB for a ${(bytes.length / 1e6).toFixed(0)} MB document`);
  // Written in canonical form, so its canonical text is the document itself.
  assert.equal(canonicalize(value), text);
});

test('one byte over the default 256 MiB limit is ERR_JSON_TOO_LARGE, before anything is read', () => {
  // All zero bytes: were any of it read, the error would be a syntax error.
  const bytes = new Uint8Array(DEFAULT_MAX_BYTES + 1);
  assert.throws(() => parseJson(bytes), {
    code: 'ERR_JSON_TOO_LARGE',
    message: `JSON text is longer than the limit of ${DEFAULT_MAX_BYTES} bytes`,
  });
  assert.throws(() => parseJson(bytes.subarray(0, 10)), { code: 'ERR_JSON_SYNTAX' });
});
