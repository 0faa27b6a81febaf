/** docs/RECEIPTS.md section 14.2: DSSE v1.0 signing of a receipt statement with Ed25519, and countersigning. */
import { ReceiptError } from '../errors.ts';
import { canonicalBytes } from '../jcs/canonicalize.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { decodePayload, decodeSignature, envelopeOf, PAYLOAD_TYPE, readEnvelope, type Envelope } from './envelope.ts';
import { requireOptions, requireSigningKey } from '../keys/key-arguments.ts';
import type { SigningKey } from '../keys/keys.ts';
import { pae } from './pae.ts';
import type { ReceiptFacts } from './predicate.ts';
import { buildStatement, checkPredicateType, checkStatementType, parseStatement, type Statement } from './statement.ts';

const ED25519 = { name: 'Ed25519' } as const;

/** Ed25519 signature (RFC 8032, deterministic) over PAE(payloadType, payload). */
async function signPae(payloadType: string, payload: Uint8Array, key: SigningKey): Promise<string> {
  const message = pae(payloadType, payload);
  if (key.signBytes !== undefined) return encodeBase64(key.signBytes(message));
  const signature = await globalThis.crypto.subtle.sign(ED25519, key.cryptoKey, message as Uint8Array<ArrayBuffer>);
  return encodeBase64(new Uint8Array(signature));
}

/**
 * Signs a statement. The payload is the RFC 8785 canonical form of the statement, so the same
 * statement and key always give the same envelope, byte for byte (Ed25519 is deterministic).
 */
export async function signStatement(statement: Statement, key: SigningKey): Promise<Envelope> {
  requireOptions(statement, 'signStatement statement');
  requireSigningKey(key, 'signStatement key');
  const payload = canonicalBytes(statement);
  const envelope = envelopeOf(payload);
  envelope.signatures.push({ keyid: key.keyId, sig: await signPae(PAYLOAD_TYPE, payload, key) });
  return envelope;
}

/** Builds the statement of a run and signs it: the receipt. */
export async function signReceipt(facts: ReceiptFacts, key: SigningKey): Promise<Envelope> {
  requireSigningKey(key, 'signReceipt key');
  requireOptions(facts, 'signReceipt facts');
  requireOptions(facts.identity, 'signReceipt facts.identity (an identity document from computeIdentity)');
  requireOptions(facts.output, 'signReceipt facts.output (from receiptFactsOf or runOutputFrom)');
  return signStatement(buildStatement(facts), key);
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
