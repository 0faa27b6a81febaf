/**
 * The edges of the log formats (C2SP tlog-checkpoint and signed-note): every refusal with its code
 * and message, the limits (decimal sizes, 44-character hashes, 100 signature lines, 5-byte
 * signature data), and note verification that ignores unknown keys but fails on a known key's bad
 * signature.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCheckpoint, parseCheckpoint, parseDecimal, parseHash } from '../src/log/checkpoint.ts';
import {
  addSignatures,
  checkNoteText,
  formatNote,
  MAX_NOTE_SIGNATURES,
  parseNote,
  requireNoteVerifier,
  signNote,
  verifiedSignatures,
  verifyNote,
  type NoteSignature,
} from '../src/log/note.ts';
import { noteSigner, noteVerifier, noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { LOG_KEY, WITNESS_KEYS } from './fixtures/log-keys.ts';

const generateSigningKey = (() => {
  let next = 0;
  const pems = [LOG_KEY.privateKeyPem, WITNESS_KEYS[0]!.privateKeyPem, WITNESS_KEYS[1]!.privateKeyPem];
  return () => parsePrivateKey(pems[next++ % pems.length]!);
})();

const HASH = new Uint8Array(32).fill(7);
const HASH_TEXT = Buffer.from(HASH).toString('base64');

test('checkpoint: decimals and hashes at their limits', () => {
  for (const [text, want] of [
    ['0', 0],
    ['7', 7],
    ['10', 10],
    ['9007199254740991', 2 ** 53 - 1],
    ['9007199254740992', undefined],
    ['00', undefined],
    ['01', undefined],
    ['-1', undefined],
    ['+1', undefined],
    ['1.0', undefined],
    ['1e3', undefined],
    ['', undefined],
    [' 1', undefined],
    ['1 ', undefined],
    ['1\n', undefined],
  ] as const) {
    assert.equal(parseDecimal(text), want, JSON.stringify(text));
  }
  assert.deepEqual(parseHash(HASH_TEXT), HASH);
  assert.equal(HASH_TEXT.length, 44);
  for (const text of [HASH_TEXT.slice(0, -1), `${HASH_TEXT}=`, HASH_TEXT.replace('=', ''), HASH_TEXT.replace(/^./, '-'), HASH_TEXT.replace(/^./, '_'), `A${HASH_TEXT.slice(1, -2)}==`, ` ${HASH_TEXT.slice(1)}`, Buffer.alloc(33).toString('base64').slice(0, 44)]) {
    assert.equal(parseHash(text), undefined, text);
  }
  // 44 characters of base64 that decode to 31 or 33 bytes are not a hash either.
  assert.equal(parseHash(`${Buffer.alloc(31).toString('base64')}`.padEnd(44, '=')), undefined);
});

test('checkpoint: formatted and parsed, every refusal with its message', () => {
  const text = `example.com/log\n5\n${HASH_TEXT}\n`;
  assert.equal(formatCheckpoint({ origin: 'example.com/log', size: 5, rootHash: HASH }), text);
  assert.deepEqual(parseCheckpoint(text), { origin: 'example.com/log', size: 5, rootHash: HASH });
  assert.equal('extensions' in parseCheckpoint(text), false);
  assert.equal(formatCheckpoint({ origin: 'o', size: 0, rootHash: HASH, extensions: ['a b', 'c'] }), `o\n0\n${HASH_TEXT}\na b\nc\n`);
  assert.deepEqual(parseCheckpoint(`o\n0\n${HASH_TEXT}\na b\nc\n`), { origin: 'o', size: 0, rootHash: HASH, extensions: ['a b', 'c'] });
  const formatRefused = (checkpoint: object, message: string) =>
    assert.throws(() => formatCheckpoint(checkpoint as never), { code: 'ERR_LOG_CHECKPOINT_INVALID', message }, message);
  formatRefused({ origin: '', size: 1, rootHash: HASH }, 'checkpoint origin must be one non-empty line');
  formatRefused({ origin: 'a\nb', size: 1, rootHash: HASH }, 'checkpoint origin must be one non-empty line');
  for (const size of [-1, 1.5, 2 ** 53, Number.NaN]) formatRefused({ origin: 'o', size, rootHash: HASH }, 'checkpoint size must be a non-negative safe integer');
  formatRefused({ origin: 'o', size: 1, rootHash: new Uint8Array(31) }, 'checkpoint root hash must be 32 bytes');
  formatRefused({ origin: 'o', size: 1, rootHash: HASH, extensions: ['ok', ''] }, 'checkpoint extension line must be one non-empty line');
  formatRefused({ origin: 'o', size: 1, rootHash: HASH, extensions: ['x\ny'] }, 'checkpoint extension line must be one non-empty line');
  assert.throws(() => formatCheckpoint({ origin: 'o\u0001', size: 1, rootHash: HASH }), { code: 'ERR_LOG_NOTE_INVALID', message: 'note contains an ASCII control character other than newline' });
  const parseRefused = (value: string, message: string) => assert.throws(() => parseCheckpoint(value), { code: 'ERR_LOG_CHECKPOINT_INVALID', message }, JSON.stringify(value));
  assert.throws(() => parseCheckpoint(5 as never), { name: 'TypeError', message: 'checkpoint text must be a string (the text of a verified note)' });
  parseRefused(text.slice(0, -1), 'checkpoint must end with a newline');
  parseRefused(`o\u0007\n1\n${HASH_TEXT}\n`, 'checkpoint contains a character a note may not hold');
  parseRefused('\n', 'checkpoint contains a character a note may not hold');
  parseRefused(`o\n1\n`, 'checkpoint must have an origin, a size and a root hash line');
  parseRefused(`\n1\n${HASH_TEXT}\n`, 'checkpoint origin must be one non-empty line');
  for (const size of ['01', '-1', '', '9007199254740992']) parseRefused(`o\n${size}\n${HASH_TEXT}\n`, 'checkpoint size must be a decimal with no leading zeros, at most 2^53 - 1');
  parseRefused(`o\n1\n${HASH_TEXT.slice(1)}\n`, 'checkpoint root hash must be 32 bytes in standard base64');
  parseRefused(`o\n1\n${HASH_TEXT}\n\n`, 'checkpoint extension lines must be non-empty');
  parseRefused(`o\n1\n${HASH_TEXT}\nx\n\ny\n`, 'checkpoint extension lines must be non-empty');
});

test('note text and signature lines: every refusal with its message', async () => {
  const refusedText = (text: string, message: string) => assert.throws(() => checkNoteText(text), { code: 'ERR_LOG_NOTE_INVALID', message }, JSON.stringify(text));
  refusedText('a\ud800\n', 'note is not valid UTF-8');
  refusedText('a\tb\n', 'note contains an ASCII control character other than newline');
  refusedText('a\u001f\n', 'note contains an ASCII control character other than newline');
  refusedText('a\u000b\n', 'note contains an ASCII control character other than newline');
  refusedText('', 'note text is empty');
  refusedText('\n', 'note text is empty');
  refusedText('a', 'note text must end with a newline');
  assert.doesNotThrow(() => checkNoteText('a\u007f\u0080 é\n\n'));
  const key = await generateSigningKey();
  const signer = noteSigner('example.com/log', key);
  const verifier = noteVerifier('example.com/log', key.publicKey);
  assert.equal(signer.keyHash, verifier.keyHash);
  assert.match(signer.keyHash, /^[0-9a-f]{8}$/);
  const signed = await signNote('hello\n', signer);
  const note = parseNote(signed);
  assert.equal(note.text, 'hello\n');
  assert.equal(note.signatures.length, 1);
  assert.equal(note.signatures[0]!.signature.length, 64);
  assert.equal(formatNote(note), signed);
  assert.deepEqual(parseNote(new TextEncoder().encode(signed)), note);
  const line = signed.slice(signed.indexOf('\u2014'));
  const refused = (input: string | Uint8Array, message: string) => assert.throws(() => parseNote(input), { code: 'ERR_LOG_NOTE_INVALID', message }, String(input));
  refused(new Uint8Array([0x68, 0xff, 0x0a, 0x0a]), 'note is not valid UTF-8');
  refused(`a\ud800\n\n${line}`, 'note is not valid UTF-8');
  refused(`a\u0000\n\n${line}`, 'note contains an ASCII control character other than newline');
  refused(`hello\n${line}`, 'note has no blank line before its signatures');
  refused(`hello\n\n`, 'note signature block must be lines ending in a newline');
  refused(`hello\n\n${line.slice(0, -1)}`, 'note signature block must be lines ending in a newline');
  refused(`\n\n${line}`, 'note text is empty');
  refused(`hello\n\n- ${line.slice(2)}`, 'note signature line must start with "— "');
  refused(`hello\n\n\u2014 example.com/log\n`, 'note signature key name must be non-empty with no spaces and no "+"');
  refused(`hello\n\n\u2014  AAAAAAA=\n`, 'note signature key name must be non-empty with no spaces and no "+"');
  refused(`hello\n\n\u2014 a+b AAAAAAA=\n`, 'note signature key name must be non-empty with no spaces and no "+"');
  for (const data of ['AAAAAAA', 'AAAAAAA=A', 'AAAA-AA=', '', 'AAAAAA==x']) refused(`hello\n\n\u2014 k ${data}\n`, 'note signature is not standard, padded base64');
  refused(`hello\n\n\u2014 k AAAAAA==\n`, 'note signature is shorter than a key ID and a signature');
  assert.equal(parseNote(`hello\n\n\u2014 k AAAAAAA=\n`).signatures[0]!.signature.length, 1);
  refused(`hello\n\n${line}${line}`, 'note has two signatures from the same key');
  // The same name with another key ID, or another name with the same key ID, is another key.
  const other = `\u2014 other ${line.slice(line.lastIndexOf(' ') + 1)}`;
  assert.equal(parseNote(`hello\n\n${line}${other}`).signatures.length, 2);
  // Text and signatures split at the last blank line: the text may hold blank lines.
  assert.equal(parseNote(`a\n\nb\n\n${line}`).text, 'a\n\nb\n');
  assert.equal(MAX_NOTE_SIGNATURES, 100);
  const lines = (count: number) => Array.from({ length: count }, (_, i) => `\u2014 k${i} AAAAAAA=\n`).join('');
  assert.equal(parseNote(`hello\n\n${lines(100)}`).signatures.length, 100);
  refused(`hello\n\n${lines(101)}`, 'note has too many signature lines');
  assert.throws(() => parseNote(5 as never), { name: 'TypeError', message: 'a signed note must be its text or its bytes, not a number' });
  // formatNote refusals.
  const sig = (name: string, keyHash: string): NoteSignature => ({ name, keyHash, signature: new Uint8Array(64) });
  const formatRefused = (value: object, message: string) => assert.throws(() => formatNote(value as never), { code: 'ERR_LOG_NOTE_INVALID', message }, message);
  formatRefused({ text: 'a\n', signatures: [] }, 'note has no signature lines');
  formatRefused({ text: 'a\n', signatures: Array.from({ length: 101 }, (_, i) => sig(`k${i}`, '00000000')) }, 'note has too many signature lines');
  assert.equal(parseNote(formatNote({ text: 'a\n', signatures: Array.from({ length: 100 }, (_, i) => sig(`k${i}`, '00000000')) })).signatures.length, 100);
  formatRefused({ text: 'a\n', signatures: [sig('a b', '00000000')] }, 'note signature key name must be non-empty with no spaces and no "+"');
  formatRefused({ text: 'a\n', signatures: [sig('k', '0000000')] }, 'note signature key ID must be 8 lowercase hex digits');
  formatRefused({ text: 'a\n', signatures: [sig('k', '0000000A')] }, 'note signature key ID must be 8 lowercase hex digits');
  formatRefused({ text: 'a\n', signatures: [sig('k', '000000000')] }, 'note signature key ID must be 8 lowercase hex digits');
  formatRefused({ text: 'a', signatures: [sig('k', '00000000')] }, 'note text must end with a newline');
  // The key ID is written as the first four bytes.
  assert.equal(formatNote({ text: 'a\n', signatures: [{ name: 'k', keyHash: '0a1b2c3d', signature: new Uint8Array([0xff]) }] }), `a\n\n\u2014 k ${Buffer.from([0x0a, 0x1b, 0x2c, 0x3d, 0xff]).toString('base64')}\n`);
  assert.equal(parseNote(`a\n\n\u2014 k ${Buffer.from([0x0a, 0x1b, 0x2c, 0x3d, 0xff]).toString('base64')}\n`).signatures[0]!.keyHash, '0a1b2c3d');
});

test('verifying notes: unknown keys ignored, a known key must verify, at least one known key', async () => {
  const key = await generateSigningKey();
  const otherKey = await generateSigningKey();
  const signer = noteSigner('log', key);
  const verifier = noteVerifier('log', key.publicKey);
  const stranger = noteSigner('stranger', otherKey);
  const signed = await signNote('hello\n', [signer, stranger]);
  const result = await verifyNote(signed, [verifier]);
  assert.equal(result.text, 'hello\n');
  assert.deepEqual(result.verified.map((s) => s.name), ['log']);
  assert.equal(result.note.signatures.length, 2);
  // A note object is used as given.
  assert.equal((await verifyNote(parseNote(signed), [verifier])).verified.length, 1);
  // No known key: the message names the note's first line, the keys that signed it and the key given.
  const stranger2 = noteVerifier('stranger2', otherKey.publicKey);
  await assert.rejects(verifyNote(signed, [stranger2]), {
    name: 'LogError',
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: `note "hello" is signed by log+${signer.keyHash}, stranger+${stranger.keyHash}; the key given is stranger2+${stranger2.keyHash} (a key for another name)`,
  });
  // The same name with the other key: its key ID differs, so it is unknown, not a failure.
  await assert.rejects(verifyNote(await signNote('hello\n', stranger), [verifier]), {
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: `note "hello" is signed by stranger+${stranger.keyHash}; the key given is log+${verifier.keyHash} (a key for another name)`,
  });
  const sameName = noteVerifier('stranger', key.publicKey);
  assert.notEqual(sameName.keyHash, stranger.keyHash);
  await assert.rejects(verifyNote(await signNote('hello\nworld\n', stranger), [sameName]), {
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: `note "hello" is signed by stranger+${stranger.keyHash}; the key given is stranger+${sameName.keyHash} (another key with the same name)`,
  });
  await assert.rejects(verifyNote(signed, [stranger2, sameName]), {
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: `note "hello" is signed by log+${signer.keyHash}, stranger+${stranger.keyHash}; the keys given are stranger2+${stranger2.keyHash}, stranger+${sameName.keyHash} (not the key of a signer with that name)`,
  });
  // A known key's signature over other text fails the whole note.
  const note = parseNote(signed);
  const forged = { text: 'other\n', signatures: note.signatures };
  await assert.rejects(verifyNote(forged, [verifier]), { code: 'ERR_LOG_NOTE_SIGNATURE', message: 'signature verification failed' });
  await assert.rejects(verifiedSignatures(forged, [verifier]), { code: 'ERR_LOG_NOTE_SIGNATURE', message: 'signature verification failed' });
  // A signature that is not 64 bytes from a known key fails.
  const short = { text: note.text, signatures: [{ ...note.signatures[0]!, signature: note.signatures[0]!.signature.subarray(0, 63) }] };
  await assert.rejects(verifyNote(short, [verifier]), { code: 'ERR_LOG_NOTE_SIGNATURE', message: 'signature verification failed' });
  // Both keys known: both verified, in note order.
  assert.deepEqual((await verifyNote(signed, [noteVerifier('stranger', otherKey.publicKey), verifier])).verified.map((s) => s.name), ['log', 'stranger']);
  // A verifier from its key text is the same verifier.
  const text = noteVerifierKey('log', key.publicKey);
  assert.match(text, new RegExp(`^log\\+${verifier.keyHash}\\+`));
  const parsed = await parseNoteVerifier(text);
  assert.equal(parsed.name, 'log');
  assert.equal(parsed.keyHash, verifier.keyHash);
  assert.equal((await verifyNote(signed, [parsed])).verified.length, 1);
  // Argument checks.
  await assert.rejects(verifyNote(signed, 'x' as never), { name: 'TypeError', message: 'verifyNote verifiers must be an array of NoteVerifier objects, not a string' });
  await assert.rejects(verifyNote(signed, [text] as never), { name: 'TypeError', message: 'verifyNote verifiers[0] must be a NoteVerifier: parse verifier key text with parseNoteVerifier first' });
  await assert.rejects(verifiedSignatures(note, [{}] as never), { name: 'TypeError', message: /^note verifiers\[0\] must be a NoteVerifier \(from noteVerifier or parseNoteVerifier\), not / });
  assert.throws(() => requireNoteVerifier({ name: 'x', keyHash: '00000000' }, 'v'), { name: 'TypeError', message: /^v must be a NoteVerifier \(from noteVerifier or parseNoteVerifier\)/ });
  assert.throws(() => requireNoteVerifier({ name: 5, keyHash: '0', verify() {} }, 'v'), TypeError);
  assert.throws(() => requireNoteVerifier({ name: 'x', verify() {} }, 'v'), TypeError);
  assert.doesNotThrow(() => requireNoteVerifier({ name: 'x', keyHash: '0', verify() {} }, 'v'));
  await assert.rejects(signNote(5 as never, signer), { name: 'TypeError', message: 'note text must be a string, not a number' });
  await assert.rejects(signNote('a\n', [signer, verifier] as never), { name: 'TypeError', message: /^note signers must be NoteSigner objects \(from noteSigner\), not / });
  await assert.rejects(signNote('a', signer), { code: 'ERR_LOG_NOTE_INVALID', message: 'note text must end with a newline' });
  assert.throws(() => noteSigner('a b', key), { code: 'ERR_KEY_INVALID', message: 'key name must be non-empty and contain no spaces and no "+"' });
  assert.throws(() => noteVerifier('a+b', key.publicKey), { code: 'ERR_KEY_INVALID', message: 'key name must be non-empty and contain no spaces and no "+"' });
  assert.throws(() => noteVerifier('', key.publicKey), { code: 'ERR_KEY_INVALID' });
  // addSignatures appends and keeps the text.
  const added = addSignatures(parseNote(await signNote('hello\n', signer)), parseNote(await signNote('hello\n', stranger)).signatures);
  assert.deepEqual(added.signatures.map((s) => s.name), ['log', 'stranger']);
  assert.equal(added.text, 'hello\n');
  assert.equal((await verifyNote(formatNote(added), [verifier])).verified.length, 1);
});

test('cosignatures: keys, the 72-byte signature, timestamps at their limits, verification', async () => {
  const { parseCosignerKey, formatCosignerKey, parseCosignature, cosignatureSigner, cosignatureVerifier, cosignCheckpoint, verifyCosignatures, cosignedMessage, cosignerKeyHash, COSIGNATURE_TYPE } = await import('../src/log/cosignature.ts');
  const witness = await parsePrivateKey(WITNESS_KEYS[0]!.privateKeyPem);
  const name = WITNESS_KEYS[0]!.name;
  assert.equal(COSIGNATURE_TYPE, 4);
  const vkey = formatCosignerKey(name, witness.publicKey);
  const [vName, vHash, vData] = [vkey.slice(0, vkey.indexOf('+')), vkey.slice(vkey.indexOf('+') + 1, vkey.indexOf('+', vkey.indexOf('+') + 1)), vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1)];
  assert.equal(vName, name);
  assert.equal(vHash, cosignerKeyHash(name, witness.publicKey.raw));
  assert.deepEqual([...Buffer.from(vData!, 'base64')], [4, ...witness.publicKey.raw]);
  const verifier = await parseCosignerKey(vkey);
  assert.equal(verifier.keyHash, vHash);
  const keyRefused = async (text: string, code: string, message: string) => assert.rejects(parseCosignerKey(text), { code, message }, text);
  const form = 'cosigner key is not of the form <name>+<8 hex digits>+<base64>';
  await keyRefused(`${name}${vHash}${vData}`, 'ERR_KEY_INVALID', form);
  await keyRefused(`${name}+${vHash}${vData}`, 'ERR_KEY_INVALID', form);
  await keyRefused(`+${vHash}+${vData}`, 'ERR_KEY_INVALID', form);
  await keyRefused(`a b+${vHash}+${vData}`, 'ERR_KEY_INVALID', form);
  await keyRefused(`${name}+${vHash!.toUpperCase()}+${vData}`, 'ERR_KEY_INVALID', form);
  await keyRefused(`${name}+${vHash}0+${vData}`, 'ERR_KEY_INVALID', form);
  await keyRefused(`${name}+${vHash}+${vData}!`, 'ERR_KEY_INVALID', form);
  await keyRefused(`${name}+${vHash}+`, 'ERR_KEY_INVALID', form);
  await keyRefused(`${name}+${vHash}+${Buffer.from([1, ...witness.publicKey.raw]).toString('base64')}`, 'ERR_KEY_UNSUPPORTED', 'cosigner key is not a cosignature/v1 (type 0x04) key');
  await keyRefused(`${name}+${vHash}+${Buffer.from([4, ...witness.publicKey.raw, 0]).toString('base64')}`, 'ERR_KEY_INVALID', 'cosigner key must hold a 32-byte Ed25519 key');
  await keyRefused(`${name}+${vHash}+${Buffer.from([4, ...witness.publicKey.raw.subarray(1)]).toString('base64')}`, 'ERR_KEY_INVALID', 'cosigner key must hold a 32-byte Ed25519 key');
  await keyRefused(`other+${vHash}+${vData}`, 'ERR_KEY_INVALID', 'cosigner key hash does not match its name and key');
  assert.throws(() => formatCosignerKey('a b', witness.publicKey), { code: 'ERR_KEY_INVALID', message: 'key name must be non-empty and contain no spaces and no "+"' });
  assert.throws(() => cosignatureVerifier('a+b', witness.publicKey), { code: 'ERR_KEY_INVALID' });
  assert.throws(() => cosignatureSigner('', witness), { code: 'ERR_KEY_INVALID' });
  // The signed message.
  assert.equal(cosignedMessage('o\n1\nx\n', 5), 'cosignature/v1\ntime 5\no\n1\nx\n');
  assert.equal(cosignedMessage('t\n', 2n ** 63n - 1n), `cosignature/v1\ntime ${2n ** 63n - 1n}\nt\n`);
  // The 72 bytes: an 8-byte big-endian timestamp, then the signature.
  const bytes = (timestamp: bigint, length = 72) => {
    const out = new Uint8Array(length).fill(9);
    if (length >= 8) new DataView(out.buffer).setBigUint64(0, timestamp);
    return out;
  };
  assert.deepEqual(parseCosignature('w', bytes(258n)), { name: 'w', timestamp: 258, signature: new Uint8Array(64).fill(9) });
  assert.equal(parseCosignature('w', bytes(BigInt(Number.MAX_SAFE_INTEGER))).timestamp, Number.MAX_SAFE_INTEGER);
  const sigRefused = (value: Uint8Array, message: string) => assert.throws(() => parseCosignature('w', value), { code: 'ERR_LOG_COSIGNATURE_INVALID', message });
  sigRefused(bytes(1n, 71), 'cosignature must be an 8-byte timestamp and a 64-byte signature');
  sigRefused(bytes(1n, 73), 'cosignature must be an 8-byte timestamp and a 64-byte signature');
  sigRefused(bytes(BigInt(Number.MAX_SAFE_INTEGER) + 1n), 'cosignature timestamp is beyond 2^53 - 1 seconds');
  sigRefused(bytes(2n ** 63n - 1n), 'cosignature timestamp is beyond 2^53 - 1 seconds');
  sigRefused(bytes(2n ** 63n), 'cosignature timestamp must not exceed 2^63 - 1');
  // A subarray with an offset is read from its own start.
  const shifted = new Uint8Array(80);
  shifted.set(bytes(7n), 8);
  assert.equal(parseCosignature('w', shifted.subarray(8)).timestamp, 7);
  // Signing and verifying, with the clock given.
  const signer = cosignatureSigner(name, witness, () => 1_700_000_000);
  const logKey = await parsePrivateKey(LOG_KEY.privateKeyPem);
  const note = parseNote(await signNote('o\n1\nAAAA\n', noteSigner(LOG_KEY.name, logKey)));
  const cosigned = await cosignCheckpoint(note, signer);
  assert.equal(cosigned.signatures.length, 2);
  assert.equal(cosigned.text, note.text);
  assert.equal(cosigned.signatures[1]!.signature.length, 72);
  assert.deepEqual(await verifyCosignatures(cosigned, [verifier]), [{ name, timestamp: 1_700_000_000, signature: cosigned.signatures[1]!.signature.subarray(8) }]);
  assert.equal((await verifyCosignatures(formatNote(cosigned), [verifier])).length, 1);
  assert.deepEqual(await verifyCosignatures(note, [verifier]), []);
  // A cosignature under another timestamp, or over other text, fails the note.
  const changed = { ...cosigned, signatures: [cosigned.signatures[0]!, { ...cosigned.signatures[1]!, signature: Uint8Array.from(cosigned.signatures[1]!.signature) }] };
  changed.signatures[1]!.signature[7]! ^= 1;
  await assert.rejects(verifyCosignatures(changed, [verifier]), { code: 'ERR_LOG_COSIGNATURE_INVALID', message: 'signature verification failed' });
  const short = { ...cosigned, signatures: [{ ...cosigned.signatures[1]!, signature: cosigned.signatures[1]!.signature.subarray(0, 71) }] };
  await assert.rejects(verifyCosignatures(short, [verifier]), { code: 'ERR_LOG_COSIGNATURE_INVALID', message: 'signature verification failed' });
  // A clock that is not a non-negative safe integer is refused when signing.
  for (const now of [-1, 1.5, 2 ** 53]) {
    await assert.rejects(cosignatureSigner(name, witness, () => now).sign('t\n'), { name: 'RangeError', message: 'timestamp must be a non-negative safe integer of seconds' });
  }
  assert.equal((await cosignatureSigner(name, witness, () => 0).sign('t\n')).subarray(0, 8).every((b) => b === 0), true);
  // Errors other than a failed signature pass through.
  await assert.rejects(verifyCosignatures(note, 'x' as never), { name: 'TypeError' });
});

test('tlog-proof: the text format, every refusal with its message, and the policy checks', async () => {
  const { formatTlogProof, parseTlogProof, verifyTlogProof, TLOG_PROOF_HEADER } = await import('../src/log/tlog-proof.ts');
  const { hashLeaf, rootFromLeafHashes } = await import('../src/merkle/rfc6962.ts');
  const { proveInclusion } = await import('../src/merkle/inclusion.ts');
  const { cosignatureSigner, cosignatureVerifier, cosignCheckpoint } = await import('../src/log/cosignature.ts');
  const logKey = await parsePrivateKey(LOG_KEY.privateKeyPem);
  const witnesses = await Promise.all(WITNESS_KEYS.map((k) => parsePrivateKey(k.privateKeyPem)));
  const entries = Array.from({ length: 5 }, (_, i) => new TextEncoder().encode(`entry ${i}`));
  const leaves = entries.map(hashLeaf);
  const text = formatCheckpoint({ origin: LOG_KEY.name, size: 5, rootHash: rootFromLeafHashes(leaves) });
  let checkpoint = parseNote(await signNote(text, noteSigner(LOG_KEY.name, logKey)));
  checkpoint = await cosignCheckpoint(checkpoint, cosignatureSigner(WITNESS_KEYS[0]!.name, witnesses[0]!, () => 10));
  const proofText = formatTlogProof({ index: 3, proof: proveInclusion(leaves, 3), checkpoint });
  assert.ok(proofText.startsWith(`${TLOG_PROOF_HEADER}\nindex 3\n`));
  const withExtra = formatTlogProof({ extra: new Uint8Array([1, 2]), index: 3, proof: proveInclusion(leaves, 3), checkpoint });
  assert.ok(withExtra.startsWith(`${TLOG_PROOF_HEADER}\nextra AQI=\nindex 3\n`));
  assert.deepEqual(parseTlogProof(withExtra).extra, new Uint8Array([1, 2]));
  assert.equal('extra' in parseTlogProof(proofText), false);
  assert.deepEqual(parseTlogProof(formatTlogProof({ extra: new Uint8Array(0), index: 0, proof: [], checkpoint })).extra, new Uint8Array(0));
  assert.throws(() => formatTlogProof({ index: -1, proof: [], checkpoint }), { name: 'RangeError', message: 'index must be a non-negative safe integer' });
  assert.throws(() => formatTlogProof({ index: 0.5, proof: [], checkpoint }), { name: 'RangeError', message: 'index must be a non-negative safe integer' });
  assert.throws(() => formatTlogProof({ index: 0, proof: [new Uint8Array(31)], checkpoint }), { name: 'RangeError', message: 'inclusion proof hashes are 32 bytes' });
  const note = proofText.slice(proofText.indexOf('\n\n') + 2);
  const body = proofText.slice(0, proofText.indexOf('\n\n') + 2);
  const refused = (value: string, message: string) => assert.throws(() => parseTlogProof(value), { code: 'ERR_LOG_TLOG_PROOF_INVALID', message }, JSON.stringify(value.slice(0, 60)));
  const start = 'tlog-proof must start with c2sp.org/tlog-proof@v1 and hold a checkpoint after a blank line';
  refused(proofText.replace(TLOG_PROOF_HEADER, 'c2sp.org/tlog-proof@v2'), start);
  refused(` ${proofText}`, start);
  refused(`${TLOG_PROOF_HEADER}\nindex 3\n`, start);
  refused(TLOG_PROOF_HEADER, start);
  refused(`${TLOG_PROOF_HEADER}\nextra AQI\nindex 3\n\n${note}`, 'tlog-proof extra data is not standard base64');
  refused(`${TLOG_PROOF_HEADER}\nextra A-I=\nindex 3\n\n${note}`, 'tlog-proof extra data is not standard base64');
  const indexMessage = 'tlog-proof index must be "index " and a decimal with no leading zeros';
  for (const line of ['index 03', 'index -1', 'index', 'idx 3', 'index  3']) refused(`${TLOG_PROOF_HEADER}\n${line}\n\n${note}`, indexMessage);
  refused(`${TLOG_PROOF_HEADER}\n\n${note}`, indexMessage);
  const hash = Buffer.alloc(32, 1).toString('base64');
  assert.equal(parseTlogProof(`${TLOG_PROOF_HEADER}\nindex 0\n${`${hash}\n`.repeat(63)}\n${note}`).proof.length, 63);
  refused(`${TLOG_PROOF_HEADER}\nindex 0\n${`${hash}\n`.repeat(64)}\n${note}`, 'tlog-proof inclusion proof is longer than any tree needs');
  refused(`${TLOG_PROOF_HEADER}\nindex 0\n${hash.slice(1)}\n\n${note}`, 'tlog-proof inclusion proof hash must be 32 bytes in standard base64');
  refused(`${body}${note.replace('\u2014', '-')}`, 'tlog-proof checkpoint is not a signed note');
  assert.throws(() => parseTlogProof(new Uint8Array(1) as never), { name: 'TypeError', message: /^a tlog-proof must be its text \(read the file as UTF-8\), not / });
  // Verification: each step, in order.
  const logVerifier = noteVerifier(LOG_KEY.name, logKey.publicKey);
  const witnessVerifiers = WITNESS_KEYS.map((k, i) => cosignatureVerifier(k.name, witnesses[i]!.publicKey));
  const policy = { logKey: logVerifier, witnesses: witnessVerifiers.slice(0, 1), threshold: 1 };
  const verified = await verifyTlogProof(proofText, entries[3]!, policy);
  assert.equal(verified.index, 3);
  assert.deepEqual(verified.leafHash, leaves[3]);
  assert.equal(verified.checkpoint.size, 5);
  assert.deepEqual(verified.cosignatures.map((c) => [c.name, c.timestamp]), [[WITNESS_KEYS[0]!.name, 10]]);
  assert.equal((await verifyTlogProof(parseTlogProof(proofText), entries[3]!, policy)).index, 3);
  await assert.rejects(verifyTlogProof(proofText, entries[2]!, policy), { code: 'ERR_LOG_PROOF_INVALID', message: 'inclusion proof does not lead to the checkpoint root hash' });
  await assert.rejects(verifyTlogProof(proofText, entries[3]!, { ...policy, origin: 'other' }), { code: 'ERR_LOG_CHECKPOINT_INVALID', message: 'checkpoint origin is not the log\'s origin' });
  assert.equal((await verifyTlogProof(proofText, entries[3]!, { ...policy, origin: LOG_KEY.name })).index, 3);
  await assert.rejects(verifyTlogProof(proofText, entries[3]!, { logKey: logVerifier, witnesses: witnessVerifiers.slice(1, 3), threshold: 1 }), {
    code: 'ERR_LOG_COSIGNATURE_INVALID',
    message: 'checkpoint has fewer witness cosignatures than the policy requires',
  });
  assert.equal((await verifyTlogProof(proofText, entries[3]!, { logKey: logVerifier, witnesses: witnessVerifiers, threshold: 0 })).cosignatures.length, 1);
  // A witness's key as the log key: the proof's checkpoint, its origin, its signers and the key are named.
  const witnessAsLog = noteVerifier(WITNESS_KEYS[1]!.name, witnesses[1]!.publicKey);
  await assert.rejects(verifyTlogProof(proofText, entries[3]!, { ...policy, logKey: witnessAsLog }), {
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: `the tlog-proof's checkpoint (log "${LOG_KEY.name}") is signed by ${LOG_KEY.name}+${logVerifier.keyHash}, ${WITNESS_KEYS[0]!.name}+${witnessVerifiers[0]!.keyHash}; the log key is ${WITNESS_KEYS[1]!.name}+${witnessAsLog.keyHash} (a key for another name)`,
  });
  // Argument checks, before the proof is read.
  await assert.rejects(verifyTlogProof('garbage', entries[3]!, { ...policy, threshold: 2 }), { name: 'RangeError', message: 'threshold must be an integer from 0 to the number of witnesses' });
  await assert.rejects(verifyTlogProof('garbage', entries[3]!, { ...policy, threshold: -1 }), { name: 'RangeError', message: 'threshold must be an integer from 0 to the number of witnesses' });
  await assert.rejects(verifyTlogProof('garbage', entries[3]!, { ...policy, threshold: 0.5 }), { name: 'RangeError', message: 'threshold must be an integer from 0 to the number of witnesses' });
  await assert.rejects(verifyTlogProof('garbage', entries[3]!, { ...policy, witnesses: 'w' as never }), { name: 'TypeError', message: 'verifyTlogProof policy.witnesses must be an array of NoteVerifier objects (empty for none)' });
  await assert.rejects(verifyTlogProof('garbage', entries[3]!, { ...policy, witnesses: [logVerifier, 'w'] as never, threshold: 0 }), { name: 'TypeError', message: /^verifyTlogProof policy\.witnesses\[1\] must be a NoteVerifier/ });
  await assert.rejects(verifyTlogProof('garbage', entries[3]!, { ...policy, logKey: 'k' as never }), { name: 'TypeError', message: /^verifyTlogProof policy\.logKey must be a NoteVerifier/ });
  await assert.rejects(verifyTlogProof('garbage', 'x' as never, policy), { name: 'TypeError', message: /^verifyTlogProof leaf data/ });
  await assert.rejects(verifyTlogProof(5 as never, entries[3]!, policy), { name: 'TypeError', message: /^verifyTlogProof proof/ });
  await assert.rejects(verifyTlogProof('garbage', entries[3]!, policy), { code: 'ERR_LOG_TLOG_PROOF_INVALID' });
});

test('tiles: paths in their one spelling, coordinates at their limits, reading hashes back', async () => {
  const tiles = await import('../src/log/tiles.ts');
  const { hashLeaf, rootFromLeafHashes, hashChildren } = await import('../src/merkle/rfc6962.ts');
  const { proveInclusion } = await import('../src/merkle/inclusion.ts');
  const { proveConsistency } = await import('../src/merkle/consistency.ts');
  const hx = (bytes: Uint8Array | undefined) => Buffer.from(bytes!).toString('hex');
  const hxs = (list: Uint8Array[]) => list.map(hx);
  assert.equal(tiles.tilePath({ level: 0, index: 0, width: 256 }), 'tile/0/000');
  assert.equal(tiles.tilePath({ level: 1, index: 1234067, width: 5 }), 'tile/1/x001/x234/067.p/5');
  assert.equal(tiles.tilePath({ level: 63, index: 999, width: 255 }), 'tile/63/999.p/255');
  assert.equal(tiles.tilePath({ level: 2, index: 1000, width: 1 }), 'tile/2/x001/000.p/1');
  assert.equal(tiles.entriesPath({ index: 12, width: 256 }), 'tile/entries/012');
  assert.equal(tiles.entriesPath({ index: 12, width: 3 }), 'tile/entries/012.p/3');
  const coordinate = (tile: { level: number; index: number; width: number }, message: string) => assert.throws(() => tiles.tilePath(tile), { name: 'RangeError', message }, JSON.stringify(tile));
  for (const level of [-1, 64, 1.5]) coordinate({ level, index: 0, width: 1 }, 'tile level must be an integer in [0, 63]');
  for (const index of [-1, 0.5, 2 ** 53]) coordinate({ level: 0, index, width: 1 }, 'tile index must be a non-negative safe integer');
  for (const width of [0, 257, 1.5]) coordinate({ level: 0, index: 0, width }, 'tile width must be an integer in [1, 256]');
  assert.deepEqual(tiles.parseTilePath('tile/1/x001/x234/067.p/5'), { kind: 'hashes', tile: { level: 1, index: 1234067, width: 5 } });
  assert.deepEqual(tiles.parseTilePath('tile/63/000'), { kind: 'hashes', tile: { level: 63, index: 0, width: 256 } });
  assert.deepEqual(tiles.parseTilePath('tile/entries/012.p/255'), { kind: 'entries', bundle: { index: 12, width: 255 } });
  assert.deepEqual(tiles.parseTilePath('tile/entries/x001/000'), { kind: 'entries', bundle: { index: 1000, width: 256 } });
  const shape = 'tile path is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]';
  const canonical = 'tile path is not in its canonical spelling';
  for (const [path, message] of [
    ['tile/0/12', shape],
    ['tile/0/000.p/256', shape],
    ['tile/0/000.p/0', shape],
    ['tile/0/000.p/', shape],
    ['tile/01/000', shape],
    ['tile/100/000', shape],
    ['tile/0/000/', shape],
    ['/tile/0/000', shape],
    ['tile/x/000', shape],
    ['tile/64/000', canonical],
    ['tile/0/x000/001', canonical],
    ['tile/entries/x000/001', canonical],
    ['tile/entries/000.p/256', shape],
  ] as const) {
    assert.throws(() => tiles.parseTilePath(path), { code: 'ERR_LOG_TILE_INVALID', message }, path);
  }
  // tileAt and tilesForSize: widths of partial tiles, levels that have tiles.
  assert.deepEqual(tiles.tileAt(0, 0, 300), { level: 0, index: 0, width: 256 });
  assert.deepEqual(tiles.tileAt(0, 1, 300), { level: 0, index: 1, width: 44 });
  assert.equal(tiles.tileAt(0, 2, 300), undefined);
  assert.deepEqual(tiles.tileAt(1, 0, 300), { level: 1, index: 0, width: 1 });
  assert.equal(tiles.tileAt(1, 0, 255), undefined);
  assert.deepEqual(tiles.tilesForSize(0), []);
  assert.deepEqual(tiles.tilesForSize(1), [{ level: 0, index: 0, width: 1 }]);
  assert.deepEqual(tiles.tilesForSize(512), [{ level: 0, index: 0, width: 256 }, { level: 0, index: 1, width: 256 }, { level: 1, index: 0, width: 2 }]);
  assert.deepEqual(tiles.tilesForSize(65536).at(-1), { level: 2, index: 0, width: 1 });
  assert.deepEqual(tiles.entryBundlesForSize(300), [{ index: 0, width: 256 }, { index: 1, width: 44 }]);
  for (const size of [-1, 1.5]) assert.throws(() => tiles.tilesForSize(size), { name: 'RangeError', message: 'size must be a non-negative safe integer' });
  assert.deepEqual(tiles.tileNodes({ level: 1, index: 2, width: 3 }), [{ level: 8, index: 512 }, { level: 8, index: 513 }, { level: 8, index: 514 }]);
  // Tiles computed from leaves, read back as roots and proofs.
  const leaves = Array.from({ length: 300 }, (_, i) => hashLeaf(new TextEncoder().encode(`e${i}`)));
  const computed = tiles.computeTiles(leaves);
  assert.deepEqual(computed.map((t) => t.tile), tiles.tilesForSize(300));
  const data = new Map(computed.map((t) => [`${t.tile.level}/${t.tile.index}`, t.data]));
  let reads = 0;
  const read = (tile: { level: number; index: number; width: number }) => {
    reads++;
    const bytes = data.get(`${tile.level}/${tile.index}`)!;
    return bytes.subarray(0, tile.width * 32);
  };
  for (const size of [0, 1, 255, 256, 257, 300]) {
    assert.equal(hx(await tiles.rootFromTiles(size, read)), hx(rootFromLeafHashes(leaves.slice(0, size))), `root of ${size}`);
  }
  assert.deepEqual(hxs(await tiles.inclusionProofFromTiles(257, 300, read)), hxs(proveInclusion(leaves, 257)));
  assert.deepEqual(hxs(await tiles.consistencyProofFromTiles(100, 300, read)), hxs(proveConsistency(leaves, 100, 300)));
  assert.equal(hx(await tiles.leafHashFromTiles(299, 300, read)), hx(leaves[299]));
  for (const index of [-1, 300, 0.5]) await assert.rejects(tiles.leafHashFromTiles(index, 300, read), { name: 'RangeError', message: 'index must be an integer in [0, size)' });
  // Each tile is read once per reader.
  reads = 0;
  const reader = tiles.tileHashReader(300, read);
  await reader([{ level: 0, index: 0 }, { level: 0, index: 1 }, { level: 8, index: 0 }]);
  assert.equal(reads, 2);
  await assert.rejects(reader([{ level: 8, index: 1 }]), { name: 'RangeError', message: 'node is not a complete subtree of the tree' });
  await assert.rejects(reader([{ level: 1, index: 150 }]), { name: 'RangeError', message: 'node is not a complete subtree of the tree' });
  await assert.rejects(tiles.tileHashReader(300, () => new Uint8Array(31))([{ level: 0, index: 0 }]), { code: 'ERR_LOG_TILE_INVALID', message: 'tile must hold 32 bytes per hash of its width' });
  // A tile's interior nodes, row by row.
  const four = leaves.slice(0, 4);
  const subtree = tiles.tileSubtreeHashes(four);
  assert.equal(subtree.length, tiles.TILE_SUBTREE_BYTES);
  assert.equal(tiles.TILE_SUBTREE_BYTES, 255 * 32);
  assert.equal(hx(subtree.subarray(0, 32)), hx(hashChildren(four[0]!, four[1]!)));
  assert.equal(hx(subtree.subarray(32, 64)), hx(hashChildren(four[2]!, four[3]!)));
  assert.equal(hx(subtree.subarray(64, 128)), '00'.repeat(64));
  assert.equal(hx(subtree.subarray(128 * 32, 129 * 32)), hx(rootFromLeafHashes(four)));
  assert.equal(hx(tiles.tileSubtreeHashes(leaves.slice(0, 256)).subarray(254 * 32)), hx(rootFromLeafHashes(leaves.slice(0, 256))));
  assert.throws(() => tiles.tileSubtreeHashes(leaves.slice(0, 257)), { name: 'RangeError', message: 'a tile has at most 256 hashes' });
});

test('more log refusals: argument messages, BOMs and surrogates in the signature block, clocks, lookalike objects', async () => {
  const { cosignatureSigner, cosignatureVerifier, parseCosignature } = await import('../src/log/cosignature.ts');
  const { verifyTlogProof, parseTlogProof, formatTlogProof } = await import('../src/log/tlog-proof.ts');
  const key = await parsePrivateKey(LOG_KEY.privateKeyPem);
  // A 44-character hash whose last digit carries bits past the 32 bytes is not canonical base64.
  assert.equal(parseHash(`${'A'.repeat(42)}B=`), undefined);
  assert.deepEqual(parseHash(`${'A'.repeat(42)}E=`), new Uint8Array(32).fill(0).map((_, i) => (i === 31 ? 0x01 : 0)));
  // Argument messages name the function and argument.
  assert.throws(() => noteSigner(5 as never, key), { name: 'TypeError', message: /^noteSigner name / });
  assert.throws(() => noteSigner('log', key.publicKey as never), { name: 'TypeError', message: /^noteSigner key / });
  assert.throws(() => noteVerifier(5 as never, key.publicKey), { name: 'TypeError', message: /^noteVerifier name / });
  assert.throws(() => noteVerifier('log', 'k' as never), { name: 'TypeError', message: /^noteVerifier key / });
  await assert.rejects(parseNoteVerifier(5 as never), { name: 'TypeError', message: /^parseNoteVerifier verifier key / });
  assert.throws(() => noteVerifierKey('log', {} as never), { name: 'TypeError', message: /^noteVerifierKey key / });
  assert.throws(() => cosignatureSigner('w', key.publicKey as never), { name: 'TypeError', message: /^cosignatureSigner key / });
  assert.throws(() => cosignatureVerifier('w', 'k' as never), { name: 'TypeError', message: /^cosignatureVerifier key / });
  await assert.rejects(verifyTlogProof('x', new Uint8Array(1), null as never), { name: 'TypeError', message: /^verifyTlogProof policy / });
  // The default clock counts seconds.
  const before = Math.floor(Date.now() / 1000);
  const stamped = parseCosignature('w', await cosignatureSigner('w', key).sign('t\n'));
  assert.ok(stamped.timestamp >= before && stamped.timestamp <= Math.floor(Date.now() / 1000) + 1, String(stamped.timestamp));
  // A byte order mark is not removed: it is part of the note text.
  const signed = await signNote('hello\n', noteSigner('log', key));
  const withBom = parseNote(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(signed)]));
  assert.equal(withBom.text, '\ufeffhello\n');
  // A lone surrogate or a control character in the signature block, not only in the text.
  assert.throws(() => parseNote(`hello\n\n\u2014 k\ud800 AAAAAAA=\n`), { code: 'ERR_LOG_NOTE_INVALID', message: 'note is not valid UTF-8' });
  assert.throws(() => parseNote(`hello\n\n\u2014 k\u0001 AAAAAAA=\n`), { code: 'ERR_LOG_NOTE_INVALID', message: 'note contains an ASCII control character other than newline' });
  // Objects that only look like keys: null, and functions carrying the members.
  assert.throws(() => requireNoteVerifier(null, 'v'), { name: 'TypeError', message: 'v must be a NoteVerifier (from noteVerifier or parseNoteVerifier), not null' });
  const lookalike = Object.assign(() => undefined, { keyHash: '00000000', verify: async () => true, sign: async () => new Uint8Array(64) });
  Object.defineProperty(lookalike, 'name', { value: 'log' });
  assert.throws(() => requireNoteVerifier(lookalike, 'v'), { name: 'TypeError', message: /^v must be a NoteVerifier \(from noteVerifier or parseNoteVerifier\), not / });
  await assert.rejects(signNote('a\n', lookalike as never), { name: 'TypeError', message: /^note signers must be NoteSigner objects/ });
  await assert.rejects(signNote('a\n', 'log' as never), { name: 'TypeError', message: /^note signers must be NoteSigner objects/ });
  // Bad text is refused before any signer is asked to sign it.
  let asked = 0;
  const spy = { name: 'log', keyHash: '00000000', sign: async () => { asked++; return new Uint8Array(64); } };
  await assert.rejects(signNote('no newline', spy), { code: 'ERR_LOG_NOTE_INVALID', message: 'note text must end with a newline' });
  assert.equal(asked, 0);
  // An index line with another six-character word before the number.
  const checkpoint = parseNote(signed);
  const text = formatTlogProof({ index: 0, proof: [], checkpoint });
  assert.throws(() => parseTlogProof(text.replace('index 0', 'indey 0')), { code: 'ERR_LOG_TLOG_PROOF_INVALID', message: 'tlog-proof index must be "index " and a decimal with no leading zeros' });
});

test('tiles: an index too large for a number, coordinates checked for nodes, whole tiles, nodes above the tree', async () => {
  const tiles = await import('../src/log/tiles.ts');
  const { hashLeaf } = await import('../src/merkle/rfc6962.ts');
  // 21 digits: the path has the right shape but no safe integer index.
  assert.throws(() => tiles.parseTilePath(`tile/0/${'x999/'.repeat(6)}999`), { code: 'ERR_LOG_TILE_INVALID', message: 'tile path is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]' });
  assert.throws(() => tiles.parseTilePath(`tile/entries/${'x999/'.repeat(6)}999`), { code: 'ERR_LOG_TILE_INVALID', message: 'tile path is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]' });
  assert.throws(() => tiles.tileNodes({ level: -1, index: 0, width: 1 }), { name: 'RangeError', message: 'tile level must be an integer in [0, 63]' });
  assert.throws(() => tiles.tileNodes({ level: 0, index: 0, width: 0 }), { name: 'RangeError', message: 'tile width must be an integer in [1, 256]' });
  // A tree of whole tiles has no empty tile after them.
  for (const size of [256, 512]) {
    const leaves = Array.from({ length: size }, (_, i) => hashLeaf(new Uint8Array([i & 0xff, i >> 8])));
    assert.deepEqual(tiles.computeTiles(leaves).map((t) => t.tile), tiles.tilesForSize(size), `size ${size}`);
  }
  // A node above the tree's highest tile level.
  const reader = tiles.tileHashReader(300, () => new Uint8Array(32 * 256));
  await assert.rejects(reader([{ level: 16, index: 0 }]), { name: 'RangeError', message: 'node is not a complete subtree of the tree' });
});
