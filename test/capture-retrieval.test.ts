/**
 * Declared retrieval: an application names the documents a call rests on (withRetrieval); capture
 * checks each text is in the request, records source and digest with the run, stores the text by
 * its digest, and the run store finds every run that rested on a document. Identity is unchanged
 * (the documents are already in the messages, SPEC 4.1.3). A document not in the request is an
 * error for the application's handler; the call goes on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { exchangeOf, readExchange } from '../src/capture/exchange.ts';
import { runprintFetch, withRetrieval } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';

const DOC_A = 'The Eiffel Tower is 330 metres tall and stands in Paris.';
const DOC_B = 'Lyon lies at the confluence of the Rhône and the Saône.';
let upstream: FakeUpstream;
let dir: string;
before(async () => {
  upstream = await startFakeUpstream();
  dir = mkdtempSync(join(tmpdir(), 'runprint-retrieval-'));
});
after(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

test('declared documents are checked against the request, recorded by source and digest, stored once, and found by digest', async () => {
  const errors: RunprintError[] = [];
  const wrapped = runprintFetch({ data: dir, onError: (error) => void errors.push(error) });
  const client = new OpenAI({ apiKey: 'k', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
  const ask = (question: string, documents: string[]) =>
    client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Answer from the documents.' },
        { role: 'user', content: `Documents:\n${documents.join('\n"quoted"\n')}\n\nQuestion: ${question}` },
      ],
    });
  await withRetrieval([{ source: 'kb://towers/eiffel', text: DOC_A }], () => ask('How tall?', [DOC_A]));
  await withRetrieval([{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://cities/lyon', text: DOC_B }], () => ask('Which rivers?', [DOC_A, DOC_B]));
  await ask('How tall?', [DOC_A]);
  // A declaration the request does not back up.
  const answer = await withRetrieval([{ source: 'kb://never-sent', text: 'A document the application forgot to send.' }], () => ask('Anything?', [DOC_B]));
  assert.equal(answer.choices[0]?.message.content, 'Hello from the fake upstream.', 'the call goes on');
  await wrapped.flush();
  await wrapped.close();
  assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST']);
  assert.match(errors[0]!.message, /kb:\/\/never-sent/);

  const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
  try {
    const [missing, plain, both, one] = await store.list({});
    assert.deepEqual(one!.record.retrieval, [{ source: 'kb://towers/eiffel', digest: { sha256: sha256(DOC_A) }, component: 'input', element: 0 }]);
    assert.deepEqual(both!.record.retrieval.map((document) => document.source), ['kb://towers/eiffel', 'kb://cities/lyon']);
    assert.deepEqual(plain!.record.retrieval, []);
    assert.deepEqual(missing!.record.retrieval, [], 'only what the request holds is recorded');
    assert.equal(plain!.record.requestId, one!.record.requestId, 'declaring retrieval does not change identity: the documents are in the messages already');
    const resting = await store.list({ component: { part: 'retrieval', digest: sha256(DOC_A) } });
    assert.deepEqual(resting.map((run) => run.seq).sort(), [one!.seq, both!.seq].sort(), 'every run that rested on the document, and no other');
    assert.equal(new TextDecoder().decode(await store.content(sha256(DOC_B))), DOC_B, 'the document is stored by the digest of its text');
  } finally {
    await store.close();
  }
});

test('an exchange carries its declared documents; the server finds the same ones', () => {
  const request = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `Read: ${DOC_A}` }] }));
  const response = new TextEncoder().encode(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Tall.' } }] }));
  const exchange = { format: 'openai-chat' as const, method: 'POST', path: '/v1/chat/completions', requestBytes: request, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes: response, outcome: 'complete' as const, times: { started: 1, response: 2, ended: 3 }, retrieval: [{ source: 'kb://a', text: DOC_A }, { source: 'kb://b', text: DOC_B }] };
  const local = captureRunWith(exchange);
  assert.deepEqual(local.notFound, ['kb://b']);
  const sent = new TextEncoder().encode(JSON.stringify(exchangeOf(local, { requestBytes: request, responseBytes: response })));
  const server = captureRunWith(readExchange(sent));
  assert.deepEqual(server.record.retrieval, local.record.retrieval);
  assert.deepEqual(server.notFound, ['kb://b']);
  assert.throws(() => readExchange(new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(sent)), retrieval: [{ source: 'x' }] }))), (error: unknown) => (error as RunprintError).code === 'ERR_HTTP_BAD_REQUEST');
  assert.throws(() => withRetrieval([{ source: '', text: 'x' }], () => undefined), TypeError);
});

test('two chunks of one source are two documents: each digest names its own text, in the record and in the store', async () => {
  const chunkDir = mkdtempSync(join(tmpdir(), 'runprint-retrieval-chunks-'));
  try {
    const errors: RunprintError[] = [];
    const wrapped = runprintFetch({ data: chunkDir, onError: (error) => void errors.push(error) });
    const client = new OpenAI({ apiKey: 'k', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
    const chunks = ['FAQ chunk 1: returns are free within 30 days.', 'FAQ chunk 2: shipping takes 3 to 5 days.'];
    await withRetrieval(chunks.map((text) => ({ source: 'kb://faq', text })), () =>
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `${chunks.join('\n')}\nHow long is shipping?` }] }));
    await wrapped.close();
    assert.deepEqual(errors, []);
    const store = SqliteRuns.open(join(chunkDir, 'runs.sqlite'));
    try {
      const [run] = await store.list({});
      assert.deepEqual(run!.record.retrieval.map((document) => [document.source, document.digest.sha256]), chunks.map((text) => ['kb://faq', sha256(text)]));
      for (const text of chunks) {
        const content = await store.content(sha256(text));
        assert.ok(content !== null && content !== undefined, 'the chunk is stored');
        assert.equal(createHash('sha256').update(content).digest('hex'), sha256(text), 'the content hashes to its name');
        assert.equal(new TextDecoder().decode(content), text);
      }
    } finally {
      await store.close();
    }
  } finally {
    rmSync(chunkDir, { recursive: true, force: true });
  }
});

test('more than 256 declared documents: ERR_CAPTURE_RETRIEVAL_TOO_LARGE to onError, the call goes on and none is recorded; an exchange the same', async () => {
  const many = Array.from({ length: 257 }, (_, i) => ({ source: `kb://note/${i}`, text: `note ${i}.` }));
  const content = many.map((document) => document.text).join(' ');
  const manyDir = mkdtempSync(join(tmpdir(), 'runprint-retrieval-many-'));
  try {
    const errors: RunprintError[] = [];
    const wrapped = runprintFetch({ data: manyDir, onError: (error) => void errors.push(error) });
    const client = new OpenAI({ apiKey: 'k', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
    const ask = () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] });
    const answer = await withRetrieval(many, ask);
    assert.equal(answer.choices[0]?.message.content, 'Hello from the fake upstream.', 'the call goes on');
    await withRetrieval(many.slice(0, 256), ask);
    await wrapped.close();
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_RETRIEVAL_TOO_LARGE']);
    assert.match(errors[0]!.message, /257 documents are declared, more than the 256/);
    const store = SqliteRuns.open(join(manyDir, 'runs.sqlite'));
    try {
      const [within, past] = await store.list({});
      assert.equal(within!.record.retrieval.length, 256, '256 are recorded');
      assert.deepEqual(past!.record.retrieval, [], 'none of 257');
      assert.equal(past!.record.requestId, within!.record.requestId);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(manyDir, { recursive: true, force: true });
  }
  // An exchange sent to a server: the server's check is the same code.
  const request = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }));
  const exchange = { format: 'openai-chat' as const, method: 'POST', path: '/v1/chat/completions', requestBytes: request, status: null, headers: null, responseBytes: new Uint8Array(0), outcome: 'network-error' as const, times: { started: 1, response: null, ended: 3 }, retrieval: many };
  const local = captureRunWith(exchange);
  assert.equal(local.retrievalError?.code, 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
  assert.deepEqual(local.record.retrieval, []);
  const server = captureRunWith(readExchange(new TextEncoder().encode(JSON.stringify(exchangeOf(local, { requestBytes: request, responseBytes: new Uint8Array(0) })))));
  assert.equal(server.retrievalError?.code, 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
  assert.deepEqual(server.record.retrieval, []);
});
