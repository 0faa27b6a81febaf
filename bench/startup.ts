/**
 * Start-up and per-call cost of the command line: `runprint id` on a 2 KB request, as an installed
 * package runs it (compiled dist/, no type stripping), against a bare `node -e 0` measured in the
 * same run. Target: at most 2.5x. The checkout's own way (TypeScript sources stripped at run time)
 * is printed beside it for scale.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chatRequest } from './fixtures.ts';
import type { BenchResult } from './measure.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'bin', 'runprint.js');

/** Median wall time of `runs` runs of a command, in milliseconds (the first run warms the file cache). */
function medianMs(args: string[], env: NodeJS.ProcessEnv, runs: number): number {
  const times: number[] = [];
  for (let run = -1; run < runs; run++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`);
    if (run >= 0) times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function benchStartup(): Promise<BenchResult[]> {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const folder = mkdtempSync(join(tmpdir(), 'runprint-bench-startup-'));
  const file = join(folder, 'request.json');
  const text = JSON.stringify(chatRequest(2_000));
  writeFileSync(file, text);
  const runs = 21;
  const env = { ...process.env, RUNPRINT_DIST: '1' };
  // Interleave baseline and candidate rounds so load on the machine touches both alike.
  const bare: number[] = [];
  const dist: number[] = [];
  const source: number[] = [];
  for (let round = 0; round < 3; round++) {
    bare.push(medianMs(['-e', '0'], process.env, runs));
    dist.push(medianMs([BIN, 'id', file], env, runs));
    source.push(medianMs([BIN, 'id', file], { ...process.env, RUNPRINT_DIST: '0' }, runs));
  }
  const mid = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  const [b, d, s] = [mid(bare), mid(dist), mid(source)];
  const bytes = Buffer.byteLength(text);
  return [
    {
      name: `runprint id on a ${bytes}-byte request, installed (dist/), vs node -e 0 (time ratio, target <= 2.5)`,
      ratio: d / b,
      detail: `${d.toFixed(1)} ms vs ${b.toFixed(1)} ms, medians of ${runs} runs, middle of 3 rounds`,
    },
    {
      name: `runprint id on a ${bytes}-byte request from the checkout's TypeScript sources, vs node -e 0 (time ratio, for scale)`,
      ratio: s / b,
      detail: `${s.toFixed(1)} ms vs ${b.toFixed(1)} ms`,
    },
  ];
}
