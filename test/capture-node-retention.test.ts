/**
 * runprintFetch's `retention` (days, as serve's --capture-retention): the content of the local
 * store's runs that ended longer ago is deleted by serve's own sweep (store/retention.ts), once
 * when the store opens and every hour while the fetch is open; records, digests and receipts stay.
 * Real local stores under temporary folders and a real fake upstream; runs are made old by
 * storing one with old times, and by giving the sweeps a clock (the test seam) that is moved on
 * days, with node:test's mock setInterval standing for the hours. The sweep's timer does not keep
 * the process alive (a child process that never closes its fetch exits), and close stops it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { runprintFetch, type RunprintFetch } from '../src/capture-node/index.ts';
import { RETENTION_CLOCK_SEAM } from '../src/capture-node/runprint-fetch.ts';
import type { RunprintError } from '../src/errors.ts';
import { defaultContentPolicy, runToStore, type StoredRun } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-capture-node-retention-');

before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

const tempDir = () => scratch.tempDir();

/** One chat call through `capture` with its own system prompt; its capture id, once its answer is read. */
async function call(capture: typeof fetch, system: string): Promise<string> {
  const response = await capture(`${upstream.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-capture-node-retention' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: system }, { role: 'user', content: 'Say hello.' }] }),
  });
  assert.equal(response.status, 200);
  await response.text();
  return response.headers.get('runprint-capture-id')!;
}

/** A run in `<data>/runs.sqlite` that ended `age` ms ago, as a capture then would have stored it, its content its own (by `label`); its capture id. */
async function storeOldRun(data: string, age: number, label: string): Promise<string> {
  const requestBytes = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: `The ${label} system prompt.` }, { role: 'user', content: 'Say hello.' }] }));
  const responseBytes = new TextEncoder().encode(JSON.stringify({ id: 'chatcmpl-old', object: 'chat.completion', created: 1, model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `The ${label} answer.` } }] }));
  const started = Date.now() - age;
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    await store.put([runToStore(run, { requestBytes, responseBytes }, defaultContentPolicy(), 'sdk', true)]);
  } finally {
    await store.close();
  }
  return run.record.captureId;
}

/** The stored run of a capture id, and whether the store still holds its system prompt and its response bytes. */
async function stored(data: string, captureId: string): Promise<{ run: StoredRun; system: boolean; response: boolean }> {
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    const [run] = await store.find(captureId);
    assert.ok(run !== undefined, `capture ${captureId} is stored`);
    const digest = (part: string) => run.digests.find((row) => row.part === part && row.position === (part === 'system' ? 0 : -1))!.digest;
    return { run, system: (await store.content(digest('system'))) !== undefined, response: (await store.content(digest('response'))) !== undefined };
  } finally {
    await store.close();
  }
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`timed out waiting until ${what}`);
}

for (const from of ['option', 'RUNPRINT_CAPTURE_RETENTION'] as const) test(`retention (${from}): the store's runs older than the period lose their content when the fetch opens the store; newer ones keep it; records and receipts stay`, async () => {
  const data = tempDir();
  const old = await storeOldRun(data, 3 * DAY, 'old');
  const younger = await storeOldRun(data, DAY, 'younger');
  assert.deepEqual([(await stored(data, old)).system, (await stored(data, old)).response], [true, true], 'stored with its content');
  const errors: RunprintError[] = [];
  const saved = process.env['RUNPRINT_CAPTURE_RETENTION'];
  if (from === 'option') delete process.env['RUNPRINT_CAPTURE_RETENTION'];
  else process.env['RUNPRINT_CAPTURE_RETENTION'] = '2';
  let capture: RunprintFetch;
  try {
    capture = runprintFetch({ data, ...(from === 'option' ? { retention: 2 } : {}), onError: (error) => void errors.push(error) });
  } finally {
    if (saved === undefined) delete process.env['RUNPRINT_CAPTURE_RETENTION'];
    else process.env['RUNPRINT_CAPTURE_RETENTION'] = saved;
  }
  const fresh = await call(capture, 'Be brief.');
  await capture.close();
  assert.deepEqual(errors, []);

  const expired = await stored(data, old);
  assert.equal(expired.run.contentExpired, true, 'the run that ended 3 days ago is past a 2-day retention');
  assert.deepEqual({ system: expired.system, response: expired.response }, { system: false, response: false }, 'its content is deleted');
  assert.equal(expired.run.record.captureId, old, 'its record stays');
  const kept = await stored(data, younger);
  assert.deepEqual({ expired: kept.run.contentExpired, response: kept.response }, { expired: false, response: true }, 'a run that ended a day ago keeps its content');
  const captured = await stored(data, fresh);
  assert.deepEqual({ expired: captured.run.contentExpired, system: captured.system, response: captured.response }, { expired: false, system: true, response: true });
  assert.notEqual(captured.run.receipt, null, 'the in-process run is signed');
});

test('retention: a sweep every hour while the fetch is open deletes what has grown old since; close stops the sweeps', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const data = tempDir();
  let clock = Date.now();
  let sweeps = 0;
  const now = () => {
    sweeps++;
    return clock;
  };
  const errors: RunprintError[] = [];
  const capture = runprintFetch({ data, retention: 2, onError: (error) => void errors.push(error), [RETENTION_CLOCK_SEAM]: now } as Parameters<typeof runprintFetch>[0]) as RunprintFetch;
  const first = await call(capture, 'Be brief.');
  await capture.flush();
  assert.equal(sweeps, 1, 'one sweep when the store opened');
  assert.equal((await stored(data, first)).run.contentExpired, false);

  // Three days later by the sweeps' clock: the next hourly sweep deletes the run's content.
  clock += 3 * DAY;
  t.mock.timers.tick(HOUR - 1);
  assert.equal(sweeps, 1, 'no sweep before the hour is up');
  t.mock.timers.tick(1);
  assert.equal(sweeps, 2, 'a sweep on the hour');
  await until(async () => (await stored(data, first)).run.contentExpired, 'the hourly sweep expired the run');
  assert.deepEqual({ system: (await stored(data, first)).system, response: (await stored(data, first)).response }, { system: false, response: false });

  // A run captured now is young by the real clock, but old by the sweeps' clock: only a sweep
  // after close would delete its content, and close stops them.
  const second = await call(capture, 'Be terse.');
  await capture.close();
  t.mock.timers.tick(3 * HOUR);
  assert.equal(sweeps, 2, 'no sweep after close');
  const left = await stored(data, second);
  assert.deepEqual({ expired: left.run.contentExpired, response: left.response }, { expired: false, response: true });
  assert.deepEqual(errors, []);
});

test('retention: the sweep\'s timer does not keep the process alive (an application that never closes its fetch exits)', async () => {
  const data = tempDir();
  const script = `
    const { runprintFetch } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../src/capture-node/index.ts')).href)});
    const capture = runprintFetch({ data: process.argv[1], retention: 1, onError: (error) => { console.error(error.toLine()); process.exitCode = 3; } });
    const response = await capture(process.argv[2] + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-retention-child' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] }) });
    await response.text();
    await capture.flush();
    console.log('flushed', capture.counts.recorder.recorded);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, data, upstream.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  // Generous for a loaded machine; without unref the hourly timer would hold the child for an hour.
  const limit = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])));
  clearTimeout(limit);
  assert.equal(signal, null, `the child exited by itself (stdout: ${stdout}; stderr: ${stderr})`);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), 'flushed 1');
});
