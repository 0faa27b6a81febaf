/** The one place that maps runprint errors to HTTP statuses and JSON error bodies. */
import { publicMessageOf, RunprintError } from '../errors.ts';

export function statusFor(error: RunprintError): number {
  switch (error.code) {
    case 'ERR_HTTP_UNAUTHORIZED':
      return 401;
    case 'ERR_LOG_WRITES_DISABLED':
    case 'ERR_WITNESS_SIGNATURE':
      return 403;
    case 'ERR_HTTP_NOT_FOUND':
    case 'ERR_RUN_NOT_FOUND':
    case 'ERR_CONTENT_NOT_FOUND':
    case 'ERR_RUN_NO_RECEIPT':
    // A run's content or salts that the run store does not hold (GET /v1/runs/{id}/composition).
    case 'ERR_REPLAY_CONTENT_NOT_STORED':
    case 'ERR_LOG_ENTRY_NOT_FOUND':
    case 'ERR_WITNESS_UNKNOWN_LOG':
      return 404;
    case 'ERR_WITNESS_CONFLICT':
    // POST /v1/exchanges: the capture id already names another record.
    case 'ERR_CAPTURE_ID_TAKEN':
      return 409;
    case 'ERR_HTTP_METHOD_NOT_ALLOWED':
      return 405;
    case 'ERR_HTTP_BODY_TOO_LARGE':
    case 'ERR_JSON_TOO_LARGE':
    case 'ERR_LOG_ENTRY_TOO_LARGE':
      return 413;
    case 'ERR_HTTP_TOO_MANY_ELEMENTS':
      return 413;
    case 'ERR_HTTP_MEDIA_TYPE':
      return 415;
    // RFC 6585 section 5: a runprint-retrieval header longer than the proxy reads (fail-closed
    // only); a declaration in a body member (it has the member's path) is a body too large, 413.
    case 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE':
      return error.path === undefined ? 431 : 413;
    case 'ERR_HTTP_HEADERS_TOO_LARGE':
      return 431;
    case 'ERR_HTTP_TIMEOUT':
      return 408;
    case 'ERR_HTTP_TOO_MANY_REQUESTS':
      return 429;
    // RFC 9110 section 15.5.20: this server does not answer for that authority.
    case 'ERR_HTTP_HOST_NOT_ALLOWED':
      return 421;
    case 'ERR_HTTP_CROSS_ORIGIN':
      return 403;
    case 'ERR_HTTP_BUSY':
    case 'ERR_CAPTURE_UNAVAILABLE':
    // POST /v1/exchanges: the recorder is behind or full; the exchange is not recorded now, and a
    // sender's outbox sends it again (a 4xx would make it set the exchange aside for good).
    case 'ERR_CAPTURE_RECORDS_LOST':
      return 503;
    // RFC 9110 section 15.6.3: the proxy got no answer from the server it forwards to.
    case 'ERR_CAPTURE_UPSTREAM_UNREACHABLE':
    // A remote log this service asks for a run's tlog-proof (serve --capture-log) cannot be reached.
    case 'ERR_LOG_UNREACHABLE':
      return 502;
    // RFC 9110 section 15.6.5: the upstream sent nothing for the proxy's idle limit.
    case 'ERR_CAPTURE_UPSTREAM_TIMEOUT':
      return 504;
    case 'ERR_WITNESS_PROOF':
    // POST /v1/exchanges: the run store refused the record for what it holds (sent again, it is refused again).
    case 'ERR_STORE_RECORD_REFUSED':
      return 422;
    case 'ERR_INTERNAL':
    case 'ERR_STORE_CORRUPT':
    // Stored content that does not give the digest naming it: the run store is damaged.
    case 'ERR_REPLAY_CONTENT_MISMATCH':
      return 500;
    case 'ERR_STORE_UNAVAILABLE':
    case 'ERR_STORE_READ_ONLY':
    case 'ERR_STORE_PERMISSION':
    case 'ERR_STORE_LOCKED':
      return 503;
    // RFC 4918 section 11.5: the server cannot store what the request needs.
    case 'ERR_STORE_NO_SPACE':
      return 507;
    default:
      return 400;
  }
}

/**
 * The error as the HTTP API reports it (docs/decisions/0015-http-input-errors.md): a request
 * refused for its input is 400 ERR_HTTP_BAD_REQUEST, with the same message and path, where a
 * check shared with the command line (a run query, a run id) says ERR_CLI_USAGE, the command
 * line's code. The message is the error's public one: a store error's without the server's file
 * paths, which the CLI and serve's stderr name. Every answer with a runprint error goes through
 * here, so every route is covered.
 */
export function httpError(error: RunprintError): RunprintError {
  const message = publicMessageOf(error);
  const code = error.code === 'ERR_CLI_USAGE' ? 'ERR_HTTP_BAD_REQUEST' : error.code;
  return code === error.code && message === error.message ? error : new RunprintError(code, message, error.path);
}

/** `{"error": {"code", "message", "path"?}}`: the codes and messages of the CLI, but HTTP's for input errors (httpError). */
export function errorResponse(error: unknown, headers: Record<string, string> = {}): Response {
  const known =
    error instanceof RunprintError
      ? httpError(error)
      : new RunprintError('ERR_INTERNAL', 'unexpected failure');
  // A client told to slow down learns when to come back (RFC 9110 section 10.2.3).
  const retry = known.code === 'ERR_HTTP_TOO_MANY_REQUESTS' || known.code === 'ERR_HTTP_BUSY' || known.code === 'ERR_CAPTURE_RECORDS_LOST' ? { 'retry-after': '1' } : {};
  return Response.json({ error: known.toJSON() }, { status: statusFor(known), headers: { ...retry, ...headers } });
}
