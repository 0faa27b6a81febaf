/**
 * Programmer errors at the public entry points: an argument of the wrong type (key text where a
 * key object is expected, text where bytes are, a missing options object) is a plain TypeError
 * whose message says what was expected, thrown before WebCrypto or a parser sees the value and
 * fails with a message about something else, or a hash of the wrong type silently gives false,
 * or (createApp, openSqliteLog) long after the call that was wrong.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunprintError } from '../src/errors.ts';
import { createSalts, formatIdentity, saltBytes } from '../src/identity/index.ts';
import { parseJson } from '../src/jcs/index.ts';
import {
  cosignatureSigner,
  cosignatureVerifier,
  formatCheckpoint,
  noteSigner,
  noteVerifier,
  parseCheckpoint,
  parseNote,
  parseNoteVerifier,
  parseTlogProof,
  signNote,
  verifyNote,
  verifyTlogProof,
} from '../src/log/index.ts';
import { hashLeaf, proveInclusion, rootFromLeafHashes, verifyConsistency, verifyInclusion } from '../src/merkle/index.ts';
import { compositionFromRequest, rawDigest, requestFromComposition, runOutputFrom } from '../src/providers/index.ts';
import {
  addSignature,
  checkLogProof,
  createDisclosure,
  generateKeyFiles,
  importPublicKey,
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
  receiptFactsOf,
  signReceipt,
  signStatement,
  verifyReceipt,
  type ReceiptFacts,
} from '../src/receipt/index.ts';
import { buildStatement } from '../src/receipt/statement.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { createApp } from '../src/server/index.ts';
import { openSqliteLog, TransparencyLog } from '../src/store/index.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';

const files = await generateKeyFiles('test-key');
const signingKey = await parsePrivateKey(files.privateKeyPem);
const publicKey = await parsePublicKey(files.publicKeyPem);

const composition = {
  version: 'runprint/v1',
  model: { name: 'gpt-4o' },
  parameters: {},
  configuration: {},
  system: [],
  input: [{ role: 'user', content: 'Hello' }],
  context: [],
  tools: [],
  served: {},
};
const output = runOutputFrom(new TextEncoder().encode('{"text":"Hi"}'));
const facts: ReceiptFacts = {
  identity: computeIdentity(composition),
  requestedModel: 'gpt-4o',
  output: { digest: output.digest, rawDigest: output.rawDigest, finishReason: null, usage: null, stream: false },
  capture: 'sdk',
  runprintVersion: '0.0.0',
};
const receipt = JSON.stringify(await signReceipt(facts, signingKey));

/** A TypeError (never a RunprintError) whose message matches. */
function typeError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
    assert.ok(!(error instanceof RunprintError));
    assert.match(error.message, pattern);
    return true;
  };
}

test('verifyReceipt: key text, a signing key, no options, output as text are TypeErrors naming what was expected', async () => {
  // A valid receipt, so that the old code reached WebCrypto with the PEM text.
  await assert.rejects(verifyReceipt(receipt, { keys: [files.publicKeyPem as never] }), typeError(/options\.keys\[0\] must be a public key object: parse key text .* with parsePublicKey/));
  await assert.rejects(verifyReceipt(receipt, { keys: [signingKey as never] }), typeError(/options\.keys\[0\] must be a public key object, not a signing key: give its publicKey/));
  await assert.rejects(verifyReceipt(receipt, undefined as never), typeError(/^verifyReceipt options must be an object, not undefined$/));
  await assert.rejects(verifyReceipt(receipt, { keys: [publicKey], output: '{"text":"Hi"}' as never }), typeError(/^verifyReceipt options\.output must be a Uint8Array, not a string/));
  // The right arguments still verify.
  assert.equal((await verifyReceipt(receipt, { keys: [publicKey], output: new TextEncoder().encode('{"text":"Hi"}') })).ok, true);
});

test('signReceipt, signStatement, addSignature: key text or a public key is a TypeError, before signing', async () => {
  await assert.rejects(signReceipt(facts, files.privateKeyPem as never), typeError(/^signReceipt key must be a signing key object: parse the PEM text with parsePrivateKey first$/));
  await assert.rejects(signReceipt(facts, publicKey as never), typeError(/^signReceipt key must be a signing key object from parsePrivateKey, not a public key$/));
  await assert.rejects(signReceipt(undefined as never, signingKey), typeError(/^signReceipt facts must be an object, not undefined$/));
  await assert.rejects(signReceipt({} as never, signingKey), typeError(/^signReceipt facts\.identity \(an identity document from computeIdentity\) must be an object, not undefined$/));
  await assert.rejects(signStatement(buildStatement(facts), files.privateKeyPem as never), typeError(/^signStatement key must be a signing key object/));
  await assert.rejects(addSignature(receipt, files.privateKeyPem as never), typeError(/^addSignature key must be a signing key object/));
});

test('parsePublicKey and parsePrivateKey take the key file as text or bytes; anything else is a TypeError', async () => {
  assert.equal((await parsePublicKey(Buffer.from(files.publicKeyPem))).keyId, files.keyId);
  assert.equal((await parsePublicKey(new TextEncoder().encode(files.verifierKey))).keyId, files.keyId);
  assert.equal((await parsePrivateKey(new TextEncoder().encode(files.privateKeyPem))).keyId, files.keyId);
  await assert.rejects(parsePublicKey(undefined as never), typeError(/^public key must be the key file's text \(a string or its bytes\), not undefined$/));
  await assert.rejects(parsePrivateKey({ pem: files.privateKeyPem } as never), typeError(/^private key must be the key file's text/));
  // Bytes that are not UTF-8 are a bad key file, not a programmer error.
  await assert.rejects(parsePublicKey(Uint8Array.of(0xff, 0xfe)), { code: 'ERR_KEY_INVALID', message: 'public key is not UTF-8 text' });
});

test('importPublicKey, keyIdOf and generateKeyFiles: raw keys are bytes, names are strings', async () => {
  await assert.rejects(importPublicKey('x'.repeat(32) as never), typeError(/^importPublicKey raw key must be a Uint8Array, not a string/));
  await assert.rejects(importPublicKey(Array.from(publicKey.raw) as never), typeError(/^importPublicKey raw key must be a Uint8Array, not an array$/));
  assert.throws(() => keyIdOf('x'.repeat(32) as never), typeError(/^keyIdOf raw key must be a Uint8Array/));
  await assert.rejects(generateKeyFiles(undefined as never), typeError(/^generateKeyFiles name must be a string, not undefined$/));
});

test('createDisclosure: a missing options object or a reveal given as a bare name is a TypeError', () => {
  const served = { ...composition, served: { model: { source: 'reported', value: 'gpt-4o-2024-08-06' } } };
  assert.throws(() => createDisclosure(served, undefined as never), typeError(/^createDisclosure options must be an object with "reveal"/));
  assert.throws(() => createDisclosure(served, { reveal: ['model'] as never }), typeError(/^each reveal must be \{ component: "name" \}/));
  assert.equal(createDisclosure(served, { reveal: [{ component: 'model' }] }).components.model?.value !== undefined, true);
});

test('checkLogProof and verifyTlogProof: the entry is bytes, the policy an object, the log key a parsed verifier', async () => {
  const logKey = noteVerifier('log.example', publicKey);
  const policy = { logKey, witnesses: [], threshold: 0 };
  await assert.rejects(checkLogProof(undefined as never), typeError(/^log proof options must be an object, not undefined$/));
  await assert.rejects(checkLogProof({ proof: 'x', entry: receipt as never, policy }), typeError(/^log proof "entry" \(the receipt file's exact bytes\) must be a Uint8Array, not a string/));
  await assert.rejects(verifyReceipt(receipt, { keys: [publicKey], logProof: 'proof text' as never }), typeError(/^verifyReceipt options\.logProof must be an object/));
  // The old code hashed the UTF-16 code units of a string as if they were bytes, or failed on a missing policy.
  await assert.rejects(verifyTlogProof('x', receipt as never, policy), typeError(/^verifyTlogProof leaf data \(the exact bytes submitted to the log\) must be a Uint8Array/));
  await assert.rejects(verifyTlogProof('x', new Uint8Array(), undefined as never), typeError(/^verifyTlogProof policy must be an object, not undefined$/));
  await assert.rejects(verifyTlogProof('x', new Uint8Array(), { ...policy, logKey: files.verifierKey as never }), typeError(/^verifyTlogProof policy\.logKey must be a NoteVerifier: parse verifier key text with parseNoteVerifier first$/));
  await assert.rejects(verifyTlogProof('x', new Uint8Array(), { logKey, threshold: 0 } as never), typeError(/^verifyTlogProof policy\.witnesses must be an array/));
  assert.throws(() => parseTlogProof(Buffer.from('c2sp.org/tlog-proof@v1\n') as never), typeError(/^a tlog-proof must be its text \(read the file as UTF-8\), not bytes$/));
});

test('signed notes and checkpoints: keys are key objects, verifiers and signers are objects, texts are strings', async () => {
  assert.throws(() => noteVerifier('log.example', files.publicKeyPem as never), typeError(/^noteVerifier key must be a public key object: parse key text/));
  assert.throws(() => noteSigner('log.example', files.privateKeyPem as never), typeError(/^noteSigner key must be a signing key object: parse the PEM text/));
  assert.throws(() => cosignatureVerifier('witness.example', files.publicKeyPem as never), typeError(/^cosignatureVerifier key must be a public key object/));
  assert.throws(() => cosignatureSigner('witness.example', files.publicKeyPem as never), typeError(/^cosignatureSigner key must be a signing key object/));
  await assert.rejects(parseNoteVerifier(undefined as never), typeError(/^parseNoteVerifier verifier key must be a string, not undefined$/));
  assert.throws(() => parseNote(undefined as never), typeError(/^a signed note must be its text or its bytes, not undefined$/));
  assert.throws(() => parseCheckpoint(undefined as never), typeError(/^checkpoint text must be a string/));
  const text = formatCheckpoint({ origin: 'log.example', size: 0, rootHash: new Uint8Array(32) });
  const note = await signNote(text, noteSigner('log.example', signingKey));
  await assert.rejects(signNote(text, files.privateKeyPem as never), typeError(/^note signers must be NoteSigner objects \(from noteSigner\), not a string$/));
  await assert.rejects(verifyNote(note, files.verifierKey as never), typeError(/^verifyNote verifiers must be an array of NoteVerifier objects, not a string$/));
  await assert.rejects(verifyNote(note, [files.verifierKey] as never), typeError(/^verifyNote verifiers\[0\] must be a NoteVerifier: parse verifier key text with parseNoteVerifier first$/));
  assert.equal((await verifyNote(note, [noteVerifier('log.example', publicKey)])).text, text);
});

test('merkle: hashes given as text are a TypeError, not a silently wrong hash or a false', () => {
  const leaves = [hashLeaf(Uint8Array.of(1)), hashLeaf(Uint8Array.of(2))];
  const root = rootFromLeafHashes(leaves);
  const proof = proveInclusion(leaves, 0);
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  assert.throws(() => hashLeaf('abc' as never), typeError(/^hashLeaf leaf must be a Uint8Array, not text \(decode hex or base64 first\)$/));
  assert.throws(() => rootFromLeafHashes('abc' as never), typeError(/^rootFromLeafHashes leafHashes must be an array/));
  assert.throws(() => proveInclusion('ab' as never, 0), typeError(/^proveInclusion leafHashes must be an array/));
  assert.throws(() => verifyInclusion(hex(leaves[0]!) as never, 0, 2, proof, root), typeError(/^verifyInclusion leafHash must be a Uint8Array/));
  assert.throws(() => verifyInclusion(leaves[0]!, 0, 2, proof.map(hex) as never, root), typeError(/^each of verifyInclusion proof must be a Uint8Array/));
  assert.throws(() => verifyInclusion(leaves[0]!, 0, 2, proof, hex(root) as never), typeError(/^verifyInclusion rootHash must be a Uint8Array/));
  assert.throws(() => verifyConsistency(1, 2, proof, hex(leaves[0]!) as never, root), typeError(/^verifyConsistency oldRoot must be a Uint8Array/));
  assert.equal(verifyInclusion(leaves[0]!, 0, 2, proof, root), true);
  assert.equal(hex(hashLeaf(Buffer.from([1]))), hex(leaves[0]!));
});

test('identity and jcs: salts from a name list, identity digests as bytes, parse options as an object', () => {
  assert.throws(() => createSalts('input' as never), typeError(/^createSalts takes an array \(or other iterable\) of component names/));
  assert.throws(() => createSalts(undefined as never), typeError(/^createSalts takes an array/));
  assert.deepEqual(Object.keys(createSalts(['system', 'input'])), ['system', 'input']);
  assert.throws(() => saltBytes(undefined as never), typeError(/^a salt must be a string of 64 lowercase hex digits$/));
  assert.throws(() => formatIdentity('run', 'ab'.repeat(32) as never), typeError(/^identity digest must be a Uint8Array of 32 bytes/));
  assert.throws(() => formatIdentity('runs' as never, new Uint8Array(32)), { name: 'RangeError', message: 'identity kind must be "req" or "run"' });
  assert.throws(() => parseJson('{}', 1000 as never), typeError(/^parseJson options must be an object such as \{ maxBytes, maxDepth \}$/));
});

test('requestFromComposition: no composition, or JSON text, or a component of the wrong type is a TypeError, not a property read of undefined', () => {
  assert.throws(() => requestFromComposition(undefined as never), typeError(/^requestFromComposition composition must be a composition object \(from parseComposition or compositionFromRequest\), not undefined$/));
  assert.throws(() => requestFromComposition(JSON.stringify(composition) as never), typeError(/^requestFromComposition composition must be a composition object .*, not a string$/));
  assert.throws(() => requestFromComposition({} as never), typeError(/^requestFromComposition composition\.model must be an object, not undefined: give a composition object/));
  assert.throws(() => requestFromComposition({ ...composition, input: 'Hello' } as never), typeError(/^requestFromComposition composition\.input must be an array, not a string: give a composition object/));
  // A composition of the right type that no request maps to is bad input, with its code.
  assert.throws(() => requestFromComposition({ ...composition, model: { name: 'gpt-4o' } } as never), { code: 'ERR_PROVIDER_UNKNOWN_FORMAT' });
  const request = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }], temperature: 0 };
  assert.deepEqual(requestFromComposition(compositionFromRequest('openai-chat', request)), request);
});

test('rawDigest and receiptFactsOf: the body is bytes and the run facts an object, never text or nothing', () => {
  assert.throws(() => rawDigest('text' as never), typeError(/^rawDigest body must be a Uint8Array, not a string \(encode text with TextEncoder, or read the file without an encoding\)$/));
  assert.throws(() => rawDigest(undefined as never), typeError(/^rawDigest body must be a Uint8Array, not undefined$/));
  assert.equal(rawDigest(new TextEncoder().encode('text')).sha256, createHash('sha256').update('text').digest('hex'));
  const read = () => ({ composition: structuredClone(composition) as never, format: 'composition' as const });
  const run = { output: new TextEncoder().encode('{"text":"Hi"}'), capture: 'sdk' as const, runprintVersion: '0.0.0' };
  assert.throws(() => receiptFactsOf(read(), undefined as never), typeError(/^receiptFactsOf run \(\{ output, capture, runprintVersion \}\) must be an object, not undefined$/));
  assert.throws(() => receiptFactsOf(undefined as never, run), typeError(/^receiptFactsOf read \(\{ composition, format \}, as compositionFromDocument gives it\) must be an object, not undefined$/));
  assert.throws(() => receiptFactsOf({ composition: undefined as never, format: 'composition' }, run), typeError(/^receiptFactsOf read\.composition must be an object, not undefined$/));
  assert.throws(() => receiptFactsOf(read(), { ...run, output: '{"text":"Hi"}' as never }), typeError(/^receiptFactsOf run\.output \(the response body exactly as received\) must be a Uint8Array, not a string/));
  assert.deepEqual(receiptFactsOf(read(), run).identity, facts.identity);
});

test('openSqliteLog and TransparencyLog.open: a PEM text as key is a TypeError, before the database file is made', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'runprint-library-arguments-'));
  try {
    const path = join(folder, 'log.sqlite');
    await assert.rejects(openSqliteLog({ path, origin: 'log.example', key: files.privateKeyPem as never }), typeError(/^openSqliteLog options\.key must be a signing key object: parse the PEM text with parsePrivateKey first$/));
    await assert.rejects(openSqliteLog({ path, origin: 'log.example', key: publicKey as never }), typeError(/^openSqliteLog options\.key must be a signing key object from parsePrivateKey, not a public key$/));
    await assert.rejects(openSqliteLog({ path, key: signingKey } as never), typeError(/^openSqliteLog options\.origin must be a string, not undefined$/));
    await assert.rejects(openSqliteLog(undefined as never), typeError(/^openSqliteLog options must be an object, not undefined$/));
    assert.equal(existsSync(path), false, 'no database file for a call that was wrong');
    await assert.rejects(TransparencyLog.open({ storage: SqliteLog.open(path), origin: 'log.example', key: files.privateKeyPem as never }), typeError(/^TransparencyLog\.open options\.key must be a signing key object: parse the PEM text/));
    const log = await openSqliteLog({ path, origin: 'log.example', key: signingKey });
    assert.equal((await log.checkpoint()).size, 0);
    await log.close();
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('createApp: a sign key given as PEM text, or no sign token, is a TypeError when the app is made, not at the first signing', async () => {
  assert.throws(() => createApp({ sign: { key: files.privateKeyPem as never, token: 't', runprintVersion: '0.0.0' } }), typeError(/^createApp options\.sign\.key must be a signing key object: parse the PEM text with parsePrivateKey first$/));
  assert.throws(() => createApp({ sign: { key: publicKey as never, token: 't', runprintVersion: '0.0.0' } }), typeError(/^createApp options\.sign\.key must be a signing key object from parsePrivateKey, not a public key$/));
  // A missing token would otherwise be compared as the text "undefined".
  assert.throws(() => createApp({ sign: { key: signingKey, runprintVersion: '0.0.0' } as never }), typeError(/^createApp options\.sign\.token must be a string, not undefined$/));
  assert.throws(() => createApp({ sign: { key: signingKey, token: '', runprintVersion: '0.0.0' } }), typeError(/^createApp options\.sign\.token must not be empty$/));
  assert.throws(() => createApp({ sign: files.privateKeyPem as never }), typeError(/^createApp options\.sign must be an object, not a string$/));
  const app = createApp({ sign: { key: signingKey, token: 't', runprintVersion: '0.0.0' } });
  const signed = await app.request('/v1/sign', { method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify({ composition, output: '{"text":"Hi"}' }) });
  assert.equal(signed.status, 200);
  assert.equal((await verifyReceipt(await signed.text(), { keys: [publicKey] })).ok, true);
});
