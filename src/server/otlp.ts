/**
 * OpenTelemetry spans of captured runs (issue: live capture, section 6), exported over OTLP/HTTP
 * with the JSON encoding (OTLP specification, "OTLP/HTTP"; the protobuf JSON mapping: ids in hex,
 * 64-bit integers as decimal strings). Attributes follow the GenAI semantic conventions for
 * inference client spans and add runprint's own: `runprint.run.id`, `runprint.request.id`,
 * `runprint.capture.id`, `runprint.receipt` and one `runprint.component.NAME.digest` per component.
 * Written here, not with the OpenTelemetry SDK, so the proxy has no runtime dependency for it.
 */
import type { CapturedRun } from '../capture/capture-run.ts';
import { UsageError } from '../errors.ts';
import { DOUBLE_ATTRIBUTES, errorType, spanAttributes, spanName, type AttributeValue } from '../capture/span-attributes.ts';

/** Where the span sits in a trace: the caller's W3C traceparent when it sent one. */
export interface SpanContext {
  traceId: string;
  parentSpanId: string | null;
  /** The caller's `sampled` flag (trace-flags bit 0): false, its span is not recorded, so neither is this one. */
  sampled: boolean;
}

/** W3C Trace Context `traceparent`: version 00, 32 hex trace id, 16 hex parent id, 2 hex flags; null when absent or malformed. */
export function parseTraceparent(header: string | null): SpanContext | null {
  if (header === null) return null;
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(header.trim());
  if (match === null || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return null;
  return { traceId: match[1]!, parentSpanId: match[2]!, sampled: (Number.parseInt(match[3]!, 16) & 1) === 1 };
}

function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buffer);
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

type OtlpValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: OtlpValue[] } };
interface Attribute {
  key: string;
  value: OtlpValue;
}

/** One span in the OTLP JSON shape. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attribute[];
  status: { code: number; message?: string };
}

const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

const nanos = (iso: string): string => `${BigInt(Date.parse(iso)) * 1_000_000n}`;

/** An attribute value in the OTLP JSON shape: 64-bit integers as decimal strings, doubles (DOUBLE_ATTRIBUTES, or a number with a fraction) as JSON numbers. */
function otlpValue(key: string, value: AttributeValue): Attribute['value'] {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return DOUBLE_ATTRIBUTES.has(key) || !Number.isSafeInteger(value) ? { doubleValue: value } : { intValue: String(value) };
  return { arrayValue: { values: value.map((item) => ({ stringValue: item })) } };
}

/** The span of one captured run. `server` is the upstream URL; `parameters` and `configuration` how the run store keeps those components (spanAttributes). */
export function spanOf(run: CapturedRun, context: { upstream: string; server: URL; trace: SpanContext | null; receipt: string | null; stream: boolean; parameters?: 'content' | 'digest'; configuration?: 'content' | 'digest' }): OtlpSpan {
  const { record } = run;
  const keep = { ...(context.parameters === undefined ? {} : { parameters: context.parameters }), ...(context.configuration === undefined ? {} : { configuration: context.configuration }) };
  const attributes = Object.entries(spanAttributes(run, { server: context.server, receipt: context.receipt, ...keep })).map(([key, value]) => ({ key, value: otlpValue(key, value) }));
  const failure = errorType(run);
  const span: OtlpSpan = {
    traceId: context.trace?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    name: spanName(run),
    kind: SPAN_KIND_CLIENT,
    startTimeUnixNano: nanos(record.times.started),
    endTimeUnixNano: nanos(record.times.ended),
    attributes,
    status: failure === null ? { code: STATUS_UNSET } : { code: STATUS_ERROR, message: failure },
  };
  if (context.trace?.parentSpanId != null) span.parentSpanId = context.trace.parentSpanId;
  return span;
}

export interface OtlpExporter {
  /** Queues a span; one past the queue bound (maxQueue) is dropped, counted, and said once per outage through `onFailure`. */
  export(span: OtlpSpan): void;
  /** Sends what is queued; resolves when the receiver answered (or failed). */
  flush(): Promise<void>;
  /**
   * Sends what is queued and stops, waiting at most `closeTimeoutMs` (DEFAULT_OTLP_CLOSE_MS) for
   * the receiver, and with `deadline` (a `performance.now()` time: serve's stop plus its
   * --shutdown-grace) never past it: an export the receiver has not answered by then is abandoned,
   * its spans and those waiting behind it dropped, counted and reported through `onFailure` once,
   * and close resolves then. A receiver that answers within the bound loses nothing.
   */
  close(options?: { deadline?: number }): Promise<void>;
  /**
   * Since start: spans the receiver took (`exported`) and those lost (`dropped`: their export
   * failed, the queue was full, or a stop abandoned them), the exports that failed after their
   * retries (`failures`), and the retries made (`retries`).
   */
  readonly counts: { exported: number; dropped: number; failures: number; retries: number };
}

/**
 * Header names an export cannot carry from the environment: those that describe the connection or
 * how the body is framed (RFC 9110 7.6.1 and 6.4, RFC 9112 6: connection-specific fields, the
 * framing and Host), which the HTTP client sets itself. Node's fetch refuses transfer-encoding,
 * keep-alive, upgrade and expect outright, and a content-length or host of the operator's own
 * would not match the request: each would make every export fail, so none is taken at start.
 */
const CONNECTION_HEADERS: ReadonlySet<string> = new Set(['connection', 'content-length', 'expect', 'host', 'http2-settings', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * OTLP exporter headers from the OpenTelemetry SDK environment (OTLP exporter specification,
 * "Specifying headers via environment variables"): OTEL_EXPORTER_OTLP_HEADERS, and
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS over it for the same name, each `name=value` pairs separated
 * by commas (the W3C Baggage list format: white space around names and values ignored, values
 * percent-decoded), such as `authorization=Bearer%20TOKEN` for a collector that wants a
 * credential. A malformed list is refused (ERR_CLI_USAGE naming the variable and the entry's place,
 * never a value: one may be a credential).
 */
export function otlpHeaders(env: { readonly [name: string]: string | undefined }): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const variable of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    const list = env[variable];
    if (list === undefined || list.trim() === '') continue;
    list.split(',').forEach((entry, i) => {
      if (entry.trim() === '') return;
      const split = entry.indexOf('=');
      const name = (split < 0 ? '' : entry.slice(0, split)).trim().toLowerCase();
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new UsageError('ERR_CLI_USAGE', `${variable}: entry ${i + 1} is not NAME=VALUE with NAME an HTTP header name (entries are separated by commas)`);
      if (CONNECTION_HEADERS.has(name)) throw new UsageError('ERR_CLI_USAGE', `${variable}: ${name} cannot be sent with an export: it says how the connection or the body is carried, which runprint's HTTP client sets itself (Node's fetch refuses some, and a wrong one breaks every export)`);
      let value: string;
      try {
        value = decodeURIComponent(entry.slice(split + 1).trim());
      } catch {
        throw new UsageError('ERR_CLI_USAGE', `${variable}: the value of ${name} is not valid percent-encoding`);
      }
      // RFC 9110 section 5.5: a field value is visible characters, spaces and tabs, without leading or trailing white space.
      if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) throw new UsageError('ERR_CLI_USAGE', `${variable}: the value of ${name} holds characters a header cannot carry`);
      headers[name] = value.trim();
    });
  }
  return headers;
}

/**
 * The transport the OpenTelemetry SDK environment asks for (OTLP exporter specification,
 * "Configuration options": Protocol): OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
 * OTEL_EXPORTER_OTLP_PROTOCOL (an empty one is unset). runprint exports OTLP/HTTP with the JSON
 * encoding only: `http/json` (or none given) is that; `grpc` is refused (ERR_CLI_USAGE: the
 * endpoint would be a gRPC receiver, which cannot take it); `http/protobuf` gives a warning (a
 * line to print), since OTLP/HTTP receivers take JSON on the same URL (OTLP specification: servers
 * SHOULD accept both encodings), and another value is refused.
 */
export function otlpProtocol(env: { readonly [name: string]: string | undefined }): { warning: string | null } {
  for (const variable of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const value = env[variable]?.trim();
    if (value === undefined || value === '') continue;
    if (value === 'http/json') return { warning: null };
    if (value === 'http/protobuf') return { warning: `${variable} is http/protobuf, but runprint exports OTLP/HTTP with the JSON encoding (application/json) only: the receiver must take JSON (OTLP receivers should take both on the same URL); set it to http/json to say so` };
    if (value === 'grpc') throw new UsageError('ERR_CLI_USAGE', `${variable} is grpc, but runprint exports OTLP/HTTP with the JSON encoding only (http/json): give the receiver's OTLP/HTTP endpoint (usually port 4318) and set it to http/json, or unset it`);
    throw new UsageError('ERR_CLI_USAGE', `${variable} must be http/json (runprint exports OTLP/HTTP with the JSON encoding only), or grpc or http/protobuf as the OpenTelemetry SDKs name them`);
  }
  return { warning: null };
}

/**
 * The resource of the exported spans from the OpenTelemetry SDK environment (SDK environment
 * variables and Resource SDK specifications): OTEL_RESOURCE_ATTRIBUTES, `key=value` pairs
 * separated by commas, keys and values percent-decoded (a `,` or `=` in them must be
 * percent-encoded), white space around them ignored, every value a string; and OTEL_SERVICE_NAME,
 * which sets `service.name` over the list's. `service.name` is `runprint` when neither gives it.
 * `service.version` is always runprint's version: the list is the secondary resource, merged under
 * what runprint sets (Resource SDK, "Merge"). A malformed list is refused at start (ERR_CLI_USAGE
 * naming the entry's place, never a value).
 */
export function otlpResource(env: { readonly [name: string]: string | undefined }): { serviceName: string; attributes: Record<string, string> } {
  const attributes: Record<string, string> = {};
  const list = env['OTEL_RESOURCE_ATTRIBUTES'];
  const variable = 'OTEL_RESOURCE_ATTRIBUTES';
  if (list !== undefined && list.trim() !== '') {
    list.split(',').forEach((entry, i) => {
      if (entry.trim() === '') return;
      const split = entry.indexOf('=');
      if (split < 0) throw new UsageError('ERR_CLI_USAGE', `${variable}: entry ${i + 1} is not KEY=VALUE (entries are separated by commas; a comma or = inside a key or value is percent-encoded: %2C, %3D)`);
      let key: string;
      let value: string;
      try {
        key = decodeURIComponent(entry.slice(0, split).trim());
        value = decodeURIComponent(entry.slice(split + 1).trim());
      } catch {
        throw new UsageError('ERR_CLI_USAGE', `${variable}: entry ${i + 1} is not valid percent-encoding`);
      }
      if (key === '') throw new UsageError('ERR_CLI_USAGE', `${variable}: entry ${i + 1} has an empty key`);
      attributes[key] = value;
    });
  }
  const named = env['OTEL_SERVICE_NAME'];
  const serviceName = named !== undefined && named !== '' ? named : attributes['service.name'] || 'runprint';
  delete attributes['service.name'];
  delete attributes['service.version'];
  return { serviceName, attributes };
}

/** The OTLP exporters' export timeout when the environment gives none (OTLP exporter specification). */
export const DEFAULT_OTLP_TIMEOUT_MS = 10_000;
/** The longest export timeout taken (10 minutes): a stop waits no longer than DEFAULT_OTLP_CLOSE_MS (or --shutdown-grace) for one anyway. */
export const MAX_OTLP_TIMEOUT_MS = 600_000;
/**
 * How long the exporter's close waits for the receiver to take the last spans, by default (ms):
 * a receiver that accepts the connection and never answers would otherwise hold a stop for the
 * whole export timeout (10 s, or up to 10 minutes as the environment says), while one that works
 * answers in far less.
 */
export const DEFAULT_OTLP_CLOSE_MS = 2_000;

/**
 * How long an export may wait for the receiver, from the OpenTelemetry SDK environment (OTLP
 * exporter specification, "Configuration options": Timeout): OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
 * else OTEL_EXPORTER_OTLP_TIMEOUT, in milliseconds; an empty variable is unset; neither set: 10000.
 * The one that applies must be a whole number of milliseconds from 1 to 600000, else ERR_CLI_USAGE
 * naming it (0, which some exporters take as no limit, would let one hung receiver hold every export).
 */
export function otlpTimeout(env: { readonly [name: string]: string | undefined }): number {
  for (const variable of ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT']) {
    const value = env[variable]?.trim();
    if (value === undefined || value === '') continue;
    if (!/^[0-9]{1,6}$/.test(value) || Number(value) < 1 || Number(value) > MAX_OTLP_TIMEOUT_MS) {
      throw new UsageError('ERR_CLI_USAGE', `${variable} must be a whole number of milliseconds from 1 to ${MAX_OTLP_TIMEOUT_MS} (the export timeout; default ${DEFAULT_OTLP_TIMEOUT_MS})`);
    }
    return Number(value);
  }
  return DEFAULT_OTLP_TIMEOUT_MS;
}

/** Why an export failed, as the report says it: the receiver's status, a timeout, or no connection. */
function failureOf(error: unknown, timeoutMs: number): string {
  if (error instanceof ReceiverStatus) return `the OTLP receiver answered HTTP ${error.status}`;
  if (error instanceof Error && error.name === 'TimeoutError') return `the OTLP receiver did not answer within ${timeoutMs / 1000} s (timed out)`;
  return 'the OTLP receiver cannot be reached';
}

class ReceiverStatus extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

/**
 * How a failed export is retried (OTLP exporter specification, "Retry": transient errors MUST be
 * retried with an exponential back-off with jitter; OTLP specification, "Failures", "OTLP/HTTP
 * Throttling", "All Other Responses" and "OTLP/HTTP Connection"): an answer of 429, 502, 503 or
 * 504, no connection, a connection closed before an answer, or no answer within the export
 * timeout (a request the receiver took and never answered, as OTLP/gRPC retries
 * DEADLINE_EXCEEDED; the receiver may have kept it, and OTLP accepts such duplicates), is tried
 * again, up to `attempts` tries in all; after the receiver's `Retry-After` (seconds or an HTTP
 * date) when it gives one, else after an exponential backoff with jitter (`firstDelayMs` doubled
 * each time, at most `maxDelayMs`, a random half to all of it); the waits of one export add up to
 * `maxWaitMs` at most (a longer Retry-After drops the spans at once instead), and each try waits
 * the export timeout at most. Any other status (400, 401, 413, 500, ...) is not retried (MUST NOT).
 */
export interface OtlpRetry {
  attempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  maxWaitMs: number;
}

export const DEFAULT_OTLP_RETRY: Readonly<OtlpRetry> = { attempts: 4, firstDelayMs: 500, maxDelayMs: 4_000, maxWaitMs: 10_000 };

/** The statuses an export is retried on; every other 4xx or 5xx MUST NOT be (OTLP specification). */
const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** `Retry-After` (RFC 9110 10.2.3): delay-seconds or an HTTP date, in ms from now; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^[0-9]{1,9}$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) || !/[a-z]/i.test(value) ? null : Math.max(0, at - now);
}

/** Waits `ms`, or less when `signal` aborts; true when the wait ran out, false when aborted. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', done);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Batches spans and POSTs them to `endpoint` (the full traces URL, `.../v1/traces`) every
 * `intervalMs` or `maxBatch` spans, with `headers` (otlpHeaders) beside the content type, under a
 * resource of `service.name` (`serviceName`), `service.version` and `resource` (otlpResource). An
 * export the receiver refuses with 429, 502, 503 or 504, that finds no connection, or that is not
 * answered within `timeoutMs` (otlpTimeout; 10 s, the OTLP exporter default; each try), is retried
 * as `retry` says (DEFAULT_OTLP_RETRY; OtlpRetry); one that still fails, or is refused otherwise,
 * loses its spans (counted as dropped, and said through `onFailure`, with each failure, for the caller to say once
 * per kind); the first export that works after failures calls `onRecovered`. Telemetry never holds
 * up a call, and the queue never grows past `maxQueue` (spans past it are dropped, said once until
 * an export works again). Its close waits at most `closeTimeoutMs` (DEFAULT_OTLP_CLOSE_MS) for the
 * last exports, retries included.
 */
export function otlpExporter(options: { endpoint: string; serviceName: string; serviceVersion: string; resource?: Record<string, string>; headers?: Record<string, string>; intervalMs?: number; timeoutMs?: number; closeTimeoutMs?: number; maxBatch?: number; maxQueue?: number; retry?: Partial<OtlpRetry>; onFailure?: (message: string) => void; onRecovered?: () => void; fetch?: typeof fetch }): OtlpExporter {
  const interval = options.intervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? DEFAULT_OTLP_TIMEOUT_MS;
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_OTLP_CLOSE_MS;
  const maxBatch = options.maxBatch ?? 512;
  const maxQueue = options.maxQueue ?? 8192;
  const retry: OtlpRetry = { ...DEFAULT_OTLP_RETRY, ...options.retry };
  const send = options.fetch ?? globalThis.fetch;
  const headers = { ...options.headers, 'content-type': 'application/json' };
  const counts = { exported: 0, dropped: 0, failures: 0, retries: 0 };
  let queue: OtlpSpan[] = [];
  let sending: Promise<void> = Promise.resolve();
  /** Set when close's deadline passed: what is still unsent is dropped (counted then), nothing more is posted. */
  let abandoned = false;
  /** Set by close: no retry waits past it (a `performance.now()` time). */
  let closingBy = Infinity;
  /** Spans were lost since the last export that worked (onRecovered is due at the next that works). */
  let failing = false;
  /** The full queue has been said since the last export that worked. */
  let fullSaid = false;
  /** The exports waiting for the receiver, so that a deadline can abort them. */
  const inProgress = new Set<AbortController>();
  const resource = {
    attributes: [
      { key: 'service.name', value: { stringValue: options.serviceName } },
      { key: 'service.version', value: { stringValue: options.serviceVersion } },
      ...Object.entries(options.resource ?? {})
        .filter(([key]) => key !== 'service.name' && key !== 'service.version')
        .map(([key, value]) => ({ key, value: { stringValue: value } })),
    ],
  };
  /** Exponential backoff with jitter before retry `retryNumber` (1 for the first). */
  const backoff = (retryNumber: number) => {
    const full = Math.min(retry.maxDelayMs, retry.firstDelayMs * 2 ** (retryNumber - 1));
    return full / 2 + Math.random() * (full / 2);
  };
  const post = async (spans: OtlpSpan[]): Promise<void> => {
    if (abandoned) return;
    const body = JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'runprint', version: options.serviceVersion }, spans }] }] });
    const stop = new AbortController();
    inProgress.add(stop);
    let waited = 0;
    try {
      for (let attempt = 1; ; attempt++) {
        let failure: unknown;
        let delay: number | null = null;
        try {
          const response = await send(options.endpoint, { method: 'POST', headers, body, signal: AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]) });
          void response.body?.cancel().catch(() => undefined);
          if (response.ok) {
            if (abandoned) return;
            counts.exported += spans.length;
            if (failing) {
              failing = false;
              fullSaid = false;
              options.onRecovered?.();
            }
            return;
          }
          failure = new ReceiverStatus(response.status);
          if (RETRYABLE_STATUS.has(response.status)) delay = retryAfterMs(response.headers.get('retry-after')) ?? backoff(attempt);
        } catch (error) {
          failure = error;
          // No connection, one closed before an answer, or no answer within the timeout: tried
          // again. An abort (close's deadline) is not.
          if (!(error instanceof Error && error.name === 'AbortError')) delay = backoff(attempt);
        }
        // Abandoned at close's deadline: counted there, with what waited behind it.
        if (abandoned) return;
        if (delay !== null && attempt < retry.attempts && waited + delay <= retry.maxWaitMs && performance.now() + delay < closingBy) {
          counts.retries++;
          waited += delay;
          if (!(await pause(delay, stop.signal)) || abandoned) return;
          continue;
        }
        counts.failures++;
        counts.dropped += spans.length;
        failing = true;
        options.onFailure?.(`${failureOf(failure, timeoutMs)}; its spans are dropped, calls go on`);
        return;
      }
    } finally {
      inProgress.delete(stop);
    }
  };
  /** Spans handed to the send chain and not yet posted: they count against maxQueue too. */
  let inFlight = 0;
  const flush = (): Promise<void> => {
    if (queue.length > 0) {
      const batch = queue;
      queue = [];
      inFlight += batch.length;
      sending = sending.then(async () => {
        for (let i = 0; i < batch.length; i += maxBatch) {
          const part = batch.slice(i, i + maxBatch);
          await post(part);
          inFlight -= part.length;
        }
      });
    }
    return sending;
  };
  const timer = setInterval(() => void flush(), interval);
  (timer as { unref?: () => void }).unref?.();
  return {
    counts,
    export(span) {
      if (abandoned || queue.length + inFlight >= maxQueue) {
        counts.dropped++;
        if (!abandoned && !fullSaid) {
          fullSaid = true;
          failing = true;
          options.onFailure?.(`${maxQueue} spans wait for the OTLP receiver, the most kept; new spans are dropped until it takes them, calls go on`);
        }
        return;
      }
      queue.push(span);
      if (queue.length >= maxBatch) void flush();
    },
    flush,
    async close(closing = {}) {
      clearInterval(timer);
      // The close's own bound, or the caller's deadline when that comes first (serve's grace).
      const bound = performance.now() + closeTimeoutMs;
      const graceFirst = closing.deadline !== undefined && closing.deadline < bound;
      const deadline = graceFirst ? closing.deadline! : bound;
      // No retry waits past it: a receiver still failing then loses those spans at once.
      closingBy = deadline;
      const done = flush();
      let expiry: ReturnType<typeof setTimeout> | undefined;
      const late = await Promise.race([
        done.then(() => false),
        new Promise<boolean>((resolve) => (expiry = setTimeout(() => resolve(true), Math.max(0, deadline - performance.now())))),
      ]);
      clearTimeout(expiry);
      if (!late) return;
      // The receiver has not answered by the deadline: what is unsent is dropped, not waited for.
      abandoned = true;
      const unsent = inFlight;
      counts.dropped += unsent;
      for (const stop of inProgress) stop.abort();
      const dropped = `${unsent} span${unsent === 1 ? '' : 's'} not sent, dropped`;
      if (unsent > 0) {
        options.onFailure?.(
          graceFirst
            ? `the OTLP receiver had not answered when serve's stop ran out of time (--shutdown-grace); ${dropped}`
            : `the OTLP receiver had not answered the last export ${closeTimeoutMs / 1000} s into the stop (the most a stop waits for it); ${dropped}`,
        );
      }
    },
  };
}
