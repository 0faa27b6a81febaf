/** The witness's HTTP route: C2SP tlog-witness `POST /add-checkpoint` (issue 4, section 4). */
import { LogError } from '../errors.ts';
import type { NoteSigner } from '../log/note.ts';
import { decideAddCheckpoint, parseAddCheckpoint, SIZE_MEDIA_TYPE, WitnessConflictError, type WitnessedCheckpoint, type WitnessedLogs } from '../log/witness.ts';
import { readBody } from './read-body.ts';

/** Where the witness keeps the latest checkpoint it cosigned per log; src/store/ implements it (LogStorage). */
export interface WitnessState {
  witnessed(origin: string): Promise<WitnessedCheckpoint | undefined>;
  /** Stores `checkpoint` only if the one held for `origin` still has size `previousSize` (-1: none), atomically; durable when true. */
  saveWitnessed(origin: string, previousSize: number, checkpoint: WitnessedCheckpoint): Promise<boolean>;
}

export interface WitnessRouteOptions {
  /** The logs it witnesses, by origin. */
  logs: WitnessedLogs;
  /** Its cosigner(s) (cosignature/v1). */
  signers: ReadonlyArray<NoteSigner>;
  state: WitnessState;
}

/** Largest add-checkpoint body accepted: 63 proof lines and a checkpoint with its signatures fit many times over. */
export const MAX_ADD_CHECKPOINT_BYTES = 64 * 1024;

type Handler = (request: Request, url: URL) => Promise<Response>;

function sizeConflict(size: number): Response {
  return new Response(`${size}\n`, { status: 409, headers: { 'content-type': SIZE_MEDIA_TYPE } });
}

/**
 * `POST /add-checkpoint`: checks the request (see decideAddCheckpoint), persists the checkpoint by
 * compare-and-swap, and only then answers with the cosignature lines. When another request for
 * the same log was persisted between the read and the write, this one gets 409 with the size now
 * held: of two concurrent requests from one old size, exactly one is cosigned.
 */
export function witnessRoutes(options: WitnessRouteOptions): Record<string, Record<string, Handler>> {
  const addCheckpoint: Handler = async (request) => {
    const parsed = parseAddCheckpoint(await readBody(request, MAX_ADD_CHECKPOINT_BYTES));
    const origin = parsed.checkpoint.origin;
    // Only a known origin touches the storage.
    if (!options.logs.has(origin)) throw new LogError('ERR_WITNESS_UNKNOWN_LOG', 'the witness does not witness a log of this origin');
    const stored = await options.state.witnessed(origin);
    let decision;
    try {
      decision = await decideAddCheckpoint({ request: parsed, logs: options.logs, stored, signers: options.signers });
    } catch (error) {
      if (error instanceof WitnessConflictError) return sizeConflict(error.size);
      throw error;
    }
    if (!(await options.state.saveWitnessed(origin, decision.previousSize, decision.save))) {
      return sizeConflict((await options.state.witnessed(origin))?.size ?? 0);
    }
    return new Response(decision.cosignatures, { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
  };
  return { '/add-checkpoint': { POST: addCheckpoint } };
}
