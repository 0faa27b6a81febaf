/**
 * Stopping `runprint serve` (SIGTERM, Ctrl-C) loses no captured call: streams in progress get
 * `--shutdown-grace` to finish and are then recorded whole; streams still going when it ends are
 * cut and recorded as incomplete before the run store closes; new connections are refused at once.
 * And many calls at once from one client address all go through the proxy (no per-client cap on
 * proxied calls), with the upstream's reason phrase.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import type { RunRecord } from '../src/capture/index.ts';
import { stoppingLine } from '../src/cli/serve-command.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { chatCall } from './helpers/proxy-calls.ts';
import { lockRunStore } from './helpers/run-store-lock.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { RUNPRINT_BIN, startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-shutdown-');

before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

const serveArgs = (grace: number) => ['--upstream', `openai=${upstream.url}`, '--shutdown-grace', String(grace)];

interface Stream {
  captureId: string;
  /** Resolves with the whole body, or with the error that ended it. */
  body: Promise<string | Error>;
}

/** Starts a streamed call through `serve`; resolves once its headers and first bytes arrived. */
async function openStream(serve: ServeProcess, prompt: string): Promise<Stream> {
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-shutdown-0123456789' },
    body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: prompt }] }),
  });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  const decoder = new TextDecoder();
  const body = (async () => {
    let text = decoder.decode(first.value, { stream: true });
    try {
      for (let part = await reader.read(); !part.done; part = await reader.read()) text += decoder.decode(part.value, { stream: true });
      return text;
    } catch (error) {
      return error as Error;
    }
  })();
  return { captureId: response.headers.get('runprint-capture-id')!, body };
}

async function recordOf(serve: ServeProcess, captureId: string): Promise<{ record: RunRecord; receipt: unknown }> {
  const view = (await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: Array<{ record: RunRecord; receipt: unknown }> };
  assert.equal(view.runs.length, 1, `one record of ${captureId}`);
  return view.runs[0]!;
}

test('streams in progress at SIGTERM finish within the grace period, and each is recorded whole and signed', async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: serveArgs(20_000) });
  const text = 'one two three four five six seven eight nine ten eleven twelve';
  for (let i = 0; i < 5; i++) upstream.enqueue({ kind: 'text', text, eventDelayMs: 60 });
  const streams = await Promise.all(Array.from({ length: 5 }, (_, i) => openStream(serve, `finish ${i}`)));
  const stopping = serve.stop();
  for (let i = 0; i < 200 && !/runprint: stopping/.test(serve.stderr()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  // Refused at once: the server no longer accepts connections (a fresh connection, not a pooled one).
  await assert.rejects(new Promise((resolve, reject) => httpRequest(`${serve.base}/healthz`, { agent: false }, resolve).on('error', reject).end()));
  const bodies = await Promise.all(streams.map((stream) => stream.body));
  for (const body of bodies) {
    assert.equal(typeof body, 'string', `the stream ended whole: ${String(body)}`);
    assert.match(body as string, /data: \[DONE\]/);
  }
  assert.equal(await stopping, 0);
  assert.match(serve.stderr(), /runprint: stopping: 5 requests in progress get up to 20 s to finish/);

  const again = await startServe({ data, args: serveArgs(20_000) });
  for (const { captureId } of streams) {
    const { record, receipt } = await recordOf(again, captureId);
    assert.equal(record.outcome, 'complete');
    assert.equal(record.incomplete, null);
    assert.notEqual(record.output, null);
    assert.notEqual(receipt, null, 'signed before serve stopped');
  }
  assert.equal(await again.stop(), 0);
});

test('streams still going when the grace period ends are cut, and recorded as cut by serve (not as the client\'s abort) before the store closes', async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: serveArgs(300) });
  const never = new Promise<never>(() => undefined);
  for (let i = 0; i < 3; i++) upstream.enqueue({ kind: 'text', text: 'held open until the end of time', pauseBeforeEvent: 2, resume: never });
  const streams = await Promise.all(Array.from({ length: 3 }, (_, i) => openStream(serve, `cut ${i}`)));
  // And a call whose upstream has not answered yet when the grace ends.
  upstream.enqueue({ kind: 'text', text: 'too late', headersDelayMs: 60_000 });
  const waiting = chatCall(serve.base, 'no answer yet').then(() => 'answered', () => 'cut');
  for (let i = 0; i < 400 && !upstream.requests.some((each) => each.body.toString().includes('no answer yet')); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  const started = performance.now();
  assert.equal(await serve.stop(), 0);
  const took = performance.now() - started;
  assert.ok(took >= 300 && took < 10_000, `stopped after the grace period (${took.toFixed(0)} ms)`);
  assert.ok(serve.stderr().includes('runprint: stopping: 4 requests in progress get up to 0.3 s to finish, then are cut, their captured calls recorded as incomplete (Ctrl-C again stops at once, recording nothing more)\n'), serve.stderr());
  for (const stream of streams) assert.ok((await stream.body) instanceof Error, 'the client sees its stream cut');
  assert.equal(await waiting, 'cut', 'the client sees its connection close');

  const again = await startServe({ data, args: serveArgs(300) });
  for (const { captureId } of streams) {
    const { record } = await recordOf(again, captureId);
    // The connection was cut (by serve), the stream stopped before its end: not the client's abort.
    assert.equal(record.outcome, 'network-error');
    assert.deepEqual(record.incomplete, { reason: 'cut', code: 'ERR_OUTPUT_INCOMPLETE_STREAM' }, 'recorded as incomplete: cut');
    assert.ok(record.response.size > 0, 'with the bytes that had arrived');
  }
  const listed = (await (await fetch(`${again.base}/v1/runs?status=failed`)).json()) as { runs: Array<{ record: RunRecord }> };
  const unanswered = listed.runs.map((run) => run.record).filter((record) => record.response.status === null);
  assert.equal(unanswered.length, 1, 'the call with no answer yet is recorded');
  assert.equal(unanswered[0]!.outcome, 'network-error');
  assert.deepEqual(unanswered[0]!.incomplete, { reason: 'network-error', code: null }, 'no answer: its connection was cut');
  assert.equal(await again.stop(), 0);
});

test('the stop line, for 1 request in progress and for 2: its grammar agrees with the number', async () => {
  assert.equal(stoppingLine(1, 1_000), 'runprint: stopping: 1 request in progress gets up to 1 s to finish, then is cut, its captured call recorded as incomplete (Ctrl-C again stops at once, recording nothing more)\n');
  assert.equal(stoppingLine(2, 1_500), 'runprint: stopping: 2 requests in progress get up to 1.5 s to finish, then are cut, their captured calls recorded as incomplete (Ctrl-C again stops at once, recording nothing more)\n');
  // As a real serve prints it, stopped with one stream going.
  const serve = await startServe({ data: scratch.tempDir(), args: serveArgs(200) });
  upstream.enqueue({ kind: 'text', text: 'held open until the end of time', pauseBeforeEvent: 2, resume: new Promise<never>(() => undefined) });
  const stream = await openStream(serve, 'cut alone');
  assert.equal(await serve.stop(), 0);
  assert.ok(await stream.body instanceof Error, 'cut');
  assert.ok(serve.stderr().includes('runprint: stopping: 1 request in progress gets up to 0.2 s to finish, then is cut, its captured call recorded as incomplete (Ctrl-C again stops at once, recording nothing more)\n'), serve.stderr());
});

test('one client address, 120 streamed calls at once: all go through and are recorded (proxied calls are not held to the per-client request cap, 64)', async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: serveArgs(1_000) });
  const release: Array<() => void> = [];
  const gate = new Promise<void>((resolve) => release.push(resolve));
  for (let i = 0; i < 120; i++) upstream.enqueue({ kind: 'text', text: 'at once', pauseBeforeEvent: 1, resume: gate });
  // Plain node:http with a fresh connection each: fetch would pool them.
  const calls = Array.from({ length: 120 }, (_, i) => new Promise<{ status: number; reason: string; captureId: string; body: string }>((resolve, reject) => {
    const out = httpRequest(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (answer) => {
      let body = '';
      answer.setEncoding('utf8').on('data', (part: string) => (body += part)).on('end', () => resolve({ status: answer.statusCode!, reason: answer.statusMessage!, captureId: String(answer.headers['runprint-capture-id']), body }));
    });
    out.on('error', reject);
    out.end(JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `call ${i}` }] }));
  }));
  // Every call is in progress at the upstream before any is let go.
  for (let i = 0; i < 400 && upstream.requests.filter((each) => each.body.toString().includes('"content":"call ')).length < 120; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  release[0]!();
  const answers = await Promise.all(calls);
  assert.deepEqual(answers.map((answer) => answer.status), answers.map(() => 200));
  assert.equal(answers.filter((answer) => /data: \[DONE\]/.test(answer.body)).length, 120);
  for (const { captureId } of answers.slice(0, 10)) assert.equal((await recordOf(serve, captureId)).record.outcome, 'complete');
  assert.equal(await serve.stop(), 0);
});

test('the upstream\'s reason phrase reaches the client', async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: serveArgs(1_000) });
  const { createServer } = await import('node:http');
  const odd = createServer((_request, response) => {
    response.writeHead(200, 'Very OK', { 'content-type': 'application/json' });
    response.end('{"object":"list","data":[]}');
  });
  await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
  const port = (odd.address() as { port: number }).port;
  const other = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=http://127.0.0.1:${port}`] });
  const reason = await new Promise<string>((resolve, reject) => {
    httpRequest(`${other.base}/openai/v1/models`, (answer) => {
      answer.resume();
      resolve(answer.statusMessage!);
    }).on('error', reject).end();
  });
  assert.equal(reason, 'Very OK');
  await other.stop();
  await serve.stop();
  await new Promise((resolve) => odd.close(resolve));
});

test('stopped while the run store is locked: the records it could not commit wait in the held-records journal, and stderr says so', async () => {
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: serveArgs(1_000) });
  const warm = await chatCall(serve.base, 'before the lock');
  await warm.text();
  const lock = lockRunStore(data);
  try {
    for (let i = 0; i < 2; i++) {
      const response = await chatCall(serve.base, `during the lock ${i}`);
      assert.equal(response.status, 200, 'fail-open: the call goes on');
      await response.text();
    }
    assert.equal(await serve.stop(), 0);
  } finally {
    lock.close();
  }
  assert.match(serve.stderr(), /runprint: capture: 2 records the run store could not take wait in .*held-runs\.sqlite: committed when serve starts again with this data directory/);
  assert.doesNotMatch(serve.stderr(), /ERR_CAPTURE_RECORDS_LOST/, 'none lost (test/capture-held-journal.test.ts commits them at the next start)');
});

test('a SIGTERM sent as soon as serve prints its first start line stops it cleanly (exit 0): the handlers are installed before the lines are printed', async () => {
  for (let round = 0; round < 8; round++) {
    const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', scratch.tempDir(), ...serveArgs(1)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // At the first byte of the first start line, as a supervisor that waits for it would.
      if (stderr === '' && chunk.startsWith('runprint: listening')) child.kill('SIGTERM');
      stderr += chunk;
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])));
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `round ${round + 1}: ${stderr}`);
  }
});
