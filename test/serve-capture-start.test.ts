/**
 * What `runprint serve` says at start about capture (LOG.md 19.3, CAPTURE.md "The run store"): the
 * capture line names what the run store keeps and when it deletes content, when the options change
 * the defaults (so an operator sees at start that content goes after N days).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
function folder(): string {
  const path = mkdtempSync(join(tmpdir(), 'runprint-capture-start-'));
  folders.push(path);
  return path;
}

/** The `runprint: capture on (...)` line of a serve started with `args` and `env`, once it stopped. */
async function captureLine(args: string[], env: Record<string, string> = {}): Promise<{ line: string; base: string }> {
  const serve = await startServe({ data: folder(), args: ['--upstream', 'openai=http://127.0.0.1:9', '--capture-workers', '0', ...args], env });
  // The capture line comes before the explorer's, the last of the start.
  for (let i = 0; i < 200 && !serve.stderr().includes('runprint: explorer '); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal(await serve.stop(), 0);
  const lines = serve.stderr().split('\n').filter((line) => line.startsWith('runprint: capture on ('));
  assert.equal(lines.length, 1, serve.stderr());
  return { line: lines[0]!, base: serve.base };
}

test('the capture line says what the run store keeps and when content is deleted, only when not the defaults', async () => {
  const plain = await captureLine([]);
  assert.equal(plain.line, `runprint: capture on (sync durability, runs in SQLite): ${plain.base}/openai -> http://127.0.0.1:9, ${plain.base}/anthropic -> https://api.anthropic.com`);

  const outputs = await captureLine(['--capture-retention', '30', '--capture-keep', 'digest', '--capture-keep', 'output=content']);
  assert.equal(outputs.line, `runprint: capture on (sync durability, runs in SQLite, keeping content only of output, content deleted after 30 days): ${outputs.base}/openai -> http://127.0.0.1:9, ${outputs.base}/anthropic -> https://api.anthropic.com`);

  // From the environment as from the options; one day is a day.
  const all = await captureLine([], { RUNPRINT_CAPTURE_RETENTION: '1', RUNPRINT_CAPTURE_KEEP: 'request=content' });
  assert.match(all.line, /^runprint: capture on \(sync durability, runs in SQLite, keeping all content, content deleted after 1 day\): /);

  const some = await captureLine(['--capture-keep', 'system=digest', '--capture-keep', 'input=digest']);
  assert.match(some.line, /^runprint: capture on \(sync durability, runs in SQLite, keeping digests only of system,input,request\): /);

  const none = await captureLine(['--capture-keep', 'digest']);
  assert.match(none.line, /^runprint: capture on \(sync durability, runs in SQLite, keeping only digests\): /);

  const kept = await captureLine(['--capture-retention', '7']);
  assert.match(kept.line, /^runprint: capture on \(sync durability, runs in SQLite, content deleted after 7 days\): /);
});
