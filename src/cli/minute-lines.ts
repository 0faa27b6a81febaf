/**
 * serve's lines about things it counts rather than reports one by one (load shed, connections
 * refused, upstreams unreachable): the first is printed at once, the others counted into one line
 * a minute after the line before, which says since when (UTC, to the second: the first thing it
 * counts); no line while nothing is counted. `flush` prints what is counted (at a stop).
 */

/** A counted line at most this often. */
export const LINE_EVERY_MS = 60_000;

export interface MinuteLine {
  /** Call after counting one more (`at`: when, by `clock`, default now). */
  counted(at?: number): void;
  /** Prints the line of what is counted since the last one, if anything is. */
  flush(): void;
}

/**
 * Times the lines; `print` writes one from what its caller counted, given since when (ISO 8601 to
 * the second), and clears its counts. `now` is monotonic (ms), `clock` the wall clock (ms).
 */
export function minuteLine(print: (since: string) => void, now: () => number = () => performance.now(), clock: () => number = () => Date.now()): MinuteLine {
  let lineAt = -Infinity;
  let since: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (since === undefined) return;
    const when = new Date(since).toISOString().replace(/\.[0-9]{3}Z$/, 'Z');
    since = undefined;
    print(when);
    lineAt = now();
  };
  return {
    counted(at) {
      since ??= at ?? clock();
      const time = now();
      if (time - lineAt >= LINE_EVERY_MS) return flush();
      if (timer !== undefined) return;
      timer = setTimeout(flush, lineAt + LINE_EVERY_MS - time);
      timer.unref();
    },
    flush,
  };
}
