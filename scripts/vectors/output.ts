/** Writes testdata/output/*.json: docs/SPEC.md section 12 (output digest) cases, expected outputs by hand. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { VectorFile } from '../generate-vectors.ts';

/*
 * Every `wantOutput` here is written by hand from SPEC section 12, never computed by
 * src/providers; `wantDigest` is computed from it with the naive JCS below and node:crypto, and
 * `wantRawDigest` is node:crypto over the body's UTF-8 bytes. Bodies of the stream/response pairs
 * are the hand-made fixtures of test/fixtures/output/ (see the README there: not recorded).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Format = 'openai-chat' | 'openai-responses' | 'anthropic-messages';
type Vector = { desc: string; spec: string } & { [key: string]: Json };

/** RFC 8785 for the values used here (integers, strings, no -0): members sorted by UTF-16 code units. */
function jcs(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const names = Object.keys(value).sort();
    return `{${names.map((name) => `${JSON.stringify(name)}:${jcs(value[name] as Json)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const fixture = (format: Format, name: string): string =>
  readFileSync(new URL(`../../test/fixtures/output/${format}/${name}`, import.meta.url), 'utf8');

function accepts(spec: string, desc: string, format: Format | null, bodyText: string, output: Json, finishReason: string | null): Vector {
  return {
    desc, spec, format, bodyText,
    wantOutput: output,
    wantDigest: { sha256: sha256(`runprint/v1/output\u0000${jcs(output)}`) },
    wantRawDigest: { sha256: sha256(bodyText) },
    wantFinishReason: finishReason,
  };
}

function rejects(spec: string, desc: string, format: Format, bodyText: string, wantErr: string): Vector {
  return { desc, spec, format, bodyText, wantErr };
}

/** The response and the stream of one fixture pair: two vectors with one expected output. */
function pair(spec: string, format: Format, name: string, what: string, output: Json, finishReason: string | null): Vector[] {
  return [
    accepts(spec, `${what}: the response (${format}/${name}.json)`, format, fixture(format, `${name}.json`), output, finishReason),
    accepts(spec, `${what}: the stream gives the same output (${format}/${name}.sse)`, format, fixture(format, `${name}.sse`), output, finishReason),
  ];
}

function file(path: string, desc: string, spec: string, vectors: Vector[]): VectorFile {
  return { path, content: { desc, spec, generated: true, vectors } };
}

const chatChoice = (index: number, message: { [key: string]: Json }, finish: string): Json => ({
  index, message: { role: 'assistant', content: null, refusal: null, ...message }, finish_reason: finish,
});
const chunk = (choices: string): string =>
  `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":${choices}}\n\n`;

function openaiChat(): Vector[] {
  const call = (name: string, args: string): Json => ({ type: 'function', function: { name, arguments: args } });
  return [
    ...pair('12.2', 'openai-chat', 'text', 'text',
      { choices: [chatChoice(0, { content: 'Morgen wird es in Zürich bewölkt, bei 14 °C.' }, 'stop')] }, 'stop'),
    ...pair('12.2', 'openai-chat', 'tool-calls', 'two tool calls: ids left out, arguments as the concatenated string',
      { choices: [chatChoice(0, { tool_calls: [call('get_weather', '{"city":"Zürich","unit":"celsius"}'), call('get_weather', '{"city":"東京"}')] }, 'tool_calls')] },
      'tool_calls'),
    ...pair('12.2', 'openai-chat', 'two-choices', 'n = 2: choices by index; finishReason is the first choice\'s',
      { choices: [chatChoice(0, { content: 'Ja.' }, 'stop'), chatChoice(1, { content: 'Vermutlich ja, aber' }, 'length')] }, 'stop'),
    ...pair('12.2', 'openai-chat', 'unicode', 'text split between deltas inside grapheme clusters; never normalized',
      { choices: [chatChoice(0, { content: 'Cafe\u0301 ☕, Familie 👨\u200d👩\u200d👧, \u{1D11E} und 明日の天気は晴れ。' }, 'stop')] }, 'stop'),
    ...pair('12.2', 'openai-chat', 'refusal', 'a refusal: content null, refusal the concatenated string',
      { choices: [chatChoice(0, { refusal: "I'm sorry, I can't help with that request." }, 'stop')] }, 'stop'),
    accepts('12.2', 'Azure OpenAI content-filter annotations (object "", no delta) are skipped: the prompt filter results first, an offsets annotation after the finish', 'openai-chat',
      'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}\n\n'
        + chunk('[{"index":0,"delta":{"role":"assistant","content":"Ja."},"finish_reason":null,"content_filter_results":{}}]')
        + chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]')
        + 'data: {"choices":[{"index":0,"finish_reason":null,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"content_filter_offsets":{"check_offset":0,"start_offset":0,"end_offset":3}}],"created":0,"id":"","model":"","object":""}\n\n'
        + 'data: [DONE]\n\n',
      { choices: [chatChoice(0, { content: 'Ja.' }, 'stop')] }, 'stop'),
    rejects('12.2', 'an event with object "" that carries a delta is not an annotation: ERR_OUTPUT_INVALID', 'openai-chat',
      'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Nein."},"finish_reason":"stop"}],"created":0,"id":"","model":"","object":""}\n\ndata: [DONE]\n\n',
      'ERR_OUTPUT_INVALID'),
    accepts('12.2', 'an empty content string is null', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]') + 'data: [DONE]\n\n',
      { choices: [chatChoice(0, {}, 'stop')] }, 'stop'),
    accepts('12.2', 'a custom tool call in a response: its id left out', 'openai-chat',
      '{"id":"chatcmpl-2","object":"chat.completion","created":2,"model":"gpt-5","choices":[{"index":0,"message":{"role":"assistant","content":null,' +
      '"refusal":null,"tool_calls":[{"id":"call_9","type":"custom","custom":{"name":"sql","input":"SELECT 1"}}]},"finish_reason":"tool_calls"}]}',
      { choices: [chatChoice(0, { tool_calls: [{ type: 'custom', custom: { name: 'sql', input: 'SELECT 1' } }] }, 'tool_calls')] }, 'tool_calls'),
    rejects('12.2', 'a stream without data: [DONE]', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]'), 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.2', 'data: [DONE] not ended by an empty line is not dispatched', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]') + 'data: [DONE]', 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.2', 'an event that is not JSON', 'openai-chat', 'data: {"id":"chatcmpl-1","object":\n\ndata: [DONE]\n\n', 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.2', 'a tool call delta for an index never started', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]') + 'data: [DONE]\n\n',
      'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.2', 'a choice without a finish_reason', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]') + 'data: [DONE]\n\n', 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.2', 'an error object in the stream', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]') +
      'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}\n\n',
      'ERR_OUTPUT_INVALID'),
    rejects('12.2', 'an error body', 'openai-chat',
      '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}', 'ERR_OUTPUT_INVALID'),
    rejects('12.2', 'a response that is not strict JSON', 'openai-chat', '{"object":"chat.completion","choices":[]', 'ERR_JSON_TRUNCATED'),
  ];
}

const anthropicEvent = (type: string, data: string): string => `event: ${type}\ndata: {"type":"${type}"${data}}\n\n`;
const messageStart = anthropicEvent('message_start',
  ',"message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}');
const messageEnd = anthropicEvent('message_delta', ',"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}') +
  anthropicEvent('message_stop', '');

function anthropicMessages(): Vector[] {
  const message = (content: Json, stopReason: string, stopSequence: string | null = null): Json =>
    ({ role: 'assistant', content, stop_reason: stopReason, stop_sequence: stopSequence });
  return [
    ...pair('12.4', 'anthropic-messages', 'text', 'text; citations null is left out; ping ignored',
      message([{ type: 'text', text: 'Hallo! Morgen wird es in Zürich bewölkt, bei 14 °C.' }], 'end_turn'), 'end_turn'),
    ...pair('12.4', 'anthropic-messages', 'tool-use', 'tool input parsed from the concatenated partial_json; the id left out',
      message([
        { type: 'text', text: 'Ich sehe mir das Wetter in Zürich an.' },
        { type: 'tool_use', name: 'get_weather', input: { city: 'Zürich', unit: 'celsius', days: [1, 2] } },
      ], 'tool_use'), 'tool_use'),
    ...pair('12.4', 'anthropic-messages', 'thinking', 'thinking with its signature, redacted thinking, text',
      message([
        { type: 'thinking', thinking: 'The user asks for 27 * 453. 27 * 453 = 27 * 400 + 27 * 53 = 10800 + 1431 = 12231.',
          signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds0yDLz5sHL3XpJrnaJ4obdFzrX7L4ttMDV1dSRgy2KdBD6uxX8bEOEG3ZkMXqnVKFgDRy6Wv6oHjvfCkdSlFm5CDydl4OeIQ3jAZFRg=' },
        { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB8URj2pLmN1ctrmEtcutkqnrmB' },
        { type: 'text', text: '27 × 453 = 12 231.' },
      ], 'end_turn'), 'end_turn'),
    ...pair('12.4', 'anthropic-messages', 'stop-sequence', 'a stop sequence; CRLF line endings and a comment; a flag split between deltas',
      message([{ type: 'text', text: '1. Äpfel aus der Schweiz 🇨🇭\n2. Birnen 🍐\n' }], 'stop_sequence', '3.'), 'stop_sequence'),
    accepts('12.4', 'a tool_use without input_json_delta keeps the input of content_block_start', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}') +
      anthropicEvent('content_block_stop', ',"index":0') + messageEnd,
      message([{ type: 'tool_use', name: 'now', input: {} }], 'end_turn'), 'end_turn'),
    ...serverTool(message),
    rejects('12.4', 'a stream without message_stop', 'anthropic-messages',
      messageStart + anthropicEvent('message_delta', ',"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}'),
      'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.4', 'a delta for a content block never started', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"x"}') + messageEnd,
      'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.4', 'a content block without content_block_stop', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"text","text":""}') + messageEnd,
      'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.4', 'an error event', 'anthropic-messages',
      messageStart + 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n', 'ERR_OUTPUT_INVALID'),
    rejects('12.4', 'an error body', 'anthropic-messages',
      '{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}', 'ERR_OUTPUT_INVALID'),
    rejects('12.4', 'tool input that is not JSON once assembled', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}') +
      anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\": "}') +
      anthropicEvent('content_block_stop', ',"index":0') + messageEnd, 'ERR_OUTPUT_INVALID'),
  ];
}

/** A server tool and its result block: the result block has no delta type and is kept whole, ids left out. */
function serverTool(message: (content: Json, stopReason: string) => Json): Vector[] {
  const results = '[{"type":"web_search_result","title":"Wetter Zürich","url":"https://www.meteoschweiz.admin.ch/","encrypted_content":"EqgfCioIARgBIiQ3YTAwMjY1Mi1","page_age":null}]';
  const output = message([
    { type: 'server_tool_use', name: 'web_search', input: { query: 'Wetter Zürich' } },
    { type: 'web_search_tool_result', content: [{ type: 'web_search_result', title: 'Wetter Zürich', url: 'https://www.meteoschweiz.admin.ch/', encrypted_content: 'EqgfCioIARgBIiQ3YTAwMjY1Mi1', page_age: null }] },
  ], 'end_turn');
  const response = `{"id":"msg_01A","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"server_tool_use","id":"srvtoolu_01A","name":"web_search","input":{"query":"Wetter Zürich"}},{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01A","content":${results}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":7}}`;
  const stream = messageStart +
    anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_01B","name":"web_search","input":{}}') +
    anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"query\\": \\"Wetter Z"}') +
    anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"input_json_delta","partial_json":"ürich\\"}"}') +
    anthropicEvent('content_block_stop', ',"index":0') +
    anthropicEvent('content_block_start', `,"index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01B","content":${results}}`) +
    anthropicEvent('content_block_stop', ',"index":1') + messageEnd;
  return [
    accepts('12.4', 'a server tool call and its result block: ids and tool_use_id left out (response)', 'anthropic-messages', response, output, 'end_turn'),
    accepts('12.4', 'a server tool call and its result block: the stream gives the same output', 'anthropic-messages', stream, output, 'end_turn'),
  ];
}

function openaiResponses(): Vector[] {
  const response = (output: Json, status = 'completed', details: Json = null): Json =>
    ({ status, incomplete_details: details, output });
  const text = fixture('openai-responses', 'text.sse');
  const events = text.split('\n\n').filter((part) => part !== '');
  return [
    ...pair('12.3', 'openai-responses', 'text', 'a message item without its id',
      response([{ type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'In Tōkyō ist es jetzt 21:04 Uhr.' }], role: 'assistant' }]),
      'completed'),
    ...pair('12.3', 'openai-responses', 'function-call', 'a function call without id and call_id',
      response([{ type: 'function_call', status: 'completed', arguments: '{"city":"Zürich","unit":"celsius"}', name: 'get_weather' }]), 'completed'),
    ...pair('12.3', 'openai-responses', 'reasoning-incomplete', 'cut at max_output_tokens: finishReason is incomplete_details.reason',
      response([
        { type: 'reasoning', summary: [] },
        { type: 'message', status: 'incomplete', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Die Antwort beginnt mit' }], role: 'assistant' },
      ], 'incomplete', { reason: 'max_output_tokens' }), 'max_output_tokens'),
    ...pair('12.3', 'openai-responses', 'refusal', 'a refusal content part',
      response([{ type: 'message', status: 'completed', content: [{ type: 'refusal', refusal: "I'm sorry, I can't assist with that." }], role: 'assistant' }]),
      'completed'),
    rejects('12.3', 'a stream without its terminal event', 'openai-responses',
      events.slice(0, -1).map((part) => `${part}\n\n`).join(''), 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.3', 'a text delta for an output item never started', 'openai-responses',
      [events[0], events[4]].map((part) => `${part}\n\n`).join(''), 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.3', 'deltas that differ from the terminal event', 'openai-responses',
      text.replace('"delta":" 21:04 Uhr."', '"delta":" 21:05 Uhr."'), 'ERR_OUTPUT_INVALID'),
    rejects('12.3', 'an error event', 'openai-responses',
      `${events[0]}\n\nevent: error\ndata: {"type":"error","code":"server_error","message":"The server had an error.","param":null,"sequence_number":1}\n\n`,
      'ERR_OUTPUT_INVALID'),
    rejects('12.3', 'a response that has not finished', 'openai-responses',
      '{"id":"resp_1","object":"response","status":"in_progress","error":null,"output":[]}', 'ERR_OUTPUT_INVALID'),
  ];
}

function withoutFormat(): Vector[] {
  return [
    accepts('12.5', 'a JSON body is its own output', null, '{ "unit": "°C", "answer": 42 }', { answer: 42, unit: '°C' }, null),
    accepts('12.5', 'the JSON text null: output null, with a digest', null, 'null', null, null),
    { ...accepts('12.5', 'plain text: no output and no digest, only the raw digest', null, 'Das Wetter morgen: bewölkt.', null, null), wantOutput: null, wantDigest: null },
    { ...accepts('12.5', 'JSON with a duplicate member is not strict JSON: raw digest only', null, '{"a":1,"a":2}', null, null), wantOutput: null, wantDigest: null },
  ];
}

export function generate(): VectorFile[] {
  return [
    file('output/openai-chat.json', 'Output of OpenAI Chat Completions responses and chunk streams', '12.2', openaiChat()),
    file('output/openai-responses.json', 'Output of OpenAI Responses responses and event streams', '12.3', openaiResponses()),
    file('output/anthropic-messages.json', 'Output of Anthropic Messages responses and event streams', '12.4', anthropicMessages()),
    file('output/without-format.json', 'Output of a body with no provider format', '12.5', withoutFormat()),
  ];
}
