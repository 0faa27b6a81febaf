/**
 * The run store over HTTP (issue: live capture, section 4): `GET /v1/runs` lists captured runs
 * (`GET /v1/runs/counts` counts them by model and identity),
 * `GET /v1/runs/{id}` shows one (a capture id, or a run identity with every capture of it), and its
 * receipt and tlog-proof; `GET /v1/content/{digest}` gives a stored component, element or output.
 */
import { MAX_ENTRY_SIZE } from '../log/entry-bundle.ts';
import { identityElements, LARGE_RUN_ELEMENTS, STEP_ELEMENTS } from '../capture/large-run.ts';
import { nextTurn } from '../io/steps.ts';
import { stringifyInSteps } from '../jcs/stringify-steps.ts';
import { isRunId, MAX_RECORD_TIME } from '../capture/capture-run.ts';
import { RunprintError, UsageError } from '../errors.ts';
import { CONTENT_PARTS, PROVIDERS, RUN_STATUSES, type RunDigest, type RunQuery, type ReplayEnd, type RunStatus, type RunStorage, type StoredRun } from '../store/run-storage.ts';
import { sameToken } from './bearer.ts';
import { errorResponse } from './http-status.ts';
import { knownParameters } from './query.ts';
import { isTimestamp } from '../receipt/predicate.ts';
import { LIST_COMPONENTS } from '../identity/composition.ts';
import { groupRuns, parseGroupBy } from '../replay/group-runs.ts';
import { runComposition, storedSalts } from '../replay/rebuild-request.ts';
import { VERDICTS } from '../replay/verdict.ts';
import { closestName } from '../io/closest-name.ts';
import { printable } from '../io/printable.ts';

export interface RunRouteOptions {
  storage: RunStorage;
  /** The log the receipts go to, for tlog-proofs (`entry`: the receipt's bytes, which a remote log's proof is checked against). */
  log?: { tlogProof(index: number, entry: Uint8Array): Promise<{ text: string; checkpoint: string } | undefined> };
  /** Said (ERR_LOG_ENTRY_NOT_FOUND) of a receipt with no log index yet, when receipts go to a remote log through an outbox. */
  unlogged?: string;
  /** When set, these routes need `runprint-capture-token` (they show what the runs sent). */
  token?: string;
}

type Handler = (request: Request, url: URL) => Promise<Response>;

const HEX64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What `/v1/runs/{id}/...` serves besides the run itself (`verify` is run-analysis-routes.ts's). */
const RUN_SUBROUTES = ['receipt', 'composition', 'salts', 'tlog-proof'];

/** The JSON view of a stored run: what `runprint runs show --json` prints. */
export function runView(run: StoredRun): Record<string, unknown> {
  return {
    seq: run.seq,
    captureId: run.record.captureId,
    recordDigest: { sha256: run.recordDigest },
    capture: run.capture,
    model: run.model,
    record: run.record,
    identity: run.identity,
    // Its size says why a receipt has no log index for good: one longer than a log entry can be
    // (MAX_ENTRY_SIZE) is in no log (ERR_LOG_ENTRY_TOO_LARGE). A receipt is ASCII: characters are bytes.
    receipt: run.receipt === null ? null : { logIndex: run.logIndex, size: run.receipt.length },
    contentExpired: run.contentExpired,
  };
}

/** Where a piece of a run's content is: kept by this run, stored because another run keeps the same content, or not stored. */
export const CONTENT_STATES = ['kept', 'elsewhere', 'none'] as const;
export type ContentState = (typeof CONTENT_STATES)[number];

/** One part of a run and where the content of each of its pieces is (a list part: one per element, in order). */
export interface PartContent {
  part: RunDigest['part'];
  /** A list component or retrieval: each element (document) is kept on its own. */
  list: boolean;
  states: ContentState[];
}

/** A part of a run with its pieces in order (runContent), undefined for a part with none. */
function piecesOf(run: StoredRun, part: RunDigest['part']): { part: RunDigest['part']; list: boolean; pieces: RunDigest[] } | undefined {
  // A list component or retrieval keeps each element; another component or part its one digest.
  const list = (LIST_COMPONENTS as readonly string[]).includes(part) || part === 'retrieval';
  const pieces = run.digests.filter((digest) => digest.part === part && (list ? digest.position >= 0 : digest.position === -1)).sort((a, b) => a.position - b.position);
  return pieces.length > 0 ? { part, list, pieces } : undefined;
}

/**
 * Where each part's content is, for each of `runs`: the parts of a run (COMPONENT_NAMES, but
 * `output`, whose digest names no content: the response bytes are the output kept) that name
 * content, in that order, each piece `kept` when this run keeps it (run_digests.kept),
 * `elsewhere` when another run keeps the same content (it is stored and readable: --composition
 * and runs verify use it), `none` when it is not stored: kept as digest only, or, once retention
 * expired the run, deleted or kept as digest only (the store no longer says which). A part with
 * no piece (an empty list, no retrieval declared) is left out. What `runs show` prints and the
 * views' `content` member say (one definition).
 */
export async function runContent(storage: RunStorage, runs: readonly StoredRun[]): Promise<PartContent[][]> {
  const parts: Array<Array<{ part: RunDigest['part']; list: boolean; pieces: RunDigest[] }>> = [];
  for (const run of runs) {
    if (!largeRun(run)) {
      parts.push(CONTENT_NAMES.flatMap((part) => piecesOf(run, part) ?? []));
      continue;
    }
    // A large run's parts with a turn of the event loop after each.
    const found: Array<{ part: RunDigest['part']; list: boolean; pieces: RunDigest[] }> = [];
    for (const part of CONTENT_NAMES) {
      const pieces = piecesOf(run, part);
      if (pieces !== undefined) found.push(pieces);
      await nextTurn();
    }
    parts.push(found);
  }
  // Whether content no run of these keeps is stored: one query for them all, no content read.
  const present = await storage.contentStored(parts.flat().flatMap(({ pieces }) => pieces.filter((piece) => piece.kept !== true).map((piece) => piece.digest)));
  return parts.map((found) => found.map(({ part, list, pieces }) => ({
    part,
    list,
    states: pieces.map((piece): ContentState => (piece.kept === true ? 'kept' : present.has(piece.digest) ? 'elsewhere' : 'none')),
  })));
}

/**
 * The views' `content` member: for each part runContent names, how many of its pieces are in each
 * state (all three counted, 0 included; a part that is not a list has one piece), and for a list
 * part the state of each element in order (`elements`).
 */
export function contentView(parts: readonly PartContent[]): Record<string, Record<string, unknown>> {
  const view: Record<string, Record<string, unknown>> = {};
  for (const { part, list, states } of parts) {
    const counts: Record<string, unknown> = {};
    for (const state of CONTENT_STATES) counts[state] = states.filter((each) => each === state).length;
    view[part] = list ? { ...counts, elements: states } : counts;
  }
  return view;
}

/** Whether a run names LARGE_RUN_ELEMENTS list elements or more (capture/large-run.ts): what is made of it is made in steps. */
export const largeRun = (run: StoredRun): boolean => identityElements(run.identity) >= LARGE_RUN_ELEMENTS;

/**
 * Whether any of `runs` is large (largeRun): their answer is made, and sent, in steps (jsonAnswer);
 * that of other runs in one go, as before.
 */
export const largeRuns = (runs: readonly StoredRun[]): boolean => runs.some(largeRun);

const encoder = new TextEncoder();

/**
 * The answer `${JSON.stringify(value, null, space)}${end}` as application/json with `headers`:
 * with `large`, the same bytes made and sent in pieces (stringifyInSteps: each long array
 * STEP_ELEMENTS elements at a time, a turn of the event loop before each), so that the answer of
 * a run of 100,000 list elements (10 MB) does not hold the event loop while it is made and
 * encoded; else made in one go, as Response.json makes it.
 */
export function jsonAnswer(value: unknown, large: boolean, headers: Record<string, string>, space?: number, end = ''): Response {
  const type = { 'content-type': 'application/json', ...headers };
  if (!large) return new Response(`${JSON.stringify(value, null, space)}${end}`, { headers: type });
  const pieces = stringifyInSteps(value, nextTurn, STEP_ELEMENTS, space);
  let ended = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await pieces.next();
      if (next.done !== true) return controller.enqueue(encoder.encode(next.value));
      if (!ended && end !== '') controller.enqueue(encoder.encode(end));
      ended = true;
      controller.close();
    },
    async cancel() {
      await pieces.return();
    },
  });
  return new Response(body, { headers: type });
}

/** A run at the other end of a replay link, with the replay's verdict. */
const linkedRun = (end: ReplayEnd, verdict: string) => ({ recordDigest: { sha256: end.recordDigest }, captureId: end.captureId, seq: end.seq, verdict });

/**
 * The JSON views of stored runs with where their content is (`content`: contentView) and their
 * replay links (docs/REPLAY.md section 5): `replayOf`,
 * the run a run replays (null when it is no replay), and `replays`, the replays of it, oldest
 * first; each with the replay's verdict. What `runs list --json`, `runs show --json`, `GET
 * /v1/runs` and `GET /v1/runs/{id}` answer.
 */
export async function runViews(storage: RunStorage, runs: readonly StoredRun[]): Promise<Record<string, unknown>[]> {
  const links = await storage.replayLinks([...new Set(runs.map((run) => run.recordDigest))]);
  const content = await runContent(storage, runs);
  return runs.map((run, i) => {
    const of = links.find((link) => link.replay.recordDigest === run.recordDigest);
    return {
      ...runView(run),
      content: contentView(content[i]!),
      replayOf: of === undefined ? null : linkedRun(of.replayOf, of.verdict),
      replays: links.filter((link) => link.replayOf.recordDigest === run.recordDigest).map((link) => linkedRun(link.replay, link.verdict)),
    };
  });
}

/**
 * The NAMEs of a `component=NAME=DIGEST` query: the parts whose digests a run names
 * (RunDigest): the request components, `excluded`, `output` (the output's digest, SPEC 12: the
 * `output` row of `runs show`), `request` and `response` (the exact request and response bytes:
 * the `request bytes` and `response bytes` rows; `--capture-keep output` keeps the response
 * bytes), `retrieval` and `salts`.
 */
export const COMPONENT_NAMES: readonly RunDigest['part'][] = CONTENT_PARTS.flatMap((part) => (part === 'request' ? ['request', 'response'] as const : [part]));

/** The parts whose pieces name content (runContent): COMPONENT_NAMES but `output`, whose digest names none. */
const CONTENT_NAMES: readonly RunDigest['part'][] = COMPONENT_NAMES.filter((part) => part !== 'output');

const COMPONENT_FORM = 'component is DIGEST or NAME=DIGEST';

/** Why `text` is not a digest as a query names one (64 lower-case hex digits, sha256: before them allowed); null when it is. */
function digestMistake(text: string): string | null {
  if (HEX64.test(text)) return null;
  if (text === '') return 'the DIGEST after = is empty: give 64 lower-case hex digits';
  if (/^[0-9a-fA-F]{64}$/.test(text)) return 'DIGEST must be written in lower-case hex: upper-case letters A-F are not accepted';
  if (/^[0-9a-fA-F]+$/.test(text)) return `DIGEST must be 64 hex digits (a SHA-256); this one has ${text.length}`;
  return 'DIGEST must be 64 lower-case hex digits (a SHA-256, sha256: before them may be kept); this one has characters that are not hex digits';
}

/**
 * `component` query: `DIGEST` or `NAME=DIGEST`, the digest as 64 lower-case hex digits or
 * `sha256:` and them. Each mistake is said on its own: a NAME that is none of COMPONENT_NAMES
 * (with the nearest one), a NAME without its digest, a digest of the wrong length, with
 * characters that are not hex digits, or in upper case.
 */
export function componentQuery(value: string): { part?: RunDigest['part']; digest: string } {
  const split = value.indexOf('=');
  const name = split < 0 ? undefined : value.slice(0, split);
  const names = COMPONENT_NAMES as readonly string[];
  if (name !== undefined && !names.includes(name)) {
    if (name === '') throw new UsageError('ERR_CLI_USAGE', `${COMPONENT_FORM}: the NAME before = is empty; NAME is one of ${names.join(', ')}`);
    const closest = closestName(name, names);
    throw new UsageError('ERR_CLI_USAGE', `${COMPONENT_FORM}: "${printable(name, 40)}" is not a NAME; NAME is one of ${names.join(', ')}${closest === undefined ? '' : `; did you mean "${closest}"?`}`);
  }
  if (name === undefined && names.includes(value)) throw new UsageError('ERR_CLI_USAGE', `${COMPONENT_FORM}: "${value}" is a NAME without its digest; give ${value}=DIGEST`);
  const digest = (split < 0 ? value : value.slice(split + 1)).replace(/^sha256:/, '');
  const mistake = digestMistake(digest);
  if (mistake !== null) throw new UsageError('ERR_CLI_USAGE', `${COMPONENT_FORM}: ${mistake}`);
  return name === undefined ? { digest } : { part: name as RunDigest['part'], digest };
}

/** The filters of a run query, as GET /v1/runs, /v1/runs/counts and /v1/runs/groups name them. */
export const RUN_FILTERS = ['since', 'until', 'model', 'servedModel', 'provider', 'status', 'parent', 'verdict', 'component'] as const;

/** Why a filter given twice (`model=a&model=b`) is refused: one of them would be a guess, as `runs list` refuses an option given twice. */
const NOT_COMBINED = ' (filters are not combined)';

/** The first time RFC 3339 can write in UTC (4-digit years), 0000-01-01T00:00:00Z, in ms; the last is a record's (MAX_RECORD_TIME). */
const FIRST_MS = -62167219200000;

/**
 * `since` or `until` (an RFC 3339 time) as the run store compares it with start times, which
 * records hold in whole milliseconds (`2026-12-06T11:36:46.706Z`): a time with a fraction finer
 * than a millisecond is rounded up to the next one, which selects exactly the same runs (started
 * at or after .7061 is at or after .707; before .7061 is before .707), where cutting it to .706
 * left out a run started at .706 from `until` and let it into `since`. A time whose UTC form is
 * outside years 0000-9999 is refused: no record is there, and the run store compares the UTC text.
 */
function queryTime(name: string, time: string): string {
  const finer = /\.\d{3}(\d+)/.exec(time)?.[1];
  const ms = Date.parse(time) + (finer !== undefined && /[1-9]/.test(finer) ? 1 : 0);
  if (ms < FIRST_MS || ms > MAX_RECORD_TIME) throw new UsageError('ERR_CLI_USAGE', `${name} must be a time from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z in UTC`);
  return new Date(ms).toISOString();
}

/** A run query from the RUN_FILTERS, `limit` and `before` parameters (CLI and HTTP alike). */
export function runQuery(get: (name: string) => string | undefined): RunQuery {
  const query: RunQuery = {};
  // An empty value would select no run at all (no model is named ""): it is a mistake, said as one.
  for (const name of RUN_FILTERS) {
    if (get(name) === '') throw new UsageError('ERR_CLI_USAGE', `${name} is empty: give it a value, or leave ${name} out (an empty ${name} would select no run)`);
  }
  for (const name of ['since', 'until'] as const) {
    const time = get(name);
    if (time === undefined) continue;
    if (!isTimestamp(time)) throw new UsageError('ERR_CLI_USAGE', `${name} must be an RFC 3339 time, e.g. 2026-12-05T00:00:00Z`);
    query[name] = queryTime(name, time);
  }
  const model = get('model');
  if (model !== undefined) query.model = model;
  const served = get('servedModel');
  if (served !== undefined) query.servedModel = served;
  const provider = get('provider');
  if (provider !== undefined) {
    if (!PROVIDERS.includes(provider)) throw new UsageError('ERR_CLI_USAGE', `provider must be one of ${PROVIDERS.join(', ')}`);
    query.provider = provider;
  }
  const status = get('status');
  if (status !== undefined) {
    if (!(RUN_STATUSES as readonly string[]).includes(status)) throw new UsageError('ERR_CLI_USAGE', `status must be one of ${RUN_STATUSES.join(', ')}`);
    query.status = status as RunStatus;
  }
  const parent = get('parent');
  if (parent !== undefined) {
    if (!isRunId(parent)) throw new UsageError('ERR_CLI_USAGE', 'parent must be a run identity (rp-run-...): the runs naming it as their parent are its children');
    query.parent = parent;
  }
  const verdict = get('verdict');
  if (verdict !== undefined) {
    if (!(VERDICTS as readonly string[]).includes(verdict)) throw new UsageError('ERR_CLI_USAGE', `verdict must be one of ${VERDICTS.join(', ')}: the runs replayed with that verdict`);
    query.verdict = verdict;
  }
  const component = get('component');
  if (component !== undefined) query.component = componentQuery(component);
  for (const name of ['limit', 'before'] as const) {
    const text = get(name);
    if (text === undefined) continue;
    if (!/^[0-9]{1,9}$/.test(text) || Number(text) < 1 || (name === 'limit' && Number(text) > 1000)) {
      throw new UsageError('ERR_CLI_USAGE', name === 'limit' ? 'limit must be a number from 1 to 1000' : 'before must be a positive number (a run\'s seq)');
    }
    query[name] = Number(text);
  }
  return query;
}

/**
 * The captures an id names: a capture id, a record digest, or a run identity. A capture id is
 * taken in either case (a UUID is case-insensitive, RFC 9562 section 4): the store holds it in lower case.
 * `side`: which of two runs the id was given for (runs diff's A or B, /v1/runs/diff's a or b), named in the errors.
 */
export async function findRuns(storage: RunStorage, id: string, side?: string): Promise<StoredRun[]> {
  // A run identity whole (rp-run-v1-sha256- and 64 lower-case hex digits), as a capture id and a
  // record digest are: a truncated or mistyped one is no id, not an id of no run.
  if (!UUID.test(id) && !HEX64.test(id) && !isRunId(id)) {
    throw new UsageError('ERR_CLI_USAGE', `${side === undefined ? '' : `${side} is not a run id: `}a run is named by its capture id (a UUID), its record digest (64 lower-case hex digits) or its run identity (rp-run-v1-sha256- and 64 lower-case hex digits)`);
  }
  const found = await storage.find(UUID.test(id) ? id.toLowerCase() : id);
  if (found.length === 0) throw new RunprintError('ERR_RUN_NOT_FOUND', side === undefined ? 'no captured run has that id' : `no captured run has the id given as ${side}`);
  return found;
}

export function runRoutes(options: RunRouteOptions): { routes: Record<string, Record<string, Handler>>; prefix: Handler } {
  const { storage } = options;
  const authorize = async (request: Request) => {
    if (options.token !== undefined && !(await sameToken(request.headers.get('runprint-capture-token'), options.token))) {
      throw new RunprintError('ERR_HTTP_UNAUTHORIZED', 'the run store needs the runprint-capture-token header with the capture token');
    }
  };
  const routes: Record<string, Record<string, Handler>> = {
    '/v1/runs': {
      GET: async (request, url) => {
        await authorize(request);
        knownParameters(url, '/v1/runs', [...RUN_FILTERS, 'limit', 'before'], NOT_COMBINED);
        const runs = await storage.list(runQuery((name) => url.searchParams.get(name) ?? undefined));
        return jsonAnswer({ runs: await runViews(storage, runs) }, largeRuns(runs), NO_STORE);
      },
    },
    '/v1/runs/counts': {
      GET: async (request, url) => {
        await authorize(request);
        knownParameters(url, '/v1/runs/counts', RUN_FILTERS, NOT_COMBINED);
        return Response.json(await storage.counts(runQuery((name) => url.searchParams.get(name) ?? undefined)), { headers: NO_STORE });
      },
    },
  };
  /** `/v1/runs/{id}`, `/v1/runs/{id}/receipt`, `/v1/runs/{id}/composition`, `/v1/runs/{id}/tlog-proof`, `/v1/content/{digest}`. */
  const prefix: Handler = async (request, url) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new RunprintError('ERR_HTTP_METHOD_NOT_ALLOWED', 'method not allowed; use GET, HEAD');
    }
    await authorize(request);
    const parts = url.pathname.split('/');
    if (parts[2] === 'runs' && parts[3] === 'groups' && parts.length === 4) {
      // runprint runs group over HTTP: at most 1,000 runs (the newest the filters select) are grouped per request.
      knownParameters(url, '/v1/runs/groups', ['by', ...RUN_FILTERS, 'limit', 'before'], NOT_COMBINED);
      const by = parseGroupBy(url.searchParams.get('by') ?? '', 'by');
      const query = runQuery((name) => url.searchParams.get(name) ?? undefined);
      const groups = await groupRuns(storage, { ...query, limit: query.limit ?? 1000 }, by);
      // By the elements of a large run: a group per element, or a list of them in a group.
      const large = groups.groups.length > STEP_ELEMENTS || groups.groups.some((group) => (group.elements?.length ?? 0) > STEP_ELEMENTS);
      return jsonAnswer(groups, large, NO_STORE);
    }
    // A path of none of these shapes (`/v1/runs/ID/other`, `/v1/content/D/more`) is no route: 404, before its id is read.
    const route = parts[2] === 'content' ? (parts.length === 4 ? 'content' : undefined) : parts.length === 4 ? 'run' : parts.length === 5 && RUN_SUBROUTES.includes(parts[4]!) ? parts[4] : undefined;
    if (route === undefined) throw new RunprintError('ERR_HTTP_NOT_FOUND', 'no such path');
    knownParameters(url, route === 'content' ? '/v1/content/{digest}' : route === 'run' ? '/v1/runs/{id}' : `/v1/runs/{id}/${route}`, []);
    if (route === 'content') {
      const digest = parts[3]!.replace(/^sha256:/, '');
      if (!HEX64.test(digest)) throw new UsageError('ERR_HTTP_BAD_REQUEST', 'content is named by its digest: 64 lower-case hex digits');
      const bytes = await storage.content(digest);
      if (bytes === undefined) throw new RunprintError('ERR_CONTENT_NOT_FOUND', 'no content is stored under that digest (never kept, or past retention)');
      // No content is cached, salts or not: retention deletes it from the store, and a copy in a
      // browser's or proxy's cache (the explorer loads content through here) would outlive it and be
      // read there without the token. nosniff: stored content is never run or rendered as a page.
      return new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream', 'x-content-type-options': 'nosniff', 'content-disposition': 'attachment', ...NO_STORE } });
    }
    let id: string;
    try {
      id = decodeURIComponent(parts[3] ?? '');
    } catch {
      throw new UsageError('ERR_HTTP_BAD_REQUEST', 'the run id in the path is not valid percent-encoding');
    }
    const runs = await findRuns(storage, id);
    const latest = runs[runs.length - 1]!;
    if (route === 'run') return jsonAnswer({ runs: await runViews(storage, runs) }, largeRuns(runs), NO_STORE);
    if (route === 'receipt') {
      if (latest.receipt === null) return noReceiptAnswer(latest);
      return new Response(latest.receipt, { headers: { 'content-type': 'application/json' } });
    }
    if (route === 'composition') {
      // The composition with its salts (what `runprint disclose create` takes): secret as the content is.
      const composition = await runComposition(storage, latest);
      return jsonAnswer(composition, largeRuns([latest]), NO_STORE, 2, '\n');
    }
    if (route === 'salts') {
      // The salts alone, for a reader who checks what is stored of a run some of whose content is
      // digest only (the composition is then not answered): secret as the content is.
      const salts = await storedSalts(storage, latest);
      if (salts === undefined) throw new RunprintError('ERR_CONTENT_NOT_FOUND', 'this run salts none of its components (serve --capture-salt): it has no salts');
      return Response.json(salts, { headers: NO_STORE });
    }
    if (route === 'tlog-proof') {
      if (latest.receipt === null) return noReceiptAnswer(latest);
      if (latest.logIndex === null && latest.receipt.length > MAX_ENTRY_SIZE) {
        throw new RunprintError('ERR_LOG_ENTRY_NOT_FOUND', `this run's receipt (${latest.receipt.length} bytes) is longer than a log entry can be (${MAX_ENTRY_SIZE} bytes), so no log holds it; it verifies with the receipt key alone`);
      }
      if (latest.logIndex === null && options.unlogged !== undefined) throw new RunprintError('ERR_LOG_ENTRY_NOT_FOUND', options.unlogged);
      if (latest.logIndex === null || options.log === undefined) throw new RunprintError('ERR_RUN_NO_RECEIPT', 'this run\'s receipt is not in a log (serve runs without its log)');
      const proof = await options.log.tlogProof(latest.logIndex, new TextEncoder().encode(latest.receipt));
      if (proof === undefined) return errorResponse(new RunprintError('ERR_LOG_ENTRY_NOT_FOUND', 'no signed checkpoint covers the receipt yet; retry in a second'), RETRY_SOON);
      return new Response(proof.text, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    throw new RunprintError('ERR_HTTP_NOT_FOUND', 'no such path');
  };
  return { routes, prefix };
}

/**
 * The run store's answers that hold what a run stored (content, salts, a composition, records and
 * their views, a diff with values) are never kept by a cache (RFC 9111 section 5.2.2.5): retention
 * deletes them from the store, and a cached copy would outlive it, readable without the token.
 */
export const NO_STORE = { 'cache-control': 'no-store' } as const;

/** Retry-After (RFC 9110 section 10.2.3) on an answer that changes within about a second: a receipt being signed, a checkpoint being made. */
const RETRY_SOON = { 'retry-after': '1' };

/**
 * 404 ERR_RUN_NO_RECEIPT for a run without a receipt. A run that gets one is signed after its
 * record commits, which is when a non-streamed answer (with its runprint-receipt header) is
 * released: asked at once, the receipt is usually a moment away, and Retry-After says when to ask
 * again. A run that never gets one has no Retry-After.
 */
function noReceiptAnswer(run: StoredRun): Response {
  const error = noReceipt(run);
  return errorResponse(error, whyNoReceipt(run) === null ? RETRY_SOON : {});
}

/** Why a stored run never gets a receipt; null when it gets one (signed once its record commits). `runs show` says it too. */
export function whyNoReceipt(run: StoredRun): string | null {
  if (run.record.output === null) return 'it has no whole output (a failed or cut-off call)';
  if (run.record.runId === null) return 'it has no run identity (unidentified, or no response with served facts)';
  return null;
}

export function noReceipt(run: StoredRun): RunprintError {
  const why = whyNoReceipt(run);
  if (why !== null) return new RunprintError('ERR_RUN_NO_RECEIPT', `this run gets no receipt: ${why}`);
  return new RunprintError('ERR_RUN_NO_RECEIPT', 'the receipt is not signed yet (or the service signs none); retry in a second');
}
