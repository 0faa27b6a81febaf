/** Parent runs through async context (Node's AsyncLocalStorage), for captureFetch's `parents` option. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isRunId } from '../capture/capture-run.ts';

const storage = new AsyncLocalStorage<readonly string[]>();

/**
 * Runs `fn` with `runIds` as the parents of every run captured inside it, across awaits and
 * callbacks; nested calls replace the outer parents (an agent step follows from the step that
 * called it). A value that is not a run identity is a programmer error (TypeError).
 */
export function withParent<T>(runIds: string | readonly string[], fn: () => T): T {
  const list = typeof runIds === 'string' ? [runIds] : [...runIds];
  if (!list.every(isRunId)) throw new TypeError('a parent must be a run identity (rp-run-...)');
  return storage.run(Object.freeze(list), fn);
}

/** The parents in the current async context: pass as `captureFetch(fetch, { parents: currentParents, ... })`. */
export function currentParents(): readonly string[] {
  return storage.getStore() ?? [];
}
