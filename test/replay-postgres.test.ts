/**
 * replay, replay --runs (resumed after kill -9), runs diff, runs group and runs verify on a run
 * store in PostgreSQL (`--runs-db`, as serve takes it), against the real PostgreSQL of
 * RUNPRINT_TEST_PG (default the local test database), in a fresh schema dropped afterwards. A
 * real `runprint serve --runs-db` captures from the fake upstream; the commands read what it wrote.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { codeTexts, runPasted } from './helpers/pasted-command.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-replay-postgres-0123456789';
const TOPICS = ['colour', 'river', 'planet', 'metal', 'bird', 'tree', 'city', 'ocean'];

let pgs: PgSchemas;
let admin: PgSchemas['admin'];
let schema: string;
let url: string;
let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
const scratch: string[] = [];
const originals: Record<string, string> = {};

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-replay-pg-'));
  scratch.push(dir);
  return dir;
}

const topicOf = (request: RecordedRequest) => TOPICS.find((topic) => request.body.toString('utf8').includes(`Name a ${topic}.`));

/** The planet run is served by another snapshot, the river run answers otherwise, the others as captured. */
function replayScenario(delayMs: number): (request: RecordedRequest) => Scenario {
  return (request) => {
    const topic = topicOf(request);
    const timing = delayMs > 0 ? { headersDelayMs: delayMs } : {};
    if (topic === 'planet') return { kind: 'text', text: 'Hello from the fake upstream.', servedModel: 'gpt-4o-2024-11-20', ...timing };
    if (topic === 'river') return { kind: 'text', text: 'The Danube.', ...timing };
    return { kind: 'text', text: 'Hello from the fake upstream.', ...timing };
  };
}

async function logged(captureId: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await fetch(`${serve.base}/v1/runs/${captureId}/tlog-proof`)).status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail('the run was not logged in time');
}

before(async () => {
  pgs = await pgSchemas();
  admin = pgs.admin;
  ({ schema, url } = await pgs.fresh());
  upstream = await startFakeUpstream();
  data = tempDir();
  // The log in PostgreSQL too, and the runs with it: serve puts the run store where the log goes.
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--log-db', url] });
  for (const topic of TOPICS) {
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `Name a ${topic}.` }], temperature: 0 }),
    });
    await response.arrayBuffer();
    originals[topic] = response.headers.get('runprint-capture-id')!;
  }
  await logged(originals['ocean']!);
  process.env['OPENAI_API_KEY'] = OPENAI_KEY;
});

after(async () => {
  await killServeProcesses();
  await upstream.close();
  await pgs.drop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const finishedOriginals = async (batch: string) => (await admin.query(`SELECT original FROM ${schema}.replay_batch_items WHERE batch = $1`, [batch])).rows.map((row: { original: string }) => row.original);

describe('on a PostgreSQL run store (--runs-db)', () => {
  test('the data directory holds no runs.sqlite and no log.sqlite: every command reads PostgreSQL', () => {
    assert.equal(existsSync(join(data, 'runs.sqlite')), false);
    assert.equal(existsSync(join(data, 'log.sqlite')), false);
  });

  test('replay RUN: the verdict, the replay stored in PostgreSQL and linked there', async () => {
    const replays = await startFakeUpstream({ fallback: replayScenario(0) });
    try {
      const replayOf = new Map<string, { recordDigest: string; captureId: string }>();
      for (const [topic, verdict, code] of [['colour', 'identical', 0], ['planet', 'same-request-other-server', 1], ['river', 'divergent', 1]] as const) {
        const result = await runCliInProcess(['replay', originals[topic]!, '--runs-db', url, '--upstream', `openai=${replays.url}`, '--json']);
        assert.equal(result.code, code, result.stderr);
        const answer = JSON.parse(result.stdout);
        assert.equal(answer.verdict, verdict, topic);
        const link = (await admin.query(`SELECT replay_of, verdict FROM ${schema}.replay_links WHERE replay = $1`, [answer.replay.recordDigest])).rows[0];
        assert.equal(link.replay_of, answer.original.recordDigest);
        assert.equal(link.verdict, verdict);
        const stored = (await admin.query(`SELECT capture FROM ${schema}.runs WHERE record_digest = $1`, [answer.replay.recordDigest])).rows[0];
        assert.equal(stored.capture, 'sdk', 'the replay is a run in the PostgreSQL store');
        replayOf.set(topic, answer.replay);
      }
      // Each side of a link names the other, in the CLI's runs show --json and in serve's GET /v1/runs/{id} on the same store.
      const river = replayOf.get('river')!;
      const shownReplay = JSON.parse((await runCliInProcess(['runs', 'show', river.captureId, '--runs-db', url, '--json'])).stdout).runs[0];
      assert.deepEqual([shownReplay.replayOf.captureId, shownReplay.replayOf.verdict, shownReplay.replays], [originals['river'], 'divergent', []]);
      const [servedOriginal] = (await (await fetch(`${serve.base}/v1/runs/${originals['river']}`)).json()).runs;
      assert.equal(servedOriginal.replayOf, null);
      assert.deepEqual(servedOriginal.replays.at(-1), { recordDigest: { sha256: river.recordDigest }, captureId: river.captureId, seq: shownReplay.seq, verdict: 'divergent' });
      // The same without --runs-db reads the data directory, which has no run store.
      const local = await runCliInProcess(['replay', originals['colour']!, '--data', data, '--upstream', `openai=${replays.url}`], {});
      assert.equal(local.code, 4, local.stderr);
      assert.match(local.stderr, /ERR_INPUT_NOT_FOUND/);
      // RUNPRINT_RUNS_DB is --runs-db's variable, as for serve; a URL that is not PostgreSQL is refused.
      process.env['RUNPRINT_RUNS_DB'] = url;
      try {
        const listed = await runCliInProcess(['runs', 'show', originals['colour']!, '--json']);
        assert.equal(listed.code, 0, listed.stderr);
        assert.equal(JSON.parse(listed.stdout).runs[0].captureId, originals['colour']);
      } finally {
        delete process.env['RUNPRINT_RUNS_DB'];
      }
      const bad = await runCliInProcess(['runs', 'list', '--runs-db', 'mysql://127.0.0.1/x']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /ERR_CLI_USAGE: --runs-db must be a postgres/);
    } finally {
      await replays.close();
    }
  });

  test('runs diff, runs group and runs verify read the PostgreSQL store; diff matches serve\'s GET /v1/runs/diff', async () => {
    const diff = await runCliInProcess(['runs', 'diff', originals['colour']!, originals['river']!, '--runs-db', url, '--values', '--json']);
    assert.equal(diff.code, 1, diff.stderr);
    const local = JSON.parse(diff.stdout);
    assert.equal(local.compared, 'content');
    const input = local.differences.find((difference: { component: string }) => difference.component === 'input');
    assert.deepEqual(input.values, { a: '"Name a colour."', b: '"Name a river."' });
    const http = await (await fetch(`${serve.base}/v1/runs/diff?a=${originals['colour']}&b=${originals['river']}&values=1`)).json();
    assert.deepEqual(http, local);

    const groups = await runCliInProcess(['runs', 'group', '--by', 'request', '--runs-db', url, '--json']);
    assert.equal(groups.code, 0, groups.stderr);
    const grouped = JSON.parse(groups.stdout);
    assert.ok(grouped.runs >= TOPICS.length);
    assert.ok(grouped.distinct >= TOPICS.length);
    const colour = grouped.groups.find((group: { captureIds: string[] }) => group.captureIds.includes(originals['colour']!));
    assert.ok(colour, 'the colour run is in a group');

    // The receipt key and the log key are in the data directory, the log in PostgreSQL (--log-db).
    const verified = await runCliInProcess(['runs', 'verify', originals['ocean']!, '--runs-db', url, '--log-db', url, '--data', data, '--json']);
    assert.equal(verified.code, 0, verified.stderr);
    const result = JSON.parse(verified.stdout);
    assert.deepEqual(Object.fromEntries(result.checks.map((check: { name: string; status: string }) => [check.name, check.status])), { record: 'pass', identity: 'pass', output: 'pass', receipt: 'pass', log: 'pass', monitor: 'not-checked' });
    assert.match(result.checks.find((check: { name: string }) => check.name === 'log').reliesOn, /stored log index/);
    assert.equal(result.checks.find((check: { name: string }) => check.name === 'record').reliesOn, 'the run record as stored in the run store; its digest is the name the store gives it');
    // --log-db alone names the run store too, as RUNPRINT_LOG_DB does (serve puts the runs where the log goes).
    const byLogDb = await runCliInProcess(['runs', 'verify', originals['ocean']!, '--log-db', url, '--data', data, '--json']);
    assert.equal(byLogDb.code, 0, byLogDb.stderr);
    assert.deepEqual(JSON.parse(byLogDb.stdout).checks.map((check: { status: string }) => check.status), result.checks.map((check: { status: string }) => check.status));
    const badLogDb = await runCliInProcess(['runs', 'verify', originals['ocean']!, '--log-db', 'mysql://127.0.0.1/x', '--data', data]);
    assert.equal(badLogDb.code, 2);
    assert.match(badLogDb.stderr, /ERR_CLI_USAGE: --log-db must be a postgres/, 'the option given is named');
    // Without --log-db the log is looked for in the data directory, where it is not: not checked, said so.
    const noLog = JSON.parse((await runCliInProcess(['runs', 'verify', originals['ocean']!, '--runs-db', url, '--data', data, '--json'])).stdout);
    const log = noLog.checks.find((check: { name: string }) => check.name === 'log');
    assert.equal(log.status, 'not-checked');
    assert.match(log.message, /give --log-db/);
    const unknown = await runCliInProcess(['runs', 'verify', `rp-run-v1-sha256-${'0'.repeat(64)}`, '--runs-db', url, '--data', data]);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /ERR_RUN_NOT_FOUND/);
  });

  test('replay --runs: a batch killed with SIGKILL goes on where it stopped, marks kept in PostgreSQL', async () => {
    const slow = await startFakeUpstream({ fallback: replayScenario(150) });
    try {
      const json = join(tempDir(), 'batch.json');
      // The runs captured by serve, not the replays made above.
      const query = 'model=gpt-4o';
      const args = [RUNPRINT_BIN, 'replay', '--runs', query, '--runs-db', url, '--upstream', `openai=${slow.url}`, '--concurrency', '2', '--json', json];
      const child = spawn(process.execPath, args, { env: { ...process.env, OPENAI_API_KEY: OPENAI_KEY }, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let batch: string | undefined;
      for (let i = 0; i < 400; i++) {
        if (existsSync(`${json}.state`)) {
          batch ??= (JSON.parse(readFileSync(`${json}.state`, 'utf8')) as { batch: string }).batch;
          if ((await finishedOriginals(batch)).length >= 3) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill('SIGKILL');
      await exited;
      assert.ok(batch !== undefined, 'the batch wrote its state');
      const finished = await finishedOriginals(batch);
      assert.ok(finished.length >= 3 && finished.length < TOPICS.length, `killed in the middle (${finished.length} finished)`);
      assert.equal(existsSync(json), false, 'no report yet');

      const resumed = await runCliInProcess(['replay', '--runs', query, '--runs-db', url, '--upstream', `openai=${slow.url}`, '--concurrency', '2', '--json', json]);
      assert.equal(resumed.code, 1, resumed.stderr);
      const report = JSON.parse(readFileSync(json, 'utf8'));
      assert.equal(report.batch, batch);
      assert.equal(report.total, TOPICS.length, 'the captured runs, not the replays of the test above');
      assert.equal(report.resumed, finished.length);
      assert.deepEqual(report.counts, { identical: 6, 'same-request-other-server': 1, divergent: 1, variant: 0, 'cannot-replay': 0 });
      // Each original finished before the kill was sent exactly once, over both processes.
      const finishedTopics = report.runs.filter((row: { recordDigest: string }) => finished.includes(row.recordDigest)).map((row: { original: string }) => TOPICS.find((topic) => originals[topic] === row.original)!);
      const sent = new Map<string, number>();
      for (const request of slow.requests) sent.set(topicOf(request)!, (sent.get(topicOf(request)!) ?? 0) + 1);
      for (const topic of finishedTopics) assert.equal(sent.get(topic), 1, `${topic} was replayed again`);
      for (const topic of TOPICS) assert.ok((sent.get(topic) ?? 0) >= 1, `${topic} replayed`);
      assert.ok(slow.requests.length <= TOPICS.length + 2, `${slow.requests.length} requests`);
      assert.equal((await finishedOriginals(batch)).length, TOPICS.length);
    } finally {
      await slow.close();
    }
  });

  test('replay --runs --report: its runs diff commands name the PostgreSQL store, and work pasted as they are; a URL\'s password is never written', async () => {
    const replays = await startFakeUpstream({ fallback: replayScenario(0) });
    const withPassword = new URL(url);
    withPassword.password = 'hunter2secret';
    try {
      for (const [given, secret] of [[url, false], [withPassword.toString(), true]] as const) {
        const dir = tempDir();
        const result = await runCliInProcess(['replay', '--runs', 'model=gpt-4o&limit=1', '--runs-db', given, '--upstream', `openai=${replays.url}`, '--json', join(dir, 'batch.json'), '--report', join(dir, 'batch.html')]);
        assert.equal(result.code, 0, result.stderr);
        const html = readFileSync(join(dir, 'batch.html'), 'utf8');
        const [command, ...others] = codeTexts(html, 'runprint runs diff ');
        assert.equal(others.length, 0);
        if (secret) {
          assert.doesNotMatch(html, /hunter2secret/);
          assert.ok(command!.endsWith(' --runs-db "$RUNPRINT_RUNS_DB"'), command);
          assert.match(html, /<p id="store-note">The runs are in the PostgreSQL run store postgres:\/\/127\.0\.0\.1:5432\/test, whose URL holds a password this page does not show: set RUNPRINT_RUNS_DB to that URL to run the commands below\.<\/p>/);
        } else assert.ok(command!.endsWith(` --runs-db '${url}'`), command);
        // Pasted as it is (with the variable the page names set, for the URL it does not show).
        const pasted = await runPasted(command!, secret ? { RUNPRINT_RUNS_DB: given } : {});
        assert.equal(pasted.code, 0, pasted.stderr);
        assert.match(pasted.stdout, /^same run rp-run-v1-sha256-[0-9a-f]{64}\n/);
      }
    } finally {
      await replays.close();
    }
  });
});
