/** The receipt facts of a captured run (docs/RECEIPTS.md section 13), from its record alone: nothing is read again. */
import type { IdentityDocument } from '../identity/identity.ts';
import { retrievalAsSigned, type Capture, type ReceiptFacts } from '../receipt/predicate.ts';
import type { CapturedRun } from './capture-run.ts';
import type { RunRecord } from './run-record.ts';

/**
 * True when a captured run gets a receipt: its request is identified, the response gave its
 * served facts (a run identity) and its whole output (an output digest). A failed call, a cut
 * stream or an unidentified request is kept as a record only: a receipt states what ran and what
 * it answered, and for those one of the two is not known.
 */
export function isReceiptable(run: CapturedRun): boolean {
  return run.identity !== null && run.identity.runId !== null && run.composition !== null && run.record.output !== null && run.record.response.rawDigest !== null;
}

/**
 * The facts to sign for a captured run, from its record, its identity document (with served
 * facts) and the model it asked for; a TypeError when the run has no run identity or no output.
 * Times are the record's: started when the request was sent, finished at the last byte. The
 * record's declared documents are signed too (docs/RECEIPTS.md 13.2 `runDetails.retrieval`), in
 * declared order, an entry the record holds twice (a document declared twice) once. The same
 * record always gives the same facts, so signing it again gives the same receipt.
 */
export function receiptFactsOfRecord(record: RunRecord, identity: IdentityDocument | null, requestedModel: string, capture: Capture, runprintVersion: string): ReceiptFacts {
  if (identity === null || identity.runId === null || record.output === null || record.response.rawDigest === null) {
    throw new TypeError('receiptFactsOfRecord needs a run with a run identity and its output');
  }
  const output = record.output;
  return {
    identity,
    requestedModel,
    output: {
      digest: output.digest,
      rawDigest: record.response.rawDigest,
      finishReason: output.finishReason,
      usage: output.usage,
      stream: record.response.stream,
    },
    outputFormat: record.format,
    capture,
    runprintVersion,
    startedOn: record.times.started,
    finishedOn: record.times.ended,
    parentRunIds: record.parents,
    retrieval: retrievalAsSigned(record.retrieval ?? []),
  };
}

