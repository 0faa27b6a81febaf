/** The log's HTTP routes: C2SP tlog-tiles reads, receipt submission and JSON conveniences (issue 4, section 2). */
import { RunprintError, UsageError } from '../errors.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import { parseDecimal } from '../log/checkpoint.ts';
import { MAX_ENTRY_SIZE } from '../log/entry-bundle.ts';
import { parseTilePath, TILE_WIDTH, type TileCoordinates } from '../log/tiles.ts';
import { encodeBase64 } from '../keys/base64.ts';
import { decodePayload, readEnvelope, type Envelope } from '../receipt/envelope.ts';
import { parseStatement, readSubjects } from '../receipt/statement.ts';
import { checkBearer } from './bearer.ts';
import { knownParameters } from './query.ts';
import { readBody, requireJson } from './read-body.ts';

/** What the routes need from a log; src/store/ implements it on SQLite. */
export interface LogService {
  /** C2SP signed-note verifier key of the log: `<origin>+<key hash>+<base64(0x01 || key)>`. */
  readonly verifierKey: string;
  /** Sequences one entry and resolves once it is durable. `runId` is an unverified hint for lookups. */
  append(entry: Uint8Array, runId?: string): Promise<{ index: number; leafHash: Uint8Array; created: boolean }>;
  /** The latest signed checkpoint: its size and signed note text (with any witness cosignatures). */
  checkpoint(): Promise<{ size: number; note: string }>;
  /** A hash tile covered by the latest checkpoint, or undefined when it covers none that wide. */
  tile(tile: TileCoordinates): Promise<Uint8Array | undefined>;
  /** An entry bundle covered by the latest checkpoint, or undefined. */
  entryBundle(bundle: { index: number; width: number }): Promise<Uint8Array | undefined>;
  /** Indexes of the entries submitted for a run identity. */
  indexesOfRun(runId: string): Promise<number[]>;
  /** Leaf hash and inclusion proof of `index` in the tree of `size` leaves (size at most the latest checkpoint's). */
  inclusionProof(index: number, size: number): Promise<{ leafHash: Uint8Array; proof: Uint8Array[] }>;
  /**
   * The C2SP tlog-proof of entry `index` against the latest checkpoint, with that checkpoint's
   * signed note, or undefined when none covers it yet.
   */
  tlogProof(index: number): Promise<{ text: string; checkpoint: string } | undefined>;
  /** Resolves true once a checkpoint covers `index`, false after `timeoutMs`. */
  waitForCheckpoint(index: number, timeoutMs: number): Promise<boolean>;
}

export interface LogRouteOptions {
  log: LogService;
  /** Bearer token for writes. */
  token?: string;
  /** Allows writes with no token when none is configured. */
  anonymousWrites?: boolean;
}

/** Longest a submission with `?wait=checkpoint` waits for a checkpoint (and its cosignatures) to cover it, in ms. */
export const WAIT_MS = 5000;

/** Largest receipt accepted, in bytes (SPEC: an entry is at most 64 KiB). */
export const MAX_RECEIPT_BYTES = 64 * 1024;

const IMMUTABLE = 'public, max-age=31536000, immutable';
// Partial tiles never change either, but may be deleted once the full tile exists (tlog-tiles).
const PARTIAL = 'public, max-age=60';
// tlog-tiles: the checkpoint is mutable, headers SHOULD prevent caching beyond a few seconds.
const CHECKPOINT = 'no-cache';

/**
 * The run identity the receipt's statement names, or undefined when the payload is not a runprint
 * statement. Unverified: it only indexes the entry for lookups, it proves nothing.
 */
function runIdOf(envelope: Envelope): string | undefined {
  try {
    return readSubjects(parseStatement(decodePayload(envelope))).run.runId;
  } catch {
    return undefined;
  }
}

type Handler = (request: Request, url: URL) => Promise<Response>;

function notFound(): RunprintError {
  return new RunprintError('ERR_HTTP_NOT_FOUND', 'no such tile in the log at its latest checkpoint');
}

function octets(data: Uint8Array, width: number): Response {
  return new Response(Uint8Array.from(data), {
    headers: { 'content-type': 'application/octet-stream', 'cache-control': width === TILE_WIDTH ? IMMUTABLE : PARTIAL },
  });
}

/** A query parameter's decimal integer; a parameter that is missing is said to be, not to be malformed. */
function queryNumber(url: URL, name: string): number {
  const text = url.searchParams.get(name);
  if (text === null) throw new UsageError('ERR_HTTP_BAD_REQUEST', `query parameter "${name}" is missing: it must be a decimal integer`);
  const value = parseDecimal(text);
  if (value !== undefined) return value;
  // Said as what is wrong with it: a number written with leading zeros, or one past 2^53 - 1, is a decimal integer too.
  const why = !/^[0-9]+$/.test(text) ? 'must be a decimal integer' : /^0[0-9]/.test(text) ? 'must be a decimal integer without leading zeros' : `must be at most ${Number.MAX_SAFE_INTEGER}`;
  throw new UsageError('ERR_HTTP_BAD_REQUEST', `query parameter "${name}" ${why}`);
}

/** True for a run identity as SPEC 5.5 spells it (`rp-run-v1-sha256-` and 64 lower-case hex digits). */
function isRunIdentity(text: string): boolean {
  try {
    return parseIdentity(text).kind === 'run';
  } catch (error) {
    if (error instanceof RunprintError) return false;
    throw error;
  }
}

/** Routes by exact path, plus a handler for the `/tile/...` prefix. */
export function logRoutes(options: LogRouteOptions): { routes: Record<string, Record<string, Handler>>; tiles: Handler; tokenRefusal(request: Request): Promise<RunprintError | undefined> } {
  const { log } = options;

  /**
   * The refusal of a write (`POST /v1/log/entries`) without the log token, or to a log that takes
   * none, else undefined: a server asks it before it reads the body (App.refuseBeforeBody).
   */
  async function tokenRefusal(request: Request): Promise<RunprintError | undefined> {
    if (options.token === undefined) {
      if (options.anonymousWrites === true) return undefined;
      return new RunprintError('ERR_LOG_WRITES_DISABLED', 'this log takes no writes: no token is configured and anonymous writes are off');
    }
    if (!(await checkBearer(request.headers.get('authorization'), options.token))) {
      return new RunprintError('ERR_HTTP_UNAUTHORIZED', 'writes need Authorization: Bearer with the log token');
    }
    return undefined;
  }

  async function authorize(request: Request): Promise<void> {
    const refused = await tokenRefusal(request);
    if (refused !== undefined) throw refused;
  }

  const routes: Record<string, Record<string, Handler>> = {
    '/checkpoint': {
      GET: async () =>
        new Response((await log.checkpoint()).note, { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': CHECKPOINT } }),
    },
    '/v1/log/key': {
      GET: async (_request, url) => {
        knownParameters(url, '/v1/log/key', []);
        // no-cache, as the checkpoint: a log served with another key after a restart is read at once.
        return new Response(`${log.verifierKey}\n`, { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' } });
      },
    },
    '/v1/log/entries': {
      POST: async (request, url) => {
        await authorize(request);
        requireJson(request);
        knownParameters(url, 'POST /v1/log/entries', ['wait']);
        const wait = url.searchParams.get('wait');
        if (wait !== null && wait !== 'checkpoint') throw new UsageError('ERR_HTTP_BAD_REQUEST', 'query parameter "wait" must be "checkpoint"');
        const body = await readBody(request, MAX_RECEIPT_BYTES);
        // Attacker-controlled: only a well-formed DSSE envelope is logged; its signature is the verifier's business.
        let envelope: Envelope;
        try {
          envelope = readEnvelope(body);
        } catch (error) {
          if (error instanceof RunprintError) throw new RunprintError('ERR_LOG_ENTRY_INVALID', `entry is not a DSSE envelope (${error.code})`);
          throw error;
        }
        if (body.length > MAX_ENTRY_SIZE) throw new RunprintError('ERR_LOG_ENTRY_TOO_LARGE', `entry is larger than ${MAX_ENTRY_SIZE} bytes`);
        const runId = runIdOf(envelope);
        const stored = await log.append(body, runId);
        const answer: Record<string, unknown> = { index: stored.index, leafHash: encodeBase64(stored.leafHash) };
        if (runId !== undefined) answer['runId'] = runId;
        if (wait !== null) await log.waitForCheckpoint(stored.index, WAIT_MS);
        // The checkpoint and the proof come from one snapshot, so they always agree.
        const proof = await log.tlogProof(stored.index);
        if (proof !== undefined) {
          answer['checkpoint'] = proof.checkpoint;
          answer['tlogProof'] = proof.text;
        }
        return Response.json(answer, { status: stored.created ? 201 : 200 });
      },
      GET: async (_request, url) => {
        knownParameters(url, 'GET /v1/log/entries', ['runId']);
        const runId = url.searchParams.get('runId');
        if (runId === null) throw new UsageError('ERR_HTTP_BAD_REQUEST', 'query parameter "runId" is missing: it must be a run identity (rp-run-...)');
        // A malformed one is refused, as the run store's routes refuse it: no entry can name it.
        if (!isRunIdentity(runId)) throw new UsageError('ERR_HTTP_BAD_REQUEST', 'query parameter "runId" must be a run identity (rp-run-v1-sha256- and 64 lower-case hex digits)');
        return Response.json({ runId, indexes: await log.indexesOfRun(runId) });
      },
    },
    '/v1/log/tlog-proof': {
      GET: async (_request, url) => {
        knownParameters(url, '/v1/log/tlog-proof', ['index']);
        const index = queryNumber(url, 'index');
        const proof = await log.tlogProof(index);
        if (proof === undefined) throw new RunprintError('ERR_LOG_ENTRY_NOT_FOUND', 'no signed checkpoint covers that index yet');
        return new Response(proof.text, { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': CHECKPOINT } });
      },
    },
    '/v1/log/proof': {
      GET: async (_request, url) => {
        knownParameters(url, '/v1/log/proof', ['index', 'size']);
        const index = queryNumber(url, 'index');
        const latest = (await log.checkpoint()).size;
        const size = url.searchParams.has('size') ? queryNumber(url, 'size') : latest;
        if (size > latest) throw new UsageError('ERR_HTTP_BAD_REQUEST', 'query parameter "size" must be at most the latest checkpoint size');
        // With no size, an index the latest checkpoint does not cover is an entry not (yet) in the
        // log, as /v1/log/tlog-proof says; with one, an index past it asks for no proof at all.
        if (index >= size && !url.searchParams.has('size')) throw new RunprintError('ERR_LOG_ENTRY_NOT_FOUND', 'no signed checkpoint covers that index yet');
        if (index >= size) throw new UsageError('ERR_HTTP_BAD_REQUEST', 'query parameter "index" must be less than "size"');
        const { leafHash, proof } = await log.inclusionProof(index, size);
        return Response.json({ index, size, leafHash: encodeBase64(leafHash), proof: proof.map(encodeBase64) });
      },
    },
  };

  const tiles: Handler = async (_request, url) => {
    let parsed;
    try {
      parsed = parseTilePath(url.pathname.slice(1));
    } catch {
      throw new RunprintError('ERR_HTTP_NOT_FOUND', 'no such path');
    }
    if (parsed.kind === 'entries') {
      const data = await log.entryBundle(parsed.bundle);
      if (data === undefined) throw notFound();
      return octets(data, parsed.bundle.width);
    }
    const data = await log.tile(parsed.tile);
    if (data === undefined) throw notFound();
    return octets(data, parsed.tile.width);
  };

  return { routes, tiles, tokenRefusal };
}
