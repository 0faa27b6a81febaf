/**
 * A client that does not read a streamed answer holds its upstream back: the proxy reads the upstream
 * only as fast as the client's socket takes the bytes (TCP backpressure reaches the upstream), so
 * such a call costs serve what the sockets took (and capture's copy of those bytes for the record),
 * not the whole answer. A non-streamed answer, which the proxy holds whole for its record, is
 * handed to the client as the very bytes the run is recorded with, not a second copy. The client
 * that reads later gets every byte, and the run is recorded as an eager client's is.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { CapturedRun } from '../src/capture/capture-run.ts';
import { createApp } from '../src/server/app.ts';
import { createProxy } from '../src/server/proxy-routes.ts';
import { createUpstreamFetch } from '../src/server/upstream-fetch.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The most bytes a TCP send buffer takes on this machine (Linux autotunes up to it): 4 MiB unless told. */
function sendBufferMax(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]) || 4 * MiB;
  } catch {
    return 4 * MiB;
  }
}

/**
 * What the sockets between the upstream and a client that does not read may hold: the upstream's
 * send buffer and serve's send buffer to the client, each up to the system's maximum, and 4 MiB
 * for the receive buffers (serve's from the upstream, the client's) and a chunk or two in serve.
 */
const SOCKETS_HOLD = 2 * sendBufferMax() + 4 * MiB;
/** The stream: well past what the sockets hold, within what capture keeps of an answer (64 MiB). */
const STREAM_BYTES = Math.max(32 * MiB, SOCKETS_HOLD + 16 * MiB);

/** An OpenAI chat completions stream of about `size` bytes: content deltas, a last chunk with its finish reason, [DONE]. */
function chatStream(size: number): Buffer {
  const head = { id: 'chatcmpl-backpressure', object: 'chat.completion.chunk', created: 1767225600, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_backpressure' };
  const events: string[] = [`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`];
  let length = events[0]!.length;
  for (let i = 0; length < size; i++) {
    const event = `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { content: `word ${i} `.padEnd(1000, '.') }, finish_reason: null }] })}\n\n`;
    events.push(event);
    length += event.length;
  }
  events.push(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`, 'data: [DONE]\n\n');
  return Buffer.from(events.join(''), 'latin1');
}

/** A chat completions answer of about `size` bytes. */
function chatAnswer(size: number): Buffer {
  return Buffer.from(JSON.stringify({ id: 'chatcmpl-held', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'x'.repeat(size) } }] }));
}

/**
 * A loopback upstream that answers every call with `body` (an event stream when `streamed`), as
 * fast as its connection takes it, in 16 KiB writes; `written` is how many bytes of its latest
 * answer it has written so far (handed to its socket: at most one write more than the socket took).
 */
async function startUpstream(body: Buffer, streamed: boolean): Promise<{ url: string; written(): number; server: Server }> {
  let written = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.once('end', () => {
      written = 0;
      response.writeHead(200, { 'content-type': streamed ? 'text/event-stream' : 'application/json', ...(streamed ? {} : { 'content-length': String(body.length) }) });
      const pump = (): void => {
        while (written < body.length) {
          const piece = body.subarray(written, written + 16 * 1024);
          written += piece.length;
          if (!response.write(piece)) return void response.once('drain', pump);
        }
        response.end();
      };
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, written: () => written, server };
}

const CALL = (stream: boolean) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say a great deal.' }], stream });

/** Sends the call on a socket of its own that reads nothing until resumed (`connection: close`: serve ends it after the answer). */
function unreadCall(port: number, stream: boolean): Socket {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.pause();
  const body = CALL(stream);
  socket.write(`POST /openai/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\nauthorization: Bearer sk-test-backpressure\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return socket;
}

/** Reads the socket to its end: the answer's status, headers and body (chunked transfer decoded). */
async function readAnswer(socket: Socket): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.resume();
  await ended;
  const raw = Buffer.concat(chunks);
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'an answer with a header block');
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  const status = Number(/^HTTP\/1\.1 ([0-9]{3}) /.exec(statusLine!)?.[1]);
  const rest = raw.subarray(end + 4);
  if (headers['transfer-encoding'] !== 'chunked') return { status, headers, body: rest };
  const pieces: Buffer[] = [];
  for (let at = 0; ; ) {
    const lineEnd = rest.indexOf('\r\n', at);
    assert.ok(lineEnd >= 0, 'the chunked body ends with its last chunk');
    const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
    if (size === 0) break;
    pieces.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return { status, headers, body: Buffer.concat(pieces) };
}

/** Waits until the upstream has written nothing more for 300 ms (the sockets are full), at most 5 s; how much it wrote. */
async function stalled(written: () => number): Promise<number> {
  let last = -1;
  for (const deadline = performance.now() + 5000; performance.now() < deadline; await sleep(300)) {
    if (written() === last) break;
    last = written();
  }
  return written();
}

interface RecordView {
  outcome: string;
  output: { rawDigest?: { sha256: string }; digest?: { sha256: string } } | null;
  response: { size: number; rawDigest: { sha256: string } };
}

describe('runprint serve: a client that does not read its answer', () => {
  const scratch = scratchFolders('runprint-backpressure-');
  const body = chatStream(STREAM_BYTES);
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let serve: ServeProcess;
  before(async () => {
    upstream = await startUpstream(body, true);
    serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`] });
  });
  after(async () => {
    await endServeTest(undefined, scratch);
    upstream.server.closeAllConnections();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
  });

  const record = async (captureId: string | undefined): Promise<RecordView> => {
    assert.ok(captureId !== undefined, 'the answer names its capture id');
    const answer = (await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: Array<{ record: RecordView }> };
    assert.equal(answer.runs.length, 1, 'the run is recorded');
    return answer.runs[0]!.record;
  };

  test(`a stream of ${Math.round(STREAM_BYTES / MiB)} MiB: serve stops reading the upstream once the sockets are full (${Math.round(SOCKETS_HOLD / MiB)} MiB at most); read later, the stream arrives whole and is recorded as an eager client's`, { timeout: 60_000 }, async (t) => {
    // An eager client first: what the run is recorded as when nothing holds the stream back.
    const eager = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-backpressure' }, body: CALL(true) });
    assert.equal(sha256(new Uint8Array(await eager.arrayBuffer())), sha256(body), 'the eager client gets the stream as sent');
    const expected = await record(eager.headers.get('runprint-capture-id') ?? undefined);
    assert.equal(expected.outcome, 'complete');
    assert.notEqual(expected.output, null, 'the stream has an output');

    const socket = unreadCall(serve.port, true);
    // The client reads nothing for a second.
    await sleep(1000);
    const written = await stalled(upstream.written);
    t.diagnostic(`the upstream wrote ${(written / MiB).toFixed(1)} MiB while its client read nothing`);
    assert.ok(written <= SOCKETS_HOLD, `the upstream could write ${(written / MiB).toFixed(1)} MiB of the ${Math.round(STREAM_BYTES / MiB)} MiB stream while its client read nothing: no more than the sockets hold (${Math.round(SOCKETS_HOLD / MiB)} MiB)`);
    const answer = await readAnswer(socket);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.length, body.length, 'every byte arrives');
    assert.equal(sha256(answer.body), sha256(body), 'byte for byte');
    const held = await record(answer.headers['runprint-capture-id']);
    assert.equal(held.outcome, 'complete');
    assert.equal(held.response.size, body.length);
    assert.equal(held.response.rawDigest.sha256, sha256(body));
    assert.deepEqual(held.output, expected.output, 'the same output digest as the eager client\'s run');
  });
});

describe('the capture proxy in process: a non-streamed answer', () => {
  test('is passed on as the very bytes its run is recorded with, not a second copy of them', async () => {
    const answer = chatAnswer(4 * MiB);
    const upstream = await startUpstream(answer, false);
    const upstreamFetch = createUpstreamFetch();
    const recorded: Uint8Array[] = [];
    const sink = {
      healthy: true,
      record: async (_run: CapturedRun, bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array }) => void recorded.push(bytes.responseBytes),
    };
    try {
      const app = createApp({ proxy: createProxy({ upstreams: { openai: upstream.url }, sink, maxBodyBytes: MiB, receipts: false, fetch: upstreamFetch as typeof globalThis.fetch }) });
      const response = await app.request('/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-backpressure' }, body: CALL(false) });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-length'), String(answer.length));
      const reader = response.body!.getReader();
      const first = await reader.read();
      assert.equal(first.done, false);
      assert.equal((await reader.read()).done, true, 'the answer comes in one chunk');
      assert.equal(recorded.length, 1, 'the run is recorded before its answer is given (sync durability)');
      assert.equal(sha256(first.value!), sha256(answer), 'the client gets the answer as sent');
      assert.equal(first.value!.buffer, recorded[0]!.buffer, 'the same memory as the recorded bytes: held once per call, not twice');
    } finally {
      upstreamFetch.close();
      upstream.server.closeAllConnections();
      await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    }
  });
});
