/**
 * OpenTelemetry from the proxy: with --otlp-endpoint (or the OTEL_EXPORTER_OTLP_* variables),
 * `runprint serve` exports one span per captured run over OTLP/HTTP JSON to a loopback receiver,
 * with the GenAI semantic-convention attributes, runprint's identities and component digests, in
 * the caller's trace when it sent a W3C traceparent; a receiver that is down drops spans, never calls.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { UsageError } from '../src/errors.ts';
import { otlpExporter, otlpHeaders, otlpProtocol, otlpResource, otlpTimeout, parseTraceparent, retryAfterMs, type OtlpSpan } from '../src/server/otlp.ts';
import { answerProblems, documentedAnswer } from './helpers/openapi-check.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';
import { startStreamMismatchUpstream } from './helpers/stream-mismatch-upstream.ts';
import { GENAI_CALLS, REQUEST_ATTRIBUTE_KEYS, startGenaiUpstream } from './helpers/genai-request-attributes.ts';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number; message?: string };
}

let upstream: FakeUpstream;
let receiver: Server;
let receiverUrl: string;
const bodies: { contentType: string | undefined; body: { resourceSpans: { resource: { attributes: { key: string; value: Record<string, unknown> }[] }; scopeSpans: { spans: Span[] }[] }[] } }[] = [];
const dirs: string[] = [];

before(async () => {
  upstream = await startFakeUpstream();
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/v1/traces') bodies.push({ contentType: request.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  await new Promise((resolve) => receiver.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const spans = () => bodies.flatMap((entry) => entry.body.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)));
const attribute = (span: Span, key: string) => span.attributes.find((item) => item.key === key)?.value;

async function until(condition: () => boolean, what: string, withinMs = 5_000): Promise<void> {
  for (let i = 0; i < withinMs / 25 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.ok(condition(), what);
}

test('one span per captured run, GenAI attributes and runprint identities, in the caller\'s trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  // From the OpenTelemetry SDK's own variable, as an operator would set it.
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`], env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl } });
  const client = new OpenAI({ apiKey: 'sk-otlp-test', baseURL: `${serve.base}/openai/v1`, maxRetries: 0 });
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  upstream.enqueue({ kind: 'text', text: 'Traced.' });
  const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] }, { headers: { traceparent } }).withResponse();
  upstream.enqueue({ kind: 'error', status: 500, message: 'scripted failure' });
  await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Fail' }] }).catch(() => undefined);
  await until(() => spans().length >= 2, 'both spans arrive within the export interval');
  assert.equal(bodies[0]!.contentType, 'application/json');
  const ok = spans().find((span) => attribute(span, 'runprint.capture.id')?.['stringValue'] === response.headers.get('runprint-capture-id'))!;
  assert.ok(ok !== undefined, 'the span names the capture id the client got');
  assert.equal(ok.name, 'chat gpt-4o');
  assert.equal(ok.kind, 3, 'CLIENT');
  assert.equal(ok.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', 'in the caller\'s trace');
  assert.equal(ok.parentSpanId, '00f067aa0ba902b7');
  assert.match(ok.spanId, /^[0-9a-f]{16}$/);
  assert.ok(BigInt(ok.endTimeUnixNano) >= BigInt(ok.startTimeUnixNano));
  assert.deepEqual(attribute(ok, 'gen_ai.operation.name'), { stringValue: 'chat' });
  assert.deepEqual(attribute(ok, 'gen_ai.provider.name'), { stringValue: 'openai' });
  assert.deepEqual(attribute(ok, 'gen_ai.request.model'), { stringValue: 'gpt-4o' });
  assert.deepEqual(attribute(ok, 'gen_ai.response.model'), { stringValue: 'gpt-4o-2024-08-06' });
  assert.deepEqual(attribute(ok, 'gen_ai.response.finish_reasons'), { arrayValue: { values: [{ stringValue: 'stop' }] } });
  assert.match(String(attribute(ok, 'gen_ai.usage.input_tokens')?.['intValue']), /^[0-9]+$/);
  assert.deepEqual(attribute(ok, 'runprint.run.id'), { stringValue: response.headers.get('runprint-run-id') });
  assert.deepEqual(attribute(ok, 'runprint.request.id'), { stringValue: response.headers.get('runprint-request-id') });
  assert.deepEqual(attribute(ok, 'runprint.receipt'), { stringValue: response.headers.get('runprint-receipt') });
  assert.match(String(attribute(ok, 'runprint.component.system.digest')?.['stringValue']), /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(attribute(ok, 'server.address'), { stringValue: '127.0.0.1' });
  assert.equal(ok.status.code, 0);
  assert.ok(!JSON.stringify(bodies).includes('sk-otlp-test'), 'no credential in telemetry');
  const failed = spans().find((span) => span.name === 'chat gpt-4o-mini')!;
  assert.deepEqual(attribute(failed, 'error.type'), { stringValue: '500' });
  assert.equal(failed.status.code, 2, 'ERROR');
  assert.notEqual(failed.traceId, ok.traceId, 'a call without traceparent starts its own trace');
  assert.deepEqual(bodies[0]!.body.resourceSpans[0]!.resource.attributes.find((item) => item.key === 'service.name')?.value, { stringValue: 'runprint' });
  await serve.stop();
});

test('a receiver that is down drops spans and says so once; the calls go on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', 'http://127.0.0.1:1/v1/traces'] });
  const client = new OpenAI({ apiKey: 'sk-otlp-test', baseURL: `${serve.base}/openai/v1`, maxRetries: 0 });
  for (let i = 0; i < 3; i++) {
    upstream.enqueue({ kind: 'text', text: `Still answered ${i}.` });
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(completion.choices[0]?.message.content, `Still answered ${i}.`);
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
  // Each export is retried (no connection) for a few seconds before its spans are dropped: wait for two to fail.
  const otlp = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { otlp: { exported: number; dropped: number; failed: number; retries: number } } }).capture.otlp;
  for (let i = 0; i < 100 && (await otlp()).failed < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const counts = await otlp();
  assert.ok(counts.failed >= 2 && counts.retries >= 3 * counts.failed && counts.exported === 0 && counts.dropped >= 2, JSON.stringify(counts));
  const lines = serve.stderr().split('\n').filter((line) => line.startsWith('runprint: telemetry: '));
  assert.equal(lines.length, 1, `one line, not one per failed export: ${lines.join(' / ')}`);
  assert.match(lines[0]!, /cannot be reached; its spans are dropped, calls go on$/);
  await serve.stop();
});

test('traceparent: only a well-formed version 00 header joins a trace', () => {
  assert.deepEqual(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: true });
  for (const bad of [null, '', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7']) {
    assert.equal(parseTraceparent(bad), null, String(bad));
  }
});

test('a slow receiver: spans waiting to be sent count against maxQueue, so memory stays bounded', async () => {
  let posts = 0;
  const slow = (async () => {
    posts++;
    await new Promise((resolve) => setTimeout(resolve, 300));
    return new Response('{}');
  }) as unknown as typeof fetch;
  const exporter = otlpExporter({ endpoint: 'http://127.0.0.1:9/v1/traces', serviceName: 'runprint', serviceVersion: 'x', intervalMs: 20, maxBatch: 10, maxQueue: 100, fetch: slow });
  const span = { traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', name: 'chat', kind: 3, startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: [], status: { code: 0 } } as OtlpSpan;
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 100; i++) exporter.export(span);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  await exporter.close();
  assert.ok(exporter.counts.dropped >= 800, `dropped ${exporter.counts.dropped}`);
  assert.ok(exporter.counts.exported <= 200, `exported ${exporter.counts.exported}`);
  assert.equal(exporter.counts.exported + exporter.counts.dropped, 1000);
  assert.ok(posts > 0);
});

test('gen_ai.request.stream says what the request asked (its "stream": true), not what the answer was', async () => {
  // An upstream that answers a streamed request with a JSON error and a plain one with text/plain.
  const odd = await startStreamMismatchUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${odd.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`] });
  try {
    const ids: Record<string, string> = {};
    for (const [name, body] of [['streamed', { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Stream please' }] }], ['plain', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Plain please' }] }], ['unidentified', { model: 'gpt-4o', stream: true, messages: 'not a list' }]] as const) {
      const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await response.arrayBuffer();
      ids[name] = response.headers.get('runprint-capture-id')!;
    }
    const span = (name: string) => spans().find((item) => attribute(item, 'runprint.capture.id')?.['stringValue'] === ids[name]);
    await until(() => ['streamed', 'plain', 'unidentified'].every((name) => span(name) !== undefined), 'the three spans arrive');
    assert.deepEqual(attribute(span('streamed')!, 'gen_ai.request.stream'), { boolValue: true }, 'asked to stream, answered with a JSON error');
    assert.deepEqual(attribute(span('plain')!, 'gen_ai.request.stream'), { boolValue: false }, 'not asked to stream, answered with text/plain');
    assert.equal(attribute(span('unidentified')!, 'gen_ai.request.stream'), undefined, 'a request not identified: unknown, so absent');
  } finally {
    await serve.stop();
    await odd.close();
  }
});

/** A receiver that takes the connection and the request and never answers; `posts` counts the requests begun. */
async function hungReceiver(): Promise<{ url: string; posts: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let posts = 0;
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => (posts += chunk.toString('latin1').split('POST /v1/traces ').length - 1));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    posts: () => posts,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a receiver that never answers: the export times out, is retried as a transient failure, and then says so once (not "cannot be reached")', async () => {
  const hung = await hungReceiver();
  const failures: string[] = [];
  const exporter = otlpExporter({ endpoint: hung.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, timeoutMs: 300, retry: { firstDelayMs: 50 }, onFailure: (message) => failures.push(message) });
  try {
    exporter.export({ traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', name: 'chat', kind: 3, startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: [], status: { code: 0 } });
    await exporter.flush();
    assert.deepEqual(failures, ['the OTLP receiver did not answer within 0.3 s (timed out); its spans are dropped, calls go on']);
    assert.deepEqual(exporter.counts, { exported: 0, dropped: 1, failures: 1, retries: 3 }, 'a timeout is retried, 4 tries in all');
  } finally {
    await exporter.close();
    await hung.close();
  }
});

/**
 * Serve with `args` and a receiver that never answers, after one captured call's span reached it:
 * how long its stop took after SIGTERM and the telemetry lines it printed.
 */
async function stopWithHungReceiver(args: string[]): Promise<{ took: number; lines: string[] }> {
  const hung = await hungReceiver();
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', hung.url, ...args] });
  try {
    upstream.enqueue({ kind: 'text', text: 'Answered.' });
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    await until(() => hung.posts() === 1, 'the span\'s export reaches the receiver within the export interval');
    const stopping = performance.now();
    assert.equal(await serve.stop(), 0);
    const took = performance.now() - stopping;
    return { took, lines: serve.stderr().split('\n').filter((line) => line.startsWith('runprint: telemetry: ')) };
  } finally {
    await serve.kill();
    await hung.close();
  }
}

test('serve stops within --shutdown-grace when the receiver never answers: the export in flight is abandoned and counted', async () => {
  const { took, lines } = await stopWithHungReceiver(['--shutdown-grace', '1500']);
  assert.ok(took < 1500 + 1500, `stopped ${Math.round(took)} ms after SIGTERM with --shutdown-grace 1500`);
  assert.deepEqual(lines, ['runprint: telemetry: the OTLP receiver had not answered when serve\'s stop ran out of time (--shutdown-grace); 1 span not sent, dropped']);
});

const oneSpan = (n: number): OtlpSpan => ({ traceId: '0'.repeat(31) + '1', spanId: n.toString(16).padStart(16, '0'), name: 'chat', kind: 3, startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: [], status: { code: 0 } });

test('the exporter\'s close waits at most its close bound for a receiver that never answers, not the export timeout: the spans are dropped, counted and reported once', async () => {
  const hung = await hungReceiver();
  const failures: string[] = [];
  const exporter = otlpExporter({ endpoint: hung.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, timeoutMs: 60_000, closeTimeoutMs: 300, onFailure: (message) => failures.push(message) });
  try {
    for (let i = 1; i <= 3; i++) exporter.export(oneSpan(i));
    const closing = performance.now();
    await exporter.close();
    const took = performance.now() - closing;
    assert.ok(took >= 250 && took < 1_000, `closed ${Math.round(took)} ms after close() with a 300 ms bound and a 60 s export timeout`);
    assert.equal(hung.posts(), 1, 'the export reached the receiver');
    assert.deepEqual(exporter.counts, { exported: 0, dropped: 3, failures: 0, retries: 0 });
    assert.deepEqual(failures, ['the OTLP receiver had not answered the last export 0.3 s into the stop (the most a stop waits for it); 3 spans not sent, dropped']);
    exporter.export(oneSpan(4));
    assert.equal(exporter.counts.dropped, 4, 'a span after the close is dropped too');
  } finally {
    await hung.close();
  }
});

test('the exporter\'s close still waits for a receiver that answers within its bound: nothing is dropped', async () => {
  let received = 0;
  const slow = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received++;
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 400);
    });
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  const failures: string[] = [];
  const exporter = otlpExporter({ endpoint: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/v1/traces`, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, onFailure: (message) => failures.push(message) });
  try {
    exporter.export(oneSpan(1));
    exporter.export(oneSpan(2));
    await exporter.close({ deadline: performance.now() + 10_000 });
    assert.deepEqual([received, exporter.counts, failures], [1, { exported: 2, dropped: 0, failures: 0, retries: 0 }, []]);
  } finally {
    slow.closeAllConnections();
    await new Promise((resolve) => slow.close(resolve));
  }
});

test('serve with the default --shutdown-grace (10 s) and export timeout (10 s) stops within about 2 s when the receiver never answers: the last export is abandoned and its spans counted', async () => {
  const { took, lines } = await stopWithHungReceiver([]);
  assert.ok(took < 2_000 + 2_000, `stopped ${Math.round(took)} ms after SIGTERM (the export timeout and the grace are 10 s)`);
  assert.deepEqual(lines, ['runprint: telemetry: the OTLP receiver had not answered the last export 2 s into the stop (the most a stop waits for it); 1 span not sent, dropped']);
});

test('OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TRACES_HEADERS go with every export, percent-decoded; their values are never printed', async () => {
  const seen: IncomingHttpHeaders[] = [];
  const guarded = createServer((request, response) => {
    seen.push(request.headers);
    request.resume();
    request.on('end', () => {
      const allowed = request.headers['authorization'] === 'Bearer s3cret-otlp token';
      response.writeHead(allowed ? 200 : 401, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => guarded.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const endpoint = `http://127.0.0.1:${(guarded.address() as AddressInfo).port}/v1/traces`;
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', endpoint], env: { OTEL_EXPORTER_OTLP_HEADERS: ' authorization = Bearer%20s3cret-otlp%20token , x-tenant=everyone,,x-scope=a%2Cb', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'X-Tenant=traces%3Donly' } });
  try {
    upstream.enqueue({ kind: 'text', text: 'With headers.' });
    await (await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) })).arrayBuffer();
    await until(() => seen.length >= 1, 'the export arrives');
    assert.equal(seen[0]!['authorization'], 'Bearer s3cret-otlp token');
    assert.equal(seen[0]!['x-tenant'], 'traces=only', 'the traces variable wins for the same name');
    assert.equal(seen[0]!['x-scope'], 'a,b');
    assert.equal(seen[0]!['content-type'], 'application/json');
    assert.equal(await serve.stop(), 0);
    assert.ok(!serve.stderr().includes('s3cret'), serve.stderr());
    assert.ok(!serve.stderr().includes('runprint: telemetry:'), 'the receiver took the spans');
  } finally {
    await serve.kill();
    await new Promise((resolve) => guarded.close(resolve));
  }
  // A list that is not NAME=VALUE pairs stops serve before it listens, naming the variable and the entry, not a value.
  const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dir, '--otlp-endpoint', endpoint], { env: { ...process.env, OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=ok,Bearer s3cret-otlp' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr, 'runprint: ERR_CLI_USAGE: OTEL_EXPORTER_OTLP_TRACES_HEADERS: entry 2 is not NAME=VALUE with NAME an HTTP header name (entries are separated by commas)\n');
  assert.throws(() => otlpHeaders({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%zz' }), /OTEL_EXPORTER_OTLP_HEADERS: the value of authorization is not valid percent-encoding$/);
  assert.throws(() => otlpHeaders({ OTEL_EXPORTER_OTLP_HEADERS: 'x-a=line%0Abreak' }), /the value of x-a holds characters a header cannot carry$/);
  assert.deepEqual(otlpHeaders({ OTEL_EXPORTER_OTLP_HEADERS: ' ', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'a=1' }), { a: '1' });
});

test('gen_ai.response.id is the provider\'s id of the answer, JSON or streamed; gen_ai.request.temperature, top_p (doubles) and max_tokens (an int) are the request\'s own', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`] });
  try {
    const calls = {
      chat: ['/openai/v1/chat/completions', { model: 'gpt-4o', temperature: 1, top_p: 0.5, max_completion_tokens: 50, max_tokens: 70, messages: [{ role: 'user', content: 'Hi' }] }],
      chatStream: ['/openai/v1/chat/completions', { model: 'gpt-4o', stream: true, max_tokens: 70, messages: [{ role: 'user', content: 'Hi' }] }],
      responses: ['/openai/v1/responses', { model: 'gpt-4o', max_output_tokens: 32, temperature: 0.25, input: 'Hi' }],
      anthropicStream: ['/anthropic/v1/messages', { model: 'claude-sonnet-4-5', stream: true, max_tokens: 64, temperature: 0, messages: [{ role: 'user', content: 'Hi' }] }],
      plain: ['/openai/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }],
    } as const;
    const ids: Record<string, { capture: string; response: string }> = {};
    for (const [name, [path, body]] of Object.entries(calls)) {
      upstream.enqueue({ kind: 'text', text: `Answer ${name}.` });
      const response = await fetch(`${serve.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200, name);
      const text = await response.text();
      // The provider's id, as a client reads it: the JSON body's, or the first event's (its message's for Anthropic).
      const first = 'stream' in body ? JSON.parse(/^data: (.*)$/m.exec(text)![1]!) : JSON.parse(text);
      ids[name] = { capture: response.headers.get('runprint-capture-id')!, response: first.message?.id ?? first.id };
      assert.match(ids[name]!.response, /^(chatcmpl-|resp_|msg_)/, name);
    }
    const span = (name: string) => spans().find((item) => attribute(item, 'runprint.capture.id')?.['stringValue'] === ids[name]!.capture);
    await until(() => Object.keys(calls).every((name) => span(name) !== undefined), 'the spans arrive');
    const settings = (name: string) => Object.fromEntries(['gen_ai.response.id', 'gen_ai.request.temperature', 'gen_ai.request.top_p', 'gen_ai.request.max_tokens'].map((key) => [key, attribute(span(name)!, key)]).filter(([, value]) => value !== undefined));
    assert.deepEqual(settings('chat'), { 'gen_ai.response.id': { stringValue: ids['chat']!.response }, 'gen_ai.request.temperature': { doubleValue: 1 }, 'gen_ai.request.top_p': { doubleValue: 0.5 }, 'gen_ai.request.max_tokens': { intValue: '50' } }, 'max_completion_tokens over the older max_tokens');
    assert.deepEqual(settings('chatStream'), { 'gen_ai.response.id': { stringValue: ids['chatStream']!.response }, 'gen_ai.request.max_tokens': { intValue: '70' } });
    assert.deepEqual(settings('responses'), { 'gen_ai.response.id': { stringValue: ids['responses']!.response }, 'gen_ai.request.temperature': { doubleValue: 0.25 }, 'gen_ai.request.max_tokens': { intValue: '32' } });
    assert.deepEqual(settings('anthropicStream'), { 'gen_ai.response.id': { stringValue: ids['anthropicStream']!.response }, 'gen_ai.request.temperature': { doubleValue: 0 }, 'gen_ai.request.max_tokens': { intValue: '64' } });
    assert.deepEqual(settings('plain'), { 'gen_ai.response.id': { stringValue: ids['plain']!.response } }, 'settings the request does not give are absent');
  } finally {
    await serve.stop();
  }
});

test('no sampling setting is a span attribute when the parameters are salted (--capture-salt) or kept by digest only (--capture-keep parameters=digest), nor the requested service tier when the configuration is: no content in a span', async () => {
  const SETTINGS = ['gen_ai.request.temperature', 'gen_ai.request.top_p', 'gen_ai.request.max_tokens', 'gen_ai.request.stop_sequences', 'gen_ai.request.choice.count', 'gen_ai.request.seed'];
  const TIER = 'openai.request.service_tier';
  const cases = [
    [['--capture-salt', 'parameters'], false, true], [['--capture-salt', 'all'], false, false], [['--capture-keep', 'parameters=digest'], false, true],
    [['--capture-salt', 'configuration'], true, false], [['--capture-keep', 'configuration=digest'], true, false], [['--capture-salt', 'system', '--capture-keep', 'input=digest'], true, true],
  ] as const;
  for (const [args, shown, tierShown] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
    dirs.push(dir);
    const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`, ...args] });
    try {
      upstream.enqueue({ kind: 'text', text: 'Settings.' });
      const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', temperature: 0.3125, top_p: 0.75, max_completion_tokens: 77, stop: ['END'], n: 3, seed: 1234, service_tier: 'flex', messages: [{ role: 'user', content: 'Hi' }] }) });
      assert.equal(response.status, 200);
      await response.text();
      const capture = response.headers.get('runprint-capture-id')!;
      const span = () => spans().find((item) => attribute(item, 'runprint.capture.id')?.['stringValue'] === capture);
      await until(() => span() !== undefined, 'the span arrives');
      const found = SETTINGS.filter((key) => attribute(span()!, key) !== undefined);
      assert.deepEqual(found, shown ? SETTINGS : [], args.join(' '));
      assert.deepEqual(attribute(span()!, TIER), tierShown ? { stringValue: 'flex' } : undefined, `${args.join(' ')}: the requested service tier`);
      assert.equal(attribute(span()!, 'gen_ai.request.model')?.['stringValue'], 'gpt-4o', 'the requested model name stays (it is in the receipt in the clear, salted or not)');
    } finally {
      await serve.stop();
    }
  }
});

test('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT (over OTEL_EXPORTER_OTLP_TIMEOUT) bounds each export, in milliseconds; a bad value stops serve at start naming the variable', async () => {
  const hung = await hungReceiver();
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', hung.url], env: { OTEL_EXPORTER_OTLP_TIMEOUT: '60000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '400' } });
  try {
    upstream.enqueue({ kind: 'text', text: 'Answered.' });
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) });
    await response.arrayBuffer();
    await until(() => hung.posts() === 1, 'the export reaches the receiver within the export interval');
    // 0.4 s, not the default 10 s (nor the 60 s of the general variable): four tries of 0.4 s and
    // the backoff between them (at most 0.5 + 1 + 2 s) end well within the wait.
    const line = 'runprint: telemetry: the OTLP receiver did not answer within 0.4 s (timed out); its spans are dropped, calls go on';
    await until(() => serve.stderr().split('\n').includes(line), `the timeout is reported: ${serve.stderr()}`, 15_000);
    const health = (await (await fetch(`${serve.base}/healthz`)).json()) as { capture: { otlp: unknown } };
    assert.deepEqual(health.capture.otlp, { exported: 0, dropped: 1, failed: 1, retries: 3 }, 'each try timed out and was retried, 4 tries in all');
  } finally {
    await serve.kill();
    await hung.close();
  }
  const refused = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dir, '--otlp-endpoint', hung.url], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('exit', (code) => resolve({ code, stderr }));
    });
  assert.deepEqual(await refused({ OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }), { code: 2, stderr: 'runprint: ERR_CLI_USAGE: OTEL_EXPORTER_OTLP_TIMEOUT must be a whole number of milliseconds from 1 to 600000 (the export timeout; default 10000)\n' });
  assert.deepEqual(await refused({ OTEL_EXPORTER_OTLP_TIMEOUT: '1000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '0' }), { code: 2, stderr: 'runprint: ERR_CLI_USAGE: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be a whole number of milliseconds from 1 to 600000 (the export timeout; default 10000)\n' });
  assert.equal(otlpTimeout({}), 10_000);
  assert.equal(otlpTimeout({ OTEL_EXPORTER_OTLP_TIMEOUT: ' 2500 ', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '' }), 2500, 'an empty variable is unset');
  for (const bad of ['-1', '1.5', '600001', '1e3', 'ten']) assert.throws(() => otlpTimeout({ OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: bad }), /^UsageError: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be/, bad);
});

/** A loopback upstream that answers each request with the next scripted body: JSON, or SSE events. */
async function scriptedUpstream(): Promise<{ url: string; enqueue: (reply: { json: unknown } | { sse: string[] }) => void; close: () => Promise<void> }> {
  const replies: ({ json: unknown } | { sse: string[] })[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const reply = replies.shift();
      if (reply === undefined) return void response.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"nothing scripted"}}');
      if ('json' in reply) return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply.json));
      response.writeHead(200, { 'content-type': 'text/event-stream' }).end(reply.sse.join(''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    enqueue: (reply) => void replies.push(reply),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const sse = (type: string | null, data: unknown) => `${type === null ? '' : `event: ${type}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

test('token counts follow the conventions: Anthropic input is input + cache read + cache creation, each cache count its own attribute; OpenAI cached tokens are cache_read; finish_reasons has every choice\'s; choice.count, seed, service_tier and system_fingerprint', async () => {
  const scripted = await scriptedUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${scripted.url}`, '--upstream', `anthropic=${scripted.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`] });
  try {
    const anthropicUsage = { input_tokens: 10, output_tokens: 7, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 };
    const message = { id: 'msg_cache1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [{ type: 'text', text: 'Cached.' }], stop_reason: 'end_turn', stop_sequence: null, usage: anthropicUsage };
    const chatUsage = { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 32 } };
    const chunk = (choices: unknown[], extra: object = {}) => sse(null, { id: 'chatcmpl-n2s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024-08-06', service_tier: 'default', system_fingerprint: 'fp_stream', choices, ...extra });
    const calls: { name: string; path: string; body: object; reply: { json: unknown } | { sse: string[] } }[] = [
      { name: 'anthropic', path: '/anthropic/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }, reply: { json: message } },
      {
        name: 'anthropicStream', path: '/anthropic/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi' }] },
        reply: { sse: [
          sse('message_start', { type: 'message_start', message: { ...message, id: 'msg_cache2', content: [], stop_reason: null, usage: { input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 1 } } }),
          sse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
          sse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Cached.' } }),
          sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
          sse('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } }),
          sse('message_stop', { type: 'message_stop' }),
        ] },
      },
      {
        name: 'chat', path: '/openai/v1/chat/completions', body: { model: 'gpt-4o', n: 2, seed: 42, messages: [{ role: 'user', content: 'Hi' }] },
        reply: { json: { id: 'chatcmpl-n2', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', service_tier: 'default', system_fingerprint: 'fp_json', usage: chatUsage, choices: [
          { index: 1, message: { role: 'assistant', content: 'Two, cut' }, finish_reason: 'length' },
          { index: 0, message: { role: 'assistant', content: 'One.' }, finish_reason: 'stop' },
        ] } },
      },
      {
        name: 'chatStream', path: '/openai/v1/chat/completions', body: { model: 'gpt-4o', n: 2, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] },
        reply: { sse: [
          chunk([{ index: 0, delta: { role: 'assistant', content: 'One.' }, finish_reason: null }, { index: 1, delta: { role: 'assistant', content: 'Two' }, finish_reason: null }]),
          chunk([{ index: 1, delta: {}, finish_reason: 'length' }]),
          chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
          chunk([], { usage: chatUsage }),
          sse(null, '[DONE]'),
        ] },
      },
      {
        name: 'responses', path: '/openai/v1/responses', body: { model: 'gpt-4o', input: 'Hi' },
        reply: { json: { id: 'resp_cache', object: 'response', status: 'completed', model: 'gpt-4o-2024-08-06', service_tier: 'flex', output: [{ id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hi.', annotations: [] }] }], usage: { input_tokens: 40, input_tokens_details: { cached_tokens: 16 }, output_tokens: 3, total_tokens: 43 } } },
      },
      {
        name: 'one', path: '/openai/v1/chat/completions', body: { model: 'gpt-4o', n: 1, messages: [{ role: 'user', content: 'Hi' }] },
        reply: { json: { id: 'chatcmpl-n1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, message: { role: 'assistant', content: 'One.' }, finish_reason: 'stop' }] } },
      },
    ];
    const ids: Record<string, string> = {};
    for (const call of calls) {
      scripted.enqueue(call.reply);
      const response = await fetch(`${serve.base}${call.path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(call.body) });
      assert.equal(response.status, 200, call.name);
      await response.text();
      ids[call.name] = response.headers.get('runprint-capture-id')!;
    }
    const span = (name: string) => spans().find((item) => attribute(item, 'runprint.capture.id')?.['stringValue'] === ids[name]);
    await until(() => calls.every((call) => span(call.name) !== undefined), 'the spans arrive');
    const KEYS = /^(gen_ai\.usage\.|gen_ai\.response\.finish_reasons$|gen_ai\.request\.(choice\.count|seed)$|openai\.response\.)/;
    const picked = (name: string) => Object.fromEntries(span(name)!.attributes.filter((item) => KEYS.test(item.key)).map((item) => [item.key, item.value]));
    const int = (n: number) => ({ intValue: String(n) });
    const reasons = (...values: string[]) => ({ arrayValue: { values: values.map((stringValue) => ({ stringValue })) } });
    const anthropic = { 'gen_ai.response.finish_reasons': reasons('end_turn'), 'gen_ai.usage.input_tokens': int(130), 'gen_ai.usage.output_tokens': int(7), 'gen_ai.usage.cache_read.input_tokens': int(100), 'gen_ai.usage.cache_creation.input_tokens': int(20) };
    assert.deepEqual(picked('anthropic'), anthropic, 'input_tokens 10 + cache read 100 + cache creation 20');
    assert.deepEqual(picked('anthropicStream'), anthropic, 'the same from the stream');
    assert.deepEqual(picked('chat'), {
      'gen_ai.request.choice.count': int(2), 'gen_ai.request.seed': int(42), 'gen_ai.response.finish_reasons': reasons('stop', 'length'),
      'gen_ai.usage.input_tokens': int(50), 'gen_ai.usage.output_tokens': int(9), 'gen_ai.usage.cache_read.input_tokens': int(32),
      'openai.response.service_tier': { stringValue: 'default' }, 'openai.response.system_fingerprint': { stringValue: 'fp_json' },
    }, 'OpenAI\'s prompt_tokens already count the cached ones');
    assert.deepEqual(picked('chatStream'), {
      'gen_ai.request.choice.count': int(2), 'gen_ai.response.finish_reasons': reasons('stop', 'length'),
      'gen_ai.usage.input_tokens': int(50), 'gen_ai.usage.output_tokens': int(9), 'gen_ai.usage.cache_read.input_tokens': int(32),
      'openai.response.service_tier': { stringValue: 'default' }, 'openai.response.system_fingerprint': { stringValue: 'fp_stream' },
    });
    assert.deepEqual(picked('responses'), { 'gen_ai.response.finish_reasons': reasons('completed'), 'gen_ai.usage.input_tokens': int(40), 'gen_ai.usage.output_tokens': int(3), 'gen_ai.usage.cache_read.input_tokens': int(16), 'openai.response.service_tier': { stringValue: 'flex' } });
    assert.deepEqual(picked('one'), { 'gen_ai.response.finish_reasons': reasons('stop') }, 'n: 1 is no choice.count; no usage, no tier, no fingerprint');
  } finally {
    await serve.stop();
    await scripted.close();
  }
});

test('gen_ai.request.stop_sequences (Chat stop, Anthropic stop_sequences), top_k and the penalties (doubles), openai.request.service_tier (the request\'s, not auto) and gen_ai.usage.reasoning.output_tokens (OpenAI\'s reasoning_tokens), JSON and streamed', async () => {
  const genai = await startGenaiUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${genai.url}`, '--upstream', `anthropic=${genai.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`] });
  try {
    const ids: Record<string, string> = {};
    for (const call of GENAI_CALLS) {
      const response = await fetch(`${serve.base}/${call.provider}${call.path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(call.body) });
      assert.equal(response.status, 200, call.name);
      await response.text();
      ids[call.name] = response.headers.get('runprint-capture-id')!;
    }
    const span = (name: string) => spans().find((item) => attribute(item, 'runprint.capture.id')?.['stringValue'] === ids[name]);
    await until(() => GENAI_CALLS.every((call) => span(call.name) !== undefined), 'the spans arrive');
    // The conventions type top_k and the penalties as doubles (registry.yaml): sent as doubleValue even when whole.
    const doubles = /^gen_ai\.request\.(top_k|frequency_penalty|presence_penalty)$/;
    const otlp = (key: string, value: string | number | string[]) => (typeof value === 'string' ? { stringValue: value } : typeof value === 'number' ? (doubles.test(key) ? { doubleValue: value } : { intValue: String(value) }) : { arrayValue: { values: value.map((stringValue) => ({ stringValue })) } });
    for (const call of GENAI_CALLS) {
      const found = span(call.name)!;
      assert.equal(attribute(found, 'error.type'), undefined, `${call.name}: a whole answer`);
      const picked = Object.fromEntries(found.attributes.filter((item) => REQUEST_ATTRIBUTE_KEYS.test(item.key)).map((item) => [item.key, item.value]));
      assert.deepEqual(picked, Object.fromEntries(Object.entries(call.expected).map(([key, value]) => [key, otlp(key, value)])), call.name);
    }
  } finally {
    await serve.stop();
    await genai.close();
  }
});

/** A receiver that answers each export with the next scripted status (and headers), then 200; `times` has when each export arrived. */
async function statusReceiver(statuses: { status: number; headers?: Record<string, string> }[], port = 0): Promise<{ url: string; times: number[]; close: () => Promise<void> }> {
  const times: number[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      times.push(performance.now());
      const next = statuses.shift() ?? { status: 200 };
      response.writeHead(next.status, { 'content-type': 'application/json', ...next.headers }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    times,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('an export answered 429, 502, 503 or 504 is retried, after the receiver\'s Retry-After when it gives one, else after a backoff; 400 and 500 are not', async () => {
  // Retry-After: 1 (seconds) is waited for, then the export goes through.
  const throttled = await statusReceiver([{ status: 503, headers: { 'retry-after': '1' } }]);
  const failures: string[] = [];
  let recovered = 0;
  try {
    const exporter = otlpExporter({ endpoint: throttled.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, onFailure: (message) => failures.push(message), onRecovered: () => recovered++ });
    exporter.export(oneSpan(1));
    await exporter.flush();
    assert.equal(throttled.times.length, 2);
    const gap = throttled.times[1]! - throttled.times[0]!;
    assert.ok(gap >= 950 && gap < 2_500, `retried ${Math.round(gap)} ms after a 503 with Retry-After: 1`);
    assert.deepEqual([exporter.counts, failures, recovered], [{ exported: 1, dropped: 0, failures: 0, retries: 1 }, [], 0], 'nothing lost, nothing to report');
    await exporter.close();
  } finally {
    await throttled.close();
  }
  // Without Retry-After: an exponential backoff with jitter, each of 429, 502, 504 retried.
  const busy = await statusReceiver([{ status: 429 }, { status: 502 }, { status: 504 }]);
  try {
    const exporter = otlpExporter({ endpoint: busy.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, retry: { firstDelayMs: 100 } });
    exporter.export(oneSpan(1));
    await exporter.flush();
    assert.equal(busy.times.length, 4);
    const gaps = busy.times.slice(1).map((time, i) => time - busy.times[i]!);
    assert.ok(gaps[0]! >= 45 && gaps[0]! < 400 && gaps[1]! >= 95 && gaps[1]! < 600 && gaps[2]! >= 195 && gaps[2]! < 900, `backoff ${gaps.map(Math.round).join(', ')} ms (100, 200, 400 ms, each a random half to all of it)`);
    assert.deepEqual(exporter.counts, { exported: 1, dropped: 0, failures: 0, retries: 3 });
    await exporter.close();
  } finally {
    await busy.close();
  }
  // 400 and 500 are not retried (the OTLP specification: MUST NOT); nor is a Retry-After past the exporter's wait budget.
  for (const [status, headers] of [[400, {}], [500, {}], [503, { 'retry-after': '120' }]] as const) {
    const refusing = await statusReceiver([{ status, headers }]);
    const said: string[] = [];
    try {
      const exporter = otlpExporter({ endpoint: refusing.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, onFailure: (message) => said.push(message) });
      exporter.export(oneSpan(1));
      const started = performance.now();
      await exporter.flush();
      assert.ok(performance.now() - started < 1_000, `${status}: no wait`);
      assert.deepEqual([refusing.times.length, exporter.counts, said], [1, { exported: 0, dropped: 1, failures: 1, retries: 0 }, [`the OTLP receiver answered HTTP ${status}; its spans are dropped, calls go on`]], String(status));
      await exporter.close();
    } finally {
      await refusing.close();
    }
  }
});

test('an export that finds no connection is retried: a receiver that starts a moment later gets the spans', async () => {
  // A port nothing listens on yet.
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const exporter = otlpExporter({ endpoint: `http://127.0.0.1:${port}/v1/traces`, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, retry: { firstDelayMs: 400 } });
  exporter.export(oneSpan(1));
  const flushed = exporter.flush();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const late = await statusReceiver([], port);
  try {
    await flushed;
    assert.equal(late.times.length, 1);
    assert.equal(exporter.counts.exported, 1);
    assert.ok(exporter.counts.retries >= 1 && exporter.counts.failures === 0, JSON.stringify(exporter.counts));
    await exporter.close();
  } finally {
    await late.close();
  }
});

test('retries never hold a stop: the close\'s bound ends them, and what is unsent is dropped and counted', async () => {
  // Always 503 with Retry-After: 1: without the bound, four tries would take 3 s.
  const always = await statusReceiver(Array.from({ length: 10 }, () => ({ status: 503, headers: { 'retry-after': '1' } })));
  const failures: string[] = [];
  try {
    const exporter = otlpExporter({ endpoint: always.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, closeTimeoutMs: 300, onFailure: (message) => failures.push(message) });
    exporter.export(oneSpan(1));
    void exporter.flush();
    await until(() => always.times.length === 1, 'the first export arrives');
    const closing = performance.now();
    await exporter.close();
    const took = performance.now() - closing;
    assert.ok(took < 600, `closed ${Math.round(took)} ms after close() with a 300 ms bound, while the export waited to be retried`);
    assert.equal(always.times.length, 1, 'no retry after the bound');
    assert.deepEqual(exporter.counts, { exported: 0, dropped: 1, failures: 0, retries: 1 });
    assert.deepEqual(failures, ['the OTLP receiver had not answered the last export 0.3 s into the stop (the most a stop waits for it); 1 span not sent, dropped']);
  } finally {
    await always.close();
  }
  // Once close is called, a retry that would wait past its bound is not made: the spans are dropped at once.
  const refusing = await statusReceiver([{ status: 503, headers: { 'retry-after': '1' } }]);
  try {
    const exporter = otlpExporter({ endpoint: refusing.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, closeTimeoutMs: 500 });
    exporter.export(oneSpan(1));
    const closing = performance.now();
    await exporter.close();
    assert.ok(performance.now() - closing < 450, 'no wait for a retry past the bound');
    assert.deepEqual(exporter.counts, { exported: 0, dropped: 1, failures: 1, retries: 0 });
  } finally {
    await refusing.close();
  }
});

test('retryAfterMs reads delay-seconds and HTTP dates', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterMs('3', now), 3000);
  assert.equal(retryAfterMs(' 0 ', now), 0);
  assert.equal(retryAfterMs('Wed, 01 Jan 2025 00:00:05 GMT', now), 5000);
  assert.equal(retryAfterMs('Tue, 31 Dec 2024 00:00:00 GMT', now), 0, 'a date past is now');
  for (const bad of [null, '', '1.5', '-1', 'soon', '1e3']) assert.equal(retryAfterMs(bad, now), null, String(bad));
});

test('a full queue drops new spans and says so once per outage; an export that works ends the outage (onRecovered), so the next is said again', async () => {
  let answer = 400;
  const receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(answer, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const said: string[] = [];
  let recovered = 0;
  try {
    const exporter = otlpExporter({ endpoint: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, maxBatch: 100, maxQueue: 3, onFailure: (message) => said.push(message), onRecovered: () => recovered++ });
    for (let i = 1; i <= 5; i++) exporter.export(oneSpan(i));
    assert.deepEqual(said, ['3 spans wait for the OTLP receiver, the most kept; new spans are dropped until it takes them, calls go on'], 'said once, not once per span');
    await exporter.flush();
    assert.equal(said.length, 2);
    assert.match(said[1]!, /answered HTTP 400/);
    answer = 200;
    exporter.export(oneSpan(6));
    await exporter.flush();
    assert.equal(recovered, 1, 'the first export that works after failures');
    exporter.export(oneSpan(7));
    await exporter.flush();
    assert.equal(recovered, 1, 'once per outage');
    for (let i = 1; i <= 4; i++) exporter.export(oneSpan(i));
    assert.equal(said.length, 3, 'a new outage says the full queue again');
    await exporter.close();
    assert.deepEqual(exporter.counts, { exported: 5, dropped: 6, failures: 1, retries: 0 }, '2 + 3 (the failed export) + 1 dropped');
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});

test('serve says each kind of telemetry failure again after exports worked in between, and /healthz counts the exporter\'s spans and exports (capture.otlp), as docs/openapi.json says', async () => {
  const statuses = [400, 200, 400];
  const seen: number[] = [];
  const flaky = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const status = statuses.shift() ?? 200;
      seen.push(status);
      response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/v1/traces`] });
  try {
    for (let i = 0; i < 3; i++) {
      upstream.enqueue({ kind: 'text', text: `Call ${i}.` });
      await (await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) })).arrayBuffer();
      await until(() => seen.length === i + 1, `export ${i + 1} arrives`);
    }
    const lines = () => serve.stderr().split('\n').filter((line) => line.startsWith('runprint: telemetry: '));
    await until(() => lines().length === 2, `two lines: ${serve.stderr()}`);
    assert.deepEqual(lines(), Array(2).fill('runprint: telemetry: the OTLP receiver answered HTTP 400; its spans are dropped, calls go on'), 'one per outage');
    const response = await fetch(`${serve.base}/healthz`);
    const bytes = new Uint8Array(await response.clone().arrayBuffer());
    const health = (await response.json()) as { capture: { healthy: boolean; otlp: unknown } };
    assert.deepEqual(health.capture.otlp, { exported: 1, dropped: 2, failed: 2, retries: 0 });
    assert.equal(health.capture.healthy, true, 'telemetry does not make capture unhealthy');
    assert.deepEqual(answerProblems('GET /healthz with OTLP', documentedAnswer('/healthz', 'get', 200), response.headers, bytes), []);
  } finally {
    await serve.stop();
    await new Promise((resolve) => flaky.close(resolve));
  }
});

/** `runprint serve` with `env` added, expected to stop at start: its exit code and stderr. */
function refusedStart(env: Record<string, string>, args: string[] = ['--otlp-endpoint', 'http://127.0.0.1:9/v1/traces']): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dir, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => {
      if (code === null) child.kill('SIGKILL');
      resolve({ code, stderr });
    });
    // One that starts after all is stopped (the assertion on its code then fails).
    setTimeout(() => child.kill('SIGTERM'), 15_000).unref();
  });
}

test('header names Node\'s fetch refuses or sets itself (transfer-encoding, content-length, connection, host, ...) stop serve at start, never printing the value', async () => {
  for (const name of ['transfer-encoding', 'Content-Length', 'keep-alive', 'expect', 'upgrade', 'connection', 'host', 'te', 'trailer', 'proxy-connection']) {
    assert.throws(() => otlpHeaders({ OTEL_EXPORTER_OTLP_HEADERS: `x-ok=1,${name}=s3cret-value` }), (error: unknown) => error instanceof UsageError && error.code === 'ERR_CLI_USAGE' && error.message.startsWith(`OTEL_EXPORTER_OTLP_HEADERS: ${name.toLowerCase()} cannot be sent with an export`) && !error.message.includes('s3cret'), name);
  }
  const refused = await refusedStart({ OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20ok,Transfer-Encoding=s3cret-chunked' });
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr, 'runprint: ERR_CLI_USAGE: OTEL_EXPORTER_OTLP_TRACES_HEADERS: transfer-encoding cannot be sent with an export: it says how the connection or the body is carried, which runprint\'s HTTP client sets itself (Node\'s fetch refuses some, and a wrong one breaks every export)\n');
});

test('OTEL_EXPORTER_OTLP_PROTOCOL: grpc and unknown values stop serve at start, http/protobuf gets a warning (JSON is sent), http/json is taken', async () => {
  assert.deepEqual(await refusedStart({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), { code: 2, stderr: 'runprint: ERR_CLI_USAGE: OTEL_EXPORTER_OTLP_PROTOCOL is grpc, but runprint exports OTLP/HTTP with the JSON encoding only (http/json): give the receiver\'s OTLP/HTTP endpoint (usually port 4318) and set it to http/json, or unset it\n' });
  assert.deepEqual(await refusedStart({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'thrift' }), { code: 2, stderr: 'runprint: ERR_CLI_USAGE: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/json (runprint exports OTLP/HTTP with the JSON encoding only), or grpc or http/protobuf as the OpenTelemetry SDKs name them\n' });
  assert.deepEqual(otlpProtocol({}), { warning: null });
  assert.deepEqual(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }), { warning: null }, 'the traces variable wins');
  assert.deepEqual(otlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: '', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ' ' }), { warning: null }, 'empty is unset');
  // Without an endpoint the variables are not read (another program's settings).
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`], env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } });
  try {
    assert.match(serve.stderr(), /^runprint: telemetry: OTEL_EXPORTER_OTLP_PROTOCOL is http\/protobuf, but runprint exports OTLP\/HTTP with the JSON encoding \(application\/json\) only: the receiver must take JSON \(OTLP receivers should take both on the same URL\); set it to http\/json to say so$/m);
  } finally {
    await serve.stop();
  }
  const quiet = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`], env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_RESOURCE_ATTRIBUTES: 'bad' } });
  await quiet.stop();
  assert.ok(!quiet.stderr().includes('telemetry'), 'no endpoint: not read');
});

test('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES make the spans\' resource (percent-decoded); a malformed list stops serve at start', async () => {
  const before = bodies.length;
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`], env: { OTEL_SERVICE_NAME: 'gateway', OTEL_RESOURCE_ATTRIBUTES: ' service.name=ignored , deployment.environment.name=prod%2Ceu ,team=a%3Db%20c,service.version=9' } });
  try {
    upstream.enqueue({ kind: 'text', text: 'Resource.' });
    await (await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) })).arrayBuffer();
    await until(() => bodies.length > before, 'the export arrives');
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.deepEqual(bodies[before]!.body.resourceSpans[0]!.resource.attributes, [
      { key: 'service.name', value: { stringValue: 'gateway' } },
      { key: 'service.version', value: { stringValue: version } },
      { key: 'deployment.environment.name', value: { stringValue: 'prod,eu' } },
      { key: 'team', value: { stringValue: 'a=b c' } },
    ]);
  } finally {
    await serve.stop();
  }
  assert.deepEqual(otlpResource({}), { serviceName: 'runprint', attributes: {} });
  assert.deepEqual(otlpResource({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=api', OTEL_SERVICE_NAME: '' }), { serviceName: 'api', attributes: {} }, 'an empty OTEL_SERVICE_NAME is unset');
  assert.deepEqual(otlpResource({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=,a=' }), { serviceName: 'runprint', attributes: { a: '' } });
  for (const [list, said] of [['a=1,b', 'entry 2 is not KEY=VALUE'], ['a=%zz', 'entry 1 is not valid percent-encoding'], ['=x', 'entry 1 has an empty key']] as const) {
    assert.throws(() => otlpResource({ OTEL_RESOURCE_ATTRIBUTES: list }), (error: unknown) => error instanceof UsageError && error.code === 'ERR_CLI_USAGE' && error.message.startsWith(`OTEL_RESOURCE_ATTRIBUTES: ${said}`), list);
  }
  const refused = await refusedStart({ OTEL_RESOURCE_ATTRIBUTES: 'team=s3cret%2' });
  assert.deepEqual(refused, { code: 2, stderr: 'runprint: ERR_CLI_USAGE: OTEL_RESOURCE_ATTRIBUTES: entry 1 is not valid percent-encoding\n' });
});

test('a traceparent whose sampled flag is off gets no span (parent-based sampling); one with it on does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
  dirs.push(dir);
  const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`] });
  try {
    const ids: string[] = [];
    for (const flags of ['00', '01', '02', '03']) {
      upstream.enqueue({ kind: 'text', text: `Flags ${flags}.` });
      const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-4bf92f3577b34da6a3ce929d0e0e47${flags}-00f067aa0ba902b7-${flags}` }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) });
      await response.arrayBuffer();
      ids.push(response.headers.get('runprint-capture-id')!);
    }
    const exported = () => ids.map((id) => spans().some((span) => attribute(span, 'runprint.capture.id')?.['stringValue'] === id));
    // The last call's span arrives after (or with) the others'.
    await until(() => exported()[3] === true, 'the sampled spans arrive');
    assert.deepEqual(exported(), [false, true, false, true], 'flags 00 and 02 (not sampled) give no span');
    assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.sampled, false);
  } finally {
    await serve.stop();
  }
});
