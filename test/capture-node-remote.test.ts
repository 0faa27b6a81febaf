/**
 * runprintFetch with a remote runprint server (`url`, RUNPRINT_URL): each exchange goes through a
 * durable outbox in the data directory to the server's `POST /v1/exchanges`
 * (server/ingest-routes.ts), which makes the record itself from the bytes. Here the server is the
 * ingest routes over a real SQLite run store and recorder on loopback. Checked: the server's
 * record has the identities and output digest the bytes give, and a receipt that verifies; a
 * server that is down loses nothing (the outbox holds the exchanges until it is back); an
 * exchange the server refuses (malformed, or 409 ERR_CAPTURE_ID_TAKEN) is kept aside under its own
 * code and counted, and the exchanges behind it are delivered; the default stderr reporter prints
 * a kind of failure again after a delivery worked; malformed exchanges get clear codes; an
 * exchange sent twice is stored once; kill -9 of the sending process while the server holds its
 * answer loses no run and stores none twice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { OUTBOX_FOLDER, REJECTED_FOLDER, runprintFetch } from '../src/capture-node/index.ts';
import { EXCHANGE_VERSION, type ExchangeBody } from '../src/capture/exchange.ts';
import { RunprintError } from '../src/errors.ts';
import type { PublicKey } from '../src/keys/keys.ts';
import { computeIdentity } from '../src/identity/index.ts';
import { parseJson } from '../src/jcs/index.ts';
import { compositionFromRequest, runOutputFrom, type RequestFormat } from '../src/providers/index.ts';
import { verifyReceipt } from '../src/receipt/index.ts';
import { errorResponse } from '../src/server/http-status.ts';
import { ingestRoutes } from '../src/server/ingest-routes.ts';
import { listen, type Listening } from '../src/server/listen.ts';
import { receiptKey } from '../src/store/receipt-key.ts';
import { RunRecorder } from '../src/store/run-recorder.ts';
import { defaultContentPolicy, type StoredRun } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from './helpers/fake-upstream/index.ts';
import { closedPort } from './helpers/closed-port.ts';

const TOKEN = 'capture-token-for-remote-tests';
const HI = [{ role: 'user' as const, content: 'Say hello.' }];
const scratch: string[] = [];
let upstream: FakeUpstream;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-remote-'));
  scratch.push(dir);
  return dir;
}

before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

interface IngestServer {
  url: string;
  storage: SqliteRuns;
  recorder: RunRecorder;
  /** Answers are held (after the record is durable) until this resolves, when set. */
  hold: Promise<void> | undefined;
  runs(): Promise<StoredRun[]>;
  publicKey(): Promise<PublicKey>;
  close(): Promise<void>;
}

/** The ingest routes over a SQLite run store and a signing recorder, listening on loopback. */
async function startIngest(dir: string, port = 0): Promise<IngestServer> {
  const storage = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const key = await receiptKey(dir, dir, undefined);
  const recorder = new RunRecorder({ storage, policy: defaultContentPolicy(), sign: { key, runprintVersion: '0.1.0' } });
  const server: IngestServer = {
    url: '',
    storage,
    recorder,
    hold: undefined,
    runs: async () => (await storage.list({ limit: 1000 })).reverse(),
    publicKey: async () => key.publicKey,
    close: async () => undefined,
  };
  const ingest = ingestRoutes({
    sink: { record: async (run, bytes, capture) => {
      await recorder.record(run, bytes, capture);
      await server.hold;
    } },
    token: TOKEN,
    // As serve: an exchange under a capture id that names another stored record is refused (409).
    recordsOf: async (captureId) => (await storage.find(captureId)).filter((run) => run.record.captureId === captureId).map((run) => run.recordDigest),
    maxBodyBytes: 8 * 1024 * 1024,
    receipts: true,
  });
  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    try {
      const handler = ingest.routes[url.pathname]?.[request.method];
      if (handler === undefined) throw new RunprintError('ERR_HTTP_NOT_FOUND', 'no such path');
      return await handler(request, url);
    } catch (error) {
      return errorResponse(error);
    }
  };
  const listening: Listening = await listen({
    fetch: handle,
    request: (path, init) => handle(new Request(new URL(path, 'http://runprint.invalid'), init)),
    bodyLimit: (method, pathname) => ingest.limits[`${method} ${pathname}`] ?? 0,
  }, { host: '127.0.0.1', port });
  server.url = listening.url;
  server.close = async () => {
    await listening.close();
    await recorder.close();
    await storage.close();
  };
  return server;
}

const waiting = (data: string) => readdirSync(join(data, OUTBOX_FOLDER)).filter((name) => name.endsWith('.json'));

/** The server's stored run checked against the bytes the upstream saw: identities and output from those bytes, and its receipt. */
async function checkStored(server: IngestServer, run: StoredRun, format: RequestFormat, request: RecordedRequest): Promise<void> {
  assert.equal(run.capture, 'sdk');
  const composition = compositionFromRequest(format, parseJson(request.body));
  const output = runOutputFrom(request.response.body, format);
  assert.equal(run.record.requestId, computeIdentity(composition).requestId, 'the request identity of the bytes');
  assert.equal(run.record.runId, computeIdentity({ ...composition, served: output.served }).runId, 'the run identity of the bytes');
  assert.deepEqual(run.record.output?.digest, output.digest, 'the output digest of the bytes');
  await server.recorder.signPending();
  const [signed] = await server.storage.find(run.record.captureId);
  assert.ok(signed?.receipt !== null && signed?.receipt !== undefined, 'the server signed a receipt');
  const report = await verifyReceipt(signed.receipt, { keys: [await server.publicKey()], composition: parseJson(request.body), from: format, output: request.response.body, outputFormat: format });
  assert.ok(report.ok, JSON.stringify(report.checks.filter((check) => !check.ok)));
}

describe('runprintFetch to a runprint server', () => {
  test('each call is recorded by the server from its bytes: identities, output digest and receipt (openai chat, stream, anthropic)', async () => {
    const server = await startIngest(tempDir());
    const data = tempDir();
    const errors: RunprintError[] = [];
    const fetch = runprintFetch({ data, url: `${server.url}/`, token: TOKEN, onError: (error) => void errors.push(error) });
    assert.equal(fetch.url, server.url);
    try {
      const mark = upstream.requests.length;
      const openai = new OpenAI({ apiKey: 'sk-remote', baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 });
      const anthropic = new Anthropic({ apiKey: 'sk-ant-remote', baseURL: upstream.url, fetch, maxRetries: 0 });
      upstream.enqueue({ kind: 'text', text: 'One.' }, { kind: 'text', text: 'Two.' }, { kind: 'text', text: 'Three.' });
      assert.equal((await openai.chat.completions.create({ model: 'gpt-4o', messages: HI })).choices[0]?.message.content, 'One.');
      let streamed = '';
      for await (const chunk of await openai.chat.completions.create({ model: 'gpt-4o', messages: HI, stream: true })) streamed += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(streamed, 'Two.');
      await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: HI });
      await upstream.settled();
      await fetch.flush();
      const received = upstream.requests.slice(mark);
      const runs = await server.runs();
      assert.equal(runs.length, 3);
      for (const [i, format] of (['openai-chat', 'openai-chat', 'anthropic-messages'] as const).entries()) await checkStored(server, runs[i]!, format, received[i]!);
      assert.equal(runs[1]!.record.response.stream, true);
      assert.deepEqual(fetch.counts.outbox, { queued: 3, delivered: 3, rejected: 0, refused: 0 });
      assert.deepEqual(waiting(data), [], 'nothing left in the outbox');
      assert.deepEqual(errors, []);
    } finally {
      await fetch.close();
      await server.close();
    }
  });

  test('a server that is down: the calls complete, the exchanges wait in the outbox, and reach the server once it is up', async () => {
    const port = await closedPort();
    const data = tempDir();
    const errors: RunprintError[] = [];
    const fetch = runprintFetch({ data, url: `http://127.0.0.1:${port}`, token: TOKEN, onError: (error) => void errors.push(error) });
    const openai = new OpenAI({ apiKey: 'sk-remote', baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 });
    const mark = upstream.requests.length;
    for (const text of ['A.', 'B.', 'C.']) {
      upstream.enqueue({ kind: 'text', text });
      assert.equal((await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] })).choices[0]?.message.content, text);
    }
    await fetch.flush();
    assert.equal(waiting(data).length, 3, 'three exchanges wait, one file each');
    for (const name of waiting(data)) assert.ok(!readFileSync(join(data, OUTBOX_FOLDER, name), 'utf8').includes('sk-remote'), 'no credential in the outbox');
    assert.ok(errors.some((error) => error.code === 'ERR_CAPTURE_UNAVAILABLE'), 'the unreachable server is reported');
    assert.equal(fetch.counts.failures, 0, 'waiting is not a failure: nothing is lost');
    const server = await startIngest(tempDir(), port);
    try {
      await fetch.flush();
      assert.deepEqual(waiting(data), []);
      const runs = await server.runs();
      assert.equal(runs.length, 3);
      const received = upstream.requests.slice(mark);
      for (const [i, run] of runs.entries()) await checkStored(server, run, 'openai-chat', received[i]!);
    } finally {
      await fetch.close();
      await server.close();
    }
  });

  test('a server that is not a runprint serve (404), or that refuses the capture token (401): reported under its own code, counted, and the exchanges kept for a fixed configuration', async () => {
    const server = await startIngest(tempDir());
    // Not runprint (or capture off, or too old for the exchanges route): 404 to everything.
    const other = createHttpServer((_request, response) => {
      response.statusCode = 404;
      response.end('Not Found');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    const data = tempDir();
    const call = async (fetch: typeof globalThis.fetch, text: string) => {
      upstream.enqueue({ kind: 'text', text });
      assert.equal((await new OpenAI({ apiKey: 'sk-remote', baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] })).choices[0]?.message.content, text);
    };
    const attempt = async (options: { url: string; token?: string }, calls: string[]) => {
      const errors: RunprintError[] = [];
      const fetch = runprintFetch({ data, ...options, onError: (error) => void errors.push(error) });
      try {
        for (const text of calls) await call(fetch, text);
        await fetch.flush();
        return { errors, counts: { failures: fetch.counts.failures, ...fetch.counts.outbox } };
      } finally {
        await fetch.close();
      }
    };
    try {
      const notRunprint = await attempt({ url: otherUrl }, ['One.', 'Two.']);
      assert.ok(notRunprint.errors.length > 0 && notRunprint.errors.every((error) => error.code === 'ERR_CAPTURE_SERVER_MISMATCH'), notRunprint.errors.map((error) => error.toLine()).join('\n'));
      assert.match(notRunprint.errors[0]!.message, /answered 404 to POST http:\/\/127\.0\.0\.1:[0-9]+\/v1\/exchanges: it is not a runprint serve that takes exchanges .*root address.*in the outbox, kept until a server takes them$/);
      assert.deepEqual(notRunprint.counts, { failures: 2, queued: 2, delivered: 0, rejected: 0, refused: 2 }, 'each exchange counted once, as not recorded');
      assert.equal(waiting(data).length, 2, 'nothing lost: both wait in the outbox');
      const wrongToken = await attempt({ url: server.url, token: 'not-the-token' }, ['Three.']);
      assert.ok(wrongToken.errors.length > 0 && wrongToken.errors.every((error) => error.code === 'ERR_CAPTURE_TOKEN_REFUSED'), wrongToken.errors.map((error) => error.toLine()).join('\n'));
      assert.match(wrongToken.errors[0]!.message, /answered 401 ERR_HTTP_UNAUTHORIZED: it refused the capture token \(runprint-capture-token\) this process sends; give serve's --capture-token as the token option or RUNPRINT_CAPTURE_TOKEN: [23] exchanges wait in the outbox, kept until a server takes them$/);
      assert.deepEqual(wrongToken.counts, { failures: 3, queued: 1, delivered: 0, rejected: 0, refused: 3 });
      const noToken = await attempt({ url: server.url }, []);
      assert.match(noToken.errors[0]?.message ?? '', /answered 401 ERR_HTTP_UNAUTHORIZED: it needs a capture token, and this process sends none/);
      assert.equal(waiting(data).length, 3);
      // The configuration fixed: the next process delivers every exchange kept.
      const fixed = await attempt({ url: server.url, token: TOKEN }, []);
      assert.deepEqual(fixed.errors, []);
      assert.deepEqual(fixed.counts, { failures: 0, queued: 0, delivered: 3, rejected: 0, refused: 0 });
      assert.deepEqual(waiting(data), []);
      assert.equal((await server.runs()).length, 3);
    } finally {
      await new Promise((resolve) => other.close(resolve));
      await server.close();
    }
  });

  test('an exchange the server refuses is moved to rejected/, reported, and the rest are still sent', async () => {
    const server = await startIngest(tempDir());
    const data = tempDir();
    const outbox = join(data, OUTBOX_FOLDER);
    rmSync(outbox, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(outbox, { recursive: true }));
    // Left by an older client: not an exchange this server takes.
    writeFileSync(join(outbox, `0000000000000001-${globalThis.crypto.randomUUID()}.json`), JSON.stringify({ version: 'runprint/exchange/v0' }));
    const errors: RunprintError[] = [];
    const fetch = runprintFetch({ data, url: server.url, token: TOKEN, onError: (error) => void errors.push(error) });
    try {
      upstream.enqueue({ kind: 'text', text: 'After the bad one.' });
      await new OpenAI({ apiKey: 'sk-remote', baseURL: `${upstream.url}/v1`, fetch, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o', messages: HI });
      await fetch.flush();
      assert.deepEqual(waiting(data), []);
      assert.equal(readdirSync(join(outbox, REJECTED_FOLDER)).length, 1);
      assert.equal(fetch.counts.outbox.rejected, 1);
      assert.ok(errors.some((error) => error.code === 'ERR_CAPTURE_EXCHANGE_REJECTED' && /refused an exchange \(400 ERR_HTTP_BAD_REQUEST\)/.test(error.message)));
      assert.equal(fetch.counts.failures, 1, 'a refused exchange is a run lost: counted');
      assert.equal((await server.runs()).length, 1);
    } finally {
      await fetch.close();
      await server.close();
    }
  });

  test('an exchange the server answers 409 ERR_CAPTURE_ID_TAKEN is moved to rejected/, and the exchanges behind it are delivered', async () => {
    const server = await startIngest(tempDir());
    const data = tempDir();
    const outbox = join(data, OUTBOX_FOLDER);
    await import('node:fs/promises').then((fs) => fs.mkdir(outbox, { recursive: true }));
    // The server holds a record under this capture id; the outbox holds another exchange with it
    // (left by a kill -9 between the server's 200 and the unlink, then resent to a server that
    // makes another record of it, say): the server refuses it with 409 for good.
    const captureId = globalThis.crypto.randomUUID();
    const exchangeOf = (content: string) => ({
      version: EXCHANGE_VERSION,
      captureId,
      method: 'POST',
      path: '/v1/chat/completions',
      request: Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] })).toString('base64'),
      response: { status: 200, headers: { 'content-type': 'application/json' }, body: readFileSync(fileURLToPath(new URL('fixtures/output/openai-chat/text.json', import.meta.url))).toString('base64') },
      outcome: 'complete',
      times: { started: 1767225600000, response: 1767225600100, ended: 1767225600200 },
      parents: [],
    });
    const first = await fetch(`${server.url}/v1/exchanges`, { method: 'POST', headers: { 'content-type': 'application/json', 'runprint-capture-token': TOKEN }, body: JSON.stringify(exchangeOf('first')) });
    assert.equal(first.status, 200);
    writeFileSync(join(outbox, `0000000000000001-${captureId}.json`), JSON.stringify(exchangeOf('other')));
    const errors: RunprintError[] = [];
    const wrapped = runprintFetch({ data, url: server.url, token: TOKEN, onError: (error) => void errors.push(error) });
    try {
      upstream.enqueue({ kind: 'text', text: 'Behind the taken one.' }, { kind: 'text', text: 'And another.' });
      const openai = new OpenAI({ apiKey: 'sk-remote', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
      await openai.chat.completions.create({ model: 'gpt-4o', messages: HI });
      await openai.chat.completions.create({ model: 'gpt-4o', messages: HI });
      await wrapped.flush();
      assert.deepEqual(waiting(data), [], 'nothing waits: the refused one is aside, the others delivered');
      assert.deepEqual(readdirSync(join(outbox, REJECTED_FOLDER)), [`0000000000000001-${captureId}.json`]);
      assert.deepEqual(wrapped.counts.outbox, { queued: 2, delivered: 2, rejected: 1, refused: 0 });
      assert.equal(wrapped.counts.failures, 1);
      assert.equal((await server.runs()).length, 3, 'the first record and the two calls behind the refused exchange');
      assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_EXCHANGE_REJECTED']);
      assert.match(errors[0]!.message, /refused an exchange \(409 ERR_CAPTURE_ID_TAKEN\): it is not recorded/);
    } finally {
      await wrapped.close();
      await server.close();
    }
  });

  test('the default reporter: a refused exchange has its own line, and a failure is printed again after a delivery worked', async () => {
    const port = await closedPort();
    const data = tempDir();
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    const wrapped = runprintFetch({ data, url: `http://127.0.0.1:${port}`, token: TOKEN });
    let server: IngestServer | undefined;
    try {
      const openai = new OpenAI({ apiKey: 'sk-remote', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
      upstream.enqueue({ kind: 'text', text: 'While down.' });
      await openai.chat.completions.create({ model: 'gpt-4o', messages: HI });
      await wrapped.flush();
      // An exchange an older client left, which the server refuses; then the server comes up.
      writeFileSync(join(data, OUTBOX_FOLDER, `0000000000000001-${globalThis.crypto.randomUUID()}.json`), JSON.stringify({ version: 'runprint/exchange/v0' }));
      server = await startIngest(tempDir(), port);
      await wrapped.flush();
      assert.deepEqual(waiting(data), []);
      await server.close();
      server = undefined;
      upstream.enqueue({ kind: 'text', text: 'Down again.' });
      await openai.chat.completions.create({ model: 'gpt-4o', messages: HI });
      await wrapped.flush();
    } finally {
      process.stderr.write = write;
      await wrapped.close();
      await server?.close();
    }
    const codes = lines.map((line) => /^runprint: capture: (ERR_[A-Z_]+|runs are recorded again)/.exec(line)?.[1]);
    assert.deepEqual(codes, ['ERR_CAPTURE_UNAVAILABLE', 'ERR_CAPTURE_EXCHANGE_REJECTED', 'runs are recorded again', 'ERR_CAPTURE_UNAVAILABLE'], lines.join(''));
    assert.equal(wrapped.counts.failures, 1, 'the refused exchange');
  });

  test('kill -9 of the sending process while the server holds its answer: every run is stored once', async () => {
    const server = await startIngest(tempDir());
    let release!: () => void;
    server.hold = new Promise((resolve) => (release = resolve));
    const data = tempDir();
    const script = join(tempDir(), 'sender.ts');
    const entry = fileURLToPath(new URL('../src/capture-node/index.ts', import.meta.url));
    writeFileSync(script, `
      import { runprintFetch } from ${JSON.stringify(entry)};
      const fetch = runprintFetch({ data: ${JSON.stringify(data)}, url: ${JSON.stringify(server.url)}, token: ${JSON.stringify(TOKEN)}, onError: () => {} });
      for (let i = 0; i < 5; i++) {
        const response = await fetch(${JSON.stringify(`${upstream.url}/v1/chat/completions`)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'step ' + i }] }) });
        await response.text();
      }
      while (fetch.counts.outbox.queued < 5) await new Promise((resolve) => setTimeout(resolve, 5));
      process.stdout.write('queued\\n');
      setInterval(() => {}, 1000);
    `);
    for (let i = 0; i < 5; i++) upstream.enqueue({ kind: 'text', text: `Step ${i}.` });
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (text: string) => text.includes('queued') && resolve());
        void exited.then(() => reject(new Error('the sender exited before it queued')));
      });
      // The first exchange is durable on the server; its answer is held: the sender dies waiting.
      for (let i = 0; i < 500 && (await server.runs()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal((await server.runs()).length, 1);
      assert.equal(waiting(data).length, 5, 'all five still in the outbox: none was answered');
      child.kill('SIGKILL');
      await exited;
      release();
      server.hold = undefined;
      // The next process on the directory sends what was left.
      const next = runprintFetch({ data, url: server.url, token: TOKEN, onError: () => {} });
      await next.flush();
      await next.close();
      assert.deepEqual(waiting(data), []);
      const runs = await server.runs();
      assert.equal(runs.length, 5, 'five runs, none lost, none twice');
      assert.equal(new Set(runs.map((run) => run.record.captureId)).size, 5);
      assert.deepEqual(next.counts.outbox, { queued: 0, delivered: 5, rejected: 0, refused: 0 });
    } finally {
      child.kill('SIGKILL');
      release();
      await server.close();
    }
  });
});

describe('POST /v1/exchanges', () => {
  let server: IngestServer;
  before(async () => {
    server = await startIngest(tempDir());
  });
  after(() => server.close());

  const request = JSON.stringify({ model: 'gpt-4o', messages: HI });
  const response = readFileSync(fileURLToPath(new URL('fixtures/output/openai-chat/text.json', import.meta.url)));
  const exchange = (change: Partial<ExchangeBody> & Record<string, unknown> = {}): Record<string, unknown> => ({
    version: EXCHANGE_VERSION,
    captureId: '2b9c7f3e-5a61-4d2e-9c1b-8f0a6e4d3c21',
    method: 'POST',
    path: '/v1/chat/completions',
    request: Buffer.from(request).toString('base64'),
    response: { status: 200, headers: { 'content-type': 'application/json' }, body: response.toString('base64') },
    outcome: 'complete',
    times: { started: 1767225600000, response: 1767225600100, ended: 1767225600200 },
    parents: [],
    ...change,
  });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/v1/exchanges`, { method: 'POST', headers: { 'content-type': 'application/json', 'runprint-capture-token': TOKEN, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  test('the server computes the run from the bytes; the same exchange sent twice is stored once', async () => {
    const first = await post(exchange());
    assert.equal(first.status, 200);
    const answer = (await first.json()) as { captureId: string; requestId: string; runId: string; receipt: string };
    const composition = compositionFromRequest('openai-chat', parseJson(new TextEncoder().encode(request)));
    assert.equal(answer.requestId, computeIdentity(composition).requestId);
    assert.equal(answer.runId, computeIdentity({ ...composition, served: runOutputFrom(response, 'openai-chat').served }).runId);
    assert.equal(answer.receipt, `/v1/runs/${answer.captureId}/receipt`);
    const again = await post(exchange());
    assert.deepEqual(await again.json(), answer);
    assert.equal((await server.storage.find(answer.captureId)).length, 1, 'stored once');
  });

  test('a client cannot hand in a record: members other than the exchange are refused', async () => {
    const answer = await post(exchange({ runId: `rp-run-v1-sha256-${'00'.repeat(32)}` }));
    assert.equal(answer.status, 400);
    assert.deepEqual(await answer.json(), { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'is not a member of an exchange', path: "$['runId']" } });
  });

  const CASES: Array<[string, unknown, number, string, string | undefined]> = [
    ['wrong version', exchange({ version: 'runprint/exchange/v0' as never }), 400, 'ERR_HTTP_BAD_REQUEST', "$['version']"],
    ['capture id not a UUID', exchange({ captureId: 'x' }), 400, 'ERR_HTTP_BAD_REQUEST', "$['captureId']"],
    ['a path runprint does not capture', exchange({ path: '/v1/models' }), 400, 'ERR_HTTP_BAD_REQUEST', "$['path']"],
    ['request not base64', exchange({ request: '***' }), 400, 'ERR_HTTP_BAD_REQUEST', "$['request']"],
    ['status out of range', exchange({ response: { status: 99, headers: {}, body: '' } }), 400, 'ERR_HTTP_BAD_REQUEST', "$['response']['status']"],
    ['unknown outcome', exchange({ outcome: 'fine' as never }), 400, 'ERR_HTTP_BAD_REQUEST', "$['outcome']"],
    ['times out of order', exchange({ times: { started: 10, response: 5, ended: 20 } }), 400, 'ERR_HTTP_BAD_REQUEST', "$['times']"],
    ['a parent that is not a run identity', exchange({ parents: ['rp-req-nope'] }), 400, 'ERR_CAPTURE_PARENT_INVALID', "$['parents'][0]"],
    ['not JSON', '{"version":', 400, 'ERR_JSON_TRUNCATED', undefined],
    ['not an object', '[]', 400, 'ERR_HTTP_BAD_REQUEST', '$'],
  ];
  for (const [name, body, status, code, path] of CASES) {
    test(`${name}: ${status} ${code}`, async () => {
      const answer = await post(body);
      assert.equal(answer.status, status);
      const { error } = (await answer.json()) as { error: { code: string; path?: string } };
      assert.equal(error.code, code);
      if (path !== undefined) assert.equal(error.path, path);
    });
  }

  test('without the capture token: 401; not JSON by media type: 415', async () => {
    const unauthorized = await post(exchange(), { 'runprint-capture-token': 'wrong' });
    assert.equal(unauthorized.status, 401);
    assert.equal(((await unauthorized.json()) as { error: { code: string } }).error.code, 'ERR_HTTP_UNAUTHORIZED');
    const media = await post(exchange(), { 'content-type': 'text/plain' });
    assert.equal(media.status, 415);
  });
});
