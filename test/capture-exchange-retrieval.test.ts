/**
 * Declared retrieval sent to a server as an exchange (`POST /v1/exchanges`, runprintFetch with a
 * `url`): the server's answer names the declared documents its record leaves out and why
 * (`retrievalError`, the exchange's counterpart of the proxy's `runprint-retrieval-error`
 * header), as docs/openapi.json documents it; and runprintFetch reports a retrievalError from the
 * server's answer the way it reports its own check's (onError, counts.failures), once per call:
 * not again for a call its own check already reported, but for an exchange another process left in
 * the outbox. Against a real `runprint serve` with capture on.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OUTBOX_FOLDER, runprintFetch, withRetrieval } from '../src/capture-node/index.ts';
import type { ExchangeAnswer } from '../src/capture/exchange.ts';
import type { RunRecord } from '../src/capture/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { chatExchange, postExchange } from './helpers/exchanges.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { validate } from './helpers/json-schema.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';
import { closedPort } from './helpers/closed-port.ts';

const DOC_A = 'The Eiffel Tower is 330 metres tall and was finished in 1889.';
const DOC_B = 'Lyon lies where the Rhone and the Saone meet.';
const NEVER_SENT = 'A document the application retrieved but forgot to put in the request.';

const OPENAPI = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, { post: { responses: Record<string, { content: Record<string, { schema: never }> }> } }> };

let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch = scratchFolders('runprint-exchange-retrieval-');

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

/** A request whose system message holds DOC_A and DOC_B (not NEVER_SENT). */
const REQUEST = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: `Documents:\n${DOC_A}\n${DOC_B}` }, { role: 'user', content: 'How tall is the tower?' }] });
const RESPONSE = JSON.stringify({
  id: 'chatcmpl-exchange', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', content: '330 metres.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 20, completion_tokens: 3, total_tokens: 23 },
});

/** One exchange of REQUEST and RESPONSE, as runprintFetch sends it, with its own capture id. */
function exchange(retrieval?: { source: string; text: string }[]) {
  return chatExchange(REQUEST, RESPONSE, retrieval === undefined ? {} : { retrieval });
}

/** POSTs an exchange to serve: the 200 answer, checked against docs/openapi.json. */
async function send(body: unknown): Promise<ExchangeAnswer> {
  const response = await postExchange(serve.base, body);
  const answer = (await response.json()) as ExchangeAnswer;
  assert.equal(response.status, 200, JSON.stringify(answer));
  const schema = OPENAPI.paths['/v1/exchanges']!.post.responses['200']!.content['application/json']!.schema;
  assert.deepEqual(validate(answer, schema, OPENAPI), [], 'the answer is as docs/openapi.json documents it');
  return answer;
}

async function record(captureId: string): Promise<RunRecord> {
  const response = await fetch(`${serve.base}/v1/runs/${captureId}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { runs: { record: RunRecord }[] }).runs[0]!.record;
}

describe('POST /v1/exchanges names the declared documents its record leaves out', () => {
  test('none declared, or every one in the request: retrievalError is null', async () => {
    const plain = await send(exchange());
    assert.equal(plain.retrievalError, null);
    assert.match(plain.runId!, /^rp-run-/);
    assert.equal(plain.receipt, `/v1/runs/${plain.captureId}/receipt`);
    const found = await send(exchange([{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://cities/lyon', text: DOC_B }]));
    assert.equal(found.retrievalError, null);
    assert.deepEqual((await record(found.captureId)).retrieval.map((document) => document.source), ['kb://towers/eiffel', 'kb://cities/lyon']);
  });

  test('a text the request does not hold: ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST with the sources left out; the run is recorded with the others', async () => {
    const body = exchange([
      { source: 'kb://towers/eiffel', text: DOC_A },
      { source: 'kb://faq', text: NEVER_SENT },
      { source: 'kb://cities/lyon', text: DOC_B },
      { source: 'kb://faq', text: `${NEVER_SENT} Its second chunk.` },
    ]);
    const answer = await send(body);
    assert.equal(answer.captureId, body.captureId);
    assert.match(answer.runId!, /^rp-run-/, 'recorded all the same, with its identities');
    assert.ok(answer.receipt !== null);
    assert.deepEqual(answer.retrievalError, {
      code: 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST',
      message: '2 declared document(s) are not in the request\'s system or input (sources "kb://faq", "kb://faq"); the run is recorded without them',
      sources: ['kb://faq', 'kb://faq'],
    });
    assert.ok(!JSON.stringify(answer).includes('forgot'), 'no declared text in the answer');
    assert.deepEqual((await record(body.captureId)).retrieval.map((document) => document.source), ['kb://towers/eiffel', 'kb://cities/lyon'], 'the record holds the two found');
    // The same exchange sent again (an outbox resending) is the same record, and the same answer.
    assert.deepEqual(await send(body), answer);
  });

  test('more documents than a call may declare: ERR_CAPTURE_RETRIEVAL_TOO_LARGE, every one left out', async () => {
    const many = Array.from({ length: 257 }, (_, i) => ({ source: `kb://chunk/${i}`, text: DOC_A }));
    const body = exchange(many);
    const answer = await send(body);
    assert.equal(answer.retrievalError?.code, 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE');
    assert.match(answer.retrievalError.message, /^257 documents are declared, more than the 256 one call may declare; the run is recorded without them$/);
    assert.deepEqual(answer.retrievalError.sources, many.map((document) => document.source));
    assert.deepEqual((await record(body.captureId)).retrieval, []);
  });
});

/** A chat call through `fetch` (a runprintFetch) to the fake upstream, its system message holding DOC_A. */
async function call(fetchImpl: typeof fetch, question: string): Promise<void> {
  const response = await fetchImpl(`${upstream.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-exchange' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: `Documents:\n${DOC_A}` }, { role: 'user', content: question }] }),
  });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
}

const waiting = (data: string) => readdirSync(join(data, OUTBOX_FOLDER)).filter((name) => name.endsWith('.json'));

describe('runprintFetch with a url reports the server\'s retrievalError as it reports its own check\'s', () => {
  test('a call its own check reported is not reported again when the server\'s answer agrees', async () => {
    const errors: RunprintError[] = [];
    const wrapped = runprintFetch({ data: scratch.tempDir(), url: serve.base, onError: (error) => void errors.push(error) });
    await withRetrieval([{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://never-sent', text: NEVER_SENT }], () => call(wrapped, 'Reported once?'));
    await withRetrieval([{ source: 'kb://towers/eiffel', text: DOC_A }], () => call(wrapped, 'Nothing to report.'));
    await wrapped.flush();
    assert.equal(wrapped.counts.outbox.delivered, 2, 'the server took both');
    assert.deepEqual(errors.map((error) => error.code), ['ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST'], 'reported once, by the check at capture');
    assert.doesNotMatch(errors[0]!.message, /runprint server/);
    assert.equal(wrapped.counts.failures, 1);
    await wrapped.close();
  });

  test('exchanges another process left in the outbox: the server\'s retrievalError for each goes to onError and is counted', async () => {
    const data = scratch.tempDir();
    // The first process captures while the server cannot be reached; its exchanges wait in the outbox.
    const firstErrors: RunprintError[] = [];
    const first = runprintFetch({ data, url: `http://127.0.0.1:${await closedPort()}`, onError: (error) => void firstErrors.push(error) });
    await withRetrieval([{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://never-sent', text: NEVER_SENT }], () => call(first, 'Left behind, one missing.'));
    await withRetrieval(Array.from({ length: 257 }, (_, i) => ({ source: `kb://chunk/${i}`, text: DOC_A })), () => call(first, 'Left behind, too many.'));
    await withRetrieval([{ source: 'kb://towers/eiffel', text: DOC_A }], () => call(first, 'Left behind, all found.'));
    await first.close();
    assert.deepEqual(firstErrors.map((error) => error.code).filter((code) => code.startsWith('ERR_CAPTURE_RETRIEVAL')), ['ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE']);
    const left = waiting(data).map((name) => JSON.parse(readFileSync(join(data, OUTBOX_FOLDER, name), 'utf8')) as { captureId: string; retrieval: unknown[] });
    assert.equal(left.length, 3);
    // Each by the number of documents it declares.
    const idOf = (count: number) => left.find((body) => body.retrieval.length === count)!.captureId;
    const [missing, tooMany, allFound] = [idOf(2), idOf(257), idOf(1)];

    // The next process on the directory sends them to the server, and hears what its records left out.
    const errors: RunprintError[] = [];
    const next = runprintFetch({ data, url: serve.base, onError: (error) => void errors.push(error) });
    await next.flush();
    assert.deepEqual(waiting(data), [], 'all three delivered');
    assert.equal(next.counts.outbox.delivered, 3);
    assert.deepEqual(errors.map((error) => [error.code, error.message]).sort(), [
      ['ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST', `the runprint server recorded capture ${missing} without 1 declared document(s): 1 declared document(s) are not in the request's system or input (sources "kb://never-sent"); the run is recorded without them`],
      ['ERR_CAPTURE_RETRIEVAL_TOO_LARGE', `the runprint server recorded capture ${tooMany} without 257 declared document(s): 257 documents are declared, more than the 256 one call may declare; the run is recorded without them`],
    ]);
    assert.equal(next.counts.failures, 2, 'counted as failures, as the check at capture counts them');
    assert.deepEqual((await record(missing)).retrieval.map((document) => document.source), ['kb://towers/eiffel']);
    assert.deepEqual((await record(tooMany)).retrieval, []);
    assert.deepEqual((await record(allFound)).retrieval.map((document) => document.source), ['kb://towers/eiffel']);
    await next.close();
  });
});
