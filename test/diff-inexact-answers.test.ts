/**
 * A diff whose list alignment was not exact (SPEC 10: past runprint's bounds) says so everywhere
 * it is given, as the explorer's compare page does: `runprint diff` and `runs diff` (a line per
 * such list; `inexact` in --json, always present, empty when exact), `POST /v1/diff` and
 * `GET /v1/runs/diff` (the member `inexact`), large runs compared in serve's worker pool as in
 * the process (run-diff), and through the worker's answer computed in-process; `replay --param`
 * giving such a list (`overrides.inexact`).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LARGE_RUN_ELEMENTS } from '../src/capture/large-run.ts';
import { computeInProcess } from '../src/server/api-answers.ts';
import { runAnalysisRoutes } from '../src/server/run-analysis-routes.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';
import { captureBody } from './helpers/proxy-calls.ts';

const TOKEN = 'capture-token-inexact-1';
const OPENAI_KEY = 'sk-test-diff-inexact-0123456789';
const NOTE = "inexact  input          too long to align exactly (SPEC 10): past runprint's bounds, so an element may be named moved, changed, added or removed where an exact alignment would find it equal";

const scratch = scratchFolders('runprint-diff-inexact-');
type Message = { role: string; content: string };
const messages = (prefix: string, length: number, from = 0): Message[] => Array.from({ length }, (_, i) => ({ role: (from + i) % 2 === 0 ? 'user' : 'assistant', content: `${prefix} message ${from + i}.` }));

/**
 * Two chats of `before` common messages, then 2,101 past the bounds: A has 1,001 earlier messages
 * then 1,100 later ones, B the later ones first, then the earlier ones with one changed (2,101 x
 * 2,101 pairs and 2,002 insertions and removals at least: past ALIGN_PAIRS and ALIGN_EDITS).
 */
function pastBounds(common: number): { a: string; b: string } {
  const start = messages('Common', common);
  const earlier = messages('Earlier', 1001);
  const later = messages('Later', 1100);
  const changed = earlier.map((message, i) => (i === 500 ? { ...message, content: 'Changed.' } : message));
  const body = (list: Message[]) => JSON.stringify({ model: 'gpt-4o', messages: list, temperature: 0 });
  return { a: body([...start, ...earlier, ...later]), b: body([...start, ...later, ...changed]) };
}
/** Two short chats, one message changed: aligned exactly. */
const short = {
  a: JSON.stringify({ model: 'gpt-4o', messages: messages('Short', 3), temperature: 0 }),
  b: JSON.stringify({ model: 'gpt-4o', messages: messages('Short', 3).map((m, i) => (i === 1 ? { ...m, content: 'Other.' } : m)), temperature: 0 }),
};
const past = pastBounds(0);
const large = pastBounds(LARGE_RUN_ELEMENTS);

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
const ids = { pastA: '', pastB: '', shortA: '', shortB: '', largeA: '', largeB: '' };

const capture = (body: string): Promise<string> => captureBody(serve.base, body, { authorization: `Bearer ${OPENAI_KEY}`, 'runprint-capture-token': TOKEN });


async function get(path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${serve.base}${path}`, { headers: { 'runprint-capture-token': TOKEN } });
  return { status: response.status, body: await response.json() };
}

before(async () => {
  // The key replay sends upstream (the fake upstream takes any).
  process.env['OPENAI_API_KEY'] = OPENAI_KEY;
  upstream = await startFakeUpstream();
  data = scratch.tempDir();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--capture-token', TOKEN] });
  ids.pastA = await capture(past.a);
  ids.pastB = await capture(past.b);
  ids.shortA = await capture(short.a);
  ids.shortB = await capture(short.b);
  ids.largeA = await capture(large.a);
  ids.largeB = await capture(large.b);
});

after(async () => {
  await killServeProcesses();
  await upstream.close();
  scratch.removeAll();
});

describe('runprint diff', () => {
  test('names each list aligned inexactly: a line in the text, `inexact` in --json (empty when exact)', async () => {
    const dir = scratch.tempDir();
    for (const [name, text] of Object.entries({ 'past-a.json': past.a, 'past-b.json': past.b, 'short-a.json': short.a, 'short-b.json': short.b })) writeFileSync(join(dir, name), text);
    const text = await runCliInProcess(['diff', join(dir, 'past-a.json'), join(dir, 'past-b.json')]);
    assert.equal(text.code, 1, text.stderr);
    const lines = text.stdout.split('\n');
    assert.deepEqual(lines.filter((line) => line.startsWith('inexact')), [NOTE]);
    // After the differences, which are still listed.
    assert.ok(lines.indexOf(NOTE) > lines.findLastIndex((line) => /^(moved|changed|added|removed) /.test(line)));
    const json = JSON.parse((await runCliInProcess(['diff', join(dir, 'past-a.json'), join(dir, 'past-b.json'), '--json'])).stdout);
    assert.deepEqual(json.inexact, ['input']);
    assert.ok(json.differences.length > 0);

    const exact = await runCliInProcess(['diff', join(dir, 'short-a.json'), join(dir, 'short-b.json')]);
    assert.equal(exact.code, 1, exact.stderr);
    assert.doesNotMatch(exact.stdout, /inexact/);
    assert.deepEqual(JSON.parse((await runCliInProcess(['diff', join(dir, 'short-a.json'), join(dir, 'short-b.json'), '--json'])).stdout).inexact, []);
  });

  test('POST /v1/diff answers the same `inexact`', async () => {
    for (const [pair, expected] of [[past, ['input']], [short, []]] as const) {
      const response = await fetch(`${serve.base}/v1/diff`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: JSON.parse(pair.a), b: JSON.parse(pair.b) }) });
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.deepEqual(body.inexact, expected);
      const dir = scratch.tempDir();
      writeFileSync(join(dir, 'a.json'), pair.a);
      writeFileSync(join(dir, 'b.json'), pair.b);
      assert.deepEqual(body, JSON.parse((await runCliInProcess(['diff', join(dir, 'a.json'), join(dir, 'b.json'), '--json'])).stdout));
    }
  });
});

describe('runs diff and GET /v1/runs/diff', () => {
  test('two stored runs past the bounds: the note line, `inexact` in --json and over HTTP (empty when exact)', async () => {
    const text = await runCliInProcess(['runs', 'diff', ids.pastA, ids.pastB, '--data', data]);
    assert.equal(text.code, 1, text.stderr);
    assert.deepEqual(text.stdout.split('\n').filter((line) => line.startsWith('inexact')), [NOTE]);
    for (const [a, b, expected] of [[ids.pastA, ids.pastB, ['input']], [ids.shortA, ids.shortB, []]] as const) {
      const cli = await runCliInProcess(['runs', 'diff', a, b, '--data', data, '--json']);
      assert.equal(cli.code, 1, cli.stderr);
      const json = JSON.parse(cli.stdout);
      assert.deepEqual(json.inexact, expected);
      const http = await get(`/v1/runs/diff?a=${a}&b=${b}`);
      assert.equal(http.status, 200);
      assert.deepEqual(http.body, json);
    }
    const exact = await runCliInProcess(['runs', 'diff', ids.shortA, ids.shortB, '--data', data]);
    assert.doesNotMatch(exact.stdout, /inexact/);
  });

  test('large runs, compared in serve\'s worker pool: the same `inexact` as in the process', async () => {
    const http = await get(`/v1/runs/diff?a=${ids.largeA}&b=${ids.largeB}`);
    assert.equal(http.status, 200);
    assert.deepEqual(http.body.inexact, ['input']);
    const cli = await runCliInProcess(['runs', 'diff', ids.largeA, ids.largeB, '--data', data, '--json']);
    assert.deepEqual(http.body, JSON.parse(cli.stdout));
    // The route itself, without and with a worker's answer (run-diff) computed here: the same bytes.
    const store = SqliteRuns.openReader(join(data, 'runs.sqlite'));
    after(() => store.close());
    const answer = async (compute?: typeof computeInProcess) => {
      const routes = runAnalysisRoutes({ storage: store, verify: {}, ...(compute === undefined ? {} : { compute }) });
      const url = new URL(`http://localhost/v1/runs/diff?a=${ids.largeA}&b=${ids.largeB}`);
      const response = await routes.diff(new Request(url), url);
      return `${response.status} ${await response.text()}`;
    };
    const here = await answer();
    assert.deepEqual(JSON.parse(here.slice(4)).inexact, ['input']);
    assert.equal(await answer(computeInProcess), here);
  });
});

describe('replay --param', () => {
  test('a list an override gives past the bounds: `overrides.inexact` and the note line', async () => {
    const messagesB = `messages=${JSON.stringify(JSON.parse(past.b).messages)}`;
    const args = ['replay', ids.pastA, '--data', data, '--upstream', `openai=${upstream.url}`, '--param', messagesB];
    const json = await runCliInProcess([...args, '--json']);
    const result = JSON.parse(json.stdout);
    assert.equal(result.verdict, 'variant', json.stderr);
    assert.ok(result.overrides.changed.length > 0);
    assert.deepEqual(result.overrides.inexact, ['input']);
    const text = await runCliInProcess(args);
    assert.deepEqual(text.stdout.split('\n').filter((line) => line.trimStart().startsWith('inexact')), [`  ${NOTE}`]);
    // An override that changes a value only: aligned exactly.
    const exact = JSON.parse((await runCliInProcess(['replay', ids.shortA, '--data', data, '--upstream', `openai=${upstream.url}`, '--param', 'temperature=1', '--json'])).stdout);
    assert.equal(exact.verdict, 'variant');
    assert.deepEqual(exact.overrides.inexact, []);
  });
});
