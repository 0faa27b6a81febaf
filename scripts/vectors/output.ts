/** Writes testdata/output/*.json: docs/SPEC.md section 12 (output digest) cases, expected outcomes by hand. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RunprintError } from '../../src/errors.ts';
import { runOutputFrom } from '../../src/providers/run-output.ts';
import type { VectorFile } from '../generate-vectors.ts';

/*
 * Every intended outcome here (`wantOutput`, `wantFinishReason`, `wantServed`, `wantUsage` or
 * `wantErr`) is written by hand from SPEC section 12, never computed by src/providers;
 * `wantDigest` is computed from `wantOutput` with the naive JCS below and node:crypto, and
 * `wantRawDigest` is node:crypto over the body's UTF-8 bytes. Before a file is written, every
 * vector is run through runOutputFrom and generation fails when the implementation disagrees
 * with the intended outcome: a vector file is never a snapshot of what the code answers today.
 * Bodies of the stream/response pairs are the hand-made fixtures of test/fixtures/output/ (see
 * the README there: not recorded).
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

type OutputCode =
  | 'ERR_OUTPUT_INVALID' | 'ERR_OUTPUT_INCOMPLETE_STREAM' | 'ERR_OUTPUT_PROVIDER_ERROR'
  | 'ERR_OUTPUT_EVENT_ORDER' | 'ERR_OUTPUT_CONTRADICTION' | 'ERR_OUTPUT_UNSUPPORTED' | 'ERR_JSON_TRUNCATED';

function rejects(spec: string, desc: string, format: Format, bodyText: string, wantErr: OutputCode): Vector {
  return { desc, spec, format, bodyText, wantErr };
}

/** An accepted vector that also states its served facts and usage. */
function acceptsAll(spec: string, desc: string, format: Format, bodyText: string, output: Json, finishReason: string | null,
  served: { [name: string]: string }, usage: Json): Vector {
  const wantServed: { [name: string]: Json } = {};
  for (const [name, value] of Object.entries(served)) wantServed[name] = { source: 'reported', value };
  return { ...accepts(spec, desc, format, bodyText, output, finishReason), wantServed, wantUsage: usage };
}

/** Runs `vector` through the implementation; throws when it does not give the intended outcome. */
function check(vector: Vector): void {
  const body = new TextEncoder().encode(vector['bodyText'] as string);
  const format = (vector['format'] ?? undefined) as Format | undefined;
  let got: { [key: string]: Json };
  try {
    const result = runOutputFrom(body, format);
    got = JSON.parse(JSON.stringify({
      wantOutput: result.output, wantDigest: result.digest, wantRawDigest: result.rawDigest,
      wantFinishReason: result.finishReason, wantServed: result.served, wantUsage: result.usage,
    })) as { [key: string]: Json };
  } catch (error) {
    if (!(error instanceof RunprintError)) throw error;
    got = { wantErr: error.code };
  }
  for (const key of Object.keys(vector).filter((name) => name.startsWith('want'))) {
    const actual = key in got ? jcs(got[key] as Json) : `(nothing: ${jcs(got['wantErr'] ?? 'accepted')})`;
    if (actual !== jcs(vector[key] as Json)) {
      throw new Error(`output vector "${vector.desc}": ${key} is ${actual} in the implementation, the vector intends ${jcs(vector[key] as Json)}`);
    }
  }
}

/** The response and the stream of one fixture pair: two vectors with one expected output. */
function pair(spec: string, format: Format, name: string, what: string, output: Json, finishReason: string | null): Vector[] {
  return [
    accepts(spec, `${what}: the response (${format}/${name}.json)`, format, fixture(format, `${name}.json`), output, finishReason),
    accepts(spec, `${what}: the stream gives the same output (${format}/${name}.sse)`, format, fixture(format, `${name}.sse`), output, finishReason),
  ];
}

function file(path: string, desc: string, spec: string, vectors: Vector[]): VectorFile {
  for (const vector of vectors) check(vector);
  return { path, content: { desc, spec, generated: true, vectors } };
}

const chatChoice = (index: number, message: { [key: string]: Json }, finish: string): Json => ({
  index, message: { role: 'assistant', content: null, refusal: null, ...message }, finish_reason: finish,
});
const chunk = (choices: string): string =>
  `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":${choices}}\n\n`;

/** The worked example of SPEC 12.2, byte for byte. */
const CHAT_EXAMPLE_STREAM = String.raw`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Ja."},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: [DONE]

`;
const CHAT_EXAMPLE_RESPONSE = '{"id":"chatcmpl-2","object":"chat.completion","created":2,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1",'
  + '"choices":[{"index":0,"message":{"role":"assistant","content":"Ja.","refusal":null},"finish_reason":"stop"}],'
  + '"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}';

function openaiChatStreams(): Vector[] {
  const ja = { choices: [chatChoice(0, { content: 'Ja.' }, 'stop')] };
  const start = chunk('[{"index":0,"delta":{"role":"assistant","content":"Ja."},"finish_reason":null}]');
  const finish = chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]');
  const done = 'data: [DONE]\n\n';
  const callStart = chunk('[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"now","arguments":""}}]},"finish_reason":null}]');
  const nowCall = { choices: [chatChoice(0, { tool_calls: [{ type: 'function', function: { name: 'now', arguments: '{}' } }] }, 'tool_calls')] };
  const facts = { model: 'gpt-4o-2024-08-06', systemFingerprint: 'fp_1' };
  return [
    acceptsAll('12.2', 'worked example 12.2: the stream', 'openai-chat', CHAT_EXAMPLE_STREAM, ja, 'stop', facts, null),
    acceptsAll('12.2', 'worked example 12.2: the response gives the same output', 'openai-chat', CHAT_EXAMPLE_RESPONSE, ja, 'stop', facts,
      { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 }),
    accepts('12.2', 'after the finish, a delta whose content is "" (and tool_calls []) is not content: accepted', 'openai-chat',
      start + finish + chunk('[{"index":0,"delta":{"content":"","tool_calls":[]},"finish_reason":null}]') + done, ja, 'stop'),
    rejects('12.2', 'after the finish, a delta with non-empty content: ERR_OUTPUT_EVENT_ORDER', 'openai-chat',
      start + finish + chunk('[{"index":0,"delta":{"content":" Nein."},"finish_reason":null}]') + done, 'ERR_OUTPUT_EVENT_ORDER'),
    accepts('12.2', 'the same finish_reason twice is one finish reason', 'openai-chat', start + finish + finish + done, ja, 'stop'),
    rejects('12.2', 'a second, different finish_reason: ERR_OUTPUT_CONTRADICTION', 'openai-chat',
      start + finish + chunk('[{"index":0,"delta":{},"finish_reason":"length"}]') + done, 'ERR_OUTPUT_CONTRADICTION'),
    rejects('12.2', 'a second, different role: ERR_OUTPUT_CONTRADICTION', 'openai-chat',
      start + chunk('[{"index":0,"delta":{"role":"tool"},"finish_reason":"stop"}]') + done, 'ERR_OUTPUT_CONTRADICTION'),
    accepts('12.2', 'a tool call named again with the same name: one call', 'openai-chat',
      callStart + chunk('[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"now","arguments":"{}"}}]},"finish_reason":"tool_calls"}]') + done,
      nowCall, 'tool_calls'),
    rejects('12.2', 'a tool call given a second, different name: ERR_OUTPUT_CONTRADICTION', 'openai-chat',
      callStart + chunk('[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"later","arguments":"{}"}}]},"finish_reason":"tool_calls"}]') + done,
      'ERR_OUTPUT_CONTRADICTION'),
    rejects('12.2', 'a streamed tool call of type "custom": ERR_OUTPUT_UNSUPPORTED', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"type":"custom","custom":{"name":"sql","input":"SELECT 1"}}]},"finish_reason":"tool_calls"}]') + done,
      'ERR_OUTPUT_UNSUPPORTED'),
    rejects('12.2', 'a chunk after data: [DONE]: ERR_OUTPUT_EVENT_ORDER', 'openai-chat', start + finish + done + finish, 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.2', 'an event named error: ERR_OUTPUT_PROVIDER_ERROR', 'openai-chat',
      start + 'event: error\ndata: {"message":"Internal server error"}\n\n', 'ERR_OUTPUT_PROVIDER_ERROR'),
    accepts('12.1', 'framing: one chunk in two data lines (joined by LF), id and retry lines, a comment, CR line endings, a leading U+FEFF', 'openai-chat',
      '\uFEFF: keep-alive\rid: 1\rretry: 1000\rdata: {"id":"chatcmpl-1","object":"chat.completion.chunk",\rdata: "choices":[{"index":0,"delta":{"role":"assistant","content":"Ja."},"finish_reason":"stop"}]}\r\r'
        + 'data: [DONE]\r\r', ja, 'stop'),
    accepts('12.1', 'framing: an event with a name and no data line is not dispatched', 'openai-chat',
      start + 'event: error\n\n' + finish + done, ja, 'stop'),
    acceptsAll('4.6', 'a body that reports no served fact gives {}, not an error', 'openai-chat',
      '{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Ja."},"finish_reason":"stop"}]}', ja, 'stop', {}, null),
  ];
}

function openaiChat(): Vector[] {
  const call = (name: string, args: string): Json => ({ type: 'function', function: { name, arguments: args } });
  return [
    ...openaiChatStreams(),
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
    rejects('12.2', 'a tool call delta for an index never started: ERR_OUTPUT_EVENT_ORDER', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]') + 'data: [DONE]\n\n',
      'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.2', 'a choice without a finish_reason', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]') + 'data: [DONE]\n\n', 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.2', 'an error object in the middle of the stream: the run failed, no output', 'openai-chat',
      chunk('[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]') +
      'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}\n\n',
      'ERR_OUTPUT_PROVIDER_ERROR'),
    rejects('12.2', 'an error body', 'openai-chat',
      '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}', 'ERR_OUTPUT_PROVIDER_ERROR'),
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
    rejects('12.4', 'a delta for a content block never started: ERR_OUTPUT_EVENT_ORDER', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"x"}') + messageEnd,
      'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.4', 'an unstopped content block at message_stop: ERR_OUTPUT_INCOMPLETE_STREAM', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"text","text":""}') + messageEnd,
      'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.4', 'an error event in the middle of the stream: the run failed, no output', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"text","text":""}') +
      anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"Hallo"}') +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n', 'ERR_OUTPUT_PROVIDER_ERROR'),
    rejects('12.4', 'an error body', 'anthropic-messages',
      '{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}', 'ERR_OUTPUT_PROVIDER_ERROR'),
    ...anthropicOrder(message),
    rejects('12.4', 'tool input that is not JSON once assembled', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}') +
      anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\": "}') +
      anthropicEvent('content_block_stop', ',"index":0') + messageEnd, 'ERR_OUTPUT_INVALID'),
  ];
}

/** The worked example of SPEC 12.4, byte for byte. */
const ANTHROPIC_EXAMPLE_STREAM = String.raw`event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Z"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"ürich\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":12}}

event: message_stop
data: {"type":"message_stop"}

`;
const ANTHROPIC_EXAMPLE_RESPONSE = '{"id":"msg_2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",'
  + '"content":[{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Zürich"}}],"stop_reason":"tool_use","stop_sequence":null,'
  + '"usage":{"input_tokens":9,"output_tokens":12}}';

/** SPEC 12.4 state table: the worked example, and the rows that separate one reading from another. */
function anthropicOrder(message: (content: Json, stopReason: string) => Json): Vector[] {
  const weather = message([{ type: 'tool_use', name: 'get_weather', input: { city: 'Zürich' } }], 'tool_use');
  const facts = { model: 'claude-sonnet-4-5-20250929' };
  const text = (index: number): string => anthropicEvent('content_block_start', `,"index":${index},"content_block":{"type":"text","text":""}`);
  const delta = (index: number, piece: string): string =>
    anthropicEvent('content_block_delta', `,"index":${index},"delta":{"type":"text_delta","text":"${piece}"}`);
  const stop = (index: number): string => anthropicEvent('content_block_stop', `,"index":${index}`);
  const ja = message([{ type: 'text', text: 'Ja.' }], 'end_turn');
  return [
    acceptsAll('12.4', 'worked example 12.4: the stream', 'anthropic-messages', ANTHROPIC_EXAMPLE_STREAM, weather, 'tool_use', facts,
      { input_tokens: 9, output_tokens: 12 }),
    acceptsAll('12.4', 'worked example 12.4: the response gives the same output', 'anthropic-messages', ANTHROPIC_EXAMPLE_RESPONSE, weather, 'tool_use',
      facts, { input_tokens: 9, output_tokens: 12 }),
    rejects('12.4', 'a content block whose index is not the next one: ERR_OUTPUT_EVENT_ORDER', 'anthropic-messages',
      messageStart + text(1) + delta(1, 'Ja.') + stop(1) + messageEnd, 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.4', 'a second message_start: ERR_OUTPUT_EVENT_ORDER', 'anthropic-messages',
      messageStart + text(0) + delta(0, 'Ja.') + stop(0) + messageStart + messageEnd, 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.4', 'an event before message_start: ERR_OUTPUT_EVENT_ORDER', 'anthropic-messages',
      text(0) + messageStart + messageEnd, 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.4', 'a ping after message_stop: ERR_OUTPUT_EVENT_ORDER', 'anthropic-messages',
      messageStart + text(0) + delta(0, 'Ja.') + stop(0) + messageEnd + anthropicEvent('ping', ''), 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.4', 'a delta after its block stopped: ERR_OUTPUT_EVENT_ORDER', 'anthropic-messages',
      messageStart + text(0) + stop(0) + delta(0, 'Ja.') + messageEnd, 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.4', 'a delta type the rules do not assemble: ERR_OUTPUT_UNSUPPORTED', 'anthropic-messages',
      messageStart + text(0) + anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"compaction_delta","content":"x"}') + stop(0) + messageEnd,
      'ERR_OUTPUT_UNSUPPORTED'),
    rejects('12.4', 'a delta for a block of another type: ERR_OUTPUT_INVALID', 'anthropic-messages',
      messageStart + text(0) + anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"thinking_delta","thinking":"x"}') + stop(0) + messageEnd,
      'ERR_OUTPUT_INVALID'),
    accepts('12.4', 'unknown event types and a named event without data are ignored', 'anthropic-messages',
      messageStart + 'event: ping\n\n' + text(0) + anthropicEvent('content_block_progress', ',"index":0') + delta(0, 'Ja.') + stop(0) + messageEnd,
      ja, 'end_turn'),
    accepts('12.4', 'an MCP tool call (beta) streams its input as input_json_delta; the block is kept less its id', 'anthropic-messages',
      messageStart + anthropicEvent('content_block_start', ',"index":0,"content_block":{"type":"mcp_tool_use","id":"mcptoolu_1","name":"search","server_name":"docs","input":{}}') +
      anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"q\\": \\"Zü"}') +
      anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"input_json_delta","partial_json":"rich\\"}"}') + stop(0) + messageEnd,
      message([{ type: 'mcp_tool_use', name: 'search', server_name: 'docs', input: { q: 'Zürich' } }], 'end_turn'), 'end_turn'),
    accepts('12.4', 'a block may start while another is open', 'anthropic-messages',
      messageStart + text(0) + text(1) + delta(0, 'Ja.') + delta(1, 'Nein.') + stop(1) + stop(0) + messageEnd,
      message([{ type: 'text', text: 'Ja.' }, { type: 'text', text: 'Nein.' }], 'end_turn'), 'end_turn'),
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

/** The worked example of SPEC 12.3, byte for byte. */
const RESPONSES_EXAMPLE_STREAM = String.raw`event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-4.1-2025-04-14","output":[]}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Ja."}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Ja.","annotations":[]}]}}

event: response.completed
data: {"type":"response.completed","sequence_number":4,"response":{"id":"resp_1","object":"response","status":"completed","error":null,"model":"gpt-4.1-2025-04-14","service_tier":"default","output":[{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Ja.","annotations":[]}]}],"usage":{"input_tokens":9,"output_tokens":2,"total_tokens":11}}}

`;

/** SPEC 12.3 state table: the worked example, and the rows that separate one reading from another. */
function responsesOrder(fixtureEvents: string[]): Vector[] {
  const example = RESPONSES_EXAMPLE_STREAM;
  const output = {
    status: 'completed', incomplete_details: null,
    output: [{ type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Ja.', annotations: [] }] }],
  };
  const parts = example.split('\n\n').filter((part) => part !== '');
  const join = (list: string[]): string => list.map((part) => `${part}\n\n`).join('');
  const textDone = 'event: response.output_text.done\ndata: {"type":"response.output_text.done","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Nein."}';
  return [
    acceptsAll('12.3', 'worked example 12.3: the stream', 'openai-responses', example, output, 'completed',
      { model: 'gpt-4.1-2025-04-14', serviceTier: 'default' }, { input_tokens: 9, output_tokens: 2, total_tokens: 11 }),
    rejects('12.3', 'worked example 12.3 with the delta changed: ERR_OUTPUT_CONTRADICTION', 'openai-responses',
      example.replace('"delta":"Ja."', '"delta":"Nein."'), 'ERR_OUTPUT_CONTRADICTION'),
    rejects('12.3', 'an output_item.done that differs from the terminal item: ERR_OUTPUT_CONTRADICTION', 'openai-responses',
      example.replace('"sequence_number":3,"output_index":0,"item":{"id":"msg_1","type":"message","status":"completed"',
        '"sequence_number":3,"output_index":0,"item":{"id":"msg_1","type":"message","status":"incomplete"'), 'ERR_OUTPUT_CONTRADICTION'),
    accepts('12.3', 'not compared: the partial item of output_item.added and the text of output_text.done', 'openai-responses',
      join([parts[0]!, parts[1]!.replace('"content":[]', '"content":[{"type":"output_text","text":"Nein.","annotations":[]}]'), parts[2]!, textDone, parts[3]!, parts[4]!]),
      output, 'completed'),
    rejects('12.3', 'an output item whose index is not the next one: ERR_OUTPUT_EVENT_ORDER', 'openai-responses',
      example.replaceAll('"output_index":0', '"output_index":1'), 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.3', 'a delta after its item is done: ERR_OUTPUT_EVENT_ORDER', 'openai-responses',
      join([parts[0]!, parts[1]!, parts[3]!, parts[2]!, parts[4]!]), 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.3', 'an event after the terminal event: ERR_OUTPUT_EVENT_ORDER', 'openai-responses',
      join([...parts, parts[0]!]), 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.3', 'an item never done at the terminal event: ERR_OUTPUT_INCOMPLETE_STREAM', 'openai-responses',
      join([parts[0]!, parts[1]!, parts[2]!, parts[4]!]), 'ERR_OUTPUT_INCOMPLETE_STREAM'),
    rejects('12.3', 'a terminal event whose name differs from its response status: ERR_OUTPUT_CONTRADICTION', 'openai-responses',
      join([...parts.slice(0, 4), parts[4]!.replaceAll('response.completed', 'response.incomplete')]), 'ERR_OUTPUT_CONTRADICTION'),
    rejects('12.3', 'response.failed: ERR_OUTPUT_PROVIDER_ERROR', 'openai-responses',
      join([fixtureEvents[0]!, 'event: response.failed\ndata: {"type":"response.failed","sequence_number":1,"response":{"object":"response","status":"failed","error":{"code":"server_error","message":"x"},"output":[]}}']),
      'ERR_OUTPUT_PROVIDER_ERROR'),
    rejects('12.3', 'a response with status "failed": ERR_OUTPUT_PROVIDER_ERROR', 'openai-responses',
      '{"id":"resp_1","object":"response","status":"failed","error":null,"output":[]}', 'ERR_OUTPUT_PROVIDER_ERROR'),
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
    rejects('12.3', 'a text delta for an output item never started: ERR_OUTPUT_EVENT_ORDER', 'openai-responses',
      [events[0], events[4]].map((part) => `${part}\n\n`).join(''), 'ERR_OUTPUT_EVENT_ORDER'),
    rejects('12.3', 'deltas that differ from the terminal event: ERR_OUTPUT_CONTRADICTION', 'openai-responses',
      text.replace('"delta":" 21:04 Uhr."', '"delta":" 21:05 Uhr."'), 'ERR_OUTPUT_CONTRADICTION'),
    rejects('12.3', 'an error event in the middle of the stream: the run failed, no output', 'openai-responses',
      `${events.slice(0, 6).join('\n\n')}\n\nevent: error\ndata: {"type":"error","code":"server_error","message":"The server had an error.","param":null,"sequence_number":6}\n\n`,
      'ERR_OUTPUT_PROVIDER_ERROR'),
    ...responsesOrder(events),
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
