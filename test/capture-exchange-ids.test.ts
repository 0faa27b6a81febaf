/**
 * `POST /v1/exchanges` against a real `runprint serve` in front of the fake upstream: a capture id
 * names one call. An exchange whose capture id already names another record (a proxy call's, or
 * another exchange's) is refused with 409 ERR_CAPTURE_ID_TAKEN and nothing is recorded, so the
 * capture id's receipt stays the first call's; the same exchange sent again is answered 200 as
 * the first time; two different exchanges with one new capture id sent at once give one 200 and
 * one 409.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { chatExchange, HELLO_ANSWER as answer, HELLO_REQUEST as request, postExchange } from './helpers/exchanges.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch = scratchFolders('runprint-exchange-ids-');

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));

const forged = JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'FORGED ANSWER' } }] });

const exchange = (captureId: string, body: string | Buffer, change: Record<string, unknown> = {}) => chatExchange(request, body, { captureId, ...change });
const post = (body: unknown) => postExchange(serve.base, body);

interface Runs {
  runs: Array<{ capture: string; recordDigest: string; record: { output: { digest: { sha256: string } } | null } }>;
}
const runsOf = async (captureId: string): Promise<Runs['runs']> => ((await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as Runs).runs;

/** The receipt the capture id's URL gives, once signed (serve signs in the background). */
async function receiptOf(captureId: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const response = await fetch(`${serve.base}/v1/runs/${captureId}/receipt`);
    if (response.status === 200) return response.text();
    await response.arrayBuffer();
    await new Promise((done) => setTimeout(done, 50));
  }
  assert.fail('no receipt within 5 s');
}

describe('POST /v1/exchanges: a capture id names one record', () => {
  test('an exchange reusing a proxy call\'s capture id is refused (409 ERR_CAPTURE_ID_TAKEN); its receipt stays the proxy call\'s', async () => {
    const proxied = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request });
    assert.equal(proxied.status, 200);
    await proxied.arrayBuffer();
    const captureId = proxied.headers.get('runprint-capture-id')!;
    assert.match(captureId, /^[0-9a-f-]{36}$/);
    const receipt = await receiptOf(captureId);

    const refused = await post(exchange(captureId, forged));
    assert.equal(refused.status, 409);
    assert.deepEqual(await refused.json(), { error: { code: 'ERR_CAPTURE_ID_TAKEN', message: 'the capture id already names another record: a capture id names one call (an exchange sent again must be the same exchange)', path: "$['captureId']" } });
    const runs = await runsOf(captureId);
    assert.deepEqual(runs.map((run) => run.capture), ['proxy'], 'nothing recorded under the id');
    assert.equal(await receiptOf(captureId), receipt, 'the receipt is still the proxy call\'s');
  });

  test('an exchange reusing the capture id of a stream still in progress (named in its headers, not yet recorded) is refused too', async () => {
    let resume!: () => void;
    upstream.enqueue({ kind: 'text', text: 'a stream held open', pauseBeforeEvent: 2, resume: new Promise<void>((done) => (resume = done)) });
    const streaming = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...JSON.parse(request), stream: true }) });
    assert.equal(streaming.status, 200);
    const captureId = streaming.headers.get('runprint-capture-id')!;
    const refused = await post(exchange(captureId, forged));
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_ID_TAKEN');
    resume();
    assert.match(await streaming.text(), /\[DONE\]/);
    let runs: Runs['runs'] = [];
    for (let i = 0; i < 100 && runs.length === 0; i++) {
      runs = await runsOf(captureId);
      if (runs.length === 0) await new Promise((done) => setTimeout(done, 20));
    }
    assert.deepEqual(runs.map((run) => run.capture), ['proxy'], 'one record under the id: the stream\'s');
  });

  test('the same exchange sent again: 200 with the same answer, stored once; another under its id: 409', async () => {
    const captureId = randomUUID();
    const first = await post(exchange(captureId, answer));
    assert.equal(first.status, 200);
    const answered = await first.json();
    const again = await post(exchange(captureId, answer));
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), answered);
    // Another record under the id: another response, or the same bytes at other times.
    for (const other of [exchange(captureId, forged), exchange(captureId, answer, { times: { started: 1767225600001, response: 1767225600100, ended: 1767225600200 } })]) {
      const refused = await post(other);
      assert.equal(refused.status, 409);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'ERR_CAPTURE_ID_TAKEN');
    }
    assert.equal((await runsOf(captureId)).length, 1, 'stored once');
  });

  test('two different exchanges with one new capture id sent at once: one is recorded, the other refused', async () => {
    for (let round = 0; round < 5; round++) {
      const captureId = randomUUID();
      const answers = await Promise.all([post(exchange(captureId, answer)), post(exchange(captureId, forged))]);
      const statuses = answers.map((each) => each.status).sort();
      await Promise.all(answers.map((each) => each.arrayBuffer()));
      assert.deepEqual(statuses, [200, 409]);
      assert.equal((await runsOf(captureId)).length, 1);
    }
  });
});
