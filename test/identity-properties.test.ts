/** Properties of the identity (SPEC 5): key order and white space never matter, every hashed value does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { computeIdentity } from '../src/identity/identity.ts';
import { parseJson } from '../src/jcs/parse.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// I-JSON values: safe integers, finite doubles, any well-formed string.
const json: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n) || Number.isSafeInteger(n)),
    fc.string({ unit: 'grapheme' }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'binary' }).filter((key) => !/[\uD800-\uDFFF]/.test(key)), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const object = fc.dictionary(fc.string(), json, { maxKeys: 4 });
const list = fc.array(json, { maxLength: 5 });

const composition = fc.record({
  version: fc.constant('runprint/v1'),
  model: fc.record({ name: fc.string({ minLength: 1 }), api: fc.string() }),
  system: list,
  input: list,
  context: list,
  tools: list,
  parameters: object,
  configuration: object,
  served: fc.dictionary(fc.string(), fc.record({ source: fc.constantFrom('derived', 'reported'), value: json }), { maxKeys: 3 }),
});

/** A deep copy with every object's members inserted in reverse (or shuffled) order. */
function reorder(value: Json, seed: number): Json {
  if (Array.isArray(value)) return value.map((item, index) => reorder(item, seed + index));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value).reverse();
  keys.push(...keys.splice(0, seed % Math.max(keys.length, 1)));
  const out: { [key: string]: Json } = Object.create(null);
  for (const key of keys) out[key] = reorder(value[key]!, seed + 1);
  return out;
}

/** Every place in the hashed components where a primitive value sits. */
function leaves(value: Json, path: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.flatMap((item, index) => leaves(item, [...path, index]));
  if (value !== null && typeof value === 'object') {
    return Object.keys(value).flatMap((key) => leaves(value[key]!, [...path, key]));
  }
  return [path];
}

function mutate(value: Json): Json {
  if (value === null) return false;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'number') return value === 0 ? 1 : 0;
  if (typeof value === 'string') return `${value}x`;
  return null;
}

test('identity does not depend on member order or white space', () => {
  fc.assert(
    fc.property(composition, fc.nat(), (c, seed) => {
      // Compared as JSON: parsed objects have a null prototype, in-process ones do not.
      const asJson = (value: unknown) => JSON.parse(JSON.stringify(value));
      const expected = asJson(computeIdentity(c));
      assert.deepEqual(asJson(computeIdentity(reorder(c as Json, seed))), expected);
      assert.deepEqual(asJson(computeIdentity(parseJson(JSON.stringify(c, null, seed % 5)))), expected);
    }),
    { numRuns: 300 },
  );
});

test('changing any hashed value changes the identity', () => {
  fc.assert(
    fc.property(composition, fc.nat(), (c, pick) => {
      // Every leaf but the version and a served fact's source, which have only one valid value each.
      const places = leaves(c as Json).filter(
        (path) => path.length > 1 && path[0] !== 'version' && !(path[0] === 'served' && path.length === 3 && path[2] === 'source'),
      );
      fc.pre(places.length > 0);
      const path = places[pick % places.length]!;
      const changed = structuredClone(c) as unknown as { [key: string]: Json };
      let parent: any = changed;
      for (const segment of path.slice(0, -1)) parent = parent[segment];
      const last = path[path.length - 1]!;
      parent[last] = mutate(parent[last]);
      const before = computeIdentity(c);
      const after = computeIdentity(changed);
      assert.notEqual(after.runId, before.runId, `changing ${JSON.stringify(path)} kept the run identity`);
      if (path[0] !== 'served') assert.notEqual(after.requestId, before.requestId);
      else assert.equal(after.requestId, before.requestId, 'served facts are not part of the request identity');
    }),
    { numRuns: 500 },
  );
});

test('moving an element to another list or another place changes the identity', () => {
  fc.assert(
    fc.property(composition, (c) => {
      fc.pre(c.input.length >= 1);
      const moved = { ...c, input: c.input.slice(1), context: [c.input[0]!, ...c.context] };
      assert.notEqual(computeIdentity(moved).requestId, computeIdentity(c).requestId);
      fc.pre(c.input.length >= 2 && JSON.stringify(c.input[0]) !== JSON.stringify(c.input[1]));
      const swapped = { ...c, input: [c.input[1]!, c.input[0]!, ...c.input.slice(2)] };
      assert.notEqual(computeIdentity(swapped).requestId, computeIdentity(c).requestId);
    }),
    { numRuns: 200 },
  );
});

test('excluded fields never change the identity', () => {
  fc.assert(
    fc.property(composition, object, (c, excluded) => {
      const expected = computeIdentity(c);
      const withExcluded = computeIdentity({ ...c, excluded });
      assert.equal(withExcluded.requestId, expected.requestId);
      assert.equal(withExcluded.runId, expected.runId);
    }),
    { numRuns: 200 },
  );
});
