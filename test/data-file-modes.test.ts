/**
 * The data directory's files hold prompts, answers, salts and keys: whatever the umask, every file
 * runprint creates there (runs.sqlite, log.sqlite and held-runs.sqlite with their -wal and -shm,
 * the keys) is owner-only (0600), and a data directory it creates is 0700. An existing directory
 * or file that others may access is left as it is, with one warning line on stderr at start
 * (README "Service", docs/LOG.md "Files"). Checked with a real `runprint serve` in front of the
 * fake upstream, the in-process runprintFetch, and the held-records journal, all under umask 022.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { runprintFetch } from '../src/capture-node/runprint-fetch.ts';
import { HeldJournal } from '../src/store/held-journal.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { chatCall } from './helpers/proxy-calls.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { startServe } from './helpers/serve-process.ts';
import { chatRun } from './helpers/stored-runs.ts';

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-modes-');
let umask: number;

before(async () => {
  // The usual umask, which leaves files SQLite makes 0644; serve processes inherit it.
  umask = process.umask(0o022);
  upstream = await startFakeUpstream();
});
after(async () => {
  process.umask(umask);
  await endServeTest(upstream, scratch);
});

const modeOf = (path: string) => statSync(path).mode & 0o777;
const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/** Every file under `dir` (relative name) with its mode in octal. */
function fileModes(dir: string): Record<string, string> {
  const modes: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) modes[join(entry.parentPath, entry.name).slice(dir.length + 1)] = octal(modeOf(join(entry.parentPath, entry.name)));
  }
  return modes;
}

function assertOwnerOnly(dir: string, expected: string[]): void {
  const modes = fileModes(dir);
  for (const name of expected) assert.ok(name in modes, `${name} is there: ${JSON.stringify(modes)}`);
  for (const [name, mode] of Object.entries(modes)) assert.equal(mode, '0600', `${name} is owner-only: ${JSON.stringify(modes)}`);
}

const SQLITE_FILES = (name: string) => [name, `${name}-wal`, `${name}-shm`];

test('serve --capture-salt on an existing 0755 data directory: every file it makes is 0600, the directory is left 0755 with one warning line', { timeout: 60_000 }, async () => {
  const data = join(scratch.tempDir(), 'data');
  mkdirSync(data, { mode: 0o755 });
  assert.equal(octal(modeOf(data)), '0755');
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--capture-salt', 'system,input'] });
  const response = await chatCall(serve.base, 'Customer 4711 asks: refund?');
  assert.equal(response.status, 200);
  await response.text();
  // While serve runs: its connections keep the -wal and -shm files.
  assertOwnerOnly(data, [...SQLITE_FILES('runs.sqlite'), ...SQLITE_FILES('log.sqlite'), 'log-key.pem', 'receipt-key.pem']);
  assert.equal(octal(modeOf(data)), '0755', 'the user\'s folder is not changed');
  const warnings = serve.stderr().split('\n').filter((line) => line.includes('warning'));
  assert.deepEqual(warnings, ['runprint: warning: the data directory has mode 0755: users other than its owner have access to the runs, salts and keys in it; chmod 700 it']);
  assert.equal(await serve.stop(), 0);
  assertOwnerOnly(data, ['runs.sqlite', 'log.sqlite']);
});

test('serve makes a missing data directory 0700 and its files 0600, and says nothing of modes', { timeout: 60_000 }, async () => {
  const data = join(scratch.tempDir(), 'made', 'data');
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const response = await chatCall(serve.base, 'Hello.');
  assert.equal(response.status, 200);
  await response.text();
  assert.equal(octal(modeOf(data)), '0700');
  assertOwnerOnly(data, [...SQLITE_FILES('runs.sqlite'), ...SQLITE_FILES('log.sqlite')]);
  assert.doesNotMatch(serve.stderr(), /warning/);
  assert.equal(await serve.stop(), 0);
});

test('serve warns of existing data files that others may access (an older runprint made them 0644) and leaves them as they are', { timeout: 60_000 }, async () => {
  const data = scratch.tempDir();
  chmodSync(data, 0o700);
  // As an older runprint left them: SQLite's own 0644 under umask 022.
  for (const name of ['runs.sqlite', 'log.sqlite']) new DatabaseSync(join(data, name)).close();
  chmodSync(join(data, 'log.sqlite'), 0o640);
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const warnings = serve.stderr().split('\n').filter((line) => line.includes('warning'));
  assert.deepEqual(warnings, ['runprint: warning: log.sqlite (0640), runs.sqlite (0644) in the data directory are not owner-only: users other than their owner may have access to what they hold; chmod 600 them']);
  const response = await chatCall(serve.base, 'Hello.');
  assert.equal(response.status, 200);
  await response.text();
  assert.equal(octal(modeOf(join(data, 'runs.sqlite'))), '0644');
  assert.equal(octal(modeOf(join(data, 'log.sqlite'))), '0640');
  assert.equal(await serve.stop(), 0);
});

test('runprintFetch on an existing 0755 data directory: the run store and receipt key it makes are 0600, with one warning line', { timeout: 60_000 }, async () => {
  const data = join(scratch.tempDir(), 'data');
  mkdirSync(data, { mode: 0o755 });
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  let modes: Record<string, string>;
  try {
    const capture = runprintFetch({ data, salt: ['system', 'input'] });
    const response = await capture(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Secret rules.' }, { role: 'user', content: 'Hi.' }] }) });
    await response.text();
    await capture.flush();
    assert.equal(capture.counts.recorder.recorded, 1);
    modes = fileModes(data);
    await capture.close();
  } finally {
    process.stderr.write = write;
  }
  for (const name of [...SQLITE_FILES('runs.sqlite'), 'receipt-key.pem']) assert.ok(name in modes, `${name} is there: ${JSON.stringify(modes)}`);
  for (const [name, mode] of Object.entries(modes)) assert.equal(mode, '0600', `${name} is owner-only: ${JSON.stringify(modes)}`);
  assertOwnerOnly(data, ['runs.sqlite', 'receipt-key.pem']);
  assert.equal(octal(modeOf(data)), '0755');
  assert.deepEqual(lines, [`runprint: capture: warning: the data directory ${data} has mode 0755: users other than its owner have access to the runs, salts and keys in it; chmod 700 it\n`]);
});

test('runprintFetch makes a missing data directory 0700', { timeout: 60_000 }, async () => {
  const data = join(scratch.tempDir(), 'made', 'data');
  const capture = runprintFetch({ data });
  await (await capture(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi.' }] }) })).text();
  await capture.flush();
  assert.equal(octal(modeOf(data)), '0700');
  assertOwnerOnly(data, SQLITE_FILES('runs.sqlite'));
  await capture.close();
});

test('the held-records journal is made 0600, with its -wal and -shm', () => {
  const data = scratch.tempDir();
  const journal = new HeldJournal(join(data, 'held-runs.sqlite'));
  const { run, bytes } = chatRun('Held while the store fails.', 'Secret rules.');
  journal.add([runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)]);
  try {
    assert.equal(journal.count(), 1);
    assertOwnerOnly(data, SQLITE_FILES('held-runs.sqlite'));
  } finally {
    journal.close();
  }
});
