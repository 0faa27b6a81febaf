/**
 * `GET /v1/runs/diff` and `GET /v1/runs/{id}/verify` of a real `runprint serve` capturing from the
 * fake upstream: the same JSON as `runs diff --json` and `runs verify --json` on the same store;
 * values only with values=1 and only where every piece of content is stored; the capture token
 * needed as for /v1/content; every bad input a stable code (unknown run 404 ERR_RUN_NOT_FOUND).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';
import { captureBody } from './helpers/proxy-calls.ts';

const TOKEN = 'capture-token-analysis-1';
const OPENAI_KEY = 'sk-test-run-analysis-0123456789';
const UNKNOWN = `rp-run-v1-sha256-${'0'.repeat(64)}`;

let upstream: FakeUpstream;
let serve: ServeProcess;
let digestServe: ServeProcess;
let data: string;
let digestData: string;
const scratch: string[] = [];
const ids: Record<'colour' | 'river' | 'unidentified' | 'tampered' | 'bird' | 'fish', string> = { colour: '', river: '', unidentified: '', tampered: '', bird: '', fish: '' };

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-run-analysis-'));
  scratch.push(dir);
  return dir;
}

const capture = (target: ServeProcess, body: string): Promise<string> => captureBody(target.base, body, { authorization: `Bearer ${OPENAI_KEY}`, 'runprint-capture-token': TOKEN });


const chat = (text: string) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'You answer in one sentence.' }, { role: 'user', content: text }], temperature: 0 });

async function logged(target: ServeProcess, captureId: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await fetch(`${target.base}/v1/runs/${captureId}/tlog-proof`, { headers: { 'runprint-capture-token': TOKEN } })).status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail('the run was not logged in time');
}

/** A GET with the capture token, another token, or (null) none. */
async function get(target: ServeProcess, path: string, token: string | null = TOKEN): Promise<{ status: number; body: any }> {
  const response = await fetch(`${target.base}${path}`, token === null ? {} : { headers: { 'runprint-capture-token': token } });
  return { status: response.status, body: await response.json() };
}

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--capture-token', TOKEN] });
  ids.colour = await capture(serve, chat('Name a colour.'));
  ids.river = await capture(serve, chat('Name a river.'));
  ids.tampered = await capture(serve, chat('Name a mountain.'));
  // A seed beyond 2^53 - 1: recorded, with no request identity.
  ids.unidentified = await capture(serve, '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"seed":18446744073709551615}');
  await logged(serve, ids.river);
  digestData = tempDir();
  digestServe = await startServe({ data: digestData, args: ['--upstream', `openai=${upstream.url}`, '--capture-token', TOKEN, '--capture-keep', 'digest'] });
  ids.bird = await capture(digestServe, chat('Name a bird.'));
  ids.fish = await capture(digestServe, chat('Name a fish.'));
});

after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('GET /v1/runs/diff', () => {
  test('answers what runs diff --json prints, with values only when asked', async () => {
    for (const values of [false, true]) {
      const http = await get(serve, `/v1/runs/diff?a=${ids.colour}&b=${ids.river}${values ? '&values=1' : ''}`);
      assert.equal(http.status, 200);
      const cli = await runCliInProcess(['runs', 'diff', ids.colour, ids.river, '--data', data, '--json', ...(values ? ['--values'] : [])]);
      assert.equal(cli.code, 1, cli.stderr);
      assert.deepEqual(http.body, JSON.parse(cli.stdout));
      assert.equal(http.body.compared, 'content');
      assert.equal(http.body.sameRequest, false);
      const input = http.body.differences.find((difference: { component: string }) => difference.component === 'input');
      assert.ok(input, 'the user message differs');
      if (values) assert.deepEqual(input.values, { a: '"Name a colour."', b: '"Name a river."' });
      else assert.equal(input.values, undefined);
    }
    // values=0 is the same as no values.
    assert.deepEqual((await get(serve, `/v1/runs/diff?a=${ids.colour}&b=${ids.river}&values=0`)).body, (await get(serve, `/v1/runs/diff?a=${ids.colour}&b=${ids.river}`)).body);
  });

  test('a run compared with itself by another of its names is the same run', async () => {
    const runId = (await get(serve, `/v1/runs/${ids.colour}`)).body.runs[0].record.runId;
    const { status, body } = await get(serve, `/v1/runs/diff?a=${ids.colour}&b=${runId}`);
    assert.equal(status, 200);
    assert.equal(body.sameRun, true);
    assert.deepEqual(body.differences, []);
    assert.equal(body.output.equal, true);
  });

  test('content kept as a digest only: compared by element digests, no values even with values=1', async () => {
    const { status, body } = await get(digestServe, `/v1/runs/diff?a=${ids.bird}&b=${ids.fish}&values=1`);
    assert.equal(status, 200);
    assert.equal(body.compared, 'digests');
    assert.ok(body.differences.length > 0);
    for (const difference of body.differences) assert.equal(difference.values, undefined);
    // The fake upstream answers both the same: equal outputs, compared by digest.
    assert.equal(body.output.equal, true);
    const cli = await runCliInProcess(['runs', 'diff', ids.bird, ids.fish, '--data', digestData, '--json', '--values']);
    assert.deepEqual(body, JSON.parse(cli.stdout));
  });

  test('the capture token is needed, as for /v1/content', async () => {
    for (const token of [null, 'wrong-token']) {
      const { status, body } = await get(serve, `/v1/runs/diff?a=${ids.colour}&b=${ids.river}&values=1`, token);
      assert.equal(status, 401);
      assert.equal(body.error.code, 'ERR_HTTP_UNAUTHORIZED');
      assert.equal((await get(serve, `/v1/content/${'0'.repeat(64)}`, token)).status, 401, 'the same rule as /v1/content');
    }
  });

  test('bad input gets a stable code', async () => {
    const cases: Array<[string, number, string]> = [
      [`/v1/runs/diff?a=${ids.colour}&b=${UNKNOWN}`, 404, 'ERR_RUN_NOT_FOUND'],
      [`/v1/runs/diff?a=${UNKNOWN}&b=${ids.colour}`, 404, 'ERR_RUN_NOT_FOUND'],
      [`/v1/runs/diff?a=${ids.colour}`, 400, 'ERR_HTTP_BAD_REQUEST'],
      ['/v1/runs/diff', 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/diff?a=${ids.colour}&b=not-a-run`, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/diff?a=${ids.colour}&b=${ids.river}&values=yes`, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/diff?a=${ids.colour}&b=${ids.river}&b=${ids.colour}`, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/diff?a=${ids.colour}&b=${ids.river}&value=1`, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/diff?a=${ids.colour}&b=${ids.unidentified}`, 400, 'ERR_REPLAY_UNIDENTIFIED'],
      // A run identity not whole is no id (400), not an unknown run (404).
      [`/v1/runs/diff?a=${ids.colour}&b=rp-run-v1-sha256-25f77768`, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/diff?a=rp-run-v1-sha256-XYZ&b=${ids.colour}`, 400, 'ERR_HTTP_BAD_REQUEST'],
    ];
    for (const [path, status, code] of cases) {
      const answer = await get(serve, path);
      assert.equal(answer.status, status, path);
      assert.equal(answer.body.error.code, code, path);
    }
    // Which of the two: named.
    assert.equal((await get(serve, `/v1/runs/diff?a=${ids.colour}&b=${UNKNOWN}`)).body.error.message, 'no captured run has the id given as b');
    assert.match((await get(serve, `/v1/runs/diff?a=rp-run-v1-sha256-25f77768&b=${ids.colour}`)).body.error.message, /^a is not a run id: a run is named by /);
    const post = await fetch(`${serve.base}/v1/runs/diff?a=${ids.colour}&b=${ids.river}`, { method: 'POST', headers: { 'runprint-capture-token': TOKEN } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});

describe('GET /v1/runs/{id}/verify', () => {
  test('answers what runs verify --json prints, with the service\'s own receipt key and log', async () => {
    const http = await get(serve, `/v1/runs/${ids.river}/verify`);
    assert.equal(http.status, 200);
    const cli = await runCliInProcess(['runs', 'verify', ids.river, '--data', data, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const local = JSON.parse(cli.stdout);
    const statuses = (result: { checks: Array<{ name: string; status: string }> }) => Object.fromEntries(result.checks.map((check) => [check.name, check.status]));
    assert.deepEqual(statuses(http.body), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
    assert.deepEqual(statuses(http.body), statuses(local));
    assert.deepEqual({ ...http.body, checks: undefined }, { ...local, checks: undefined });
    // The same checks and steps; only what the key and log are said to rely on differs.
    for (const [i, check] of http.body.checks.entries()) {
      assert.deepEqual({ ...check, reliesOn: undefined }, { ...local.checks[i], reliesOn: undefined }, check.name);
    }
    const receipt = http.body.checks.find((check: { name: string }) => check.name === 'receipt');
    assert.match(receipt.reliesOn, /the service's own receipt key/);
    assert.match(receipt.reliesOn, /runs verify --key/);
  });

  test('a run without an identity: checked as far as it can be, never a pass for what was not checked', async () => {
    const { status, body } = await get(serve, `/v1/runs/${ids.unidentified}/verify`);
    assert.equal(status, 200);
    const identity = body.checks.find((check: { name: string }) => check.name === 'identity');
    assert.equal(identity.status, 'not-checked');
    assert.equal(identity.code, 'ERR_REPLAY_UNIDENTIFIED');
  });

  test('content kept as a digest only is not checkable', async () => {
    const { status, body } = await get(digestServe, `/v1/runs/${ids.bird}/verify`);
    assert.equal(status, 200);
    const identity = body.checks.find((check: { name: string }) => check.name === 'identity');
    assert.equal(identity.status, 'not-checked');
    assert.match(identity.message, /content not stored: not checkable/);
  });

  test('unknown run, bad id, extra parameter, no token: stable codes', async () => {
    const cases: Array<[string, string | null, number, string]> = [
      [`/v1/runs/${UNKNOWN}/verify`, TOKEN, 404, 'ERR_RUN_NOT_FOUND'],
      [`/v1/runs/${'f'.repeat(64)}/verify`, TOKEN, 404, 'ERR_RUN_NOT_FOUND'],
      ['/v1/runs/not-a-run/verify', TOKEN, 400, 'ERR_HTTP_BAD_REQUEST'],
      ['/v1/runs/rp-run-v1-sha256-25f77768/verify', TOKEN, 400, 'ERR_HTTP_BAD_REQUEST'],
      ['/v1/runs/rp-run-v1-sha256-25f77768', TOKEN, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/rp-run-v1-sha256-${'A'.repeat(64)}`, TOKEN, 400, 'ERR_HTTP_BAD_REQUEST'],
      ['/v1/runs/%E0%A4%A/verify', TOKEN, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/${ids.river}/verify?key=x`, TOKEN, 400, 'ERR_HTTP_BAD_REQUEST'],
      [`/v1/runs/${ids.river}/verify`, null, 401, 'ERR_HTTP_UNAUTHORIZED'],
    ];
    for (const [path, token, status, code] of cases) {
      const answer = await get(serve, path, token);
      assert.equal(answer.status, status, path);
      assert.equal(answer.body.error.code, code, path);
    }
  });

  test('altered stored content: verify fails its identity check, diff answers 500 ERR_REPLAY_CONTENT_MISMATCH', async () => {
    const shown = (await get(serve, `/v1/runs/${ids.tampered}`)).body.runs[0];
    const db = new DatabaseSync(join(data, 'runs.sqlite'));
    try {
      db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new TextEncoder().encode('{"content":"Name a mountain!","role":"user"}'), shown.identity.components.input.elements[0].sha256);
    } finally {
      db.close();
    }
    const verified = await get(serve, `/v1/runs/${ids.tampered}/verify`);
    assert.equal(verified.status, 200);
    assert.equal(verified.body.ok, false);
    const identity = verified.body.checks.find((check: { name: string }) => check.name === 'identity');
    assert.deepEqual([identity.status, identity.code], ['fail', 'ERR_REPLAY_CONTENT_MISMATCH']);
    const diff = await get(serve, `/v1/runs/diff?a=${ids.tampered}&b=${ids.colour}`);
    assert.equal(diff.status, 500);
    assert.equal(diff.body.error.code, 'ERR_REPLAY_CONTENT_MISMATCH');
    // The groups answer no content, altered or not: values is no parameter of theirs.
    const groups = await get(serve, '/v1/runs/groups?by=element%3Dinput&values=1');
    assert.deepEqual([groups.status, groups.body.error.code], [400, 'ERR_HTTP_BAD_REQUEST']);
    const counted = await get(serve, '/v1/runs/groups?by=element%3Dinput');
    assert.equal(counted.status, 200);
    assert.ok(counted.body.groups.every((group: Record<string, unknown>) => !('value' in group)));
  });
});
