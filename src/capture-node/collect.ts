/**
 * The records of the calls made inside a function, through async context (Node's
 * AsyncLocalStorage), whatever SDK made them: runprintFetch's `collect`. For clients that do not
 * show an answer's headers (LangChain's ChatOpenAI and ChatAnthropic), so `runprint-capture-id`
 * and runOf are out of reach.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RunRecord } from '../capture/run-record.ts';
import { wrongType } from './misuse.ts';

/** What `collect` resolves with: what `fn` gave, and the records of the calls made inside it. */
export interface Collected<T> {
  readonly value: T;
  /** The records of the calls started inside `fn`, in the order they started (see collectRuns). */
  readonly runs: RunRecord[];
}

/** One call started inside a collect: its record once made. */
export interface CollectedCall {
  record: RunRecord | null;
}

/** One collect under way: the fetch it is of, and its calls. */
interface Collector {
  readonly owner: object;
  readonly calls: CollectedCall[];
  open: boolean;
}

const storage = new AsyncLocalStorage<readonly Collector[]>();

/**
 * A call of `owner` starts, in its caller's async context: the collects of `owner` around it
 * (nested ones too) note it. What it returns is given its record once that is made
 * (recordCollected); undefined outside any.
 */
export function callStarted(owner: object): CollectedCall | undefined {
  const collectors = storage.getStore();
  if (collectors === undefined) return undefined;
  let call: CollectedCall | undefined;
  for (const collector of collectors) {
    if (collector.owner !== owner || !collector.open) continue;
    call ??= { record: null };
    collector.calls.push(call);
  }
  return call;
}

/** A call's record is made: the collects that noted it list it. */
export function recordCollected(call: CollectedCall | undefined, record: RunRecord): void {
  if (call !== undefined) call.record = record;
}

/**
 * Runs `fn` and resolves with its value and the records of the calls `owner` captured that
 * started inside it (across awaits and callbacks), once `fn` has settled and `settle` has
 * resolved (the records still to come of answers that ended inside `fn`, with async durability).
 * A call whose record is not made by then (an answer `fn` did not read to its end, a call that
 * could not be recorded) is not listed; nor is a call started after. `fn`'s error rejects it, as
 * `fn` threw it. An `fn` that is not a function is a programmer error thrown at once (TypeError,
 * ERR_INVALID_ARG_TYPE).
 */
export function collectRuns<T>(owner: object, fn: () => T, settle: () => Promise<void>): Promise<Collected<Awaited<T>>> {
  if (typeof fn !== 'function') throw wrongType('collect: the callback must be a function');
  const collector: Collector = { owner, calls: [], open: true };
  const done = () => {
    collector.open = false;
  };
  let result: T;
  try {
    result = storage.run([...(storage.getStore() ?? []), collector], fn);
  } catch (error) {
    done();
    return Promise.reject(error);
  }
  return Promise.resolve(result).then(
    async (value) => {
      await settle();
      done();
      return { value, runs: collector.calls.flatMap((call) => (call.record === null ? [] : [call.record])) };
    },
    (error: unknown) => {
      done();
      throw error;
    },
  );
}
