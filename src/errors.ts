/** Runprint errors: one base class with a stable code, one subclass per kind of failure. */

/**
 * Every code runprint can report. The set is closed: a code is never renamed or reused for a
 * different failure, so scripts and other implementations may match on it.
 */
export type ErrorCode =
  // Strict JSON (RFC 8259 syntax, RFC 7493 I-JSON, RFC 8785 canonical form)
  | 'ERR_JSON_SYNTAX'
  | 'ERR_JSON_TRUNCATED'
  | 'ERR_JSON_TRAILING_DATA'
  | 'ERR_JSON_INVALID_UTF8'
  | 'ERR_JSON_BOM'
  | 'ERR_JSON_DUPLICATE_KEY'
  | 'ERR_JSON_LONE_SURROGATE'
  | 'ERR_JSON_NON_FINITE'
  | 'ERR_JSON_UNSAFE_INTEGER'
  | 'ERR_JSON_TOO_DEEP'
  | 'ERR_JSON_TOO_LARGE'
  | 'ERR_JSON_UNSUPPORTED_VALUE'
  | 'ERR_JSON_CYCLE'
  // Composition shape and version
  | 'ERR_COMPOSITION_INVALID'
  | 'ERR_COMPOSITION_VERSION'
  // Provider request mappings
  | 'ERR_PROVIDER_INVALID_REQUEST'
  | 'ERR_PROVIDER_UNKNOWN_FORMAT'
  | 'ERR_PROVIDER_AMBIGUOUS_FORMAT'
  | 'ERR_PROVIDER_INVALID_RESPONSE'
  | 'ERR_REQUEST_UNKNOWN_MEMBER'
  // Identity strings
  | 'ERR_IDENTITY_MALFORMED'
  | 'ERR_IDENTITY_UNSUPPORTED_VERSION'
  | 'ERR_IDENTITY_DOCUMENT_INVALID'
  // Provider output (the output digest of a response or a stream)
  | 'ERR_OUTPUT_INVALID'
  | 'ERR_OUTPUT_INCOMPLETE_STREAM'
  | 'ERR_OUTPUT_PROVIDER_ERROR'
  | 'ERR_OUTPUT_EVENT_ORDER'
  | 'ERR_OUTPUT_CONTRADICTION'
  | 'ERR_OUTPUT_UNSUPPORTED'
  // Keys
  | 'ERR_KEY_INVALID'
  | 'ERR_KEY_UNSUPPORTED'
  // Receipts: DSSE envelope, in-toto statement, runprint predicate, verification
  | 'ERR_ENVELOPE_INVALID'
  | 'ERR_ENVELOPE_PAYLOAD_TYPE'
  | 'ERR_ENVELOPE_BASE64'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_SIGNATURE_UNKNOWN_KEY'
  | 'ERR_STATEMENT_INVALID'
  | 'ERR_STATEMENT_TYPE'
  | 'ERR_SUBJECT_INVALID'
  | 'ERR_PREDICATE_TYPE'
  | 'ERR_PREDICATE_INVALID'
  | 'ERR_PREDICATE_VERSION'
  | 'ERR_IDENTITY_MISMATCH'
  | 'ERR_OUTPUT_MISMATCH'
  | 'ERR_BUNDLE_INVALID'
  | 'ERR_DISCLOSURE_INVALID'
  | 'ERR_DISCLOSURE_MISMATCH'
  // Model weights digest (OpenSSF Model Signing)
  | 'ERR_MODEL_NOT_FOUND'
  | 'ERR_MODEL_UNREADABLE'
  | 'ERR_MODEL_UNSUPPORTED_ENTRY'
  // Command line and input files
  | 'ERR_CLI_USAGE'
  | 'ERR_INPUT_NOT_FOUND'
  | 'ERR_INPUT_UNREADABLE'
  | 'ERR_FILE_EXISTS'
  | 'ERR_FILE_UNWRITABLE'
  // HTTP service
  | 'ERR_HTTP_NOT_FOUND'
  | 'ERR_HTTP_METHOD_NOT_ALLOWED'
  | 'ERR_HTTP_BODY_TOO_LARGE'
  | 'ERR_HTTP_MEDIA_TYPE'
  | 'ERR_HTTP_LISTEN'
  | 'ERR_HTTP_UNAUTHORIZED'
  | 'ERR_HTTP_BAD_REQUEST'
  | 'ERR_HTTP_TOO_MANY_REQUESTS'
  | 'ERR_HTTP_BUSY'
  | 'ERR_HTTP_TOO_MANY_ELEMENTS'
  | 'ERR_HTTP_HOST_NOT_ALLOWED'
  | 'ERR_HTTP_CROSS_ORIGIN'
  | 'ERR_CAPTURE_RECORDS_LOST'
  | 'ERR_CAPTURE_REQUEST_ENCODING'
  | 'ERR_HTTP_HEADERS_TOO_LARGE'
  | 'ERR_HTTP_TIMEOUT'
  // Capture: the proxy and the run store
  | 'ERR_CAPTURE_PARENT_INVALID'
  | 'ERR_CAPTURE_STEPS_INVALID'
  | 'ERR_CAPTURE_UNAVAILABLE'
  | 'ERR_CAPTURE_UPSTREAM_UNREACHABLE'
  | 'ERR_CAPTURE_UPSTREAM_TIMEOUT'
  | 'ERR_CAPTURE_RETRIEVAL_NOT_IN_REQUEST'
  | 'ERR_CAPTURE_RETRIEVAL_INVALID'
  | 'ERR_CAPTURE_RETRIEVAL_TOO_LARGE'
  | 'ERR_CAPTURE_SERVED_FACT_REFUSED'
  | 'ERR_CAPTURE_ID_TAKEN'
  | 'ERR_CAPTURE_EXCHANGE_REJECTED'
  | 'ERR_CAPTURE_SERVER_MISMATCH'
  | 'ERR_CAPTURE_TOKEN_REFUSED'
  | 'ERR_CAPTURE_REQUEST_UNREADABLE'
  | 'ERR_CAPTURE_REQUEST_TOO_LARGE'
  | 'ERR_CAPTURE_TOO_MANY_ELEMENTS'
  | 'ERR_RUN_NOT_FOUND'
  // GET /v1/content/{digest}: nothing is stored under that digest (never kept, or past retention)
  | 'ERR_CONTENT_NOT_FOUND'
  | 'ERR_RUN_NO_RECEIPT'
  // Replay and comparison of stored runs (docs/REPLAY.md)
  | 'ERR_REPLAY_UNIDENTIFIED'
  | 'ERR_REPLAY_CONTENT_NOT_STORED'
  | 'ERR_REPLAY_CONTENT_MISMATCH'
  | 'ERR_REPLAY_IDENTITY_MISMATCH'
  | 'ERR_REPLAY_NO_OUTPUT'
  | 'ERR_REPLAY_ORIGINAL_FAILED'
  | 'ERR_REPLAY_WEIGHTS_NOT_RECORDED'
  | 'ERR_REPLAY_WEIGHTS_MISMATCH'
  | 'ERR_REPLAY_UPSTREAM_REFUSED'
  | 'ERR_REPLAY_MODEL_UNAVAILABLE'
  | 'ERR_REPLAY_BATCH_MISMATCH'
  | 'ERR_REPLAY_BATCH_STATE_INVALID'
  // Log service and its storage
  | 'ERR_LOG_WRITES_DISABLED'
  | 'ERR_LOG_ENTRY_INVALID'
  | 'ERR_LOG_ENTRY_TOO_LARGE'
  | 'ERR_LOG_CONFIG_MISMATCH'
  | 'ERR_STORE_CORRUPT'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_STORE_NO_SPACE'
  | 'ERR_STORE_READ_ONLY'
  | 'ERR_STORE_PERMISSION'
  | 'ERR_STORE_LOCKED'
  | 'ERR_STORE_RECORD_REFUSED'
  // Transparency log: signed notes, checkpoints, proofs, tiles, cosignatures, tlog-proof
  | 'ERR_LOG_NOTE_INVALID'
  | 'ERR_LOG_NOTE_SIGNATURE'
  | 'ERR_LOG_CHECKPOINT_INVALID'
  | 'ERR_LOG_PROOF_INVALID'
  | 'ERR_LOG_TILE_INVALID'
  | 'ERR_LOG_INCONSISTENT'
  | 'ERR_LOG_COSIGNATURE_INVALID'
  | 'ERR_LOG_TLOG_PROOF_INVALID'
  // Log clients: a log that is unreachable, lacks an entry, or broke its append-only promise
  | 'ERR_LOG_UNREACHABLE'
  | 'ERR_LOG_ENTRY_NOT_FOUND'
  | 'ERR_LOG_FORK'
  | 'ERR_LOG_REWRITE'
  | 'ERR_LOG_DROPPED'
  // Witnessing (C2SP tlog-witness): as a witness, and as a log asking witnesses
  | 'ERR_WITNESS_REQUEST_INVALID'
  | 'ERR_WITNESS_UNKNOWN_LOG'
  | 'ERR_WITNESS_SIGNATURE'
  | 'ERR_WITNESS_CONFLICT'
  | 'ERR_WITNESS_PROOF'
  | 'ERR_WITNESS_UNREACHABLE'
  // Anything runprint did not anticipate; reported without internals.
  | 'ERR_INTERNAL';

/**
 * Base class. `message` is one fixed sentence that names the field it concerns and never echoes
 * the offending content (a prompt or a secret may be in it). `path` is an RFC 9535 normalized
 * JSONPath (`$['messages'][0]['content']`) when the error concerns a place in a JSON document.
 */
export class RunprintError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  /**
   * The message for a remote client, when `message` names what only the machine running runprint
   * may show (a store's file path, storage-faults.ts): the HTTP API answers this one
   * (server/http-status.ts), while the CLI and serve's stderr print `message`. Undefined: `message`
   * serves both, but for a store error (ERR_STORE_*), which HTTP answers with a fixed sentence.
   */
  readonly publicMessage: string | undefined;

  constructor(code: ErrorCode, message: string, path?: string, options: { publicMessage?: string } = {}) {
    super(message);
    this.code = code;
    this.path = path;
    this.publicMessage = options.publicMessage;
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** The one-line form the CLI prints: `ERR_CODE: message (at path)`. */
  toLine(): string {
    return this.path === undefined
      ? `${this.code}: ${this.message}`
      : `${this.code}: ${this.message} (at ${this.path})`;
  }

  toJSON(): { code: ErrorCode; message: string; path?: string } {
    return this.path === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, path: this.path };
  }
}

/**
 * What a store error is told to a remote client when it carries no public message: one made
 * elsewhere, or passed on from a writer thread (which sends its code and message only), may name
 * the server's files, such as the held-records journal's path, and a server's file paths are not a
 * remote client's to read.
 */
const STORE_FAULTS: Partial<Record<ErrorCode, string>> = {
  ERR_STORE_CORRUPT: "the server's store is damaged",
  ERR_STORE_UNAVAILABLE: "the server's store cannot be used right now",
  ERR_STORE_NO_SPACE: "no space is left for the server's store",
  ERR_STORE_READ_ONLY: "the server's store cannot be written",
  ERR_STORE_PERMISSION: 'the server may not use its store (permission denied)',
  ERR_STORE_LOCKED: "the server's store is locked by another process",
  ERR_STORE_RECORD_REFUSED: 'the run store refused the record for what it holds: it is not stored, and sent again it is refused again',
};

/**
 * The message of `error` for a remote client (an HTTP answer, /healthz): its public message, else
 * a fixed sentence for a store error, else its message.
 */
export function publicMessageOf(error: RunprintError): string {
  return error.publicMessage ?? STORE_FAULTS[error.code] ?? error.message;
}

/** Input that is not strict I-JSON, or an in-process value with no JSON form. */
export class JsonError extends RunprintError {}

/** A composition document whose shape or version is not the one docs/SPEC.md defines. */
export class CompositionError extends RunprintError {}

/** A provider request or response that its mapping cannot take without guessing. */
export class ProviderError extends RunprintError {}

/**
 * A document whose format `from: auto` cannot tell (SPEC 4.5), where naming the format would help.
 * `finding` is what detection found; the message adds the remedy, how the reader names the format,
 * which depends on the interface: detection gives the command line's (`pass --from`), and the HTTP
 * API answers with its own (`withRemedy`: its query parameter or member "from").
 */
export class FormatError extends ProviderError {
  declare readonly code: FormatErrorCode;
  readonly finding: string;

  constructor(code: FormatErrorCode, finding: string, remedy: string, path?: string) {
    super(code, `${finding}; ${remedy}`, path);
    this.finding = finding;
  }

  /** The same finding, with another way to name the format. */
  withRemedy(remedy: string): FormatError {
    return new FormatError(this.code, this.finding, remedy, this.path);
  }
}

type FormatErrorCode = 'ERR_PROVIDER_UNKNOWN_FORMAT' | 'ERR_PROVIDER_AMBIGUOUS_FORMAT';

/** An identity string not in its one canonical spelling. */
export class IdentityStringError extends RunprintError {}

/** A provider response or stream whose output cannot be assembled without guessing. */
export class OutputError extends RunprintError {}

/** A key that cannot be read or is not an Ed25519 key. */
export class KeyError extends RunprintError {}

/** A receipt, bundle or disclosure that fails a verification check. */
export class ReceiptError extends RunprintError {}

/** A model file or directory that cannot be digested. */
export class ModelDigestError extends RunprintError {}

/** A command line or HTTP request that is not well formed. */
export class UsageError extends RunprintError {}

/** An input file that cannot be read. */
export class InputError extends RunprintError {}

/** A signed note, checkpoint, proof, tile, entry bundle or cosignature that fails a log check. */
export class LogError extends RunprintError {}

/**
 * What a store's message names: `local`, for the operator, may hold a file path (`log database
 * /data/log.sqlite`) or a database URL; `remote`, for a remote client, must not (`log database`).
 * A plain string is both: a name with no path.
 */
export type StoreName = string | { local: string; remote: string };

/** The store error `code` with `text` of the name: with the path in `message`, without it in `publicMessage`. */
export function storeFault(code: ErrorCode, name: StoreName, text: (name: string) => string): LogError {
  const { local, remote } = typeof name === 'string' ? { local: name, remote: name } : name;
  return new LogError(code, text(local), undefined, { publicMessage: text(remote) });
}

/** Longest member name, in code points, that an error path (SPEC 1.3) writes in full. */
export const MAX_PATH_NAME = 64;

/**
 * Formats the path of an error (SPEC 1.3): an RFC 9535 normalized path, except that a member name
 * of more than MAX_PATH_NAME code points is cut to its first MAX_PATH_NAME code points and marked
 * by `…` after its closing quote (`$['aaa…a'…]`), so that an error never echoes a whole name.
 */
export function formatPath(segments: ReadonlyArray<string | number>): string {
  return writePath(segments, MAX_PATH_NAME);
}

/** Formats an exact RFC 9535 normalized path (section 2.7), with no name cut: for reports, not errors. */
export function formatNormalizedPath(segments: ReadonlyArray<string | number>): string {
  return writePath(segments, Infinity);
}

function writePath(segments: ReadonlyArray<string | number>, maxName: number): string {
  let out = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') {
      out += `[${segment}]`;
      continue;
    }
    const cut = cutName(segment, maxName);
    out += cut === undefined ? `['${escapePathName(segment)}']` : `['${escapePathName(cut)}'\u2026]`;
  }
  return out;
}

/** The first `max` code points of `name`, or undefined when it has no more than that. */
function cutName(name: string, max: number): string | undefined {
  if (name.length <= max) return undefined;
  let end = 0;
  for (let points = 0; points < max; points++) {
    if (end >= name.length) return undefined;
    const c = name.charCodeAt(end);
    end += c >= 0xd800 && c <= 0xdbff && end + 1 < name.length && (name.charCodeAt(end + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return end >= name.length ? undefined : name.slice(0, end);
}

/**
 * The first MAX_PATH_NAME code points of a name quoted in an error message, with `…` when cut: a
 * message names a member, it never repeats a long one whole.
 */
export function capName(name: string): string {
  const cut = cutName(name, MAX_PATH_NAME);
  return cut === undefined ? name : `${cut}\u2026`;
}

// RFC 9535 section 2.7: normalized paths escape ', \ and control characters: \b \f \n \r \t
// for those five, \u00xx (lowercase hex) for the other characters below U+0020.
function escapePathName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x27) out += "\\'";
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += name[i];
  }
  return out;
}
