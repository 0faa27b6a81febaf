/**
 * A fetch over node:http and node:https, for runprint's own HTTP clients: the proxy's calls to its
 * upstreams (server/upstream-fetch.ts) and the log outbox's to its log (store/capped-fetch.ts). It
 * gives a `Response` whose body is the peer's bytes, chunk by chunk as they arrive, read only as
 * fast as its reader reads them (highWaterMark 0). It does what those callers ask of fetch and no
 * more: no redirects, no cookies, no cache. Like fetch it asks for no content coding of its own and
 * decodes gzip, deflate and br when the peer uses one anyway; a coding it cannot decode fails the
 * call as a network error. Errors are fetch's: the signal's reason when it aborted, else a
 * TypeError ("fetch failed: ..." before an answer, "terminated" after), the words for a URL that is
 * not HTTP and for a 101 answer the caller's (NodeFetchWords).
 *
 * Connections are kept open between calls, at most `maxSockets` per host, and a call past them
 * waits here (Slots), never in the agent's own queue: one that fails while it waits (its caller
 * aborts, or its idle limit runs out) leaves at once and is never sent. With `idleMs`, a peer
 * silent that long during a call, before its answer or during its body, fails the call with
 * UpstreamSilent; the silence counts from the call, a wait for a connection included.
 */
import { Agent as HttpAgent, request as httpRequest, type AgentOptions, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex, Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { connectionFailure, errorCode } from '../io/connection-failure.ts';
import { UpstreamSilent } from '../io/upstream-silent.ts';

/**
 * The connections calls hold, per upstream host (the URL's host and port: the proxy sends no Host
 * header of its own, so one host is one of the agent's pools), at most `max` (the agent's
 * maxSockets) at once. A call asks the agent for a connection only once it holds one of these
 * slots, so the agent never has to queue it (Node documents the agent's own queue, agent.requests,
 * as not to be modified, and a queued request that is destroyed stays in it until a connection is
 * handed to it): a call that finds every slot of its host held waits here, oldest first, and one
 * that fails while it waits (its idle limit, its caller's abort) is simply taken out.
 */
class Slots {
  private readonly held = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Takes a slot of `host` and true; else false, and `start` is called once a slot passes to it (unless it leaves first). */
  take(host: string, start: () => void): boolean {
    const held = this.held.get(host) ?? 0;
    if (held < this.max) {
      this.held.set(host, held + 1);
      return true;
    }
    const queue = this.waiting.get(host);
    if (queue === undefined) this.waiting.set(host, [start]);
    else queue.push(start);
    return false;
  }

  /** Takes a waiting `start` out of its host's queue (nothing if a slot has passed to it already). */
  leave(host: string, start: () => void): void {
    const queue = this.waiting.get(host);
    const at = queue?.indexOf(start) ?? -1;
    if (at < 0) return;
    queue!.splice(at, 1);
    if (queue!.length === 0) this.waiting.delete(host);
  }

  /**
   * Frees a slot of `host`, once its call's request has closed: the slot passes to the oldest call
   * waiting, started on the next tick (the agent frees the connection just after the request's
   * 'close', so the call finds it in the pool).
   */
  free(host: string): void {
    const queue = this.waiting.get(host);
    if (queue !== undefined) {
      const next = queue.shift()!;
      if (queue.length === 0) this.waiting.delete(host);
      process.nextTick(next);
      return;
    }
    const held = (this.held.get(host) ?? 1) - 1;
    if (held === 0) this.held.delete(host);
    else this.held.set(host, held);
  }
}

/** Statuses whose response has no body (Response refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export type NodeFetch = (input: string | URL, init?: NodeFetchInit) => Promise<Response>;

/** fetch's init, and `onSent`: called once the request's last byte is handed to the connection (a new one opened first), or the request failed. */
export type NodeFetchInit = RequestInit & { onSent?: () => void };

/** The errors whose words are the caller's: who the peer is, and what the caller does not take. */
export interface NodeFetchWords {
  /** The peer as the errors name it ("the upstream", "the log"). */
  peer: string;
  /** A URL whose scheme is neither http: nor https: (the call is not made). */
  notHttp(protocol: string): Error;
  /** An answer 101 Switching Protocols, or any Upgrade answer (its connection is closed). */
  switchingProtocols(): Error;
}

export interface NodeFetchOptions {
  /** Connections per host at most: calls past it wait for one, oldest first (Slots). */
  maxSockets: number;
  /**
   * Longest the peer may send nothing during a call, before its answer or between two chunks of
   * its body, in ms: the call then fails with UpstreamSilent. Counted from the call: a wait for a
   * connection (all maxSockets busy) counts. None: no limit of its own (the caller's signal ends a call).
   */
  idleMs?: number | undefined;
  words: NodeFetchWords;
  /** The agents' classes (node:http's and node:https's Agent by default), made with keepAlive and maxSockets. */
  HttpAgent?: new (options: AgentOptions) => HttpAgent;
  HttpsAgent?: new (options: AgentOptions) => HttpsAgent;
  /** Called with the call's agent just before each request is made (it holds its host's slot). */
  beforeRequest?: (agent: HttpAgent) => void;
  /** Called with each answer as it arrives, before its Response is built. */
  onResponse?: (response: IncomingMessage) => void;
}

function decoded(response: IncomingMessage): Readable | undefined {
  const coding = (response.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return response;
  const decoder = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : undefined;
  if (decoder === undefined) return undefined;
  response.on('error', (error) => decoder.destroy(error));
  // A decoder closed before the answer's end (its body cancelled, or not in its coding) lets the
  // answer go too: piped no further, it would hold its connection (and the host's slot) until the
  // peer closed it.
  decoder.once('close', () => {
    if (!response.readableEnded) response.destroy();
  });
  return response.pipe(decoder);
}

/**
 * The first chunk a decoder gives (null: it ended with none), or the error it failed with first:
 * an upstream that names a coding its body is not in fails the call before it is answered.
 */
function firstDecoded(source: Readable): Promise<Buffer | null | Error> {
  return new Promise((resolve) => {
    const settle = (value: Buffer | null | Error) => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      source.pause();
      settle(chunk);
    };
    const onEnd = () => settle(null);
    const onError = (error: Error) => settle(error);
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
  });
}

/**
 * The body as a web stream that reads the source only when its reader reads (highWaterMark 0),
 * after `first` when given. `idle` stops the upstream's idle timer while no read is pending (the
 * proxy is not reading: its client does not read, say) and starts it again with the next read,
 * so only the upstream's own silence counts.
 */
function bodyOf(source: Readable, failure: () => unknown, idle: (reading: boolean) => void, first?: Buffer | null): ReadableStream<Uint8Array> {
  let ended = false;
  const waiting = (reading: boolean) => {
    if (!ended) idle(reading);
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (first !== undefined) {
          if (first !== null) controller.enqueue(new Uint8Array(first.buffer, first.byteOffset, first.byteLength));
          else {
            ended = true;
            return controller.close();
          }
        }
        source.pause();
        waiting(false);
        // An event the source emits once the body was cancelled (its reader let it go: the proxy's
        // client closed) or failed is dropped: a 'data' or 'end' already on its way when cancel()
        // destroyed the source (they come on the next tick) would enqueue into, or close, a
        // stream that is closed, which throws out of the event (ERR_INVALID_STATE).
        source.on('data', (chunk: Buffer) => {
          if (ended) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) {
            source.pause();
            waiting(false);
          }
        });
        source.once('end', () => {
          if (ended) return;
          ended = true;
          controller.close();
        });
        const fail = () => {
          if (ended) return;
          ended = true;
          controller.error(failure());
        };
        source.once('error', fail);
        source.once('close', () => {
          // Closed before its end: the connection was cut or destroyed.
          if (!ended) fail();
        });
      },
      pull() {
        waiting(true);
        source.resume();
      },
      cancel() {
        ended = true;
        source.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The fetch, and close(): closes every connection (a call in flight fails). */
export function createNodeFetch(options: NodeFetchOptions): NodeFetch & { close(): void } {
  const { maxSockets, idleMs, words, beforeRequest, onResponse } = options;
  const http = new (options.HttpAgent ?? HttpAgent)({ keepAlive: true, maxSockets });
  const https = new (options.HttpsAgent ?? HttpsAgent)({ keepAlive: true, maxSockets });
  const httpSlots = new Slots(maxSockets);
  const httpsSlots = new Slots(maxSockets);
  const call: NodeFetch = (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') return reject(words.notHttp(url.protocol));
      const signal = init.signal ?? undefined;
      if (signal?.aborted === true) return reject(signal.reason);
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      const body = init.body === undefined || init.body === null ? undefined : (init.body as Uint8Array);
      if (body !== undefined) headers['content-length'] = String(body.byteLength);
      const agent = secure ? https : http;
      const slots = secure ? httpsSlots : httpSlots;
      const host = url.host;
      let answered = false;
      // As undici's fetch: a connection idle for the limit (no answer, or no next chunk) fails the
      // call, said as a timeout (the proxy's 504 before an answer; a run recorded `timeout`), not
      // as the connection closing.
      let silent: UpstreamSilent | undefined;
      const reason = () => (signal?.aborted === true ? signal.reason : (silent ?? new TypeError(answered ? 'terminated' : 'fetch failed')));
      let settled = false;
      let sentSaid = false;
      const onSent = () => {
        if (sentSaid) return;
        sentSaid = true;
        init.onSent?.();
      };
      /** The call's request, once it holds a connection slot of its host (Slots). */
      let current: ClientRequest | undefined;
      /** Fails a call that has no request yet (it waits for a slot): it leaves the queue, never sent. */
      const fail = (failure: unknown): void => {
        slots.leave(host, begin);
        clearTimeout(waiting);
        signal?.removeEventListener('abort', abort);
        onSent();
        if (settled) return;
        settled = true;
        reject(failure);
      };
      // The idle limit counts from the call, not from when it gets a connection: until Node arms
      // the connection's own timeout (a socket from the pool, or a new one connected), a timer of
      // the call's. A call that waits for a connection (all maxSockets of its host held) longer
      // than the limit fails as a silent upstream (the proxy's 504 before an answer, recorded
      // timeout), its UpstreamSilent naming the connections in use.
      const waiting =
        idleMs === undefined
          ? undefined
          : setTimeout(() => {
              if (current === undefined) {
                // Still waiting for one of its host's connections, all of them in use: said so, not as the upstream's silence.
                silent = new UpstreamSilent(idleMs, false, maxSockets);
                return fail(silent);
              }
              silent = new UpstreamSilent(idleMs, false);
              current.destroy(silent);
            }, idleMs);
      const armed = () => clearTimeout(waiting);
      const abort = () => {
        if (current === undefined) fail(signal!.reason);
        else current.destroy();
      };
      signal?.addEventListener('abort', abort, { once: true });
      /** Sends the call, holding a slot of its host (freed when its request closes). */
      function begin(): void {
        // Failed while the slot passed to it (on the next tick).
        if (settled) return slots.free(host);
        beforeRequest?.(agent);
        let request: ClientRequest;
        try {
          request = (secure ? httpsRequest : httpRequest)(url, { method: init.method ?? 'GET', headers, agent });
        } catch (error) {
          slots.free(host);
          return fail(error);
        }
        current = request;
        request.once('close', () => {
          armed();
          signal?.removeEventListener('abort', abort);
          slots.free(host);
        });
        if (idleMs !== undefined) request.setTimeout(idleMs, () => request.destroy((silent = new UpstreamSilent(idleMs, answered))));
        request.once('socket', (socket: Duplex & { connecting?: boolean }) => {
          if (socket.connecting === true) socket.once('connect', armed);
          else armed();
        });
        request.once('error', (error: NodeJS.ErrnoException) => {
          onSent();
          if (answered || settled) return;
          settled = true;
          if (signal?.aborted === true) return reject(signal.reason);
          if (silent !== undefined) return reject(silent);
          // Why, in the words an operator can act on (the 502 carries it): the system's error code.
          const code = errorCode(error);
          reject(new TypeError(`fetch failed: ${connectionFailure(code)}${code === undefined ? '' : ` (${code})`}`));
        });
        if (init.onSent !== undefined) request.once('finish', onSent);
        // An unasked-for 101 Switching Protocols (or any Upgrade answer) is no answer to the call:
        // without an 'upgrade' listener Node destroys the connection and emits neither 'response'
        // nor 'error', which would hold the call for ever. The connection is closed, the call fails
        // as a network error (the proxy's 502).
        request.once('upgrade', (response: IncomingMessage, socket: Duplex) => {
          socket.destroy();
          onSent();
          settled = true;
          if (signal?.aborted === true) return reject(signal.reason);
          reject(words.switchingProtocols());
        });
        // Closed with neither an answer nor an error (a case Node does not report otherwise).
        request.once('close', () => {
          if (answered || settled) return;
          settled = true;
          onSent();
          reject(signal?.aborted === true ? signal.reason : (silent ?? new TypeError(`fetch failed: ${connectionFailure('ECONNRESET')} (ECONNRESET)`)));
        });
        request.once('response', (response) => {
          answered = true;
          onResponse?.(response);
          const status = response.statusCode ?? 0;
          const responseHeaders = new Headers();
          const raw = response.rawHeaders;
          try {
            for (let i = 0; i + 1 < raw.length; i += 2) responseHeaders.append(raw[i]!, raw[i + 1]!);
          } catch {
            response.destroy();
            return reject(new TypeError(`fetch failed: ${words.peer} answered a header fetch does not accept`));
          }
          if (NULL_BODY.has(status) || init.method === 'HEAD') {
            // A 101 without Upgrade headers comes as an answer: no Response carries it.
            if (status === 101) {
              response.destroy();
              return reject(words.switchingProtocols());
            }
            response.resume();
            try {
              return resolve(new Response(null, { status, statusText: response.statusMessage ?? '', headers: responseHeaders }));
            } catch {
              response.destroy();
              return reject(new TypeError(`fetch failed: ${words.peer} answered an invalid HTTP status (${status})`));
            }
          }
          const source = decoded(response);
          if (source === undefined) {
            response.destroy();
            const coding = (response.headers['content-encoding'] ?? '').trim().toLowerCase().slice(0, 32).replace(/[^a-z0-9,. -]/g, '?');
            return reject(new TypeError(`fetch failed: ${words.peer} answered in a content coding runprint cannot decode (${coding})`));
          }
          // During the body the idle limit is a timer of its own, not the connection's: it runs only
          // while the proxy waits for the upstream's next bytes (a read pending) and the answer has
          // not arrived whole, and starts again with each chunk. The proxy that reads no further (its
          // client does not read: backpressure up to the upstream) does not make the upstream silent.
          if (idleMs !== undefined) request.setTimeout(0);
          let timer: ReturnType<typeof setTimeout> | undefined;
          const idle = (reading: boolean) => {
            if (idleMs === undefined) return;
            if (reading && !response.complete && !request.destroyed) {
              if (timer === undefined) timer = setTimeout(() => request.destroy((silent = new UpstreamSilent(idleMs, true))), idleMs);
              else timer.refresh();
            } else if (timer !== undefined) {
              clearTimeout(timer);
              timer = undefined;
            }
          };
          response.on('data', () => timer?.refresh());
          request.once('close', () => idle(false));
          // Until the body is read (a coded body: until its first bytes decode).
          idle(true);
          const answer = (first?: Buffer | null) => {
            try {
              resolve(new Response(bodyOf(source, reason, idle, first), { status, statusText: response.statusMessage ?? '', headers: responseHeaders }));
            } catch {
              response.destroy();
              // Node's parser reads any three digits; a Response takes 200 to 599 (1xx are interim, read apart).
              reject(new TypeError(`fetch failed: ${words.peer} answered an invalid HTTP status (${status})`));
            }
          };
          if (source === response) return answer();
          // A coded body is answered once its first bytes decode: one not in the coding its header
          // names fails the call (a 502 from the proxy), not the client's connection after a 200.
          void firstDecoded(source).then((first) => {
            if (!(first instanceof Error)) return answer(first);
            response.destroy();
            const coding = (response.headers['content-encoding'] ?? '').trim().toLowerCase();
            reject(signal?.aborted === true ? signal.reason : (silent ?? new TypeError(`fetch failed: ${words.peer}'s body is not valid ${coding} data, as its content-encoding says`)));
          });
        });
        request.end(body);
      }
      if (slots.take(host, begin)) begin();
    });
  return Object.assign(call, {
    close: () => {
      http.destroy();
      https.destroy();
    },
  });
}
