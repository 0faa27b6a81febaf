/**
 * A loopback link in front of a runprint log, for tests of a serve that delivers receipts to it:
 * forwards every request (method, URL, content-type and authorization, body) and passes the log's
 * answer back, but may delay, hold or replace its answers to receipt submissions.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the link does with the log's answer to a submission: pass it on (undefined), keep it from the sender, or answer this instead. */
export type SubmissionAnswer = undefined | 'hold' | { status: number; body: string };

export interface LinkOptions {
  /** How long to wait before forwarding a submission, in ms, asked for each one; with it, other requests are forwarded on the next turn of the event loop, without it at once. */
  delayMs?: () => number;
  /** Called with each submission's receipt and the log's answer to it. */
  onSubmission?: (receipt: Buffer, status: number, answer: Buffer) => SubmissionAnswer;
}

export interface LogLink {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Closes the link and every connection through it (once; later calls wait for the same close). */
  close(): Promise<void>;
}

export async function logLink(target: string, options: LinkOptions = {}): Promise<LogLink> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const submission = request.method === 'POST' && request.url?.startsWith('/v1/log/entries') === true;
      const forward = () => {
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'authorization']) if (typeof request.headers[name] === 'string') headers[name] = request.headers[name];
        fetch(`${target}${request.url}`, { method: request.method!, headers, ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks) }) })
          .then(async (answer) => {
            const body = Buffer.from(await answer.arrayBuffer());
            const instead = submission ? options.onSubmission?.(Buffer.concat(chunks), answer.status, body) : undefined;
            if (instead === 'hold') return;
            if (instead !== undefined) {
              response.writeHead(instead.status, { 'content-type': 'application/json' });
              response.end(instead.body);
              return;
            }
            response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' });
            response.end(body);
          })
          .catch(() => response.destroy());
      };
      if (options.delayMs === undefined) forward();
      else setTimeout(forward, submission ? options.delayMs() : 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => (closing ??= new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    })),
  };
}
