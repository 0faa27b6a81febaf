/**
 * A call the application aborts is recorded `aborted` whatever reason it aborts with: fetch fails
 * with the signal's reason itself (`abort(new Error('mine'))`, `abort('user left')`), which before
 * was taken for the network's failure (`network-error`, or `cut` mid-stream). A timeout signal is
 * `timeout`; a plain `abort()` stays `aborted`. Against the fake upstream, with captureFetch; the
 * fake holds the headers, or the rest of the stream, until the client has gone away, so each call
 * is aborted where the test says whatever the load.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureFetch } from '../src/capture/capture-fetch.ts';
import type { RunRecord } from '../src/capture/run-record.ts';
import { startFakeUpstream, type Scenario } from './helpers/fake-upstream/index.ts';

const CALL = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello slowly.' }] };
/** Never settles: a paused stream is held until the client goes away. */
const never = new Promise<never>(() => undefined);

/**
 * The record of one call aborted by `abort` (given the controller) `when` it is: before its answer
 * (the fake has the request and holds the headers), or after the first streamed event (the fake
 * holds the rest of the stream). Each call has a fake of its own: a call aborted before its request
 * reached the fake leaves no scenario behind for the next one.
 */
async function abortedRecord(when: 'before-answer' | 'mid-stream', abort: (controller: AbortController) => void, signalOf?: (controller: AbortController) => AbortSignal): Promise<RunRecord> {
  const scenario: Scenario = when === 'before-answer'
    ? { kind: 'text', text: 'Too late.', headersDelayMs: 60_000 }
    : { kind: 'text', text: 'One word at a time, slowly.', pauseBeforeEvent: 1, resume: never };
  const upstream = await startFakeUpstream({ script: [scenario] });
  try {
    const records: RunRecord[] = [];
    let recorded!: () => void;
    const made = new Promise<void>((resolve) => (recorded = resolve));
    const failures: unknown[] = [];
    const capturing = captureFetch(globalThis.fetch, {
      onRun: (record) => {
        records.push(record);
        recorded();
      },
      onError: (error) => void failures.push(error),
    });
    const controller = new AbortController();
    const call = capturing(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...CALL, stream: when === 'mid-stream' }), signal: signalOf?.(controller) ?? controller.signal });
    if (when === 'before-answer') {
      // Aborted once the fake has the request (a timeout signal may fire before it does).
      await Promise.race([upstream.received(1), call.catch(() => undefined)]);
      abort(controller);
      await assert.rejects(call);
    } else {
      const response = await call;
      const reader = response.body!.getReader();
      assert.equal((await reader.read()).done, false, 'the first event arrived');
      abort(controller);
      await assert.rejects(async () => {
        for (;;) if ((await reader.read()).done) return;
      });
    }
    await made;
    assert.deepEqual(failures, [], 'runprint recorded the call without a failure of its own');
    assert.equal(records.length, 1);
    if (when === 'mid-stream') assert.equal(records[0]!.response.status, 200, 'the answer had begun');
    else assert.equal(records[0]!.response.status, null, 'no answer');
    return records[0]!;
  } finally {
    await upstream.close();
  }
}

/**
 * A timeout. Before the answer, the call's signal is AbortSignal.timeout itself: it fires while the
 * fake holds the headers. Mid-stream, a real AbortSignal.timeout started once the first event was
 * read aborts the call's signal with its reason (a TimeoutError), as an SDK's own timeout does: a
 * timeout started with the call could fire before the first event under load.
 */
function timeoutFor(when: 'before-answer' | 'mid-stream'): [(controller: AbortController) => void, ((controller: AbortController) => AbortSignal) | undefined] {
  if (when === 'before-answer') return [() => undefined, () => AbortSignal.timeout(100)];
  return [(controller) => {
    const timeout = AbortSignal.timeout(50);
    timeout.addEventListener('abort', () => controller.abort(timeout.reason), { once: true });
  }, undefined];
}

for (const when of ['before-answer', 'mid-stream'] as const) {
  // The timeout only keeps a broken build from hanging the suite (a call the fake holds for ever).
  test(`aborted ${when}: with an Error, a string or no reason it is "aborted"; a timeout signal is "timeout"`, { timeout: 60_000 }, async () => {
    for (const [what, abort] of [
      ['abort()', (controller: AbortController) => controller.abort()],
      ["abort(new Error('mine'))", (controller: AbortController) => controller.abort(new Error('mine'))],
      ["abort('user left')", (controller: AbortController) => controller.abort('user left')],
    ] as const) {
      assert.equal((await abortedRecord(when, abort)).incomplete?.reason, 'aborted', what);
    }
    const timedOut = await abortedRecord(when, ...timeoutFor(when));
    assert.equal(timedOut.incomplete?.reason, 'timeout', 'AbortSignal.timeout');
  });
}
