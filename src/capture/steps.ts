/**
 * An agent's steps, linked as they run: each call follows from the runs of the calls that ended
 * in the same steps since the last call of them started. In process through async context
 * (withSteps, capture-node); by name through the `runprint-steps` request header, as every capture
 * point reads it (the proxy, captureFetch). Pure: no Node APIs.
 *
 * A call's end is noted when its answer ends, before its record (and so its run identity) is made:
 * with async durability the record is made a turn later, after the application has started its
 * next call. The next call takes a link to it then, settled once the record is made; a call needs
 * its parents only when its own record is made, later still.
 */
import { RunprintError } from '../errors.ts';

/** The request header naming the steps a call is one of (docs/CAPTURE.md, "Links between runs"). */
export const STEPS_HEADER = 'runprint-steps';

/** Names a process remembers steps for at most; past it the least recently used is forgotten. */
export const MAX_STEPS_NAMES = 10_000;

/** A steps name: 1 to 128 letters, digits and `.`, `_`, `:`, `/`, `-` (a UUID, an agent and session id). */
const NAME = /^[A-Za-z0-9._:/-]{1,128}$/;

/**
 * What a call follows from, one link each: a run identity, or a call that has ended and whose
 * record is still to come (it then gives its run identity, or, without one, what it followed from).
 */
export class Link {
  #ids: readonly string[] | undefined;
  #settled: Promise<void> | undefined;
  #settle: (() => void) | undefined;

  /** A link already known: these run identities. */
  static of(ids: readonly string[]): Link {
    const link = new Link();
    link.#ids = Object.freeze([...ids]);
    return link;
  }

  /** The run identities, once known; undefined while the call's record is to come. */
  get ids(): readonly string[] | undefined {
    return this.#ids;
  }

  /** Resolves once `ids` is known. */
  settled(): Promise<void> {
    if (this.#ids !== undefined) return Promise.resolve();
    this.#settled ??= new Promise((resolve) => (this.#settle = resolve));
    return this.#settled;
  }

  /** Sets the run identities (once). */
  set(ids: readonly string[]): void {
    if (this.#ids !== undefined) return;
    this.#ids = Object.freeze([...ids]);
    this.#settle?.();
  }
}

/** Links as parents: each run identity once, in order; undefined while a link is still to come. */
export function parentsNow(links: readonly Link[]): string[] | undefined {
  const parents: string[] = [];
  for (const link of links) {
    const ids = link.ids;
    if (ids === undefined) return undefined;
    for (const id of ids) if (!parents.includes(id)) parents.push(id);
  }
  return parents;
}

/** Links as parents, once every one is known. */
export async function parentsOf(links: readonly Link[]): Promise<string[]> {
  await Promise.all(links.map((link) => link.settled()));
  return parentsNow(links)!;
}

/** Run identities as links. */
export function fixedLinks(ids: readonly string[]): readonly Link[] {
  return ids.length === 0 ? [] : [Link.of(ids)];
}

/**
 * One agent's steps: the calls that ended in it since a call last took them (the frontier), and
 * what the last call was given. Calls started together follow from the same runs; the call after
 * them follows from all that ended. A call that ended without a run identity (failed, aborted)
 * stands for what it followed from, so a retry follows from what the failed attempt did.
 */
export class Steps {
  private ended: Link[] = [];
  private last: readonly Link[];

  /** `first`: what the first call follows from. */
  constructor(first: readonly Link[] = []) {
    this.last = Object.freeze([...first]);
  }

  /** What the next call would follow from, without taking it. */
  peek(): readonly Link[] {
    return this.ended.length > 0 ? Object.freeze([...this.ended]) : this.last;
  }

  /** A call starts: it follows from the calls that ended since the last call started, else from what that call followed. */
  take(): readonly Link[] {
    if (this.ended.length > 0) {
      this.last = Object.freeze(this.ended);
      this.ended = [];
    }
    return this.last;
  }

  /**
   * A call's answer ended (its record to come): the next call follows from it. The function
   * returned gives its run identity once its record is made (null: none; it then stands for
   * `followed`, what it followed from).
   */
  ending(followed: readonly Link[]): (runId: string | null) => void {
    const link = new Link();
    this.ended.push(link);
    return (runId) => {
      if (runId !== null) return link.set([runId]);
      const now = parentsNow(followed);
      if (now !== undefined) return link.set(now);
      void parentsOf(followed).then((ids) => link.set(ids));
    };
  }
}

/**
 * One call's view of its steps, as capture points use it: Steps (this process), or a name of
 * SharedSteps (a store several processes share). `ending`'s function may return a promise: the
 * end is then known to the other processes once it resolves (it never rejects).
 */
export interface CallSteps {
  take(): readonly Link[];
  ending(followed: readonly Link[]): (runId: string | null) => void | Promise<void>;
}

/**
 * Where named steps are kept when several processes share them (serve on a PostgreSQL run
 * store: postgres-steps.ts). Each is one atomic change of the name's state.
 */
export interface StepsStore {
  /** A call of steps `name` starts: the run identities it follows from (Steps.take's, by the store). */
  take(name: string): Promise<string[]>;
  /** A call of steps `name` ended, standing for these run identities (its own, or what it followed from). */
  end(name: string, ids: readonly string[]): Promise<void>;
}

/** How long a call waits for the store to take or note its step before it goes on without (ms). */
export const STEPS_STORE_WAIT_MS = 2_000;

/**
 * Steps by name kept in a StepsStore, as Steps keeps them in a process: each name's takes and
 * ends reach the store in the order this process's calls made them (one after the other), so a
 * call here never overtakes the end of the call before it here. A store that fails, or does not
 * answer within `waitMs`, links nothing: the call's parents are none, or its end is not noted (so
 * the next call follows from what this one followed); the call goes on. `onFailure` hears of the
 * first failure, and again only after the store has worked once more, so a store that keeps
 * failing is one report, not one per call.
 */
export class SharedSteps {
  readonly #store: StepsStore;
  readonly #onFailure: (error: unknown) => void;
  readonly #waitMs: number;
  /** Each name's last operation, while one is under way. */
  readonly #queues = new Map<string, Promise<void>>();
  #failing = false;

  constructor(store: StepsStore, onFailure: (error: unknown) => void, waitMs = STEPS_STORE_WAIT_MS) {
    this.#store = store;
    this.#onFailure = onFailure;
    this.#waitMs = waitMs;
  }

  /** The steps of this name, for one call. */
  get(name: string): CallSteps {
    return {
      take: () => {
        const link = new Link();
        void this.#queue(name, async () => {
          link.set((await this.#bounded(() => this.#store.take(name))) ?? []);
        });
        return [link];
      },
      ending: (followed) => (runId) =>
        this.#queue(name, async () => {
          const ids = runId !== null ? [runId] : await parentsOf(followed);
          await this.#bounded(() => this.#store.end(name, ids));
        }),
    };
  }

  /** `operation`'s answer, or undefined when it failed or took longer than waitMs (reported). */
  async #bounded<T>(operation: () => Promise<T>): Promise<T | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#waitMs);
      timer.unref?.();
    });
    try {
      const answer = await Promise.race([operation(), late]);
      if (answer === 'late') {
        this.#failed(new RunprintError('ERR_STORE_UNAVAILABLE', `the run store did not answer within ${this.#waitMs / 1000} s for named steps (runprint-steps): such calls go on without their links until it does`));
        return undefined;
      }
      this.#failing = false;
      return answer;
    } catch (error) {
      this.#failed(error);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #failed(error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#onFailure(error);
  }

  /** Runs `work` after the name's operations before it; never rejects. */
  #queue(name: string, work: () => Promise<void>): Promise<void> {
    const before = this.#queues.get(name) ?? Promise.resolve();
    const done = before.then(work).catch((error: unknown) => this.#failed(error));
    this.#queues.set(name, done);
    void done.then(() => {
      if (this.#queues.get(name) === done) this.#queues.delete(name);
    });
    return done;
  }
}

/**
 * What a call follows from, as every capture point decides it: a call in `steps` takes what ended
 * in them (whatever gives its parents); its parents are then those `named` gives (its
 * `runprint-parent` header, read only after the taking, so a header refused takes them too), else
 * what it took, else `otherwise()`'s.
 */
export function callLinks(steps: CallSteps | null, named: (() => readonly string[]) | null, otherwise: () => readonly string[]): readonly Link[] {
  const taken = steps?.take();
  if (named !== null) return fixedLinks(named());
  return taken ?? fixedLinks(otherwise());
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
