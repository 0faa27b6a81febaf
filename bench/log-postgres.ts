/**
 * Benchmark of the log on PostgreSQL (issue 4, section 3): sustained acknowledged appends per
 * second through TransparencyLog, many appends in flight, against the same load on SQLite in the
 * same run. The database is RUNPRINT_BENCH_PG (default postgres://postgres@127.0.0.1:5432/test);
 * each run uses a fresh schema and drops it after. Run alone: `node bench/log-postgres.ts`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { generateKeyFiles, parsePrivateKey } from '../src/keys/keys.ts';
import { TransparencyLog } from '../src/store/log-service.ts';
import { PostgresLog } from '../src/store/postgres-log.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import type { LogStorage } from '../src/store/storage.ts';
import type { BenchResult } from './measure.ts';

const ORIGIN = 'bench.example/runprint-log';

export interface AppendRun {
  storage: string;
  entries: number;
  entryBytes: number;
  inFlight: number;
  seconds: number;
  appendsPerSecond: number;
  /** Milliseconds from append to acknowledgement: median and 99th percentile. */
  latencyMs: { p50: number; p99: number };
}

export interface PostgresAppendBench {
  postgres: AppendRun;
  sqlite: AppendRun;
  /** For `npm run bench`: PostgreSQL throughput / SQLite throughput (higher is better). */
  results: BenchResult[];
}

/**
 * Appends `entries` distinct entries of `entryBytes` bytes, keeping `inFlight` appends outstanding,
 * and times the first append to the last acknowledgement (acknowledged: committed durably).
 */
async function run(storage: LogStorage, options: { entries: number; entryBytes: number; inFlight: number }): Promise<AppendRun> {
  const key = await parsePrivateKey((await generateKeyFiles(ORIGIN)).privateKeyPem);
  const log = await TransparencyLog.open({ storage, origin: ORIGIN, key });
  const seed = randomBytes(16);
  const make = (n: number): Uint8Array => {
    const entry = new Uint8Array(options.entryBytes);
    entry.set(seed);
    new DataView(entry.buffer).setUint32(16, n);
    return entry;
  };
  const latencies = new Float64Array(options.entries);
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < options.entries) {
      const n = next++;
      const began = performance.now();
      const stored = await log.append(make(n));
      if (!stored.created) throw new Error('benchmark entries are distinct');
      latencies[n] = performance.now() - began;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.inFlight }, worker));
    const seconds = (performance.now() - start) / 1000;
    latencies.sort();
    const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
    return {
      storage: storage.kind,
      ...options,
      seconds,
      appendsPerSecond: options.entries / seconds,
      latencyMs: { p50: at(0.5), p99: at(0.99) },
    };
  } finally {
    await log.close();
  }
}

/**
 * 100,000 entries of 1 KiB with 10,000 appends in flight, on PostgreSQL (synchronous_commit as
 * the server has it, on by default) and on SQLite (synchronous=FULL) in a temporary directory.
 */
export async function benchPostgresAppends(options: { entries?: number; entryBytes?: number; inFlight?: number; url?: string } = {}): Promise<PostgresAppendBench> {
  const load = { entries: options.entries ?? 100_000, entryBytes: options.entryBytes ?? 1024, inFlight: options.inFlight ?? 10_000 };
  const base = options.url ?? process.env['RUNPRINT_BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `runprint_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  let postgres: AppendRun;
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    postgres = await run(await PostgresLog.open(url.toString()), load);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
  }
  const folder = await mkdtemp(join(tmpdir(), 'runprint-bench-'));
  let sqlite: AppendRun;
  try {
    sqlite = await run(SqliteLog.open(join(folder, 'log.sqlite')), load);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  const describe = (r: AppendRun) => `${Math.round(r.appendsPerSecond).toLocaleString('en-US')}/s, ack p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms`;
  return {
    postgres,
    sqlite,
    results: [
      {
        name: `log appends on PostgreSQL vs SQLite (${load.entries.toLocaleString('en-US')} × ${load.entryBytes} B, ${load.inFlight.toLocaleString('en-US')} in flight), throughput ratio`,
        ratio: postgres.appendsPerSecond / sqlite.appendsPerSecond,
        detail: `PostgreSQL ${describe(postgres)}; SQLite ${describe(sqlite)}`,
      },
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchPostgresAppends();
  process.stdout.write(`${JSON.stringify({ postgres: result.postgres, sqlite: result.sqlite }, null, 2)}\n`);
  for (const line of result.results) process.stdout.write(`${line.ratio.toFixed(2).padStart(6)}x  ${line.name}  (${line.detail})\n`);
}
