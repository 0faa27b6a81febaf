/**
 * Counting stored runs by what they share (docs/REPLAY.md section 9): how many distinct request
 * or run identities a query's runs have, which versions of a component ran (a system prompt, the
 * tools), and which runs shared one list element (a retrieval document). A function over
 * RunStorage.list, paged through, so every run store answers it alike.
 */
import { UsageError } from '../errors.ts';
import { LIST_COMPONENTS, REQUEST_COMPONENTS } from '../identity/composition.ts';
import type { RunQuery, RunStorage, StoredRun } from '../store/run-storage.ts';

/** What runs are grouped by. */
export type GroupBy = { kind: 'request' } | { kind: 'run' } | { kind: 'component'; name: string } | { kind: 'element'; name: string };

/** Components whose digest `component=NAME` groups by: the request components, and the output (SPEC 12 digest). */
const GROUPABLE = [...REQUEST_COMPONENTS, 'output'] as const;

/**
 * `request`, `run`, `component=NAME` or `element=NAME` (NAME a list component). `name` is what the
 * error calls the value: the CLI's `--by` (the default), HTTP's query parameter `by`.
 */
export function parseGroupBy(text: string, name = '--by'): GroupBy {
  if (text === 'request' || text === 'run') return { kind: text };
  const split = text.indexOf('=');
  const kind = text.slice(0, split);
  const part = text.slice(split + 1);
  if (split > 0 && kind === 'component' && (GROUPABLE as readonly string[]).includes(part)) return { kind, name: part };
  if (split > 0 && kind === 'element' && (LIST_COMPONENTS as readonly string[]).includes(part)) return { kind, name: part };
  throw new UsageError(
    'ERR_CLI_USAGE',
    `${name} must be request, run, component=NAME (NAME one of ${GROUPABLE.join(', ')}) or element=NAME (NAME one of ${LIST_COMPONENTS.join(', ')})`,
  );
}

export function formatGroupBy(by: GroupBy): string {
  return by.kind === 'component' || by.kind === 'element' ? `${by.kind}=${by.name}` : by.kind;
}

export interface RunGroup {
  /** The identity (`rp-req-…`, `rp-run-…`) or digest (`sha256:…`) the runs share; null: the runs that have none. */
  key: string | null;
  /** Runs in the group. */
  count: number;
  /** Start times of the earliest and latest run in it. */
  first: string;
  last: string;
  /** Capture ids of its runs, newest first. */
  captureIds: string[];
  /** With component=NAME of a list component: the element digests the component digest stands for. */
  elements?: string[];
  /**
   * Present (true) when the key is a salted commitment (SPEC 5.6): salted with a fresh salt per
   * run at capture, equal content gives another key in every run, so such a group holds the runs
   * of one salt only (a run and its replays).
   */
  salted?: true;
}

export interface RunGroups {
  by: string;
  /** Runs the query selected, each counted once whatever the number of groups it is in. */
  runs: number;
  /** Distinct keys, the null group not counted. */
  distinct: number;
  /** Runs counted whose key is salted (each in a group of its salt's, not of its content's). */
  salted: number;
  /** Largest group first; equal counts by earliest first run. */
  groups: RunGroup[];
}

/** The keys a run has under `by`: one for an identity or component, one per list element (none: the null key). */
function keysOf(run: StoredRun, by: GroupBy): Array<string | null> {
  switch (by.kind) {
    case 'request':
      return [run.record.requestId];
    case 'run':
      return [run.record.runId];
    case 'component': {
      const digest = run.digests.find((entry) => entry.part === by.name && entry.position === -1);
      return [digest === undefined ? null : `sha256:${digest.digest}`];
    }
    case 'element': {
      const elements = run.digests.filter((entry) => entry.part === by.name && entry.position >= 0).map((entry) => `sha256:${entry.digest}`);
      // The same element twice in one run counts the run once.
      return elements.length === 0 ? [null] : [...new Set(elements)];
    }
  }
}

/** True when a run's keys under `by` are salted commitments: a salted component, or an identity over one. */
function saltedUnder(run: StoredRun, by: GroupBy): boolean {
  if (run.identity === null) return false;
  if (by.kind === 'request' || by.kind === 'run') return REQUEST_COMPONENTS.some((name) => run.identity!.components[name].salted === true);
  return (REQUEST_COMPONENTS as readonly string[]).includes(by.name) && run.identity.components[by.name as (typeof REQUEST_COMPONENTS)[number]].salted === true;
}

/** Runs per page while paging through the store. */
const PAGE = 1000;

/**
 * Groups every run `query` selects (its `limit`, when given, caps the runs counted, newest first;
 * without one every matching run is counted), paging through the store newest first.
 */
export async function groupRuns(storage: RunStorage, query: RunQuery, by: GroupBy): Promise<RunGroups> {
  const groups = new Map<string | null, RunGroup>();
  const cap = query.limit ?? Number.POSITIVE_INFINITY;
  let before = query.before;
  let runs = 0;
  let salted = 0;
  while (runs < cap) {
    const want = Math.min(PAGE, cap - runs);
    const page = await storage.list({ ...query, limit: want, ...(before === undefined ? {} : { before }) });
    for (const run of page) {
      runs++;
      const started = run.record.times.started;
      const isSalted = saltedUnder(run, by);
      if (isSalted) salted++;
      for (const key of keysOf(run, by)) {
        const group = groups.get(key);
        if (group === undefined) {
          const created: RunGroup = { key, count: 1, first: started, last: started, captureIds: [run.record.captureId] };
          if (by.kind === 'component' && key !== null && (LIST_COMPONENTS as readonly string[]).includes(by.name)) {
            created.elements = run.digests.filter((entry) => entry.part === by.name && entry.position >= 0).sort((a, b) => a.position - b.position).map((entry) => `sha256:${entry.digest}`);
          }
          if (isSalted && key !== null) created.salted = true;
          groups.set(key, created);
        }
        else {
          group.count++;
          if (started < group.first) group.first = started;
          if (started > group.last) group.last = started;
          group.captureIds.push(run.record.captureId);
        }
      }
    }
    if (page.length < want) break;
    before = page[page.length - 1]!.seq;
  }
  const sorted = [...groups.values()].sort((a, b) => b.count - a.count || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  return { by: formatGroupBy(by), runs, distinct: sorted.filter((group) => group.key !== null).length, salted, groups: sorted };
}
