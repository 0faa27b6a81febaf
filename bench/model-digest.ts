/** Benchmark: OMS v1.0 model digest (SPEC section 9) of one large file against `openssl dgst -sha256`. */
import type { BenchResult } from './measure.ts';
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { computeModelDigest, DEFAULT_SHARD_SIZE, OMS_REFERENCE_SHARD_SIZE } from '../src/model-digest/index.ts';
import type { ModelDigestOptions } from '../src/model-digest/index.ts';

const run = promisify(execFile);
const GiB = 2 ** 30;
const CHUNK = 16 * 1024 * 1024;
const ROUNDS = 3;

/** Set to keep the benchmark file in os.tmpdir() for the next run. */
const KEEP_VARIABLE = 'RUNPRINT_BENCH_KEEP_FILES';


/**
 * Digests one file of `sizeBytes` (default 2 GiB) with openssl and with runprint, in the same
 * run, page cache warm, best of 3 each, interleaved (and rotated) so that a noisy neighbour
 * slows every side alike.
 * `ratio` is a speed-up: openssl time / runprint time, higher is better.
 */
export async function benchModelDigest(options: { sizeBytes?: number } = {}): Promise<BenchResult[]> {
  const size = options.sizeBytes ?? 2 * GiB;
  const path = join(tmpdir(), `runprint-bench-model-digest-${size}.bin`);
  const reused = ensureFile(path, size);
  try {
    readAll(path); // warm the page cache: both sides then hash from memory

    const configurations: Array<[string, ModelDigestOptions]> = [
      [`default (shards of ${DEFAULT_SHARD_SIZE} bytes)`, {}],
      [`OMS reference default shard size (${OMS_REFERENCE_SHARD_SIZE} bytes)`, { shardSize: OMS_REFERENCE_SHARD_SIZE }],
      ['shards of 2^30 bytes', { shardSize: GiB }],
      ['files (one stream, no parallelism possible)', { method: 'files' }],
    ];
    const openssl: number[] = [];
    const runprint = configurations.map(() => [] as number[]);
    let opensslHex = '';
    let resources = configurations.map(() => 0);
    for (let round = 0; round < ROUNDS; round++) {
      const started = performance.now();
      const { stdout } = await run('openssl', ['dgst', '-sha256', path]);
      openssl.push(performance.now() - started);
      opensslHex = /= ([0-9a-f]{64})\s*$/.exec(stdout)?.[1] ?? '';
      // Each round starts with a different configuration, so none always runs right after openssl.
      for (let k = 0; k < configurations.length; k++) {
        const i = (k + round) % configurations.length;
        const config = configurations[i]![1];
        const begin = performance.now();
        const result = await computeModelDigest(path, config);
        runprint[i]!.push(performance.now() - begin);
        resources[i] = result.resources.length;
        if (config.method === 'files' && result.resources[0]?.digest.sha256 !== opensslHex) {
          throw new Error('runprint and openssl hashed different bytes');
        }
      }
    }

    const best = (times: number[]) => Math.min(...times);
    const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const workers = availableParallelism();
    return configurations.map(([label], i) => ({
      name: `model-digest speed-up over openssl dgst -sha256, ${(size / GiB).toFixed(2)} GiB file, ${label}`,
      ratio: best(openssl) / best(runprint[i]!),
      detail:
        `openssl ${seconds(best(openssl))}, runprint ${seconds(best(runprint[i]!))}, ` +
        `${resources[i]} resource(s), ${workers} worker(s), best of ${ROUNDS}, page cache warm` +
        (reused ? ', file reused' : ''),
    }));
  } finally {
    if (process.env[KEEP_VARIABLE] !== '1') rmSync(path, { force: true });
  }
}

// Pseudo-random content (16 MiB repeated): no sparse zero pages, nothing a file system compresses.
function ensureFile(path: string, size: number): boolean {
  try {
    if (statSync(path).size === size) return true;
  } catch {
    // absent: written below
  }
  const chunk = randomFillSync(Buffer.allocUnsafe(CHUNK));
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < size; ) written += writeSync(fd, chunk, 0, Math.min(CHUNK, size - written));
  } finally {
    closeSync(fd);
  }
  return false;
}

function readAll(path: string): void {
  const buffer = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');
  try {
    while (readSync(fd, buffer, 0, CHUNK, null) > 0);
  } finally {
    closeSync(fd);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizeBytes = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const results = await benchModelDigest(sizeBytes === undefined ? {} : { sizeBytes });
  for (const result of results) {
    process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
  }
}
