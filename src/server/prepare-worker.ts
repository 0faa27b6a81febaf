/**
 * A worker thread of the capture proxy's prepare pool (prepare-pool.ts): the composition and
 * request identity of a call's body, computed while the call is forwarded, off the event loop.
 */
import { parentPort } from 'node:worker_threads';
import { prepareRequest } from '../capture/capture-run.ts';
import { compositionElements, LARGE_RUN_ELEMENTS, packElements, STEP_ELEMENTS, type PackedElements } from '../capture/large-run.ts';
import { LIST_COMPONENTS, type Composition, type ListComponentName, type Salts } from '../identity/composition.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { RunprintError } from '../errors.ts';
import type { MemberHeaders } from '../providers/header-members.ts';
import type { RequestFormat } from '../providers/request-format.ts';

export interface PrepareTask {
  id: number;
  format: RequestFormat;
  bytes: Uint8Array;
  salts?: Salts;
  headers?: MemberHeaders;
}

export type PrepareReply =
  | { id: number; composition: Composition; identity: IdentityDocument }
  /** A large request's (LARGE_RUN_ELEMENTS or more list elements). */
  | { id: number; large: LargeReply }
  | { id: number; error: { code: RunprintError['code']; message: string; path?: string }; kind: string }
  /** Not an input error: prepareRequest threw (a programmer error); the caller computes it again itself. */
  | { id: number; failed: string }
  /** Sent once, when this module has loaded: calls sent before would wait for it. */
  | { ready: true };

/**
 * A large request's answer: the composition with its lists empty, each list as the UTF-8 of JSON
 * texts of STEP_ELEMENTS elements each, the identity document with its lists' element digests
 * likewise, and each list's elements' canonical bytes (packed). Every piece is moved, not copied:
 * the calling thread's event loop is what waits for the message to be taken in (some 25 MB of
 * strings for 100,000 short messages took it 120 ms in one go), and it reads the pieces one per
 * turn (JSON.parse of a text is several times faster than taking the same tree from a message).
 */
export interface LargeReply {
  composition: Composition;
  lists: Partial<Record<ListComponentName, Uint8Array[]>>;
  /** JSON.stringify(identity) with the elements of its list components empty. */
  identity: string;
  /** The elements of each list component of the identity, as lists are. */
  identityElements: Partial<Record<ListComponentName, Uint8Array[]>>;
  elements: Partial<Record<ListComponentName, PackedElements>>;
}

parentPort?.on('message', (task: PrepareTask) => {
  let reply: PrepareReply;
  try {
    const prepared = prepareRequest(task.format, task.bytes, task.salts, task.headers);
    if (prepared.error === null && compositionElements(prepared.composition) >= LARGE_RUN_ELEMENTS) {
      const large = largeReply(task.id, prepared.composition, prepared.identity);
      const { lists, identityElements, elements } = large.large;
      const moved = [...Object.values(lists), ...Object.values(identityElements)].flat().map((text) => text.buffer as ArrayBuffer);
      for (const packed of Object.values(elements)) moved.push(packed.bytes.buffer as ArrayBuffer, packed.ends.buffer as ArrayBuffer);
      return parentPort!.postMessage(large, moved);
    }
    reply = prepared.error === null ? { id: task.id, composition: prepared.composition, identity: prepared.identity } : { id: task.id, error: prepared.error.toJSON(), kind: prepared.error.constructor.name };
  } catch (error) {
    reply = { id: task.id, failed: error instanceof Error ? error.name : 'unknown' };
  }
  parentPort!.postMessage(reply);
});

/** A large request's reply (PrepareReply `large`). */
function largeReply(id: number, composition: Composition, identity: IdentityDocument): Extract<PrepareReply, { large: unknown }> {
  // The composition's members in their order, its lists empty: filled in from `lists` by the caller.
  const rest = { ...composition };
  const lists: Partial<Record<ListComponentName, Uint8Array[]>> = {};
  const elements: Partial<Record<ListComponentName, PackedElements>> = {};
  for (const name of LIST_COMPONENTS) {
    const list = composition[name];
    if (!Array.isArray(list)) continue;
    rest[name] = [];
    lists[name] = chunkTexts(list);
    if (list.length > 0) elements[name] = packElements(list);
  }
  const skeleton = { ...identity, components: { ...identity.components } };
  const identityElements: Partial<Record<ListComponentName, Uint8Array[]>> = {};
  for (const name of LIST_COMPONENTS) {
    const entry = identity.components[name];
    if (entry?.kind !== 'list') continue;
    skeleton.components[name] = { ...entry, elements: [] };
    identityElements[name] = chunkTexts(entry.elements);
  }
  return { id, large: { composition: rest, lists, identity: JSON.stringify(skeleton), identityElements, elements } };
}

const encoder = new TextEncoder();

/** A list as the UTF-8 of JSON texts of STEP_ELEMENTS elements each. */
function chunkTexts(list: readonly unknown[]): Uint8Array[] {
  const texts: Uint8Array[] = [];
  for (let start = 0; start < list.length; start += STEP_ELEMENTS) texts.push(encoder.encode(JSON.stringify(list.slice(start, start + STEP_ELEMENTS))));
  return texts;
}

parentPort?.postMessage({ ready: true } satisfies PrepareReply);
