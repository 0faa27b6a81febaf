/**
 * `runprint runs show` names a run's status with the word `runs list --status` selects it by
 * (complete, incomplete, failed; unidentified too when its request has no identity), the
 * transport's outcome on its own labelled row, and for a run without a receipt whether one is
 * still to come or why none is made (as GET /v1/runs/{id}/receipt's ERR_RUN_NO_RECEIPT says).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { captureRunWith, type CapturedExchange } from '../src/capture/capture-run.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { runCliInProcess } from './helpers/run-cli.ts';

let data: string;
const ids: Record<string, string> = {};
const json = new Headers({ 'content-type': 'application/json' });
const chat = (content: string) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] });
const answer = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Ok.' } }] });
const chunk = (delta: object) => `data: ${JSON.stringify({ id: 'chatcmpl-2', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;

/** The runs: name, request body, status, response headers, response body, transport outcome. */
const RUNS: Array<[string, string, number | null, Headers, string, CapturedExchange['outcome']]> = [
  ['complete', chat('Whole'), 200, json, answer, 'complete'],
  ['unauthorized', chat('Refused'), 401, json, JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }), 'complete'],
  ['cut', JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Cut' }] }), 200, new Headers({ 'content-type': 'text/event-stream' }), chunk({ role: 'assistant', content: 'Half' }), 'network-error'],
  ['unreachable', chat('Nobody'), null, new Headers(), '', 'network-error'],
  ['unidentified', JSON.stringify({ model: 'gpt-4o', messages: 'not a list' }), 200, json, answer, 'complete'],
];

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'runprint-runs-show-'));
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    await store.put(RUNS.map(([name, request, status, headers, response, outcome], i) => {
      const requestBytes = new TextEncoder().encode(request);
      const responseBytes = new TextEncoder().encode(response);
      const started = Date.parse('2026-12-06T10:00:00Z') + i * 1000;
      const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status, headers: status === null ? null : headers, responseBytes, outcome, times: { started, response: status === null ? null : started + 5, ended: started + 10 } } as CapturedExchange);
      ids[name] = captured.record.captureId;
      return runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
    }));
  } finally {
    await store.close();
  }
});
after(() => rmSync(data, { recursive: true, force: true }));

const row = (out: string, name: string) => new RegExp(`^${name} +(.*)$`, 'm').exec(out)?.[1];

test('the status row starts with the word runs list --status selects the run by; the transport outcome is its own row', async () => {
  const want: Record<string, [string, string, string]> = {
    complete: ['complete', 'complete (HTTP 200)', 'complete (the exchange ended normally)'],
    unauthorized: ['failed', 'failed: http-status (HTTP 401)', 'complete (the exchange ended normally)'],
    cut: ['incomplete', 'incomplete: cut, ERR_OUTPUT_INCOMPLETE_STREAM (HTTP 200)', 'network-error (the connection failed or was cut)'],
    unreachable: ['failed', 'failed: network-error (no response)', 'network-error (the connection failed or was cut)'],
    unidentified: ['unidentified', 'complete, unidentified (HTTP 200)', 'complete (the exchange ended normally)'],
  };
  for (const [name, [filter, status, transport]] of Object.entries(want)) {
    const shown = await runCliInProcess(['runs', 'show', ids[name]!, '--data', data]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual([row(shown.stdout, 'status'), row(shown.stdout, 'transport')], [status, transport], name);
    // The first word is a --status the run is listed by.
    assert.equal(status.split(/[,:( ]/)[0], name === 'unidentified' ? 'complete' : filter);
    const listed = await runCliInProcess(['runs', 'list', '--data', data, '--status', filter, '--json']);
    assert.ok((JSON.parse(listed.stdout) as { runs: { captureId: string }[] }).runs.some((run) => run.captureId === ids[name]), `runs list --status ${filter} lists ${name}`);
  }
});

test('the receipt row says why a run gets none, or that it is not signed yet', async () => {
  const want: Record<string, string> = {
    complete: 'not signed yet (or the service signs none)',
    unauthorized: 'none is made: it has no whole output (a failed or cut-off call)',
    cut: 'none is made: it has no whole output (a failed or cut-off call)',
    unidentified: 'none is made: it has no run identity (unidentified, or no response with served facts)',
  };
  for (const [name, receipt] of Object.entries(want)) {
    const shown = await runCliInProcess(['runs', 'show', ids[name]!, '--data', data]);
    assert.equal(row(shown.stdout, 'receipt'), receipt, name);
  }
});
