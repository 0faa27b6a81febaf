/**
 * OpenTelemetry spans of captured runs (issue: live capture, section 6), exported over OTLP/HTTP
 * with the JSON encoding (OTLP specification, "OTLP/HTTP"; the protobuf JSON mapping: ids in hex,
 * 64-bit integers as decimal strings). Attributes follow the GenAI semantic conventions for
 * inference client spans and add runprint's own: `runprint.run.id`, `runprint.request.id`,
 * `runprint.capture.id`, `runprint.receipt` and one `runprint.component.NAME.digest` per component.
 * Written here, not with the OpenTelemetry SDK, so the proxy has no runtime dependency for it.
 */
import type { CapturedRun } from '../capture/capture-run.ts';
import { errorType, spanAttributes, spanName, type AttributeValue } from '../capture/span-attributes.ts';

/** Where the span sits in a trace: the caller's W3C traceparent when it sent one. */
export interface SpanContext {
  traceId: string;
  parentSpanId: string | null;
}

/** W3C Trace Context `traceparent`: version 00, 32 hex trace id, 16 hex parent id, 2 hex flags; null when absent or malformed. */
export function parseTraceparent(header: string | null): SpanContext | null {
  if (header === null) return null;
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(header.trim());
  if (match === null || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return null;
  return { traceId: match[1]!, parentSpanId: match[2]! };
}

function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buffer);
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

type OtlpValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { arrayValue: { values: OtlpValue[] } };
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

/** An attribute value in the OTLP JSON shape: 64-bit integers as decimal strings. */
function otlpValue(value: AttributeValue): Attribute['value'] {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return { intValue: String(value) };
  return { arrayValue: { values: value.map((item) => ({ stringValue: item })) } };
}

/** The span of one captured run. `server` is the upstream URL. */
export function spanOf(run: CapturedRun, context: { upstream: string; server: URL; trace: SpanContext | null; receipt: string | null; stream: boolean }): OtlpSpan {
  const { record } = run;
  const attributes = Object.entries(spanAttributes(run, { server: context.server, receipt: context.receipt })).map(([key, value]) => ({ key, value: otlpValue(value) }));
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
  export(span: OtlpSpan): void;
  /** Sends what is queued; resolves when the receiver answered (or failed). */
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly counts: { exported: number; dropped: number; failures: number };
}

/**
 * Batches spans and POSTs them to `endpoint` (the full traces URL, `.../v1/traces`) every
 * `intervalMs` or `maxBatch` spans. A receiver that is down loses those spans (counted as
 * dropped and reported once per failure kind through `onFailure`): telemetry never holds up a call,
 * and the queue never grows past `maxQueue`.
 */
export function otlpExporter(options: { endpoint: string; serviceName: string; serviceVersion: string; intervalMs?: number; maxBatch?: number; maxQueue?: number; onFailure?: (message: string) => void; fetch?: typeof fetch }): OtlpExporter {
  const interval = options.intervalMs ?? 1000;
  const maxBatch = options.maxBatch ?? 512;
  const maxQueue = options.maxQueue ?? 8192;
  const send = options.fetch ?? globalThis.fetch;
  const counts = { exported: 0, dropped: 0, failures: 0 };
  let queue: OtlpSpan[] = [];
  let sending: Promise<void> = Promise.resolve();
  const resource = {
    attributes: [
      { key: 'service.name', value: { stringValue: options.serviceName } },
      { key: 'service.version', value: { stringValue: options.serviceVersion } },
    ],
  };
  const post = async (spans: OtlpSpan[]): Promise<void> => {
    const body = JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'runprint', version: options.serviceVersion }, spans }] }] });
    try {
      const response = await send(options.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
      void response.body?.cancel().catch(() => undefined);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      counts.exported += spans.length;
    } catch (error) {
      counts.failures++;
      counts.dropped += spans.length;
      options.onFailure?.(error instanceof Error && /^HTTP \d+$/.test(error.message) ? `the OTLP receiver answered ${error.message}` : 'the OTLP receiver cannot be reached');
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
      if (queue.length + inFlight >= maxQueue) {
        counts.dropped++;
        return;
      }
      queue.push(span);
      if (queue.length >= maxBatch) void flush();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
