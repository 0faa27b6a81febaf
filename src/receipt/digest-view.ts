/**
 * `runprint diff` and `POST /v1/diff` over more than compositions: each side may also be a receipt
 * (DSSE envelope or Sigstore bundle) or an identity document (SPEC 7). Without the content on both
 * sides, only what both sides carry is compared: identities, component digests, list counts and
 * roots, served facts; and the output digest, which a receipt states and a response gives. Here,
 * at the receipt layer, because reading a receipt's claims needs the receipt readers; no signature
 * is checked (RECEIPTS.md 15 is `verify`'s job).
 */
import { ReceiptError, RunprintError } from '../errors.ts';
import { LIST_COMPONENTS, REQUEST_COMPONENTS, type ServedFact } from '../identity/composition.ts';
import type { Difference } from '../identity/diff.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { decodeBase64 } from '../keys/base64.ts';
import { readPredicate } from './predicate-shape.ts';
import { isBundle, readReceiptInput } from './receipt-input.ts';
import { checkPredicateType, checkStatementType, parseStatement } from './statement.ts';

export type DiffKind = 'composition' | 'request' | 'receipt' | 'identity-document';

/** What a side carries without its content: the digests of an identity document. */
export interface DigestView {
  requestId: string;
  runId: string | null;
  components: Record<string, { digest: string; count?: number; root?: string }>;
  served: { digest: string; facts: Record<string, ServedFact> } | null;
  /** The output's digests (SPEC 12.1, hex) when the side has an output: a receipt states them. */
  output?: OutputDigests;
}

/** SPEC 12.1: the output digest (null for output without a format that is not JSON) and the raw digest. */
export interface OutputDigests {
  digest: string | null;
  rawDigest: string;
}

/** A difference found from digests alone; `count` gives both list lengths when they differ. */
export interface DigestDifference extends Difference {
  count?: { a: number | null; b: number | null };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A DSSE envelope has `payload` and `payloadType`; a bundle has `mediaType` or `dsseEnvelope`. */
export function isReceiptDocument(value: unknown): boolean {
  return isBundle(value) || (isObject(value) && Object.hasOwn(value, 'payloadType') && Object.hasOwn(value, 'payload'));
}

/** An identity document (SPEC 7) says `version: "runprint/v1"` and has `requestId` and `components`. */
export function isIdentityDocument(value: unknown): boolean {
  return isObject(value) && value['version'] === 'runprint/v1' && Object.hasOwn(value, 'requestId') && Object.hasOwn(value, 'components');
}

const HEX64 = /^[0-9a-f]{64}$/;
const LIST_NAMES = new Set<string>(LIST_COMPONENTS);

function invalid(where: string, message: string): never {
  throw new RunprintError('ERR_IDENTITY_DOCUMENT_INVALID', `identity document ${where} ${message}`);
}

function sha256Of(value: unknown, where: string): string {
  if (!isObject(value) || typeof value['sha256'] !== 'string' || !HEX64.test(value['sha256'])) {
    invalid(where, 'must have a sha256 of 64 lowercase hex digits');
  }
  return value['sha256'];
}

function identityString(value: unknown, kind: 'req' | 'run', where: string): string {
  let ok = false;
  try {
    ok = typeof value === 'string' && parseIdentity(value).kind === kind;
  } catch {
    ok = false;
  }
  if (!ok) invalid(where, `must be a v1 ${kind === 'req' ? 'request' : 'run'} identity`);
  return value as string;
}

/** Reads the digests of an identity document defensively: it may come from anywhere. */
export function viewOfIdentityDocument(value: unknown): DigestView {
  const document = value as Record<string, unknown>;
  const requestId = identityString(document['requestId'], 'req', 'requestId');
  const runId = document['runId'] === null ? null : identityString(document['runId'], 'run', 'runId');
  const components: DigestView['components'] = {};
  if (!isObject(document['components'])) invalid('components', 'must be an object');
  for (const name of REQUEST_COMPONENTS) {
    const entry = document['components'][name];
    if (!isObject(entry)) invalid(`components.${name}`, 'must be an object');
    const digest = sha256Of(entry['digest'], `components.${name}.digest`);
    if (LIST_NAMES.has(name)) {
      const count = entry['count'];
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) invalid(`components.${name}.count`, 'must be a non-negative integer');
      components[name] = { digest, count, root: sha256Of(entry['root'], `components.${name}.root`) };
    } else {
      components[name] = { digest };
    }
  }
  let served: DigestView['served'] = null;
  if (document['served'] !== null && document['served'] !== undefined) {
    const entry = document['served'];
    if (!isObject(entry) || !isObject(entry['facts'])) invalid('served', 'must be null or an object with digest and facts');
    served = { digest: sha256Of(entry['digest'], 'served.digest'), facts: entry['facts'] as Record<string, ServedFact> };
  }
  if ((runId === null) !== (served === null)) invalid('runId', 'must be null exactly when served is null');
  return { requestId, runId, components, served };
}

/** The digests of a computed identity document. */
export function viewOfIdentity(identity: IdentityDocument): DigestView {
  const components: DigestView['components'] = {};
  for (const name of REQUEST_COMPONENTS) {
    const entry = identity.components[name];
    components[name] = entry.kind === 'list' ? { digest: entry.digest.sha256, count: entry.count, root: entry.root.sha256 } : { digest: entry.digest.sha256 };
  }
  const served = identity.served === null ? null : { digest: identity.served.digest.sha256, facts: identity.served.facts };
  return { requestId: identity.requestId, runId: identity.runId, components, served };
}

/**
 * The digests a receipt states (RECEIPTS.md 13), its output's among them, read with the
 * verifier's own readers but with no signature check: `runprint verify` checks signatures, this
 * only reads what the receipt claims.
 */
export function viewOfReceipt(value: unknown): DigestView {
  const { envelope } = readReceiptInput(value);
  const payload = decodeBase64(envelope.payload);
  if (payload === undefined) throw new ReceiptError('ERR_ENVELOPE_INVALID', 'envelope payload is not base64');
  const statement = parseStatement(payload);
  checkStatementType(statement);
  checkPredicateType(statement);
  const predicate = readPredicate(statement['predicate']);
  const components: DigestView['components'] = {};
  let servedDigest: string | undefined;
  for (const descriptor of predicate.buildDefinition.resolvedDependencies) {
    if (descriptor.name === 'served') servedDigest = descriptor.digest.sha256;
    else if (descriptor.annotations !== undefined) {
      components[descriptor.name] = { digest: descriptor.digest.sha256, count: descriptor.annotations.count, root: descriptor.annotations.root.sha256 };
    } else components[descriptor.name] = { digest: descriptor.digest.sha256 };
  }
  const { requestId, runId } = predicate.buildDefinition.externalParameters;
  const { output } = predicate.runDetails;
  return {
    requestId,
    runId,
    components,
    served: servedDigest === undefined ? null : { digest: servedDigest, facts: predicate.runDetails.served },
    output: { digest: output.digest === null ? null : output.digest.sha256, rawDigest: output.rawDigest.sha256 },
  };
}

function path(...names: string[]): string {
  return `$${names.map((name) => `['${name.replace(/[\\']/g, (c) => `\\${c}`).replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}']`).join('')}`;
}

/** Compares two sides by digests: run identities when both have one, else request identities. */
export function diffDigests(a: DigestView, b: DigestView): { equal: boolean; compared: 'runId' | 'requestId'; differences: DigestDifference[] } {
  const compared = a.runId !== null && b.runId !== null ? 'runId' : 'requestId';
  const differences: DigestDifference[] = [];
  for (const name of REQUEST_COMPONENTS) {
    const x = a.components[name];
    const y = b.components[name];
    if (x === undefined || y === undefined) {
      if (x !== y) differences.push({ component: name, change: x === undefined ? 'added' : 'removed', path: path(name) });
      continue;
    }
    if (x.digest === y.digest && x.root === y.root && x.count === y.count) continue;
    const difference: DigestDifference = { component: name, change: 'changed', path: path(name) };
    if (x.count !== y.count) difference.count = { a: x.count ?? null, b: y.count ?? null };
    differences.push(difference);
  }
  if (a.served !== null && b.served !== null) {
    const names = [...new Set([...Object.keys(a.served.facts), ...Object.keys(b.served.facts)])].sort();
    const before = differences.length;
    for (const name of names) {
      const x = a.served.facts[name];
      const y = b.served.facts[name];
      if (x === undefined) differences.push({ component: 'served', change: 'added', path: path('served', name) });
      else if (y === undefined) differences.push({ component: 'served', change: 'removed', path: path('served', name) });
      else if (canonicalize(x) !== canonicalize(y)) differences.push({ component: 'served', change: 'changed', path: path('served', name) });
    }
    if (differences.length === before && a.served.digest !== b.served.digest) differences.push({ component: 'served', change: 'changed', path: path('served') });
  } else if (a.served !== null || b.served !== null) {
    differences.push({ component: 'served', change: a.served === null ? 'added' : 'removed', path: path('served') });
  }
  const equal = compared === 'runId' ? a.runId === b.runId : a.requestId === b.requestId;
  return { equal, compared, differences };
}
