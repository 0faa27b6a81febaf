/**
 * The caps on open connections (serve's --max-connections, --max-client-connections): a
 * connection past one is not served, but answered with a JSON refusal and closed, and counted, so
 * that neither the client nor the operator is left with a bare closed socket and no trace.
 */
import type { Socket } from 'node:net';
import { RunprintError } from '../errors.ts';
import type { ClientLimits } from './client-limits.ts';

/** Which cap refused a connection: the server's (`connections`) or its client address's (`clientConnections`). */
export type ConnectionCap = 'connections' | 'clientConnections';

/** Connections refused since the server started, by cap; `unanswered` of them were closed with no answer. */
export interface RefusedConnections {
  /** Past maxConnections: answered 503 ERR_HTTP_BUSY. */
  readonly connections: number;
  /** Past maxClientConnections: answered 429 ERR_HTTP_TOO_MANY_REQUESTS. */
  readonly clientConnections: number;
  /** Of both, those closed at once with no answer: MAX_REFUSING were being answered already. */
  readonly unanswered: number;
}

/**
 * Refused connections being answered at once, at most: past it a refused connection is closed at
 * once (still counted), so a flood of them holds few file descriptors (serve keeps 64 spare
 * beside its default --max-connections).
 */
export const MAX_REFUSING = 32;

/**
 * Longest a refused connection stays open, in ms: its request's headers are read, answered with
 * the refusal and `connection: close`, and the connection is closed once the answer is written and
 * the request's body (never served) read and discarded, so a client still sending it gets the
 * refusal; a client that sends no request in this time, keeps sending or keeps its end open, is cut.
 */
export const REFUSING_MS = 1000;

/** The answer to a request on a connection refused by `cap`. */
export function refusalFor(cap: ConnectionCap, max: number): RunprintError {
  return cap === 'connections'
    ? new RunprintError('ERR_HTTP_BUSY', `the server has as many connections open as it takes (${max}, --max-connections); retry later`)
    : new RunprintError('ERR_HTTP_TOO_MANY_REQUESTS', `too many connections open from this client address (${max}, --max-client-connections); retry later`);
}

export class ConnectionCaps {
  readonly #max: number;
  readonly #maxClient: number;
  readonly #limits: ClientLimits;
  readonly #onRefuse: ((cap: ConnectionCap) => void) | undefined;
  /** Connections served (not refused) now. */
  #open = 0;
  /** Refused connections being answered now. */
  #refusing = 0;
  readonly #refused = { connections: 0, clientConnections: 0, unanswered: 0 };
  /** The cap that refused each connection still being answered. */
  readonly #caps = new WeakMap<Socket, ConnectionCap>();

  /** `max` 0: no server-wide cap (the per-client one is `limits`', of `maxClient` connections). */
  constructor(options: { max: number; maxClient: number; limits: ClientLimits; onRefuse?: (cap: ConnectionCap) => void }) {
    this.#max = options.max;
    this.#maxClient = options.maxClient;
    this.#limits = options.limits;
    this.#onRefuse = options.onRefuse;
  }

  /**
   * Takes a new connection: counts it open until it closes, or, past a cap, counts it refused and
   * leaves it to be answered with refusalOf (closed at once when MAX_REFUSING are being answered,
   * and after REFUSING_MS whatever the client does).
   */
  accept(socket: Socket): void {
    const client = socket.remoteAddress ?? '';
    const cap: ConnectionCap | undefined = this.#max > 0 && this.#open >= this.#max ? 'connections' : this.#limits.openConnection(client) ? undefined : 'clientConnections';
    if (cap === undefined) {
      this.#open += 1;
      socket.once('close', () => {
        this.#open -= 1;
        this.#limits.closeConnection(client);
      });
      return;
    }
    this.#refused[cap] += 1;
    try {
      this.#onRefuse?.(cap);
    } catch {
      // The operator's report must not fail the connection's handling.
    }
    if (this.#refusing >= MAX_REFUSING) {
      this.#refused.unanswered += 1;
      return void socket.destroy();
    }
    this.#refusing += 1;
    this.#caps.set(socket, cap);
    const cut = setTimeout(() => socket.destroy(), REFUSING_MS);
    cut.unref();
    socket.once('close', () => {
      clearTimeout(cut);
      this.#refusing -= 1;
    });
  }

  /** The answer owed to a request on `socket` when it was refused, else undefined (it is served). */
  refusalOf(socket: Socket): RunprintError | undefined {
    const cap = this.#caps.get(socket);
    return cap === undefined ? undefined : refusalFor(cap, cap === 'connections' ? this.#max : this.#maxClient);
  }

  /** Connections refused so far. */
  get refused(): RefusedConnections {
    return { ...this.#refused };
  }
}
