/** Parent runs through async context (Node's AsyncLocalStorage), for captureFetch's `parents` option. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isRunId } from '../capture/capture-run.ts';
import { wrongType, wrongValue } from './misuse.ts';

const storage = new AsyncLocalStorage<readonly string[]>();

/**
 * Runs `fn` with `runIds` as the parents of every run captured inside it, across awaits and
 * callbacks; nested calls replace the outer parents (an agent step follows from the step that
 * called it). A value that is not a run identity, or an `fn` that is not a function, is a
 * programmer error (TypeError with `code` ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE).
 */
export function withParent<T>(runIds: string | readonly string[], fn: () => T): T {
  let list: unknown[];
  if (typeof runIds === 'string') list = [runIds];
  else if (typeof runIds === 'object' && runIds !== null && typeof (runIds as Iterable<unknown>)[Symbol.iterator] === 'function') list = [...(runIds as Iterable<unknown>)];
  else throw wrongType(`withParent: a parent must be a run identity (rp-run-...), or an array of them, not ${runIds === null ? 'null (a failed, aborted or timed-out call has no run identity: its record\'s runId is null)' : typeof runIds}`);
  if (!list.every(isRunId)) throw wrongValue('withParent: a parent must be a run identity (rp-run-...)');
  if (typeof fn !== 'function') throw wrongType('withParent: the callback must be a function');
  return storage.run(Object.freeze(list as string[]), fn);
}

/** The parents in the current async context: pass as `captureFetch(fetch, { parents: currentParents, ... })`. */
export function currentParents(): readonly string[] {
  return storage.getStore() ?? [];
}
