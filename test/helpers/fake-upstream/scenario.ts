/**
 * What a fake upstream answers to one request: the scenario a test scripts, and the reply the
 * provider modules build from it (a JSON body or a list of framed SSE events).
 */

/** Timing and failure knobs every scenario has. */
export interface Timing {
  /** Wait this long before sending the status line and headers (client timeouts). */
  headersDelayMs?: number;
  /** Wait this long between two SSE events (a slow stream). */
  eventDelayMs?: number;
  /** Destroy the socket after this many SSE events were written (a stream cut off). */
  cutAfterEvents?: number;
  /** Destroy the socket after this many bytes of a JSON body were written (content-length stays the full size). */
  cutAfterBytes?: number;
  /** Replace the stream from this event on by the provider's mid-stream error event, then end the body. */
  errorAfterEvents?: number;
  /**
   * With `resume`: write the SSE events before this index, then hold the stream open (nothing more
   * written, the connection kept) until `resume` settles, or until the client goes away.
   */
  pauseBeforeEvent?: number;
  /** What a paused stream waits for (see pauseBeforeEvent): a test resolves it to let the stream go on. */
  resume?: Promise<unknown>;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** The served model: by default the dated snapshot of the requested alias (see SERVED_MODELS). */
export interface Served {
  servedModel?: string;
}

/** A plain text answer; a structured-output answer is a text answer whose text is the JSON document. */
export interface TextScenario extends Timing, Served {
  kind: 'text';
  text: string;
}

/** One function call: `arguments` is the JSON text exactly as the model "generated" it. */
export interface ToolCall {
  name: string;
  arguments: string;
}

/** Tool calls, streamed with their arguments split in `argumentPieces` pieces (default 3), after optional text. */
export interface ToolCallsScenario extends Timing, Served {
  kind: 'tool-calls';
  calls: ToolCall[];
  text?: string;
  argumentPieces?: number;
}

/** An error status with the provider's real error body shape. */
export interface ErrorScenario extends Timing {
  kind: 'error';
  status: number;
  message?: string;
}

export type Scenario = TextScenario | ToolCallsScenario | ErrorScenario;

/** The default answer when a test scripted nothing. */
export const DEFAULT_SCENARIO: TextScenario = { kind: 'text', text: 'Hello from the fake upstream.' };

/** Alias -> dated snapshot, as the real services answer (request `gpt-4o`, served `gpt-4o-2024-08-06`). */
export const SERVED_MODELS: Readonly<Record<string, string>> = {
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'claude-sonnet-4-5': 'claude-sonnet-4-5-20250929',
  'claude-3-5-haiku-latest': 'claude-3-5-haiku-20241022',
};

export const SYSTEM_FINGERPRINT = 'fp_fake0001';

/** Per-request values: ids, timestamps, token counts. Deterministic unless the fake was told otherwise. */
export interface AnswerContext {
  /** A fresh id with the provider's prefix (`chatcmpl-`, `resp_`, `msg_`, `toolu_`, ...). */
  id(prefix: string): string;
  /** Unix seconds. */
  created: number;
  /** Appended to every text answer: '' when deterministic, a random tag otherwise. */
  variation: string;
  /** Size of the request body, from which the fake derives its input token count. */
  requestBytes: number;
}

export type Reply =
  | { type: 'json'; status: number; headers: Record<string, string>; body: unknown }
  | { type: 'sse'; status: number; headers: Record<string, string>; events: string[] };

export function servedModel(scenario: Served, requested: unknown): string {
  if (scenario.servedModel !== undefined) return scenario.servedModel;
  const model = typeof requested === 'string' ? requested : 'unknown-model';
  return SERVED_MODELS[model] ?? model;
}

/** Splits text in word-sized pieces (each piece keeps its trailing white space); '' gives no piece. */
export function textPieces(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/gu) ?? [];
}

/** Splits a string in `count` pieces of about equal length, never inside a code point. */
export function splitInPieces(text: string, count: number): string[] {
  const points = Array.from(text);
  const size = Math.max(1, Math.ceil(points.length / Math.max(1, count)));
  const pieces: string[] = [];
  for (let start = 0; start < points.length; start += size) pieces.push(points.slice(start, start + size).join(''));
  return pieces;
}

export function outputTokens(scenario: TextScenario | ToolCallsScenario): number {
  const text = scenario.kind === 'text' ? scenario.text : (scenario.text ?? '');
  const calls = scenario.kind === 'tool-calls' ? scenario.calls.map((call) => call.arguments).join('') : '';
  return Math.max(1, textPieces(text).length + Math.ceil(calls.length / 4));
}

export function inputTokens(context: AnswerContext): number {
  return Math.max(1, Math.ceil(context.requestBytes / 4));
}

/** The first `count` events, then `error` (when `count` is undefined: all events, no error). */
export function failAfter(events: string[], count: number | undefined, error: (sequence: number) => string): string[] {
  if (count === undefined) return events;
  return [...events.slice(0, count), error(Math.min(count, events.length))];
}

/** `data: JSON` and an empty line (OpenAI Chat Completions framing). */
export function dataEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** `event: TYPE`, `data: JSON` and an empty line (Responses and Anthropic framing). */
export function typedEvent(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}
