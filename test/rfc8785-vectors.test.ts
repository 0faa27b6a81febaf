/** Checks the implementation against every vector in testdata/jcs/ (docs/SPEC.md section 3), as another implementation would. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { JsonError } from '../src/errors.ts';
import { canonicalBytes, canonicalize, writeSorted } from '../src/jcs/canonicalize.ts';
import type { JsonValue } from '../src/jcs/json-value.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { toJsonValue } from '../src/jcs/to-json-value.ts';

interface Vector {
  desc: string;
  inputText?: string;
  inputHex?: string;
  input?: JsonValue;
  jsSource?: string;
  ieee754Hex?: string;
  wantCanonical?: string;
  wantCanonicalHex?: string;
  wantErr?: string;
  wantErrPath?: string;
  wantErrOffset?: number;
  rfcSerialization?: string;
  rfcCanonical?: string;
  rfcCanonicalHex?: string;
}

const folder = new URL('../testdata/jcs/', import.meta.url);
const files = readdirSync(folder).filter((name) => name.endsWith('.json')).sort();
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function doubleFromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/** Every way the vector's input reaches the implementation, each giving a canonical text. */
function routes(vector: Vector): Array<[string, () => string]> {
  if (vector.inputHex !== undefined) {
    const bytes = fromHex(vector.inputHex);
    return [['parseJson(bytes)', () => canonicalize(parseJson(bytes))]];
  }
  if (vector.inputText !== undefined) {
    const text = vector.inputText;
    return [
      ['parseJson(string)', () => canonicalize(parseJson(text))],
      ['parseJson(UTF-8 bytes)', () => canonicalize(parseJson(encoder.encode(text)))],
    ];
  }
  if (vector.jsSource !== undefined) {
    const make = new Function(`return (${vector.jsSource});`) as () => unknown;
    return [
      ['canonicalize(value)', () => canonicalize(make())],
      ['canonicalize(toJsonValue(value))', () => canonicalize(toJsonValue(make()))],
    ];
  }
  if (vector.ieee754Hex !== undefined) {
    const number = doubleFromBits(vector.ieee754Hex);
    return [['canonicalize(number)', () => canonicalize(number)]];
  }
  if (vector.input !== undefined) {
    const input = vector.input;
    return [['canonicalize(JSON.parse value)', () => canonicalize(input)]];
  }
  throw new Error(`vector without an input: ${vector.desc}`);
}

let total = 0;
for (const name of files) {
  const content = JSON.parse(readFileSync(new URL(name, folder), 'utf8')) as { vectors: Vector[] };
  total += content.vectors.length;
  test(`testdata/jcs/${name}`, async (t) => {
    for (const vector of content.vectors) {
      await t.test(vector.desc, () => {
        for (const [route, run] of routes(vector)) {
          if (vector.wantErr !== undefined) {
            assert.throws(run, (error: unknown) => {
              assert.ok(error instanceof JsonError, `${route}: not a JsonError: ${String(error)}`);
              assert.equal(error.code, vector.wantErr, `${route}: ${error.message}`);
              if (vector.wantErrPath !== undefined) assert.equal(error.path, vector.wantErrPath, route);
              if (vector.wantErrOffset !== undefined) {
                assert.match(error.message, new RegExp(`at byte ${vector.wantErrOffset} \\(`), route);
              }
              return true;
            });
          } else {
            const text = run();
            assert.equal(text, vector.wantCanonical, route);
            if (vector.wantCanonicalHex !== undefined) {
              assert.equal(toHex(encoder.encode(text)), vector.wantCanonicalHex, route);
            }
          }
        }
        if (vector.wantCanonical !== undefined) {
          // The canonical text is itself valid input with the same canonical form.
          assert.equal(canonicalize(parseJson(vector.wantCanonical)), vector.wantCanonical);
          assert.equal(decoder.decode(canonicalBytes(parseJson(vector.wantCanonical))), vector.wantCanonical);
        }
        if (vector.wantCanonicalHex !== undefined) {
          assert.equal(decoder.decode(fromHex(vector.wantCanonicalHex)), vector.wantCanonical);
        }
        // What RFC 8785 alone would write, before runprint's I-JSON rules: the serializer agrees.
        if (vector.rfcSerialization !== undefined && vector.ieee754Hex !== undefined) {
          assert.equal(writeSorted(doubleFromBits(vector.ieee754Hex)), vector.rfcSerialization);
        }
        if (vector.rfcCanonical !== undefined && vector.inputText !== undefined) {
          const value = JSON.parse(vector.inputText) as JsonValue;
          assert.equal(writeSorted(value), vector.rfcCanonical);
          assert.equal(toHex(encoder.encode(writeSorted(value))), vector.rfcCanonicalHex);
        }
      });
    }
  });
}

test('testdata/jcs holds at least 80 vectors, RFC 8785 examples among them', () => {
  assert.ok(files.includes('rfc8785-examples.json'));
  assert.ok(total >= 80, `only ${total} vectors`);
});
