/**
 * OpenTelemetry from the proxy: with --otlp-endpoint (or the OTEL_EXPORTER_OTLP_* variables),
 * `runprint serve` exports one span per captured run over OTLP/HTTP JSON to a loopback receiver,
 * with the GenAI semantic-convention attributes, runprint's identities and component digests, in
 * the caller's trace when it sent a W3C traceparent; a receiver that is down drops spans, never calls.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { otlpExporter, otlpHeaders, otlpTimeout, parseTraceparent, type OtlpSpan } from '../src/server/otlp.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';
import { startStreamMismatchUpstream } from './helpers/stream-mismatch-upstream.ts';

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

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
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
  const lines = serve.stderr().split('\n').filter((line) => line.startsWith('runprint: telemetry: '));
  assert.equal(lines.length, 1, `one line, not one per failed export: ${lines.join(' / ')}`);
  assert.match(lines[0]!, /cannot be reached; its spans are dropped, calls go on$/);
  await serve.stop();
});

test('traceparent: only a well-formed version 00 header joins a trace', () => {
  assert.deepEqual(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' });
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

test('a receiver that never answers: the export times out and says so (not "cannot be reached")', async () => {
  const hung = await hungReceiver();
  const failures: string[] = [];
  const exporter = otlpExporter({ endpoint: hung.url, serviceName: 'runprint', serviceVersion: 'x', intervalMs: 60_000, timeoutMs: 300, onFailure: (message) => failures.push(message) });
  try {
    exporter.export({ traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', name: 'chat', kind: 3, startTimeUnixNano: '0', endTimeUnixNano: '0', attributes: [], status: { code: 0 } });
    await exporter.flush();
    assert.deepEqual(failures, ['the OTLP receiver did not answer within 0.3 s (timed out); its spans are dropped, calls go on']);
    assert.deepEqual(exporter.counts, { exported: 0, dropped: 1, failures: 1 });
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
    assert.deepEqual(exporter.counts, { exported: 0, dropped: 3, failures: 0 });
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
    assert.deepEqual([received, exporter.counts, failures], [1, { exported: 2, dropped: 0, failures: 0 }, []]);
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

test('no sampling setting is a span attribute when the parameters are salted (--capture-salt) or kept by digest only (--capture-keep parameters=digest): no content in a span', async () => {
  const SETTINGS = ['gen_ai.request.temperature', 'gen_ai.request.top_p', 'gen_ai.request.max_tokens'];
  for (const [args, shown] of [[['--capture-salt', 'parameters'], false], [['--capture-salt', 'all'], false], [['--capture-keep', 'parameters=digest'], false], [['--capture-salt', 'system', '--capture-keep', 'input=digest'], true]] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'runprint-otlp-'));
    dirs.push(dir);
    const serve = await startServe({ data: dir, args: ['--upstream', `openai=${upstream.url}`, '--otlp-endpoint', `${receiverUrl}/v1/traces`, ...args] });
    try {
      upstream.enqueue({ kind: 'text', text: 'Settings.' });
      const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', temperature: 0.3125, top_p: 0.75, max_completion_tokens: 77, messages: [{ role: 'user', content: 'Hi' }] }) });
      assert.equal(response.status, 200);
      await response.text();
      const capture = response.headers.get('runprint-capture-id')!;
      const span = () => spans().find((item) => attribute(item, 'runprint.capture.id')?.['stringValue'] === capture);
      await until(() => span() !== undefined, 'the span arrives');
      const found = SETTINGS.filter((key) => attribute(span()!, key) !== undefined);
      assert.deepEqual(found, shown ? SETTINGS : [], args.join(' '));
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
    // 0.4 s, not the default 10 s (nor the 60 s of the general variable): the line comes within the wait.
    const line = 'runprint: telemetry: the OTLP receiver did not answer within 0.4 s (timed out); its spans are dropped, calls go on';
    await until(() => serve.stderr().split('\n').includes(line), `the timeout is reported: ${serve.stderr()}`);
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
