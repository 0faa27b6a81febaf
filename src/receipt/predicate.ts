/** docs/RECEIPTS.md section 13.2: the runprint receipt predicate v1, shaped like SLSA Provenance v1. */
import { LIST_COMPONENTS, REQUEST_COMPONENTS, type ServedFact } from '../identity/composition.ts';
import type { DigestSet } from '../identity/digest.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import type { JsonObject, JsonValue } from '../jcs/json-value.ts';
import type { RequestFormat } from '../providers/request-format.ts';

/** `predicateType` of this version. A name, not a document runprint fetches. */
export const PREDICATE_TYPE = 'https://runprint.dev/receipt/v1';
/** SLSA `buildDefinition.buildType`: what the external parameters mean. */
export const BUILD_TYPE = 'https://runprint.dev/run/v1';
/** SLSA `runDetails.builder.id` prefix; the capture point follows. */
export const BUILDER_PREFIX = 'https://runprint.dev/capture/';

/** Where the run was captured. */
export type Capture = 'cli' | 'sdk' | 'proxy';
export const CAPTURES: readonly Capture[] = ['cli', 'sdk', 'proxy'];

/** What is known about the output (the provider response), as providers/run-output.ts gives it. */
export interface ReceiptOutput {
  digest: DigestSet | null;
  rawDigest: DigestSet;
  finishReason: string | null;
  usage: JsonValue | null;
  stream: boolean;
}

/** The output as a receipt records it: with the provider format its bytes were read as (SPEC 12). */
export interface RecordedOutput extends ReceiptOutput {
  /** openai-chat, openai-responses or anthropic-messages; null when read as plain JSON (SPEC 12.5). */
  format: string | null;
}

/** in-toto ResourceDescriptor of one component. */
export interface ComponentDescriptor {
  name: string;
  digest: DigestSet;
  uri?: string;
  mediaType?: string;
  annotations?: { count: number; root: DigestSet; elements: DigestSet[] };
}

/** The list components a declared document can be found in (docs/CAPTURE.md, "Declared retrieval"). */
export const RETRIEVAL_COMPONENTS = ['system', 'input'] as const;

/**
 * One declared document of a run (docs/RECEIPTS.md 13.2, `runDetails.retrieval`), as the run record
 * keeps it: its source, the SHA-256 of its text (UTF-8), and the list element of `system` or
 * `input` whose strings hold the text.
 */
export interface ReceiptRetrieval {
  source: string;
  digest: DigestSet;
  component: (typeof RETRIEVAL_COMPONENTS)[number];
  element: number;
}

export interface Predicate {
  buildDefinition: {
    buildType: typeof BUILD_TYPE;
    externalParameters: { requestId: string; runId: string; model: string; capture: string };
    resolvedDependencies: ComponentDescriptor[];
  };
  runDetails: {
    builder: { id: string; version: { runprint: string } };
    metadata: { startedOn?: string; finishedOn?: string };
    served: { [name: string]: ServedFact };
    output: RecordedOutput;
    parentRunIds: string[];
    logProof: JsonObject | null;
    /** The declared documents, in declared order; absent when the run declares none. */
    retrieval?: ReceiptRetrieval[];
  };
}

/** Everything a receipt records about one run. */
export interface ReceiptFacts {
  /** The identity document of the composition; it must have a run identity. */
  identity: IdentityDocument;
  /** The model asked for: the composition's `model.name`. */
  requestedModel: string;
  output: ReceiptOutput;
  /** The provider format the output bytes were read as; absent when read as plain JSON. */
  outputFormat?: RequestFormat;
  capture: Capture;
  /** The runprint version that captured the run (package.json `version`). */
  runprintVersion: string;
  startedOn?: string;
  finishedOn?: string;
  parentRunIds?: readonly string[];
  /**
   * The documents the application declared the run rests on, each found in the request (the run
   * record's `retrieval`): signed as `runDetails.retrieval` when there is at least one. Each entry
   * once: the same entry twice is a RangeError. An entry found in a salted component (the identity
   * says `salted`) is not signed (retrievalSigned): its source and plain text digest would tell
   * what the component's commitment hides (docs/RECEIPTS.md 13.2).
   */
  retrieval?: readonly ReceiptRetrieval[];
  /** Where a component's content is stored, when it is. */
  locations?: { [component: string]: { uri?: string; mediaType?: string } };
}

/** RFC 3339 `date-time` (section 5.6), with a time zone; the ranges are checked below. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * The date-time profile of docs/RECEIPTS.md 13.2: RFC 3339 section 5.6 with every field in its
 * range (month 01-12, the day within its month, leap years as in section 5.7, hour 00-23, minute
 * 00-59, offset hours 00-23), at most 9 fraction digits, and no leap second (second 60): the clocks
 * receipts are signed with never produce one, and telling a real one from 23:59:60 on any day
 * would need a table of leap seconds. `T` and `Z` may be lowercase, as RFC 3339 allows.
 */
export function isTimestamp(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = RFC3339.exec(value);
  if (match === null) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return false;
  if (match[7] !== undefined && (Number(match[7]) > 23 || Number(match[8]) > 59)) return false;
  return true;
}

/** Builds the predicate; throws TypeError/RangeError for facts that cannot make a receipt. */
export function buildPredicate(facts: ReceiptFacts): Predicate {
  const { identity } = facts;
  if (identity.runId === null || identity.served === null) throw new TypeError('a receipt needs a run identity: give the composition "served" facts');
  if (!CAPTURES.includes(facts.capture)) throw new RangeError('capture must be cli, sdk or proxy');
  for (const time of [facts.startedOn, facts.finishedOn]) {
    if (time !== undefined && !isTimestamp(time)) throw new RangeError('times must be RFC 3339 date-times');
  }
  if (facts.startedOn !== undefined && facts.finishedOn !== undefined && Date.parse(facts.finishedOn) < Date.parse(facts.startedOn)) {
    throw new RangeError('finishedOn is before startedOn');
  }
  for (const parent of facts.parentRunIds ?? []) {
    if (parseIdentity(parent).kind !== 'run') throw new RangeError('parent run ids must be run identities');
  }
  const retrieval = retrievalSigned(checkRetrieval(facts.retrieval ?? [], identity), identity);
  const listNames = new Set<string>(LIST_COMPONENTS);
  const resolvedDependencies: ComponentDescriptor[] = REQUEST_COMPONENTS.map((name) => {
    const entry = identity.components[name];
    const descriptor: ComponentDescriptor = { name, digest: { sha256: entry.digest.sha256 } };
    const location = facts.locations?.[name];
    if (location?.uri !== undefined) descriptor.uri = location.uri;
    if (location?.mediaType !== undefined) descriptor.mediaType = location.mediaType;
    if (entry.kind === 'list' && listNames.has(name)) {
      descriptor.annotations = { count: entry.count, root: entry.root, elements: entry.elements };
    }
    return descriptor;
  });
  resolvedDependencies.push({ name: 'served', digest: { sha256: identity.served.digest.sha256 } });
  const metadata: Predicate['runDetails']['metadata'] = {};
  if (facts.startedOn !== undefined) metadata.startedOn = facts.startedOn;
  if (facts.finishedOn !== undefined) metadata.finishedOn = facts.finishedOn;
  const { digest, rawDigest, finishReason, usage, stream } = facts.output;
  const predicate: Predicate = {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: { requestId: identity.requestId, runId: identity.runId, model: facts.requestedModel, capture: facts.capture },
      resolvedDependencies,
    },
    runDetails: {
      builder: { id: BUILDER_PREFIX + facts.capture, version: { runprint: facts.runprintVersion } },
      metadata,
      served: identity.served.facts,
      output: { digest, rawDigest, finishReason, usage, stream, format: facts.outputFormat ?? null },
      parentRunIds: [...(facts.parentRunIds ?? [])],
      logProof: null,
    },
  };
  // Present only when something was declared: a run without declarations signs the bytes it always did.
  if (retrieval.length > 0) predicate.runDetails.retrieval = retrieval;
  return predicate;
}

/** The key two retrieval entries are the same entry by (docs/RECEIPTS.md 15 step 8.14). */
export function retrievalKey(entry: ReceiptRetrieval): string {
  return JSON.stringify([entry.source, entry.digest.sha256, entry.component, entry.element]);
}

/** A record's declared documents as a receipt states them: each entry once, in first-declared order (15 step 8.14). */
export function retrievalAsSigned(entries: readonly ReceiptRetrieval[]): ReceiptRetrieval[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const key = retrievalKey(entry);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The entries a receipt of `identity` states: those of a component the identity does not salt. A
 * document found in a salted `system` or `input` is left out (docs/RECEIPTS.md 13.2): its plain
 * text digest and its source, in the clear, would let anyone holding the receipt confirm a guess
 * of the document and link the runs resting on it, which the salted commitment exists to prevent.
 * The run record and the run store keep the declaration.
 */
export function retrievalSigned(entries: readonly ReceiptRetrieval[], identity: IdentityDocument): ReceiptRetrieval[] {
  return entries.filter((entry) => identity.components[entry.component]?.salted !== true);
}

/**
 * Whether a verified receipt's declared retrieval (`signed`: its `runDetails.retrieval`, undefined
 * when it has no such member) is a record's (`recorded`), as runs verify and the explorer read
 * it: `signed` (the same entries, retrievalAsSigned, something declared),
 * `none` (neither declares any), `receipt-none` (the record declares documents and the receipt
 * has no member: signed before receipts carried declarations, it says nothing of them: not
 * checked), `withheld` (every document the record declares is in a component `identity` salts:
 * the receipt states none of them, retrievalSigned) or `differs` (the receipt's member names
 * other documents). With `identity`, a receipt stating the record's entries but those of salted
 * components agrees (`signed`), and so does one stating them all (signed before receipts left them
 * out).
 */
export function retrievalAgreement(recorded: readonly ReceiptRetrieval[], signed: readonly ReceiptRetrieval[] | undefined, identity?: IdentityDocument): 'signed' | 'none' | 'receipt-none' | 'withheld' | 'differs' {
  const all = retrievalAsSigned(recorded);
  const record = all.map(retrievalKey);
  const open = (identity === undefined ? all : retrievalSigned(all, identity)).map(retrievalKey);
  if (signed === undefined) return record.length === 0 ? 'none' : open.length === 0 ? 'withheld' : 'receipt-none';
  const receipt = JSON.stringify(signed.map(retrievalKey));
  if (record.length === 0 && signed.length === 0) return 'none';
  if (receipt === JSON.stringify(open)) return open.length === 0 ? 'withheld' : 'signed';
  return receipt === JSON.stringify(record) ? 'signed' : 'differs';
}

/** Declared documents a receipt can state for this identity (as 15 step 8.14 reads them), copied; a TypeError or RangeError otherwise. */
function checkRetrieval(entries: readonly ReceiptRetrieval[], identity: IdentityDocument): ReceiptRetrieval[] {
  if (!Array.isArray(entries)) throw new TypeError('retrieval must be an array of { source, digest, component, element }');
  const seen = new Set<string>();
  return entries.map((entry: ReceiptRetrieval) => {
    if (typeof entry !== 'object' || entry === null || typeof entry.source !== 'string' || entry.source === '' || !isSha256DigestSet(entry.digest)) {
      throw new TypeError('a retrieval entry is { source: non-empty string, digest: { sha256 }, component, element }');
    }
    if (!(RETRIEVAL_COMPONENTS as readonly string[]).includes(entry.component)) throw new RangeError('a retrieval entry\'s component must be "system" or "input"');
    const list = identity.components[entry.component];
    const count = list.kind === 'list' ? list.count : 0;
    if (!Number.isSafeInteger(entry.element) || entry.element < 0 || entry.element >= count) {
      throw new RangeError(`a retrieval entry's element must be an index of component "${entry.component}" (${count} elements)`);
    }
    const copy: ReceiptRetrieval = { source: entry.source, digest: { sha256: entry.digest.sha256 }, component: entry.component, element: entry.element };
    const key = retrievalKey(copy);
    if (seen.has(key)) throw new RangeError('a retrieval entry is given twice');
    seen.add(key);
    return copy;
  });
}

export function isSha256DigestSet(value: unknown): value is DigestSet {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const sha256 = (value as Record<string, unknown>)['sha256'];
  if (typeof sha256 !== 'string' || sha256.length !== 64) return false;
  // A loop, not a regular expression: a receipt holds one digest per element, read on every verify.
  for (let i = 0; i < 64; i++) {
    const c = sha256.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}
