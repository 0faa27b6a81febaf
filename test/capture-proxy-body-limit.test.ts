/**
 * The proxy's request body limit, 32 MiB (docs/CAPTURE.md, "What passes through"), in a real
 * `runprint serve` with the fake upstream behind it: a body over it is refused with 413
 * ERR_HTTP_BODY_TOO_LARGE and the connection closed, whether its length is declared or it comes
 * chunked; it is not forwarded and no run is recorded. A body of exactly 32 MiB goes through.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const LIMIT = 32 * 1024 * 1024;
let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch = scratchFolders('runprint-proxy-body-limit-');

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POSTs a JSON body of `size` bytes to `path` over node:http, with Content-Length or chunked (1
 * MiB chunks). `refused`: the server is expected to answer before the body ends, so the request
 * is not ended and, with Content-Length, no body byte is sent at all; the answer is read before
 * anything more is written (a client that goes on writing into the closed connection may see its
 * write fail, EPIPE or ECONNRESET, and never read the 413).
 */
function post(path: string, size: number, how: { chunked: boolean; refused: boolean }): Promise<Answer> {
  // {"model":"gpt-4o","messages":[{"role":"user","content":"xxx…"}]}, `size` bytes in all.
  const head = Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"');
  const tail = Buffer.from('"}]}');
  const body = Buffer.alloc(size, 'x');
  head.copy(body, 0);
  tail.copy(body, size - tail.length);
  return new Promise((resolve, reject) => {
    const call = request(`${serve.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-body-limit', ...(how.chunked ? {} : { 'content-length': String(size) }) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (how.refused) call.destroy();
      });
      response.on('error', reject);
    });
    call.on('error', reject);
    if (how.refused && !how.chunked) return void call.flushHeaders();
    for (let at = 0; at < size; at += 1 << 20) call.write(body.subarray(at, Math.min(size, at + (1 << 20))));
    if (!how.refused) call.end();
  });
}

async function runCount(): Promise<number> {
  const response = await fetch(`${serve.base}/v1/runs/counts`);
  return ((await response.json()) as { runs: number }).runs;
}

test('a request body over 32 MiB: 413 ERR_HTTP_BODY_TOO_LARGE, connection closed, not forwarded, not recorded', async () => {
  const forwarded = upstream.requests.length;
  const runs = await runCount();
  for (const chunked of [false, true]) {
    const answer = await post('/openai/v1/chat/completions', LIMIT + 1, { chunked, refused: true });
    assert.equal(answer.status, 413, `chunked ${chunked}`);
    assert.deepEqual(JSON.parse(answer.body), { error: { code: 'ERR_HTTP_BODY_TOO_LARGE', message: `request body is larger than ${LIMIT} bytes` } });
    assert.equal(answer.headers['connection'], 'close');
    assert.equal(answer.headers['runprint-capture-id'], undefined, 'no capture: nothing to look up');
  }
  const passThrough = await post('/openai/v1/files', LIMIT + 1, { chunked: false, refused: true });
  assert.equal(passThrough.status, 413, 'a pass-through path has the same limit');
  assert.equal(upstream.requests.length, forwarded, 'nothing reached the upstream');
  assert.equal(await runCount(), runs, 'no run was recorded');
});

test('a request body of exactly 32 MiB goes upstream whole', async () => {
  const forwarded = upstream.requests.length;
  // A pass-through path: forwarded as is, not identified (the fake answers it 404).
  const answer = await post('/openai/v1/files', LIMIT, { chunked: true, refused: false });
  assert.equal(answer.status, 404);
  await upstream.settled();
  assert.equal(upstream.requests.length, forwarded + 1);
  assert.equal(upstream.requests.at(-1)!.body.length, LIMIT);
});

test('Expect: 100-continue with a declared length over 32 MiB: 413 at once, never 100 Continue, nothing forwarded', async () => {
  const forwarded = upstream.requests.length;
  const text = await new Promise<string>((resolve) => {
    const socket = connect({ port: serve.port, host: '127.0.0.1' });
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.setEncoding('latin1').on('data', (part: string) => (answer += part));
    socket.on('error', () => undefined).on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(`POST /openai/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT + 1}\r\nExpect: 100-continue\r\n\r\n`);
  });
  assert.match(text, /^HTTP\/1\.1 413 /, 'the final answer first, no 100 Continue');
  assert.doesNotMatch(text, /100 Continue/);
  assert.match(text, /"code":"ERR_HTTP_BODY_TOO_LARGE"/);
  assert.equal(upstream.requests.length, forwarded, 'nothing reached the upstream');
});
