/** docs/SPEC.md section 10: a structural diff of two compositions, by component, element and path. */
import { formatNormalizedPath as formatPath } from '../errors.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { alignKeys, listKeys, listMoves } from './align.ts';
import { LIST_COMPONENTS, REQUEST_COMPONENTS, type ComponentName } from './composition.ts';
import { computeIdentity, type IdentityDocument } from './identity.ts';

/**
 * One difference. `path` is the RFC 9535 normalized path of the place in composition B (in A for
 * `removed`); `from`/`to` are element indices in A and B when a list element moved or changed.
 */
export interface Difference {
  component: ComponentName | 'version';
  change: 'changed' | 'added' | 'removed' | 'moved';
  path: string;
  from?: number;
  to?: number;
}

export interface CompositionDiff {
  /** True when the identities compared are equal: run identities if both have one, else request. */
  equal: boolean;
  compared: 'runId' | 'requestId';
  a: IdentityDocument;
  b: IdentityDocument;
  differences: Difference[];
  /**
   * The list components compared element by element whose alignment was not exact (SPEC 10: past
   * runprint's bounds, ALIGN_PAIRS and ALIGN_EDITS, not a longest common subsequence), in the order
   * of the components; empty when every one was.
   */
  inexact: ComponentName[];
}

type Segment = string | number;
const LIST_NAMES = new Set<string>(LIST_COMPONENTS);

/** Compares two compositions (parsed JSON or in-process values); both must be valid. */
export function diffCompositions(compositionA: unknown, compositionB: unknown): CompositionDiff {
  const a = computeIdentity(compositionA);
  const b = computeIdentity(compositionB);
  const compared = a.runId !== null && b.runId !== null ? 'runId' : 'requestId';
  const differences: Difference[] = [];
  const inexact: ComponentName[] = [];
  const valueA = compositionA as Record<string, unknown>;
  const valueB = compositionB as Record<string, unknown>;
  for (const name of REQUEST_COMPONENTS) {
    const entryA = a.components[name];
    const entryB = b.components[name];
    if (entryA.digest.sha256 === entryB.digest.sha256) continue;
    const before = differences.length;
    if (entryA.kind === 'list' && entryB.kind === 'list' && LIST_NAMES.has(name)) {
      if (!diffList(name, valueA[name] as unknown[], valueB[name] as unknown[], entryA.elements, entryB.elements, differences)) inexact.push(name);
    } else {
      diffValue(name, valueA[name], valueB[name], [name], differences);
    }
    // Same content, another digest: only the component's salt (SPEC 2.5) differs. The path names
    // where the salt lives; the salt itself is never shown.
    if (differences.length === before) {
      differences.push({ component: name, change: 'changed', path: formatPath(['salts', name]) });
    }
  }
  if (a.served?.digest.sha256 !== b.served?.digest.sha256) {
    diffValue('served', valueA['served'], valueB['served'], ['served'], differences);
  }
  const equal = compared === 'runId' ? a.runId === b.runId : a.requestId === b.requestId;
  return { equal, compared, a, b, differences, inexact };
}

function same(x: unknown, y: unknown): boolean {
  return canonicalize(x) === canonicalize(y);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Walks two JSON values and reports the smallest places where they differ. */
function diffValue(component: ComponentName, x: unknown, y: unknown, path: Segment[], out: Difference[]): void {
  if (x === undefined && y === undefined) return;
  if (x === undefined) return void out.push({ component, change: 'added', path: formatPath(path) });
  if (y === undefined) return void out.push({ component, change: 'removed', path: formatPath(path) });
  if (isPlainObject(x) && isPlainObject(y)) {
    const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
    for (const key of keys) {
      if (x[key] === undefined || y[key] === undefined || !same(x[key], y[key])) {
        diffValue(component, x[key], y[key], [...path, key], out);
      }
    }
    return;
  }
  if (Array.isArray(x) && Array.isArray(y)) {
    const length = Math.max(x.length, y.length);
    for (let index = 0; index < length; index++) {
      if (index >= x.length) out.push({ component, change: 'added', path: formatPath([...path, index]) });
      else if (index >= y.length) out.push({ component, change: 'removed', path: formatPath([...path, index]) });
      else if (!same(x[index], y[index])) diffValue(component, x[index], y[index], [...path, index], out);
    }
    return;
  }
  if (!same(x, y)) out.push({ component, change: 'changed', path: formatPath(path) });
}

/**
 * Aligns two lists by element digest (a longest common subsequence within the bounds of align.ts),
 * reports elements that moved (same digest, other place), then pairs what is left in each gap as
 * changed, the rest as added or removed. Returns whether the alignment was exact.
 */
function diffList(
  component: ComponentName,
  listA: unknown[],
  listB: unknown[],
  digestsA: Array<{ sha256: string }>,
  digestsB: Array<{ sha256: string }>,
  out: Difference[],
): boolean {
  const keys = listKeys(
    digestsA.map((d) => d.sha256),
    digestsB.map((d) => d.sha256),
  );
  const { pairs, exact } = alignKeys(keys);
  // The gaps between two aligned pairs (and before the first, after the last) that hold an element.
  const gaps: Array<{ a0: number; a1: number; b0: number; b1: number }> = [];
  const alignedA = new Uint8Array(keys.a.length);
  const alignedB = new Uint8Array(keys.b.length);
  let i = 0;
  let j = 0;
  for (const [matchA, matchB] of pairs) {
    alignedA[matchA] = 1;
    alignedB[matchB] = 1;
  }
  for (const [matchA, matchB] of [...pairs, [keys.a.length, keys.b.length] as const]) {
    if (i < matchA || j < matchB) gaps.push({ a0: i, a1: matchA, b0: j, b1: matchB });
    i = matchA + 1;
    j = matchB + 1;
  }
  // Moves: an element that left one place and appears unchanged at another (listMoves, the rule
  // the alignment keeps elements in place by), in the order of A.
  const moves = listMoves(keys, alignedA, alignedB);
  const moved = new Uint8Array(keys.a.length);
  const movedB = new Uint8Array(keys.b.length);
  for (let from = 0; from < moves.length; from++) {
    const to = moves[from]!;
    if (to === -1) continue;
    moved[from] = 1;
    movedB[to] = 1;
    out.push({ component, change: 'moved', path: formatPath([component, to]), from, to });
  }
  for (const gap of gaps) {
    const restA: number[] = [];
    const restB: number[] = [];
    for (let from = gap.a0; from < gap.a1; from++) if (moved[from] === 0) restA.push(from);
    for (let to = gap.b0; to < gap.b1; to++) if (movedB[to] === 0) restB.push(to);
    const paired = Math.min(restA.length, restB.length);
    for (let k = 0; k < paired; k++) {
      const from = restA[k]!;
      const to = restB[k]!;
      const before = out.length;
      diffValue(component, listA[from], listB[to], [component, to], out);
      for (let n = before; n < out.length; n++) {
        out[n]!.from = from;
        out[n]!.to = to;
      }
    }
    for (const from of restA.slice(paired)) out.push({ component, change: 'removed', path: formatPath([component, from]), from });
    for (const to of restB.slice(paired)) out.push({ component, change: 'added', path: formatPath([component, to]), to });
  }
  return exact;
}
