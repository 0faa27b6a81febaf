/** A client of a runprint log over HTTP (SPEC 19.6): signed checkpoints, tiles and entry bundles, fetched with fetch and checked. */
import { LogError, RunprintError, type ErrorCode } from '../errors.ts';
import { equalBytes } from '../hash/sha256.ts';
import { verifyConsistency } from '../merkle/consistency.ts';
import { verifyInclusion } from '../merkle/inclusion.ts';
import { hashLeaf } from '../merkle/rfc6962.ts';
import { decodeBase64 } from '../keys/base64.ts';
import { parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { MAX_ENTRY_SIZE, parseEntryBundle } from './entry-bundle.ts';
import { formatNote, verifyNote, type Note, type NoteVerifier } from './note.ts';
import { consistencyProofFromTiles, entriesPath, inclusionProofFromTiles, leafHashFromTiles, rootFromTiles, tileAt, tilePath, TILE_WIDTH, type TileReader } from './tiles.ts';
import { readLimited } from '../io/read-limited.ts';

/** A checkpoint whose signature and origin were verified: the parsed tree head and the note as served. */
export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  note: Note;
}

/** What a check of a log's progress found: the entries whose leaf hashes were recomputed. */
export interface LogProgress {
  from: number;
  to: number;
  entriesChecked: number;
}

const MAX_CHECKPOINT_BYTES = 64 * 1024;
const MAX_JSON_BYTES = 1024 * 1024;
const MAX_TILE_BYTES = TILE_WIDTH * 32;
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE);
const SERVER_CODE = /^ERR_[A-Z0-9_]{1,60}$/;

function unreachable(message: string): LogError {
  return new LogError('ERR_LOG_UNREACHABLE', message);
}

/**
 * A log's non-2xx answer: the error it named (or ERR_LOG_UNREACHABLE) with the HTTP status, so a
 * caller can tell a refusal (4xx) from a log that may answer later (5xx).
 */
export class LogAnswerError extends LogError {
  readonly status: number;
  constructor(code: ErrorCode, message: string, status: number) {
    super(code, message);
    this.status = status;
  }
}

/**
 * A URL as an error message may show it: no user name, password, query or fragment (they may hold
 * credentials), printable ASCII only, at most 120 characters.
 */
export function printableUrl(url: URL): string {
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  shown.search = '';
  shown.hash = '';
  const text = shown.href.replace(/[^\x21-\x7e]/g, '?');
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** The prefix URL with one trailing slash, so tile paths resolve below it. */
export function logPrefix(url: string): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new RangeError('log URL must be an absolute http or https URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new RangeError('log URL must be an absolute http or https URL');
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  // The log's routes are /checkpoint, /tile/... and /v1/log/entries below the prefix: a prefix that
  // is itself a /v1/log/ path (as a log's entry URL reads) would find none of them.
  if (base.pathname.endsWith('/v1/log/')) throw new RangeError(`log URL is the prefix the log's /checkpoint is under (for runprint serve, ${base.origin}${base.pathname.slice(0, -'v1/log/'.length)}), not its /v1/log/ path`);
  base.search = '';
  base.hash = '';
  return base;
}

/**
 * A non-2xx answer as an error. The server's JSON error code is kept when it looks like one; its
 * message is attacker-controlled, so only printable ASCII of it is kept, at most 200 characters.
 */
async function httpError(response: Response): Promise<LogAnswerError> {
  let body: unknown;
  try {
    const bytes = await readLimited(response.body, MAX_JSON_BYTES, () => unreachable(`log answer is larger than ${MAX_JSON_BYTES} bytes`));
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error?.code === 'string' && SERVER_CODE.test(error.code)) {
    const message = typeof error.message === 'string' ? error.message.replace(/[^\x20-\x7e]/g, '').slice(0, 200) : '';
    return new LogAnswerError(error.code as ErrorCode, message.length > 0 ? `log answered ${response.status}: ${message}` : `log answered ${response.status}`, response.status);
  }
  return new LogAnswerError('ERR_LOG_UNREACHABLE', `log answered HTTP ${response.status}`, response.status);
}

/** How a request is made: fetch by default; the log outbox passes its own, of a few connections (store/capped-fetch.ts). */
export type Fetch = (url: URL, init: RequestInit) => Promise<Response>;

async function request(url: URL, init: RequestInit, limit: number, fetcher: Fetch = fetch): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetcher(url, init);
  } catch {
    throw unreachable(`cannot reach ${printableUrl(url)}`);
  }
  if (response.status >= 300 && response.status < 400 && init.redirect === 'manual') {
    void response.body?.cancel().catch(() => undefined);
    // Not followed (the token goes to the URL given only), and not retried: the URL is wrong until it is changed.
    throw new LogAnswerError('ERR_LOG_UNREACHABLE', `log answered HTTP ${response.status}, a redirect (not followed) from ${printableUrl(url)}: give the log URL it redirects to`, response.status);
  }
  if (!response.ok) throw await httpError(response);
  try {
    return await readLimited(response.body, limit, () => unreachable(`log answer is larger than ${limit} bytes`));
  } catch (error) {
    if (error instanceof RunprintError) throw error;
    // The answer cut off, or its signal aborted (a timeout) while the body was read.
    throw unreachable(`the log gave no whole answer at ${printableUrl(url)}`);
  }
}

function get(base: URL, path: string, limit: number, signal?: AbortSignal, fetcher?: Fetch): Promise<Uint8Array> {
  return request(new URL(path, base), { headers: { accept: '*/*' }, ...(signal === undefined ? {} : { signal }) }, limit, fetcher);
}

async function getJson(base: URL, path: string): Promise<unknown> {
  try {
    return JSON.parse(new TextDecoder().decode(await get(base, path, MAX_JSON_BYTES)));
  } catch (error) {
    if (error instanceof RunprintError) throw error;
    throw unreachable('log answer is not JSON');
  }
}

/**
 * Fetches the latest checkpoint and checks it as a verifier must: the log key signed it (SPEC 18.4)
 * and its origin is the log's (18.5; by default the key's name).
 */
export async function fetchCheckpoint(base: URL, logKey: NoteVerifier, origin: string = logKey.name, signal?: AbortSignal, fetcher?: Fetch): Promise<SignedCheckpoint> {
  const bytes = await get(base, 'checkpoint', MAX_CHECKPOINT_BYTES, signal, fetcher);
  return verifyCheckpointNote(bytes, logKey, origin);
}

/** The latest checkpoint's signed note as the log serves it, unverified (verifyCheckpointNote checks it). An aborted `signal`: ERR_LOG_UNREACHABLE. */
export async function fetchCheckpointNote(base: URL, signal?: AbortSignal): Promise<string> {
  return new TextDecoder().decode(await get(base, 'checkpoint', MAX_CHECKPOINT_BYTES, signal));
}

/** Verifies a signed checkpoint note (served, or kept by a monitor) with the log key and origin. */
export async function verifyCheckpointNote(input: string | Uint8Array, logKey: NoteVerifier, origin: string = logKey.name): Promise<SignedCheckpoint> {
  const { text, note } = await verifyNote(input, [logKey]);
  const checkpoint = parseCheckpoint(text);
  if (checkpoint.origin !== origin) throw new LogError('ERR_LOG_CHECKPOINT_INVALID', 'checkpoint origin is not the log\'s origin');
  return { checkpoint, note };
}

/** The signed note text of a checkpoint, as served. */
export function checkpointText(signed: SignedCheckpoint): string {
  return formatNote(signed.note);
}

/**
 * Reads hash tiles over HTTP, each once. The data is untrusted until a proof built from it verifies.
 * Once `signal` aborts, every read in flight or later ends as ERR_LOG_UNREACHABLE.
 */
export function httpTileReader(base: URL, signal?: AbortSignal, fetcher?: Fetch): TileReader {
  const cache = new Map<string, Promise<Uint8Array>>();
  return (tile) => {
    const path = tilePath(tile);
    let data = cache.get(path);
    if (data === undefined) {
      data = get(base, path, MAX_TILE_BYTES, signal, fetcher);
      cache.set(path, data);
    }
    return data;
  };
}

/** Fetches entry bundle `index` of `width` entries and splits it (SPEC 18.6). */
export async function fetchEntryBundle(base: URL, bundle: { index: number; width: number }): Promise<Uint8Array[]> {
  return parseEntryBundle(await get(base, entriesPath(bundle), MAX_BUNDLE_BYTES), bundle.width);
}

/**
 * POSTs a receipt, byte for byte, to `v1/log/entries`; the answer's leafHash must be the receipt's.
 * With `waitForCheckpoint`, asks the log (`?wait=checkpoint`) to answer once a signed checkpoint
 * covers the entry, with its `tlogProof` (unverified here: verify it with verifyTlogProof).
 * An aborted `signal` ends the call as a log that cannot be reached (ERR_LOG_UNREACHABLE).
 */
export async function submitReceipt(base: URL, receipt: Uint8Array, token?: string, options: { waitForCheckpoint?: boolean; signal?: AbortSignal; fetch?: Fetch } = {}): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const url = new URL('v1/log/entries', base);
  if (options.waitForCheckpoint === true) url.search = '?wait=checkpoint';
  // No redirects: the token goes to the URL given and nowhere else (a 3xx is an answer of its own).
  const bytes = await request(url, { method: 'POST', body: Uint8Array.from(receipt), headers, redirect: 'manual', ...(options.signal === undefined ? {} : { signal: options.signal }) }, MAX_JSON_BYTES, options.fetch);
  let answer: unknown;
  try {
    answer = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw unreachable('log answer is not JSON');
  }
  const record = answer as Record<string, unknown>;
  if (typeof answer !== 'object' || answer === null || !Number.isSafeInteger(record['index']) || (record['index'] as number) < 0 || typeof record['leafHash'] !== 'string') {
    throw unreachable('log answer has no index (an integer from 0) and leafHash');
  }
  const leafHash = decodeBase64(record['leafHash']);
  if (leafHash === undefined || !equalBytes(leafHash, hashLeaf(receipt))) {
    throw new LogError('ERR_LOG_PROOF_INVALID', 'log answered a leafHash other than the receipt\'s');
  }
  return record;
}

/**
 * The log's tlog-proof of entry `index` against its latest checkpoint (`GET v1/log/tlog-proof`),
 * unverified: verify it with verifyTlogProof. Undefined when the log answers that no signed
 * checkpoint covers the index yet (ERR_LOG_ENTRY_NOT_FOUND). An aborted `signal`: ERR_LOG_UNREACHABLE.
 */
export async function fetchTlogProof(base: URL, index: number, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await get(base, `v1/log/tlog-proof?index=${index}`, MAX_JSON_BYTES, signal));
  } catch (error) {
    if (error instanceof RunprintError && error.code === 'ERR_LOG_ENTRY_NOT_FOUND') return undefined;
    throw error;
  }
}

/** Indexes the log lists for a run identity (unverified hints; proveInclusion checks them). */
export async function findRunIndexes(base: URL, runId: string): Promise<number[]> {
  const answer = (await getJson(base, `v1/log/entries?runId=${encodeURIComponent(runId)}`)) as { indexes?: unknown };
  if (!Array.isArray(answer?.indexes) || !answer.indexes.every((index) => Number.isSafeInteger(index) && index >= 0)) {
    throw unreachable('log answer has no list of indexes');
  }
  return answer.indexes as number[];
}

/**
 * Proves from tiles that `entry` is in the tree of the signed checkpoint at one of `candidates`:
 * the candidate whose level-0 tile hash is leafHash(entry), then its inclusion proof read from
 * tiles and verified against the signed root hash (SPEC 18.6). None: ERR_LOG_ENTRY_NOT_FOUND.
 */
export async function proveInclusion(base: URL, signed: SignedCheckpoint, entry: Uint8Array, candidates: ReadonlyArray<number>): Promise<{ index: number; proof: Uint8Array[] }> {
  const { size, rootHash } = signed.checkpoint;
  const leafHash = hashLeaf(entry);
  const readTile = httpTileReader(base);
  for (const index of candidates) {
    if (index >= size) continue;
    if (!equalBytes(await leafHashFromTiles(index, size, readTile), leafHash)) continue;
    const proof = await inclusionProofFromTiles(index, size, readTile);
    if (!verifyInclusion(leafHash, index, size, proof, rootHash)) {
      throw new LogError('ERR_LOG_TILE_INVALID', 'tiles do not prove the entry against the checkpoint root hash');
    }
    return { index, proof };
  }
  throw new LogError('ERR_LOG_ENTRY_NOT_FOUND', 'receipt is not in the log at its latest checkpoint');
}

/**
 * Checks that `latest` extends `previous` (both verified checkpoints of one log), as a monitor
 * does, in this order:
 * 1. a smaller size: an entry was dropped (ERR_LOG_DROPPED);
 * 2. the same size with another root hash: a fork (ERR_LOG_FORK);
 * 3. the tiles reproduce the latest root hash (else ERR_LOG_TILE_INVALID: bad tiles prove nothing);
 * 4. a consistency proof read from those tiles leads from the previous root to the latest
 *    (else ERR_LOG_REWRITE: the log rewrote history it had signed);
 * 5. every new entry, fetched from the entry bundles, hashes to its level-0 tile hash and is
 *    included under the latest root (else ERR_LOG_REWRITE).
 */
export async function checkLogProgress(base: URL, previous: Checkpoint | undefined, latest: Checkpoint): Promise<LogProgress> {
  const from = previous?.size ?? 0;
  const progress = { from, to: latest.size, entriesChecked: 0 };
  if (previous !== undefined) {
    if (latest.size < previous.size) throw new LogError('ERR_LOG_DROPPED', `log checkpoint shrank from ${previous.size} to ${latest.size} entries`);
    if (latest.size === previous.size) {
      if (!equalBytes(latest.rootHash, previous.rootHash)) throw new LogError('ERR_LOG_FORK', `log signed two root hashes for size ${latest.size}`);
      return progress;
    }
  }
  const readTile = httpTileReader(base);
  if (!equalBytes(await rootFromTiles(latest.size, readTile), latest.rootHash)) {
    throw new LogError('ERR_LOG_TILE_INVALID', 'tiles do not reproduce the checkpoint root hash');
  }
  if (previous !== undefined) {
    const proof = await consistencyProofFromTiles(previous.size, latest.size, readTile);
    if (!verifyConsistency(previous.size, latest.size, proof, previous.rootHash, latest.rootHash)) {
      throw new LogError('ERR_LOG_REWRITE', `log checkpoint of size ${latest.size} is not consistent with the one of size ${previous.size}`);
    }
  }
  for (let bundleIndex = Math.floor(from / TILE_WIDTH); bundleIndex * TILE_WIDTH < latest.size; bundleIndex++) {
    const tile = tileAt(0, bundleIndex, latest.size)!;
    const entries = await fetchEntryBundle(base, tile);
    const hashes = await readTile(tile);
    if (hashes.length !== tile.width * 32) throw new LogError('ERR_LOG_TILE_INVALID', 'tile must hold 32 bytes per hash of its width');
    for (let offset = 0; offset < entries.length; offset++) {
      const index = bundleIndex * TILE_WIDTH + offset;
      if (index < from) continue;
      const leafHash = hashLeaf(entries[offset]!);
      if (!equalBytes(leafHash, hashes.subarray(offset * 32, offset * 32 + 32))) {
        throw new LogError('ERR_LOG_REWRITE', `entry ${index} does not hash to its level-0 tile hash`);
      }
      const proof = await inclusionProofFromTiles(index, latest.size, readTile);
      if (!verifyInclusion(leafHash, index, latest.size, proof, latest.rootHash)) {
        throw new LogError('ERR_LOG_REWRITE', `entry ${index} is not included under the checkpoint root hash`);
      }
      progress.entriesChecked++;
    }
  }
  return progress;
}
