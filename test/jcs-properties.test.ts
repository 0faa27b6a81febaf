/** Properties of docs/SPEC.md section 3 (RFC 8785 over RFC 7493), checked with fast-check on generated values and text. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { JsonError } from '../src/errors.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import type { JsonValue } from '../src/jcs/json-value.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { toJsonValue } from '../src/jcs/to-json-value.ts';
import { findInvalidUtf8 } from '../src/jcs/utf8.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

// Names that stress ordering: integer-like, empty, "__proto__", and any well-formed Unicode.
const name = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('', '0', '1', '9', '10', '-1', '01', 'a', 'B', '__proto__', 'constructor', '\u00e9', 'e\u0301', '😀', '\ue000'),
);
const safeNumber = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
  fc.constantFrom(0, -0, 5e-324, 1e-7, 0.1, 1e21 / 1e6),
);
const { json } = fc.letrec<{ json: JsonValue }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    safeNumber,
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.array(tie('json'), { maxLength: 5 }),
    fc.dictionary(name, tie('json'), { maxKeys: 5 }),
  ),
}));

/** A copy with every object's members inserted in reverse order. */
function reversed(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(reversed);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(value).reverse()) Object.defineProperty(out, key, { value: reversed(value[key]!), enumerable: true, writable: true, configurable: true });
  return out;
}

/** Plain objects in place of null-prototype ones, -0 as 0: what JSON.parse would build. */
function plain(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'number') return value === 0 ? 0 : value;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.keys(value).map((key) => [key, plain(value[key]!)]));
}

/** RFC 8785 written plainly: names sorted with `<` on code units, primitives by JSON.stringify. */
function reference(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const names = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${names.map((key) => `${JSON.stringify(key)}:${reference(value[key]!)}`).join(',')}}`;
}

describe('canonical form', () => {
  test('is idempotent: canonicalize(parseJson(canonicalize(x))) === canonicalize(x)', () => {
    fc.assert(fc.property(json, (value) => {
      const text = canonicalize(value);
      assert.equal(canonicalize(parseJson(text)), text);
      assert.equal(canonicalize(parseJson(utf8(text))), text);
    }), { numRuns: 300 });
  });

  test('does not depend on member insertion order', () => {
    fc.assert(fc.property(json, (value) => assert.equal(canonicalize(reversed(value)), canonicalize(value))), { numRuns: 300 });
  });

  test('does not depend on whitespace in the input text', () => {
    fc.assert(fc.property(json, fc.constantFrom(0, 1, 2, 4, '\t', '\r\n', ' \n\t'), (value, space) => {
      assert.equal(canonicalize(parseJson(JSON.stringify(value, null, space))), canonicalize(value));
    }), { numRuns: 300 });
  });

  test('JSON.parse(canonicalize(x)) deep-equals x', () => {
    fc.assert(fc.property(json, (value) => assert.deepStrictEqual(JSON.parse(canonicalize(value)), plain(value))), { numRuns: 300 });
  });

  test('equals a plain reference writer', () => {
    fc.assert(fc.property(json, (value) => assert.equal(canonicalize(value), reference(value))), { numRuns: 300 });
  });

  test('toJsonValue then canonicalize is canonicalize', () => {
    fc.assert(fc.property(json, (value) => assert.equal(canonicalize(toJsonValue(value)), canonicalize(value))), { numRuns: 200 });
  });
});

describe('parseJson', () => {
  test('agrees with JSON.parse on valid I-JSON', () => {
    fc.assert(fc.property(json, fc.constantFrom(0, 2, '\t'), (value, space) => {
      const text = JSON.stringify(value, null, space);
      assert.deepStrictEqual(plain(parseJson(text)), plain(JSON.parse(text) as JsonValue));
    }), { numRuns: 300 });
  });

  test('on mutated text: accepts only what JSON.parse accepts, and fails only with a JsonError', () => {
    const mutated = fc
      .tuple(json, fc.array(fc.tuple(fc.nat(), fc.constantFrom('', '"', ',', ':', '[', ']', '{', '}', '\\', '-', '0', 'e', ' ', '\u0000', '\ud800', 'é')), { minLength: 1, maxLength: 3 }))
      .map(([value, edits]) => {
        let text = JSON.stringify(value);
        for (const [at, piece] of edits) {
          const index = at % (text.length + 1);
          text = text.slice(0, index) + piece + text.slice(index + (piece === '' ? 1 : 0));
        }
        return text;
      });
    fc.assert(fc.property(mutated, (text) => {
      let strict: JsonValue | JsonError;
      try {
        strict = parseJson(text);
      } catch (error) {
        assert.ok(error instanceof JsonError, String(error));
        strict = error;
      }
      let loose: unknown;
      try {
        loose = JSON.parse(text);
      } catch {
        assert.ok(strict instanceof JsonError, 'parseJson accepted text JSON.parse rejects');
        return;
      }
      if (!(strict instanceof JsonError)) assert.deepStrictEqual(plain(strict), plain(loose as JsonValue));
    }), { numRuns: 1000 });
  });

  test('on random bytes: a value or a JsonError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      try {
        parseJson(bytes);
      } catch (error) {
        assert.ok(error instanceof JsonError, String(error));
      }
    }), { numRuns: 1000 });
  });
});

describe('UTF-8 validation', () => {
  // Well-formed text with a few random bytes spliced in: mostly near the edge of validity.
  const bytes = fc
    .tuple(fc.string({ unit: 'binary', maxLength: 12 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }))
    .map(([text, edits]) => {
      const out = Array.from(utf8(text));
      for (const [at, byte] of edits) out.splice(at % (out.length + 1), 0, byte);
      return Uint8Array.from(out);
    });
  const strict = new TextDecoder('utf-8', { fatal: true });

  test('findInvalidUtf8 agrees with a fatal TextDecoder, and everything before its offset decodes', () => {
    fc.assert(fc.property(bytes, (input) => {
      const offset = findInvalidUtf8(input);
      let valid = true;
      try {
        strict.decode(input);
      } catch {
        valid = false;
      }
      assert.equal(offset === -1, valid);
      if (offset >= 0) {
        strict.decode(input.subarray(0, offset));
        const bom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf;
        if (!bom) assert.throws(() => parseJson(input), (error: unknown) => error instanceof JsonError && error.code === 'ERR_JSON_INVALID_UTF8' && error.message.includes(`at byte ${offset} (`));
      }
    }), { numRuns: 2000 });
  });
});
