/**
 * The proxy's calls to its upstreams over node:http and node:https, in the shape of `fetch` (the
 * proxy core stays free of node:*), through node-http/node-fetch.ts (which the log outbox's fetch
 * shares), with the proxy's own words, idle limits and kept connections on top of it: a
 * `Response` whose body is the upstream's bytes, chunk by chunk as they arrive, read only as fast as the proxy reads them. It does what the proxy asks of
 * fetch and no more, at about a third of undici's CPU per call: no redirects (the proxy returns
 * them), no cookies, no cache. Like fetch it asks for no content coding of its own and decodes
 * gzip, deflate and br when the upstream uses one anyway (the proxy then drops the coding header);
 * a coding it cannot decode fails the call as a network error. Errors are fetch's: the signal's
 * reason when it aborted, else a TypeError ("fetch failed" before an answer, "terminated" after);
 * an upstream silent for the idle limit (idleMs), before its answer or during its body, fails the
 * call with UpstreamSilent, a TypeError named TimeoutError; the silence counts from the call, so a
 * call that waits that long for a connection (maxSockets busy, or one that does not connect) fails
 * so too (one that never had a connection, all maxSockets in use, says so: `connections`).
 *
 * Connections are kept open between calls, each for at most its idle limit (idleLimitMs): a
 * connection idle longer is closed, by a timer when the event loop is free, and by the clock
 * before each call (closeStale) when the loop was too busy for that timer and for reading the
 * upstream's own close: reusing a connection the upstream has just closed fails the call, which is
 * not sent again (a POST may be billed twice).
 */
import { Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import { createNodeFetch, type NodeFetch, type NodeFetchInit, type NodeFetchWords } from '../node-http/node-fetch.ts';

/** How long a connection may stay idle during a call (undici's headers and body timeouts). */
const IDLE_MS = 300_000;

/** An idle connection's limit without a `Keep-Alive: timeout` from the upstream, and at most (undici's keepAliveTimeout and keepAliveMaxTimeout). */
const IDLE_DEFAULT_MS = 4_000;
const IDLE_MAX_MS = 600_000;
/** Taken off the upstream's announced timeout: its close may be on its way already (undici's keepAliveTimeoutThreshold). */
const IDLE_MARGIN_MS = 2_000;

/** On a connection: its answer's Keep-Alive header, when it was freed (performance.now()), and how long it may then stay idle. */
const kKeepAlive = Symbol('keep-alive');
const kFreedAt = Symbol('freed at');
const kIdleLimit = Symbol('idle limit');
type Pooled = Duplex & { [kKeepAlive]?: string | undefined; [kFreedAt]?: number; [kIdleLimit]?: number };

/**
 * How long a connection may stay idle before it is reused, in ms, after an answer with this
 * Keep-Alive header: the upstream's `timeout=N` less 2 s (0: do not keep it), or 4 s without one,
 * at most 600 s.
 */
export function idleLimitMs(keepAlive: string | undefined): number {
  const hint = keepAlive === undefined ? undefined : /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(keepAlive)?.[1];
  if (hint === undefined) return IDLE_DEFAULT_MS;
  return Math.min(IDLE_MAX_MS, Math.max(0, Number(hint) * 1000 - IDLE_MARGIN_MS));
}

/** Keeps a freed connection with its idle limit, closed by a timer then (Node's agent, without its own `timeout` option, sets none). */
function keep(socket: Pooled, kept: boolean): boolean {
  const limit = idleLimitMs(socket[kKeepAlive]);
  if (!kept || limit === 0) return false;
  socket[kFreedAt] = performance.now();
  socket[kIdleLimit] = limit;
  // On 'timeout' the agent destroys a free connection.
  (socket as Duplex & { setTimeout(ms: number): unknown }).setTimeout(limit);
  return true;
}

class UpstreamHttpAgent extends HttpAgent {
  override keepSocketAlive(socket: Duplex): boolean {
    return keep(socket, (super.keepSocketAlive(socket) as unknown) !== false);
  }
}

class UpstreamHttpsAgent extends HttpsAgent {
  override keepSocketAlive(socket: Duplex): boolean {
    return keep(socket, (super.keepSocketAlive(socket) as unknown) !== false);
  }
}

/**
 * Closes every free connection of the agent idle longer than its limit by the clock, and takes it
 * out of the pool at once ('agentRemove'): the agent skips a closed connection only at the front
 * of its list and would hand out one behind it. Every host's list, not only the one the call goes
 * to: the agent's name for a host depends on options it settles itself (the TLS server name from
 * the Host header, the default port), and the lists hold only idle connections.
 */
function closeStale(agent: HttpAgent): void {
  const now = performance.now();
  const pools = agent.freeSockets as Record<string, Pooled[] | undefined>;
  for (const name in pools) {
    const free = pools[name];
    if (free === undefined) continue;
    // From the end: a removal takes the connection out of this list.
    for (let i = free.length - 1; i >= 0; i--) {
      const socket = free[i]!;
      if (!socket.destroyed && now - (socket[kFreedAt] ?? now) <= (socket[kIdleLimit] ?? IDLE_DEFAULT_MS)) continue;
      socket.destroy();
      socket.emit('agentRemove');
    }
  }
}

export type UpstreamFetch = NodeFetch;

/** fetch's init, and `onSent`: called once the request's last byte is handed to the connection (a new one opened first), or the request failed. */
export type UpstreamInit = NodeFetchInit;

export interface UpstreamFetchOptions {
  /** Connections per upstream host at most (default 256): calls past it wait for one, oldest first. */
  maxSockets?: number;
  /**
   * Longest the upstream may send nothing during a call, before its answer or between two chunks
   * of its body, in ms (default 300 s, as undici's fetch): the call then fails with UpstreamSilent.
   * Counted from the call: a wait for a connection (all maxSockets busy) counts.
   */
  idleMs?: number;
}

/** The proxy's words for what it does not take (its 502 carries them). */
const WORDS: NodeFetchWords = {
  peer: 'the upstream',
  notHttp: () => new TypeError('fetch failed: not an http(s) URL'),
  switchingProtocols: () => new TypeError('fetch failed: the upstream answered 101 Switching Protocols, which the proxy does not take'),
};

/** Notes an answer's Keep-Alive header on its connection: its idle limit once it is freed (keep). */
function noteKeepAlive(response: IncomingMessage): void {
  const keepAlive = response.headers['keep-alive'];
  (response.socket as Pooled)[kKeepAlive] = typeof keepAlive === 'string' ? keepAlive : undefined;
}

export function createUpstreamFetch(options: UpstreamFetchOptions = {}): UpstreamFetch & { close(): void; reportsSent: true } {
  const call = createNodeFetch({
    maxSockets: options.maxSockets ?? 256,
    idleMs: options.idleMs ?? IDLE_MS,
    words: WORDS,
    HttpAgent: UpstreamHttpAgent,
    HttpsAgent: UpstreamHttpsAgent,
    beforeRequest: closeStale,
    onResponse: noteKeepAlive,
  });
  return Object.assign(call, { reportsSent: true as const });
}
