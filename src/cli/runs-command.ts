/**
 * `runprint runs list`, `runprint runs show RUN` and `runprint runs diff A B`: the captured runs in
 * a data directory's run store (runs.sqlite), read while `serve` may be writing it
 * (docs/CAPTURE.md). list and show are the same queries as `GET /v1/runs` and `GET /v1/runs/{id}`,
 * with the same JSON; diff compares two runs (docs/REPLAY.md). `runs verify` and `runs group`
 * are in runs-verify-command.ts and runs-group-command.ts.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError, ReceiptError, UsageError } from '../errors.ts';
import { parsePrivateKey, publicKeyPem } from '../keys/keys.ts';
import { readEnvelope } from '../receipt/envelope.ts';
import { inexactNote } from '../receipt/run-diff.ts';
import { RECEIPT_KEY_FILE } from '../store/receipt-key.ts';
import { checkWritable, refuseStandardOutput, writeOutputFile } from './output-file.ts';
import { readInput } from './read-input.ts';
import { storedResponse, type RunsDiff, type ServedDifference } from '../replay/compare-runs.ts';
import { runsDiffView, type ShownDifference } from '../replay/diff-values.ts';
import { notStored, runComposition } from '../replay/rebuild-request.ts';
import { describeTextDifference } from '../replay/output-difference.ts';
import { CONTENT_STATES, findRuns, noReceipt, runContent, runQuery, runViews, whyNoReceipt, type ContentState, type PartContent } from '../server/run-routes.ts';
import { runEnding, type RunStorage, type StoredReplayLink, type StoredRun } from '../store/run-storage.ts';
import { SqliteRuns } from '../store/sqlite-runs.ts';
import { storePermission } from '../store/storage-faults.ts';
import { closestName } from '../io/closest-name.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { printable, printableValue } from '../io/printable.ts';
import { dataDirectory } from './serve-data.ts';
import { postgresUrl } from './serve-command.ts';
import { RUNS_DATABASE } from './serve-capture.ts';
import { formatCommandHelp } from './usage.ts';

const LIST_OPTIONS = {
  data: { type: 'string' },
  'runs-db': { type: 'string' },
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
  before: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The runs `runs list` shows without --limit: the run store's default, as `GET /v1/runs`. */
const LIST_DEFAULT_LIMIT = 100;

const SHOW_OPTIONS = {
  data: { type: 'string' },
  'runs-db': { type: 'string' },
  json: { type: 'boolean' },
  composition: { type: 'boolean' },
  response: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Whether `path` is there, not there, or not to be looked at (permission denied on a folder on its way). */
function lookUp(path: string): 'there' | 'absent' | 'denied' {
  try {
    statSync(path);
    return 'there';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'denied' : 'absent';
  }
}

/** Whether `path` is there and is not a folder (a folder it is in that cannot be read: not known, false). */
function isFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() === false;
  } catch {
    return false;
  }
}

/** The run store's file in a data directory (--data, else RUNPRINT_DATA, else ./runprint-data). */
export function runStorePath(data: string | undefined, io: CliIo): string {
  return join(resolve(io.cwd, dataDirectory(data).dir), RUNS_DATABASE);
}

/** Where a command finds the run store: --data (its runs.sqlite) or --runs-db (PostgreSQL). */
export interface StoreOptions {
  data?: string | undefined;
  'runs-db'?: string | undefined;
  /** A command that takes --log-db (runs verify) finds the run store there too, as serve puts it. */
  'log-db'?: string | undefined;
}

/**
 * The PostgreSQL run store's URL as serve takes it: --runs-db, else RUNPRINT_RUNS_DB, else
 * --log-db (for a command that has it), else RUNPRINT_LOG_DB (serve puts the runs where the log
 * goes unless told otherwise); undefined: the data directory's SQLite file.
 */
export function runsDatabase(values: StoreOptions): string | undefined {
  const source = runsDatabaseSource(values);
  return source === undefined ? undefined : postgresUrl(source.name, source.url);
}

/** runsDatabase's URL, unchecked, with the option or variable that gave it. */
function runsDatabaseSource(values: StoreOptions): { name: string; url: string } | undefined {
  const sources: Array<[string, string | undefined]> = [
    ['--runs-db', values['runs-db']],
    ['RUNPRINT_RUNS_DB', process.env['RUNPRINT_RUNS_DB'] || undefined],
    ['--log-db', values['log-db']],
    ['RUNPRINT_LOG_DB', process.env['RUNPRINT_LOG_DB'] || undefined],
  ];
  const [name, url] = sources.find(([, value]) => value !== undefined) ?? ['', undefined];
  return url === undefined ? undefined : { name, url };
}

/**
 * A runs command given --data while its runs are in PostgreSQL says which store it reads, before
 * it opens one. A command that reads only runs (list, show, diff, group) has no use for --data
 * then: with --runs-db on the command line too, the two name two run stores of which one would be
 * read, refused (ERR_CLI_USAGE); with the URL from the environment (RUNPRINT_RUNS_DB,
 * RUNPRINT_LOG_DB), which the user may not have in mind, one line on stderr says the runs are
 * read from there, not from --data, and how to read the data directory's instead. `dataUse`: what
 * the command still reads in the data directory (runs verify: its keys), which takes both; that
 * line then says what --data is for, and with both on the command line none is printed.
 */
export function sayWhereRunsAre(values: StoreOptions, io: CliIo, command: string, dataUse?: string): void {
  if (values.data === undefined) return;
  const source = runsDatabaseSource(values);
  if (source === undefined) return;
  if (dataUse !== undefined) {
    if (!source.name.startsWith('--')) io.stderr(`runprint: ${command} reads the run from the PostgreSQL run store ${source.name} names; --data names only the data directory of ${dataUse}\n`);
  } else if (source.name.startsWith('--')) {
    throw new UsageError('ERR_CLI_USAGE', `${source.name} and --data name two run stores and ${command} reads one: give ${source.name} for the runs in PostgreSQL, or --data for the data directory's ${RUNS_DATABASE}`);
  } else {
    io.stderr(`runprint: ${command} reads the runs from the PostgreSQL run store ${source.name} names, not from --data, which it does not use (unset ${source.name} to read the data directory's ${RUNS_DATABASE})\n`);
  }
}

/**
 * Opens the run store: the PostgreSQL one of runsDatabase, else the data directory's, which must
 * exist and be one (a file without a runs table is ERR_INPUT_NOT_FOUND, to write it too, and is
 * left as it was). `write`: the command stores runs (replay); otherwise the store is only read, on either
 * store a reader: no table made or migrated, no file made, and a write fails with
 * ERR_STORE_READ_ONLY (PostgreSQL: read-only sessions, so a role that may only SELECT reads it;
 * SQLite: a read-only connection, so a store in a folder the user may not write reads, and a
 * serve of an older version writing it is not migrated under it).
 *
 * `check`, for a SQLite store a command reads: 'whole' (runs verify, the command that checks)
 * runs SQLite's quick_check at open whatever the store's size; 'bounded' (the commands that
 * answer a query: list, show, diff, group) only up to SqliteRuns' bound (256 MiB), so a large
 * store is not read whole at every command, and a damaged page a query reads is
 * ERR_STORE_CORRUPT all the same (SqliteRuns.openReader).
 */
export async function openStore(values: StoreOptions, io: CliIo, access: 'read' | 'write' = 'read', check: 'whole' | 'bounded' = 'whole'): Promise<RunStorage> {
  const url = runsDatabase(values);
  if (url !== undefined) return (await import('../store/postgres-runs.ts')).PostgresRuns.open(url, access === 'read' ? { readOnly: true } : { create: false });
  const path = runStorePath(values.data, io);
  // Opening would create an empty store: a data directory without one is named instead, as it was
  // given (--data, RUNPRINT_DATA or the default), and a file given for it is said to be one.
  const found = lookUp(path);
  if (found !== 'there') {
    const { dir, fromEnv } = dataDirectory(values.data);
    const named = `${printable(dir, 200)}${fromEnv ? ' (RUNPRINT_DATA)' : ''}`;
    // A folder this user may not enter hides the store: said as such, not as no store.
    if (found === 'denied') throw storePermission({ local: `data directory ${named} (this user may not enter it, or a folder above it)`, remote: 'data directory' });
    if (isFile(resolve(io.cwd, dir))) throw new InputError('ERR_INPUT_NOT_FOUND', `no run store in ${named}: it is a file, not a folder (the data directory is the folder runprint serve --data DIR keeps ${RUNS_DATABASE} in)`);
    throw new InputError('ERR_INPUT_NOT_FOUND', `no run store in ${named} (runprint serve creates ${RUNS_DATABASE} there when it captures; a run store in PostgreSQL is named with --runs-db URL)`);
  }
  // A file this user may not read (or, to write, not write) is named itself: the store's own
  // account of a failed open looks at the folder first, which a reader does not need to write.
  try {
    accessSync(path, access === 'read' ? constants.R_OK : constants.R_OK | constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw storePermission({ local: `run database ${path}`, remote: 'run database' });
  }
  // To write (replay), only a store serve made: an empty file, or a log database put in its place, is no store to add tables to.
  return access === 'read' ? SqliteRuns.openReader(path, { check }) : SqliteRuns.open(path, { create: false });
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

/**
 * The status row of `runs show`: first the word `runs list --status` selects the run by
 * (complete, incomplete or failed, and unidentified when its request has no identity), then why it
 * is not complete and the HTTP status. How the exchange itself ended is the transport row.
 */
function statusOf(run: StoredRun): string {
  const { record } = run;
  const words = [runEnding(record), ...(record.requestId === null ? ['unidentified'] : [])].join(', ');
  const why = record.incomplete === null ? '' : `: ${record.incomplete.reason}${record.incomplete.code === null ? '' : `, ${record.incomplete.code}`}`;
  return `${words}${why} (${record.response.status === null ? 'no response' : `HTTP ${record.response.status}`})`;
}

/** The transport outcome of the exchange (complete: it ended normally, whatever its status and body said). */
const TRANSPORT: Record<StoredRun['record']['outcome'], string> = {
  complete: 'complete (the exchange ended normally)',
  aborted: 'aborted (the client cancelled the call)',
  timeout: 'timeout (the client stopped waiting)',
  'network-error': 'network-error (the connection failed or was cut)',
};

/** The receipt row of `runs show`: signed, not yet, or why none is made. */
function receiptOf(run: StoredRun): string {
  // Stored, not checked: the facts above are the run store's word until runs verify compares them with the receipt.
  const unchecked = '; not checked here: runs verify compares the facts shown with what the receipt signs';
  if (run.receipt !== null) return run.logIndex === null ? `signed, no log index yet (waiting to be appended to a log: in the outbox of a serve with --capture-log while that log cannot be reached; captured in process, until a serve with a log on this run store appends it; or signed by a serve that keeps none: runs verify says more)${unchecked}` : `signed, log index ${run.logIndex}${unchecked}`;
  const why = whyNoReceipt(run);
  return why === null ? 'not signed yet (or the service signs none)' : `none is made: ${why}`;
}

/**
 * The content rows of `runs show`, from where each part's content is (runContent, which the JSON
 * views' `content` member says too): the parts whose content is stored because this run keeps
 * it, stored because another run keeps the same content, or not stored. A list part split
 * between two of these says how many of its elements are where.
 */
function contentRows(run: StoredRun, parts: readonly PartContent[]): Array<[string, string]> {
  const byState: Record<ContentState, string[]> = { kept: [], elsewhere: [], none: [] };
  const success = run.record.response.status !== null && run.record.response.status >= 200 && run.record.response.status <= 299;
  for (const { part, states } of parts) {
    for (const state of CONTENT_STATES) {
      const count = states.filter((each) => each === state).length;
      if (count === 0) continue;
      const of = count === states.length ? '' : ` (${count} of ${states.length} ${part === 'retrieval' ? 'documents' : 'elements'})`;
      const note = part === 'response' && state !== 'kept' && !success ? ' (an error body, never kept)' : '';
      byState[state].push(`${part}${of}${note}`);
    }
  }
  const rows: Array<[string, string]> = [];
  if (run.contentExpired) rows.push(['content', 'past retention: this run keeps no content now; its digests, record and receipt remain']);
  if (byState.kept.length > 0) rows.push(['stored', `${byState.kept.join(', ')} (this run keeps them)`]);
  if (byState.elsewhere.length > 0) rows.push(['stored elsewhere', `${byState.elsewhere.join(', ')} (another run keeps the same content${run.contentExpired ? '' : '; this run kept the digests only'})`]);
  if (byState.none.length > 0) rows.push(run.contentExpired ? ['not stored', `${byState.none.join(', ')} (deleted by retention, or kept as digest only)`] : ['digest only', `${byState.none.join(', ')} (content not stored)`]);
  return rows;
}

function details(run: StoredRun, links: readonly StoredReplayLink[], content: ReadonlyArray<[string, string]>): string {
  const { record } = run;
  const rows: Array<[string, string]> = [
    ['capture id', record.captureId],
    ['run', record.runId ?? '(none)'],
    ['request', record.requestId ?? `(unidentified: ${record.unidentified?.code ?? '?'}${record.unidentified?.path ? ` at ${record.unidentified.path}` : ''})`],
    ['format', `${record.format} ${record.method} ${record.path}`],
    ['model', printable(run.model ?? '(unknown)')],
  ];
  for (const [name, fact] of Object.entries(record.served ?? {})) rows.push([`served ${name}`, `${printableValue(fact.value)} (${fact.source})`]);
  rows.push(
    ['status', statusOf(run)],
    ['transport', TRANSPORT[record.outcome] ?? record.outcome],
    ['output', record.output === null ? '(none)' : `sha256:${record.output.digest.sha256} finish ${record.output.finishReason ?? '-'}`],
    ['request bytes', `${record.request.size} sha256:${record.request.rawDigest.sha256}`],
    ['response bytes', record.response.rawDigest === null ? '(none)' : `${record.response.size} sha256:${record.response.rawDigest.sha256}${record.response.stream ? ' (stream)' : ''}`],
    ['times', `${record.times.started} .. ${record.times.ended}`],
    ['parents', record.parents.length === 0 ? '(none)' : record.parents.join(', ')],
    ['retrieval', (record.retrieval ?? []).length === 0 ? '(none declared)' : record.retrieval.map((document) => `${printable(document.source)} sha256:${document.digest.sha256} (${document.component}[${document.element}])`).join(', ')],
    ['receipt', receiptOf(run)],
  );
  // The replay links of the run store (docs/REPLAY.md section 5): the run this one replays, and its replays.
  const of = links.find((link) => link.replay.recordDigest === run.recordDigest);
  if (of !== undefined) rows.push(['replay of', `${of.replayOf.captureId} (seq ${of.replayOf.seq}), verdict ${of.verdict}`]);
  const replays = links.filter((link) => link.replayOf.recordDigest === run.recordDigest);
  rows.push(['replays', replays.length === 0 ? '(none)' : replays.map((link) => `${link.replay.captureId} (seq ${link.replay.seq}) ${link.verdict}`).join(', ')]);
  rows.push(...content);
  if (run.identity !== null) {
    for (const [name, entry] of Object.entries(run.identity.components)) {
      const notes = [...(entry.kind === 'list' ? [`${entry.count} element${entry.count === 1 ? '' : 's'}`] : []), ...(entry.salted === true ? ['salted'] : [])];
      rows.push([`component ${name}`, `sha256:${entry.digest.sha256}${notes.length === 0 ? '' : ` (${notes.join(', ')})`}`]);
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
  const names: Record<string, keyof typeof values> = { since: 'since', until: 'until', model: 'model', servedModel: 'served-model', provider: 'provider', status: 'status', parent: 'parent', verdict: 'verdict', component: 'component', limit: 'limit', before: 'before' };
  const query = runQuery((name) => {
    const option = names[name];
    return option === undefined ? undefined : (values[option] as string | undefined);
  });
  const limit = query.limit ?? LIST_DEFAULT_LIMIT;
  sayWhereRunsAre(values, io, 'runs list');
  const store = await openStore(values, io, 'read', 'bounded');
  try {
    // One run more than shown says whether more match.
    const found = await store.list({ ...query, limit: limit + 1 });
    const runs = found.slice(0, limit);
    if (values.json === true) io.stdout(`${JSON.stringify({ runs: await runViews(store, runs) }, null, 2)}\n`);
    else if (runs.length === 0) io.stderr('runprint: no captured runs match\n');
    else for (const run of runs) io.stdout(line(run));
    if (found.length > limit) {
      const wider = limit < 1000 ? ', or --limit up to 1000 for more at once' : '';
      io.stderr(`runprint: more runs match than the ${limit} shown: add --before ${runs.at(-1)!.seq} for the next ${limit}${wider}\n`);
    }
  } finally {
    await store.close();
  }
  return EXIT.ok;
}

/**
 * The response bytes of a run as the client received them (JSON or the SSE stream), from the run
 * store, checked against the record's raw digest: what `verify --output` takes with the receipt.
 */
async function responseBytes(store: RunStorage, run: StoredRun): Promise<Uint8Array> {
  if (run.record.response.rawDigest === null) throw new InputError('ERR_INPUT_NOT_FOUND', 'runs show --response: this run has no response body (no answer arrived)');
  const bytes = await storedResponse(store, run);
  if (bytes === undefined) throw notStored(run, 'the response');
  return bytes;
}

async function showCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs show', args, SHOW_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs show')!);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'runs show takes one RUN: a capture id, a record digest or a run identity (run "runprint runs show --help")');
  if (values.composition === true && values.json === true) throw new UsageError('ERR_CLI_USAGE', 'runs show: --composition prints the composition as JSON already; give --composition or --json, not both');
  if (values.response === true && (values.composition === true || values.json === true)) throw new UsageError('ERR_CLI_USAGE', 'runs show: --response prints the response\'s bytes alone; give it without --composition and --json');
  sayWhereRunsAre(values, io, 'runs show');
  const store = await openStore(values, io, 'read', 'bounded');
  try {
    const runs = await findRuns(store, positionals[0]!);
    // With its salts: what `runprint disclose create --composition` takes (the latest capture of a run identity).
    if (values.composition === true) io.stdout(`${JSON.stringify(await runComposition(store, runs.at(-1)!), null, 2)}\n`);
    else if (values.response === true) io.stdout(await responseBytes(store, runs.at(-1)!));
    else if (values.json === true) io.stdout(`${JSON.stringify({ runs: await runViews(store, runs) }, null, 2)}\n`);
    else {
      const links = await store.replayLinks(runs.map((run) => run.recordDigest));
      const content = await runContent(store, runs);
      io.stdout(runs.map((run, i) => details(run, links, contentRows(run, content[i]!))).join('\n'));
    }
  } finally {
    await store.close();
  }
  return EXIT.ok;
}

const RECEIPT_OPTIONS = {
  data: { type: 'string' },
  'runs-db': { type: 'string' },
  out: { type: 'string' },
  'key-out': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `runs receipt RUN [--out FILE] [--key-out FILE]`: the run's receipt as it was signed and logged
 * (the bytes of GET /v1/runs/ID/receipt), and with --key-out the public half of the data
 * directory's receipt-key.pem, when that key signed it: what someone needs to check the run with
 * `runprint verify`, without serve. Both files are written only once everything is known.
 */
async function receiptCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('runs receipt', args, RECEIPT_OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('runs receipt')!);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'runs receipt takes one RUN: a capture id, a record digest or a run identity (run "runprint runs receipt --help")');
  refuseStandardOutput('--out', values.out);
  refuseStandardOutput('--key-out', values['key-out']);
  if (values.out !== undefined && values.out === values['key-out']) throw new UsageError('ERR_CLI_USAGE', '--out and --key-out name the same file: give each its own');
  const keyFromData = values['key-out'] !== undefined;
  if (keyFromData && runsDatabase(values) !== undefined && values.data === undefined && !dataDirectory(undefined).fromEnv) {
    throw new UsageError('ERR_CLI_USAGE', `--key-out derives the key from ${RECEIPT_KEY_FILE} in the data directory, and the runs are in PostgreSQL: name the data directory of the serve that signed them with --data`);
  }
  // Both files can be written, before anything is: a failure never follows a receipt already out.
  for (const name of [values.out, values['key-out']]) if (name !== undefined) await checkWritable(name, io);
  sayWhereRunsAre(values, io, 'runs receipt', keyFromData ? `the receipt key (--key-out)` : undefined);
  const store = await openStore(values, io, 'read', 'bounded');
  let receipt: string;
  try {
    const run = (await findRuns(store, positionals[0]!)).at(-1)!;
    if (run.receipt === null) throw noReceipt(run);
    receipt = run.receipt;
  } finally {
    await store.close();
  }
  let keyPem: string | undefined;
  if (keyFromData) {
    const path = join(resolve(io.cwd, dataDirectory(values.data).dir), RECEIPT_KEY_FILE);
    if (!existsSync(path)) throw new InputError('ERR_INPUT_NOT_FOUND', `no ${RECEIPT_KEY_FILE} in the data directory, so the receipt was signed with another key (serve's --capture-key or --sign-key): hand over that key's public half instead`);
    const key = await parsePrivateKey(await readInput(path, io));
    const signers = readEnvelope(JSON.parse(receipt)).signatures.map((signature) => signature.keyid);
    if (!signers.includes(key.keyId)) throw new ReceiptError('ERR_SIGNATURE_UNKNOWN_KEY', `the receipt is not signed by ${RECEIPT_KEY_FILE} in the data directory (key id ${key.keyId.slice(0, 16)}...) but by another key (serve's --capture-key or --sign-key): hand over that key's public half instead`);
    keyPem = publicKeyPem(key.publicKey.raw);
  }
  // The key first: the receipt on standard output cannot be taken back if the key's write then failed.
  if (keyPem !== undefined) await writeOutputFile(values['key-out']!, keyPem, io);
  if (values.out === undefined) io.stdout(receipt.endsWith('\n') ? receipt : `${receipt}\n`);
  else await writeOutputFile(values.out, receipt, io);
  return EXIT.ok;
}

const DIFF_OPTIONS = {
  data: { type: 'string' },
  'runs-db': { type: 'string' },
  values: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function servedLine(fact: ServedDifference): string {
  const value = (side: ServedDifference['a']) => (side === null ? '(none)' : `${printableValue(side.value)} (${side.source})`);
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
  for (const component of diff.inexact) out += inexactNote(component);
  for (const fact of diff.served) out += servedLine(fact);
  const { output } = diff;
  if (output.equal === null) out += 'output   none on either side\n';
  else if (output.equal) out += `output   equal ${output.a}\n`;
  else {
    out += `output   differs\n  a ${output.a ?? '(none)'}\n  b ${output.b ?? '(none)'}\n`;
    const first = output.firstDifference;
    if (first !== undefined) {
      const text = first.text === undefined ? '' : describeTextDifference(first.text);
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
  sayWhereRunsAre(values, io, 'runs diff');
  const store = await openStore(values, io, 'read', 'bounded');
  try {
    // A run identity may name several captures: the latest is compared (its capture id is printed).
    const a = (await findRuns(store, positionals[0]!, 'A')).at(-1)!;
    const b = (await findRuns(store, positionals[1]!, 'B')).at(-1)!;
    const { diff, valuesShown } = await runsDiffView(store, a, b, values.values === true);
    if (values.values === true && !valuesShown) io.stderr('runprint: --values: not every component of both runs is stored (digest only, or past retention): no values shown\n');
    io.stdout(values.json === true ? `${JSON.stringify(diff, null, 2)}\n` : formatRunsDiff(diff, diff.differences));
    return diff.sameRun && diff.output.equal !== false ? EXIT.ok : EXIT.differs;
  } finally {
    await store.close();
  }
}

const SUBCOMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  list: listCommand,
  show: showCommand,
  receipt: receiptCommand,
  diff: diffCommand,
  verify: async (args, io) => (await import('./runs-verify-command.ts')).verifyCommand(args, io),
  group: async (args, io) => (await import('./runs-group-command.ts')).groupCommand(args, io),
};

export async function runsCommand(args: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === 'help' || name === '--help' || name === '-h') {
    io.stdout(formatCommandHelp('runs')!);
    return EXIT.ok;
  }
  const command = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined) {
    const closest = name === undefined ? undefined : closestName(name, Object.keys(SUBCOMMANDS));
    throw new UsageError('ERR_CLI_USAGE', `runs takes list, show, receipt, diff, verify or group${closest === undefined ? '' : `; did you mean "runs ${closest}"?`}; run "runprint runs --help"`);
  }
  return command(rest, io);
}
