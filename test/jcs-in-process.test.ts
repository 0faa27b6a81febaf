/** docs/SPEC.md section 3.5: in-process JavaScript values, the same identity as JSON.stringify's wire form or a clear error. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { JsonError } from '../src/errors.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { toJsonValue } from '../src/jcs/to-json-value.ts';

/** canonicalize and toJsonValue must fail alike: same code, message and path. */
function rejects(value: unknown, code: string, message: string, path: string): void {
  for (const run of [() => canonicalize(value), () => toJsonValue(value)]) {
    assert.throws(run, (error: unknown) => {
      assert.ok(error instanceof JsonError, String(error));
      assert.equal(error.code, code);
      assert.equal(error.message, message);
      assert.equal(error.path, path);
      return true;
    });
  }
}

const UNSUPPORTED = 'ERR_JSON_UNSUPPORTED_VALUE';

describe('values JSON.stringify writes the same way', () => {
  test('a typical SDK request: undefined members dropped, Date through toJSON, -0 as 0', () => {
    const request = { model: 'm', temperature: undefined, seed: -0, at: new Date(Date.UTC(2024, 0, 2)), messages: [{ role: 'user', content: 'hi' }] };
    assert.equal(
      canonicalize(request),
      '{"at":"2024-01-02T00:00:00.000Z","messages":[{"content":"hi","role":"user"}],"model":"m","seed":0}',
    );
  });

  test('for values JSON.stringify accepts, the result parses to what JSON.stringify wrote', () => {
    const value = { z: [new Number(2), new String('s'), new Boolean(false)], a: { toJSON: () => ({ y: 1, x: [null] }) }, u: undefined };
    assert.deepEqual(JSON.parse(canonicalize(value)), JSON.parse(JSON.stringify(value)));
  });

  test('toJSON is called once, with the member name or the index as a string', () => {
    const keys: unknown[] = [];
    const probe = { toJSON: (key: unknown) => (keys.push(key), 1) };
    canonicalize({ a: probe, b: [probe, probe] });
    assert.deepEqual(keys, ['a', '0', '1']);
  });

  test('a BigInt with a toJSON (here on the prototype) is written through it', () => {
    const prototype = BigInt.prototype as unknown as { toJSON?: () => string };
    prototype.toJSON = function (this: bigint) {
      return this.toString();
    };
    try {
      assert.equal(canonicalize({ seed: 18446744073709551615n }), '{"seed":"18446744073709551615"}');
    } finally {
      delete prototype.toJSON;
    }
  });

  test('getters are read once per member', () => {
    let reads = 0;
    const value = {
      get a() {
        reads++;
        return reads;
      },
    };
    assert.equal(canonicalize(value), '{"a":1}');
    assert.equal(reads, 1);
  });

  test('Proxy objects and arrays are read through their traps', () => {
    assert.equal(canonicalize(new Proxy({ b: 1, a: [2] }, {})), '{"a":[2],"b":1}');
    assert.equal(canonicalize(new Proxy([1, 2], {})), '[1,2]');
  });

  test('a toJSON method may itself call canonicalize', () => {
    const inner = { z: 1, y: [{ b: 2, a: 1 }], x: 'x' };
    const outer = { c: { toJSON: () => canonicalize(inner) }, b: { q: 1, p: 2 }, a: 0 };
    assert.equal(canonicalize(outer), JSON.stringify({ a: 0, b: { p: 2, q: 1 }, c: '{"x":"x","y":[{"a":1,"b":2}],"z":1}' }));
  });

  for (const outcome of ['returns', 'throws'] as const) {
    test(`no value is kept once canonicalize ${outcome}`, async () => {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      let reference: WeakRef<object> | undefined;
      (() => {
        const prompt = { text: 'x'.repeat(1000) };
        reference = new WeakRef(prompt);
        if (outcome === 'returns') canonicalize({ b: prompt, a: [prompt] });
        else assert.throws(() => canonicalize({ a: NaN, b: prompt }), { code: 'ERR_JSON_NON_FINITE' });
      })();
      // A WeakRef holds its target until the current job ends.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      assert.equal(reference?.deref(), undefined);
    });
  }

  test('toJsonValue returns a fresh tree of null-prototype objects that canonicalizes the same', () => {
    const input = { b: [{ d: 1, c: new Date(0) }], a: 'x' };
    const tree = toJsonValue(input) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(tree), null);
    assert.equal(Object.getPrototypeOf((tree.b as unknown[])[0]), null);
    assert.notEqual(tree.b, input.b);
    assert.equal(canonicalize(tree), canonicalize(input));
    assert.deepEqual(Object.keys(tree), ['a', 'b']);
  });
});

describe('values without an exact JSON form are errors with a path', () => {
  test('undefined at the top and in arrays; holes', () => {
    rejects(undefined, UNSUPPORTED, 'undefined has no JSON form outside an object member', '$');
    rejects({ a: [1, undefined] }, UNSUPPORTED, 'undefined has no JSON form as an array element', "$['a'][1]");
    // eslint-disable-next-line no-sparse-arrays
    rejects([[0, , 2]], UNSUPPORTED, 'an array hole (a missing element) has no JSON form', '$[0][1]');
    rejects([{ toJSON: () => undefined }], UNSUPPORTED, 'undefined has no JSON form as an array element', '$[0]');
  });

  test('functions and symbols anywhere', () => {
    rejects({ a: { f() {} } }, UNSUPPORTED, 'a function has no JSON form', "$['a']['f']");
    rejects([Symbol('s')], UNSUPPORTED, 'a symbol has no JSON form', '$[0]');
  });

  test('BigInt says to send 64-bit integers as strings', () => {
    rejects({ seed: 2n ** 64n - 1n }, UNSUPPORTED, 'BigInt has no JSON form; send 64-bit integers as strings', "$['seed']");
  });

  test('objects that are neither plain objects nor arrays', () => {
    const message = 'an object that is not a plain object or array has no exact JSON form; give it a toJSON method';
    for (const value of [new Map(), new Set([1]), new Uint8Array(1), /x/, new Error('e'), new (class Thing {})(), Object.create({})]) {
      rejects({ v: value }, UNSUPPORTED, message, "$['v']");
    }
    // Neither Number.prototype nor Symbol.toStringTag makes an object a boxed number.
    rejects({ v: Object.setPrototypeOf({ [Symbol.toStringTag]: 'Number' }, Number.prototype) }, UNSUPPORTED, message, "$['v']");
  });

  test('numbers: non-finite and unsafe integers, also boxed', () => {
    const nonFinite = 'JSON number is not finite (NaN, Infinity, or beyond the range of a 64-bit float)';
    const unsafe = 'JSON number is an integer outside -(2^53-1)..2^53-1; send 64-bit integers as strings';
    rejects({ t: NaN }, 'ERR_JSON_NON_FINITE', nonFinite, "$['t']");
    rejects([-Infinity], 'ERR_JSON_NON_FINITE', nonFinite, '$[0]');
    rejects([new Number(Infinity)], 'ERR_JSON_NON_FINITE', nonFinite, '$[0]');
    rejects({ n: 2 ** 53 }, 'ERR_JSON_UNSAFE_INTEGER', unsafe, "$['n']");
    rejects({ n: -(2 ** 60) }, 'ERR_JSON_UNSAFE_INTEGER', unsafe, "$['n']");
    assert.equal(canonicalize([2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53 + 0.5 - 0.5 - 1]), '[9007199254740991,-9007199254740991,9007199254740991]');
  });

  test('lone surrogates in strings and member names', () => {
    rejects({ a: ['ok', 'x\udbff'] }, 'ERR_JSON_LONE_SURROGATE', 'JSON string has a lone surrogate (not well-formed Unicode)', "$['a'][1]");
    rejects({ a: { 'k\udc00': 1 } }, 'ERR_JSON_LONE_SURROGATE', 'JSON member name has a lone surrogate (not well-formed Unicode)', "$['a']");
    // The check looks for "\ud" in the output; text that merely contains it passes.
    assert.equal(canonicalize({ path: 'C:\\udev', pair: '😀' }), '{"pair":"😀","path":"C:\\\\udev"}');
  });

  test('cycles, in objects and arrays, with the path where the value re-enters itself', () => {
    const object: Record<string, unknown> = { a: { b: {} } };
    (object.a as Record<string, Record<string, unknown>>).b!.back = object.a;
    rejects(object, 'ERR_JSON_CYCLE', 'JSON value contains itself (a cycle)', "$['a']['b']['back']");
    const array: unknown[] = [1];
    array.push([array]);
    rejects(array, 'ERR_JSON_CYCLE', 'JSON value contains itself (a cycle)', '$[1][0]');
    const viaToJSON: Record<string, unknown> = {};
    viaToJSON.x = { toJSON: () => viaToJSON };
    rejects(viaToJSON, 'ERR_JSON_CYCLE', 'JSON value contains itself (a cycle)', "$['x']");
  });

  test('nesting deeper than maxDepth, with no stack overflow on a 100000-deep chain', () => {
    let chain: unknown = {};
    for (let i = 0; i < 100_000; i++) chain = { next: chain };
    rejects(chain, 'ERR_JSON_TOO_DEEP', 'JSON value is nested deeper than the limit of 128 levels', `$${"['next']".repeat(128)}`);
    let arrays: unknown = [];
    for (let i = 0; i < 100_000; i++) arrays = [arrays];
    rejects(arrays, 'ERR_JSON_TOO_DEEP', 'JSON value is nested deeper than the limit of 128 levels', `$${'[0]'.repeat(128)}`);
  });

  test('maxDepth: the root is depth 1; up to 1000 levels work', () => {
    assert.equal(canonicalize([[1]], { maxDepth: 2 }), '[[1]]');
    assert.throws(() => canonicalize([[[1]]], { maxDepth: 2 }), { code: 'ERR_JSON_TOO_DEEP', path: '$[0][0]' });
    let value: unknown = 0;
    for (let i = 0; i < 1000; i++) value = { a: [value] };
    assert.throws(() => canonicalize(value, { maxDepth: 1000 }), { code: 'ERR_JSON_TOO_DEEP' });
    let exact: unknown = 0;
    for (let i = 0; i < 1000; i++) exact = [exact];
    assert.equal(canonicalize(exact, { maxDepth: 1000 }).length, 2001);
    assert.throws(() => toJsonValue(1, { maxDepth: 1001 }), { name: 'RangeError' });
  });

  test('errors thrown by toJSON or getters pass through unchanged', () => {
    const failure = new Error('from user code');
    assert.throws(() => canonicalize({ a: { toJSON: () => { throw failure; } } }), (error: unknown) => error === failure);
  });
});
