/**
 * Parent runs through async context (Node's AsyncLocalStorage), for captureFetch's `parents` option:
 * named by hand (withParent), or linked step by step (withSteps).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isRunId } from '../capture/capture-run.ts';
import { fixedLinks, parentsNow, Steps, type Link } from '../capture/steps.ts';
import { wrongType, wrongValue } from './misuse.ts';

type Frame = { readonly parents: readonly string[] } | { readonly steps: Steps };

const storage = new AsyncLocalStorage<Frame>();

/**
 * Runs `fn` with `runIds` as the parents of every run captured inside it, across awaits and
 * callbacks; nested calls replace the outer parents (an agent step follows from the step that
 * called it). null or undefined names no parent: `fn` runs in the context around it, as if
 * called directly, so its calls follow from what they would have followed from (the parents of
 * an outer withParent or withSteps, else none): a failed call (its record's runId is null), or
 * one runOf gave no record of, links nothing, and the step after it is linked as the failed one
 * was. A value that is not a run identity, or an `fn` that is not a function, is a programmer
 * error (TypeError with `code` ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE).
 */
export function withParent<T>(runIds: string | readonly string[] | null | undefined, fn: () => T): T {
  let list: unknown[] | null;
  if (runIds === null || runIds === undefined) list = null;
  else if (typeof runIds === 'string') list = [runIds];
  else if (typeof runIds === 'object' && typeof (runIds as Iterable<unknown>)[Symbol.iterator] === 'function') list = [...(runIds as Iterable<unknown>)];
  else throw wrongType(`withParent: a parent must be a run identity (rp-run-...), or an array of them, or null for none, not ${typeof runIds}`);
  if (list !== null && !list.every(isRunId)) throw wrongValue('withParent: a parent must be a run identity (rp-run-...)');
  if (typeof fn !== 'function') throw wrongType('withParent: the callback must be a function');
  return list === null ? fn() : storage.run({ parents: Object.freeze(list as string[]) }, fn);
}

/**
 * Runs `fn` as the steps of one agent (capture/steps.ts): every call captured inside it (across
 * awaits and callbacks) follows from the runs of the calls that ended inside it since the last
 * call started, so a tool loop (an SDK's or the application's) is linked step by step without
 * naming run identities. The first call follows from the parents around withSteps (withParent's,
 * or an outer withSteps' next ones). Calls started together follow from the same runs; the call
 * after them follows from all that ended. A call that ended without a run identity (failed,
 * aborted) stands for what it followed from: a retry follows from what the failed attempt followed
 * from. A withParent or withSteps inside `fn`, or a call's own `runprint-steps` header, names its
 * own calls' parents, and those calls are not steps of this one.
 */
export function withSteps<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw wrongType('withSteps: the callback must be a function');
  return storage.run({ steps: new Steps(contextLinks()) }, fn);
}

/** What a call in the current async context would follow from, as links (nothing taken). */
function contextLinks(): readonly Link[] {
  const frame = storage.getStore();
  if (frame === undefined) return [];
  return 'steps' in frame ? frame.steps.peek() : fixedLinks(frame.parents);
}

/**
 * The parents in the current async context: pass as `captureFetch(fetch, { parents: currentParents, ... })`.
 * Inside withSteps, what the next call would follow from (nothing taken), of the runs whose
 * records are made.
 */
export function currentParents(): readonly string[] {
  const frame = storage.getStore();
  if (frame === undefined) return [];
  if (!('steps' in frame)) return frame.parents;
  const links = frame.steps.peek();
  return parentsNow(links) ?? parentsNow(links.filter((link) => link.ids !== undefined))!;
}

/** The steps of the innermost withSteps around the current async context, when it is the innermost context: pass as `captureFetch(fetch, { steps: currentSteps, ... })`. */
export function currentSteps(): Steps | undefined {
  const frame = storage.getStore();
  return frame !== undefined && 'steps' in frame ? frame.steps : undefined;
}
