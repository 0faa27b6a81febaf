/**
 * What serve says of a host: a --host it cannot listen on is named on one line, cut to 80
 * characters with its control characters escaped (README: errors are one line, names as given
 * cut and escaped), and on a loopback address a request refused for its Host header (421
 * ERR_HTTP_HOST_NOT_ALLOWED) is told why: no Host header at all (HTTP/1.0 may send none), one
 * that is not a host name, or one that names another host. Real `runprint serve` processes,
 * requests over raw sockets.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-serve-host-');
after(() => endServeTest(undefined, scratch));

test('a --host serve cannot listen on is named on one line, cut to 80 characters, its control characters escaped', async () => {
  const data = join(scratch.tempDir(), 'data');
  const escapes = await runRunprint(['serve', '--host', 'a\u001b[31mRED\nline2', '--port', '0', '--data', data]);
  assert.deepEqual(escapes, { code: 4, stdout: '', stderr: 'runprint: ERR_HTTP_LISTEN: cannot listen on that address (a\\u001b[31mRED\\u000aline2:0)\n' });
  const long = await runRunprint(['serve', '--host', 'h'.repeat(2000), '--port', '0', '--data', data]);
  assert.deepEqual(long, { code: 4, stdout: '', stderr: `runprint: ERR_HTTP_LISTEN: cannot listen on that address (${'h'.repeat(80)}…:0)\n` });
});

/** Sends `text` on a new connection and resolves with everything serve answered once it closes. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(text);
  });
}

/** The status and the JSON error of an answer. */
function refusal(answer: string): { status: number; error: { code: string; message: string } } {
  const status = Number(/^HTTP\/1\.1 ([0-9]{3}) /.exec(answer)?.[1]);
  return { status, error: (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } }).error };
}

test('on loopback, a request refused for its Host header is told whether the header is missing, not a host name, or names another host', async () => {
  const serve = await startServe({ data: join(scratch.tempDir(), 'data'), args: ['--no-capture'] });
  try {
    const answers = (message: string) => ({ status: 421, error: { code: 'ERR_HTTP_HOST_NOT_ALLOWED', message: `this server answers only for 127.0.0.1, localhost, ::1 (${message})` } });
    // HTTP/1.0 needs no Host header (HTTP/1.1 without one is 400, as before).
    assert.deepEqual(refusal(await exchange(serve.port, 'GET /healthz HTTP/1.0\r\n\r\n')), answers('the request has no Host header'));
    assert.deepEqual(refusal(await exchange(serve.port, 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:notaport\r\n\r\n')), answers('the Host header is not a host name'));
    assert.deepEqual(refusal(await exchange(serve.port, 'GET /healthz HTTP/1.0\r\nHost: rebinding.example\r\n\r\n')), answers('the Host header names another'));
    assert.deepEqual(refusal(await exchange(serve.port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')), { status: 400, error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'an HTTP/1.1 request must carry a Host header' } });
    // An allowed Host over HTTP/1.0 is served.
    assert.match(await exchange(serve.port, 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n'), /^HTTP\/1\.1 200 /);
  } finally {
    await serve.stop();
  }
});
