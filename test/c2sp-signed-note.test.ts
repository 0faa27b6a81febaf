/** C2SP signed-note: formatNote/parseNote, signNote/verifyNote with runprint's Ed25519 keys. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatNote, noteSigner, noteVerifier, noteVerifierKey, parseNote, parseNoteVerifier, signNote, verifyNote } from '../src/log/index.ts';
import { parsePrivateKey } from '../src/keys/keys.ts';
import { LOG_KEY, signatureLine, verifierKeyOf, WITNESS_KEYS } from './fixtures/log-keys.ts';

const key = await parsePrivateKey(LOG_KEY.privateKeyPem);
const signer = noteSigner(LOG_KEY.name, key);
const verifier = noteVerifier(LOG_KEY.name, key.publicKey);

test('signNote signs byte for byte as an independent Ed25519 signer does, and verifyNote opens it', async () => {
  const text = 'hello\nworld\n';
  const signed = await signNote(text, signer);
  assert.equal(signed, `${text}\n${signatureLine(LOG_KEY, text)}`);
  const opened = await verifyNote(signed, [verifier]);
  assert.equal(opened.text, text);
  assert.equal(opened.verified.length, 1);
  assert.equal(formatNote(parseNote(signed)), signed);
});

test('the verifier key is the C2SP form runprint keygen writes and Go reads', async () => {
  assert.equal(noteVerifierKey(LOG_KEY.name, key.publicKey), verifierKeyOf(LOG_KEY));
  const parsed = await parseNoteVerifier(verifierKeyOf(LOG_KEY));
  assert.equal(parsed.name, LOG_KEY.name);
  assert.equal(parsed.keyHash, signer.keyHash);
});

test('an unknown key is ignored, but a note needs one known signature', async () => {
  const other = noteSigner(WITNESS_KEYS[0]!.name, await parsePrivateKey(WITNESS_KEYS[0]!.privateKeyPem));
  const signed = await signNote('text\n', [other, signer]);
  assert.equal((await verifyNote(signed, [verifier])).verified.length, 1);
  await assert.rejects(verifyNote(await signNote('text\n', other), [verifier]), {
    name: 'LogError',
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: `note "text" is signed by ${WITNESS_KEYS[0]!.name}+${other.keyHash}; the key given is ${LOG_KEY.name}+${verifier.keyHash} (a key for another name)`,
  });
  await assert.rejects(verifyNote((await signNote('text\n', signer)).replace('text', 'tent'), [verifier]), {
    code: 'ERR_LOG_NOTE_SIGNATURE',
    message: 'signature verification failed',
  });
});

test('a note with no known signature: what it names is what a server sent, escaped and cut', async () => {
  // Signed-note allows any Unicode but controls in the text and names: a right-to-left override
  // must not reorder the terminal line, a quote must not close the quoted origin, a long name is cut.
  const origin = `evil\u202e"log${'x'.repeat(100)}`;
  const longName = `${'n'.repeat(70)}\u2066`;
  const signers = [noteSigner(longName, key), ...Array.from({ length: 5 }, (_, n) => noteSigner(`w${n}`, key))];
  const error = await verifyNote(await signNote(`${origin}\n7\n`, signers), [verifier]).then(
    () => assert.fail('verified'),
    (caught: Error & { code?: string }) => caught,
  );
  assert.equal(error.code, 'ERR_LOG_NOTE_SIGNATURE');
  const hashes = signers.map((s) => s.keyHash);
  assert.equal(
    error.message,
    `note "evil\\u202e\\"log${'x'.repeat(71)}…" is signed by ${'n'.repeat(60)}…+${hashes[0]}, w0+${hashes[1]}, w1+${hashes[2]}, w2+${hashes[3]} and 2 more; ` +
      `the key given is ${LOG_KEY.name}+${verifier.keyHash} (a key for another name)`,
  );
  assert.doesNotMatch(error.message, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  // A caller words it for its reader: which note, what the key is called, what to do; the code stays.
  const { UnknownSignerError } = await import('../src/log/note.ts');
  assert.ok(error instanceof UnknownSignerError);
  const worded = error.in({ note: (first) => `the checkpoint (log "${first.slice(0, 4)}")`, keys: '--key', remedy: 'give the log\'s key' });
  assert.equal(worded.code, 'ERR_LOG_NOTE_SIGNATURE');
  assert.match(worded.message, new RegExp(`^the checkpoint \\(log "evil"\\) is signed by n+…\\+${hashes[0]}, .* and 2 more; --key is ${LOG_KEY.name.replace(/\./g, '\\.')}\\+${verifier.keyHash} \\(a key for another name\\): give the log's key$`));
});

test('parseNote is strict about the text, the blank line and every signature line', () => {
  const line = signatureLine(LOG_KEY, 'a\n');
  const cases: Array<[string | Uint8Array, string]> = [
    ['a\n' + line, 'note has no blank line before its signatures'],
    ['a\n\n', 'note signature block must be lines ending in a newline'],
    [`a\n\n${line.slice(0, -1)}`, 'note signature block must be lines ending in a newline'],
    [`a\n\n${line}x\n`, 'note signature line must start with "— "'],
    [`a\n\n${line.replace('\u2014', '--')}`, 'note signature line must start with "— "'],
    [`a\n\n\u2014 ${LOG_KEY.name}\n`, 'note signature key name must be non-empty with no spaces and no "+"'],
    [`a\n\n\u2014 ${LOG_KEY.name} AAAA\n`, 'note signature is shorter than a key ID and a signature'],
    [`a\n\n\u2014 ${LOG_KEY.name} !!!!\n`, 'note signature is not standard, padded base64'],
    [`a\r\n\n${line}`, 'note contains an ASCII control character other than newline'],
    [`\n\n${line}`, 'note text is empty'],
    [`a\n\n${line}${line}`, 'note has two signatures from the same key'],
    [new Uint8Array([0x61, 0xff, 0x0a, 0x0a]), 'note is not valid UTF-8'],
    [`a\ud800\n\n${line}`, 'note is not valid UTF-8'],
  ];
  for (const [input, message] of cases) assert.throws(() => parseNote(input), { name: 'LogError', code: 'ERR_LOG_NOTE_INVALID', message }, message);
  assert.throws(() => formatNote({ text: 'no newline', signatures: [] }), { code: 'ERR_LOG_NOTE_INVALID', message: 'note text must end with a newline' });
  assert.throws(() => formatNote({ text: 'a\n', signatures: [] }), { code: 'ERR_LOG_NOTE_INVALID', message: 'note has no signature lines' });
});

test('any text that is a valid note text signs and verifies; any flipped byte of the note fails (fast-check)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.stringMatching(/^[^\u0000-\u001f]+$/), { minLength: 1, maxLength: 4 }), async (lines) => {
      const text = `${lines.join('\n')}\n`;
      if (!text.isWellFormed()) return;
      const signed = await signNote(text, signer);
      assert.equal((await verifyNote(signed, [verifier])).text, text);
      assert.equal(formatNote(parseNote(signed)), signed);
    }),
    { numRuns: 100 },
  );
  const signed = new TextEncoder().encode(await signNote('example.com/log\n1\nAAAA\n', signer));
  for (let i = 0; i < signed.length; i++) {
    const broken = Uint8Array.from(signed);
    broken[i]! ^= 0x01;
    await assert.rejects(verifyNote(broken, [verifier]), (error: { code?: string }) => error.code === 'ERR_LOG_NOTE_INVALID' || error.code === 'ERR_LOG_NOTE_SIGNATURE');
  }
});
