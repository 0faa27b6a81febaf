/**
 * An exchange: the exact bytes of one provider call and what its transport saw, as in-process
 * capture sends it to a runprint server (`POST /v1/exchanges`, server/ingest-routes.ts), which
 * makes the run record from it itself. Pure: the browser may send exchanges too.
 */
import { RunprintError, type ErrorCode } from '../errors.ts';
import { isSaltHex, REQUEST_COMPONENTS, type Salts } from '../identity/composition.ts';
import { parseJson } from '../jcs/index.ts';
import { decodeBase64, encodeBase64 } from '../keys/base64.ts';
import type { RunContent } from './capture-fetch.ts';
import { isRecordTime, isRunId, MAX_CAPTURED_REQUEST_BYTES, MAX_CAPTURED_RESPONSE_BYTES, MAX_RECORD_TIME, type CapturedExchange, type CapturedRun, type DigestedBody } from './capture-run.ts';
import { readDeclared } from './declared.ts';
import { routeOf } from './route.ts';
import type { MemberHeaders } from '../providers/header-members.ts';
import { providerFor } from '../providers/registry.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import type { CaptureOutcome } from './run-record.ts';

/** The `version` of an exchange body. */
export const EXCHANGE_VERSION = 'runprint/exchange/v1';
export const EXCHANGES_PATH = '/v1/exchanges';

/**
 * One exchange as a client sends it: JSON, the bytes in standard base64 (RFC 4648 section 4).
 * `response` is null when no response arrived; `headers` are the response's (only the content
 * type and the provider's request id header are read); times are whole milliseconds since the
 * epoch, from 0 to 9999-12-31T23:59:59.999Z (MAX_RECORD_TIME: a record writes them as RFC 3339).
 */
export interface ExchangeBody {
  version: typeof EXCHANGE_VERSION;
  /** The capture's id, a version 4 UUID the client made: the same exchange sent twice has the same one. */
  captureId: string;
  method: string;
  path: string;
  /** The request body's bytes; empty (`""`) with `requestTooLarge`. */
  request: string;
  /**
   * A request body longer than capture keeps to identify (MAX_CAPTURED_REQUEST_BYTES, 32 MiB; a
   * stream body in process): its size in bytes and the hex SHA-256 of its bytes, computed as it was
   * sent, instead of the bytes (`request` is then `""`). The server records the run unidentified
   * with ERR_CAPTURE_REQUEST_TOO_LARGE, as in-process capture does (may be absent: the bytes are in `request`).
   */
  requestTooLarge?: { size: number; sha256: string };
  /**
   * The response: its bytes in `body`, or, for a status that is not 2xx, `digested` instead: what
   * the server keeps of an error body (its size, the hex SHA-256 of its bytes and whether it reads
   * as an SSE stream), since an error body may echo part of the caller's credential; or, for a body
   * longer than capture keeps (MAX_CAPTURED_RESPONSE_BYTES, 64 MiB), `tooLarge` with its size in
   * bytes and no bytes or digest: recorded `too-large`, as the proxy records such an answer. One of
   * the three.
   */
  response:
    | { status: number; headers: { [name: string]: string }; body: string }
    | { status: number; headers: { [name: string]: string }; digested: DigestedBody }
    | { status: number; headers: { [name: string]: string }; tooLarge: { size: number } }
    | null;
  outcome: CaptureOutcome;
  times: { started: number; response: number | null; ended: number };
  parents: string[];
  /** Declared retrieval: the documents the application said the call rests on, texts included (may be absent: none). */
  retrieval?: { source: string; text: string }[];
  /**
   * The salts the client made for the call's salted components (SPEC 2.5; may be absent: none):
   * the server identifies the request with them, and keeps them in its run store. Made once, at
   * capture, so an exchange sent again is the same record.
   */
  salts?: Salts;
  /**
   * The request's headers that carry request members (SPEC 4.8: Anthropic's `anthropic-beta`), by
   * lower-case name, as sent (may be absent: none): the server identifies the request with them.
   */
  requestHeaders?: { [name: string]: string };
}

/** The codes of a declaration's failure an exchange's answer may name (`retrievalError`). */
const RETRIEVAL_ERROR_CODES: readonly ErrorCode[] = ['ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE'];

/**
 * Why a server's record of an exchange leaves out declared documents: the capture core's check
 * (ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST: texts the request does not hold;
 * ERR_CAPTURE_RETRIEVAL_TOO_LARGE: more documents or text than a call may declare, none recorded),
 * its message (sources cut to 80 characters, never a text), and the sources of the documents left
 * out, one per document, in declared order.
 */
export interface ExchangeRetrievalError {
  code: ErrorCode;
  message: string;
  sources: string[];
}

/** What `POST /v1/exchanges` answers (200) once the exchange's record is durable. */
export interface ExchangeAnswer {
  captureId: string;
  requestId: string | null;
  runId: string | null;
  /** The receipt's path on the server, when the run gets one. */
  receipt: string | null;
  /** Declared documents the record leaves out, and why; null when every declared one is recorded (or none was declared). */
  retrievalError: ExchangeRetrievalError | null;
}

/** The answer's `retrievalError` for a run the server made from an exchange: what locate left out. */
export function retrievalErrorOf(run: CapturedRun): ExchangeRetrievalError | null {
  if (run.retrievalError === null) return null;
  // Not found in the request: those; past a limit: none was searched, so all of them.
  const sources = run.notFound.length > 0 ? [...run.notFound] : run.declared.map((document) => document.source);
  return { code: run.retrievalError.code, message: run.retrievalError.message, sources };
}

/**
 * The `retrievalError` of an exchange's answer, as the sender reads it: null when the answer has
 * none (or an older server did not say), or names a code this version does not know.
 */
export function readRetrievalError(answer: unknown): ExchangeRetrievalError | null {
  if (!isObject(answer)) return null;
  const error = answer['retrievalError'];
  if (!isObject(error)) return null;
  const { code, message, sources } = error;
  if (typeof code !== 'string' || !(RETRIEVAL_ERROR_CODES as readonly string[]).includes(code) || typeof message !== 'string') return null;
  return {
    code: code as ErrorCode,
    message,
    sources: Array.isArray(sources) ? sources.filter((source): source is string => typeof source === 'string') : [],
  };
}

/** The exchange of a captured run: its exact bytes, and what the transport saw, from its record. */
export function exchangeOf(run: CapturedRun, content: RunContent): ExchangeBody {
  const { record } = run;
  return {
    version: EXCHANGE_VERSION,
    captureId: record.captureId,
    method: record.method,
    path: record.path,
    request: encodeBase64(content.requestBytes),
    // Longer than capture keeps: only its size and digest were kept.
    ...(record.unidentified?.code === 'ERR_CAPTURE_REQUEST_TOO_LARGE' ? { requestTooLarge: { size: record.request.size, sha256: record.request.rawDigest.sha256 } } : {}),
    response: record.response.status === null
      ? null
      // Longer than capture keeps: no bytes were kept, only how many passed.
      : record.incomplete?.reason === 'too-large'
        ? { status: record.response.status, headers: { ...record.response.headers }, tooLarge: { size: record.response.size } }
      // Not a 2xx answer: only what the record keeps of the body leaves the process (it may echo a credential).
      : (record.response.status < 200 || record.response.status > 299) && record.response.rawDigest !== null
        ? { status: record.response.status, headers: { ...record.response.headers }, digested: { size: record.response.size, sha256: record.response.rawDigest.sha256, stream: record.response.stream } }
        : { status: record.response.status, headers: { ...record.response.headers }, body: encodeBase64(content.responseBytes) },
    outcome: record.outcome,
    times: {
      started: Date.parse(record.times.started),
      response: record.times.response === null ? null : Date.parse(record.times.response),
      ended: Date.parse(record.times.ended),
    },
    parents: [...record.parents],
    ...(run.declared.length === 0 ? {} : { retrieval: run.declared.map((document) => ({ source: document.source, text: document.text })) }),
    ...(run.composition?.salts === undefined ? {} : { salts: { ...run.composition.salts } }),
    ...(run.requestHeaders === undefined ? {} : { requestHeaders: { ...run.requestHeaders } }),
  };
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const OUTCOMES: readonly CaptureOutcome[] = ['complete', 'aborted', 'timeout', 'network-error'];
const MEMBERS = ['version', 'captureId', 'method', 'path', 'request', 'requestTooLarge', 'response', 'outcome', 'times', 'parents', 'retrieval', 'salts', 'requestHeaders'];

function bad(message: string, path: string): RunprintError {
  return new RunprintError('ERR_HTTP_BAD_REQUEST', message, path);
}

function isObject(value: unknown): value is { [name: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bytesOf(value: unknown, path: string): Uint8Array {
  const bytes = typeof value === 'string' ? decodeBase64(value) : undefined;
  if (bytes === undefined) throw bad('must be the bytes in standard base64', path);
  return bytes;
}

/** An error body's digest, size and stream flag (ExchangeBody's `digested`). */
function digestedOf(value: unknown, path: string): DigestedBody {
  if (!isObject(value)) throw bad('must be an object with size, sha256 and stream', path);
  for (const name of Object.keys(value)) {
    if (!['size', 'sha256', 'stream'].includes(name)) throw bad('must have only size, sha256 and stream', path);
  }
  const { size, sha256, stream } = value;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad('must be the body\'s size in bytes', `${path}['size']`);
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw bad('must be the SHA-256 of the body in 64 lowercase hex digits', `${path}['sha256']`);
  if (typeof stream !== 'boolean') throw bad('must be true when the body reads as an SSE stream (SPEC 12.1), else false', `${path}['stream']`);
  return { size, sha256, stream };
}

/** The size and digest of a request body longer than capture keeps (ExchangeBody's `requestTooLarge`). */
function requestTooLargeOf(value: unknown, path: string): { size: number; sha256: string } {
  if (!isObject(value)) throw bad('must be an object with size and sha256', path);
  for (const name of Object.keys(value)) {
    if (name !== 'size' && name !== 'sha256') throw bad('must have only size and sha256', path);
  }
  const { size, sha256 } = value;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= MAX_CAPTURED_REQUEST_BYTES) {
    throw bad(`must be the request body's size in bytes, more than capture keeps (${MAX_CAPTURED_REQUEST_BYTES}): a shorter body is sent as its bytes`, `${path}['size']`);
  }
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw bad('must be the SHA-256 of the body in 64 lowercase hex digits', `${path}['sha256']`);
  return { size, sha256 };
}

/** The size of a body longer than capture keeps (ExchangeBody's `tooLarge`). */
function tooLargeOf(value: unknown, path: string): number {
  if (!isObject(value)) throw bad('must be an object with size', path);
  for (const name of Object.keys(value)) {
    if (name !== 'size') throw bad('must have only size', path);
  }
  const size = value['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= MAX_CAPTURED_RESPONSE_BYTES) {
    throw bad(`must be the body's size in bytes, more than capture keeps (${MAX_CAPTURED_RESPONSE_BYTES}): a shorter body is sent as its bytes`, `${path}['size']`);
  }
  return size;
}

/** Longest member header value an exchange may carry (HTTP servers cap a header line near 8 KiB). */
const MAX_MEMBER_HEADER = 8192;

/** The request's member headers (ExchangeBody's `requestHeaders`): only those of the format, each a header value. */
function requestHeadersOf(format: RequestFormat, value: unknown, path: string): MemberHeaders | undefined {
  if (value === undefined) return undefined;
  const names = providerFor(format).headerMembers.map((each) => each.header);
  if (!isObject(value)) throw bad(`must be an object of header name -> value (${names.length === 0 ? 'this route has no member headers' : names.join(', ')})`, path);
  const headers: { [name: string]: string } = {};
  for (const [name, header] of Object.entries(value)) {
    if (!names.includes(name)) throw bad(`must name only headers that carry request members of ${format} (${names.length === 0 ? 'none' : names.join(', ')}, lower case)`, path);
    if (typeof header !== 'string' || header.length > MAX_MEMBER_HEADER || !/^[\t\x20-\x7e\x80-\xff]*$/.test(header)) throw bad(`must be a header value (at most ${MAX_MEMBER_HEADER} characters, no line break)`, `${path}['${name}']`);
    headers[name] = header;
  }
  return Object.keys(headers).length === 0 ? undefined : headers;
}

/** Whole milliseconds since the epoch that a record can hold as an RFC 3339 time (up to 9999-12-31T23:59:59.999Z). */
function timeOf(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || !isRecordTime(value)) {
    throw bad(`must be a time in whole milliseconds since the Unix epoch, from 0 to ${MAX_RECORD_TIME} (9999-12-31T23:59:59.999Z)`, path);
  }
  return value;
}

/**
 * The exchange in a body (strict I-JSON), checked member by member, ready for captureRunWith;
 * ERR_HTTP_BAD_REQUEST (or ERR_CAPTURE_PARENT_INVALID, ERR_JSON_*) naming the member otherwise.
 */
export function readExchange(bytes: Uint8Array): CapturedExchange & { captureId: string; parents: string[] } {
  return exchangeFromJson(parseJson(bytes));
}

/**
 * readExchange of the JSON value `body` already parsed from the exchange's bytes (a caller that
 * gives its event loop back between the parse of a large exchange and the rest, each tens of
 * milliseconds for one of 10 MB: server/ingest-routes.ts). `decodedRequest`, when given, is what
 * decodeBase64 gives for body's `request` (decoded in steps by that caller), not decoded again.
 */
export function exchangeFromJson(body: unknown, decodedRequest?: Uint8Array): CapturedExchange & { captureId: string; parents: string[] } {
  if (!isObject(body)) throw bad('an exchange is a JSON object', '$');
  // Served facts are the server's to derive from the bytes: one a client states (a local model's
  // weights digest) it cannot recheck, and would sign as its own (docs/CAPTURE.md, "Local models").
  if (Object.hasOwn(body, 'served')) {
    throw new RunprintError('ERR_CAPTURE_SERVED_FACT_REFUSED', 'an exchange carries bytes, not served facts: the server derives a run\'s facts itself and cannot recheck the ones a client states (record them in a local run store, or digest the model with serve --upstream-weights)', "$['served']");
  }
  for (const name of Object.keys(body)) {
    if (!MEMBERS.includes(name)) throw bad('is not a member of an exchange', `$['${name.replace(/[\\']/g, (c) => `\\${c}`)}']`);
  }
  if (body['version'] !== EXCHANGE_VERSION) throw bad(`must be ${EXCHANGE_VERSION}`, "$['version']");
  const captureId = body['captureId'];
  if (typeof captureId !== 'string' || !UUID_V4.test(captureId)) throw bad('must be a version 4 UUID in lower case', "$['captureId']");
  const method = body['method'];
  const path = body['path'];
  if (typeof method !== 'string') throw bad('must be a string', "$['method']");
  if (typeof path !== 'string') throw bad('must be a string', "$['path']");
  const format = routeOf(method, path);
  if (format === null) throw bad('must be a provider route runprint captures (POST /v1/chat/completions, /v1/responses or /v1/messages)', "$['path']");
  const requestBytes = decodedRequest ?? bytesOf(body['request'], "$['request']");
  let requestTooLarge: { size: number; sha256: string } | undefined;
  if (Object.hasOwn(body, 'requestTooLarge')) {
    if (requestBytes.length !== 0) throw bad('must be empty ("") with requestTooLarge: a request has its bytes or its size and digest when too large, not both', "$['request']");
    requestTooLarge = requestTooLargeOf(body['requestTooLarge'], "$['requestTooLarge']");
  }
  const response = body['response'];
  let status: number | null = null;
  let headers: Headers | null = null;
  let responseBytes: Uint8Array = new Uint8Array(0);
  let digested: DigestedBody | undefined;
  let tooLarge: number | undefined;
  if (response !== null) {
    if (!isObject(response)) throw bad('must be an object or null', "$['response']");
    const code = response['status'];
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 100 || code > 599) throw bad('must be an HTTP status from 100 to 599', "$['response']['status']");
    status = code;
    const given = response['headers'];
    if (!isObject(given) || !Object.values(given).every((value) => typeof value === 'string')) throw bad('must be an object of header names and string values', "$['response']['headers']");
    headers = new Headers();
    try {
      for (const [name, value] of Object.entries(given)) headers.append(name, value as string);
    } catch {
      throw bad('holds a header name or value HTTP does not allow', "$['response']['headers']");
    }
    for (const name of Object.keys(response)) {
      if (!['status', 'headers', 'body', 'digested', 'tooLarge'].includes(name)) throw bad('is not a member of an exchange\'s response', `$['response']['${name.replace(/[\\']/g, (c) => `\\${c}`)}']`);
    }
    const forms = ['body', 'digested', 'tooLarge'].filter((name) => Object.hasOwn(response, name));
    if (forms.length > 1) throw bad('a response has its body, its digest or its size when too large: one of them', `$['response']['${forms[1]}']`);
    if (Object.hasOwn(response, 'tooLarge')) {
      tooLarge = tooLargeOf(response['tooLarge'], "$['response']['tooLarge']");
    } else if (Object.hasOwn(response, 'digested')) {
      if (code >= 200 && code <= 299) throw bad('only a response whose status is not 2xx may be sent by its digest: the server reads a 2xx body for the output', "$['response']['digested']");
      digested = digestedOf(response['digested'], "$['response']['digested']");
    } else {
      responseBytes = bytesOf(response['body'], "$['response']['body']");
    }
  }
  const outcome = body['outcome'];
  if (typeof outcome !== 'string' || !(OUTCOMES as readonly string[]).includes(outcome)) throw bad(`must be one of ${OUTCOMES.join(', ')}`, "$['outcome']");
  const times = body['times'];
  if (!isObject(times)) throw bad('must be an object with started, response and ended', "$['times']");
  const started = timeOf(times['started'], "$['times']['started']");
  const responded = times['response'] === null ? null : timeOf(times['response'], "$['times']['response']");
  const ended = timeOf(times['ended'], "$['times']['ended']");
  if (ended < started || (responded !== null && (responded < started || responded > ended))) throw bad('must be in order: started, response, ended', "$['times']");
  if ((responded === null) !== (status === null)) throw bad('a response time goes with a response, and only with one', "$['times']['response']");
  const parents = body['parents'];
  if (!Array.isArray(parents)) throw bad('must be an array of run identities', "$['parents']");
  parents.forEach((parent, i) => {
    if (!isRunId(parent)) throw new RunprintError('ERR_CAPTURE_PARENT_INVALID', 'a parent must be a run identity (rp-run-...)', `$['parents'][${i}]`);
  });
  // The shape every way of declaring retrieval shares (the proxy's runprint-retrieval header too).
  const retrieval = readDeclared(body['retrieval'] ?? [], "$['retrieval']", 'ERR_HTTP_BAD_REQUEST');
  const salts = body['salts'];
  if (salts !== undefined) {
    // Never echoed: a salt is as secret as the content it opens.
    if (!isObject(salts)) throw bad('must be an object of request component name -> salt', "$['salts']");
    for (const [name, salt] of Object.entries(salts)) {
      if (!(REQUEST_COMPONENTS as readonly string[]).includes(name)) throw bad(`must name request components (${REQUEST_COMPONENTS.join(', ')})`, "$['salts']");
      if (!isSaltHex(salt)) throw bad('must be 64 lowercase hex digits (32 random bytes)', `$['salts']['${name}']`);
    }
  }
  const requestHeaders = requestHeadersOf(format, body['requestHeaders'], "$['requestHeaders']");
  return {
    format, method, path, requestBytes, status, headers, responseBytes, ...(digested === undefined ? {} : { digested }), ...(tooLarge === undefined ? {} : { truncated: { size: tooLarge } }), ...(requestTooLarge === undefined ? {} : { requestTooLarge }), outcome: outcome as CaptureOutcome, times: { started, response: responded, ended }, parents: parents as string[], captureId,
    retrieval,
    ...(salts === undefined || Object.keys(salts).length === 0 ? {} : { salts: salts as Salts }),
    ...(requestHeaders === undefined ? {} : { requestHeaders }),
  };
}
