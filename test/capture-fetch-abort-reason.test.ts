/**
 * A call the application aborts is recorded `aborted` whatever reason it aborts with: fetch fails
 * with the signal's reason itself (`abort(new Error('mine'))`, `abort('user left')`), which before
 * was taken for the network's failure (`network-error`, or `cut` mid-stream). A timeout signal is
 * `timeout`; a plain `abort()` stays `aborted`. Against the fake upstream, with captureFetch.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { captureFetch } from '../src/capture/capture-fetch.ts';
import type { RunRecord } from '../src/capture/run-record.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';

let upstream: FakeUpstream;
before(async () => {
  upstream = await startFakeUpstream();
});
after(() => upstream.close());

const CALL = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello slowly.' }] };

/** The record of one call aborted by `abort` (given the controller) `when` it is: before its answer, or after the first streamed event. */
async function abortedRecord(when: 'before-answer' | 'mid-stream', abort: (controller: AbortController) => void, signalOf?: (controller: AbortController) => AbortSignal): Promise<RunRecord> {
  const records: RunRecord[] = [];
  const capturing = captureFetch(globalThis.fetch, { onRun: (record) => void records.push(record) });
  upstream.enqueue(when === 'before-answer' ? { kind: 'text', text: 'Too late.', headersDelayMs: 2000 } : { kind: 'text', text: 'One word at a time, slowly.', eventDelayMs: 300 });
  const controller = new AbortController();
  const call = capturing(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...CALL, stream: when === 'mid-stream' }), signal: signalOf?.(controller) ?? controller.signal });
  if (when === 'before-answer') {
    setTimeout(() => abort(controller), 100);
    await assert.rejects(call);
  } else {
    const response = await call;
    const reader = response.body!.getReader();
    await reader.read();
    abort(controller);
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) return;
    });
  }
  for (let i = 0; i < 100 && records.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(records.length, 1);
  return records[0]!;
}

for (const when of ['before-answer', 'mid-stream'] as const) {
  test(`aborted ${when}: with an Error, a string or no reason it is "aborted"; a timeout signal is "timeout"`, async () => {
    for (const [what, abort] of [
      ['abort()', (controller: AbortController) => controller.abort()],
      ["abort(new Error('mine'))", (controller: AbortController) => controller.abort(new Error('mine'))],
      ["abort('user left')", (controller: AbortController) => controller.abort('user left')],
    ] as const) {
      assert.equal((await abortedRecord(when, abort)).incomplete?.reason, 'aborted', what);
    }
    const timedOut = await abortedRecord(when, () => undefined, () => AbortSignal.timeout(when === 'before-answer' ? 100 : 150));
    assert.equal(timedOut.incomplete?.reason, 'timeout', 'AbortSignal.timeout');
  });
}
