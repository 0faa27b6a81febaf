/** `runprint serve`: the HTTP service on 127.0.0.1 with a data directory (README, "Service"). */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError, KeyError, LogError, RunprintError, UsageError } from '../errors.ts';
import { cosignatureSigner, formatCosignerKey, parseCosignerKey } from '../log/cosignature.ts';
import { parseNoteVerifier } from '../log/note-keys.ts';
import type { NoteVerifier } from '../log/note.ts';
import { witnessedLogs } from '../log/witness.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../keys/keys.ts';
import { captureOff, createApp, SIGNING_OFF, type AppOptions, type OffPaths } from '../server/app.ts';
import { DEFAULT_LOG_NAME, TransparencyLog } from '../store/log-service.ts';
import { LOG_DATABASE, openStorage } from '../store/open-storage.ts';
import { makeFolders, notOwnerOnly } from '../store/owner-only.ts';
import { keyFileUnwritable, RECEIPT_KEY_FILE, RUNS_DATABASE } from '../store/receipt-key.ts';
import { databaseShown, pinSslMode } from '../store/postgres-url.ts';
import type { LogStorage } from '../store/storage.ts';
import { DEFAULT_WITNESS_TIMEOUT_MS, witnessCollector, type WitnessEndpoint } from '../store/witness-collector.ts';
import { createIdentityPool } from '../server/identity-pool.ts';
import { DEFAULT_MAX_HEADER_BYTES, listen, type Listening } from '../server/listen.ts';
import { captureOptions, CAPTURE_OPTIONS, HELD_JOURNAL_FILE, isLoopback, listOf, startCapture, upstreamWeightsFacts } from './serve-capture.ts';
import { explorerRoutes } from '../server/explorer-routes.ts';
import { EXIT, type CliIo } from './io.ts';
import { writeFailureReason } from './output-file.ts';
import { parseCommandLine } from './parse-options.ts';
import { fileName } from './read-input.ts';
import { readFileAtMost } from '../store/small-file.ts';
import { warnOpenKey, writeFileAtomic } from './key-file.ts';
import { isInlineVerifierKey, readLogKey } from './log-options.ts';
import { runprintVersion } from './version.ts';
import { dataDirectory, missing, NewAtStart } from './serve-data.ts';
import { connectionCaps, guardProcess, LIMIT_OPTIONS, refusedConnectionsReporter, serveLimits } from './serve-limits.ts';
import { minuteLine } from './minute-lines.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8480;
/** In the data directory, when no --log-key is given: the log key made on first start. */
export const LOG_KEY_FILE = 'log-key.pem';

/**
 * The --log-key file, or the data directory's own key; undefined when the data directory has none
 * yet (made by makeLogKey once the log database is known to hold no log). An empty one (left by an
 * older runprint that could not write it) is refused, never replaced: the log may hold entries
 * signed with the lost key.
 */
async function logKey(dataDir: string, cwd: string, file: string | undefined, io: CliIo): Promise<SigningKey | undefined> {
  const path = file === undefined ? join(dataDir, LOG_KEY_FILE) : resolve(cwd, file);
  let text: string;
  try {
    text = new TextDecoder().decode(await readFileAtMost(path));
  } catch (error) {
    if (file !== undefined) throw unreadable(file, 'log key file', error);
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unreadable(path, `${LOG_KEY_FILE} in the data directory`, error);
    return undefined;
  }
  if (text.trim() === '') {
    throw new KeyError(
      'ERR_KEY_INVALID',
      file === undefined
        ? `${LOG_KEY_FILE} in the data directory is empty (a start that could not write it): delete it if the log holds no entries yet, else restore it from a backup`
        : '--log-key file is empty',
    );
  }
  const key = await parsePrivateKey(text);
  await warnOpenKey(path, file === undefined ? `${LOG_KEY_FILE} in the data directory` : '--log-key file', io);
  return key;
}

/**
 * The data directory's log-key.pem, made owner-only (0600) on first start, atomically and never
 * over a file that is there (link(2)): a start that cannot write it (a full disk) leaves no file,
 * and of two processes making it at once, both take the one written first (EEXIST: read). Made
 * only for a log database that holds no log yet (the caller looks first, or there is no log
 * database yet), and never removed again: another serve sharing the data directory may have read
 * it by then (serve-data.ts NewAtStart).
 */
async function makeLogKey(dataDir: string, name: string, io: CliIo): Promise<SigningKey> {
  const path = join(dataDir, LOG_KEY_FILE);
  for (;;) {
    const text = (await generateKeyFiles(name)).privateKeyPem;
    try {
      await writeFileAtomic(path, text, 0o600);
      return await parsePrivateKey(text);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another process sharing the data directory made it first: use that one (made again only if it is gone meanwhile).
      if (code === 'EEXIST') {
        const there = await logKey(dataDir, io.cwd, undefined, io);
        if (there !== undefined) return there;
        continue;
      }
      // As the receipt key's: permission denied is ERR_STORE_PERMISSION, as the data directory's other files say it.
      throw keyFileUnwritable('log key file', error);
    }
  }
}

/**
 * The refusal of a start whose data directory has no log-key.pem while its log database holds a
 * log (a signed checkpoint): a new key could never sign that log, so none is made (a later start
 * says the same, instead of finding a key that fails it for ever). The log is opened with a key
 * of this start's own, never written anywhere, to say why as the log says it: another log name is
 * said as it is (--log-name is the remedy); a checkpoint of this name signed by another key means
 * the key file is missing, not the options wrong. Nothing is ever signed with that key: the
 * stored checkpoint cannot verify with it, and the log is refused before it would sign.
 */
async function missingLogKey(storage: LogStorage, name: string, check: 'full' | 'tiles'): Promise<unknown> {
  const spare = await parsePrivateKey((await generateKeyFiles(name)).privateKeyPem);
  let error: unknown;
  try {
    await (await TransparencyLog.open({ storage, origin: name, key: spare, check })).close();
  } catch (failure) {
    error = failure;
  }
  // Refused for its key, or opened (it cannot be: the checkpoint would have to verify with a key made a moment ago): the key is missing.
  const otherKey = refused(error) && error.message.startsWith('last stored checkpoint is not signed by this log\'s key');
  if (error !== undefined && !otherKey) return error;
  return new InputError(
    'ERR_INPUT_NOT_FOUND',
    `${LOG_KEY_FILE} is missing from the data directory, and the log database holds a log another key signed: restore ${LOG_KEY_FILE} from a backup, or give that log's key with --log-key (a new key cannot continue the log: this start made none)`,
  );
}

/** A start refused because its log is not the one the log database or the run store holds. */
const refused = (error: unknown): error is RunprintError => error instanceof RunprintError && error.code === 'ERR_LOG_CONFIG_MISMATCH';

/**
 * Such a refusal, saying what the start left in the data directory that was not there before it
 * (serve-data.ts NewAtStart: a refused start removes nothing); any other error as it is.
 */
async function sayLeft(error: unknown, newAtStart: NewAtStart): Promise<unknown> {
  if (!refused(error)) return error;
  const left = await newAtStart.left();
  return left === '' ? error : new LogError(error.code, `${error.message}. ${left}`, error.path);
}

/**
 * The log's write token must be one that a client can present: `Authorization: Bearer TOKEN`
 * carries 1 or more visible ASCII characters (what server/bearer.ts matches; RFC 6750's b64token,
 * letters, digits and -._~+/ with trailing =, is the portable subset). A token with a space, a
 * control or a non-ASCII character could never match, so it is refused at start, unprinted.
 */
function logToken(value: string | undefined, from: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]+$/.test(value)) {
    throw new UsageError('ERR_CLI_USAGE', `${from} must be 1 or more visible ASCII characters with no spaces (a bearer token; letters, digits and -._~+/= are the portable choice)`);
  }
  return value;
}

async function readText(cwd: string, file: string, what: string): Promise<string> {
  try {
    return new TextDecoder().decode(await readFileAtMost(resolve(cwd, file)));
  } catch (error) {
    throw unreadable(file, what, error);
  }
}

/**
 * A key file that cannot be read, as the other commands say it: ERR_INPUT_NOT_FOUND `no such
 * file: NAME` when it is not there, else ERR_INPUT_UNREADABLE with the reason; `what` says which.
 */
function unreadable(file: string, what: string, error: unknown): InputError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new InputError('ERR_INPUT_NOT_FOUND', `no such file: ${fileName(file)} (the ${what})`);
  const why = code === 'EISDIR' ? 'it is a folder, not a file' : code === 'ETOOBIG' ? 'larger than 1 MiB: not a key file' : writeFailureReason(error);
  return new InputError('ERR_INPUT_UNREADABLE', `${what} cannot be read (${why}): ${fileName(file)}`);
}

/**
 * A setting of serve: the option's value, else the environment variable's, else `fallback`, with
 * the name an error about it gives (`--port`, or `RUNPRINT_PORT` when the value came from there).
 */
function setting(value: string | undefined, option: string, variable: string, fallback?: string): { text: string | undefined; from: string } {
  if (value !== undefined) return { text: value, from: option };
  const text = process.env[variable];
  if (text !== undefined) return { text, from: variable };
  return { text: fallback, from: option };
}

/**
 * A setting that names something (an address, a key file, a name): the option's value, else the
 * variable's, else undefined. The empty string names nothing: refused by where it came from
 * (ERR_CLI_USAGE), never taken as a name (an empty host is every interface to the system, an
 * empty file name the working directory).
 */
function named(value: string | undefined, option: string, variable: string, what: string): { text: string | undefined; from: string } {
  const given = setting(value, option, variable);
  if (given.text === '') throw new UsageError('ERR_CLI_USAGE', `${given.from} must not be empty: give ${what}${given.from === variable ? `, or unset ${variable}` : ''}`);
  return given;
}

/** The lines of a key file that hold keys: blank lines and lines starting with "#" are skipped. */
function keyLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#'));
}

/** --witness-log: a log's verifier key, or a file of them, one per line. */
async function witnessLogKeys(cwd: string, value: string, from: string): Promise<NoteVerifier[]> {
  const lines = isInlineVerifierKey(value) ? [value] : keyLines(await readText(cwd, value, `${from} file`));
  if (lines.length === 0) throw new UsageError('ERR_CLI_USAGE', `${from} file holds no verifier key`);
  return Promise.all(lines.map((line) => parseNoteVerifier(line)));
}

/** --log-witness URL=VKEY: the witness's submission prefix, "=", and its cosigner key or a file holding it. `from`: the option or variable it came from. */
async function logWitness(cwd: string, value: string, from: string): Promise<WitnessEndpoint> {
  const split = value.indexOf('=');
  const url = value.slice(0, split);
  const key = value.slice(split + 1);
  let parsed: URL | undefined;
  try {
    parsed = split > 0 ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || key.length === 0) {
    throw new UsageError('ERR_CLI_USAGE', `${from} must be URL=VKEY: an http(s) URL, "=", and the witness key or a file holding it`);
  }
  // Credentials in a URL would be printed with every failure report (and fetch refuses them).
  if (parsed.username !== '' || parsed.password !== '') throw new UsageError('ERR_CLI_USAGE', `${from} URL must not carry a user name or password`);
  const lines = isInlineVerifierKey(key) ? [key] : keyLines(await readText(cwd, key, `${from} key file`));
  if (lines.length !== 1) throw new UsageError('ERR_CLI_USAGE', `${from} key file must hold exactly one witness key`);
  return { url, verifier: await parseCosignerKey(lines[0]!) };
}

/** The OpenAPI document of every route (served at GET /openapi.json): docs/openapi.json, beside src/ and dist/. */
const OPENAPI_FILE = new URL('../../docs/openapi.json', import.meta.url);

/**
 * `POST /v1/sign`: the service's receipt key and the token that signing needs. The route signs
 * whatever a caller sends under the key, so it never runs without a token of its own (not the log
 * token: a client that may append to the log may not therefore sign as the service).
 */
async function signOptions(keyFile: string | undefined, [tokenFrom, tokenValue]: [string, string | undefined], io: CliIo): Promise<AppOptions['sign']> {
  const token = logToken(tokenValue, tokenFrom);
  if (keyFile === undefined && token === undefined) return undefined;
  if (keyFile === undefined || token === undefined) throw new UsageError('ERR_CLI_USAGE', 'signing needs both --sign-key KEY.pem and --sign-token T');
  const key = await parsePrivateKey(await readText(io.cwd, keyFile, 'sign key file'));
  await warnOpenKey(resolve(io.cwd, keyFile), '--sign-key file', io);
  return { key, token, runprintVersion: await runprintVersion() };
}


/** serve's options: its own, the connection limits', capture's. */
const SERVE_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  data: { type: 'string' },
  'no-log': { type: 'boolean' },
  'log-name': { type: 'string' },
  'log-key': { type: 'string' },
  'log-token': { type: 'string' },
  'log-db': { type: 'string' },
  'log-check': { type: 'string' },
  'log-anonymous-writes': { type: 'boolean' },
  'log-witness': { type: 'string', multiple: true },
  'log-witness-timeout': { type: 'string' },
  'witness-key': { type: 'string' },
  'witness-name': { type: 'string' },
  'witness-log': { type: 'string', multiple: true },
  'sign-key': { type: 'string' },
  'sign-token': { type: 'string' },
  ...LIMIT_OPTIONS,
  ...CAPTURE_OPTIONS,
} as const;

/**
 * A PostgreSQL connection URL from `from` (an option or a variable), refused as a usage error when
 * it is not one (`notaurl`) or does not parse (`postgres://h:99999/db`: a port past 65535), before
 * anything opens: the URL itself is never printed (it may hold a password).
 */
export function postgresUrl(from: string, url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError('ERR_CLI_USAGE', `${from} must be a postgres:// or postgresql:// connection URL`);
  try {
    new URL(url);
  } catch {
    throw new UsageError('ERR_CLI_USAGE', `${from} is not a valid connection URL: check its port (0 to 65535) and host, and that a user name or password percent-encodes any of : @ / ? #`);
  }
  return url;
}

/** What serverErrorReporter gives: the hook for createApp's onServerError, and `flush` for a stop. */
export interface ServerErrorReporter {
  report(error: unknown, route: string, status: number): void;
  /** Prints the line held back of each code, if any (at a stop: its count is not lost). */
  flush(): void;
}

/** A line per code at most this often: another message of a code waits for it. */
const SERVER_ERROR_LINE_MS = 1_000;
/** The same message again at most this often, with the count of answers since the line before. */
const SERVER_ERROR_REPEAT_MS = 60_000;

/**
 * serve's report of the errors it answers with a 5xx status (createApp's onServerError): one line
 * on stderr with the whole message, such as a store's file path, which the HTTP answer leaves out
 * (http-status.ts). Grouped by code, as serve-capture.ts groups capture's failures, so a failing
 * store does not fill stderr: the first of a code is printed at once, another message of the code
 * a second after the code's last line at the soonest, the same message again a minute after it.
 * The answers held back meanwhile are counted in the next line of their code, which shows the
 * last of them that brought another message (else the last of them).
 */
export function serverErrorReporter(write: (text: string) => void, now: () => number = () => performance.now()): ServerErrorReporter {
  interface Group {
    /** The message last printed (toLine) and when. */
    printed: string;
    at: number;
    /** Answers not printed since then, and the line to print for them. */
    held: number;
    latest: { message: string; line: string };
    timer: ReturnType<typeof setTimeout> | undefined;
    /** When the timer is due. */
    due: number;
  }
  const groups = new Map<string, Group>();
  const print = (code: string, group: Group) => {
    if (group.timer !== undefined) clearTimeout(group.timer);
    group.timer = undefined;
    if (group.held === 0) return;
    const more = group.held - 1;
    const count = more === 0 ? '' : ` (and ${more} more answer${more === 1 ? '' : 's'} with ${code} since its line before)`;
    write(`${group.latest.line}${count}\n`);
    group.printed = group.latest.message;
    group.at = now();
    group.held = 0;
  };
  return {
    report(error, route, status) {
      const known = error instanceof RunprintError ? error : new RunprintError('ERR_INTERNAL', `unexpected failure (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`.replace(/\s+/g, ' '));
      const message = known.toLine();
      const line = `runprint: ${route} answered ${status}: ${message}`;
      const time = now();
      const group = groups.get(known.code);
      if (group === undefined) {
        groups.set(known.code, { printed: message, at: time, held: 0, latest: { message, line }, timer: undefined, due: 0 });
        write(`${line}\n`);
        return;
      }
      // A held answer with another message is not hidden by later ones with the printed message.
      if (group.held === 0 || message !== group.printed || group.latest.message === group.printed) group.latest = { message, line };
      group.held += 1;
      const due = group.at + (group.latest.message === group.printed ? SERVER_ERROR_REPEAT_MS : SERVER_ERROR_LINE_MS);
      if (due <= time) return print(known.code, group);
      if (group.timer !== undefined && group.due <= due) return;
      if (group.timer !== undefined) clearTimeout(group.timer);
      group.due = due;
      group.timer = setTimeout(() => print(known.code, group), due - time);
      group.timer.unref();
    },
    flush() {
      for (const [code, group] of groups) print(code, group);
    },
  };
}

/**
 * serve's report of the requests it refuses with 503 ERR_HTTP_BUSY to shed load, the identity
 * workers' queue full (createApp's onShed). Not a fault, so not a server error line each: the
 * first is printed at once, the others are counted in one line a minute after the line before,
 * which says since when (UTC, to the second: the first request it counts). `flush` prints what is
 * counted at a stop.
 */
export function shedReporter(write: (text: string) => void, now: () => number = () => performance.now(), clock: () => number = () => Date.now()): { report(): void; flush(): void } {
  let count = 0;
  const line = minuteLine((since) => {
    write(`runprint: shed ${count} request${count === 1 ? '' : 's'} with 503 ERR_HTTP_BUSY (the identity queue was full; clients are told to retry after 1 s) since ${since}\n`);
    count = 0;
  }, now, clock);
  return {
    report() {
      count += 1;
      line.counted();
    },
    flush: line.flush,
  };
}

/** The line a stop with requests in progress prints: how many, for how long, and what becomes of them. */
export function stoppingLine(inProgress: number, graceMs: number): string {
  const what =
    inProgress === 1
      ? '1 request in progress gets up to GRACE to finish, then is cut, its captured call recorded as incomplete'
      : `${inProgress} requests in progress get up to GRACE to finish, then are cut, their captured calls recorded as incomplete`;
  return `runprint: stopping: ${what.replace('GRACE', `${graceMs / 1000} s`)} (Ctrl-C again stops at once, recording nothing more)\n`;
}

/** How long it then waits for the calls it cut to hand over their records. */
const SHUTDOWN_DRAIN_MS = 5_000;

export async function serveCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandLine('serve', args, SERVE_OPTIONS, false);
  // An empty host would have Node listen on every interface: refused, as an empty port is.
  const host = named(values.host, '--host', 'RUNPRINT_HOST', `an address to listen on (${DEFAULT_HOST} when none is given; 0.0.0.0 for every interface)`).text ?? DEFAULT_HOST;
  const port = setting(values.port, '--port', 'RUNPRINT_PORT', String(DEFAULT_PORT));
  const portText = port.text!;
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new UsageError('ERR_CLI_USAGE', `${port.from} must be a number from 0 to 65535`);
  }
  // Settings that name a file or a name: an empty one is refused before anything is created or opened.
  const signKeyFile = named(values['sign-key'], '--sign-key', 'RUNPRINT_SIGN_KEY', 'a key file').text;
  const witnessKeyFile = named(values['witness-key'], '--witness-key', 'RUNPRINT_WITNESS_KEY', 'a key file').text;
  const witnessName = named(values['witness-name'], '--witness-name', 'RUNPRINT_WITNESS_NAME', 'the witness\'s name').text;
  const logName = named(values['log-name'], '--log-name', 'RUNPRINT_LOG_NAME', `the log's name (${DEFAULT_LOG_NAME} when none is given)`).text ?? DEFAULT_LOG_NAME;
  const logKeyFile = named(values['log-key'], '--log-key', 'RUNPRINT_LOG_KEY', `a key file (${LOG_KEY_FILE} in the data directory when none is given)`).text;
  const { shutdownGraceMs, ...limits } = serveLimits(values, process.env);
  // Capture's options are checked before anything is created or opened.
  // The PostgreSQL URLs, before anything opens: one that does not parse is a usage error (not a store's).
  const logDb = values['log-db'] !== undefined ? { url: values['log-db'], from: '--log-db' } : { url: process.env['RUNPRINT_LOG_DB'] || undefined, from: 'RUNPRINT_LOG_DB' };
  if (logDb.url !== undefined) postgresUrl(logDb.from, logDb.url);
  const runsDb = values['runs-db'] !== undefined ? { url: values['runs-db'], from: '--runs-db' } : { url: process.env['RUNPRINT_RUNS_DB'] || undefined, from: 'RUNPRINT_RUNS_DB' };
  if (runsDb.url !== undefined && values['no-capture'] !== true) postgresUrl(runsDb.from, runsDb.url);
  // What capture's options print (capture off on a reachable address) is printed once serve listens:
  // before a fatal error (a host it cannot listen on) it would only be noise.
  const held: string[] = [];
  const captureConfig = captureOptions(values, process.env, host, { ...io, stderr: (text) => void held.push(text) });
  // Each --upstream-weights model is digested once, now: one that cannot be is refused before anything opens.
  const upstreamWeights = captureConfig === undefined ? {} : await upstreamWeightsFacts(captureConfig.upstreamWeights);
  // The capture log's verifier key (inline or a file), read before anything opens.
  const captureLogKey = captureConfig?.captureLog?.key === undefined ? undefined : await readLogKey(captureConfig.captureLog.key, io);
  const dataGiven = dataDirectory(values.data).dir;
  const dataDir = resolve(io.cwd, dataGiven);
  // A log token that no client could present is refused before anything is created or opened.
  const token = logToken(values['log-token'] ?? (process.env['RUNPRINT_LOG_TOKEN'] || undefined), values['log-token'] !== undefined ? '--log-token' : 'RUNPRINT_LOG_TOKEN');
  // What the data directory lacks now: a refused start says what of it is there when it stops (serve-data.ts).
  const newAtStart = await NewAtStart.before(dataDir, [LOG_KEY_FILE, RECEIPT_KEY_FILE, LOG_DATABASE, RUNS_DATABASE, HELD_JOURNAL_FILE]);
  try {
    // Owner-only whatever the umask: it holds the log key (and with SQLite, the log).
    await makeFolders(dataDir, 0o700);
  } catch (error) {
    // A write that failed: named with the folder as given and why (a file in the way, no permission, ...).
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'it is a file, not a folder' : writeFailureReason(error);
    throw new InputError('ERR_FILE_UNWRITABLE', `data directory cannot be created (${why}): ${fileName(dataGiven)}`);
  }
  // One that was there is left as it is (its mode is the user's): a line says who else may read it.
  for (const warning of await notOwnerOnly(dataDir, [LOG_DATABASE, RUNS_DATABASE, HELD_JOURNAL_FILE, RECEIPT_KEY_FILE], 'the data directory')) io.stderr(`runprint: ${warning}\n`);
  // runprint's own version: npm_package_version is the version of whatever package npm ran serve in.
  const options: AppOptions = { version: await runprintVersion(), openapi: await readFile(OPENAPI_FILE) };
  const sign = await signOptions(signKeyFile, values['sign-token'] !== undefined ? ['--sign-token', values['sign-token']] : ['RUNPRINT_SIGN_TOKEN', process.env['RUNPRINT_SIGN_TOKEN'] || undefined], io);

  // As a witness: its key and name, and the logs it cosigns, all checked before anything opens.
  const witnessLogValues = listOf(values['witness-log'], process.env['RUNPRINT_WITNESS_LOG']);
  let witness: { signer: ReturnType<typeof cosignatureSigner>; vkey: string; logs: NoteVerifier[] } | undefined;
  if (witnessKeyFile !== undefined || witnessName !== undefined || witnessLogValues.length > 0) {
    if (witnessKeyFile === undefined || witnessName === undefined || witnessLogValues.length === 0) {
      throw new UsageError('ERR_CLI_USAGE', 'a witness needs --witness-key KEY.pem, --witness-name NAME and at least one --witness-log VKEY');
    }
    const key = await parsePrivateKey(await readText(io.cwd, witnessKeyFile, 'witness key file'));
    const from = values['witness-log'] !== undefined && values['witness-log'].length > 0 ? '--witness-log' : 'RUNPRINT_WITNESS_LOG';
    const logs = (await Promise.all(witnessLogValues.map((value) => witnessLogKeys(io.cwd, value, from)))).flat();
    witness = { signer: cosignatureSigner(witnessName, key), vkey: formatCosignerKey(witnessName, key.publicKey), logs };
    await warnOpenKey(resolve(io.cwd, witnessKeyFile), '--witness-key file', io);
  }
  // For its own log: the witnesses it asks.
  const witnessesFrom = values['log-witness'] !== undefined && values['log-witness'].length > 0 ? '--log-witness' : 'RUNPRINT_LOG_WITNESSES';
  const witnesses = await Promise.all(listOf(values['log-witness'], process.env['RUNPRINT_LOG_WITNESSES']).map((value) => logWitness(io.cwd, value, witnessesFrom)));
  const timeout = setting(values['log-witness-timeout'], '--log-witness-timeout', 'RUNPRINT_LOG_WITNESS_TIMEOUT', String(DEFAULT_WITNESS_TIMEOUT_MS));
  const timeoutText = timeout.text!;
  if (!/^[0-9]{1,5}$/.test(timeoutText) || Number(timeoutText) < 1 || Number(timeoutText) > 10_000) {
    throw new UsageError('ERR_CLI_USAGE', `${timeout.from} must be a number of milliseconds from 1 to 10000`);
  }
  if (witnesses.length > 0 && values['no-log'] === true) throw new UsageError('ERR_CLI_USAGE', '--log-witness needs the log; it cannot go with --no-log');

  let log: TransparencyLog | undefined;
  let logKeyId: string | undefined;
  let storage: LogStorage | undefined;
  const url = logDb.url;
  const replaced = url === undefined ? undefined : pinSslMode(url).replaced;
  if (replaced !== undefined) {
    io.stderr(`runprint: warning: the log database URL's sslmode=${replaced} is taken as sslmode=verify-full: the server's certificate and host name are verified, as node-postgres does today (uselibpqcompat=true gives libpq's meaning)\n`);
  }
  const checkSetting = setting(values['log-check'], '--log-check', 'RUNPRINT_LOG_CHECK', 'full');
  const check = checkSetting.text;
  if (check !== 'full' && check !== 'tiles') throw new UsageError('ERR_CLI_USAGE', `${checkSetting.from} must be full or tiles`);
  if (values['no-log'] !== true) {
    const name = logName;
    let key = await logKey(dataDir, io.cwd, logKeyFile, io);
    // No log-key.pem yet: made only when the log database holds no log (a new key cannot continue
    // one). With no log.sqlite in the data directory (and no --log-db) there is none, and the key
    // is made before anything is opened (a start that cannot write it, a full disk, leaves no file).
    if (key === undefined && url === undefined && (await missing(join(dataDir, LOG_DATABASE)))) {
      key = await makeLogKey(dataDir, name, io);
    }
    // SQLite: appends are committed on a writer thread, so captured calls are not held up by the log's fsync.
    storage = await openStorage({ dataDir, writerThread: true, ...(url === undefined ? {} : { url }) });
    // Else the log database is looked at first: when it holds a log, a key another process made
    // meanwhile is taken, else none is made.
    if (key === undefined) {
      let held: boolean;
      try {
        held = (await storage.latestCheckpoint()) !== undefined;
      } catch (error) {
        await storage.close();
        throw error;
      }
      key = held ? await logKey(dataDir, io.cwd, undefined, io) : await makeLogKey(dataDir, name, io);
      if (key === undefined) throw await sayLeft(await missingLogKey(storage, name, check), newAtStart);
    }
    logKeyId = key.keyId;
    // Each kind of failure of a witness is reported once per outage; its next cosignature ends the
    // outage, said once. A checkpoint the witness missed is asked again (docs/LOG.md 19.7).
    const reported = new Map<string, Set<string>>();
    const cosign =
      witnesses.length === 0
        ? undefined
        : witnessCollector(witnesses, {
            timeoutMs: Number(timeoutText),
            onFailure: (witnessUrl, error: RunprintError) => {
              const codes = reported.get(witnessUrl) ?? new Set<string>();
              if (codes.has(error.code)) return;
              reported.set(witnessUrl, codes.add(error.code));
              io.stderr(`runprint: witness ${witnessUrl}: ${error.toLine()}\n`);
            },
            onSuccess: (witnessUrl, size) => {
              if (reported.delete(witnessUrl)) io.stderr(`runprint: witness ${witnessUrl}: cosigned again (checkpoint of size ${size})\n`);
            },
          });
    // A receipt key that is the log key would let anyone with the sign token make signatures the log's verifiers trust.
    if (sign !== undefined && sign.key.keyId === key.keyId) throw new UsageError('ERR_CLI_USAGE', '--sign-key must not be the log key: give the service its own receipt key (runprint keygen)');
    try {
      log = await TransparencyLog.open({ storage, origin: name, key, check, ...(cosign === undefined ? {} : { cosign }) });
    } catch (error) {
      throw await sayLeft(error, newAtStart);
    }
    options.log = { log, ...(token === undefined ? {} : { token }), anonymousWrites: values['log-anonymous-writes'] === true };
  }
  let ownStorage: LogStorage | undefined;
  if (witness !== undefined) {
    // The witness keeps its state in the log's storage; with --no-log it opens that storage alone.
    if (storage === undefined) storage = ownStorage = await openStorage({ dataDir, ...(url === undefined ? {} : { url }) });
    const state = storage;
    options.witness = {
      logs: witnessedLogs(witness.logs),
      signers: [witness.signer],
      state: { witnessed: (origin) => state.witnessed(origin), saveWitnessed: (origin, previous, checkpoint) => state.saveWitnessed(origin, previous, checkpoint) },
    };
  }
  if (sign !== undefined) options.sign = sign;
  let capture: Awaited<ReturnType<typeof startCapture>> | undefined;
  try {
    const logWhere = url === undefined ? `${join(dataDir, LOG_DATABASE)}` : `the --log-db database ${databaseShown(url)}`;
    capture = captureConfig === undefined ? undefined : await startCapture(captureConfig, { dataDir, cwd: io.cwd, log, logWhere, logKeyId, signKey: sign?.key, io, upstreamWeights, ...(captureLogKey === undefined ? {} : { captureLogKey }) });
  } catch (error) {
    // Refused (a run store whose indexes are of another log than this one, say): the log closes
    // before the error is said, its writer thread with it; what this start made in the data
    // directory stays (another serve with this data directory may use it), said in the error.
    await log?.close();
    await ownStorage?.close();
    throw await sayLeft(error, newAtStart);
  }
  if (capture !== undefined) {
    options.proxy = capture.proxy;
    options.runs = capture.runs;
    // runs diff and runs verify over HTTP: verify checks with the service's own receipt key and log.
    options.runAnalysis = {
      storage: capture.runs.storage,
      ...(capture.runs.token === undefined ? {} : { token: capture.runs.token }),
      verify: {
        receiptKey: { key: capture.receiptKey.publicKey, from: 'the service\'s own receipt key, the one it signs captured runs with: whoever runs the service can re-sign, so runprint runs verify --key with a key you hold is independent of it' },
        ...(captureConfig?.captureLog !== undefined && captureLogKey !== undefined
          ? { log: { url: captureConfig.captureLog.url, logKey: captureLogKey, origin: captureLogKey.name, from: 'given with --capture-log-key (the log receipts go to)' } }
          : capture.captureLog !== undefined
          ? { logMissing: `not checked: receipts go to the log ${capture.captureLog} (--capture-log) and serve has no --capture-log-key to check it with; runprint runs verify --log URL --log-key VKEY checks it` }
          : log === undefined || storage === undefined
          ? { logMissing: 'not checked: serve runs without its log (--no-log)' }
          : { log: { storage, logKey: await parseNoteVerifier(log.verifierKey), origin: log.origin, from: 'of the service\'s own log' } }),
      },
    };
    options.ingest = capture.ingest;
  }
  // With capture off, a path of capture (a proxy route, /v1/runs) is no such path here, and its 404
  // says why; so does POST /v1/sign without --sign-key.
  const off: OffPaths[] = [];
  if (capture === undefined) off.push(captureOff(values['no-capture'] === true ? 'serve runs with --no-capture' : `serve runs on ${host}, which other machines can reach, without --capture-token`));
  if (sign === undefined) off.push(SIGNING_OFF);
  options.off = off;
  // The explorer verifies receipts with the key capture signs them with.
  options.explorer = explorerRoutes(capture === undefined ? {} : { receiptKey: capture.receiptKey.publicKey });
  // Identity answers are computed in worker threads: a large request cannot hold the event loop.
  const pool = createIdentityPool();
  options.computeIdentity = pool.compute;
  // A large run's verification and comparison (GET /v1/runs/{id}/verify, /v1/runs/diff) are computed there too.
  if (options.runAnalysis !== undefined) options.runAnalysis.compute = pool.compute;
  // An answer of 5xx names no server path (a failing store's file): stderr has the whole message.
  const serverErrors = serverErrorReporter(io.stderr);
  options.onServerError = (error, route, status) => serverErrors.report(error, route, status);
  // Requests refused to shed load are no fault: counted, a line a minute at most.
  const shed = shedReporter(io.stderr);
  options.onShed = () => shed.report();
  // Connections refused past --max-connections or --max-client-connections: /healthz counts them
  // since start, stderr has a line a minute at most.
  let listening: Listening | undefined;
  const refusedConnections = refusedConnectionsReporter(io.stderr, connectionCaps(limits));
  options.health = () => ({ ...capture?.health(), connections: { refused: listening?.refused ?? { connections: 0, clientConnections: 0, unanswered: 0 } } });
  const app = createApp(options);
  let server;
  try {
    // On loopback, only loopback names: a page whose name resolves to 127.0.0.1 (DNS rebinding) is refused.
    const allowedHosts = isLoopback(host) ? [...new Set(['127.0.0.1', 'localhost', '::1', host.toLowerCase()])] : undefined;
    // With capture on, room for a runprint-retrieval declaration up to its limit beside the client's other headers.
    const maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES + (captureConfig?.retrievalMax ?? 0);
    server = await listen(app, { host, port: Number(portText), ...limits, maxHeaderBytes, onRefusedConnection: (cap) => refusedConnections.report(cap), ...(allowedHosts === undefined ? {} : { allowedHosts }) });
    listening = server;
  } catch (error) {
    await pool.close();
    await capture?.close();
    await log?.close();
    await ownStorage?.close();
    throw error;
  }
  const unguard = guardProcess(io);
  // The handlers are installed before the start lines are printed: a SIGTERM sent as soon as a
  // client reads them (a supervisor, a test) would otherwise meet no handler and kill the process
  // with no clean stop (Node installs the signal handler only with its first listener).
  const stopped = new Promise<void>((done) => {
    const stop = () => {
      // A second Ctrl-C (or SIGTERM) stops at once: Node's default, with these handlers gone.
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // Span exports the OTLP receiver has not answered by the end of the grace are abandoned then.
      const deadline = performance.now() + shutdownGraceMs;
      if (server.inProgress > 0 && shutdownGraceMs > 0) {
        io.stderr(stoppingLine(server.inProgress, shutdownGraceMs));
      }
      void server
        .close({ graceMs: shutdownGraceMs })
        // Calls cut at the end of the grace period are recorded before the run store closes.
        .then(() => capture?.proxy.drain(SHUTDOWN_DRAIN_MS))
        .then(() => pool.close())
        .then(() => capture?.close({ deadline }))
        .then(() => log?.close())
        .then(() => ownStorage?.close())
        .then(() => serverErrors.flush())
        .then(() => shed.flush())
        .then(() => refusedConnections.flush())
        .then(() => unguard())
        .then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  for (const text of held) io.stderr(text);
  io.stderr(`runprint: listening on ${server.url} (data directory ${dataDir})\n`);
  if (log !== undefined) io.stderr(`runprint: log ${log.verifierKey}\n`);
  if (witness !== undefined) io.stderr(`runprint: witness ${witness.vkey}\n`);
  if (capture !== undefined) io.stderr(capture.banner(server.url));
  io.stderr(`runprint: explorer ${server.url}/explorer/\n`);
  await stopped;
  return EXIT.ok;
}
