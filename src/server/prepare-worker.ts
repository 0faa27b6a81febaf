/**
 * A worker thread of the capture proxy's prepare pool (prepare-pool.ts): the composition and
 * request identity of a call's body, computed while the call is forwarded, off the event loop.
 */
import { parentPort } from 'node:worker_threads';
import { prepareRequest } from '../capture/capture-run.ts';
import type { Composition, Salts } from '../identity/composition.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { RunprintError } from '../errors.ts';
import type { MemberHeaders } from '../providers/header-members.ts';
import type { RequestFormat } from '../providers/request-format.ts';

export interface PrepareTask {
  id: number;
  format: RequestFormat;
  bytes: Uint8Array;
  salts?: Salts;
  headers?: MemberHeaders;
}

export type PrepareReply =
  | { id: number; composition: Composition; identity: IdentityDocument }
  | { id: number; error: { code: RunprintError['code']; message: string; path?: string }; kind: string }
  /** Not an input error: prepareRequest threw (a programmer error); the caller computes it again itself. */
  | { id: number; failed: string }
  /** Sent once, when this module has loaded: calls sent before would wait for it. */
  | { ready: true };

parentPort?.on('message', (task: PrepareTask) => {
  let reply: PrepareReply;
  try {
    const prepared = prepareRequest(task.format, task.bytes, task.salts, task.headers);
    reply = prepared.error === null ? { id: task.id, composition: prepared.composition, identity: prepared.identity } : { id: task.id, error: prepared.error.toJSON(), kind: prepared.error.constructor.name };
  } catch (error) {
    reply = { id: task.id, failed: error instanceof Error ? error.name : 'unknown' };
  }
  parentPort!.postMessage(reply);
});

parentPort?.postMessage({ ready: true } satisfies PrepareReply);
