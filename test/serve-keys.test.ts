/**
 * `runprint serve` and `runprint keygen` with their key files and the log token (LOG.md 19.3):
 * owner-only data directory and key whatever the umask, atomic key files, an empty key refused, a
 * warning for a key others may read, a token no client could send refused at start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { killServeProcesses, RUNPRINT_BIN, runRunprint, startServe } from './helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
function folder(): string {
  const path = mkdtempSync(join(tmpdir(), 'runprint-keys-'));
  folders.push(path);
  return path;
}

/** Runs `sh -c SCRIPT node runprint ARGS…` to its end (the script ends with exec "$0" "$@"). */
function runUnder(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `${script} && exec "$0" "$@"`, process.execPath, RUNPRINT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      // A serve that started: stop it, its stderr is all this needs.
      if (/^runprint: log /m.test(stderr)) child.kill('SIGTERM');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}

const serveArgs = (data: string, ...more: string[]) => ['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, ...more];

test('under umask 000 serve creates the data directory 0700 and the log key 0600', async () => {
  const data = join(folder(), 'a', 'data');
  const result = await runUnder('umask 000', serveArgs(data));
  assert.match(result.stderr, /^runprint: log /m, result.stderr);
  assert.equal(statSync(data).mode & 0o777, 0o700);
  assert.equal(statSync(join(data, 'log-key.pem')).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(data).filter((name) => name.endsWith('.tmp')), [], 'no temporary file left');
});

test('an empty log-key.pem (left by an older start on a full disk) is refused, naming the file and what to do', async () => {
  const data = folder();
  writeFileSync(join(data, 'log-key.pem'), '', { mode: 0o600 });
  const result = await runRunprint(serveArgs(data));
  assert.equal(result.code, 3);
  assert.equal(
    result.stderr,
    'runprint: ERR_KEY_INVALID: log-key.pem in the data directory is empty (a start that could not write it): delete it if the log holds no entries yet, else restore it from a backup\n',
  );
  assert.equal(statSync(join(data, 'log-key.pem')).size, 0, 'never replaced');
});

test('a log database whose log-key.pem is gone: said to be missing, and no new key is left to fail every later start', async () => {
  const data = folder();
  const first = await runUnder('true', serveArgs(data));
  assert.match(first.stderr, /^runprint: log /m, first.stderr);
  assert.ok(existsSync(join(data, 'log.sqlite')));
  rmSync(join(data, 'log-key.pem'));
  const missing = `runprint: ERR_INPUT_NOT_FOUND: log-key.pem is missing from the data directory, and the log database holds a log another key signed: restore log-key.pem from a backup, or give that log's key with --log-key (a new key cannot continue the log: this start made none)\n`;
  for (const start of ['first', 'second']) {
    const result = await runRunprint(serveArgs(data));
    assert.deepEqual([result.code, result.stderr], [4, missing], `${start} start without the key`);
    assert.equal(existsSync(join(data, 'log-key.pem')), false, `${start} start: no key made for a log it cannot sign`);
  }
  // A log database with no log yet (a new data directory) still gets its key made.
  const fresh = folder();
  assert.match((await runUnder('true', serveArgs(fresh))).stderr, /^runprint: log /m);
  assert.ok(existsSync(join(fresh, 'log-key.pem')));
});

test('a private key file that group or others may read gets one warning line; the key is used', async () => {
  const dir = folder();
  const logKey = join(dir, 'log.pem');
  writeFileSync(logKey, (await generateKeyFiles('localhost/runprint')).privateKeyPem, { mode: 0o644 });
  const witnessKey = join(dir, 'witness.pem');
  writeFileSync(witnessKey, (await generateKeyFiles('w')).privateKeyPem, { mode: 0o640 });
  const logVkey = (await generateKeyFiles('other.example/log')).verifierKey;
  const served = await startServe({ data: join(dir, 'data'), args: ['--log-key', logKey, '--witness-key', witnessKey, '--witness-name', 'w.example', '--witness-log', logVkey] });
  await served.stop();
  const warnings = served.stderr().split('\n').filter((line) => line.includes('warning'));
  assert.deepEqual(warnings, [
    'runprint: warning: --witness-key file has mode 0640: users other than its owner have access to the private key; chmod 600 it',
    'runprint: warning: --log-key file has mode 0644: users other than its owner have access to the private key; chmod 600 it',
  ]);
  // The data directory's own key, made by serve, draws no warning.
  const quiet = await startServe({ data: join(dir, 'own') });
  await quiet.stop();
  assert.doesNotMatch(quiet.stderr(), /warning/);
});

test('a --log-token that no client could send is refused at start with ERR_CLI_USAGE, never printed, nothing created', async () => {
  const secret = 'hunter2';
  const cases: Array<[string[], Record<string, string>, string]> = [
    [['--log-token', `${secret} with space`], {}, '--log-token'],
    [['--log-token', `${secret}\u00e9`], {}, '--log-token'],
    [['--log-token', `${secret}\ttab`], {}, '--log-token'],
    [['--log-token', ''], {}, '--log-token'],
    [[], { RUNPRINT_LOG_TOKEN: `${secret}\n` }, 'RUNPRINT_LOG_TOKEN'],
  ];
  for (const [args, env, option] of cases) {
    const data = join(folder(), 'data');
    const result = await runUnder('true', serveArgs(data, ...args), env);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `runprint: ERR_CLI_USAGE: ${option} must be 1 or more visible ASCII characters with no spaces (a bearer token; letters, digits and -._~+/= are the portable choice)\n`,
    );
    assert.ok(!result.stderr.includes(secret));
    assert.equal(existsSync(data), false, 'refused before the data directory is made');
  }
  // Visible ASCII beyond b64token still works: a client can send it.
  const served = await startServe({ data: join(folder(), 'data'), token: 'p@ss!word#1' });
  const body = JSON.stringify({ payload: 'AAAA', payloadType: 't', signatures: [{ sig: 'AAAA' }] });
  const posted = await fetch(`${served.base}/v1/log/entries`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: 'Bearer p@ss!word#1' } });
  assert.equal(posted.status, 201);
  await served.stop();
});

test('keygen whose writes fail midway (a file size limit) leaves no file behind, and still never overwrites', async () => {
  const out = join(folder(), 'keys');
  const failed = await runUnder('ulimit -f 0', ['keygen', '--out', out]);
  assert.equal(failed.code, 4, failed.stderr);
  assert.equal(failed.stderr, `runprint: ERR_FILE_UNWRITABLE: cannot write the key files to the output folder: ${out}\n`);
  assert.deepEqual(readdirSync(out), []);
  const made = await runUnder('umask 000', ['keygen', '--out', out]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(statSync(join(out, 'receipt-key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(join(out, 'receipt-key.vkey')).mode & 0o777, 0o644);
  const again = await runUnder('true', ['keygen', '--out', out]);
  assert.equal(again.code, 4);
  assert.match(again.stderr, /^runprint: ERR_FILE_EXISTS: /);
});
