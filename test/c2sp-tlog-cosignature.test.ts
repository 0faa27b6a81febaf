/** C2SP tlog-cosignature: cosignature/v1 signed message, key IDs with type 0x04, verification of witness lines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cosignatureSigner,
  cosignatureVerifier,
  cosignCheckpoint,
  cosignedMessage,
  formatCosignerKey,
  formatNote,
  noteSigner,
  parseCosignerKey,
  parseNote,
  signNote,
  verifyCosignatures,
} from '../src/log/index.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { CHECKPOINT_TEXT, cosignatureLine, LOG_KEY, verifierKeyOf, WITNESS_KEYS } from './fixtures/log-keys.ts';

const logKey = await parsePrivateKey(LOG_KEY.privateKeyPem);
const witnessKeys = await Promise.all(WITNESS_KEYS.map((key) => parsePrivateKey(key.privateKeyPem)));
const signed = parseNote(await signNote(CHECKPOINT_TEXT, noteSigner(LOG_KEY.name, logKey)));

test('the signed message is "cosignature/v1", the time line, then the checkpoint text', () => {
  assert.equal(cosignedMessage('o\n1\nX\n', 1679315147), 'cosignature/v1\ntime 1679315147\no\n1\nX\n');
});

test('a cosignature line is byte for byte what an independent signer makes, and verifies', async () => {
  const signer = cosignatureSigner(WITNESS_KEYS[0]!.name, witnessKeys[0]!, () => 1767225600);
  const cosigned = formatNote(await cosignCheckpoint(signed, signer));
  assert.ok(cosigned.endsWith(cosignatureLine(WITNESS_KEYS[0]!, CHECKPOINT_TEXT, 1767225600)));
  const verifier = await parseCosignerKey(verifierKeyOf(WITNESS_KEYS[0]!, 0x04));
  assert.equal(verifier.keyHash, signer.keyHash);
  const cosignatures = await verifyCosignatures(cosigned, [verifier]);
  assert.deepEqual(cosignatures.map(({ name, timestamp }) => ({ name, timestamp })), [{ name: 'witness1.example', timestamp: 1767225600 }]);
  assert.equal(formatCosignerKey(WITNESS_KEYS[0]!.name, witnessKeys[0]!.publicKey), verifierKeyOf(WITNESS_KEYS[0]!, 0x04));
});

test('the log\'s own Ed25519 signature is not a cosignature: type 0x04 gives another key ID', async () => {
  const sameKey = cosignatureVerifier(LOG_KEY.name, logKey.publicKey);
  assert.deepEqual(await verifyCosignatures(signed, [sameKey]), []);
});

test('a cosignature over another time or text fails; unknown witnesses are ignored', async () => {
  const signer = cosignatureSigner(WITNESS_KEYS[1]!.name, witnessKeys[1]!, () => 1767225601);
  const cosigned = await cosignCheckpoint(signed, signer);
  const verifier = cosignatureVerifier(WITNESS_KEYS[1]!.name, witnessKeys[1]!.publicKey);
  const last = cosigned.signatures.at(-1)!;
  const later = Uint8Array.from(last.signature);
  later[7]! ^= 1;
  await assert.rejects(verifyCosignatures({ ...cosigned, signatures: [...signed.signatures, { ...last, signature: later }] }, [verifier]), {
    name: 'LogError',
    code: 'ERR_LOG_COSIGNATURE_INVALID',
    message: 'signature verification failed',
  });
  await assert.rejects(verifyCosignatures({ ...cosigned, text: CHECKPOINT_TEXT.replace('13', '14') }, [verifier]), {
    code: 'ERR_LOG_COSIGNATURE_INVALID',
    message: 'signature verification failed',
  });
  const other = cosignatureVerifier(WITNESS_KEYS[2]!.name, witnessKeys[2]!.publicKey);
  assert.deepEqual(await verifyCosignatures(cosigned, [other]), []);
});

test('cosigner keys are read strictly', async () => {
  await assert.rejects(parseCosignerKey(verifierKeyOf(WITNESS_KEYS[0]!)), { name: 'KeyError', code: 'ERR_KEY_UNSUPPORTED', message: 'cosigner key is not a cosignature/v1 (type 0x04) key' });
  await assert.rejects(parseCosignerKey('witness+00000000+BA=='), { code: 'ERR_KEY_INVALID', message: 'cosigner key must hold a 32-byte Ed25519 key' });
  await assert.rejects(parseCosignerKey('witness'), { code: 'ERR_KEY_INVALID', message: 'cosigner key is not of the form <name>+<8 hex digits>+<base64>' });
  const good = verifierKeyOf(WITNESS_KEYS[0]!, 0x04);
  const wrongHash = good.replace(/\+([0-9a-f])/, (_, c: string) => `+${c === '0' ? '1' : '0'}`);
  await assert.rejects(parseCosignerKey(wrongHash), { code: 'ERR_KEY_INVALID', message: 'cosigner key hash does not match its name and key' });
});
