/**
 * Declared retrieval through the proxy: a client in any language declares the documents a call
 * rests on in `runprint-retrieval` headers (base64url of the JSON array withRetrieval takes). A
 * real `runprint serve` in front of the fake upstream checks them with the capture core's own
 * check, records and stores them as in-process capture does (equal identities and equal
 * `retrieval` entries for the same call made both ways), never forwards the header, and never
 * lets a bad declaration change what the client gets from the upstream, unless fail-closed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { readRetrievalHeader, retrievalHeader, type RunRecord } from '../src/capture/index.ts';
import { runprintFetch, withRetrieval } from '../src/capture-node/index.ts';
import { captureOptions } from '../src/cli/serve-capture.ts';
import { UsageError, type RunprintError } from '../src/errors.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-proxy-retrieval-0123456789';
const DOC_A = 'The Eiffel Tower is 330 metres tall and stands in Paris.';
const DOC_B = 'Lyon lies at the confluence of the Rhône and the Saône.';
/** A text that must never reach serve's stderr, whatever is wrong with its declaration. */
const SECRET_DOC = 'Internal memo 7731: the merger closes on Friday.';

interface RunView {
  seq: number;
  captureId: string;
  record: RunRecord;
}

let upstream: FakeUpstream;
let serve: ServeProcess;
let closed: ServeProcess;
let roomy: ServeProcess;
let data: string;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-proxy-retrieval-'));
  scratch.push(dir);
  return dir;
}

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  const args = ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`];
  [serve, closed, roomy] = await Promise.all([
    startServe({ data, args }),
    startServe({ data: tempDir(), args: [...args, '--capture-fail-closed'] }),
    startServe({ data: tempDir(), args, env: { RUNPRINT_CAPTURE_RETRIEVAL_MAX: '200000' } }),
  ]);
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const ask = (documents: string[], question = 'How tall?') => ({
  model: 'gpt-4o',
  messages: [
    { role: 'system' as const, content: 'Answer from the documents.' },
    { role: 'user' as const, content: `Documents:\n${documents.join('\n"quoted"\n')}\n\nQuestion: ${question}` },
  ],
});

async function stored(base: string, captureId: string): Promise<RunView> {
  const response = await fetch(`${base}/v1/runs/${captureId}`);
  assert.equal(response.status, 200, 'the run is stored when its answer has ended (sync durability)');
  const { runs } = (await response.json()) as { runs: RunView[] };
  assert.equal(runs.length, 1);
  return runs[0]!;
}

function runprintHeaders(request: RecordedRequest): string[] {
  return Object.keys(request.headers).filter((name) => name.startsWith('runprint-'));
}

/** A raw proxied chat call with these extra headers: what the client got, and what the upstream received and sent. */
async function rawCall(base: string, body: unknown, headers: Record<string, string | string[]>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; received: RecordedRequest | undefined }> {
  const mark = upstream.requests.length;
  const payload = Buffer.from(JSON.stringify(body));
  const answer = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const call = httpRequest(`${base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}`, 'content-length': payload.length, ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    call.on('error', reject);
    call.end(payload);
  });
  await upstream.settled();
  const received = upstream.requests.slice(mark);
  assert.ok(received.length <= 1);
  return { ...answer, received: received[0] };
}

const healthFailures = async (base: string) => ((await (await fetch(`${base}/healthz`)).json()) as { capture: { failures: number } }).capture.failures;

describe('runprint-retrieval through the proxy', () => {
  test('the same call in process (withRetrieval) and through the proxy (the openai SDK\'s per-request headers): equal identities and equal retrieval entries; the upstream never sees the header', async () => {
    const documents = [{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://cities/lyon', text: DOC_B }];
    // In process, into a run store of its own.
    const localDir = tempDir();
    const errors: RunprintError[] = [];
    const wrapped = runprintFetch({ data: localDir, onError: (error) => void errors.push(error) });
    const direct = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
    upstream.enqueue({ kind: 'text', text: 'It is 330 metres tall.' });
    await withRetrieval(documents, () => direct.chat.completions.create(ask([DOC_A, DOC_B])));
    await wrapped.close();
    assert.deepEqual(errors, []);
    const store = SqliteRuns.open(join(localDir, 'runs.sqlite'));
    let local: RunRecord;
    try {
      const runs = await store.list({});
      assert.equal(runs.length, 1);
      local = runs[0]!.record;
    } finally {
      await store.close();
    }

    // Through the proxy: the usage a Python or Go client copies, one header per call.
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${serve.base}/openai/v1`, maxRetries: 0 });
    upstream.enqueue({ kind: 'text', text: 'It is 330 metres tall.' });
    const mark = upstream.requests.length;
    const { data: completion, response } = await client.chat.completions
      .create(ask([DOC_A, DOC_B]), { headers: { 'runprint-retrieval': retrievalHeader(documents) } })
      .withResponse();
    await upstream.settled();
    assert.equal(completion.choices[0]?.message.content, 'It is 330 metres tall.');
    assert.equal(response.headers.get('runprint-retrieval-error'), null, 'both documents were found');
    const sent = upstream.requests.slice(mark);
    assert.equal(sent.length, 1);
    assert.deepEqual(runprintHeaders(sent[0]!), [], 'no runprint-* header reaches the upstream');
    assert.equal(sent[0]!.headers['authorization'], `Bearer ${OPENAI_KEY}`);
    const proxied = (await stored(serve.base, response.headers.get('runprint-capture-id')!)).record;

    assert.ok(local.runId !== null);
    assert.equal(proxied.requestId, local.requestId, 'same request identity');
    assert.equal(proxied.runId, local.runId, 'same run identity');
    assert.deepEqual(proxied.output?.digest, local.output?.digest, 'same output digest');
    assert.deepEqual(proxied.retrieval, local.retrieval, 'the same retrieval entries');
    assert.deepEqual(proxied.retrieval, [
      { source: 'kb://towers/eiffel', digest: { sha256: sha256(DOC_A) }, component: 'input', element: 0 },
      { source: 'kb://cities/lyon', digest: { sha256: sha256(DOC_B) }, component: 'input', element: 0 },
    ]);

    // The identity does not change with a declaration.
    upstream.enqueue({ kind: 'text', text: 'It is 330 metres tall.' });
    const { response: plain } = await client.chat.completions.create(ask([DOC_A, DOC_B])).withResponse();
    await upstream.settled();
    const undeclared = (await stored(serve.base, plain.headers.get('runprint-capture-id')!)).record;
    assert.equal(undeclared.runId, proxied.runId);
    assert.deepEqual(undeclared.retrieval, []);

    // The store keeps the text by its digest, and finds the runs by document (the real CLI, another process).
    const content = await fetch(`${serve.base}/v1/content/${sha256(DOC_B)}`);
    assert.equal(content.status, 200);
    assert.equal(await content.text(), DOC_B);
    const listed = await runRunprint(['runs', 'list', '--data', data, '--component', `retrieval=${sha256(DOC_B)}`, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const found = (JSON.parse(listed.stdout) as { runs: RunView[] }).runs;
    assert.ok(found.some((run) => run.captureId === proxied.captureId), 'runs list --component retrieval=DIGEST finds the proxied run');
    assert.ok(!found.some((run) => run.captureId === undeclared.captureId), 'and not the same call without the declaration');
    const overHttp = (await (await fetch(`${serve.base}/v1/runs?component=retrieval=${sha256(DOC_A)}`)).json()) as { runs: RunView[] };
    assert.ok(overHttp.runs.some((run) => run.captureId === proxied.captureId));
  });

  test('a Python client (standard library only, the encoding docs/CAPTURE.md gives) declares its documents through the proxy', async () => {
    // The recipe of docs/CAPTURE.md, "Declared retrieval"; json.dumps escapes non-ASCII as \uXXXX, which is the same JSON.
    const script = `
import base64, json, sys, urllib.request

def retrieval(docs):
    return base64.urlsafe_b64encode(json.dumps(docs).encode()).rstrip(b"=").decode()

base, doc_a, doc_b = sys.argv[1], sys.argv[2], sys.argv[3]
docs = [{"source": "kb://cities/lyon", "text": doc_b}, {"source": "kb://towers/eiffel", "text": doc_a}]
body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Read:\\n" + doc_a + "\\n" + doc_b}]}
request = urllib.request.Request(base + "/openai/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
    headers={"content-type": "application/json", "authorization": "Bearer ${OPENAI_KEY}", "runprint-retrieval": retrieval(docs)})
with urllib.request.urlopen(request) as response:
    answer = json.load(response)
    print(json.dumps({"capture": response.headers["runprint-capture-id"], "error": response.headers["runprint-retrieval-error"], "content": answer["choices"][0]["message"]["content"]}))
`;
    upstream.enqueue({ kind: 'text', text: 'From Python.' });
    const { stdout } = await promisify(execFile)('python3', ['-c', script, serve.base, DOC_A, DOC_B]);
    await upstream.settled();
    const result = JSON.parse(stdout) as { capture: string; error: string | null; content: string };
    assert.equal(result.content, 'From Python.');
    assert.equal(result.error, null);
    assert.deepEqual(runprintHeaders(upstream.requests.at(-1)!), []);
    const run = await stored(serve.base, result.capture);
    assert.deepEqual(run.record.retrieval, [
      { source: 'kb://cities/lyon', digest: { sha256: sha256(DOC_B) }, component: 'input', element: 0 },
      { source: 'kb://towers/eiffel', digest: { sha256: sha256(DOC_A) }, component: 'input', element: 0 },
    ]);
  });

  test('Anthropic messages (the SDK\'s per-request headers): a document in the system prompt is placed there, a streamed answer is recorded with it', async () => {
    const client = new Anthropic({ apiKey: 'sk-ant-test-proxy-retrieval-0123', baseURL: `${serve.base}/anthropic`, maxRetries: 0 });
    const headers = { 'runprint-retrieval': retrievalHeader([{ source: 'kb://cities/lyon', text: DOC_B }, { source: 'kb://towers/eiffel', text: DOC_A }]) };
    const body = { model: 'claude-sonnet-4-5', max_tokens: 64, system: `Answer from this document: ${DOC_B}`, messages: [{ role: 'user' as const, content: `And this one: ${DOC_A}` }] };
    upstream.enqueue({ kind: 'text', text: 'Two rivers.' });
    const { response } = await client.messages.create(body, { headers }).withResponse();
    upstream.enqueue({ kind: 'text', text: 'Two rivers.' });
    const stream = client.messages.stream(body, { headers });
    await stream.finalMessage();
    await upstream.settled();
    const streamed = upstream.requests.at(-1)!;
    assert.deepEqual(runprintHeaders(streamed), []);
    const expected = [
      { source: 'kb://cities/lyon', digest: { sha256: sha256(DOC_B) }, component: 'system', element: 0 },
      { source: 'kb://towers/eiffel', digest: { sha256: sha256(DOC_A) }, component: 'input', element: 0 },
    ];
    assert.deepEqual((await stored(serve.base, response.headers.get('runprint-capture-id')!)).record.retrieval, expected);
    // The newest run is the streamed one (this file's calls are made one at a time).
    const newest = ((await (await fetch(`${serve.base}/v1/runs?limit=1`)).json()) as { runs: RunView[] }).runs[0]!;
    const run = await stored(serve.base, newest.captureId);
    assert.equal(run.record.request.rawDigest.sha256, createHash('sha256').update(streamed.body).digest('hex'), 'the run of the streamed call');
    assert.equal(run.record.response.stream, true);
    assert.deepEqual(run.record.retrieval, expected);
  });

  test('several runprint-retrieval header lines are read in order as one list, a streamed answer too', async () => {
    upstream.enqueue({ kind: 'text', text: 'Two rivers.' });
    const answer = await rawCall(serve.base, { ...ask([DOC_A, DOC_B], 'Which rivers?'), stream: true }, {
      'runprint-retrieval': [retrievalHeader([{ source: 'kb://cities/lyon', text: DOC_B }]), retrievalHeader([{ source: 'kb://towers/eiffel', text: DOC_A }])],
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, answer.received!.response.body, 'the client gets the stream the upstream sent');
    assert.deepEqual(runprintHeaders(answer.received!), []);
    assert.equal(answer.headers['runprint-retrieval-error'], undefined);
    const run = await stored(serve.base, answer.headers['runprint-capture-id'] as string);
    assert.equal(run.record.response.stream, true);
    assert.deepEqual(run.record.retrieval.map((document) => document.source), ['kb://cities/lyon', 'kb://towers/eiffel']);
  });

  test('fail-open: a malformed, unmatched or too large declaration never changes what the client gets; the record leaves it out and the failure is counted and reported without the texts', async () => {
    const before = await healthFailures(serve.base);
    const good = retrievalHeader([{ source: 'kb://towers/eiffel', text: DOC_A }]);
    const cases: Array<[name: string, value: string, code: string, recorded: string[]]> = [
      ['not base64url', `${good}+/`, 'ERR_CAPTURE_RETRIEVAL_INVALID', []],
      ['not JSON', Buffer.from(`[{"source": "kb://memo", "text": "${SECRET_DOC}"`).toString('base64url'), 'ERR_CAPTURE_RETRIEVAL_INVALID', []],
      ['not { source, text }', Buffer.from(JSON.stringify([{ source: 'kb://memo', text: SECRET_DOC, score: 1 }])).toString('base64url'), 'ERR_CAPTURE_RETRIEVAL_INVALID', []],
      ['one good value and one bad', `${good}, %%%`, 'ERR_CAPTURE_RETRIEVAL_INVALID', []],
      ['a text not in the request', retrievalHeader([{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://memo', text: SECRET_DOC }]), 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', ['kb://towers/eiffel']],
      ['too large', retrievalHeader([{ source: 'kb://memo', text: `${SECRET_DOC} ${'x'.repeat(50_000)}` }]), 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE', []],
    ];
    for (const [name, value, code, recorded] of cases) {
      upstream.enqueue({ kind: 'text', text: `Answer ${name}.` });
      const answer = await rawCall(serve.base, ask([DOC_A]), { 'runprint-retrieval': value });
      assert.ok(answer.received !== undefined, `${name}: the call is forwarded`);
      assert.deepEqual(runprintHeaders(answer.received), [], `${name}: the header is not forwarded`);
      assert.equal(answer.status, answer.received.response.status, `${name}: the upstream's status`);
      assert.deepEqual(answer.body, answer.received.response.body, `${name}: the upstream's body, byte for byte`);
      assert.equal(answer.headers['x-request-id'], answer.received.response.headers['x-request-id'], `${name}: the upstream's headers`);
      assert.equal(answer.headers['runprint-retrieval-error'], code, `${name}: the answer names what went wrong`);
      const run = await stored(serve.base, answer.headers['runprint-capture-id'] as string);
      assert.deepEqual(run.record.retrieval.map((document) => document.source), recorded, `${name}: only what the request holds is recorded`);
      assert.ok(run.record.runId !== null, `${name}: the run is identified as usual`);
    }
    assert.equal(await healthFailures(serve.base), before + cases.length, 'each failure is counted');
    const stderr = serve.stderr();
    for (const code of ['ERR_CAPTURE_RETRIEVAL_INVALID', 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE']) {
      assert.equal(stderr.split(code).length - 1, 1, `${code} is reported once on stderr`);
    }
    assert.match(stderr, /kb:\/\/memo/, 'the source of a document not in the request is named');
    assert.ok(!stderr.includes('Internal memo') && !stderr.includes('merger'), 'no document text reaches stderr');
  });

  test('a header block past what serve reads (16 KiB + 64 KiB) is refused with 431 and not forwarded', async () => {
    const mark = upstream.requests.length;
    let status: number | string;
    try {
      status = (await rawCall(serve.base, ask([DOC_A]), { 'runprint-retrieval': retrievalHeader([{ source: 'kb://big', text: 'y'.repeat(80 * 1024) }]) })).status;
    } catch (error) {
      // serve answers 431 (ERR_HTTP_HEADERS_TOO_LARGE) and closes at once: while the client still sends, the close may reach it as a reset first.
      status = (error as NodeJS.ErrnoException).code ?? 'unknown';
    }
    assert.ok(status === 431 || status === 'ECONNRESET' || status === 'EPIPE', `431 or a reset, not ${status}`);
    assert.equal(upstream.requests.length, mark, 'nothing reaches the upstream');
    // A declaration past Node's default 16 KiB header block, within serve's limit, is read and recorded.
    const long = `${DOC_B} ${'Saône '.repeat(6000)}`;
    const within = await rawCall(serve.base, ask([long]), { 'runprint-retrieval': retrievalHeader([{ source: 'kb://long', text: long }]) });
    assert.equal(within.status, 200);
    assert.equal(within.headers['runprint-retrieval-error'], undefined);
    const run = await stored(serve.base, within.headers['runprint-capture-id'] as string);
    assert.deepEqual(run.record.retrieval.map((document) => document.digest.sha256), [sha256(long)]);
  });

  test('--capture-retrieval-max (here RUNPRINT_CAPTURE_RETRIEVAL_MAX=200000) raises the limit and the header block with it', async () => {
    const long = `${DOC_A} ${'Eiffel '.repeat(16_000)}`;
    const value = retrievalHeader([{ source: 'kb://long', text: long }]);
    assert.ok(value.length > 140_000 && value.length < 200_000, String(value.length));
    upstream.enqueue({ kind: 'text', text: 'Tall.' });
    const within = await rawCall(roomy.base, ask([long]), { 'runprint-retrieval': value });
    assert.equal(within.status, 200);
    assert.equal(within.headers['runprint-retrieval-error'], undefined);
    const run = await stored(roomy.base, within.headers['runprint-capture-id'] as string);
    assert.deepEqual(run.record.retrieval.map((document) => document.digest.sha256), [sha256(long)]);
    // Past the limit, within the block: read, refused by the proxy with its own code, the call forwarded.
    const longer = `${long}${'x'.repeat(40_000)}`;
    upstream.enqueue({ kind: 'text', text: 'Tall.' });
    const past = await rawCall(roomy.base, ask([longer]), { 'runprint-retrieval': retrievalHeader([{ source: 'kb://longer', text: longer }]) });
    assert.equal(past.status, 200);
    assert.equal(past.headers['runprint-retrieval-error'], 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
    assert.deepEqual((await stored(roomy.base, past.headers['runprint-capture-id'] as string)).record.retrieval, []);
  });

  test('--capture-retrieval-max takes 1024 to 1048576 bytes', () => {
    const io = { stderr: () => undefined } as unknown as Parameters<typeof captureOptions>[3];
    assert.equal(captureOptions({}, {}, '127.0.0.1', io)!.retrievalMax, 65536);
    assert.equal(captureOptions({ 'capture-retrieval-max': '1024' }, {}, '127.0.0.1', io)!.retrievalMax, 1024);
    assert.equal(captureOptions({}, { RUNPRINT_CAPTURE_RETRIEVAL_MAX: '1048576' }, '127.0.0.1', io)!.retrievalMax, 1048576);
    for (const value of ['1023', '1048577', '64k', '', '-1', '0x400']) {
      assert.throws(() => captureOptions({ 'capture-retrieval-max': value }, {}, '127.0.0.1', io), (error: unknown) => error instanceof UsageError && error.code === 'ERR_CLI_USAGE' && /--capture-retrieval-max/.test(error.message), value);
    }
  });

  test('two chunks of one source are two documents: GET /v1/content/{digest} serves each chunk\'s own text, bytes that hash to their name', async () => {
    const chunks = ['Proxy FAQ chunk 1: returns are free within 30 days.', 'Proxy FAQ chunk 2: shipping takes 3 to 5 days.'];
    upstream.enqueue({ kind: 'text', text: '3 to 5 days.' });
    const answer = await rawCall(serve.base, ask(chunks, 'How long is shipping?'), { 'runprint-retrieval': retrievalHeader(chunks.map((text) => ({ source: 'kb://faq', text }))) });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['runprint-retrieval-error'], undefined);
    const run = await stored(serve.base, answer.headers['runprint-capture-id'] as string);
    assert.deepEqual(run.record.retrieval.map((document) => [document.source, document.digest.sha256]), chunks.map((text) => ['kb://faq', sha256(text)]));
    for (const text of chunks) {
      const content = await fetch(`${serve.base}/v1/content/${sha256(text)}`);
      assert.equal(content.status, 200);
      const bytes = Buffer.from(await content.arrayBuffer());
      assert.equal(createHash('sha256').update(bytes).digest('hex'), sha256(text), 'the content hashes to its name');
      assert.equal(bytes.toString('utf8'), text);
    }
  });

  test('256 documents, one per runprint-retrieval header line, are read and recorded; 257 are ERR_CAPTURE_RETRIEVAL_TOO_LARGE (fail-open: forwarded, none recorded; fail-closed: 431, not forwarded)', async () => {
    const many = Array.from({ length: 257 }, (_, i) => ({ source: `kb://note/${i}`, text: `Proxy note ${i}.` }));
    const body = ask(many.map((document) => document.text));
    const lines = (documents: typeof many) => ({ 'runprint-retrieval': documents.map((document) => retrievalHeader([document])) });
    upstream.enqueue({ kind: 'text', text: 'Noted.' });
    const within = await rawCall(serve.base, body, lines(many.slice(0, 256)));
    assert.equal(within.status, 200);
    assert.equal(within.headers['runprint-retrieval-error'], undefined);
    const recorded = (await stored(serve.base, within.headers['runprint-capture-id'] as string)).record.retrieval;
    assert.deepEqual(recorded.map((document) => document.source), many.slice(0, 256).map((document) => document.source));
    upstream.enqueue({ kind: 'text', text: 'Noted.' });
    const past = await rawCall(serve.base, body, lines(many));
    assert.ok(past.received !== undefined, 'fail-open: forwarded');
    assert.deepEqual(past.body, past.received.response.body);
    assert.equal(past.headers['runprint-retrieval-error'], 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
    assert.deepEqual((await stored(serve.base, past.headers['runprint-capture-id'] as string)).record.retrieval, []);
    const refused = await rawCall(closed.base, body, lines(many));
    assert.equal(refused.received, undefined, 'fail-closed: not forwarded');
    assert.equal(refused.status, 431);
    const error = (JSON.parse(refused.body.toString('utf8')) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
    assert.match(error.message, /257 documents are declared, more than the 256/);
  });

  test('--capture-fail-closed: a declaration that cannot be recorded as sent is refused before forwarding', async () => {
    const cases: Array<[name: string, value: string, status: number, code: string]> = [
      ['malformed', 'not base64!', 400, 'ERR_CAPTURE_RETRIEVAL_INVALID'],
      ['not in the request', retrievalHeader([{ source: 'kb://memo', text: SECRET_DOC }]), 400, 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST'],
      ['too large', retrievalHeader([{ source: 'kb://memo', text: 'z'.repeat(50_000) }]), 431, 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE'],
    ];
    for (const [name, value, status, code] of cases) {
      const answer = await rawCall(closed.base, ask([DOC_A]), { 'runprint-retrieval': value });
      assert.equal(answer.received, undefined, `${name}: not forwarded`);
      assert.equal(answer.status, status, name);
      const error = (JSON.parse(answer.body.toString('utf8')) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, code, name);
      assert.ok(!error.message.includes('Internal memo'), `${name}: the message does not echo the text`);
    }
    upstream.enqueue({ kind: 'text', text: 'Tall.' });
    const answer = await rawCall(closed.base, ask([DOC_A]), { 'runprint-retrieval': retrievalHeader([{ source: 'kb://towers/eiffel', text: DOC_A }]) });
    assert.equal(answer.status, 200, 'a declaration the request backs up goes through');
    assert.deepEqual(runprintHeaders(answer.received!), []);
    const run = await stored(closed.base, answer.headers['runprint-capture-id'] as string);
    assert.deepEqual(run.record.retrieval.map((document) => document.digest.sha256), [sha256(DOC_A)]);
  });
});

describe('the runprint-retrieval value', () => {
  test('retrievalHeader and readRetrievalHeader: base64url of UTF-8 JSON, padding optional, values joined in order', () => {
    const documents = [{ source: 'kb://cities/lyon', text: DOC_B }, { source: 'urn:doc:2', text: 'Zürich 🚆 "quoted" \\ back' }];
    const value = retrievalHeader(documents);
    assert.match(value, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
    assert.deepEqual(readRetrievalHeader(value), documents);
    assert.equal(value, Buffer.from(JSON.stringify(documents), 'utf8').toString('base64url'), 'what any language\'s base64url of the JSON gives');
    const padded = Buffer.from(JSON.stringify(documents), 'utf8').toString('base64');
    assert.deepEqual(readRetrievalHeader(padded.replace(/\+/g, '-').replace(/\//g, '_')), documents, 'padding is accepted');
    assert.deepEqual(readRetrievalHeader(`${retrievalHeader([documents[1]!])}, ${retrievalHeader([documents[0]!])}`), [documents[1], documents[0]]);
    assert.deepEqual(readRetrievalHeader(null), []);
    assert.deepEqual(readRetrievalHeader(retrievalHeader([])), []);
    const code = (value: string | null, max?: number) => {
      try {
        readRetrievalHeader(value, max);
      } catch (error) {
        return (error as RunprintError).code;
      }
      return 'none';
    };
    const json = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    assert.equal(code(''), 'ERR_CAPTURE_RETRIEVAL_INVALID');
    assert.equal(code('a'), 'ERR_CAPTURE_RETRIEVAL_INVALID', 'a length base64 cannot have');
    assert.equal(code(Buffer.from(JSON.stringify(documents)).toString('base64').replace(/=+$/, '').replace(/[-_]/g, '+') + '+/'), 'ERR_CAPTURE_RETRIEVAL_INVALID', 'the standard alphabet is not base64url');
    assert.equal(code(json('{"source": "a", "text": "b"}')), 'ERR_CAPTURE_RETRIEVAL_INVALID', 'an object, not an array');
    assert.equal(code(json('[{"source": "a", "text": "b", "text": "c"}]')), 'ERR_CAPTURE_RETRIEVAL_INVALID', 'strict I-JSON: no duplicate member');
    assert.equal(code(json('[{"source": "", "text": "b"}]')), 'ERR_CAPTURE_RETRIEVAL_INVALID');
    assert.equal(code(json('[{"source": "a", "text": 1}]')), 'ERR_CAPTURE_RETRIEVAL_INVALID');
    assert.equal(code(json('[{"source": "a", "text": "b"}]'), 10), 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
    assert.throws(() => retrievalHeader([{ source: 'a', text: '' }]), TypeError);
  });
});
