/**
 * The capture proxy (issue: live capture, section 2): provider API calls forwarded to their
 * upstream, the calls that are runs recorded on the way through the same capture core as the
 * in-process fetch wrapper (capture/capture-run.ts), so both give the same identities for the same
 * bytes. Streams pass through chunk by chunk; upstream status, headers and bodies reach the client
 * as sent (content coding removed). docs/CAPTURE.md says what a client sees.
 */
import { captureRunWith, locate, MAX_CAPTURED_RESPONSE_BYTES, prepareRequest, type CapturedRun, type Located, type PreparedRequest } from '../capture/capture-run.ts';
import { MAX_RETRIEVAL_HEADER_BYTES, readRetrievalHeader, RETRIEVAL_ERROR_HEADER, RETRIEVAL_HEADER } from '../capture/declared.ts';
import { isOwnHeader, PARENT_HEADER, readParentHeader } from '../capture/own-headers.ts';
import { callLinks, NamedSteps, parentsNow, readStepsHeader, SharedSteps, STEPS_HEADER, type CallSteps, type Link, type StepsStore } from '../capture/steps.ts';
import { terminalEventComplete, terminalEventIn } from '../capture/capture-fetch.ts';
import { observeBody, outcomeOfCancel, outcomeOfError } from '../capture/observe-body.ts';
import { nextTurn } from '../io/steps.ts';
import { isReceiptable } from '../capture/run-receipt.ts';
import type { CaptureOutcome, DeclaredDocument } from '../capture/run-record.ts';
import { RunprintError } from '../errors.ts';
import type { Salts, ServedFact } from '../identity/composition.ts';
import { routeOf } from '../capture/route.ts';
import { memberHeadersOf, type MemberHeaders } from '../providers/header-members.ts';
import { providerFor } from '../providers/registry.ts';
import { REQUEST_FORMATS, type RequestFormat } from '../providers/request-format.ts';
import { sameToken } from './bearer.ts';
import { errorResponse } from './http-status.ts';
import { readBody } from './read-body.ts';
import { readLimited } from '../io/read-limited.ts';
import { durationOf, UpstreamSilent } from '../io/upstream-silent.ts';

/** Where a captured run goes: the run recorder (store/run-recorder.ts) on the Node side. */
export interface CaptureSink {
  /** False while runprint cannot record (the last commit failed). */
  readonly healthy: boolean;
  /** Resolves when the run's record is durable. */
  record(run: CapturedRun, bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array }, capture: 'proxy'): Promise<void>;
}

export interface ProxyOptions {
  /** Upstream name (`openai`, `anthropic`) -> base URL the request path is appended to; defaults are the providers' public URLs. */
  upstreams?: { [name: string]: string };
  sink: CaptureSink;
  /** `sync` (default): a response's last byte leaves only once its record is durable. `async`: at once. */
  durability?: 'sync' | 'async';
  /**
   * Where the steps `runprint-steps` names are kept (serve on a PostgreSQL run store: the store,
   * shared by every serve on it). Default: in this process.
   */
  steps?: StepsStore;
  /**
   * Refuse calls with 503 ERR_CAPTURE_UNAVAILABLE, before forwarding, while the sink is not
   * healthy; and a call whose `runprint-retrieval` declaration cannot be recorded as sent (400
   * ERR_CAPTURE_RETRIEVAL_INVALID or ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST, 431
   * ERR_CAPTURE_RETRIEVAL_TOO_LARGE). Fail-open (default) forwards such a call untouched. In
   * sync durability, an answer whose record the sink could not commit is not released: 503
   * ERR_CAPTURE_UNAVAILABLE instead, or a stream cut before its end.
   */
  failClosed?: boolean;
  /** When set, every proxied call must carry `runprint-capture-token: TOKEN`. */
  token?: string;
  /** Largest request body forwarded, in bytes. */
  maxBodyBytes: number;
  /** Most bytes of `runprint-retrieval` header values a call may carry (default MAX_RETRIEVAL_HEADER_BYTES). */
  maxRetrievalBytes?: number;
  /** Largest response body whose bytes are kept (default MAX_CAPTURED_RESPONSE_BYTES); a longer one passes through, recorded `too-large`. */
  maxCapturedBytes?: number;
  /** Whether receipts are signed (the answer then names the receipt's URL). */
  receipts: boolean;
  /** Runprint's own failures while recording (the call went on: fail-open). */
  onFailure?: (error: unknown) => void;
  /**
   * Told of each call the proxy answers 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE (the upstream named
   * gave no usable answer: not reached, or what it answered is no HTTP answer) or 504
   * ERR_CAPTURE_UPSTREAM_TIMEOUT (it sent nothing for the idle limit before the answer's first
   * byte), with that error; not of a call whose client went away first, nor of the upstream's own
   * answers (a 5xx it sent passes through as sent). serve counts them for /healthz and stderr.
   */
  onUpstreamFailure?: (upstream: string, error: RunprintError) => void;
  /**
   * Called with each run once its record is built (before it is durable), with where it went and
   * the client's `traceparent` header: the OpenTelemetry span exporter (otlp.ts) listens here.
   */
  onRun?: (run: CapturedRun, context: RunContext) => void;
  /**
   * Served facts derived once for every run through an upstream, by upstream name: a local
   * model's `weights` (serve --upstream-weights), added as CapturedExchange.derived says.
   */
  derived?: { readonly [upstream: string]: { readonly [name: string]: ServedFact } };
  /**
   * Salts for each recorded call's request components, asked once per call before it is
   * forwarded (serve --capture-salt: fresh random ones, createSalts): the identities named in the
   * answer's headers, the record and the receipt are then salted (SPEC 5.6). Default none.
   */
  salts?: () => Salts | undefined;
  /**
   * Computes what prepareRequest gives for a call's body, while the call is forwarded (serve's
   * prepare pool, prepare-pool.ts: worker threads). Default: prepareRequest on this thread,
   * before forwarding. Must settle as prepareRequest would: resolve with its answer, or reject
   * where it throws.
   */
  prepare?: (format: RequestFormat, bytes: Uint8Array, salts?: Salts, headers?: MemberHeaders) => Promise<PreparedRequest>;
  /**
   * With `prepare`: the fewest bytes of a call's body (as decoded) that `prepare` takes; a call
   * with a shorter body is prepared on this thread, as without `prepare` (serve's default below 4
   * cores gives its prepare pool large requests only). Default 0: every call.
   */
  prepareFrom?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * The JSON a content-coded request body carries (RFC 9110 section 8.4: gzip, deflate, or a list
 * of them, applied in order), decoded at most to `max` bytes; identity is as sent. A coding
 * runprint does not decode, or a body that does not decode or decodes longer, is the error the
 * run is recorded unidentified with.
 */
async function decodedBody(bytes: Uint8Array, header: string, max: number): Promise<Uint8Array | RunprintError> {
  const codings = header.split(',').map((each) => each.trim().toLowerCase()).filter((each) => each !== '' && each !== 'identity');
  let body = bytes;
  for (const coding of codings.reverse()) {
    const format = coding === 'gzip' || coding === 'x-gzip' ? 'gzip' : coding === 'deflate' ? 'deflate' : undefined;
    if (format === undefined) return new RunprintError('ERR_CAPTURE_REQUEST_ENCODING', `the request body's content coding ${JSON.stringify(coding.slice(0, 32))} is not one runprint decodes (gzip, deflate): the call was forwarded as sent and recorded unidentified`);
    let tooLarge: RunprintError | undefined;
    try {
      const decoded = new Blob([body as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream(format));
      body = await readLimited(decoded, max, () => (tooLarge = new RunprintError('ERR_CAPTURE_REQUEST_ENCODING', `the request body decodes to more than ${max} bytes: the call was forwarded as sent and recorded unidentified`)));
    } catch (error) {
      return error === tooLarge && tooLarge !== undefined ? tooLarge : new RunprintError('ERR_CAPTURE_REQUEST_ENCODING', `the request body is not valid ${format} data: the call was forwarded as sent and recorded unidentified`);
    }
  }
  return body;
}

/** `response` with runprint's headers added (its own are kept). */
function withIds(response: Response, ids: Headers): Response {
  ids.forEach((value, name) => response.headers.set(name, value));
  return response;
}

/** Request headers a proxy never forwards (RFC 9110 section 7.6.1, hop-by-hop), and runprint's own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'expect']);
/** Response headers not passed back: hop-by-hop, and the coding and length of bytes fetch has decoded. */
const NOT_RETURNED = new Set([...HOP_BY_HOP, 'content-encoding']);

/** What the proxy knows of a run beside its record. */
export interface RunContext {
  /** The upstream's name and the URL the call went to. */
  upstream: string;
  url: string;
  /** The client's W3C `traceparent` header, or null. */
  traceparent: string | null;
  /** True when the answer was an event stream. */
  stream: boolean;
  /** The receipt's path when the run gets one, else null. */
  receipt: string | null;
}

export const CAPTURE_TOKEN_HEADER = 'runprint-capture-token';
export { PARENT_HEADER } from '../capture/own-headers.ts';
export { RETRIEVAL_ERROR_HEADER, RETRIEVAL_HEADER } from '../capture/declared.ts';

/** A call's declared retrieval (`runprint-retrieval`): the documents, or why the header could not be read. */
interface Declaration {
  documents: DeclaredDocument[];
  /** ERR_CAPTURE_RETRIEVAL_INVALID or _TOO_LARGE (fail-open only: fail-closed refuses the call). */
  error: RunprintError | null;
}

interface Target {
  upstream: string;
  /** The path to append to the upstream URL (starts with /v1/). */
  path: string;
  /** The format, when the call is a run. */
  format: RequestFormat | null;
}

function upstreamsOf(given: { [name: string]: string } | undefined): Map<string, string> {
  const upstreams = new Map<string, string>();
  for (const format of REQUEST_FORMATS) {
    const { name, url } = providerFor(format).upstream;
    upstreams.set(name, (given?.[name] ?? url).replace(/\/+$/, ''));
  }
  for (const name of Object.keys(given ?? {})) {
    if (!upstreams.has(name)) throw new TypeError(`no provider API is served by an upstream named ${name}`);
  }
  return upstreams;
}

/** The formats each upstream serves, by route. */
function routesOf(): Map<string, { upstream: string; format: RequestFormat }> {
  const routes = new Map<string, { upstream: string; format: RequestFormat }>();
  for (const format of REQUEST_FORMATS) {
    const provider = providerFor(format);
    for (const route of provider.routes) routes.set(`${route.method} ${route.path}`, { upstream: provider.upstream.name, format });
  }
  return routes;
}

/** The parents a `runprint-parent` header names: run identities separated by commas (read as in-process capture reads it). */
function parentsOf(request: Request): string[] {
  return readParentHeader(request.headers.get(PARENT_HEADER));
}

/** The steps a `runprint-steps` header names (null: none), remembered by name by this proxy or in its store. */
function stepsOf(request: Request, named: { get(name: string): CallSteps }): CallSteps | null {
  const name = readStepsHeader(request.headers.get(STEPS_HEADER));
  return name === null ? null : named.get(name);
}

function forwardedHeaders(request: Request): Headers {
  const headers = new Headers();
  const named = new Set((request.headers.get('connection') ?? '').split(',').map((item) => item.trim().toLowerCase()));
  request.headers.forEach((value, name) => {
    // accept-encoding is fetch's to choose: it decodes what it asked for, and capture needs the decoded bytes.
    if (HOP_BY_HOP.has(name) || named.has(name) || isOwnHeader(name) || name === 'accept-encoding') return;
    headers.append(name, value);
  });
  return headers;
}

function returnedHeaders(response: Response): Headers {
  const headers = new Headers();
  response.headers.forEach((value, name) => {
    if (!NOT_RETURNED.has(name)) headers.append(name, value);
  });
  // Headers.forEach joins Set-Cookie values; they are kept one by one.
  headers.delete('set-cookie');
  for (const cookie of response.headers.getSetCookie()) headers.append('set-cookie', cookie);
  return headers;
}

/**
 * `body`, one read of it per read (nothing read ahead), erred with `unrecorded()` instead of
 * passing on a chunk or the end once it is set (fail-closed: the call's record could not be
 * committed; with sync durability the chunk with the terminal event and the end are held until
 * it is known).
 */
function cutIfUnrecorded(body: ReadableStream<Uint8Array>, unrecorded: () => RunprintError | undefined): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        const error = unrecorded();
        if (error !== undefined) {
          controller.error(error);
          return void reader.cancel(error).catch(() => undefined);
        }
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Reads a whole body, up to `limit` bytes: what arrived and the outcome (on a read failure), or,
 * when the body is longer, the chunks read so far and the reader to go on with.
 */
async function readAll(body: ReadableStream<Uint8Array> | null, limit: number): Promise<{ bytes: Uint8Array; outcome: CaptureOutcome; error: unknown } | { head: Uint8Array[]; size: number; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  if (body === null) return { bytes: new Uint8Array(0), outcome: 'complete', error: undefined };
  const chunks: Uint8Array[] = [];
  let size = 0;
  let outcome: CaptureOutcome = 'complete';
  let failure: unknown;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
      if (size > limit) return { head: chunks, size, reader };
    }
  } catch (error) {
    outcome = outcomeOfError(error);
    failure = error;
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes, outcome, error: failure };
}

/**
 * The 502 of a call the upstream gave no usable answer to; the reason serve's upstream fetch gives
 * (after "fetch failed: ") is added where it says more than that the connection failed.
 */
function unreachable(upstream: string, error: unknown): RunprintError {
  const reason = error instanceof TypeError && error.message.startsWith('fetch failed: ') ? error.message.slice('fetch failed: '.length) : undefined;
  // An upstream that answered what no HTTP answer may hold was reached: say what it answered.
  if (reason?.startsWith('the upstream ') === true) return new RunprintError('ERR_CAPTURE_UPSTREAM_UNREACHABLE', `the ${upstream} upstream ${reason.slice('the upstream '.length)}`);
  if (reason?.startsWith("the upstream's ") === true) return new RunprintError('ERR_CAPTURE_UPSTREAM_UNREACHABLE', `the ${upstream} upstream's ${reason.slice("the upstream's ".length)}`);
  return new RunprintError('ERR_CAPTURE_UPSTREAM_UNREACHABLE', `cannot reach the ${upstream} upstream${reason === undefined ? '' : `: ${reason}`}`);
}

/**
 * The 504 of a call whose upstream sent nothing for the upstream fetch's idle limit, or that
 * waited that long for a connection to it (all of them in use: it was not sent).
 */
function silentUpstream(upstream: string, error: UpstreamSilent): RunprintError {
  if (error.connections !== undefined) {
    return new RunprintError('ERR_CAPTURE_UPSTREAM_TIMEOUT', `no connection to the ${upstream} upstream came free within ${durationOf(error.idleMs)} (${error.connections} connection${error.connections === 1 ? '' : 's'} in use), the proxy's limit for an upstream's silence: the call was not sent`);
  }
  return new RunprintError('ERR_CAPTURE_UPSTREAM_TIMEOUT', `the ${upstream} upstream sent nothing for ${durationOf(error.idleMs)}, the proxy's limit for an upstream's silence: the call got no answer`);
}

/**
 * `body`, one read of it per read, but for a failure before its first chunk because the upstream
 * went silent for the idle limit: that is the 504 of `silentUpstream` (a RunprintError before the
 * first byte, which the server answers with the answer's runprint-* headers, instead of a
 * connection closed without a status line), given once the run's record is with the sink
 * (`recorded`: durable in sync durability), or the fail-closed 503 when it could not be
 * (`unrecorded`), as for a call that got no answer. After the first chunk, failures pass as they come.
 */
function silentBeforeFirstChunk(body: ReadableStream<Uint8Array>, upstream: string, recorded: () => Promise<void> | undefined, unrecorded: () => RunprintError | undefined, told: (answer: RunprintError) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let first = true;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (error) {
          if (!first || !(error instanceof UpstreamSilent)) return controller.error(error);
          await recorded();
          const answer = silentUpstream(upstream, error);
          told(answer);
          return controller.error(unrecorded() ?? answer);
        }
        first = false;
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A non-streamed answer held whole, as its body: the very bytes the run is recorded with, in one
 * chunk. A Response made from the bytes themselves would copy them (fetch's "extract a body"): a
 * second copy of an answer of up to 64 MiB, held while its client reads it, all of it for as long
 * as a client that does not read keeps the connection.
 */
function heldBody(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        controller.enqueue(bytes);
        controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** A body of `bytes` that then fails with `error`: each reaches the reader (an error in start() would discard the bytes). */
function cutBody(bytes: Uint8Array, error: unknown): ReadableStream<Uint8Array> {
  let sent = bytes.length === 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(error);
      sent = true;
      controller.enqueue(bytes);
    },
  }, { highWaterMark: 0 });
}

export interface Proxy {
  /** The proxy's answer to a request, or undefined when the path is not one the proxy serves. */
  handle(request: Request, url: URL): Promise<Response> | undefined;
  /** Most body bytes a proxied path reads, or undefined when the path is not the proxy's. */
  bodyLimit(method: string, pathname: string): number | undefined;
  /** Most body bytes any proxied path reads (the largest bodyLimit). */
  largestBodyLimit(): number;
  /** The refusal of a call without the capture token (ERR_HTTP_UNAUTHORIZED), else undefined: a server asks it before it reads the call's body. */
  tokenRefusal(request: Request): Promise<RunprintError | undefined>;
  /** `METHOD /path` of every route it serves, for the OpenAPI test. */
  routeTable(): string[];
  /**
   * Resolves once every call the proxy is capturing has handed its record to the sink (or after
   * `ms`): a server that is stopping cuts its calls, then waits here before closing the sink.
   */
  drain(ms: number): Promise<void>;
  /** True while a call with this capture id is being captured (its record not yet with the sink). */
  capturing(captureId: string): boolean;
}

/**
 * The proxy's routes: `/NAME/...` forwards anything under it to upstream NAME (`/openai/v1/models`
 * to `https://api.openai.com/v1/models`); the provider routes themselves (`POST
 * /v1/chat/completions`, `/v1/responses`, `/v1/messages`) are also answered without a prefix. Of
 * these, calls to a provider route are runs and are recorded; the rest pass through unrecorded.
 */
export function createProxy(options: ProxyOptions): Proxy {
  const upstreams = upstreamsOf(options.upstreams);
  const routes = routesOf();
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const durability = options.durability ?? 'sync';
  const maxCaptured = options.maxCapturedBytes ?? MAX_CAPTURED_RESPONSE_BYTES;
  const maxRetrieval = options.maxRetrievalBytes ?? MAX_RETRIEVAL_HEADER_BYTES;
  // Agents' steps by their runprint-steps name: in the store serves share (options.steps), else in this process.
  const namedSteps = options.steps === undefined ? new NamedSteps() : new SharedSteps(options.steps, (error) => fail(error));
  const fail = (error: unknown) => {
    try {
      options.onFailure?.(error);
    } catch {
      // Reporting must not fail the call.
    }
  };

  /** Tells onUpstreamFailure of a 502 or 504 the proxy answers. */
  const tellUpstreamFailure = (upstream: string, answer: RunprintError): void => {
    try {
      options.onUpstreamFailure?.(upstream, answer);
    } catch {
      // Reporting must not fail the call.
    }
  };

  /**
   * The 502 of a call `upstream` gave no usable answer to, or the 504 of one it sent nothing to for
   * the upstream fetch's idle limit, told to onUpstreamFailure unless the client went away first.
   */
  const upstreamFailed = (upstream: string, error: unknown, signal: AbortSignal | null | undefined): RunprintError => {
    const answer = error instanceof UpstreamSilent && signal?.aborted !== true ? silentUpstream(upstream, error) : unreachable(upstream, error);
    if (signal?.aborted !== true) tellUpstreamFailure(upstream, answer);
    return answer;
  };

  // The capture ids of calls being captured whose record is not with the sink yet (named in
  // answers before their records exist: a stream's, at its start), and who waits for there to be none.
  const openIds = new Set<string>();
  const drained: Array<() => void> = [];
  /** Counts a call open; the function returned counts it closed (once, however often it is called). */
  const opened = (captureId: string): (() => void) => {
    openIds.add(captureId);
    return () => {
      if (!openIds.delete(captureId)) return;
      if (openIds.size === 0) for (const resolve of drained.splice(0)) resolve();
    };
  };

  const targetOf = (method: string, pathname: string): Target | undefined => {
    const bare = routes.get(`${method} ${pathname}`);
    if (bare !== undefined) return { upstream: bare.upstream, path: pathname, format: bare.format };
    const slash = pathname.indexOf('/', 1);
    if (slash < 0) return undefined;
    const name = pathname.slice(1, slash);
    if (!upstreams.has(name)) return undefined;
    const path = pathname.slice(slash);
    const route = routes.get(`${method} ${path}`);
    if (route !== undefined) return { upstream: name, path, format: route.upstream === name ? route.format : null };
    // A provider route after a base path of the upstream's own (Azure's
    // /openai/deployments/NAME/chat/completions), as in-process capture matches it (routeOf).
    const format = routeOf(method, path);
    return { upstream: name, path, format: format !== null && providerFor(format).upstream.name === name ? format : null };
  };

  /** The refusal of a call without the capture token, else undefined. */
  async function tokenRefusal(request: Request): Promise<RunprintError | undefined> {
    if (options.token === undefined || (await sameToken(request.headers.get(CAPTURE_TOKEN_HEADER), options.token))) return undefined;
    return new RunprintError('ERR_HTTP_UNAUTHORIZED', `the proxy needs the ${CAPTURE_TOKEN_HEADER} header with the capture token`);
  }

  async function forward(request: Request, url: URL, target: Target): Promise<Response> {
    const refused = await tokenRefusal(request);
    if (refused !== undefined) throw refused;
    // An agent's steps (runprint-steps) and the runs the call follows from: its runprint-parent
    // header's when it has one, else those that ended in its steps since the last call of them.
    const steps = target.format === null ? null : stepsOf(request, namedSteps);
    // A header that is not run identities is refused (400) here, the steps taken first.
    const links = target.format === null ? [] : callLinks(steps, request.headers.has(PARENT_HEADER) ? () => parentsOf(request) : null, () => []);
    const declaration = target.format === null ? { documents: [], error: null } : declarationOf(request);
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const bytes = hasBody ? await readBody(request, options.maxBodyBytes) : undefined;
    const upstreamUrl = `${upstreams.get(target.upstream)!}${target.path}${url.search}`;
    // A client that goes away stops the upstream call (and is recorded as aborted).
    const init: RequestInit = { method: request.method, headers: forwardedHeaders(request), redirect: 'manual', signal: request.signal };
    if (bytes !== undefined) init.body = bytes as Uint8Array<ArrayBuffer>;
    if (target.format === null) {
      let response: Response;
      try {
        response = await fetchImpl(upstreamUrl, init);
      } catch (error) {
        throw upstreamFailed(target.upstream, error, request.signal);
      }
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers: returnedHeaders(response) });
    }
    if (options.failClosed === true && !options.sink.healthy) {
      throw new RunprintError('ERR_CAPTURE_UNAVAILABLE', 'runprint cannot record runs right now, and the proxy is fail-closed: the call was not forwarded');
    }
    const captureId = globalThis.crypto.randomUUID();
    const done = opened(captureId);
    try {
      const sent = bytes ?? new Uint8Array(0);
      // A content-coded body (gzip, deflate) is forwarded as sent and identified by the JSON in it.
      const coding = request.headers.get('content-encoding');
      const source = coding === null ? sent : await decodedBody(sent, coding, options.maxBodyBytes);
      return await capture(captureId, target.format, target.upstream, upstreamUrl, init, sent, source, links, declaration, request.method, target.path, request.headers.get('traceparent'), memberHeadersOf(target.format, (name) => request.headers.get(name)), done, steps);
    } catch (error) {
      done();
      throw error;
    }
  }

  /**
   * The documents a call's `runprint-retrieval` header declares. A header that cannot be read is
   * refused under fail-closed (thrown: the call is not forwarded); fail-open, the call goes on
   * without declarations and the error is reported.
   */
  function declarationOf(request: Request): Declaration {
    try {
      return { documents: readRetrievalHeader(request.headers.get(RETRIEVAL_HEADER), maxRetrieval), error: null };
    } catch (error) {
      if (!(error instanceof RunprintError) || options.failClosed === true) throw error;
      return { documents: [], error };
    }
  }

  /** Whether options.prepare takes a call with this body (options.prepareFrom). */
  const pooled = (body: Uint8Array | RunprintError): boolean => options.prepare !== undefined && !(body instanceof RunprintError) && body.byteLength >= (options.prepareFrom ?? 0);

  /**
   * prepareRequest for a call, through options.prepare when it takes the call; never rejects: a
   * failure is reported and the run recorded unidentified (never with an unsalted identity for a
   * call that was to be salted).
   */
  async function prepareCall(format: RequestFormat, requestBytes: Uint8Array | RunprintError, headers: MemberHeaders | undefined): Promise<PreparedRequest | undefined> {
    // A body runprint could not decode is recorded unidentified with the reason.
    if (requestBytes instanceof RunprintError) return { composition: null, identity: null, error: requestBytes };
    try {
      const salts = options.salts?.();
      return pooled(requestBytes) ? await options.prepare!(format, requestBytes, salts, headers) : prepareRequest(format, requestBytes, salts, headers);
    } catch (error) {
      fail(error);
      return options.salts === undefined ? undefined : { composition: null, identity: null, error: new RunprintError('ERR_INTERNAL', 'the salts of this call could not be made') };
    }
  }

  /** `done` is called once the call's record is with the sink (the proxy's drain waits for it). */
  async function capture(captureId: string, format: RequestFormat, upstream: string, upstreamUrl: string, init: RequestInit, requestBytes: Uint8Array, source: Uint8Array | RunprintError, links: readonly Link[], declaration: Declaration, method: string, path: string, traceparent: string | null, memberHeaders: MemberHeaders | undefined, done: () => void, steps: CallSteps | null): Promise<Response> {
    // The composition and request identity, computed while the upstream works on the call and
    // awaited when its answer is back: by the prepare pool from the start when it takes the call,
    // or on this thread once the call is on its way (below). Before forwarding where declared
    // retrieval must be checked first. Undefined when preparing failed (reported).
    let preparing = pooled(source) || declaration.documents.length > 0 ? prepareCall(format, source, memberHeaders) : undefined;
    let prepared: PreparedRequest | undefined;
    // Declared retrieval, checked before forwarding by the capture core's own check (locate), so
    // that fail-closed can refuse the call and the answer's headers can say what went wrong.
    // Searched once: the record is built with this result (captureRunWith's `located`).
    let retrievalError = declaration.error;
    let located: Located | undefined;
    if (declaration.documents.length > 0) {
      prepared = await preparing;
      located = locate(declaration.documents, prepared?.composition ?? null);
      if (located.error !== null) {
        retrievalError = located.error;
        if (options.failClosed === true) throw retrievalError;
      }
    }
    if (retrievalError !== null) fail(retrievalError);
    const started = now();
    // Fail-closed: set when this call's record could not be committed. In sync durability its
    // answer's end is still held then, and is not released: a 503 before any byte, or a cut.
    let unrecorded: RunprintError | undefined;
    /** Builds the record and hands it to the sink; resolves when durable (sync) or at once (async). Never rejects. */
    const record = (status: number | null, headers: Headers | null, responseBytes: Uint8Array, outcome: CaptureOutcome, responded: number | null, truncated?: number): { run: CapturedRun | undefined; durable: Promise<void> } => {
      let run: CapturedRun | undefined;
      // In steps, the next call of them follows from this one from now: its run identity below.
      const stepEnded = steps?.ending(links);
      try {
        // What it follows from is known: the proxy makes each record as its answer ends, in one
        // turn with its step's end, so earlier calls' records are made.
        const parents = parentsNow(links) ?? [];
        run = captureRunWith(
          {
            format, method, path, requestBytes, status, headers, responseBytes, outcome, times: { started, response: responded, ended: now() }, parents, captureId,
            ...(memberHeaders === undefined ? {} : { requestHeaders: memberHeaders }),
            ...(declaration.documents.length === 0 ? {} : { retrieval: declaration.documents }),
            ...(truncated === undefined ? {} : { truncated: { size: truncated } }),
            ...(options.derived?.[upstream] === undefined ? {} : { derived: options.derived[upstream] }),
          },
          prepared,
          located,
        );
        // Its steps' next call follows from this run (before it is durable: in sync durability
        // the client has the answer's end only after this, and, with steps in a store serves
        // share, only once the store has the end).
        const noted = stepEnded?.(run.record.runId);
        const recorded = options.sink.record(run, { requestBytes, responseBytes }, 'proxy').catch((error: unknown) => {
          fail(error);
          if (options.failClosed === true) unrecorded = new RunprintError('ERR_CAPTURE_UNAVAILABLE', 'runprint could not record this call, and the proxy is fail-closed: its answer was not passed on');
        });
        if (options.onRun !== undefined) {
          const stream = run.record.response.stream;
          const receipt = options.receipts && isReceiptable(run) ? `/v1/runs/${captureId}/receipt` : null;
          try {
            options.onRun(run, { upstream, url: upstreamUrl, traceparent, stream, receipt });
          } catch (error) {
            fail(error);
          }
        }
        const durable = noted === undefined ? recorded : Promise.all([recorded, noted]).then(() => undefined);
        return { run, durable: durability === 'sync' ? durable : Promise.resolve() };
      } catch (error) {
        // No run identity (or none handed on): the next step follows from what this one did.
        if (run === undefined) void stepEnded?.(null);
        fail(error);
        return { run, durable: Promise.resolve() };
      } finally {
        done();
      }
    };
    const ids = new Headers({ 'runprint-capture-id': captureId });
    if (retrievalError !== null) ids.set(RETRIEVAL_ERROR_HEADER, retrievalError.code);

    let response: Response;
    // A fetch that says when the request is out (serve's upstream fetch) is waited for, a new
    // connection opened first; any other gets one turn of the event loop to send it. Then this
    // thread computes the identity while the upstream answers (an upstream slower than that hides it).
    const reportsSent = preparing === undefined && (fetchImpl as { reportsSent?: boolean }).reportsSent === true;
    let sent: () => void = () => undefined;
    const written = new Promise<void>((resolve) => (sent = resolve));
    const responding = fetchImpl(upstreamUrl, reportsSent ? ({ ...init, onSent: sent } as RequestInit) : init);
    if (preparing === undefined) {
      const settled = responding.then(() => undefined, () => undefined);
      await (reportsSent ? Promise.race([written, settled]) : nextTurn());
      preparing = prepareCall(format, source, memberHeaders);
    }
    // Steps kept in a store: what the call follows from comes from it; records are made with it.
    const linked = links.every((link) => link.ids !== undefined) ? undefined : Promise.all(links.map((link) => link.settled()));
    try {
      response = await responding;
    } catch (error) {
      prepared = await preparing;
      await linked;
      if (prepared?.identity != null) ids.set('runprint-request-id', prepared.identity.requestId);
      await record(null, null, new Uint8Array(0), outcomeOfError(error), null).durable;
      if (unrecorded !== undefined) return withIds(errorResponse(unrecorded), ids);
      return withIds(errorResponse(upstreamFailed(upstream, error, init.signal)), ids);
    }
    const responded = now();
    prepared = await preparing;
    await linked;
    if (prepared?.identity != null) ids.set('runprint-request-id', prepared.identity.requestId);
    const headers = returnedHeaders(response);
    ids.forEach((value, name) => headers.set(name, value));
    const streamed = (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
    if (!streamed || response.body === null) {
      // Not a stream: read whole, so the answer's headers can name the run and its receipt.
      const body = await readAll(response.body, maxCaptured);
      if ('head' in body) {
        // Longer than capture keeps: it passes through whole, recorded without its bytes (too-large).
        const { head, reader } = body;
        let size = body.size;
        let ended = false;
        const end = (outcome: CaptureOutcome) => {
          if (ended) return Promise.resolve();
          ended = true;
          return record(response.status, response.headers, new Uint8Array(0), outcome, responded, size).durable;
        };
        const rest = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const next = head.shift();
            if (next !== undefined) return controller.enqueue(next);
            try {
              const { done, value } = await reader.read();
              if (!done) {
                size += value.length;
                return controller.enqueue(value);
              }
              await end('complete');
              if (unrecorded !== undefined) return controller.error(unrecorded);
              controller.close();
            } catch (error) {
              void end(outcomeOfError(error));
              controller.error(error);
            }
          },
          cancel(reason) {
            void end(outcomeOfCancel(reason));
            return reader.cancel(reason);
          },
        }, { highWaterMark: 0 });
        return new Response(rest, { status: response.status, statusText: response.statusText, headers });
      }
      const { run, durable } = record(response.status, response.headers, body.bytes, body.outcome, responded);
      await durable;
      // Fail-closed: not passed on, but named, so the application can find the call's record.
      if (unrecorded !== undefined) return withIds(errorResponse(unrecorded), ids);
      if (run?.record.runId != null) headers.set('runprint-run-id', run.record.runId);
      if (run !== undefined && options.receipts && isReceiptable(run)) headers.set('runprint-receipt', `/v1/runs/${captureId}/receipt`);
      if (body.outcome !== 'complete' && body.bytes.length === 0 && init.signal?.aborted !== true) {
        // Headers and then no byte of the body: nothing reached the client (the answer is held
        // whole), so it gets the proxy's answer, a status line with the capture id: 504 for an
        // upstream silent for the idle limit, 502 for one that closed the connection.
        const answer = body.error instanceof UpstreamSilent ? silentUpstream(upstream, body.error) : new RunprintError('ERR_CAPTURE_UPSTREAM_UNREACHABLE', `the ${upstream} upstream closed the connection after the headers of its answer (HTTP ${response.status}), before any byte of its body`);
        tellUpstreamFailure(upstream, answer);
        return withIds(errorResponse(answer), ids);
      }
      if (body.outcome !== 'complete') {
        // The upstream cut the body: the client gets what arrived, then the same cut.
        return new Response(cutBody(body.bytes, body.error), { status: response.status, statusText: response.statusText, headers });
      }
      headers.set('content-length', String(body.bytes.length));
      return new Response(body.bytes.length === 0 ? null : heldBody(body.bytes), { status: response.status, statusText: response.statusText, headers });
    }
    const markers = providerFor(format).streamEndMarkers;
    /** The stream's record, handed to the sink once it ended: durable (sync durability) when it resolves. */
    let ended: Promise<void> | undefined;
    const observed = observeBody(response.body, {
      now,
      drainOnCancel: 0,
      // A client that goes away after the terminal or error event has had the whole stream.
      endedBy: terminalEventComplete(markers),
      onEnd: (end) => (ended = record(response.status, response.headers, end.bytes, end.outcome, responded, end.truncated ? end.size : undefined).durable),
      maxKeptBytes: maxCaptured,
      holdEnd: true,
      // In sync durability the chunk with the terminal event waits for the record too: a client that
      // stops reading at that event (the SDKs do) has read nothing that is not recorded.
      ...(durability === 'sync' ? { holdFrom: terminalEventIn(markers), heldComplete: terminalEventComplete(markers) } : {}),
    });
    const passed = silentBeforeFirstChunk(observed, upstream, () => ended, () => unrecorded, (answer) => tellUpstreamFailure(upstream, answer));
    return new Response(options.failClosed === true && durability === 'sync' ? cutIfUnrecorded(passed, () => unrecorded) : passed, { status: response.status, statusText: response.statusText, headers });
  }

  return {
    handle(request, url) {
      const target = targetOf(request.method, url.pathname);
      if (target === undefined) return undefined;
      return forward(request, url, target).catch((error: unknown) => {
        // A runprint error is an answer (a refused token, a fail-closed 503); anything else is a
        // bug, answered 500 ERR_INTERNAL: told to onFailure, so it is not lost (serve prints it).
        if (!(error instanceof RunprintError)) fail(error);
        return errorResponse(error);
      });
    },
    bodyLimit(method, pathname) {
      const target = targetOf(method, pathname);
      if (target === undefined) return undefined;
      return method === 'GET' || method === 'HEAD' ? 0 : options.maxBodyBytes;
    },
    largestBodyLimit: () => options.maxBodyBytes,
    tokenRefusal,
    routeTable() {
      const table = [...routes.keys()];
      for (const name of upstreams.keys()) table.push(`* /${name}/{path}`);
      return table;
    },
    capturing: (captureId) => openIds.has(captureId),
    drain(ms) {
      if (openIds.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        drained.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
