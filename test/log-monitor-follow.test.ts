/** `runprint log monitor` following a log as a real process: it waits out an outage and stops on a fork. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { verifyNote } from '../src/log/note.ts';
import { parseNoteVerifier } from '../src/log/note-keys.ts';
import { encodeBase64 } from '../src/keys/base64.ts';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { createApp, type App } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog, type TransparencyLog } from '../src/store/log-service.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const ORIGIN = 'example.test/followed-log';
const TOKEN = 'follow-token-0123456789';
const BIN = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));
const folder = cliFolder('runprint-monitor-follow-');
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(folder.folder, { recursive: true, force: true });
});

function envelope(text: string): string {
  return JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(text)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] });
}

async function logWith(key: Awaited<ReturnType<typeof parsePrivateKey>>, name: string, bodies: string[]): Promise<{ log: TransparencyLog; app: App; add: (more: string[]) => Promise<void> }> {
  const log = await openSqliteLog({ path: join(folder.folder, `${name}.sqlite`), origin: ORIGIN, key, checkpointDelayMs: 10 });
  closers.push(() => log.close());
  const app = createApp({ log: { log, token: TOKEN } });
  const add = async (more: string[]) => {
    for (const body of more) assert.ok((await app.request('/v1/log/entries', { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } })).ok);
    await log.publishCheckpoint();
  };
  await add(bodies);
  return { log, app, add };
}

/** Resolves when `text` has a line matching `pattern`, polling what the child printed so far. */
async function waitFor(read: () => string, pattern: RegExp, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) assert.fail(`monitor did not print ${what}; it printed:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a following monitor checks each new checkpoint, retries through an outage, and exits 1 on a fork keeping its state', async () => {
  const key = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const honest = await logWith(key, 'honest', ['a', 'b', 'c'].map(envelope));
  // The same key and name over other entries: once both have 5 entries, two roots for one size.
  const forked = await logWith(key, 'forked', ['a', 'b', 'c', 'x', 'y'].map(envelope));

  let mode: 'honest' | 'down' | 'forked' = 'honest';
  const front: App = {
    fetch: async (request) => {
      if (mode === 'down') return Response.json({ error: { code: 'ERR_STORE_UNAVAILABLE', message: 'the log is down for this test' } }, { status: 503 });
      return (mode === 'honest' ? honest : forked).app.fetch(request);
    },
    request: () => Promise.reject(new Error('not used')),
  };
  const server = await listen(front, { host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());

  const vkey = folder.file('log.vkey', `${honest.log.verifierKey}\n`);
  const state = join(folder.folder, 'state.json');
  const child = spawn(process.execPath, [BIN, 'log', 'monitor', `http://127.0.0.1:${server.port}/`, '--key', vkey, '--state', state, '--interval', '1'], {
    cwd: folder.folder,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  closers.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  await waitFor(() => stdout, /size 3 verified: first checkpoint/, 'the first checkpoint');
  await honest.add(['d', 'e'].map(envelope));
  await waitFor(() => stdout, /size 5 verified: consistent with size 3, 2 entries checked/, 'the grown checkpoint');

  mode = 'down';
  await waitFor(() => stderr, /ERR_STORE_UNAVAILABLE: log answered 503: the log is down for this test; trying again in 1 s/, 'the outage');
  assert.equal(child.exitCode, null, 'an outage does not end the monitor');

  mode = 'forked';
  assert.equal(await exited, 1);
  assert.match(stderr, /ERR_LOG_FORK/);
  // The kept checkpoint is still the honest one of size 5.
  const kept = JSON.parse(await readFile(state, 'utf8'));
  const checkpoint = parseCheckpoint((await verifyNote(kept.checkpoint, [await parseNoteVerifier(honest.log.verifierKey)])).text);
  assert.equal(checkpoint.size, 5);
  assert.equal(kept.checkpoint, (await honest.log.checkpoint()).note);
});

test('--interval past one timer\'s reach (2^31 - 1 ms) is refused with its range, not run as a check every millisecond', async () => {
  const key = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const { app, log } = await logWith(key, 'interval', ['a'].map(envelope));
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());
  const vkey = folder.file('interval.vkey', `${log.verifierKey}\n`);
  const state = join(folder.folder, 'interval-state.json');
  const run = (interval: string, ...more: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'log', 'monitor', `http://127.0.0.1:${server.port}/`, '--key', vkey, '--state', state, '--interval', interval, ...more], { cwd: folder.folder, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      // Before the fix this one never ended: thousands of checks, a TimeoutOverflowWarning each.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`log monitor --interval ${interval} did not end within 10 s: ${stdout.split('\n').length - 1} checks; stderr:\n${stderr.slice(0, 500)}`));
      }, 10_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  for (const interval of ['3000000', '2147484']) {
    assert.deepEqual(await run(interval), { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: --interval must be a whole number of seconds from 1 to 2147483 (about 24.8 days)\n' }, interval);
  }
  // The longest is taken (here with --once: one check, then the end).
  const longest = await run('2147483', '--once');
  assert.equal(longest.code, 0, longest.stderr);
  assert.match(longest.stdout, /^checkpoint example\.test\/followed-log size 1 verified: first checkpoint/);
});
