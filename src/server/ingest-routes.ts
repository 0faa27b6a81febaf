/**
 * Exchanges captured elsewhere (in-process capture sending to a runprint server, `RUNPRINT_URL`):
 * `POST /v1/exchanges` takes the exact bytes of one provider call with what its transport saw
 * (capture/exchange.ts), and the server makes the run record itself, with the proxy's core
 * (captureRunWith). A client sends bytes, never a record: identities, served facts and output
 * digests are all computed here. The answer comes once the record is durable; the same exchange
 * sent again is the same record, which the store keeps once, so a client's outbox may resend.
 * A capture id names one record: an exchange whose capture id the store already holds with
 * another record is refused (409 ERR_CAPTURE_ID_TAKEN), so a capture id's receipt URL never
 * comes to name another call's receipt.
 */
import { captureRunWith, type CapturedRun, type PreparedRequest } from '../capture/capture-run.ts';
import { EXCHANGES_PATH, exchangeFromJson, readExchange, retrievalErrorOf, type ExchangeAnswer } from '../capture/exchange.ts';
import { inTurns, nextTurn } from '../io/steps.ts';
import { isJsonObject } from '../jcs/json-value.ts';
import { decodeBase64Steps } from '../keys/base64.ts';
import { parseJson } from '../jcs/index.ts';
import { isReceiptable } from '../capture/run-receipt.ts';
import { RunprintError } from '../errors.ts';
import type { Salts } from '../identity/composition.ts';
import type { MemberHeaders } from '../providers/header-members.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import { sameToken } from './bearer.ts';
import { captureIdTaken, recordDigest } from '../store/run-storage.ts';
import { CAPTURE_TOKEN_HEADER } from './proxy-routes.ts';
import { knownParameters } from './query.ts';
import { readBody, requireJson } from './read-body.ts';

/** Where an ingested run goes: the run recorder on the Node side, as for the proxy. */
/**
 * An exchange of this many bytes or more is parsed in one turn of the event loop, read in the next
 * (readExchange's two halves), and its request sent to be prepared in a third: each takes tens of
 * milliseconds for one of 10 MB.
 */
const LARGE_EXCHANGE_BYTES = 1 << 20;
/** A large exchange's request is checked and decoded this many base64 characters at a time (a few ms each). */
const BASE64_STEP = 1 << 20;

export interface IngestSink {
  /**
   * Resolves when the run's record is durable; rejects with the store's error otherwise, or with
   * ERR_CAPTURE_ID_TAKEN when the store, as it stores the record, holds another under its capture
   * id (stored meanwhile by another process sharing it: RunToStore.captureIdOnce).
   */
  record(run: CapturedRun, bytes: { requestBytes: Uint8Array; responseBytes: Uint8Array }, capture: 'sdk'): Promise<void>;
}

export interface IngestRouteOptions {
  sink: IngestSink;
  /** When set, every exchange must carry `runprint-capture-token: TOKEN` (serve's --capture-token). */
  token?: string;
  /** Largest exchange body, in bytes (base64 makes the bytes about 4/3 larger). */
  maxBodyBytes: number;
  /** Whether receipts are signed (the answer then names the receipt's URL). */
  receipts: boolean;
  /**
   * The record digests (hex SHA-256 of the record's RFC 8785 JSON, as the run store names
   * records) the store holds under a capture id; none for an unknown one. When given, an exchange
   * whose capture id names a stored record with another digest is refused (409
   * ERR_CAPTURE_ID_TAKEN) before it is recorded; the same exchange sent again is answered as the
   * first time. Without it, nothing is checked.
   */
  recordsOf?: (captureId: string) => Promise<readonly string[]>;
  /**
   * Told of each runprint error that recording an exchange failed with (the sink's: a store that
   * fails, a record it refused or lost; or recordsOf's), as the proxy tells its own onFailure:
   * serve passes capture's reporter, which prints each kind once. The answer (503 for a failing
   * store) is then not told to createApp's onServerError as well. Not told of ERR_CAPTURE_ID_TAKEN,
   * the sender's conflict, nor of anything but a runprint error (a bug: onServerError's). What it
   * throws is ignored.
   */
  onFailure?: (error: RunprintError) => void;
  /**
   * Computes what prepareRequest gives for an exchange's request (serve's prepare pool,
   * prepare-pool.ts: a worker thread), as the proxy's `prepare` does. Default: prepareRequest on
   * this thread, as captureRunWith makes the record: a request of 100,000 messages held the event
   * loop, /healthz and every other call, for about half a second.
   */
  prepare?: (format: RequestFormat, bytes: Uint8Array, salts?: Salts, headers?: MemberHeaders) => Promise<PreparedRequest>;
  /** With `prepare`: the fewest bytes of an exchange's request that `prepare` takes (default 0: every one). */
  prepareFrom?: number;
}

type Handler = (request: Request, url: URL) => Promise<Response>;

/**
 * `POST /v1/exchanges`: answers `{"captureId", "requestId", "runId", "receipt", "retrievalError"}`
 * once the record is durable (200), the same for an exchange sent again. `retrievalError` is null,
 * or `{code, message, sources}` when declared documents were left out of the record (the capture
 * core's check, as the proxy's `runprint-retrieval-error` header): the call is recorded all the
 * same, without them. Mount with
 * `const ingest = ingestRoutes(options); Object.assign(routes, ingest.routes); Object.assign(limits, ingest.limits);`.
 */
export function ingestRoutes(options: IngestRouteOptions): { routes: Record<string, Record<string, Handler>>; limits: Record<string, number>; told(error: unknown): boolean; tokenRefusal(request: Request): Promise<RunprintError | undefined> } {
  // Exchanges of one capture id are checked and recorded one after the other in this process, so
  // two different ones sent at once cannot both find the id free; the sink's store checks again
  // as it stores (serve processes sharing one run store). A proxy call whose record is not
  // committed yet is not covered: see docs/CAPTURE.md, "Capture ids".
  const busy = new Map<string, Promise<unknown>>();
  const oneAtATime = async <T>(captureId: string, work: () => Promise<T>): Promise<T> => {
    const before = busy.get(captureId);
    const mine = before === undefined ? work() : before.then(work, work);
    const settled = mine.then(() => undefined, () => undefined);
    busy.set(captureId, settled);
    try {
      return await mine;
    } finally {
      if (busy.get(captureId) === settled) busy.delete(captureId);
    }
  };
  // The errors given to options.onFailure: an answer's report is not made twice.
  const told = new WeakSet<RunprintError>();
  const recordingFailed = (error: unknown): unknown => {
    if (options.onFailure === undefined || !(error instanceof RunprintError) || error.code === 'ERR_CAPTURE_ID_TAKEN') return error;
    told.add(error);
    try {
      options.onFailure(error);
    } catch {
      // Reporting must not change the answer.
    }
    return error;
  };
  /** The refusal of an exchange without the capture token, else undefined (a server asks it before it reads the body, too). */
  const tokenRefusal = async (request: Request): Promise<RunprintError | undefined> => {
    if (options.token === undefined || (await sameToken(request.headers.get(CAPTURE_TOKEN_HEADER), options.token))) return undefined;
    return new RunprintError('ERR_HTTP_UNAUTHORIZED', `sending exchanges needs the ${CAPTURE_TOKEN_HEADER} header with the capture token`);
  };
  const post: Handler = async (request, url) => {
    const refused = await tokenRefusal(request);
    if (refused !== undefined) throw refused;
    requireJson(request);
    knownParameters(url, EXCHANGES_PATH, []);
    const bytes = await readBody(request, options.maxBodyBytes);
    let exchange: ReturnType<typeof readExchange>;
    if (bytes.byteLength < LARGE_EXCHANGE_BYTES) exchange = readExchange(bytes);
    else {
      const body = parseJson(bytes);
      await nextTurn();
      // Its request's base64 checked and decoded a slice at a time (50 to 95 ms in one go for 9 MB).
      const text = isJsonObject(body) ? body['request'] : undefined;
      const request = typeof text === 'string' ? await inTurns(decodeBase64Steps(text, BASE64_STEP)) : undefined;
      exchange = exchangeFromJson(body, request);
      // The exchange's checks and the call's preparation (its bytes copied for the prepare pool) in turns of their own.
      await nextTurn();
    }
    // A request too large to identify is recorded by its size and digest: nothing to prepare.
    const pooled = options.prepare !== undefined && exchange.requestTooLarge === undefined && exchange.requestBytes.byteLength >= (options.prepareFrom ?? 0);
    const run = captureRunWith(exchange, pooled ? await options.prepare!(exchange.format, exchange.requestBytes, exchange.salts, exchange.requestHeaders) : undefined);
    try {
      await oneAtATime(run.record.captureId, async () => {
        if (options.recordsOf !== undefined) {
          const stored = await options.recordsOf(run.record.captureId);
          if (stored.length > 0 && !stored.includes(recordDigest(run.record))) {
            throw captureIdTaken();
          }
        }
        await options.sink.record(run, { requestBytes: exchange.requestBytes, responseBytes: exchange.responseBytes }, 'sdk');
      });
    } catch (error) {
      throw recordingFailed(error);
    }
    const answer: ExchangeAnswer = {
      captureId: run.record.captureId,
      requestId: run.record.requestId,
      runId: run.record.runId,
      receipt: options.receipts && isReceiptable(run) ? `/v1/runs/${run.record.captureId}/receipt` : null,
      // The proxy's runprint-retrieval-error, for a sender: the declared documents left out, and why.
      retrievalError: retrievalErrorOf(run),
    };
    return Response.json(answer);
  };
  return {
    routes: { [EXCHANGES_PATH]: { POST: post } },
    limits: { [`POST ${EXCHANGES_PATH}`]: options.maxBodyBytes },
    told: (error) => error instanceof RunprintError && told.has(error),
    tokenRefusal,
  };
}
