/**
 * `runprint runs group --by KEY`: the runs a query selects, counted by what they share
 * (docs/REPLAY.md section 9).
 */
import { UsageError } from '../errors.ts';
import { showJsonText } from '../replay/diff-values.ts';
import { groupRuns, parseGroupBy, type GroupBy, type RunGroup, type RunGroups } from '../replay/group-runs.ts';
import { storedPieceTexts } from '../replay/rebuild-request.ts';
import type { REQUEST_COMPONENTS } from '../identity/composition.ts';
import { runQuery } from '../server/run-routes.ts';
import type { RunStorage } from '../store/run-storage.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { openStore, sayWhereRunsAre } from './runs-command.ts';
import { formatCommandHelp } from './usage.ts';

const GROUP_OPTIONS = {
  data: { type: 'string' },
  'runs-db': { type: 'string' },
  by: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  model: { type: 'string' },
  'served-model': { type: 'string' },
  provider: { type: 'string' },
  status: { type: 'string' },
  parent: { type: 'string' },
  verdict: { type: 'string' },
  component: { type: 'string' },
  limit: { type: 'string' },
  values: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The stored content a group's digest names, cut for a line: the value of a value component or
 * element, the elements of a list component one after the other, as their JSON text (showJsonText:
 * quotes as they are, terminal controls escaped); undefined when not stored. Each piece is checked
 * against its digest as replay and runs diff check it, in the group's newest run (a salted piece
 * with that run's salts): content that does not give it is ERR_REPLAY_CONTENT_MISMATCH, never shown.
 */
async function contentPreview(store: RunStorage, group: RunGroup, by: GroupBy): Promise<string | undefined> {
  // The output's digest names no stored content (the response bytes are what is kept of it).
  if (by.kind === 'request' || by.kind === 'run' || group.key === null || by.name === 'output') return undefined;
  const part = by.name as (typeof REQUEST_COMPONENTS)[number];
  if (group.elements?.length === 0) return '(empty list)';
  const run = (await store.find(group.captureIds[0]!))[0];
  if (run === undefined) return undefined;
  // Each digest with its place in the run: a list component's elements in order, an element where the run has it.
  const pieces: Array<[string, number | undefined]> =
    group.elements !== undefined ? group.elements.map((digest, i) => [digest, i])
    : by.kind === 'element' ? [[group.key, run.digests.find((entry) => entry.part === part && entry.position >= 0 && `sha256:${entry.digest}` === group.key)?.position ?? 0]]
    : [[group.key, undefined]];
  // A salted component's salts are read once, for all its pieces.
  const read = await storedPieceTexts(store, run, part);
  if (read === undefined) return undefined;
  const texts: string[] = [];
  for (const [digest, position] of pieces) {
    const text = await read(position, digest.slice('sha256:'.length));
    if (text === undefined) return undefined;
    texts.push(text);
  }
  return showJsonText(texts.join(' '));
}

function formatGroups(groups: RunGroups, previews: Array<string | undefined>): string {
  let out = `${groups.runs} run${groups.runs === 1 ? '' : 's'}, ${groups.distinct} distinct by ${groups.by}${groups.salted === 0 ? '' : ` (${groups.salted} salted: each salt makes its own key, equal content is not grouped)`}\n`;
  groups.groups.forEach((group, i) => {
    out += `${String(group.count).padStart(7)}  ${group.key ?? '(none)'}  ${group.first} .. ${group.last}${group.salted === true ? '  (salted)' : ''}\n`;
    if (previews[i] !== undefined) out += `         ${previews[i]}\n`;
  });
  return out;
}

/**
 * `runs group --by request|run|component=NAME|element=NAME [filters of runs list] [--values]
 * [--json]`: the runs a query selects, counted by what they share (docs/REPLAY.md section 9).
 */
export async function groupCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs group', args, GROUP_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs group')!);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError('ERR_CLI_USAGE', 'runs group takes no arguments, only options (run "runprint runs group --help")');
  if (values.by === undefined) throw new UsageError('ERR_CLI_USAGE', 'runs group needs --by request, run, component=NAME or element=NAME');
  const by = parseGroupBy(values.by);
  if (values.values === true && (by.kind === 'request' || by.kind === 'run')) throw new UsageError('ERR_CLI_USAGE', '--values goes with --by component=NAME or element=NAME: identities have no content to show');
  const names: Record<string, keyof typeof values> = { since: 'since', until: 'until', model: 'model', servedModel: 'served-model', provider: 'provider', status: 'status', parent: 'parent', verdict: 'verdict', component: 'component' };
  const query = runQuery((name) => {
    const option = names[name];
    return option === undefined ? undefined : (values[option] as string | undefined);
  });
  // Unlike runs list, every matching run is counted unless --limit caps it.
  if (values.limit !== undefined) {
    if (!/^[0-9]{1,9}$/.test(values.limit) || Number(values.limit) < 1) throw new UsageError('ERR_CLI_USAGE', '--limit must be a positive number');
    query.limit = Number(values.limit);
  }
  sayWhereRunsAre(values, io, 'runs group');
  const store = await openStore(values, io, 'read', 'bounded');
  try {
    const groups = await groupRuns(store, query, by);
    const previews = values.values === true ? await Promise.all(groups.groups.map((group) => contentPreview(store, group, by))) : [];
    if (values.json === true) {
      const shown = values.values === true ? { ...groups, groups: groups.groups.map((group, i) => ({ ...group, value: previews[i] ?? null })) } : groups;
      io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
    } else if (groups.runs === 0) io.stderr('runprint: no captured runs match\n');
    else io.stdout(formatGroups(groups, previews));
  } finally {
    await store.close();
  }
  return EXIT.ok;
}
