/** docs/SPEC.md section 12.3: the output of an OpenAI Responses response and of its event stream. */
import { canonicalize } from '../jcs/index.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../jcs/json-value.ts';
import {
  eventObject, eventType, incomplete, invalid, member, objectOf, rejectErrorObject, requiredArray,
  requiredIndex, requiredObject, requiredString, without, type AssembledOutput,
} from './output-reading.ts';
import type { SseEvent } from './output-sse.ts';

/** Members of an output item that identify it rather than hold output (SPEC 12.3). */
const ITEM_IDS = new Set(['id', 'call_id']);
/** The statuses of a finished response; any other is not an output yet. */
const FINISHED = new Set(['completed', 'incomplete']);

function outputItem(item: JsonValue, where: string): JsonObject {
  if (!isJsonObject(item)) invalid(`${where} must be an object`);
  requiredString(item, 'type', where);
  return without(item, ITEM_IDS);
}

/** SPEC 12.3: a non-streamed `response`, or the one a stream's terminal event carries. */
export function responsesOutputFromResponse(response: JsonObject): AssembledOutput {
  rejectErrorObject(response, 'response');
  if (member(response, 'object') !== 'response') invalid('response "object" is not "response"');
  const status = requiredString(response, 'status', 'response');
  if (!FINISHED.has(status)) invalid('response "status" is not "completed" or "incomplete"');
  const details = member(response, 'incomplete_details') ?? null;
  if (details !== null && !isJsonObject(details)) {
    invalid('response "incomplete_details" must be an object or null');
  }
  const items = requiredArray(response, 'output', 'response')
    .map((item, i) => outputItem(item, `output[${i}]`));
  const output = objectOf([['status', status], ['incomplete_details', details], ['output', items]]);
  let finishReason = status;
  if (status === 'incomplete') {
    const reason = details === null ? undefined : member(details, 'reason');
    if (typeof reason !== 'string') {
      invalid('response "incomplete_details.reason" must be a string when "status" is "incomplete"');
    }
    finishReason = reason;
  }
  return { output, finishReason, usage: member(response, 'usage') ?? null, servedFrom: response };
}

/** What the deltas of one output item added up to, to be checked against the terminal event. */
interface StreamedItem {
  done: JsonObject | undefined;
  /** content index -> concatenated output_text or refusal deltas */
  parts: Map<number, { key: 'text' | 'refusal'; text: string }>;
  arguments: string | undefined;
}

const TERMINAL = new Set(['response.completed', 'response.incomplete']);

function streamedItem(items: StreamedItem[], data: JsonObject, where: string, type: string): StreamedItem {
  const index = requiredIndex(data, 'output_index', where);
  const item = items[index];
  if (item === undefined) incomplete(`${where}: ${type} for output item ${index} that was never started`);
  return item;
}

/** Every delta and every output_item.done must agree with the terminal event's output. */
function checkAgainst(items: StreamedItem[], final: JsonValue[]): void {
  if (final.length !== items.length) {
    invalid('the terminal event has a different number of output items than the stream started');
  }
  for (const [index, item] of items.entries()) {
    const finalItem = final[index];
    if (!isJsonObject(finalItem)) invalid(`output[${index}] must be an object`);
    if (item.done === undefined) incomplete(`output item ${index} has no response.output_item.done`);
    const streamed = canonicalize(outputItem(item.done, `output item ${index}`));
    if (streamed !== canonicalize(outputItem(finalItem, `output[${index}]`))) {
      invalid(`output item ${index} differs between response.output_item.done and the terminal event`);
    }
    if (item.arguments !== undefined && member(finalItem, 'arguments') !== item.arguments) {
      invalid(`output item ${index}: the arguments deltas differ from the terminal event`);
    }
    for (const [contentIndex, part] of item.parts) {
      const content = member(finalItem, 'content');
      const finalPart = Array.isArray(content) ? content[contentIndex] : undefined;
      if (!isJsonObject(finalPart) || member(finalPart, part.key) !== part.text) {
        invalid(`output item ${index} content ${contentIndex}: the deltas differ from the terminal event`);
      }
    }
  }
}

/** SPEC 12.3: typed events ended by response.completed or response.incomplete. */
export function responsesOutputFromStream(events: readonly SseEvent[]): AssembledOutput {
  const items: StreamedItem[] = [];
  let final: JsonObject | undefined;
  for (const [position, event] of events.entries()) {
    const number = position + 1;
    const where = `stream event ${number}`;
    if (final !== undefined) invalid(`${where} follows the terminal event`);
    const data = eventObject(event, number);
    const type = eventType(event, data, number);
    if (type === 'error') invalid(`${where} is an error event`);
    if (type === 'response.failed') invalid(`${where}: the response failed`);
    if (TERMINAL.has(type)) {
      final = requiredObject(data, 'response', where);
      continue;
    }
    switch (type) {
      case 'response.output_item.added': {
        const index = requiredIndex(data, 'output_index', where);
        if (index !== items.length) invalid(`${where}: output item ${index} starts out of order`);
        requiredObject(data, 'item', where);
        items.push({ done: undefined, parts: new Map(), arguments: undefined });
        break;
      }
      case 'response.output_item.done':
        streamedItem(items, data, where, type).done = requiredObject(data, 'item', where);
        break;
      case 'response.output_text.delta':
      case 'response.refusal.delta': {
        const item = streamedItem(items, data, where, type);
        const contentIndex = requiredIndex(data, 'content_index', where);
        const key = type === 'response.refusal.delta' ? 'refusal' : 'text';
        const part = item.parts.get(contentIndex) ?? { key, text: '' };
        if (part.key !== key) invalid(`${where}: content ${contentIndex} mixes text and refusal deltas`);
        part.text += requiredString(data, 'delta', where);
        item.parts.set(contentIndex, part);
        break;
      }
      case 'response.function_call_arguments.delta': {
        const item = streamedItem(items, data, where, type);
        item.arguments = (item.arguments ?? '') + requiredString(data, 'delta', where);
        break;
      }
      default:
        // Lifecycle events and events of built-in tools carry no output of their own: the terminal
        // event's response holds it.
        break;
    }
  }
  if (final === undefined) incomplete('stream ends without response.completed or response.incomplete');
  checkAgainst(items, requiredArray(final, 'output', 'terminal event response'));
  return responsesOutputFromResponse(final);
}
