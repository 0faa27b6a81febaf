/** Serves a fetch-style app on a Node HTTP socket; only the CLI calls this. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { RunprintError } from '../errors.ts';
import type { App } from './app.ts';

export interface Listening {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function listen(app: App, options: { host: string; port: number }): Promise<Listening> {
  const server = createServer((incoming, outgoing) => {
    void bridge(app, incoming, outgoing, options.host);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'address is already in use' : 'cannot listen on that address';
      reject(new RunprintError('ERR_HTTP_LISTEN', `${reason} (${options.host}:${options.port})`));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    host: options.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function bridge(app: App, incoming: IncomingMessage, outgoing: ServerResponse, host: string): Promise<void> {
  try {
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (Array.isArray(value)) for (const item of value) headers.append(name, item);
      else if (value !== undefined) headers.set(name, value);
    }
    const method = incoming.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const request = new Request(new URL(incoming.url ?? '/', `http://${host}`), {
      method,
      headers,
      ...(hasBody ? { body: Readable.toWeb(incoming) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
    } as RequestInit);
    const response = await app.fetch(request);
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body === null || method === 'HEAD') outgoing.end();
    else await Readable.fromWeb(response.body as import('node:stream/web').ReadableStream).pipe(outgoing);
  } catch {
    if (!outgoing.headersSent) {
      outgoing.writeHead(500, { 'content-type': 'application/json' });
      outgoing.end(JSON.stringify({ error: { code: 'ERR_INTERNAL', message: 'unexpected failure' } }));
    } else outgoing.destroy();
  }
}
