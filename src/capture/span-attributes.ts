/**
 * OpenTelemetry attributes of a captured run (issue: live capture, section 6): the GenAI semantic
 * conventions for inference client spans (open-telemetry/semantic-conventions-genai, "Semantic
 * conventions for OpenAI client operations" and gen-ai-spans.md), plus runprint's identities. One
 * source for the proxy's OTLP export (server/otlp.ts) and in-process spans (capture-node/otel.ts).
 * No content and no credential is ever an attribute.
 */
import type { JsonValue } from '../jcs/json-value.ts';
import { providerFor } from '../providers/registry.ts';
import type { CapturedRun } from './capture-run.ts';

export type AttributeValue = string | number | boolean | string[];

function integer(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** Token counts from a provider's usage object: OpenAI chat names them prompt/completion, the others input/output. */
function tokens(usage: JsonValue | null): { input?: number; output?: number } {
  if (usage === null || typeof usage !== 'object' || Array.isArray(usage)) return {};
  const input = integer(usage['input_tokens']) ?? integer(usage['prompt_tokens']);
  const output = integer(usage['output_tokens']) ?? integer(usage['completion_tokens']);
  return { ...(input === undefined ? {} : { input }), ...(output === undefined ? {} : { output }) };
}

/**
 * gen_ai.request.stream: whether the request asked for a streamed answer, its `"stream": true`
 * (a member the composition keeps in `excluded`); null (no attribute) when the request was not
 * identified. Not the response's `stream`, which says only that its body was not JSON (SPEC 12.1):
 * a streamed request answered with a JSON error, or a plain one answered with text, differ.
 */
function requestStream(run: CapturedRun): boolean | null {
  if (run.composition === null) return null;
  return run.composition.excluded?.['stream'] === true;
}

/** `chat MODEL`, or `chat` when the request has no identified model. */
export function spanName(run: CapturedRun): string {
  const model = run.composition?.model['name'];
  return typeof model === 'string' ? `chat ${model}` : 'chat';
}

/** The error.type of a failed run: the HTTP status, or why it is incomplete; null when it is whole. */
export function errorType(run: CapturedRun): string | null {
  const { record } = run;
  if (record.incomplete === null) return null;
  return record.response.status !== null && record.incomplete.reason === 'http-status' ? String(record.response.status) : record.incomplete.reason;
}

/**
 * The attributes of a run's span. `server` is the URL the call went to (server.address and
 * server.port); `receipt` the receipt's path when it gets one.
 */
export function spanAttributes(run: CapturedRun, context: { server: URL | null; receipt: string | null }): Record<string, AttributeValue> {
  const { record } = run;
  const attributes: Record<string, AttributeValue> = {};
  const set = (key: string, value: AttributeValue | null | undefined) => {
    if (value !== null && value !== undefined) attributes[key] = value;
  };
  const model = run.composition?.model['name'];
  const served = record.served?.['model']?.value;
  set('gen_ai.operation.name', 'chat');
  set('gen_ai.provider.name', providerFor(record.format).upstream.name);
  set('gen_ai.request.model', typeof model === 'string' ? model : null);
  set('gen_ai.request.stream', requestStream(run));
  set('gen_ai.response.model', typeof served === 'string' ? served : null);
  if (record.output?.finishReason != null) set('gen_ai.response.finish_reasons', [record.output.finishReason]);
  const usage = tokens(record.output?.usage ?? null);
  set('gen_ai.usage.input_tokens', usage.input);
  set('gen_ai.usage.output_tokens', usage.output);
  if (record.format !== 'anthropic-messages') set('openai.api.type', record.format === 'openai-chat' ? 'chat_completions' : 'responses');
  if (context.server !== null) {
    set('server.address', context.server.hostname);
    set('server.port', Number(context.server.port || (context.server.protocol === 'https:' ? 443 : 80)));
  }
  set('error.type', errorType(run));
  set('runprint.capture.id', record.captureId);
  set('runprint.request.id', record.requestId);
  set('runprint.run.id', record.runId);
  set('runprint.receipt', context.receipt);
  if (run.identity !== null) {
    for (const [name, entry] of Object.entries(run.identity.components)) set(`runprint.component.${name}.digest`, `sha256:${entry.digest.sha256}`);
  }
  if (record.unidentified !== null) set('runprint.unidentified', record.unidentified.code);
  return attributes;
}
