/** docs/SPEC.md section 12: a run's output, output digest and raw digest, from the body as received. */
import { JsonError, OutputError, ProviderError } from '../errors.ts';
import type { ServedFact } from '../identity/composition.ts';
import { sha256, sha256Once } from '../hash/sha256.ts';
import { digestSet, domainTag, type DigestSet } from '../identity/digest.ts';
import { canonicalize, parseJson } from '../jcs/index.ts';
import { isJsonObject, type JsonValue } from '../jcs/json-value.ts';
import { requireBytes } from '../keys/key-arguments.ts';
import { incomplete, invalid, type AssembledOutput } from './output-reading.ts';
import { parseEventStream } from './output-sse.ts';
import { providerFor } from './registry.ts';
import { member, type RequestFormat } from './request-format.ts';
import { servedFromResponse } from './served-from-response.ts';

export interface RunOutput {
  /** The assembled final output as a JSON value (SPEC 12); null without a format for a body not JSON. */
  output: JsonValue | null;
  /** SHA-256(tag("output") || JCS(output)), tag = "runprint/v1/output" 0x00; null when output is null. */
  digest: DigestSet | null;
  /** Plain SHA-256 of the body bytes exactly as received, so `sha256sum` reproduces it. */
  rawDigest: DigestSet;
  /** e.g. "stop", "length", "tool_calls", "end_turn", "completed"; null when unknown. */
  finishReason: string | null;
  /** Each choice's finish reason, by index, when the answer has more than one choice (Chat Completions' `n`); else absent. */
  finishReasons?: string[];
  /** The provider's usage object, verbatim. */
  usage: JsonValue | null;
  /** As servedFromResponse gives (empty for output without a format). */
  served: { [name: string]: ServedFact };
  /** True when the body was an SSE stream. */
  stream: boolean;
  /**
   * The provider's id of this response (a chat completion's, a response's or a message's `id`,
   * as the body or its stream gives it); null when it gives none, and for output without a format.
   * Not part of the output or its digest: it differs on every call.
   */
  responseId: string | null;
}

/** tag("output"): the 18 ASCII bytes `runprint/v1/output` and one 0x00 (SPEC 5.1). */
const OUTPUT_TAG = domainTag('output');

/** SPEC 12.1: the digest of an assembled output value. */
export function outputDigest(output: JsonValue): DigestSet {
  return digestSet(sha256(OUTPUT_TAG, canonicalize(output)));
}

/** SPEC 12.1: plain SHA-256 of the body bytes exactly as received (what `sha256sum` prints). */
export function rawDigest(body: Uint8Array): DigestSet {
  // A string would be hashed as something other than the bytes received: never silently.
  requireBytes(body, 'rawDigest body');
  return digestSet(sha256Once(body));
}

/** SPEC 12.1: a body whose first byte other than JSON white space is `{` is a response, else a stream. */
function isJsonBody(body: Uint8Array): boolean {
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === 0x7b;
  }
  return false;
}

/**
 * Served facts (SPEC 4.6; a body that reports none gives `{}`). The assemblers have already
 * rejected error bodies and bodies of another type, so what servedFromResponse can still reject
 * is a fact of the wrong type: an output failure here, as the body is the output.
 */
function servedFacts(format: RequestFormat, from: JsonValue | undefined): { [name: string]: ServedFact } {
  if (from === undefined) return {};
  try {
    return servedFromResponse(format, from);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    throw new OutputError('ERR_OUTPUT_INVALID', error.message, error.path);
  }
}

/** What output without a format never has (SPEC 12.5); a new object each time, as callers own it. */
function withoutFormat(raw: DigestSet, output: JsonValue | null, digest: DigestSet | null): RunOutput {
  return { output, digest, rawDigest: raw, finishReason: null, usage: null, served: {}, stream: false, responseId: null };
}

/** The `id` member of the response object an assembler read, when it is a string. */
function responseIdOf(from: JsonValue | undefined): string | null {
  if (from === undefined || !isJsonObject(from)) return null;
  const id = member(from, 'id');
  return typeof id === 'string' ? id : null;
}

/**
 * SPEC 12: the output of a run from the response body exactly as received. With a format, the
 * body is the provider's JSON response or its SSE stream, and both give the same output for the
 * same content; broken or ambiguous input is rejected with the codes of SPEC 12.1
 * (ERR_OUTPUT_INVALID, _INCOMPLETE_STREAM, _PROVIDER_ERROR, _EVENT_ORDER, _CONTRADICTION,
 * _UNSUPPORTED, and ERR_JSON_* for a response that is not strict JSON); a body in which the
 * provider reports an error has no output. Without a format (SPEC 12.5), the output is the body's
 * JSON value, or null when the body is not strict JSON. The body is the response content with any
 * content coding removed.
 */
export function runOutputFrom(body: Uint8Array, format?: RequestFormat): RunOutput {
  if (!(body instanceof Uint8Array)) throw new TypeError('body must be a Uint8Array');
  const raw = rawDigest(body);
  if (format === undefined) {
    let output: JsonValue;
    try {
      output = parseJson(body);
    } catch (error) {
      if (!(error instanceof JsonError)) throw error;
      return withoutFormat(raw, null, null);
    }
    // The JSON text `null` has output null too, and a digest: the digest tells the two apart.
    return withoutFormat(raw, output, outputDigest(output));
  }
  const provider = providerFor(format);
  let assembled: AssembledOutput;
  const stream = !isJsonBody(body);
  if (stream) {
    const { events } = parseEventStream(body);
    if (events.length === 0) incomplete('event stream has no event', false);
    assembled = provider.outputFromStream(events);
  } else {
    const response = parseJson(body);
    if (!isJsonObject(response)) invalid('response must be a JSON object');
    assembled = provider.outputFromResponse(response);
  }
  const read: RunOutput = {
    output: assembled.output,
    digest: outputDigest(assembled.output),
    rawDigest: raw,
    finishReason: assembled.finishReason,
    usage: assembled.usage,
    served: servedFacts(format, assembled.servedFrom),
    stream,
    // The object the assembler read served facts from (the response, the first chunk of a chat
    // completion stream, the message of message_start, response.completed's response) holds it.
    responseId: responseIdOf(assembled.servedFrom),
  };
  if (assembled.finishReasons !== undefined) read.finishReasons = assembled.finishReasons;
  return read;
}
