/**
 * serve's `--upstream NAME=URL` (and RUNPRINT_UPSTREAMS, and replay's `--upstream`) as a new user
 * gives them: one NAME given twice is refused naming it (ERR_CLI_USAGE, exit 2, before anything is
 * made), not the last URL taken silently; a URL ending in /v1 (the OpenAI base URL habit) starts
 * with one warning line saying where calls then go (/v1/v1/...), which is where they go.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { captureOptions, upstreamPathWarnings } from '../src/cli/serve-capture.ts';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { chatCall } from './helpers/proxy-calls.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';

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

test('an upstream URL ending in /v1: one warning line at start says calls go to /v1/v1/..., and they do', { timeout: 60_000 }, async () => {
  const upstream = await startFakeUpstream();
  const serve = await startServe({ data: join(dir, 'v1'), args: ['--upstream', `openai=${upstream.url}/v1/`] });
  try {
    const warnings = serve.stderr().split('\n').filter((line) => line.includes('warning'));
    assert.deepEqual(warnings, [
      `runprint: warning: --upstream openai=${upstream.url}/v1 ends in /v1: the upstream URL is the base the request path (/v1/chat/completions) is appended to, so calls to /openai/v1/chat/completions go to ${upstream.url}/v1/v1/chat/completions; give ${upstream.url} unless that upstream serves that path`,
    ]);
    await (await chatCall(serve.base, 'Where does this go?')).text();
    // A client whose base URL has no /v1 reaches URL/chat/completions.
    await (await fetch(`${serve.base}/openai/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'And this?' }] }) })).text();
    assert.deepEqual(upstream.requests.map((request) => request.path), ['/v1/v1/chat/completions', '/v1/chat/completions']);
  } finally {
    await serve.stop();
    await upstream.close();
  }
  // Other paths, and the defaults, are not warned of; anthropic's names its route; the variable is named.
  assert.deepEqual(upstreamPathWarnings({ openai: 'http://127.0.0.1:11434', anthropic: 'https://api.anthropic.com' }), []);
  assert.deepEqual(upstreamPathWarnings({ openai: 'https://generativelanguage.googleapis.com/v1beta/openai' }), []);
  assert.deepEqual(upstreamPathWarnings({ anthropic: 'http://gw.example/llm/v1' }, 'RUNPRINT_UPSTREAMS'), [
    'runprint: warning: RUNPRINT_UPSTREAMS anthropic=http://gw.example/llm/v1 ends in /v1: the upstream URL is the base the request path (/v1/messages) is appended to, so calls to /anthropic/v1/messages go to http://gw.example/llm/v1/v1/messages; give http://gw.example/llm unless that upstream serves that path\n',
  ]);
  // Printed only when capture is on, as serve starts.
  const lines: string[] = [];
  captureOptions({ upstream: ['openai=http://gw.example/v1'] }, {}, '127.0.0.1', { ...io, stderr: (text) => void lines.push(text) });
  assert.equal(lines.length, 1);
  lines.length = 0;
  captureOptions({ upstream: ['openai=http://gw.example/v1'] }, {}, '0.0.0.0', { ...io, stderr: (text) => void lines.push(text) });
  assert.deepEqual(lines.map((line) => line.includes('capture is off')), [true]);
});
