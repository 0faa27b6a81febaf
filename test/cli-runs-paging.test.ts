/**
 * `runprint runs list` pages: when more runs match than it shows, a line on stderr says so with
 * the `--before SEQ` of the next page, and `--before` (as `GET /v1/runs?before=`) lists it; the
 * pages together are every run, newest first, each once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCliInProcess } from './helpers/run-cli.ts';
import { storeRuns } from './helpers/stored-runs.ts';

let data: string;
/** Capture ids, newest first. */
let newestFirst: string[];

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'runprint-runs-paging-'));
  newestFirst = (await storeRuns(data, 250)).reverse();
});
after(() => rmSync(data, { recursive: true, force: true }));

const list = (...args: string[]) => runCliInProcess(['runs', 'list', '--data', data, ...args]);
const captureIds = (stdout: string) => stdout.split('\n').filter((line) => line !== '').map((line) => line.split('  ')[1]!);
const seqs = (stdout: string) => (JSON.parse(stdout) as { runs: { seq: number; captureId: string }[] }).runs;

test('the default 100 of 250 runs: stderr names the --before of the next page; the pages hold every run once', async () => {
  const first = await list();
  assert.equal(first.code, 0);
  assert.deepEqual(captureIds(first.stdout), newestFirst.slice(0, 100));
  const [, next] = /--before (\d+) /.exec(first.stderr) ?? [];
  assert.equal(first.stderr, `runprint: more runs match than the 100 shown: add --before ${next} for the next 100, or --limit up to 1000 for more at once\n`);
  // The seq named is the last run shown.
  const json = await list('--json');
  assert.equal(seqs(json.stdout).at(-1)!.seq, Number(next));
  assert.equal(json.stderr, first.stderr, 'the same line with --json; the JSON itself is the runs only');
  const second = await list('--before', next!);
  assert.deepEqual(captureIds(second.stdout), newestFirst.slice(100, 200));
  const [, third] = /--before (\d+) /.exec(second.stderr) ?? [];
  const last = await list('--before', third!);
  assert.deepEqual([last.code, last.stderr], [0, ''], 'the last page: nothing more matches');
  assert.deepEqual(captureIds(last.stdout), newestFirst.slice(200));
});

test('--limit that shows every run: no line; one fewer: the line names the last run shown', async () => {
  const all = await list('--limit', '250');
  assert.deepEqual([all.stderr, captureIds(all.stdout)], ['', newestFirst]);
  const most = await list('--limit', '249', '--json');
  const shown = seqs(most.stdout);
  assert.equal(shown.length, 249);
  assert.equal(most.stderr, `runprint: more runs match than the 249 shown: add --before ${shown.at(-1)!.seq} for the next 249, or --limit up to 1000 for more at once\n`);
  const after = await list('--limit', '249', '--before', String(shown.at(-1)!.seq));
  assert.deepEqual([after.stderr, captureIds(after.stdout)], ['', newestFirst.slice(249)]);
});

test('--before with filters and a bad --before', async () => {
  const none = await list('--status', 'failed', '--before', '200');
  assert.deepEqual(none, { code: 0, stdout: '', stderr: 'runprint: no captured runs match\n' });
  for (const bad of [['--before', '0'], ['--before', '-3'], ['--before=x']]) {
    assert.deepEqual(await list(...bad), { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: before must be a positive number (a run\'s seq)\n' }, bad.join(' '));
  }
});
