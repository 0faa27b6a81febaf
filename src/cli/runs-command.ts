/**
 * `runprint runs list`, `runprint runs show RUN` and `runprint runs diff A B`: the captured runs in
 * a data directory's run store (runs.sqlite), read while `serve` may be writing it
 * (docs/CAPTURE.md). list and show are the same queries as `GET /v1/runs` and `GET /v1/runs/{id}`,
 * with the same JSON; diff compares two runs (docs/REPLAY.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { parsePrivateKey, parsePublicKey } from '../keys/keys.ts';
import { noteVerifier } from '../log/note-keys.ts';
import type { Difference } from '../identity/diff.ts';
import { compareRuns, type RunsDiff, type ServedDifference } from '../replay/compare-runs.ts';
import { groupRuns, parseGroupBy, type RunGroup, type RunGroups } from '../replay/group-runs.ts';
import { verifyRun, type RunVerification, type VerifyRunOptions } from '../replay/verify-run.ts';
import { DEFAULT_LOG_NAME } from '../store/log-service.ts';
import { LOG_DATABASE } from '../store/open-storage.ts';
import { RECEIPT_KEY_FILE } from '../store/receipt-key.ts';
import { SqliteLog } from '../store/sqlite-log.ts';
import { findRuns, runQuery, runView } from '../server/run-routes.ts';
import type { StoredRun } from '../store/run-storage.ts';
import { SqliteRuns } from '../store/sqlite-runs.ts';
import { closestName } from './closest-name.ts';
import { valuesOf } from './diff-inputs.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { printable } from './printable.ts';
import { readLogKey, readWitnessKey } from './log-options.ts';
import type { NoteVerifier } from '../log/note.ts';
import { readInput } from './read-input.ts';
import { DEFAULT_DATA_DIR, LOG_KEY_FILE } from './serve-command.ts';
import { RUNS_DATABASE } from './serve-capture.ts';
import { formatCommandHelp } from './usage.ts';

const LIST_OPTIONS = {
  data: { type: 'string' },
  since: { type: 'string' },
  model: { type: 'string' },
  'served-model': { type: 'string' },
  component: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SHOW_OPTIONS = {
  data: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The run store's file in a data directory (--data, else RUNPRINT_DATA, else ./runprint-data). */
export function runStorePath(data: string | undefined, io: CliIo): string {
  return join(resolve(io.cwd, data ?? process.env['RUNPRINT_DATA'] ?? DEFAULT_DATA_DIR), RUNS_DATABASE);
}

/** Opens a data directory's run store, which must exist. */
export function openStore(data: string | undefined, io: CliIo): SqliteRuns {
  const path = runStorePath(data, io);
  // Opening would create an empty store: a data directory without one is named instead.
  if (!existsSync(path)) throw new InputError('ERR_INPUT_NOT_FOUND', `no run store in ${data ?? DEFAULT_DATA_DIR} (runprint serve creates ${RUNS_DATABASE} there when it captures)`);
  return SqliteRuns.open(path);
}

/** One line per run: when, capture id, status, model asked -> served, run identity (or why none). */
function line(run: StoredRun): string {
  const { record } = run;
  const served = record.served?.['model']?.value;
  const model = `${run.model ?? '?'}${typeof served === 'string' && served !== run.model ? ` -> ${served}` : ''}`;
  const status = record.incomplete === null ? `${record.response.status}` : `${record.response.status ?? '---'} ${record.incomplete.reason}`;
  const id = record.runId ?? (record.unidentified !== null ? `unidentified (${record.unidentified.code})` : record.requestId ?? '');
  return `${record.times.started}  ${record.captureId}  ${record.format}  ${printable(model)}  ${status}  ${id}\n`;
}

function details(run: StoredRun): string {
  const { record } = run;
  const rows: Array<[string, string]> = [
    ['capture id', record.captureId],
    ['run', record.runId ?? '(none)'],
    ['request', record.requestId ?? `(unidentified: ${record.unidentified?.code ?? '?'}${record.unidentified?.path ? ` at ${record.unidentified.path}` : ''})`],
    ['format', `${record.format} ${record.method} ${record.path}`],
    ['model', printable(run.model ?? '(unknown)')],
  ];
  for (const [name, fact] of Object.entries(record.served ?? {})) rows.push([`served ${name}`, `${printable(typeof fact.value === 'string' ? fact.value : JSON.stringify(fact.value))} (${fact.source})`]);
  rows.push(
    ['status', `${record.response.status ?? 'no response'} ${record.outcome}${record.incomplete === null ? '' : ` (incomplete: ${record.incomplete.reason}${record.incomplete.code === null ? '' : `, ${record.incomplete.code}`})`}`],
    ['output', record.output === null ? '(none)' : `sha256:${record.output.digest.sha256} finish ${record.output.finishReason ?? '-'}`],
    ['request bytes', `${record.request.size} sha256:${record.request.rawDigest.sha256}`],
    ['response bytes', record.response.rawDigest === null ? '(none)' : `${record.response.size} sha256:${record.response.rawDigest.sha256}${record.response.stream ? ' (stream)' : ''}`],
    ['times', `${record.times.started} .. ${record.times.ended}`],
    ['parents', record.parents.length === 0 ? '(none)' : record.parents.join(', ')],
    ['receipt', run.receipt === null ? '(none yet)' : run.logIndex === null ? 'signed' : `signed, log index ${run.logIndex}`],
  );
  if (run.contentExpired) rows.push(['content', 'deleted (retention); digests remain']);
  if (run.identity !== null) {
    for (const [name, entry] of Object.entries(run.identity.components)) {
      rows.push([`component ${name}`, `sha256:${entry.digest.sha256}${entry.kind === 'list' ? ` (${entry.count} element${entry.count === 1 ? '' : 's'})` : ''}`]);
    }
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}\n`).join('');
}

async function listCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs list', args, LIST_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs list')!);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError('ERR_CLI_USAGE', 'runs list takes no arguments, only options (run "runprint runs list --help")');
  const names: Record<string, keyof typeof values> = { since: 'since', model: 'model', servedModel: 'served-model', component: 'component', limit: 'limit' };
  const query = runQuery((name) => {
    const option = names[name];
    return option === undefined ? undefined : (values[option] as string | undefined);
  });
  const store = openStore(values.data, io);
  try {
    const runs = await store.list(query);
    if (values.json === true) io.stdout(`${JSON.stringify({ runs: runs.map(runView) }, null, 2)}\n`);
    else if (runs.length === 0) io.stderr('runprint: no captured runs match\n');
    else for (const run of runs) io.stdout(line(run));
  } finally {
    await store.close();
  }
  return EXIT.ok;
}

async function showCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs show', args, SHOW_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs show')!);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'runs show takes one RUN: a capture id, a record digest or a run identity (run "runprint runs show --help")');
  const store = openStore(values.data, io);
  try {
    const runs = await findRuns(store, positionals[0]!);
    if (values.json === true) io.stdout(`${JSON.stringify({ runs: runs.map(runView) }, null, 2)}\n`);
    else io.stdout(runs.map(details).join('\n'));
  } finally {
    await store.close();
  }
  return EXIT.ok;
}

const DIFF_OPTIONS = {
  data: { type: 'string' },
  values: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type ShownDifference = Difference & { values?: { a?: string; b?: string } };

function servedLine(fact: ServedDifference): string {
  const value = (side: ServedDifference['a']) => (side === null ? '(none)' : `${printable(typeof side.value === 'string' ? side.value : JSON.stringify(side.value))} (${side.source})`);
  return `served   ${fact.name.padEnd(14)} ${value(fact.a)} -> ${value(fact.b)}\n`;
}

function formatRunsDiff(diff: RunsDiff, differences: ShownDifference[]): string {
  const same = diff.sameRun && diff.output.equal !== false;
  let out = same ? `same run ${diff.a.runId}\n` : `differ (${diff.sameRun ? 'same run identity' : diff.sameRequest ? 'same request identity' : 'different requests'})\n`;
  out += `  a ${diff.a.captureId}  ${diff.a.runId ?? diff.a.requestId}\n  b ${diff.b.captureId}  ${diff.b.runId ?? diff.b.requestId}\n`;
  if (differences.length > 0) out += `request differences (compared by ${diff.compared === 'content' ? 'stored content' : 'element digests: some content is not stored'}):\n`;
  for (const difference of differences) {
    const where = difference.change === 'moved' ? ` (from [${difference.from}] to [${difference.to}])` : '';
    out += `${difference.change.padEnd(8)} ${difference.component.padEnd(14)} ${difference.path}${where}\n`;
    if (difference.values?.a !== undefined) out += `           a: ${difference.values.a}\n`;
    if (difference.values?.b !== undefined) out += `           b: ${difference.values.b}\n`;
  }
  for (const fact of diff.served) out += servedLine(fact);
  const { output } = diff;
  if (output.equal === null) out += 'output   none on either side\n';
  else if (output.equal) out += `output   equal ${output.a}\n`;
  else {
    out += `output   differs\n  a ${output.a ?? '(none)'}\n  b ${output.b ?? '(none)'}\n`;
    const first = output.firstDifference;
    if (first !== undefined) {
      const text = first.text === undefined ? '' : ` at character ${first.text.offset}, words ${first.text.words.from}..${first.text.words.from + Math.max(first.text.words.a, first.text.words.b)}${first.text.similarity === null ? '' : `, word similarity ${first.text.similarity}`}`;
      out += `first difference ${first.change} ${printable(first.path, 120)}${text}\n`;
    } else if (output.firstDifferenceUnknown !== undefined) out += `first difference unknown: ${output.firstDifferenceUnknown}\n`;
  }
  return out;
}

/**
 * `runs diff A B [--values] [--json]`: two stored runs compared (docs/REPLAY.md section 4). Exit
 * 0 when they are the same run (equal run identities) with the same output, 1 otherwise.
 */
async function diffCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs diff', args, DIFF_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs diff')!);
    return EXIT.ok;
  }
  if (positionals.length !== 2) throw new UsageError('ERR_CLI_USAGE', 'runs diff takes two runs A and B, each a capture id, a record digest or a run identity (run "runprint runs diff --help")');
  const store = openStore(values.data, io);
  try {
    // A run identity may name several captures: the latest is compared (its capture id is printed).
    const a = (await findRuns(store, positionals[0]!)).at(-1)!;
    const b = (await findRuns(store, positionals[1]!)).at(-1)!;
    const { diff, compositions } = await compareRuns(store, a, b);
    let differences: ShownDifference[] = diff.differences;
    if (values.values === true) {
      if (compositions === undefined) io.stderr('runprint: --values: not every component of both runs is stored (digest only, or past retention): no values shown\n');
      else {
        differences = differences.map((difference) => {
          const shown = valuesOf(difference, compositions.a, compositions.b);
          return shown === undefined ? difference : { ...difference, values: shown };
        });
      }
    }
    io.stdout(values.json === true ? `${JSON.stringify({ ...diff, differences }, null, 2)}\n` : formatRunsDiff(diff, differences));
    return diff.sameRun && diff.output.equal !== false ? EXIT.ok : EXIT.differs;
  } finally {
    await store.close();
  }
}

const VERIFY_OPTIONS = {
  data: { type: 'string' },
  key: { type: 'string' },
  'log-key': { type: 'string' },
  'log-origin': { type: 'string' },
  witness: { type: 'string', multiple: true },
  'witness-threshold': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The keys `runs verify` checks with: the receipt key from --key, else derived from the data
 * directory's receipt-key.pem; the log from the data directory's log.sqlite, its key from
 * --log-key (a verifier key), else derived from log-key.pem, its origin --log-origin (else the
 * verifier key's name, else RUNPRINT_LOG_NAME, else serve's default); the witnesses from
 * --witness, at least --witness-threshold of them (default all). What is missing is said, not guessed.
 */
async function verifySources(storePath: string, values: VerifyValues, io: CliIo): Promise<Omit<VerifyRunOptions, 'storage'>> {
  const dataDir = dirname(storePath);
  const sources: Omit<VerifyRunOptions, 'storage'> = {};
  if (values.key !== undefined) {
    sources.receiptKey = { key: await parsePublicKey(new TextDecoder().decode(await readInput(values.key, io))), from: 'given with --key' };
  } else if (existsSync(join(dataDir, RECEIPT_KEY_FILE))) {
    const key = await parsePrivateKey(readFileSync(join(dataDir, RECEIPT_KEY_FILE)));
    sources.receiptKey = { key: key.publicKey, from: `derived from ${RECEIPT_KEY_FILE} in the data directory: whoever can write the directory can re-sign, so give --key for a check independent of it` };
  } else {
    sources.receiptKeyMissing = `not checked: no --key and no ${RECEIPT_KEY_FILE} in the data directory (serve ran with --capture-key or --sign-key: give that key's public half with --key)`;
  }
  const witnesses: NoteVerifier[] = [];
  for (const name of values.witness ?? []) {
    const witness = await readWitnessKey(name, io);
    // The policy counts witnesses by name: two keys under one name would count once.
    if (witnesses.some((other) => other.name === witness.name)) throw new UsageError('ERR_CLI_USAGE', 'each --witness must have its own name');
    witnesses.push(witness);
  }
  let threshold = witnesses.length;
  if (values['witness-threshold'] !== undefined) {
    const text = values['witness-threshold'];
    if (witnesses.length === 0) throw new UsageError('ERR_CLI_USAGE', '--witness-threshold goes with --witness');
    if (!/^[0-9]{1,4}$/.test(text) || Number(text) < 1 || Number(text) > witnesses.length) throw new UsageError('ERR_CLI_USAGE', `--witness-threshold must be a number from 1 to ${witnesses.length} (the --witness keys given)`);
    threshold = Number(text);
  }
  const logPath = join(dataDir, LOG_DATABASE);
  if (!existsSync(logPath)) {
    sources.logMissing = `not checked: no ${LOG_DATABASE} in the data directory (the log is elsewhere, or serve ran with --no-log)`;
    return sources;
  }
  let logKey;
  let from: string;
  if (values['log-key'] !== undefined) {
    logKey = await readLogKey(values['log-key'], io);
    from = 'given with --log-key';
  } else if (existsSync(join(dataDir, LOG_KEY_FILE))) {
    const key = await parsePrivateKey(readFileSync(join(dataDir, LOG_KEY_FILE)));
    logKey = noteVerifier(values['log-origin'] ?? process.env['RUNPRINT_LOG_NAME'] ?? DEFAULT_LOG_NAME, key.publicKey);
    from = `derived from ${LOG_KEY_FILE} in the data directory`;
  } else {
    sources.logMissing = `not checked: no --log-key and no ${LOG_KEY_FILE} in the data directory`;
    return sources;
  }
  sources.log = { storage: SqliteLog.open(logPath), logKey, origin: values['log-origin'] ?? logKey.name, from, witnesses, threshold };
  return sources;
}

interface VerifyValues {
  key?: string | undefined;
  'log-key'?: string | undefined;
  'log-origin'?: string | undefined;
  witness?: string[] | undefined;
  'witness-threshold'?: string | undefined;
}

function formatVerification(result: RunVerification): string {
  let out = `${result.ok ? 'ok' : 'FAILED'} ${result.run.captureId}  ${result.run.runId ?? result.run.requestId ?? '(unidentified)'}\n`;
  for (const check of result.checks) {
    const mark = check.status === 'pass' ? 'pass' : check.status === 'fail' ? 'FAIL' : 'not checked';
    const why = check.status === 'pass' ? (check.log === undefined ? (check.message ?? '') : `index ${check.log.index} of ${check.log.treeSize}, origin ${check.log.origin}${check.log.cosignedBy.length === 0 ? '' : `, cosigned by ${check.log.cosignedBy.join(', ')}`}`) : `${check.code === undefined ? '' : `${check.code}: `}${check.message ?? ''}`;
    out += `${mark.padEnd(11)} ${check.name.padEnd(8)} ${why}\n${' '.repeat(21)}relies on ${check.reliesOn}\n`;
  }
  out += `${result.counts.pass} passed, ${result.counts.fail} failed, ${result.counts['not-checked']} not checked\n`;
  return out;
}

/**
 * `runs verify RUN [--key PUB] [--log-key VKEY] [--log-origin O] [--witness VKEY]... [--witness-threshold K] [--json]`: every check of a
 * stored run (docs/REPLAY.md section 7). Exit 0 when no check made fails, 1 when one does.
 */
async function verifyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs verify', args, VERIFY_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs verify')!);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'runs verify takes one RUN: a capture id, a record digest or a run identity (run "runprint runs verify --help")');
  const store = openStore(values.data, io);
  let sources: Omit<VerifyRunOptions, 'storage'> | undefined;
  try {
    // A run identity may name several captures: the latest is verified (its capture id is printed).
    const run = (await findRuns(store, positionals[0]!)).at(-1)!;
    sources = await verifySources(runStorePath(values.data, io), values, io);
    const result = await verifyRun(run, { storage: store, ...sources });
    io.stdout(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatVerification(result));
    return result.ok ? EXIT.ok : EXIT.differs;
  } finally {
    await sources?.log?.storage.close();
    await store.close();
  }
}

const GROUP_OPTIONS = {
  data: { type: 'string' },
  by: { type: 'string' },
  since: { type: 'string' },
  model: { type: 'string' },
  'served-model': { type: 'string' },
  component: { type: 'string' },
  limit: { type: 'string' },
  values: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The stored content a group's digest names, cut for a line: the value of a value component or
 * element, the elements of a list component one after the other; undefined when not stored.
 */
async function contentPreview(store: SqliteRuns, group: RunGroup): Promise<string | undefined> {
  const digests = group.elements ?? (group.key?.startsWith('sha256:') === true ? [group.key] : []);
  if (digests.length === 0) return group.elements === undefined ? undefined : '(empty list)';
  const texts: string[] = [];
  for (const digest of digests) {
    const bytes = await store.content(digest.slice('sha256:'.length));
    if (bytes === undefined) return undefined;
    texts.push(new TextDecoder().decode(bytes));
  }
  return printable(texts.join(' '), 80);
}

function formatGroups(groups: RunGroups, previews: Array<string | undefined>): string {
  let out = `${groups.runs} run${groups.runs === 1 ? '' : 's'}, ${groups.distinct} distinct by ${groups.by}\n`;
  groups.groups.forEach((group, i) => {
    out += `${String(group.count).padStart(7)}  ${group.key ?? '(none)'}  ${group.first} .. ${group.last}\n`;
    if (previews[i] !== undefined) out += `         ${previews[i]}\n`;
  });
  return out;
}

/**
 * `runs group --by request|run|component=NAME|element=NAME [filters of runs list] [--values]
 * [--json]`: the runs a query selects, counted by what they share (docs/REPLAY.md section 9).
 */
async function groupCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs group', args, GROUP_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs group')!);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError('ERR_CLI_USAGE', 'runs group takes no arguments, only options (run "runprint runs group --help")');
  if (values.by === undefined) throw new UsageError('ERR_CLI_USAGE', 'runs group needs --by request, run, component=NAME or element=NAME');
  const by = parseGroupBy(values.by);
  if (values.values === true && (by.kind === 'request' || by.kind === 'run')) throw new UsageError('ERR_CLI_USAGE', '--values goes with --by component=NAME or element=NAME: identities have no content to show');
  const names: Record<string, keyof typeof values> = { since: 'since', model: 'model', servedModel: 'served-model', component: 'component' };
  const query = runQuery((name) => {
    const option = names[name];
    return option === undefined ? undefined : (values[option] as string | undefined);
  });
  // Unlike runs list, every matching run is counted unless --limit caps it.
  if (values.limit !== undefined) {
    if (!/^[0-9]{1,9}$/.test(values.limit) || Number(values.limit) < 1) throw new UsageError('ERR_CLI_USAGE', '--limit must be a positive number');
    query.limit = Number(values.limit);
  }
  const store = openStore(values.data, io);
  try {
    const groups = await groupRuns(store, query, by);
    const previews = values.values === true ? await Promise.all(groups.groups.map((group) => contentPreview(store, group))) : [];
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

const SUBCOMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = { list: listCommand, show: showCommand, diff: diffCommand, verify: verifyCommand, group: groupCommand };

export async function runsCommand(args: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === 'help' || name === '--help' || name === '-h') {
    io.stdout(formatCommandHelp('runs')!);
    return EXIT.ok;
  }
  const command = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined) {
    const closest = name === undefined ? undefined : closestName(name, Object.keys(SUBCOMMANDS));
    throw new UsageError('ERR_CLI_USAGE', `runs takes list, show, diff, verify or group${closest === undefined ? '' : `; did you mean "runs ${closest}"?`}; run "runprint runs --help"`);
  }
  return command(rest, io);
}
