/** Salted commitments (SPEC 2.5, 5.6): digests by the formulas, consistency, no salt leaks. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseComposition } from '../src/identity/composition.ts';
import { elementSalt, saltedElementDigest, saltedValueComponentDigest } from '../src/identity/digest.ts';
import { diffCompositions } from '../src/identity/diff.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { createSalts, saltBytes } from '../src/identity/salt.ts';
import { BASE, MINIMAL } from './fixtures/identity-compositions.ts';

const SALT_A = '5a'.repeat(32);
const SALT_B = 'a5'.repeat(32);

function sha(...parts: Array<Uint8Array | string>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}
const tag = (purpose: string) => `runprint/v1/${purpose}\u0000`;
const u64 = (n: number) => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(n));
  return out;
};
const salted = (salts: Record<string, string>) => ({ ...structuredClone(BASE), salts });

test('salted digests follow the formulas, recomputed with node:crypto', () => {
  const s = Buffer.from(SALT_A, 'hex');
  const s1 = sha(tag('salt'), s, u64(1));
  assert.equal(Buffer.from(elementSalt(saltBytes(SALT_A), 1)).toString('hex'), s1);
  const element = '{"content":"Hi","role":"user"}';
  assert.equal(
    Buffer.from(saltedElementDigest(Buffer.from(s1, 'hex'), element)).toString('hex'),
    sha(Buffer.from([0]), tag('salted-element'), Buffer.from(s1, 'hex'), element),
  );
  assert.equal(
    Buffer.from(saltedValueComponentDigest('parameters', s, '{"temperature":0}')).toString('hex'),
    sha(tag('salted-component/parameters'), s, '{"temperature":0}'),
  );
});

test('a salted list: element digests salted per index; root and component digest as in 5.3 and 5.4', () => {
  const plain = computeIdentity(BASE);
  const identity = computeIdentity(salted({ input: SALT_A }));
  const input = identity.components.input;
  assert.equal(input.kind, 'list');
  assert.equal(input.salted, true);
  if (input.kind !== 'list') return;
  const s = Buffer.from(SALT_A, 'hex');
  (BASE['input'] as unknown[]).forEach((element, index) => {
    const si = Buffer.from(sha(tag('salt'), s, u64(index)), 'hex');
    const canonical = JSON.stringify(Object.fromEntries(Object.entries(element as object).sort()));
    assert.equal(input.elements[index]!.sha256, sha(Buffer.from([0]), tag('salted-element'), si, canonical));
  });
  assert.notEqual(identity.requestId, plain.requestId);
  // Components that are not salted keep their digests and their entries exactly.
  assert.deepEqual(identity.components.system, plain.components.system);
  assert.deepEqual(identity.components.model, plain.components.model);
  assert.equal('salted' in plain.components.input, false);
});

test('same composition and same salts give the same identity; another salt another identity', () => {
  const salts = { system: SALT_A, parameters: SALT_B };
  assert.deepEqual(computeIdentity(salted(salts)), computeIdentity(salted({ parameters: SALT_B, system: SALT_A })));
  const other = computeIdentity(salted({ system: SALT_B, parameters: SALT_B }));
  const first = computeIdentity(salted(salts));
  assert.notEqual(other.components.system.digest.sha256, first.components.system.digest.sha256);
  assert.equal(other.components.parameters.digest.sha256, first.components.parameters.digest.sha256);
  assert.notEqual(other.runId, first.runId);
});

test('the identity document never contains a salt, and "salted" only where a salt is given', () => {
  const salts = createSalts(['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration']);
  const identity = computeIdentity(salted(salts));
  const text = JSON.stringify(identity);
  for (const salt of Object.values(salts)) assert.equal(text.includes(salt!), false);
  for (const entry of Object.values(identity.components)) assert.equal(entry.salted, true);
  assert.equal(JSON.stringify(computeIdentity(BASE)).includes('salted'), false);
  // An empty "salts" object salts nothing: the identity is the unsalted one, byte for byte.
  assert.deepEqual(computeIdentity({ ...structuredClone(BASE), salts: {} }), computeIdentity(BASE));
});

test('an element salt reveals neither the list salt nor a neighbour\'s salt (distinct, one-way derivations)', () => {
  const salt = saltBytes(SALT_A);
  const seen = new Set<string>();
  for (let index = 0; index < 64; index++) seen.add(Buffer.from(elementSalt(salt, index)).toString('hex'));
  assert.equal(seen.size, 64);
  assert.equal(seen.has(SALT_A), false);
});

test('createSalts: 64 lowercase hex digits per named component, fresh every time', () => {
  const first = createSalts(['system', 'input']);
  const second = createSalts(['system', 'input']);
  assert.deepEqual(Object.keys(first), ['system', 'input']);
  for (const value of [...Object.values(first), ...Object.values(second)]) assert.match(value!, /^[0-9a-f]{64}$/);
  assert.notEqual(first.system, second.system);
  assert.notEqual(first.system, first.input);
  assert.throws(() => createSalts(['served']), { name: 'RangeError', message: '"served" is not a request component' });
  assert.throws(() => createSalts(['input', 'input']), { name: 'RangeError', message: 'component "input" is named twice' });
});

test('a bad "salts" member is ERR_COMPOSITION_INVALID with its path, and never echoes the salt', () => {
  const cases: Array<[unknown, string, string]> = [
    [[SALT_A], '"salts" must be a JSON object of salts', "$['salts']"],
    [{ served: SALT_A }, '"salts" names no request component: "served"', "$['salts']['served']"],
    [{ prompt: SALT_A }, '"salts" names no request component: "prompt"', "$['salts']['prompt']"],
    [{ system: SALT_A.toUpperCase() }, 'a salt must be 64 lowercase hex digits (32 bytes)', "$['salts']['system']"],
    [{ system: SALT_A.slice(2) }, 'a salt must be 64 lowercase hex digits (32 bytes)', "$['salts']['system']"],
    [{ system: `${SALT_A}00` }, 'a salt must be 64 lowercase hex digits (32 bytes)', "$['salts']['system']"],
    [{ system: 42 }, 'a salt must be 64 lowercase hex digits (32 bytes)', "$['salts']['system']"],
    [{ system: `${'g'}${SALT_A.slice(1)}` }, 'a salt must be 64 lowercase hex digits (32 bytes)', "$['salts']['system']"],
  ];
  for (const [salts, message, path] of cases) {
    assert.throws(() => parseComposition({ ...MINIMAL, salts }), (error: any) => {
      assert.equal(error.code, 'ERR_COMPOSITION_INVALID');
      assert.equal(error.message, message);
      assert.equal(error.path, path);
      assert.equal(error.toLine().includes(SALT_A.slice(4)), false);
      return true;
    });
  }
});

test('property: a salted identity is consistent and changes with the salt and with the content', () => {
  const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex'));
  fc.assert(
    fc.property(fc.array(fc.string(), { maxLength: 6 }), hex64, hex64, (system, saltA, saltB) => {
      const composition = { ...MINIMAL, system, salts: { system: saltA } };
      const a = computeIdentity(composition);
      assert.deepEqual(computeIdentity(structuredClone(composition)), a);
      const b = computeIdentity({ ...composition, salts: { system: saltB } });
      // An empty list has no element to salt: its digest is the unsalted one's.
      assert.equal(a.requestId === b.requestId, saltA === saltB || system.length === 0);
      const plain = computeIdentity({ ...MINIMAL, system });
      assert.equal(a.requestId === plain.requestId, system.length === 0);
    }),
    { numRuns: 300 },
  );
});

test('diff names the salt when only a salt differs, and never shows it', () => {
  const base = {
    version: 'runprint/v1', model: { name: 'm' }, system: ['You are terse.'], input: [], context: [], tools: [],
    parameters: {}, configuration: {},
  };
  const a = { ...base, salts: { system: '11'.repeat(32) } };
  const b = { ...base, salts: { system: '22'.repeat(32) } };
  const result = diffCompositions(a, b);
  assert.equal(result.equal, false);
  assert.deepEqual(result.differences, [{ component: 'system', change: 'changed', path: "$['salts']['system']" }]);
  assert.doesNotMatch(JSON.stringify(result.differences), /1111|2222/);
  assert.deepEqual(diffCompositions(base, a).differences, [{ component: 'system', change: 'changed', path: "$['salts']['system']" }]);
});
