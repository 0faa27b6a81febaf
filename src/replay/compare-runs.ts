/**
 * Two stored runs compared (docs/REPLAY.md section 4, `runprint runs diff`): component by
 * component and element by element (SPEC 10's structural diff, over the stored content when both
 * runs have all of it, else over the element digests of their identity documents), served facts
 * fact by fact, and outputs by digest and, where the response bytes are stored, by where they
 * first differ.
 */
import type { RunRecord } from '../capture/run-record.ts';
import { RunprintError } from '../errors.ts';
import { toHex, sha256Once } from '../hash/sha256.ts';
import { COMPOSITION_VERSION, REQUEST_COMPONENTS, VALUE_COMPONENTS, type ComponentName, type Composition, type ServedFact } from '../identity/composition.ts';
import { diffCompositions, type Difference } from '../identity/diff.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import type { RunStorage, StoredRun } from '../store/run-storage.ts';
import { firstOutputDifference, type OutputDifference } from './output-difference.ts';
import { isSalted, storedComposition, storedSalts } from './rebuild-request.ts';

/** One served fact that differs: its value on each side, null where that side does not have it. */
export interface ServedDifference {
  name: string;
  a: ServedFact | null;
  b: ServedFact | null;
}

export interface OutputComparison {
  /** Equal output digests; null when neither run has an output. */
  equal: boolean | null;
  /** `sha256:<hex>` output digests, null for a run without an output. */
  a: string | null;
  b: string | null;
  /** Where they first differ; absent when equal, or when either response body is not stored. */
  firstDifference?: OutputDifference;
  /** Why firstDifference is absent although the outputs differ. */
  firstDifferenceUnknown?: string;
}

/** The identities and facts of one side, as a diff names it. */
export interface RunSide {
  captureId: string;
  requestId: string;
  runId: string | null;
  model: string | null;
  served: { [name: string]: ServedFact } | null;
}

export interface RunsDiff {
  a: RunSide;
  b: RunSide;
  sameRequest: boolean;
  sameRun: boolean;
  /** `content`: the differences come from the stored values (with paths inside elements); `digests`: from element digests only. */
  compared: 'content' | 'digests';
  /** Request components and list elements that differ (SPEC 10), in component order. */
  differences: Difference[];
  /**
   * The list components whose elements were not aligned exactly (SPEC 10: past runprint's bounds),
   * so an element may be named moved, changed, added or removed where an exact alignment would
   * find it equal; empty when every list was aligned exactly.
   */
  inexact: ComponentName[];
  served: ServedDifference[];
  output: OutputComparison;
}

/** The served facts that differ between two records' facts, by name in code-unit order. */
export function servedDifferences(a: RunRecord['served'], b: RunRecord['served']): ServedDifference[] {
  const names = [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort();
  const out: ServedDifference[] = [];
  for (const name of names) {
    const x = a?.[name];
    const y = b?.[name];
    if (x !== undefined && y !== undefined && canonicalize(x) === canonicalize(y)) continue;
    out.push({ name, a: x ?? null, b: y ?? null });
  }
  return out;
}

/**
 * The assembled output (SPEC 12) of a run from its stored response bytes, checked against the
 * raw digest of its record; undefined when the bytes are not stored or the run has no output.
 */
export async function storedOutput(storage: RunStorage, run: StoredRun): Promise<JsonValue | undefined> {
  if (run.record.output === null) return undefined;
  const bytes = await storedResponse(storage, run);
  return bytes === undefined ? undefined : (runOutputFrom(bytes, run.record.format).output ?? undefined);
}

/**
 * The response bytes of a run as its client received them, from the run store, checked against
 * the raw digest of its record; undefined when the run had no response body or it is not stored.
 */
export async function storedResponse(storage: RunStorage, run: StoredRun): Promise<Uint8Array | undefined> {
  const raw = run.record.response.rawDigest;
  if (raw === null) return undefined;
  const bytes = await storage.content(raw.sha256);
  if (bytes === undefined) return undefined;
  if (toHex(sha256Once(bytes)) !== raw.sha256) throw new RunprintError('ERR_REPLAY_CONTENT_MISMATCH', 'the stored response bytes do not give the raw digest of the run record: the run store is damaged');
  return bytes;
}

const shown = (digest: { sha256: string } | undefined) => (digest === undefined ? null : `sha256:${digest.sha256}`);

/** Outputs compared by digest, and by content where both response bodies are stored. */
export async function compareOutputs(storage: RunStorage, a: StoredRun, b: StoredRun, outputB?: JsonValue): Promise<OutputComparison> {
  const digestA = a.record.output?.digest;
  const digestB = b.record.output?.digest;
  const comparison: OutputComparison = {
    equal: digestA === undefined && digestB === undefined ? null : digestA?.sha256 === digestB?.sha256,
    a: shown(digestA),
    b: shown(digestB),
  };
  if (comparison.equal !== false) return comparison;
  if (digestA === undefined || digestB === undefined) {
    comparison.firstDifferenceUnknown = `run ${digestA === undefined ? 'A' : 'B'} has no output`;
    return comparison;
  }
  const valueA = await storedOutput(storage, a);
  const valueB = outputB ?? (await storedOutput(storage, b));
  if (valueA === undefined || valueB === undefined) {
    comparison.firstDifferenceUnknown = `the response bytes of run ${valueA === undefined ? 'A' : 'B'} are not stored (digest only, or past retention)`;
    return comparison;
  }
  const first = firstOutputDifference(valueA, valueB);
  if (first !== undefined) comparison.firstDifference = first;
  return comparison;
}

/**
 * A composition standing for a run's identity document when its content is not all stored: each
 * list element is its element digest (`sha256:<hex>`), each value component `{"name": "sha256:<hex>"}`. Two
 * such stand-ins differ where the runs' elements differ, so SPEC 10's list alignment (moves,
 * additions, removals) works on digests alone.
 */
function standIn(identity: IdentityDocument): Composition {
  const component = (name: 'model' | 'parameters' | 'configuration') => ({ name: `sha256:${identity.components[name].digest.sha256}` });
  const list = (name: 'system' | 'input' | 'context' | 'tools') => {
    const entry = identity.components[name];
    return entry.kind === 'list' ? entry.elements.map((element) => `sha256:${element.sha256}`) : [];
  };
  return {
    version: COMPOSITION_VERSION,
    model: component('model'),
    system: list('system'),
    input: list('input'),
    context: list('context'),
    tools: list('tools'),
    parameters: component('parameters'),
    configuration: component('configuration'),
  };
}

function sideOf(run: StoredRun, which: 'A' | 'B'): RunSide {
  if (run.identity === null || run.record.requestId === null) {
    throw new RunprintError('ERR_REPLAY_UNIDENTIFIED', `run ${which} has no request identity (${run.record.unidentified?.code ?? 'unidentified'}): there is nothing to compare it by`);
  }
  return { captureId: run.record.captureId, requestId: run.record.requestId, runId: run.record.runId, model: run.model, served: run.record.served };
}

/** What a CompositionDiffer gives: diffCompositions' differences and the lists it aligned inexactly. */
export interface CompositionDifferences {
  differences: Difference[];
  inexact: ComponentName[];
}

/**
 * diffCompositions(a, b)'s differences and inexact lists, here or elsewhere: serve has those of
 * large runs computed in a worker thread (the identities of two compositions of 100,000 elements
 * held its event loop more than half a second).
 */
export type CompositionDiffer = (a: Composition, b: Composition) => Promise<CompositionDifferences>;

const differencesHere: CompositionDiffer = async (a, b) => {
  const { differences, inexact } = diffCompositions(a, b);
  return { differences, inexact };
};

/** The stored composition of a run, or undefined when some of its content is not stored. */
async function compositionOrNone(storage: RunStorage, run: StoredRun): Promise<Composition | undefined> {
  try {
    return await storedComposition(storage, run);
  } catch (error) {
    if (error instanceof RunprintError && error.code === 'ERR_REPLAY_CONTENT_NOT_STORED') return undefined;
    throw error;
  }
}

/** A composition without its salts (the salts are compared apart, and never shown). */
function unsalted(composition: Composition): Composition {
  const { salts: _salts, ...rest } = composition;
  return rest;
}

/**
 * The differences of two runs' stored content: SPEC 10 over the content itself, salts aside (two
 * salted runs of the same content differ in their salts, not in their content), then one
 * `$['salts'][NAME]` difference (never the salt) for each component salted otherwise on either
 * side whose content is equal, as diffCompositions reports a difference of salts alone.
 */
async function contentDifferences(a: Composition, b: Composition, differ: CompositionDiffer): Promise<CompositionDifferences> {
  const { differences, inexact } = await differ(unsalted(a), unsalted(b));
  const ordered: Difference[] = [];
  for (const name of ['version', ...REQUEST_COMPONENTS, 'served'] as const) {
    const of = differences.filter((difference) => difference.component === name);
    if (of.length === 0 && name !== 'served' && name !== 'version' && a.salts?.[name] !== b.salts?.[name]) {
      of.push({ component: name, change: 'changed', path: `$['salts']['${name}']` });
    }
    ordered.push(...of);
  }
  return { differences: ordered, inexact };
}

/**
 * Salted element digests are comparable only under equal salts (a replay keeps its original's):
 * comparing runs by digests when a component is salted on either side with salts not known to be
 * equal would report differences that are only the salts'. ERR_REPLAY_CONTENT_NOT_STORED then.
 */
async function checkComparableDigests(storage: RunStorage, a: StoredRun, b: StoredRun): Promise<void> {
  if (!isSalted(a) && !isSalted(b)) return;
  const salts = async (run: StoredRun) => {
    try {
      return await storedSalts(storage, run);
    } catch (error) {
      if (error instanceof RunprintError && error.code === 'ERR_REPLAY_CONTENT_NOT_STORED') return undefined;
      throw error;
    }
  };
  const saltsA = await salts(a);
  const saltsB = await salts(b);
  for (const name of REQUEST_COMPONENTS) {
    const salted = a.identity!.components[name].salted === true || b.identity!.components[name].salted === true;
    if (salted && (saltsA?.[name] === undefined || saltsA[name] !== saltsB?.[name])) {
      throw new RunprintError('ERR_REPLAY_CONTENT_NOT_STORED', `component "${name}" is salted, with salts that are not the same in both runs (or not stored), and not all content of both runs is stored: salted digests cannot be compared, and the content that could be is not there`);
    }
  }
}

/**
 * Compares two stored runs. When every piece of both runs' content is stored, the compositions
 * compared are returned too (for `--values`), their salts left out.
 */
export async function compareRuns(storage: RunStorage, a: StoredRun, b: StoredRun, differ: CompositionDiffer = differencesHere): Promise<{ diff: RunsDiff; compositions?: { a: Composition; b: Composition } }> {
  const sideA = sideOf(a, 'A');
  const sideB = sideOf(b, 'B');
  const compositionA = await compositionOrNone(storage, a);
  const compositionB = compositionA === undefined ? undefined : await compositionOrNone(storage, b);
  let differences: Difference[];
  let inexact: ComponentName[];
  let compared: RunsDiff['compared'];
  if (compositionA !== undefined && compositionB !== undefined) {
    ({ differences, inexact } = await contentDifferences(compositionA, compositionB, differ));
    compared = 'content';
  } else {
    await checkComparableDigests(storage, a, b);
    const values = new Set<string>(VALUE_COMPONENTS);
    const seen = new Set<string>();
    differences = [];
    // The stand-ins' lists are the runs' element digests: aligned as the content's would be.
    const byDigests = await differ(standIn(a.identity!), standIn(b.identity!));
    inexact = byDigests.inexact;
    for (const difference of byDigests.differences) {
      if (!values.has(difference.component)) {
        differences.push(difference);
      } else if (!seen.has(difference.component)) {
        // A value component is one digest: it changed, and where inside it is not known.
        seen.add(difference.component);
        differences.push({ component: difference.component, change: 'changed', path: `$['${difference.component}']` });
      }
    }
    compared = 'digests';
  }
  const diff: RunsDiff = {
    a: sideA,
    b: sideB,
    sameRequest: sideA.requestId === sideB.requestId,
    sameRun: sideA.runId !== null && sideA.runId === sideB.runId,
    compared,
    differences,
    inexact,
    served: servedDifferences(a.record.served, b.record.served),
    output: await compareOutputs(storage, a, b),
  };
  return compared === 'content' ? { diff, compositions: { a: unsalted(compositionA!), b: unsalted(compositionB!) } } : { diff };
}
