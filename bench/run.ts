/** `npm run bench`: every benchmark, each a ratio against a baseline measured in the same run. */
import { cpus, totalmem } from 'node:os';
import { benchIdentity } from './identity.ts';
import type { BenchResult } from './measure.ts';

const only = process.argv.slice(2);
const wanted = (name: string) => only.length === 0 || only.includes(name);

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
process.stdout.write(`runprint benchmarks on ${machine}\n`);
process.stdout.write('each line says which way its ratio reads: "time ratio" = runprint time / baseline time (lower is better);\n"speed-up" and "throughput ratio" = baseline time / runprint time (higher is better)\n\n');

const groups: Array<[string, () => Promise<BenchResult[]>]> = [
  ['identity', benchIdentity],
  ['startup', async () => (await import('./startup.ts')).benchStartup()],
  ['jcs', async () => (await import('./jcs.ts')).benchJcs()],
  ['receipt', async () => (await import('./receipt.ts')).benchReceipt()],
  ['model-digest', async () => (await import('./model-digest.ts')).benchModelDigest()],
  ['log', async () => (await import('./log.ts')).benchLog()],
  ['http', async () => (await import('./http.ts')).benchHttp()],
  ['capture', async () => (await import('./capture.ts')).benchCapture()],
  ['proxy', async () => (await import('./proxy.ts')).benchProxy()],
  ['replay', async () => (await import('./replay.ts')).benchReplay()],
];
// Run only when named. log-10m builds (once, cached in bench/.cache/) and opens a 10-million-entry
// log: about 7 minutes the first time, 2 minutes after (RUNPRINT_BENCH_LOG_FULL_CHECK=0 skips the
// full check at open). runs-1m builds (once, cached there too) a 1,000,000-run store and times the
// runs list's filtered pages and counts (bench/runs-1m.ts). retention builds (once, cached there too) a
// 150,000-run store and expires half of it while puts go on (bench/retention.ts). proxy-soak captures 20 KB calls through one serve for
// 10 minutes (RUNPRINT_BENCH_SOAK_MINUTES) and reads its memory every 30 s. log-postgres needs a PostgreSQL server (RUNPRINT_BENCH_PG, see log-postgres.ts).
const namedOnly: Array<[string, () => Promise<BenchResult[]>]> = [
  ['log-10m', async () => (await import('./log.ts')).benchLog10m()],
  ['log-postgres', async () => (await (await import('./log-postgres.ts')).benchPostgresAppends()).results],
  ['runs-1m', async () => (await import('./runs-1m.ts')).benchRuns1m()],
  ['retention', async () => (await import('./retention.ts')).benchRetention()],
  ['proxy-soak', async () => (await import('./proxy.ts')).benchProxySoak()],
];

for (const [name, run] of [...groups, ...namedOnly.filter(([name]) => only.includes(name))]) {
  if (!wanted(name)) continue;
  for (const result of await run()) {
    process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
  }
}
