/**
 * Settings given as the empty string. An empty host would have serve listen on every interface,
 * an empty key file name would be the working directory: serve refuses each (ERR_CLI_USAGE, exit
 * 2) by the option or variable it came from, before it creates anything. `--data ""` is refused
 * by every command that takes it; RUNPRINT_DATA set to the empty string is taken as not set, so
 * serve, the runs commands and in-process capture all use the same ./runprint-data.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runprintFetch } from '../src/capture-node/index.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-empty-settings-');
after(() => endServeTest(undefined, scratch));

const usage = (message: string) => ({ code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` });

/** `runprint ARGS` in this process with `env` set meanwhile (a value undefined: unset). */
async function runWith(args: string[], env: Record<string, string | undefined>, cwd: string) {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  set(env);
  try {
    return await runCliInProcess(args, { cwd });
  } finally {
    set(saved);
  }
}

test('serve refuses an empty host, key file or name, by the option or variable that gave it, before it creates anything', { timeout: 60_000 }, async () => {
  const dir = scratch.tempDir();
  const host = '127.0.0.1 when none is given; 0.0.0.0 for every interface';
  const cases: Array<[string[], Record<string, string>, string]> = [
    [['--host', ''], {}, `--host must not be empty: give an address to listen on (${host})`],
    [[], { RUNPRINT_HOST: '' }, `RUNPRINT_HOST must not be empty: give an address to listen on (${host}), or unset RUNPRINT_HOST`],
    [['--log-key', ''], {}, '--log-key must not be empty: give a key file (log-key.pem in the data directory when none is given)'],
    [[], { RUNPRINT_LOG_KEY: '' }, 'RUNPRINT_LOG_KEY must not be empty: give a key file (log-key.pem in the data directory when none is given), or unset RUNPRINT_LOG_KEY'],
    [[], { RUNPRINT_LOG_NAME: '' }, 'RUNPRINT_LOG_NAME must not be empty: give the log\'s name (localhost/runprint when none is given), or unset RUNPRINT_LOG_NAME'],
    [['--capture-key', ''], {}, '--capture-key must not be empty: give a key file (receipt-key.pem in the data directory when none is given)'],
    [[], { RUNPRINT_CAPTURE_KEY: '' }, 'RUNPRINT_CAPTURE_KEY must not be empty: give a key file, or unset RUNPRINT_CAPTURE_KEY (receipt-key.pem in the data directory when none is given)'],
    [['--sign-token', 'T'], { RUNPRINT_SIGN_KEY: '' }, 'RUNPRINT_SIGN_KEY must not be empty: give a key file, or unset RUNPRINT_SIGN_KEY'],
    [['--witness-name', '', '--witness-key', 'w.pem', '--witness-log', 'w.vkey'], {}, '--witness-name must not be empty: give the witness\'s name'],
    [['--data', ''], {}, '--data must name a folder: leave it out for RUNPRINT_DATA, else ./runprint-data'],
  ];
  for (const [args, env, message] of cases) {
    const result = await runWith(['serve', '--port', '0', ...(args.includes('--data') ? [] : ['--data', 'data']), ...args], env, dir);
    assert.deepEqual(result, usage(message), JSON.stringify([args, env]));
  }
  assert.deepEqual(readdirSync(dir), [], 'nothing was created');
});

test('--data "" is refused by the runs commands and replay, as by serve', async () => {
  const dir = scratch.tempDir();
  for (const args of [['runs', 'list'], ['runs', 'show', 'x'], ['runs', 'receipt', 'x'], ['runs', 'verify', 'x'], ['replay', 'x'], ['replay', '--runs', 'all', '--json', 'r.json']]) {
    const result = await runWith([...args, '--data', ''], {}, dir);
    assert.deepEqual(result, usage('--data must name a folder: leave it out for RUNPRINT_DATA, else ./runprint-data'), args.join(' '));
  }
});

test('an empty RUNPRINT_DATA is the default ./runprint-data for in-process capture, the runs commands and serve alike', { timeout: 60_000 }, async () => {
  const dir = scratch.tempDir();
  const upstream = await startFakeUpstream();
  const cwd = process.cwd();
  const saved = process.env['RUNPRINT_DATA'];
  process.env['RUNPRINT_DATA'] = '';
  process.chdir(dir);
  let captureId: string | null;
  try {
    // In process: the library resolves its folder against the process's working directory.
    const fetch = runprintFetch({ onError: (error) => assert.fail(error.message) });
    const response = await fetch(`${upstream.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    await response.arrayBuffer();
    captureId = response.headers.get('runprint-capture-id');
    await fetch.close();
  } finally {
    process.chdir(cwd);
    if (saved === undefined) delete process.env['RUNPRINT_DATA'];
    else process.env['RUNPRINT_DATA'] = saved;
    await upstream.close();
  }
  assert.ok(captureId !== null && existsSync(join(dir, 'runprint-data', 'runs.sqlite')));
  // runs list finds that run with the variable empty, as with it unset.
  const listed = await runWith(['runs', 'list', '--json'], { RUNPRINT_DATA: '' }, dir);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as { runs: Array<{ captureId: string }> }).runs.map((run) => run.captureId), [captureId]);
  // serve opens its log in the same folder (and stops at a port that is taken, before listening).
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = String((taken.address() as { port: number }).port);
    const served = await runWith(['serve', '--port', port], { RUNPRINT_DATA: '' }, dir);
    assert.match(served.stderr, /^runprint: ERR_HTTP_LISTEN: /);
  } finally {
    taken.close();
  }
  assert.ok(existsSync(join(dir, 'runprint-data', 'log-key.pem')), 'the log key is in ./runprint-data');
  // runs verify names the log by --log-origin, else RUNPRINT_LOG_NAME: empty, either names no log.
  const noOrigin = await runWith(['runs', 'verify', captureId, '--log-origin', ''], {}, dir);
  assert.deepEqual(noOrigin, usage('--log-origin must not be empty: give the log\'s origin, or leave it out for the --log-key\'s name'));
  const noName = await runWith(['runs', 'verify', captureId], { RUNPRINT_LOG_NAME: '' }, dir);
  assert.deepEqual(noName, usage('RUNPRINT_LOG_NAME must not be empty: give the log\'s name, or unset RUNPRINT_LOG_NAME (localhost/runprint when none is given)'));
  assert.equal(existsSync(join(dir, 'log-key.pem')), false, 'not in the working directory');
});
