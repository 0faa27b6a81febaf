/**
 * The in-process outbox keeps no more of an error body than the run store does: runprintFetch
 * with a `url` sends a non-2xx response by its digest, size and stream flag (the exchange's
 * `response.digested`), never its bytes, so a provider's 401 that echoes the API key leaves no
 * trace in any file of the outbox. A real `runprint serve` then records the same response facts
 * as for the bytes; it refuses `digested` for a 2xx status, beside `body`, or malformed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runprintFetch } from '../src/capture-node/index.ts';
import { EXCHANGE_VERSION } from '../src/capture/exchange.ts';
import type { RunprintError } from '../src/errors.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';
import { closedPort } from './helpers/closed-port.ts';

const SECRET = 'sk-OUTBOXSECRET-1f9a2b7c';
const scratch: string[] = [];
let upstream: Server;
let upstreamUrl: string;
let serve: ServeProcess | undefined;

/** Error bodies as providers send them: the 401 echoes the credential (OpenAI names the key's end; this one the whole of it). */
const bodyFor = (path: string, authorization: string): { status: number; type: string; body: string } =>
  path.endsWith('/v1/messages')
    ? { status: 500, type: 'text/event-stream', body: `event: error\ndata: {"type":"error","error":{"type":"api_error","message":"overloaded for ${authorization}"}}\n\n` }
    : { status: 401, type: 'application/json', body: JSON.stringify({ error: { message: `Incorrect API key provided: ${authorization}`, type: 'invalid_request_error', code: 'invalid_api_key' } }) };

before(async () => {
  upstream = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const { status, type, body } = bodyFor(request.url ?? '', String(request.headers['authorization'] ?? request.headers['x-api-key'] ?? ''));
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    });
  });
  await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
});
after(async () => {
  await serve?.stop();
  await killServeProcesses();
  await new Promise((done) => upstream.close(done));
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-outbox-errors-'));
  scratch.push(dir);
  return dir;
}

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const REQUEST = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi.' }] });
const MESSAGES = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi.' }] });

describe('the outbox and error bodies', () => {
  test('a 401 echoing the key and a 500 stream: no outbox file holds the key; the server records their digests, sizes and stream flags', async () => {
    const data = tempDir();
    const errors: RunprintError[] = [];
    const down = runprintFetch({ data, url: `http://127.0.0.1:${await closedPort()}`, spans: false, onError: (error) => void errors.push(error) });
    const calls: Array<{ path: string; body: string; headers: Record<string, string> }> = [
      { path: '/v1/chat/completions', body: REQUEST, headers: { authorization: `Bearer ${SECRET}` } },
      { path: '/v1/messages', body: MESSAGES, headers: { 'x-api-key': SECRET, 'anthropic-version': '2023-06-01' } },
    ];
    const captureIds: string[] = [];
    for (const call of calls) {
      const response = await down(`${upstreamUrl}${call.path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...call.headers }, body: call.body });
      assert.ok(response.status >= 400);
      assert.match(await response.text(), new RegExp(SECRET), 'the application gets the body as sent');
      captureIds.push(response.headers.get('runprint-capture-id')!);
    }
    await down.close();
    assert.equal(down.counts.outbox.queued, 2);
    const files = filesUnder(join(data, 'outbox'));
    assert.equal(files.length, 2, 'both exchanges wait in the outbox');
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /OUTBOXSECRET/);
      // Nor in base64 at any of the three alignments.
      for (let shift = 0; shift < 3; shift++) {
        const encoded = Buffer.from(`${'x'.repeat(shift)}${SECRET}`).toString('base64').slice(4 * Math.ceil((shift + 1) / 3), -4);
        assert.ok(!text.includes(encoded), `base64 of the key in ${file}`);
      }
      const exchange = JSON.parse(text) as { response: Record<string, unknown> };
      assert.equal('body' in exchange.response, false);
    }

    // The server is up: the exchanges are delivered and recorded with what the bytes give.
    serve = await startServe({ data: tempDir() });
    const up = runprintFetch({ data, url: serve.base, spans: false, onError: (error) => void errors.push(error) });
    for (let i = 0; i < 100 && filesUnder(join(data, 'outbox')).length > 0; i++) await new Promise((done) => setTimeout(done, 50));
    await up.close();
    assert.deepEqual(filesUnder(join(data, 'outbox')), [], 'delivered');
    const expected = calls.map((call) => bodyFor(call.path, call.headers['authorization'] ?? call.headers['x-api-key']!));
    for (const [i, captureId] of captureIds.entries()) {
      const { runs } = (await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: Array<{ capture: string; record: { response: unknown; incomplete: unknown } }> };
      assert.equal(runs.length, 1);
      assert.deepEqual(runs[0]!.record.response, {
        status: expected[i]!.status,
        headers: { 'content-type': expected[i]!.type },
        size: Buffer.byteLength(expected[i]!.body),
        rawDigest: { sha256: sha256(expected[i]!.body) },
        stream: i === 1,
      });
      assert.deepEqual(runs[0]!.record.incomplete, { reason: 'http-status', code: null });
    }
    assert.ok(errors.every((error) => error.code === 'ERR_CAPTURE_UNAVAILABLE'), JSON.stringify(errors));
  });

  test('POST /v1/exchanges: digested for a 2xx status, beside body, or malformed is 400 naming the member', async () => {
    serve ??= await startServe({ data: tempDir() });
    const digested = { size: 10, sha256: 'ab'.repeat(32), stream: false };
    const base = (response: Record<string, unknown>) => ({
      version: EXCHANGE_VERSION, captureId: '6c1f0a8e-2b3d-4e5f-8a9b-0c1d2e3f4a5b', method: 'POST', path: '/v1/chat/completions',
      request: Buffer.from(REQUEST).toString('base64'), response, outcome: 'complete', times: { started: 1767225600000, response: 1767225600100, ended: 1767225600200 }, parents: [],
    });
    const CASES: Array<[Record<string, unknown>, string]> = [
      [{ status: 200, headers: {}, digested }, "$['response']['digested']"],
      [{ status: 401, headers: {}, digested, body: '' }, "$['response']['digested']"],
      [{ status: 401, headers: {}, digested: { ...digested, sha256: 'AB'.repeat(32) } }, "$['response']['digested']['sha256']"],
      [{ status: 401, headers: {}, digested: { ...digested, size: -1 } }, "$['response']['digested']['size']"],
      [{ status: 401, headers: {}, digested: { ...digested, stream: 'no' } }, "$['response']['digested']['stream']"],
      [{ status: 401, headers: {}, body: '', extra: 1 }, "$['response']['extra']"],
    ];
    for (const [response, path] of CASES) {
      const answer: Response = await fetch(`${serve.base}/v1/exchanges`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(base(response)) });
      assert.equal(answer.status, 400, JSON.stringify(response));
      const { error } = (await answer.json()) as { error: { code: string; path: string } };
      assert.deepEqual([error.code, error.path], ['ERR_HTTP_BAD_REQUEST', path]);
    }
    const taken = await fetch(`${serve.base}/v1/exchanges`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(base({ status: 401, headers: {}, digested })) });
    assert.equal(taken.status, 200);
    const { runs } = (await (await fetch(`${serve.base}/v1/runs/6c1f0a8e-2b3d-4e5f-8a9b-0c1d2e3f4a5b`)).json()) as { runs: Array<{ record: { response: unknown } }> };
    assert.deepEqual(runs[0]!.record.response, { status: 401, headers: {}, size: 10, rawDigest: { sha256: 'ab'.repeat(32) }, stream: false });
  });
});
