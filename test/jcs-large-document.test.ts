/** docs/SPEC.md section 3.1: a 20 MB document parsed in memory proportional to it (its own file, so its own process). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalDocument } from './fixtures/large-document.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';

// What the parse keeps: the decoded text (UTF-16, so twice the UTF-8 size once any character is
// outside Latin-1; strings in the tree are slices of it) and the tree. At 200 MB RSS grows about
// 3x (test/slow/); at 20 MB the engine's fixed heap headroom (young generation, old-space steps)
// is a large part of the growth, so it is allowed on top of the proportional bound.
const HEADROOM = 64 * 1024 * 1024;
describe('a 20 MB document', () => {
  const { text, bytes } = canonicalDocument(20_000_000);

  test('parses to the right value while memory grows less than 6x its size plus 64 MiB', () => {
    const before = process.memoryUsage().rss;
    const value = parseJson(bytes);
    const growth = process.memoryUsage().rss - before;
    // The document is written in canonical form, so its canonical text is the document itself.
    assert.equal(canonicalize(value), text);
    assert.ok(growth < 6 * bytes.length + HEADROOM, `RSS grew ${(growth / 1e6).toFixed(0)} MB for a ${(bytes.length / 1e6).toFixed(0)} MB document`);
  });

  test('over maxBytes it is rejected before parsing', () => {
    assert.throws(() => parseJson(bytes, { maxBytes: bytes.length - 1 }), {
      code: 'ERR_JSON_TOO_LARGE',
      message: `JSON text is longer than the limit of ${bytes.length - 1} bytes`,
    });
  });
});
