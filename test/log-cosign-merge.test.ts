/**
 * The one rule by which the log adds witness cosignatures to a checkpoint note (addCosignatures,
 * docs/LOG.md 19.7), used both by the witness collector (a new checkpoint, or a stored one asked
 * again) and by the log's ask again (the same change made to the note stored by then): the rule on
 * real signed notes, then the collector following it against real witnesses on loopback.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { addCosignatures, cosignatureSigner, cosignatureVerifier, verifyCosignatures } from '../src/log/cosignature.ts';
import { noteSigner, noteVerifier } from '../src/log/note-keys.ts';
import { formatNote, parseNote, signNote, verifyNote, type Note, type NoteSignature } from '../src/log/note.ts';
import { listen } from '../src/server/listen.ts';
import { witnessCollector } from '../src/store/witness-collector.ts';
import { newKey, removeFolders, startWitness, TestLog } from './helpers/witness-fixtures.ts';

const ORIGIN = 'example.test/cosign-merge';
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await removeFolders();
});

/** The same line with the last byte of its signature flipped: same name and key ID, does not verify. */
function damaged(signature: NoteSignature): NoteSignature {
  const bytes = Uint8Array.from(signature.signature);
  bytes[bytes.length - 1]! ^= 1;
  return { ...signature, signature: bytes };
}

/** The lines of a note as text, to compare byte for byte. */
function lines(note: Note | string): string[] {
  const text = typeof note === 'string' ? note : formatNote(note);
  return text.slice(text.lastIndexOf('\n\n') + 2).trimEnd().split('\n');
}

async function cosignature(name: string, key: Awaited<ReturnType<typeof newKey>>, text: string, at: number): Promise<NoteSignature> {
  const signer = cosignatureSigner(name, key, () => at);
  return { name: signer.name, keyHash: signer.keyHash, signature: await signer.sign(text) };
}

test('addCosignatures: the text and the log line stay, a replaced line goes, other lines stay in place, each arrived key is added once after them', async () => {
  const logKey = await newKey(ORIGIN);
  const [k1, k2, k3, other] = [await newKey('w1'), await newKey('w2'), await newKey('w3'), await newKey('o')];
  const text = new TestLog(ORIGIN, logKey).checkpointText(0);
  const signed = parseNote(await signNote(text, noteSigner(ORIGIN, logKey)));
  const w1 = await cosignature('witness.example/w1', k1, text, 100);
  const w2 = await cosignature('witness.example/w2', k2, text, 100);
  // A cosignature of a witness this caller does not know (another process's): kept as it is.
  const unknown = await cosignature('elsewhere.example/w', other, text, 100);
  const brokenW2 = damaged(w2);
  const stored: Note = { text, signatures: [signed.signatures[0]!, w1, brokenW2, unknown] };

  const w1Later = await cosignature('witness.example/w1', k1, text, 200);
  const w3 = await cosignature('witness.example/w3', k3, text, 200);
  const w3Later = await cosignature('witness.example/w3', k3, text, 300);
  const merged = addCosignatures(stored, [w1Later, w2, w3, w3Later], (signature) => signature === brokenW2);
  assert.ok(merged !== undefined);
  assert.equal(merged.text, text);
  // The log line, w1's first line and the unknown key's in their places; w2's valid line instead
  // of its damaged one, and w3's first line, appended; w1's and w3's second lines not added.
  assert.deepEqual(lines(merged), lines({ text, signatures: [signed.signatures[0]!, w1, unknown, w2, w3] }));
  const note = formatNote(merged);
  await verifyNote(note, [noteVerifier(ORIGIN, logKey.publicKey)]);
  const witnesses = [k1, k2, k3].map((key, i) => cosignatureVerifier(`witness.example/w${i + 1}`, key.publicKey));
  assert.equal((await verifyCosignatures(note, witnesses)).length, 3);
  // The stored note did not verify for a client checking w2: its damaged line failed it.
  await assert.rejects(verifyCosignatures(formatNote(stored), witnesses), { code: 'ERR_LOG_COSIGNATURE_INVALID' });
});

test('addCosignatures: nothing to add leaves the note as it is, a replaced line included; the first line (the log signature) is never removed', async () => {
  const logKey = await newKey(ORIGIN);
  const [k1, k2] = [await newKey('w1'), await newKey('w2')];
  const text = new TestLog(ORIGIN, logKey).checkpointText(0);
  const logLine = parseNote(await signNote(text, noteSigner(ORIGIN, logKey))).signatures[0]!;
  const w1 = await cosignature('witness.example/w1', k1, text, 100);
  const brokenW1 = damaged(w1);
  const stored: Note = { text, signatures: [logLine, brokenW1] };
  assert.equal(addCosignatures(stored, [], () => true), undefined);
  // w1 again: its key is on a kept line (not replaced), so nothing is added and the damaged line stays.
  assert.equal(addCosignatures(stored, [w1], () => false), undefined);

  const w2 = await cosignature('witness.example/w2', k2, text, 100);
  const merged = addCosignatures(stored, [w2], () => true);
  assert.ok(merged !== undefined);
  assert.deepEqual(lines(merged), lines({ text, signatures: [logLine, w2] }));
  await verifyNote(formatNote(merged), [noteVerifier(ORIGIN, logKey.publicKey)]);
});

/** A loopback URL nothing listens on. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

test('the collector asked again follows the rule: a configured witness\'s line that does not verify goes when another witness\'s cosignature comes, a line of a key it does not know stays byte for byte', async () => {
  const testLog = await TestLog.create(ORIGIN, 3);
  const logKey = testLog.verifier;
  const up = await startWitness([logKey], { key: await newKey('up') });
  closers.push(() => up.close());
  const server = await listen(up.app, { host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());
  // Configured, down: its line in the stored note is damaged.
  const downKey = await newKey('down');
  const down = cosignatureVerifier('witness.example/down', downKey.publicKey);
  const text = testLog.checkpointText(3);
  const stored = parseNote(await testLog.note(3));
  const unknown = await cosignature('elsewhere.example/w', await newKey('o'), text, 100);
  const brokenDown = damaged(await cosignature('witness.example/down', downKey, text, 100));
  const note = formatNote({ text, signatures: [stored.signatures[0]!, unknown, brokenDown] });

  const failures: string[] = [];
  const cosign = witnessCollector(
    [
      { url: server.url, verifier: up.verifier },
      { url: await deadUrl(), verifier: down },
    ],
    { timeoutMs: 5000, onFailure: (_url, error) => failures.push(error.code) },
  );
  assert.equal(await cosign.lacks!(note), true);
  const cosigned = await cosign({ checkpoint: parseCheckpoint(text), note, again: true }, async () => assert.fail('no proof for old 0'));
  assert.deepEqual(failures, ['ERR_WITNESS_UNREACHABLE']);
  const [logLine, unknownLine, upLine, ...rest] = lines(cosigned);
  assert.deepEqual([logLine, unknownLine], lines(note).slice(0, 2));
  assert.equal(rest.length, 0, 'the damaged line of the witness that is down is gone');
  assert.equal(parseNote(cosigned).text, text);
  assert.ok(upLine!.startsWith(`\u2014 ${up.verifier.name} `));
  assert.equal((await verifyCosignatures(cosigned, [up.verifier, down])).length, 1);
  // Still lacking the witness that is down (asked again later), no longer the one that answered.
  assert.equal(await cosign.lacks!(cosigned), true);
  assert.equal(await witnessCollector([{ url: server.url, verifier: up.verifier }]).lacks!(cosigned), false);
});
