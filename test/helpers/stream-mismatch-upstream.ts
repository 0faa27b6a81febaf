/**
 * An upstream whose answers do not match what the request asked: a streamed request gets a JSON
 * error (400), a plain one a text/plain 500. For checks that something is read from the request,
 * not from the answer (gen_ai.request.stream).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startStreamMismatchUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean };
      if (body.stream === true) response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"no streaming today","type":"invalid_request_error"}}');
      else response.writeHead(500, { 'content-type': 'text/plain' }).end('upstream broke');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
