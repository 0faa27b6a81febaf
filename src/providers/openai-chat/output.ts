/** docs/SPEC.md section 12.2: the output of an OpenAI Chat Completions response and of its chunk stream. */
import type { JsonObject, JsonValue } from '../../jcs/json-value.ts';
import { isJsonObject } from '../../jcs/json-value.ts';
import {
  contradiction, eventObject, incomplete, invalid, member, objectOf, optionalString, outOfOrder,
  providerError, rejectErrorObject, requiredArray, requiredIndex, requiredObject, requiredString,
  unsupported, type AssembledOutput,
} from '../output-reading.ts';
import type { SseEvent } from '../output-sse.ts';

/** One choice as both forms reduce to it (SPEC 12.2). */
interface Choice {
  index: number;
  role: string | null;
  content: string | null;
  refusal: string | null;
  toolCalls: JsonValue[];
  functionCall: { name: string; arguments: string } | null;
  finishReason: string | null | undefined;
}

/** SPEC 12.2: `{"choices": [...]}`, choices by index; "" content or refusal is null. */
function assemble(
  choices: Choice[],
  usage: JsonValue | null,
  servedFrom: JsonValue | undefined,
): AssembledOutput {
  const sorted = [...choices].sort((a, b) => a.index - b.index);
  const values = sorted.map((choice) => {
    const message = objectOf([
      ['role', choice.role],
      ['content', choice.content === '' ? null : choice.content],
      ['refusal', choice.refusal === '' ? null : choice.refusal],
    ]);
    if (choice.toolCalls.length > 0) message['tool_calls'] = choice.toolCalls;
    if (choice.functionCall !== null) {
      const { name, arguments: args } = choice.functionCall;
      message['function_call'] = objectOf([['name', name], ['arguments', args]]);
    }
    return objectOf([
      ['index', choice.index],
      ['message', message],
      ['finish_reason', choice.finishReason ?? null],
    ]);
  });
  const assembled: AssembledOutput = {
    output: objectOf([['choices', values]]),
    finishReason: sorted[0]?.finishReason ?? null,
    usage,
    servedFrom,
  };
  // Telemetry's gen_ai.response.finish_reasons: one per choice (those that have one).
  if (sorted.length > 1) assembled.finishReasons = sorted.flatMap((choice) => (typeof choice.finishReason === 'string' ? [choice.finishReason] : []));
  return assembled;
}

function toolCallOf(name: string, args: string): JsonObject {
  return objectOf([['type', 'function'], ['function', objectOf([['name', name], ['arguments', args]])]]);
}

/** A tool call of a non-streamed message: its `id` is left out (SPEC 12.2). */
function responseToolCall(call: JsonValue, where: string): JsonValue {
  if (!isJsonObject(call)) invalid(`${where} must be an object`);
  const type = requiredString(call, 'type', where);
  if (type === 'function') {
    const fn = requiredObject(call, 'function', where);
    const at = `${where}.function`;
    return toolCallOf(requiredString(fn, 'name', at), requiredString(fn, 'arguments', at));
  }
  if (type === 'custom') {
    const custom = requiredObject(call, 'custom', where);
    const name = requiredString(custom, 'name', `${where}.custom`);
    const input = requiredString(custom, 'input', `${where}.custom`);
    return objectOf([['type', 'custom'], ['custom', objectOf([['name', name], ['input', input]])]]);
  }
  return unsupported(`${where} "type" is not a known tool call type`);
}

/** SPEC 12.2: a non-streamed `chat.completion`. */
export function chatOutputFromResponse(response: JsonObject): AssembledOutput {
  rejectErrorObject(response, 'response');
  if (member(response, 'object') !== 'chat.completion') invalid('response "object" is not "chat.completion"');
  const seen = new Set<number>();
  const choices = requiredArray(response, 'choices', 'response').map((value, position): Choice => {
    const where = `choices[${position}]`;
    if (!isJsonObject(value)) invalid(`${where} must be an object`);
    const index = requiredIndex(value, 'index', where);
    if (seen.has(index)) invalid(`${where} repeats choice index ${index}`);
    seen.add(index);
    const message = requiredObject(value, 'message', where);
    const calls = member(message, 'tool_calls');
    if (calls !== undefined && calls !== null && !Array.isArray(calls)) {
      invalid(`${where}.message "tool_calls" must be an array or null`);
    }
    const fn = member(message, 'function_call');
    let functionCall: Choice['functionCall'] = null;
    if (fn !== undefined && fn !== null) {
      if (!isJsonObject(fn)) invalid(`${where}.message "function_call" must be an object or null`);
      functionCall = {
        name: requiredString(fn, 'name', `${where}.message.function_call`),
        arguments: requiredString(fn, 'arguments', `${where}.message.function_call`),
      };
    }
    return {
      index,
      role: requiredString(message, 'role', `${where}.message`),
      content: optionalString(message, 'content', `${where}.message`) ?? null,
      refusal: optionalString(message, 'refusal', `${where}.message`) ?? null,
      toolCalls: (calls ?? []).map((call, i) => responseToolCall(call, `${where}.message.tool_calls[${i}]`)),
      functionCall,
      finishReason: optionalString(value, 'finish_reason', where) ?? null,
    };
  });
  return assemble(choices, member(response, 'usage') ?? null, response);
}

interface StreamedCall {
  name: string;
  arguments: string;
}

interface StreamedChoice extends Choice {
  calls: Map<number, StreamedCall>;
}

function applyToolCalls(choice: StreamedChoice, calls: JsonValue, where: string): void {
  if (calls === null) return;
  if (!Array.isArray(calls)) invalid(`${where} "tool_calls" must be an array`);
  for (const [position, call] of calls.entries()) {
    const at = `${where}.tool_calls[${position}]`;
    if (!isJsonObject(call)) invalid(`${at} must be an object`);
    const index = requiredIndex(call, 'index', at);
    const type = optionalString(call, 'type', at);
    if (type !== undefined && type !== null && type !== 'function') {
      unsupported(`${at} "type" is not "function"`);
    }
    const fn = member(call, 'function');
    if (fn !== undefined && !isJsonObject(fn)) invalid(`${at} "function" must be an object`);
    const name = fn === undefined ? undefined : optionalString(fn, 'name', `${at}.function`);
    const args = fn === undefined ? undefined : optionalString(fn, 'arguments', `${at}.function`);
    let state = choice.calls.get(index);
    if (state === undefined) {
      if (typeof name !== 'string' || name === '') {
        outOfOrder(`${at}: delta for tool call index ${index} that was never started`);
      }
      state = { name, arguments: '' };
      choice.calls.set(index, state);
    } else if (typeof name === 'string' && name !== '' && name !== state.name) {
      contradiction(`${at}: tool call index ${index} is given a second name`);
    }
    if (typeof args === 'string') state.arguments += args;
  }
}

function applyFunctionCall(choice: StreamedChoice, fn: JsonValue, where: string): void {
  if (fn === null) return;
  if (!isJsonObject(fn)) invalid(`${where} "function_call" must be an object`);
  const name = optionalString(fn, 'name', `${where}.function_call`);
  const args = optionalString(fn, 'arguments', `${where}.function_call`);
  if (choice.functionCall === null) {
    if (typeof name !== 'string' || name === '') {
      outOfOrder(`${where}: function_call delta that was never started`);
    }
    choice.functionCall = { name, arguments: '' };
  } else if (typeof name === 'string' && name !== '' && name !== choice.functionCall.name) {
    contradiction(`${where}: function_call is given a second name`);
  }
  if (typeof args === 'string') choice.functionCall.arguments += args;
}

function applyChoice(choices: Map<number, StreamedChoice>, value: JsonValue, where: string): void {
  if (!isJsonObject(value)) invalid(`${where} must be an object`);
  const index = requiredIndex(value, 'index', where);
  let choice = choices.get(index);
  if (choice === undefined) {
    choice = {
      index,
      role: null,
      content: null,
      refusal: null,
      toolCalls: [],
      functionCall: null,
      finishReason: undefined,
      calls: new Map(),
    };
    choices.set(index, choice);
  }
  const delta = member(value, 'delta');
  if (delta !== undefined && delta !== null && !isJsonObject(delta)) invalid(`${where} "delta" must be an object`);
  if (isJsonObject(delta)) {
    const at = `${where}.delta`;
    // Types first, then order: after its finish_reason a choice takes no more content. Content is
    // a non-empty content or refusal string, a non-empty tool_calls array, or a function_call
    // object; "", null, absence and [] change nothing and are allowed (SPEC 12.2).
    const content = optionalString(delta, 'content', at);
    const refusal = optionalString(delta, 'refusal', at);
    const calls = member(delta, 'tool_calls');
    if (calls !== undefined && calls !== null && !Array.isArray(calls)) invalid(`${at} "tool_calls" must be an array`);
    const fn = member(delta, 'function_call');
    if (fn !== undefined && fn !== null && !isJsonObject(fn)) invalid(`${at} "function_call" must be an object`);
    const role = optionalString(delta, 'role', at);
    optionalString(value, 'finish_reason', where);
    const carries = (typeof content === 'string' && content !== '') || (typeof refusal === 'string' && refusal !== '')
      || (Array.isArray(calls) && calls.length > 0) || isJsonObject(fn);
    if (carries && typeof choice.finishReason === 'string') {
      outOfOrder(`${where}: delta for choice index ${index} after its finish_reason`);
    }
    if (typeof role === 'string') {
      if (choice.role !== null && choice.role !== role) {
        contradiction(`${at}: choice index ${index} changes its role`);
      }
      choice.role = role;
    }
    if (typeof content === 'string') choice.content = (choice.content ?? '') + content;
    if (typeof refusal === 'string') choice.refusal = (choice.refusal ?? '') + refusal;
    if (calls !== undefined) applyToolCalls(choice, calls, at);
    if (fn !== undefined) applyFunctionCall(choice, fn, at);
  }
  const finish = optionalString(value, 'finish_reason', where);
  if (typeof finish === 'string') {
    if (typeof choice.finishReason === 'string' && choice.finishReason !== finish) {
      contradiction(`${where}: choice index ${index} has two finish reasons`);
    }
    choice.finishReason = finish;
  }
}

/**
 * SPEC 12.2: an Azure OpenAI content-filter annotation: `object` is the empty string and no element
 * of `choices` (often none) has a `delta`. It carries filter results, not output, and is skipped.
 */
function isFilterAnnotation(chunk: JsonObject): boolean {
  if (member(chunk, 'object') !== '') return false;
  const choices = member(chunk, 'choices');
  return Array.isArray(choices) && choices.every((choice) => isJsonObject(choice) && member(choice, 'delta') === undefined);
}

/** SPEC 12.2: a stream of `chat.completion.chunk` events ended by `data: [DONE]`. */
export function chatOutputFromStream(events: readonly SseEvent[]): AssembledOutput {
  const choices = new Map<number, StreamedChoice>();
  let done = false;
  let usage: JsonValue | null = null;
  let first: JsonObject | undefined;
  for (const [position, event] of events.entries()) {
    const number = position + 1;
    if (done) outOfOrder(`stream event ${number} follows data: [DONE]`);
    if (event.data === '[DONE]') {
      done = true;
      finishChoices(choices);
      continue;
    }
    const chunk = eventObject(event, number, () => events.slice(position + 1).some((later) => later.data === '[DONE]'));
    if (event.event === 'error') providerError(`stream event ${number} is an error event`);
    rejectErrorObject(chunk, `stream event ${number}`);
    if (isFilterAnnotation(chunk)) continue;
    if (member(chunk, 'object') !== 'chat.completion.chunk') {
      invalid(`stream event ${number} "object" is not "chat.completion.chunk"`);
    }
    first ??= chunk;
    const chunkUsage = member(chunk, 'usage');
    if (chunkUsage !== undefined && chunkUsage !== null) usage = chunkUsage;
    for (const [i, value] of requiredArray(chunk, 'choices', `stream event ${number}`).entries()) {
      applyChoice(choices, value, `stream event ${number} choices[${i}]`);
    }
  }
  if (!done) incomplete('stream ends without data: [DONE]', false);
  return assemble([...choices.values()], usage, first);
}

/** At data: [DONE]: every choice has a role and a finish reason; its tool calls by index. */
function finishChoices(choices: Map<number, StreamedChoice>): void {
  for (const choice of choices.values()) {
    if (choice.finishReason === undefined || choice.finishReason === null) {
      incomplete(`choice index ${choice.index} ends without a finish_reason`, true);
    }
    if (choice.role === null) incomplete(`choice index ${choice.index} has no role`, true);
    choice.toolCalls = [...choice.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, call]) => toolCallOf(call.name, call.arguments));
  }
}
