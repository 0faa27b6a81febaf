/** docs/SPEC.md section 15 steps 9-12 (draft): bind subjects to the predicate, and the predicate to identity and output bytes. */
import { compositionFromDocument, type InputFormat } from '../compose/from-document.ts';
import { ReceiptError } from '../errors.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { fromHex, toHex } from '../hash/sha256.ts';
import { REQUEST_COMPONENTS, type ListComponentName } from '../identity/composition.ts';
import { listComponentDigest, listRoot, requestDigest, runDigest, valueComponentDigest } from '../identity/digest.ts';
import { computeIdentity } from '../identity/identity.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import type { Predicate } from './predicate.ts';
import type { ReceiptSubjects } from './statement.ts';

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
    const digest = fromHex(descriptor.digest.sha256)!;
    if (descriptor.annotations !== undefined) {
      const root = listRoot(descriptor.annotations.elements.map((e) => fromHex(e.sha256)!));
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
 * Recomputes the identity from a composition (or a provider request, read as `runprint id`
 * reads it). A provider request carries no served facts; the receipt's own facts, already bound
 * to its runId, complete it. Throws the composition's own error when the document is not valid.
 */
export function checkComposition(predicate: Predicate, document: JsonValue, from?: InputFormat): void {
  const { composition } = compositionFromDocument(document, from === undefined ? {} : { from });
  if (composition.served === undefined) composition.served = predicate.runDetails.served;
  const identity = computeIdentity(composition);
  const byName = new Map(predicate.buildDefinition.resolvedDependencies.map((d) => [d.name, d]));
  for (const name of REQUEST_COMPONENTS) {
    if (identity.components[name].digest.sha256 !== byName.get(name)!.digest.sha256) {
      throw mismatch(`component "${name}" of the composition does not match the receipt`);
    }
  }
  if (identity.requestId !== predicate.buildDefinition.externalParameters.requestId) throw mismatch('requestId of the composition does not match the receipt');
  if (identity.runId !== predicate.buildDefinition.externalParameters.runId) throw mismatch('served facts of the composition do not match the receipt');
}

/**
 * Recomputes the output digests from the response bytes. The assembled-output digest decides when
 * the receipt has one (the same output re-serialized or re-streamed still matches); otherwise the
 * bytes must be exactly the ones received.
 */
export function checkOutput(predicate: Predicate, body: Uint8Array, format?: RequestFormat): void {
  const recorded = predicate.runDetails.output;
  // The bytes are read as the receipt says they were, unless the caller names a format.
  const recordedFormat = isRequestFormat(recorded.format) ? recorded.format : undefined;
  const output = runOutputFrom(body, format ?? recordedFormat);
  if (recorded.digest !== null) {
    if (output.digest?.sha256 !== recorded.digest.sha256) throw new ReceiptError('ERR_OUTPUT_MISMATCH', 'output digest of the given bytes does not match the receipt');
    return;
  }
  if (output.rawDigest.sha256 !== recorded.rawDigest.sha256) throw new ReceiptError('ERR_OUTPUT_MISMATCH', 'digest of the given output bytes does not match the receipt');
}

