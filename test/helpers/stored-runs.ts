/** A data directory's run store (runs.sqlite) filled with captured runs, as serve stores them, for the commands that read it. */
import { join } from 'node:path';
import { captureRunWith, type CapturedRun } from '../../src/capture/capture-run.ts';
import { defaultContentPolicy, runToStore } from '../../src/store/run-storage.ts';
import { SqliteRuns } from '../../src/store/sqlite-runs.ts';
import { REQUEST, RESPONSE_TEXT } from '../fixtures/receipt-run.ts';

/**
 * Stores `count` complete runs of the fixture request in `<data>/runs.sqlite`, one second apart
 * from 2026-12-01T00:00:00Z, without receipts; returns their capture ids, oldest first.
 */
export async function storeRuns(data: string, count: number): Promise<string[]> {
  const requestBytes = new TextEncoder().encode(JSON.stringify(REQUEST));
  const responseBytes = new TextEncoder().encode(RESPONSE_TEXT);
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    const batch = Array.from({ length: count }, (_, i) => {
      const started = Date.parse('2026-12-01T00:00:00Z') + i * 1000;
      const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
      return runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
    });
    await store.put(batch);
    return batch.map((run) => run.record.captureId);
  } finally {
    await store.close();
  }
}

/**
 * A chat completions run captured now, of one user message (after a system message, if given),
 * answered `About USER.`, with the bytes that go with it into a run store.
 */
export function chatRun(user: string, system?: string): { run: CapturedRun; bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array } } {
  const started = Date.now();
  const messages = [...(system === undefined ? [] : [{ role: 'system', content: system }]), { role: 'user', content: user }];
  const requestBytes = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o', messages }));
  const responseBytes = new TextEncoder().encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `About ${user}.` } }] }));
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 1, ended: started + 2 } });
  return { run, bytes: { requestBytes, responseBytes } };
}
