/**
 * A request body with a transfer coding other than chunked alone ("gzip, chunked"): Node's parser
 * frames the chunks and leaves the gzip to the application, which decodes none, so the body would
 * be read still coded (the capture proxy forwarded it upstream as a plain body and recorded it as
 * invalid UTF-8). The server refuses it with 400 ERR_HTTP_BAD_REQUEST naming the coding; chunked
 * alone is still read.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createApp } from '../src/server/app.ts';
import { listen, type Listening } from '../src/server/listen.ts';
import { parseAnswer } from './helpers/raw-answer.ts';

let server: Listening;
before(async () => {
  server = await listen(createApp(), { host: '127.0.0.1', port: 0 });
});
after(() => server.close());

/** Sends `head` and `body` on a fresh connection and reads the answer to the connection's close (or 5 s). */
function exchange(head: string, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: server.port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const guard = setTimeout(() => socket.end(), 5_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      // One whole answer is enough: the server may keep the connection open after a 200.
      if (text.includes('\r\n\r\n') && parseAnswer(text).whole) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(head);
    socket.write(body);
  });
}

const chunked = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n0\r\n\r\n')]);
const composition = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));

test('a body with a transfer coding before chunked is refused with 400 ERR_HTTP_BAD_REQUEST naming it', async () => {
  for (const coding of ['gzip, chunked', 'deflate,chunked', 'x-unknown, chunked']) {
    const answer = parseAnswer(await exchange(`POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: ${coding}\r\n\r\n`, chunked(gzipSync(composition))));
    assert.equal(answer.status, 400, coding);
    const error = (JSON.parse(answer.body) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'ERR_HTTP_BAD_REQUEST');
    assert.match(error.message, new RegExp(`transfer coding "${coding}" is not served`));
  }
});

test('a chunked body alone is still read', async () => {
  const answer = parseAnswer(await exchange(`POST /v1/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, chunked(composition)));
  assert.equal(answer.status, 200, answer.body);
  assert.match((JSON.parse(answer.body) as { requestId: string }).requestId, /^rp-req-/);
});
