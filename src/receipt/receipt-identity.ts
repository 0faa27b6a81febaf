/** docs/RECEIPTS.md section 15 steps 9-12: bind subjects to the predicate, and the predicate to identity and output bytes. */
import { compositionFromDocument, type InputFormat } from '../compose/from-document.ts';
import { ReceiptError } from '../errors.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { toHex } from '../hash/sha256.ts';
import { REQUEST_COMPONENTS, type ListComponentName } from '../identity/composition.ts';
import { listComponentDigest, listRoot, requestDigest, runDigest, valueComponentDigest } from '../identity/digest.ts';
import { computeIdentity, withServedFacts, type IdentityDocument } from '../identity/identity.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import type { Predicate } from './predicate.ts';
import type { ReceiptSubjects } from './statement.ts';

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;

/** 32 bytes from 64 lowercase hex digits, already checked by the predicate reader. */
function bytesOf(hex: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (HEX[hex.charCodeAt(2 * i)]! << 4) | HEX[hex.charCodeAt(2 * i + 1)]!;
  return out;
}

const same = (a: { sha256: string } | null | undefined, b: { sha256: string } | null | undefined) =>
  (a ?? null) === null ? (b ?? null) === null : a!.sha256 === b?.sha256;

/** The subjects say what the predicate says: the same run identity and output digests. */
export function checkSubjectBinding(subjects: ReceiptSubjects, predicate: Predicate): void {
  if (subjects.run.runId !== predicate.buildDefinition.externalParameters.runId) {
    throw new ReceiptError('ERR_SUBJECT_INVALID', 'subject "run" does not match the predicate\'s runId');
  }
  if (!same(subjects.output, predicate.runDetails.output.digest)) {
    throw new ReceiptError('ERR_SUBJECT_INVALID', 'subject "output" does not match the predicate\'s output digest');
  }
  if (!same(subjects.outputBytes, predicate.runDetails.output.rawDigest)) {
    throw new ReceiptError('ERR_SUBJECT_INVALID', 'subject "output-bytes" does not match the predicate\'s raw output digest');
  }
}

function mismatch(message: string): ReceiptError {
  return new ReceiptError('ERR_IDENTITY_MISMATCH', message);
}

/**
 * Recomputes, from the predicate alone, what SPEC section 5 derives: each list root from its
 * element digests, each list component digest from count and root, the request digest from the
 * seven component digests, the served digest from the served facts, and the run digest. They must
 * give the requestId and runId the predicate states: a receipt cannot claim digests that do not
 * add up to its identity.
 */
export function checkPredicateIdentity(predicate: Predicate): void {
  const byName = new Map(predicate.buildDefinition.resolvedDependencies.map((d) => [d.name, d]));
  const digests: Uint8Array[] = [];
  for (const name of REQUEST_COMPONENTS) {
    const descriptor = byName.get(name)!;
    const digest = bytesOf(descriptor.digest.sha256);
    if (descriptor.annotations !== undefined) {
      const root = listRoot(descriptor.annotations.elements.map((e) => bytesOf(e.sha256)));
      if (toHex(root) !== descriptor.annotations.root.sha256) throw mismatch(`component "${name}": element digests do not give its root`);
      const computed = listComponentDigest(name as ListComponentName, descriptor.annotations.count, root);
      if (toHex(computed) !== descriptor.digest.sha256) throw mismatch(`component "${name}": count and root do not give its digest`);
    }
    digests.push(digest);
  }
  const request = requestDigest(digests);
  const { requestId, runId } = predicate.buildDefinition.externalParameters;
  if (`rp-req-v1-sha256-${toHex(request)}` !== requestId) throw mismatch('component digests do not give the requestId');
  const served = valueComponentDigest('served', canonicalize(predicate.runDetails.served));
  if (toHex(served) !== byName.get('served')!.digest.sha256) throw mismatch('served facts do not give the "served" digest');
  if (`rp-run-v1-sha256-${toHex(runDigest(request, served))}` !== runId) throw mismatch('request and served digests do not give the runId');
}

/**
 * The identity of a composition (or of a provider request, read as `runprint id` reads it), in two
 * parts. A provider request carries no served facts; the receipt's own facts complete it, and they
 * are bound to its runId by the identity check.
 */
export interface PreparedIdentity {
  identity: IdentityDocument;
  /** False when the document had no served facts: the receipt's own complete it. */
  complete: boolean;
}

/**
 * The part that needs nothing from the receipt, so it may run before the payload is read. Throws
 * the document's own error when it is not valid: that is the caller's input, not the receipt.
 */
export function prepareDocumentIdentity(document: JsonValue, from?: InputFormat): PreparedIdentity {
  const { composition } = compositionFromDocument(document, from === undefined ? {} : { from });
  return { identity: computeIdentity(composition), complete: composition.served !== undefined };
}

/** Completes a prepared identity with the receipt's served facts when the document had none. */
export function finishDocumentIdentity(prepared: PreparedIdentity, predicate: Predicate): IdentityDocument {
  return prepared.complete ? prepared.identity : withServedFacts(prepared.identity, predicate.runDetails.served);
}


/**
 * True when the predicate states exactly the digests of `identity`: every component digest,
 * count, root and element digest, the served facts and digest, requestId and runId. Since a
 * computed identity is consistent, so is a predicate that matches it: verification with a
 * composition then needs no second recomputation (the fast path of SPEC 15 steps 10-11).
 */
export function predicateMatches(predicate: Predicate, identity: IdentityDocument): boolean {
  const { externalParameters, resolvedDependencies } = predicate.buildDefinition;
  if (externalParameters.requestId !== identity.requestId || externalParameters.runId !== identity.runId) return false;
  if (identity.served === null || canonicalize(predicate.runDetails.served) !== canonicalize(identity.served.facts)) return false;
  for (const descriptor of resolvedDependencies) {
    if (descriptor.name === 'served') {
      if (descriptor.digest.sha256 !== identity.served.digest.sha256) return false;
      continue;
    }
    const entry = identity.components[descriptor.name as (typeof REQUEST_COMPONENTS)[number]];
    if (entry.digest.sha256 !== descriptor.digest.sha256) return false;
    if (entry.kind === 'list') {
      const annotations = descriptor.annotations;
      if (annotations === undefined || annotations.count !== entry.count || annotations.root.sha256 !== entry.root.sha256) return false;
      for (let i = 0; i < entry.count; i++) {
        if (annotations.elements[i]!.sha256 !== entry.elements[i]!.sha256) return false;
      }
    }
  }
  return true;
}

/** The composition's identity is the receipt's: component by component, then requestId and runId. */
export function checkComposition(predicate: Predicate, identity: IdentityDocument): void {
  const byName = new Map(predicate.buildDefinition.resolvedDependencies.map((d) => [d.name, d]));
  for (const name of REQUEST_COMPONENTS) {
    if (identity.components[name].digest.sha256 !== byName.get(name)!.digest.sha256) {
      throw mismatch(`component "${name}" of the composition does not match the receipt`);
    }
  }
  if (identity.requestId !== predicate.buildDefinition.externalParameters.requestId) throw mismatch('requestId of the composition does not match the receipt');
  if (identity.runId !== predicate.buildDefinition.externalParameters.runId) throw mismatch('served facts of the composition do not match the receipt');
  // Component digests, requestId and runId agree, yet the predicate's list annotations do not:
  // checkPredicateIdentity has already rejected that, so this is only reached by a caller that
  // skipped it.
  if (!predicateMatches(predicate, identity)) throw mismatch('element digests of the composition do not match the receipt');
}

/**
 * Recomputes the output digests from the response bytes. The assembled-output digest decides when
 * the receipt has one (the same output re-serialized or re-streamed still matches); otherwise the
 * bytes must be exactly the ones received.
 */
export function checkOutput(predicate: Predicate, body: Uint8Array, format?: RequestFormat): void {
  const recorded = predicate.runDetails.output;
  // The bytes are read as the receipt says they were, unless the caller names a format.
  if (format === undefined && recorded.format !== null && !isRequestFormat(recorded.format)) {
    // Never a silent fallback to plain JSON: the bytes would be read another way than they were.
    throw new ReceiptError('ERR_OUTPUT_UNSUPPORTED', 'the receipt\'s output format is not one this verifier reads; name one to read the bytes as');
  }
  const output = runOutputFrom(body, format ?? (recorded.format as RequestFormat | null) ?? undefined);
  if (recorded.digest !== null) {
    if (output.digest?.sha256 !== recorded.digest.sha256) throw new ReceiptError('ERR_OUTPUT_MISMATCH', 'output digest of the given bytes does not match the receipt');
    return;
  }
  if (output.rawDigest.sha256 !== recorded.rawDigest.sha256) throw new ReceiptError('ERR_OUTPUT_MISMATCH', 'digest of the given output bytes does not match the receipt');
}

