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
  await assert.rejects(verifyNote(signed, [noteVerifier('stranger2', otherKey.publicKey)]), { code: 'ERR_LOG_NOTE_SIGNATURE', message: 'note has no signature from a known key' });
  // The same name with the other key: its key ID differs, so it is unknown, not a failure.
  await assert.rejects(verifyNote(await signNote('hello\n', stranger), [verifier]), { code: 'ERR_LOG_NOTE_SIGNATURE', message: 'note has no signature from a known key' });
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
