/** C2SP tlog-proof@v1: format/parse, and offline verification with a k-of-n witness policy. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cosignatureSigner,
  cosignatureVerifier,
  cosignCheckpoint,
  formatCheckpoint,
  formatTlogProof,
  noteSigner,
  noteVerifier,
  parseNote,
  parseTlogProof,
  signNote,
  verifyTlogProof,
  type Note,
} from '../src/log/index.ts';
import { proveInclusion, rootHashAt } from '../src/merkle/index.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { LOG_KEY, testEntries, WITNESS_KEYS } from './fixtures/log-keys.ts';

const logKey = await parsePrivateKey(LOG_KEY.privateKeyPem);
const witnessKeys = await Promise.all(WITNESS_KEYS.map((key) => parsePrivateKey(key.privateKeyPem)));
const entries = testEntries(20);
const leafHashes = entries.map(hashLeaf);
const witnesses = WITNESS_KEYS.map((key, i) => cosignatureVerifier(key.name, witnessKeys[i]!.publicKey));
const policy = { logKey: noteVerifier(LOG_KEY.name, logKey.publicKey), witnesses, threshold: 2 };

async function checkpointNote(cosigners: number[]): Promise<Note> {
  const text = formatCheckpoint({ origin: LOG_KEY.name, size: 20, rootHash: rootHashAt(leafHashes, 20) });
  let note = parseNote(await signNote(text, noteSigner(LOG_KEY.name, logKey)));
  for (const n of cosigners) note = await cosignCheckpoint(note, cosignatureSigner(WITNESS_KEYS[n]!.name, witnessKeys[n]!, () => 1767225600 + n));
  return note;
}

test('format and parse are inverse; the layout is the spec\'s', async () => {
  const proof = { extra: new Uint8Array([1, 2, 3]), index: 9, proof: proveInclusion(leafHashes, 9).map((hash) => Uint8Array.from(hash)), checkpoint: await checkpointNote([0]) };
  const text = formatTlogProof(proof);
  assert.match(text, /^c2sp\.org\/tlog-proof@v1\nextra AQID\nindex 9\n([A-Za-z0-9+/]{43}=\n){5}\nexample\.com\/runprint-test-log\n20\n/);
  assert.deepEqual(parseTlogProof(text), proof);
  const plain = formatTlogProof({ index: 0, proof: [], checkpoint: proof.checkpoint });
  assert.ok(plain.startsWith('c2sp.org/tlog-proof@v1\nindex 0\n\n'));
  assert.equal(parseTlogProof(plain).extra, undefined);
});

test('verifies offline with k of n witnesses, and refuses fewer', async () => {
  for (const [cosigners, threshold, ok] of [[[0, 1], 2, true], [[0, 1, 2], 3, true], [[2], 1, true], [[], 0, true], [[1], 2, false], [[], 1, false]] as const) {
    const text = formatTlogProof({ index: 9, proof: proveInclusion(leafHashes, 9), checkpoint: await checkpointNote([...cosigners]) });
    const run = verifyTlogProof(text, entries[9]!, { ...policy, threshold });
    if (ok) assert.equal((await run).cosignatures.length, cosigners.length);
    else await assert.rejects(run, { name: 'LogError', code: 'ERR_LOG_COSIGNATURE_INVALID', message: 'checkpoint has fewer witness cosignatures than the policy requires' });
  }
});

test('each check fails with its own code', async () => {
  const checkpoint = await checkpointNote([0, 1]);
  const good = { index: 9, proof: proveInclusion(leafHashes, 9), checkpoint };
  await assert.rejects(verifyTlogProof(formatTlogProof(good), entries[8]!, policy), { code: 'ERR_LOG_PROOF_INVALID', message: 'inclusion proof does not lead to the checkpoint root hash' });
  await assert.rejects(verifyTlogProof({ ...good, index: 8 }, entries[9]!, policy), { code: 'ERR_LOG_PROOF_INVALID' });
  await assert.rejects(verifyTlogProof(good, entries[9]!, { ...policy, origin: 'example.com/another-log' }), { code: 'ERR_LOG_CHECKPOINT_INVALID', message: 'checkpoint origin is not the log\'s origin' });
  const stranger = await parsePrivateKey(WITNESS_KEYS[2]!.privateKeyPem);
  const strangerKey = noteVerifier(LOG_KEY.name, stranger.publicKey);
  await assert.rejects(verifyTlogProof(good, entries[9]!, { ...policy, logKey: strangerKey }), {
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: new RegExp(`^the tlog-proof's checkpoint \\(log "${LOG_KEY.name}"\\) is signed by ${LOG_KEY.name}\\+${policy.logKey.keyHash}, .*; the log key is ${LOG_KEY.name}\\+${strangerKey.keyHash} \\(another key with the same name\\)$`),
  });
  // The same witness twice counts once.
  await assert.rejects(verifyTlogProof(good, entries[9]!, { ...policy, witnesses: [witnesses[0]!, witnesses[0]!], threshold: 2 }), { code: 'ERR_LOG_COSIGNATURE_INVALID' });
  assert.throws(() => parseTlogProof('c2sp.org/tlog-proof@v1\nindex 01\n\nx'), { code: 'ERR_LOG_TLOG_PROOF_INVALID', message: 'tlog-proof index must be "index " and a decimal with no leading zeros' });
  assert.throws(() => parseTlogProof('c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx'), { code: 'ERR_LOG_TLOG_PROOF_INVALID', message: 'tlog-proof inclusion proof hash must be 32 bytes in standard base64' });
  assert.throws(() => parseTlogProof('c2sp.org/tlog-proof@v1\nextra AQI\nindex 1\n\nx'), { code: 'ERR_LOG_TLOG_PROOF_INVALID', message: 'tlog-proof extra data is not standard base64' });
  assert.throws(() => parseTlogProof('c2sp.org/tlog-proof@v1\nindex 1\n\nnot a note'), { code: 'ERR_LOG_TLOG_PROOF_INVALID', message: 'tlog-proof checkpoint is not a signed note' });
  assert.throws(() => parseTlogProof('tlog-proof\nindex 1\n\nx'), { code: 'ERR_LOG_TLOG_PROOF_INVALID', message: 'tlog-proof must start with c2sp.org/tlog-proof@v1 and hold a checkpoint after a blank line' });
  await assert.rejects(verifyTlogProof(good, entries[9]!, { ...policy, threshold: 4 }), { name: 'RangeError', message: 'threshold must be an integer from 0 to the number of witnesses' });
});
