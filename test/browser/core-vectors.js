// Runs in a real browser: the pure core, as compiled to dist/, checked against testdata/ vectors
// with the browser's own WebCrypto and no node:* module. Results go to window.runprintResults.
import { parseJson, canonicalize } from '/dist/jcs/index.js';
import { computeIdentity, parseComposition } from '/dist/identity/index.js';
import { verifyInclusion, verifyConsistency } from '/dist/merkle/index.js';
import { parseCheckpoint, verifyNote, parseNoteVerifier, verifyTlogProof, parseCosignerKey } from '/dist/log/index.js';
import { parsePublicKey, verifyReceipt } from '/dist/receipt/index.js';

const results = { checked: {}, failures: [], hashFallback: typeof globalThis.process === 'undefined' };
const fail = (area, desc, detail) => results.failures.push(`${area}: ${desc}: ${detail}`);
const load = async (path) => (await (await fetch(`/testdata/${path}`)).json()).vectors;
const bytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
const count = (area) => (results.checked[area] = (results.checked[area] ?? 0) + 1);
const codeOf = async (run) => {
  try {
    await run();
    return undefined;
  } catch (error) {
    return error?.code ?? String(error);
  }
};

async function jcs() {
  for (const name of ['rfc8785-examples', 'numbers', 'strings', 'key-order', 'rejections']) {
    for (const v of await load(`jcs/${name}.json`)) {
      const run =
        v.inputText !== undefined
          ? () => canonicalize(parseJson(v.inputText))
          : v.ieee754Hex !== undefined
            ? () => canonicalize(new DataView(bytes(v.ieee754Hex).buffer).getFloat64(0))
            : v.input !== undefined
              ? () => canonicalize(v.input)
              : undefined;
      if (run === undefined) continue;
      let got;
      const code = await codeOf(() => void (got = run()));
      if (code !== v.wantErr || (code === undefined && got !== v.wantCanonical)) fail('jcs', v.desc, `${code ?? got}`);
      count('jcs');
    }
  }
}

async function identity() {
  for (const v of await load('identity/compositions.json')) {
    const got = canonicalize(computeIdentity(parseComposition(v.composition)));
    if (got !== canonicalize(v.wantIdentity)) fail('identity', v.desc, 'identity document differs');
    count('identity');
  }
}

async function merkle() {
  for (const v of await load('log/inclusion-proofs.json')) {
    const valid = verifyInclusion(bytes(v.leafHash), v.index, v.size, v.proof.map(bytes), bytes(v.rootHash));
    if ((valid ? undefined : 'ERR_LOG_PROOF_INVALID') !== v.wantErr) fail('merkle', v.desc, `valid=${valid}`);
    count('merkle');
  }
  for (const v of await load('log/consistency-proofs.json')) {
    const valid = verifyConsistency(v.oldSize, v.newSize, v.proof.map(bytes), bytes(v.oldRoot), bytes(v.newRoot));
    if ((valid ? undefined : 'ERR_LOG_INCONSISTENT') !== v.wantErr) fail('merkle', v.desc, `valid=${valid}`);
    count('merkle');
  }
}

async function log() {
  for (const v of await load('log/checkpoints.json')) {
    const code = await codeOf(() => parseCheckpoint(v.inputText));
    if (code !== v.wantErr) fail('log', v.desc, `${code} != ${v.wantErr}`);
    if (v.wantErr === undefined && parseCheckpoint(v.inputText).size !== v.want.size) fail('log', v.desc, 'size');
    count('log');
  }
  for (const v of await load('log/signed-notes.json')) {
    const verifiers = await Promise.all(v.verifierKeys.map((key) => parseNoteVerifier(key)));
    let text;
    const code = await codeOf(async () => void (text = (await verifyNote(v.inputText, verifiers)).text));
    if (code !== v.wantErr || (code === undefined && text !== v.wantText)) fail('log', v.desc, `${code} != ${v.wantErr}`);
    count('log');
  }
  for (const v of await load('log/tlog-proofs.json')) {
    const policy = v.policy;
    const options = {
      logKey: await parseNoteVerifier(policy.logKey),
      witnesses: await Promise.all(policy.witnesses.map((key) => parseCosignerKey(key))),
      threshold: policy.threshold,
    };
    let verified;
    const code = await codeOf(async () => void (verified = await verifyTlogProof(v.inputText, bytes(v.entryHex), options)));
    if (code !== v.wantErr || (code === undefined && verified.index !== v.wantIndex)) fail('log', v.desc, `${code} != ${v.wantErr}`);
    count('log');
  }
}

async function receipts() {
  for (const v of await load('receipt/receipts.json')) {
    const keys = await Promise.all(v.publicKeys.map((pem) => parsePublicKey(pem)));
    const options = { keys };
    if (v.composition !== undefined) options.composition = v.composition;
    if (v.from !== undefined) options.from = v.from;
    if (v.outputText !== undefined) options.output = new TextEncoder().encode(v.outputText);
    const report = await verifyReceipt(v.envelope.text ?? v.envelope, options);
    if (report.ok !== (v.wantOk === true)) fail('receipt', v.desc, `ok=${report.ok}`);
    count('receipt');
  }
}

try {
  for (const area of [jcs, identity, merkle, log, receipts]) await area();
} catch (error) {
  results.failures.push(`crashed: ${error?.code ?? ''} ${error?.message ?? error}`);
}
window.runprintResults = results;
