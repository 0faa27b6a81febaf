/** The run record: what capture keeps of one provider call, by reference only (issue: live capture, sections 1 and 3). */
import type { ErrorCode } from '../errors.ts';
import type { ServedFact } from '../identity/composition.ts';
import type { DigestSet } from '../identity/digest.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import type { RequestFormat } from '../providers/request-format.ts';

export const RUN_RECORD_VERSION = 'runprint/capture/v1';

/** One declared document, as a record keeps it. */
export interface RetrievedDocument {
  source: string;
  digest: DigestSet;
  component: 'system' | 'input';
  element: number;
}

/** A document an application declares it retrieved for a call: where it came from, and its text. */
export interface DeclaredDocument {
  source: string;
  text: string;
}

/** How the exchange ended, as the transport saw it. */
export type CaptureOutcome = 'complete' | 'aborted' | 'timeout' | 'network-error';

/**
 * Why a run has no (full) output:
 * - `http-status`: the provider answered a status other than 2xx (its error body is kept by digest);
 * - `cut`: the body stopped before its end (the connection failed mid-body, or a stream ended
 *   without its terminal event, SPEC 12 ERR_OUTPUT_INCOMPLETE_STREAM);
 * - `aborted` / `timeout`: the client gave up, before or during the body;
 * - `network-error`: no response at all (refused, reset, DNS);
 * - `provider-error`: the provider reported an error inside a 2xx body (SPEC 12 ERR_OUTPUT_PROVIDER_ERROR);
 * - `unreadable-output`: a 2xx body SPEC 12 rejects for another reason (its code says which):
 *   ERR_OUTPUT_INCOMPLETE_STREAM too, for a stream whose terminal event came but found something
 *   unfinished (a choice without a role), or with event data before it that is not JSON;
 * - `too-large`: the body passed the capture limit (MAX_CAPTURED_RESPONSE_BYTES): it reached the
 *   client whole, but its bytes were not kept, so it has no digest.
 */
export type IncompleteReason = 'http-status' | 'cut' | 'aborted' | 'timeout' | 'network-error' | 'provider-error' | 'unreadable-output' | 'too-large';

/**
 * One captured run. Plain JSON, no content: the request and response bytes are named by digest
 * and handed to a sink next to the record, never put in it; no header is kept but the allow-list
 * (content type and the provider's request id), so no credential can reach a record.
 */
export interface RunRecord {
  version: typeof RUN_RECORD_VERSION;
  /**
   * A random UUID the capturing side gave this call (RFC 9562 version 4): how a client finds the
   * record of its call, streamed or not (the proxy answers it in `runprint-capture-id`). Names the
   * capture, not the run: equal runs have equal run identities and different capture ids.
   */
  captureId: string;
  format: RequestFormat;
  /** `POST`, and the URL path without query (`/v1/chat/completions`). */
  method: string;
  path: string;
  /** SPEC 5: from the request bytes; null when the request cannot be identified. */
  requestId: string | null;
  /** SPEC 5.5: when the request is identified and the response gave its served facts (SPEC 4.6). */
  runId: string | null;
  /** Why the request has no identity: the SPEC 11 code and the JSON path it concerns. A run all the same. */
  unidentified: { code: ErrorCode; path: string | null } | null;
  /** The served facts of a readable 2xx response (SPEC 4.6), `{}` when it reports none; else null. */
  served: { [name: string]: ServedFact } | null;
  request: {
    /** Body size in bytes, and plain SHA-256 of the exact bytes sent. */
    size: number;
    rawDigest: DigestSet;
  };
  response: {
    /** null when no response arrived. */
    status: number | null;
    /** The allow-listed response headers, lower-case names. */
    headers: { [name: string]: string };
    /** Bytes received (content coding removed), and plain SHA-256 of them (SPEC 12.1); null without a response. */
    size: number;
    rawDigest: DigestSet | null;
    /** True when the body was read as an SSE stream (SPEC 12.1). */
    stream: boolean;
  };
  /** SPEC 12: the output digest, finish reason and usage; null when the run has no output. */
  output: { digest: DigestSet; finishReason: string | null; usage: JsonValue | null } | null;
  outcome: CaptureOutcome;
  /** null for a run with its full output. */
  incomplete: { reason: IncompleteReason; code: ErrorCode | null } | null;
  /** Run identities of the runs this one follows from (agent steps), as given by the caller. */
  parents: string[];
  /**
   * Declared retrieval (docs/CAPTURE.md): the documents the application said this call rests on,
   * each found in the request: its source id, the SHA-256 of its text (UTF-8), and the list
   * element of `system` or `input` whose strings hold the text. The documents are already inside
   * the request identity (SPEC 4.1.3: they stay in the messages); this says which ones they are.
   */
  retrieval: RetrievedDocument[];
  /** RFC 3339 UTC times: request sent, response headers received (null without), last byte or failure. */
  times: { started: string; response: string | null; ended: string };
}
