/**
 * serve's `--upstream NAME=URL` (and RUNPRINT_UPSTREAMS, and replay's `--upstream`) as a new user
 * gives them: one NAME given twice is refused naming it (ERR_CLI_USAGE, exit 2, before anything is
 * made), not the last URL taken silently.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { captureOptions } from '../src/cli/serve-capture.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { RUNPRINT_BIN } from './helpers/serve-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'runprint-upstream-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `runprint serve ARGS` as a process, stopped after 20 s if it starts (what a refusal must not let it do). */
function serveRefusal(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stderr: result.stderr };
}

const io = { cwd: dir, stdout: () => undefined, stderr: () => undefined, readStdin: async () => new Uint8Array(0), stderrIsTTY: false };

test('one upstream NAME given twice is refused naming it, from --upstream, from RUNPRINT_UPSTREAMS, and by replay', { timeout: 60_000 }, async () => {
  const data = join(dir, 'twice');
  const serve = serveRefusal(['--data', data, '--upstream', 'openai=http://127.0.0.1:9911', '--upstream', 'openai=http://127.0.0.1:9912']);
  assert.deepEqual(serve, { status: 2, stderr: 'runprint: ERR_CLI_USAGE: --upstream names the openai upstream more than once: give each NAME one URL\n' });
  assert.equal(existsSync(data), false, 'refused before the data directory is made');
  // Two different NAMEs are two upstreams, as before.
  assert.deepEqual(captureOptions({ upstream: ['openai=http://127.0.0.1:9911', 'anthropic=http://127.0.0.1:9912/'] }, {}, '127.0.0.1', io)!.upstreams, { openai: 'http://127.0.0.1:9911', anthropic: 'http://127.0.0.1:9912' });
  // From the variable, named as the variable; the option replaces the variable's list whole.
  assert.deepEqual(serveRefusal(['--data', data], { RUNPRINT_UPSTREAMS: 'openai=http://127.0.0.1:9911 openai=http://127.0.0.1:9912' }), { status: 2, stderr: 'runprint: ERR_CLI_USAGE: RUNPRINT_UPSTREAMS names the openai upstream more than once: give each NAME one URL\n' });
  assert.throws(() => captureOptions({}, { RUNPRINT_UPSTREAMS: 'anthropic=http://a.example openai=http://b.example anthropic=http://c.example' }, '127.0.0.1', io), {
    code: 'ERR_CLI_USAGE',
    message: 'RUNPRINT_UPSTREAMS names the anthropic upstream more than once: give each NAME one URL',
  });
  assert.deepEqual(captureOptions({ upstream: ['anthropic=http://d.example'] }, { RUNPRINT_UPSTREAMS: 'anthropic=http://a.example anthropic=http://c.example' }, '127.0.0.1', io)!.upstreams, { anthropic: 'http://d.example' });
  // The variable's other errors name it too.
  assert.throws(() => captureOptions({}, { RUNPRINT_UPSTREAMS: 'openai=http://user:pw@x.example' }, '127.0.0.1', io), { code: 'ERR_CLI_USAGE', message: 'RUNPRINT_UPSTREAMS URL must not carry a user name or password' });
  // replay takes --upstream the same way.
  const replay = await runCliInProcess(['replay', 'RUN', '--data', data, '--upstream', 'openai=http://127.0.0.1:9911', '--upstream', 'openai=http://127.0.0.1:9912'], { cwd: dir });
  assert.deepEqual(replay, { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: --upstream names the openai upstream more than once: give each NAME one URL\n' });
});
