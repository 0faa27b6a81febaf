/** RFC 8785 sections 3.2.1-3.2.4 (docs/SPEC.md 3.4): the fast canonicalizer against the RFC's examples and a naive reference. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalBytes, canonicalize, writeSorted } from '../src/jcs/canonicalize.ts';
import { parseJson } from '../src/jcs/parse.ts';

/**
 * A naive reference, written straight from RFC 8785 section 3.2 and kept only to check the fast
 * path: strings escaped code unit by code unit (3.2.2.2), names compared code unit by code unit
 * (3.2.3), numbers by ECMAScript Number::toString (3.2.2.3).
 */
function reference(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Object.is(value, -0) ? '0' : String(value);
  if (typeof value === 'string') return referenceString(value);
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const object = value as Record<string, unknown>;
  const names = Object.keys(object).sort(compareCodeUnits);
  return `{${names.map((name) => `${referenceString(name)}:${reference(object[name])}`).join(',')}}`;
}

function compareCodeUnits(a: string, b: string): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const difference = a.charCodeAt(i) - b.charCodeAt(i);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

const SHORT: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

function referenceString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const short = SHORT[unit];
    if (short !== undefined) out += short;
    else if (unit < 0x20) out += `\\u${unit.toString(16).padStart(4, '0')}`;
    else out += text[i];
  }
  return `${out}"`;
}

describe('RFC 8785 examples', () => {
  test('section 3.2.3 sorting test data gives the RFC order', () => {
    const text = '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}';
    // Read the values in text order: an object would list the integer-like name "1" first.
    const order = Array.from(canonicalize(parseJson(text)).matchAll(/":"([^"]+)"/g), (match) => match[1]);
    assert.deepEqual(order, ['Carriage Return', 'One', 'Control', 'Latin Small Letter O With Diaeresis', 'Euro Sign', 'Emoji: Grinning Face', 'Hebrew Letter Dalet With Dagesh']);
  });

  test('section 3.2.2 strings and literals; section 3.2.4 bytes', () => {
    const value = parseJson('{"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}');
    assert.equal(canonicalize(value), '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
    assert.deepEqual(
      Array.from(canonicalBytes(value).slice(-27)),
      [0x22, 0xe2, 0x82, 0xac, 0x24, 0x5c, 0x75, 0x30, 0x30, 0x30, 0x66, 0x5c, 0x6e, 0x41, 0x27, 0x42, 0x5c, 0x22, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x22, 0x2f, 0x22, 0x7d],
    );
  });

  test('appendix B samples that are safe numbers', () => {
    const samples: Array<[number, string]> = [
      [0, '0'], [-0, '0'], [5e-324, '5e-324'], [-5e-324, '-5e-324'], [9.999999999999997e-7, '9.999999999999997e-7'],
      [0.000001, '0.000001'], [333333333.3333332, '333333333.3333332'], [333333333.33333325, '333333333.33333325'],
      [-0.0000033333333333333333, '-0.0000033333333333333333'], [1424953923781206.2, '1424953923781206.2'],
    ];
    for (const [number, text] of samples) assert.equal(canonicalize(number), text);
  });

  test('appendix B samples that RFC 8785 writes but runprint rejects as unsafe integers', () => {
    for (const [number, text] of [[9007199254740992, '9007199254740992'], [1e21, '1e+21'], [1e23, '1e+23'], [295147905179352830000, '295147905179352830000']] as const) {
      assert.equal(writeSorted(number), text);
      assert.throws(() => canonicalize(number), { code: 'ERR_JSON_UNSAFE_INTEGER' });
    }
  });
});

describe('the fast path agrees with the naive reference', () => {
  const values: unknown[] = [
    { b: 1, a: [true, null, 'x\u0000\u001f\u007f\u2028é😀'], '': { z: -0, y: 0.1 } },
    { '10': 'a', '9': 'b', '1': 'c', x: 'd', '-1': 'e', '01': 'f', '4294967295': 'g', '4294967294': 'h' },
    { nested: { '2': [{ '1': 1, a: 2 }], b: 3 } },
    [{ 'e\u0301': 1, '\u00e9': 2, '\ue000': 3, '\ud83d\ude00': 4, '\uffff': 5 }],
    JSON.parse('{"__proto__":{"b":1,"a":2},"constructor":3,"toString":4}'),
    'a "quoted" \\ string\twith\ncontrols\b\f\r',
  ];
  for (const [index, value] of values.entries()) {
    test(`value ${index}`, () => {
      assert.equal(canonicalize(value), reference(value));
      assert.equal(writeSorted(value as never), reference(value));
    });
  }

  test('integer-like member names, which engines list first, come out in code unit order', () => {
    assert.equal(canonicalize({ b: 1, '2': 2, '10': 3, a: 4 }), '{"10":3,"2":2,"a":4,"b":1}');
  });

  test('a 1 MiB string with escapes and surrogate pairs', () => {
    const text = 'line "one"\n\ttab 😀 é \u0001 '.repeat(40_000);
    assert.equal(canonicalize({ text }), `{"text":${referenceString(text)}}`);
  });
});

describe('a polluted environment does not change the canonical text', () => {
  test('a toJSON on Array.prototype is applied once, as JSON.stringify applies it', () => {
    const prototype = Array.prototype as unknown as { toJSON?: () => unknown };
    prototype.toJSON = function (this: unknown[]) {
      return [...this].reverse();
    };
    try {
      assert.equal(JSON.stringify([1, 2, 3]), '[3,2,1]');
      assert.equal(canonicalize([1, 2, 3]), '[3,2,1]');
    } finally {
      delete prototype.toJSON;
    }
  });

  test('an enumerable property on Object.prototype is not read as a member', () => {
    const prototype = Object.prototype as Record<string, unknown>;
    prototype.injected = 1;
    try {
      assert.equal(canonicalize({ b: 1, a: { c: 2 } }), '{"a":{"c":2},"b":1}');
    } finally {
      delete prototype.injected;
    }
  });
});

describe('canonicalBytes', () => {
  test('is the UTF-8 of canonicalize', () => {
    const value = { é: '😀', a: 1 };
    assert.deepEqual(canonicalBytes(value), new TextEncoder().encode(canonicalize(value)));
    assert.deepEqual(Array.from(canonicalBytes('é')), [0x22, 0xc3, 0xa9, 0x22]);
  });
});
