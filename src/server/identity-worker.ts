/** A worker thread of the identity pool: computes `POST /v1/identity`, explain, diff, verify and sign-facts answers off the event loop. */
import { parentPort } from 'node:worker_threads';
import type { DeclaredDocument } from '../capture/run-record.ts';
import type { InputFormat } from '../compose/from-document.ts';
import { RunprintError } from '../errors.ts';
import { operationAnswer } from './api-answers.ts';
import type { Operation } from './identity-answer.ts';

export interface IdentityTask {
  id: number;
  body: Uint8Array;
  from: InputFormat;
  maxElements: number;
  operation: Operation;
  /** sign-facts: the documents declared in runprint-retrieval headers (IdentityCompute). */
  declared?: readonly DeclaredDocument[];
}

export type IdentityReply =
  | { id: number; answer: Uint8Array }
  | { id: number; error: { code: RunprintError['code']; message: string; path?: string } };

// The pool gives a worker one task at a time, so an asynchronous answer (verify) never overlaps another.
parentPort?.on('message', async (task: IdentityTask) => {
  let reply: IdentityReply;
  try {
    reply = { id: task.id, answer: await operationAnswer(task.operation, task.body, task.maxElements, task.from, task.declared) };
  } catch (error) {
    const known = error instanceof RunprintError ? error : new RunprintError('ERR_INTERNAL', 'unexpected failure');
    reply = { id: task.id, error: known.toJSON() };
  }
  parentPort!.postMessage(reply, 'answer' in reply ? [reply.answer.buffer as ArrayBuffer] : []);
});
