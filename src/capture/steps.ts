/**
 * An agent's steps, linked as they run: each call follows from the runs of the calls that ended
 * in the same steps since the last call started. In process through async context (withSteps,
 * capture-node); by name through the `runprint-steps` request header, as every capture point reads
 * it (the proxy, captureFetch). Pure: no Node APIs.
 */
import { RunprintError } from '../errors.ts';

/** The request header naming the steps a call is one of (docs/CAPTURE.md, "Links between runs"). */
export const STEPS_HEADER = 'runprint-steps';

/** Names a process remembers steps for at most; past it the least recently used is forgotten. */
export const MAX_STEPS_NAMES = 10_000;

/** A steps name: 1 to 128 letters, digits and `.`, `_`, `:`, `/`, `-` (a UUID, an agent and session id). */
const NAME = /^[A-Za-z0-9._:/-]{1,128}$/;

/**
 * One agent's steps: the runs that ended in it since a call last took them as its parents (the
 * frontier), and the parents the last call was given. Calls started together follow from the
 * same runs; the call after them follows from all that ended. A call that ended without a run
 * identity (failed, aborted) adds nothing, so a retry follows from what the failed attempt did.
 */
export class Steps {
  private ended: string[] = [];
  private last: readonly string[];

  /** `first`: what the first call follows from. */
  constructor(first: readonly string[] = []) {
    this.last = Object.freeze([...first]);
  }

  /** What the next call would follow from, without taking it. */
  peek(): readonly string[] {
    return this.ended.length > 0 ? Object.freeze([...this.ended]) : this.last;
  }

  /** A call starts: it follows from the runs that ended since the last call started, else from what that call followed. */
  take(): readonly string[] {
    if (this.ended.length > 0) {
      this.last = Object.freeze(this.ended);
      this.ended = [];
    }
    return this.last;
  }

  /** A call's run was made with this identity (null: none, it links nothing). */
  end(runId: string | null): void {
    if (runId !== null && !this.ended.includes(runId)) this.ended.push(runId);
  }
}

/** Steps by name, for the `runprint-steps` header: at most MAX_STEPS_NAMES, the least recently used forgotten first. */
export class NamedSteps {
  private readonly byName = new Map<string, Steps>();
  private readonly max: number;

  constructor(max = MAX_STEPS_NAMES) {
    this.max = max;
  }

  /** The steps of this name (new ones follow from nothing). */
  get(name: string): Steps {
    let steps = this.byName.get(name);
    if (steps !== undefined) this.byName.delete(name);
    else steps = new Steps();
    this.byName.set(name, steps);
    if (this.byName.size > this.max) this.byName.delete(this.byName.keys().next().value!);
    return steps;
  }
}

/**
 * The steps name a `runprint-steps` header value gives (white space around it ignored); null for
 * no header. Anything else (empty, too long, a comma from a repeated header, other characters)
 * is ERR_CAPTURE_STEPS_INVALID, which does not echo the value.
 */
export function readStepsHeader(value: string | null): string | null {
  if (value === null) return null;
  const name = value.trim();
  if (!NAME.test(name)) {
    throw new RunprintError('ERR_CAPTURE_STEPS_INVALID', `${STEPS_HEADER} must be one name of 1 to 128 letters, digits and . _ : / - (an agent's or session's id)`);
  }
  return name;
}
