/**
 * OpenTelemetry attributes of a captured run (issue: live capture, section 6): the GenAI semantic
 * conventions for inference client spans (open-telemetry/semantic-conventions-genai, "Semantic
 * conventions for OpenAI client operations" and gen-ai-spans.md), plus runprint's identities. One
 * source for the proxy's OTLP export (server/otlp.ts) and in-process spans (capture-node/otel.ts).
 * No content and no credential is ever an attribute.
 */
import type { JsonValue } from '../jcs/json-value.ts';
import { providerFor } from '../providers/registry.ts';
import type { RequestFormat } from '../providers/request-format.ts';
import type { CapturedRun } from './capture-run.ts';

export type AttributeValue = string | number | boolean | string[];

/**
 * The attributes whose type the conventions give as double: OTLP sends them as doubles even when
 * the value is a whole number (`"temperature": 1`); every other number is an int.
 */
export const DOUBLE_ATTRIBUTES: ReadonlySet<string> = new Set(['gen_ai.request.temperature', 'gen_ai.request.top_p', 'gen_ai.request.top_k', 'gen_ai.request.frequency_penalty', 'gen_ai.request.presence_penalty']);

/**
 * The request member that bounds the tokens generated, per API, first found first:
 * gen_ai.request.max_tokens. Chat Completions has `max_completion_tokens` and the older
 * `max_tokens`; Responses `max_output_tokens`; Anthropic Messages `max_tokens`.
 */
const MAX_TOKENS: Record<RequestFormat, readonly string[]> = {
  'openai-chat': ['max_completion_tokens', 'max_tokens'],
  'openai-responses': ['max_output_tokens'],
  'anthropic-messages': ['max_tokens'],
};

function integer(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** A member of a usage object when it is an object, else undefined (`prompt_tokens_details`, ...). */
function detail(usage: { [name: string]: JsonValue }, name: string): { [name: string]: JsonValue } | undefined {
  const value = usage[name];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

/**
 * Token counts from a provider's usage object (GenAI conventions, openai.md and anthropic.md):
 * OpenAI Chat names them prompt/completion, the others input/output. Tokens read from the
 * provider's prompt cache (`cacheRead`) are OpenAI's `prompt_tokens_details.cached_tokens` (Chat)
 * or `input_tokens_details.cached_tokens` (Responses), already counted in its input; Anthropic's
 * `cache_read_input_tokens`, with `cache_creation_input_tokens` (`cacheCreation`, written to the
 * cache), are not counted in its `input_tokens`, so the input is their sum (anthropic.md: MUST).
 * Reasoning tokens (`reasoning`, gen_ai.usage.reasoning.output_tokens) are OpenAI's
 * `completion_tokens_details.reasoning_tokens` (Chat) or `output_tokens_details.reasoning_tokens`
 * (Responses), already counted in its output (openai.md); Anthropic's usage reports none apart
 * (its `output_tokens` counts the thinking).
 */
function tokens(usage: JsonValue | null, format: RequestFormat): { input?: number; output?: number; cacheRead?: number; cacheCreation?: number; reasoning?: number } {
  if (usage === null || typeof usage !== 'object' || Array.isArray(usage)) return {};
  const output = integer(usage['output_tokens']) ?? integer(usage['completion_tokens']);
  let input: number | undefined;
  let cacheRead: number | undefined;
  let cacheCreation: number | undefined;
  let reasoning: number | undefined;
  if (format === 'anthropic-messages') {
    cacheRead = integer(usage['cache_read_input_tokens']);
    cacheCreation = integer(usage['cache_creation_input_tokens']);
    const own = integer(usage['input_tokens']);
    input = own === undefined ? undefined : own + (cacheRead ?? 0) + (cacheCreation ?? 0);
    if (input !== undefined && !Number.isSafeInteger(input)) input = undefined;
  } else {
    input = integer(usage['input_tokens']) ?? integer(usage['prompt_tokens']);
    cacheRead = integer(detail(usage, format === 'openai-chat' ? 'prompt_tokens_details' : 'input_tokens_details')?.['cached_tokens']);
    reasoning = integer(detail(usage, format === 'openai-chat' ? 'completion_tokens_details' : 'output_tokens_details')?.['reasoning_tokens']);
  }
  return {
    ...(input === undefined ? {} : { input }),
    ...(output === undefined ? {} : { output }),
    ...(cacheRead === undefined ? {} : { cacheRead }),
    ...(cacheCreation === undefined ? {} : { cacheCreation }),
    ...(reasoning === undefined ? {} : { reasoning }),
  };
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

/** A finite number (a sampling setting): what a double attribute takes. */
function finite(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * The request member that lists the sequences generation stops at, per API:
 * gen_ai.request.stop_sequences. Chat Completions has `stop` (a string or an array of them),
 * Anthropic Messages `stop_sequences`; Responses has none.
 */
const STOP: Record<RequestFormat, string | null> = {
  'openai-chat': 'stop',
  'openai-responses': null,
  'anthropic-messages': 'stop_sequences',
};

/** A stop member as gen_ai.request.stop_sequences takes it: a string as a list of one, a list of strings as it is; an empty list, null or another shape gives none. */
function stopSequences(value: JsonValue | undefined): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === 'string')) return undefined;
  return [...(value as string[])];
}

/**
 * The settings of the request, from its parameters component (the request's own members, as
 * sent; absent ones give no attribute): gen_ai.request.temperature, top_p, top_k (Anthropic's, and
 * an OpenAI-compatible server's), frequency_penalty and presence_penalty (doubles), max_tokens,
 * stop_sequences (STOP), and for Chat Completions choice.count (`n`, only when it is not 1: the
 * conventions' condition) and seed (ints). None when the parameters are salted (the receipt and
 * the log hold only a commitment to them, SPEC 5.6) or kept by digest only (`keep`): they are
 * content then, and no content is an attribute.
 */
function requestSettings(run: CapturedRun, keep: 'content' | 'digest'): { temperature?: number; topP?: number; topK?: number; frequencyPenalty?: number; presencePenalty?: number; maxTokens?: number; stop?: string[]; choices?: number; seed?: number } {
  const parameters = run.composition?.parameters;
  if (parameters === undefined || keep === 'digest' || run.identity?.components.parameters.salted === true) return {};
  const own = (name: string) => (Object.hasOwn(parameters, name) ? parameters[name] : undefined);
  const temperature = finite(own('temperature'));
  const topP = finite(own('top_p'));
  const topK = finite(own('top_k'));
  const frequencyPenalty = finite(own('frequency_penalty'));
  const presencePenalty = finite(own('presence_penalty'));
  const maxTokens = MAX_TOKENS[run.record.format].map((name) => integer(own(name))).find((value) => value !== undefined);
  const stopMember = STOP[run.record.format];
  const stop = stopMember === null ? undefined : stopSequences(own(stopMember));
  const chat = run.record.format === 'openai-chat';
  const n = chat ? integer(own('n')) : undefined;
  const seed = chat ? integer(own('seed')) : undefined;
  return {
    ...(temperature === undefined ? {} : { temperature }),
    ...(topP === undefined ? {} : { topP }),
    ...(topK === undefined ? {} : { topK }),
    ...(frequencyPenalty === undefined ? {} : { frequencyPenalty }),
    ...(presencePenalty === undefined ? {} : { presencePenalty }),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(stop === undefined ? {} : { stop }),
    ...(n === undefined || n === 1 ? {} : { choices: n }),
    ...(seed === undefined ? {} : { seed }),
  };
}

/**
 * openai.request.service_tier: the `service_tier` an OpenAI request asked for, from its
 * configuration component; absent when the request gives none or gives `auto` (openai.md: only
 * when it is not `auto`), and when the configuration is salted or kept by digest only (`keep`):
 * it is content then, like the parameters (requestSettings).
 */
function requestServiceTier(run: CapturedRun, keep: 'content' | 'digest'): string | undefined {
  const configuration = run.composition?.configuration;
  if (configuration === undefined || keep === 'digest' || run.identity?.components.configuration.salted === true) return undefined;
  const tier = Object.hasOwn(configuration, 'service_tier') ? configuration['service_tier'] : undefined;
  return typeof tier === 'string' && tier !== 'auto' ? tier : undefined;
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
 * server.port); `receipt` the receipt's path when it gets one; `parameters` and `configuration`
 * how the run store keeps those components (`--capture-keep parameters=digest`: no sampling
 * setting is an attribute; `configuration=digest`: no requested service tier; default `content`).
 */
export function spanAttributes(run: CapturedRun, context: { server: URL | null; receipt: string | null; parameters?: 'content' | 'digest'; configuration?: 'content' | 'digest' }): Record<string, AttributeValue> {
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
  const settings = requestSettings(run, context.parameters ?? 'content');
  set('gen_ai.request.temperature', settings.temperature);
  set('gen_ai.request.top_p', settings.topP);
  set('gen_ai.request.top_k', settings.topK);
  set('gen_ai.request.frequency_penalty', settings.frequencyPenalty);
  set('gen_ai.request.presence_penalty', settings.presencePenalty);
  set('gen_ai.request.max_tokens', settings.maxTokens);
  set('gen_ai.request.stop_sequences', settings.stop);
  set('gen_ai.request.choice.count', settings.choices);
  set('gen_ai.request.seed', settings.seed);
  set('gen_ai.response.id', run.responseId);
  set('gen_ai.response.model', typeof served === 'string' ? served : null);
  // One reason per choice (Chat Completions with `n` > 1), else the answer's one.
  if (run.finishReasons !== undefined) set('gen_ai.response.finish_reasons', [...run.finishReasons]);
  else if (record.output?.finishReason != null) set('gen_ai.response.finish_reasons', [record.output.finishReason]);
  const usage = tokens(record.output?.usage ?? null, record.format);
  set('gen_ai.usage.input_tokens', usage.input);
  set('gen_ai.usage.output_tokens', usage.output);
  set('gen_ai.usage.cache_read.input_tokens', usage.cacheRead);
  set('gen_ai.usage.cache_creation.input_tokens', usage.cacheCreation);
  set('gen_ai.usage.reasoning.output_tokens', usage.reasoning);
  if (record.format !== 'anthropic-messages') {
    set('openai.api.type', record.format === 'openai-chat' ? 'chat_completions' : 'responses');
    set('openai.request.service_tier', requestServiceTier(run, context.configuration ?? 'content'));
    // Served facts the answer reports (SPEC 4.6), in the receipt in the clear.
    const tier = record.served?.['serviceTier']?.value;
    const fingerprint = record.served?.['systemFingerprint']?.value;
    set('openai.response.service_tier', typeof tier === 'string' ? tier : null);
    set('openai.response.system_fingerprint', typeof fingerprint === 'string' ? fingerprint : null);
  }
  if (context.server !== null) {
    set('server.address', context.server.hostname);
    set('server.port', Number(context.server.port || (context.server.protocol === 'https:' ? 443 : 80)));
  }
  set('error.type', errorType(run));
  set('runprint.capture.id', record.captureId);
  set('runprint.request.id', record.requestId);
  set('runprint.run.id', record.runId);
  // The runs this one follows from (agent steps: withSteps, runprint-steps, runprint-parent).
  if (record.parents.length > 0) set('runprint.run.parents', [...record.parents]);
  set('runprint.receipt', context.receipt);
  if (run.identity !== null) {
    for (const [name, entry] of Object.entries(run.identity.components)) set(`runprint.component.${name}.digest`, `sha256:${entry.digest.sha256}`);
  }
  if (record.unidentified !== null) set('runprint.unidentified', record.unidentified.code);
  return attributes;
}
