/**
 * The filters of `runprint runs list` / `runs group` and of GET /v1/runs, /v1/runs/counts and
 * /v1/runs/groups (a real serve on a real run store) select the same runs: `since` and `until`
 * compare exactly with the records' start times (milliseconds) however many fraction digits the
 * query has, and a filter given twice is refused, by both, rather than one of them kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

let data: string;
let serve: ServeProcess;
/** Capture ids of the stored runs, by their start time. */
const ids: Record<string, string> = {};

/** Stores one complete chat run of MODEL started at each time. */
async function store(runs: Array<[string, string]>): Promise<void> {
  const storage = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    await storage.put(runs.map(([started, model]) => {
      const requestBytes = new TextEncoder().encode(JSON.stringify({ model, messages: [{ role: 'user', content: `At ${started}` }] }));
      const responseBytes = new TextEncoder().encode(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Ok.' } }] }));
      const at = Date.parse(started);
      const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started: at, response: at, ended: at } });
      ids[started] = captured.record.captureId;
      return runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
    }));
  } finally {
    await storage.close();
  }
}

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'runprint-runs-filters-'));
  await store([['2026-12-06T11:36:46.705Z', 'gpt-4o'], ['2026-12-06T11:36:46.706Z', 'gpt-4o-mini'], ['2026-12-06T11:36:46.707Z', 'gpt-4o']]);
  serve = await startServe({ data });
});
after(async () => {
  await killServeProcesses();
  rmSync(data, { recursive: true, force: true });
});

const listed = async (...args: string[]) => {
  const result = await runCliInProcess(['runs', 'list', '--data', data, '--json', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { runs: { captureId: string }[] }).runs.map((run) => run.captureId).sort();
};
const served = async (query: string) => {
  const response = await fetch(`${serve.base}/v1/runs?${query}`);
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { runs: { captureId: string }[] }).runs.map((run) => run.captureId).sort();
};
const of = (...times: string[]) => times.map((time) => ids[time]!).sort();

test('since and until compare exactly: a time finer than a millisecond selects as its exact value', async () => {
  const [a, b, c] = ['2026-12-06T11:36:46.705Z', '2026-12-06T11:36:46.706Z', '2026-12-06T11:36:46.707Z'];
  const cases: Array<[string, string, string[]]> = [
    ['until', '2026-12-06T11:36:46.7061Z', [a!, b!]],
    ['until', '2026-12-06T11:36:46.706000000Z', [a!]],
    ['until', '2026-12-06T11:36:46.7059Z', [a!]],
    ['until', '2026-12-06T13:36:46.706000001+02:00', [a!, b!]],
    ['since', '2026-12-06T11:36:46.7061Z', [c!]],
    ['since', '2026-12-06T11:36:46.706Z', [b!, c!]],
    ['since', '2026-12-06T11:36:46.705999999Z', [b!, c!]],
  ];
  for (const [name, time, want] of cases) {
    assert.deepEqual(await listed(`--${name}`, time), of(...want), `runs list --${name} ${time}`);
    assert.deepEqual(await served(`${name}=${encodeURIComponent(time)}`), of(...want), `GET /v1/runs?${name}=${time}`);
  }
  const counts = await fetch(`${serve.base}/v1/runs/counts?until=${encodeURIComponent('2026-12-06T11:36:46.7061Z')}`);
  assert.equal(((await counts.json()) as { runs: number }).runs, 2, '/v1/runs/counts as /v1/runs');
});

test('a time past what RFC 3339 writes in UTC (year 10000 once the offset is applied) is refused, not compared as text', async () => {
  const result = await runCliInProcess(['runs', 'list', '--data', data, '--since', '9999-12-31T23:59:59-01:00']);
  assert.deepEqual(result, { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: since must be a time from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z in UTC\n' });
  const response = await fetch(`${serve.base}/v1/runs?since=${encodeURIComponent('9999-12-31T23:59:59-01:00')}`);
  assert.equal(response.status, 400);
});

test('a filter given twice is refused by runs list, runs group and the HTTP routes alike, not narrowed to one of them', async () => {
  for (const [command, extra] of [['list', []], ['group', ['--by', 'request']]] as const) {
    for (const [option, a, b] of [['model', 'gpt-4o', 'gpt-4o-mini'], ['component', `system=${'a'.repeat(64)}`, `input=${'b'.repeat(64)}`], ['until', '2026-12-07T00:00:00Z', '2026-12-06T00:00:00Z']]) {
      const result = await runCliInProcess(['runs', command, '--data', data, ...extra, `--${option}`, a!, `--${option}=${b}`]);
      assert.deepEqual(result, { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: --${option} is given more than once; runs ${command} takes it once\n` }, `runs ${command} --${option} twice`);
    }
  }
  assert.equal((await runCliInProcess(['runs', 'group', '--data', data, '--by', 'request', '--by', 'run'])).stderr, 'runprint: ERR_CLI_USAGE: --by is given more than once; runs group takes it once\n');
  assert.equal((await runCliInProcess(['runs', 'list', '--data', data, '--limit', '5', '--limit', '-1'])).stderr, 'runprint: ERR_CLI_USAGE: --limit is given more than once; runs list takes it once\n');
  for (const [path, query] of [['/v1/runs', 'model=gpt-4o&model=gpt-4o-mini'], ['/v1/runs/counts', 'model=gpt-4o&model=gpt-4o-mini'], ['/v1/runs/groups', 'by=request&servedModel=a&servedModel=b'], ['/v1/runs', 'limit=1&limit=2']]) {
    const response = await fetch(`${serve.base}${path}?${query}`);
    const name = query!.split('&').at(-1)!.split('=')[0];
    assert.deepEqual([response.status, await response.json()], [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message: `${name} is given more than once; ${path} takes each query parameter once (filters are not combined)` } }], `${path}?${query}`);
  }
  // Once each, the same filters answer.
  assert.deepEqual(await listed('--model', 'gpt-4o-mini'), of('2026-12-06T11:36:46.706Z'));
  assert.deepEqual(await served('model=gpt-4o-mini'), of('2026-12-06T11:36:46.706Z'));
});
