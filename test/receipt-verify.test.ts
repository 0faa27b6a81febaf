/** The verification checklist (SPEC 15): each bad input fails at its check with a stable code and message. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addSignature, formatEnvelope, parsePrivateKey, parsePublicKey, signReceipt, verifyReceipt } from '../src/receipt/index.ts';
import type { VerificationReport } from '../src/receipt/index.ts';
import {
  APPLICATION_KEY,
  envelopeOf,
  fixtureComposition,
  fixtureFacts,
  GATEWAY_KEY,
  RESPONSE_TEXT,
  signedVariant,
  tampered,
} from './fixtures/receipt-run.ts';

const applicationPublic = await parsePublicKey(APPLICATION_KEY.publicKeyPem);
const gatewayPublic = await parsePublicKey(GATEWAY_KEY.publicKeyPem);
const applicationKey = await parsePrivateKey(APPLICATION_KEY.privateKeyPem);
const gatewayKey = await parsePrivateKey(GATEWAY_KEY.privateKeyPem);
const receipt = await signReceipt(fixtureFacts(), applicationKey);

function firstFailure(report: VerificationReport): { name: string; code?: string; message?: string } {
  assert.equal(report.ok, false);
  const failed = report.checks.find((check) => !check.ok);
  assert.ok(failed);
  const { name, code, message } = failed;
  return { name, ...(code === undefined ? {} : { code }), ...(message === undefined ? {} : { message }) };
}

test('a good receipt passes every check, in the documented order', async () => {
  const report = await verifyReceipt(formatEnvelope(receipt), {
    keys: [applicationPublic],
    composition: fixtureComposition() as never,
    output: new TextEncoder().encode(RESPONSE_TEXT),
  });
  assert.equal(report.ok, true);
  assert.deepEqual(report.checks.map((check) => check.name), [
    'envelope', 'payload-type', 'base64', 'signature', 'statement-type', 'subjects', 'predicate-type',
    'predicate', 'subject-binding', 'identity', 'composition', 'output',
  ]);
  assert.equal(report.checks[3]!.keyId, APPLICATION_KEY.keyId);
  assert.equal(report.runId, fixtureFacts().identity.runId);
});

const cases: Array<[string, unknown, { name: string; code: string; message: string }]> = [
  ['malformed envelope', '{"payload": "', { name: 'envelope', code: 'ERR_ENVELOPE_INVALID', message: 'envelope is not strict JSON (ERR_JSON_TRUNCATED)' }],
  ['envelope that is an array', '[]', { name: 'envelope', code: 'ERR_ENVELOPE_INVALID', message: 'envelope must be a JSON object' }],
  ['missing payloadType', { payload: '', signatures: [{ sig: '' }] }, { name: 'envelope', code: 'ERR_ENVELOPE_INVALID', message: 'envelope "payloadType" must be a string' }],
  ['wrong payload type', envelopeOf(new Uint8Array(1), [APPLICATION_KEY], 'application/json'), { name: 'payload-type', code: 'ERR_ENVELOPE_PAYLOAD_TYPE', message: 'envelope "payloadType" must be "application/vnd.in-toto+json"' }],
  ['bad base64 payload', tampered((e) => { e.payload = `*${e.payload.slice(1)}`; }), { name: 'base64', code: 'ERR_ENVELOPE_BASE64', message: 'envelope "payload" is not base64' }],
  ['bad base64 signature', tampered((e) => { e.signatures[0]!.sig += '='; }), { name: 'base64', code: 'ERR_ENVELOPE_BASE64', message: 'envelope signature 0 "sig" is not base64' }],
  ['tampered payload', tampered((e) => { e.payload = Buffer.from(Buffer.from(e.payload, 'base64').toString().replace('"model":"gpt-4o"', '"model":"gpt-4o-mini"')).toString('base64'); }), { name: 'signature', code: 'ERR_SIGNATURE_INVALID', message: 'signature verification failed' }],
  ['tampered signature', tampered((e) => { const sig = Buffer.from(e.signatures[0]!.sig, 'base64'); sig[63] = sig[63]! ^ 0x80; e.signatures[0]!.sig = sig.toString('base64'); }), { name: 'signature', code: 'ERR_SIGNATURE_INVALID', message: 'signature verification failed' }],
  ['tampered subject', tampered((e) => { e.payload = Buffer.from(Buffer.from(e.payload, 'base64').toString().replace(/"sha256":"[0-9a-f]/, '"sha256":"0')).toString('base64'); }), { name: 'signature', code: 'ERR_SIGNATURE_INVALID', message: 'signature verification failed' }],
  ['re-signed subject that contradicts its runId', signedVariant((s) => { s['subject'][0].annotations.runId = `rp-run-v1-sha256-${'0'.repeat(64)}`; }), { name: 'subjects', code: 'ERR_SUBJECT_INVALID', message: 'subject "run" must carry annotations.runId, the run identity of its digest' }],
  ['re-signed run subject consistent with itself but not with the predicate', signedVariant((s) => { s['subject'][0].digest.sha256 = '0'.repeat(64); s['subject'][0].annotations.runId = `rp-run-v1-sha256-${'0'.repeat(64)}`; }), { name: 'subject-binding', code: 'ERR_SUBJECT_INVALID', message: 'subject "run" does not match the predicate\'s runId' }],
  ['statement type', signedVariant((s) => { s['_type'] = 'https://in-toto.io/Statement/v2'; }), { name: 'statement-type', code: 'ERR_STATEMENT_TYPE', message: 'statement "_type" must be "https://in-toto.io/Statement/v1"' }],
  ['unknown major version', signedVariant((s) => { s['predicateType'] = 'https://runprint.dev/receipt/v2'; }), { name: 'predicate-type', code: 'ERR_PREDICATE_VERSION', message: 'predicate version is not supported; this implementation reads "https://runprint.dev/receipt/v1"' }],
  ['other predicate type', signedVariant((s) => { s['predicateType'] = 'https://slsa.dev/provenance/v1'; }), { name: 'predicate-type', code: 'ERR_PREDICATE_TYPE', message: 'statement "predicateType" must be "https://runprint.dev/receipt/v1"' }],
  ['predicate shape', signedVariant((s) => { s['predicate'].runDetails.output.stream = 'no'; }), { name: 'predicate', code: 'ERR_PREDICATE_INVALID', message: 'predicate runDetails.output.stream must be a boolean' }],
  ['builder id disagreeing with capture', signedVariant((s) => { s['predicate'].buildDefinition.externalParameters.capture = 'proxy'; }), { name: 'predicate', code: 'ERR_PREDICATE_INVALID', message: 'predicate runDetails.builder.id must be "https://runprint.dev/capture/" followed by the capture point' }],
  ['component digest not giving the requestId', signedVariant((s) => { s['predicate'].buildDefinition.resolvedDependencies[0].digest.sha256 = '0'.repeat(64); }), { name: 'identity', code: 'ERR_IDENTITY_MISMATCH', message: 'component digests do not give the requestId' }],
];

for (const [desc, envelope, want] of cases) {
  test(`${desc}: fails at "${want.name}" with ${want.code}`, async () => {
    assert.deepEqual(firstFailure(await verifyReceipt(envelope, { keys: [applicationPublic] })), want);
  });
}

test('unknown key: a receipt signed by another key names it ERR_SIGNATURE_UNKNOWN_KEY', async () => {
  assert.deepEqual(firstFailure(await verifyReceipt(receipt, { keys: [gatewayPublic] })), {
    name: 'signature', code: 'ERR_SIGNATURE_UNKNOWN_KEY', message: 'the receipt has no signature by this key',
  });
});

test('a statement with extra unknown fields is accepted (in-toto parsing rules)', async () => {
  const envelope = signedVariant((s) => { s['future'] = true; s['predicate'].runDetails.future = [1]; });
  assert.equal((await verifyReceipt(envelope, { keys: [applicationPublic] })).ok, true);
});

test('countersigning adds a signature and leaves the payload and the first signature as they were', async () => {
  const both = await addSignature(formatEnvelope(receipt), gatewayKey);
  assert.equal(both.payload, receipt.payload);
  assert.deepEqual(both.signatures[0], receipt.signatures[0]);
  assert.equal(both.signatures[1]!.keyid, GATEWAY_KEY.keyId);
  const report = await verifyReceipt(both, { keys: [applicationPublic, gatewayPublic] });
  assert.equal(report.ok, true);
  assert.deepEqual(report.checks.filter((c) => c.name === 'signature').map((c) => c.keyId), [APPLICATION_KEY.keyId, GATEWAY_KEY.keyId]);
  // Countersigning twice with the same key adds nothing.
  assert.equal((await addSignature(both, gatewayKey)).signatures.length, 2);
});

test('countersigning refuses what is not a runprint receipt', async () => {
  await assert.rejects(addSignature(envelopeOf(new Uint8Array(1), [APPLICATION_KEY], 'text/plain'), gatewayKey), {
    code: 'ERR_ENVELOPE_PAYLOAD_TYPE', message: 'envelope "payloadType" must be "application/vnd.in-toto+json"',
  });
  await assert.rejects(addSignature(signedVariant((s) => { s['predicateType'] = 'https://slsa.dev/provenance/v1'; }), gatewayKey), {
    code: 'ERR_PREDICATE_TYPE',
  });
});

test('with two keys required, a missing gateway signature fails the second signature check only', async () => {
  const report = await verifyReceipt(receipt, { keys: [applicationPublic, gatewayPublic] });
  assert.deepEqual(report.checks.map((c) => [c.name, c.ok, c.code]), [
    ['envelope', true, undefined], ['payload-type', true, undefined], ['base64', true, undefined],
    ['signature', true, undefined], ['signature', false, 'ERR_SIGNATURE_UNKNOWN_KEY'],
  ]);
});

test('composition and output mismatches', async () => {
  const composition = fixtureComposition() as { input: Array<{ content: string }> };
  composition.input[0]!.content = 'Capital of Italy?';
  assert.deepEqual(firstFailure(await verifyReceipt(receipt, { keys: [applicationPublic], composition: composition as never })), {
    name: 'composition', code: 'ERR_IDENTITY_MISMATCH', message: 'component "input" of the composition does not match the receipt',
  });
  const served = fixtureComposition() as { served: Record<string, { value: string }> };
  served.served['model']!.value = 'gpt-4o-mini';
  assert.deepEqual(firstFailure(await verifyReceipt(receipt, { keys: [applicationPublic], composition: served as never })), {
    name: 'composition', code: 'ERR_IDENTITY_MISMATCH', message: 'served facts of the composition do not match the receipt',
  });
  assert.deepEqual(firstFailure(await verifyReceipt(receipt, { keys: [applicationPublic], output: new TextEncoder().encode(RESPONSE_TEXT.replace('Paris', 'Rome')) })), {
    name: 'output', code: 'ERR_OUTPUT_MISMATCH', message: 'output digest of the given bytes does not match the receipt',
  });
});

test('bad caller input throws its own error; no keys is a programmer error', async () => {
  await assert.rejects(verifyReceipt(receipt, { keys: [applicationPublic], composition: { version: 'runprint/v1' } }), { code: 'ERR_COMPOSITION_INVALID' });
  await assert.rejects(verifyReceipt(receipt, { keys: [] }), TypeError);
});

test('signing refuses facts that cannot make a receipt', async () => {
  const facts = fixtureFacts();
  await assert.rejects(signReceipt({ ...facts, identity: { ...facts.identity, runId: null, served: null } }, applicationKey),
    { name: 'TypeError', message: 'a receipt needs a run identity: give the composition "served" facts' });
  await assert.rejects(signReceipt({ ...facts, capture: 'cron' as 'cli' }, applicationKey), { name: 'RangeError', message: 'capture must be cli, sdk or proxy' });
  await assert.rejects(signReceipt({ ...facts, startedOn: 'yesterday' }, applicationKey), { name: 'RangeError', message: 'times must be RFC 3339 date-times' });
  await assert.rejects(signReceipt({ ...facts, finishedOn: '2026-02-30T00:00:00Z' }, applicationKey), { name: 'RangeError', message: 'times must be RFC 3339 date-times' });
  await assert.rejects(signReceipt({ ...facts, finishedOn: '2025-01-01T00:00:00Z' }, applicationKey), { name: 'RangeError', message: 'finishedOn is before startedOn' });
  await assert.rejects(signReceipt({ ...facts, parentRunIds: [facts.identity.requestId] }, applicationKey), { name: 'RangeError', message: 'parent run ids must be run identities' });
});

test('a bad composition is hashed while signatures verify, but reported only after them, as the caller\'s error', async () => {
  const badComposition = { version: 'runprint/v1', model: { name: 'm' } } as never;
  // A receipt whose signature fails ends at the signature check; the composition's error is dropped.
  const forged = tampered((e) => { const sig = Buffer.from(e.signatures[0]!.sig, 'base64'); sig[0] = sig[0]! ^ 1; e.signatures[0]!.sig = sig.toString('base64'); });
  const report = await verifyReceipt(forged, { keys: [applicationPublic], composition: badComposition });
  assert.deepEqual(firstFailure(report), { name: 'signature', code: 'ERR_SIGNATURE_INVALID', message: 'signature verification failed' });
  // With good signatures, the composition's own error is thrown at step 10, not a receipt check.
  await assert.rejects(verifyReceipt(formatEnvelope(receipt), { keys: [applicationPublic], composition: badComposition }), {
    code: 'ERR_COMPOSITION_INVALID',
  });
  // Several keys are checked concurrently and reported in the order given.
  const both = await addSignature(receipt, gatewayKey);
  const twoKeys = await verifyReceipt(formatEnvelope(both), { keys: [gatewayPublic, applicationPublic], composition: fixtureComposition() as never });
  assert.equal(twoKeys.ok, true);
  assert.deepEqual(twoKeys.checks.filter((check) => check.name === 'signature').map((check) => check.keyId), [gatewayPublic.keyId, applicationPublic.keyId]);
});
