/** docs/RECEIPTS.md section 14.2: DSSE v1.0 signing of a receipt statement with Ed25519, and countersigning. */
import { ReceiptError } from '../errors.ts';
import { canonicalBytesInSteps } from '../jcs/canonical-steps.ts';
import { canonicalBytes } from '../jcs/canonicalize.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { decodePayload, decodeSignature, envelopeOf, PAYLOAD_TYPE, readEnvelope, type Envelope } from './envelope.ts';
import { requireOptionalFunction, requireOptions, requireSigningKey } from '../keys/key-arguments.ts';
import type { SigningKey } from '../keys/keys.ts';
import { pae } from './pae.ts';
import type { ReceiptFacts } from './predicate.ts';
import { buildStatement, checkPredicateType, checkStatementType, parseStatement, type Statement } from './statement.ts';

const ED25519 = { name: 'Ed25519' } as const;

/**
 * Messages this long or longer are signed with WebCrypto even where the key has a signer of its
 * own (SigningKey.signBytes): Node computes a WebCrypto signature in its thread pool, where the
 * own signer holds the calling thread (about 30 ms for the 8 MB receipt of a request of 100,000
 * messages). The same signature either way: Ed25519 is deterministic.
 */
const LARGE_MESSAGE = 1024 * 1024;

/**
 * Long arrays (an identity document's element digests) are canonicalized this many elements at a
 * time when signing in steps (signStatement's `pause`).
 */
const STEP_ELEMENTS = 4096;

/** Ed25519 signature (RFC 8032, deterministic) over PAE(payloadType, payload). */
async function signPae(payloadType: string, payload: Uint8Array, key: SigningKey, pause?: () => Promise<void>): Promise<string> {
  const message = pae(payloadType, payload);
  if (key.signBytes !== undefined && message.length < LARGE_MESSAGE) return encodeBase64(key.signBytes(message));
  // A copy of the payload, and WebCrypto copies it again: one copy per turn.
  if (pause !== undefined) await pause();
  const signature = await globalThis.crypto.subtle.sign(ED25519, key.cryptoKey, message as Uint8Array<ArrayBuffer>);
  return encodeBase64(new Uint8Array(signature));
}

/**
 * Signs a statement. The payload is the RFC 8785 canonical form of the statement, so the same
 * statement and key always give the same envelope, byte for byte (Ed25519 is deterministic).
 * With `pause`, the same envelope is made in steps with `pause` awaited between them (a statement
 * of thousands of element digests: canonicalBytesInSteps), so that the event loop of a server
 * signing it answers other calls meanwhile; a `pause` that rejects (or throws) ends the signing at
 * once with its error. `pause` other than a function or undefined: a TypeError (ERR_INVALID_ARG_TYPE).
 */
export async function signStatement(statement: Statement, key: SigningKey, pause?: () => Promise<void>): Promise<Envelope> {
  requireOptions(statement, 'signStatement statement');
  requireSigningKey(key, 'signStatement key');
  requireOptionalFunction(pause, 'signStatement pause');
  const payload = pause === undefined ? canonicalBytes(statement) : await canonicalBytesInSteps(statement, pause, STEP_ELEMENTS);
  if (pause !== undefined) await pause();
  const envelope = envelopeOf(payload);
  if (pause !== undefined) await pause();
  envelope.signatures.push({ keyid: key.keyId, sig: await signPae(PAYLOAD_TYPE, payload, key, pause) });
  return envelope;
}

/** Builds the statement of a run and signs it: the receipt. `pause`: as signStatement's. */
export async function signReceipt(facts: ReceiptFacts, key: SigningKey, pause?: () => Promise<void>): Promise<Envelope> {
  requireSigningKey(key, 'signReceipt key');
  requireOptions(facts, 'signReceipt facts');
  requireOptions(facts.identity, 'signReceipt facts.identity (an identity document from computeIdentity)');
  requireOptions(facts.output, 'signReceipt facts.output (from receiptFactsOf or runOutputFrom)');
  requireOptionalFunction(pause, 'signReceipt pause');
  return signStatement(buildStatement(facts), key, pause);
}

/**
 * Adds one more signature (a gateway's after an application's) to an existing receipt. The payload
 * is not touched, so every signature already there stays valid. The envelope comes from elsewhere:
 * before signing, its shape, payload type and base64 are checked and the payload must be a runprint
 * receipt statement; the existing signatures are not verified (the countersigner may not hold
 * those keys). Signing again with a key that already signed returns the envelope unchanged.
 */
export async function addSignature(input: unknown, key: SigningKey): Promise<Envelope> {
  requireSigningKey(key, 'addSignature key');
  const envelope = readEnvelope(input);
  if (envelope.payloadType !== PAYLOAD_TYPE) {
    throw new ReceiptError('ERR_ENVELOPE_PAYLOAD_TYPE', `envelope "payloadType" must be "${PAYLOAD_TYPE}"`);
  }
  const payload = decodePayload(envelope);
  envelope.signatures.forEach((signature, index) => decodeSignature(signature, index));
  const statement = parseStatement(payload);
  checkStatementType(statement);
  checkPredicateType(statement);
  const sig = await signPae(envelope.payloadType, payload, key);
  if (envelope.signatures.some((signature) => signature.sig === sig)) return envelope;
  envelope.signatures.push({ keyid: key.keyId, sig });
  return envelope;
}
