/**
 * Serves an app on a Node HTTP socket; only the CLI calls this. Node streams on the hot path, no
 * web-stream adapter: the body is read with 'data' events up to the route's limit (known before a
 * byte is read), then handed to the app's fetch handler whole; the answer is written with
 * backpressure. Attacker-controlled: no sequence of client bytes, disconnects or aborts may throw
 * outside this file's handlers (docs/decisions/0008-http-foundation.md).
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIPv6, type Socket } from 'node:net';
import { StoppedByServer } from '../capture/observe-body.ts';
import { RunprintError } from '../errors.ts';
import { printable } from '../io/printable.ts';
import type { App } from './app.ts';
import { httpError, statusFor } from './http-status.ts';
import { attachBody } from './read-body.ts';
import { ClientLimits } from './client-limits.ts';
import { ConnectionCaps, type ConnectionCap, type RefusedConnections } from './connection-caps.ts';

export interface ListenOptions {
  host: string;
  port: number;
  /**
   * Open connections at most (default 1000; serve's default is lower below the open-file limit).
   * A connection past it is answered 503 ERR_HTTP_BUSY with `connection: close` (its request's
   * headers read; its body, never served, read and discarded within REFUSING_MS) and closed, and
   * counted (Listening's `refused`).
   */
  maxConnections?: number;
  /** Open connections per client address (default 128; 0: no cap); past it, the same with 429 ERR_HTTP_TOO_MANY_REQUESTS. */
  maxClientConnections?: number;
  /** Told of each connection refused past a cap, as it arrives (serve reports them); must not throw. */
  onRefusedConnection?: (cap: ConnectionCap) => void;
  /**
   * Requests in progress per client address; more get 429 ERR_HTTP_TOO_MANY_REQUESTS (default 64).
   * Of those, at most 4 (or this many, if fewer) on a route whose body may pass 1 MiB (for a route the app judges by declared length, only a request that declares more, or no length).
   */
  maxClientRequests?: number;
  /** Longest wait for a request's headers, in ms (default 10 s): a slow-header client is cut off. */
  headersTimeoutMs?: number;
  /**
   * Most bytes of a request's header block (default DEFAULT_MAX_HEADER_BYTES, Node's): a longer one
   * gets 431 ERR_HTTP_HEADERS_TOO_LARGE and the connection is closed, before the app sees the request.
   */
  maxHeaderBytes?: number;
  /**
   * Most header lines (fields) of a request (default DEFAULT_MAX_HEADER_LINES): more get the same
   * 431 ERR_HTTP_HEADERS_TOO_LARGE (Node's parser reports both as one header overflow).
   */
  maxHeaderLines?: number;
  /** Longest wait for a whole request, body included, in ms (default 120 s). */
  requestTimeoutMs?: number;
  /** Longest an idle keep-alive connection stays open, in ms (default 5 s). */
  keepAliveTimeoutMs?: number;
  /**
   * Host names (lower case, without port) a request's Host header may name; any other, or none
   * (an HTTP/1.0 request may send none), gets 421 ERR_HTTP_HOST_NOT_ALLOWED. A server on loopback sets it so that a web page whose own name
   * resolves to 127.0.0.1 (DNS rebinding) cannot read or write through the user's browser.
   * Default: any host.
   */
  allowedHosts?: readonly string[];
}

/** The host name of a Host header value, lower case, without port or IPv6 brackets; undefined when malformed. */
export function hostOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+))(?::[0-9]{1,5})?$/.exec(value.trim());
  if (match === null) return undefined;
  return (match[1] ?? match[2]!).toLowerCase();
}

export interface Listening {
  host: string;
  port: number;
  /** `http://host:port`, an IPv6 host in brackets. */
  url: string;
  /** Requests in progress now. */
  readonly inProgress: number;
  /** Connections refused past maxConnections and maxClientConnections since the server started. */
  readonly refused: RefusedConnections;
  /**
   * Stops accepting connections and closes idle ones; requests in progress get up to `graceMs`
   * (default 0) to finish, then every connection still open is cut. Resolves once all are closed.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Requests that sent `Expect: 100-continue` and have not been told to continue yet. */
const awaitingContinue = new WeakSet<IncomingMessage>();

/** Body limit for an app that states none (a test double, say). */
export const FALLBACK_BODY_LIMIT = 64 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 1000;
export const DEFAULT_MAX_CLIENT_CONNECTIONS = 128;
export const DEFAULT_MAX_CLIENT_REQUESTS = 64;
/** Requests in progress per client on a route whose body limit is over LARGE_BODY_BYTES. */
export const MAX_CLIENT_LARGE_REQUESTS = 4;
export const LARGE_BODY_BYTES = 1024 * 1024;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Node's default limit on a request's header block (16 KiB). */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/**
 * Most header lines (fields) a request may have. Node's own default (server.maxHeadersCount), set
 * here on purpose: past it Node's parser refuses the request with the code of a header block that
 * is too long (HPE_HEADER_OVERFLOW), whatever its bytes. Room for a runprint-retrieval line per
 * declared document (at most MAX_DECLARED_DOCUMENTS, 256) beside a client's other headers.
 */
export const DEFAULT_MAX_HEADER_LINES = 1000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

/**
 * Answers `refusal` as JSON on a socket the HTTP layer no longer handles (a request it cannot
 * parse, CONNECT) and closes it, so that a client that keeps its end open holds neither a
 * connection slot nor a stop for long (Node no longer tracks or times out such a socket).
 * `most` 0 (a timeout: the client is sending nothing): the socket is destroyed once the answer is
 * written, or after REFUSED_IDLE_MS. Else a body may still be arriving: the answer goes out with
 * the server's end of the connection, and what the client still sends is read and discarded
 * until it ends its side, sends nothing for REFUSED_IDLE_MS, LINGER_MS pass or more than `most`
 * bytes arrive (then the socket is destroyed): a client that sends its whole body before it reads
 * (Python's http.client) gets the answer, not a broken pipe or a reset. `open` holds the socket
 * until it closes (a stop cuts them).
 */
function refuseOnSocket(socket: Socket, refusal: RunprintError, most: number, open: Set<Socket>): void {
  if (refusing.has(socket)) return;
  refusing.set(socket, socket.bytesRead + most);
  open.add(socket);
  const status = statusFor(refusal);
  const body = JSON.stringify({ error: refusal.toJSON() });
  const answer = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
  const cut = setTimeout(() => socket.destroy(), most === 0 ? REFUSED_IDLE_MS : LINGER_MS);
  cut.unref();
  socket.once('close', () => {
    clearTimeout(cut);
    open.delete(socket);
  });
  if (most === 0) return void socket.end(answer, () => socket.destroy());
  socket.end(answer);
  socket.setTimeout(REFUSED_IDLE_MS);
  socket.on('timeout', () => socket.destroy());
  // A request Node cannot parse: Node's parser reads on (and reports the error again with each
  // chunk: the clientError handler checks the bound then). CONNECT's socket is read here.
  socket.on('data', () => {
    if (socket.bytesRead > refusing.get(socket)!) socket.destroy();
  });
  socket.resume();
}

/**
 * Sockets answered by refuseOnSocket, each with the most bytes it may have read before it is
 * destroyed (what was read when it was answered, and the most discarded after).
 */
const refusing = new WeakMap<Socket, number>();

/**
 * Sockets on which bytes that cannot be parsed follow a whole request whose answer is not written
 * yet, each with the most bytes it may have read before it is destroyed: refused once that answer
 * is written (the 'clientError' handler).
 */
const refusingAfter = new WeakMap<Socket, number>();

/** Longest a socket answered by refuseOnSocket stays open with nothing arriving, in ms. */
export const REFUSED_IDLE_MS = 1000;

/** The latest request on each connection and its answer: what a timeout or a parse error on the connection is answered through. */
const latest = new WeakMap<Socket, { incoming: IncomingMessage; outgoing: ServerResponse }>();

/** The latest request on `socket`, while its answer is not written whole; else undefined. */
function inProgressOn(socket: Socket): { incoming: IncomingMessage; outgoing: ServerResponse } | undefined {
  const now = latest.get(socket);
  return now === undefined || now.outgoing.writableFinished || now.outgoing.destroyed ? undefined : now;
}

/**
 * Answers whose request has arrived whole while the server works on them: the app computing the
 * answer (a proxied call waiting on its upstream, an identity in the workers) or the next chunk of
 * its body (a stream whose upstream is silent between events). Nothing moves on the connection
 * then, by no fault of the client: the connection's idle timeout does not cut it (the route's own
 * limits govern that wait: the proxy's idle limit for its upstream, UpstreamFetchOptions.idleMs).
 * Not while the answer waits for the client to read it (a full socket), which stays cut.
 */
const working = new WeakMap<Socket, Set<IncomingMessage>>();

/**
 * `pending`, with the answer to `incoming` marked as the server working on it until it settles:
 * by its connection, since a request pipelined behind it (answered, its answer queued) is the
 * connection's latest, not the one being worked on.
 */
async function workingOn<T>(incoming: IncomingMessage, pending: Promise<T>): Promise<T> {
  const socket = incoming.socket;
  let on = working.get(socket);
  if (on === undefined) working.set(socket, (on = new Set()));
  on.add(incoming);
  try {
    return await pending;
  } finally {
    on.delete(incoming);
    // A timeout let pass during the work is not armed again by the socket until bytes move, and
    // the answer may be queued behind another that waits for its client to read: armed again here.
    if (on.size === 0 && timedOutWhileWorking.delete(socket) && !socket.destroyed && (socket.timeout ?? 0) > 0) socket.setTimeout(socket.timeout!);
  }
}

/** Connections whose idle timeout was let pass because the server worked on an answer (workingOn). */
const timedOutWhileWorking = new WeakSet<Socket>();

/** True while the server works on the answer to a request on `socket` that arrived whole. */
function workingOnWhole(socket: Socket): boolean {
  const on = working.get(socket);
  if (on === undefined) return false;
  for (const incoming of on) if (incoming.complete) return true;
  return false;
}

/**
 * Answers afterBody holds unended while it discards the rest of a body, each with what ends it now
 * and closes the connection (its request timed out, or the rest of the body cannot be parsed).
 */
const holding = new WeakMap<ServerResponse, () => void>();

/** Most characters of a host shown in a message (README: a name as given is cut to 80). */
const HOST_SHOWN = 80;

/** `host:port` as a URL authority: an IPv6 address goes in brackets (RFC 3986 section 3.2.2). */
export function authority(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

export async function listen(app: App, options: ListenOptions): Promise<Listening> {
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const requestTimeout = Math.max(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, headersTimeout);
  const requests = options.maxClientRequests ?? DEFAULT_MAX_CLIENT_REQUESTS;
  const limits = new ClientLimits({
    connections: options.maxClientConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS,
    requests,
    large: requests === 0 ? 0 : Math.min(requests, MAX_CLIENT_LARGE_REQUESTS),
  });
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const server = createServer({
    headersTimeout,
    maxHeaderSize: maxHeaderBytes,
    requestTimeout,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5000,
    // How often Node looks for connections past those timeouts (its default, 30 s, lets them pile up).
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
    // Node would answer an HTTP/1.1 request with no Host itself, a bare 400 with an empty body:
    // the 'request' handler refuses it with runprint's JSON error instead.
    requireHostHeader: false,
  });
  // The caps on connections are kept here, not by Node's server.maxConnections, which closes a
  // connection past it with no answer and no trace.
  const caps = new ConnectionCaps({
    max: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxClient: options.maxClientConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS,
    limits,
    ...(options.onRefusedConnection === undefined ? {} : { onRefuse: options.onRefusedConnection }),
  });
  const maxHeaderLines = options.maxHeaderLines ?? DEFAULT_MAX_HEADER_LINES;
  server.maxHeadersCount = maxHeaderLines;
  // A connection on which nothing moves for this long (a client that stopped reading its answer,
  // say) is closed, so it cannot hold a request slot and its answer's memory for ever; not while
  // the server itself works on the answer to a whole request (the 'timeout' handler, working).
  // A client that stops reading is cut one to two timeouts after it stopped: Node lets a period
  // pass in which a pending write still moved (the system taking bytes just after the last write).
  // Not made exact with a check of our own: the system wakes a writer only once about a third of
  // its send buffer is free (Linux: over 1 MiB of a 4 MiB one), so a client that reads 1 MiB a
  // second looks idle for a second at a time from here (measured: a 1 s timeout checked in tenths
  // cut such a reader after 1.1 s; Node's own check does not).
  server.timeout = requestTimeout;
  // Node's own answers to requests it cannot parse or that came too slowly are a bare status;
  // runprint's carry its JSON error with a stable code, and close the connection.
  // Sockets refuseOnSocket answered, until they close (a stop cuts them).
  const refused = new Set<Socket>();
  /**
   * Answers the request in progress on a connection whose request timed out (Node's request
   * timeout, or nothing moved for as long): a body that has not arrived whole gets 408
   * ERR_HTTP_TIMEOUT and the connection is closed; an answer already given before the body is
   * ended and the connection closed. False when there is nothing to answer (the body is whole, or
   * the answer is being written): the caller cuts the connection.
   * The 408 is followed by the rest of the body read on and discarded (afterBody), as for other
   * answers given before the body: a client still trickling its body that reads only once it has
   * sent it gets the 408, not a broken pipe from a connection closed under its writes. The
   * connection is closed once the body ends, nothing arrives for REFUSED_IDLE_MS (the 'timeout'
   * handler then ends the answer), LINGER_MS pass or the route's lingerBytes arrive.
   */
  const answerTimeout = ({ incoming, outgoing }: { incoming: IncomingMessage; outgoing: ServerResponse }): boolean => {
    const held = holding.get(outgoing);
    if (held !== undefined) return (held(), true);
    if (incoming.complete || outgoing.headersSent) return false;
    refuse(incoming, outgoing, new RunprintError('ERR_HTTP_TIMEOUT', `the request's body did not arrive in time (the server waits ${requestTimeout} ms for a whole request)`));
    const socket = outgoing.socket;
    if (holding.has(outgoing) && socket !== null && !socket.destroyed) socket.setTimeout(REFUSED_IDLE_MS);
    return true;
  };
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // A socket answered already: a request Node cannot parse is reported again with every chunk
    // that follows, read on and discarded within refuseOnSocket's bound.
    const bound = refusing.get(socket);
    if (bound !== undefined) return void (socket.bytesRead > bound && socket.destroy());
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    // Bytes that cannot be parsed behind a whole request whose answer is not given yet: reported
    // again with each chunk, read on and discarded within the bound until that answer is written.
    const waiting = refusingAfter.get(socket);
    if (waiting !== undefined) return void (socket.bytesRead > waiting && socket.destroy());
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'HPE_HEADERS_TIMEOUT';
    // A request is in progress on the connection (its body being read, or an answer being given):
    // a timeout is answered through it; bytes written beside its answer would corrupt it.
    const now = inProgressOn(socket);
    if (now !== undefined) {
      if (timeout) return void (answerTimeout(now) || socket.destroy());
      if (now.outgoing.headersSent) return void (holding.get(now.outgoing) ?? (() => socket.destroy()))();
      // An earlier answer on the connection is still being written (a pipelined request).
      if (now.outgoing.socket !== socket) return void socket.destroy();
      // Unparseable bytes pipelined behind a whole request (its answer not begun): they do not
      // replace its answer. It is given first, then the refusal, and the connection is closed.
      if (!timeout && now.incoming.complete) {
        const most = lingerBytes(app, 0);
        refusingAfter.set(socket, socket.bytesRead + most);
        const refusal = caps.refusalOf(socket) ?? clientErrorOf(error.code, maxHeaderBytes, maxHeaderLines);
        now.outgoing.once('finish', () => {
          refusingAfter.delete(socket);
          if (!socket.destroyed) refuseOnSocket(socket, refusal, most, refused);
        });
        now.outgoing.once('close', () => {
          if (!now.outgoing.writableFinished) socket.destroy();
        });
        return;
      }
    }
    // A body may follow a request Node cannot parse: read on and discarded, as afterBody does.
    refuseOnSocket(socket, caps.refusalOf(socket) ?? clientErrorOf(error.code, maxHeaderBytes, maxHeaderLines), timeout ? 0 : lingerBytes(app, 0), refused);
  });
  // Nothing moved on a connection for requestTimeout (Node would cut it with no answer): a request
  // whose body stopped coming gets its 408; any other connection is cut (a client that stopped
  // reading its answer; an idle keep-alive connection, whose timeout Node sets to keepAliveTimeoutMs).
  // Not a request that arrived whole while the server works on its answer (working): its route's
  // own limits govern that wait, and the timer starts again with the next bytes written.
  server.on('timeout', (socket: Socket) => {
    const now = inProgressOn(socket);
    if (refusing.has(socket) || now === undefined) return void socket.destroy();
    // Any answer on the connection, not only the latest request's: a request pipelined behind a
    // slow call is the latest, answered and queued, while the call is worked on.
    if (workingOnWhole(socket)) return void timedOutWhileWorking.add(socket);
    if (!answerTimeout(now)) socket.destroy();
  });
  // Two more requests Node answers itself unless told otherwise: an Expect other than
  // 100-continue (a bare 417) and CONNECT (the connection closed with no answer). Both get the
  // JSON error, and the connection is closed (a body that may follow is not served: refuse
  // discards it first, CONNECT's socket is closed once the answer is written).
  server.on('checkExpectation', (incoming: IncomingMessage, outgoing: ServerResponse) => {
    latest.set(incoming.socket, { incoming, outgoing });
    const refusal = caps.refusalOf(incoming.socket);
    if (refusal !== undefined) return refuse(incoming, outgoing, refusal, { 'retry-after': '1' });
    refuse(incoming, outgoing, new RunprintError('ERR_HTTP_BAD_REQUEST', 'the Expect header may only be 100-continue, the one expectation this server meets'));
  });
  server.on('connect', (_incoming: IncomingMessage, socket: Socket) => {
    socket.on('error', () => undefined);
    refuseOnSocket(socket, caps.refusalOf(socket) ?? new RunprintError('ERR_HTTP_BAD_REQUEST', 'CONNECT is not served: this server opens no tunnels (the capture proxy takes provider calls as plain requests to its own paths)'), lingerBytes(app, 0), refused);
  });
  server.on('connection', (socket: Socket) => caps.accept(socket));
  let origin = '';
  let listeningPort = options.port;
  // Requests in progress (until their connection's answer is finished or the client is gone), and
  // who waits for there to be none (a graceful close).
  let inProgress = 0;
  let closing = false;
  // Set once a close's grace is over: the requests still in progress are cut by the server, not
  // by their clients (StoppedByServer is their calls' abort reason).
  const stopping = { cut: false };
  let whenIdle: (() => void) | undefined;
  const allowed = options.allowedHosts === undefined ? undefined : new Set(options.allowedHosts.map((name) => name.toLowerCase()));
  /**
   * Answers `refusal` with `connection: close` to a request before its body is read: the answer
   * is written at once and the connection closed once the body is discarded (afterBody, bounded
   * by lingerBytes for the route the request names).
   */
  const refuse = (incoming: IncomingMessage, outgoing: ServerResponse, refusal: RunprintError, extra: Record<string, string> = {}): void => {
    incoming.on('error', () => undefined);
    outgoing.on('error', () => undefined);
    const url = targetOf(incoming.url ?? '', origin);
    const limit = url === undefined ? 0 : (app.bodyLimit?.(incoming.method ?? 'GET', url.pathname) ?? FALLBACK_BODY_LIMIT);
    reply(outgoing, refusal, true, extra, afterBody(incoming, outgoing, lingerBytes(app, limit)));
  };
  const onRequest = (incoming: IncomingMessage, outgoing: ServerResponse): void => {
    latest.set(incoming.socket, { incoming, outgoing });
    // A connection past a cap: its first request is answered with the refusal, its body read only
    // to be discarded (within the cap's REFUSING_MS), and the connection closed.
    const refusal = caps.refusalOf(incoming.socket);
    if (refusal !== undefined) return refuse(incoming, outgoing, refusal, { 'retry-after': '1' });
    inProgress += 1;
    outgoing.once('close', () => {
      inProgress -= 1;
      // While closing, a keep-alive connection is not kept for another request.
      if (closing) server.closeIdleConnections();
      if (inProgress === 0) whenIdle?.();
    });
    if (closing) outgoing.setHeader('connection', 'close');
    // RFC 9112 section 3.2: an HTTP/1.1 request without a Host header is 400 (requireHostHeader above).
    if (incoming.headers.host === undefined && incoming.httpVersionMajor === 1 && incoming.httpVersionMinor >= 1) {
      return refuse(incoming, outgoing, new RunprintError('ERR_HTTP_BAD_REQUEST', 'an HTTP/1.1 request must carry a Host header'));
    }
    // RFC 9112 section 6.1: Node's parser frames a body whose last transfer coding is chunked
    // ("gzip, chunked") and leaves the codings before it to the application; this server decodes
    // none, so such a body would be read (and forwarded, and recorded) still coded. Only chunked
    // alone is taken.
    const codings = incoming.headers['transfer-encoding'];
    if (codings !== undefined && codings.split(',').some((coding) => coding.trim().toLowerCase() !== 'chunked')) {
      return refuse(incoming, outgoing, new RunprintError('ERR_HTTP_BAD_REQUEST', `the transfer coding ${JSON.stringify(codings.slice(0, 100))} is not served: send the body chunked or with a Content-Length, and a compressed body with Content-Encoding`));
    }
    if (allowed !== undefined) {
      const host = hostOf(incoming.headers.host);
      if (host === undefined || !allowed.has(host)) {
        // An HTTP/1.0 request may come without a Host header: it names no allowed host either.
        const why = incoming.headers.host === undefined ? 'the request has no Host header' : host === undefined ? 'the Host header is not a host name' : 'the Host header names another';
        return refuse(incoming, outgoing, new RunprintError('ERR_HTTP_HOST_NOT_ALLOWED', `this server answers only for ${[...allowed].join(', ')} (${why})`));
      }
      // A web page of another origin can make a browser send a simple POST here without asking
      // (no CORS preflight for text/plain): on loopback, where no token guards the proxy, only this
      // server's own pages may send requests from a browser.
      // Following a link (a navigation) is let through to runprint's own pages only, not to an upstream's.
      const ownPage = () => {
        const url = targetOf(incoming.url ?? '', origin);
        return url !== undefined && app.proxied?.(incoming.method ?? 'GET', url.pathname) !== true;
      };
      if (!fromOwnOrigin(incoming, allowed, listeningPort, ownPage)) {
        return refuse(incoming, outgoing, new RunprintError('ERR_HTTP_CROSS_ORIGIN', 'a request from a web page of another origin: this server on a loopback address answers browsers only for its own pages'));
      }
    }
    serve(app, incoming, outgoing, origin, limits, stopping).catch(() => outgoing.destroy());
  };
  server.on('request', onRequest);
  // `Expect: 100-continue` (RFC 9110 section 10.1.1): Node would answer 100 Continue before the
  // request is looked at, so a client would send a body only to have it refused (a declared
  // length over the route's limit, a refused connection, a full slot). 100 Continue is sent only
  // once the body is to be read (serve); a request answered before that gets its final answer
  // alone, and its connection is closed.
  server.on('checkContinue', (incoming: IncomingMessage, outgoing: ServerResponse) => {
    awaitingContinue.add(incoming);
    onRequest(incoming, outgoing);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'address is already in use' : 'cannot listen on that address';
      // The host as given may be anything (a typo, a pasted escape sequence): cut, its controls escaped.
      reject(new RunprintError('ERR_HTTP_LISTEN', `${reason} (${authority(printable(options.host, HOST_SHOWN), options.port)})`));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  // From now on a server error (EMFILE on accept, say) is not fatal: Node retries.
  server.on('error', () => undefined);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  origin = `http://${authority(options.host, port)}`;
  listeningPort = port;
  return {
    host: options.host,
    port,
    url: origin,
    get inProgress() {
      return inProgress;
    },
    get refused() {
      return caps.refused;
    },
    close: async (closeOptions = {}) => {
      closing = true;
      for (const socket of refused) socket.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const graceMs = closeOptions.graceMs ?? 0;
      if (graceMs > 0 && inProgress > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          whenIdle = resolve;
          timer = setTimeout(resolve, graceMs);
        });
        clearTimeout(timer);
        whenIdle = undefined;
      }
      stopping.cut = true;
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * False for a request a browser sent from a page of another origin: its Origin header names
 * another scheme, host or port (or is `null`: a sandboxed or file page), or its Sec-Fetch-Site
 * says it is not same-origin. Clients that are not browsers send neither header. A link followed
 * to one of serve's own pages (a GET or HEAD navigation, `ownPage`) is let through: its answer goes
 * to the new page, never to the one that linked. Not to a proxied path: an upstream's page would
 * then run on serve's origin.
 */
function fromOwnOrigin(incoming: IncomingMessage, hosts: ReadonlySet<string>, port: number, ownPage: () => boolean): boolean {
  if ((incoming.method === 'GET' || incoming.method === 'HEAD') && incoming.headers['sec-fetch-mode'] === 'navigate' && ownPage()) return true;
  const site = incoming.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const from = incoming.headers.origin;
  if (from === undefined) return true;
  try {
    const url = new URL(from);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return url.protocol === 'http:' && hosts.has(host.toLowerCase()) && Number(url.port || 80) === port && `${url.protocol}//${url.host}` === from.toLowerCase();
  } catch {
    return false;
  }
}

/** The path and query of a request target: origin-form, or absolute-form with an http(s) URL (RFC 9112 section 3.2). */
function targetOf(target: string, origin: string): URL | undefined {
  try {
    if (target.startsWith('/')) return new URL(origin + target);
    if (/^https?:\/\//i.test(target)) {
      const absolute = new URL(target);
      return new URL(origin + absolute.pathname + absolute.search);
    }
  } catch {
    // Not a URL: a port out of range, an unclosed bracket, ...
  }
  return undefined;
}

/** The answer to a request Node's parser refused (its error code), before the app saw it. */
function clientErrorOf(code: string | undefined, maxHeaderBytes: number, maxHeaderLines: number): RunprintError {
  // One code for both limits: the parser does not say which was passed.
  if (code === 'HPE_HEADER_OVERFLOW') return new RunprintError('ERR_HTTP_HEADERS_TOO_LARGE', `request headers are longer than ${maxHeaderBytes} bytes or more than ${maxHeaderLines} header lines`);
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADERS_TIMEOUT') return new RunprintError('ERR_HTTP_TIMEOUT', 'the request did not arrive in time');
  return new RunprintError('ERR_HTTP_BAD_REQUEST', 'the bytes received are not an HTTP/1.1 request this server reads');
}

/**
 * Answers `refusal` as JSON, written whole at once; `end` ends the answer (afterBody's, when a
 * body may still be arriving: once it is discarded).
 */
function reply(outgoing: ServerResponse, refusal: RunprintError, close: boolean, extra: Record<string, string> = {}, end: () => void = () => void outgoing.end()): void {
  if (outgoing.headersSent || outgoing.destroyed) return void outgoing.destroy();
  const error = httpError(refusal);
  const body = JSON.stringify({ error: error.toJSON() });
  outgoing.writeHead(statusFor(error), {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(close ? { connection: 'close' } : {}),
    ...extra,
  });
  outgoing.write(body);
  end();
}

/** Longest the unread rest of a body is read on and discarded after its answer (afterBody). */
export const LINGER_MS = 5000;
/** Most bytes of an unread body read on and discarded after its answer: this many times the route's limit, at least LARGE_BODY_BYTES (lingerBytes). */
export const LINGER_LIMIT_FACTOR = 4;

/**
 * Most bytes of an unread body read on and discarded after its answer (afterBody): on a route
 * that reads a body, LINGER_LIMIT_FACTOR times its `limit`; on one that reads none (`limit` 0: a
 * path no route serves, a method the route does not take, a route of a feature that is off, a
 * GET), the largest body any of the app's routes reads (serve's: 130 MiB, POST /v1/exchanges, with
 * capture on; else 32 MiB), since a client may send there any body the server takes elsewhere (a
 * 20 MB POST to a mistyped path gets its 404). At least LARGE_BODY_BYTES either way.
 */
function lingerBytes(app: App, limit: number): number {
  return Math.max(limit === 0 ? (app.largestBodyLimit?.() ?? 0) : LINGER_LIMIT_FACTOR * limit, LARGE_BODY_BYTES);
}

/**
 * For an answer given while the request's body is not read whole (a 413, a refusal before the
 * body, a route that reads none): starts reading and discarding the rest of the body, and returns
 * what ends the answer, to be called once the answer is written whole. The answer ends once the
 * body has been discarded whole, and Node closes the connection (the answer says `connection:
 * close`) with nothing left unread: a client that reads its answer only once its body is sent
 * (Python's http.client, urllib) gets the answer, not a broken pipe or a reset from a server that
 * closed under it. The connection is cut instead, the answer written or not, when its client goes
 * away, LINGER_MS pass or more than `most` bytes (lingerBytes) arrive, whichever comes first.
 * Until then the request keeps its slots and its connection counts against the connection caps.
 * Nothing is read on, the answer ended at once, for a request with no body left, one whose client
 * waits for 100 Continue (it sends no body), or a declared length past `most` (that client would
 * be cut mid-body anyway).
 */
function afterBody(incoming: IncomingMessage, outgoing: ServerResponse, most: number): () => void {
  const endNow = (): void => void outgoing.end();
  const declared = incoming.headers['transfer-encoding'] === undefined ? Number(incoming.headers['content-length'] ?? 0) : 0;
  if (!hasBody(incoming) || incoming.complete || incoming.destroyed || outgoing.destroyed || awaitingContinue.has(incoming) || !(declared <= most)) return endNow;
  let discarded = 0;
  let over = false;
  let whole = false;
  let written = false;
  /**
   * 'whole': the body is discarded whole, the answer ended once written. 'cut': the connection is
   * destroyed, whatever is still in flight either way. 'timed-out' (the request timed out: the
   * client sends nothing more, or too slowly): an answer written whole but for its end is ended,
   * so that the client gets all of it, and the connection closed once it is written, or after
   * FLUSH_MS; one not written whole is cut.
   */
  const stop = (how: 'whole' | 'cut' | 'timed-out'): void => {
    if (over) return;
    over = true;
    holding.delete(outgoing);
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', onEnd);
    incoming.off('close', gone);
    if (how === 'whole') {
      whole = true;
      if (written) outgoing.end();
      return;
    }
    const socket = outgoing.socket;
    if (how === 'cut' || !written || socket === null || socket.destroyed || outgoing.writableEnded) return void outgoing.destroy();
    const flush = setTimeout(() => socket.destroy(), FLUSH_MS);
    flush.unref();
    socket.once('close', () => clearTimeout(flush));
    outgoing.end();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > most) stop('cut');
  };
  const onEnd = (): void => stop('whole');
  const gone = (): void => stop(incoming.complete ? 'whole' : 'cut');
  const timer = setTimeout(() => stop('cut'), LINGER_MS);
  incoming.on('data', onData);
  incoming.once('end', onEnd);
  incoming.once('close', gone);
  incoming.resume();
  holding.set(outgoing, () => stop('timed-out'));
  return () => {
    if (written) return;
    written = true;
    if (whole) outgoing.end();
  };
}

/** True when the request says a body follows. */
function hasBody(incoming: IncomingMessage): boolean {
  return incoming.headers['transfer-encoding'] !== undefined || Number(incoming.headers['content-length'] ?? 0) > 0;
}

/**
 * Reads the body, at most `limit` bytes: the bytes, 'too-large' as soon as more arrive (the rest
 * is not read), 'gone' when the client went away first, or 'answered' when bytes arrive after an
 * answer was given meanwhile (a 408: the request timed out; afterBody discards the rest).
 */
function readBody(incoming: IncomingMessage, outgoing: ServerResponse, limit: number): Promise<Uint8Array | 'too-large' | 'gone' | 'answered'> {
  return new Promise((resolve) => {
    // With a Content-Length (at most the limit) the bytes are copied once, into their own buffer.
    const declared = Number(incoming.headers['content-length'] ?? -1);
    let body = declared >= 0 && incoming.headers['transfer-encoding'] === undefined ? new Uint8Array(declared) : undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const finish = (result: Uint8Array | 'too-large' | 'gone' | 'answered'): void => {
      if (settled) return;
      settled = true;
      incoming.off('data', onData);
      resolve(result);
    };
    const whole = (): Uint8Array => {
      if (body !== undefined && total === body.length) return body;
      body = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        body.set(chunk, offset);
        offset += chunk.length;
      }
      return body;
    };
    const onData = (chunk: Buffer): void => {
      if (outgoing.headersSent) return finish('answered');
      if (total + chunk.length > limit) {
        incoming.pause();
        return finish('too-large');
      }
      if (body !== undefined && total + chunk.length <= body.length) body.set(chunk, total);
      else chunks.push(chunk);
      total += chunk.length;
    };
    incoming.on('data', onData);
    incoming.once('end', () => finish(whole()));
    incoming.once('close', () => finish(incoming.complete ? whole() : 'gone'));
  });
}

/** The app's refusal of `request` before its body is read (App.refuseBeforeBody), if any; a check that fails leaves the request to its route. */
async function refusalBeforeBody(app: App, request: Request): Promise<RunprintError | undefined> {
  if (app.refuseBeforeBody === undefined) return undefined;
  try {
    return await app.refuseBeforeBody(request);
  } catch {
    return undefined;
  }
}

async function serve(app: App, incoming: IncomingMessage, outgoing: ServerResponse, origin: string, limits: ClientLimits, stopping: { readonly cut: boolean }): Promise<void> {
  // A stream error after the request is settled must not become an uncaught 'error' event.
  incoming.on('error', () => undefined);
  outgoing.on('error', () => undefined);
  const client = incoming.socket.remoteAddress ?? '';
  const body = hasBody(incoming);
  const url = targetOf(incoming.url ?? '', origin);
  const method = incoming.method ?? 'GET';
  const limit = url === undefined ? 0 : (app.bodyLimit?.(method, url.pathname) ?? FALLBACK_BODY_LIMIT);
  // An answer given before the body is read whole is ended once the rest is discarded (afterBody).
  const refuse = (refusal: RunprintError, extra: Record<string, string> = {}): void => reply(outgoing, refusal, body, extra, afterBody(incoming, outgoing, lingerBytes(app, limit)));
  if (url === undefined || app.proxied?.(method, url.pathname) !== true) {
    if (!limits.startRequest(client)) {
      return refuse(new RunprintError('ERR_HTTP_TOO_MANY_REQUESTS', 'too many requests in progress from this client; retry later'), { 'retry-after': '1' });
    }
    outgoing.once('close', () => limits.endRequest(client));
  }
  if (url === undefined) {
    return refuse(new RunprintError('ERR_HTTP_BAD_REQUEST', 'request target must be a path or an http URL'));
  }
  // The app may say a request is not large although its route takes large bodies (a proxied call
  // of a few KB declares its length): it is then not held to the few large slots.
  const declared = incoming.headers['transfer-encoding'] === undefined ? Number(incoming.headers['content-length'] ?? 0) : Infinity;
  if (limit > LARGE_BODY_BYTES && (app.largeByDeclaredLength?.(method, url.pathname) !== true || declared > LARGE_BODY_BYTES)) {
    if (!limits.startLarge(client)) {
      return refuse(new RunprintError('ERR_HTTP_TOO_MANY_REQUESTS', 'too many requests in progress from this client; retry later'), { 'retry-after': '1' });
    }
    outgoing.once('close', () => limits.endLarge(client));
  }
  let request: Request;
  // The request's signal aborts when the client goes away before its answer is written whole,
  // or the server cuts it as it stops (a reason of its own: the capture proxy records such a call
  // cut, not aborted by its client): a route that calls onwards (the capture proxy) stops that
  // call too, and the answer's body is cancelled with the same reason.
  const gone = new AbortController();
  const goneReason = (): unknown => (stopping.cut ? new StoppedByServer() : new DOMException('the client went away', 'AbortError'));
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) gone.abort(goneReason());
  });
  try {
    const headers = new Headers();
    const raw = incoming.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    request = new Request(url, { method, headers, signal: gone.signal });
  } catch {
    return refuse(new RunprintError('ERR_HTTP_BAD_REQUEST', 'request method or headers are not acceptable'));
  }
  let bytes: Uint8Array | undefined;
  if (body && limit > 0) {
    // Made only when needed: an Error captures a stack trace, a cost on every request otherwise.
    const tooLarge = () => new RunprintError('ERR_HTTP_BODY_TOO_LARGE', `request body is larger than ${limit} bytes`);
    if (Number(incoming.headers['content-length'] ?? 0) > limit) {
      // A client that waits for 100 Continue sends no body: it gets its answer alone, the connection closed.
      if (awaitingContinue.delete(incoming)) return reply(outgoing, tooLarge(), true);
      return reply(outgoing, tooLarge(), true, {}, afterBody(incoming, outgoing, lingerBytes(app, limit)));
    }
    // A request the app refuses on its headers alone (no token) is refused before its body is read:
    // a client without the token cannot make the server hold its body. The route checks again.
    const refusal = await refusalBeforeBody(app, request);
    if (refusal !== undefined) {
      if (awaitingContinue.delete(incoming)) return reply(outgoing, refusal, true);
      return refuse(refusal);
    }
    // The client waits for this before sending its body (Expect: 100-continue).
    if (awaitingContinue.delete(incoming)) outgoing.writeContinue();
    const read = await readBody(incoming, outgoing, limit);
    // Answered while the body was read (408: it did not arrive in time): the request is not served,
    // and what still comes is discarded (afterBody).
    if (read === 'answered' || outgoing.headersSent) return;
    if (read === 'gone') return void outgoing.destroy();
    if (read === 'too-large') return reply(outgoing, tooLarge(), true, {}, afterBody(incoming, outgoing, lingerBytes(app, limit)));
    bytes = read;
    attachBody(request, bytes);
  }
  const response = await workingOn(incoming, app.fetch(request));
  // A body this route does not read is read on and discarded while the answer is written, and the
  // connection closes after the answer (afterBody).
  const unread = body && bytes === undefined && !incoming.complete;
  const end = afterBody(incoming, outgoing, lingerBytes(app, limit));
  await writeResponse(incoming, outgoing, response, method === 'HEAD', unread, end, () => (gone.signal.aborted ? gone.signal.reason : goneReason()));
}

/**
 * Writes `response`, waiting for the socket to drain whenever it is full, and then calls `end`
 * (afterBody's); a client that leaves (or a server that cuts the connection) stops the body: it
 * is cancelled with `reason()`.
 */
async function writeResponse(incoming: IncomingMessage, outgoing: ServerResponse, response: Response, head: boolean, close: boolean, end: () => void, reason: () => unknown): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  // Each Set-Cookie on its own line (RFC 6265 section 3): they cannot be joined with commas.
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  if (close) headers['connection'] = 'close';
  // The reason phrase as the app gave it (a proxied answer's, as its upstream sent it); else Node's.
  const writeHead = () => (response.statusText !== '' ? outgoing.writeHead(response.status, response.statusText, headers) : outgoing.writeHead(response.status, headers));
  if (response.body === null || head) {
    writeHead();
    void response.body?.cancel().catch(() => undefined);
    return end();
  }
  const reader = response.body.getReader();
  const stop = () => void reader.cancel(reason()).catch(() => undefined);
  outgoing.once('close', stop);
  try {
    // The head goes out with the body's first bytes (Node sends it with the first write), so it is
    // written once they are read: a body that fails with runprint's own error before its first
    // byte (the fail-closed proxy's held stream) is answered with that error, and the answer's
    // runprint-* headers, instead of a connection closed without a status line.
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await workingOn(incoming, reader.read());
    } catch (error) {
      if (!(error instanceof RunprintError) || outgoing.destroyed) throw error;
      const ids: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        if (name.startsWith('runprint-')) ids[name] = value;
      });
      return reply(outgoing, error, close, ids, end);
    }
    writeHead();
    while (!next.done) {
      if (outgoing.destroyed) return;
      if (!outgoing.write(next.value)) await drained(outgoing);
      try {
        next = await workingOn(incoming, reader.read());
      } catch (error) {
        // A body that fails after its first bytes (an upstream that cut its answer): the client gets
        // the bytes written, then the cut (the connection closes without the body's end).
        await flushed(outgoing);
        throw error;
      }
    }
    end();
  } finally {
    outgoing.off('close', stop);
  }
}

/**
 * Ends the connection once what was written is handed to the system (Node holds a response's
 * first bytes back for a moment; destroying the socket at once would discard them), waiting at
 * most FLUSH_MS for a client that does not read; the caller then destroys it.
 */
function flushed(outgoing: ServerResponse): Promise<void> {
  const socket = outgoing.socket;
  if (socket === null || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FLUSH_MS);
    socket.end(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Longest wait for a cut answer's bytes to leave (flushed). */
const FLUSH_MS = 1000;

function drained(outgoing: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      outgoing.off('drain', done);
      outgoing.off('close', done);
      resolve();
    };
    outgoing.on('drain', done);
    outgoing.on('close', done);
  });
}
