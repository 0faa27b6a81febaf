/**
 * A fetch of at most `maxSockets` connections per host, kept open and reused (node-http/node-fetch.ts,
 * the one serve's proxy calls its upstreams through): a request past them waits for a free
 * connection, in the fetch's own queue, not the agent's, so one whose signal aborts while it waits
 * (the outbox's time limit, or its close) leaves at once, never sent and never kept. The global
 * fetch has no such cap: eight requests at a time open a dozen connections and more, a new one
 * whenever the next request comes before the last one's connection was marked free. The log outbox
 * (log-outbox.ts) reaches the log through one, so an outbox never holds more than its few
 * connections, however many serves share a host and a log's per-client cap. What log/client.ts asks
 * of fetch only: a method, headers, a body of bytes, a signal; no redirect is followed (the
 * outbox's POSTs follow none, and a 3xx to a read is an answer it does not take either).
 */
import type { Fetch } from '../log/client.ts';
import { createNodeFetch, type NodeFetchWords } from '../node-http/node-fetch.ts';

export interface CappedFetch {
  fetch: Fetch;
  /** Closes every connection (a request in flight fails). */
  close(): void;
}

/** The outbox's words for what it does not take (log/client.ts says the log cannot be reached). */
const WORDS: NodeFetchWords = {
  peer: 'the log',
  notHttp: (protocol) => new TypeError(`not an HTTP URL: ${protocol}`),
  switchingProtocols: () => new TypeError('fetch failed: the log answered 101 Switching Protocols, which is no answer to a log request'),
};

export function cappedFetch(maxSockets: number): CappedFetch {
  // No idle limit of its own: each outbox request has its time limit in its signal.
  const capped = createNodeFetch({ maxSockets, words: WORDS });
  return { fetch: capped, close: capped.close };
}
