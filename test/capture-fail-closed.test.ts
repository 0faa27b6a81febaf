/**
 * serve --capture-fail-closed through a transient lock on its run store (another connection
 * holds BEGIN EXCLUSIVE on runs.sqlite): the calls in flight when the commit fails get no answer
 * without a record (503 before any byte, or a stream cut before its terminal event), the calls
 * after them get 503 before forwarding while the store fails, and once the lock is released
 * serve finds the store working by itself, commits the held records and forwards calls again.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { chatCall, readBody } from './helpers/proxy-calls.ts';
import { lockRunStore, untilHealthy } from './helpers/run-store-lock.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';

let upstream: FakeUpstream | undefined;
const scratch = scratchFolders('runprint-fail-closed-');
after(() => endServeTest(upstream, scratch));

interface Health {
  healthy: boolean;
  recorded: number;
  failed: number;
}

test('fail-closed: a lock on the run store cuts the answers in flight, refuses calls while it is held, and serve forwards calls again once it is released', { timeout: 90_000 }, async () => {
  upstream = await startFakeUpstream();
  const data = scratch.tempDir();
  const serve = await startServe({ data, args: ['--capture-fail-closed', '--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
  const call = (content: string, stream = false) => chatCall(serve.base, content, stream);
  const health = async () => ((await (await fetch(`${serve.base}/healthz`)).json()) as { capture: Health }).capture;
  const errorCode = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

  const before = await call('before the lock');
  assert.equal(before.status, 200);
  await before.text();
  let plainId: string | null = null;
  let streamId: string | null = null;
  const lock = lockRunStore(data);
  try {
    const sent = upstream.requests.length;
    // Events 10 ms apart: those before the terminal event pass in chunks of their own.
    upstream.enqueue({ kind: 'text', text: 'Several words, one event at a time.', eventDelayMs: 10 }, { kind: 'text', text: 'Several words, one event at a time.', eventDelayMs: 10 });
    // In flight when the commit fails: the answers are held until their records are committed
    // (sync durability). The stream is read as it comes (a cut discards what was not read yet).
    const streaming = call('streamed, during the lock', true).then(async (response) => ({ response, ...(await readBody(response)) }));
    const plain = await call('not streamed, during the lock');
    const streamed = await streaming;
    assert.equal(upstream.requests.length, sent + 2, 'both were forwarded');
    assert.equal(plain.status, 503);
    // Named, so the application can find the call's record once it is committed.
    plainId = plain.headers.get('runprint-capture-id');
    assert.match(plainId ?? '', /^[0-9a-f-]{36}$/);
    const refusal = await errorCode(plain);
    assert.equal(refusal.code, 'ERR_CAPTURE_UNAVAILABLE');
    assert.match(refusal.message, /could not record this call.*its answer was not passed on/);
    assert.equal(streamed.response.status, 200, 'the stream began before its record failed');
    streamId = streamed.response.headers.get('runprint-capture-id');
    assert.ok(streamId !== null);
    assert.equal(streamed.cut, true, 'the stream is cut, not ended');
    assert.match(streamed.text, /"content":"/, 'the events before the terminal one arrived');
    assert.doesNotMatch(streamed.text, /\[DONE\]/, 'the terminal event did not');

    // While the store fails: 503 before forwarding.
    const refused = await call('while the store fails');
    assert.equal(refused.status, 503);
    assert.match((await errorCode(refused)).message, /the call was not forwarded/);
    assert.equal(upstream.requests.length, sent + 2, 'not forwarded');
    assert.equal((await health()).healthy, false);

    lock.release();
    // serve finds out by itself (a retry of the held records) within a few seconds.
    await untilHealthy(health);
  } finally {
    lock.close();
  }
  const afterwards = await call('after the lock');
  assert.equal(afterwards.status, 200);
  await afterwards.text();
  const counts = await health();
  assert.deepEqual({ recorded: counts.recorded, failed: counts.failed }, { recorded: 4, failed: 0 }, 'the two held records were committed');
  const stream = (await (await fetch(`${serve.base}/v1/runs/${streamId}`)).json()) as { runs: unknown[] };
  assert.equal(stream.runs.length, 1, 'the cut stream\'s record (of the upstream\'s answer) is in the store');
  const refusedCall = (await (await fetch(`${serve.base}/v1/runs/${plainId}`)).json()) as { runs: unknown[] };
  assert.equal(refusedCall.runs.length, 1, 'the 503\'s capture id names its record');
  assert.match(serve.stderr(), /ERR_STORE_LOCKED: run database is locked by another process \(fail-closed: calls get 503 ERR_CAPTURE_UNAVAILABLE, not forwarded, until the run store works again/);
  assert.match(serve.stderr(), /the run store works again \(2 held records committed; calls are forwarded again\)/);
  assert.equal(await serve.stop(), 0);
});
