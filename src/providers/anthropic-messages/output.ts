/** docs/SPEC.md section 12.4: the output of an Anthropic Messages response and of its event stream. */
import { JsonError } from '../../errors.ts';
import { parseJson } from '../../jcs/index.ts';
import { createJsonObject, isJsonObject, type JsonObject, type JsonValue } from '../../jcs/json-value.ts';
import {
  eventObject, eventType, incomplete, invalid, member, objectOf, optionalString, outOfOrder, providerError,
  rejectErrorObject, requiredArray, requiredIndex, requiredObject, requiredString, typedEventFrom, unsupported,
  without, type AssembledOutput,
} from '../output-reading.ts';
import { setMember } from '../request-format.ts';
import type { SseEvent } from '../output-sse.ts';

/** The events after message_start that build the message. */
const KNOWN_EVENTS = new Set([
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
]);

/** The stream's end event. */
const END_EVENT = new Set(['message_stop']);

/** Members that identify a block rather than hold output: left out of every block (SPEC 12.4). */
const BLOCK_IDS = new Set(['id', 'tool_use_id']);

/** SPEC 12.4: one content block as output. */
function outputBlock(block: JsonValue, where: string): JsonValue {
  if (!isJsonObject(block)) invalid(`${where} must be an object`);
  const type = requiredString(block, 'type', where);
  switch (type) {
    case 'text': {
      const out = objectOf([['type', type], ['text', requiredString(block, 'text', where)]]);
      const citations = member(block, 'citations');
      if (citations !== undefined && citations !== null && !Array.isArray(citations)) {
        invalid(`${where} "citations" must be an array or null`);
      }
      if (Array.isArray(citations) && citations.length > 0) out['citations'] = citations;
      return out;
    }
    case 'thinking':
      return objectOf([
        ['type', type],
        ['thinking', requiredString(block, 'thinking', where)],
        ['signature', requiredString(block, 'signature', where)],
      ]);
    case 'redacted_thinking':
      return objectOf([['type', type], ['data', requiredString(block, 'data', where)]]);
    case 'tool_use':
    case 'server_tool_use': {
      const input = member(block, 'input');
      if (input === undefined) invalid(`${where} "input" is missing`);
      return objectOf([['type', type], ['name', requiredString(block, 'name', where)], ['input', input]]);
    }
    default:
      return without(block, BLOCK_IDS);
  }
}

/** SPEC 12.4: a non-streamed message, or the message a stream assembles. */
export function anthropicOutputFromResponse(response: JsonObject): AssembledOutput {
  rejectErrorObject(response, 'response');
  if (member(response, 'type') !== 'message') invalid('response "type" is not "message"');
  const content = requiredArray(response, 'content', 'response')
    .map((block, i) => outputBlock(block, `content[${i}]`));
  const stopReason = optionalString(response, 'stop_reason', 'response') ?? null;
  const output = objectOf([
    ['role', requiredString(response, 'role', 'response')],
    ['content', content],
    ['stop_reason', stopReason],
    ['stop_sequence', optionalString(response, 'stop_sequence', 'response') ?? null],
  ]);
  return { output, finishReason: stopReason, usage: member(response, 'usage') ?? null, servedFrom: response };
}

interface StreamedBlock {
  block: JsonObject;
  json: string;
  stopped: boolean;
}

function applyDelta(state: StreamedBlock, delta: JsonObject, where: string): void {
  const kind = requiredString(delta, 'type', where);
  const block = state.block;
  const type = member(block, 'type');
  const expect = (blockType: readonly string[]): void => {
    if (typeof type !== 'string' || !blockType.includes(type)) {
      invalid(`${where}: a ${kind} for a block that is not ${blockType.join(' or ')}`);
    }
  };
  const text = (key: string, field: string): string => requiredString(delta, key, `${where} (${field})`);
  switch (kind) {
    case 'text_delta':
      expect(['text']);
      block['text'] = requiredString(block, 'text', 'content_block') + text('text', kind);
      return;
    case 'thinking_delta':
      expect(['thinking']);
      block['thinking'] = requiredString(block, 'thinking', 'content_block') + text('thinking', kind);
      return;
    case 'signature_delta':
      expect(['thinking']);
      block['signature'] = text('signature', kind);
      return;
    case 'citations_delta': {
      expect(['text']);
      const citations = member(block, 'citations');
      const list = Array.isArray(citations) ? citations : [];
      list.push(requiredObject(delta, 'citation', where));
      block['citations'] = list;
      return;
    }
    case 'input_json_delta': {
      expect(['tool_use', 'server_tool_use', 'mcp_tool_use']);
      const partial = optionalString(delta, 'partial_json', where);
      if (typeof partial === 'string') state.json += partial;
      return;
    }
    default:
      unsupported(`${where} "type" is not a known delta type`);
  }
}

/** The block a stream built: tool input parsed from the concatenated partial_json (SPEC 12.4). */
function finishedBlock(state: StreamedBlock, index: number): JsonObject {
  if (state.json === '') return state.block;
  let input: JsonValue;
  try {
    input = parseJson(state.json);
  } catch (error) {
    if (error instanceof JsonError) {
      invalid(`tool input of content block ${index} is not valid JSON (${error.code})`);
    }
    throw error;
  }
  const block = without(state.block, new Set());
  block['input'] = input;
  return block;
}

/** SPEC 12.4: message_start, content blocks, message_delta, ended by message_stop. */
export function anthropicOutputFromStream(events: readonly SseEvent[]): AssembledOutput {
  let message: JsonObject | undefined;
  let usage: JsonObject | null = null;
  const blocks: StreamedBlock[] = [];
  let stopReason: JsonValue = null;
  let stopSequence: JsonValue = null;
  let assembled: AssembledOutput | undefined;
  for (const [position, event] of events.entries()) {
    const number = position + 1;
    const where = `stream event ${number}`;
    if (assembled !== undefined) outOfOrder(`${where} follows message_stop`);
    const data = eventObject(event, number, () => typedEventFrom(events, position, END_EVENT));
    const type = eventType(event, data, number);
    if (type === 'error') providerError(`${where} is an error event`);
    if (type === 'ping') continue;
    if (type === 'message_start') {
      if (message !== undefined) outOfOrder(`${where} is a second message_start`);
      message = requiredObject(data, 'message', where);
      rejectErrorObject(message, `${where} message`);
      for (const block of requiredArray(message, 'content', `${where} message`)) {
        if (!isJsonObject(block)) invalid(`${where} message "content" holds a block that is not an object`);
        blocks.push({ block: without(block, new Set()), json: '', stopped: true });
      }
      const startUsage = member(message, 'usage');
      usage = isJsonObject(startUsage) ? without(startUsage, new Set()) : null;
      stopReason = optionalString(message, 'stop_reason', `${where} message`) ?? null;
      stopSequence = optionalString(message, 'stop_sequence', `${where} message`) ?? null;
      continue;
    }
    // Anthropic documents that new event types may be added: unknown ones carry no output.
    if (!KNOWN_EVENTS.has(type)) continue;
    if (message === undefined) outOfOrder(`${where}: ${type} before message_start`);
    if (type === 'message_delta') {
      const delta = requiredObject(data, 'delta', where);
      if (member(delta, 'stop_reason') !== undefined) {
        stopReason = optionalString(delta, 'stop_reason', `${where} delta`) ?? null;
      }
      if (member(delta, 'stop_sequence') !== undefined) {
        stopSequence = optionalString(delta, 'stop_sequence', `${where} delta`) ?? null;
      }
      const deltaUsage = member(data, 'usage');
      if (isJsonObject(deltaUsage)) {
        usage ??= createJsonObject();
        for (const key of Object.keys(deltaUsage)) setMember(usage, key, deltaUsage[key] as JsonValue);
      }
      continue;
    }
    if (type === 'message_stop') {
      const open = blocks.findIndex((state) => !state.stopped);
      if (open !== -1) incomplete(`content block ${open} has no content_block_stop`, true);
      const whole = without(message, new Set(['content', 'stop_reason', 'stop_sequence', 'usage']));
      whole['content'] = blocks.map(finishedBlock);
      whole['stop_reason'] = stopReason;
      whole['stop_sequence'] = stopSequence;
      whole['usage'] = usage;
      assembled = anthropicOutputFromResponse(whole);
      continue;
    }
    const index = requiredIndex(data, 'index', where);
    if (type === 'content_block_start') {
      if (index !== blocks.length) outOfOrder(`${where}: content block ${index} is not the next block`);
      const block = requiredObject(data, 'content_block', where);
      blocks.push({ block: without(block, new Set()), json: '', stopped: false });
      continue;
    }
    const state = blocks[index];
    if (state === undefined) {
      outOfOrder(`${where}: ${type} for content block ${index} that was never started`);
    }
    if (state.stopped) outOfOrder(`${where}: ${type} for content block ${index} after its content_block_stop`);
    if (type === 'content_block_stop') state.stopped = true;
    else applyDelta(state, requiredObject(data, 'delta', where), where);
  }
  if (message === undefined) incomplete('stream ends without message_start', false);
  if (assembled === undefined) incomplete('stream ends without message_stop', false);
  return assembled;
}
