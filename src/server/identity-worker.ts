/** A worker thread of the identity pool: computes `POST /v1/identity` answers off the event loop. */
import { parentPort } from 'node:worker_threads';
import type { InputFormat } from '../compose/from-document.ts';
import { RunprintError } from '../errors.ts';
import { identityAnswer } from './identity-answer.ts';

export interface IdentityTask {
  id: number;
  body: Uint8Array;
  from: InputFormat;
  maxElements: number;
}

export type IdentityReply =
  | { id: number; answer: Uint8Array }
  | { id: number; error: { code: RunprintError['code']; message: string; path?: string } };

parentPort?.on('message', (task: IdentityTask) => {
  let reply: IdentityReply;
  try {
    reply = { id: task.id, answer: identityAnswer(task.body, task.from, task.maxElements) };
  } catch (error) {
    const known = error instanceof RunprintError ? error : new RunprintError('ERR_INTERNAL', 'unexpected failure');
    reply = { id: task.id, error: known.toJSON() };
  }
  parentPort!.postMessage(reply, 'answer' in reply ? [reply.answer.buffer as ArrayBuffer] : []);
});
