/**
 * `runprint log submit --proof-out` and `runprint verify --log-proof`: a receipt's C2SP tlog-proof
 * saved from a real log on loopback, then checked offline (the log closed) under witness policies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { formatCheckpoint, parseCheckpoint } from '../src/log/checkpoint.ts';
import { cosignatureSigner, cosignCheckpoint, formatCosignerKey, parseCosignerKey } from '../src/log/cosignature.ts';
import { noteSigner, noteVerifierKey, parseNoteVerifier } from '../src/log/note-keys.ts';
import { formatNote, parseNote, signNote, type Note } from '../src/log/note.ts';
import { formatTlogProof, parseTlogProof, type TlogProof } from '../src/log/tlog-proof.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { checkLogProof, verifyReceipt } from '../src/receipt/index.ts';
import { generateKeyFiles, parsePrivateKey, parsePublicKey, type SigningKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog } from '../src/store/log-service.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { cliFolder, type CliResult } from './helpers/cli-folder.ts';

const TOKEN = 'verify-log-proof-token-0123';
const ORIGIN = 'example.test/receipts-log';
const { folder, file, cli } = cliFolder('runprint-verify-log-proof-');

async function newKey(name: string): Promise<SigningKey> {
  return parsePrivateKey((await generateKeyFiles(name)).privateKeyPem);
}

/** A real SQLite log on 127.0.0.1 (port 0), optionally cosigned by witnesses; close() stops the server and the log. */
async function startLog(key: SigningKey, name: string, witnesses: Array<{ name: string; key: SigningKey }> = []) {
  const cosigner = async ({ note }: { note: string }) => formatNote(await cosign(parseNote(note), ...witnesses));
  const log = await openSqliteLog({
    path: join(folder, `${name}.sqlite`),
    origin: ORIGIN,
    key,
    checkpointDelayMs: 20,
    ...(witnesses.length > 0 ? { cosign: cosigner } : {}),
  });
  const server = await listen(createApp({ log: { log, token: TOKEN } }), { host: '127.0.0.1', port: 0 });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
    await log.close();
  };
  return { url: `http://127.0.0.1:${server.port}/`, vkey: log.verifierKey, close };
}

const logKey = await newKey(ORIGIN);
const witnessA = { name: 'witness-a.example/w', key: await newKey('witness-a.example/w') };
const witnessB = { name: 'witness-b.example/w', key: await newKey('witness-b.example/w') };
const witnessC = { name: 'witness-c.example/w', key: await newKey('witness-c.example/w') };
const vkeyOf = (witness: { name: string; key: SigningKey }) => formatCosignerKey(witness.name, witness.key.publicKey);

let logVkey = '';
let savedProof = '';
let receiptIndex = -1;

/** The verify command line for `receipt` with the log proof in `proofFile`. */
function verifyArgs(receipt: string, proofFile: string, ...rest: string[]): string[] {
  return ['verify', receipt, '--key', 'app/receipt-key.pub.pem', '--log-proof', proofFile, '--log-key', logVkey, ...rest];
}

/** Asserts a verify run failed at `step` with `code`: exit 1, the failing line in the checklist, and the JSON report. */
async function assertFailsAt(argv: string[], step: string, code: string, label: string): Promise<void> {
  const text = await cli(argv);
  assert.equal(text.code, 1, `${argv.join(' ')}\n${text.stdout}${text.stderr}`);
  assert.equal(text.stderr, '');
  assert.match(text.stdout, new RegExp(`✗ ${label}: ${code}: `));
  assert.match(text.stdout, /receipt NOT verified\n$/);
  const json = await cli([...argv, '--json']);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, false);
  assert.equal(report.logProof, undefined);
  assert.equal(report.runId, undefined);
  assert.deepEqual({ name: report.checks.at(-1).name, code: report.checks.at(-1).code }, { name: step, code });
  // Every receipt check before the log steps passed.
  assert.ok(report.checks.slice(0, -1).every((check: { ok: boolean }) => check.ok));
}

/** Writes a tlog-proof file built from the saved proof with `change` applied; returns its name. */
let variants = 0;
async function variant(change: (proof: TlogProof) => TlogProof | Promise<TlogProof>): Promise<string> {
  const name = `variant-${variants++}.tlog`;
  file(name, formatTlogProof(await change(parseTlogProof(savedProof))));
  return name;
}

async function cosign(note: Note, ...witnesses: Array<{ name: string; key: SigningKey }>): Promise<Note> {
  let out = note;
  for (const witness of witnesses) out = await cosignCheckpoint(out, cosignatureSigner(witness.name, witness.key));
  return out;
}

const LABEL = {
  proof: 'log proof shape \\(C2SP tlog-proof@v1\\)',
  checkpoint: "checkpoint signed by the log key, with the log's origin",
  witnesses: 'witness cosignatures meet the policy',
  inclusion: "receipt bytes included in the checkpoint's tree",
};

before(async () => {
  file('request.json', JSON.stringify(REQUEST));
  file('response.json', RESPONSE_TEXT);
  assert.equal((await cli(['keygen', '--out', 'app', '--name', 'example.test/app'])).code, 0);
  for (const [out, finished] of [['receipt.json', '01'], ['other.json', '02']]) {
    const signed = await cli(['sign', '--key', 'app/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json',
      '--started', '2026-01-01T00:00:00Z', '--finished', `2026-01-01T00:00:${finished}Z`, '--out', out!]);
    assert.equal(signed.code, 0, signed.stderr);
  }
  assert.notEqual(readFileSync(join(folder, 'receipt.json'), 'utf8'), readFileSync(join(folder, 'other.json'), 'utf8'));
});

after(async () => {
  await rm(folder, { recursive: true, force: true });
});

test('log submit --proof-out saves a verified tlog-proof; verify --log-proof checks it offline once the log is gone', async () => {
  const log = await startLog(logKey, 'main');
  logVkey = log.vkey;
  file('log.vkey', `${log.vkey}\n`);
  try {
    // Two entries first, so that the receipt's inclusion proof has hashes in it.
    assert.equal((await cli(['log', 'submit', 'other.json', '--log', log.url, '--token', TOKEN])).code, 0);
    file('plain.json', JSON.stringify({ payload: encodeBase64(new TextEncoder().encode('x')), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] }));
    assert.equal((await cli(['log', 'submit', 'plain.json', '--log', log.url, '--token', TOKEN])).code, 0);

    const submitted = await cli(['log', 'submit', 'receipt.json', '--log', log.url, '--token', TOKEN, '--proof-out', 'receipt.tlog', '--key', 'log.vkey']);
    assert.equal(submitted.stderr, '');
    assert.equal(submitted.code, 0);
    const answer = JSON.parse(submitted.stdout);
    assert.equal(answer.index, 2);
    receiptIndex = answer.index;
    savedProof = readFileSync(join(folder, 'receipt.tlog'), 'utf8');
    assert.equal(savedProof, answer.tlogProof);
    assert.match(savedProof, /^c2sp\.org\/tlog-proof@v1\nindex 2\n/);
    const parsed = parseTlogProof(savedProof);
    assert.equal(parsed.proof.length, 1);
    assert.equal(parseCheckpoint(parsed.checkpoint.text).size, 3);

    // Never overwritten: refused before anything is sent, the file as it was.
    assert.deepEqual(await cli(['log', 'submit', 'receipt.json', '--log', log.url, '--token', TOKEN, '--proof-out', 'receipt.tlog', '--key', log.vkey]), {
      code: 4, stdout: '', stderr: 'runprint: ERR_FILE_EXISTS: file already exists, refusing to overwrite it: receipt.tlog\n',
    });
    assert.equal(readFileSync(join(folder, 'receipt.tlog'), 'utf8'), savedProof);
    // A proof is saved only when it can be verified: the log key goes with it.
    assert.deepEqual(await cli(['log', 'submit', 'receipt.json', '--log', log.url, '--token', TOKEN, '--proof-out', 'new.tlog']), {
      code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: --proof-out needs --key LOGKEY.vkey to verify the proof before saving it\n',
    });
    assert.equal((await cli(['log', 'submit', 'receipt.json', '--log', log.url, '--token', TOKEN, '--key', 'log.vkey'])).stderr,
      'runprint: ERR_CLI_USAGE: --key goes with --proof-out\n');

    // Another log's key: the log's answer is not trusted, nothing is written.
    const stranger = await newKey(ORIGIN);
    const strangerKey = noteVerifierKey(ORIGIN, stranger.publicKey);
    const untrusted = await cli(['log', 'submit', 'other.json', '--log', log.url, '--token', TOKEN, '--proof-out', 'other.tlog', '--key', strangerKey]);
    const id = (vkey: string) => vkey.split('+').slice(0, 2).join('+');
    assert.deepEqual(untrusted, {
      code: 3,
      stdout: '',
      stderr:
        `runprint: ERR_LOG_NOTE_SIGNATURE: the checkpoint of the tlog-proof the log answered (log "${ORIGIN}") is signed by ${id(log.vkey)}; ` +
        `--key is ${id(strangerKey)} (another key with the same name): give the log's own verifier key as --key (the line its GET /v1/log/key serves, checked out of band)\n`,
    });
    assert.throws(() => readFileSync(join(folder, 'other.tlog')), { code: 'ENOENT' });

    // log proof --out writes the same kind of proof to a new file, never over an old one.
    const proved = await cli(['log', 'proof', 'receipt.json', '--log', log.url, '--key', 'log.vkey', '--out', 'proved.tlog']);
    assert.deepEqual(proved, { code: 0, stdout: '', stderr: '' });
    assert.match(readFileSync(join(folder, 'proved.tlog'), 'utf8'), /^c2sp\.org\/tlog-proof@v1\nindex 2\n/);
    assert.equal((await cli(['log', 'proof', 'receipt.json', '--log', log.url, '--key', 'log.vkey', '--out', 'proved.tlog'])).stderr,
      'runprint: ERR_FILE_EXISTS: file already exists, refusing to overwrite it: proved.tlog\n');
  } finally {
    await log.close();
  }

  // Offline from here: the log is closed.
  const verified = await cli(verifyArgs('receipt.json', 'receipt.tlog'));
  assert.equal(verified.stderr, '');
  assert.equal(verified.code, 0, verified.stdout);
  assert.match(verified.stdout, new RegExp(`✓ ${LABEL.proof}\n✓ ${LABEL.checkpoint}\n✓ ${LABEL.inclusion}\n`));
  assert.doesNotMatch(verified.stdout, /witness/);
  assert.match(verified.stdout, new RegExp(`logged in ${ORIGIN} at index 2 of 3\nreceipt verified: rp-run-v1-sha256-[0-9a-f]{64}\n$`));
  // The log key from a file, and the proof made by log proof, too.
  assert.equal((await cli(['verify', 'receipt.json', '--key', 'app/receipt-key.pub.pem', '--log-proof', 'proved.tlog', '--log-key', 'log.vkey'])).code, 0);

  const json = await cli([...verifyArgs('receipt.json', 'receipt.tlog'), '--json']);
  assert.equal(json.code, 0);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(report.checks.slice(-3), [{ name: 'log-proof', ok: true }, { name: 'log-checkpoint', ok: true }, { name: 'log-inclusion', ok: true }]);
  assert.deepEqual(report.logProof, { origin: ORIGIN, index: 2, treeSize: 3, cosignedBy: [] });
  // Without --log-proof the checklist is the receipt's alone.
  const plain = JSON.parse((await cli(['verify', 'receipt.json', '--key', 'app/receipt-key.pub.pem', '--json'])).stdout);
  assert.equal(plain.checks.some((check: { name: string }) => check.name.startsWith('log-')), false);
  assert.equal(plain.logProof, undefined);
});

test('witness policy: at least K of the given witnesses, K all of them by default', async () => {
  assert.equal(receiptIndex, 2, 'needs the proof saved by the first test');
  const note = parseTlogProof(savedProof).checkpoint;
  const both = await variant(async (proof) => ({ ...proof, checkpoint: await cosign(note, witnessA, witnessB) }));
  const onlyA = await variant(async (proof) => ({ ...proof, checkpoint: await cosign(note, witnessA) }));
  const aAndStranger = await variant(async (proof) => ({ ...proof, checkpoint: await cosign(note, witnessA, witnessC) }));
  file('witness-a.vkey', `${vkeyOf(witnessA)}\n`);
  const witnesses = ['--witness', 'witness-a.vkey', '--witness', vkeyOf(witnessB)];

  // 2 of 2.
  const passed = await cli(verifyArgs('receipt.json', both, ...witnesses));
  assert.equal(passed.code, 0, passed.stdout);
  assert.match(passed.stdout, new RegExp(`✓ ${LABEL.checkpoint}\n✓ ${LABEL.witnesses}\n✓ ${LABEL.inclusion}\n`));
  assert.match(passed.stdout, new RegExp(`logged in ${ORIGIN} at index 2 of 3, cosigned by ${witnessA.name}, ${witnessB.name} \\(2 of 2 required\\)\n`));
  const report = JSON.parse((await cli([...verifyArgs('receipt.json', both, ...witnesses), '--json'])).stdout);
  assert.deepEqual(report.logProof.cosignedBy, [witnessA.name, witnessB.name]);
  assert.equal((await cli(verifyArgs('receipt.json', both, ...witnesses, '--witness-threshold', '2'))).code, 0);

  // 2 of 2 with one cosignature missing, by default and explicitly.
  await assertFailsAt(verifyArgs('receipt.json', onlyA, ...witnesses), 'log-witnesses', 'ERR_LOG_COSIGNATURE_INVALID', LABEL.witnesses);
  await assertFailsAt(verifyArgs('receipt.json', onlyA, ...witnesses, '--witness-threshold', '2'), 'log-witnesses', 'ERR_LOG_COSIGNATURE_INVALID', LABEL.witnesses);
  // A proof with no cosignature at all.
  await assertFailsAt(verifyArgs('receipt.json', 'receipt.tlog', '--witness', vkeyOf(witnessA)), 'log-witnesses', 'ERR_LOG_COSIGNATURE_INVALID', LABEL.witnesses);
  // A cosignature from a witness that is not configured does not count.
  await assertFailsAt(verifyArgs('receipt.json', aAndStranger, ...witnesses), 'log-witnesses', 'ERR_LOG_COSIGNATURE_INVALID', LABEL.witnesses);

  // 1 of 2.
  const oneOfTwo = await cli(verifyArgs('receipt.json', onlyA, ...witnesses, '--witness-threshold', '1'));
  assert.equal(oneOfTwo.code, 0, oneOfTwo.stdout);
  assert.match(oneOfTwo.stdout, new RegExp(`cosigned by ${witnessA.name} \\(1 of 2 required\\)\n`));
  assert.equal((await cli(verifyArgs('receipt.json', both, ...witnesses, '--witness-threshold', '1'))).code, 0);
  assert.equal((await cli(verifyArgs('receipt.json', aAndStranger, ...witnesses, '--witness-threshold', '1'))).code, 0);

  // A tampered cosignature from a configured witness fails, even when the others meet the threshold.
  const tampered = await variant(async (proof) => {
    const cosigned = await cosign(note, witnessA, witnessB);
    const signatures = cosigned.signatures.map((line) => {
      if (line.name !== witnessB.name) return line;
      const signature = Uint8Array.from(line.signature);
      signature[20]! ^= 0x01;
      return { ...line, signature };
    });
    return { ...proof, checkpoint: { text: cosigned.text, signatures } };
  });
  await assertFailsAt(verifyArgs('receipt.json', tampered, ...witnesses, '--witness-threshold', '1'), 'log-witnesses', 'ERR_LOG_COSIGNATURE_INVALID', LABEL.witnesses);
  await assertFailsAt(verifyArgs('receipt.json', tampered, ...witnesses), 'log-witnesses', 'ERR_LOG_COSIGNATURE_INVALID', LABEL.witnesses);
  // A witness's cosignature over another checkpoint, pasted under this one.
  const otherCheckpoint = await signNote(formatCheckpoint({ origin: ORIGIN, size: 4, rootHash: new Uint8Array(32).fill(7) }), noteSigner(ORIGIN, logKey));
  const foreign = (await cosign(parseNote(otherCheckpoint), witnessB)).signatures.at(-1)!;
  const pasted = await variant(async (proof) => ({ ...proof, checkpoint: { text: note.text, signatures: [...(await cosign(note, witnessA)).signatures, foreign] } }));
  await assertFailsAt(verifyArgs('receipt.json', pasted, ...witnesses, '--witness-threshold', '1'), 'log-witnesses', 'ERR_LOG_COSIGNATURE_INVALID', LABEL.witnesses);
});

test('a proof of another receipt, by another log key, with a changed hash, index or origin fails at its step', async () => {
  assert.equal(receiptIndex, 2, 'needs the proof saved by the first test');
  const note = parseTlogProof(savedProof).checkpoint;
  const checkpoint = parseCheckpoint(note.text);

  // other.json is signed by the same key, so every receipt check passes: the proof is not its.
  await assertFailsAt(verifyArgs('other.json', 'receipt.tlog'), 'log-inclusion', 'ERR_LOG_PROOF_INVALID', LABEL.inclusion);
  // The same bytes re-encoded are another receipt for the log: the exact bytes count.
  const original = readFileSync(join(folder, 'receipt.json'), 'utf8');
  const reformatted = original.includes('\n  ') ? JSON.stringify(JSON.parse(original)) : JSON.stringify(JSON.parse(original), null, 2);
  assert.notEqual(reformatted, original);
  file('receipt-reformatted.json', reformatted);
  await assertFailsAt(verifyArgs('receipt-reformatted.json', 'receipt.tlog'), 'log-inclusion', 'ERR_LOG_PROOF_INVALID', LABEL.inclusion);

  // The same checkpoint signed by another key under the log's name.
  const otherLogKey = await newKey(ORIGIN);
  const otherSigned = await variant(async (proof) => ({ ...proof, checkpoint: parseNote(await signNote(note.text, noteSigner(ORIGIN, otherLogKey))) }));
  await assertFailsAt(verifyArgs('receipt.json', otherSigned), 'log-checkpoint', 'ERR_LOG_NOTE_SIGNATURE', LABEL.checkpoint);
  // The line names the proof's checkpoint, its signer, the option that gave the log key and what to give instead.
  const otherId = `${ORIGIN}+${noteSigner(ORIGIN, otherLogKey).keyHash}`;
  const givenId = logVkey.split('+').slice(0, 2).join('+');
  const wrongKey = await cli(verifyArgs('receipt.json', otherSigned));
  assert.ok(
    wrongKey.stdout.includes(
      `✗ ${LABEL.checkpoint}: ERR_LOG_NOTE_SIGNATURE: the tlog-proof's checkpoint (log "${ORIGIN}") is signed by ${otherId}; ` +
        `--log-key is ${givenId} (another key with the same name): give the log's own verifier key as --log-key (the line its GET /v1/log/key serves, checked out of band)\n`,
    ),
    wrongKey.stdout,
  );
  // The library's report (the explorer's) names no option.
  const library = await verifyReceipt(readFileSync(join(folder, 'receipt.json')), {
    keys: [await parsePublicKey(readFileSync(join(folder, 'app/receipt-key.pub.pem'), 'utf8'))],
    logProof: { proof: readFileSync(join(folder, otherSigned)), entry: readFileSync(join(folder, 'receipt.json')), policy: { logKey: await parseNoteVerifier(logVkey), witnesses: [], threshold: 0 } },
  });
  assert.equal(
    library.checks.at(-1)?.message,
    `the tlog-proof's checkpoint (log "${ORIGIN}") is signed by ${otherId}; the log key is ${givenId} (another key with the same name)`,
  );
  // POST /v1/verify (real HTTP) names the member the key came in, and what to give there.
  const service = await listen(createApp({}), { host: '127.0.0.1', port: 0 });
  try {
    const answer = await fetch(`http://127.0.0.1:${service.port}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        receipt: readFileSync(join(folder, 'receipt.json'), 'utf8'),
        keys: [readFileSync(join(folder, 'app/receipt-key.pub.pem'), 'utf8')],
        logProof: readFileSync(join(folder, otherSigned), 'utf8'),
        logKey: logVkey,
      }),
    });
    assert.equal(answer.status, 200);
    const report = (await answer.json()) as { ok: boolean; checks: Array<{ name: string; ok: boolean; code?: string; message?: string }> };
    assert.equal(report.ok, false);
    assert.deepEqual(report.checks.at(-1), {
      name: 'log-checkpoint',
      ok: false,
      code: 'ERR_LOG_NOTE_SIGNATURE',
      message:
        `the tlog-proof's checkpoint (log "${ORIGIN}") is signed by ${otherId}; member "logKey" is ${givenId} (another key with the same name): ` +
        `give the log's own verifier key as member "logKey" (the line its GET /v1/log/key serves, checked out of band)`,
    });
  } finally {
    await service.close();
  }
  // The log's own signature, changed.
  const badSignature = await variant((proof) => {
    const signature = Uint8Array.from(proof.checkpoint.signatures[0]!.signature);
    signature[0]! ^= 0x80;
    return { ...proof, checkpoint: { text: proof.checkpoint.text, signatures: [{ ...proof.checkpoint.signatures[0]!, signature }] } };
  });
  await assertFailsAt(verifyArgs('receipt.json', badSignature), 'log-checkpoint', 'ERR_LOG_NOTE_SIGNATURE', LABEL.checkpoint);

  // A tampered inclusion hash, and the right hashes at another index.
  const badHash = await variant((proof) => {
    const hashes = proof.proof.map((hash) => Uint8Array.from(hash));
    hashes[0]![31]! ^= 0x01;
    return { ...proof, proof: hashes };
  });
  await assertFailsAt(verifyArgs('receipt.json', badHash), 'log-inclusion', 'ERR_LOG_PROOF_INVALID', LABEL.inclusion);
  const badIndex = await variant((proof) => ({ ...proof, index: 1 }));
  await assertFailsAt(verifyArgs('receipt.json', badIndex), 'log-inclusion', 'ERR_LOG_PROOF_INVALID', LABEL.inclusion);

  // Wrong origin: the verifier expects another one, or the log key signed a checkpoint of another origin.
  await assertFailsAt(verifyArgs('receipt.json', 'receipt.tlog', '--log-origin', 'example.test/another-log'), 'log-checkpoint', 'ERR_LOG_CHECKPOINT_INVALID', LABEL.checkpoint);
  const otherOrigin = await variant(async (proof) => ({
    ...proof,
    checkpoint: parseNote(await signNote(formatCheckpoint({ ...checkpoint, origin: 'example.test/another-log' }), noteSigner(ORIGIN, logKey))),
  }));
  await assertFailsAt(verifyArgs('receipt.json', otherOrigin), 'log-checkpoint', 'ERR_LOG_CHECKPOINT_INVALID', LABEL.checkpoint);
  // ... which passes when the verifier is told that origin.
  assert.equal((await cli(verifyArgs('receipt.json', otherOrigin, '--log-origin', 'example.test/another-log'))).code, 0);

  // Not a tlog-proof at all.
  file('garbage.tlog', 'c2sp.org/tlog-proof@v1\nindex 02\n\nnot a note\n');
  await assertFailsAt(verifyArgs('receipt.json', 'garbage.tlog'), 'log-proof', 'ERR_LOG_TLOG_PROOF_INVALID', LABEL.proof);
  file('empty.tlog', '');
  await assertFailsAt(verifyArgs('receipt.json', 'empty.tlog'), 'log-proof', 'ERR_LOG_TLOG_PROOF_INVALID', LABEL.proof);
  // Not UTF-8, or with a byte order mark: not a tlog-proof either, however the rest reads.
  file('latin1.tlog', Buffer.concat([Buffer.from(savedProof), Buffer.from([0xff])]));
  await assertFailsAt(verifyArgs('receipt.json', 'latin1.tlog'), 'log-proof', 'ERR_LOG_TLOG_PROOF_INVALID', LABEL.proof);
  file('bom.tlog', `\ufeff${savedProof}`);
  await assertFailsAt(verifyArgs('receipt.json', 'bom.tlog'), 'log-proof', 'ERR_LOG_TLOG_PROOF_INVALID', LABEL.proof);
  // A proof with CRLF line ends is not the proof the log signed.
  file('crlf.tlog', savedProof.replaceAll('\n', '\r\n'));
  await assertFailsAt(verifyArgs('receipt.json', 'crlf.tlog'), 'log-proof', 'ERR_LOG_TLOG_PROOF_INVALID', LABEL.proof);

  // A receipt that fails its own checks never reaches the log steps: the first failure ends verification.
  assert.equal((await cli(['keygen', '--out', 'other-app'])).code, 0);
  const unsigned = await cli(['verify', 'receipt.json', '--key', 'other-app/receipt-key.pub.pem', '--log-proof', 'receipt.tlog', '--log-key', logVkey, '--json']);
  assert.equal(unsigned.code, 1);
  const report = JSON.parse(unsigned.stdout);
  assert.equal(report.checks.at(-1).code, 'ERR_SIGNATURE_UNKNOWN_KEY');
  assert.equal(report.checks.some((check: { name: string }) => check.name.startsWith('log-')), false);
});

test('wrong log options are usage errors (exit 2); bad witness keys are input errors (exit 3)', async () => {
  assert.equal(receiptIndex, 2, 'needs the proof saved by the first test');
  const base = ['verify', 'receipt.json', '--key', 'app/receipt-key.pub.pem'];
  const usage = async (argv: string[], message: string) =>
    assert.deepEqual(await cli(argv), { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` } satisfies CliResult, argv.join(' '));
  await usage([...base, '--log-proof', 'receipt.tlog'], "--log-proof needs --log-key, the log's verifier key");
  for (const extra of [['--log-key', logVkey], ['--witness', vkeyOf(witnessA)], ['--witness-threshold', '1'], ['--log-origin', ORIGIN]]) {
    await usage([...base, ...extra], '--log-key, --log-origin, --witness and --witness-threshold go with --log-proof');
  }
  const withProof = verifyArgs('receipt.json', 'receipt.tlog');
  await usage([...withProof, '--witness-threshold', '1'], '--witness-threshold needs --witness keys');
  for (const threshold of ['0', '3', '01', 'all', '1.5', '']) {
    await usage([...withProof, '--witness', vkeyOf(witnessA), '--witness', vkeyOf(witnessB), '--witness-threshold', threshold],
      '--witness-threshold must be a whole number from 1 to the number of --witness keys');
  }
  await usage([...withProof, '--witness', vkeyOf(witnessA), '--witness', vkeyOf(witnessA)], 'each --witness must have its own name');
  await usage([...withProof, '--log-origin', ''], '--log-origin must not be empty');
  await usage(['verify', '-', '--key', 'app/receipt-key.pub.pem', '--log-proof', '-', '--log-key', logVkey], 'only one input can be standard input');

  // A Sigstore bundle is not the file the log holds.
  const bundled = await cli(['sign', '--key', 'app/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--bundle', 'bundle.json', '--out', 'bundled.json']);
  assert.equal(bundled.code, 0, bundled.stderr);
  await usage(['verify', 'bundle.json', '--key', 'app/receipt-key.pub.pem', '--log-proof', 'receipt.tlog', '--log-key', logVkey],
    '--log-proof checks the receipt file submitted to the log (a DSSE envelope), not a Sigstore bundle');

  // The log's key (type 0x01) is not a witness key (type 0x04), and the other way round.
  assert.deepEqual(await cli([...withProof, '--witness', logVkey]), {
    code: 3, stdout: '', stderr: 'runprint: ERR_KEY_UNSUPPORTED: cosigner key is not a cosignature/v1 (type 0x04) key\n',
  });
  const asLogKey = await cli(['verify', 'receipt.json', '--key', 'app/receipt-key.pub.pem', '--log-proof', 'receipt.tlog', '--log-key', vkeyOf(witnessA)]);
  assert.equal(asLogKey.code, 3);
  assert.match(asLogKey.stderr, /^runprint: ERR_KEY_(INVALID|UNSUPPORTED): /);
  assert.deepEqual(await cli([...withProof, '--witness', 'no-such.vkey']), { code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: no-such.vkey\n' });
  assert.deepEqual(await cli(['verify', 'receipt.json', '--key', 'app/receipt-key.pub.pem', '--log-proof', 'no-such.tlog', '--log-key', logVkey]), {
    code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: no-such.tlog\n',
  });
});

test('a log cosigned by its witnesses: the proof saved on submission carries the cosignatures verify asks for', async () => {
  const key = await newKey(ORIGIN);
  const log = await startLog(key, 'witnessed', [witnessA, witnessB]);
  try {
    file('witnessed.vkey', `${log.vkey}\n`);
    const submitted = await cli(['log', 'submit', 'receipt.json', '--log', log.url, '--token', TOKEN, '--proof-out', 'witnessed.tlog', '--key', 'witnessed.vkey']);
    assert.equal(submitted.code, 0, submitted.stderr);
  } finally {
    await log.close();
  }
  const argv = ['verify', 'receipt.json', '--key', 'app/receipt-key.pub.pem', '--log-proof', 'witnessed.tlog', '--log-key', 'witnessed.vkey'];
  const both = await cli([...argv, '--witness', vkeyOf(witnessA), '--witness', vkeyOf(witnessB)]);
  assert.equal(both.code, 0, both.stdout);
  assert.match(both.stdout, new RegExp(`logged in ${ORIGIN} at index 0 of 1, cosigned by ${witnessA.name}, ${witnessB.name} \\(2 of 2 required\\)\n`));
  // A witness this log never asked: required by default, so the proof does not meet the policy.
  const withC = [...argv, '--witness', vkeyOf(witnessA), '--witness', vkeyOf(witnessC)];
  const missing = await cli(withC);
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /✗ witness cosignatures meet the policy: ERR_LOG_COSIGNATURE_INVALID: checkpoint has fewer witness cosignatures than the policy requires\n/);
  assert.equal((await cli([...withC, '--witness-threshold', '1'])).code, 0);
});

/** A fake log on loopback that answers every submission with `answer(receipt bytes)`. */
async function fakeLog(answer: (body: Uint8Array) => Record<string, unknown>): Promise<{ url: string; server: Server; queries: string[] }> {
  const queries: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      queries.push(new URL(request.url ?? '/', 'http://x').search);
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer(new Uint8Array(Buffer.concat(chunks)))));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`, server, queries };
}

test('log submit --proof-out trusts nothing the log answers: no proof, a proof of other bytes or of another index write nothing', async () => {
  assert.equal(receiptIndex, 2, 'needs the proof saved by the first test');
  const leafHash = (body: Uint8Array) => encodeBase64(hashLeaf(body));
  const cases: Array<[string, (body: Uint8Array) => Record<string, unknown>, { code: number; stderr: string }]> = [
    ['none', (body) => ({ index: 2, leafHash: leafHash(body) }), {
      code: 4,
      stderr: 'runprint: ERR_LOG_UNREACHABLE: log accepted the receipt at index 2 but gave no tlog-proof (no signed checkpoint covered it in time); run "runprint log proof" later\n',
    }],
    // The genuine proof of receipt.json, answered for other.json.
    ['other-bytes', (body) => ({ index: 2, leafHash: leafHash(body), tlogProof: savedProof }), {
      code: 3, stderr: 'runprint: ERR_LOG_PROOF_INVALID: inclusion proof does not lead to the checkpoint root hash\n',
    }],
    ['not-a-proof', (body) => ({ index: 2, leafHash: leafHash(body), tlogProof: 'hello' }), {
      code: 3, stderr: 'runprint: ERR_LOG_TLOG_PROOF_INVALID: tlog-proof must start with c2sp.org/tlog-proof@v1 and hold a checkpoint after a blank line\n',
    }],
  ];
  for (const [name, answer, expected] of cases) {
    const fake = await fakeLog(answer);
    try {
      const result = await cli(['log', 'submit', 'other.json', '--log', fake.url, '--proof-out', `${name}.tlog`, '--key', logVkey]);
      assert.deepEqual(result, { ...expected, stdout: '' }, name);
      assert.deepEqual(fake.queries, ['?wait=checkpoint']);
      assert.throws(() => readFileSync(join(folder, `${name}.tlog`)), { code: 'ENOENT' }, name);
    } finally {
      fake.server.close();
    }
  }
  // A valid proof of these bytes, but at another index than the log answered.
  const fake = await fakeLog((body) => ({ index: 5, leafHash: leafHash(body), tlogProof: savedProof }));
  try {
    assert.deepEqual(await cli(['log', 'submit', 'receipt.json', '--log', fake.url, '--proof-out', 'index.tlog', '--key', logVkey]), {
      code: 3, stdout: '', stderr: 'runprint: ERR_LOG_PROOF_INVALID: log answered a tlog-proof for another index than the one it gave\n',
    });
    assert.throws(() => readFileSync(join(folder, 'index.tlog')), { code: 'ENOENT' });
  } finally {
    fake.server.close();
  }
  // The same answer at the right index is saved, byte for byte.
  const honest = await fakeLog((body) => ({ index: 2, leafHash: leafHash(body), tlogProof: savedProof }));
  try {
    assert.equal((await cli(['log', 'submit', 'receipt.json', '--log', honest.url, '--proof-out', 'honest.tlog', '--key', logVkey])).code, 0);
    assert.equal(readFileSync(join(folder, 'honest.tlog'), 'utf8'), savedProof);
    // Without --proof-out nothing is waited for.
    assert.equal((await cli(['log', 'submit', 'receipt.json', '--log', honest.url])).code, 0);
    assert.deepEqual(honest.queries, ['?wait=checkpoint', '']);
  } finally {
    honest.server.close();
  }
});

test('the library: verifyReceipt with logProof and checkLogProof give the same steps as the command', async () => {
  assert.equal(receiptIndex, 2, 'needs the proof saved by the first test');
  const entry = new Uint8Array(readFileSync(join(folder, 'receipt.json')));
  const key = await parsePublicKey(readFileSync(join(folder, 'app/receipt-key.pub.pem'), 'utf8'));
  const policy = { logKey: await parseNoteVerifier(logVkey), witnesses: [await parseCosignerKey(vkeyOf(witnessA))], threshold: 1 };
  const cosigned = formatTlogProof({ ...parseTlogProof(savedProof), checkpoint: await cosign(parseTlogProof(savedProof).checkpoint, witnessA) });

  const report = await verifyReceipt(entry, { keys: [key], logProof: { proof: new TextEncoder().encode(cosigned), entry, policy } });
  assert.equal(report.ok, true);
  assert.deepEqual(report.checks.slice(-4).map((check) => check.name), ['log-proof', 'log-checkpoint', 'log-witnesses', 'log-inclusion']);
  assert.deepEqual(report.logProof, { origin: ORIGIN, index: 2, treeSize: 3, cosignedBy: [witnessA.name] });

  const alone = await checkLogProof({ proof: savedProof, entry, policy });
  assert.equal(alone.summary, undefined);
  assert.deepEqual(alone.checks.at(-1), {
    name: 'log-witnesses', ok: false, code: 'ERR_LOG_COSIGNATURE_INVALID', message: 'checkpoint has fewer witness cosignatures than the policy requires',
  });
  // A policy that cannot be met is the caller's mistake, not a failed check.
  await assert.rejects(checkLogProof({ proof: savedProof, entry, policy: { ...policy, threshold: 2 } }), RangeError);
});
