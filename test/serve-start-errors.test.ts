/**
 * What `runprint serve` says when it cannot start: a data directory it cannot make is a write
 * failure (ERR_FILE_UNWRITABLE) naming the folder and why; a key file that is not there is
 * ERR_INPUT_NOT_FOUND "no such file", as the other commands say; a setting from a RUNPRINT_*
 * variable is refused by the variable's name, not an option the user never gave; a PostgreSQL URL
 * that does not parse is a usage error (exit 2) that never shows its password; and the "capture is
 * off" line comes only once serve listens, never before a fatal error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { RUNPRINT_BIN, runRunprint } from './helpers/serve-process.ts';
import { unprivileged } from './helpers/unprivileged.ts';

const scratch = scratchFolders('runprint-serve-start-');
after(() => endServeTest(undefined, scratch));

const line = (code: string, message: string) => `runprint: ${code}: ${message}\n`;

/** `serve ARGS` in this process with `env` set meanwhile: what it printed and its exit code. */
async function serveWith(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return await runCliInProcess(['serve', ...args], cwd === undefined ? {} : { cwd });
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

test('a data directory serve cannot make: ERR_FILE_UNWRITABLE naming it as given and why', async () => {
  const root = scratch.tempDir();
  writeFileSync(join(root, 'req.json'), '{}');
  for (const [data, why] of [['req.json', 'it is a file, not a folder'], ['req.json/data', 'a part of the path is not a folder']] as const) {
    const result = await serveWith(['--port', '0', '--data', data], {}, root);
    assert.deepEqual(result, { code: 4, stdout: '', stderr: line('ERR_FILE_UNWRITABLE', `data directory cannot be created (${why}): ${data}`) }, data);
  }
  // RUNPRINT_DATA's folder is named as the variable gave it.
  const env = await serveWith(['--port', '0'], { RUNPRINT_DATA: join(root, 'req.json') }, root);
  assert.equal(env.stderr, line('ERR_FILE_UNWRITABLE', `data directory cannot be created (it is a file, not a folder): ${join(root, 'req.json')}`));
  // A folder the process may not write in (root: with its capabilities dropped).
  const closed = join(root, 'closed');
  mkdirSync(closed, { mode: 0o500 });
  const { command, args } = unprivileged(process.execPath, [RUNPRINT_BIN, 'serve', '--port', '0', '--data', join(closed, 'data')]);
  const denied = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
  chmodSync(closed, 0o700);
  assert.deepEqual(denied, { code: 4, stderr: line('ERR_FILE_UNWRITABLE', `data directory cannot be created (permission denied): ${join(closed, 'data')}`) });
});

test('key files that are not there are "no such file", as for the other commands; a folder is said to be one', async () => {
  const root = scratch.tempDir();
  mkdirSync(join(root, 'keys'));
  for (const [args, expected] of [
    [['--log-key', 'nope.pem'], line('ERR_INPUT_NOT_FOUND', 'no such file: nope.pem (the log key file)')],
    [['--log-key', 'keys'], line('ERR_INPUT_UNREADABLE', 'log key file cannot be read (it is a folder, not a file): keys')],
    [['--sign-key', 'nope.pem', '--sign-token', 'token-1'], line('ERR_INPUT_NOT_FOUND', 'no such file: nope.pem (the sign key file)')],
    [['--no-log', '--witness-key', 'nope.pem', '--witness-name', 'example.com/w', '--witness-log', 'logs.txt'], line('ERR_INPUT_NOT_FOUND', 'no such file: nope.pem (the witness key file)')],
  ] as const) {
    const result = await serveWith(['--port', '0', '--data', join(root, 'data'), ...args], {}, root);
    assert.deepEqual(result, { code: 4, stdout: '', stderr: expected }, args.join(' '));
  }
});

test('a RUNPRINT_* setting serve refuses is named by its variable; the same value given as the option is named by the option', async () => {
  const data = join(scratch.tempDir(), 'data');
  for (const [variable, option, value, message] of [
    ['RUNPRINT_PORT', '--port', 'abc', 'must be a number from 0 to 65535'],
    ['RUNPRINT_LOG_CHECK', '--log-check', 'quick', 'must be full or tiles'],
    ['RUNPRINT_LOG_WITNESS_TIMEOUT', '--log-witness-timeout', '0', 'must be a number of milliseconds from 1 to 10000'],
    ['RUNPRINT_LOG_WITNESSES', '--log-witness', 'nowhere', 'must be URL=VKEY: an http(s) URL, "=", and the witness key or a file holding it'],
    ['RUNPRINT_MAX_CONNECTIONS', '--max-connections', '0', 'must be a number from 1 to 1000000'],
    ['RUNPRINT_MAX_CLIENT_CONNECTIONS', '--max-client-connections', 'x', 'must be a number from 0 to 1000000'],
    ['RUNPRINT_MAX_CLIENT_REQUESTS', '--max-client-requests', 'x', 'must be a number from 0 to 1000000'],
    ['RUNPRINT_HEADERS_TIMEOUT', '--headers-timeout', '99', 'must be a number from 100 to 600000'],
    ['RUNPRINT_REQUEST_TIMEOUT', '--request-timeout', '99', 'must be a number from 100 to 3600000'],
    ['RUNPRINT_SHUTDOWN_GRACE', '--shutdown-grace', '600001', 'must be a number from 0 to 600000'],
    ['RUNPRINT_CAPTURE_DURABILITY', '--capture-durability', 'later', 'must be sync or async'],
    ['RUNPRINT_CAPTURE_WORKERS', '--capture-workers', '9', 'must be a number of worker threads from 0 to 8'],
    ['RUNPRINT_CAPTURE_RETENTION', '--capture-retention', '0', 'must be a number of days from 1 to 99999'],
    ['RUNPRINT_CAPTURE_RETRIEVAL_MAX', '--capture-retrieval-max', '1', 'must be a number of bytes from 1024 to 1048576'],
    ['RUNPRINT_CAPTURE_TOKEN', '--capture-token', 'a b', 'must be 1 or more visible ASCII characters with no spaces'],
    ['RUNPRINT_CAPTURE_SALT', '--capture-salt', 'zz', 'must be request component names, comma-separated: "zz" is not a request component (model, system, input, context, tools, parameters, configuration, or all)'],
  ] as const) {
    const port = option === '--port' ? [] : ['--port', '0'];
    const fromEnv = await serveWith([...port, '--data', data], { [variable]: value });
    assert.deepEqual(fromEnv, { code: 2, stdout: '', stderr: line('ERR_CLI_USAGE', `${variable} ${message}`) }, variable);
    const fromOption = await serveWith([...port, '--data', data, `${option}=${value}`]);
    assert.deepEqual(fromOption, { code: 2, stdout: '', stderr: line('ERR_CLI_USAGE', `${option} ${message}`) }, option);
  }
});

test('a PostgreSQL URL that does not parse (port 99999) is ERR_CLI_USAGE, exit 2, as one that is not a URL; its password is never shown', async () => {
  const data = join(scratch.tempDir(), 'data');
  const url = 'postgres://someone:hunter2-pw@127.0.0.1:99999/db';
  const usage = (from: string) => line('ERR_CLI_USAGE', `${from} is not a valid connection URL: check its port (0 to 65535) and host, and that a user name or password percent-encodes any of : @ / ? #`);
  assert.deepEqual(await serveWith(['--port', '0', '--data', data, '--runs-db', url]), { code: 2, stdout: '', stderr: usage('--runs-db') });
  assert.deepEqual(await serveWith(['--port', '0', '--data', data, '--no-capture', '--log-db', url]), { code: 2, stdout: '', stderr: usage('--log-db') });
  assert.deepEqual(await serveWith(['--port', '0', '--data', data, '--no-capture'], { RUNPRINT_LOG_DB: url }), { code: 2, stdout: '', stderr: usage('RUNPRINT_LOG_DB') });
  assert.deepEqual(await runCliInProcess(['runs', 'list', '--runs-db', url]), { code: 2, stdout: '', stderr: usage('--runs-db') });
  assert.deepEqual(await runCliInProcess(['runs', 'list', '--runs-db', 'notaurl']), { code: 2, stdout: '', stderr: line('ERR_CLI_USAGE', '--runs-db must be a postgres:// or postgresql:// connection URL') });
  assert.equal(existsSync(data), false);
});

test('"capture is off" on a reachable address is printed once serve listens, and not before a fatal ERR_HTTP_LISTEN', async () => {
  const data = join(scratch.tempDir(), 'data');
  const failed = await runRunprint(['serve', '--host', '999.1.1.1', '--port', '0', '--data', data]);
  assert.equal(failed.code, 4);
  assert.equal(failed.stderr, line('ERR_HTTP_LISTEN', 'cannot listen on that address (999.1.1.1:0)'));
  // On 0.0.0.0 it listens: the line is there, before the listening line.
  const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '0.0.0.0', '--port', '0', '--data', data, '--no-log'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (let i = 0; i < 400 && !/listening on/.test(stderr); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    const lines = stderr.split('\n');
    const off = lines.findIndex((text) => text.startsWith('runprint: capture is off: on 0.0.0.0, which other machines can reach'));
    assert.ok(off >= 0 && off < lines.findIndex((text) => text.startsWith('runprint: listening on')), stderr);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});

test('a data directory or key folder under /proc, where Node\'s recursive mkdir loops for ever, is an error at once', { timeout: 30_000 }, async () => {
  assert.ok(existsSync('/proc/self'), 'a Linux /proc');
  const serve = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', '/proc/runprint-no-such/data'], { timeoutMs: 10_000 });
  assert.deepEqual(serve, { code: 4, stdout: '', stderr: line('ERR_FILE_UNWRITABLE', 'data directory cannot be created (no such folder): /proc/runprint-no-such/data') });
  const keygen = await runRunprint(['keygen', '--out', '/proc/runprint-no-such/keys'], { timeoutMs: 10_000 });
  assert.equal(keygen.code, 4, keygen.stderr);
  assert.equal(keygen.stderr, line('ERR_FILE_UNWRITABLE', 'cannot write the key files to the output folder: /proc/runprint-no-such/keys'));
});

test('a key file that is a device with no end (--log-key /dev/zero) is refused past 1 MiB, not read until memory runs out', { timeout: 30_000 }, async () => {
  const data = join(scratch.tempDir(), 'data');
  const result = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--log-key', '/dev/zero'], { timeoutMs: 10_000 });
  assert.deepEqual(result, { code: 4, stdout: '', stderr: line('ERR_INPUT_UNREADABLE', 'log key file cannot be read (larger than 1 MiB: not a key file): /dev/zero') });
});

test('--capture-key naming a device with no end or a folder: ERR_INPUT_UNREADABLE naming it and why', { timeout: 30_000 }, async () => {
  const data = join(scratch.tempDir(), 'data');
  const device = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--capture-key', '/dev/zero'], { timeoutMs: 10_000 });
  assert.deepEqual(device, { code: 4, stdout: '', stderr: line('ERR_INPUT_UNREADABLE', 'receipt key file cannot be read (larger than 1 MiB: not a key file): /dev/zero') });
  const folder = scratch.tempDir();
  const named = await runRunprint(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--capture-key', folder], { timeoutMs: 10_000 });
  assert.deepEqual(named, { code: 4, stdout: '', stderr: line('ERR_INPUT_UNREADABLE', `receipt key file cannot be read (EISDIR): ${folder}`) });
});
