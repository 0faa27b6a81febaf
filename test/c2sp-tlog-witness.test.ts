/**
 * C2SP tlog-witness "add-checkpoint", the pure part (src/log/witness.ts) called directly: the
 * request body's exact format and every way the parser refuses one, and each check of the witness's
 * decision with its code and message, in the order the spec gives them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cosignatureSigner, cosignatureVerifier, verifyCosignatures } from '../src/log/cosignature.ts';
import { noteVerifier } from '../src/log/note-keys.ts';
import { formatNote, parseNote, signNote, type NoteVerifier } from '../src/log/note.ts';
import {
  decideAddCheckpoint,
  formatAddCheckpoint,
  formatSignatureLines,
  MAX_PROOF_LINES,
  parseAddCheckpoint,
  parseCosignatureLines,
  WitnessConflictError,
  witnessedLogs,
  type WitnessedCheckpoint,
} from '../src/log/witness.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { newKey, TestLog } from './helpers/witness-fixtures.ts';

const ORIGIN = 'example.test/witnessed';
const log = await TestLog.create(ORIGIN, 40);
const witnessKey = await newKey('witness.example/w');
const witnessSigner = cosignatureSigner('witness.example/w', witnessKey, () => 1_700_000_000);
const witnessVerifier = cosignatureVerifier('witness.example/w', witnessKey.publicKey);
const hash = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);

function invalid(message: string): { code: string; message: string } {
  return { code: 'ERR_WITNESS_REQUEST_INVALID', message };
}

test('formatAddCheckpoint refuses what cannot be sent, with RangeErrors naming the rule', async () => {
  const note = await log.note(10);
  const cases: Array<[{ oldSize: number; proof: Uint8Array[] }, string]> = [
    [{ oldSize: -1, proof: [] }, 'old size must be a non-negative safe integer'],
    [{ oldSize: 1.5, proof: [] }, 'old size must be a non-negative safe integer'],
    [{ oldSize: 2 ** 53, proof: [] }, 'old size must be a non-negative safe integer'],
    [{ oldSize: 5, proof: Array.from({ length: MAX_PROOF_LINES + 1 }, () => hash(1)) }, 'a consistency proof has at most 63 hashes'],
    [{ oldSize: 0, proof: [hash(1)] }, 'the proof must be empty when the old size is 0'],
    [{ oldSize: 5, proof: [hash(1), new Uint8Array(31)] }, 'proof hashes must be 32 bytes'],
    [{ oldSize: 5, proof: [new Uint8Array(33)] }, 'proof hashes must be 32 bytes'],
  ];
  for (const [request, message] of cases) {
    assert.throws(() => formatAddCheckpoint({ ...request, note }), { name: 'RangeError', message }, message);
  }
  // The limits themselves are allowed.
  const full = Array.from({ length: MAX_PROOF_LINES }, (_, i) => hash(i));
  assert.equal(formatAddCheckpoint({ oldSize: 2 ** 53 - 1, proof: full, note }).split('\n').length, 1 + 63 + 1 + note.split('\n').length);
  assert.equal(formatAddCheckpoint({ oldSize: 5, proof: [hash(0xfb)], note }), `old 5\n${encodeBase64(hash(0xfb))}\n\n${note}`);
});

test('parseAddCheckpoint reads exactly the format, from a string or from UTF-8 bytes', async () => {
  const note = await log.note(10);
  const proof = log.proof(4, 10);
  const body = formatAddCheckpoint({ oldSize: 4, proof, note });
  for (const input of [body, new TextEncoder().encode(body)]) {
    const request = parseAddCheckpoint(input);
    assert.equal(request.oldSize, 4);
    assert.deepEqual(request.proof.map(encodeBase64), proof.map(encodeBase64));
    assert.equal(request.checkpoint.origin, ORIGIN);
    assert.equal(request.checkpoint.size, 10);
    assert.deepEqual(request.note, parseNote(note));
  }
  // 63 proof lines and an old size equal to the checkpoint size are within the rules.
  const full = parseAddCheckpoint(formatAddCheckpoint({ oldSize: 10, proof: Array.from({ length: 63 }, (_, i) => hash(i)), note }));
  assert.equal(full.proof.length, 63);
  assert.equal(full.oldSize, 10);
  assert.deepEqual(parseAddCheckpoint(`old 0\n\n${note}`).proof, []);
});

test('parseAddCheckpoint refuses every malformed body with ERR_WITNESS_REQUEST_INVALID and a message naming the rule', async () => {
  const note = await log.note(10);
  const line = (byte: number): string => `${encodeBase64(hash(byte))}\n`;
  const cases: Array<[string | Uint8Array, string]> = [
    [new Uint8Array([0x6f, 0x6c, 0x64, 0x20, 0x30, 0x0a, 0x0a, 0xff]), 'request body is not valid UTF-8'],
    ['', 'request must start with an "old <size>" line'],
    ['old 0', 'request must start with an "old <size>" line'],
    [`\ufeffold 0\n\n${note}`, 'request must start with an "old <size>" line'],
    // A byte order mark is not skipped in bytes either.
    [new TextEncoder().encode(`\ufeffold 0\n\n${note}`), 'request must start with an "old <size>" line'],
    [`Old 0\n\n${note}`, 'request must start with an "old <size>" line'],
    [`old\n\n${note}`, 'request must start with an "old <size>" line'],
    [`old 01\n\n${note}`, 'old size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`old -1\n\n${note}`, 'old size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`old  1\n\n${note}`, 'old size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`old 1 \n\n${note}`, 'old size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`old \n\n${note}`, 'old size must be a decimal with no leading zeros, at most 2^53 - 1'],
    [`old 9007199254740992\n\n${note}`, 'old size must be a decimal with no leading zeros, at most 2^53 - 1'],
    ['old 3\n', 'request must have an empty line before the checkpoint'],
    [`old 3\n${line(1)}`, 'request must have an empty line before the checkpoint'],
    [`old 3\n${Array.from({ length: 64 }, (_, i) => line(i)).join('')}\n${note}`, 'consistency proof must have at most 63 lines'],
    [`old 3\nAAAA\n\n${note}`, 'consistency proof lines must each be a 32-byte hash in standard base64'],
    [`old 3\n${encodeBase64(hash(1)).replace('=', '')}\n\n${note}`, 'consistency proof lines must each be a 32-byte hash in standard base64'],
    [`old 3\n ${line(1)}\n${note}`, 'consistency proof lines must each be a 32-byte hash in standard base64'],
    [`old 0\n${line(1)}\n${note}`, 'consistency proof must be empty when the old size is 0'],
    ['old 0\n\n', 'request must end with a signed checkpoint note'],
    ['old 0\n\nnot a note\n', 'request must end with a signed checkpoint note'],
    // A signed note whose text is not a checkpoint.
    [`old 0\n\n${await signNote('hello\n', log.signer)}`, 'request must end with a signed checkpoint note'],
    [`old 11\n${line(1)}\n${note}`, 'old size must not exceed the checkpoint size'],
  ];
  for (const [body, message] of cases) {
    assert.throws(() => parseAddCheckpoint(body), invalid(message), JSON.stringify(typeof body === 'string' ? body.slice(0, 40) : 'bytes'));
  }
});

test('witnessedLogs groups keys by origin and drops a key listed twice', async () => {
  const other = await TestLog.create('example.test/other');
  const second = await newKey(ORIGIN);
  const secondVerifier = noteVerifier(ORIGIN, second.publicKey);
  const logs = witnessedLogs([log.verifier, other.verifier, log.verifier, secondVerifier]);
  assert.deepEqual([...logs.keys()], [ORIGIN, 'example.test/other']);
  assert.deepEqual(logs.get(ORIGIN)!.map((v) => v.keyHash), [log.verifier.keyHash, secondVerifier.keyHash]);
  assert.deepEqual(logs.get('example.test/other')!.map((v) => v.keyHash), [other.verifier.keyHash]);
  assert.equal(witnessedLogs([]).size, 0);
});

test('parseCosignatureLines takes only signature lines; formatSignatureLines writes what follows the blank line', async () => {
  const text = log.checkpointText(10);
  const lines = formatSignatureLines(text, [{ name: 'w', keyHash: '01020304', signature: new Uint8Array([9, 9]) }]);
  assert.equal(lines, `\u2014 w ${encodeBase64(new Uint8Array([1, 2, 3, 4, 9, 9]))}\n`);
  assert.equal(parseCosignatureLines(text, lines).signatures[0]?.name, 'w');
  assert.equal(parseCosignatureLines(text, lines).text, text);
  for (const body of ['', '\n', `x${lines}`, `- w AAAA\n`]) {
    assert.throws(() => parseCosignatureLines(text, body), { code: 'ERR_LOG_NOTE_INVALID', message: 'witness answer is not signature lines' }, JSON.stringify(body));
  }
});

async function decide(oldSize: number, size: number, stored: WitnessedCheckpoint | undefined, options: { proof?: Uint8Array[]; rootHash?: Uint8Array; verifiers?: NoteVerifier[] } = {}) {
  const proof = options.proof ?? (oldSize === 0 || oldSize === size ? [] : log.proof(oldSize, size));
  const noteOptions = options.rootHash === undefined ? {} : { rootHash: options.rootHash };
  const request = parseAddCheckpoint(formatAddCheckpoint({ oldSize, proof, note: await log.note(size, noteOptions) }));
  return decideAddCheckpoint({ request, logs: witnessedLogs(options.verifiers ?? [log.verifier]), stored, signers: [witnessSigner] });
}

const held = async (size: number): Promise<WitnessedCheckpoint> => ({ size, note: await log.note(size) });

test('decideAddCheckpoint cosigns a first checkpoint and one that extends the held one, saving the verified log signatures', async () => {
  const first = await decide(0, 12, undefined);
  assert.equal(first.origin, ORIGIN);
  assert.equal(first.previousSize, -1);
  assert.deepEqual(first.save, { size: 12, note: await log.note(12) });
  const [cosignature] = await verifyCosignatures(`${await log.note(12)}${first.cosignatures}`, [witnessVerifier]);
  assert.equal(cosignature?.timestamp, 1_700_000_000);

  const next = await decide(12, 30, await held(12));
  assert.equal(next.previousSize, 12);
  assert.equal(next.save.size, 30);
  await verifyCosignatures(`${await log.note(30)}${next.cosignatures}`, [witnessVerifier]);
  // The same checkpoint again (equal size and root, no proof) is cosigned again.
  assert.equal((await decide(30, 30, await held(30))).previousSize, 30);

  // A signature by a key the witness does not trust is not saved with the checkpoint.
  const stranger = await TestLog.create(ORIGIN);
  const both = await log.note(12, { signers: [log.signer, stranger.signer] });
  const request = parseAddCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], note: both }));
  const decision = await decideAddCheckpoint({ request, logs: witnessedLogs([log.verifier]), stored: undefined, signers: [witnessSigner, witnessSigner] });
  assert.equal(decision.save.note, await log.note(12));
  assert.equal(decision.cosignatures.split('\n').length, 3);
});

test('decideAddCheckpoint refuses in the spec order, each with its code and message', async () => {
  const other = await TestLog.create('example.test/other', 12);
  await assert.rejects(decide(0, 12, undefined, { verifiers: [other.verifier] }), {
    code: 'ERR_WITNESS_UNKNOWN_LOG',
    message: 'the witness does not witness a log of this origin',
  });
  const request = parseAddCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], note: await log.note(12) }));
  await assert.rejects(decideAddCheckpoint({ request, logs: new Map([[ORIGIN, []]]), stored: undefined, signers: [witnessSigner] }), {
    code: 'ERR_WITNESS_UNKNOWN_LOG',
  });
  const impostor = await TestLog.create(ORIGIN);
  await assert.rejects(decide(0, 12, undefined, { verifiers: [impostor.verifier] }), {
    code: 'ERR_WITNESS_SIGNATURE',
    message: "checkpoint has no valid signature from the log's key",
  });
  // A trusted key's name and key hash on a signature that does not verify.
  const forged = parseNote(await log.note(12));
  forged.signatures[0]!.signature[0]! ^= 1;
  const forgedRequest = parseAddCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], note: formatNote(forged) }));
  await assert.rejects(decideAddCheckpoint({ request: forgedRequest, logs: witnessedLogs([log.verifier]), stored: undefined, signers: [witnessSigner] }), {
    code: 'ERR_WITNESS_SIGNATURE',
  });

  // What the witness holds is checked before the request is compared with it.
  await assert.rejects(decide(12, 20, { size: 12, note: 'not a note' }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored witnessed checkpoint is not a signed checkpoint',
  });
  await assert.rejects(decide(12, 20, { size: 13, note: await log.note(12) }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored witnessed checkpoint does not match its record',
  });
  await assert.rejects(decide(12, 20, { size: 12, note: await other.note(12) }), {
    code: 'ERR_STORE_CORRUPT',
    message: 'stored witnessed checkpoint does not match its record',
  });

  for (const [oldSize, stored, size] of [
    [5, undefined, 0],
    [0, 12, 12],
    [11, 12, 12],
    [13, 12, 12],
  ] as const) {
    const error = await decide(oldSize, 20, stored === undefined ? undefined : await held(stored)).then(
      () => assert.fail('expected a conflict'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof WitnessConflictError, String(error));
    assert.equal(error.code, 'ERR_WITNESS_CONFLICT');
    assert.equal(error.message, 'old size does not match the size of the latest checkpoint the witness cosigned');
    assert.equal(error.size, size);
  }

  await assert.rejects(decide(12, 12, await held(12), { rootHash: hash(3) }), (error: unknown) => {
    assert.ok(!(error instanceof WitnessConflictError));
    assert.equal((error as { code?: string }).code, 'ERR_WITNESS_CONFLICT');
    assert.equal((error as Error).message, 'checkpoint has the size of the one the witness cosigned but another root hash');
    return true;
  });
  const proofFailure = { code: 'ERR_WITNESS_PROOF', message: 'consistency proof from the old size to the checkpoint does not verify' };
  await assert.rejects(decide(12, 20, await held(12), { proof: log.proof(12, 20).slice(1) }), proofFailure);
  await assert.rejects(decide(12, 20, await held(12), { rootHash: hash(4), proof: log.proof(12, 20) }), proofFailure);
  await assert.rejects(decide(12, 12, await held(12), { proof: [hash(1)] }), proofFailure);
});
