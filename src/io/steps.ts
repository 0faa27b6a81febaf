/**
 * Work in steps: a generator that pauses (yields) between pieces of its work, run to its end at
 * once or with a turn of the event loop at each pause, so that one large piece of work (a run of
 * 100,000 list elements, a 9 MB text) does not hold a server's event loop all that time. Its
 * answer is the same both ways.
 */

/**
 * After the event loop has polled for I/O at least once; a macrotask where there is no
 * setImmediate. Two immediates, not one: a step that runs in an I/O callback (a request's body
 * read) has its one immediate run in the same turn's check phase, before any other I/O, so the two
 * steps held the loop as one (a /healthz answer waited for the parse of a large exchange and its
 * read together, 90 to 100 ms on a 2-core machine, against 40 to 60 ms for each).
 */
export function nextTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate === undefined ? setTimeout(resolve, 0) : immediate(() => immediate(resolve))));
}

/** What the generator `steps` returns, run to its end at once (its pauses are not waited for). */
export function atOnce<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** What the generator `steps` returns, with `pause` (by default nextTurn) awaited at each of its pauses. */
export async function inTurns<T>(steps: Generator<unknown, T>, pause: () => Promise<void> = nextTurn): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await pause();
  }
}

const encoder = new TextEncoder();

/**
 * The UTF-8 of `text` as pieces, `step` UTF-16 code units of it at a time (a surrogate pair is
 * never split), pausing after each: joined, what TextEncoder gives for the whole text.
 */
export function* utf8Steps(text: string, step: number): Generator<void, Uint8Array[]> {
  const pieces: Uint8Array[] = [];
  for (let from = 0; from < text.length; ) {
    let to = Math.min(text.length, from + Math.max(2, step));
    // A high surrogate last: its low one goes with it into the next piece.
    const last = text.charCodeAt(to - 1);
    if (to < text.length && last >= 0xd800 && last <= 0xdbff) to -= 1;
    pieces.push(encoder.encode(text.slice(from, to)));
    from = to;
    yield;
  }
  return pieces;
}

/** The UTF-8 of `text` in one array: utf8Steps, then joinBytesSteps, with the same step. */
export function* utf8BytesSteps(text: string, step: number): Generator<void, Uint8Array> {
  return yield* joinBytesSteps(yield* utf8Steps(text, step), step);
}

/**
 * `chunks` one after the other in one new array, copied at most `step` bytes at a time, pausing
 * after each: on a machine where new memory is slow, copying 10 MB into it took 20 to 60 ms at once.
 */
export function* joinBytesSteps(chunks: readonly Uint8Array[], step: number): Generator<void, Uint8Array> {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const out = new Uint8Array(total);
  const most = Math.max(1, step);
  let offset = 0;
  let copied = 0;
  for (const chunk of chunks) {
    for (let from = 0; from < chunk.length; ) {
      const to = Math.min(chunk.length, from + most - copied);
      out.set(chunk.subarray(from, to), offset);
      offset += to - from;
      copied += to - from;
      from = to;
      if (copied === most) {
        copied = 0;
        yield;
      }
    }
  }
  return out;
}
