/**
 * `runprint replay RUN [--data DIR] [--upstream NAME=URL]... [--model M] [--param K=V]... [--json]`:
 * a stored run's request rebuilt from the run store and sent again through the capture core; the
 * replay is stored as a run of its own, linked to the original, and the verdict printed
 * (docs/REPLAY.md). Exit 0 `identical`; 1 `same-request-other-server`, `divergent`, `variant`;
 * 3 `cannot-replay`.
 */
import { existsSync, statSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InputError, ModelDigestError, UsageError } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { parseJson } from '../jcs/parse.ts';
import { inexactNote } from '../receipt/run-diff.ts';
import { SqliteReplayLinks, type ReplayLinks } from '../replay/replay-links.ts';
import { formatBatchReportHtml, type ReportStore } from '../replay/batch-report-html.ts';
import { databaseShown } from '../store/postgres-url.ts';
import { describeTextDifference } from '../replay/output-difference.ts';
import { deleteBatchState, replayBatch, type BatchReport } from '../replay/replay-batch.ts';
import { isAzureUpstream, replayCredentials } from '../replay/replay-credentials.ts';
import { replayRun, type ReplayOverrides, type ReplayResult } from '../replay/replay-run.ts';
import { VERDICTS, type Verdict } from '../replay/verdict.ts';
import { modelWeights, type ModelWeights } from '../replay/weights-check.ts';
import { modelNotFound } from '../model-digest/model-digest-errors.ts';
import { providerFor } from '../providers/registry.ts';
import type { StoredRun } from '../store/run-storage.ts';
import { checkWritable, unwritable } from './output-file.ts';
import { fileName } from './read-input.ts';
import { warnUnknownParams } from './request-warnings.ts';
import { findRuns, RUN_FILTERS, runQuery } from '../server/run-routes.ts';
import { createUpstreamFetch } from '../server/upstream-fetch.ts';
import { upstreamOptions } from './serve-capture.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { printable, printableValue } from '../io/printable.ts';
import { openStore, runsDatabase, runStorePath, sayWhereRunsAre, type StoreOptions } from './runs-command.ts';
import { formatCommandHelp } from './usage.ts';

const OPTIONS = {
  data: { type: 'string' },
  'runs-db': { type: 'string' },
  upstream: { type: 'string', multiple: true },
  model: { type: 'string' },
  param: { type: 'string', multiple: true },
  weights: { type: 'string' },
  json: { type: 'boolean' },
  // Batch options: here only to be named in the error that they go with --runs.
  runs: { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  report: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `replay --runs QUERY ...`: --json names the report file. */
const BATCH_OPTIONS = {
  runs: { type: 'string' },
  data: { type: 'string' },
  'runs-db': { type: 'string' },
  upstream: { type: 'string', multiple: true },
  model: { type: 'string' },
  param: { type: 'string', multiple: true },
  weights: { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  json: { type: 'string' },
  report: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The replay links beside the run store: in its PostgreSQL schema, or in its SQLite file. */
async function openReplayLinks(values: StoreOptions, io: CliIo): Promise<ReplayLinks> {
  const url = runsDatabase(values);
  if (url !== undefined) return (await import('../replay/postgres-replay-links.ts')).PostgresReplayLinks.open(url);
  return SqliteReplayLinks.open(runStorePath(values.data, io));
}

/** A word the shell reads as it is: quoted unless it is made of characters no shell treats apart. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * What the batch report's `runs diff` commands add to find this batch's run store, whatever
 * folder they are pasted in: the data directory as an absolute path, or the PostgreSQL URL, but
 * never one holding a password (a report is a file to hand around): such a URL is named by
 * RUNPRINT_RUNS_DB in the commands, and shown without its secrets in a note (databaseShown).
 */
function reportStore(values: StoreOptions, io: CliIo): ReportStore {
  const url = runsDatabase(values);
  if (url === undefined) return { args: ` --data ${shellWord(dirname(runStorePath(values.data, io)))}` };
  const parsed = new URL(url);
  if (parsed.password === '' && ![...parsed.searchParams.keys()].some((name) => /pass/i.test(name))) return { args: ` --runs-db ${shellWord(url)}` };
  return { args: ' --runs-db "$RUNPRINT_RUNS_DB"', note: `The runs are in the PostgreSQL run store ${databaseShown(url)}, whose URL holds a password this page does not show: set RUNPRINT_RUNS_DB to that URL to run the commands below.` };
}

/** `--param K=V`: V is read as JSON when it is JSON (`0.2`, `true`, `null`, `{"a":1}`), else taken as a string. */
export function paramOption(text: string): [string, JsonValue] {
  const split = text.indexOf('=');
  if (split <= 0) throw new UsageError('ERR_CLI_USAGE', '--param must be K=V: a request member name, =, and its value (JSON, or else a string)');
  const raw = text.slice(split + 1);
  let value: JsonValue;
  try {
    value = parseJson(new TextEncoder().encode(raw));
  } catch {
    value = raw;
  }
  return [text.slice(0, split), value];
}

function formatResult(result: ReplayResult): string {
  const lines = [result.verdict === 'cannot-replay' ? `cannot-replay ${result.reason!.code}: ${result.reason!.message}` : result.verdict];
  lines.push(`  original ${result.original.captureId}  ${result.original.runId ?? result.original.requestId ?? ''}`);
  if (result.replay !== null) {
    lines.push(`  replay   ${result.replay.captureId}  ${result.replay.runId ?? result.replay.requestId ?? `(no identity)`}  status ${result.replay.status ?? 'none'}`);
    lines.push(`  sent to  ${printable(result.replay.url, 120)} (${result.replay.body === 'exact' ? 'the exact bytes stored' : result.replay.body === 'rebuilt' ? 'the request rebuilt from its components' : 'the request with the overrides'})`);
  }
  for (const change of result.overrides?.changed ?? []) lines.push(`  ${change.change.padEnd(8)} ${change.component.padEnd(14)} ${change.path}`);
  for (const component of result.overrides?.inexact ?? []) lines.push(`  ${inexactNote(component).trimEnd()}`);
  if (result.overrides !== undefined && result.overrides.changed.length === 0) {
    // The overrides were not sent (docs/REPLAY.md section 3): the original request was, as a replay.
    const given = [...(result.overrides.model === undefined ? [] : ['model']), ...Object.keys(result.overrides.params ?? {})];
    lines.push(`  the overrides leave the request identity as it was, so they are not sent (${printable(given.join(', '), 120)}): the original request was sent, compared as a replay`);
  }
  for (const fact of result.served) {
    const value = (side: typeof fact.a) => (side === null ? '(none)' : printableValue(side.value));
    lines.push(`  served ${fact.name}: ${value(fact.a)} -> ${value(fact.b)}`);
  }
  if (result.output !== null) {
    if (result.output.equal === true) lines.push(`  output equal ${result.output.a}`);
    else {
      lines.push(`  output differs\n    a ${result.output.a ?? '(none)'}\n    b ${result.output.b ?? '(none)'}`);
      const first = result.output.firstDifference;
      if (first !== undefined) {
        const text = first.text === undefined ? '' : describeTextDifference(first.text);
        lines.push(`  first difference ${first.change} ${printable(first.path, 120)}${text}`);
      } else if (result.output.firstDifferenceUnknown !== undefined) lines.push(`  first difference unknown: ${result.output.firstDifferenceUnknown}`);
    }
  }
  for (const caveat of result.caveats ?? []) lines.push(`  caveat: ${caveat}`);
  return `${lines.join('\n')}\n`;
}

/**
 * A run recorded through Azure OpenAI's deployments path (`/deployments/NAME/chat/completions`,
 * or `/openai/deployments/...` in process) can only be answered by Azure with an `api-version`
 * query, which the record does not keep (a query may hold a key): refused before anything is sent
 * when the openai upstream is OpenAI's public URL (no such route) or an Azure host without one.
 */
function refuseAzureWithoutVersion(record: StoredRun['record'], upstreams: { readonly [name: string]: string }): void {
  const { path } = record;
  if (providerFor(record.format).upstream.name !== 'openai' || !/\/deployments\/[^/]+\//.test(path)) return;
  const upstream = upstreams['openai'];
  const hasVersion = upstream !== undefined && new URL(upstream).searchParams.has('api-version');
  if (upstream !== undefined && (hasVersion || !isAzureUpstream(upstream))) return;
  const base = path.startsWith('/openai/') ? 'https://RESOURCE.openai.azure.com' : 'https://RESOURCE.openai.azure.com/openai';
  throw new UsageError('ERR_CLI_USAGE', `the run was recorded through Azure OpenAI's deployments path (${printable(path, 120)}), which Azure answers only with an api-version query the record does not keep: give the upstream with it, --upstream openai='${base}?api-version=2024-10-21' (and the key in AZURE_OPENAI_API_KEY)`);
}

function overridesOf(values: { model?: string | undefined; param?: string[] | undefined; weights?: string | undefined }): ReplayOverrides {
  if (values.model !== undefined && values.model === '') throw new UsageError('ERR_CLI_USAGE', '--model must not be empty');
  // The empty name is no path (resolved, it would be the working directory, digested as a model).
  if (values.weights === '') throw new UsageError('ERR_CLI_USAGE', '--weights must name the model\'s file or folder');
  const params = (values.param ?? []).map(paramOption);
  return { ...(values.model === undefined ? {} : { model: values.model }), params };
}

/** `--runs QUERY`: `all`, or the query string of GET /v1/runs (its filters, before and limit). */
function batchQuery(text: string) {
  if (text === 'all') return runQuery(() => undefined);
  const params = new URLSearchParams(text);
  const known = [...RUN_FILTERS, 'before', 'limit'];
  for (const name of params.keys()) {
    if (!known.includes(name) || params.getAll(name).length > 1) throw new UsageError('ERR_CLI_USAGE', `--runs must be all, or a query of ${known.join(', ')} (each once), as GET /v1/runs takes: model=gpt-4o&since=2026-12-01T00:00:00Z`);
  }
  const limit = params.get('limit');
  params.delete('limit');
  const query = runQuery((name) => params.get(name) ?? undefined);
  // In a batch, limit caps the whole set (newest first), not a page.
  if (limit !== null) {
    if (!/^[0-9]{1,9}$/.test(limit) || Number(limit) < 1) throw new UsageError('ERR_CLI_USAGE', '--runs limit must be a positive number');
    query.limit = Number(limit);
  }
  return query;
}

/**
 * The slowest --rate: one replay started every 1,000,000 s (about 11.6 days). A slower one is
 * taken for a mistake; the pacer itself waits any length (replay-batch.ts).
 */
const MIN_RATE = '0.000001';

/** --NAME's number from `min` to `max` (`min` as the message writes it). */
function numberOption(text: string | undefined, name: string, fallback: number | undefined, [min, max]: [string, number], integer: boolean): number | undefined {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || !(value >= Number(min)) || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError('ERR_CLI_USAGE', `--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

/** The progress line on a terminal: replays done of the total, and the verdicts so far. */
function progressLine(done: number, total: number, counts: Record<Verdict, number>): string {
  const width = 24;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const verdicts = VERDICTS.filter((verdict) => counts[verdict] > 0).map((verdict) => `${verdict} ${counts[verdict]}`).join('  ');
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${verdicts}\u001b[K`;
}

function formatBatch(report: BatchReport, jsonFile: string, htmlFile: string | undefined): string {
  const files = htmlFile === undefined ? printable(jsonFile, 120) : `${printable(jsonFile, 120)} and ${printable(htmlFile, 120)}`;
  let out = `${report.total} run${report.total === 1 ? '' : 's'} replayed${report.resumed > 0 ? ` (${report.resumed} by an earlier, interrupted run of this batch)` : ''}; report in ${files}\n`;
  // Each verdict (and `error`) once, adding up to the total; under cannot-replay and error, by code.
  const byCode = (verdict: Verdict | null): Array<[string, number]> => {
    const counts = new Map<string, number>();
    for (const row of report.runs) if (row.verdict === verdict && row.code !== undefined) counts.set(row.code, (counts.get(row.code) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  };
  const lines: Array<[string, number]> = [];
  for (const verdict of VERDICTS) {
    if (report.counts[verdict] === 0) continue;
    lines.push([verdict, report.counts[verdict]]);
    if (verdict === 'cannot-replay') for (const [code, count] of byCode(verdict)) lines.push([`  ${code}`, count]);
  }
  if (report.errors > 0) {
    lines.push(['error', report.errors]);
    for (const [code, count] of byCode(null)) lines.push([`  ${code}`, count]);
  }
  const width = Math.max(26, ...lines.map(([label]) => label.length));
  const countWidth = Math.max(...lines.map(([, count]) => String(count).length), 1);
  for (const [label, count] of lines) out += `  ${label.padEnd(width)} ${String(count).padStart(countWidth)}\n`;
  for (const change of report.servedChanges) {
    const value = (side: unknown) => (side === null ? '(none)' : printableValue(side));
    out += `  served ${change.fact}: ${value(change.a)} -> ${value(change.b)} in ${change.count} run${change.count === 1 ? '' : 's'}\n`;
  }
  return out;
}

/** Whether `path` is a folder (not there, or not to be looked at: false; writing it then says why). */
function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

/** Writes a report file whole or not at all: a temporary file renamed over it. */
async function writeWhole(path: string, text: string, name: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, path);
  } catch (error) {
    // The write's own failure is the one said: removing what it left may fail the same way (ENOTDIR).
    await rm(temporary, { force: true }).catch(() => undefined);
    throw unwritable(name, error);
  }
}

/**
 * `replay --runs QUERY --json FILE [--concurrency N] [--rate R]`: every run the query selects
 * replayed (docs/REPLAY.md section 8), resumable: the state file FILE.state names the batch until
 * the report is written. Exit 0 when every run is identical, 1 otherwise.
 */
async function batchCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('replay', args, BATCH_OPTIONS);
  if (positionals.length > 0) throw new UsageError('ERR_CLI_USAGE', 'replay --runs takes no RUN: the query selects the runs');
  if (values.json === undefined || values.json === '' || values.json === '-') throw new UsageError('ERR_CLI_USAGE', 'replay --runs needs --json FILE: the report file (the batch\'s state is kept beside it, in FILE.state)');
  const query = batchQuery(values.runs!);
  // --data with --runs-db names two run stores: refused, as the runs commands refuse it, before anything is opened or written.
  sayWhereRunsAre(values, io, 'replay --runs');
  const concurrency = numberOption(values.concurrency, 'concurrency', 1, ['1', 64], true)!;
  const rate = numberOption(values.rate, 'rate', undefined, [MIN_RATE, 100000], false);
  const upstreams = upstreamOptions(values.upstream ?? [], '--upstream', { query: true });
  const overrides = overridesOf(values);
  warnUnknownParams(overrides.params ?? [], undefined, io);
  const jsonPath = resolve(io.cwd, values.json);
  const statePath = `${jsonPath}.state`;
  const htmlPath = values.report === undefined ? undefined : resolve(io.cwd, values.report);
  if (values.report === '' || values.report === '-' || htmlPath === jsonPath) throw new UsageError('ERR_CLI_USAGE', '--report must name a file other than the --json report');
  // A report that is there without a batch state is a finished batch's: never replaced.
  for (const [path, name] of [[jsonPath, values.json], [htmlPath, values.report]] as const) {
    if (path === undefined) continue;
    // A folder is said to be one (as log proof --out says it), before any replay is sent.
    if (isDirectory(path)) throw unwritable(name!, { code: 'EISDIR' });
    if (existsSync(path) && !existsSync(statePath)) throw new InputError('ERR_FILE_EXISTS', `file already exists, refusing to overwrite it: ${printable(name!, 120)}`);
    // A folder that is not there, is a file, or may not be written in: said now, not after the whole batch was sent.
    await checkWritable(name!, io);
  }
  // One model for every run, digested once per serialization the runs recorded.
  let weights: ModelWeights | undefined;
  if (values.weights !== undefined) {
    const path = resolve(io.cwd, values.weights);
    if (!existsSync(path)) throw new ModelDigestError('ERR_MODEL_NOT_FOUND', `${modelNotFound().message}: ${fileName(values.weights)}`);
    weights = modelWeights(path);
  }
  const store = await openStore(values, io, 'write');
  let links: ReplayLinks;
  try {
    links = await openReplayLinks(values, io);
  } catch (error) {
    await store.close();
    throw error;
  }
  let shown = 0;
  // serve's upstream client (node:http), so an upstream serve reaches is reached: Node's fetch
  // refuses the Fetch standard's bad ports (6000, 10080...).
  const upstreamFetch = createUpstreamFetch();
  // Ctrl-C: said, then the default (the process ends by the signal); every finished replay is kept.
  const interrupted = (): void => {
    io.stderr(`${io.stderrIsTTY === true ? '\n' : ''}runprint: replay --runs interrupted; the replays finished are kept: run the same command again to go on where it stopped (state in ${printable(`${values.json}.state`, 120)})\n`);
    process.kill(process.pid, 'SIGINT');
  };
  process.once('SIGINT', interrupted);
  try {
    const report = await replayBatch({
      storage: store,
      links,
      statePath,
      query,
      queryText: values.runs!,
      replay: { upstreams, overrides, headers: replayCredentials(process.env, upstreams, io.stderr), fetch: upstreamFetch as typeof fetch, ...(weights === undefined ? {} : { weights }) },
      concurrency,
      ...(rate === undefined ? {} : { rate }),
      onProgress: (done, total, counts) => {
        if (!io.stderrIsTTY) return;
        const now = performance.now();
        if (done < total && now - shown < 100) return;
        shown = now;
        io.stderr(progressLine(done, total, counts));
        if (done === total) io.stderr('\n');
      },
    });
    if (htmlPath !== undefined) await writeWhole(htmlPath, formatBatchReportHtml(report, reportStore(values, io)), values.report!);
    await writeWhole(jsonPath, `${JSON.stringify(report, null, 2)}\n`, values.json);
    await deleteBatchState(statePath);
    io.stdout(formatBatch(report, values.json, values.report));
    return report.counts.identical === report.total ? EXIT.ok : EXIT.differs;
  } finally {
    process.removeListener('SIGINT', interrupted);
    upstreamFetch.close();
    await links.close();
    await store.close();
  }
}

export async function replayCommand(args: string[], io: CliIo): Promise<number> {
  if (args.some((arg) => arg === '--runs' || arg.startsWith('--runs='))) return batchCommand(args, io);
  const { values, positionals } = parseCommandLine('replay', args, OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('replay')!);
    return EXIT.ok;
  }
  for (const name of ['concurrency', 'rate', 'report'] as const) {
    if (values[name] !== undefined) throw new UsageError('ERR_CLI_USAGE', `--${name} goes with --runs (a batch replay)`);
  }
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'replay takes one RUN: a capture id, a record digest or a run identity, or --runs QUERY for a batch (run "runprint replay --help")');
  const upstreams = upstreamOptions(values.upstream ?? [], '--upstream', { query: true });
  const { params, ...model } = overridesOf(values);
  sayWhereRunsAre(values, io, 'replay');
  const store = await openStore(values, io, 'write');
  let links: ReplayLinks | undefined;
  // serve's upstream client (node:http), so an upstream serve reaches is reached: Node's fetch
  // refuses the Fetch standard's bad ports (6000, 10080...).
  const upstreamFetch = createUpstreamFetch();
  try {
    const runs = await findRuns(store, positionals[0]!);
    // A run identity may name several captures: the latest is replayed (its capture id is printed).
    const original = runs[runs.length - 1]!;
    refuseAzureWithoutVersion(original.record, upstreams);
    // A mistyped member name is sent as given: said, as `id` says it of a file, before anything is sent.
    warnUnknownParams(params ?? [], original.record.format, io);
    links = await openReplayLinks(values, io);
    const result = await replayRun(original, {
      storage: store,
      links,
      upstreams,
      overrides: { ...model, ...(params === undefined ? {} : { params }) },
      headers: replayCredentials(process.env, upstreams, io.stderr),
      fetch: upstreamFetch as typeof fetch,
      ...(values.weights === undefined ? {} : { weights: resolve(io.cwd, values.weights) }),
    });
    io.stdout(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result));
    if (result.verdict === 'identical') return EXIT.ok;
    return result.verdict === 'cannot-replay' ? EXIT.input : EXIT.differs;
  } finally {
    upstreamFetch.close();
    await links?.close();
    await store.close();
  }
}
