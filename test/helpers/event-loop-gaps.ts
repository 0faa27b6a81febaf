/**
 * The gaps between serve's /healthz answers, in wall time and in the CPU time serve's main thread
 * spent in them (Linux: /proc/PID/task/PID/schedstat), so that a loaded machine, which lengthens
 * every gap in wall time, does not make a test fail, nor a fast one make it pass. Each test keeps
 * its own bound on them.
 */
import { readFileSync } from 'node:fs';

/** serve's main thread's CPU time so far (ms), or undefined where the kernel does not say (not Linux). */
export function mainThreadCpu(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** The gaps between /healthz answers: wall time and serve's main thread's CPU time (undefined: not known here). */
export type Gaps = Array<{ wallMs: number; cpuMs: number | undefined }>;

/**
 * The gaps of serve `pid`, measured from now: `answered()` as each /healthz answer comes adds the
 * gap since the one before (the first: since now).
 */
export function gapsOf(pid: number): { gaps: Gaps; answered: () => void } {
  const gaps: Gaps = [];
  let wall = performance.now();
  let cpu = mainThreadCpu(pid);
  const answered = (): void => {
    const nowWall = performance.now();
    const nowCpu = mainThreadCpu(pid);
    gaps.push({ wallMs: nowWall - wall, cpuMs: cpu === undefined || nowCpu === undefined ? undefined : nowCpu - cpu });
    wall = nowWall;
    cpu = nowCpu;
  };
  return { gaps, answered };
}

/** The longest of the gaps by `of` (a gap whose measure is not known counts as 0), rounded to the ms. */
export function longestGap(gaps: Gaps, of: (gap: Gaps[number]) => number | undefined): number {
  return Math.round(Math.max(...gaps.map((gap) => of(gap) ?? 0)));
}
