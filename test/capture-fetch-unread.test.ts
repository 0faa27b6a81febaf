/**
 * An answer the application drops with its body unread (never read, never cancelled) is not kept
 * alive by captureFetch: once the garbage collector takes its Response, the body is cancelled for
 * it, so fetch's body behind it is released, and the call is counted (`counts.abandoned`) and
 * recorded as a cancel is (aborted, with what the application was given). In a child process with
 * --expose-gc (test/helpers/capture-unread-child.ts): 100 answers of 1 MiB dropped unread.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./helpers/capture-unread-child.ts', import.meta.url));

test('answers dropped unread are released once collected, counted abandoned and recorded aborted', () => {
  const calls = 100;
  const child = spawnSync(process.execPath, ['--expose-gc', CHILD, String(calls)], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout) as { held: number; counts: { runs: number; abandoned: number; failures: number }; outcomes: string[]; first: string | null };
  // Kept alive, each held about 256 KiB of fetch's body (25 MiB for 100); plain fetch about 1 MiB in all.
  assert.ok(result.held < 8 * 2 ** 20, `${(result.held / 2 ** 20).toFixed(1)} MiB still held after ${calls} answers dropped`);
  // The last Response may still be within reach of a stack slot when the collections run.
  assert.ok(result.counts.abandoned >= calls - 2, JSON.stringify(result.counts));
  assert.equal(result.counts.runs, result.counts.abandoned, 'each abandoned call recorded');
  assert.equal(result.counts.failures, 0);
  assert.deepEqual(result.outcomes, ['aborted']);
  assert.equal(result.first, 'aborted', 'runOf gives the record');
});
