/**
 * `runprint runs list` and `runprint runs show RUN`: the captured runs in a data directory's run
 * store (runs.sqlite), read while `serve` may be writing it (docs/CAPTURE.md). The same queries as
 * `GET /v1/runs` and `GET /v1/runs/{id}`, with the same JSON.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { findRuns, runQuery, runView } from '../server/run-routes.ts';
import type { StoredRun } from '../store/run-storage.ts';
import { SqliteRuns } from '../store/sqlite-runs.ts';
import { closestName } from './closest-name.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { printable } from './printable.ts';
import { DEFAULT_DATA_DIR } from './serve-command.ts';
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

function openStore(data: string | undefined, io: CliIo): SqliteRuns {
  const dir = resolve(io.cwd, data ?? process.env['RUNPRINT_DATA'] ?? DEFAULT_DATA_DIR);
  const path = join(dir, RUNS_DATABASE);
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

const SUBCOMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = { list: listCommand, show: showCommand };

export async function runsCommand(args: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === 'help' || name === '--help' || name === '-h') {
    io.stdout(formatCommandHelp('runs')!);
    return EXIT.ok;
  }
  const command = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined) {
    const closest = name === undefined ? undefined : closestName(name, Object.keys(SUBCOMMANDS));
    throw new UsageError('ERR_CLI_USAGE', `runs takes list or show${closest === undefined ? '' : `; did you mean "runs ${closest}"?`}; run "runprint runs --help"`);
  }
  return command(rest, io);
}
