/**
 * A fetch of at most `maxSockets` connections per host, kept open and reused (node:http's Agent,
 * whose maxSockets is a hard cap: a request past it waits for a free connection). The global fetch
 * has no such cap: eight requests at a time open a dozen connections and more, a new one whenever
 * the next request comes before the last one's connection was marked free. The log outbox
 * (log-outbox.ts) reaches the log through one, so an outbox never holds more than its few
 * connections, however many serves share a host and a log's per-client cap. What log/client.ts asks
 * of fetch only: a method, headers, a body of bytes, a signal; no redirect is followed (the
 * outbox's POSTs follow none, and a 3xx to a read is an answer it does not take either).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { Fetch } from '../log/client.ts';

/** Statuses whose answer has no body (a Response refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export interface CappedFetch {
  fetch: Fetch;
  /** Closes every connection (a request in flight fails). */
  close(): void;
}

export function cappedFetch(maxSockets: number): CappedFetch {
  const agents = { http: new HttpAgent({ keepAlive: true, maxSockets }), https: new HttpsAgent({ keepAlive: true, maxSockets }) };
  const capped: Fetch = (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') return reject(new TypeError(`not an HTTP URL: ${url.protocol}`));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      const body = init.body === undefined || init.body === null ? undefined : (init.body as Uint8Array);
      if (body !== undefined) headers['content-length'] = String(body.byteLength);
      const options = { method: init.method ?? 'GET', headers, agent: secure ? agents.https : agents.http, ...(init.signal === undefined || init.signal === null ? {} : { signal: init.signal }) };
      const answered = (response: IncomingMessage) => {
        try {
          const status = response.statusCode ?? 0;
          const answerHeaders = new Headers();
          for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) answerHeaders.append(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
          if (NULL_BODY.has(status)) {
            response.resume();
            return resolve(new Response(null, { status, headers: answerHeaders }));
          }
          resolve(new Response(Readable.toWeb(response) as ReadableStream<Uint8Array>, { status, headers: answerHeaders }));
        } catch (error) {
          // A status or header a Response cannot hold (a status past 599, say): no answer of HTTP.
          response.destroy();
          reject(error);
        }
      };
      const request = secure ? httpsRequest(url, options, answered) : httpRequest(url, options, answered);
      request.on('error', reject);
      request.end(body);
    });
  return {
    fetch: capped,
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
