/**
 * A record's times are RFC 3339 times, so from 1970 to 9999-12-31T23:59:59.999Z: a real
 * `runprint serve` refuses an exchange with a time past that (or negative) with 400 naming the
 * member, and records and signs one at the last millisecond; captureRunWith makes no record with
 * such a time (RangeError), so neither the proxy nor the fetch wrapper can store one whatever
 * their clock says: the call goes on, the failure is counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { captureFetch } from '../src/capture/capture-fetch.ts';
import { captureRunWith, MAX_RECORD_TIME } from '../src/capture/capture-run.ts';
import { chatExchange, HELLO_ANSWER as answer, HELLO_REQUEST as request, postExchange } from './helpers/exchanges.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

let upstream: FakeUpstream;
let serve: ServeProcess;
const scratch = scratchFolders('runprint-exchange-times-');

before(async () => {
  upstream = await startFakeUpstream();
  serve = await startServe({ data: scratch.tempDir(), args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
});
after(() => endServeTest(upstream, scratch));


const exchange = (times: Record<string, unknown>) => chatExchange(request, answer, { times });
const post = (body: unknown) => postExchange(serve.base, body);

const PAST = MAX_RECORD_TIME + 1;
const NOW = 1767225600000;

describe('exchange times', () => {
  const CASES: Array<[string, Record<string, unknown>, string]> = [
    ['started at Date\'s last millisecond (year 275760)', { started: 8.64e15, response: 8.64e15, ended: 8.64e15 }, "$['times']['started']"],
    ['started in year 128,000', { started: 4e15, response: 4e15, ended: 4e15 }, "$['times']['started']"],
    ['started one millisecond into year 10000', { started: PAST, response: PAST, ended: PAST }, "$['times']['started']"],
    ['a response time past 9999', { started: NOW, response: PAST, ended: PAST }, "$['times']['response']"],
    ['ended past 9999', { started: NOW, response: NOW, ended: PAST }, "$['times']['ended']"],
    ['a negative time', { started: -1, response: NOW, ended: NOW }, "$['times']['started']"],
  ];
  for (const [name, times, path] of CASES) {
    test(`${name}: 400 ERR_HTTP_BAD_REQUEST at ${path}, nothing recorded`, async () => {
      const body = exchange(times);
      const refused = await post(body);
      assert.equal(refused.status, 400);
      assert.deepEqual(await refused.json(), { error: { code: 'ERR_HTTP_BAD_REQUEST', message: 'must be a time in whole milliseconds since the Unix epoch, from 0 to 253402300799999 (9999-12-31T23:59:59.999Z)', path } });
      const found = await fetch(`${serve.base}/v1/runs/${body['captureId'] as string}`);
      assert.equal(found.status, 404);
      await found.arrayBuffer();
    });
  }

  test('the last millisecond of 9999 is recorded as 9999-12-31T23:59:59.999Z and signed', async () => {
    const body = exchange({ started: MAX_RECORD_TIME - 2, response: MAX_RECORD_TIME - 1, ended: MAX_RECORD_TIME });
    const taken = await post(body);
    assert.equal(taken.status, 200, await taken.clone().text());
    const { receipt } = (await taken.json()) as { receipt: string };
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      const response = await fetch(`${serve.base}${receipt}`);
      status = response.status;
      await response.arrayBuffer();
      if (status !== 200) await new Promise((done) => setTimeout(done, 50));
    }
    assert.equal(status, 200, 'the run is signed');
    const { runs } = (await (await fetch(`${serve.base}/v1/runs/${body['captureId'] as string}`)).json()) as { runs: Array<{ record: { times: unknown } }> };
    assert.deepEqual(runs[0]!.record.times, { started: '9999-12-31T23:59:59.997Z', response: '9999-12-31T23:59:59.998Z', ended: '9999-12-31T23:59:59.999Z' });
  });
});

describe('captureRunWith and the fetch wrapper: no record with a time RFC 3339 cannot write', () => {
  const base = { format: 'openai-chat' as const, method: 'POST', path: '/v1/chat/completions', requestBytes: new TextEncoder().encode(request), status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes: new Uint8Array(answer), outcome: 'complete' as const };

  test('captureRunWith: RangeError for a time past 9999 or negative, NaN or infinite; the last millisecond is fine', () => {
    for (const times of [{ started: NOW, response: NOW, ended: PAST }, { started: PAST, response: PAST, ended: PAST }, { started: -5, response: NOW, ended: NOW }, { started: NOW, response: Number.NaN, ended: NOW }, { started: NOW, response: NOW, ended: Number.POSITIVE_INFINITY }]) {
      assert.throws(() => captureRunWith({ ...base, times }), RangeError, JSON.stringify(times));
    }
    assert.equal(captureRunWith({ ...base, times: { started: NOW, response: NOW, ended: MAX_RECORD_TIME } }).record.times.ended, '9999-12-31T23:59:59.999Z');
  });

  test('a capturing fetch whose clock says year 10000: the call completes, no run is made, the failure is counted', async () => {
    const runs: unknown[] = [];
    const errors: unknown[] = [];
    const capturing = captureFetch(fetch, { onRun: (record) => void runs.push(record), onError: (error) => void errors.push(error), now: () => PAST, holdEnd: true });
    const response = await capturing(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /chat\.completion/);
    assert.equal(runs.length, 0);
    assert.equal(capturing.counts.failures, 1);
    assert.ok(errors[0] instanceof RangeError);
  });
});
