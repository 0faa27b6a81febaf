/**
 * In-process spans (issue: live capture, section 6): when the application has `@opentelemetry/api`
 * (an optional peer), every captured call becomes a span through the global tracer, a child of
 * the span that was active when the call started, with the same attributes as the proxy's
 * (capture/span-attributes.ts). Without a registered tracer provider the API is a no-op; without
 * the package, nothing happens at all.
 */
import { createRequire } from 'node:module';
import type { CapturedRun } from '../capture/capture-run.ts';
import { errorType, spanAttributes, spanName } from '../capture/span-attributes.ts';

/** The part of @opentelemetry/api used here (kept local: the package is optional for users). */
interface OtelApi {
  trace: { getTracer(name: string, version?: string): { startSpan(name: string, options: object, context?: unknown): OtelSpan } };
  context: { active(): unknown };
  SpanKind: { CLIENT: number };
  SpanStatusCode: { ERROR: number };
}
interface OtelSpan {
  setStatus(status: { code: number; message?: string }): void;
  end(endTime?: Date): void;
}

let loaded: OtelApi | null | undefined;

/** @opentelemetry/api when the application has it installed, else null (looked up once). */
export function otelApi(): OtelApi | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/**
 * The hooks runprintFetch gives captureFetch: the caller's context at the start, the span at the
 * end. `keep`: how the local run store keeps the parameters and configuration components (spanAttributes).
 */
export function otelHooks(api: OtelApi, version?: string, keep: { parameters?: 'content' | 'digest'; configuration?: 'content' | 'digest' } = {}): { onStart: () => unknown; emit: (run: CapturedRun, started: unknown, server: URL | null) => void } {
  const tracer = api.trace.getTracer('runprint', version);
  return {
    onStart: () => api.context.active(),
    emit: (run, started, server) => {
      const span = tracer.startSpan(
        spanName(run),
        { kind: api.SpanKind.CLIENT, startTime: new Date(run.record.times.started), attributes: spanAttributes(run, { server, receipt: null, ...keep }) },
        started,
      );
      const failure = errorType(run);
      if (failure !== null) span.setStatus({ code: api.SpanStatusCode.ERROR, message: failure });
      span.end(new Date(run.record.times.ended));
    },
  };
}
