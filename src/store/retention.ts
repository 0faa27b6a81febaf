/**
 * The retention period of captured content (serve's --capture-retention, runprintFetch's
 * `retention`): a sweep at start and every hour deletes the content of the runs that ended more
 * than so many days ago, through the recorder (RunRecorder.expire, which forgets the content it
 * remembered as stored); records, digests and receipts stay (docs/CAPTURE.md, "The run store").
 */
import type { RunRecorder } from './run-recorder.ts';

/** The shortest and longest retention, in days. */
export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 99_999;
/** How often the sweep runs after the one at start. */
export const RETENTION_SWEEP_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** How --capture-retention and RUNPRINT_CAPTURE_RETENTION say what they take. */
export const RETENTION_FORM = `a number of days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}`;

/** The days a --capture-retention (or RUNPRINT_CAPTURE_RETENTION) value gives: its digits, from 1 to 99999; undefined for any other text. */
export function retentionDaysOf(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const days = Number(text);
  return days >= MIN_RETENTION_DAYS ? days : undefined;
}

/** True for a number of days a retention may be: a whole number from 1 to 99999. */
export function isRetentionDays(days: number): boolean {
  return Number.isInteger(days) && days >= MIN_RETENTION_DAYS && days <= MAX_RETENTION_DAYS;
}

export interface RetentionSweep {
  /** No sweep starts after this; resolves once the one running (if any) has ended. */
  stop(): Promise<void>;
}

/**
 * Sweeps now and every `everyMs` (default an hour): deletes the content of runs that ended more
 * than `days` days before `now()` (default Date.now). One sweep at a time; its failures go to
 * `onError` (the next sweep tries again). The timer does not keep the process alive.
 */
export function sweepRetention(recorder: Pick<RunRecorder, 'expire'>, days: number, onError: (error: unknown) => void, options: { now?: () => number; everyMs?: number } = {}): RetentionSweep {
  const now = options.now ?? Date.now;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const sweep = () => {
    if (stopped) return;
    let before: string;
    try {
      before = new Date(now() - days * DAY_MS).toISOString();
    } catch (error) {
      // A clock that gives no time (NaN): reported, and tried again at the next sweep.
      try {
        onError(error);
      } catch {
        // As below.
      }
      return;
    }
    running = running.then(() =>
      stopped
        ? undefined
        : recorder.expire(before).then(
            () => undefined,
            (error: unknown) => {
              try {
                onError(error);
              } catch {
                // Reporting must not fail the sweeps.
              }
            },
          ),
    );
  };
  sweep();
  const timer = setInterval(sweep, options.everyMs ?? RETENTION_SWEEP_MS);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      return running;
    },
  };
}
