/** Generates testdata/receipt/*.json: DSSE PAE, strict base64, receipt keys, and receipts with their verification results (SPEC 13-15). */
import { createHash } from 'node:crypto';
import { canonicalize } from '../../src/jcs/canonicalize.ts';
import { verifyReceipt, type VerifyOptions } from '../../src/receipt/verify.ts';
import { parsePublicKey } from '../../src/keys/keys.ts';
import type { VectorFile } from '../generate-vectors.ts';
import { keyVectors } from './fixtures/receipt-keys.ts';
import { base64Vectors, paeVectors, PAYLOAD_TYPE } from '../../test/fixtures/receipt-pae.ts';

import {
  APPLICATION_KEY,
  canonical,
  envelopeOf,
  fixtureComposition,
  fixtureStatement,
  GATEWAY_KEY,
  REQUEST,
  RESPONSE_TEXT,
  signedVariant,
  tampered,
  type EnvelopeJson,
  type TestKey,
} from '../../test/fixtures/receipt-run.ts';


/** The descriptor of one component in a statement being changed. */
function dependency(statement: Record<string, any>, name: string): Record<string, any> {
  return (statement['predicate']['buildDefinition']['resolvedDependencies'] as Array<Record<string, any>>).find((d) => d['name'] === name)!;
}

/** RFC 6962 Merkle Tree Hash over leaf hashes given in hex (SPEC 5.3), with node:crypto. */
function merkleRootHex(leaves: readonly string[]): string {
  const node = (left: Buffer, right: Buffer) => createHash('sha256').update(Buffer.from([1])).update(left).update(right).digest();
  const mth = (hashes: Buffer[]): Buffer => {
    if (hashes.length === 0) return createHash('sha256').digest();
    if (hashes.length === 1) return hashes[0]!;
    let k = 1;
    while (k * 2 < hashes.length) k *= 2;
    return node(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
  };
  return mth(leaves.map((hex) => Buffer.from(hex, 'hex'))).toString('hex');
}

function flipBase64(text: string, index: number): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[index] = bytes[index]! ^ 0x01;
  return bytes.toString('base64');
}

/** A single-signature envelope in a Sigstore bundle v0.3 (sigstore_bundle.proto, proto3 JSON), written out by hand. */
function bundleOf(envelope: EnvelopeJson, hint: string): Record<string, unknown> {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint } },
    dsseEnvelope: { payload: envelope.payload, payloadType: envelope.payloadType, signatures: [{ sig: envelope.signatures[0]!.sig, keyid: hint }] },
  };
}

const urlSafe = (text: string) => text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

type PredicateChange = (predicate: Record<string, any>) => void;

/**
 * A declared document of the fixture run (RECEIPTS 13.2 `runDetails.retrieval`): its text
 * "Capital of France" is in the user message, input element 0 (input and system have one element each).
 */
function declared(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const digest = createHash('sha256').update('Capital of France', 'utf8').digest('hex');
  return { source: 'kb://geo/france', digest: { sha256: digest }, component: 'input', element: 0, ...overrides };
}

/** The fixture predicate declaring `entries`. */
const declaring = (...entries: unknown[]): PredicateChange => (p) => { p['runDetails']['retrieval'] = entries; };

/** A change to the fixture predicate, and the message step 8 must fail with (after "predicate "). */
function predicateCases(): Array<[string, PredicateChange, string]> {
  const input = (p: Record<string, any>) => p['buildDefinition']['resolvedDependencies'][2];
  return [
    ['buildType of another kind of build', (p) => { p['buildDefinition']['buildType'] = 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1'; },
      'buildDefinition.buildType must be "https://runprint.dev/run/v1"'],
    ['runId a number', (p) => { p['buildDefinition']['externalParameters']['runId'] = 5; }, 'buildDefinition.externalParameters.runId must be a run identity string'],
    ['runId a request identity', (p) => { p['buildDefinition']['externalParameters']['runId'] = p['buildDefinition']['externalParameters']['requestId']; },
      'buildDefinition.externalParameters.runId must be a run identity'],
    ['model ""', (p) => { p['buildDefinition']['externalParameters']['model'] = ''; }, 'buildDefinition.externalParameters.model must be a non-empty string'],
    ['capture "CLI" (not lowercase)', (p) => { p['buildDefinition']['externalParameters']['capture'] = 'CLI'; },
      'buildDefinition.externalParameters.capture must be a lowercase name such as "cli"'],
    ['resolvedDependencies an object', (p) => { p['buildDefinition']['resolvedDependencies'] = {}; }, 'buildDefinition.resolvedDependencies must be an array'],
    ['a descriptor that is a string', (p) => { p['buildDefinition']['resolvedDependencies'].push('tokenizer'); },
      'buildDefinition.resolvedDependencies[8] must be an object'],
    ['the model digest 63 hex digits long', (p) => { p['buildDefinition']['resolvedDependencies'][0]['digest']['sha256'] = 'a'.repeat(63); },
      'buildDefinition.resolvedDependencies[0].digest must have a sha256 of 64 lowercase hex digits'],
    ['the model digest a string, not a DigestSet', (p) => { p['buildDefinition']['resolvedDependencies'][0]['digest'] = 'a'.repeat(64); },
      'buildDefinition.resolvedDependencies[0].digest must have a sha256 of 64 lowercase hex digits'],
    ['a descriptor "uri" that is a number', (p) => { p['buildDefinition']['resolvedDependencies'][0]['uri'] = 1; },
      'buildDefinition.resolvedDependencies[0].uri must be a string'],
    ['a list descriptor without annotations', (p) => { delete input(p)['annotations']; }, 'buildDefinition.resolvedDependencies[2].annotations must be an object'],
    ['count -1', (p) => { input(p)['annotations']['count'] = -1; }, 'buildDefinition.resolvedDependencies[2].annotations.count must be a non-negative integer'],
    ['count 1.5', (p) => { input(p)['annotations']['count'] = 1.5; }, 'buildDefinition.resolvedDependencies[2].annotations.count must be a non-negative integer'],
    ['root in uppercase hex', (p) => { input(p)['annotations']['root']['sha256'] = input(p)['annotations']['root']['sha256'].toUpperCase(); },
      'buildDefinition.resolvedDependencies[2].annotations.root must have a sha256 of 64 lowercase hex digits'],
    ['a component named twice', (p) => { p['buildDefinition']['resolvedDependencies'].push(structuredClone(p['buildDefinition']['resolvedDependencies'][0])); },
      'buildDefinition.resolvedDependencies names component "model" twice'],
    ['builder id of another capture point', (p) => { p['runDetails']['builder']['id'] = 'https://runprint.dev/capture/proxy'; },
      'runDetails.builder.id must be "https://runprint.dev/capture/" followed by the capture point'],
    ['builder version.runprint a number', (p) => { p['runDetails']['builder']['version']['runprint'] = 1; }, 'runDetails.builder.version.runprint must be a string'],
    ['startedOn "yesterday"', (p) => { p['runDetails']['metadata']['startedOn'] = 'yesterday'; }, 'runDetails.metadata.startedOn must be an RFC 3339 date-time'],
    ['startedOn with an offset of +24:00', (p) => { p['runDetails']['metadata']['startedOn'] = '2026-01-01T00:00:00+24:00'; },
      'runDetails.metadata.startedOn must be an RFC 3339 date-time'],
    ['startedOn with an offset of +01:60', (p) => { p['runDetails']['metadata']['startedOn'] = '2026-01-01T00:00:00+01:60'; },
      'runDetails.metadata.startedOn must be an RFC 3339 date-time'],
    ['parentRunIds null', (p) => { p['runDetails']['parentRunIds'] = null; }, 'runDetails.parentRunIds must be an array'],
    ['a served fact with a third member', (p) => { p['runDetails']['served']['model']['note'] = 'x'; },
      'runDetails.served["model"] must be exactly {"source": "derived" | "reported", "value": ...}'],
    ['a served fact of source "claimed"', (p) => { p['runDetails']['served']['model']['source'] = 'claimed'; },
      'runDetails.served["model"] must be exactly {"source": "derived" | "reported", "value": ...}'],
    ['output.digest a string', (p) => { p['runDetails']['output']['digest'] = 'e2c8'; }, 'runDetails.output.digest must be null or have a sha256 of 64 lowercase hex digits'],
    ['output.rawDigest null', (p) => { p['runDetails']['output']['rawDigest'] = null; }, 'runDetails.output.rawDigest must have a sha256 of 64 lowercase hex digits'],
    ['output.finishReason a number', (p) => { p['runDetails']['output']['finishReason'] = 0; }, 'runDetails.output.finishReason must be a string or null'],
    ['output.usage missing', (p) => { delete p['runDetails']['output']['usage']; }, 'runDetails.output.usage must be present (null when unknown)'],
    ['output.stream "false"', (p) => { p['runDetails']['output']['stream'] = 'false'; }, 'runDetails.output.stream must be a boolean'],
    // 15 step 8.14: runDetails.retrieval, when present.
    ['runDetails.retrieval null (absent is no declaration; null is not)', (p) => { p['runDetails']['retrieval'] = null; }, 'runDetails.retrieval must be an array'],
    ['runDetails.retrieval an object', (p) => { p['runDetails']['retrieval'] = declared(); }, 'runDetails.retrieval must be an array'],
    ['a retrieval entry that is a string', declaring('kb://geo/france'), 'runDetails.retrieval[0] must be an object'],
    ['a retrieval entry without a source', declaring(declared({ source: undefined })), 'runDetails.retrieval[0].source must be a non-empty string'],
    ['a retrieval entry whose source is ""', declaring(declared({ source: '' })), 'runDetails.retrieval[0].source must be a non-empty string'],
    ['a retrieval entry whose source is a number', declaring(declared({ source: 7 })), 'runDetails.retrieval[0].source must be a non-empty string'],
    ['a retrieval entry whose digest is in uppercase hex', declaring(declared({ digest: { sha256: (declared()['digest'] as { sha256: string }).sha256.toUpperCase() } })),
      'runDetails.retrieval[0].digest must have a sha256 of 64 lowercase hex digits'],
    ['a retrieval entry whose digest is a string, not a DigestSet', declaring(declared({ digest: (declared()['digest'] as { sha256: string }).sha256 })),
      'runDetails.retrieval[0].digest must have a sha256 of 64 lowercase hex digits'],
    ['a retrieval entry in component "context" (documents are declared in system or input)', declaring(declared({ component: 'context' })),
      'runDetails.retrieval[0].component must be "system" or "input"'],
    ['a retrieval entry in component "retrieval" (not a component)', declaring(declared({ component: 'retrieval' })), 'runDetails.retrieval[0].component must be "system" or "input"'],
    ['a retrieval entry without a component', declaring(declared({ component: undefined })), 'runDetails.retrieval[0].component must be "system" or "input"'],
    ['a retrieval entry at element -1', declaring(declared({ element: -1 })), 'runDetails.retrieval[0].element must be a non-negative integer'],
    ['a retrieval entry at element 0.5', declaring(declared({ element: 0.5 })), 'runDetails.retrieval[0].element must be a non-negative integer'],
    ['a retrieval entry at element "0" (a string)', declaring(declared({ element: '0' })), 'runDetails.retrieval[0].element must be a non-negative integer'],
    ['a retrieval entry at input element 1: input has one element (its count)', declaring(declared({ element: 1 })),
      'runDetails.retrieval[0].element must be less than the count of component "input" (1)'],
    ['a retrieval entry at system element 1: system has one element', declaring(declared({ component: 'system', element: 1 })),
      'runDetails.retrieval[0].element must be less than the count of component "system" (1)'],
    ['the second of two retrieval entries out of range: the first is read, the second named', declaring(declared(), declared({ source: 'kb://geo/other', element: 2 })),
      'runDetails.retrieval[1].element must be less than the count of component "input" (1)'],
    ['the same retrieval entry twice', declaring(declared(), declared()), 'runDetails.retrieval[1] repeats runDetails.retrieval[0]'],
    ['the same retrieval entry twice, apart, its members in another order', declaring(declared(), declared({ source: 'kb://geo/paris' }), { element: 0, component: 'input', digest: declared()['digest'], source: 'kb://geo/france' }),
      'runDetails.retrieval[2] repeats runDetails.retrieval[0]'],
  ];
}

function receiptVectors(): Array<Record<string, any>> {
  const pem = (key: TestKey) => key.publicKeyPem;
  const ok = (desc: string, spec: string, envelope: unknown, extra: Record<string, unknown> = {}) => ({
    desc, spec, envelope, publicKeys: [pem(APPLICATION_KEY)], ...extra, wantOk: true,
  });
  const bad = (desc: string, spec: string, envelope: unknown, wantCheck: string, wantErr: string, wantMessage: string, extra: Record<string, unknown> = {}) => ({
    desc, spec, envelope, publicKeys: [pem(APPLICATION_KEY)], ...extra, wantCheck, wantErr, wantMessage,
  });
  const valid = envelopeOf(canonical(fixtureStatement()));
  const both = envelopeOf(canonical(fixtureStatement()), [APPLICATION_KEY, GATEWAY_KEY]);
  // An extension member whose bytes give '+' and '/' in standard base64 ("~~~" is "fn5+", "???" is "Pz8/").
  const symbols = signedVariant((s) => { s['note'] = '~~~???~~~???'; });
  const noOutputDigest = signedVariant((s) => {
    s['subject'].splice(1, 1);
    s['predicate']['runDetails']['output']['digest'] = null;
  });
  return [
    ok('the fixture receipt, one signature; the payload is the JCS form of the statement', '14.2', valid),
    ok('with the composition (served facts included) and the response bytes: identity and output recomputed', '15', valid, {
      composition: fixtureComposition(), outputText: RESPONSE_TEXT,
    }),
    ok('with the provider request instead of a composition: the receipt\'s served facts complete it', '15', valid, {
      composition: REQUEST, from: 'openai-chat',
    }),
    ok('with the same response re-serialized with other white space: the assembled output still matches', '15', valid, {
      outputText: JSON.stringify(JSON.parse(RESPONSE_TEXT), null, 2),
    }),
    ok('application and gateway signatures, both keys required', '14.3', both, { publicKeys: [pem(APPLICATION_KEY), pem(GATEWAY_KEY)] }),
    ok('application and gateway signatures, only the gateway key given', '14.3', both, { publicKeys: [pem(GATEWAY_KEY)] }),
    ok('payload and signature in URL-safe base64 without padding (DSSE: verifiers accept either)', '15', {
      ...valid, payload: urlSafe(valid.payload), signatures: [{ keyid: APPLICATION_KEY.keyId, sig: urlSafe(valid.signatures[0]!.sig) }],
    }),
    ok('payload with "-" and "_" (URL-safe for "+" and "/"), padded signature', '15', {
      ...symbols, payload: urlSafe(symbols.payload), signatures: [{ keyid: APPLICATION_KEY.keyId, sig: urlSafe(symbols.signatures[0]!.sig).padEnd(88, '=') }],
    }),
    ok('keyid hint naming another key: the hint is not authenticated and decides nothing', '15', {
      ...valid, signatures: [{ keyid: GATEWAY_KEY.keyId, sig: valid.signatures[0]!.sig }],
    }),
    ok('no keyid at all', '15', { ...valid, signatures: [{ sig: valid.signatures[0]!.sig }] }),
    ok('a DSSE envelope whose keyid names another key, verified with the signing key and that key: each key\'s check passes or fails on its signature alone', '15', {
      ...both, signatures: [{ keyid: GATEWAY_KEY.keyId, sig: both.signatures[0]!.sig }, { keyid: APPLICATION_KEY.keyId, sig: both.signatures[1]!.sig }],
    }, { publicKeys: [pem(APPLICATION_KEY), pem(GATEWAY_KEY)] }),
    ok('the fixture receipt in a Sigstore bundle v0.3 whose hint is the signing key\'s id (15 step 1 reads it as a bundle)', '16', bundleOf(valid, APPLICATION_KEY.keyId)),
    bad('a Sigstore bundle whose hint names the gateway key; the application key signed and is the key given', '15', bundleOf(valid, GATEWAY_KEY.keyId),
      'signature', 'ERR_SIGNATURE_UNKNOWN_KEY', 'the bundle\'s key hint does not name this key'),
    bad('a Sigstore bundle whose hint is a URL; the signature verifies with the key given', '15', bundleOf(valid, 'https://keys.example/runprint.pub.pem'),
      'signature', 'ERR_SIGNATURE_UNKNOWN_KEY', 'the bundle\'s key hint does not name this key'),
    bad('a Sigstore bundle whose hint names the gateway key, both keys given: the application key\'s check fails on the hint', '15', bundleOf(valid, GATEWAY_KEY.keyId),
      'signature', 'ERR_SIGNATURE_UNKNOWN_KEY', 'the bundle\'s key hint does not name this key', { publicKeys: [pem(APPLICATION_KEY), pem(GATEWAY_KEY)] }),
    bad('a Sigstore bundle of media type v0.2: a bundle that does not read fails step 1 with its code and path', '16.4', { ...bundleOf(valid, APPLICATION_KEY.keyId), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' },
      'envelope', 'ERR_BUNDLE_INVALID', 'mediaType must be application/vnd.dev.sigstore.bundle.v0.3+json', { wantPath: "$['mediaType']" }),
    bad('a DSSE envelope with an extra member "mediaType" is read as a bundle (15 step 1), and no bundle has "payload"', '15', { ...valid, mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' },
      'envelope', 'ERR_BUNDLE_INVALID', 'unknown member', { wantPath: "$['payload']" }),
    bad('a Sigstore bundle whose publicKey has a member other than "hint"', '16.4', (() => {
      const bundle = bundleOf(valid, APPLICATION_KEY.keyId);
      (bundle['verificationMaterial'] as Record<string, any>)['publicKey']['rawBytes'] = Buffer.from(APPLICATION_KEY.publicKeyPem).toString('base64');
      return bundle;
    })(), 'envelope', 'ERR_BUNDLE_INVALID', 'unknown member', { wantPath: "$['verificationMaterial']['publicKey']['rawBytes']" }),
    ok('statement with unknown extra members at every level (in-toto: ignore what is not understood)', '13.1', signedVariant((s) => {
      s['extension'] = { note: 'x' };
      s['subject'][0]['uri'] = 'https://example.com/run';
      s['subject'].push({ name: 'transcript', digest: { sha256: '00'.repeat(32) } });
      s['predicate']['extra'] = 1;
      s['predicate']['runDetails']['byproducts'] = [];
      s['predicate']['buildDefinition']['internalParameters'] = {};
      s['predicate']['buildDefinition']['resolvedDependencies'].push({ name: 'tokenizer', digest: { sha256: '11'.repeat(32) } });
    })),
    ok('an agent step with a parent run', '13.2', signedVariant((s) => {
      s['predicate']['runDetails']['parentRunIds'] = [`rp-run-v1-sha256-${'ab'.repeat(32)}`];
    })),
    ok('a run with a declared document: runDetails.retrieval (15 step 8.14), with the composition and the response bytes', '13.2',
      signedVariant((s) => declaring(declared())(s['predicate'])), { composition: fixtureComposition(), outputText: RESPONSE_TEXT }),
    ok('declared documents in system and input, one text under two sources, an entry with an extension member (ignored)', '13.2', signedVariant((s) => declaring(
      declared({ source: 'kb://prompts/short', digest: { sha256: createHash('sha256').update('one word', 'utf8').digest('hex') }, component: 'system' }),
      declared(),
      declared({ source: 'kb://geo/france#2', chunk: 3 }),
    )(s['predicate']))),
    ok('runDetails.retrieval [] (runprint leaves the member out when nothing is declared; an empty array declares nothing)', '13.2',
      signedVariant((s) => declaring()(s['predicate']))),
    bad('runDetails.retrieval changed after signing (its entry removed): the signature covers it', '15', (() => {
      const statement = fixtureStatement();
      declaring(declared())(statement['predicate']);
      const envelope = envelopeOf(canonical(statement));
      statement['predicate']['runDetails']['retrieval'] = [];
      return { ...envelope, payload: Buffer.from(canonical(statement)).toString('base64') };
    })(), 'signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed'),
    bad('runDetails.retrieval added after signing: the signature covers the declaration', '15', tampered((e) => {
      const statement = JSON.parse(Buffer.from(e.payload, 'base64').toString());
      statement.predicate.runDetails.retrieval = [declared()];
      e.payload = Buffer.from(canonicalize(statement)).toString('base64');
    }), 'signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed'),
    bad('not JSON', '15', { text: '{"payload": ' }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope is not strict JSON (ERR_JSON_TRUNCATED)'),
    bad('a duplicate member in the envelope', '15', { text: `{"payload":"","payload":"${valid.payload}","payloadType":"${PAYLOAD_TYPE}","signatures":${JSON.stringify(valid.signatures)}}` }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope is not strict JSON (ERR_JSON_DUPLICATE_KEY)'),
    bad('no signatures', '15', { ...valid, signatures: [] }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope "signatures" must be a non-empty array'),
    bad('an envelope that is a JSON array', '15', { text: `[${JSON.stringify(valid)}]` }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope must be a JSON object'),
    bad('a payload that is a number', '15', { ...valid, payload: 7 }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope "payload" must be a string'),
    bad('no payloadType', '15', { payload: valid.payload, signatures: valid.signatures }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope "payloadType" must be a string'),
    bad('17 signatures', '15', { ...valid, signatures: Array.from({ length: 17 }, () => valid.signatures[0]) }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope has more than 16 signatures'),
    bad('a signature that is a string', '15', { ...valid, signatures: [valid.signatures[0]!.sig] }, 'envelope', 'ERR_ENVELOPE_INVALID', 'each envelope signature must be an object'),
    bad('a keyid that is a number', '15', { ...valid, signatures: [{ keyid: 1, sig: valid.signatures[0]!.sig }] }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope signature "keyid" must be a string'),
    bad('a bundle whose signature is not base64', '16.4', (() => {
      const bundle = bundleOf(valid, APPLICATION_KEY.keyId) as Record<string, any>;
      bundle['dsseEnvelope']['signatures'][0]['sig'] = `${bundle['dsseEnvelope']['signatures'][0]['sig'].slice(0, -2)}!=`;
      return bundle;
    })(), 'envelope', 'ERR_ENVELOPE_BASE64', 'sig must be standard base64 with padding', { wantPath: "$['dsseEnvelope']['signatures'][0]['sig']" }),
    bad('a bundle whose dsseEnvelope is a string', '16.4', { ...bundleOf(valid, APPLICATION_KEY.keyId), dsseEnvelope: valid.payload },
      'envelope', 'ERR_ENVELOPE_INVALID', 'envelope must be a JSON object', { wantPath: "$['dsseEnvelope']" }),
    bad('a signature that is a number', '15', { ...valid, signatures: [{ sig: 7 }] }, 'envelope', 'ERR_ENVELOPE_INVALID', 'envelope signature "sig" must be a string'),
    bad('payload type application/json, signed as such', '15', envelopeOf(canonical(fixtureStatement()), [APPLICATION_KEY], 'application/json'), 'payload-type', 'ERR_ENVELOPE_PAYLOAD_TYPE', 'envelope "payloadType" must be "application/vnd.in-toto+json"'),
    bad('payload with a character outside base64', '15', { ...valid, payload: `${valid.payload.slice(0, 8)}!${valid.payload.slice(9)}` }, 'base64', 'ERR_ENVELOPE_BASE64', 'envelope "payload" is not base64'),
    bad('payload mixing the standard and URL-safe alphabets', '15', { ...valid, payload: 'QU+_' }, 'base64', 'ERR_ENVELOPE_BASE64', 'envelope "payload" is not base64'),
    bad('signature base64 with white space', '15', { ...valid, signatures: [{ sig: ` ${valid.signatures[0]!.sig}` }] }, 'base64', 'ERR_ENVELOPE_BASE64', 'envelope signature 0 "sig" is not base64'),
    bad('signed by the application key, verified with the gateway key only', '15', valid, 'signature', 'ERR_SIGNATURE_UNKNOWN_KEY', 'the receipt has no signature by this key', { publicKeys: [pem(GATEWAY_KEY)] }),
    bad('tampered payload: one bit of the statement flipped after signing', '15', tampered((e) => { e.payload = flipBase64(e.payload, 40); }), 'signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed'),
    bad('tampered signature: one bit flipped', '15', tampered((e) => { e.signatures[0]!.sig = flipBase64(e.signatures[0]!.sig, 10); }), 'signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed'),
    bad('tampered subject: the output digest replaced after signing', '15', tampered((e) => {
      const statement = JSON.parse(Buffer.from(e.payload, 'base64').toString());
      statement.subject[1].digest.sha256 = '00'.repeat(32);
      e.payload = Buffer.from(canonicalize(statement)).toString('base64');
    }), 'signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed'),
    bad('a 63-byte signature', '15', tampered((e) => { e.signatures[0]!.sig = Buffer.from(e.signatures[0]!.sig, 'base64').subarray(1).toString('base64'); }), 'signature', 'ERR_SIGNATURE_INVALID', 'signature verification failed'),
    bad('payloadType changed after signing (PAE authenticates it)', '15', tampered((e) => { e.payloadType = 'application/vnd.in-toto+json '; }), 'payload-type', 'ERR_ENVELOPE_PAYLOAD_TYPE', 'envelope "payloadType" must be "application/vnd.in-toto+json"'),
    bad('gateway key required but only the application signed', '14.3', valid, 'signature', 'ERR_SIGNATURE_UNKNOWN_KEY', 'the receipt has no signature by this key', { publicKeys: [pem(APPLICATION_KEY), pem(GATEWAY_KEY)] }),
    bad('signed payload that is not JSON', '15', envelopeOf(new TextEncoder().encode('not json')), 'statement-type', 'ERR_STATEMENT_INVALID', 'statement is not strict JSON (ERR_JSON_SYNTAX)'),
    bad('signed payload with a duplicate member "subject"', '15', envelopeOf(new TextEncoder().encode(
      canonicalize(fixtureStatement()).replace('{"_type"', '{"subject":[],"_type"'),
    )), 'statement-type', 'ERR_STATEMENT_INVALID', 'statement is not strict JSON (ERR_JSON_DUPLICATE_KEY)'),
    bad('in-toto Statement v0.1', '13.1', signedVariant((s) => { s['_type'] = 'https://in-toto.io/Statement/v0.1'; }), 'statement-type', 'ERR_STATEMENT_TYPE', 'statement "_type" must be "https://in-toto.io/Statement/v1"'),
    bad('subject "run" whose runId annotation spells another digest', '13.1', signedVariant((s) => { s['subject'][0]['digest']['sha256'] = '00'.repeat(32); }), 'subjects', 'ERR_SUBJECT_INVALID', 'subject "run" must carry annotations.runId, the run identity of its digest'),
    bad('no subject "output-bytes"', '13.1', signedVariant((s) => { s['subject'].pop(); }), 'subjects', 'ERR_SUBJECT_INVALID', 'subject "output-bytes" with a sha256 digest is required'),
    bad('subject "run" twice', '13.1', signedVariant((s) => { s['subject'].push(s['subject'][0]); }), 'subjects', 'ERR_SUBJECT_INVALID', 'subject name "run" appears twice'),
    bad('predicate of major version 2', '13.3', signedVariant((s) => { s['predicateType'] = 'https://runprint.dev/receipt/v2'; }), 'predicate-type', 'ERR_PREDICATE_VERSION', 'predicate version is not supported; this implementation reads "https://runprint.dev/receipt/v1"'),
    bad('SLSA Provenance predicate type', '13.3', signedVariant((s) => { s['predicateType'] = 'https://slsa.dev/provenance/v1'; }), 'predicate-type', 'ERR_PREDICATE_TYPE', 'statement "predicateType" must be "https://runprint.dev/receipt/v1"'),
    bad('predicate without runDetails', '13.2', signedVariant((s) => { delete s['predicate']['runDetails']; }), 'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails must be an object'),
    bad('predicate without a descriptor for "served"', '13.2', signedVariant((s) => { s['predicate']['buildDefinition']['resolvedDependencies'].pop(); }), 'predicate', 'ERR_PREDICATE_INVALID', 'predicate buildDefinition.resolvedDependencies has no descriptor for component "served"'),
    bad('finishedOn before startedOn', '13.2', signedVariant((s) => { s['predicate']['runDetails']['metadata']['finishedOn'] = '2025-12-31T23:59:59Z'; }), 'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.metadata.finishedOn is before startedOn'),
    bad('subjects and predicate disagree on the output digest', '13.1', signedVariant((s) => { s['subject'][1]['digest']['sha256'] = '00'.repeat(32); }), 'subject-binding', 'ERR_SUBJECT_INVALID', 'subject "output" does not match the predicate\'s output digest'),
    bad('an input element digest that does not give the list root', '13.2', signedVariant((s) => {
      s['predicate']['buildDefinition']['resolvedDependencies'][2]['annotations']['elements'][0]['sha256'] = '00'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component "input": element digests do not give its root'),
    bad('only annotations.root of "input" changed: elements, count and component digest untouched', '13.2', signedVariant((s) => {
      dependency(s, 'input')['annotations']['root']['sha256'] = 'ab'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component "input": element digests do not give its root'),
    bad('an element digest changed and annotations.root recomputed from the changed elements: count and root no longer give the component digest', '13.2', signedVariant((s) => {
      const annotations = dependency(s, 'input')['annotations'];
      annotations['elements'][0]['sha256'] = '00'.repeat(32);
      annotations['root']['sha256'] = merkleRootHex(annotations['elements'].map((e: { sha256: string }) => e.sha256));
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component "input": count and root do not give its digest'),
    bad('only the "parameters" component digest changed', '13.2', signedVariant((s) => {
      dependency(s, 'parameters')['digest']['sha256'] = 'cd'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component digests do not give the requestId'),
    bad('only the "served" digest changed: the served facts untouched', '13.2', signedVariant((s) => {
      dependency(s, 'served')['digest']['sha256'] = 'ef'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'served facts do not give the "served" digest'),
    bad('runId of another run (subject "run" changed with it)', '13.2', signedVariant((s) => {
      const runId = `rp-run-v1-sha256-${'12'.repeat(32)}`;
      s['predicate']['buildDefinition']['externalParameters']['runId'] = runId;
      s['subject'][0] = { name: 'run', digest: { sha256: '12'.repeat(32) }, annotations: { runId } };
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'request and served digests do not give the runId'),
    bad('a served fact changed: the facts no longer give the served digest', '13.2', signedVariant((s) => {
      s['predicate']['runDetails']['served']['model']['value'] = 'gpt-4o-mini';
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'served facts do not give the "served" digest'),
    bad('an element digest that does not give the list root, with the composition given: still the identity check', '15', signedVariant((s) => {
      s['predicate']['buildDefinition']['resolvedDependencies'][2]['annotations']['elements'][0]['sha256'] = '00'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component "input": element digests do not give its root', { composition: fixtureComposition() }),
    bad('served facts changed but the served digest kept, with the matching composition given', '15', signedVariant((s) => {
      s['predicate']['runDetails']['served']['systemFingerprint']['value'] = 'fp_other';
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'served facts do not give the "served" digest', { composition: fixtureComposition() }),
    bad('composition with another user message', '15', valid, 'composition', 'ERR_IDENTITY_MISMATCH', 'component "input" of the composition does not match the receipt', {
      composition: { ...REQUEST, messages: [REQUEST.messages[0], { role: 'user', content: 'Capital of Spain?' }] }, from: 'openai-chat',
    }),
    bad('response with another answer', '15', valid, 'output', 'ERR_OUTPUT_MISMATCH', 'output digest of the given bytes does not match the receipt', { outputText: RESPONSE_TEXT.replace('Paris', 'Lyon') }),
    // docs/RECEIPTS.md 13.1 and 15 step 8, item by item: each vector separates two readings of the spec.
    ok('runDetails.metadata {} (both times are optional; the object is not)', '15', signedVariant((s) => { s['predicate']['runDetails']['metadata'] = {}; })),
    bad('runDetails.metadata missing', '15', signedVariant((s) => { delete s['predicate']['runDetails']['metadata']; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.metadata must be an object'),
    ok('output.format "gemini": a lowercase name a later minor version may add', '15', signedVariant((s) => { s['predicate']['runDetails']['output']['format'] = 'gemini'; })),
    bad('output.format "gemini" with the output bytes: this verifier cannot read them as the receipt says', '15', signedVariant((s) => { s['predicate']['runDetails']['output']['format'] = 'gemini'; }),
      'output', 'ERR_OUTPUT_UNSUPPORTED', 'the receipt\'s output format is not one this verifier reads; name one to read the bytes as', { outputText: RESPONSE_TEXT }),
    bad('output.format "" (not a name)', '15', signedVariant((s) => { s['predicate']['runDetails']['output']['format'] = ''; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.output.format must be a lowercase format name or null'),
    bad('a parent that is a request identity, not a run identity', '15', signedVariant((s) => { s['predicate']['runDetails']['parentRunIds'] = [`rp-req-v1-sha256-${'ab'.repeat(32)}`]; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.parentRunIds[0] must be a run identity'),
    bad('finishedOn a leap second, 23:59:60Z (outside the profile)', '15', signedVariant((s) => { s['predicate']['runDetails']['metadata']['finishedOn'] = '2026-01-01T23:59:60Z'; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.metadata.finishedOn must be an RFC 3339 date-time'),
    bad('finishedOn on February 30', '15', signedVariant((s) => { s['predicate']['runDetails']['metadata']['finishedOn'] = '2026-02-30T00:00:00Z'; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.metadata.finishedOn must be an RFC 3339 date-time'),
    bad('finishedOn at hour 24', '15', signedVariant((s) => { s['predicate']['runDetails']['metadata']['finishedOn'] = '2026-01-01T24:00:00Z'; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.metadata.finishedOn must be an RFC 3339 date-time'),
    ok('times with lowercase "t" and "z", and an offset of -00:00 (RFC 3339 allows both)', '15', signedVariant((s) => {
      s['predicate']['runDetails']['metadata'] = { startedOn: '2026-01-01t00:00:00z', finishedOn: '2026-01-01T00:00:01.5-00:00' };
    })),
    bad('an element digest in uppercase hex (the same digest otherwise)', '15', signedVariant((s) => {
      const element = dependency(s, 'input')['annotations']['elements'][0];
      element['sha256'] = element['sha256'].toUpperCase();
    }), 'predicate', 'ERR_PREDICATE_INVALID', 'predicate buildDefinition.resolvedDependencies[2].annotations.elements[0] must have a sha256 of 64 lowercase hex digits'),
    bad('requestId with its digest in uppercase hex', '15', signedVariant((s) => {
      const external = s['predicate']['buildDefinition']['externalParameters'];
      external['requestId'] = `rp-req-v1-sha256-${external['requestId'].slice(17).toUpperCase()}`;
    }), 'predicate', 'ERR_PREDICATE_INVALID', 'predicate buildDefinition.externalParameters.requestId is not a v1 identity string'),
    bad('subject "run" digest in uppercase hex', '15', signedVariant((s) => { s['subject'][0]['digest']['sha256'] = s['subject'][0]['digest']['sha256'].toUpperCase(); }),
      'subjects', 'ERR_SUBJECT_INVALID', 'subject "run" with a sha256 digest is required'),
    ok('a payload that is not canonical JSON (indented, members in another order): the signed bytes are read as they are', '15',
      envelopeOf(new TextEncoder().encode(JSON.stringify(Object.fromEntries(Object.entries(fixtureStatement()).reverse()), null, 2)))),
    ok('an unnamed subject with a digest (ignored)', '13.1', signedVariant((s) => { s['subject'].push({ digest: { sha512: '00'.repeat(64) } }); })),
    bad('a subject whose name is a number', '13.1', signedVariant((s) => { s['subject'].push({ name: 7, digest: { sha256: '00'.repeat(32) } }); }),
      'subjects', 'ERR_SUBJECT_INVALID', 'subject 3 "name" must be a string'),
    bad('a subject of an unknown name without a digest', '13.1', signedVariant((s) => { s['subject'].push({ name: 'transcript', uri: 'https://example.com/t' }); }),
      'subjects', 'ERR_SUBJECT_INVALID', 'subject 3 must be an object with a "digest" of string values'),
    bad('a subject of an unknown name with an empty digest set', '13.1', signedVariant((s) => { s['subject'].push({ name: 'transcript', digest: {} }); }),
      'subjects', 'ERR_SUBJECT_INVALID', 'subject 3 must be an object with a "digest" of string values'),
    bad('two subjects of the same unknown name', '13.1', signedVariant((s) => {
      s['subject'].push({ name: 'transcript', digest: { sha256: '00'.repeat(32) } }, { name: 'transcript', digest: { sha256: '11'.repeat(32) } });
    }), 'subjects', 'ERR_SUBJECT_INVALID', 'subject name "transcript" appears twice'),
    bad('a requestId that is not an identity string: step 8, not step 10', '15', signedVariant((s) => {
      s['predicate']['buildDefinition']['externalParameters']['requestId'] = 'rp-req-v1-sha256-1234';
    }), 'predicate', 'ERR_PREDICATE_INVALID', 'predicate buildDefinition.externalParameters.requestId is not a v1 identity string'),
    bad('a well-formed requestId of another request: step 10', '15', signedVariant((s) => {
      s['predicate']['buildDefinition']['externalParameters']['requestId'] = `rp-req-v1-sha256-${'34'.repeat(32)}`;
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component digests do not give the requestId'),
    bad('a count one more than the element digests listed: step 8', '15', signedVariant((s) => { dependency(s, 'input')['annotations']['count'] += 1; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate buildDefinition.resolvedDependencies[2].annotations.elements must be an array of "count" digests'),
    ok('with a composition that has no "served": the receipt\'s served facts complete it, as for a provider request', '15', valid, {
      composition: (() => { const composition = fixtureComposition() as Record<string, unknown>; delete composition['served']; return composition; })(),
    }),
    ok('runDetails.logProof an object: v1 readers ignore its content', '13.2', signedVariant((s) => { s['predicate']['runDetails']['logProof'] = { note: 'not read' }; })),
    bad('runDetails.logProof a string', '13.2', signedVariant((s) => { s['predicate']['runDetails']['logProof'] = 'c2sp.org/tlog-proof@v1'; }),
      'predicate', 'ERR_PREDICATE_INVALID', 'predicate runDetails.logProof must be null or an object'),
    // One vector per check of 15 step 8 that the items above do not reach, each with its message.
    ...predicateCases().map(([desc, change, message]) => bad(desc, '15', signedVariant((s) => change(s['predicate'])), 'predicate', 'ERR_PREDICATE_INVALID', `predicate ${message}`)),
    ok('capture "batch", with the builder id that names it: readers accept any lowercase capture name', '13.2', signedVariant((s) => {
      s['predicate']['buildDefinition']['externalParameters']['capture'] = 'batch';
      s['predicate']['runDetails']['builder']['id'] = 'https://runprint.dev/capture/batch';
    })),
    ok('a descriptor of another name without a digest: ignored, not read', '13.2', signedVariant((s) => {
      s['predicate']['buildDefinition']['resolvedDependencies'].push({ name: 'tokenizer', uri: 'https://example.com/tokenizer.json' });
    })),
    bad('signed payload that is a JSON array', '15', envelopeOf(new TextEncoder().encode('[]')), 'statement-type', 'ERR_STATEMENT_INVALID', 'statement must be a JSON object'),
    bad('an empty subject array', '13.1', signedVariant((s) => { s['subject'] = []; }), 'subjects', 'ERR_SUBJECT_INVALID', 'statement "subject" must be a non-empty array'),
    bad('subject "output" with a digest of another algorithm only', '13.1', signedVariant((s) => { s['subject'][1]['digest'] = { sha512: '00'.repeat(64) }; }),
      'subjects', 'ERR_SUBJECT_INVALID', 'subject "output" must have a sha256 digest'),
    bad('subject "run" of another run (its annotation agreeing with it)', '13.1', signedVariant((s) => {
      s['subject'][0] = { name: 'run', digest: { sha256: '56'.repeat(32) }, annotations: { runId: `rp-run-v1-sha256-${'56'.repeat(32)}` } };
    }), 'subject-binding', 'ERR_SUBJECT_INVALID', 'subject "run" does not match the predicate\'s runId'),
    bad('subjects and predicate disagree on the output bytes', '13.1', signedVariant((s) => { s['subject'][2]['digest']['sha256'] = '00'.repeat(32); }),
      'subject-binding', 'ERR_SUBJECT_INVALID', 'subject "output-bytes" does not match the predicate\'s raw output digest'),
    // With a matching composition, steps 10 and 11 take one comparison (15): every value it skips
    // recomputing must still be compared, or an inconsistent predicate would pass both.
    bad('only annotations.root changed, with the matching composition given', '15', signedVariant((s) => {
      dependency(s, 'input')['annotations']['root']['sha256'] = 'ab'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component "input": element digests do not give its root', { composition: fixtureComposition() }),
    bad('only the "parameters" digest changed, with the matching composition given', '15', signedVariant((s) => {
      dependency(s, 'parameters')['digest']['sha256'] = 'cd'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component digests do not give the requestId', { composition: fixtureComposition() }),
    bad('only the "served" digest changed, with the matching composition given', '15', signedVariant((s) => {
      dependency(s, 'served')['digest']['sha256'] = 'ef'.repeat(32);
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'served facts do not give the "served" digest', { composition: fixtureComposition() }),
    bad('a requestId of another request, with the matching composition given', '15', signedVariant((s) => {
      s['predicate']['buildDefinition']['externalParameters']['requestId'] = `rp-req-v1-sha256-${'34'.repeat(32)}`;
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'component digests do not give the requestId', { composition: fixtureComposition() }),
    bad('a runId of another run, with the matching composition given', '15', signedVariant((s) => {
      const runId = `rp-run-v1-sha256-${'12'.repeat(32)}`;
      s['predicate']['buildDefinition']['externalParameters']['runId'] = runId;
      s['subject'][0] = { name: 'run', digest: { sha256: '12'.repeat(32) }, annotations: { runId } };
    }), 'identity', 'ERR_IDENTITY_MISMATCH', 'request and served digests do not give the runId', { composition: fixtureComposition() }),
    bad('composition whose served facts differ from the receipt\'s', '15', valid, 'composition', 'ERR_IDENTITY_MISMATCH', 'served facts of the composition do not match the receipt', {
      composition: (() => {
        const composition = fixtureComposition() as Record<string, any>;
        composition['served']['systemFingerprint']['value'] = 'fp_other';
        return composition;
      })(),
    }),
    ok('a receipt with no assembled output (output.digest null, no subject "output"), checked against the same bytes', '15', noOutputDigest, { outputText: RESPONSE_TEXT }),
    bad('a receipt with no assembled output, checked against other bytes: their SHA-256 is not rawDigest', '15', noOutputDigest, 'output', 'ERR_OUTPUT_MISMATCH',
      'digest of the given output bytes does not match the receipt', { outputText: RESPONSE_TEXT.replace('\n', ' \n') }),
  ];
}

/**
 * Each vector states its intended outcome by hand (accept, or the check, code and message of the
 * first failure); the verifier must agree before the file is written, so the file records what the
 * spec says, not whatever the code answers today.
 */
async function asserted(vectors: Array<Record<string, any>>): Promise<Array<Record<string, any>>> {
  for (const vector of vectors) {
    const keys = await Promise.all((vector['publicKeys'] as string[]).map((text) => parsePublicKey(text)));
    const options: VerifyOptions = { keys };
    if (vector['composition'] !== undefined) options.composition = vector['composition'];
    if (vector['from'] !== undefined) options.from = vector['from'];
    if (vector['outputText'] !== undefined) options.output = new TextEncoder().encode(vector['outputText']);
    const report = await verifyReceipt(vector['envelope']['text'] ?? vector['envelope'], options);
    const failed = report.checks.find((check) => !check.ok);
    const got = failed === undefined ? 'accepted' : `${failed.name} ${failed.code}: ${failed.message} at ${failed.path}`;
    const want = vector['wantOk'] === true ? 'accepted' : `${vector['wantCheck']} ${vector['wantErr']}: ${vector['wantMessage']} at ${vector['wantPath']}`;
    if (got !== want || report.ok !== (failed === undefined)) throw new Error(`receipt vector "${vector['desc']}": want ${want}, the verifier says ${got}`);
  }
  return vectors;
}

export async function generate(): Promise<VectorFile[]> {
  return [
    { path: 'receipt/pae.json', content: { desc: 'DSSE v1.0 pre-authentication encoding', spec: '14.2', generated: true, vectors: paeVectors() } },
    { path: 'receipt/base64.json', content: { desc: 'Base64 as receipts use it: standard or URL-safe, one spelling', spec: '15', generated: true, vectors: base64Vectors() } },
    { path: 'receipt/keys.json', content: { desc: 'Receipt keys: key id, JWK, signed-note verifier key, and keys refused', spec: '14.1', generated: true, vectors: await keyVectors() } },
    {
      path: 'receipt/receipts.json',
      content: {
        desc: 'Receipts and their verification: envelopes (as JSON or as exact "text"), public keys (PEM), optional composition and output bytes; wantOk, or the first failing check (wantCheck) and its code (wantErr)',
        spec: '15',
        generated: true,
        keys: { application: { rfc8032: 'section 7.1 TEST 1', secretKeyHex: APPLICATION_KEY.seedHex, keyId: APPLICATION_KEY.keyId }, gateway: { rfc8032: 'section 7.1 TEST 2', secretKeyHex: GATEWAY_KEY.seedHex, keyId: GATEWAY_KEY.keyId } },
        vectors: await asserted(receiptVectors()),
      },
    },
  ];
}

