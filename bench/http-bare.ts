/**
 * The baseline of bench/http.ts: a bare node:http server with the same two routes, no limits, no
 * Request/Response objects, the identity computed in this thread. Prints its port on stdout.
 */
import { createServer } from 'node:http';
import { identityAnswer } from '../src/server/identity-answer.ts';

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/healthz') {
    const body = JSON.stringify({ status: 'ok', version: '0.1.0' });
    response.writeHead(200, { 'content-type': 'application/json' });
    return void response.end(body);
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const answer = identityAnswer(Buffer.concat(chunks), 'openai-chat', 100_000);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(answer);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
