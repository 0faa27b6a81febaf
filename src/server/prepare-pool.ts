/**
 * The capture proxy's prepare pool: worker threads that compute a call's composition and request
 * identity (capture-run.ts prepareRequest) while the call is forwarded, so the identity of a large
 * request costs the event loop neither time on the call's way to the upstream nor time other calls
 * wait for. The workers start at the pool's first call. The answer is the same as prepareRequest's
 * on the calling thread, which is where a call is prepared whenever the pool cannot take it: a
 * call shorter than LARGE_REQUEST_BYTES while no worker has loaded its module yet, any call while
 * every worker has MAX_IN_FLIGHT calls waiting, after a worker died with calls in it, or was not
 * ready within READY_TIMEOUT_MS (those are prepared again here), after the workers died
 * MAX_RESTARTS times in a row (onStopped is told), and after close. A pool can therefore never
 * fail a call that inline preparing would not.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { prepareRequest, type PreparedRequest } from '../capture/capture-run.ts';
import { rememberElements } from '../capture/large-run.ts';
import { inTurns, joinBytesSteps, nextTurn } from '../io/steps.ts';
import type { MemberHeaders } from '../providers/header-members.ts';
import { CompositionError, JsonError, ProviderError, RunprintError } from '../errors.ts';
import { LIST_COMPONENTS, type Salts } from '../identity/composition.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import type { DigestSet } from '../identity/digest.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import type { LargeReply, PrepareReply, PrepareTask } from './prepare-worker.ts';

export interface PreparePoolOptions {
  /** Worker threads (default: the available parallelism less one, at least 1, at most 2). */
  workers?: number;
  /** The workers' module (default prepare-worker.ts); tests give one that fails. */
  workerUrl?: URL;
  /**
   * How long a worker may take to load (ms, default READY_TIMEOUT_MS): one not ready by then is
   * stopped as one that died, and the calls waiting in it are prepared on the calling thread.
   */
  readyTimeoutMs?: number;
  /**
   * Told once if the pool stops for good: its workers died more than MAX_RESTARTS times in a row
   * (not ready within readyTimeoutMs, or exited before answering) and none is left, so every call
   * is prepared on the calling thread from then on. `why` says so in a sentence (no path). What
   * it throws is ignored.
   */
  onStopped?: (why: string) => void;
}

export interface PreparePool {
  /** prepareRequest's answer for these bytes; rejects only where prepareRequest throws (a programmer error). */
  prepare(format: RequestFormat, bytes: Uint8Array, salts?: Salts, headers?: MemberHeaders): Promise<PreparedRequest>;
  /** Calls prepared by workers and on the calling thread so far. */
  readonly counts: { pooled: number; inline: number };
  /** Stops the workers; calls they held are prepared on the calling thread. */
  close(): Promise<void>;
}

/** The classes of the input errors prepareRequest gives, by name: a worker's comes back as the same class. */
const ERROR_KINDS: Record<string, typeof RunprintError> = { JsonError, CompositionError, ProviderError, RunprintError };

/** Calls a worker may hold (computing or queued) before more are prepared on the calling thread. */
export const MAX_IN_FLIGHT = 8;
/**
 * Request bodies of this many bytes or more are large: their identity would hold the calling
 * thread, and every other call on it, for up to about 0.1 s (1 MiB of short messages) to more than
 * a second (100,000 of them; BENCHMARKS.md, issue 10). A large call therefore waits in a worker
 * that is still starting (a few tenths of a second, once) rather than being prepared here, and
 * serve's default below 4 cores gives the pool large calls only.
 */
export const LARGE_REQUEST_BYTES = 1024 * 1024;
/** A large request is copied for its worker this many bytes at a time. */
const COPY_STEP = 1 << 20;
/** Workers that die this many times in a row without answering are not started again. */
const MAX_RESTARTS = 3;
/**
 * A worker loads in a few tenths of a second, a second or two on a loaded machine; one that is not
 * ready after this long (a module that hangs, a machine out of memory) is stopped, so a large call
 * sent to it while it started waits that long at most.
 */
export const READY_TIMEOUT_MS = 10_000;

// The sources run as .ts in a checkout and as compiled .js from dist/ when installed.
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './prepare-worker.ts' : './prepare-worker.js', import.meta.url);

interface Pending {
  task: PrepareTask;
  resolve: (prepared: PreparedRequest) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  pending: Map<number, Pending>;
}

function inline(task: PrepareTask): PreparedRequest {
  return prepareRequest(task.format, task.bytes, task.salts, task.headers);
}

/** Settles `pending` by preparing its call on this thread. */
function prepareHere(pending: Pending): void {
  try {
    pending.resolve(inline(pending.task));
  } catch (error) {
    pending.reject(error);
  }
}

/**
 * A large request's answer (PrepareReply `large`) as prepareRequest gives it: its lists and its
 * identity document's element digests read from their JSON texts a text per turn of the event
 * loop (taking the same trees from the message took 40 to 150 ms in one go, and JSON.parse of the
 * document's whole text 50 to 100 ms), and the lists' canonical element bytes remembered for the
 * run store (large-run.ts).
 */
async function largeAnswer(large: LargeReply): Promise<PreparedRequest> {
  const composition = large.composition;
  for (const name of LIST_COMPONENTS) {
    const texts = large.lists[name];
    if (texts === undefined) continue;
    const list: JsonValue[] = [];
    for (const text of texts) {
      for (const element of JSON.parse(decoder.decode(text)) as JsonValue[]) list.push(element);
      await nextTurn();
    }
    composition[name] = list;
    const elements = large.elements[name];
    if (elements !== undefined) rememberElements(list, elements);
  }
  const identity = JSON.parse(large.identity) as IdentityDocument;
  for (const name of LIST_COMPONENTS) {
    const entry = identity.components[name];
    const texts = large.identityElements[name];
    if (entry?.kind !== 'list' || texts === undefined) continue;
    for (const text of texts) {
      for (const element of JSON.parse(decoder.decode(text)) as DigestSet[]) entry.elements.push(element);
      await nextTurn();
    }
  }
  return { composition, identity, error: null };
}

const decoder = new TextDecoder();

/** What onStopped is told: `deaths` in a row, `late` of them not ready within `readyTimeoutMs`. */
function stoppedWhy(deaths: number, late: number, readyTimeoutMs: number): string {
  const within = readyTimeoutMs >= 1000 ? `${readyTimeoutMs / 1000} s` : `${readyTimeoutMs} ms`;
  const what =
    late === deaths
      ? `${deaths} in a row were not ready within ${within} of starting (their module did not load in time)`
      : late === 0
        ? `${deaths} in a row exited before they answered a call`
        : `${deaths} in a row exited before they answered a call (${late} of them not ready within ${within} of starting)`;
  return `the worker threads for calls' identities are off: ${what}, so no more are started; every call's identity, a large request's too, is computed on the event loop from now on`;
}

export function createPreparePool(options: PreparePoolOptions = {}): PreparePool {
  const size = options.workers ?? Math.min(2, Math.max(1, availableParallelism() - 1));
  const url = options.workerUrl ?? workerUrl;
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const slots: Slot[] = [];
  const counts = { pooled: 0, inline: 0 };
  let nextId = 0;
  let closed = false;
  let deathsInARow = 0;
  // Of those, the workers stopped for not being ready in time.
  let lateInARow = 0;
  // Off for good: onStopped was told.
  let stopped = false;

  const start = (): void => {
    // execArgv: [] because the worker needs no flag of the caller's (see model-digest/hash-pool.ts).
    const worker = new Worker(url, { execArgv: [] });
    worker.unref();
    const slot: Slot = { worker, ready: false, pending: new Map() };
    slots.push(slot);
    // Not ready in time: stopped, and its exit prepares the calls it holds here (below).
    let late = false;
    const loading = setTimeout(() => {
      late = true;
      void worker.terminate();
    }, readyTimeoutMs);
    loading.unref();
    worker.on('message', (reply: PrepareReply) => {
      // Until the worker's module has loaded, calls other than large ones are prepared here.
      if ('ready' in reply) {
        clearTimeout(loading);
        slot.ready = true;
        return;
      }
      const pending = slot.pending.get(reply.id);
      if (pending === undefined) return;
      slot.pending.delete(reply.id);
      deathsInARow = 0;
      lateInARow = 0;
      if ('composition' in reply) {
        counts.pooled += 1;
        pending.resolve({ composition: reply.composition, identity: reply.identity, error: null });
      } else if ('large' in reply) {
        counts.pooled += 1;
        largeAnswer(reply.large).then(pending.resolve, () => prepareHere(pending));
      } else if ('error' in reply) {
        counts.pooled += 1;
        const Kind = ERROR_KINDS[reply.kind] ?? RunprintError;
        pending.resolve({ composition: null, identity: null, error: new Kind(reply.error.code, reply.error.message, reply.error.path) });
      } else {
        // Thrown, not answered: the same call here throws the caller's own error object.
        counts.inline += 1;
        prepareHere(pending);
      }
    });
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      clearTimeout(loading);
      slots.splice(slots.indexOf(slot), 1);
      const held = [...slot.pending.values()];
      slot.pending.clear();
      for (const pending of held) {
        counts.inline += 1;
        prepareHere(pending);
      }
      if (closed) return;
      deathsInARow += 1;
      if (late) lateInARow += 1;
      if (deathsInARow <= MAX_RESTARTS) return void start();
      // None is started again: once the last is gone, every call is prepared here.
      if (slots.length > 0 || stopped) return;
      stopped = true;
      try {
        options.onStopped?.(stoppedWhy(deathsInARow, lateInARow, readyTimeoutMs));
      } catch {
        // Reporting must not fail a call.
      }
    });
  };

  let started = false;
  return {
    prepare(format, bytes, salts, headers) {
      if (!started && !closed) {
        started = true;
        for (let i = 0; i < size; i++) start();
      }
      const task: PrepareTask = { id: nextId++, format, bytes, ...(salts === undefined ? {} : { salts }), ...(headers === undefined ? {} : { headers }) };
      // A large call waits in a worker that is still starting (its messages wait for its module).
      const large = bytes.byteLength >= LARGE_REQUEST_BYTES;
      let slot: Slot | undefined;
      for (const each of slots) if ((each.ready || large) && each.pending.size < MAX_IN_FLIGHT && (slot === undefined || each.pending.size < slot.pending.size)) slot = each;
      if (slot === undefined) {
        counts.inline += 1;
        try {
          return Promise.resolve(inline(task));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      const chosen = slot;
      return new Promise((resolve, reject) => {
        chosen.pending.set(task.id, { task, resolve, reject });
        // The caller keeps its bytes (it forwards them): the worker gets a copy. A view of part of
        // a larger buffer would send the whole buffer: send only its bytes.
        if (!large) return void chosen.worker.postMessage(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? task : { ...task, bytes: bytes.slice() });
        // A large request's copy made a slice at a time and moved: the message's own copy of its
        // 7 to 10 MB held the event loop about 40 ms. A worker that exits meanwhile has its calls
        // prepared here from the caller's bytes (its exit, above); the message then goes nowhere.
        // No memory for the copy: the call is prepared here, as it would be without a worker.
        void inTurns(joinBytesSteps([bytes], COPY_STEP)).then(
          (copy) => chosen.worker.postMessage({ ...task, bytes: copy }, [copy.buffer as ArrayBuffer]),
          () => {
            const held = chosen.pending.get(task.id);
            if (held === undefined) return;
            chosen.pending.delete(task.id);
            counts.inline += 1;
            prepareHere(held);
          },
        );
      });
    },
    counts,
    close: async () => {
      closed = true;
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
