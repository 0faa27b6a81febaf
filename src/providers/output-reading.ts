/** docs/SPEC.md section 12.1: reading untrusted response bodies and stream events; the output failures. */
import { JsonError, OutputError } from '../errors.ts';
import { parseJson } from '../jcs/index.ts';
import { createJsonObject, isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import { member, setMember } from './request-format.ts';
import type { SseEvent } from './output-sse.ts';

/*
 * Messages are fixed sentences that name the member, the event number or the index concerned;
 * they never repeat content from the body (which holds the model's output and may hold secrets).
 */

/** What an assembler gives back for one response or one stream. */
export interface AssembledOutput {
  /** The output value of SPEC 12.2-12.4, the same for a response and its stream. */
  output: JsonValue;
  finishReason: string | null;
  /** Each choice's finish reason, by index, when the answer has more than one choice (Chat Completions' `n`); else absent. */
  finishReasons?: string[];
  usage: JsonValue | null;
  /** The object servedFromResponse reads: the response, or what the stream says of it. */
  servedFrom: JsonValue | undefined;
}

/** Input that can be read but is broken or ambiguous: an error body, a wrong type, a mismatch. */
export function invalid(message: string): never {
  throw new OutputError('ERR_OUTPUT_INVALID', message);
}

/**
 * ERR_OUTPUT_INCOMPLETE_STREAM, and whether the stream's end event arrived. The code and message
 * are SPEC 12's; `endEventSeen` is runprint's own, for telling a record's reasons apart (`cut`:
 * the body stopped before its end event; `unreadable-output`: the end event arrived, but found
 * something unfinished, or an event before it was garbled).
 */
export class IncompleteStreamError extends OutputError {
  readonly endEventSeen: boolean;

  constructor(message: string, endEventSeen: boolean) {
    super('ERR_OUTPUT_INCOMPLETE_STREAM', message);
    this.endEventSeen = endEventSeen;
  }
}

/**
 * A stream that ends before its end event (`endEventSeen` false), or whose end event finds
 * something unfinished (true).
 */
export function incomplete(message: string, endEventSeen: boolean): never {
  throw new IncompleteStreamError(message, endEventSeen);
}

/** A body in which the provider reports an error: an error body, an error event, a failed response. */
export function providerError(message: string): never {
  throw new OutputError('ERR_OUTPUT_PROVIDER_ERROR', message);
}

/** An event that the state table forbids where it comes (before the start, after the end, out of turn). */
export function outOfOrder(message: string): never {
  throw new OutputError('ERR_OUTPUT_EVENT_ORDER', message);
}

/** A stream that says two different things about one value. */
export function contradiction(message: string): never {
  throw new OutputError('ERR_OUTPUT_CONTRADICTION', message);
}

/** Well-formed input that SPEC 12 gives no assembly rule for (a delta or tool call type it does not know). */
export function unsupported(message: string): never {
  throw new OutputError('ERR_OUTPUT_UNSUPPORTED', message);
}

/** The member `key`, or undefined when it is absent. */
export { member };

/** A string member; `undefined` when absent, `null` when null; any other type is rejected. */
export function optionalString(object: JsonObject, key: string, where: string): string | null | undefined {
  const value = member(object, key);
  if (value === undefined || value === null || typeof value === 'string') return value;
  return invalid(`${where} "${key}" must be a string or null`);
}

/** A string member that must be present. */
export function requiredString(object: JsonObject, key: string, where: string): string {
  const value = member(object, key);
  if (typeof value !== 'string') invalid(`${where} "${key}" must be a string`);
  return value;
}

/** An object member that must be present. */
export function requiredObject(object: JsonObject, key: string, where: string): JsonObject {
  const value = member(object, key);
  if (!isJsonObject(value)) invalid(`${where} "${key}" must be an object`);
  return value;
}

/** An array member that must be present. */
export function requiredArray(object: JsonObject, key: string, where: string): JsonValue[] {
  const value = member(object, key);
  if (!Array.isArray(value)) invalid(`${where} "${key}" must be an array`);
  return value;
}

/** A non-negative integer member that must be present (an index). */
export function requiredIndex(object: JsonObject, key: string, where: string): number {
  const value = member(object, key);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    invalid(`${where} "${key}" must be a non-negative integer`);
  }
  return value;
}

/** An error body or event: a non-null `error` member, or `type: "error"` (ERR_OUTPUT_PROVIDER_ERROR). */
export function rejectErrorObject(object: JsonObject, where: string): void {
  const error = member(object, 'error');
  if ((error !== undefined && error !== null) || member(object, 'type') === 'error') {
    providerError(`${where} is an error object`);
  }
}

/**
 * The JSON object carried by stream event `number` (counted from 1). Data that is not JSON is a
 * stream cut or garbled in transit: ERR_OUTPUT_INCOMPLETE_STREAM; `endFollows` tells which (only
 * then asked): whether the stream's end event comes after this event.
 */
export function eventObject(event: SseEvent, number: number, endFollows: () => boolean): JsonObject {
  let value: JsonValue;
  try {
    value = parseJson(event.data);
  } catch (error) {
    if (error instanceof JsonError) incomplete(`stream event ${number} is not valid JSON (${error.code})`, endFollows());
    throw error;
  }
  if (!isJsonObject(value)) invalid(`stream event ${number} is not a JSON object`);
  return value;
}

/**
 * Whether `events` hold, at position `from` or later, a typed event of one of `types` (by the
 * `type` of its data, or by its `event:` name, which a garbled event keeps): a stream's end event,
 * looked for from a garbled event on. Data that is not JSON names no type.
 */
export function typedEventFrom(events: readonly SseEvent[], from: number, types: ReadonlySet<string>): boolean {
  for (const event of events.slice(from)) {
    if (event.event !== null && types.has(event.event)) return true;
    let data: JsonValue;
    try {
      data = parseJson(event.data);
    } catch (error) {
      if (error instanceof JsonError) continue;
      throw error;
    }
    const type = isJsonObject(data) ? member(data, 'type') : undefined;
    if (typeof type === 'string' && types.has(type)) return true;
  }
  return false;
}

/** The `type` of a typed event, which must agree with its `event:` name when the stream gives one. */
export function eventType(event: SseEvent, data: JsonObject, number: number): string {
  const type = member(data, 'type');
  if (typeof type !== 'string') invalid(`stream event ${number} has no string "type"`);
  if (event.event !== null && event.event !== type) {
    invalid(`stream event ${number} has an "event" name that differs from its "type"`);
  }
  return type;
}

/** A copy of `object` without the members named in `drop`; names such as `__proto__` stay members. */
export function without(object: JsonObject, drop: ReadonlySet<string>): JsonObject {
  const copy = createJsonObject();
  for (const key of Object.keys(object)) {
    if (!drop.has(key)) setMember(copy, key, object[key] as JsonValue);
  }
  return copy;
}

/** A new null-prototype object with the given members, in order. */
export function objectOf(entries: ReadonlyArray<readonly [string, JsonValue]>): JsonObject {
  const object = createJsonObject();
  for (const [key, value] of entries) setMember(object, key, value);
  return object;
}
