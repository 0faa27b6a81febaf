/**
 * runprintFetch's own failures as the application sees them (onError): a run store that opens but
 * cannot be written is one failure for one call, reported once (the first commit and the signing
 * pass at open both meet it); a data directory, outbox or receipt key file that cannot be used is
 * reported with its path and what is wrong with it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { unprivileged } from './helpers/unprivileged.ts';

const ENTRY = fileURLToPath(new URL('../src/capture-node/index.ts', import.meta.url));
const scratch = scratchFolders('runprint-capture-node-errors-');
let upstream: FakeUpstream;

before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  await upstream.close();
  scratch.removeAll();
});

/** A script that makes one chat call through runprintFetch({ data }) and prints what onError got and the counts; with `kill`, it kills itself with SIGKILL after the flush (the store's WAL files stay). */
function callScript(data: string, kill = false): string {
  const script = join(scratch.tempDir(), 'call.ts');
  chmodSync(join(script, '..'), 0o755);
  writeFileSync(script, `
    import { runprintFetch } from ${JSON.stringify(ENTRY)};
    const errors = [];
    const fetch = runprintFetch({ data: ${JSON.stringify(data)}, onError: (error) => void errors.push({ code: error.code, message: error.message }) });
    const response = await fetch(${JSON.stringify(`${upstream.url}/v1/chat/completions`)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) });
    await response.text();
    await fetch.flush();
    ${kill ? "process.kill(process.pid, 'SIGKILL');" : ''}
    await fetch.close();
    process.stdout.write(JSON.stringify({ status: response.status, errors, failures: fetch.counts.failures }));
  `);
  return script;
}

function run(command: string, args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, signal: error?.signal ?? null, stdout, stderr });
    });
  });
}

test('a run store that opens but cannot be written: one call, one ERR_STORE_READ_ONLY report', { skip: process.platform === 'win32' }, async () => {
  const data = join(scratch.tempDir(), 'data');
  chmodSync(join(data, '..'), 0o755);
  // A process that stopped without closing the store: its WAL files stay beside runs.sqlite.
  upstream.enqueue({ kind: 'text', text: 'Stored.' });
  const made = await run(process.execPath, [callScript(data, true)]);
  assert.equal(made.signal, 'SIGKILL', made.stderr);
  assert.ok(readdirSync(data).includes('runs.sqlite-wal'), readdirSync(data).join(' '));
  // Then everything is read-only to the next process (as root: without capabilities, see unprivileged).
  for (const name of readdirSync(data)) chmodSync(join(data, name), 0o444);
  chmodSync(data, 0o555);
  try {
    upstream.enqueue({ kind: 'text', text: 'Not stored.' });
    const { command, args } = unprivileged(process.execPath, [callScript(data)]);
    const result = await run(command, args);
    assert.equal(result.code, 0, result.stderr);
    const { status, errors, failures } = JSON.parse(result.stdout) as { status: number; errors: Array<{ code: string; message: string }>; failures: number };
    assert.equal(status, 200, 'the call goes on');
    // (Closed while failing, the recorder drops the record it held for a retry: ERR_CAPTURE_RECORDS_LOST.)
    assert.deepEqual(errors.map((error) => error.code).filter((code) => code.startsWith('ERR_STORE_')), ['ERR_STORE_READ_ONLY'], JSON.stringify(errors));
    assert.equal(failures, 1);
  } finally {
    chmodSync(data, 0o755);
  }
});

/** The failures a runprintFetch on `data` reports once its store (or outbox) has tried to open, and a call through it. */
async function openingErrors(data: string, url?: string): Promise<RunprintError[]> {
  const errors: RunprintError[] = [];
  const fetch = runprintFetch({ data, ...(url === undefined ? {} : { url }), onError: (error) => void errors.push(error) });
  await fetch.flush();
  upstream.enqueue({ kind: 'text', text: 'Goes on.' });
  const response = await fetch(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) });
  assert.equal(response.status, 200);
  await response.text();
  await fetch.close();
  assert.equal(fetch.counts.failures, 1, 'the call is counted');
  return errors;
}

test('a data directory that is a file, or under one: the path and what is wrong, not a permission problem', async () => {
  const file = join(scratch.tempDir(), 'a-file');
  writeFileSync(file, 'x');
  const here = await openingErrors(file);
  assert.deepEqual(here.map((error) => [error.code, error.message]), [['ERR_STORE_UNAVAILABLE', `the data directory ${file} exists and is not a directory`]]);
  const under = await openingErrors(join(file, 'sub'));
  assert.deepEqual(under.map((error) => [error.code, error.message]), [['ERR_STORE_UNAVAILABLE', `the data directory ${join(file, 'sub')} cannot be created: a part of its path is a file, not a directory`]]);
  // With a server (url): the outbox folder in it, likewise.
  const outbox = await openingErrors(file, 'http://127.0.0.1:9');
  assert.deepEqual(outbox.map((error) => [error.code, error.message]), [['ERR_STORE_UNAVAILABLE', `the outbox folder ${join(file, 'outbox')} cannot be created: a part of its path is a file, not a directory`]]);
});

test('a receipt key file that cannot be read: its path and the reason', async () => {
  const data = scratch.tempDir();
  const key = join(data, 'receipt-key.pem');
  mkdirSync(key);
  const errors = await openingErrors(data);
  assert.deepEqual(errors.map((error) => [error.code, error.message]), [['ERR_INPUT_UNREADABLE', `receipt key file cannot be read (EISDIR): ${key}`]]);
});
