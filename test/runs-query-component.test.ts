/**
 * The filters of `runprint runs list` / `runs group` and of GET /v1/runs, /v1/runs/counts and
 * /v1/runs/groups (a real serve on a real run store): the response bytes `runs show` prints are
 * found as `component=response=DIGEST`, as the request bytes are as `request=DIGEST`; each
 * mistake in a `component` value is said on its own, with the same code over the CLI and HTTP;
 * and a filter given an empty value is refused, not taken as a filter that selects no run.
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
const ids: string[] = [];

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'runprint-runs-component-'));
  const storage = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    await storage.put(['One', 'Two'].map((content, i) => {
      const requestBytes = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }));
      const responseBytes = new TextEncoder().encode(JSON.stringify({ id: `chatcmpl-${i}`, object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `Answer ${content}` } }] }));
      const at = Date.parse('2026-12-06T10:00:00Z') + i * 1000;
      const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started: at, response: at, ended: at } });
      ids.push(captured.record.captureId);
      return runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
    }));
  } finally {
    await storage.close();
  }
  serve = await startServe({ data });
});
after(async () => {
  await killServeProcesses();
  rmSync(data, { recursive: true, force: true });
});

const listed = async (...args: string[]) => {
  const result = await runCliInProcess(['runs', 'list', '--data', data, '--json', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { runs: { captureId: string }[] }).runs.map((run) => run.captureId);
};
const served = async (query: string) => {
  const response = await fetch(`${serve.base}/v1/runs?${query}`);
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { runs: { captureId: string }[] }).runs.map((run) => run.captureId);
};

test('the digests runs show prints as request bytes and response bytes are found as request=DIGEST and response=DIGEST', async () => {
  const shown = await runCliInProcess(['runs', 'show', ids[1]!, '--data', data]);
  assert.equal(shown.code, 0, shown.stderr);
  const digestOf = (row: string) => new RegExp(`^${row} +\\d+ sha256:([0-9a-f]{64})`, 'm').exec(shown.stdout)![1]!;
  const output = /^output +sha256:([0-9a-f]{64})/m.exec(shown.stdout)![1]!;
  for (const [name, digest] of [['response', digestOf('response bytes')], ['request', digestOf('request bytes')], ['output', output]] as const) {
    assert.deepEqual(await listed('--component', `${name}=${digest}`), [ids[1]], `runs list --component ${name}=`);
    assert.deepEqual(await listed('--component', `${name}=sha256:${digest}`), [ids[1]], `runs list --component ${name}=sha256:`);
    assert.deepEqual(await served(`component=${name}=${digest}`), [ids[1]], `GET /v1/runs?component=${name}=`);
    assert.deepEqual(await listed('--component', digest), [ids[1]], 'the bare digest');
  }
  // Each name finds its own digest only: the response bytes are not the output's digest (SPEC 12).
  assert.deepEqual(await listed('--component', `output=${digestOf('response bytes')}`), []);
  const group = await runCliInProcess(['runs', 'group', '--data', data, '--by', 'request', '--component', `response=${digestOf('response bytes')}`, '--json']);
  assert.equal(group.code, 0, group.stderr);
});

const NAMES = 'model, system, input, context, tools, parameters, configuration, excluded, output, request, response, retrieval, salts';
const HEX = 'ab'.repeat(32);

test('each mistake in a component value gets its own message, the same over the CLI (ERR_CLI_USAGE) and HTTP (ERR_HTTP_BAD_REQUEST)', async () => {
  const cases: Array<[string, string]> = [
    [`sytem=${HEX}`, `component is DIGEST or NAME=DIGEST: "sytem" is not a NAME; NAME is one of ${NAMES}; did you mean "system"?`],
    [`responses=${HEX}`, `component is DIGEST or NAME=DIGEST: "responses" is not a NAME; NAME is one of ${NAMES}; did you mean "response"?`],
    [`answer=${HEX}`, `component is DIGEST or NAME=DIGEST: "answer" is not a NAME; NAME is one of ${NAMES}`],
    [`=${HEX}`, `component is DIGEST or NAME=DIGEST: the NAME before = is empty; NAME is one of ${NAMES}`],
    ['system', 'component is DIGEST or NAME=DIGEST: "system" is a NAME without its digest; give system=DIGEST'],
    ['system=', 'component is DIGEST or NAME=DIGEST: the DIGEST after = is empty: give 64 lower-case hex digits'],
    [`system=${HEX.toUpperCase()}`, 'component is DIGEST or NAME=DIGEST: DIGEST must be written in lower-case hex: upper-case letters A-F are not accepted'],
    [HEX.toUpperCase(), 'component is DIGEST or NAME=DIGEST: DIGEST must be written in lower-case hex: upper-case letters A-F are not accepted'],
    [`system=${HEX.slice(1)}`, 'component is DIGEST or NAME=DIGEST: DIGEST must be 64 hex digits (a SHA-256); this one has 63'],
    [`input=${HEX.slice(2)}zz`, 'component is DIGEST or NAME=DIGEST: DIGEST must be 64 lower-case hex digits (a SHA-256, sha256: before them may be kept); this one has characters that are not hex digits'],
  ];
  for (const [value, message] of cases) {
    for (const command of [['list'], ['group', '--by', 'request']]) {
      const result = await runCliInProcess(['runs', ...command, '--data', data, '--component', value]);
      assert.deepEqual(result, { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` }, `runs ${command[0]} --component ${value}`);
    }
    for (const path of ['/v1/runs', '/v1/runs/counts', '/v1/runs/groups?by=request&']) {
      const response = await fetch(`${serve.base}${path}${path.endsWith('&') ? '' : '?'}component=${encodeURIComponent(value)}`);
      assert.deepEqual([response.status, await response.json()], [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message } }], `${path} component=${value}`);
    }
  }
});

test('a filter given an empty value is refused, over the CLI and HTTP, not taken to select no run', async () => {
  const cases: Array<[string, string]> = [['model', 'model'], ['served-model', 'servedModel'], ['since', 'since'], ['provider', 'provider'], ['status', 'status'], ['parent', 'parent'], ['verdict', 'verdict'], ['component', 'component'], ['until', 'until']];
  for (const [option, name] of cases) {
    const message = `${name} is empty: give it a value, or leave ${name} out (an empty ${name} would select no run)`;
    for (const args of [[`--${option}`, ''], [`--${option}=`]]) {
      for (const command of [['list'], ['group', '--by', 'request']]) {
        const result = await runCliInProcess(['runs', ...command, '--data', data, ...args]);
        assert.deepEqual(result, { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` }, `runs ${command[0]} ${args.join(' ')}`);
      }
    }
    for (const path of ['/v1/runs?', '/v1/runs/counts?', '/v1/runs/groups?by=request&']) {
      const response = await fetch(`${serve.base}${path}${name}=`);
      assert.deepEqual([response.status, await response.json()], [400, { error: { code: 'ERR_HTTP_BAD_REQUEST', message } }], `${path}${name}=`);
    }
  }
  // Given a value, the filter selects as before.
  assert.deepEqual(await listed('--model', 'gpt-4o'), [ids[1], ids[0]]);
  assert.deepEqual(await served('model=gpt-4o'), [ids[1], ids[0]]);
});
