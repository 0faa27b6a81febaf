/**
 * parseSteps (store/parse-steps.ts), the JSON.parse of a large run's stored identity document in
 * steps: the value JSON.parse gives, or its error, for texts with long arrays anywhere (the root,
 * deep, nested, side by side, with white space, strings holding brackets, commas and escapes,
 * "__proto__" members, members named twice), and for malformed texts (a trailing comma, an empty
 * element, unbalanced brackets, an unterminated string, a stray comma); long arrays yield.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSteps } from '../src/store/parse-steps.ts';

const STEP = 16;

/** Runs the steps to the end: the value (or what it threw) and the yields. */
function run(text: string): { value?: unknown; error?: unknown; yields: number } {
  const steps = parseSteps(text, STEP);
  let yields = 0;
  try {
    for (;;) {
      const next = steps.next();
      if (next.done === true) return { value: next.value, yields };
      yields++;
    }
  } catch (error) {
    return { error, yields };
  }
}

/** The same as JSON.parse: the value (own members, "__proto__" too) or a SyntaxError. */
function same(text: string, name: string): number {
  const got = run(text);
  let expected: unknown;
  try {
    expected = JSON.parse(text);
  } catch (error) {
    assert.ok(got.error instanceof SyntaxError, `${name}: expected a SyntaxError, got ${JSON.stringify(got.value)?.slice(0, 200)}`);
    assert.equal((got.error as Error).message, (error as Error).message, name);
    return got.yields;
  }
  assert.equal(got.error, undefined, `${name}: ${String(got.error)}`);
  assert.deepStrictEqual(got.value, expected, name);
  assert.equal(JSON.stringify(got.value), JSON.stringify(expected), name);
  return got.yields;
}

const list = (n: number, of: (i: number) => unknown = (i) => ({ sha256: i.toString(16).padStart(8, '0') })) => Array.from({ length: n }, (_, i) => of(i));

test('valid texts: the value JSON.parse gives, long arrays in steps', () => {
  const cases: Array<[string, string, boolean]> = [
    ['an identity-like document', JSON.stringify({ version: 'runprint/v1', components: { input: { kind: 'list', elements: list(100) }, tools: { kind: 'list', elements: list(17) }, model: { digest: { sha256: 'x' } } }, served: null }), true],
    ['a long array at the root', JSON.stringify(list(50)), true],
    ['exactly STEP elements (not long), and STEP + 1', JSON.stringify({ a: list(STEP), b: list(STEP + 1) }), true],
    ['a multiple of STEP', JSON.stringify({ a: list(STEP * 4) }), true],
    ['long arrays inside a long array', JSON.stringify({ a: list(40, (i) => (i % 10 === 0 ? list(30) : [i])) }), true],
    ['strings with brackets, commas, quotes and escapes', JSON.stringify({ a: list(40, (i) => `x],[{"}\\${i},\\"`) }), true],
    ['white space everywhere', JSON.stringify({ a: list(40, (i) => [i, { b: i }]) }, null, 3).replace(/,/g, ' ,\n\t'), true],
    ['"__proto__" members beside and around a long array', `{"__proto__":{"x":1},"o":{"__proto__":${JSON.stringify(list(40))}},"l":${JSON.stringify(list(40, (i) => JSON.parse(`{"__proto__":${i}}`)))}}`, true],
    ['a member named twice, the long one first', `{"a":${JSON.stringify(list(40))},"a":[]}`, false],
    ['a member named twice, the long one last', `{"a":[],"a":${JSON.stringify(list(40))}}`, true],
    ['two long members named twice', `{"a":${JSON.stringify(list(40))},"a":${JSON.stringify(list(41))}}`, false],
    ['a string spelling the placeholder', JSON.stringify({ p: '\u0000runprint-long-array-0-0', a: list(40) }), true],
    ['no long array', JSON.stringify({ a: [1, 2, 3] }), false],
    ['scalars and empty containers', '[[],{},[ ],{ }, "", 0, -0, 1e400, true, null, "\\u2028", "\\ud800",1,2,3,4,5,6,7,8,9,10,11,12,13,14]', true],
  ];
  for (const [name, text, yields] of cases) {
    const count = same(text, name);
    if (yields) assert.ok(count >= 2, `${name}: ${count} yields`);
  }
});

test('malformed texts: JSON.parse\'s error', () => {
  const long = JSON.stringify(list(2 * STEP)).slice(1, -1);
  const cases: Array<[string, string]> = [
    ['a trailing comma where a step ends', `[${long},]`],
    ['a trailing comma elsewhere', `[${long},1,]`],
    ['an empty element where a step begins', `[${long},,1]`],
    ['a leading comma', `[,${long}]`],
    ['a bracket not closed', `{"a":[${long}}`],
    ['a bracket closed twice', `{"a":[${long}]]}`],
    ['a brace for a bracket', `{"a":[${long}}}`],
    ['an unterminated string', `{"a":[${long},"x]}`],
    ['a stray comma at the root', `[${long}],1`],
    ['garbage after', `[${long}] x`],
    ['nothing', ''],
  ];
  for (const [name, text] of cases) same(text, name);
});
