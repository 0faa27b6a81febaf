/** Declared retrieval through async context (Node's AsyncLocalStorage), for captureFetch's `retrieval` option. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { declaredArgument } from '../capture/declared.ts';
import type { DeclaredDocument } from '../capture/run-record.ts';
import { wrongType } from './misuse.ts';

const storage = new AsyncLocalStorage<readonly DeclaredDocument[]>();

/**
 * Runs `fn` with `documents` declared as the retrieval of every call captured inside it (across
 * awaits): each `{ source, text }` names where a document came from (a URL, a database key) and
 * its text as the application put it in the request. Capture checks each text occurs in the
 * request's system or input, and records the document's source and digest with the run
 * (docs/CAPTURE.md, "Declared retrieval"). Wrong shapes (as retrievalHeader's: declaredArgument),
 * and an `fn` that is not a function, are programmer errors (TypeError with `code`
 * ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE).
 */
export function withRetrieval<T>(documents: readonly DeclaredDocument[], fn: () => T): T {
  const declared = declaredArgument(documents, 'withRetrieval');
  if (typeof fn !== 'function') throw wrongType('withRetrieval: the callback must be a function');
  return storage.run(Object.freeze(declared), fn);
}

/** The documents declared in the current async context: pass as `captureFetch(fetch, { retrieval: currentRetrieval, ... })`. */
export function currentRetrieval(): readonly DeclaredDocument[] {
  return storage.getStore() ?? [];
}
