/**
 * `runprint … | head`: when the reader of standard output goes away, runprint stops quietly with
 * exit 0, with no stack trace (README, "Exit codes"); standard error closed does not change what a
 * command does or its exit code; standard output that cannot be written (a full disk) is one
 * line and exit 4. Real processes of bin/runprint.js with real pipes.
 */
import assert from 'node:assert/strict';
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { storeRuns } from './helpers/stored-runs.ts';

const BIN = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));
let data: string;

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'runprint-output-closed-'));
  // 600 runs: `runs list --limit 1000` prints about 100 KB, more than a pipe holds (64 KiB).
  await storeRuns(data, 600);
});
after(() => rmSync(data, { recursive: true, force: true }));

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `runprint ARGS`; `close` says which of its pipes the test closes, and when: `now` before
 * the process can write anything, `after-first` once the first bytes have been read (as `head -c`).
 */
function runprint(args: string[], close: { stdout?: 'now' | 'after-first'; stderr?: 'now' } = {}, stdio?: StdioOptions): Promise<Ended> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: stdio ?? ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  if (close.stdout === 'now') child.stdout!.destroy();
  else if (close.stdout === 'after-first') {
    child.stdout!.once('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      child.stdout!.destroy();
    });
  } else child.stdout?.on('data', (chunk: Buffer) => void (stdout += chunk.toString('utf8')));
  if (close.stderr === 'now') child.stderr!.destroy();
  else child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('stdout closed after the first lines (runs list | head): exit 0, nothing on stderr', async () => {
  for (const args of [['runs', 'list', '--data', data, '--limit', '1000'], ['runs', 'list', '--data', data, '--limit', '1000', '--json']]) {
    const ended = await runprint(args, { stdout: 'after-first' });
    assert.deepEqual([ended.code, ended.signal, ended.stderr], [0, null, ''], args.join(' '));
    assert.ok(ended.stdout.length > 0, 'the first bytes were written');
  }
});

test('stdout closed before anything is written: every kind of command stops quietly, exit 0', async () => {
  // --limit 1000: every run, so runs list has nothing to say on stderr (more runs matching) either.
  for (const args of [['help'], ['--version'], ['runs', 'list', '--data', data, '--limit', '1000'], ['runs', 'show', '--help']]) {
    const ended = await runprint(args, { stdout: 'now' });
    assert.deepEqual([ended.code, ended.signal, ended.stderr], [0, null, ''], args.join(' '));
  }
});

test('stderr closed: the command runs and exits as it would (no crash on the failed write)', async () => {
  const missing = await runprint(['runs', 'list', '--data', join(data, 'no-such-dir')], { stderr: 'now' });
  assert.deepEqual([missing.code, missing.stdout], [4, ''], 'ERR_INPUT_NOT_FOUND exits 4 with stderr gone');
  const usage = await runprint(['runs', 'list', '--bogus'], { stderr: 'now' });
  assert.equal(usage.code, 2);
  const listed = await runprint(['runs', 'list', '--data', data, '--limit', '3'], { stderr: 'now' });
  assert.equal(listed.code, 0);
  assert.equal(listed.stdout.split('\n').length, 4, 'three lines printed');
});

test('stdout that cannot be written (a full device): one line on stderr, exit 4', async () => {
  const full = openSync('/dev/full', 'w');
  try {
    const ended = await runprint(['runs', 'list', '--data', data, '--limit', '1000'], {}, ['ignore', full, 'pipe']);
    assert.equal(ended.code, 4);
    assert.equal(ended.stderr, 'runprint: ERR_FILE_UNWRITABLE: standard output cannot be written (ENOSPC)\n');
  } finally {
    closeSync(full);
  }
});
