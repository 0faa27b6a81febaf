/** docs/RECEIPTS.md section 13: the facts a receipt records, from a composition and the output bytes of its run. */
import { UsageError } from '../errors.ts';
import { requireBytes, requireOptions } from '../keys/key-arguments.ts';
import type { Composition } from '../identity/composition.ts';
import { computeIdentity } from '../identity/identity.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import type { Capture, ReceiptFacts } from './predicate.ts';

/** What the caller knows about the run beside its composition. */
export interface RunFacts {
  /** The provider response body or stream, exactly as received. */
  output: Uint8Array;
  /** How to read `output` (default: the format the composition was read as; none for a composition). */
  outputFormat?: RequestFormat;
  capture: Capture;
  runprintVersion: string;
  startedOn?: string;
  finishedOn?: string;
  parentRunIds?: readonly string[];
}

/**
 * The receipt facts of a run, as `runprint sign` and `POST /v1/sign` build them. The served facts
 * come from the composition when it states them, else from the response, else none are known
 * (SPEC 2.3: `served: {}` means "served, no fact known"), so a receipt always names a run. Times
 * and parents are taken as given: callers check their form (RFC 3339, run identities) and name
 * their own option or member when one is wrong; `names` is how the finish-before-start error
 * names the two times.
 */
export function receiptFactsOf(
  read: { composition: Composition; format: 'composition' | RequestFormat },
  run: RunFacts,
  names: { started: string; finished: string } = { started: 'started', finished: 'finished' },
): ReceiptFacts {
  requireOptions(read, 'receiptFactsOf read ({ composition, format }, as compositionFromDocument gives it)');
  requireOptions(read.composition, 'receiptFactsOf read.composition');
  requireOptions(run, 'receiptFactsOf run ({ output, capture, runprintVersion })');
  requireBytes(run.output, 'receiptFactsOf run.output (the response body exactly as received)');
  const { composition } = read;
  const outputFormat = run.outputFormat ?? (read.format === 'composition' ? undefined : read.format);
  const { digest, rawDigest, finishReason, usage, stream, served } = runOutputFrom(run.output, outputFormat);
  if (composition.served === undefined) composition.served = served;
  const facts: ReceiptFacts = {
    identity: computeIdentity(composition),
    requestedModel: composition.model['name'] as string,
    output: { digest, rawDigest, finishReason, usage, stream },
    capture: run.capture,
    runprintVersion: run.runprintVersion,
    parentRunIds: run.parentRunIds ?? [],
  };
  if (outputFormat !== undefined) facts.outputFormat = outputFormat;
  if (run.startedOn !== undefined) facts.startedOn = run.startedOn;
  if (run.finishedOn !== undefined) facts.finishedOn = run.finishedOn;
  if (facts.startedOn !== undefined && facts.finishedOn !== undefined && Date.parse(facts.finishedOn) < Date.parse(facts.startedOn)) {
    throw new UsageError('ERR_CLI_USAGE', `${names.finished} is before ${names.started}`);
  }
  return facts;
}
