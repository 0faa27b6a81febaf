/** One provider call, as bytes, to its run record: request identity, run identity and output digest (SPEC 4.6, 5, 12). */
import { typeName, wrongType, wrongValue } from './misuse.ts';
import { capName, RunprintError } from '../errors.ts';
import { isSaltHex, LIST_COMPONENTS, REQUEST_COMPONENTS, type Composition, type RequestComponentName, type Salts, type ServedFact } from '../identity/composition.ts';
import { createSalts } from '../identity/salt.ts';
import { computeIdentity, withServedFacts, type IdentityDocument } from '../identity/identity.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import { parseJson } from '../jcs/index.ts';
import { providerFor } from '../providers/registry.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import { withHeaderMembers, type MemberHeaders } from '../providers/header-members.ts';
import { compositionFromRequest } from '../providers/request-mapping.ts';
import { IncompleteStreamError } from '../providers/output-reading.ts';
import { rawDigest, runOutputFrom, type RunOutput } from '../providers/run-output.ts';
import { MAX_DECLARED_DOCUMENTS, MAX_DECLARED_TEXT, notInRequest, tooManyDocuments, tooMuchText } from './declared.ts';
import { TextFinder } from './find-texts.ts';
import { RUN_RECORD_VERSION, type CaptureOutcome, type DeclaredDocument, type IncompleteReason, type RetrievedDocument, type RunRecord } from './run-record.ts';

/** One exchange with a provider, exactly as it went over the wire. */
export interface CapturedExchange {
  format: RequestFormat;
  method: string;
  /** URL path without query. */
  path: string;
  /** The exact request body bytes sent. */
  requestBytes: Uint8Array;
  /**
   * The request's headers that carry request members (SPEC 4.8, memberHeadersOf: Anthropic's
   * `anthropic-beta`), by lower-case name; the identity reads the body with those members. Absent: none.
   */
  requestHeaders?: MemberHeaders;
  /** The response status, or null when no response arrived. */
  status: number | null;
  /** The response headers (only the allow-list is read), or null without a response. */
  headers: { get(name: string): string | null } | null;
  /** The exact response body bytes received, content coding removed (empty without a response). */
  responseBytes: Uint8Array;
  outcome: CaptureOutcome;
  /** Milliseconds since the Unix epoch. */
  times: { started: number; response: number | null; ended: number };
  /** Run identities this run follows from. */
  parents?: readonly string[];
  /** The capture's id (a version 4 UUID); default a new random one. */
  captureId?: string;
  /** Documents the application declares this call rests on (declared retrieval). */
  retrieval?: readonly DeclaredDocument[];
  /** The response body passed the capture limit: `responseBytes` is empty, and this many bytes passed. */
  truncated?: { size: number };
  /**
   * The request body passed the capture limit (MAX_CAPTURED_REQUEST_BYTES; a stream body in
   * process): `requestBytes` is empty, and the request is known by its size and the hex SHA-256
   * of its bytes. The run is unidentified (ERR_CAPTURE_REQUEST_TOO_LARGE).
   */
  requestTooLarge?: { size: number; sha256: string };
  /**
   * A body that is not a 2xx answer's, known by what the record keeps of it: its size, the hex
   * SHA-256 of its bytes and whether it reads as an SSE stream (SPEC 12.1), instead of the bytes
   * (`responseBytes` is then empty). An error body may echo part of a credential, and a record
   * keeps no more of it than this: an exchange sent to a server carries no more either.
   */
  digested?: DigestedBody;
  /**
   * Served facts the caller derived itself (SPEC 2.3), each with source `derived`: a local model's
   * `weights` digest (SPEC 9.6). Added to those the response reports when it reports its facts (a
   * response without served facts gets none); a fact the response reports under the same name is kept.
   */
  derived?: { readonly [name: string]: ServedFact };
  /**
   * Salts of request components (SPEC 2.5, 5.6): the identity is computed with them, so the
   * record, receipt and log carry commitments to those components. Secret: kept with the content,
   * never in the record. Capture makes a fresh one per call (createSalts) for each component
   * named salted; a replay passes the original's.
   */
  salts?: Salts;
}

/**
 * The latest time a record may hold, 9999-12-31T23:59:59.999Z in milliseconds since the Unix
 * epoch: the last an RFC 3339 time (a four-digit year) can say. A record's times are from
 * 1970-01-01T00:00:00.000Z to this; a later or negative time is refused (a run holding one could
 * never be signed, and would sort before every other).
 */
export const MAX_RECORD_TIME = 253_402_300_799_999;

/** True for a time a record may hold: a finite number of milliseconds from 0 to MAX_RECORD_TIME. */
export function isRecordTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_RECORD_TIME;
}

/** What a record keeps of a response body: its size, plain SHA-256 (hex) and whether it reads as a stream. */
export interface DigestedBody {
  size: number;
  sha256: string;
  stream: boolean;
}

/** Largest response body capture keeps (64 MiB): a longer one passes through, recorded without digest as `too-large`. */
export const MAX_CAPTURED_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * Largest request body capture keeps to identify (32 MiB, the proxy's request limit): a longer
 * stream body in process passes through untouched, its run recorded unidentified
 * (ERR_CAPTURE_REQUEST_TOO_LARGE) with its size and SHA-256, computed as it went by.
 */
export const MAX_CAPTURED_REQUEST_BYTES = 32 * 1024 * 1024;

/**
 * Most list elements (system, input, context, tools together) capture computes an identity for
 * (100,000, as serve's POST /v1/identity answers for): a request with more goes through untouched,
 * its run recorded unidentified (ERR_CAPTURE_TOO_MANY_ELEMENTS), rather than holding the event loop
 * for its element digests and signing a receipt that names every one of them.
 */
export const MAX_CAPTURED_ELEMENTS = 100_000;

/** Why a run whose request has more than MAX_CAPTURED_ELEMENTS list elements has no identity. */
function tooManyElements(composition: Composition): RunprintError | null {
  let elements = 0;
  for (const name of LIST_COMPONENTS) {
    const list = composition[name];
    if (Array.isArray(list)) elements += list.length;
  }
  if (elements <= MAX_CAPTURED_ELEMENTS) return null;
  return new RunprintError('ERR_CAPTURE_TOO_MANY_ELEMENTS', `the request has ${elements} list elements, more than the ${MAX_CAPTURED_ELEMENTS} capture computes an identity for: forwarded untouched, recorded without identity`);
}

/** Why a run whose request body passed MAX_CAPTURED_REQUEST_BYTES has no identity. */
function requestTooLarge(size: number): RunprintError {
  return new RunprintError('ERR_CAPTURE_REQUEST_TOO_LARGE', `the request body (${size} bytes) is longer than capture keeps to identify (${MAX_CAPTURED_REQUEST_BYTES} bytes): it was sent untouched, and is recorded by its size and SHA-256`);
}

/**
 * The request half of a run, read before the call is forwarded (a proxy names the request
 * identity in its answer's headers): the composition and its identity document without served
 * facts, or why the request has none.
 */
export type PreparedRequest =
  | { composition: Composition; identity: IdentityDocument; error: null }
  | { composition: null; identity: null; error: RunprintError };

/**
 * A run's record with what it was derived from: the composition of the request and its identity
 * document (with served facts when the record has a run identity); both null when unidentified.
 * What a store indexes (component digests) and what a receipt signs.
 */
export interface CapturedRun {
  record: RunRecord;
  composition: Composition | null;
  identity: IdentityDocument | null;
  /** The declared documents, texts included (record.retrieval holds those found, by digest). */
  declared: DeclaredDocument[];
  /** Sources of declared documents whose text no string of the request's system or input holds. */
  notFound: string[];
  /** Why declared documents are left out of the record (Located.error): the capture point reports it. */
  retrievalError: RunprintError | null;
  /** The request's member headers (SPEC 4.8) the identity read, as the exchange gave them; absent: none. */
  requestHeaders?: MemberHeaders;
  /** The provider's id of the response (RunOutput.responseId), for telemetry; absent when the run has no output or the body gives none. */
  responseId?: string;
  /** Each choice's finish reason when the answer has more than one (RunOutput.finishReasons), for telemetry; else absent. */
  finishReasons?: string[];
}

/** The response headers a record keeps: nothing that can carry a credential. */
function keptHeaders(format: RequestFormat, headers: CapturedExchange['headers']): { [name: string]: string } {
  const kept: { [name: string]: string } = {};
  if (headers === null) return kept;
  for (const name of ['content-type', providerFor(format).requestIdHeader]) {
    const value = headers.get(name);
    if (value !== null) kept[name] = value;
  }
  return kept;
}

/** SPEC 12.1: a body whose first byte other than JSON white space is `{` is a response, else a stream. */
function looksLikeStream(body: Uint8Array, contentType: string | undefined): boolean {
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte !== 0x7b;
  }
  return contentType?.toLowerCase().startsWith('text/event-stream') ?? false;
}

/** True for a run identity in its canonical spelling (SPEC 5.5): what a parent must be. */
export function isRunId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    return parseIdentity(value).kind === 'run';
  } catch (error) {
    if (error instanceof RunprintError) return false;
    throw error;
  }
}

/** The parents, each once, in the order first named (`runprint-parent: A,A` is one parent A). */
function checkParents(parents: readonly string[]): string[] {
  if (!Array.isArray(parents)) throw wrongType('parents must be an array of run identities');
  for (const parent of parents) {
    if (!isRunId(parent)) throw wrongValue('a parent must be a run identity (rp-run-...)');
  }
  return [...new Set(parents)];
}

function isSuccess(status: number | null): status is number {
  return status !== null && status >= 200 && status <= 299;
}

/** Why a run without output has none, from the transport alone (no body read). */
function transportReason(exchange: CapturedExchange): IncompleteReason | null {
  switch (exchange.outcome) {
    case 'complete': return null;
    case 'aborted': return 'aborted';
    case 'timeout': return 'timeout';
    case 'network-error': return exchange.status === null ? 'network-error' : 'cut';
  }
}

/**
 * The output of a 2xx body, or why there is none. SPEC 12 decides from the bytes, not from the
 * transport: a stream whose terminal event arrived before the client hung up (SDKs stop reading
 * at `[DONE]`) has its whole output; a provider error event is a provider error however the
 * exchange ended; otherwise a transport failure names the reason, with the SPEC 12 code.
 */
function readOutput(exchange: CapturedExchange): RunOutput | NonNullable<RunRecord['incomplete']> {
  try {
    return runOutputFrom(exchange.responseBytes, exchange.format);
  } catch (error) {
    // Any input error over these bytes (SPEC 12 codes, ERR_JSON_* for a JSON body) is the run's, not runprint's.
    if (!(error instanceof RunprintError)) throw error;
    if (error.code === 'ERR_OUTPUT_PROVIDER_ERROR') return { reason: 'provider-error', code: error.code };
    const transport = transportReason(exchange);
    if (transport !== null) return { reason: transport, code: error.code };
    // A stream whose end event never came stopped before its end: cut, though the transport
    // completed. One whose end event came but found something unfinished (or an event before it
    // garbled) had its end: its output is unreadable, with the same SPEC 12 code.
    const cut = error instanceof IncompleteStreamError && !error.endEventSeen;
    return { reason: cut ? 'cut' : 'unreadable-output', code: error.code };
  }
}

/**
 * The composition and identity (without served facts) of request bytes in `format`, or the
 * SPEC 11 error that says why there are none. With `salts` (one or more components), the
 * composition carries them and the identity is the salted one (SPEC 5.6). `headers` are the
 * request's member headers (SPEC 4.8), read into the body's members. Throws only on a programmer
 * error (a TypeError or RangeError for salts that are not SPEC 2.5 salts, or a header that carries
 * no member of `format`).
 */
export function prepareRequest(format: RequestFormat, bytes: Uint8Array, salts?: Salts, headers?: MemberHeaders): PreparedRequest {
  if (salts !== undefined) checkSalts(salts);
  try {
    const mapped = compositionFromRequest(format, withHeaderMembers(format, parseJson(bytes), headers));
    const tooMany = tooManyElements(mapped);
    if (tooMany !== null) return { composition: null, identity: null, error: tooMany };
    const composition = salts === undefined || Object.keys(salts).length === 0 ? mapped : { ...mapped, salts: { ...salts } };
    return { composition, identity: computeIdentity(composition), error: null };
  } catch (error) {
    if (error instanceof RunprintError) return { composition: null, identity: null, error };
    throw error;
  }
}

/**
 * The request components named salted (serve --capture-salt, runprintFetch's `salt`): names or
 * comma-separated lists of them, `all` for every request component; in request order, each once.
 * A RangeError names what is not a request component (`served` cannot be salted, SPEC 2.5).
 */
export function saltedComponents(values: readonly string[]): RequestComponentName[] {
  const named = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string') throw wrongType('salted components are names of request components');
    for (const name of value.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
      if (name === 'all') for (const each of REQUEST_COMPONENTS) named.add(each);
      else if ((REQUEST_COMPONENTS as readonly string[]).includes(name)) named.add(name);
      else throw new RangeError(`"${capName(name)}" is not a request component (${REQUEST_COMPONENTS.join(', ')}, or all)`);
    }
  }
  return REQUEST_COMPONENTS.filter((name) => named.has(name));
}

/** Fresh random salts (crypto.getRandomValues, 32 bytes each) for these components; undefined for none. */
export function freshSalts(names: readonly RequestComponentName[]): Salts | undefined {
  return names.length === 0 ? undefined : createSalts(names);
}

/** Salts as SPEC 2.5 spells them; anything else is a programmer error, named without the salt. */
function checkSalts(salts: Salts): void {
  if (salts === null || typeof salts !== 'object' || Array.isArray(salts)) throw wrongType('salts must be an object of component name -> 64 lowercase hex digits');
  for (const [name, salt] of Object.entries(salts)) {
    if (!(REQUEST_COMPONENTS as readonly string[]).includes(name)) throw new RangeError(`salts: "${capName(name)}" is not a request component`);
    if (!isSaltHex(salt)) throw new RangeError(`salts: the salt of ${name} is not 64 lowercase hex digits`);
  }
}

/** The response's served facts with the caller's derived ones added (the response's win a name). */
function withDerived(served: { [name: string]: ServedFact } | null, derived: CapturedExchange['derived']): { [name: string]: ServedFact } | null {
  if (served === null || derived === undefined) return served;
  const all: { [name: string]: ServedFact } = {};
  for (const [name, fact] of Object.entries(derived)) {
    if (fact === null || typeof fact !== 'object' || fact.source !== 'derived') throw wrongType('a derived served fact must be {"source": "derived", "value": ...}');
    Object.defineProperty(all, name, { value: { source: 'derived', value: fact.value }, enumerable: true, writable: true, configurable: true });
  }
  for (const [name, fact] of Object.entries(served)) Object.defineProperty(all, name, { value: fact, enumerable: true, writable: true, configurable: true });
  return all;
}

/**
 * The run record of one exchange. Everything is derived from the bytes: the request identity
 * from the request body (what `runprint id` gives for the same bytes; with the members SPEC 4.8
reads from `requestHeaders` added), served facts, output digest
 * and finish reason from the response body as SPEC 12 reads it (what `runOutputFrom` gives), so a
 * fetch wrapper and a proxy that see the same bytes make the same record but for times. A failed
 * call is a run too, marked incomplete; a request runprint cannot identify is recorded as
 * unidentified with its error code. Throws only on a programmer error (a TypeError with `code`
 * ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE, capture/misuse.ts), or a
 * RangeError for a time a record cannot hold as RFC 3339 (isRecordTime: a clock past year 9999 or
 * before 1970): no record is made then.
 */
export function captureRun(exchange: CapturedExchange): RunRecord {
  return captureRunWith(exchange).record;
}

/**
 * As captureRun, with the composition and identity document the record was derived from.
 * `prepared` is prepareRequest's result for the same bytes, when the caller has it already (the
 * request components are then not hashed again); `located` is locate's result for the exchange's
 * retrieval and `prepared`'s composition, when the caller has it (the texts are not searched again).
 */
export function captureRunWith(exchange: CapturedExchange, prepared?: PreparedRequest, located?: Located): CapturedRun {
  if (exchange === null || typeof exchange !== 'object' || Array.isArray(exchange)) throw wrongType(`captureRun takes an exchange object ({ format, requestBytes, responseBytes, status, times, ... }), not ${typeName(exchange)}`);
  const { format, requestBytes, responseBytes } = exchange;
  if (!(requestBytes instanceof Uint8Array) || !(responseBytes instanceof Uint8Array)) {
    throw wrongType('requestBytes and responseBytes must be Uint8Arrays');
  }
  const parents = checkParents(exchange.parents ?? []);
  checkTimes(exchange.times);
  const tooLarge = exchange.requestTooLarge;
  if (tooLarge !== undefined) {
    if (requestBytes.length !== 0 || !Number.isSafeInteger(tooLarge.size) || tooLarge.size <= MAX_CAPTURED_REQUEST_BYTES || typeof tooLarge.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(tooLarge.sha256)) {
      throw wrongType(`requestTooLarge must be { size: more than ${MAX_CAPTURED_REQUEST_BYTES} bytes, sha256: 64 lowercase hex digits }, with no requestBytes`);
    }
  }
  const digested = exchange.digested;
  if (digested !== undefined) {
    if (exchange.status === null || isSuccess(exchange.status) || exchange.truncated !== undefined || responseBytes.length !== 0) {
      throw wrongType('digested is for the body of a response whose status is not 2xx, with no responseBytes');
    }
    if (!Number.isSafeInteger(digested.size) || digested.size < 0 || typeof digested.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(digested.sha256) || typeof digested.stream !== 'boolean') {
      throw wrongType('digested must be { size: a whole number of bytes, sha256: 64 lowercase hex digits, stream: a boolean }');
    }
  }
  const headers = keptHeaders(format, exchange.headers);
  let incomplete: RunRecord['incomplete'] = null;
  let output: RunOutput | null = null;
  if (exchange.truncated !== undefined && exchange.status !== null) {
    incomplete = { reason: 'too-large', code: null };
  } else if (exchange.status !== null && !isSuccess(exchange.status)) {
    incomplete = { reason: 'http-status', code: null };
  } else if (exchange.status === null) {
    incomplete = { reason: transportReason(exchange) ?? 'network-error', code: null };
  } else {
    const read = readOutput(exchange);
    if ('reason' in read) incomplete = read;
    else output = read;
  }
  const served = output === null ? null : withDerived(output.served, exchange.derived);
  let unidentified: RunRecord['unidentified'] = null;
  const request: PreparedRequest = tooLarge !== undefined
    ? { composition: null, identity: null, error: requestTooLarge(tooLarge.size) }
    : prepared ?? prepareRequest(format, requestBytes, exchange.salts, exchange.requestHeaders);
  let identity: IdentityDocument | null = null;
  if (request.error !== null) {
    unidentified = { code: request.error.code, path: request.error.path ?? null };
  } else {
    try {
      identity = served === null ? request.identity : withServedFacts(request.identity, served);
    } catch (error) {
      if (!(error instanceof RunprintError)) throw error;
      unidentified = { code: error.code, path: error.path ?? null };
    }
  }
  const declared = checkDeclared(exchange.retrieval ?? []);
  const { found, notFound, error: retrievalError } = located !== undefined && prepared !== undefined && tooLarge === undefined ? located : locate(declared, request.composition);
  const responded = exchange.status !== null;
  const record: RunRecord = {
    version: RUN_RECORD_VERSION,
    captureId: exchange.captureId ?? globalThis.crypto.randomUUID(),
    format,
    method: exchange.method.toUpperCase(),
    path: exchange.path,
    requestId: identity?.requestId ?? null,
    runId: identity?.runId ?? null,
    unidentified,
    served,
    request: tooLarge !== undefined ? { size: tooLarge.size, rawDigest: { sha256: tooLarge.sha256 } } : { size: requestBytes.length, rawDigest: rawDigest(requestBytes) },
    response: digested !== undefined
      ? { status: exchange.status, headers, size: digested.size, rawDigest: { sha256: digested.sha256 }, stream: digested.stream }
      : {
        status: exchange.status,
        headers,
        size: exchange.truncated?.size ?? responseBytes.length,
        rawDigest: responded && exchange.truncated === undefined ? rawDigest(responseBytes) : null,
        stream: output?.stream ?? (responded && looksLikeStream(responseBytes, headers['content-type'])),
      },
    output: output === null || output.digest === null ? null : { digest: output.digest, finishReason: output.finishReason, usage: output.usage },
    outcome: exchange.outcome,
    incomplete,
    parents,
    retrieval: found,
    times: {
      started: new Date(exchange.times.started).toISOString(),
      response: exchange.times.response === null ? null : new Date(exchange.times.response).toISOString(),
      ended: new Date(exchange.times.ended).toISOString(),
    },
  };
  const run: CapturedRun = { record, composition: identity === null ? null : request.composition, identity, declared, notFound, retrievalError, ...(exchange.requestHeaders === undefined ? {} : { requestHeaders: { ...exchange.requestHeaders } }), ...(output?.responseId == null ? {} : { responseId: output.responseId }) };
  if (output?.finishReasons !== undefined) run.finishReasons = output.finishReasons;
  return run;
}

/** Times a record can hold as RFC 3339 (isRecordTime); a RangeError otherwise (a clock past 9999, or before 1970). */
function checkTimes(times: CapturedExchange['times']): void {
  if (times === null || typeof times !== 'object') throw wrongType('times must be { started, response, ended } in milliseconds since the Unix epoch');
  for (const name of ['started', 'response', 'ended'] as const) {
    const value = times[name];
    if (name === 'response' && value === null) continue;
    if (!isRecordTime(value)) throw new RangeError(`times.${name} must be milliseconds since the Unix epoch from 0 to ${MAX_RECORD_TIME} (9999-12-31T23:59:59.999Z)`);
  }
}

function checkDeclared(documents: readonly DeclaredDocument[]): DeclaredDocument[] {
  if (!Array.isArray(documents)) throw wrongType('retrieval must be an array of { source, text }');
  return documents.map((document) => {
    if (typeof document !== 'object' || document === null || typeof document.source !== 'string' || document.source === '' || typeof document.text !== 'string' || document.text === '') {
      throw wrongType('a declared document is { source: non-empty string, text: non-empty string }');
    }
    return { source: document.source, text: document.text };
  });
}

/** Every string inside a JSON value (member names aside). */
function* strings(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* strings(item);
  else if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) yield* strings(item);
}

const textEncoder = new TextEncoder();

/** Where declared documents are in a request (locate), and why some are not recorded. */
export interface Located {
  /** The documents found, in declared order. */
  found: RetrievedDocument[];
  /** Sources of declared documents whose text no string of the request's system or input holds. */
  notFound: string[];
  /**
   * What keeps declared documents out of the record: ERR_CAPTURE_RETRIEVAL_TOO_LARGE (more than
   * MAX_DECLARED_DOCUMENTS documents or MAX_DECLARED_TEXT of text: none is searched or recorded),
   * ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST (those in `notFound`), or null.
   */
  error: RunprintError | null;
}

/**
 * Where each declared document is: the first list element of `system`, then `input`, one of
 * whose strings contains its text (as the request's JSON strings hold it, escapes undone). A
 * document found nowhere is named in `notFound`: declaring what was not sent is an error, and the
 * record says only what the request holds. The one check of every capture point (in process, an
 * exchange sent to a server, the proxy's runprint-retrieval header), made once per call.
 *
 * Bounded work: at most MAX_DECLARED_DOCUMENTS documents and MAX_DECLARED_TEXT code units of
 * text (else ERR_CAPTURE_RETRIEVAL_TOO_LARGE, nothing searched); a text declared twice is
 * searched once; and the texts are searched by find-texts.ts: a quick search per text on a work
 * budget, then one pass of an automaton over the request's strings for the texts not found yet,
 * so the time stays linear in the request's and the texts' lengths, not their product.
 */
export function locate(declared: readonly DeclaredDocument[], composition: Composition | null): Located {
  if (declared.length > MAX_DECLARED_DOCUMENTS) return { found: [], notFound: [], error: tooManyDocuments(declared.length) };
  const indexOf = new Map<string, number>();
  const texts: string[] = [];
  let units = 0;
  for (const document of declared) {
    if (indexOf.has(document.text)) continue;
    indexOf.set(document.text, texts.length);
    texts.push(document.text);
    units += document.text.length;
  }
  if (units > MAX_DECLARED_TEXT) return { found: [], notFound: [], error: tooMuchText(units) };
  const places: { component: 'system' | 'input'; element: number }[] = [];
  let first: Int32Array | undefined;
  if (composition !== null && texts.length > 0) {
    const finder = new TextFinder(texts);
    search: for (const component of ['system', 'input'] as const) {
      const list = composition[component];
      for (let element = 0; element < list.length; element++) {
        places.push({ component, element });
        for (const text of strings(list[element])) {
          finder.scan(text, places.length - 1);
          if (finder.done) break search;
        }
      }
    }
    first = finder.first;
  }
  const found: RetrievedDocument[] = [];
  const notFound: string[] = [];
  const digests = new Map<number, RetrievedDocument['digest']>();
  for (const document of declared) {
    const index = indexOf.get(document.text)!;
    const slot = first?.[index] ?? -1;
    if (slot < 0) {
      notFound.push(document.source);
      continue;
    }
    let digest = digests.get(index);
    if (digest === undefined) {
      digest = rawDigest(textEncoder.encode(document.text));
      digests.set(index, digest);
    }
    found.push({ source: document.source, digest, ...places[slot]! });
  }
  return { found, notFound, error: notFound.length > 0 ? notInRequest(notFound) : null };
}
