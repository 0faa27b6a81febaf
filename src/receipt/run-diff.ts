/**
 * What `runprint diff --json` prints and `POST /v1/diff` answers (docs/CLI.md, "diff --json"): two
 * sides, each a composition, a provider request (with its response, if given), a receipt or an
 * identity document. Two compositions or requests get SPEC 10's structural diff; with a receipt or
 * an identity document on either side, only digests are compared (digest-view.ts). When both
 * sides have an output (a receipt states its digest; a response gives it), the outputs are
 * compared too, apart from the identities: `equal` says only whether the identities are equal.
 */
import { compositionFromDocument, type InputFormat } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import type { ComponentName, Composition } from '../identity/composition.ts';
import { diffCompositions, type Difference } from '../identity/diff.ts';
import { computeIdentity } from '../identity/identity.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import {
  diffDigests,
  isIdentityDocument,
  isReceiptDocument,
  viewOfIdentity,
  viewOfIdentityDocument,
  viewOfReceipt,
  type DiffKind,
  type DigestDifference,
  type DigestView,
  type OutputDigests,
} from './digest-view.ts';

/** One side of a diff, read. */
export interface DiffSide {
  kind: DiffKind;
  /** How the document was read: `composition` or a provider format; absent for a receipt or identity document. */
  format?: 'composition' | RequestFormat;
  /** The composition (a composition or request side), with the response's served facts when given. */
  composition?: Composition;
  /** The digests (a receipt or identity document side). */
  view?: DigestView;
  /** The output's digests: a receipt's, or those of the response given with a request. */
  output?: OutputDigests;
}

/** A response given for one side, and what to call it in an error (`--response-a`, `responseA`). */
export interface SideResponse {
  body: Uint8Array;
  name: string;
  /** The JSON path of the member it came in, for the service's errors. */
  path?: string;
}

/** The two outputs compared: their output digests (`sha256:<hex>`, null for output without a digest). */
export interface OutputComparison {
  equal: boolean;
  a: string | null;
  b: string | null;
}

/** The result, in the shape `diff --json` prints (members in that order). */
export interface RunDiff {
  equal: boolean;
  compared: 'runId' | 'requestId';
  a: string;
  b: string;
  /** Present when a side is a receipt or an identity document. */
  kinds?: { a: DiffKind; b: DiffKind };
  /** Present (false) when a side is a receipt: its signatures are not checked. */
  signaturesChecked?: false;
  /** Present when both sides have an output. */
  output?: OutputComparison;
  differences: Array<Difference | DigestDifference>;
  /**
   * The list components whose elements were not aligned exactly (SPEC 10: past runprint's bounds),
   * so an element may be named moved, changed, added or removed where an exact alignment would
   * find it equal; always present, empty when every list was aligned exactly (and when a side is a
   * receipt or an identity document: digests are compared, no elements aligned).
   */
  inexact: ComponentName[];
}

/**
 * The line `diff` and `runs diff` print for a list component aligned inexactly (RunDiff.inexact),
 * saying what the explorer's compare page says under such a list.
 */
export function inexactNote(component: string): string {
  return `inexact  ${component.padEnd(14)} too long to align exactly (SPEC 10): past runprint's bounds, so an element may be named moved, changed, added or removed where an exact alignment would find it equal\n`;
}

/** Each kind as the text output names it. */
export const KIND_NAMES: Record<DiffKind, string> = {
  composition: 'composition',
  request: 'request',
  receipt: 'receipt',
  'identity-document': 'identity document',
};

/**
 * Reads one side: a receipt (DSSE envelope or Sigstore bundle), an identity document, else a
 * composition or provider request as `compositionFromDocument` reads it. A response goes only
 * with a provider request (SPEC 4.7): its served facts complete the run identity, and its output
 * digest is compared with the other side's.
 */
export function readDiffSide(document: JsonValue, options: { from?: InputFormat; response?: SideResponse } = {}): DiffSide {
  const { response } = options;
  const refuse = (kind: DiffKind, why: string): never => {
    throw new UsageError('ERR_CLI_USAGE', `${response!.name}: a response combines with a provider request, not with ${kind === 'identity-document' ? 'an' : 'a'} ${KIND_NAMES[kind]} (${why})`, response!.path);
  };
  if (isReceiptDocument(document)) {
    if (response !== undefined) refuse('receipt', 'a receipt states its own output digest');
    const view = viewOfReceipt(document);
    const side: DiffSide = { kind: 'receipt', view };
    if (view.output !== undefined) side.output = view.output;
    return side;
  }
  if (isIdentityDocument(document)) {
    if (response !== undefined) refuse('identity-document', 'it states its own served facts');
    return { kind: 'identity-document', view: viewOfIdentityDocument(document) };
  }
  const { composition, format } = compositionFromDocument(document, options.from === undefined ? {} : { from: options.from });
  if (format === 'composition') {
    if (response !== undefined) refuse('composition', 'a composition states its own "served"');
    return { kind: 'composition', format, composition };
  }
  const side: DiffSide = { kind: 'request', format, composition };
  if (response !== undefined) {
    // SPEC 4.7 and 12.1: the body as received, JSON or SSE, read as `id --response` reads it.
    const output = runOutputFrom(response.body, format);
    composition.served = output.served;
    side.output = { digest: output.digest === null ? null : output.digest.sha256, rawDigest: output.rawDigest.sha256 };
  }
  return side;
}

/**
 * Two outputs are equal when their output digests are (SPEC 12.1: a stream and its JSON response
 * give one); two outputs without an output digest (SPEC 12.5, a body that is not JSON) when their
 * raw digests are.
 */
export function compareOutputs(a: OutputDigests, b: OutputDigests): OutputComparison {
  const equal = a.digest !== null || b.digest !== null ? a.digest === b.digest : a.rawDigest === b.rawDigest;
  const shown = (digest: string | null) => (digest === null ? null : `sha256:${digest}`);
  return { equal, a: shown(a.digest), b: shown(b.digest) };
}

/** The diff of two sides as read by readDiffSide. */
export function diffSides(a: DiffSide, b: DiffSide): RunDiff {
  const output = a.output !== undefined && b.output !== undefined ? compareOutputs(a.output, b.output) : undefined;
  if (a.composition !== undefined && b.composition !== undefined) {
    const result = diffCompositions(a.composition, b.composition);
    const id = (side: 'a' | 'b') => (result.compared === 'runId' ? result[side].runId! : result[side].requestId);
    return { equal: result.equal, compared: result.compared, a: id('a'), b: id('b'), ...(output === undefined ? {} : { output }), differences: result.differences, inexact: result.inexact };
  }
  const viewA = a.view ?? viewOfIdentity(computeIdentity(a.composition));
  const viewB = b.view ?? viewOfIdentity(computeIdentity(b.composition));
  const result = diffDigests(viewA, viewB);
  const id = (view: DigestView) => (result.compared === 'runId' ? view.runId! : view.requestId);
  return {
    equal: result.equal,
    compared: result.compared,
    a: id(viewA),
    b: id(viewB),
    kinds: { a: a.kind, b: b.kind },
    ...(a.kind === 'receipt' || b.kind === 'receipt' ? { signaturesChecked: false as const } : {}),
    ...(output === undefined ? {} : { output }),
    differences: result.differences,
    inexact: [],
  };
}
