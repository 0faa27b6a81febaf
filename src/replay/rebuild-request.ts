/**
 * Rebuilding a stored run's provider request (docs/REPLAY.md section 2): the composition from the
 * content rows of the run store, every piece checked against the digest the identity document
 * gives it, then the request by the inverse mapping (SPEC 4.1), whose request identity must be the
 * stored one.
 */
import { identityElements, LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../capture/large-run.ts';
import { nextTurn } from '../io/steps.ts';
import { RunprintError } from '../errors.ts';
import { sha256Once, toHex } from '../hash/sha256.ts';
import { COMPOSITION_VERSION, isSaltHex, LIST_COMPONENTS, REQUEST_COMPONENTS, type Composition, type Salts } from '../identity/composition.ts';
import { elementDigest, elementSalt, saltedElementDigest, saltedValueComponentDigest, valueComponentDigest } from '../identity/digest.ts';
import { saltBytes } from '../identity/salt.ts';
import { computeIdentity } from '../identity/identity.ts';
import { canonicalBytes } from '../jcs/canonicalize.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';
import { compositionFromRequest, requestFromComposition } from '../providers/request-mapping.ts';
import { headerMembersOut } from '../providers/header-members.ts';
import { providerFor } from '../providers/registry.ts';
import { parseJson } from '../jcs/index.ts';
import type { RunStorage, StoredRun } from '../store/run-storage.ts';

/** What a piece of content is, for an error message: a component, or one of its elements. */
function pieceName(component: string, index?: number): string {
  return index === undefined ? `component "${component}"` : `element ${index} of component "${component}"`;
}

/**
 * Elements of a large run whose content is read and checked together (storedComposition): a page
 * of 1,024 takes some 10 to 20 ms of the event loop (one of STEP_ELEMENTS, 4,096, 30 to 80 ms).
 */
const CONTENT_PAGE = STEP_ELEMENTS / 4;

/** A stored run's request, rebuilt. */
export interface RebuiltRequest {
  format: RequestFormat;
  /** The composition of the stored components (no served facts). */
  composition: Composition;
  /** The provider request the composition stands for (SPEC 4.1). */
  request: JsonObject;
  /**
   * The body to send: the exact bytes sent first when the store kept them (`exact`), else the
   * RFC 8785 canonical JSON of the rebuilt request (`rebuilt`), which has the same request identity.
   */
  bytes: Uint8Array;
  /**
   * The request members sent as headers (SPEC 4.8: Anthropic's `betas` as `anthropic-beta`), by
   * lower-case name: taken out of a rebuilt body; for the exact bytes, those the body does not hold.
   */
  headers: { [name: string]: string };
  bytesFrom: 'exact' | 'rebuilt';
  requestId: string;
}

/** The JSON object in bytes, or null (bytes that are not one are sent as they are). */
function parsedOrNull(bytes: Uint8Array): JsonObject | null {
  try {
    const value = parseJson(bytes);
    return isJsonObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** Stored content is UTF-8: bytes that are not are altered content, never decoded with replacements. */
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A piece of a run whose content the run store does not hold, and why (ERR_REPLAY_CONTENT_NOT_STORED). */
export function notStored(run: StoredRun, piece: string): RunprintError {
  const why = run.contentExpired ? 'deleted by the retention period' : 'kept as a digest only (the capture-keep setting)';
  return new RunprintError('ERR_REPLAY_CONTENT_NOT_STORED', `the content of ${piece} is not in the run store: ${why}; only its digest remains`);
}

/**
 * The stored content named by `digest`, parsed. The store keeps each piece as the RFC 8785
 * canonical text its digest was computed over, so `check` over the stored text must give that
 * digest (stored content is reachable on disk: it is never trusted unchecked). Text that gives its
 * digest is the canonical JSON capture hashed, so JSON.parse reads it as the strict parser would.
 */
async function piece(storage: RunStorage, run: StoredRun, digest: string, name: string, check: (canonical: string) => string, read?: ReadonlyMap<string, Uint8Array>): Promise<JsonValue> {
  // `read`: the content of a page of elements, read together (storedComposition).
  const bytes = read === undefined ? await storage.content(digest) : read.get(digest);
  if (bytes === undefined) throw notStored(run, name);
  return JSON.parse(checkedText(bytes, digest, name, check)) as JsonValue;
}

/** Stored bytes as text, when they are UTF-8 whose `check` gives `digest`; ERR_REPLAY_CONTENT_MISMATCH otherwise. */
function checkedText(bytes: Uint8Array, digest: string, name: string, check: (canonical: string) => string): string {
  let text: string | undefined;
  try {
    text = decoder.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text === undefined || check(text) !== digest) {
    throw new RunprintError('ERR_REPLAY_CONTENT_MISMATCH', `the stored content of ${name} does not give the digest that names it: the run store is damaged or altered`);
  }
  return text;
}

/**
 * The check of one piece of a run's request against the digest that names it: the value component
 * `part` (`position` undefined) or its element at `position`, salted with the component's salt
 * when it has one (SPEC 5.6). The one check storedComposition and storedPieceTexts apply.
 */
function pieceCheck(part: (typeof REQUEST_COMPONENTS)[number], position: number | undefined, salt: Uint8Array | undefined): (canonical: string) => string {
  let digestOf: (canonical: string) => Uint8Array;
  if (position !== undefined) digestOf = salt === undefined ? elementDigest : (canonical) => saltedElementDigest(elementSalt(salt, position), canonical);
  else {
    const name = part as 'model' | 'parameters' | 'configuration';
    digestOf = salt === undefined ? (canonical) => valueComponentDigest(name, canonical) : (canonical) => saltedValueComponentDigest(name, salt, canonical);
  }
  return (canonical) => toHex(digestOf(canonical));
}

/**
 * A reader of the stored text (canonical JSON) of pieces of a run's request component `part`: the
 * value component (`position` undefined) or its element at `position`, named by `digest` in that
 * run; checked as storedComposition checks it (a salted piece with the run's stored salts, read
 * once here). The reader answers undefined when the store does not hold a piece;
 * storedPieceTexts is undefined when the component is salted and the store holds no salts to check
 * it with (runs group --values: shown only checked). ERR_REPLAY_CONTENT_MISMATCH when what the
 * store holds does not give the digest.
 */
export async function storedPieceTexts(
  storage: RunStorage,
  run: StoredRun,
  part: (typeof REQUEST_COMPONENTS)[number],
): Promise<((position: number | undefined, digest: string) => Promise<string | undefined>) | undefined> {
  let salt: Uint8Array | undefined;
  if (run.identity?.components[part].salted === true) {
    let salts: Salts | undefined;
    try {
      salts = await storedSalts(storage, run);
    } catch (error) {
      if ((error as RunprintError).code === 'ERR_REPLAY_CONTENT_NOT_STORED') return undefined;
      throw error;
    }
    if (salts?.[part] === undefined) return undefined;
    salt = saltBytes(salts[part]);
  }
  return async (position, digest) => {
    const bytes = await storage.content(digest);
    if (bytes === undefined) return undefined;
    return checkedText(bytes, digest, pieceName(part, position), pieceCheck(part, position, salt));
  };
}

/** True when the run's identity salts one or more components (SPEC 5.6). */
export function isSalted(run: StoredRun): boolean {
  return run.identity !== null && REQUEST_COMPONENTS.some((name) => run.identity!.components[name].salted === true);
}

/**
 * The salts of a stored run's salted components, from its `salts` content row (run-storage.ts),
 * checked against the digest that names them and against the identity document (a salt for each
 * salted component, none other); undefined for a run that salts nothing.
 * ERR_REPLAY_CONTENT_NOT_STORED when they are not stored (`--capture-keep salts=digest`, or
 * deleted by the retention period: the store can then no longer open the commitments),
 * ERR_REPLAY_CONTENT_MISMATCH when what is stored is not them.
 */
export async function storedSalts(storage: RunStorage, run: StoredRun): Promise<Salts | undefined> {
  if (!isSalted(run)) return undefined;
  const row = run.digests.find((digest) => digest.part === 'salts');
  const bytes = row === undefined ? undefined : await storage.content(row.digest);
  if (row === undefined || bytes === undefined) {
    const why = run.contentExpired ? 'deleted by the retention period' : 'not kept (the capture-keep setting)';
    throw new RunprintError('ERR_REPLAY_CONTENT_NOT_STORED', `the run's salts are not in the run store: ${why}; its salted components can never be disclosed or checked against their content`);
  }
  const damaged = () => new RunprintError('ERR_REPLAY_CONTENT_MISMATCH', 'the stored salts of the run are not the ones its identity names: the run store is damaged or altered');
  let salts: unknown;
  try {
    const text = decoder.decode(bytes);
    if (toHex(sha256Once(bytes)) !== row.digest) throw damaged();
    salts = JSON.parse(text);
  } catch {
    throw damaged();
  }
  if (salts === null || typeof salts !== 'object' || Array.isArray(salts)) throw damaged();
  for (const name of REQUEST_COMPONENTS) {
    const salt = (salts as Record<string, unknown>)[name];
    if ((run.identity!.components[name].salted === true) !== (salt !== undefined) || (salt !== undefined && !isSaltHex(salt))) throw damaged();
  }
  if (Object.keys(salts).some((name) => !(REQUEST_COMPONENTS as readonly string[]).includes(name))) throw damaged();
  return salts as Salts;
}

/**
 * The composition of a stored run, from the run store's content rows: each value component by its
 * component digest, each list element by its element digest, the excluded members by their plain
 * SHA-256; a run with salted components also gets its `salts` (storedSalts), and their pieces are
 * checked against their salted digests (SPEC 5.6). ERR_REPLAY_UNIDENTIFIED for a run without a
 * request identity, ERR_REPLAY_CONTENT_NOT_STORED for a piece (or the salts) that has only its
 * digest, ERR_REPLAY_CONTENT_MISMATCH for content that does not give its digest.
 */
export async function storedComposition(storage: RunStorage, run: StoredRun): Promise<Composition> {
  const { identity, record } = run;
  if (identity === null || record.requestId === null || !isRequestFormat(record.format)) {
    throw new RunprintError('ERR_REPLAY_UNIDENTIFIED', `the run has no request identity (${record.unidentified?.code ?? 'unidentified'}): there is no composition to rebuild`);
  }
  const salts = await storedSalts(storage, run);
  const large = identityElements(identity) >= LARGE_RUN_ELEMENTS;
  const parts: Record<string, JsonValue> = {};
  for (const name of REQUEST_COMPONENTS) {
    const entry = identity.components[name];
    const salt = salts?.[name] === undefined ? undefined : saltBytes(salts[name]!);
    if (entry.kind === 'list') {
      const list: JsonValue[] = [];
      // A large run's elements (capture/large-run.ts) a page of CONTENT_PAGE at a time, read in one
      // query where the store can (RunStorage.contents), with a turn of the event loop after each:
      // 100,000 of them read and checked at once held it about a second.
      const step = large ? CONTENT_PAGE : entry.elements.length;
      for (let start = 0; start < entry.elements.length; start += step) {
        const page = entry.elements.slice(start, start + step);
        const read = large ? await storage.contents(page.map((element) => element.sha256)) : undefined;
        for (const [offset, element] of page.entries()) {
          const index = start + offset;
          list.push(await piece(storage, run, element.sha256, pieceName(name, index), pieceCheck(name, index, salt), read));
        }
        if (large) await nextTurn();
      }
      parts[name] = list;
    } else {
      parts[name] = await piece(storage, run, entry.digest.sha256, pieceName(name), pieceCheck(name, undefined, salt));
    }
  }
  const composition: Composition = {
    version: COMPOSITION_VERSION,
    model: parts['model'] as JsonObject,
    system: parts['system'] as JsonValue[],
    input: parts['input'] as JsonValue[],
    context: parts['context'] as JsonValue[],
    tools: parts['tools'] as JsonValue[],
    parameters: parts['parameters'] as JsonObject,
    configuration: parts['configuration'] as JsonObject,
  };
  if (salts !== undefined) composition.salts = salts;
  for (const name of LIST_COMPONENTS) {
    if (!Array.isArray(composition[name])) throw new RunprintError('ERR_REPLAY_CONTENT_MISMATCH', `${pieceName(name)} is not a list: the run store is damaged`);
  }
  const excluded = run.digests.find((digest) => digest.part === 'excluded');
  if (excluded !== undefined) {
    const value = await piece(storage, run, excluded.digest, 'the excluded request members', (canonical) => toHex(sha256Once(canonical)));
    if (!isJsonObject(value)) throw new RunprintError('ERR_REPLAY_CONTENT_MISMATCH', 'the stored excluded request members are not an object: the run store is damaged');
    composition.excluded = value;
  }
  return composition;
}

/**
 * A stored run's composition as a disclosure is made from (SPEC 17.2): storedComposition, with
 * its salts, and with the served facts of its record when it has a run identity, so its identity
 * is the run identity its receipt signs. It holds secrets (the salts open the run's commitments):
 * only for a caller the run store's content is for.
 */
export async function runComposition(storage: RunStorage, run: StoredRun): Promise<Composition> {
  const composition = await storedComposition(storage, run);
  if (run.record.runId !== null && run.record.served !== null) composition.served = run.record.served;
  return composition;
}

/**
 * Rebuilds a stored run's request: storedComposition, then the inverse mapping. The request
 * identity of the result is recomputed and must equal the stored one (ERR_REPLAY_IDENTITY_MISMATCH
 * otherwise: a finding, as the mapping is meant to be lossless). When the store kept the exact
 * request bytes and they give the same composition, they are the body; else the canonical JSON of
 * the rebuilt request is.
 */
export async function rebuildRequest(storage: RunStorage, run: StoredRun): Promise<RebuiltRequest> {
  const composition = await storedComposition(storage, run);
  const format = run.record.format;
  const request = requestFromComposition(composition);
  // With the original's salts: a salted run's request identity is the salted one (SPEC 5.6).
  const remapped = compositionFromRequest(format, request);
  const requestId = computeIdentity(composition.salts === undefined ? remapped : { ...remapped, salts: composition.salts }).requestId;
  if (requestId !== run.record.requestId) {
    throw new RunprintError('ERR_REPLAY_IDENTITY_MISMATCH', 'the rebuilt request has another request identity than the stored run: the request cannot be replayed as it was');
  }
  const exact = await storage.content(run.record.request.rawDigest.sha256);
  const out = headerMembersOut(format, request);
  if (exact !== undefined && toHex(sha256Once(exact)) === run.record.request.rawDigest.sha256) {
    // The members the exact body holds stay there; the others were the original's headers.
    const sent = parsedOrNull(exact);
    const headers = Object.fromEntries(Object.entries(out.headers).filter(([name]) => !(sent !== null && providerFor(format).headerMembers.some((each) => each.header === name && Object.hasOwn(sent, each.member)))));
    return { format, composition, request, bytes: exact, bytesFrom: 'exact', headers, requestId };
  }
  return { format, composition, request, bytes: canonicalBytes(out.request), bytesFrom: 'rebuilt', headers: out.headers, requestId };
}
