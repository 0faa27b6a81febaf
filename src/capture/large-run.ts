/**
 * Large runs: a request of many list elements (up to MAX_CAPTURED_ELEMENTS, 100,000), whose
 * record, store rows and receipt cost the event loop time in proportion to its elements. What is
 * made for such a run is made in steps that give the event loop back between them (nextTurn), or
 * in a worker thread, so that /healthz and every other call are answered meanwhile; what is made
 * is the same as for a run made in one go. A run below LARGE_RUN_ELEMENTS is made in one go, as
 * before: nothing here costs a common call (tens of elements) anything.
 */
import { canonicalBytes } from '../jcs/canonicalize.ts';
import { LIST_COMPONENTS, type Composition } from '../identity/composition.ts';
import type { IdentityDocument } from '../identity/identity.ts';

/**
 * A run whose request has this many list elements or more (system, input, context and tools
 * together) is large. About 2 to 6 microseconds of event loop work per element go into a run's
 * rows and receipt, so a run below it costs at most some 10 to 25 ms in one go.
 */
export const LARGE_RUN_ELEMENTS = 4096;

/** List elements worked on between two turns of the event loop (a few milliseconds of work). */
export const STEP_ELEMENTS = 4096;

/** The list elements of a composition, all lists together. */
export function compositionElements(composition: Composition): number {
  let elements = 0;
  for (const name of LIST_COMPONENTS) {
    const list = composition[name];
    if (Array.isArray(list)) elements += list.length;
  }
  return elements;
}

/** The list elements an identity document names, all lists together (0 for none). */
export function identityElements(identity: IdentityDocument | null): number {
  if (identity === null) return 0;
  let elements = 0;
  for (const name of LIST_COMPONENTS) {
    const entry = identity.components[name];
    if (entry?.kind === 'list') elements += entry.elements.length;
  }
  return elements;
}

/**
 * The canonical bytes (RFC 8785) of every element of one list, one after the other in `bytes`:
 * element i is bytes[ends[i - 1] (0 for the first) .. ends[i]). Made where the list is (the
 * prepare pool's worker thread, prepare-worker.ts), so the thread that stores the run's content
 * does not make them again.
 */
export interface PackedElements {
  bytes: Uint8Array;
  ends: Uint32Array;
}

/** canonicalBytes of each element of `list`, packed. Throws as canonicalBytes does. */
export function packElements(list: readonly unknown[]): PackedElements {
  const pieces = list.map((element) => canonicalBytes(element));
  let total = 0;
  for (const piece of pieces) total += piece.length;
  const bytes = new Uint8Array(total);
  const ends = new Uint32Array(pieces.length);
  let offset = 0;
  pieces.forEach((piece, i) => {
    bytes.set(piece, offset);
    offset += piece.length;
    ends[i] = offset;
  });
  return { bytes, ends };
}

/** The packed canonical bytes known for a list (by the list's array), set where they came with it. */
const packed = new WeakMap<readonly unknown[], PackedElements>();

/**
 * Remembers that `elements` are the canonical bytes of `list`'s elements (they were made from the
 * same list in another thread); a packing of another length is ignored. The list must not change
 * afterwards (a composition is not changed once made).
 */
export function rememberElements(list: readonly unknown[], elements: PackedElements): void {
  if (elements.ends.length === list.length) packed.set(list, elements);
}

/** The canonical bytes of `list`'s elements by index: views of their packing when one is known, else made when asked for. */
export function elementBytesOf(list: readonly unknown[]): (index: number) => Uint8Array {
  const known = packed.get(list);
  if (known === undefined) return (index) => canonicalBytes(list[index]);
  const { bytes, ends } = known;
  return (index) => bytes.subarray(index === 0 ? 0 : ends[index - 1]!, ends[index]!);
}
