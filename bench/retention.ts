/**
 * SQLite retention on a large run store (issue 10): `npm run bench -- retention` builds, once, a
 * store of RUNPRINT_BENCH_RETENTION_RUNS small captured runs (default 150,000) in bench/.cache/
 * (gitignored; RUNPRINT_BENCH_RUNS_REBUILD=1 builds it again), half of them ended before the cut
 * and half after, each with its own system prompt, question and answer (so every expired run's
 * content is deleted). Each measurement expires a copy of it, as serve does (a writer thread),
 * while one-run puts (a capture's commit, one at a time, 5 ms apart) go on: the expire's time
 * (its steps of deletions, then the content table's rewrite and the WAL's checkpoint), the slowest and median put, the puts
 * that failed, and the event loop's longest stall (the longest gap between ticks of a 5 ms timer).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { defaultContentPolicy, runToStore, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import type { BenchResult } from './measure.ts';

const CACHE = new URL('./.cache/', import.meta.url).pathname;
const START = Date.parse('2026-11-01T00:00:00Z');
const CUT = new Date(START + 86_400_000).toISOString();
const encoder = new TextEncoder();

/** Run `n`, of its own system prompt, question and answer, started at `started`. */
function smallRun(n: number, started: number): RunToStore {
  const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: `You answer the questions of customer ${n} in three sentences.` }, { role: 'user', content: `Customer ${n}: where is order ${(n * 7919) % 1_000_003}?` }] }));
  const responseBytes = encoder.encode(JSON.stringify({ id: `chatcmpl-${n}`, object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `Order ${(n * 7919) % 1_000_003} of customer ${n} left the warehouse; it arrives in two days.` } }] }));
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 100, ended: started + 200 } });
  return runToStore(run, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
}

async function cachedStore(size: number): Promise<{ path: string; built?: { ms: number; bytes: number } }> {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `retention-${size}.sqlite`);
  const ready = join(CACHE, `retention-${size}.ready`);
  if (existsSync(ready) && process.env['RUNPRINT_BENCH_RUNS_REBUILD'] === undefined) return { path };
  for (const file of [path, `${path}-wal`, `${path}-shm`, ready]) rmSync(file, { force: true });
  const start = performance.now();
  const store = SqliteRuns.open(path);
  for (let first = 0; first < size; first += 10_000) {
    const runs: RunToStore[] = [];
    // Interleaved as a day's traffic is not, but so that expiring and kept runs share pages: even runs first day, odd the next.
    for (let n = first; n < Math.min(size, first + 10_000); n++) runs.push(smallRun(n, n % 2 === 0 ? START + (n / size) * 80_000_000 : START + 86_400_000 + (n / size) * 80_000_000));
    await store.put(runs);
  }
  await store.close();
  writeFileSync(ready, '');
  return { path, built: { ms: performance.now() - start, bytes: statSync(path).size } };
}

const ms = (value: number) => `${value.toFixed(0)} ms`;

/** Expires a copy of the cached store (writer thread) while puts go on; what it took. */
async function expireWhilePutting(cached: string, size: number): Promise<string> {
  const folder = mkdtempSync(join(tmpdir(), 'runprint-bench-retention-'));
  try {
    const path = join(folder, 'runs.sqlite');
    copyFileSync(cached, path);
    const store = SqliteRuns.open(path, { writerThread: true });
    try {
      const bytes = statSync(path).size;
      // A first put starts the writer thread before the clock does.
      let n = size;
      await store.put([smallRun(n++, Date.now())]);
      // The event loop's longest stall: the longest gap between ticks of a 5 ms timer.
      let stall = 0;
      let tick = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        stall = Math.max(stall, now - tick);
        tick = now;
      }, 5);
      const puts: number[] = [];
      let failed = 0;
      let done = false;
      const t0 = performance.now();
      const expiring = store.expire(CUT).finally(() => (done = true));
      const putting = (async () => {
        while (!done) {
          const run = smallRun(n++, Date.now());
          const t = performance.now();
          try {
            await store.put([run]);
          } catch {
            failed++;
          }
          puts.push(performance.now() - t);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const expired = await expiring;
      const took = performance.now() - t0;
      await putting;
      clearInterval(ticker);
      puts.sort((a, b) => a - b);
      const median = puts[Math.floor(puts.length / 2)] ?? 0;
      return `${expired.toLocaleString('en-US')} runs expired of ${size.toLocaleString('en-US')} (${(bytes / 2 ** 20).toFixed(0)} MB) in ${ms(took)}; ${puts.length} puts meanwhile, median ${ms(median)}, slowest ${ms(puts.at(-1) ?? 0)}, ${failed} failed; event loop's longest stall ${ms(stall)}`;
    } finally {
      await store.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

export async function benchRetention(): Promise<BenchResult[]> {
  const size = Number(process.env['RUNPRINT_BENCH_RETENTION_RUNS'] ?? 150_000);
  const results: BenchResult[] = [];
  const { path, built } = await cachedStore(size);
  if (built !== undefined) results.push({ name: `build a ${size.toLocaleString('en-US')}-run store for retention (setup; no baseline)`, ratio: 1, detail: `${(built.ms / 1000).toFixed(0)} s, ${(built.bytes / 2 ** 20).toFixed(0)} MB` });
  for (let round = 1; round <= 2; round++) {
    results.push({ name: `SQLite expire of half a ${size.toLocaleString('en-US')}-run store, writer thread, puts meanwhile, round ${round} (time; no baseline)`, ratio: 1, detail: await expireWhilePutting(path, size) });
  }
  return results;
}

// `node bench/retention.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const result of await benchRetention()) process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
}
