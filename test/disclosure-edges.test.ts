/**
 * The edges of selective disclosure (docs/RECEIPTS.md 17): every refusal of the disclosure reader
 * with its code, message and path, the proof and depth limits, and each verification step shown to
 * be the one that catches a disclosure or receipt crafted to pass the others.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDisclosure } from '../src/receipt/disclosure.ts';
import { MAX_PROOF_HASHES, readDisclosure } from '../src/receipt/disclosure-shape.ts';
import { verifyDisclosure } from '../src/receipt/disclosure-verify.ts';
import { disclosureComposition, statementOf } from './fixtures/disclosure-run.ts';

type Json = Record<string, any>;
const composition = disclosureComposition();
const statement = statementOf(composition) as unknown as Json;
const runId: string = statement['predicate'].buildDefinition.externalParameters.runId;
const HEX = 'ab'.repeat(32);
const element = (change: Json = {}) => ({ component: 'input', index: 0, size: 1, element: 'x', proof: [], ...change });
const disclosure = (change: Json = {}) => ({ version: 'runprint.disclosure/v1', runId, components: {}, elements: [element()], ...change });

function refused(value: unknown, message: string, path: string): void {
  assert.throws(() => readDisclosure(value), { code: 'ERR_DISCLOSURE_INVALID', message, path }, `${path}: ${message}`);
}

test('readDisclosure: every refusal with its message and path', () => {
  refused('{"version":1,"version":2}', 'disclosure is not strict JSON (ERR_JSON_DUPLICATE_KEY)', '$');
  refused(new TextEncoder().encode('{'), 'disclosure is not strict JSON (ERR_JSON_TRUNCATED)', '$');
  for (const value of [null, [], 'null']) refused(value, 'disclosure must be a JSON object', '$');
  refused(disclosure({ extra: 1 }), 'unknown disclosure member "extra"', "$['extra']");
  refused(disclosure({ ['x'.repeat(70)]: 1 }), `unknown disclosure member "${'x'.repeat(64)}"`, `$['${'x'.repeat(64)}'\u2026]`);
  refused(disclosure({ version: 'runprint.disclosure/v2' }), 'disclosure "version" must be "runprint.disclosure/v1"', "$['version']");
  for (const id of [undefined, 5, 'rp-run-v1-sha256-x', runId.replace('rp-run', 'rp-req')]) {
    refused(disclosure({ runId: id }), 'disclosure "runId" must be a v1 run identity', "$['runId']");
  }
  for (const components of [[], null, 'x']) refused(disclosure({ components }), 'disclosure "components" must be an object', "$['components']");
  for (const elements of [{}, null]) refused(disclosure({ elements }), 'disclosure "elements" must be an array', "$['elements']");
  refused(disclosure({ elements: [] }), 'disclosure reveals nothing', '$');
  // Components revealed whole.
  refused(disclosure({ components: { served: { value: {} } } }), '"components" names no request component: "served"', "$['components']['served']");
  refused(disclosure({ components: { input: [] } }), 'a revealed component must be an object with "value"', "$['components']['input']");
  refused(disclosure({ components: { input: { value: [], note: 1 } } }), 'unknown disclosure member "note"', "$['components']['input']['note']");
  refused(disclosure({ components: { input: { salt: HEX } } }), 'a revealed component must have a "value"', "$['components']['input']['value']");
  refused(disclosure({ components: { input: { value: [], salt: HEX.toUpperCase() } } }), 'a salt must be 64 lowercase hex digits (32 bytes)', "$['components']['input']['salt']");
  refused(disclosure({ components: { input: { value: {} } } }), 'component "input" must be revealed as a JSON array', "$['components']['input']['value']");
  refused(disclosure({ components: { parameters: { value: [] } } }), 'component "parameters" must be revealed as a JSON object', "$['components']['parameters']['value']");
  refused(disclosure({ components: { model: { value: null } } }), 'component "model" must be revealed as a JSON object', "$['components']['model']['value']");
  refused(disclosure({ components: { input: { value: [1, 2 ** 53] } } }), 'revealed content cannot be canonicalized (ERR_JSON_UNSAFE_INTEGER)', "$['components']['input']['value'][1]");
  refused(disclosure({ components: { model: { value: { n: Number.NaN } } } }), 'revealed content cannot be canonicalized (ERR_JSON_NON_FINITE)', "$['components']['model']['value']");
  // Elements revealed alone.
  refused(disclosure({ elements: ['x'] }), 'a revealed element must be an object', "$['elements'][0]");
  refused(disclosure({ elements: [element(), element({ extra: 1 })] }), 'unknown disclosure member "extra"', "$['elements'][1]['extra']");
  for (const component of ['model', 'served', 5]) {
    refused(disclosure({ elements: [element({ component })] }), '"component" must name a list component (system, input, context or tools)', "$['elements'][0]['component']");
  }
  for (const size of [0, -1, 1.5, '1', undefined]) refused(disclosure({ elements: [element({ size })] }), '"size" must be a positive integer', "$['elements'][0]['size']");
  for (const index of [1, 2, -1, 0.5, '0', undefined]) {
    refused(disclosure({ elements: [element({ index })] }), '"index" must be an integer from 0 to size - 1', "$['elements'][0]['index']");
  }
  refused(disclosure({ elements: [element({ element: undefined })] }), 'a revealed element must have an "element"', "$['elements'][0]['element']");
  assert.equal(MAX_PROOF_HASHES, 53);
  refused(disclosure({ elements: [element({ proof: HEX })] }), '"proof" must be an array of at most 53 hashes', "$['elements'][0]['proof']");
  refused(disclosure({ elements: [element({ proof: Array(54).fill(HEX) })] }), '"proof" must be an array of at most 53 hashes', "$['elements'][0]['proof']");
  assert.equal(readDisclosure(disclosure({ elements: [element({ proof: Array(53).fill(HEX), size: 2 ** 53 - 1 })] })).elements[0]!.proof.length, 53);
  refused(disclosure({ elements: [element({ proof: [HEX, 'AB'] })] }), 'a proof hash must be 64 lowercase hex digits', "$['elements'][0]['proof'][1]");
  refused(disclosure({ elements: [element({ salt: 'x' })] }), 'a salt must be 64 lowercase hex digits (32 bytes)', "$['elements'][0]['salt']");
  refused(disclosure({ elements: [element({ element: { n: 10n } })] }), 'revealed content cannot be canonicalized (ERR_JSON_UNSUPPORTED_VALUE)', "$['elements'][0]['element']");
  // Each part once.
  refused(disclosure({ components: { input: { value: [] } } }), 'component "input" is revealed whole and by element', "$['elements'][0]");
  refused(disclosure({ elements: [element({ size: 3 }), element({ size: 3, index: 1 }), element({ size: 3, index: 1 })] }), 'element input[1] is revealed twice', "$['elements'][2]");
  // The same index of two lists is two parts.
  assert.equal(readDisclosure(disclosure({ elements: [element(), element({ component: 'system' })] })).elements.length, 2);
});

test('readDisclosure: depth limits, salts, and what it returns', () => {
  const nest = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = [value];
    return value;
  };
  // An element may nest 126 containers (composition > list > element: 128), a value component 127.
  assert.doesNotThrow(() => readDisclosure(disclosure({ elements: [element({ element: nest(126) })] })));
  refused(disclosure({ elements: [element({ element: nest(127) })] }), 'revealed content cannot be canonicalized (ERR_JSON_TOO_DEEP)', "$['elements'][0]['element']");
  assert.doesNotThrow(() => readDisclosure(disclosure({ components: { input: { value: [nest(126)] } }, elements: [] })));
  refused(disclosure({ components: { input: { value: [nest(127)] } }, elements: [] }), 'revealed content cannot be canonicalized (ERR_JSON_TOO_DEEP)', "$['components']['input']['value'][0]");
  assert.doesNotThrow(() => readDisclosure(disclosure({ components: { parameters: { value: { x: nest(126) } } }, elements: [] })));
  refused(disclosure({ components: { parameters: { value: { x: nest(127) } } }, elements: [] }), 'revealed content cannot be canonicalized (ERR_JSON_TOO_DEEP)', "$['components']['parameters']['value']");
  // As text: the parser allows two more levels than a composition (130: the disclosure, "elements",
  // the element object and 127 levels of content), so the content's own limit decides first.
  const deepText = (levels: number) => JSON.stringify(disclosure({ elements: [element({ element: nest(levels) })] }));
  assert.doesNotThrow(() => readDisclosure(deepText(126)));
  refused(deepText(127), 'revealed content cannot be canonicalized (ERR_JSON_TOO_DEEP)', "$['elements'][0]['element']");
  refused(deepText(128), 'disclosure is not strict JSON (ERR_JSON_TOO_DEEP)', '$');
  const read = readDisclosure(
    JSON.stringify(disclosure({ components: { model: { value: { name: 'm', b: [1] } }, system: { value: ['a', { b: 2, a: 1 }], salt: HEX } }, elements: [element({ salt: HEX, proof: [HEX], size: 2, element: { z: 1, a: 2 } })] })),
  );
  assert.equal(read.runId, runId);
  assert.deepEqual(read.components, [
    { name: 'model', salt: undefined, canonical: '{"b":[1],"name":"m"}', canonicalElements: undefined },
    { name: 'system', salt: new Uint8Array(32).fill(0xab), canonical: '', canonicalElements: ['"a"', '{"a":1,"b":2}'] },
  ]);
  assert.deepEqual(read.elements, [{ component: 'input', index: 0, size: 2, salt: new Uint8Array(32).fill(0xab), canonical: '{"a":2,"z":1}', proof: [new Uint8Array(32).fill(0xab)] }]);
});

test('verifyDisclosure: the receipt as statement, bytes, text or predicate, and what is refused', () => {
  const made = createDisclosure(composition, { reveal: [{ component: 'input', index: 1 }, { component: 'parameters' }] });
  const names = (report: ReturnType<typeof verifyDisclosure>) => report.checks.map((c) => [c.name, c.ok, c.component, c.index]);
  const want = [
    ['disclosure', true, undefined, undefined],
    ['receipt', true, undefined, undefined],
    ['identity', true, undefined, undefined],
    ['run-identity', true, undefined, undefined],
    ['component', true, 'parameters', undefined],
    ['element', true, 'input', 1],
  ];
  const text = JSON.stringify(statement);
  for (const receipt of [statement, text, new TextEncoder().encode(text), statement['predicate']]) {
    const report = verifyDisclosure(made, receipt);
    assert.equal(report.ok, true);
    assert.deepEqual(names(report), want);
    assert.equal(report.runId, runId);
  }
  const receiptFailure = (receipt: unknown) => {
    const report = verifyDisclosure(made, receipt);
    assert.equal(report.ok, false);
    assert.equal('runId' in report, false);
    assert.deepEqual(report.checks[0], { name: 'disclosure', ok: true });
    return report.checks[1];
  };
  assert.deepEqual(receiptFailure([statement]), { name: 'receipt', ok: false, code: 'ERR_STATEMENT_INVALID', message: 'receipt statement or predicate must be a JSON object' });
  assert.deepEqual(receiptFailure({ payloadType: 'x', payload: '', signatures: [] }), { name: 'receipt', ok: false, code: 'ERR_STATEMENT_INVALID', message: 'give the statement of a verified envelope, not the envelope' });
  assert.deepEqual(receiptFailure('[1]'), { name: 'receipt', ok: false, code: 'ERR_STATEMENT_INVALID', message: 'statement must be a JSON object' });
  assert.deepEqual(receiptFailure({ ...statement, _type: 'x' }), { name: 'receipt', ok: false, code: 'ERR_STATEMENT_TYPE', message: 'statement "_type" must be "https://in-toto.io/Statement/v1"' });
  assert.equal(receiptFailure({ ...statement, subject: [] })!.code, 'ERR_SUBJECT_INVALID');
  assert.equal(receiptFailure({ ...statement, predicateType: 'x' })!.code, 'ERR_PREDICATE_TYPE');
  // A statement with only a predicate member is read as a statement (and fails its type).
  assert.equal(receiptFailure({ predicate: statement['predicate'] })!.code, 'ERR_STATEMENT_TYPE');
  assert.equal(receiptFailure({ ...statement, predicate: { ...statement['predicate'], runDetails: null } })!.code, 'ERR_PREDICATE_INVALID');
  const otherRun = structuredClone(statement);
  otherRun['subject'][0].digest.sha256 = '0'.repeat(64);
  otherRun['subject'][0].annotations.runId = `rp-run-v1-sha256-${'0'.repeat(64)}`;
  assert.deepEqual(receiptFailure(otherRun), { name: 'receipt', ok: false, code: 'ERR_SUBJECT_INVALID', message: 'subject "run" does not match the predicate\'s runId' });
  // A malformed disclosure: the check carries the path; a failure without a path carries none.
  const malformed = verifyDisclosure(disclosure({ extra: 1 }), statement);
  assert.deepEqual(malformed.checks, [{ name: 'disclosure', ok: false, code: 'ERR_DISCLOSURE_INVALID', message: 'unknown disclosure member "extra"', path: "$['extra']" }]);
  assert.equal('path' in receiptFailure([statement])!, false);
  // Programmer errors pass through as they are.
  assert.throws(() => verifyDisclosure({ get version() { throw new RangeError('boom'); } }, statement), { name: 'RangeError', message: 'boom' });
});

test('verifyDisclosure: each content check is the one that catches its forgery', () => {
  const made = createDisclosure(composition, { reveal: [{ component: 'input', index: 1 }, { component: 'parameters' }, { component: 'context' }] }) as unknown as Json;
  const run = (change: (d: Json) => void, against: unknown = statement) => {
    const copy = structuredClone(made);
    change(copy);
    const report = verifyDisclosure(copy, against);
    assert.equal(report.ok, false);
    return report.checks.at(-1);
  };
  // The receipt's own digests must add up before anything is compared with them.
  const badReceipt = structuredClone(statement);
  badReceipt['predicate'].buildDefinition.resolvedDependencies[2].annotations.root.sha256 = '0'.repeat(64);
  assert.deepEqual(run(() => {}, badReceipt['predicate']), { name: 'identity', ok: false, code: 'ERR_IDENTITY_MISMATCH', message: 'component "input": element digests do not give its root' });
  assert.deepEqual(run((d) => (d['runId'] = `rp-run-v1-sha256-${'0'.repeat(64)}`)), {
    name: 'run-identity', ok: false, code: 'ERR_DISCLOSURE_MISMATCH', message: 'disclosure "runId" is not the receipt\'s run identity',
  });
  assert.deepEqual(run((d) => (d['components'].parameters.value = { temperature: 2 })), {
    name: 'component', ok: false, component: 'parameters', code: 'ERR_DISCLOSURE_MISMATCH', message: 'revealed component "parameters" does not give its digest in the receipt',
  });
  // A salted value component with its salt dropped, or another salt.
  assert.equal(run((d) => delete d['components'].parameters.salt)!.message, 'revealed component "parameters" does not give its digest in the receipt');
  assert.equal(run((d) => (d['components'].parameters.salt = '0'.repeat(64)))!.message, 'revealed component "parameters" does not give its digest in the receipt');
  // An unsalted list revealed whole with one element more, or given a salt it does not have.
  assert.deepEqual(run((d) => d['components'].context.value.push('x')), {
    name: 'component', ok: false, component: 'context', code: 'ERR_DISCLOSURE_MISMATCH', message: 'revealed component "context" does not give its digest in the receipt',
  });
  assert.equal(run((d) => (d['components'].context.salt = '0'.repeat(64)))!.message, 'revealed component "context" does not give its digest in the receipt');
  const element = (change: (e: Json) => void) => run((d) => change(d['elements'][0]));
  const count = statement['predicate'].buildDefinition.resolvedDependencies[2].annotations.count;
  assert.deepEqual(element((e) => (e['size'] = count + 1)), {
    name: 'element', ok: false, component: 'input', index: 1, code: 'ERR_DISCLOSURE_MISMATCH', message: 'element input[1]: "size" is not the number of elements in the receipt',
  });
  assert.equal(element((e) => (e['size'] = count - 1))!.message, 'element input[1]: "size" is not the number of elements in the receipt');
  const notProven = 'revealed element input[1] is not proven part of its list in the receipt';
  assert.equal(element((e) => (e['element'] = { role: 'user', content: 'forged' }))!.message, notProven);
  assert.equal(element((e) => delete e['salt'])!.message, notProven);
  assert.equal(element((e) => (e['index'] = 0))!.message, 'revealed element input[0] is not proven part of its list in the receipt');
  assert.equal(element((e) => e['proof'].pop())!.message, notProven);
  // The salted element uses its own salt directly (the disclosure carries the element's salt, not the list's).
  const salted = structuredClone(made);
  assert.match(salted['elements'][0].salt, /^[0-9a-f]{64}$/);
  assert.notEqual(salted['elements'][0].salt, composition['salts' as keyof typeof composition]);
});

test('disclosure: labels, long names, receipts that are not objects, a statement without its predicate, thrown non-runprint errors', async () => {
  const { DISCLOSURE_CHECK_LABELS } = await import('../src/receipt/disclosure-verify.ts');
  const labels = Object.values(DISCLOSURE_CHECK_LABELS);
  assert.deepEqual(Object.keys(DISCLOSURE_CHECK_LABELS), ['disclosure', 'receipt', 'identity', 'run-identity', 'component', 'element']);
  assert.ok(labels.every((label) => typeof label === 'string' && label.length > 0));
  assert.equal(new Set(labels).size, labels.length);
  const long = 'c'.repeat(70);
  refused(disclosure({ components: { [long]: { value: {} } } }), `"components" names no request component: "${'c'.repeat(64)}"`, `$['components']['${'c'.repeat(64)}'\u2026]`);
  const made = createDisclosure(composition, { reveal: [{ component: 'parameters' }] });
  for (const receipt of [null, 5, true]) {
    const report = verifyDisclosure(made, receipt);
    assert.deepEqual(report.checks.at(-1), { name: 'receipt', ok: false, code: 'ERR_STATEMENT_INVALID', message: 'receipt statement or predicate must be a JSON object' }, String(receipt));
  }
  // A statement without its predicate is read as a statement, not as a predicate.
  const { predicate: _, ...withoutPredicate } = statement;
  assert.deepEqual(verifyDisclosure(made, withoutPredicate).checks.at(-1), { name: 'receipt', ok: false, code: 'ERR_PREDICATE_INVALID', message: 'predicate  must be an object' });
  // An in-process value whose toJSON throws: that error, not a disclosure error.
  assert.throws(() => readDisclosure(disclosure({ elements: [element({ element: { toJSON() { throw new SyntaxError('from toJSON'); } } })] })), { name: 'SyntaxError', message: 'from toJSON' });
});
