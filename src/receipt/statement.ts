/** docs/RECEIPTS.md section 13.1: the in-toto Statement v1 of a receipt, its subjects and its predicate type. */
import { ReceiptError, RunprintError } from '../errors.ts';
import type { DigestSet } from '../identity/digest.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import { parseJson } from '../jcs/parse.ts';
import { buildPredicate, isSha256DigestSet, PREDICATE_TYPE, type Predicate, type ReceiptFacts } from './predicate.ts';

/** in-toto Statement v1 `_type` (in-toto/attestation spec/v1/statement.md). */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';

/** Subject names: the run, the assembled output, the output bytes as received. */
export const SUBJECT_RUN = 'run';
export const SUBJECT_OUTPUT = 'output';
export const SUBJECT_OUTPUT_BYTES = 'output-bytes';

export interface Subject {
  name: string;
  digest: DigestSet;
  annotations?: { runId: string };
}

export interface Statement {
  _type: typeof STATEMENT_TYPE;
  subject: Subject[];
  predicateType: typeof PREDICATE_TYPE;
  predicate: Predicate;
}

/** The subjects a verifier relies on, read from a statement. */
export interface ReceiptSubjects {
  run: { digest: DigestSet; runId: string };
  /** Absent when the output could not be assembled (only the bytes are known). */
  output?: DigestSet;
  outputBytes: DigestSet;
}

/** Builds the statement of a receipt. */
export function buildStatement(facts: ReceiptFacts): Statement {
  const predicate = buildPredicate(facts);
  const runId = predicate.buildDefinition.externalParameters.runId;
  const subject: Subject[] = [{ name: SUBJECT_RUN, digest: { sha256: parseHex(runId) }, annotations: { runId } }];
  if (facts.output.digest !== null) subject.push({ name: SUBJECT_OUTPUT, digest: { sha256: facts.output.digest.sha256 } });
  subject.push({ name: SUBJECT_OUTPUT_BYTES, digest: { sha256: facts.output.rawDigest.sha256 } });
  return { _type: STATEMENT_TYPE, subject, predicateType: PREDICATE_TYPE, predicate };
}

function parseHex(identity: string): string {
  return identity.slice(identity.lastIndexOf('-') + 1);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses the signed payload as strict I-JSON. Only called once the signature is verified, yet
 * still strict: a duplicate member name could make two verifiers read two different statements.
 */
export function parseStatement(payload: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseJson(payload);
  } catch (error) {
    if (error instanceof RunprintError) throw new ReceiptError('ERR_STATEMENT_INVALID', `statement is not strict JSON (${error.code})`);
    throw error;
  }
  if (!isObject(value)) throw new ReceiptError('ERR_STATEMENT_INVALID', 'statement must be a JSON object');
  return value;
}

/** `_type` must be in-toto Statement v1. Unknown members of the statement are ignored. */
export function checkStatementType(statement: Record<string, unknown>): void {
  if (statement['_type'] !== STATEMENT_TYPE) {
    throw new ReceiptError('ERR_STATEMENT_TYPE', `statement "_type" must be "${STATEMENT_TYPE}"`);
  }
}

/** in-toto DigestSet: at least one algorithm, each mapped to a string. */
function isDigestSet(value: unknown): boolean {
  if (!isObject(value)) return false;
  const values = Object.values(value);
  return values.length > 0 && values.every((digest) => typeof digest === 'string');
}

function subjectError(message: string): ReceiptError {
  return new ReceiptError('ERR_SUBJECT_INVALID', message);
}

/**
 * Reads the subjects (docs/RECEIPTS.md 13.1): a non-empty array of ResourceDescriptors, each with a
 * non-empty DigestSet and, when named, a string name; no name twice. `run` (with its runId
 * annotation spelling the same digest) and `output-bytes` are required, `output` is optional;
 * unnamed subjects and subjects of other names are then ignored.
 */
export function readSubjects(statement: Record<string, unknown>): ReceiptSubjects {
  const subjects = statement['subject'];
  if (!Array.isArray(subjects) || subjects.length === 0) throw subjectError('statement "subject" must be a non-empty array');
  const byName = new Map<string, Record<string, unknown>>();
  for (const [index, subject] of (subjects as unknown[]).entries()) {
    // in-toto: every subject is a ResourceDescriptor with a digest, whatever its name.
    if (!isObject(subject) || !isDigestSet(subject['digest'])) throw subjectError(`subject ${index} must be an object with a "digest" of string values`);
    const name = subject['name'];
    if (name === undefined) continue;
    if (typeof name !== 'string') throw subjectError(`subject ${index} "name" must be a string`);
    if (byName.has(name)) throw subjectError(`subject name "${name.slice(0, 64)}" appears twice`);
    byName.set(name, subject);
  }
  const run = byName.get(SUBJECT_RUN);
  if (run === undefined || !isSha256DigestSet(run['digest'])) throw subjectError('subject "run" with a sha256 digest is required');
  const annotations = run['annotations'];
  const runId = isObject(annotations) ? annotations['runId'] : undefined;
  let parsed;
  try {
    parsed = typeof runId === 'string' ? parseIdentity(runId) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || parsed.kind !== 'run' || parseHex(runId as string) !== run['digest'].sha256) {
    throw subjectError('subject "run" must carry annotations.runId, the run identity of its digest');
  }
  const bytes = byName.get(SUBJECT_OUTPUT_BYTES);
  if (bytes === undefined || !isSha256DigestSet(bytes['digest'])) throw subjectError('subject "output-bytes" with a sha256 digest is required');
  const result: ReceiptSubjects = {
    run: { digest: { sha256: run['digest'].sha256 }, runId: runId as string },
    outputBytes: { sha256: bytes['digest'].sha256 },
  };
  const output = byName.get(SUBJECT_OUTPUT);
  if (output !== undefined) {
    if (!isSha256DigestSet(output['digest'])) throw subjectError('subject "output" must have a sha256 digest');
    result.output = { sha256: output['digest'].sha256 };
  }
  return result;
}

const RECEIPT_TYPE = /^https:\/\/runprint\.dev\/receipt\/v([0-9]+)$/;

/**
 * `predicateType` names the predicate and its major version (in-toto parsing rules: the type URI
 * reflects the major version; minor versions only add members). Another major version of the
 * runprint receipt is ERR_PREDICATE_VERSION; any other type is ERR_PREDICATE_TYPE.
 */
export function checkPredicateType(statement: Record<string, unknown>): void {
  const type = statement['predicateType'];
  if (type === PREDICATE_TYPE) return;
  if (typeof type === 'string' && RECEIPT_TYPE.test(type)) {
    throw new ReceiptError('ERR_PREDICATE_VERSION', `predicate version is not supported; this implementation reads "${PREDICATE_TYPE}"`);
  }
  throw new ReceiptError('ERR_PREDICATE_TYPE', `statement "predicateType" must be "${PREDICATE_TYPE}"`);
}
