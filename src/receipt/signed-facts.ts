/**
 * The facts a run store states about a run that its receipt signs (docs/RECEIPTS.md 13.2), each
 * compared with the receipt's: a store changed after signing (its record rewritten with the record
 * digest made to match, or its model or capture column changed) disagrees with what was signed.
 * `runs verify`, `GET /v1/runs/{id}/verify` and the explorer's receipt check all compare with this.
 */
import { decodeBase64 } from '../keys/base64.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { parseJson } from '../jcs/parse.ts';
import type { DigestSet } from '../identity/digest.ts';
import type { Predicate } from './predicate.ts';
import { readReceiptInput } from './receipt-input.ts';

/** A stored run as the run store gives it (StoredRun, or its JSON view): only what is compared is named. */
export interface StoredRunFacts {
  model: string | null;
  capture: string;
  record: {
    requestId: string | null;
    parents: readonly string[];
    times: { started: string; ended: string };
    served: unknown;
    format: string;
    output: { digest: DigestSet; finishReason: string | null; usage: unknown } | null;
    response: { stream: boolean; rawDigest: DigestSet | null };
  };
  identity: {
    components: { [name: string]: { kind: string; digest: DigestSet; elements?: readonly DigestSet[] } };
    served: { digest: DigestSet } | null;
  } | null;
}

/** One fact the run store states otherwise than the receipt signs: `stored` and `signed` undefined when the side has none. */
export interface SignedFactDifference {
  fact: string;
  stored: unknown;
  signed: unknown;
}

/**
 * The predicate of a receipt (DSSE envelope or Sigstore bundle, as text or parsed), read from the
 * payload its signature covers. Only for a receipt that verified: its shape is not checked here.
 */
export function signedPredicate(receipt: unknown): Predicate {
  const { envelope } = readReceiptInput(receipt);
  return (parseJson(decodeBase64(envelope.payload)!) as unknown as { predicate: Predicate }).predicate;
}

const same = (a: unknown, b: unknown) => a === b || (a !== undefined && b !== undefined && canonicalize(a) === canonicalize(b));

/**
 * Every fact of `run` the receipt's `predicate` signs, compared: the requested model and the capture
 * point (store columns); from the record its request identity, parents, start and end times, served
 * facts, output digest, finish reason, usage, stream, format and raw response digest; from the
 * identity document each component's digest (a list's elements too: the first that differs) and
 * the served digest. Returns those that differ, in that order. A time or format the receipt does
 * not state is not compared (receipts may leave them out, RECEIPTS 13.2).
 */
export function signedFactsDiffer(run: StoredRunFacts, predicate: Predicate): SignedFactDifference[] {
  const { record } = run;
  const { externalParameters, resolvedDependencies } = predicate.buildDefinition;
  const details = predicate.runDetails;
  const differs: SignedFactDifference[] = [];
  const compare = (fact: string, stored: unknown, signed: unknown) => {
    if (!same(stored, signed)) differs.push({ fact, stored, signed });
  };
  compare('model', run.model, externalParameters.model);
  compare('capture', run.capture, externalParameters.capture);
  compare('request identity', record.requestId, externalParameters.requestId);
  compare('parents', record.parents, details.parentRunIds);
  if (details.metadata.startedOn !== undefined) compare('started', record.times.started, details.metadata.startedOn);
  if (details.metadata.finishedOn !== undefined) compare('ended', record.times.ended, details.metadata.finishedOn);
  compare('served facts', record.served, details.served);
  compare('output digest', record.output?.digest.sha256, details.output.digest?.sha256);
  compare('finish reason', record.output?.finishReason, details.output.finishReason);
  compare('usage', record.output?.usage, details.output.usage);
  compare('stream', record.response.stream, details.output.stream);
  compare('response digest', record.response.rawDigest?.sha256, details.output.rawDigest?.sha256);
  if (details.output.format !== null && details.output.format !== undefined) compare('format', record.format, details.output.format);
  const signed = new Map(resolvedDependencies.map((entry) => [entry.name, entry]));
  for (const [name, entry] of Object.entries(run.identity?.components ?? {})) {
    compare(`${name} digest`, entry.digest.sha256, signed.get(name)?.digest.sha256);
    const elements = signed.get(name)?.annotations?.elements;
    if (entry.kind === 'list' && entry.elements !== undefined && elements !== undefined) {
      // One line for a list, naming its first element that differs: a list of thousands is not listed.
      const first = entry.elements.findIndex((digest, index) => digest.sha256 !== elements[index]?.sha256);
      if (first !== -1 || entry.elements.length !== elements.length) {
        const at = first === -1 ? entry.elements.length : first;
        differs.push({ fact: `${name}[${at}] digest`, stored: entry.elements[at]?.sha256, signed: elements[at]?.sha256 });
      }
    }
  }
  if (run.identity?.served !== null && run.identity?.served !== undefined) compare('served digest', run.identity.served.digest.sha256, signed.get('served')?.digest.sha256);
  return differs;
}
