/** Per-client caps on open connections and requests in progress, keyed by remote address. */

export class ClientLimits {
  readonly #maxConnections: number;
  readonly #maxRequests: number;
  readonly #maxLarge: number;
  readonly #connections = new Map<string, number>();
  readonly #requests = new Map<string, number>();
  readonly #large = new Map<string, number>();

  /**
   * 0 turns a cap off (behind a proxy every client has the proxy's address). `large` caps the
   * requests in progress on a route that takes a large body (each may hold tens of MB).
   */
  constructor(caps: { connections: number; requests: number; large: number }) {
    this.#maxConnections = caps.connections;
    this.#maxRequests = caps.requests;
    this.#maxLarge = caps.large;
  }

  /** Counts a new connection of `client`; false (and not counted) when it has as many as allowed. */
  openConnection(client: string): boolean {
    return take(this.#connections, client, this.#maxConnections);
  }

  closeConnection(client: string): void {
    give(this.#connections, client);
  }

  /** Counts a new request of `client`; false (and not counted) when it has as many in progress as allowed. */
  startRequest(client: string): boolean {
    return take(this.#requests, client, this.#maxRequests);
  }

  endRequest(client: string): void {
    give(this.#requests, client);
  }

  /** Counts a request of `client` on a large-body route; false (and not counted) at the cap. */
  startLarge(client: string): boolean {
    return take(this.#large, client, this.#maxLarge);
  }

  endLarge(client: string): void {
    give(this.#large, client);
  }
}

function take(counts: Map<string, number>, client: string, max: number): boolean {
  const now = counts.get(client) ?? 0;
  if (max > 0 && now >= max) return false;
  counts.set(client, now + 1);
  return true;
}

function give(counts: Map<string, number>, client: string): void {
  const now = counts.get(client) ?? 0;
  if (now <= 1) counts.delete(client);
  else counts.set(client, now - 1);
}
