/**
 * Benchmarks of the transparency log on SQLite (issue 4, section 8), each against a baseline
 * measured in the same run:
 * - sustained acknowledged appends through TransparencyLog.append vs raw node:sqlite inserts of
 *   the same rows (same schema and pragmas, one transaction per 10,000 rows, hashes precomputed);
 * - entry to signed checkpoint at a steady 1,000 entries/s vs the configured checkpoint delay;
 * - (group `log-10m`) inclusion proofs from a 10-million-entry log vs a raw indexed row read.
 */
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { verifyInclusion } from '../src/merkle/inclusion.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { TransparencyLog } from '../src/store/log-service.ts';
import { leafKeyOf, SQLITE_PRAGMAS, SqliteLog } from '../src/store/sqlite-log.ts';
import type { BenchResult } from './measure.ts';

const ORIGIN = 'bench.example/runprint-log';

/** `count` distinct entries of `bytes` bytes each: random bytes with the entry number in the first 8. */
function makeEntries(count: number, bytes: number, salt = 0): Uint8Array[] {
  const pool = randomFillSync(new Uint8Array(bytes + 4096));
  const entries: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const entry = new Uint8Array(bytes);
    const offset = (i * 7919) % 4096;
    entry.set(pool.subarray(offset, offset + bytes));
    new DataView(entry.buffer).setFloat64(0, i + salt * 1e12);
    entries.push(entry);
  }
  return entries;
}

async function newKey(): Promise<SigningKey> {
  return parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
}

const rate = (count: number, ms: number) => (count / ms) * 1000;
const perSecond = (value: number) => `${Math.round(value).toLocaleString('en-US')}/s`;
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;

/** Percentile of sorted values (nearest rank). */
function percentile(sorted: ReadonlyArray<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Appends every entry through TransparencyLog.append, at most `window` in flight, each one awaited
 * (an append resolves once its transaction is committed with synchronous=FULL): entries/s.
 */
async function ourAppends(entries: ReadonlyArray<Uint8Array>, key: SigningKey, window: number): Promise<number> {
  const folder = await mkdtemp(join(tmpdir(), 'runprint-bench-log-'));
  try {
    const log = await TransparencyLog.open({ storage: SqliteLog.open(join(folder, 'log.sqlite')), origin: ORIGIN, key });
    let next = 0;
    let done = 0;
    const start = performance.now();
    await new Promise<void>((resolve, reject) => {
      const issue = (): void => {
        const entry = entries[next++]!;
        log.append(entry).then(
          () => {
            done++;
            if (next < entries.length) issue();
            else if (done === entries.length) resolve();
          },
          reject,
        );
      };
      for (let i = 0; i < Math.min(window, entries.length); i++) issue();
    });
    const elapsed = performance.now() - start;
    await log.close();
    return rate(entries.length, elapsed);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** The same rows inserted with bare node:sqlite: same schema and pragmas, hashes computed beforehand. */
async function rawInserts(entries: ReadonlyArray<Uint8Array>, batch: number): Promise<number> {
  const folder = await mkdtemp(join(tmpdir(), 'runprint-bench-raw-'));
  try {
    const path = join(folder, 'log.sqlite');
    await SqliteLog.open(path).close(); // the schema
    const db = new DatabaseSync(path);
    db.exec(SQLITE_PRAGMAS);
    const rows = entries.map((entry) => {
      const leafHash = hashLeaf(entry);
      return [entry, leafHash, leafKeyOf(leafHash)] as const;
    });
    const insert = db.prepare('INSERT INTO entries (idx, entry, leaf_hash, leaf_key, run_id) VALUES (?, ?, ?, ?, ?)');
    const start = performance.now();
    for (let first = 0; first < rows.length; first += batch) {
      db.exec('BEGIN IMMEDIATE');
      for (let i = first; i < Math.min(rows.length, first + batch); i++) insert.run(i, rows[i]![0], rows[i]![1], rows[i]![2], null);
      db.exec('COMMIT');
    }
    const elapsed = performance.now() - start;
    db.close();
    return rate(rows.length, elapsed);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** ratio = our throughput / raw throughput (higher is better, 1.0 = no overhead over bare inserts). */
export async function benchLogAppends(): Promise<BenchResult[]> {
  const key = await newKey();
  const results: BenchResult[] = [];
  const count = Number(process.env.RUNPRINT_BENCH_LOG_APPENDS ?? 300_000);
  for (const bytes of [1024, 64]) {
    const entries = makeEntries(count, bytes);
    const ours: number[] = [];
    const raw: number[] = [];
    for (let pair = 0; pair < 2; pair++) {
      raw.push(await rawInserts(entries, 10_000));
      ours.push(await ourAppends(entries, key, 20_000));
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const candidate = mean(ours);
    const baseline = mean(raw);
    results.push({
      name: `log appends, ${count.toLocaleString('en-US')} entries of ${bytes} B, 20,000 in flight, each awaited (durable), throughput ratio vs raw node:sqlite inserts`,
      ratio: candidate / baseline,
      detail: `${perSecond(candidate)} (runs ${ours.map(perSecond).join(', ')}) vs raw ${perSecond(baseline)}; target ≥ 100,000/s ${candidate >= 100_000 ? 'met' : 'NOT met'}`,
    });
  }
  return results;
}

/**
 * Submits `perSecond` entries a second for `seconds` and times each from its append() call to the
 * moment a signed checkpoint covers it (waitForCheckpoint resolves as soon as the signer stores one).
 * ratio = p99 / the configured checkpoint delay, the floor of a timer-based signer.
 */
export async function benchCheckpointLatency(options: { perSecond?: number; seconds?: number; delayMs?: number } = {}): Promise<BenchResult[]> {
  const perSecondRate = options.perSecond ?? 1000;
  const seconds = options.seconds ?? Number(process.env.RUNPRINT_BENCH_LOG_SECONDS ?? 20);
  const delayMs = options.delayMs ?? 500;
  const key = await newKey();
  const folder = await mkdtemp(join(tmpdir(), 'runprint-bench-log-'));
  try {
    const log = await TransparencyLog.open({ storage: SqliteLog.open(join(folder, 'log.sqlite')), origin: ORIGIN, key, checkpointDelayMs: delayMs });
    const entries = makeEntries(perSecondRate * seconds, 1024, 1);
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const start = performance.now();
    let issued = 0;
    const track = async (entry: Uint8Array): Promise<void> => {
      const t0 = performance.now();
      const { index } = await log.append(entry);
      if (!(await log.waitForCheckpoint(index, 10_000))) throw new Error(`entry ${index} not covered by a checkpoint within 10 s`);
      latencies.push(performance.now() - t0);
    };
    while (issued < entries.length) {
      const due = Math.min(entries.length, Math.floor(((performance.now() - start) / 1000) * perSecondRate));
      while (issued < due) pending.push(track(entries[issued++]!));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(pending);
    const elapsed = performance.now() - start;
    await log.close();
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const max = latencies[latencies.length - 1]!;
    return [
      {
        name: `entry to signed checkpoint at ${perSecondRate.toLocaleString('en-US')} entries/s for ${seconds} s (1 KiB entries, checkpointDelayMs ${delayMs}), p99 time ratio vs the delay`,
        ratio: p99 / delayMs,
        detail: `p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(max)} over ${latencies.length.toLocaleString('en-US')} entries in ${(elapsed / 1000).toFixed(1)} s; target p99 ≤ 1 s ${p99 <= 1000 ? 'met' : 'NOT met'}`,
      },
    ];
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

export async function benchLog(): Promise<BenchResult[]> {
  return [...(await benchLogAppends()), ...(await benchCheckpointLatency())];
}

// ---------------------------------------------------------------- 10 million entries

const CACHE = new URL('./.cache/', import.meta.url).pathname;

/**
 * The 10M-entry log under bench/.cache (gitignored), built once through SqliteLog.append in
 * batches of 100,000 (32-byte entries), then reused: RUNPRINT_BENCH_LOG_REBUILD=1 builds it again.
 */
async function tenMillionLog(size: number): Promise<{ path: string; key: SigningKey; built?: { ms: number } }> {
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `log-${size}.sqlite`);
  const keyPath = join(CACHE, `log-${size}.key`);
  const ready = join(CACHE, `log-${size}.ready`);
  if (existsSync(ready) && process.env.RUNPRINT_BENCH_LOG_REBUILD === undefined) {
    return { path, key: await parsePrivateKey(readFileSync(keyPath, 'utf8')) };
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`, ready]) rmSync(file, { force: true });
  const pem = (await generateKeyFiles(ORIGIN)).privateKeyPem;
  writeFileSync(keyPath, pem);
  const start = performance.now();
  const storage = SqliteLog.open(path);
  const batch = 100_000;
  for (let first = 0; first < size; first += batch) {
    const count = Math.min(batch, size - first);
    const items = makeEntries(count, 32, 2).map((entry, i) => {
      new DataView(entry.buffer).setFloat64(8, first + i);
      return { entry, leafHash: hashLeaf(entry) };
    });
    await storage.append(items);
    if ((first / batch) % 10 === 9) process.stderr.write(`  built ${(first + count).toLocaleString('en-US')} entries in ${((performance.now() - start) / 1000).toFixed(0)} s\n`);
  }
  // Sign the first checkpoint (TransparencyLog.open signs the entries it finds unsigned).
  const log = await TransparencyLog.open({ storage, origin: ORIGIN, key: await parsePrivateKey(pem), check: 'tiles' });
  await log.close();
  writeFileSync(ready, '');
  return { path, key: await parsePrivateKey(pem), built: { ms: performance.now() - start } };
}

/** Summary of sorted timings in ms. */
const spread = (sorted: number[]) => `p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted[sorted.length - 1]!)}`;

/**
 * Inclusion proofs at random indexes of a 10M-entry log, served from storage, against a raw
 * indexed read of one row of the same file (node:sqlite, prepared statement): p99 time ratio.
 */
export async function benchLog10m(): Promise<BenchResult[]> {
  const size = Number(process.env.RUNPRINT_BENCH_LOG_SIZE ?? 10_000_000);
  const proofs = 10_000;
  const results: BenchResult[] = [];
  const { path, key, built } = await tenMillionLog(size);
  if (built !== undefined) {
    results.push({ name: `build a ${size.toLocaleString('en-US')}-entry log through SqliteLog.append (32 B entries, batches of 100,000), throughput (no baseline: setup)`, ratio: 1, detail: `${(built.ms / 1000).toFixed(0)} s, ${perSecond(rate(size, built.ms))}` });
  }

  // Opening: the full check (every hash recomputed) and the tiles check.
  for (const check of ['tiles', 'full'] as const) {
    if (check === 'full' && process.env.RUNPRINT_BENCH_LOG_FULL_CHECK === '0') continue;
    const start = performance.now();
    const log = await TransparencyLog.open({ storage: SqliteLog.open(path), origin: ORIGIN, key, check });
    const elapsed = performance.now() - start;
    await log.close();
    results.push({ name: `open a ${size.toLocaleString('en-US')}-entry log, check "${check}" (time; no baseline)`, ratio: 1, detail: ms(elapsed) });
  }

  const log = await TransparencyLog.open({ storage: SqliteLog.open(path), origin: ORIGIN, key, check: 'tiles' });
  try {
    const checkpoint = await log.checkpoint();
    const treeSize = checkpoint.size;
    const indexes = Array.from({ length: proofs }, () => Math.floor(Math.random() * treeSize));

    // Baseline: one indexed row read from the same file.
    const db = new DatabaseSync(path, { readOnly: true });
    const read = db.prepare('SELECT leaf_hash FROM entries WHERE idx = ?');
    const raw: number[] = [];
    for (const index of indexes) {
      const t0 = performance.now();
      read.get(index);
      raw.push(performance.now() - t0);
    }
    db.close();

    const direct: number[] = [];
    const answers: Array<{ leafHash: Uint8Array; proof: Uint8Array[] }> = [];
    for (const index of indexes) {
      const t0 = performance.now();
      answers.push(await log.inclusionProof(index, treeSize));
      direct.push(performance.now() - t0);
    }
    // Every proof is checked against the signed root, after the timing.
    const { rootHash } = await rootOf(log);
    for (const [i, { leafHash, proof }] of answers.entries()) {
      if (!verifyInclusion(leafHash, indexes[i]!, treeSize, proof, rootHash)) throw new Error(`proof of ${indexes[i]} does not verify`);
    }
    const app = createApp({ log: { log, token: 'bench-token-0123456789' } });
    const http: number[] = [];
    for (const index of indexes) {
      const t0 = performance.now();
      const response = await app.request(`/v1/log/proof?index=${index}&size=${treeSize}`);
      await response.arrayBuffer();
      http.push(performance.now() - t0);
      if (response.status !== 200) throw new Error(`GET /v1/log/proof: ${response.status}`);
    }
    raw.sort((a, b) => a - b);
    direct.sort((a, b) => a - b);
    http.sort((a, b) => a - b);
    const met = (sorted: number[]) => (percentile(sorted, 99) <= 1 ? 'met' : 'NOT met');
    results.push({
      name: `inclusion proof at ${proofs.toLocaleString('en-US')} random indexes of ${treeSize.toLocaleString('en-US')} entries, TransparencyLog.inclusionProof, p99 time ratio vs one raw indexed row read`,
      ratio: percentile(direct, 99) / percentile(raw, 99),
      detail: `${spread(direct)} vs raw read ${spread(raw)}; all proofs verified against the signed root; target p99 ≤ 1 ms ${met(direct)}`,
    });
    results.push({
      name: 'the same through GET /v1/log/proof (createApp().request, JSON response), p99 time ratio vs one raw indexed row read',
      ratio: percentile(http, 99) / percentile(raw, 99),
      detail: `${spread(http)}; target p99 ≤ 1 ms ${met(http)}`,
    });
  } finally {
    await log.close();
  }
  return results;
}

async function rootOf(log: TransparencyLog): Promise<{ rootHash: Uint8Array }> {
  const { note } = await log.checkpoint();
  const lines = note.split('\n');
  return { rootHash: new Uint8Array(Buffer.from(lines[2]!, 'base64')) };
}
