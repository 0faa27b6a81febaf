/**
 * An upstream that sent nothing for the idle limit of serve's upstream fetch
 * (server/upstream-fetch.ts): before its answer, or between two chunks of its body, or, before it
 * was sent, while the call waited that long for a connection (`connections`). Named
 * `TimeoutError`, so a call that ends by it is recorded with outcome `timeout`
 * (capture/observe-body.ts), and a TypeError, as fetch's other failures are: "fetch failed: ..."
 * before an answer (what replay says of the upstream), "terminated: ..." during its body. The
 * capture proxy answers a call that got no answer 504 ERR_CAPTURE_UPSTREAM_TIMEOUT.
 */
export class UpstreamSilent extends TypeError {
  override name = 'TimeoutError';
  /** The idle limit, in ms. */
  readonly idleMs: number;
  /** True when the upstream had answered (it went silent during its body). */
  readonly answered: boolean;
  /**
   * Set when the call never had a connection: it waited the whole limit for one of the host's
   * connections, all `connections` of them (the most a host gets) in use meanwhile. Never sent.
   */
  readonly connections: number | undefined;
  constructor(idleMs: number, answered: boolean, connections?: number) {
    super(
      connections === undefined
        ? `${answered ? 'terminated' : 'fetch failed'}: the upstream sent nothing for ${durationOf(idleMs)} (the idle limit)`
        : `fetch failed: no connection to the upstream came free within ${durationOf(idleMs)} (the idle limit; ${connections} connection${connections === 1 ? '' : 's'} in use)`,
    );
    this.idleMs = idleMs;
    this.answered = answered;
    this.connections = connections;
  }
}

/** `300 s`, or `1500 ms` where the limit is not whole seconds. */
export function durationOf(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
