/** docs/SPEC.md section 12.3: the output of an OpenAI Responses response and of its event stream. */
import { canonicalize } from '../../jcs/index.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../../jcs/json-value.ts';
import {
  contradiction, eventObject, eventType, incomplete, invalid, member, objectOf, outOfOrder, providerError,
  rejectErrorObject, requiredArray, requiredIndex, requiredObject, requiredString, typedEventFrom, without,
  type AssembledOutput,
} from '../output-reading.ts';
import type { SseEvent } from '../output-sse.ts';

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
  if (status === 'failed') providerError('response "status" is "failed"');
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
  /** The item of its response.output_item.done; undefined while the item is open. */
  done: JsonObject | undefined;
  /** content index -> concatenated output_text or refusal deltas */
  parts: Map<number, { key: 'text' | 'refusal'; text: string }>;
  arguments: string | undefined;
}

const TERMINAL = new Set(['response.completed', 'response.incomplete']);

/** The open item an event names: one never started, or already done, is out of order. */
function openItem(items: StreamedItem[], data: JsonObject, where: string, type: string): StreamedItem {
  const index = requiredIndex(data, 'output_index', where);
  const item = items[index];
  if (item === undefined) outOfOrder(`${where}: ${type} for output item ${index} that was never started`);
  if (item.done !== undefined) outOfOrder(`${where}: ${type} for output item ${index} after its response.output_item.done`);
  return item;
}

/** Every delta and every output_item.done must agree with the terminal event's output. */
function checkAgainst(items: StreamedItem[], final: JsonValue[]): void {
  const open = items.findIndex((item) => item.done === undefined);
  if (open !== -1) incomplete(`output item ${open} has no response.output_item.done`, true);
  if (final.length !== items.length) {
    contradiction('the terminal event has a different number of output items than the stream started');
  }
  for (const [index, item] of items.entries()) {
    const finalItem = final[index];
    if (!isJsonObject(finalItem)) invalid(`output[${index}] must be an object`);
    const streamed = canonicalize(outputItem(item.done as JsonObject, `output item ${index}`));
    if (streamed !== canonicalize(outputItem(finalItem, `output[${index}]`))) {
      contradiction(`output item ${index} differs between response.output_item.done and the terminal event`);
    }
    if (item.arguments !== undefined && member(finalItem, 'arguments') !== item.arguments) {
      contradiction(`output item ${index}: the arguments deltas differ from the terminal event`);
    }
    for (const [contentIndex, part] of item.parts) {
      const content = member(finalItem, 'content');
      const finalPart = Array.isArray(content) ? content[contentIndex] : undefined;
      if (!isJsonObject(finalPart) || member(finalPart, part.key) !== part.text) {
        contradiction(`output item ${index} content ${contentIndex}: the deltas differ from the terminal event`);
      }
    }
  }
}

/** SPEC 12.3: typed events ended by response.completed or response.incomplete. */
export function responsesOutputFromStream(events: readonly SseEvent[]): AssembledOutput {
  const items: StreamedItem[] = [];
  let final: JsonObject | undefined;
  let assembled: AssembledOutput | undefined;
  for (const [position, event] of events.entries()) {
    const number = position + 1;
    const where = `stream event ${number}`;
    if (final !== undefined) outOfOrder(`${where} follows the terminal event`);
    const data = eventObject(event, number, () => typedEventFrom(events, position, TERMINAL));
    const type = eventType(event, data, number);
    rejectErrorObject(data, where);
    if (type === 'response.failed') providerError(`${where}: the response failed`);
    if (TERMINAL.has(type)) {
      final = requiredObject(data, 'response', where);
      const status = member(final, 'status');
      if (typeof status === 'string' && FINISHED.has(status) && type !== `response.${status}`) {
        contradiction(`${where}: the terminal event's name and its response "status" differ`);
      }
      assembled = responsesOutputFromResponse(final);
      checkAgainst(items, requiredArray(final, 'output', 'terminal event response'));
      continue;
    }
    switch (type) {
      case 'response.output_item.added': {
        const index = requiredIndex(data, 'output_index', where);
        if (index !== items.length) outOfOrder(`${where}: output item ${index} is not the next item`);
        requiredObject(data, 'item', where);
        items.push({ done: undefined, parts: new Map(), arguments: undefined });
        break;
      }
      case 'response.output_item.done': {
        const item = openItem(items, data, where, type);
        const done = requiredObject(data, 'item', where);
        outputItem(done, `${where} item`);
        item.done = done;
        break;
      }
      case 'response.output_text.delta':
      case 'response.refusal.delta': {
        const item = openItem(items, data, where, type);
        const contentIndex = requiredIndex(data, 'content_index', where);
        const key = type === 'response.refusal.delta' ? 'refusal' : 'text';
        const part = item.parts.get(contentIndex) ?? { key, text: '' };
        if (part.key !== key) contradiction(`${where}: content ${contentIndex} mixes text and refusal deltas`);
        part.text += requiredString(data, 'delta', where);
        item.parts.set(contentIndex, part);
        break;
      }
      case 'response.function_call_arguments.delta': {
        const item = openItem(items, data, where, type);
        item.arguments = (item.arguments ?? '') + requiredString(data, 'delta', where);
        break;
      }
      default:
        // Lifecycle events and events of built-in tools carry no output of their own: the terminal
        // event's response holds it.
        break;
    }
  }
  if (assembled === undefined) incomplete('stream ends without response.completed or response.incomplete', false);
  return assembled;
}
