/** A `fetch` that records every provider call it forwards as a run (in-process capture; the proxy shares the core). */
import { captureRunWith, MAX_CAPTURED_REQUEST_BYTES, MAX_CAPTURED_RESPONSE_BYTES, prepareRequest, type CapturedRun, type PreparedRequest } from './capture-run.ts';
import { createSha256, toHex, type Sha256 } from '../hash/sha256.ts';
import { memberHeadersOf, type MemberHeaders } from '../providers/header-members.ts';
import { providerFor } from '../providers/registry.ts';
import { latin1, observeBody, outcomeOfError } from './observe-body.ts';
import { routeOf } from './route.ts';
import type { Salts, ServedFact } from '../identity/composition.ts';
import type { CaptureOutcome, DeclaredDocument, RunRecord } from './run-record.ts';
import { RunprintError } from '../errors.ts';
import { readRetrievalHeader, RETRIEVAL_HEADER } from './declared.ts';
import { typeName, unknownOption, wrongType } from './misuse.ts';
import { isOwnHeader, PARENT_HEADER, readParentHeader } from './own-headers.ts';
import { callLinks, NamedSteps, parentsNow, parentsOf, readStepsHeader, STEPS_HEADER, type Link, type Steps } from './steps.ts';
import { REQUEST_FORMATS } from '../providers/request-format.ts';
import { joinBytes } from '../io/read-limited.ts';

/** The content of a run, by the digests its record names: for a sink that keeps content. */
export interface RunContent {
  requestBytes: Uint8Array;
  responseBytes: Uint8Array;
}

export interface CaptureFetchOptions {
  /** Receives each run, once its response has ended, failed or been abandoned. May return a promise. */
  onRun?: (record: RunRecord, content: RunContent) => void | Promise<void>;
  /**
   * As onRun, with the composition and identity document the record was derived from (what a run
   * store indexes and a receipt signs). Either or both may be given; at least one must be.
   */
  onCapturedRun?: (run: CapturedRun, content: RunContent, started: unknown) => void | Promise<void>;
  /**
   * Called as each call to a captured route starts, in the caller's async context; what it returns is handed
   * to onCapturedRun as `started` (in-process spans keep the caller's trace context this way).
   */
  onStart?: () => unknown;
  /** Receives runprint's own failures (never the application's); default: ignored, but counted. */
  onError?: (error: unknown) => void;
  /**
   * The run identities the next call follows from (e.g. from async context); default none. Not
   * asked for a call with a `runprint-parent` header: the header names its parents, read as the
   * proxy reads it; one that is not run identities is an error for onError
   * (ERR_CAPTURE_PARENT_INVALID), and the call goes on and is recorded with no parents.
   */
  parents?: () => readonly string[];
  /**
   * The steps the next call is one of (e.g. withSteps' from async context, capture-node's
   * currentSteps); default none. A call in steps follows from the calls that ended in them since
   * the last call of them started, in place of `parents`; its own `runprint-steps` header names
   * other steps instead (docs/CAPTURE.md, "Links between runs").
   */
  steps?: () => Steps | undefined;
  /**
   * The documents the next call rests on (declared retrieval, e.g. from async context); default
   * none. A call's `runprint-retrieval` header (read as the proxy reads it) adds its documents
   * after these, one declared both ways once; a header that cannot be read is an error for
   * onError (ERR_CAPTURE_RETRIEVAL_INVALID or _TOO_LARGE) and adds none. A document whose text
   * the request does not hold is an error for onError (ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST). The
   * call goes on whatever the error.
   */
  retrieval?: () => readonly DeclaredDocument[];
  /** Served facts the caller derived itself for the next call (a local model's weights digest): see CapturedExchange.derived. */
  derived?: () => { readonly [name: string]: ServedFact } | undefined;
  /**
   * Salts for the next call's request components (SPEC 2.5, 5.6), asked once per call as it
   * starts: its identity is then the salted one, and the captured run's composition carries them
   * (for the store to keep beside the content). Default none: unsalted.
   */
  salts?: () => Salts | undefined;
  /** Clock, in milliseconds since the Unix epoch. Default Date.now. */
  now?: () => number;
  /**
   * Hold the end of each response (the application's last read of the body, or the response or
   * error of a call without one) until the promises onRun and onCapturedRun return have settled:
   * with a sink that resolves once the run is durable, every answer the application saw has its
   * record (the proxy's sync durability); the chunk with a stream's terminal event is held with the
   * end, as SDKs stop reading there. The run is then built before the application has its
   * last byte. Default false: the run is handed over after it, on a later turn of the event loop.
   */
  holdEnd?: boolean;
  /**
   * Give each recorded call's Response the headers the proxy gives (CAPTURE_ID_HEADER, and
   * REQUEST_ID_HEADER when the request has an identity), so the application can name its run:
   * `runOf(captureId)` then gives the record. The run identity is known only once the body has
   * ended (the body streams through unbuffered), so no run id header. Default false.
   */
  idHeaders?: boolean;
}

/** The capture id of a call, as the proxy's answers name it. */
export const CAPTURE_ID_HEADER = 'runprint-capture-id';
/** The request identity of a call, as the proxy's answers name it. */
export const REQUEST_ID_HEADER = 'runprint-request-id';
/** How many records of finished calls runOf still gives (the most recent). */
const RECENT_RUNS = 1024;
/** Most calls runOf waits for at once; past it, the oldest one's runOf gives null. */
const MAX_IN_FLIGHT = 4096;

/** What a capturing fetch has done so far. */
export interface CaptureCounts {
  /** Runs handed to onRun and onCapturedRun. */
  runs: number;
  /** Of those, runs whose request could not be identified. */
  unidentified: number;
  /** Runprint's own failures (reading the request, building a record, onRun throwing): the call went on. */
  failures: number;
  /**
   * Answers the application dropped with their body neither read to its end nor cancelled, found
   * when the garbage collector took their Response: each is then cancelled for it, and its run
   * recorded as for a cancel (aborted, with the bytes the application was given; an error body
   * read on first), among `runs` once made.
   */
  abandoned: number;
}

export type CapturingFetch = typeof fetch & {
  readonly counts: Readonly<CaptureCounts>;
  /**
   * The record of a call this fetch captured, by its capture id (the Response's
   * `runprint-capture-id` with idHeaders): resolves once the call's response has ended (read to
   * its end, cancelled, failed, or dropped unread and garbage-collected) and its record is made; null for a capture id it does not know
   * (another fetch's, or one of more than 1,024 calls ago) or a call it could not record.
   */
  runOf(captureId: string): Promise<RunRecord | null>;
};

type FetchInput = string | URL | Request;

/**
 * How much of an error body (status not 2xx) is still read on the side when the application
 * discards it unread (SDKs do before a retry), so the record names the body the provider sent.
 */
const ERROR_BODY_DRAIN = 1 << 20;

/** A heldComplete test: true once a marker is followed by the blank line that ends its SSE event. */
export function terminalEventComplete(markers: readonly string[]): (text: string) => boolean {
  return (text) => {
    for (const marker of markers) {
      const at = text.indexOf(marker);
      if (at >= 0 && (text.indexOf('\n\n', at) >= 0 || text.indexOf('\r\n\r\n', at) >= 0)) return true;
    }
    return false;
  };
}

/** A holdFrom test: true for the chunk (with the tail of the one before) that holds one of the markers. */
export function terminalEventIn(markers: readonly string[]): (chunk: Uint8Array, tail: string) => boolean {
  return (chunk, tail) => {
    const text = tail + latin1(chunk);
    return markers.some((marker) => text.includes(marker));
  };
}

/** The method, URL path and origin of a call, as fetch will send it. */
function target(input: FetchInput, init: RequestInit | undefined): { method: string; path: string; origin: string } {
  const request = input instanceof Request ? input : null;
  const method = init?.method ?? request?.method ?? 'GET';
  const url = new URL(request !== null ? request.url : input instanceof URL ? input.href : String(input), 'http://relative.invalid');
  // A relative URL has no path fetch could send in Node; the base only serves the parsing.
  return { method, path: url.pathname, origin: url.origin };
}

/** The providers' own API origins (https://api.openai.com, ...): no runprint-* header is sent there, on any route. */
const PROVIDER_ORIGINS: ReadonlySet<string> = new Set(REQUEST_FORMATS.map((format) => new URL(providerFor(format).upstream.url).origin));

/** A call as fetch was given it, without runprint's own request headers (withoutOwnHeaders). */
interface OwnHeadersOut {
  /** The headers fetch sends (init's when given, else the Request's), runprint's own among them; null for none given. */
  headers: Headers | null;
  /** The call to send: `input` and `init` as given when they hold no runprint-* header. */
  input: FetchInput;
  init: RequestInit | undefined;
}

function hasOwnHeader(headers: Headers): boolean {
  for (const name of headers.keys()) if (isOwnHeader(name)) return true;
  return false;
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/**
 * Name and value pairs as an array of arrays: an iterable (a one-shot one too) read once, here, so
 * that the pairs read are the pairs sent. An array of arrays is returned as it is.
 */
function pairsOf(pairs: Iterable<unknown>): HeadersInit {
  if (Array.isArray(pairs) && pairs.every((pair) => Array.isArray(pair))) return pairs as [string, string][];
  return [...pairs].map((pair) => (isIterable(pair) && !Array.isArray(pair) ? [...pair] : pair)) as [string, string][];
}

/**
 * init.headers without runprint's own, in the form it was given, so fetch sends the rest as it
 * would have (same names, values and order): a Headers is copied and the names deleted; name and
 * value pairs (an array or other iterable) are filtered; an object is copied without those
 * members. `given` has been read by `new Headers` already, so it is well formed.
 */
function keptHeaders(given: HeadersInit): HeadersInit {
  if (given instanceof Headers) {
    const kept = new Headers(given);
    for (const name of [...given.keys()]) if (isOwnHeader(name)) kept.delete(name);
    return kept;
  }
  if (isIterable(given)) return [...given].filter((pair) => !isOwnHeader(String((pair as unknown[])[0]))) as [string, string][];
  const kept: { [name: string | symbol]: unknown } = {};
  // As fetch reads a record: its own enumerable members, in their order.
  for (const name of Reflect.ownKeys(given)) {
    if (!Object.getOwnPropertyDescriptor(given, name)?.enumerable || (typeof name === 'string' && isOwnHeader(name))) continue;
    kept[name] = (given as { [name: string | symbol]: unknown })[name];
  }
  return kept as HeadersInit;
}

/**
 * The call without runprint's own request headers (runprint-parent, runprint-retrieval,
 * runprint-capture-token, any runprint-*), which the proxy never forwards either, and the headers
 * it had. From init.headers when given (fetch sends those, not a Request's): init is copied with
 * them filtered (keptHeaders). Else from a Request: a new Request made from it (the constructor
 * carries over its method, body, signal, headers in order and other members; the referrer is
 * given again), those deleted. A call without such a header is returned as given. Throws what
 * fetch would throw for headers it refuses (the caller then sends the call as given, and fetch
 * throws).
 */
function withoutOwnHeaders(input: FetchInput, init: RequestInit | undefined): OwnHeadersOut {
  if (init?.headers !== undefined) {
    const given = init.headers instanceof Headers ? init.headers : isIterable(init.headers) ? pairsOf(init.headers) : init.headers;
    const headers = new Headers(given);
    if (!hasOwnHeader(headers)) return { headers, input, init: given === init.headers ? init : { ...init, headers: given } };
    return { headers, input, init: { ...init, headers: keptHeaders(given) } };
  }
  if (input instanceof Request) {
    const headers = input.headers;
    if (!hasOwnHeader(headers)) return { headers, input, init };
    // A Request made from a Request copies its header list in order; the referrer is given again,
    // as a Request made with an init would drop it.
    const request = new Request(input, { referrer: input.referrer, referrerPolicy: input.referrerPolicy });
    for (const name of [...request.headers.keys()]) if (isOwnHeader(name)) request.headers.delete(name);
    return { headers, input: request, init };
  }
  return { headers: null, input, init };
}

const encoder = new TextEncoder();

/**
 * The request body bytes of init.body without consuming what fetch will send: the SDKs give a
 * string; a buffer or Blob is copied; URLSearchParams is its UTF-8 form. Anything else (a stream
 * or form, handled by requestBody) gives null.
 */
async function requestBytes(init: RequestInit | undefined): Promise<Uint8Array | null> {
  const body = init !== undefined && 'body' in init ? init.body : undefined;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  if (body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
  if (body instanceof URLSearchParams) return encoder.encode(body.toString());
  return null;
}

/** A request body longer than capture keeps (MAX_CAPTURED_REQUEST_BYTES): its size and hex SHA-256, not its bytes. */
interface TooLargeBody {
  size: number;
  sha256: string;
}

/** A request body that can only be known as fetch sends it: a stream, read on the side. */
interface KeptStream {
  /**
   * The bytes, once the stream has ended, or only their size and SHA-256 for a body longer than
   * MAX_CAPTURED_REQUEST_BYTES; rejects if it fails or is cancelled.
   */
  readonly bytes: Promise<Uint8Array | TooLargeBody>;
  /** True once `bytes` has settled. */
  readonly settled: boolean;
  /** Stops reading (this branch only: fetch's goes on); `bytes` then holds only part of the body, not to be recorded. */
  cancel(): void;
}

/**
 * Reads one branch of a teed request body to its end, chunk by chunk, concurrently with fetch.
 * At most MAX_CAPTURED_REQUEST_BYTES are kept: past them the kept chunks are hashed and dropped,
 * and the rest is hashed as it comes (the branch is still read, or the tee would queue it all for
 * this branch), so a body of any length holds no more memory than that.
 */
function keepStream(stream: ReadableStream<unknown>): KeptStream {
  const reader = stream.getReader();
  let settled = false;
  const bytes = (async (): Promise<Uint8Array | TooLargeBody> => {
    let chunks: Uint8Array[] = [];
    let size = 0;
    let hash: Sha256 | undefined;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // fetch sends only bytes from a stream body (a chunk of another type fails the call too).
        if (!(value instanceof Uint8Array)) throw new TypeError('a request body stream chunk is not a Uint8Array');
        size += value.length;
        if (hash !== undefined) {
          hash.update(value);
        } else if (size > MAX_CAPTURED_REQUEST_BYTES) {
          hash = createSha256();
          for (const chunk of chunks) hash.update(chunk);
          hash.update(value);
          chunks = [];
        } else {
          chunks.push(value.slice());
        }
      }
    } finally {
      settled = true;
    }
    if (hash !== undefined) return { size, sha256: toHex(hash.digest()) };
    return joinBytes(chunks, size);
  })();
  // Not an unhandled rejection: whoever builds the record reads it.
  bytes.catch(() => undefined);
  return {
    bytes,
    get settled() {
      return settled;
    },
    cancel: () => void reader.cancel().catch(() => undefined),
  };
}

/**
 * What a request sends and how to send it: the bytes (or a stream read on the side), and the init
 * fetch is then called with. A stream body is teed: fetch sends one branch, capture reads the
 * other, so the bytes recorded are the bytes sent. A FormData body is encoded here once (as fetch
 * encodes it, with its multipart boundary) and those bytes are sent, with that content type unless
 * the application set one. Null for a body runprint cannot read without consuming it.
 */
async function requestBody(input: FetchInput, init: RequestInit | undefined): Promise<{ bytes: Uint8Array | KeptStream; init: RequestInit | undefined } | null> {
  const body = init !== undefined && 'body' in init ? init.body : undefined;
  if ((body === undefined || body === null) && input instanceof Request) {
    // The Request's own body (fetch sends it when init gives none, null included), read from a
    // clone as fetch sends the Request itself: the clone is the other branch of a tee of its
    // stream, so nothing waits for the body to end, and at most MAX_CAPTURED_REQUEST_BYTES of it
    // are kept (keepStream); fetch still sends a body made from bytes with its length.
    if (input.body === null) return { bytes: new Uint8Array(0), init };
    return { bytes: keepStream(input.clone().body!), init };
  }
  if (init !== undefined && body instanceof ReadableStream) {
    const [sent, kept] = body.tee();
    return { bytes: keepStream(kept), init: { ...init, body: sent } };
  }
  if (init !== undefined && typeof FormData === 'function' && body instanceof FormData) {
    const encoded = new Request('http://form.invalid/', { method: 'POST', body });
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    const headers = new Headers(init.headers);
    const type = encoded.headers.get('content-type');
    if (!headers.has('content-type') && type !== null) headers.set('content-type', type);
    return { bytes, init: { ...init, body: bytes, headers } };
  }
  const bytes = await requestBytes(init);
  return bytes === null ? null : { bytes, init };
}

/** A call's record to come, for runOf: made here, so it holds nothing of the call (no closure over its scope). */
function awaitedRun(): { promise: Promise<RunRecord | null>; resolve: (record: RunRecord | null) => void } {
  let resolve!: (record: RunRecord | null) => void;
  const promise = new Promise<RunRecord | null>((done) => (resolve = done));
  return { promise, resolve };
}

/**
 * True when fetch refuses the call's body before sending anything (TypeError): a stream body
 * that is locked, or, with no body in init, a Request whose body was read or is locked. The
 * application's own error: the call goes to fetch as given, which throws it, and nothing is
 * reported.
 */
function refusedBody(input: FetchInput, init: RequestInit | undefined): boolean {
  const body = init !== undefined && 'body' in init ? init.body : undefined;
  if (body instanceof ReadableStream) return body.locked;
  if ((body === undefined || body === null) && input instanceof Request) return input.bodyUsed || input.body?.locked === true;
  return false;
}

/** The cancel reason of an answer's body the application dropped unread (garbage-collected). */
class AbandonedBody extends Error {
  override name = 'AbandonedError';
  constructor() {
    super('the application dropped the answer with its body neither read to its end nor cancelled');
  }
}

/**
 * The body handed to the application: a byte stream, as fetch's own (a BYOB reader works), over
 * the reader of the observed body, which it reads one chunk per read. Registered with `dropped`
 * until it ends: when the application drops it unread, the observed body is cancelled for it
 * (AbandonedBody), so fetch's body behind it is released and the call recorded. What `dropped`
 * holds (the reader) does not hold this stream.
 */
function byteBody(observed: ReadableStream<Uint8Array>, dropped: FinalizationRegistry<ReadableStreamDefaultReader<Uint8Array>>): ReadableStream<Uint8Array> {
  const reader = observed.getReader();
  const source: UnderlyingByteSource = {
    type: 'bytes',
    async pull(controller) {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          dropped.unregister(reader);
          throw error;
        }
        if (result.done) {
          dropped.unregister(reader);
          controller.close();
          // A BYOB read waiting for bytes is answered: none, the end.
          controller.byobRequest?.respond(0);
          return;
        }
        // A byte stream takes no empty chunk.
        if (result.value.byteLength === 0) continue;
        try {
          // The chunk's buffer is transferred: the application owns it, as it owns fetch's.
          controller.enqueue(result.value as Uint8Array<ArrayBuffer>);
        } catch {
          // A buffer that cannot be transferred (a pooled Node Buffer's): a copy.
          controller.enqueue(result.value.slice() as Uint8Array<ArrayBuffer>);
        }
        return;
      }
    },
    cancel(reason) {
      dropped.unregister(reader);
      return reader.cancel(reason);
    },
  };
  const body = new ReadableStream(source, { highWaterMark: 0 }) as ReadableStream<Uint8Array>;
  dropped.register(body, reader, reader);
  return body;
}

/** What a Response made here cannot say by itself, as fetch's Response says it. */
interface ResponseOrigin {
  readonly url: string;
  readonly redirected: boolean;
  readonly type: ResponseType;
}

/**
 * `made` with the url, redirected flag and type of fetch's answer (SDKs read `url` in errors and
 * logs), and a clone() whose clones have them too (Response's own makes a plain one).
 */
function withOrigin(made: Response, origin: ResponseOrigin): Response {
  Object.defineProperties(made, {
    url: { value: origin.url },
    redirected: { value: origin.redirected },
    type: { value: origin.type },
    clone: { value: (): Response => withOrigin(Response.prototype.clone.call(made), origin) },
  });
  return made;
}

/** The failure of a request body capture could not read: the call goes on, unrecorded. */
function unreadableBody(message: string): RunprintError {
  return new RunprintError('ERR_CAPTURE_REQUEST_UNREADABLE', message);
}

/** The names of captureFetch's options: any other is refused (a typo would silently do nothing). */
const OPTION_NAMES = ['onRun', 'onCapturedRun', 'onStart', 'onError', 'parents', 'steps', 'retrieval', 'derived', 'salts', 'now', 'holdEnd', 'idHeaders'] as const satisfies ReadonlyArray<keyof CaptureFetchOptions>;
// Every option of CaptureFetchOptions is in OPTION_NAMES (a compile error otherwise).
const EVERY_OPTION: Exclude<keyof CaptureFetchOptions, (typeof OPTION_NAMES)[number]> extends never ? true : never = true;
void EVERY_OPTION;
/** The options that are functions, and the booleans. */
const FUNCTION_OPTIONS = ['onRun', 'onCapturedRun', 'onStart', 'onError', 'parents', 'steps', 'retrieval', 'derived', 'salts', 'now'] as const;
const BOOLEAN_OPTIONS = ['holdEnd', 'idHeaders'] as const;

/**
 * captureFetch's arguments, as runprintFetch checks its own: a TypeError with `code`
 * ERR_INVALID_ARG_TYPE for a value of the wrong type, ERR_INVALID_ARG_VALUE for an option name it
 * does not have (misuse.ts).
 */
function checkOptions(fetchImpl: unknown, options: unknown): asserts options is CaptureFetchOptions {
  if (typeof fetchImpl !== 'function') throw wrongType(`captureFetch: fetchImpl must be a function (the fetch the calls go through, such as globalThis.fetch), not ${typeName(fetchImpl)}`);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw wrongType(`captureFetch: options must be an object, such as { onRun(record) {} }, not ${typeName(options)}`);
  const unknown = unknownOption(options, OPTION_NAMES, 'captureFetch');
  if (unknown !== undefined) throw unknown;
  const given = options as { readonly [name: string]: unknown };
  for (const name of FUNCTION_OPTIONS) {
    if (given[name] !== undefined && typeof given[name] !== 'function') throw wrongType(`options.${name} must be a function, not ${typeName(given[name])}`);
  }
  for (const name of BOOLEAN_OPTIONS) {
    if (given[name] !== undefined && typeof given[name] !== 'boolean') throw wrongType(`options.${name} must be true or false, not ${typeName(given[name])}`);
  }
  if (given['onRun'] === undefined && given['onCapturedRun'] === undefined) throw wrongType('options.onRun must be a function (or give options.onCapturedRun)');
}

/**
 * Wraps `fetchImpl` so that every call to a provider route (see routeOf) is recorded, and
 * everything else passes straight through. The call is forwarded untouched (same URL, headers,
 * body, signal; a stream body is teed and one branch sent, a FormData body is sent as the bytes
 * fetch would encode it to, with their content type, see requestBody), but for runprint's own
 * `runprint-*` request headers, which the proxy does not forward either: `runprint-parent` names
 * the call's parents and `runprint-retrieval` declares documents (read as the proxy reads them),
 * and none of them, `runprint-capture-token` included, is sent (withoutOwnHeaders). A call to a
 * provider's own API origin that is not recorded (`GET /v1/models`) is sent without them too;
 * calls to other hosts pass through as given. The application gets a Response whose body
 * streams through unchanged, chunk by chunk, while a copy is kept on the side; when the body
 * ends, is cancelled or fails, the record goes to `options.onRun` (and the record with its composition and identity document to
 * `options.onCapturedRun`) with the bytes. A call that fails before any response (refused,
 * aborted, timed out) is recorded too and its error reaches the application as it was.
 * Fail-open: runprint's own failures go to `options.onError` and `counts.failures`, never to the
 * application.
 */
export function captureFetch(fetchImpl: typeof fetch, options: CaptureFetchOptions): CapturingFetch {
  checkOptions(fetchImpl, options);
  const onRun = options.onRun;
  const onCapturedRun = options.onCapturedRun;
  const now = options.now ?? Date.now;
  const counts: CaptureCounts = { runs: 0, unidentified: 0, failures: 0, abandoned: 0 };
  const fail = (error: unknown) => {
    counts.failures++;
    try {
      options.onError?.(error);
    } catch {
      // Reporting must not fail the call either.
    }
  };

  /** Hands the run to one sink; a promise it returns is settled (never rejects) in what this returns. */
  const hand = (sink: () => void | Promise<void>): Promise<void> | undefined => {
    try {
      const pending = sink();
      if (pending !== undefined && typeof (pending as Promise<void>).then === 'function') return (pending as Promise<void>).then(undefined, fail);
    } catch (error) {
      fail(error);
    }
    return undefined;
  };
  const holdEnd = options.holdEnd === true;
  const idHeaders = options.idHeaders === true;
  // runOf: calls in flight (their record to come), and the records of the most recent ones.
  const inFlight = new Map<string, { promise: Promise<RunRecord | null>; resolve: (record: RunRecord | null) => void }>();
  const recent = new Map<string, RunRecord>();
  const finish = (captureId: string, record: RunRecord | null) => {
    const waiting = inFlight.get(captureId);
    inFlight.delete(captureId);
    if (record !== null) {
      recent.set(captureId, record);
      if (recent.size > RECENT_RUNS) recent.delete(recent.keys().next().value!);
    }
    waiting?.resolve(record);
  };
  // Answers' bodies the application dropped unread: cancelled for it once collected (byteBody).
  const dropped = new FinalizationRegistry<ReadableStreamDefaultReader<Uint8Array>>((reader) => {
    counts.abandoned++;
    void reader.cancel(new AbandonedBody()).catch(() => undefined);
  });
  const runOf = (captureId: string): Promise<RunRecord | null> => {
    if (typeof captureId !== 'string') return Promise.resolve(null);
    return Promise.resolve(recent.get(captureId) ?? inFlight.get(captureId)?.promise ?? null);
  };

  // Agents' steps by their runprint-steps name, for this fetch.
  const namedSteps = new NamedSteps();
  /**
   * A call's parents, as links: those its runprint-parent header names, read as the proxy reads
   * it, when it has one (an explicit header wins); else, in steps, the calls that ended in them
   * since their last call started; else options.parents'. A header that is not run identities is
   * reported (ERR_CAPTURE_PARENT_INVALID) and the call has no parents: it goes on, the header not
   * sent, and the record names none rather than the parents the header was there to replace. Its
   * steps: those its runprint-steps header names (read as the proxy reads it), else
   * options.steps'. Every call in steps takes what ended in them, whatever gives its parents. A
   * steps header that cannot be read is reported (ERR_CAPTURE_STEPS_INVALID): the call has no
   * parents and no steps, and its parent header is still read, so that an error of its own is
   * reported and counted too.
   */
  const linksOf = (parentHeader: string | null, stepsHeader: string | null): { links: readonly Link[]; steps: Steps | null } => {
    const named = (header: string) => () => {
      try {
        return readParentHeader(header);
      } catch (error) {
        fail(error);
        return [];
      }
    };
    let name: string | null;
    try {
      name = readStepsHeader(stepsHeader);
    } catch (error) {
      fail(error);
      if (parentHeader !== null) named(parentHeader)();
      return { links: [], steps: null };
    }
    const steps = name === null ? (options.steps?.() ?? null) : namedSteps.get(name);
    return { links: callLinks(steps, parentHeader === null ? null : named(parentHeader), () => options.parents?.() ?? []), steps };
  };
  /**
   * A call's declared documents: options.retrieval's (the async context's), then those its
   * runprint-retrieval header declares (read as the proxy reads it, up to MAX_RETRIEVAL_HEADER_BYTES)
   * that are not among them. A header that cannot be read is reported (the proxy's
   * ERR_CAPTURE_RETRIEVAL_INVALID or _TOO_LARGE) and adds none; the call goes on.
   */
  const retrievalOf = (header: string | null): readonly DeclaredDocument[] => {
    const declared = options.retrieval?.() ?? [];
    if (header === null) return declared;
    let documents: DeclaredDocument[];
    try {
      documents = readRetrievalHeader(header);
    } catch (error) {
      fail(error);
      return declared;
    }
    const added = documents.filter((document) => !declared.some((other) => other.source === document.source && other.text === document.text));
    return added.length === 0 ? declared : [...declared, ...added];
  };

  const capturing = async (input: FetchInput, init?: RequestInit): Promise<Response> => {
    let prepared: { method: string; path: string; format: NonNullable<ReturnType<typeof routeOf>>; bytes: Uint8Array | KeptStream; init: RequestInit | undefined; links: readonly Link[]; steps: Steps | null; retrieval: readonly DeclaredDocument[]; derived: { readonly [name: string]: ServedFact } | undefined; salts: Salts | undefined; headers: MemberHeaders | undefined; started: unknown } | null = null;
    // The call as sent: without runprint's own headers on a captured route or to a provider's own
    // API (as the proxy forwards none); any other call as given.
    let sendInput = input;
    let sendInit = init;
    try {
      const { method, path, origin } = target(input, init);
      const format = routeOf(method, path);
      if (format === null && PROVIDER_ORIGINS.has(origin)) {
        try {
          ({ input: sendInput, init: sendInit } = withoutOwnHeaders(input, init));
        } catch {
          // Headers fetch refuses: the call goes as given, and fetch throws its own error (the
          // application's, not runprint's, on a call capture does not record).
        }
      } else if (format !== null) {
        // Before anything else reads the body (a new Request made without runprint's headers
        // takes it): fetch's own error for a body it refuses.
        if (refusedBody(input, init)) return fetchImpl(input, init);
        let out: OwnHeadersOut;
        try {
          out = withoutOwnHeaders(input, init);
        } catch {
          // Headers fetch refuses (a name with a space, a value with a line break): fetch throws
          // its own TypeError before sending anything, the application's error, not runprint's;
          // no request, no run.
          return fetchImpl(input, init);
        }
        sendInput = out.input;
        sendInit = out.init;
        // The headers fetch sends, runprint's own among them: init's when given, else the Request's.
        const own = out.headers;
        const { links, steps } = linksOf(own?.get(PARENT_HEADER) ?? null, own?.get(STEPS_HEADER) ?? null);
        const retrieval = retrievalOf(own?.get(RETRIEVAL_HEADER) ?? null);
        // SPEC 4.8 reads request members from some headers (none of them runprint's).
        const headers = own === null ? undefined : memberHeadersOf(format, (name) => own.get(name));
        const context = { links, steps, retrieval, derived: options.derived?.(), salts: options.salts?.(), headers, started: options.onStart?.() };
        // Last: once a stream body is teed, only the teed branch can be sent.
        const body = await requestBody(sendInput, sendInit);
        if (body === null) fail(unreadableBody('the request body is of a kind runprint cannot read without consuming it (not a string, buffer, Blob, URLSearchParams, FormData or ReadableStream): the call went on, not recorded'));
        else prepared = { method, path, format, bytes: body.bytes, init: body.init, ...context };
      }
    } catch (error) {
      fail(error);
    }
    if (prepared === null) return fetchImpl(sendInput, sendInit);
    const call = prepared;
    const sent = call.init;
    const started = now();
    const captureId = globalThis.crypto.randomUUID();
    // Made outside this scope: a closure made here would hold the call's whole scope (its
    // Response and body among it) for as long as the entry waits, an unread body too.
    inFlight.set(captureId, awaitedRun());
    // A response the application holds unread is not recorded while it holds it: its entry goes in
    // time (one it drops is recorded once collected, byteBody).
    if (inFlight.size > MAX_IN_FLIGHT) finish(inFlight.keys().next().value!, null);
    // The request half, when idHeaders made it for the answer's header (not made twice).
    let request: PreparedRequest | undefined;

    // Built on a later turn of the event loop: the application has its last byte (or its error)
    // before runprint hashes anything. With holdEnd, built at once, and the end waits for the sinks.
    // In steps: the next call of them follows from this one once its answer has ended (its run
    // identity given when its record is made, a turn later without holdEnd).
    let stepEnded: ((runId: string | null) => void) | undefined;
    const record = (status: number | null, headers: Headers | null, responseBytes: Uint8Array, outcome: CaptureOutcome, response: number | null, ended: number, truncated?: number): Promise<void> | undefined => {
      stepEnded = call.steps?.ending(call.links);
      if (holdEnd) return build(status, headers, responseBytes, outcome, response, ended, truncated);
      setTimeout(() => void build(status, headers, responseBytes, outcome, response, ended, truncated), 0);
      return undefined;
    };
    const build = (status: number | null, headers: Headers | null, responseBytes: Uint8Array, outcome: CaptureOutcome, response: number | null, ended: number, truncated?: number): Promise<void> | undefined => {
      const kept = call.bytes;
      if (kept instanceof Uint8Array) return buildWith(kept, status, headers, responseBytes, outcome, response, ended, truncated);
      // A stream body: its bytes, once fetch has sent them all. The stream ends before the call
      // does (fetch has sent it); one that has not after one more turn (a call that failed or was
      // answered before the body was sent) is not waited for: the call is left unrecorded.
      const wait = kept.settled ? Promise.resolve() : new Promise<void>((done) => setTimeout(done, 0));
      return wait.then(async () => {
        if (!kept.settled) {
          kept.cancel();
          throw unreadableBody('the request body stream had not ended when the call did: the call went on, not recorded');
        }
        const bytes = await kept.bytes.catch(() => {
          throw unreadableBody('the request body stream failed: the call went on, not recorded');
        });
        // Longer than capture keeps: recorded unidentified, by its size and SHA-256.
        if (!(bytes instanceof Uint8Array)) return buildWith(new Uint8Array(0), status, headers, responseBytes, outcome, response, ended, truncated, bytes);
        return buildWith(bytes, status, headers, responseBytes, outcome, response, ended, truncated);
      }).then(undefined, (error: unknown) => {
        stepEnded?.(null);
        finish(captureId, null);
        fail(error);
      });
    };
    const buildWith = (requestBytes: Uint8Array, status: number | null, headers: Headers | null, responseBytes: Uint8Array, outcome: CaptureOutcome, response: number | null, ended: number, truncated?: number, requestTooLarge?: TooLargeBody): Promise<void> | undefined => {
      // A step's parents include calls whose records are still to come (async durability): made
      // after theirs, which come first in time.
      const parents = parentsNow(call.links);
      if (parents === undefined) return parentsOf(call.links).then(() => buildWith(requestBytes, status, headers, responseBytes, outcome, response, ended, truncated, requestTooLarge));
      try {
        const captured = captureRunWith({
          format: call.format, method: call.method, path: call.path, requestBytes, captureId,
          status, headers, responseBytes, outcome, times: { started, response, ended }, parents, retrieval: call.retrieval,
          ...(truncated === undefined ? {} : { truncated: { size: truncated } }),
          ...(requestTooLarge === undefined ? {} : { requestTooLarge }),
          ...(call.derived === undefined ? {} : { derived: call.derived }),
          ...(call.salts === undefined ? {} : { salts: call.salts }),
          ...(call.headers === undefined ? {} : { requestHeaders: call.headers }),
        }, request);
        // Its steps' next call follows from this run (before the sinks: with holdEnd, before the
        // application has the answer's end).
        stepEnded?.(captured.record.runId);
        finish(captureId, captured.record);
        if (captured.retrievalError !== null) fail(captured.retrievalError);
        counts.runs++;
        if (captured.record.unidentified !== null) counts.unidentified++;
        const content = { requestBytes, responseBytes };
        // Each sink on its own: one that throws does not keep the run from the other.
        const first = onRun === undefined ? undefined : hand(() => onRun(captured.record, content));
        const second = onCapturedRun === undefined ? undefined : hand(() => onCapturedRun(captured, content, call.started));
        if (first === undefined && second === undefined) return undefined;
        return Promise.all([first, second]).then(() => undefined);
      } catch (error) {
        stepEnded?.(null);
        finish(captureId, null);
        fail(error);
        return undefined;
      }
    };

    // The call's signal, as fetch takes it (init's, else the Request's): an abort is the caller's
    // whatever reason it carries.
    const signal = sent?.signal ?? (input instanceof Request ? input.signal : null);
    let response: Response;
    try {
      response = await fetchImpl(sendInput, sent);
    } catch (error) {
      const held = record(null, null, new Uint8Array(0), outcomeOfError(error, signal), null, now());
      if (held !== undefined) await held;
      throw error;
    }
    const responded = now();
    if (response.status < 200 || response.status > 599) {
      // A status no Response can be made with (Node's fetch takes any three digits: 600 to 999):
      // the answer goes to the application untouched (no id headers: they need a Response made
      // here), and the call is recorded as the proxy records it, whose upstream fetch takes no
      // such answer (502 'the openai upstream answered an invalid HTTP status (999)'): no answer,
      // outcome network-error. Decided before anything reads its body.
      const held = record(null, null, new Uint8Array(0), 'network-error', null, responded);
      if (held !== undefined) await held;
      return response;
    }
    // The ids the answer names (idHeaders): the capture id, and the request identity when the
    // request has one (its bytes known: a stream body sent whole by now).
    const ids = new Headers();
    if (idHeaders) {
      ids.set(CAPTURE_ID_HEADER, captureId);
      try {
        const bytes = call.bytes instanceof Uint8Array ? call.bytes : call.bytes.settled ? await call.bytes.bytes.catch(() => undefined) : undefined;
        // A body longer than capture keeps has no identity (no header).
        if (bytes instanceof Uint8Array) request = prepareRequest(call.format, bytes, call.salts, call.headers);
        if (request?.identity != null) ids.set(REQUEST_ID_HEADER, request.identity.requestId);
      } catch (error) {
        request = undefined;
        fail(error);
      }
    }
    /** The answer with the ids added: a Response around the same body (fetch's headers cannot be changed). */
    const answer = (body: ReadableStream<Uint8Array> | null): Response => {
      const headers = new Headers(response.headers);
      for (const [name, value] of ids) headers.set(name, value);
      return withOrigin(new Response(body, { status: response.status, statusText: response.statusText, headers }), response);
    };
    if (response.body === null) {
      const held = record(response.status, response.headers, new Uint8Array(0), 'complete', responded, responded);
      if (held !== undefined) await held;
      if (!idHeaders) return response;
      try {
        return answer(null);
      } catch (error) {
        fail(error);
        return response;
      }
    }
    let wrapped: Response;
    try {
      const body = observeBody(response.body, {
        now,
        signal,
        drainOnCancel: response.ok ? 0 : ERROR_BODY_DRAIN,
        // A stream the SDK stops reading after its terminal or error event (they throw at an error
        // event) ended there, as the proxy, which reads on, records it: not an abort.
        ...((response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream') ? { endedBy: terminalEventComplete(providerFor(call.format).streamEndMarkers) } : {}),
        onEnd: (observed) => record(response.status, response.headers, observed.bytes, observed.outcome, responded, observed.ended, observed.truncated ? observed.size : undefined),
        maxKeptBytes: MAX_CAPTURED_RESPONSE_BYTES,
        holdEnd,
        // With holdEnd, the chunk with a stream's terminal event waits for the sinks too: SDKs stop
        // reading at that event, so without it they would have the answer before its record.
        ...(holdEnd ? { holdFrom: terminalEventIn(providerFor(call.format).streamEndMarkers), heldComplete: terminalEventComplete(providerFor(call.format).streamEndMarkers) } : {}),
      });
      wrapped = answer(byteBody(body, dropped));
    } catch (error) {
      finish(captureId, null);
      fail(error);
      return response;
    }
    return wrapped;
  };
  return Object.assign(capturing as typeof fetch, { counts: counts as Readonly<CaptureCounts>, runOf });
}
