/** A streaming tee for response bodies: bytes pass to the application unchanged while a copy is kept on the side. */
import type { CaptureOutcome } from './run-record.ts';

/** How an observed body ended, with every byte the application was given. */
export interface ObservedBody {
  /** Every byte the reader was given; empty when `truncated`. */
  bytes: Uint8Array;
  /** True when the body passed maxKeptBytes: its bytes were not kept (`size` says how many passed). */
  truncated: boolean;
  /** Bytes the reader was given. */
  size: number;
  outcome: CaptureOutcome;
  /** The error that ended the body (a read failure, or the reason the reader cancelled with). */
  error: unknown;
  /** Milliseconds since the Unix epoch when the body ended. */
  ended: number;
}

export interface ObserveOptions {
  /**
   * Called once, when the body ended, failed or was cancelled. Must not throw (its errors are
   * dropped). With `holdEnd`, a promise it returns when the body ended is awaited before the
   * reader sees the end (it must not reject).
   */
  onEnd(body: ObservedBody): void | Promise<void>;
  /**
   * The call's signal: a read that fails, or a cancel, once it aborted ended by it (outcomeOfError):
   * a timeout when its reason is a TimeoutError, else an abort, whatever the error or cancel reason.
   */
  signal?: AbortSignal | null;
  /**
   * Hold the end of the body (the reader's last `done`) until onEnd's promise settles: a proxy
   * ends its answer only once the run's record is durable. Default false.
   */
  holdEnd?: boolean;
  /**
   * Keep at most this many bytes on the side (default: all). A longer body still passes through
   * whole; its copy is dropped and the end reports it `truncated`, so one huge answer cannot
   * hold the memory of the process.
   */
  maxKeptBytes?: number;
  /**
   * With `holdEnd`: true for the chunk from which on the rest of the body is held back with its
   * end (the chunk holding a stream's terminal event). `tail` is the end of the chunk before, so a
   * marker split across two chunks is still seen. Default: nothing is held but the end.
   */
  holdFrom?: (chunk: Uint8Array, tail: string) => boolean;
  /**
   * With holdFrom: true once the held text (with the tail before it) holds the whole terminal
   * event; the body is then handed to onEnd at once (not when the source closes), and bytes that
   * come after pass through without being kept. Default: wait for the end of the source.
   */
  heldComplete?: (text: string) => boolean;
  /** Clock, in milliseconds since the Unix epoch. Default Date.now. */
  now?: () => number;
  /**
   * When the reader cancels, read the rest of the source on the side, up to this many more bytes,
   * before cancelling it (default 0: cancel at once). For a body the reader discards unread, as
   * SDKs do with an error body before a retry: the record then holds the body the provider sent.
   */
  drainOnCancel?: number;
  /**
   * When the reader cancels: true when the text of the bytes kept so far (their last 64 KiB, after
   * a line start when that is the whole body) holds a whole terminal or error event, after which
   * the provider ends the stream and SDKs stop reading: the body is then `complete`, as a proxy
   * that reads on to the end records it, not `aborted`. Default: a cancel is an abort.
   */
  endedBy?: (text: string) => boolean;
}

/** How much of the kept bytes endedBy sees at a cancel: a terminal or error event is shorter. */
const ENDED_BY_WINDOW = 64 * 1024;

/** How much of the chunk before a holdFrom check sees: longer than any marker. */
const TAIL = 64;

const singleByte = new TextDecoder('latin1');

/**
 * Bytes as text, one UTF-16 code unit per byte, whatever the bytes (the WHATWG "latin1" label is
 * windows-1252, which maps every byte to one character): markers are ASCII, so they match whatever
 * the body's encoding, and positions are byte offsets. A decoder, not String.fromCharCode over
 * the bytes, which cost about 600 us per 20 KB.
 */
export function latin1(bytes: Uint8Array): string {
  return singleByte.decode(bytes);
}

/** The name of an error or abort reason (`TimeoutError`, `AbortError`), if it has one. */
function nameOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined;
}

/**
 * The reason a server gives the calls it cuts as it stops (serve's `--shutdown-grace` ran out):
 * the abort reason of the call's signal, and of the cancel of its answer's body. Not the client's
 * abort: a call that ends by it is `network-error` (its connection was cut), so a run whose answer
 * had begun is recorded `cut` (capture-run.ts), not `aborted`.
 */
export class StoppedByServer extends Error {
  override name = 'StoppedByServerError';
  constructor() {
    super('the server stopped before the call ended: its connection was cut');
  }
}

/** True when `reason`, or the reason `signal` aborted with, is a StoppedByServer. */
function stoppedByServer(reason: unknown, signal?: AbortSignal | null): boolean {
  return reason instanceof StoppedByServer || (signal?.aborted === true && signal.reason instanceof StoppedByServer);
}

/**
 * An AbortSignal reason or a fetch error, as an outcome: a timeout, an abort, or the network. A
 * timeout is an error or reason named `TimeoutError` (AbortSignal.timeout's DOMException, the
 * Vercel AI SDK's own timeouts). Once the call's signal has aborted, the call ended by it whatever
 * the error says, and its reason tells a timeout from an abort: a fetch may fail with an
 * `AbortError` of its own, and an SDK whose timeout fired while the application was not reading
 * cancels the body without a reason (LangChain's call timeout over ChatOpenAI does).
 */
export function outcomeOfError(error: unknown, signal?: AbortSignal | null): CaptureOutcome {
  // Cut by the server as it stopped, not by the client: the connection was cut.
  if (stoppedByServer(error, signal)) return 'network-error';
  if (nameOf(error) === 'TimeoutError') return 'timeout';
  // The caller's signal aborted with a reason of its own (`abort(new Error(...))`, `abort('why')`):
  // fetch fails with that reason itself, which is the caller's, not the network's.
  if (signal?.aborted === true) return nameOf(signal.reason) === 'TimeoutError' ? 'timeout' : 'aborted';
  if (nameOf(error) === 'AbortError') return 'aborted';
  return 'network-error';
}

/**
 * A cancel of a body (its reader's `reason`), as an outcome: `aborted`, or `timeout` for a
 * TimeoutError reason (its own or the signal's), or `network-error` when the server cut the call
 * as it stopped (StoppedByServer).
 */
export function outcomeOfCancel(reason: unknown, signal?: AbortSignal | null): CaptureOutcome {
  const outcome = outcomeOfError(reason, signal);
  return outcome === 'network-error' && !stoppedByServer(reason, signal) ? 'aborted' : outcome;
}

/**
 * Wraps `source` in a stream that hands each chunk to its reader as it arrives (one read of the
 * source per read of the reader: nothing is read ahead or held back) and keeps a copy. The copy
 * is made because the reader owns the chunk it receives and may change it. `onEnd` is called once:
 * `complete` when the source ended, the outcome of the error when a read failed (the reader gets
 * the same error), and outcomeOfCancel's when the reader cancelled.
 */
export function observeBody(source: ReadableStream<Uint8Array>, options: ObserveOptions): ReadableStream<Uint8Array> {
  const now = options.now ?? Date.now;
  const reader = source.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  const maxKept = options.maxKeptBytes ?? Number.POSITIVE_INFINITY;
  /** Keeps a copy while the body is within maxKept; past it, drops what was kept. */
  const keep = (chunk: Uint8Array, copy: boolean) => {
    size += chunk.length;
    if (size > maxKept) {
      chunks.length = 0;
      return;
    }
    chunks.push(copy ? chunk.slice() : chunk);
  };
  const finish = (outcome: CaptureOutcome, error: unknown): void | Promise<void> => {
    if (done) return;
    done = true;
    const truncated = size > maxKept;
    const bytes = new Uint8Array(truncated ? 0 : size);
    let offset = 0;
    if (!truncated) {
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
    }
    chunks.length = 0;
    try {
      return options.onEnd({ bytes, truncated, size, outcome, error, ended: now() });
    } catch {
      // The observer's own failure is its business; the application's stream goes on.
    }
  };
  /** The last ENDED_BY_WINDOW bytes kept, as text (after a line start when they are the whole body); '' once the copy was dropped. */
  const keptTail = (): string => {
    let text = '';
    let length = 0;
    for (let i = chunks.length - 1; i >= 0 && length < ENDED_BY_WINDOW; i--) {
      text = latin1(chunks[i]!) + text;
      length += chunks[i]!.length;
    }
    return length === size ? `\n${text}` : text;
  };
  /** Reads on up to `limit` more bytes; true when the source ended within them. */
  const drain = async (limit: number): Promise<boolean> => {
    let left = limit;
    try {
      while (left > 0) {
        const result = await reader.read();
        if (result.done) return true;
        keep(result.value, false);
        left -= result.value.length;
      }
    } catch {
      return false;
    }
    return false;
  };
  /** Chunks held back from the one holdFrom picked, released when the body ends. */
  const heldBack: Uint8Array[] = [];
  // A line start before the body's first byte: markers that begin with one match its first event too.
  let tail = '\n';
  /** The held text so far, for heldComplete. */
  let heldText = '';
  /** Set once the record was handed over early (heldComplete): later bytes pass through uncopied. */
  let settled = false;
  /** A read error that comes after held chunks: the reader gets those chunks first, then it. */
  let failure: { error: unknown } | undefined;
  /** Hands the body over (awaiting onEnd's promise with holdEnd), then releases what was held. */
  const release = async (controller: ReadableStreamDefaultController<Uint8Array>, outcome: CaptureOutcome, error: unknown) => {
    const held = finish(outcome, error);
    if (options.holdEnd === true && held !== undefined) await held.catch(() => undefined);
    for (const chunk of heldBack.splice(0)) controller.enqueue(chunk);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (failure !== undefined) return controller.error(failure.error);
      // One chunk reaches the reader per pull, except chunks held back (holdFrom): those are read
      // on until the terminal event is whole (heldComplete) or the body ends, then released.
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          if (heldBack.length > 0) {
            // The bytes that arrived reach the reader before the error does (an error discards
            // what is queued).
            await release(controller, outcomeOfError(error, options.signal), error);
            failure = { error };
            return;
          }
          void finish(outcomeOfError(error, options.signal), error);
          controller.error(error);
          return;
        }
        if (result.done) {
          if (options.holdEnd === true && !settled) {
            await release(controller, 'complete', undefined);
            controller.close();
            return;
          }
          controller.close();
          void finish('complete', undefined);
          return;
        }
        const chunk = result.value;
        if (settled) {
          controller.enqueue(chunk);
          return;
        }
        keep(chunk, true);
        if (options.holdEnd === true && options.holdFrom !== undefined) {
          if (heldBack.length > 0 || options.holdFrom(chunk, tail)) {
            heldBack.push(chunk);
            heldText += latin1(chunk);
            // The terminal event is whole: the run is recorded now, not when the upstream closes.
            if (options.heldComplete?.(tail + heldText) === true) {
              settled = true;
              await release(controller, 'complete', undefined);
              return;
            }
            continue;
          }
          tail = latin1(chunk.subarray(Math.max(0, chunk.length - TAIL)));
        }
        controller.enqueue(chunk);
        return;
      }
    },
    async cancel(reason) {
      const ended = options.endedBy !== undefined && options.endedBy(keptTail());
      // A cancel is an abort, or a timeout: its reason's, or the call's signal's when it aborted
      // (an SDK cancels without a reason once its timeout fired while the application was not
      // reading); or a cut, when the server cut the call as it stopped.
      const outcome = ended ? 'complete' : outcomeOfCancel(reason, options.signal);
      const limit = options.drainOnCancel ?? 0;
      if (limit > 0) {
        void drain(limit).then((ended) => {
          void finish(ended ? 'complete' : outcome, reason);
          if (!ended) void reader.cancel(reason).catch(() => undefined);
        });
        return;
      }
      void finish(outcome, reason);
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
