/**
 * Benchmarks of receipts: verify and sign against bare Ed25519 plus identity, in the same run.
 * verifyReceipt hashes the caller's composition while WebCrypto checks Ed25519 off the main thread,
 * so its baseline overlaps the same two pieces of work the same way; the sequential baseline is
 * printed beside it only to show what the overlap is worth on this machine.
 */
import { computeIdentity } from '../src/identity/identity.ts';
import { canonicalBytes } from '../src/jcs/canonicalize.ts';
import { formatEnvelope } from '../src/receipt/envelope.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { pae } from '../src/receipt/pae.ts';
import type { ReceiptFacts } from '../src/receipt/predicate.ts';
import { signReceipt } from '../src/receipt/sign.ts';
import { buildStatement } from '../src/receipt/statement.ts';
import { verifyReceipt } from '../src/receipt/verify.ts';
import { composition } from './fixtures.ts';
import { us, type BenchResult } from './measure.ts';


/** Median nanoseconds per call of an async function over one round of at least `roundMs`. */
async function measureAsync(fn: () => Promise<unknown>, roundMs: number): Promise<number> {
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < roundMs * 1e6) {
    await fn();
    calls++;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  return elapsed / calls;
}

/** Alternates baseline and candidate rounds so machine load affects both alike; medians of each. */
async function compareAsync(candidate: () => Promise<unknown>, baseline: () => Promise<unknown>, pairs = 11, roundMs = 200) {
  await measureAsync(baseline, 100);
  await measureAsync(candidate, 100);
  const c: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < pairs; i++) {
    b.push(await measureAsync(baseline, roundMs));
    c.push(await measureAsync(candidate, roundMs));
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  return { candidate: median(c), baseline: median(b) };
}

const ED25519 = { name: 'Ed25519' } as const;

/** ratio = baseline time / runprint time: 1.0 means no overhead over the bare work; the target is at least 0.8. */
export async function benchReceipt(): Promise<BenchResult[]> {
  const files = await generateKeyFiles('bench');
  const key = await parsePrivateKey(files.privateKeyPem);
  const value = composition(20_000);
  const facts = (): ReceiptFacts => ({
    identity: computeIdentity(value),
    requestedModel: 'gpt-4o-2024-08-06',
    output: { digest: { sha256: 'ab'.repeat(32) }, rawDigest: { sha256: 'cd'.repeat(32) }, finishReason: 'stop', usage: { total_tokens: 900 }, stream: false },
    capture: 'proxy',
    runprintVersion: '0.1.0',
    startedOn: '2026-01-01T00:00:00Z',
    finishedOn: '2026-01-01T00:00:02Z',
  });
  const envelope = await signReceipt(facts(), key);
  const text = formatEnvelope(envelope);
  const payload = canonicalBytes(buildStatement(facts()));
  const message = pae(envelope.payloadType, payload) as Uint8Array<ArrayBuffer>;
  const signature = Uint8Array.from(Buffer.from(envelope.signatures[0]!.sig, 'base64'));
  const subtle = globalThis.crypto.subtle;
  if (!(await verifyReceipt(text, { keys: [key.publicKey], composition: value as never })).ok) throw new Error('bench receipt does not verify');

  const verifyOverlapped = async () => {
    const pending = subtle.verify(ED25519, key.publicKey.cryptoKey, signature, message);
    const identity = computeIdentity(value);
    return [await pending, identity];
  };
  const verifySequential = async () => {
    const ok = await subtle.verify(ED25519, key.publicKey.cryptoKey, signature, message);
    return [ok, computeIdentity(value)];
  };
  const verify = await compareAsync(() => verifyReceipt(text, { keys: [key.publicKey], composition: value as never }), verifyOverlapped);
  const overlap = await compareAsync(verifyOverlapped, verifySequential);
  const sign = await compareAsync(
    () => signReceipt(facts(), key),
    async () => [computeIdentity(value), await subtle.sign(ED25519, key.cryptoKey, message)],
  );
  const size = `${JSON.stringify(value).length} chars`;
  return [
    {
      name: `verify a receipt (parse ${text.length} B envelope, Ed25519, checklist, recompute identity of a 20 KB composition) vs bare Ed25519 verify overlapped with identity, as verifyReceipt overlaps them; speed ratio, target >= 0.8`,
      ratio: verify.baseline / verify.candidate,
      detail: `${us(verify.candidate)} vs ${us(verify.baseline)}, composition ${size}`,
    },
    {
      name: 'for scale, not a target: bare Ed25519 verify overlapped with identity vs the same two one after the other; speed ratio (above 1: the overlap pays)',
      ratio: overlap.baseline / overlap.candidate,
      detail: `${us(overlap.candidate)} vs ${us(overlap.baseline)}`,
    },
    {
      name: 'sign a receipt (identity of a 20 KB composition, statement, JCS, PAE, Ed25519, base64) vs bare identity + Ed25519 sign; speed ratio, target >= 0.8',
      ratio: sign.baseline / sign.candidate,
      detail: `${us(sign.candidate)} vs ${us(sign.baseline)}, composition ${size}`,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const result of await benchReceipt()) process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
}
