/** docs/RECEIPTS.md section 15: verifying a receipt offline, as a checklist of named steps. */
import type { InputFormat } from '../compose/from-document.ts';
import { ReceiptError, type ErrorCode } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import { decodePayload, decodeSignature, PAYLOAD_TYPE, type Envelope } from './envelope.ts';
import { requireBytes, requireOptions, requirePublicKey } from '../keys/key-arguments.ts';
import type { PublicKey } from '../keys/keys.ts';
import { checkLogProof, type LogProofOptions, type LogProofSummary } from './log-proof-check.ts';
import { pae } from './pae.ts';
import type { Predicate, ReceiptRetrieval } from './predicate.ts';
import { readPredicate } from './predicate-shape.ts';
import { readReceiptInput } from './receipt-input.ts';
import {
  checkComposition,
  checkOutput,
  checkPredicateIdentity,
  checkSubjectBinding,
  finishDocumentIdentity,
  prepareDocumentIdentity,
  type PreparedIdentity,
  predicateMatches,
} from './receipt-identity.ts';
import { checkPredicateType, checkStatementType, parseStatement, readSubjects, type ReceiptSubjects } from './statement.ts';

/** The checks, in the order they run. */
export type CheckName =
  | 'envelope'
  | 'payload-type'
  | 'base64'
  | 'signature'
  | 'statement-type'
  | 'subjects'
  | 'predicate-type'
  | 'predicate'
  | 'subject-binding'
  | 'identity'
  | 'composition'
  | 'output'
  | 'log-proof'
  | 'log-checkpoint'
  | 'log-witnesses'
  | 'log-inclusion';

/** What each check establishes, for people. */
export const CHECK_LABELS: { readonly [N in CheckName]: string } = {
  envelope: 'envelope shape (DSSE v1.0)',
  'payload-type': 'payload type application/vnd.in-toto+json',
  base64: 'payload and signatures are base64',
  signature: 'Ed25519 signature over the DSSE PAE',
  'statement-type': 'in-toto Statement v1',
  subjects: 'subjects: run identity and output digests',
  'predicate-type': 'predicate type and version (runprint receipt v1)',
  predicate: 'predicate shape',
  'subject-binding': 'subjects match the predicate',
  identity: 'component digests give the run identity',
  composition: 'identity recomputed from the composition',
  output: 'output digest recomputed from the output bytes',
  'log-proof': 'log proof shape (C2SP tlog-proof@v1)',
  'log-checkpoint': 'checkpoint signed by the log key, with the log\'s origin',
  'log-witnesses': 'witness cosignatures meet the policy',
  'log-inclusion': 'receipt bytes included in the checkpoint\'s tree',
};

export interface VerificationCheck {
  name: CheckName;
  ok: boolean;
  /** For `signature`: the key id the check is about. */
  keyId?: string;
  code?: ErrorCode;
  message?: string;
  /** For a malformed Sigstore bundle: the RFC 9535 path of the offending member (16.4). */
  path?: string;
}

export interface VerificationReport {
  /** True only when every check ran and passed. */
  ok: boolean;
  checks: VerificationCheck[];
  /** The run identity the receipt is about; present only when every check passed. */
  runId?: string;
  /** With `logProof` given: where the log holds the receipt; present only when every check passed. */
  logProof?: LogProofSummary;
  /**
   * The documents the receipt declares the run rests on (13.2 `runDetails.retrieval`), signed with
   * it; present only when every check passed and the receipt has the member.
   */
  retrieval?: ReceiptRetrieval[];
}

export interface VerifyOptions {
  /** Every key given must have signed the envelope (an application key and a gateway key, say). */
  keys: readonly PublicKey[];
  /** A composition or a provider request (parsed JSON), to recompute the identity from. */
  composition?: JsonValue;
  /** How to read `composition` (default: auto, as `runprint id`). */
  from?: InputFormat;
  /** The provider response or stream bytes, to recompute the output digest from. */
  output?: Uint8Array;
  outputFormat?: RequestFormat;
  /**
   * A tlog-proof that travels beside the receipt: checked offline after every receipt check passed
   * (log signature and origin, witness cosignatures, inclusion of `entry`, the receipt's exact bytes).
   */
  logProof?: LogProofOptions;
}

const ED25519 = { name: 'Ed25519' } as const;

/**
 * Verifies a receipt: a DSSE envelope, or a Sigstore bundle holding one (section 16), as JSON
 * text, bytes or a parsed value. Everything in it is
 * attacker-controlled until its signature is verified, and the signer is trusted only to have
 * signed, not to be correct, so every later step re-reads the payload defensively. The first
 * failing check ends verification; its code is stable. Bad `composition` or `output` inputs
 * (the caller's, not the receipt's) throw their own errors.
 */
export async function verifyReceipt(input: unknown, options: VerifyOptions): Promise<VerificationReport> {
  // Programmer errors, before anything is read: the caller's arguments, not the receipt.
  requireOptions(options, 'verifyReceipt options');
  if (!Array.isArray(options.keys) || options.keys.length === 0) throw new TypeError('verifyReceipt options.keys must be an array of at least one public key');
  options.keys.forEach((key, index) => requirePublicKey(key, `verifyReceipt options.keys[${index}]`));
  if (options.output !== undefined) requireBytes(options.output, 'verifyReceipt options.output');
  if (options.logProof !== undefined) requireOptions(options.logProof, 'verifyReceipt options.logProof');
  const checks: VerificationCheck[] = [];
  const report = (ok: boolean): VerificationReport => ({ ok, checks });
  const step = <T>(name: CheckName, run: () => T): { value: T } | undefined => {
    try {
      const value = run();
      checks.push({ name, ok: true });
      return { value };
    } catch (error) {
      if (!(error instanceof ReceiptError)) throw error;
      const check: VerificationCheck = { name, ok: false, code: error.code, message: error.message };
      if (error.path !== undefined) check.path = error.path;
      checks.push(check);
      return undefined;
    }
  };

  // 1. Shape: attacker-controlled; parse strictly, unwrap a Sigstore bundle, keep only the DSSE members.
  const received = step('envelope', () => readReceiptInput(input));
  if (received === undefined) return report(false);
  const envelope = { value: received.value.envelope };
  const keyHint = received.value.bundleKeyHint;
  // 2. Payload type: DSSE authenticates it through PAE; runprint accepts exactly one.
  if (step('payload-type', () => checkPayloadType(envelope.value)) === undefined) return report(false);
  // 3. Base64 of one spelling, for the payload and every signature.
  const decoded = step('base64', () => ({
    payload: decodePayload(envelope.value),
    signatures: envelope.value.signatures.map((signature, index) => decodeSignature(signature, index)),
  }));
  if (decoded === undefined) return report(false);
  // 4. Signatures: each given key must have signed PAE(payloadType, payload). keyid is only a hint.
  const message = pae(envelope.value.payloadType, decoded.value.payload) as Uint8Array<ArrayBuffer>;
  const pending = Promise.all(options.keys.map((key) => checkSignature(key, envelope.value, decoded.value.signatures, message, keyHint)));
  // While WebCrypto checks the signatures off the main thread, hash the caller's composition: it
  // is trusted local input and needs nothing from the payload, which stays unread until step 5.
  // Its own errors are raised at step 10, where they always were.
  let prepared: { identity: PreparedIdentity } | { error: unknown } | undefined;
  if (options.composition !== undefined) {
    try {
      prepared = { identity: prepareDocumentIdentity(options.composition, options.from) };
    } catch (error) {
      prepared = { error };
    }
  }
  let signed = true;
  for (const check of await pending) {
    checks.push(check);
    signed &&= check.ok;
  }
  if (!signed) return report(false);
  // 5-8. Only now is the payload read: a statement, its subjects, its predicate.
  const statement = step('statement-type', () => {
    const value = parseStatement(decoded.value.payload);
    checkStatementType(value);
    return value;
  });
  if (statement === undefined) return report(false);
  const subjects: { value: ReceiptSubjects } | undefined = step('subjects', () => readSubjects(statement.value));
  if (subjects === undefined) return report(false);
  if (step('predicate-type', () => checkPredicateType(statement.value)) === undefined) return report(false);
  const predicate: { value: Predicate } | undefined = step('predicate', () => readPredicate(statement.value['predicate']));
  if (predicate === undefined) return report(false);
  // 9. The statement is consistent: subjects say what the predicate says.
  if (step('subject-binding', () => checkSubjectBinding(subjects.value, predicate.value)) === undefined) return report(false);
  // 10. The predicate's digests add up to its identity (with a composition given, checked against
  // the recomputed identity when that matches, which is the same work done once).
  if (prepared !== undefined && 'error' in prepared) throw prepared.error;
  const recomputed = prepared === undefined ? undefined : finishDocumentIdentity(prepared.identity, predicate.value);
  if (recomputed !== undefined && predicateMatches(predicate.value, recomputed)) {
    // The predicate states exactly a recomputed (hence consistent) identity: steps 10 and 11 hold.
    checks.push({ name: 'identity', ok: true }, { name: 'composition', ok: true });
  } else {
    if (step('identity', () => checkPredicateIdentity(predicate.value)) === undefined) return report(false);
    // 11. Optional: the receipt is about this composition.
    if (recomputed !== undefined && step('composition', () => checkComposition(predicate.value, recomputed)) === undefined) return report(false);
  }
  // 12. Optional: the receipt is about these output bytes.
  if (options.output !== undefined) {
    const output = options.output;
    if (step('output', () => checkOutput(predicate.value, output, options.outputFormat)) === undefined) return report(false);
  }
  const runId = predicate.value.buildDefinition.externalParameters.runId;
  const { retrieval } = predicate.value.runDetails;
  const declared = retrieval === undefined ? {} : { retrieval };
  // 13-16. Optional: the receipt is in a log, as its tlog-proof shows, under the witness policy.
  if (options.logProof !== undefined) {
    const logged = await checkLogProof(options.logProof);
    checks.push(...logged.checks);
    if (logged.summary === undefined) return report(false);
    return { ok: true, checks, runId, logProof: logged.summary, ...declared };
  }
  return { ok: true, checks, runId, ...declared };
}

function checkPayloadType(envelope: Envelope): void {
  if (envelope.payloadType !== PAYLOAD_TYPE) {
    throw new ReceiptError('ERR_ENVELOPE_PAYLOAD_TYPE', `envelope "payloadType" must be "${PAYLOAD_TYPE}"`);
  }
}

/**
 * Passes when any signature verifies under `key`. In a DSSE envelope the keyid is an unsigned hint
 * and decides nothing: any signature may verify. A Sigstore bundle names its one key by a hint
 * (section 16.2) and a verifier uses it to pick the key, as @sigstore/verify does: a hint that is
 * not this key's id fails with ERR_SIGNATURE_UNKNOWN_KEY before any signature is tried. Otherwise
 * ERR_SIGNATURE_UNKNOWN_KEY when no signature even names this key (another signer's receipt),
 * else ERR_SIGNATURE_INVALID and no more detail.
 */
async function checkSignature(
  key: PublicKey,
  envelope: Envelope,
  signatures: Uint8Array[],
  message: Uint8Array<ArrayBuffer>,
  bundleKeyHint: string | undefined,
): Promise<VerificationCheck> {
  if (bundleKeyHint !== undefined && bundleKeyHint !== key.keyId) {
    return { name: 'signature', ok: false, keyId: key.keyId, code: 'ERR_SIGNATURE_UNKNOWN_KEY', message: 'the bundle\'s key hint does not name this key' };
  }
  for (const signature of signatures) {
    // Ed25519 signatures are 64 bytes; anything else cannot verify.
    if (signature.length !== 64) continue;
    if (await globalThis.crypto.subtle.verify(ED25519, key.cryptoKey, signature as Uint8Array<ArrayBuffer>, message)) {
      return { name: 'signature', ok: true, keyId: key.keyId };
    }
  }
  const named = envelope.signatures.some((signature) => signature.keyid === undefined || signature.keyid === key.keyId);
  return named
    ? { name: 'signature', ok: false, keyId: key.keyId, code: 'ERR_SIGNATURE_INVALID', message: 'signature verification failed' }
    : { name: 'signature', ok: false, keyId: key.keyId, code: 'ERR_SIGNATURE_UNKNOWN_KEY', message: 'the receipt has no signature by this key' };
}
