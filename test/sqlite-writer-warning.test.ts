/**
 * Node 22 prints "ExperimentalWarning: SQLite is an experimental feature" in every thread that
 * loads node:sqlite. runprint's writer thread (store/sqlite-writer-thread.ts) drops that one
 * warning in its own thread, so a process with a local store prints it once (its main thread's:
 * the application's to silence, docs/CAPTURE.md); every other warning of the thread is printed.
 * Node 24 no longer warns for node:sqlite: a worker that emits the same warning stands in for it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

const THREAD = new URL('../src/store/sqlite-writer-thread.ts', import.meta.url).href;
const WORKER = new URL('./helpers/warning-writer-worker.ts', import.meta.url).href;

test("the writer thread drops node:sqlite's ExperimentalWarning in its own thread only, and prints its other warnings", async () => {
  const script = `
    import { SqliteWriterThread } from ${JSON.stringify(THREAD)};
    const thread = new SqliteWriterThread(new URL(${JSON.stringify(WORKER)}), 'unused', 'the test store');
    console.log(await thread.write(21));
    await thread.close();
  `;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('exit', (exit) => resolve({ code: exit, stdout: out, stderr: err }));
  });
  assert.equal(code, 0, stderr);
  assert.equal(stdout, '42\n', 'the thread works');
  assert.doesNotMatch(stderr, /SQLite is an experimental feature/);
  assert.match(stderr, /ExperimentalWarning: Another feature is experimental/);
  assert.match(stderr, /Error: a warning of the thread itself/);
});
