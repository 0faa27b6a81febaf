/**
 * serve's account of the calls its proxy answers 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE or 504
 * ERR_CAPTURE_UPSTREAM_TIMEOUT: an upstream that is down, hangs, or a --upstream URL that points
 * nowhere, is otherwise seen only by the clients. /healthz counts them since start by upstream (`capture.upstreams`), and stderr has them
 * the way the shed and refused-connections lines have theirs: never a line per call.
 */
import type { RunprintError } from '../errors.ts';
import { minuteLine } from './minute-lines.ts';

/** The answers a line counts, in the order it names them. */
const ANSWERS = new Map([
  ['ERR_CAPTURE_UPSTREAM_UNREACHABLE', '502 ERR_CAPTURE_UPSTREAM_UNREACHABLE'],
  ['ERR_CAPTURE_UPSTREAM_TIMEOUT', '504 ERR_CAPTURE_UPSTREAM_TIMEOUT'],
]);

/** Most causes a line names one by one; the others are counted together. */
const MAX_CAUSES = 8;

/** Most characters of a cause a line shows (an upstream chooses part of it: a content coding it names). */
const MAX_CAUSE_CHARS = 200;

/** What /healthz says of one upstream: the 502s and 504s since start for it, and the last one's message and time. */
export interface UpstreamFailures {
  /** 502 ERR_CAPTURE_UPSTREAM_UNREACHABLE: no usable answer. */
  unreachable: number;
  /** 504 ERR_CAPTURE_UPSTREAM_TIMEOUT: nothing sent for the idle limit before the answer's first byte. */
  timedOut: number;
  /** The last 502's or 504's message (what the client was told; its first 200 characters), null before one. */
  last: string | null;
  /** When it was answered (UTC, ISO 8601), null before one. */
  lastAt: string | null;
}

export interface UpstreamFailureReporter {
  /** Told by the proxy's onUpstreamFailure: the upstream's name and the 502 or 504 its client got. */
  report(upstream: string, error: RunprintError): void;
  /** Prints what is counted since the last line, if any (at a stop: its count is not lost). */
  flush(): void;
  /** /healthz's `capture.upstreams`: every upstream the proxy forwards to, by name. */
  counts(): { [upstream: string]: UpstreamFailures };
}

/**
 * Counts the proxy's 502s and 504s by upstream since start, for /healthz, and reports them on stderr: the
 * first at once with its message (which names the upstream and the cause, never a credential or
 * anything of the request), the others counted by message, which is by upstream and cause, in one
 * line a minute after the line before, which says since when (UTC, to the second: the first call
 * it counts); no line when none failed. `flush` prints what is counted at a stop. `names`: the
 * upstreams the proxy forwards to.
 */
export function upstreamFailureReporter(
  write: (text: string) => void,
  names: readonly string[],
  now: () => number = () => performance.now(),
  clock: () => number = () => Date.now(),
): UpstreamFailureReporter {
  const fresh = (): UpstreamFailures => ({ unreachable: 0, timedOut: 0, last: null, lastAt: null });
  const totals = new Map<string, UpstreamFailures>(names.map((name) => [name, fresh()]));
  /** Since the line before: the calls by message, those past MAX_CAUSES messages, and how many in all. */
  const causes = new Map<string, number>();
  let others = 0;
  let count = 0;
  /** The answers counted since the line before, by kind. */
  const kinds = new Set<string>();
  const line = minuteLine((since) => {
    const parts = [...causes].map(([message, n]) => `${n} with ${JSON.stringify(message)}`);
    if (others > 0) parts.push(`${others} with other causes`);
    const answered = [...ANSWERS].filter(([code]) => kinds.has(code)).map(([, words]) => words).join(' or ');
    write(`runprint: the proxy answered ${count} call${count === 1 ? '' : 's'} with ${answered} since ${since}: ${parts.join('; ')}; /healthz capture.upstreams counts them since start\n`);
    causes.clear();
    kinds.clear();
    others = 0;
    count = 0;
  }, now, clock);
  return {
    report(upstream, error) {
      const at = clock();
      const cause = error.message.length > MAX_CAUSE_CHARS ? `${error.message.slice(0, MAX_CAUSE_CHARS)}...` : error.message;
      const total = totals.get(upstream) ?? fresh();
      if (error.code === 'ERR_CAPTURE_UPSTREAM_TIMEOUT') total.timedOut += 1;
      else total.unreachable += 1;
      kinds.add(error.code === 'ERR_CAPTURE_UPSTREAM_TIMEOUT' ? error.code : 'ERR_CAPTURE_UPSTREAM_UNREACHABLE');
      total.last = cause;
      total.lastAt = new Date(at).toISOString();
      totals.set(upstream, total);
      count += 1;
      const seen = causes.get(cause);
      if (seen !== undefined) causes.set(cause, seen + 1);
      else if (causes.size < MAX_CAUSES) causes.set(cause, 1);
      else others += 1;
      line.counted(at);
    },
    flush: line.flush,
    counts: () => Object.fromEntries([...totals].map(([name, total]) => [name, { ...total }])),
  };
}
