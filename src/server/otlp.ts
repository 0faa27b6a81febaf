/**
 * OpenTelemetry spans of captured runs (issue: live capture, section 6), exported over OTLP/HTTP
 * with the JSON encoding (OTLP specification, "OTLP/HTTP"; the protobuf JSON mapping: ids in hex,
 * 64-bit integers as decimal strings). Attributes follow the GenAI semantic conventions for
 * inference client spans and add runprint's own: `runprint.run.id`, `runprint.request.id`,
 * `runprint.capture.id`, `runprint.receipt` and one `runprint.component.NAME.digest` per component.
 * Written here, not with the OpenTelemetry SDK, so the proxy has no runtime dependency for it.
 */
import type { CapturedRun } from '../capture/capture-run.ts';
import type { JsonValue } from '../jcs/json-value.ts';

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

type AttributeValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { arrayValue: { values: AttributeValue[] } };
interface Attribute {
  key: string;
  value: AttributeValue;
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

function number(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** Token counts from a provider's usage object: OpenAI chat names them prompt/completion, the others input/output. */
function tokens(usage: JsonValue | null): { input?: number; output?: number } {
  if (usage === null || typeof usage !== 'object' || Array.isArray(usage)) return {};
  const input = number(usage['input_tokens']) ?? number(usage['prompt_tokens']);
  const output = number(usage['output_tokens']) ?? number(usage['completion_tokens']);
  return { ...(input === undefined ? {} : { input }), ...(output === undefined ? {} : { output }) };
}

const nanos = (iso: string): string => `${BigInt(Date.parse(iso)) * 1_000_000n}`;

/** The span of one captured run. `upstream` is the provider name, `server` the upstream URL. */
export function spanOf(run: CapturedRun, context: { upstream: string; server: URL; trace: SpanContext | null; receipt: string | null; stream: boolean }): OtlpSpan {
  const { record } = run;
  const attributes: Attribute[] = [];
  const text = (key: string, value: string | null | undefined) => {
    if (value !== null && value !== undefined) attributes.push({ key, value: { stringValue: value } });
  };
  const int = (key: string, value: number | undefined) => {
    if (value !== undefined) attributes.push({ key, value: { intValue: String(value) } });
  };
  const model = run.composition?.model['name'];
  const requested = typeof model === 'string' ? model : null;
  const served = record.served?.['model']?.value;
  text('gen_ai.operation.name', 'chat');
  text('gen_ai.provider.name', context.upstream);
  text('gen_ai.request.model', requested);
  attributes.push({ key: 'gen_ai.request.stream', value: { boolValue: context.stream } });
  text('gen_ai.response.model', typeof served === 'string' ? served : null);
  if (record.output?.finishReason != null) attributes.push({ key: 'gen_ai.response.finish_reasons', value: { arrayValue: { values: [{ stringValue: record.output.finishReason }] } } });
  const usage = tokens(record.output?.usage ?? null);
  int('gen_ai.usage.input_tokens', usage.input);
  int('gen_ai.usage.output_tokens', usage.output);
  if (record.format !== 'anthropic-messages') text('openai.api.type', record.format === 'openai-chat' ? 'chat_completions' : 'responses');
  text('server.address', context.server.hostname);
  int('server.port', Number(context.server.port || (context.server.protocol === 'https:' ? 443 : 80)));
  const failure = record.incomplete === null ? null : record.response.status !== null && record.incomplete.reason === 'http-status' ? String(record.response.status) : record.incomplete.reason;
  text('error.type', failure);
  text('runprint.capture.id', record.captureId);
  text('runprint.request.id', record.requestId);
  text('runprint.run.id', record.runId);
  text('runprint.receipt', context.receipt);
  if (run.identity !== null) {
    for (const [name, entry] of Object.entries(run.identity.components)) text(`runprint.component.${name}.digest`, `sha256:${entry.digest.sha256}`);
  }
  if (record.unidentified !== null) text('runprint.unidentified', record.unidentified.code);
  const span: OtlpSpan = {
    traceId: context.trace?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    name: requested === null ? 'chat' : `chat ${requested}`,
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
  const flush = (): Promise<void> => {
    if (queue.length > 0) {
      const batch = queue;
      queue = [];
      sending = sending.then(async () => {
        for (let i = 0; i < batch.length; i += maxBatch) await post(batch.slice(i, i + maxBatch));
      });
    }
    return sending;
  };
  const timer = setInterval(() => void flush(), interval);
  (timer as { unref?: () => void }).unref?.();
  return {
    counts,
    export(span) {
      if (queue.length >= maxQueue) {
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
