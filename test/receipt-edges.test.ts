/**
 * The edges of receipt verification (docs/RECEIPTS.md 13 and 15): every refusal of the statement,
 * subject and predicate readers with its code and message, and each identity check shown to be the
 * only one that catches a predicate crafted to pass all the others.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from '../src/hash/sha256.ts';
import { listComponentDigest, listRoot, requestDigest, runDigest, valueComponentDigest } from '../src/identity/digest.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { readPredicate } from '../src/receipt/predicate-shape.ts';
import { checkComposition, checkOutput, checkPredicateIdentity, checkSubjectBinding, predicateMatches } from '../src/receipt/receipt-identity.ts';
import { checkPredicateType, checkStatementType, parseStatement, readSubjects } from '../src/receipt/statement.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { fixtureComposition, fixtureStatement, RESPONSE_TEXT } from './fixtures/receipt-run.ts';

type Json = Record<string, any>;
const predicateOf = (change: (p: Json) => void = () => {}): Json => {
  const predicate = fixtureStatement()['predicate'];
  change(predicate);
  return predicate;
};
const dependency = (p: Json, name: string): Json => p['buildDefinition'].resolvedDependencies.find((d: Json) => d['name'] === name);

function refused(change: (p: Json) => void, message: string): void {
  assert.throws(() => readPredicate(predicateOf(change)), { code: 'ERR_PREDICATE_INVALID', message: `predicate ${message}` }, message);
}

test('readPredicate: every refusal with its path and message', () => {
  assert.throws(() => readPredicate([]), { code: 'ERR_PREDICATE_INVALID', message: 'predicate  must be an object' });
  refused((p) => (p['buildDefinition'] = null), 'buildDefinition must be an object');
  refused((p) => (p['buildDefinition'].buildType = 'https://runprint.dev/run/v2'), 'buildDefinition.buildType must be "https://runprint.dev/run/v1"');
  refused((p) => (p['buildDefinition'].externalParameters = []), 'buildDefinition.externalParameters must be an object');
  const external = (change: (e: Json) => void) => (p: Json) => change(p['buildDefinition'].externalParameters);
  refused(external((e) => (e['requestId'] = 5)), 'buildDefinition.externalParameters.requestId must be a request identity string');
  refused(external((e) => (e['runId'] = undefined)), 'buildDefinition.externalParameters.runId must be a run identity string');
  refused(external((e) => (e['requestId'] = 'rp-req-v1-sha256-ab')), 'buildDefinition.externalParameters.requestId is not a v1 identity string');
  refused(external((e) => (e['requestId'] = e['runId'])), 'buildDefinition.externalParameters.requestId must be a request identity');
  refused(external((e) => (e['runId'] = e['requestId'])), 'buildDefinition.externalParameters.runId must be a run identity');
  for (const model of ['', 3, null]) refused(external((e) => (e['model'] = model)), 'buildDefinition.externalParameters.model must be a non-empty string');
  for (const capture of ['', 'CLI', '1cli', 'cli!', 7]) {
    refused(external((e) => (e['capture'] = capture)), 'buildDefinition.externalParameters.capture must be a lowercase name such as "cli"');
  }
  refused((p) => (p['buildDefinition'].resolvedDependencies = {}), 'buildDefinition.resolvedDependencies must be an array');
  refused((p) => p['buildDefinition'].resolvedDependencies.push(dependency(p, 'input')), 'buildDefinition.resolvedDependencies names component "input" twice');
  for (const name of ['model', 'system', 'tools', 'configuration', 'served']) {
    refused(
      (p) => (p['buildDefinition'].resolvedDependencies = p['buildDefinition'].resolvedDependencies.filter((d: Json) => d['name'] !== name)),
      `buildDefinition.resolvedDependencies has no descriptor for component "${name}"`,
    );
  }
  refused((p) => (p['buildDefinition'].resolvedDependencies[2] = 'x'), 'buildDefinition.resolvedDependencies[2] must be an object');
  refused((p) => (dependency(p, 'model')['digest'] = { sha256: 'AB'.repeat(32) }), 'buildDefinition.resolvedDependencies[0].digest must have a sha256 of 64 lowercase hex digits');
  refused((p) => (dependency(p, 'served')['uri'] = 5), 'buildDefinition.resolvedDependencies[7].uri must be a string');
  refused((p) => (dependency(p, 'model')['mediaType'] = null), 'buildDefinition.resolvedDependencies[0].mediaType must be a string');
  const annotations = (change: (a: Json) => void) => (p: Json) => change(dependency(p, 'input')['annotations']);
  refused((p) => delete dependency(p, 'tools')['annotations'], 'buildDefinition.resolvedDependencies[4].annotations must be an object');
  for (const count of [-1, 1.5, '1', null]) refused(annotations((a) => (a['count'] = count)), 'buildDefinition.resolvedDependencies[2].annotations.count must be a non-negative integer');
  refused(annotations((a) => (a['root'] = 'x')), 'buildDefinition.resolvedDependencies[2].annotations.root must have a sha256 of 64 lowercase hex digits');
  refused(annotations((a) => (a['elements'] = [])), 'buildDefinition.resolvedDependencies[2].annotations.elements must be an array of "count" digests');
  refused(annotations((a) => (a['elements'] = {})), 'buildDefinition.resolvedDependencies[2].annotations.elements must be an array of "count" digests');
  refused(annotations((a) => (a['elements'] = [{ sha256: 'x' }])), 'buildDefinition.resolvedDependencies[2].annotations.elements[0] must have a sha256 of 64 lowercase hex digits');
  const details = (change: (d: Json) => void) => (p: Json) => change(p['runDetails']);
  refused(details((d) => (d['builder'] = 'x')), 'runDetails.builder must be an object');
  refused(details((d) => (d['builder'].id = 'https://runprint.dev/capture/proxy')), 'runDetails.builder.id must be "https://runprint.dev/capture/" followed by the capture point');
  refused(details((d) => (d['builder'].version = null)), 'runDetails.builder.version must be an object');
  refused(details((d) => (d['builder'].version = { runprint: 1 })), 'runDetails.builder.version.runprint must be a string');
  refused(details((d) => delete d['metadata']), 'runDetails.metadata must be an object');
  refused(details((d) => (d['metadata'].startedOn = '2026-01-01')), 'runDetails.metadata.startedOn must be an RFC 3339 date-time');
  refused(details((d) => (d['metadata'].finishedOn = 5)), 'runDetails.metadata.finishedOn must be an RFC 3339 date-time');
  refused(details((d) => (d['metadata'].finishedOn = '2025-12-31T23:59:59Z')), 'runDetails.metadata.finishedOn is before startedOn');
  refused(details((d) => (d['parentRunIds'] = null)), 'runDetails.parentRunIds must be an array');
  refused(details((d) => (d['parentRunIds'] = [d['builder'].id])), 'runDetails.parentRunIds[0] is not a v1 identity string');
  refused(details((d) => (d['logProof'] = [])), 'runDetails.logProof must be null or an object');
  refused(details((d) => (d['logProof'] = 'x')), 'runDetails.logProof must be null or an object');
  refused(details((d) => (d['served'] = [])), 'runDetails.served must be an object');
  refused(details((d) => (d['served'].model = 'x')), 'runDetails.served["model"] must be an object');
  const factMessage = 'must be exactly {"source": "derived" | "reported", "value": ...}';
  for (const fact of [{ source: 'reported' }, { source: 'guessed', value: 1 }, { source: 'derived', value: 1, extra: 2 }, { value: 1, other: 2 }]) {
    refused(details((d) => (d['served'].model = fact)), `runDetails.served["model"] ${factMessage}`);
  }
  refused(details((d) => (d['served']['n'.repeat(70)] = 1)), `runDetails.served["${'n'.repeat(64)}"] must be an object`);
  const out = (change: (o: Json) => void) => details((d) => change(d['output']));
  refused(details((d) => (d['output'] = null)), 'runDetails.output must be an object');
  refused(out((o) => (o['digest'] = { sha256: 'x' })), 'runDetails.output.digest must be null or have a sha256 of 64 lowercase hex digits');
  refused(out((o) => delete o['digest']), 'runDetails.output.digest must be null or have a sha256 of 64 lowercase hex digits');
  refused(out((o) => (o['rawDigest'] = null)), 'runDetails.output.rawDigest must have a sha256 of 64 lowercase hex digits');
  refused(out((o) => (o['finishReason'] = 1)), 'runDetails.output.finishReason must be a string or null');
  refused(out((o) => delete o['usage']), 'runDetails.output.usage must be present (null when unknown)');
  refused(out((o) => (o['stream'] = null)), 'runDetails.output.stream must be a boolean');
  for (const format of ['', 'Gemini', '-x', 'a b', 5]) refused(out((o) => (o['format'] = format)), 'runDetails.output.format must be a lowercase format name or null');
});

test('readPredicate: what it accepts, and the fresh object it returns', () => {
  const read = readPredicate(
    predicateOf((p) => {
      p['buildDefinition'].resolvedDependencies.push({ name: 'extension', digest: {} }, { name: 3 });
      dependency(p, 'model')['uri'] = 'https://example.com/m';
      dependency(p, 'model')['mediaType'] = 'application/json';
      dependency(p, 'model')['extra'] = 1;
      p['runDetails'].output.digest = null;
      p['runDetails'].output.finishReason = null;
      p['runDetails'].output.usage = null;
      p['runDetails'].output.format = 'x-1';
      p['runDetails'].metadata = { startedOn: '2026-01-01T00:00:00Z', finishedOn: '2026-01-01T00:00:00Z', other: 1 };
      p['runDetails'].parentRunIds = [p['buildDefinition'].externalParameters.runId];
      p['runDetails'].logProof = {};
      p['runDetails'].served = { ['__proto__']: { source: 'derived', value: 1 } };
    }),
  );
  assert.deepEqual(read.buildDefinition.resolvedDependencies.map((d) => d.name), ['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration', 'served']);
  assert.deepEqual(read.buildDefinition.resolvedDependencies[0], {
    name: 'model',
    digest: { sha256: '92aea176f8a1225679c28ecb98dd80b9cb310d9fe9322109cb23a7a4a3645094' },
    uri: 'https://example.com/m',
    mediaType: 'application/json',
  });
  assert.equal('annotations' in read.buildDefinition.resolvedDependencies[5]!, false);
  assert.deepEqual(read.buildDefinition.resolvedDependencies[1]!.annotations, {
    count: 1,
    root: { sha256: '5dcb22ef536f1b44f1603056be478b1dd850d6baf64bc8daa887f6a0146da633' },
    elements: [{ sha256: '5dcb22ef536f1b44f1603056be478b1dd850d6baf64bc8daa887f6a0146da633' }],
  });
  assert.deepEqual(read.runDetails.output, { digest: null, rawDigest: { sha256: 'a1702b75d81b1907d31f3ac6856dac915d3756d53f1b19d816fa374778036c62' }, finishReason: null, usage: null, stream: false, format: 'x-1' });
  assert.deepEqual(read.runDetails.metadata, { startedOn: '2026-01-01T00:00:00Z', finishedOn: '2026-01-01T00:00:00Z' });
  assert.equal(read.runDetails.parentRunIds.length, 1);
  assert.deepEqual(read.runDetails.logProof, {});
  assert.equal(read.runDetails.builder.id, 'https://runprint.dev/capture/cli');
  assert.deepEqual(read.runDetails.builder.version, { runprint: '0.1.0' });
  // A fact named __proto__ is an own member of the copy, not its prototype.
  assert.deepEqual(Object.keys(read.runDetails.served), ['__proto__']);
  assert.equal(Object.getPrototypeOf(read.runDetails.served), Object.prototype);
  // Only one of the two times: no order check.
  assert.deepEqual(readPredicate(predicateOf((p) => delete p['runDetails'].metadata.startedOn)).runDetails.metadata, { finishedOn: '2026-01-01T00:00:01.250Z' });
  assert.deepEqual(readPredicate(predicateOf((p) => (p['runDetails'].metadata = {}))).runDetails.metadata, {});
  const stream = readPredicate(predicateOf((p) => (p['runDetails'].output.stream = true)));
  assert.equal(stream.runDetails.output.stream, true);
  assert.equal(readPredicate(predicateOf((p) => (p['runDetails'].output.format = null))).runDetails.output.format, null);
});

test('statement and subjects: every refusal with its code and message', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.throws(() => parseStatement(bytes('{"a":1,"a":2}')), { code: 'ERR_STATEMENT_INVALID', message: 'statement is not strict JSON (ERR_JSON_DUPLICATE_KEY)' });
  assert.throws(() => parseStatement(bytes('[1]')), { code: 'ERR_STATEMENT_INVALID', message: 'statement must be a JSON object' });
  assert.throws(() => parseStatement(bytes('null')), { code: 'ERR_STATEMENT_INVALID', message: 'statement must be a JSON object' });
  assert.equal(JSON.stringify(parseStatement(bytes('{"x":[]}'))), '{"x":[]}');
  assert.throws(() => checkStatementType({ _type: 'https://in-toto.io/Statement/v0.1' }), { code: 'ERR_STATEMENT_TYPE', message: 'statement "_type" must be "https://in-toto.io/Statement/v1"' });
  assert.doesNotThrow(() => checkStatementType({ _type: 'https://in-toto.io/Statement/v1' }));
  assert.doesNotThrow(() => checkPredicateType({ predicateType: 'https://runprint.dev/receipt/v1' }));
  for (const type of ['https://runprint.dev/receipt/v2', 'https://runprint.dev/receipt/v10']) {
    assert.throws(() => checkPredicateType({ predicateType: type }), { code: 'ERR_PREDICATE_VERSION', message: 'predicate version is not supported; this implementation reads "https://runprint.dev/receipt/v1"' });
  }
  for (const type of ['https://runprint.dev/receipt/v', 'https://runprint.dev/receipt/v1/x', 'xhttps://runprint.dev/receipt/v2', 'https://runprint.dev/receipt/va', 'https://runprintXdev/receipt/v2', 5, undefined]) {
    assert.throws(() => checkPredicateType({ predicateType: type }), { code: 'ERR_PREDICATE_TYPE', message: 'statement "predicateType" must be "https://runprint.dev/receipt/v1"' }, String(type));
  }
  const subjects = () => fixtureStatement()['subject'] as Json[];
  const refusedSubjects = (list: unknown, message: string) => assert.throws(() => readSubjects({ subject: list }), { code: 'ERR_SUBJECT_INVALID', message }, message);
  for (const list of [[], {}, undefined]) refusedSubjects(list, 'statement "subject" must be a non-empty array');
  refusedSubjects([...subjects(), 'x'], 'subject 3 must be an object with a "digest" of string values');
  refusedSubjects([...subjects(), { name: 'z' }], 'subject 3 must be an object with a "digest" of string values');
  refusedSubjects([...subjects(), { name: 'z', digest: {} }], 'subject 3 must be an object with a "digest" of string values');
  refusedSubjects([...subjects(), { name: 'z', digest: { sha256: 'a', md5: 1 } }], 'subject 3 must be an object with a "digest" of string values');
  refusedSubjects([...subjects(), { name: 1, digest: { x: 'y' } }], 'subject 3 "name" must be a string');
  refusedSubjects([...subjects(), subjects()[1]], 'subject name "output" appears twice');
  refusedSubjects(subjects().slice(1), 'subject "run" with a sha256 digest is required');
  refusedSubjects([{ ...subjects()[0], digest: { sha512: 'ab' } }, ...subjects().slice(1)], 'subject "run" with a sha256 digest is required');
  const runMessage = 'subject "run" must carry annotations.runId, the run identity of its digest';
  const run = subjects()[0]!;
  for (const annotations of [undefined, [], { runId: 5 }, { runId: 'rp-run-v1-sha256-x' }, { runId: run['annotations'].runId.replace('rp-run', 'rp-req') }, { runId: `rp-run-v1-sha256-${'0'.repeat(64)}` }]) {
    refusedSubjects([{ ...run, annotations }, ...subjects().slice(1)], runMessage);
  }
  refusedSubjects(subjects().slice(0, 2), 'subject "output-bytes" with a sha256 digest is required');
  refusedSubjects([...subjects().slice(0, 2), { name: 'output-bytes', digest: { sha1: 'ab' } }], 'subject "output-bytes" with a sha256 digest is required');
  refusedSubjects([subjects()[0], { name: 'output', digest: { md5: 'x' } }, subjects()[2]], 'subject "output" must have a sha256 digest');
  // Unnamed subjects and other names are ignored; "output" is optional.
  const read = readSubjects({ subject: [{ digest: { md5: 'x' } }, ...subjects(), { name: 'other', digest: { md5: 'y' } }] });
  assert.deepEqual(read, {
    run: { digest: { sha256: run['digest'].sha256 }, runId: run['annotations'].runId },
    output: { sha256: subjects()[1]!['digest'].sha256 },
    outputBytes: { sha256: subjects()[2]!['digest'].sha256 },
  });
  assert.equal('output' in readSubjects({ subject: [subjects()[0], subjects()[2]] }), false);
});

test('subject binding: each subject against its predicate member', () => {
  const statement = fixtureStatement();
  const predicate = readPredicate(statement['predicate']);
  const subjects = readSubjects(statement);
  assert.doesNotThrow(() => checkSubjectBinding(subjects, predicate));
  const other = { sha256: '0'.repeat(64) };
  assert.throws(() => checkSubjectBinding({ ...subjects, run: { ...subjects.run, runId: `rp-run-v1-sha256-${'0'.repeat(64)}` } }, predicate), {
    code: 'ERR_SUBJECT_INVALID',
    message: 'subject "run" does not match the predicate\'s runId',
  });
  assert.throws(() => checkSubjectBinding({ ...subjects, output: other }, predicate), { code: 'ERR_SUBJECT_INVALID', message: 'subject "output" does not match the predicate\'s output digest' });
  const { output: _, ...withoutOutput } = subjects;
  assert.throws(() => checkSubjectBinding(withoutOutput, predicate), { code: 'ERR_SUBJECT_INVALID', message: 'subject "output" does not match the predicate\'s output digest' });
  const nullDigest = { ...predicate, runDetails: { ...predicate.runDetails, output: { ...predicate.runDetails.output, digest: null } } };
  assert.doesNotThrow(() => checkSubjectBinding(withoutOutput, nullDigest));
  assert.throws(() => checkSubjectBinding(subjects, nullDigest), { code: 'ERR_SUBJECT_INVALID', message: 'subject "output" does not match the predicate\'s output digest' });
  assert.throws(() => checkSubjectBinding({ ...subjects, outputBytes: other }, predicate), {
    code: 'ERR_SUBJECT_INVALID',
    message: 'subject "output-bytes" does not match the predicate\'s raw output digest',
  });
});

/** A predicate re-derived consistently after `change`, except where a test breaks one link on purpose. */
function consistentPredicate(change: (p: Json) => void): ReturnType<typeof readPredicate> {
  const p = predicateOf(change);
  const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
  const digests: Uint8Array[] = [];
  for (const name of ['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration']) {
    const d = dependency(p, name);
    if (d['annotations'] !== undefined) {
      const root = listRoot(d['annotations'].elements.map((e: Json) => hex(e['sha256'])));
      d['annotations'].root.sha256 = toHex(root);
      d['annotations'].count = d['annotations'].elements.length;
      d['digest'].sha256 = toHex(listComponentDigest(name as 'input', d['annotations'].count, root));
    }
    digests.push(hex(d['digest'].sha256));
  }
  const request = requestDigest(digests);
  const served = valueComponentDigest('served', canonicalize(p['runDetails'].served));
  dependency(p, 'served')['digest'].sha256 = toHex(served);
  p['buildDefinition'].externalParameters.requestId = `rp-req-v1-sha256-${toHex(request)}`;
  p['buildDefinition'].externalParameters.runId = `rp-run-v1-sha256-${toHex(runDigest(request, served))}`;
  return readPredicate(p);
}

test('checkPredicateIdentity: each derivation is checked, with its own message', () => {
  const fresh = () => readPredicate(predicateOf());
  assert.doesNotThrow(() => checkPredicateIdentity(fresh()));
  // A consistent predicate with another element passes; the re-derivation is sound.
  const other = consistentPredicate((p) => dependency(p, 'input')['annotations'].elements.push({ sha256: 'cd'.repeat(32) }));
  assert.doesNotThrow(() => checkPredicateIdentity(other));
  const mismatch = (predicate: ReturnType<typeof readPredicate>, message: string) =>
    assert.throws(() => checkPredicateIdentity(predicate), { code: 'ERR_IDENTITY_MISMATCH', message }, message);
  // Only the root changed: the element digests no longer give it.
  const root = fresh();
  root.buildDefinition.resolvedDependencies[2]!.annotations!.root.sha256 = 'ab'.repeat(32);
  mismatch(root, 'component "input": element digests do not give its root');
  // Only one element digest changed.
  const element = fresh();
  element.buildDefinition.resolvedDependencies[1]!.annotations!.elements[0]!.sha256 = 'ab'.repeat(32);
  mismatch(element, 'component "system": element digests do not give its root');
  // Only the count changed (elements still one, but the reader copied count: change it after).
  const count = fresh();
  count.buildDefinition.resolvedDependencies[3]!.annotations!.count = 2;
  mismatch(count, 'component "context": count and root do not give its digest');
  // A list digest changed along with requestId and runId (so only the list check can see it).
  const listDigest = consistentPredicate(() => {});
  listDigest.buildDefinition.resolvedDependencies[4]!.digest.sha256 = 'ab'.repeat(32);
  mismatch(listDigest, 'component "tools": count and root do not give its digest');
  const requestId = fresh();
  requestId.buildDefinition.externalParameters.requestId = `rp-req-v1-sha256-${'0'.repeat(64)}`;
  mismatch(requestId, 'component digests do not give the requestId');
  // Only a served fact changed: the served digest no longer matches.
  const served = fresh();
  served.runDetails.served = { ...served.runDetails.served, model: { source: 'reported', value: 'other' } };
  mismatch(served, 'served facts do not give the "served" digest');
  const runId = fresh();
  runId.buildDefinition.externalParameters.runId = `rp-run-v1-sha256-${'0'.repeat(64)}`;
  mismatch(runId, 'request and served digests do not give the runId');
  // The served digest and facts both changed consistently, but not the runId.
  const servedBoth = fresh();
  servedBoth.runDetails.served = {};
  servedBoth.buildDefinition.resolvedDependencies[7]!.digest.sha256 = toHex(valueComponentDigest('served', '{}'));
  mismatch(servedBoth, 'request and served digests do not give the runId');
});

test('checkComposition and predicateMatches: each difference is named', () => {
  const identity = computeIdentity({ ...(fixtureComposition() as Json) });
  const predicate = readPredicate(predicateOf());
  assert.equal(predicateMatches(predicate, identity), true);
  assert.doesNotThrow(() => checkComposition(predicate, identity));
  const clone = () => readPredicate(predicateOf());
  const mismatch = (p: ReturnType<typeof readPredicate>, id: typeof identity, message: string) => {
    assert.equal(predicateMatches(p, id), false, message);
    assert.throws(() => checkComposition(p, id), { code: 'ERR_IDENTITY_MISMATCH', message }, message);
  };
  for (const [index, name] of ['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration'].entries()) {
    const p = clone();
    p.buildDefinition.resolvedDependencies[index]!.digest.sha256 = '0'.repeat(64);
    mismatch(p, identity, `component "${name}" of the composition does not match the receipt`);
  }
  const request = clone();
  request.buildDefinition.externalParameters.requestId = `rp-req-v1-sha256-${'0'.repeat(64)}`;
  mismatch(request, identity, 'requestId of the composition does not match the receipt');
  const run = clone();
  run.buildDefinition.externalParameters.runId = `rp-run-v1-sha256-${'0'.repeat(64)}`;
  mismatch(run, identity, 'served facts of the composition do not match the receipt');
  for (const change of [
    (p: ReturnType<typeof readPredicate>) => (p.buildDefinition.resolvedDependencies[2]!.annotations!.elements[0]!.sha256 = '0'.repeat(64)),
    (p: ReturnType<typeof readPredicate>) => (p.buildDefinition.resolvedDependencies[2]!.annotations!.root.sha256 = '0'.repeat(64)),
    (p: ReturnType<typeof readPredicate>) => (p.buildDefinition.resolvedDependencies[1]!.annotations!.count = 5),
    (p: ReturnType<typeof readPredicate>) => delete p.buildDefinition.resolvedDependencies[3]!.annotations,
    (p: ReturnType<typeof readPredicate>) => (p.buildDefinition.resolvedDependencies[7]!.digest.sha256 = '0'.repeat(64)),
    (p: ReturnType<typeof readPredicate>) => (p.runDetails.served = { ...p.runDetails.served, extra: { source: 'derived', value: 1 } }),
  ]) {
    const p = clone();
    change(p);
    mismatch(p, identity, 'element digests of the composition do not match the receipt');
  }
  // An identity without served facts never matches (the receipt always has them).
  assert.equal(predicateMatches(predicate, { ...identity, served: null, runId: predicate.buildDefinition.externalParameters.runId }), false);
});

test('checkOutput: the assembled digest decides when there is one, else the bytes; formats', () => {
  const predicate = readPredicate(predicateOf());
  const body = new TextEncoder().encode(RESPONSE_TEXT);
  assert.doesNotThrow(() => checkOutput(predicate, body));
  // The same output re-serialized still matches its assembled digest.
  const reserialized = new TextEncoder().encode(JSON.stringify(JSON.parse(RESPONSE_TEXT), null, 2));
  assert.doesNotThrow(() => checkOutput(predicate, reserialized));
  const changed = new TextEncoder().encode(RESPONSE_TEXT.replace('"stop"', '"length"'));
  assert.throws(() => checkOutput(predicate, changed), { code: 'ERR_OUTPUT_MISMATCH', message: 'output digest of the given bytes does not match the receipt' });
  // Without an assembled digest, the exact bytes decide.
  const raw = readPredicate(predicateOf((p) => (p['runDetails'].output.digest = null)));
  assert.doesNotThrow(() => checkOutput(raw, body));
  assert.throws(() => checkOutput(raw, reserialized), { code: 'ERR_OUTPUT_MISMATCH', message: 'digest of the given output bytes does not match the receipt' });
  // A format this verifier does not read is refused unless the caller names one.
  const unknown = readPredicate(predicateOf((p) => (p['runDetails'].output.format = 'gemini')));
  assert.throws(() => checkOutput(unknown, body), {
    code: 'ERR_OUTPUT_UNSUPPORTED',
    message: 'the receipt\'s output format is not one this verifier reads; name one to read the bytes as',
  });
  assert.doesNotThrow(() => checkOutput(unknown, body, 'openai-chat'));
  // No recorded format: the bytes are read as plain JSON, whose assembled digest is not the chat
  // completion's; naming the format reads them as recorded.
  const none = readPredicate(predicateOf((p) => (p['runDetails'].output.format = null)));
  assert.throws(() => checkOutput(none, body), { code: 'ERR_OUTPUT_MISMATCH', message: 'output digest of the given bytes does not match the receipt' });
  assert.doesNotThrow(() => checkOutput(none, body, 'openai-chat'));
});

test('readEnvelope: every refusal with its message, the signature limit, keyid hints', async () => {
  const { readEnvelope, decodePayload, decodeSignature, MAX_SIGNATURES, MAX_ENVELOPE_BYTES, formatEnvelope, envelopeOf } = await import('../src/receipt/envelope.ts');
  const invalid = (input: unknown, message: string) => assert.throws(() => readEnvelope(input), { code: 'ERR_ENVELOPE_INVALID', message }, message);
  const sig = { keyid: 'k', sig: 'AAAA' };
  const good = { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [sig] };
  invalid('{"payload":1,"payload":2}', 'envelope is not strict JSON (ERR_JSON_DUPLICATE_KEY)');
  invalid(new TextEncoder().encode('[1'), 'envelope is not strict JSON (ERR_JSON_TRUNCATED)');
  invalid('null', 'envelope must be a JSON object');
  invalid([good], 'envelope must be a JSON object');
  invalid({ ...good, payload: 1 }, 'envelope "payload" must be a string');
  invalid({ ...good, payloadType: null }, 'envelope "payloadType" must be a string');
  invalid({ ...good, signatures: [] }, 'envelope "signatures" must be a non-empty array');
  invalid({ ...good, signatures: sig }, 'envelope "signatures" must be a non-empty array');
  assert.equal(MAX_SIGNATURES, 16);
  assert.equal(readEnvelope({ ...good, signatures: Array.from({ length: 16 }, () => sig) }).signatures.length, 16);
  invalid({ ...good, signatures: Array.from({ length: 17 }, () => sig) }, 'envelope has more than 16 signatures');
  invalid({ ...good, signatures: [sig, 'x'] }, 'each envelope signature must be an object');
  invalid({ ...good, signatures: [sig, []] }, 'each envelope signature must be an object');
  invalid({ ...good, signatures: [{ keyid: 'k' }] }, 'envelope signature "sig" must be a string');
  invalid({ ...good, signatures: [{ keyid: 5, sig: 'AAAA' }] }, 'envelope signature "keyid" must be a string');
  invalid({ ...good, signatures: [{ keyid: null, sig: 'AAAA' }] }, 'envelope signature "keyid" must be a string');
  // Only the DSSE members are kept; an empty keyid is no hint.
  const read = readEnvelope(JSON.stringify({ ...good, extra: 1, signatures: [{ keyid: '', sig: 'AA==', x: 1 }, { sig: 'AAAA' }, sig] }));
  assert.deepEqual(read, { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'AA==' }, { sig: 'AAAA' }, { keyid: 'k', sig: 'AAAA' }] });
  assert.equal(Object.keys(read.signatures[0]!).join(), 'sig');
  // The size limit is passed to the parser: one byte over is refused before parsing.
  assert.equal(MAX_ENVELOPE_BYTES, 16 * 1024 * 1024);
  invalid(new Uint8Array(MAX_ENVELOPE_BYTES + 1).fill(0x20), 'envelope is not strict JSON (ERR_JSON_TOO_LARGE)');
  // Decoding, with the index of the signature that is not base64.
  assert.deepEqual(decodePayload(read), new TextEncoder().encode('{}'));
  assert.throws(() => decodePayload({ ...read, payload: 'e30' + '!' }), { code: 'ERR_ENVELOPE_BASE64', message: 'envelope "payload" is not base64' });
  assert.deepEqual(decodeSignature({ sig: 'AAAA' }, 0), new Uint8Array(3));
  assert.throws(() => decodeSignature({ sig: 'A' }, 3), { code: 'ERR_ENVELOPE_BASE64', message: 'envelope signature 3 "sig" is not base64' });
  // The written form.
  assert.equal(
    formatEnvelope({ payload: 'e30=', payloadType: 't', signatures: [{ sig: 'AA==' }, { keyid: 'k', sig: 'AAAA' }] }),
    '{\n  "payload": "e30=",\n  "payloadType": "t",\n  "signatures": [\n    {\n      "sig": "AA=="\n    },\n    {\n      "keyid": "k",\n      "sig": "AAAA"\n    }\n  ]\n}\n',
  );
  assert.deepEqual(envelopeOf(new TextEncoder().encode('{}')), { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [] });
});

test('pae: DSSE v1 pre-authentication encoding, byte lengths not character counts', async () => {
  const { pae } = await import('../src/receipt/pae.ts');
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(text(pae('http://example.com/HelloWorld', new TextEncoder().encode('hello world'))), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  assert.equal(text(pae('', new Uint8Array(0))), 'DSSEv1 0  0 ');
  assert.equal(text(pae('é', new TextEncoder().encode('ü'))), 'DSSEv1 2 é 2 ü');
  assert.equal(pae('t', new Uint8Array(300)).length, 'DSSEv1 1 t 300 '.length + 300);
});

test('verifyReceipt: argument checks, bundle key hints, error paths, signature selection', async () => {
  const { parsePublicKey, parsePrivateKey, signReceipt, verifyReceipt, formatEnvelope } = await import('../src/receipt/index.ts');
  const { formatBundle } = await import('../src/receipt/sigstore-bundle.ts');
  const { APPLICATION_KEY, GATEWAY_KEY, fixtureFacts, signedVariant, envelopeOf, canonical } = await import('./fixtures/receipt-run.ts');
  const app = await parsePublicKey(APPLICATION_KEY.publicKeyPem);
  const gateway = await parsePublicKey(GATEWAY_KEY.publicKeyPem);
  const envelope = await signReceipt(fixtureFacts(), await parsePrivateKey(APPLICATION_KEY.privateKeyPem));
  const text = formatEnvelope(envelope);
  // Programmer errors, with their messages.
  for (const keys of [[], undefined, 'k', {}]) {
    await assert.rejects(verifyReceipt(text, { keys } as never), { name: 'TypeError', message: 'verifyReceipt options.keys must be an array of at least one public key' });
  }
  await assert.rejects(verifyReceipt(text, { keys: [app, 'x'] } as never), { name: 'TypeError', message: /^verifyReceipt options\.keys\[1\] / });
  await assert.rejects(verifyReceipt(text, { keys: [app], output: 'text' } as never), { name: 'TypeError', message: /^verifyReceipt options\.output / });
  await assert.rejects(verifyReceipt(text, { keys: [app], logProof: 'x' } as never), { name: 'TypeError', message: /^verifyReceipt options\.logProof / });
  await assert.rejects(verifyReceipt(text, null as never), { name: 'TypeError', message: /^verifyReceipt options / });
  // A Sigstore bundle: its hint picks the key; a key it does not name fails before any signature.
  const bundle = formatBundle(JSON.parse(text), { publicKeyHint: APPLICATION_KEY.keyId });
  const ok = await verifyReceipt(JSON.stringify(bundle), { keys: [app] });
  assert.equal(ok.ok, true);
  assert.equal(ok.checks.find((c) => c.name === 'signature')!.keyId, APPLICATION_KEY.keyId);
  const other = await verifyReceipt(bundle, { keys: [gateway] });
  assert.deepEqual(other.checks.at(-1), {
    name: 'signature', ok: false, keyId: GATEWAY_KEY.keyId, code: 'ERR_SIGNATURE_UNKNOWN_KEY', message: 'the bundle\'s key hint does not name this key',
  });
  // A bundle with the gateway's hint over the application's signature: the application key is not named.
  const misnamed = { ...bundle, verificationMaterial: { publicKey: { hint: GATEWAY_KEY.keyId } }, dsseEnvelope: { ...bundle.dsseEnvelope, signatures: [{ ...bundle.dsseEnvelope.signatures[0]!, keyid: GATEWAY_KEY.keyId }] } };
  const misnamedReport = await verifyReceipt(misnamed, { keys: [app] });
  assert.equal(misnamedReport.ok, false);
  assert.equal(misnamedReport.checks.at(-1)!.code, 'ERR_SIGNATURE_UNKNOWN_KEY');
  assert.equal(misnamedReport.checks.at(-1)!.message, 'the bundle\'s key hint does not name this key');
  // A malformed bundle fails at "envelope" with the path of the offending member.
  const badBundle = await verifyReceipt({ ...bundle, mediaType: 'application/json' }, { keys: [app] });
  assert.deepEqual(badBundle.checks, [{ name: 'envelope', ok: false, code: 'ERR_BUNDLE_INVALID', message: badBundle.checks[0]!.message, path: "$['mediaType']" }]);
  assert.equal(badBundle.ok, false);
  assert.equal('path' in (await verifyReceipt('[]', { keys: [app] })).checks[0]!, false);
  // Signatures: one that is not 64 bytes is skipped; a keyid naming no given key is ERR_SIGNATURE_UNKNOWN_KEY,
  // an unnamed or matching one ERR_SIGNATURE_INVALID.
  const parsed = JSON.parse(text);
  const good = parsed.signatures[0];
  const sig = Buffer.from(good.sig, 'base64');
  const short = sig.subarray(0, 63).toString('base64');
  const withSignatures = (signatures: unknown[]) => ({ ...parsed, signatures });
  const first = async (value: unknown, keys = [app]) => (await verifyReceipt(value, { keys })).checks.find((c) => c.name === 'signature');
  assert.equal((await first(withSignatures([{ keyid: APPLICATION_KEY.keyId, sig: short }, good])))!.ok, true);
  assert.deepEqual(await first(withSignatures([{ keyid: APPLICATION_KEY.keyId, sig: short }])), {
    name: 'signature', ok: false, keyId: APPLICATION_KEY.keyId, code: 'ERR_SIGNATURE_INVALID', message: 'signature verification failed',
  });
  assert.equal((await first(withSignatures([{ sig: Buffer.concat([sig, Buffer.from([0])]).toString('base64') }])))!.code, 'ERR_SIGNATURE_INVALID');
  const flipped = Buffer.from(sig);
  flipped[0]! ^= 1;
  assert.equal((await first(withSignatures([{ keyid: GATEWAY_KEY.keyId, sig: flipped.toString('base64') }])))!.code, 'ERR_SIGNATURE_UNKNOWN_KEY');
  assert.equal((await first(withSignatures([{ sig: flipped.toString('base64') }])))!.code, 'ERR_SIGNATURE_INVALID');
  assert.equal((await first(withSignatures([{ keyid: GATEWAY_KEY.keyId, sig: flipped.toString('base64') }, { keyid: APPLICATION_KEY.keyId, sig: flipped.toString('base64') }])))!.code, 'ERR_SIGNATURE_INVALID');
  // The keyid decides nothing: a good signature under another key's keyid still verifies.
  assert.equal((await first(withSignatures([{ keyid: GATEWAY_KEY.keyId, sig: good.sig }])))!.ok, true);
  // Two keys required: the first failing one stops verification after all signature checks.
  const both = await verifyReceipt(text, { keys: [gateway, app] });
  assert.deepEqual(both.checks.map((c) => [c.name, c.ok]), [['envelope', true], ['payload-type', true], ['base64', true], ['signature', false], ['signature', true]]);
  assert.equal(both.ok, false);
  assert.equal('runId' in both, false);
  // A statement that is not strict JSON, re-signed: fails at statement-type.
  const notJson = envelopeOf(new TextEncoder().encode('{"_type":1,"_type":2}'));
  assert.deepEqual((await verifyReceipt(notJson, { keys: [app] })).checks.at(-1), {
    name: 'statement-type', ok: false, code: 'ERR_STATEMENT_INVALID', message: 'statement is not strict JSON (ERR_JSON_DUPLICATE_KEY)',
  });
  // A run in the report only when every check passed.
  const passed = await verifyReceipt(text, { keys: [app] });
  assert.equal(passed.runId, fixtureFacts().identity.runId);
  assert.deepEqual(Object.keys(passed).sort(), ['checks', 'ok', 'runId']);
  const failedLater = await verifyReceipt(signedVariant((s) => (s['predicate'].runDetails.output.stream = 1)), { keys: [app] });
  assert.deepEqual(Object.keys(failedLater).sort(), ['checks', 'ok']);
  assert.equal(canonical({}).length, 2);
});

test('verifyReceipt with a composition: the fast path when the predicate matches, the checks when it does not', async () => {
  const { parsePublicKey, verifyReceipt } = await import('../src/receipt/index.ts');
  const { APPLICATION_KEY, fixtureComposition, signedVariant, RESPONSE_TEXT } = await import('./fixtures/receipt-run.ts');
  const app = await parsePublicKey(APPLICATION_KEY.publicKeyPem);
  const composition = fixtureComposition() as never;
  const names = (report: { checks: Array<{ name: string; ok: boolean; code?: string; message?: string }> }) => report.checks.slice(8);
  // A predicate whose element root is wrong although every component digest is right: not the fast
  // path, and the identity check names the root.
  const badRoot = signedVariant((s) => (s['predicate'].buildDefinition.resolvedDependencies[1].annotations.root.sha256 = '0'.repeat(64)));
  assert.deepEqual(names(await verifyReceipt(badRoot, { keys: [app], composition })), [
    { name: 'subject-binding', ok: true },
    { name: 'identity', ok: false, code: 'ERR_IDENTITY_MISMATCH', message: 'component "system": element digests do not give its root' },
  ]);
  // Another composition: identity holds, composition fails with the first differing component.
  const other = { ...(fixtureComposition() as Record<string, unknown>), parameters: { temperature: 1 } };
  assert.deepEqual(names(await verifyReceipt(signedVariant((s) => (s['future'] = 1)), { keys: [app], composition: other as never })), [
    { name: 'subject-binding', ok: true },
    { name: 'identity', ok: true },
    { name: 'composition', ok: false, code: 'ERR_IDENTITY_MISMATCH', message: 'component "parameters" of the composition does not match the receipt' },
  ]);
  // Output given: checked after identity; the wrong bytes fail there.
  const wrong = new TextEncoder().encode(RESPONSE_TEXT.replace('Paris', 'Lyon'));
  const outputReport = await verifyReceipt(signedVariant((s) => (s['future'] = 1)), { keys: [app], output: wrong });
  assert.deepEqual(outputReport.checks.at(-1), { name: 'output', ok: false, code: 'ERR_OUTPUT_MISMATCH', message: 'output digest of the given bytes does not match the receipt' });
  // outputFormat is passed through: bytes of another format named are the caller's error.
  await assert.rejects(
    verifyReceipt(signedVariant((s) => (s['future'] = 1)), { keys: [app], output: new TextEncoder().encode(RESPONSE_TEXT), outputFormat: 'anthropic-messages' as never }),
    { code: 'ERR_OUTPUT_INVALID', message: 'response "type" is not "message"' },
  );
});

test('more refusals: long names cut in messages, values that only look like strings, array-typed members', async () => {
  const { CHECK_LABELS } = await import('../src/receipt/verify.ts');
  const { DISCLOSURE_CHECK_LABELS } = await import('../src/receipt/disclosure-verify.ts');
  // Every check has a label for people, non-empty and its own.
  for (const labels of [CHECK_LABELS, DISCLOSURE_CHECK_LABELS] as Array<Record<string, string>>) {
    const values = Object.values(labels);
    assert.ok(values.every((label) => label.length > 0));
    assert.equal(new Set(values).size, values.length);
  }
  assert.deepEqual(Object.keys(CHECK_LABELS), [
    'envelope', 'payload-type', 'base64', 'signature', 'statement-type', 'subjects', 'predicate-type', 'predicate', 'subject-binding',
    'identity', 'composition', 'output', 'log-proof', 'log-checkpoint', 'log-witnesses', 'log-inclusion',
  ]);
  const long = 'n'.repeat(70);
  refused((p) => (p['runDetails'].served[long] = { source: 'guessed', value: 1 }), `runDetails.served["${'n'.repeat(64)}"] must be exactly {"source": "derived" | "reported", "value": ...}`);
  // An array holding one string is not a string, though a regular expression would read it as one.
  refused((p) => (p['runDetails'].output.format = ['gemini']), 'runDetails.output.format must be a lowercase format name or null');
  refused((p) => (p['buildDefinition'].externalParameters.capture = ['cli']), 'buildDefinition.externalParameters.capture must be a lowercase name such as "cli"');
  assert.throws(() => checkPredicateType({ predicateType: ['https://runprint.dev/receipt/v2'] }), { code: 'ERR_PREDICATE_TYPE' });
  const subjects = fixtureStatement()['subject'] as Json[];
  assert.throws(() => readSubjects({ subject: [...subjects, { name: long, digest: { a: 'b' } }, { name: long, digest: { a: 'b' } }] }), {
    code: 'ERR_SUBJECT_INVALID',
    message: `subject name "${'n'.repeat(64)}" appears twice`,
  });
  // The facts read are a plain object: a member can be changed and removed.
  const read = readPredicate(predicateOf());
  assert.deepEqual(Object.getOwnPropertyDescriptor(read.runDetails.served, 'model'), {
    value: { source: 'reported', value: 'gpt-4o-2024-08-06' }, writable: true, enumerable: true, configurable: true,
  });
  delete read.runDetails.served['systemFingerprint'];
  read.runDetails.served['model'] = { source: 'derived', value: 1 };
  assert.deepEqual(Object.keys(read.runDetails.served), ['model']);
  // Output bytes that are not JSON, against a receipt with an assembled digest: a mismatch, not a crash.
  const plain = readPredicate(predicateOf((p) => (p['runDetails'].output.format = null)));
  assert.throws(() => checkOutput(plain, new TextEncoder().encode('not json')), { code: 'ERR_OUTPUT_MISMATCH', message: 'output digest of the given bytes does not match the receipt' });
});

test('verifyReceipt: "from" says how to read the composition', async () => {
  const { parsePublicKey, verifyReceipt } = await import('../src/receipt/index.ts');
  const { APPLICATION_KEY, fixtureComposition, REQUEST, signedVariant } = await import('./fixtures/receipt-run.ts');
  const app = await parsePublicKey(APPLICATION_KEY.publicKeyPem);
  const envelope = signedVariant((s) => (s['future'] = 1));
  const composition = fixtureComposition() as never;
  assert.equal((await verifyReceipt(envelope, { keys: [app], composition })).ok, true);
  assert.equal((await verifyReceipt(envelope, { keys: [app], composition, from: 'composition' })).ok, true);
  assert.equal((await verifyReceipt(envelope, { keys: [app], composition: REQUEST as never })).ok, true);
  assert.equal((await verifyReceipt(envelope, { keys: [app], composition: REQUEST as never, from: 'openai-chat' })).ok, true);
  // A composition read as a provider request, or a request read as a composition, is the caller's error.
  await assert.rejects(verifyReceipt(envelope, { keys: [app], composition, from: 'openai-chat' }), (error: { code?: string }) => typeof error.code === 'string');
  await assert.rejects(verifyReceipt(envelope, { keys: [app], composition: REQUEST as never, from: 'composition' }), { code: 'ERR_COMPOSITION_INVALID' });
});

test('checkLogProof: arguments, the steps reported, and bytes that are not a tlog-proof', async () => {
  const { checkLogProof } = await import('../src/receipt/log-proof-check.ts');
  const { parsePrivateKey } = await import('../src/keys/keys.ts');
  const { noteSigner, noteVerifier } = await import('../src/log/note-keys.ts');
  const { signNote } = await import('../src/log/note.ts');
  const { formatCheckpoint } = await import('../src/log/checkpoint.ts');
  const { formatTlogProof } = await import('../src/log/tlog-proof.ts');
  const { parseNote } = await import('../src/log/note.ts');
  const { hashLeaf } = await import('../src/merkle/rfc6962.ts');
  const { LOG_KEY } = await import('./fixtures/log-keys.ts');
  const key = await parsePrivateKey(LOG_KEY.privateKeyPem);
  const entry = new TextEncoder().encode('receipt bytes');
  const checkpoint = parseNote(await signNote(formatCheckpoint({ origin: LOG_KEY.name, size: 1, rootHash: hashLeaf(entry) }), noteSigner(LOG_KEY.name, key)));
  const proof = formatTlogProof({ index: 0, proof: [], checkpoint });
  const policy = { logKey: noteVerifier(LOG_KEY.name, key.publicKey), witnesses: [], threshold: 0 };
  const ok = await checkLogProof({ proof, entry, policy });
  assert.deepEqual(ok, {
    checks: [{ name: 'log-proof', ok: true }, { name: 'log-checkpoint', ok: true }, { name: 'log-inclusion', ok: true }],
    summary: { origin: LOG_KEY.name, index: 0, treeSize: 1, cosignedBy: [] },
  });
  assert.deepEqual((await checkLogProof({ proof: new TextEncoder().encode(proof), entry, policy })).summary?.treeSize, 1);
  // A failure names its step; only the steps before it are reported as passed.
  assert.deepEqual(await checkLogProof({ proof, entry, policy: { ...policy, origin: 'other' } }), {
    checks: [{ name: 'log-proof', ok: true }, { name: 'log-checkpoint', ok: false, code: 'ERR_LOG_CHECKPOINT_INVALID', message: 'checkpoint origin is not the log\'s origin' }],
  });
  assert.deepEqual(await checkLogProof({ proof, entry: new Uint8Array(1), policy }), {
    checks: [
      { name: 'log-proof', ok: true },
      { name: 'log-checkpoint', ok: true },
      { name: 'log-inclusion', ok: false, code: 'ERR_LOG_PROOF_INVALID', message: 'inclusion proof does not lead to the checkpoint root hash' },
    ],
  });
  // Bytes that are not UTF-8, and a byte order mark, which is not removed.
  assert.deepEqual(await checkLogProof({ proof: new Uint8Array([0xff, 0x0a]), entry, policy }), {
    checks: [{ name: 'log-proof', ok: false, code: 'ERR_LOG_TLOG_PROOF_INVALID', message: 'tlog-proof is not valid UTF-8' }],
  });
  const bom = await checkLogProof({ proof: new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(proof)]), entry, policy });
  assert.equal(bom.checks.length, 1);
  assert.equal(bom.checks[0]!.code, 'ERR_LOG_TLOG_PROOF_INVALID');
  // Arguments.
  await assert.rejects(checkLogProof(null as never), { name: 'TypeError', message: /^log proof options / });
  await assert.rejects(checkLogProof({ proof: 5, entry, policy } as never), { name: 'TypeError', message: 'log proof "proof" must be the tlog-proof text or its bytes' });
  await assert.rejects(checkLogProof({ proof, entry: 'x', policy } as never), { name: 'TypeError', message: /^log proof "entry" \(the receipt file's exact bytes\) / });
  await assert.rejects(checkLogProof({ proof, entry, policy: null } as never), { name: 'TypeError', message: /^log proof "policy" / });
  // Errors that are not a log step's pass through.
  await assert.rejects(checkLogProof({ proof, entry, policy: { ...policy, threshold: 3 } }), { name: 'RangeError' });
});

test('buildStatement: the "output" subject only when the output was assembled', async () => {
  const { buildStatement } = await import('../src/receipt/statement.ts');
  const { fixtureFacts } = await import('./fixtures/receipt-run.ts');
  const facts = fixtureFacts();
  assert.deepEqual(buildStatement(facts).subject.map((s) => s.name), ['run', 'output', 'output-bytes']);
  const bytesOnly = buildStatement(fixtureFacts({ output: { ...facts.output, digest: null } }));
  assert.deepEqual(bytesOnly.subject.map((s) => s.name), ['run', 'output-bytes']);
  assert.deepEqual(bytesOnly.subject[1]!.digest, { sha256: facts.output.rawDigest.sha256 });
  assert.equal(bytesOnly.subject[0]!.digest.sha256, facts.identity.runId!.slice('rp-run-v1-sha256-'.length));
});
