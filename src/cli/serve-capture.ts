/** `runprint serve`'s capture: the proxy, the run store and the receipts signed from it (docs/CAPTURE.md). */
import { createPreparePool, LARGE_REQUEST_BYTES } from '../server/prepare-pool.ts';
import { createUpstreamFetch } from '../server/upstream-fetch.ts';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { LogError, RunprintError, UsageError } from '../errors.ts';
import type { RequestComponentName, ServedFact } from '../identity/composition.ts';
import type { JsonObject } from '../jcs/json-value.ts';
import { computeModelDigest } from '../model-digest/index.ts';
import type { SigningKey } from '../keys/keys.ts';
import { providerFor } from '../providers/registry.ts';
import { REQUEST_FORMATS } from '../providers/request-format.ts';
import { freshSalts, MAX_CAPTURED_REQUEST_BYTES, MAX_CAPTURED_RESPONSE_BYTES, saltedComponents, type CapturedRun } from '../capture/capture-run.ts';
import { MAX_RETRIEVAL_HEADER_BYTES } from '../capture/declared.ts';
import { DEFAULT_OTLP_TIMEOUT_MS, otlpExporter, otlpHeaders, otlpProtocol, otlpResource, otlpTimeout, parseTraceparent, spanOf } from '../server/otlp.ts';
import { createProxy, type Proxy, type RunContext } from '../server/proxy-routes.ts';
import type { IngestRouteOptions } from '../server/ingest-routes.ts';
import type { RunRouteOptions } from '../server/run-routes.ts';
import type { TransparencyLog } from '../store/log-service.ts';
import { RECEIPT_KEY_FILE, RUNS_DATABASE, receiptKey } from '../store/receipt-key.ts';
import { HeldJournal } from '../store/held-journal.ts';
import { RunRecorder, type Durability } from '../store/run-recorder.ts';
import { bindOwnLog, keepOwnLog, type BindsLog } from '../store/own-log-checkpoint.ts';
import { databaseShown } from '../store/postgres-url.ts';
import { LogOutbox, remoteTlogProofs, type OutboxOutcome, type OutboxState } from '../store/log-outbox.ts';
import { logPrefix, printableUrl } from '../log/client.ts';
import type { NoteVerifier } from '../log/note.ts';
import { CONTENT_PARTS, defaultContentPolicy, keepsAllComponents, partMode, type ContentPart, type ContentPolicy, type RunStorage } from '../store/run-storage.ts';
import { keepPolicy } from '../store/capture-keep.ts';
import { RETENTION_FORM, retentionDaysOf, sweepRetention } from '../store/retention.ts';
import { SqliteRuns } from '../store/sqlite-runs.ts';
import type { CliIo } from './io.ts';
import { fileName } from './read-input.ts';
import { warnOpenKey } from './key-file.ts';
import { runprintVersion } from './version.ts';
import { upstreamFailureReporter, type UpstreamFailures } from './serve-upstreams.ts';
import type { PostgresSteps } from '../store/postgres-steps.ts';

/** The parseArgs options this file reads. */
export const CAPTURE_OPTIONS = {
  'no-capture': { type: 'boolean' },
  upstream: { type: 'string', multiple: true },
  'upstream-weights': { type: 'string', multiple: true },
  'upstream-timeout': { type: 'string' },
  'capture-token': { type: 'string' },
  'capture-fail-closed': { type: 'boolean' },
  'capture-durability': { type: 'string' },
  'capture-keep': { type: 'string', multiple: true },
  'capture-salt': { type: 'string', multiple: true },
  'capture-retention': { type: 'string' },
  'capture-retrieval-max': { type: 'string' },
  'capture-workers': { type: 'string' },
  'capture-key': { type: 'string' },
  'runs-db': { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'capture-log': { type: 'string' },
  'capture-log-token': { type: 'string' },
  'capture-log-key': { type: 'string' },
} as const;

/**
 * Largest --capture-retrieval-max (1 MiB): serve reads request header blocks of 16 KiB more than
 * it, each connection may hold one that large while its headers arrive.
 */
export const MAX_RETRIEVAL_MAX = 1024 * 1024;
/**
 * The largest exchange serve takes (POST /v1/exchanges): the largest request and answer capture
 * keeps (32 + 64 MiB), base64 in JSON (4/3 as many bytes: 128 MiB), and 2 MiB for the rest (headers,
 * times, parents, declared documents), so every call in-process capture records locally is
 * recorded by a server too.
 */
export const MAX_EXCHANGE_BYTES = Math.ceil((MAX_CAPTURED_REQUEST_BYTES + MAX_CAPTURED_RESPONSE_BYTES) / 3) * 4 + 2 * 1024 * 1024;
/** The held-records journal's file in the data directory (store/held-journal.ts). */
export const HELD_JOURNAL_FILE = 'held-runs.sqlite';

/** In the data directory: the run store, and the receipt key made on first start when no --capture-key or --sign-key is given. */
export { RECEIPT_KEY_FILE, RUNS_DATABASE } from '../store/receipt-key.ts';

export interface CaptureConfig {
  upstreams: { [name: string]: string };
  /** --upstream-weights: upstream name -> the absolute path of the model its server loaded. */
  upstreamWeights: { [name: string]: string };
  /** --upstream-timeout: how long an upstream may send nothing, before its answer or between two chunks of it, in ms (default 300 s). */
  upstreamIdleMs: number | undefined;
  token: string | undefined;
  failClosed: boolean;
  durability: Durability;
  policy: ContentPolicy;
  /** --capture-salt: the request components each proxied run salts with fresh salts (SPEC 5.6). */
  salted: RequestComponentName[];
  retentionDays: number | undefined;
  /** --capture-retrieval-max: most bytes of runprint-retrieval header values a proxied call may carry. */
  retrievalMax: number;
  /**
   * --capture-workers: worker threads that compute every proxied call's identity (0: the event
   * loop computes each); 'large' (the default below 4 cores): the event loop, but for requests of
   * LARGE_REQUEST_BYTES or more, one worker thread started when the first comes.
   */
  workers: number | 'large';
  keyFile: string | undefined;
  /** PostgreSQL for the run store; undefined: SQLite in the data directory. */
  runsDb: string | undefined;
  /** OTLP/HTTP traces URL (`.../v1/traces`), or undefined: no spans exported. */
  otlpEndpoint: string | undefined;
  /** Headers of every OTLP export (OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS): never printed. */
  otlpHeaders: Record<string, string>;
  /** How long an OTLP export waits for the receiver (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT), in ms. */
  otlpTimeoutMs: number;
  /** The exported spans' resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES; otlpResource). */
  otlpResource: { serviceName: string; attributes: Record<string, string> };
  /**
   * --capture-log: the remote runprint log captured runs' receipts go to, through the run store as
   * outbox, with its write token and its verifier key (inline, or a file: read before anything
   * opens); undefined: receipts go to serve's own log.
   */
  captureLog: { url: URL; token: string | undefined; key: string | undefined } | undefined;
}

type Values = {
  'no-capture'?: boolean;
  upstream?: string[];
  'upstream-weights'?: string[];
  'upstream-timeout'?: string;
  'capture-token'?: string;
  'capture-fail-closed'?: boolean;
  'capture-durability'?: string;
  'capture-keep'?: string[];
  'capture-salt'?: string[];
  'capture-retention'?: string;
  'capture-retrieval-max'?: string;
  'capture-workers'?: string;
  'capture-key'?: string;
  'runs-db'?: string;
  'otlp-endpoint'?: string;
  'capture-log'?: string;
  'capture-log-token'?: string;
  'capture-log-key'?: string;
  'log-db'?: string;
};

/**
 * `--upstream NAME=URL` values (serve's and replay's): NAME an upstream a provider folder names,
 * URL an http(s) base URL without query, fragment or credentials, to which /v1/... is appended.
 * Each NAME once: a second URL for one upstream is refused, not taken over the first. `from`:
 * the option or environment variable the values came from, as errors name it. With `query`
 * (replay's), URL may carry a query, sent after the recorded path (Azure's `?api-version=...`:
 * serve forwards each client's own query instead); a credential in it (`api-key`) is refused, as
 * the URL is printed and stored with the verdict.
 */
export function upstreamOptions(values: readonly string[], from = '--upstream', options: { query?: boolean } = {}): { [name: string]: string } {
  const names = new Set(REQUEST_FORMATS.map((format) => providerFor(format).upstream.name));
  const upstreams: { [name: string]: string } = {};
  for (const value of values) {
    const split = value.indexOf('=');
    const name = value.slice(0, split);
    let url: URL | undefined;
    try {
      url = split > 0 ? new URL(value.slice(split + 1)) : undefined;
    } catch {
      url = undefined;
    }
    if (!names.has(name) || url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || (url.search !== '' && options.query !== true) || url.hash !== '') {
      const base = options.query === true ? 'URL an http(s) base URL without fragment (the recorded request path, /v1/..., is appended, then the URL\'s query if it has one, such as Azure\'s ?api-version=...)' : 'URL an http(s) base URL without query (the request path, /v1/..., is appended)';
      throw new UsageError('ERR_CLI_USAGE', `${from} must be NAME=URL: NAME one of ${[...names].join(', ')}, ${base}`);
    }
    if (url.username !== '' || url.password !== '') throw new UsageError('ERR_CLI_USAGE', `${from} URL must not carry a user name or password`);
    // The URL is printed and stored with the verdict: a key goes in a header (AZURE_OPENAI_API_KEY), never in it.
    if ([...url.searchParams.keys()].some((key) => key.toLowerCase() === 'api-key')) {
      throw new UsageError('ERR_CLI_USAGE', `${from} URL must not carry api-key in its query: the URL is printed and stored with the verdict; set AZURE_OPENAI_API_KEY instead (sent as the api-key header)`);
    }
    if (Object.hasOwn(upstreams, name)) throw new UsageError('ERR_CLI_USAGE', `${from} names the ${name} upstream more than once: give each NAME one URL`);
    const search = url.search;
    url.search = '';
    upstreams[name] = `${url.href.replace(/\/+$/, '')}${search}`;
  }
  return upstreams;
}

/**
 * The warning lines for upstream URLs whose path ends in /v1 (the usual OpenAI base URL habit):
 * the proxy appends the request path after /NAME to the upstream URL (`${URL}${path}`), so a call
 * to /openai/v1/chat/completions goes to URL/v1/chat/completions, `/v1/v1/...`. Not an error:
 * an upstream may serve such a path, and a client whose base URL is /openai (no /v1) calls
 * /openai/chat/completions, which goes to URL/chat/completions. `from`: the option or variable.
 */
export function upstreamPathWarnings(upstreams: { readonly [name: string]: string }, from = '--upstream'): string[] {
  const lines: string[] = [];
  for (const [name, url] of Object.entries(upstreams)) {
    if (!new URL(url).pathname.endsWith('/v1')) continue;
    const format = REQUEST_FORMATS.find((each) => providerFor(each).upstream.name === name);
    const path = format === undefined ? '/v1/...' : providerFor(format).routes[0]!.path;
    lines.push(`runprint: warning: ${from} ${name}=${url} ends in /v1: the upstream URL is the base the request path (${path}) is appended to, so calls to /${name}${path} go to ${url}${path}; give ${url.slice(0, -'/v1'.length)} unless that upstream serves that path\n`);
  }
  return lines;
}

/**
 * `--upstream-weights NAME=PATH` values: NAME an upstream that `--upstream` points at a server of
 * one's own (the weights behind a provider's public URL are not the operator's to state), PATH
 * the model file or directory that server loaded, resolved against `cwd`. Each NAME once.
 */
export function upstreamWeightsOptions(values: readonly string[], upstreams: { readonly [name: string]: string }, cwd: string): { [name: string]: string } {
  const names = new Set(REQUEST_FORMATS.map((format) => providerFor(format).upstream.name));
  const weights: { [name: string]: string } = {};
  for (const value of values) {
    const split = value.indexOf('=');
    const name = value.slice(0, split);
    if (split <= 0 || !names.has(name) || split === value.length - 1) {
      throw new UsageError('ERR_CLI_USAGE', `--upstream-weights must be NAME=PATH: NAME one of ${[...names].join(', ')}, PATH the model file or directory that upstream's server loaded`);
    }
    if (upstreams[name] === undefined) throw new UsageError('ERR_CLI_USAGE', `--upstream-weights ${name} needs --upstream ${name}=URL: weights are stated only for a model server of your own, never for a provider's public URL`);
    if (weights[name] !== undefined) throw new UsageError('ERR_CLI_USAGE', `--upstream-weights names the ${name} upstream more than once`);
    weights[name] = resolve(cwd, value.slice(split + 1));
  }
  return weights;
}

/**
 * The served fact `weights` (SPEC 2.3, 9.6) of each `--upstream-weights` model, derived once: its
 * `runprint model-digest` digest with that command's default serialization, as
 * `{"source": "derived", "value": {"digest", "serialization"}}`, what in-process capture records
 * with `servedFacts`. A model that cannot be digested is ERR_CLI_USAGE naming its ERR_MODEL_ code.
 */
export async function upstreamWeightsFacts(paths: { readonly [name: string]: string }): Promise<{ [name: string]: { readonly [name: string]: ServedFact } }> {
  const facts: { [name: string]: { readonly [name: string]: ServedFact } } = {};
  for (const [name, path] of Object.entries(paths)) {
    let digest;
    try {
      digest = await computeModelDigest(path, {});
    } catch (error) {
      if (!(error instanceof RunprintError)) throw error;
      throw new UsageError('ERR_CLI_USAGE', `--upstream-weights ${name}: the model cannot be digested (${error.code}: ${error.message}): ${fileName(path)}`);
    }
    facts[name] = { weights: { source: 'derived', value: { digest: digest.digest, serialization: digest.serialization } as unknown as JsonObject } };
  }
  return facts;
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Values of a repeatable option, or the environment variable's whitespace-separated list when none is given. */
export function listOf(values: string[] | undefined, env: string | undefined): string[] {
  if (values !== undefined && values.length > 0) return values;
  return (env ?? '').split(/\s+/).filter((item) => item.length > 0);
}

/**
 * The capture configuration from the options and environment, checked before anything opens, or
 * undefined when capture is off: --no-capture, or a non-loopback address without a capture
 * token (an open proxy is never the default; one line on stderr says so).
 */
export function captureOptions(values: Values, env: NodeJS.ProcessEnv, host: string, io: CliIo): CaptureConfig | undefined {
  if (values['no-capture'] === true) {
    // An option of capture given with --no-capture would be ignored: say so rather than start
    // without what the command line asked for (variables set for every serve are not refused).
    const given = (Object.keys(CAPTURE_OPTIONS) as Array<keyof typeof CAPTURE_OPTIONS>).filter((name) => name !== 'no-capture' && values[name] !== undefined && values[name] !== false && !(Array.isArray(values[name]) && values[name].length === 0));
    if (given.length > 0) throw new UsageError('ERR_CLI_USAGE', `--${given[0]} goes with capture, which --no-capture turns off: give one or the other`);
    return undefined;
  }
  const upstreamsFrom = values.upstream !== undefined && values.upstream.length > 0 ? '--upstream' : 'RUNPRINT_UPSTREAMS';
  const upstreams = upstreamOptions(listOf(values.upstream, env['RUNPRINT_UPSTREAMS']), upstreamsFrom);
  const upstreamWeights = upstreamWeightsOptions(listOf(values['upstream-weights'], env['RUNPRINT_UPSTREAM_WEIGHTS']), upstreams, io.cwd);
  // A refused value is named by where it came from: the option, else its variable.
  const named = (option: keyof typeof values, variable: string) => (values[option] !== undefined ? `--${String(option)}` : variable);
  const token = values['capture-token'] ?? (env['RUNPRINT_CAPTURE_TOKEN'] || undefined);
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError('ERR_CLI_USAGE', `${named('capture-token', 'RUNPRINT_CAPTURE_TOKEN')} must be 1 or more visible ASCII characters with no spaces`);
  }
  const idle = values['upstream-timeout'] ?? env['RUNPRINT_UPSTREAM_TIMEOUT'];
  if (idle !== undefined && (!/^[0-9]{1,7}$/.test(idle) || Number(idle) < 1000 || Number(idle) > 3_600_000)) {
    throw new UsageError('ERR_CLI_USAGE', `${named('upstream-timeout', 'RUNPRINT_UPSTREAM_TIMEOUT')} must be a number of ms from 1000 to 3600000`);
  }
  const upstreamIdleMs = idle === undefined ? undefined : Number(idle);
  const durability = values['capture-durability'] ?? env['RUNPRINT_CAPTURE_DURABILITY'] ?? 'sync';
  if (durability !== 'sync' && durability !== 'async') throw new UsageError('ERR_CLI_USAGE', `${named('capture-durability', 'RUNPRINT_CAPTURE_DURABILITY')} must be sync or async`);
  let policy: ContentPolicy;
  try {
    policy = keepPolicy(listOf(values['capture-keep'], env['RUNPRINT_CAPTURE_KEEP']));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    // The value and what is wrong with it (an unknown part names the nearest one), as runprintFetch's keep says it.
    const from = values['capture-keep'] !== undefined && values['capture-keep'].length > 0 ? '--capture-keep' : 'RUNPRINT_CAPTURE_KEEP';
    throw new UsageError('ERR_CLI_USAGE', `${from} ${error.message}`);
  }
  let salted: RequestComponentName[];
  try {
    salted = saltedComponents(listOf(values['capture-salt'], env['RUNPRINT_CAPTURE_SALT']));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const from = values['capture-salt'] !== undefined && values['capture-salt'].length > 0 ? '--capture-salt' : 'RUNPRINT_CAPTURE_SALT';
    throw new UsageError('ERR_CLI_USAGE', `${from} must be request component names, comma-separated: ${error.message}`);
  }
  const retention = values['capture-retention'] ?? env['RUNPRINT_CAPTURE_RETENTION'];
  const retentionDays = retention === undefined ? undefined : retentionDaysOf(retention);
  if (retention !== undefined && retentionDays === undefined) throw new UsageError('ERR_CLI_USAGE', `${named('capture-retention', 'RUNPRINT_CAPTURE_RETENTION')} must be ${RETENTION_FORM}`);
  const retrievalMax = values['capture-retrieval-max'] ?? env['RUNPRINT_CAPTURE_RETRIEVAL_MAX'];
  if (retrievalMax !== undefined && (!/^[0-9]{1,7}$/.test(retrievalMax) || Number(retrievalMax) < 1024 || Number(retrievalMax) > MAX_RETRIEVAL_MAX)) {
    throw new UsageError('ERR_CLI_USAGE', `${named('capture-retrieval-max', 'RUNPRINT_CAPTURE_RETRIEVAL_MAX')} must be a number of bytes from 1024 to ${MAX_RETRIEVAL_MAX}`);
  }
  const keyFile = values['capture-key'] ?? env['RUNPRINT_CAPTURE_KEY'];
  // An empty name would be the working directory: refused by where it came from.
  if (keyFile === '') throw new UsageError('ERR_CLI_USAGE', `${named('capture-key', 'RUNPRINT_CAPTURE_KEY')} must not be empty: give a key file${values['capture-key'] === undefined ? ', or unset RUNPRINT_CAPTURE_KEY' : ''} (${RECEIPT_KEY_FILE} in the data directory when none is given)`);
  const workers = values['capture-workers'] ?? env['RUNPRINT_CAPTURE_WORKERS'];
  if (workers !== undefined && !/^[0-8]$/.test(workers)) throw new UsageError('ERR_CLI_USAGE', `${named('capture-workers', 'RUNPRINT_CAPTURE_WORKERS')} must be a number of worker threads from 0 to 8`);
  // The run store goes where the log goes unless told otherwise: one PostgreSQL database can hold both.
  const runsDbFrom = ([['--runs-db', values['runs-db']], ['RUNPRINT_RUNS_DB', env['RUNPRINT_RUNS_DB'] || undefined], ['--log-db', values['log-db']], ['RUNPRINT_LOG_DB', env['RUNPRINT_LOG_DB'] || undefined]] as const).find(([, value]) => value !== undefined);
  const runsDb = runsDbFrom?.[1];
  if (runsDb !== undefined && !/^postgres(ql)?:\/\//.test(runsDb)) throw new UsageError('ERR_CLI_USAGE', `${runsDbFrom![0]} must be a postgres:// or postgresql:// connection URL`);
  const otlpEndpoint = otlpEndpointOf(values['otlp-endpoint'], env);
  const captureLog = captureLogOf(values, env);
  if (token === undefined && !isLoopback(host)) {
    io.stderr(`runprint: capture is off: on ${host}, which other machines can reach, the proxy needs --capture-token T (or say --no-capture)\n`);
    return undefined;
  }
  for (const line of upstreamPathWarnings(upstreams, upstreamsFrom)) io.stderr(line);
  // OTEL_EXPORTER_OTLP_PROTOCOL: grpc is refused, http/protobuf warned of (JSON is sent).
  const protocolWarning = otlpEndpoint === undefined ? null : otlpProtocol(env).warning;
  if (protocolWarning !== null) io.stderr(`runprint: telemetry: ${protocolWarning}\n`);
  return {
    upstreams,
    upstreamWeights,
    upstreamIdleMs,
    token,
    failClosed: values['capture-fail-closed'] === true || env['RUNPRINT_CAPTURE_FAIL_CLOSED'] === '1',
    durability,
    policy,
    salted,
    retentionDays,
    retrievalMax: retrievalMax === undefined ? MAX_RETRIEVAL_HEADER_BYTES : Number(retrievalMax),
    workers: workers === undefined ? defaultCaptureWorkers() : Number(workers),
    keyFile,
    runsDb,
    otlpEndpoint,
    otlpHeaders: otlpEndpoint === undefined ? {} : otlpHeaders(env),
    otlpTimeoutMs: otlpEndpoint === undefined ? DEFAULT_OTLP_TIMEOUT_MS : otlpTimeout(env),
    otlpResource: otlpEndpoint === undefined ? { serviceName: 'runprint', attributes: {} } : otlpResource(env),
    captureLog,
  };
}

/**
 * What the held-records journal was doing when it failed, as its failure's line says what follows:
 * `open`, counting its records (the recorder does at start and at a stop; one it cannot read then
 * leaves capture unhealthy while serve runs with it); `write`, keeping records whose commit failed
 * (add, refuse); `read`, taking them back for a retry; `remove`, deleting those committed.
 */
type JournalOperation = 'open' | 'write' | 'read' | 'remove';

/**
 * The journal serve gives the recorder: HeldJournal, whose failures are told apart from the run
 * store's (`operationOf`), so that their line says what a failing journal means (a damaged journal
 * file is not a failing commit). Its errors are the same, but one that is not a RunprintError is
 * the ERR_STORE_UNAVAILABLE the recorder would make of it.
 */
export class ServeJournal extends HeldJournal {
  readonly #failures = new WeakMap<object, JournalOperation>();

  /** What the journal was doing when it threw `error`; undefined: not the journal's error. */
  operationOf(error: unknown): JournalOperation | undefined {
    return typeof error === 'object' && error !== null ? this.#failures.get(error) : undefined;
  }

  #tell<T>(operation: JournalOperation, work: () => T): T {
    try {
      return work();
    } catch (error) {
      const known = error instanceof RunprintError ? error : new LogError('ERR_STORE_UNAVAILABLE', `the held-records journal could not be ${operation === 'write' || operation === 'remove' ? 'written' : 'read'}`);
      this.#failures.set(known, operation);
      throw known;
    }
  }

  override count(): number {
    return this.#tell('open', () => super.count());
  }

  override add(...args: Parameters<HeldJournal['add']>): void {
    this.#tell('write', () => super.add(...args));
  }

  override refuse(...args: Parameters<HeldJournal['refuse']>): void {
    this.#tell('write', () => super.refuse(...args));
  }

  override load(...args: Parameters<HeldJournal['load']>): ReturnType<HeldJournal['load']> {
    return this.#tell('read', () => super.load(...args));
  }

  override refusedCount(): number {
    return this.#tell('read', () => super.refusedCount());
  }

  override remove(...args: Parameters<HeldJournal['remove']>): void {
    this.#tell('remove', () => super.remove(...args));
  }
}

/** What becomes of the records after a failure of the journal, as its line ends. */
const JOURNAL_RECORDS: Record<Exclude<JournalOperation, 'open'>, string> = {
  write: 'what it could not take is kept in memory only: a stop or a crash loses it',
  read: 'the records in it stay there and are tried again every few seconds',
  remove: 'records committed from it stay in it and are committed once more later, which stores nothing twice',
};

/** Errors about one record that the recorder reports and also rejects that record's call with (the same object). */
const ONE_RECORD = new Set(['ERR_STORE_RECORD_REFUSED', 'ERR_CAPTURE_RECORDS_LOST']);

/**
 * Which capture failures serve counts and reports: every one told, but a failure of one record
 * told twice is one. The recorder reports a record the store refused, or one it could not take
 * (ERR_CAPTURE_RECORDS_LOST), and rejects that record's call with the same error, which the
 * proxy tells too. A failed commit is told by the recorder once and by each call in it: those
 * count, one per call.
 */
export function failureTally(): { counts(error: unknown): boolean } {
  const told = new WeakSet<object>();
  return {
    counts(error) {
      if (!(error instanceof RunprintError) || !ONE_RECORD.has(error.code)) return true;
      if (told.has(error)) return false;
      told.add(error);
      return true;
    },
  };
}

/**
 * Worker threads for proxied calls' identities unless --capture-workers says: 2 from 4 cores,
 * leaving at least 2 cores to the event loop and the store's writer threads. A call's identity in a
 * worker costs about 10 % more CPU in all (its composition is copied back) and takes about a
 * quarter of the event loop's work per call off it: worth it only where cores are spare
 * (BENCHMARKS.md, issue 10). Below 4 cores the event loop computes them, but for large requests
 * (LARGE_REQUEST_BYTES, 1 MiB, or more; 'large'), whose identity would hold the event loop, and so
 * every other call and /healthz, for a tenth of a second to seconds: one worker thread, started
 * when the first comes, computes theirs.
 */
export function defaultCaptureWorkers(cores = availableParallelism()): number | 'large' {
  return cores < 4 ? 'large' : 2;
}

/**
 * --capture-log URL (a runprint log's prefix, as `runprint log submit --log` takes it), with
 * --capture-log-token T for its writes and --capture-log-key VKEY to prove what it answers; the
 * token and key only with a URL.
 */
function captureLogOf(values: Values, env: NodeJS.ProcessEnv): CaptureConfig['captureLog'] {
  const url = values['capture-log'] ?? (env['RUNPRINT_CAPTURE_LOG'] || undefined);
  const token = values['capture-log-token'] ?? (env['RUNPRINT_CAPTURE_LOG_TOKEN'] || undefined);
  const key = values['capture-log-key'] ?? (env['RUNPRINT_CAPTURE_LOG_KEY'] || undefined);
  if (url === undefined) {
    if (token !== undefined || key !== undefined) throw new UsageError('ERR_CLI_USAGE', '--capture-log-token and --capture-log-key go with --capture-log URL');
    return undefined;
  }
  let prefix: URL;
  try {
    prefix = logPrefix(url);
  } catch (error) {
    if (error instanceof RangeError && error.message.includes('/v1/log/')) throw new UsageError('ERR_CLI_USAGE', `--capture-log: the ${error.message}`);
    throw new UsageError('ERR_CLI_USAGE', '--capture-log must be an absolute http(s) URL: the prefix of a runprint log (its /checkpoint and /v1/log/entries are below it)');
  }
  // A query or fragment is not part of a log's prefix (its routes are below it): dropped, it would
  // go unnoticed, so it is refused.
  if (/[?#]/.test(url)) throw new UsageError('ERR_CLI_USAGE', '--capture-log URL must not carry a query or fragment: it is the prefix of a runprint log (its /checkpoint and /v1/log/entries are below it)');
  // Credentials in a URL would be shown with every failure report; the token has its own option.
  if (prefix.username !== '' || prefix.password !== '') throw new UsageError('ERR_CLI_USAGE', '--capture-log URL must not carry a user name or password (give the write token with --capture-log-token)');
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) throw new UsageError('ERR_CLI_USAGE', '--capture-log-token must be 1 or more visible ASCII characters with no spaces (a bearer token)');
  return { url: prefix, token, key };
}

/**
 * The traces URL: --otlp-endpoint as given, else the OpenTelemetry SDK environment:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT with `/v1/traces`
 * appended (OTLP exporter specification). OTEL_TRACES_EXPORTER=none turns the environment's off.
 */
function otlpEndpointOf(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  let url = option;
  if (url === undefined && env['OTEL_TRACES_EXPORTER'] !== 'none') {
    url = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || undefined;
    const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'] || undefined;
    if (url === undefined && base !== undefined) url = `${base.replace(/\/+$/, '')}/v1/traces`;
  }
  if (url === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw new UsageError('ERR_CLI_USAGE', '--otlp-endpoint (or OTEL_EXPORTER_OTLP_*_ENDPOINT) must be an http(s) URL');
  if (parsed.username !== '' || parsed.password !== '') throw new UsageError('ERR_CLI_USAGE', '--otlp-endpoint must not carry a user name or password');
  return parsed.href;
}

export interface Capture {
  proxy: Proxy;
  runs: RunRouteOptions;
  /** `POST /v1/exchanges`: runs that in-process capture (runprintFetch with a url) sends here. */
  ingest: IngestRouteOptions;
  /**
   * What /healthz says of capture: the counts since start, the records held in memory now after
   * their commit failed (`held`, committed by a retry or dropped), the records the store refused
   * that the journal keeps apart (`refused`, not tried again), and whether recording works; with
   * --capture-log, its delivery (`log`).
   */
  health(): { capture: { healthy: boolean; recorded: number; unidentified: number; failed: number; held: number; refused: number; signed: number; logged: number; failures: number; upstreams: { [upstream: string]: UpstreamFailures }; log?: OutboxState; otlp?: { exported: number; dropped: number; failed: number; retries: number } } };
  /** With --capture-log: the log's URL as messages show it. */
  captureLog: string | undefined;
  recorder: RunRecorder;
  /** The key this service signs captured runs' receipts with (what the explorer verifies them against). */
  receiptKey: SigningKey;
  banner(url: string): string;
  /** `deadline` (a performance.now() time: the end of serve's --shutdown-grace): span exports not answered by then are abandoned. */
  close(options?: { deadline?: number }): Promise<void>;
}

/** What the outbox does after a failure, as its report says it. */
const OUTCOMES: Record<OutboxOutcome, string> = {
  retry: 'receipts wait in the run store and are sent again with back-off',
  'set-aside': 'the log refused this receipt: it stays in the run store without a log index and is not sent again until serve restarts',
  stop: 'delivery stopped: receipts wait in the run store until serve restarts (with the token, URL or key fixed)',
};
/** A stop because the log's checkpoints do not extend what serve saw it sign or delivered to it before (log-outbox.ts #checkHistory): no restart fixes that. */
const HISTORY_STOPS = new Set(['ERR_LOG_DROPPED', 'ERR_LOG_FORK', 'ERR_LOG_REWRITE']);
const HISTORY_STOP = 'delivery stopped: receipts wait in the run store; after a restart serve delivers again only to a log that still holds the receipts delivered before (restore the log from its backup)';

/**
 * For the banner: where an official SDK's base URL option points to go through the proxy (README,
 * "Capture live calls"): the OpenAI SDKs take the path with /v1, Anthropic's without; '' when
 * neither upstream is served.
 */
function clientsLine(url: string, upstreams: readonly string[]): string {
  const bases = [...(upstreams.includes('openai') ? [`OpenAI SDKs baseURL ${url}/openai/v1`] : []), ...(upstreams.includes('anthropic') ? [`Anthropic SDKs baseURL ${url}/anthropic`] : [])];
  return bases.length === 0 ? '' : `runprint: to capture a client's calls, point it at the proxy: ${bases.join(', ')}\n`;
}

/** For the banner: ` (weights sha256:...)` when runs through the upstream record a weights fact. */
function weightsOf(facts: { readonly [name: string]: ServedFact } | undefined): string {
  const value = facts?.['weights']?.value as { digest?: { sha256?: string } } | undefined;
  return value?.digest?.sha256 === undefined ? '' : ` (weights sha256:${value.digest.sha256})`;
}

/**
 * For the banner: what the run store keeps when --capture-keep changed the default (the shorter of
 * the two lists: the parts kept as content, or those kept by digest only), and when
 * --capture-retention deletes content; '' for the defaults, which keep all but the request bytes, for ever.
 */
function storeOf(policy: ContentPolicy, retentionDays: number | undefined): string {
  const defaults = defaultContentPolicy();
  let kept = '';
  if (CONTENT_PARTS.some((part) => policy[part] !== defaults[part])) {
    // The default's request mode (an unidentified request's bytes kept) is digest-only once a component
    // is; the default's output and retrieval modes once a part they would repeat is (partMode): an
    // OpenAI Responses answer's, which echoes its request, named on its own.
    const mode = (part: ContentPart) =>
      part === 'request' && policy.request === 'unidentified' ? (keepsAllComponents(policy) ? 'unidentified' : 'digest') : partMode(policy, part, 'openai-chat');
    const content: string[] = CONTENT_PARTS.filter((part) => mode(part) === 'content');
    const digest: string[] = CONTENT_PARTS.filter((part) => mode(part) === 'digest');
    if (policy.output === 'default' && partMode(policy, 'output', 'openai-responses') === 'digest') {
      const after = digest.findIndex((part) => CONTENT_PARTS.indexOf(part as ContentPart) > CONTENT_PARTS.indexOf('output'));
      digest.splice(after < 0 ? digest.length : after, 0, 'output (openai-responses)');
    }
    kept =
      content.length === 0
        ? ', keeping only digests'
        : digest.length === 0
          ? ', keeping all content'
          : content.length <= digest.length
            ? `, keeping content only of ${content.join(',')}`
            : `, keeping digests only of ${digest.join(',')}`;
  }
  return `${kept}${retentionDays === undefined ? '' : `, content deleted after ${retentionDays} day${retentionDays === 1 ? '' : 's'}`}`;
}

/** Opens the run store, signs what a crash left unsigned, and builds the proxy. */
export async function startCapture(config: CaptureConfig, context: { dataDir: string; cwd: string; log: TransparencyLog | undefined; logWhere?: string; logKeyId: string | undefined; signKey: SigningKey | undefined; io: CliIo; upstreamWeights?: { [name: string]: { readonly [name: string]: ServedFact } }; captureLogKey?: NoteVerifier }): Promise<Capture> {
  const key = config.keyFile === undefined && context.signKey !== undefined ? context.signKey : await receiptKey(context.dataDir, context.cwd, config.keyFile);
  if (key.keyId === context.logKeyId) throw new UsageError('ERR_CLI_USAGE', '--capture-key must not be the log key: give receipts their own key (runprint keygen)');
  // As for --sign-key and --witness-key: a line when others may read it (the key is used all the same).
  if (config.keyFile !== undefined) await warnOpenKey(resolve(context.cwd, config.keyFile), '--capture-key file', context.io);
  // Opening a PostgreSQL run store waits for its tables (another session's lock, a slow server), up
  // to the 30 s statement timeout: past 2 s, stderr says what serve waits for.
  const waiting = config.runsDb === undefined ? undefined : setTimeout(() => context.io.stderr('runprint: capture: waiting for the PostgreSQL run store (another session holds a lock on its tables, or the server is slow to answer); serve gives up after 30 s\n'), 2_000);
  let storage: RunStorage & BindsLog;
  try {
    storage = config.runsDb === undefined ? SqliteRuns.open(join(context.dataDir, RUNS_DATABASE), { writerThread: true }) : await (await import('../store/postgres-runs.ts')).PostgresRuns.open(config.runsDb);
  } finally {
    clearTimeout(waiting);
  }
  // On PostgreSQL, the steps runprint-steps names are kept in the store: every serve on it links
  // an agent's calls, whichever serve each reaches, and a restart forgets none.
  let steps: PostgresSteps | undefined;
  try {
    steps = config.runsDb === undefined ? undefined : await (await import('../store/postgres-steps.ts')).PostgresSteps.open(config.runsDb);
  } catch (error) {
    await storage.close();
    throw error;
  }
  // Receipts appended to serve's own log: that log must be the one the store's indexes refer to
  // (another serve's on a shared store, or this one replaced or rolled back, is refused before
  // anything is stored), the store is bound to it before anything is appended (of two serves
  // started at once on a store bound to no log yet, only one binds it), and its checkpoint is
  // kept in the store for the next start and the other serves on it (own-log-checkpoint.ts).
  const ownLog = config.captureLog === undefined ? context.log : undefined;
  const ownLogNames = {
    log: context.logWhere ?? 'serve\'s log database',
    store: config.runsDb === undefined ? join(context.dataDir, RUNS_DATABASE) : `PostgreSQL ${databaseShown(config.runsDb)}`,
  };
  if (ownLog !== undefined) {
    try {
      await bindOwnLog(storage, ownLog, ownLogNames);
    } catch (error) {
      await steps?.close();
      await storage.close();
      throw error;
    }
  }
  const version = await runprintVersion();
  const telemetryReported = new Set<string>();
  const exporter = config.otlpEndpoint === undefined
    ? undefined
    : otlpExporter({ endpoint: config.otlpEndpoint, headers: config.otlpHeaders, timeoutMs: config.otlpTimeoutMs, serviceName: config.otlpResource.serviceName, resource: config.otlpResource.attributes, serviceVersion: version, onFailure: (message) => {
        // Once per kind of failure and outage: a receiver that is down does not fill the log.
        if (telemetryReported.has(message)) return;
        telemetryReported.add(message);
        context.io.stderr(`runprint: telemetry: ${message}\n`);
      },
      // An export works again (as the run store's failures): each kind is said again when it comes back.
      onRecovered: () => telemetryReported.clear() });
  // Each kind of failure is reported once, until recording works again.
  const reported = new Set<string>();
  // Records whose commit failed wait on disk too, beside the data directory's other files, so a
  // stop or a crash while the run store fails loses none: the next start commits them.
  const journal = new ServeJournal(join(context.dataDir, HELD_JOURNAL_FILE));
  let lostLineAt = -Infinity;
  let lostHeldBack = 0;
  let lostTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  // The recorder, once made: whether the run store is failing now says what becomes of the calls.
  let recording: { readonly healthy: boolean } | undefined;
  const tally = failureTally();
  // Whether a failure of the run store itself has its line since recording last worked.
  let storeFailureReported = false;
  /** Recording works again: each kind is reported again when it comes back (the journal's only once the store has failed and works again). */
  const forget = (journalToo: boolean) => {
    for (const code of reported) if (!code.startsWith('ERR_CAPTURE_RETRIEVAL_') && (journalToo || !code.startsWith('journal '))) reported.delete(code);
    storeFailureReported = false;
  };
  /** `call`: told by a proxied call or an exchange, of its record; otherwise by the recorder (or retention). */
  const report = (error: unknown, call = false) => {
    if (!tally.counts(error)) return;
    failures++;
    const known = error instanceof RunprintError ? error : new RunprintError('ERR_INTERNAL', 'recording a run failed unexpectedly');
    // One kind per code, whether the recorder was healthy when it came or not: a failure of the
    // store met while recording still worked (a claim of runs to sign, say) and then by a commit
    // is one failure, one line, whose end says what a failing commit brings in this mode.
    const kind = known.code;
    // Records lost are reported every time (each is data no retry brings back), at most a line a
    // second: the lines held back are counted in the next.
    if (known.code === 'ERR_CAPTURE_RECORDS_LOST') {
      const now = performance.now();
      if (now - lostLineAt >= 1_000) {
        lostLineAt = now;
        context.io.stderr(`runprint: capture: ${known.toLine()} (/healthz capture.failed counts them)\n`);
        return;
      }
      lostHeldBack += 1;
      lostTimer ??= setTimeout(() => {
        lostTimer = undefined;
        lostLineAt = performance.now();
        context.io.stderr(`runprint: capture: ERR_CAPTURE_RECORDS_LOST: ${lostHeldBack} more loss${lostHeldBack === 1 ? '' : 'es'} like the last in the second after it (/healthz capture.failed counts them)\n`);
        lostHeldBack = 0;
      }, 1_000 - (now - lostLineAt));
      return;
    }
    // A failure of the held-records journal is its own kind: a commit of the run store that works
    // says nothing of the journal, so it does not make it reported again.
    const operation = journal.operationOf(known);
    if (operation !== undefined) {
      if (reported.has(`journal ${known.code}`)) return;
      reported.add(`journal ${known.code}`);
      context.io.stderr(`runprint: capture: ${known.toLine()} (${journalTail(operation)})\n`);
      return;
    }
    const storeFailure = known.code.startsWith('ERR_STORE_') && known.code !== 'ERR_STORE_RECORD_REFUSED';
    // A call's record that came while the store fails is held without a commit attempt, and its
    // call is told so (ERR_STORE_UNAVAILABLE): the same failure, whose line is printed already.
    if (call && storeFailure && recording?.healthy === false && storeFailureReported) return;
    if (reported.has(kind)) return;
    reported.add(kind);
    if (storeFailure) storeFailureReported = true;
    const calls =
      recording?.healthy === false
        ? config.failClosed
          ? 'fail-closed: calls get 503 ERR_CAPTURE_UNAVAILABLE, not forwarded, until the run store works again (tried every few seconds)'
          : 'the calls go on; records whose commit failed are held in memory and tried again every few seconds'
        : !storeFailure
          ? 'the calls go on'
          : config.failClosed
            ? 'the calls go on while commits work; fail-closed: once one fails, calls get 503 ERR_CAPTURE_UNAVAILABLE, not forwarded, until the run store works again (tried every few seconds)'
            : 'the calls go on; records whose commit fails are held in memory and tried again every few seconds';
    context.io.stderr(`runprint: capture: ${known.toLine()} (${calls})\n`);
  };
  const reportCall = (error: unknown) => report(error, true);
  /**
   * The end of a journal failure's line. One the journal cannot be read at start (or at a stop)
   * leaves capture unhealthy while serve runs with it, so fail-closed calls get 503 until then;
   * the others come while the run store fails, or as it works again.
   */
  const journalTail = (operation: JournalOperation): string => {
    if (operation === 'open') {
      return config.failClosed
        ? 'fail-closed: calls get 503 ERR_CAPTURE_UNAVAILABLE, not forwarded, while serve runs with it'
        : 'the calls go on and are recorded, but /healthz says unhealthy while serve runs with it';
    }
    const calls = recording?.healthy === false && config.failClosed ? 'fail-closed: calls get 503 ERR_CAPTURE_UNAVAILABLE, not forwarded, until the run store works again' : 'the calls go on';
    return `${calls}; ${JOURNAL_RECORDS[operation]}`;
  };
  // --capture-log: receipts are stored without a log index and the outbox delivers them; each kind
  // of failure is reported once, until a delivery succeeds again.
  const logReported = new Set<string>();
  const outbox =
    config.captureLog === undefined
      ? undefined
      : new LogOutbox({
          storage,
          url: config.captureLog.url,
          ...(config.captureLog.token === undefined ? {} : { token: config.captureLog.token }),
          ...(context.captureLogKey === undefined ? {} : { logKey: context.captureLogKey }),
          onFailure: (error, outcome) => {
            if (logReported.has(`${outcome} ${error.code}`)) return;
            logReported.add(`${outcome} ${error.code}`);
            context.io.stderr(`runprint: capture log ${printableUrl(config.captureLog!.url)}: ${error.toLine()}; ${outcome === 'stop' && HISTORY_STOPS.has(error.code) ? HISTORY_STOP : OUTCOMES[outcome]}\n`);
          },
          onDelivered: () => {
            for (const reported of logReported) if (reported.startsWith('retry ')) logReported.delete(reported);
          },
        });
  const recorder = new RunRecorder({
    storage,
    policy: config.policy,
    sign: { key, runprintVersion: version },
    // serve's own name in claims: a restart takes over at once; in-process capture never shares it.
    claimant: `serve:${key.keyId}:${config.runsDb === undefined ? context.dataDir : 'postgres'}`,
    // Receipts in-process capture signed on this store are appended to this log too, within seconds.
    ...(outbox !== undefined ? { onReceipts: () => outbox.wake() } : ownLog === undefined ? {} : { log: ownLog, logOthers: true, sweepEveryMs: 5_000, keepLog: () => keepOwnLog(storage, ownLog, ownLogNames) }),
    onFailure: report,
    journal,
    onJournalLeft: (count) =>
      context.io.stderr(`runprint: capture: ${count} record${count === 1 ? '' : 's'} the run store could not take ${count === 1 ? 'waits' : 'wait'} in ${join(context.dataDir, HELD_JOURNAL_FILE)}: committed when serve starts again with this data directory\n`),
    onRecovered: (committed) => {
      forget(true);
      context.io.stderr(`runprint: capture: the run store works again (${committed} held record${committed === 1 ? '' : 's'} committed${config.failClosed ? '; calls are forwarded again' : ''})\n`);
    },
  });
  recording = recorder;
  const upstreamFetch = createUpstreamFetch(config.upstreamIdleMs === undefined ? {} : { idleMs: config.upstreamIdleMs });
  // With --capture-workers N, each call's identity is computed in a worker thread while the call
  // goes to its upstream; by default below 4 cores, only a large request's (in one worker, started
  // when the first comes: the pool starts its workers at its first call).
  const preparePool = config.workers === 0 ? undefined : createPreparePool({
    workers: config.workers === 'large' ? 1 : config.workers,
    // Off for good (workers that cannot load): said once, with what it costs and what to do.
    onStopped: (why) => context.io.stderr(`runprint: capture: ${why}, where a request of 1 MiB or more holds every other call and /healthz for a tenth of a second to seconds; look at the machine's free memory and load, then restart serve (--capture-workers 0 does without the workers)\n`),
  });
  // Calls answered 502 because their upstream gave no usable answer: counted by upstream for
  // /healthz, and on stderr the first at once, then a line a minute at most (a stop prints the rest).
  const upstreams = [...new Set(REQUEST_FORMATS.map((format) => providerFor(format).upstream.name))];
  const upstreamFailures = upstreamFailureReporter(context.io.stderr, upstreams);
  const proxy = createProxy({
    ...(preparePool === undefined ? {} : { prepare: preparePool.prepare, prepareFrom: config.workers === 'large' ? LARGE_REQUEST_BYTES : 0 }),
    upstreams: config.upstreams,
    fetch: upstreamFetch as typeof fetch,
    sink: {
      get healthy() {
        return recorder.healthy;
      },
      record: (run, bytes, capture) =>
        recorder.record(run, bytes, capture).then(() => {
          // A client's declarations that cannot be recorded (ERR_CAPTURE_RETRIEVAL_*) are not
          // recording failures: each kind is reported once, not again after every record; nor
          // are the journal's, which a commit does not touch.
          forget(false);
        }),
    },
    durability: config.durability,
    failClosed: config.failClosed,
    ...(steps === undefined ? {} : { steps }),
    ...(config.token === undefined ? {} : { token: config.token }),
    maxBodyBytes: 32 * 1024 * 1024,
    maxRetrievalBytes: config.retrievalMax,
    receipts: true,
    onFailure: reportCall,
    onUpstreamFailure: (upstream, error) => upstreamFailures.report(upstream, error),
    ...(context.upstreamWeights === undefined || Object.keys(context.upstreamWeights).length === 0 ? {} : { derived: context.upstreamWeights }),
    // A fresh salt per run and component: equal content under one salt would show runs share it.
    ...(config.salted.length === 0 ? {} : { salts: () => freshSalts(config.salted) }),
    ...(exporter === undefined
      ? {}
      : {
          onRun: (run: CapturedRun, where: RunContext) => {
            // Parent-based: a caller whose span is not sampled gets no span of this call either.
            const trace = parseTraceparent(where.traceparent);
            if (trace?.sampled !== false) exporter.export(spanOf(run, { upstream: where.upstream, server: new URL(where.url), trace, receipt: where.receipt, stream: where.stream, parameters: config.policy.parameters, configuration: config.policy.configuration }));
          },
        }),
  });
  void recorder.signPending();
  outbox?.start();
  const retention = config.retentionDays === undefined ? undefined : sweepRetention(recorder, config.retentionDays, report);
  return {
    proxy,
    receiptKey: key,
    runs: {
      storage,
      ...(config.captureLog !== undefined
        ? { log: remoteTlogProofs(config.captureLog.url, context.captureLogKey), unlogged: `the receipt is not in the capture log ${printableUrl(config.captureLog.url)} yet: serve delivers it in the background (GET /healthz, capture.log, says why it waits); retry later` }
        : context.log === undefined
          ? {}
          : { log: context.log }),
      ...(config.token === undefined ? {} : { token: config.token }),
    },
    ingest: {
      // Stored only while no other record has its capture id, checked as it is stored: serve
      // processes sharing a PostgreSQL store cannot both take one.
      sink: { record: (run, bytes, capture) => recorder.record(run, bytes, capture, { captureIdOnce: true }) },
      // A capture id names one record: another exchange under a stored one is refused (409).
      // A call the proxy is capturing has named its capture id already (a stream, at its start), but
      // has no record yet: the id is taken as much as a stored one's.
      recordsOf: async (captureId) =>
        proxy.capturing(captureId) ? ['a call the proxy is capturing'] : (await storage.find(captureId)).filter((run) => run.record.captureId === captureId).map((run) => run.recordDigest),
      ...(config.token === undefined ? {} : { token: config.token }),
      maxBodyBytes: MAX_EXCHANGE_BYTES,
      receipts: true,
      // Reported as a proxied call's failures are, once per kind (not again as a 5xx answer).
      onFailure: reportCall,
      // An exchange's request identity where a proxied call's is computed.
      ...(preparePool === undefined ? {} : { prepare: preparePool.prepare, prepareFrom: config.workers === 'large' ? LARGE_REQUEST_BYTES : 0 }),
    },
    recorder,
    health: () => {
      const log = outbox?.state;
      // Unhealthy too while delivery to the --capture-log log has stopped, or appending to serve's
      // own log (ERR_LOG_REWRITE, until a restart): a monitor polling `healthy` must see that
      // receipts no longer reach the log.
      return { capture: { healthy: recorder.healthy && (log?.stopped ?? null) === null && recorder.logStopped === undefined, ...recorder.counts, held: recorder.held, refused: recorder.refused, logged: recorder.counts.logged + (log?.delivered ?? 0), failures, upstreams: upstreamFailures.counts(), ...(log === undefined ? {} : { log }), ...(preparePool === undefined ? {} : { workers: { ...preparePool.counts } }), ...(exporter === undefined ? {} : { otlp: { exported: exporter.counts.exported, dropped: exporter.counts.dropped, failed: exporter.counts.failures, retries: exporter.counts.retries } }) } };
    },
    captureLog: config.captureLog === undefined ? undefined : printableUrl(config.captureLog.url),
    banner: (url) =>
      `runprint: capture on (${config.durability} durability${config.failClosed ? ', fail-closed' : ''}${config.workers === 0 || config.workers === 'large' ? '' : `, identities in ${config.workers} worker thread${config.workers === 1 ? '' : 's'}`}${config.salted.length === 0 ? '' : `, salting ${config.salted.join(',')}`}, runs in ${storage.kind}${storeOf(config.policy, config.retentionDays)}${exporter === undefined ? '' : ', spans to OTLP'}${config.captureLog === undefined ? '' : `, receipts to the log ${printableUrl(config.captureLog.url)} ${context.captureLogKey === undefined ? '(its answers unproved: no --capture-log-key)' : '(each proved in a signed checkpoint)'}`}): ${upstreams.map((name) => `${url}/${name} -> ${config.upstreams[name] ?? providerFor(REQUEST_FORMATS.find((format) => providerFor(format).upstream.name === name)!).upstream.url}${weightsOf(context.upstreamWeights?.[name])}`).join(', ')}\n${clientsLine(url, upstreams)}`,
    close: async (closing = {}) => {
      // The calls are answered by now (serve's stop closes the server first): what is counted since the last line.
      upstreamFailures.flush();
      await retention?.stop();
      await recorder.close();
      // The checkpoint of every receipt appended, kept for the next start (unless appending stopped).
      if (ownLog !== undefined && recorder.logStopped === undefined) {
        await ownLog
          .publishCheckpoint()
          .then(() => keepOwnLog(storage, ownLog, ownLogNames))
          .catch((error: unknown) => report(error));
      }
      await outbox?.close();
      await exporter?.close(closing);
      await storage.close();
      await steps?.close();
      upstreamFetch.close();
      await preparePool?.close();
    },
  };
}
