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
