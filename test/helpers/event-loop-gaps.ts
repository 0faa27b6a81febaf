/**
 * The gaps between serve's /healthz answers, in wall time and in the CPU time serve's main thread
 * spent in them (Linux: /proc/PID/task/PID/schedstat), so that a loaded machine, which lengthens
 * every gap in wall time, does not make a test fail, nor a fast one make it pass. Each test keeps
 * its own bound on them.
 *
 * They are measured by a process of their own (pollGaps), which does nothing else: a test's own
 * process, sending or reading 10 MB at the time, was late to ask again, and a gap then summed
 * serve's CPU over several of its turns, each short (60 ms at most against 130 to 240 ms
 * measured, on a 2-core machine).
 */
import { spawn } from 'node:child_process';

/** The gaps between /healthz answers: wall time and serve's main thread's CPU time (undefined: not known here). */
export type Gaps = Array<{ wallMs: number; cpuMs: number | undefined }>;

/** The longest of the gaps by `of` (a gap whose measure is not known counts as 0), rounded to the ms. */
export function longestGap(gaps: Gaps, of: (gap: Gaps[number]) => number | undefined): number {
  return Math.round(Math.max(...gaps.map((gap) => of(gap) ?? 0)));
}

/**
 * The poller pollGaps runs: /healthz of argv[1] every 10 ms, the gap since the answer before
 * (the first: since it started) added at each answer, until stdin ends or, with argv[3] >= 0,
 * until serve has signed that many receipts; then the gaps as JSON on stdout. A status other than
 * 200 ends it with exit code 1.
 */
const POLLER = `
import { readFileSync } from 'node:fs';
const [base, pidText, signedText] = process.argv.slice(1);
const pid = Number(pidText);
const signed = Number(signedText);
const cpuOf = () => { try { return Number(readFileSync('/proc/' + pid + '/task/' + pid + '/schedstat', 'utf8').split(' ')[0]) / 1e6; } catch { return undefined; } };
let stopped = false;
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => (stopped = true));
const gaps = [];
let wall = performance.now();
let cpu = cpuOf();
for (;;) {
  const health = await fetch(base + '/healthz');
  const body = await health.json();
  if (health.status !== 200) process.exit(1);
  const nowWall = performance.now();
  const nowCpu = cpuOf();
  gaps.push({ wallMs: nowWall - wall, cpuMs: cpu === undefined || nowCpu === undefined ? null : nowCpu - cpu });
  wall = nowWall;
  cpu = nowCpu;
  if (gaps.length === 1) process.stdout.write('ready\\n');
  if (stopped || (signed >= 0 && body.capture.signed >= signed)) break;
  await new Promise((resolve) => setTimeout(resolve, 10));
}
process.stdout.write(JSON.stringify(gaps) + '\\n');
process.exit(0);
`;

/**
 * Starts measuring the gaps of serve `pid` at `base` from a process of its own (POLLER), and
 * resolves once it has had its first /healthz answer. `done()`: the gaps, once serve has signed
 * `signed` receipts (given) or at its next answer (not given).
 */
export async function pollGaps(base: string, pid: number, signed?: number): Promise<{ done(): Promise<Gaps>; stop(): void }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', POLLER, base, String(pid), String(signed ?? -1)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Polling before the caller goes on: what it measures starts after the poller's own start.
  await Promise.race([new Promise<void>((resolve) => child.stdout.on('data', () => out.startsWith('ready\n') && resolve())), exited]);
  const gapsOfPoller = async (): Promise<Gaps> => {
    const code = await exited;
    if (code !== 0) throw new Error(`the /healthz poller ended with ${code}: ${err}`);
    return (JSON.parse(out.slice('ready\n'.length)) as Array<{ wallMs: number; cpuMs: number | null }>).map((gap) => ({ wallMs: gap.wallMs, cpuMs: gap.cpuMs ?? undefined }));
  };
  return {
    done: () => {
      if (signed === undefined) child.stdin.end();
      return gapsOfPoller();
    },
    /** Ends the poller where it still runs (a test that failed before done). */
    stop: () => void (child.exitCode === null && child.signalCode === null && child.kill()),
  };
}
