/**
 * `runprint replay --runs` against runs a real `runprint serve` captured from the fake upstream:
 * the report's verdict counts, rows and served-model changes come from what the upstream really
 * answered; a batch killed with SIGKILL in the middle and run again goes on where it stopped and
 * never sends a finished replay again; earlier replays are not selected again; the rate limit
 * holds; a state file of another batch or not runprint's is refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { runCliInProcess } from './helpers/run-cli.ts';
import { replayBatch } from '../src/replay/replay-batch.ts';
import { codeTexts, runPasted } from './helpers/pasted-command.ts';
import { startFakeUpstream, startFakeUpstreamOnABadPort, type FakeUpstream, type RecordedRequest, type Scenario } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe, type ServeProcess } from './helpers/serve-process.ts';

const OPENAI_KEY = 'sk-test-replay-batch-0123456789';
const TOPICS = ['colour', 'river', 'planet', 'metal', 'bird', 'tree', 'city', 'ocean', 'fruit', 'shape', 'stone', 'star'];

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-replay-batch-'));
  scratch.push(dir);
  return dir;
}

const cli = (argv: string[], tty = false) => runCliInProcess(argv, { tty });

/** The topic a request asks about (each original asks about one). */
function topicOf(request: RecordedRequest): string | undefined {
  const body = request.body.toString('utf8');
  return TOPICS.find((topic) => body.includes(`Name a ${topic}.`));
}

/** The replay upstream: the planet run is served by another snapshot, the river run answers otherwise. */
function replayScenario(delayMs: number): (request: RecordedRequest) => Scenario {
  return (request) => {
    const topic = topicOf(request);
    const timing = delayMs > 0 ? { headersDelayMs: delayMs } : {};
    if (topic === 'planet') return { kind: 'text', text: 'Hello from the fake upstream.', servedModel: 'gpt-4o-2024-11-20', ...timing };
    if (topic === 'river') return { kind: 'text', text: 'The Danube.', ...timing };
    return { kind: 'text', text: 'Hello from the fake upstream.', ...timing };
  };
}

interface Report {
  batch: string;
  query: string;
  total: number;
  resumed: number;
  counts: Record<string, number>;
  errors: number;
  codes: Record<string, number>;
  servedChanges: Array<{ fact: string; a: unknown; b: unknown; count: number; originals: string[] }>;
  runs: Array<{ original: string; recordDigest: string; replay: string | null; verdict: string | null; code?: string; served?: unknown[]; outputEqual?: boolean | null; firstDifference?: string }>;
}

const originals: Record<string, string> = {};

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  for (const topic of TOPICS) {
    const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPENAI_KEY}` },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `Name a ${topic}.` }], temperature: 0 }),
    });
    await response.arrayBuffer();
    originals[topic] = response.headers.get('runprint-capture-id')!;
  }
  process.env['OPENAI_API_KEY'] = OPENAI_KEY;
});
after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Batch items of a batch, straight from the run store. */
function finishedOriginals(batch: string): string[] {
  const db = new DatabaseSync(join(data, 'runs.sqlite'), { readOnly: true });
  try {
    return (db.prepare('SELECT original FROM replay_batch_items WHERE batch = ?').all(batch) as Array<{ original: string }>).map((row) => row.original);
  } finally {
    db.close();
  }
}

describe('replay --runs', () => {
  test('a whole batch: verdict counts, one row per run, the served-model change, a progress line on a terminal', async () => {
    const replays = await startFakeUpstream({ fallback: replayScenario(0) });
    try {
      const out = tempDir();
      const json = join(out, 'replays.json');
      const result = await cli(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${replays.url}`, '--concurrency', '3', '--json', json], true);
      assert.equal(result.code, 1, 'not every run is identical');
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
      assert.equal(report.total, TOPICS.length);
      assert.equal(report.resumed, 0);
      assert.deepEqual(report.counts, { identical: 10, 'same-request-other-server': 1, divergent: 1, variant: 0, 'cannot-replay': 0 });
      assert.equal(report.runs.length, TOPICS.length);
      assert.deepEqual(new Set(report.runs.map((row) => row.original)), new Set(Object.values(originals)));
      assert.ok(report.runs.every((row) => row.replay !== null));
      const planet = report.runs.find((row) => row.original === originals['planet'])!;
      assert.equal(planet.verdict, 'same-request-other-server');
      assert.deepEqual(report.servedChanges, [{ fact: 'model', a: 'gpt-4o-2024-08-06', b: 'gpt-4o-2024-11-20', count: 1, originals: [originals['planet']] }]);
      const river = report.runs.find((row) => row.original === originals['river'])!;
      assert.equal(river.verdict, 'divergent');
      assert.equal(river.firstDifference, "$['choices'][0]['message']['content']");
      assert.equal(replays.requests.length, TOPICS.length, 'each run replayed once');
      assert.equal(existsSync(`${json}.state`), false, 'the state file goes once the report is written');
      assert.match(result.stderr, /\r\[#{24}\] 12\/12 {2}identical 10/);
      assert.ok(result.stdout.startsWith(`12 runs replayed; report in ${json}\n`), result.stdout);

      // The same command again: the report is a finished batch's, and is not replaced.
      const again = await cli(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${replays.url}`, '--json', json]);
      assert.equal(again.code, 4);
      assert.match(again.stderr, /^runprint: ERR_FILE_EXISTS: /);
      // A new batch selects the captured runs, not the replays the first one stored.
      const second = join(out, 'second.json');
      const rerun = await cli(['replay', '--runs', 'limit=100', '--data', data, '--upstream', `openai=${replays.url}`, '--json', second]);
      assert.equal(rerun.code, 1, rerun.stderr);
      const secondReport = JSON.parse(readFileSync(second, 'utf8')) as Report;
      assert.equal(secondReport.total, TOPICS.length);
      assert.deepEqual(new Set(secondReport.runs.map((row) => row.original)), new Set(Object.values(originals)));
    } finally {
      await replays.close();
    }
  });

  test('kill -9 in the middle, then the same command: it goes on, and no finished replay is sent again', async () => {
    const slow = await startFakeUpstream({ fallback: replayScenario(150) });
    try {
      const json = join(tempDir(), 'killed.json');
      const args = [RUNPRINT_BIN, 'replay', '--runs', 'all', '--data', data, '--upstream', `openai=${slow.url}`, '--concurrency', '2', '--json', json];
      const child = spawn(process.execPath, args, { env: { ...process.env, OPENAI_API_KEY: OPENAI_KEY }, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Wait until the batch has finished a few replays, then kill it without warning.
      let batch: string | undefined;
      for (let i = 0; i < 400; i++) {
        if (existsSync(`${json}.state`)) {
          batch ??= (JSON.parse(readFileSync(`${json}.state`, 'utf8')) as { batch: string }).batch;
          if (finishedOriginals(batch).length >= 4) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill('SIGKILL');
      await exited;
      assert.ok(batch !== undefined, 'the batch wrote its state');
      const finished = finishedOriginals(batch);
      assert.ok(finished.length >= 4 && finished.length < TOPICS.length, `killed in the middle (${finished.length} finished)`);
      assert.equal(existsSync(json), false, 'no report yet');
      const sentBefore = slow.requests.length;

      // Another query on the same report is another batch: refused, nothing sent.
      const other = await cli(['replay', '--runs', 'limit=3', '--data', data, '--upstream', `openai=${slow.url}`, '--json', json]);
      assert.equal(other.code, 3);
      assert.match(other.stderr, /^runprint: ERR_REPLAY_BATCH_MISMATCH: /);
      assert.equal(slow.requests.length, sentBefore);

      const resumed = await cli(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${slow.url}`, '--concurrency', '2', '--json', json]);
      assert.equal(resumed.code, 1, resumed.stderr);
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
      assert.equal(report.batch, batch);
      assert.equal(report.total, TOPICS.length);
      assert.equal(report.resumed, finished.length);
      assert.equal(report.runs.length, TOPICS.length);
      assert.deepEqual(report.counts, { identical: 10, 'same-request-other-server': 1, divergent: 1, variant: 0, 'cannot-replay': 0 });
      // Each original finished before the kill was sent exactly once, over both processes.
      const finishedTopics = new Set(report.runs.filter((row) => finished.includes(row.recordDigest)).map((row) => TOPICS.find((topic) => originals[topic] === row.original)!));
      assert.equal(finishedTopics.size, finished.length);
      const sent = new Map<string, number>();
      for (const request of slow.requests) sent.set(topicOf(request)!, (sent.get(topicOf(request)!) ?? 0) + 1);
      for (const topic of finishedTopics) assert.equal(sent.get(topic), 1, `${topic} was replayed again`);
      for (const topic of TOPICS) assert.ok((sent.get(topic) ?? 0) >= 1, `${topic} replayed`);
      // At most the replays in flight at the kill (the concurrency) were sent twice.
      assert.ok(slow.requests.length <= TOPICS.length + 2, `${slow.requests.length} requests`);
      assert.equal(finishedOriginals(batch).length, TOPICS.length);
    } finally {
      await slow.close();
    }
  });

  test('--rate spaces the replays out; --model makes every replay a variant', async () => {
    const replays = await startFakeUpstream();
    try {
      const json = join(tempDir(), 'rate.json');
      const started = performance.now();
      const result = await cli(['replay', '--runs', 'limit=5', '--data', data, '--upstream', `openai=${replays.url}`, '--concurrency', '4', '--rate', '10', '--model', 'gpt-4.1', '--json', json]);
      const elapsed = performance.now() - started;
      assert.equal(result.code, 1);
      assert.ok(elapsed >= 380, `5 starts at 10 per second take at least 400 ms (${Math.round(elapsed)} ms)`);
      const starts = replays.requests.length;
      assert.equal(starts, 5);
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
      assert.equal(report.counts['variant'], 5);
    } finally {
      await replays.close();
    }
  });

  test('--rate at its slowest: the starts a worker waits for past one timer\'s reach (2^31 - 1 ms) still wait, none goes at once', async () => {
    const replays = await startFakeUpstream();
    const json = join(tempDir(), 'slowest.json');
    // 0.000001 per second: one start every 1e9 ms; five workers wait 0, 1e9, 2e9, 3e9 and 4e9 ms.
    const args = [RUNPRINT_BIN, 'replay', '--runs', 'limit=5', '--data', data, '--upstream', `openai=${replays.url}`, '--concurrency', '5', '--rate', '0.000001', '--json', json];
    const child = spawn(process.execPath, args, { env: { ...process.env, OPENAI_API_KEY: OPENAI_KEY }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      for (let i = 0; i < 500 && replays.requests.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(replays.requests.length, 1, 'the first replay starts at once');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(replays.requests.length, 1, 'the others wait (a timer of more than 2^31 - 1 ms would fire after 1 ms)');
      assert.doesNotMatch(stderr, /TimeoutOverflowWarning/);
      assert.equal(child.exitCode, null, 'still waiting');
    } finally {
      child.kill('SIGKILL');
      await exited;
      await replays.close();
    }
  });

  test('replayBatch refuses a rate that is not a finite number above 0, as the library\'s other misuses (TypeError with Node\'s code)', async () => {
    const options = { storage: {} as never, links: {} as never, statePath: join(tempDir(), 'never.state'), query: {}, queryText: 'all', replay: { upstreams: {} }, concurrency: 1 };
    for (const [rate, code] of [[0, 'ERR_INVALID_ARG_VALUE'], [-1, 'ERR_INVALID_ARG_VALUE'], [Number.NaN, 'ERR_INVALID_ARG_VALUE'], [Infinity, 'ERR_INVALID_ARG_VALUE'], [1e-320, 'ERR_INVALID_ARG_VALUE'], ['10', 'ERR_INVALID_ARG_TYPE']] as const) {
      await assert.rejects(replayBatch({ ...options, rate: rate as number }), (error: Error & { code?: string }) => error instanceof TypeError && error.code === code && /^replayBatch rate must be /.test(error.message), String(rate));
    }
    assert.equal(existsSync(options.statePath), false);
  });

  test('--report: a static HTML page that opens in Chromium with no error and no request, with the counts and the served-model change', { timeout: 120_000 }, async () => {
    const replays = await startFakeUpstream({ fallback: replayScenario(0) });
    const dir = tempDir();
    const json = join(dir, 'report.json');
    const html = join(dir, 'report.html');
    try {
      const result = await cli(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${replays.url}`, '--json', json, '--report', html]);
      assert.equal(result.code, 1, result.stderr);
      assert.ok(result.stdout.split('\n')[0]!.endsWith(` runs replayed; report in ${json} and ${html}`), result.stdout);
    } finally {
      await replays.close();
    }
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    const browser = await chromium.launch({
      executablePath: process.env['RUNPRINT_CHROMIUM'] ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
      page.on('request', (request) => {
        if (request.url() !== pathToFileURL(html).href) problems.push(`request: ${request.url()}`);
      });
      await page.goto(pathToFileURL(html).href);
      const counts = await page.$$eval('#verdicts tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent)));
      assert.deepEqual(counts, [['identical', '10'], ['same-request-other-server', '1'], ['divergent', '1'], ['variant', '0'], ['cannot-replay', '0']]);
      const changes = await page.$$eval('#served-changes tbody td', (cells) => cells.map((cell) => cell.textContent));
      assert.deepEqual(changes, ['model', 'gpt-4o-2024-08-06', 'gpt-4o-2024-11-20', '1']);
      assert.equal(await page.$$eval('#runs tbody tr', (rows) => rows.length), TOPICS.length);
      const planet = report.runs.find((row) => row.original === originals['planet'])!;
      // Each command names the batch's data directory, whatever folder it is pasted in.
      const command = `runprint runs diff ${planet.original} ${planet.replay} --data ${data}`;
      assert.ok((await page.textContent('#runs'))!.includes(command));
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
    const commands = codeTexts(readFileSync(html, 'utf8'), 'runprint runs diff ');
    assert.equal(commands.length, TOPICS.length);
    const planet = report.runs.find((row) => row.original === originals['planet'])!;
    const pasted = await runPasted(commands.find((command) => command.includes(planet.original))!);
    assert.equal(pasted.code, 1, pasted.stderr);
    assert.match(pasted.stdout, new RegExp(`^differ \\(same request identity\\)\\n {2}a ${planet.original} `));
  });

  test('bad input: a state file that is not runprint\'s, options that need --runs, a bad query, no --json', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json.state'), 'not a state');
    let out = await cli(['replay', '--runs', 'all', '--data', data, '--json', join(dir, 'bad.json')]);
    assert.equal(out.code, 3);
    assert.match(out.stderr, /^runprint: ERR_REPLAY_BATCH_STATE_INVALID: /);
    for (const args of [
      ['replay', originals['colour']!, '--concurrency', '2'],
      ['replay', originals['colour']!, '--report', join(dir, 'x.html')],
      ['replay', '--runs', 'all', '--json', join(dir, 'x.json'), '--report', join(dir, 'x.json')],
      ['replay', '--runs', 'colour=red', '--json', join(dir, 'x.json')],
      ['replay', '--runs', 'provider=anthropic&provider=openai', '--json', join(dir, 'x.json')],
      ['replay', '--runs', 'all'],
      ['replay', '--runs', 'all', '--json', join(dir, 'x.json'), '--concurrency', '0'],
      ['replay', '--runs', 'all', '--json', join(dir, 'x.json'), '--rate', 'fast'],
      ['replay', '--runs', 'all', '--json', join(dir, 'x.json'), '--rate', '0.0000001'],
      ['replay', '--runs', 'all', '--json', join(dir, 'x.json'), '--rate', '100001'],
      ['replay', '--runs', 'all', originals['colour']!, '--json', join(dir, 'x.json')],
    ]) {
      out = await cli([...args, '--data', data]);
      assert.equal(out.code, 2, args.join(' '));
      assert.match(out.stderr, /^runprint: ERR_CLI_USAGE: /, args.join(' '));
    }
    // A report that names a folder is said to be one, before anything is sent.
    mkdirSync(join(dir, 'adir'));
    for (const args of [['--json', 'adir'], ['--json', 'x.json', '--report', 'adir']]) {
      out = await runCliInProcess(['replay', '--runs', 'all', '--data', data, ...args], { cwd: dir });
      assert.deepEqual([out.code, out.stderr], [4, 'runprint: ERR_FILE_UNWRITABLE: cannot write file (it is a directory, not a file): adir\n'], args.join(' '));
    }
    assert.equal(existsSync(join(dir, 'x.json.state')), false);
    // --rate's range is named: a rate below one replay per 1,000,000 s is taken for a mistake.
    out = await cli(['replay', '--runs', 'all', '--json', join(dir, 'x.json'), '--data', data, '--rate', '0.0000001']);
    assert.equal(out.stderr, 'runprint: ERR_CLI_USAGE: --rate must be a number from 0.000001 to 100000\n');
    out = await cli(['replay', '--runs', 'all', '--json', join(dir, 'x.json'), '--data', data, '--concurrency', '65']);
    assert.equal(out.stderr, 'runprint: ERR_CLI_USAGE: --concurrency must be a whole number from 1 to 64\n');
    // The runs list's filters are a batch's too, checked as GET /v1/runs checks them.
    out = await cli(['replay', '--runs', 'status=lost', '--json', join(dir, 'x.json'), '--data', data]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /^runprint: ERR_CLI_USAGE: status must be one of complete, incomplete, failed, unidentified/);
  });

  test('an upstream on a port of the Fetch standard\'s block list (6000, 10080...) is replayed against, as serve reaches it', async () => {
    const replays = await startFakeUpstreamOnABadPort();
    try {
      const json = join(tempDir(), 'bad-port.json');
      const result = await cli(['replay', '--runs', 'limit=2', '--data', data, '--upstream', `openai=${replays.url}`, '--model', 'gpt-4.1', '--json', json]);
      const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
      assert.deepEqual([report.counts['variant'], report.errors, replays.requests.length], [2, 0, 2], JSON.stringify(report));
      assert.equal(result.code, 1, 'variants are not identical');
    } finally {
      await replays.close();
    }
  });
  test('a report file that cannot be written: ERR_FILE_UNWRITABLE (exit 4) naming it and why, before any replay is sent', async () => {
    const replays = await startFakeUpstream({ fallback: replayScenario(0) });
    try {
      const dir = tempDir();
      writeFileSync(join(dir, 'somefile'), 'a file');
      for (const [args, name, why] of [
        [['--json', 'out.json', '--report', 'somefile/out.html'], 'somefile/out.html', 'a part of the path is not a folder'],
        [['--json', 'out.json', '--report', '/dev/null/x'], '/dev/null/x', 'a part of the path is not a folder'],
        [['--json', 'somefile/out'], 'somefile/out', 'a part of the path is not a folder'],
        [['--json', 'nofolder/out.json'], 'nofolder/out.json', 'no such folder'],
        [['--json', 'out.json', '--report', 'nofolder/out.html'], 'nofolder/out.html', 'no such folder'],
      ] as const) {
        const out = await runCliInProcess(['replay', '--runs', 'all', '--data', data, '--upstream', `openai=${replays.url}`, ...args], { cwd: dir });
        assert.deepEqual([out.code, out.stdout, out.stderr], [4, '', `runprint: ERR_FILE_UNWRITABLE: cannot write file (${why}): ${name}\n`], args.join(' '));
      }
      assert.equal(replays.requests.length, 0, 'no replay was sent');
      assert.equal(existsSync(join(dir, 'out.json.state')), false, 'no batch was started');
    } finally {
      await replays.close();
    }
  });

  test('a report folder that becomes a file while the batch runs: ERR_FILE_UNWRITABLE (exit 4), not ERR_INTERNAL from removing the temporary file', async () => {
    const out = tempDir();
    const folder = join(out, 'reports');
    mkdirSync(folder);
    let replaced = false;
    const replays = await startFakeUpstream({
      fallback: (request) => {
        if (!replaced) {
          replaced = true;
          rmSync(folder, { recursive: true, force: true });
          writeFileSync(folder, 'now a file');
        }
        return replayScenario(0)(request);
      },
    });
    try {
      const result = await runCliInProcess(['replay', '--runs', 'limit=1', '--data', data, '--upstream', `openai=${replays.url}`, '--json', 'reports/r.json'], { cwd: out });
      assert.deepEqual([result.code, result.stdout, result.stderr], [4, '', 'runprint: ERR_FILE_UNWRITABLE: cannot write file (a part of the path is not a folder): reports/r.json\n']);
      assert.equal(replays.requests.length, 1);
    } finally {
      await replays.close();
    }
  });

  test('a batch state file that cannot be read is said with its path and why', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'x.json.state'));
    const out = await runCliInProcess(['replay', '--runs', 'all', '--data', data, '--json', 'x.json'], { cwd: dir });
    assert.deepEqual([out.code, out.stdout, out.stderr], [4, '', `runprint: ERR_INPUT_UNREADABLE: the batch state file cannot be read (it is a directory, not a file): ${join(dir, 'x.json.state')}\n`]);
  });

  test('the summary counts each run once under its verdict, with the codes of cannot-replay indented under it, aligned', async () => {
    const dir = tempDir();
    // Nothing listens on port 1: every replay is cannot-replay ERR_CAPTURE_UPSTREAM_UNREACHABLE.
    const out = await runCliInProcess(['replay', '--runs', 'limit=2', '--data', data, '--upstream', 'openai=http://127.0.0.1:1', '--json', 'unreachable.json'], { cwd: dir });
    assert.equal(out.code, 1, out.stderr);
    assert.equal(out.stdout, [
      '2 runs replayed; report in unreachable.json',
      '  cannot-replay                      2',
      '    ERR_CAPTURE_UPSTREAM_UNREACHABLE 2',
      '',
    ].join('\n'));
  });

  test('Ctrl-C in the middle says the batch was interrupted and that the same command goes on; the process ends by the signal', async () => {
    const slow = await startFakeUpstream({ fallback: replayScenario(150) });
    try {
      const json = join(tempDir(), 'interrupted.json');
      const args = [RUNPRINT_BIN, 'replay', '--runs', 'all', '--data', data, '--upstream', `openai=${slow.url}`, '--json', json];
      const child = spawn(process.execPath, args, { env: { ...process.env, OPENAI_API_KEY: OPENAI_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
      const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
      for (let i = 0; i < 400 && !(existsSync(`${json}.state`) && slow.requests.length >= 2); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      child.kill('SIGINT');
      assert.deepEqual(await exited, [null, 'SIGINT']);
      assert.equal(stdout, '');
      assert.equal(stderr, `runprint: replay --runs interrupted; the replays finished are kept: run the same command again to go on where it stopped (state in ${json}.state)\n`);
      assert.equal(existsSync(`${json}.state`), true, 'the state stays for the same command');
      assert.equal(existsSync(json), false, 'no report yet');
    } finally {
      await slow.close();
    }
  });
});
