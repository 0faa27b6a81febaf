/**
 * The edges of the identity module (SPEC 2, 5, 6): every composition check with its code, path and
 * message, the salt spelling at each character boundary, the digest primitives' argument checks,
 * and identity strings refused with the message that says why.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { isSaltHex, parseComposition } from '../src/identity/composition.ts';
import {
  digestSet,
  domainTag,
  elementSalt,
  listComponentDigest,
  requestDigest,
  runDigest,
  saltedElementDigest,
  saltedValueComponentDigest,
} from '../src/identity/digest.ts';
import { computeIdentity, withServedFacts } from '../src/identity/identity.ts';
import { formatIdentity, parseIdentity } from '../src/identity/identity-string.ts';
import { createSalts, saltBytes, SALT_BYTES } from '../src/identity/salt.ts';

const BASE = {
  version: 'runprint/v1',
  model: { name: 'm' },
  system: [],
  input: [],
  context: [],
  tools: [],
  parameters: {},
  configuration: {},
};
const SALT = 'ab'.repeat(32);

function refused(value: unknown, code: string, path: string, message: string): void {
  assert.throws(() => parseComposition(value), { code, path, message }, `${path}: ${message}`);
}

test('every composition check: code, path and message', () => {
  for (const value of [null, [], 'x', 3, undefined]) refused(value, 'ERR_COMPOSITION_INVALID', '$', 'composition must be a JSON object');
  refused({ ...BASE, version: undefined }, 'ERR_COMPOSITION_INVALID', "$['version']", 'composition is missing "version"');
  refused({ ...BASE, version: 1 }, 'ERR_COMPOSITION_INVALID', "$['version']", 'composition "version" must be a string');
  refused({ ...BASE, version: 'runprint/v2' }, 'ERR_COMPOSITION_VERSION', "$['version']", 'unsupported composition version; this implementation reads "runprint/v1"');
  refused({ ...BASE, zeta: 1, beta: 2, gamma: 3 }, 'ERR_COMPOSITION_INVALID', "$['beta']", 'unknown composition member "beta"');
  refused({ ...BASE, b: 1, a: 2 }, 'ERR_COMPOSITION_INVALID', "$['a']", 'unknown composition member "a"');
  // An unknown member whose value is undefined is absent, as on the wire.
  assert.doesNotThrow(() => parseComposition({ ...BASE, prompt: undefined }));
  for (const name of ['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration']) {
    refused({ ...BASE, [name]: undefined }, 'ERR_COMPOSITION_INVALID', `$['${name}']`, `composition is missing component "${name}"`);
  }
  for (const name of ['system', 'input', 'context', 'tools']) {
    refused({ ...BASE, [name]: {} }, 'ERR_COMPOSITION_INVALID', `$['${name}']`, `component "${name}" must be a JSON array`);
  }
  for (const name of ['parameters', 'configuration']) {
    for (const bad of [[], null, 'x']) refused({ ...BASE, [name]: bad }, 'ERR_COMPOSITION_INVALID', `$['${name}']`, `component "${name}" must be a JSON object`);
  }
  refused({ ...BASE, model: [] }, 'ERR_COMPOSITION_INVALID', "$['model']", 'component "model" must be a JSON object');
  for (const name of [undefined, '', 3, null]) {
    refused({ ...BASE, model: { name } }, 'ERR_COMPOSITION_INVALID', "$['model']['name']", 'model must have a non-empty string "name"');
  }
  assert.doesNotThrow(() => parseComposition({ ...BASE, model: { name: 'x' } }));
  refused({ ...BASE, served: [] }, 'ERR_COMPOSITION_INVALID', "$['served']", '"served" must be a JSON object of facts');
  refused({ ...BASE, served: null }, 'ERR_COMPOSITION_INVALID', "$['served']", '"served" must be a JSON object of facts');
  refused({ ...BASE, served: { m: 'x' } }, 'ERR_COMPOSITION_INVALID', "$['served']['m']", 'a served fact must be an object with "source" and "value"');
  refused(
    { ...BASE, served: { m: { source: 'derived', value: 1, zz: 1, note: 2 } } },
    'ERR_COMPOSITION_INVALID',
    "$['served']['m']['note']",
    'unknown served fact member "note"',
  );
  // A member of a fact whose value is undefined is absent.
  assert.doesNotThrow(() => parseComposition({ ...BASE, served: { m: { source: 'derived', value: 1, note: undefined } } }));
  for (const source of ['Derived', '', undefined, 1]) {
    refused(
      { ...BASE, served: { m: { source, value: 1 } } },
      'ERR_COMPOSITION_INVALID',
      "$['served']['m']['source']",
      'a served fact\'s "source" must be "derived" or "reported"',
    );
  }
  assert.doesNotThrow(() => parseComposition({ ...BASE, served: { m: { source: 'reported', value: null } } }));
  refused({ ...BASE, served: { m: { source: 'derived' } } }, 'ERR_COMPOSITION_INVALID', "$['served']['m']['value']", 'a served fact must have a "value"');
  // Facts are checked in the order of their names: "B" (0x42) before "a" (0x61).
  refused({ ...BASE, served: { a: { source: 'x', value: 1 }, B: { source: 'y', value: 1 } } }, 'ERR_COMPOSITION_INVALID', "$['served']['B']['source']", 'a served fact\'s "source" must be "derived" or "reported"');
  for (const excluded of [[], 'x', null]) refused({ ...BASE, excluded }, 'ERR_COMPOSITION_INVALID', "$['excluded']", '"excluded" must be a JSON object');
  for (const salts of [[], 'x', null]) refused({ ...BASE, salts }, 'ERR_COMPOSITION_INVALID', "$['salts']", '"salts" must be a JSON object of salts');
  refused({ ...BASE, salts: { served: SALT } }, 'ERR_COMPOSITION_INVALID', "$['salts']['served']", '"salts" names no request component: "served"');
  refused({ ...BASE, salts: { system: SALT.toUpperCase() } }, 'ERR_COMPOSITION_INVALID', "$['salts']['system']", 'a salt must be 64 lowercase hex digits (32 bytes)');
  // Salts are checked in the order of their names, and a salt whose value is undefined is absent.
  refused({ ...BASE, salts: { tools: 'x', input: 'y' } }, 'ERR_COMPOSITION_INVALID', "$['salts']['input']", 'a salt must be 64 lowercase hex digits (32 bytes)');
  refused({ ...BASE, salts: { system: 'x', Input: SALT } }, 'ERR_COMPOSITION_INVALID', "$['salts']['Input']", '"salts" names no request component: "Input"');
  assert.doesNotThrow(() => parseComposition({ ...BASE, salts: { system: undefined, prompt: undefined } }));
  assert.doesNotThrow(() => parseComposition({ ...BASE, salts: { system: SALT, model: SALT } }));
});

test('isSaltHex: exactly 64 digits of [0-9a-f], each character boundary', () => {
  assert.equal(isSaltHex('0123456789abcdef'.repeat(4)), true);
  assert.equal(isSaltHex('9'.repeat(64)), true);
  assert.equal(isSaltHex('a'.repeat(64)), true);
  assert.equal(isSaltHex('f'.repeat(64)), true);
  assert.equal(isSaltHex('0'.repeat(64)), true);
  for (const c of ['/', ':', '`', 'g', 'A', 'F', ' ', '\u0660']) {
    assert.equal(isSaltHex('0'.repeat(63) + c), false, JSON.stringify(c));
    assert.equal(isSaltHex(c + '0'.repeat(63)), false, JSON.stringify(c));
  }
  assert.equal(isSaltHex('0'.repeat(63)), false);
  assert.equal(isSaltHex('0'.repeat(65)), false);
  assert.equal(isSaltHex(12), false);
  assert.equal(isSaltHex(null), false);
});

test('digest primitives: arguments checked with their messages, formulas with node:crypto', () => {
  const sha = (...parts: Array<Uint8Array | string>) => {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    return hash.digest('hex');
  };
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  const root = new Uint8Array(32).fill(5);
  for (const count of [-1, 1.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => listComponentDigest('input', count, root), { name: 'RangeError', message: 'count must be a non-negative safe integer' });
  }
  const u64 = (n: number) => {
    const out = Buffer.alloc(8);
    out.writeBigUInt64BE(BigInt(n));
    return out;
  };
  for (const count of [0, 1, 2 ** 32 + 5, 2 ** 53 - 1]) {
    assert.equal(hex(listComponentDigest('tools', count, root)), sha(domainTag('component/tools'), u64(count), root), `count ${count}`);
  }
  // The tag of each name is its own (a cached tag is not another name's).
  assert.equal(hex(listComponentDigest('system', 1, root)), sha('runprint/v1/component/system\0', u64(1), root));
  assert.equal(hex(listComponentDigest('tools', 1, root)), sha('runprint/v1/component/tools\0', u64(1), root));
  const d = Array.from({ length: 7 }, (_, i) => new Uint8Array(32).fill(i));
  assert.equal(hex(requestDigest(d)), sha('runprint/v1/request\0', ...d));
  for (const length of [6, 8, 0]) {
    assert.throws(() => requestDigest(Array.from({ length }, () => d[0]!)), { name: 'RangeError', message: 'requestDigest takes exactly seven component digests' });
  }
  for (const bad of [new Uint8Array(31), new Uint8Array(33)]) {
    assert.throws(() => requestDigest([...d.slice(0, 6), bad]), { name: 'RangeError', message: 'component digests are 32 bytes' });
  }
  assert.equal(hex(runDigest(d[1]!, d[2]!)), sha('runprint/v1/run\0', d[1]!, d[2]!));
  const salt = new Uint8Array(32).fill(0x5a);
  for (const bad of [new Uint8Array(31), new Uint8Array(33)]) {
    assert.throws(() => elementSalt(bad, 0), { name: 'RangeError', message: 'a salt is 32 bytes' });
    assert.throws(() => saltedValueComponentDigest('model', bad, '{}'), { name: 'RangeError', message: 'a salt is 32 bytes' });
    assert.throws(() => saltedElementDigest(bad, '1'), { name: 'RangeError', message: 'an element salt is 32 bytes' });
  }
  for (const index of [-1, 0.5, Number.NaN]) {
    assert.throws(() => elementSalt(salt, index), { name: 'RangeError', message: 'index must be a non-negative safe integer' });
  }
  for (const index of [0, 1, 2 ** 40]) {
    assert.equal(hex(elementSalt(salt, index)), sha('runprint/v1/salt\0', salt, u64(index)), `index ${index}`);
  }
  const s = elementSalt(salt, 3);
  assert.equal(hex(saltedElementDigest(s, '"x"')), sha(new Uint8Array([0]), 'runprint/v1/salted-element\0', s, '"x"'));
  assert.equal(hex(saltedValueComponentDigest('parameters', salt, '{}')), sha('runprint/v1/salted-component/parameters\0', salt, '{}'));
  assert.deepEqual(digestSet(new Uint8Array([0, 255, 16])), { sha256: '00ff10' });
});

test('identity strings: every refusal with its code and message, formatIdentity checks', () => {
  const hex = 'a1'.repeat(32);
  const cases: Array<[string, string, string]> = [
    ['rp-out-v1-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity kind must be "req" or "run"'],
    ['rp-out-v2-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity kind must be "req" or "run"'],
    ['rp-run-v01-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity version must be a decimal number without leading zeros'],
    ['rp-run-v0-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity version must be a decimal number without leading zeros'],
    ['rp-run-v2-sha256-' + hex, 'ERR_IDENTITY_UNSUPPORTED_VERSION', 'identity version is not supported; this implementation reads v1'],
    ['rp-run-v10-sha256-', 'ERR_IDENTITY_UNSUPPORTED_VERSION', 'identity version is not supported; this implementation reads v1'],
    ['rp-run-v11-sha256-' + hex, 'ERR_IDENTITY_UNSUPPORTED_VERSION', 'identity version is not supported; this implementation reads v1'],
    ['rp-req-v1-sha512-' + hex + hex, 'ERR_IDENTITY_UNSUPPORTED_VERSION', 'identity algorithm is not supported; v1 uses sha256'],
    ['rp-req-v1-sha256-' + hex.slice(1), 'ERR_IDENTITY_MALFORMED', 'identity digest must be 64 lowercase hexadecimal digits'],
    ['rp-req-v1-sha256-' + hex + '0', 'ERR_IDENTITY_MALFORMED', 'identity digest must be 64 lowercase hexadecimal digits'],
    ['rp-req-v1-sha256-' + 'g'.repeat(64), 'ERR_IDENTITY_MALFORMED', 'identity digest must be 64 lowercase hexadecimal digits'],
    ['rp-req-v1-sha256-', 'ERR_IDENTITY_MALFORMED', 'identity digest must be 64 lowercase hexadecimal digits'],
    ['rp-req-v1-sha256-' + hex + '\n', 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
    ['x' + 'rp-req-v1-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
    ['rp-Req-v1-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
    ['rp--v1-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
    ['rp-req-v-sha256-' + hex, 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
    ['rp-req-v1--' + hex, 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
    ['rp-req-v1-sha256-' + hex.slice(2) + '_a', 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
    ['rp-req-v1-sha256-' + hex + ' ', 'ERR_IDENTITY_MALFORMED', 'identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>'],
  ];
  for (const [text, code, message] of cases) assert.throws(() => parseIdentity(text), { code, message }, JSON.stringify(text));
  const parsed = parseIdentity('rp-req-v1-sha256-' + hex);
  assert.deepEqual(parsed, { kind: 'req', version: 1, algorithm: 'sha256', digest: new Uint8Array(Buffer.from(hex, 'hex')) });
  assert.throws(() => parseIdentity(undefined as never), { name: 'TypeError', message: 'identity must be a string' });
  const digest = new Uint8Array(32).fill(0xa1);
  assert.equal(formatIdentity('req', digest), 'rp-req-v1-sha256-' + hex);
  assert.equal(formatIdentity('run', digest), 'rp-run-v1-sha256-' + hex);
  assert.throws(() => formatIdentity('out' as never, digest), { name: 'RangeError', message: 'identity kind must be "req" or "run"' });
  assert.throws(() => formatIdentity('run', hex as never), { name: 'TypeError', message: 'identity digest must be a Uint8Array of 32 bytes (hex text: decode it first)' });
  assert.throws(() => formatIdentity('req', new Uint8Array(33)), { name: 'RangeError', message: 'a v1 identity digest is 32 bytes' });
});

test('createSalts and saltBytes: arguments and messages', () => {
  const salts = createSalts(new Set(['system', 'model']));
  assert.deepEqual(Object.keys(salts), ['system', 'model']);
  for (const value of Object.values(salts)) assert.match(value!, /^[0-9a-f]{64}$/);
  assert.notEqual(salts.system, salts.model);
  assert.equal(SALT_BYTES, 32);
  assert.deepEqual(createSalts([]), {});
  for (const bad of ['system', 7, null, undefined, { system: true }]) {
    assert.throws(() => createSalts(bad as never), {
      name: 'TypeError',
      message: 'createSalts takes an array (or other iterable) of component names, such as ["system", "input"]',
    });
  }
  assert.throws(() => createSalts(['served']), { name: 'RangeError', message: '"served" is not a request component' });
  assert.throws(() => createSalts(['input', 'input']), { name: 'RangeError', message: 'component "input" is named twice' });
  assert.deepEqual(saltBytes(SALT), new Uint8Array(32).fill(0xab));
  assert.throws(() => saltBytes(5 as never), { name: 'TypeError', message: 'a salt must be a string of 64 lowercase hex digits' });
  assert.throws(() => saltBytes(SALT.toUpperCase()), { name: 'RangeError', message: 'a salt must be 64 lowercase hex digits' });
});

test('computeIdentity: paths of errors, facts copied and sorted, excluded names, withServedFacts', () => {
  // A hole in an in-process array is reported with the list's own path.
  const holes = [1, , 3]; // eslint-disable-line no-sparse-arrays
  assert.throws(() => computeIdentity({ ...BASE, tools: holes }), { path: "$['tools'][1]" });
  // Errors in a value component, in served and in excluded carry their absolute paths.
  assert.throws(() => computeIdentity({ ...BASE, configuration: { a: [Number.NaN] } }), { code: 'ERR_JSON_NON_FINITE', path: "$['configuration']['a'][0]" });
  assert.throws(() => computeIdentity({ ...BASE, served: { m: { source: 'derived', value: Number.POSITIVE_INFINITY } } }), {
    code: 'ERR_JSON_NON_FINITE',
    path: "$['served']['m']['value']",
  });
  assert.throws(() => computeIdentity({ ...BASE, model: { name: 'm', n: 2 ** 60 } }), { code: 'ERR_JSON_UNSAFE_INTEGER', path: "$['model']['n']" });
  // Facts: sorted by name, only source and value, a fact whose value is undefined left out.
  const identity = computeIdentity({
    ...BASE,
    served: { zed: { source: 'reported', value: [1] }, alpha: { source: 'derived', value: 'a' }, gone: undefined },
  });
  assert.deepEqual(Object.keys(identity.served!.facts), ['alpha', 'zed']);
  assert.deepEqual(identity.served!.facts, { alpha: { source: 'derived', value: 'a' }, zed: { source: 'reported', value: [1] } });
  assert.match(identity.runId!, /^rp-run-v1-sha256-[0-9a-f]{64}$/);
  // withServedFacts gives the same document as computing it with the facts.
  const plain = computeIdentity(BASE);
  assert.deepEqual(withServedFacts(plain, { alpha: { source: 'derived', value: 'a' }, zed: { source: 'reported', value: [1] } }), identity);
  assert.throws(() => withServedFacts(plain, { m: { source: 'guessed', value: 1 } }), { code: 'ERR_COMPOSITION_INVALID', path: "$['served']['m']['source']" });
  assert.throws(() => withServedFacts(plain, { m: { source: 'derived', value: 10n } }), { path: "$['served']['m']['value']" });
  // Excluded names: sorted, and a member whose value is undefined is not named.
  assert.deepEqual(computeIdentity({ ...BASE, excluded: { z: 1, b: 2, a: undefined, c: null } }).excluded, ['b', 'c', 'z']);
  assert.deepEqual(plain.excluded, []);
  assert.equal(plain.runId, null);
  assert.equal(plain.served, null);
  assert.equal(plain.version, 'runprint/v1');
  // "salted" appears on the salted component only, list or value.
  const salted = computeIdentity({ ...BASE, salts: { input: SALT, parameters: SALT } });
  assert.equal(salted.components.input.salted, true);
  assert.equal(salted.components.parameters.salted, true);
  assert.equal('salted' in salted.components.system, false);
  assert.equal('salted' in salted.components.model, false);
  assert.equal(salted.components.input.kind, 'list');
  assert.equal(salted.components.parameters.kind, 'value');
});

test('depth: each part of a composition may nest to 128 levels in total, not one more', () => {
  const nest = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = [value];
    return value;
  };
  // composition (1) > parameters (2) > x's array levels: 126 arrays reach level 128.
  assert.doesNotThrow(() => computeIdentity({ ...BASE, parameters: { x: nest(126) } }));
  assert.throws(() => computeIdentity({ ...BASE, parameters: { x: nest(127) } }), { code: 'ERR_JSON_TOO_DEEP' });
  assert.doesNotThrow(() => computeIdentity({ ...BASE, model: { name: 'm', x: nest(126) } }));
  assert.throws(() => computeIdentity({ ...BASE, model: { name: 'm', x: nest(127) } }), { code: 'ERR_JSON_TOO_DEEP' });
  // composition (1) > served (2) > fact (3) > value: 125 arrays reach level 128.
  const fact = (levels: number) => ({ m: { source: 'derived', value: nest(levels) } });
  assert.doesNotThrow(() => computeIdentity({ ...BASE, served: fact(125) }));
  assert.throws(() => computeIdentity({ ...BASE, served: fact(126) }), { code: 'ERR_JSON_TOO_DEEP' });
  const plain = computeIdentity(BASE);
  assert.doesNotThrow(() => withServedFacts(plain, fact(125)));
  assert.throws(() => withServedFacts(plain, fact(126)), { code: 'ERR_JSON_TOO_DEEP' });
  // composition (1) > excluded (2) > x: 126 arrays reach level 128.
  assert.doesNotThrow(() => computeIdentity({ ...BASE, excluded: { x: nest(126) } }));
  assert.throws(() => computeIdentity({ ...BASE, excluded: { x: nest(127) } }), { code: 'ERR_JSON_TOO_DEEP' });
});

test('a hole in an in-process list is its own error, not an undefined element; errors not from canonicalize pass unchanged', () => {
  const holes = [1, , 3]; // eslint-disable-line no-sparse-arrays
  assert.throws(() => computeIdentity({ ...BASE, input: holes }), {
    code: 'ERR_JSON_UNSUPPORTED_VALUE',
    message: 'an array hole (a missing element) has no JSON form',
    path: "$['input'][1]",
  });
  assert.throws(() => computeIdentity({ ...BASE, input: [1, undefined] }), {
    code: 'ERR_JSON_UNSUPPORTED_VALUE',
    message: 'undefined has no JSON form outside an object member',
    path: "$['input'][1]",
  });
  // A toJSON that throws: its error arrives as thrown, paths made absolute only when they are
  // canonicalize's ("$..."): not an error without a path, a path of another form or a thrown non-Error.
  const boom = new Error('boom');
  assert.throws(() => computeIdentity({ ...BASE, tools: [{ toJSON: () => { throw boom; } }] }), (error) => error === boom && !('path' in boom));
  const elsewhere = Object.assign(new Error('elsewhere'), { path: 'elsewhere' });
  assert.throws(() => computeIdentity({ ...BASE, tools: [{ toJSON: () => { throw elsewhere; } }] }), (error) => error === elsewhere && elsewhere.path === 'elsewhere');
  const numbered = Object.assign(new Error('numbered'), { path: 5 });
  assert.throws(() => computeIdentity({ ...BASE, tools: [{ toJSON: () => { throw numbered; } }] }), (error) => error === numbered && numbered.path === 5);
  const plainObject = { path: '$x' };
  assert.throws(() => computeIdentity({ ...BASE, tools: [{ toJSON: () => { throw plainObject; } }] }), (error) => error === plainObject && plainObject.path === '$x');
  assert.throws(() => computeIdentity({ ...BASE, tools: [{ toJSON: () => { throw null; } }] }), (error) => error === null);
  const rooted = Object.assign(new Error('rooted'), { path: '$[0]' });
  assert.throws(() => computeIdentity({ ...BASE, tools: [{ toJSON: () => { throw rooted; } }] }), (error) => error === rooted && rooted.path === "$['tools'][0][0]");
});

test('served facts and salts are checked in code-unit order of their names, whatever order they come in', () => {
  const bad = { source: 'x', value: 1 };
  for (const names of [['b', 'B', 'a'], ['a', 'b', 'B'], ['B', 'a', 'b'], ['z', 'y', 'x', 'B', 'A0', 'A']]) {
    const served = Object.fromEntries(names.map((name) => [name, bad]));
    const least = [...names].sort()[0]!;
    assert.throws(() => parseComposition({ ...BASE, served }), { path: `$['served']['${least}']['source']` }, names.join());
    const salts = Object.fromEntries(names.map((name) => [name, SALT]));
    assert.throws(() => parseComposition({ ...BASE, salts }), { path: `$['salts']['${least}']`, message: `"salts" names no request component: "${least}"` }, names.join());
  }
  // Two bad salts of real components, given last first.
  assert.throws(() => parseComposition({ ...BASE, salts: { tools: 'x', context: 'y', input: 'z' } }), { path: "$['salts']['context']" });
});
