/** A small timing harness: warm up, then the median of several rounds, in nanoseconds per operation. */

/** One line of `npm run bench`. */
export interface BenchResult {
  name: string;
  ratio: number;
  detail: string;
}

/**
 * The nominal composition sizes of the identity and canonical JSON benchmarks. The fixtures grow
 * whole elements until their JSON text has at least this many characters, so the real sizes are
 * larger (the "2 KB" composition is 3,023 characters, 3,746 bytes of UTF-8); each line prints its own.
 */
export const SIZES: ReadonlyArray<readonly [label: string, bytes: number]> = [
  ['2 KB', 2_000],
  ['20 KB', 20_000],
  ['200 KB', 200_000],
];

/** Nanoseconds as microseconds with one decimal. */
export const us = (ns: number): string => `${(ns / 1000).toFixed(1)} µs`;

export interface Measurement {
  nsPerOp: number;
  rounds: number;
}

/**
 * Runs `fn` in rounds of at least `roundMs` each (after one warm-up round) and returns the median
 * time per call. Results are kept in a sink so the engine cannot drop the work.
 */
export function measure(fn: () => unknown, options: { rounds?: number; roundMs?: number } = {}): Measurement {
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 150;
  let sink = 0;
  const perOp: number[] = [];
  let batch = 1;
  for (let round = -1; round < rounds; round++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < roundMs * 1e6) {
      for (let i = 0; i < batch; i++) {
        const result = fn();
        if (result !== undefined) sink++;
      }
      calls += batch;
      elapsed = Number(process.hrtime.bigint() - start);
      if (elapsed < 1e6) batch *= 2;
    }
    if (round >= 0) perOp.push(elapsed / calls);
  }
  perOp.sort((a, b) => a - b);
  if (sink < 0) throw new Error('unreachable');
  return { nsPerOp: perOp[Math.floor(perOp.length / 2)]!, rounds };
}

/** Measures two functions in alternation so drift in machine load affects both alike. */
export function compare(
  candidate: () => unknown,
  baseline: () => unknown,
  options: { pairs?: number; roundMs?: number } = {},
): { candidate: number; baseline: number; ratio: number } {
  const pairs = options.pairs ?? 5;
  const c: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < pairs; i++) {
    b.push(measure(baseline, { rounds: 1, roundMs: options.roundMs ?? 200 }).nsPerOp);
    c.push(measure(candidate, { rounds: 1, roundMs: options.roundMs ?? 200 }).nsPerOp);
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  const candidateNs = median(c);
  const baselineNs = median(b);
  return { candidate: candidateNs, baseline: baselineNs, ratio: candidateNs / baselineNs };
}
