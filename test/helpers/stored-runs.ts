/** A data directory's run store (runs.sqlite) filled with captured runs, as serve stores them, for the commands that read it. */
import { join } from 'node:path';
import { captureRunWith } from '../../src/capture/capture-run.ts';
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
