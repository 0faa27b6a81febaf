/** Mutation test of receipt verification (SPEC 15): random byte changes to valid receipts; every change to signed bytes fails. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addSignature, formatEnvelope, parsePrivateKey, parsePublicKey, signReceipt, verifyReceipt } from '../../src/receipt/index.ts';
import { APPLICATION_KEY, fixtureFacts, GATEWAY_KEY } from '../fixtures/receipt-run.ts';

/** xorshift32, seeded, so a failure can be replayed from the seed printed with it. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= ';

interface Decoded {
  payloadType: string;
  payload: string;
  signatures: string[];
}

/** How an independent, lenient reader (JSON.parse and Buffer) sees a text; undefined if not an envelope at all. */
function lenientRead(bytes: Uint8Array): Decoded | undefined {
  let value: any;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof value?.payload !== 'string' || typeof value?.payloadType !== 'string' || !Array.isArray(value?.signatures)) return undefined;
  const b64 = (text: unknown) => (typeof text === 'string' ? Buffer.from(text, 'base64').toString('hex') : '');
  return { payloadType: value.payloadType, payload: b64(value.payload), signatures: value.signatures.map((s: any) => b64(s?.sig)) };
}

test('at least 10,000 random mutations of valid receipts: any change to signed bytes fails, nothing crashes', async () => {
  const seed = Number(process.env['RUNPRINT_MUTATION_SEED'] ?? 20260101);
  const next = random(seed);
  const application = await parsePrivateKey(APPLICATION_KEY.privateKeyPem);
  const gateway = await parsePrivateKey(GATEWAY_KEY.privateKeyPem);
  const keys = [await parsePublicKey(APPLICATION_KEY.publicKeyPem), await parsePublicKey(GATEWAY_KEY.publicKeyPem)];
  const single = formatEnvelope(await signReceipt(fixtureFacts(), application));
  const double = formatEnvelope(await addSignature(single, gateway));
  const receipts = [
    { text: single, keys: keys.slice(0, 1) },
    { text: double, keys },
    // The same receipt as one line of compact JSON: other bytes next to the signed ones.
    { text: JSON.stringify(JSON.parse(double)), keys },
  ];
  for (const receipt of receipts) assert.equal((await verifyReceipt(receipt.text, { keys: receipt.keys })).ok, true);

  const counts = { notEnvelope: 0, signedBytesChanged: 0, unsignedChange: 0, unsignedChangeAccepted: 0 };
  const encoder = new TextEncoder();
  const total = 12_000;
  for (let i = 0; i < total; i++) {
    const receipt = receipts[Math.floor(next() * receipts.length)]!;
    const original = encoder.encode(receipt.text);
    const mutated = Uint8Array.from(original);
    // One to three bytes: a flipped bit, any other byte, or a base64 character.
    // Half of them aimed inside the base64 payload and signatures, where the signed bytes are.
    const changes = 1 + Math.floor(next() * 3);
    const aimed = next() < 0.5;
    const start = receipt.text.indexOf('"payload"');
    for (let c = 0; c < changes; c++) {
      const at = aimed ? start + Math.floor(next() * (mutated.length - start)) : Math.floor(next() * mutated.length);
      const kind = next();
      mutated[at] =
        kind < 0.4 ? mutated[at]! ^ (1 << Math.floor(next() * 8)) // one bit
        : kind < 0.7 ? Math.floor(next() * 256) // any byte
        : BASE64.charCodeAt(Math.floor(next() * BASE64.length)); // a byte that keeps the JSON valid
    }
    if (Buffer.compare(mutated, original) === 0) continue;
    let report;
    try {
      report = await verifyReceipt(mutated, { keys: receipt.keys });
    } catch (error) {
      assert.fail(`seed ${seed}, mutation ${i}: verification threw ${String(error)}`);
    }
    const before = lenientRead(original)!;
    const after = lenientRead(mutated);
    if (after === undefined) {
      counts.notEnvelope++;
      assert.equal(report.ok, false, `seed ${seed}, mutation ${i}: a broken envelope verified`);
      continue;
    }
    const signedChanged =
      after.payloadType !== before.payloadType ||
      after.payload !== before.payload ||
      before.signatures.some((sig) => !after.signatures.includes(sig));
    if (signedChanged) {
      counts.signedBytesChanged++;
      assert.equal(report.ok, false, `seed ${seed}, mutation ${i}: changed signed bytes still verified`);
    } else {
      // White space, the keyid hint, member order or names the reader ignores: either result is
      // acceptable, as long as it is a report and not a crash.
      counts.unsignedChange++;
      if (report.ok) counts.unsignedChangeAccepted++;
    }
  }
  const checked = counts.notEnvelope + counts.signedBytesChanged + counts.unsignedChange;
  assert.ok(checked >= 10_000, `only ${checked} mutations`);
  process.stdout.write(`# seed ${seed}: ${JSON.stringify(counts)}\n`);
  assert.ok(counts.signedBytesChanged >= 5_000, `only ${counts.signedBytesChanged} mutations of signed bytes`);
});

test('every single-bit flip of the payload bytes and of the signature bytes fails verification', async () => {
  const application = await parsePrivateKey(APPLICATION_KEY.privateKeyPem);
  const keys = [await parsePublicKey(APPLICATION_KEY.publicKeyPem)];
  const envelope = await signReceipt(fixtureFacts(), application);
  const payload = Buffer.from(envelope.payload, 'base64');
  const signature = Buffer.from(envelope.signatures[0]!.sig, 'base64');
  let flips = 0;
  for (let bit = 0; bit < signature.length * 8; bit++) {
    const sig = Buffer.from(signature);
    sig[bit >> 3] = sig[bit >> 3]! ^ (1 << (bit & 7));
    const report = await verifyReceipt({ ...envelope, signatures: [{ sig: sig.toString('base64') }] }, { keys });
    assert.equal(report.ok, false, `signature bit ${bit}`);
    flips++;
  }
  // Every bit of the first 256 bytes and of the last 64, then every 7th bit between.
  for (let bit = 0; bit < payload.length * 8; bit += bit < 2048 || bit >= (payload.length - 64) * 8 ? 1 : 7) {
    const bytes = Buffer.from(payload);
    bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
    const report = await verifyReceipt({ ...envelope, payload: bytes.toString('base64') }, { keys });
    assert.deepEqual([report.ok, report.checks.at(-1)?.code], [false, 'ERR_SIGNATURE_INVALID'], `payload bit ${bit}`);
    flips++;
  }
  assert.ok(flips > 3_000, `only ${flips} flips`);
});
