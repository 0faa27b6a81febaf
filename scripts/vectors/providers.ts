/** Writes testdata/providers/*.json: docs/SPEC.md section 4 (provider mappings) cases, hand-written. */
import { prepareRequest } from '../../src/capture/capture-run.ts';
import { RunprintError } from '../../src/errors.ts';
import { computeIdentity } from '../../src/identity/identity.ts';
import { parseComposition, type Composition } from '../../src/identity/composition.ts';
import type { JsonValue } from '../../src/jcs/json-value.ts';
import { memberHeadersOf } from '../../src/providers/header-members.ts';
import { compositionFromRequest, detectFormat, requestFromComposition, servedFromResponse } from '../../src/providers/index.ts';
import type { VectorFile } from '../generate-vectors.ts';

/*
 * Every expected value here is written by hand from the field tables in docs/SPEC.md section 4,
 * never computed by src/providers, so the vectors check the implementation rather than mirror it.
 * Before a file is written, each case is run through src/providers and must have the outcome
 * written here (the composition, request, format or served facts; or the error code and path).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Format = 'openai-chat' | 'openai-responses' | 'anthropic-messages';
type Vector = { desc: string; spec: string } & { [key: string]: Json };

interface Parts {
  system?: Json[];
  input?: Json[];
  tools?: Json[];
  parameters?: { [key: string]: Json };
  configuration?: { [key: string]: Json };
  excluded?: { [key: string]: Json };
}

/** A composition as SPEC section 2 spells it; `excluded` only when something is excluded. */
function composition(format: Format, name: string, parts: Parts = {}): Json {
  const out: { [key: string]: Json } = {
    version: 'runprint/v1',
    model: { api: format, name },
    system: parts.system ?? [],
    input: parts.input ?? [],
    context: [],
    tools: parts.tools ?? [],
    parameters: parts.parameters ?? {},
    configuration: parts.configuration ?? {},
  };
  if (parts.excluded !== undefined) out['excluded'] = parts.excluded;
  return out;
}

function maps(spec: string, desc: string, format: Format, request: Json, want: Json): Vector {
  return { desc, spec, format, request, wantComposition: want };
}

function rejects(spec: string, desc: string, format: Format, request: Json, wantPath: string): Vector {
  return { desc, spec, format, request, wantErr: 'ERR_PROVIDER_INVALID_REQUEST', wantPath };
}

function file(path: string, desc: string, spec: string, vectors: Vector[]): VectorFile {
  for (const vector of vectors) verify(vector);
  return { path, content: { desc, spec, generated: true, vectors } };
}

/** What src/providers gives for a vector's input: its result, or its error code and path. */
function outcome(vector: Vector): unknown {
  const format = vector['format'] as Format;
  try {
    if ('headers' in vector) return capturedOutcome(format, vector['headers'] as Array<[string, string]>, vector['request'] as Json);
    if ('request' in vector) {
      const composition = compositionFromRequest(format, vector['request'] as JsonValue);
      parseComposition(composition);
      // An accepted request comes back unchanged from its composition (SPEC 4.1.7).
      if (!sameJson(requestFromComposition(composition), vector['request'])) return { notInvertible: true };
      return { wantComposition: composition };
    }
    if ('composition' in vector) return { wantRequest: requestFromComposition(parseComposition(vector['composition']) as Composition) };
    if ('input' in vector) return { wantFormat: detectFormat(vector['input'] as JsonValue) };
    return { wantServed: servedFromResponse(format, vector['response'] as JsonValue) };
  } catch (error) {
    if (!(error instanceof RunprintError)) throw error;
    return { wantErr: error.code, wantPath: error.path };
  }
}

/**
 * A captured call (SPEC 4.8) as the proxy reads it: its header lines appended in order to a Fetch
 * Headers (whose get joins the lines of one header with ", "), the member headers taken from it,
 * and the body's bytes prepared with them.
 */
function capturedOutcome(format: Format, lines: Array<[string, string]>, request: Json): unknown {
  const headers = new Headers();
  for (const [name, value] of lines) headers.append(name, value);
  const members = memberHeadersOf(format, (name) => headers.get(name));
  const prepared = prepareRequest(format, new TextEncoder().encode(JSON.stringify(request)), undefined, members);
  if (prepared.error !== null) return { wantErr: prepared.error.code, wantPath: prepared.error.path };
  return { wantComposition: prepared.composition, wantRequestId: prepared.identity.requestId };
}

/** Fails generation when the implementation does not give a case the outcome written for it. */
function verify(vector: Vector): void {
  const intended: { [key: string]: unknown } = {};
  for (const key of ['wantComposition', 'wantRequestId', 'wantRequest', 'wantFormat', 'wantServed', 'wantErr', 'wantPath']) {
    if (key in vector) intended[key] = vector[key];
  }
  const actual = outcome(vector) as { [key: string]: unknown };
  // Detection errors carry the path `$`; vectors of section 4.5 do not repeat it.
  if (!('wantPath' in intended)) delete actual['wantPath'];
  if (!sameJson(actual, intended)) {
    throw new Error(`vector "${vector.desc}": intended ${JSON.stringify(intended)}, got ${JSON.stringify(actual)}`);
  }
}

/** JSON equality; member order does not count. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && sameJson((a as never)[key], (b as never)[key]));
}

// Shared fixtures: realistic content, with text outside ASCII and outside the BMP.
const weatherFunction: Json = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', description: 'City name, e.g. Zürich' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['city'],
      additionalProperties: false,
    },
    strict: true,
  },
};
const userAsk: Json = { role: 'user', content: 'Wie wird das Wetter morgen in Zürich? 明日の天気は？ 🌦️' };

// Per-API excluded fields with a typical value (SPEC 4.2-4.4 tables).
const EXCLUDED_SAMPLES: { [F in Format]: Array<[string, Json]> } = {
  'openai-chat': [
    ['metadata', { tenant: 'acme', trace: 'a1b2' }],
    ['prompt_cache_key', 'support-bot-v3'],
    ['prompt_cache_retention', '24h'],
    ['safety_identifier', 'hash-4f9c'],
    ['store', true],
    ['stream', true],
    ['stream_options', { include_usage: true }],
    ['user', 'user-8812'],
  ],
  'openai-responses': [
    ['background', true],
    ['metadata', { tenant: 'acme' }],
    ['prompt_cache_key', 'support-bot-v3'],
    ['prompt_cache_retention', 'in_memory'],
    ['safety_identifier', 'hash-4f9c'],
    ['store', false],
    ['stream', true],
    ['stream_options', { include_obfuscation: false }],
    ['user', 'user-8812'],
  ],
  'anthropic-messages': [
    ['cache_control', { type: 'ephemeral', ttl: '1h' }],
    ['metadata', { user_id: '13803d75-b4b5-4c3e-b2a2-6f21399b021b' }],
    ['stream', true],
    ['user_profile_id', 'prof_01'],
  ],
};

function excludedVectors(format: Format, spec: string, base: { [key: string]: Json }, parts: Parts): Vector[] {
  return EXCLUDED_SAMPLES[format].map(([field, value]) =>
    maps(
      spec,
      `"${field}" is transport or bookkeeping: excluded, kept for replay`,
      format,
      { ...base, [field]: value },
      composition(format, base['model'] as string, { ...parts, excluded: { [field]: value } }),
    ),
  );
}

function openAIChat(): Vector[] {
  const s = '4.2';
  const f: Format = 'openai-chat';
  const toolCall: Json = {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich"}' } }],
  };
  const toolResult: Json = { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21,"sky":"☀️"}' };
  const developer: Json = { role: 'developer', content: 'Answer in the language of the question.' };
  const system: Json = { role: 'system', content: [{ type: 'text', text: 'You are a careful weather assistant.' }] };
  const images: Json = {
    role: 'user',
    content: [
      { type: 'text', text: 'Was zeigt dieses Bild? 🔍' },
      { type: 'image_url', image_url: { url: 'https://example.com/sky.png', detail: 'high' } },
      { type: 'file', file: { file_id: 'file-abc123' } },
      { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
    ],
  };
  const jsonSchema: Json = {
    type: 'json_schema',
    json_schema: { name: 'forecast', strict: true, schema: { type: 'object', properties: { summary: { type: 'string' } } } },
  };
  const base = { model: 'gpt-4o-mini', messages: [userAsk] };
  return [
    maps(s, 'multi-turn tool use: leading developer and system messages are system, the rest is input, in order', f,
      {
        model: 'gpt-4o-2024-08-06',
        messages: [developer, system, userAsk, toolCall, toolResult],
        tools: [weatherFunction],
        tool_choice: 'auto',
        parallel_tool_calls: false,
        temperature: 0.3,
        max_completion_tokens: 800,
        seed: 42,
        stream: true,
        stream_options: { include_usage: true },
        user: 'user-8812',
      },
      composition(f, 'gpt-4o-2024-08-06', {
        system: [developer, system],
        input: [userAsk, toolCall, toolResult],
        tools: [weatherFunction],
        parameters: { temperature: 0.3, max_completion_tokens: 800, seed: 42 },
        configuration: { tool_choice: 'auto', parallel_tool_calls: false },
        excluded: { stream: true, stream_options: { include_usage: true }, user: 'user-8812' },
      })),
    maps(s, 'image, file and audio parts stay inside their user message, unchanged', f,
      { model: 'gpt-4o', messages: [images], response_format: jsonSchema, reasoning_effort: 'low', verbosity: 'low', service_tier: 'flex' },
      composition(f, 'gpt-4o', {
        input: [images],
        parameters: { reasoning_effort: 'low', verbosity: 'low' },
        configuration: { response_format: jsonSchema, service_tier: 'flex' },
      })),
    maps(s, 'a system message after the first non-system message stays in input at its place', f,
      { model: 'gpt-4o', messages: [system, userAsk, { role: 'system', content: 'Now be brief.' }, { role: 'user', content: 'Und übermorgen?' }] },
      composition(f, 'gpt-4o', {
        system: [system],
        input: [userAsk, { role: 'system', content: 'Now be brief.' }, { role: 'user', content: 'Und übermorgen?' }],
      })),
    maps(s, 'no leading system message: system is empty, every message is input', f,
      { model: 'gpt-4o', messages: [userAsk, { role: 'system', content: 'late' }] },
      composition(f, 'gpt-4o', { input: [userAsk, { role: 'system', content: 'late' }] })),
    maps(s, 'only system and developer messages: input is empty and "messages" is fully lifted', f,
      { model: 'gpt-4o', messages: [system, developer] },
      composition(f, 'gpt-4o', { system: [system, developer] })),
    maps(s, 'a role that is not the string "system" or "developer" ends the leading run', f,
      { model: 'gpt-4o', messages: [{ role: ['system'], content: 'x' }, system] },
      composition(f, 'gpt-4o', { input: [{ role: ['system'], content: 'x' }, system] })),
    maps(s, 'every sampling and generation control goes to parameters, verbatim', f,
      {
        model: 'o4-mini', messages: [userAsk], frequency_penalty: 0.5, logit_bias: { '50256': -100, '1734': 5 }, logprobs: true,
        max_completion_tokens: 2048, max_tokens: 1024, n: 3, presence_penalty: -0.25, reasoning_effort: 'high', seed: 7,
        stop: ['\n\n', 'END'], temperature: 1, top_logprobs: 5, top_p: 0.9, verbosity: 'medium',
      },
      composition(f, 'o4-mini', {
        input: [userAsk],
        parameters: {
          frequency_penalty: 0.5, logit_bias: { '50256': -100, '1734': 5 }, logprobs: true, max_completion_tokens: 2048,
          max_tokens: 1024, n: 3, presence_penalty: -0.25, reasoning_effort: 'high', seed: 7, stop: ['\n\n', 'END'],
          temperature: 1, top_logprobs: 5, top_p: 0.9, verbosity: 'medium',
        },
      })),
    maps(s, 'audio output, predicted output and web search options are configuration', f,
      {
        model: 'gpt-4o-audio-preview', messages: [userAsk], modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' },
        prediction: { type: 'content', content: 'class Forecast {}' }, web_search_options: { search_context_size: 'low' },
      },
      composition(f, 'gpt-4o-audio-preview', {
        input: [userAsk],
        configuration: {
          modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' },
          prediction: { type: 'content', content: 'class Forecast {}' }, web_search_options: { search_context_size: 'low' },
        },
      })),
    maps(s, 'deprecated "functions" and "function_call" are configuration, not tools', f,
      {
        model: 'gpt-3.5-turbo', messages: [userAsk, { role: 'function', name: 'get_weather', content: '21' }],
        functions: [{ name: 'get_weather', parameters: { type: 'object', properties: {} } }], function_call: 'auto',
      },
      composition(f, 'gpt-3.5-turbo', {
        input: [userAsk, { role: 'function', name: 'get_weather', content: '21' }],
        configuration: { functions: [{ name: 'get_weather', parameters: { type: 'object', properties: {} } }], function_call: 'auto' },
      })),
    maps(s, 'unknown fields (vendor extensions) are kept in configuration, never dropped', f,
      { model: 'meta-llama/Llama-3.1-8B-Instruct', messages: [userAsk], guided_json: { type: 'object' }, repetition_penalty: 1.1, extra_body: {} },
      composition(f, 'meta-llama/Llama-3.1-8B-Instruct', {
        input: [userAsk],
        configuration: { guided_json: { type: 'object' }, repetition_penalty: 1.1, extra_body: {} },
      })),
    maps(s, 'presence rule: "tools": [] does not lift and stays in configuration', f,
      { ...base, tools: [] },
      composition(f, 'gpt-4o-mini', { input: [userAsk], configuration: { tools: [] } })),
    maps(s, 'presence rule: "tools": null stays in configuration', f,
      { ...base, tools: null },
      composition(f, 'gpt-4o-mini', { input: [userAsk], configuration: { tools: null } })),
    maps(s, 'presence rule: "messages": [] stays in configuration', f,
      { model: 'gpt-4o-mini', messages: [] },
      composition(f, 'gpt-4o-mini', { configuration: { messages: [] } })),
    maps(s, 'presence rule: absent "messages" stays absent', f,
      { model: 'gpt-4o-mini', temperature: 0 },
      composition(f, 'gpt-4o-mini', { parameters: { temperature: 0 } })),
    ...excludedVectors(f, s, base, { input: [userAsk] }),
    rejects(s, '"messages" that is not an array', f, { model: 'gpt-4o', messages: 'Hello' }, "$['messages']"),
    rejects(s, 'a message that is not an object', f, { model: 'gpt-4o', messages: [userAsk, 'Hello'] }, "$['messages'][1]"),
    rejects(s, '"tools" that is an object', f, { model: 'gpt-4o', messages: [userAsk], tools: weatherFunction }, "$['tools']"),
    rejects(s, 'a tool that is not an object', f, { model: 'gpt-4o', messages: [userAsk], tools: [weatherFunction, 3] }, "$['tools'][1]"),
  ];
}

function openAIResponses(): Vector[] {
  const s = '4.3';
  const f: Format = 'openai-responses';
  const functionTool: Json = {
    type: 'function',
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: true,
  };
  const webSearch: Json = { type: 'web_search', search_context_size: 'low', user_location: { type: 'approximate', country: 'CH' } };
  const userItem: Json = {
    type: 'message',
    role: 'user',
    content: [
      { type: 'input_text', text: 'Fasse das Dokument zusammen. 要約してください。' },
      { type: 'input_image', image_url: 'https://example.com/chart.png', detail: 'auto' },
      { type: 'input_file', file_id: 'file-9Xy' },
    ],
  };
  const reasoningItem: Json = { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAAB…' };
  const callItem: Json = { type: 'function_call', call_id: 'call_7', name: 'get_weather', arguments: '{"city":"Genève"}' };
  const outputItem: Json = { type: 'function_call_output', call_id: 'call_7', output: '{"temp":19}' };
  const developerItem: Json = { role: 'developer', content: 'Use metric units.' };
  const schemaText: Json = { format: { type: 'json_schema', name: 'summary', schema: { type: 'object' }, strict: true }, verbosity: 'low' };
  const base = { model: 'gpt-5', input: 'Hallo 👋' };
  return [
    maps(s, 'string instructions are the system list, string input the input list', f,
      {
        model: 'gpt-5', instructions: 'Du bist ein präziser Assistent.', input: 'Wie spät ist es in Tōkyō?',
        tools: [webSearch, functionTool], tool_choice: 'auto', reasoning: { effort: 'medium', summary: 'auto' }, text: schemaText,
        include: ['reasoning.encrypted_content', 'web_search_call.action.sources'], store: false, metadata: { run: '42' },
      },
      composition(f, 'gpt-5', {
        system: ['Du bist ein präziser Assistent.'],
        input: ['Wie spät ist es in Tōkyō?'],
        tools: [webSearch, functionTool],
        parameters: { reasoning: { effort: 'medium', summary: 'auto' } },
        configuration: { tool_choice: 'auto', text: schemaText, include: ['reasoning.encrypted_content', 'web_search_call.action.sources'] },
        excluded: { store: false, metadata: { run: '42' } },
      })),
    maps(s, 'input items (message with image and file, reasoning, function call and output) are input, in order', f,
      {
        model: 'o3', input: [userItem, reasoningItem, callItem, outputItem], previous_response_id: 'resp_68a1',
        truncation: 'auto', max_tool_calls: 4, max_output_tokens: 4000, parallel_tool_calls: true, top_logprobs: 2,
      },
      composition(f, 'o3', {
        input: [userItem, reasoningItem, callItem, outputItem],
        parameters: { max_tool_calls: 4, max_output_tokens: 4000, top_logprobs: 2 },
        configuration: { previous_response_id: 'resp_68a1', truncation: 'auto', parallel_tool_calls: true },
      })),
    maps(s, 'a developer input item stays in input: only "instructions" lifts into system', f,
      { model: 'gpt-4.1', input: [developerItem, userItem] },
      composition(f, 'gpt-4.1', { input: [developerItem, userItem] })),
    maps(s, 'conversation, prompt template, context management, moderation and service tier are configuration', f,
      {
        model: 'gpt-5-mini', input: 'Weiter.', conversation: { id: 'conv_123' },
        prompt: { id: 'pmpt_abc', version: '3', variables: { city: 'Zürich' } },
        context_management: [{ type: 'compaction', compact_threshold: 200000 }], moderation: { model: 'omni-moderation-latest' },
        service_tier: 'priority', temperature: 0.2, top_p: 1,
      },
      composition(f, 'gpt-5-mini', {
        input: ['Weiter.'],
        parameters: { temperature: 0.2, top_p: 1 },
        configuration: {
          conversation: { id: 'conv_123' }, prompt: { id: 'pmpt_abc', version: '3', variables: { city: 'Zürich' } },
          context_management: [{ type: 'compaction', compact_threshold: 200000 }], moderation: { model: 'omni-moderation-latest' },
          service_tier: 'priority',
        },
      })),
    maps(s, 'presence rule: "instructions": null stays in configuration', f,
      { ...base, instructions: null },
      composition(f, 'gpt-5', { input: ['Hallo 👋'], configuration: { instructions: null } })),
    maps(s, 'presence rule: an empty string is still a string and lifts, as [""]', f,
      { model: 'gpt-5', instructions: '', input: '' },
      composition(f, 'gpt-5', { system: [''], input: [''] })),
    maps(s, 'presence rule: "input": [] and "tools": [] stay in configuration', f,
      { model: 'gpt-5', input: [], tools: [] },
      composition(f, 'gpt-5', { configuration: { input: [], tools: [] } })),
    maps(s, 'unknown fields are kept in configuration', f,
      { ...base, reasoning_mode: 'deep', 'x-trace': [1, 2] },
      composition(f, 'gpt-5', { input: ['Hallo 👋'], configuration: { reasoning_mode: 'deep', 'x-trace': [1, 2] } })),
    ...excludedVectors(f, s, base, { input: ['Hallo 👋'] }),
    rejects(s, '"instructions" that is an array (only a string or null)', f, { model: 'gpt-5', instructions: [developerItem] }, "$['instructions']"),
    rejects(s, '"instructions": [] is rejected: only a string or null (the presence table of 4.1.4)', f, { model: 'gpt-5', instructions: [], input: 'x' }, "$['instructions']"),
    rejects(s, '"input" that is a number', f, { model: 'gpt-5', input: 7 }, "$['input']"),
    rejects(s, 'a string input item: ["x"] and "x" would lift alike', f, { model: 'gpt-5', input: ['Hallo'] }, "$['input'][0]"),
    rejects(s, 'a tool that is a string', f, { model: 'gpt-5', input: 'x', tools: ['web_search'] }, "$['tools'][0]"),
  ];
}

function anthropicMessages(): Vector[] {
  const s = '4.4';
  const f: Format = 'anthropic-messages';
  const systemBlocks: Json = [
    { type: 'text', text: 'Du bist ein hilfsbereiter Assistent für Reiseplanung.' },
    { type: 'text', text: '＜長い参照資料＞ …', cache_control: { type: 'ephemeral' } },
  ];
  const tool: Json = {
    name: 'get_weather',
    description: 'Current weather for a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  };
  const serverTool: Json = { type: 'web_search_20250305', name: 'web_search', max_uses: 3, allowed_domains: ['meteoswiss.admin.ch'] };
  const withDocuments: Json = {
    role: 'user',
    content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'document', source: { type: 'url', url: 'https://example.com/fahrplan.pdf' }, title: 'Fahrplan', citations: { enabled: true } },
      { type: 'text', text: 'Welcher Zug fährt nach Genève? 🚆' },
    ],
  };
  const toolUse: Json = {
    role: 'assistant',
    content: [
      { type: 'thinking', thinking: 'Need the weather first.', signature: 'EqQBCgIYAh…' },
      { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Genève' } },
    ],
  };
  const toolResult: Json = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '19 °C, sonnig' }] };
  const ask: Json = { role: 'user', content: 'Hallo, Claude 👋' };
  const base = { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [ask] };
  return [
    maps(s, 'system blocks, documents, images, thinking, tool use and tool results: each message is one input element', f,
      {
        model: 'claude-sonnet-4-5-20250929', max_tokens: 4096, system: systemBlocks, messages: [withDocuments, toolUse, toolResult],
        tools: [tool, serverTool], tool_choice: { type: 'auto', disable_parallel_tool_use: true },
        thinking: { type: 'enabled', budget_tokens: 2048 }, stream: true, metadata: { user_id: 'u-77' },
      },
      composition(f, 'claude-sonnet-4-5-20250929', {
        system: systemBlocks as Json[],
        input: [withDocuments, toolUse, toolResult],
        tools: [tool, serverTool],
        parameters: { max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 } },
        configuration: { tool_choice: { type: 'auto', disable_parallel_tool_use: true } },
        excluded: { stream: true, metadata: { user_id: 'u-77' } },
      })),
    maps(s, 'a string system prompt is a one-element system list; sampling controls are parameters', f,
      {
        model: 'claude-3-5-haiku-20241022', max_tokens: 512, system: 'Antworte kurz.', messages: [ask],
        temperature: 0.7, top_k: 40, top_p: 0.95, stop_sequences: ['\n\nHuman:'],
      },
      composition(f, 'claude-3-5-haiku-20241022', {
        system: ['Antworte kurz.'],
        input: [ask],
        parameters: { max_tokens: 512, temperature: 0.7, top_k: 40, top_p: 0.95, stop_sequences: ['\n\nHuman:'] },
      })),
    maps(s, 'no normalization: system "x" is a string element ...', f,
      { model: 'claude-opus-4-1', max_tokens: 64, system: 'x', messages: [ask] },
      composition(f, 'claude-opus-4-1', { system: ['x'], input: [ask], parameters: { max_tokens: 64 } })),
    maps(s, '... and system [{"type":"text","text":"x"}] is a block element: a different identity', f,
      { model: 'claude-opus-4-1', max_tokens: 64, system: [{ type: 'text', text: 'x' }], messages: [ask] },
      composition(f, 'claude-opus-4-1', { system: [{ type: 'text', text: 'x' }], input: [ask], parameters: { max_tokens: 64 } })),
    maps(s, 'a message with role "system" stays in input: only the top-level "system" lifts', f,
      { ...base, messages: [ask, { role: 'system', content: 'Jetzt auf Englisch.' }] },
      composition(f, 'claude-sonnet-4-5', {
        input: [ask, { role: 'system', content: 'Jetzt auf Englisch.' }],
        parameters: { max_tokens: 1024 },
      })),
    maps(s, 'service tier, region, container, output config and beta fields are configuration', f,
      {
        ...base, service_tier: 'standard_only', inference_geo: 'eu', container: 'container_011', speed: 'fast',
        output_config: { effort: 'high', format: { type: 'json_schema', schema: { type: 'object' } } },
        mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'calendar' }],
        context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] }, betas: ['mcp-client-2025-04-04'],
      },
      composition(f, 'claude-sonnet-4-5', {
        input: [ask],
        parameters: { max_tokens: 1024 },
        configuration: {
          service_tier: 'standard_only', inference_geo: 'eu', container: 'container_011', speed: 'fast',
          output_config: { effort: 'high', format: { type: 'json_schema', schema: { type: 'object' } } },
          mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'calendar' }],
          context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] }, betas: ['mcp-client-2025-04-04'],
        },
      })),
    maps(s, 'presence rule: "system": [] stays in configuration', f,
      { ...base, system: [] },
      composition(f, 'claude-sonnet-4-5', { input: [ask], parameters: { max_tokens: 1024 }, configuration: { system: [] } })),
    maps(s, 'presence rule: "system": null stays in configuration', f,
      { ...base, system: null },
      composition(f, 'claude-sonnet-4-5', { input: [ask], parameters: { max_tokens: 1024 }, configuration: { system: null } })),
    maps(s, 'unknown fields are kept in configuration', f,
      { ...base, anthropic_version: 'bedrock-2023-05-31' },
      composition(f, 'claude-sonnet-4-5', { input: [ask], parameters: { max_tokens: 1024 }, configuration: { anthropic_version: 'bedrock-2023-05-31' } })),
    ...excludedVectors(f, s, base, { input: [ask], parameters: { max_tokens: 1024 } }),
    rejects(s, '"system" that is a number', f, { ...base, system: 1 }, "$['system']"),
    rejects(s, 'a system element that is a string: ["x"] and "x" would lift alike', f, { ...base, system: ['x'] }, "$['system'][0]"),
    rejects(s, '"messages" that is an object', f, { model: 'claude-sonnet-4-5', max_tokens: 8, messages: ask }, "$['messages']"),
    rejects(s, 'a message that is null', f, { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [null] }, "$['messages'][0]"),
  ];
}

function commonRules(): Vector[] {
  const s = '4.1';
  const ask: Json = { role: 'user', content: 'Hi' };
  // JSON.parse, because a "__proto__" key in an object literal would set the prototype instead.
  const proto = JSON.parse('{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"__proto__":{"polluted":true}}') as Json;
  const protoWant = composition('openai-chat', 'gpt-4o', { input: [ask] }) as { [key: string]: Json };
  protoWant['configuration'] = JSON.parse('{"__proto__":{"polluted":true}}') as Json;
  return [
    maps(s, 'model is {"api": format, "name": request.model}; a request with nothing else has empty components', 'openai-responses',
      { model: 'gpt-4.1-nano' }, composition('openai-responses', 'gpt-4.1-nano')),
    maps(s, 'a member named "__proto__" is an ordinary unknown field, kept in configuration', 'openai-chat', proto, protoWant),
    maps(s, 'member names inherited in some languages ("constructor", "toString") are ordinary unknown fields', 'anthropic-messages',
      { model: 'claude-haiku-4-5', messages: [ask], constructor: 1, toString: 'x' },
      composition('anthropic-messages', 'claude-haiku-4-5', { input: [ask], configuration: { constructor: 1, toString: 'x' } })),
    maps(s, 'fields named like composition members ("version", "configuration") are ordinary unknown fields', 'openai-chat',
      { model: 'gpt-4o', messages: [ask], version: 'runprint/v1', configuration: { a: 1 } },
      composition('openai-chat', 'gpt-4o', { input: [ask], configuration: { version: 'runprint/v1', configuration: { a: 1 } } })),
    maps(s, 'values are never normalized: a decomposed "é" (e + U+0301) stays apart from the precomposed one', 'openai-chat',
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'e\u0301 vs \u00e9' }], temperature: 1.0, top_p: 1e-7 },
      composition('openai-chat', 'gpt-4o', { input: [{ role: 'user', content: 'e\u0301 vs \u00e9' }], parameters: { temperature: 1, top_p: 1e-7 } })),
    rejects(s, 'a request that is an array', 'openai-chat', [{ model: 'gpt-4o' }], '$'),
    rejects(s, 'a request that is a string', 'anthropic-messages', 'claude', '$'),
    rejects(s, 'a request that is null', 'openai-responses', null, '$'),
    rejects(s, 'a request without "model"', 'openai-chat', { messages: [ask] }, "$['model']"),
    rejects(s, 'a request whose "model" is not a string', 'openai-responses', { model: 5, input: 'x' }, "$['model']"),
    rejects(s, 'a request whose "model" is the empty string', 'anthropic-messages', { model: '', max_tokens: 1, messages: [ask] }, "$['model']"),
    rejects(s, 'several faults: "model" is checked before the lifted fields', 'openai-chat', { model: 4, messages: 'x' }, "$['model']"),
    rejects(s, 'several faults: "instructions" is checked before "input"', 'openai-responses', { input: [1], instructions: 1, model: 'gpt-5' }, "$['instructions']"),
    rejects(s, 'several faults: "system" is checked before "messages", elements front to back', 'anthropic-messages',
      { model: 'claude-haiku-4-5', max_tokens: 1, messages: ['y'], system: [{ type: 'text', text: 'a' }, 'x', 'z'] }, "$['system'][1]"),
    rejects(s, 'several faults: "messages" is checked before "tools"', 'openai-chat', { tools: 'x', model: 'gpt-4o', messages: [ask, 2] }, "$['messages'][1]"),
  ];
}

function inverse(): Vector[] {
  const s = '4.1';
  const ask: Json = { role: 'user', content: 'Hi' };
  const sys: Json = { role: 'system', content: 'Be brief.' };
  const back = (desc: string, comp: Json, wantRequest: Json): Vector => ({ desc, spec: s, composition: comp, wantRequest });
  const fails = (desc: string, comp: Json, wantPath: string, wantErr = 'ERR_PROVIDER_INVALID_REQUEST'): Vector =>
    ({ desc, spec: s, composition: comp, wantErr, wantPath });
  const chat = (parts: Parts): Json => composition('openai-chat', 'gpt-4o', parts);
  return [
    back('OpenAI Chat: messages are system followed by input; excluded fields come back',
      chat({ system: [sys], input: [ask], parameters: { n: 2 }, excluded: { stream: true } }),
      { model: 'gpt-4o', messages: [sys, ask], n: 2, stream: true }),
    back('OpenAI Responses: a one-string list gives the string form back',
      composition('openai-responses', 'gpt-5', { system: ['Be brief.'], input: ['Hi'], configuration: { store_hint: 1 } }),
      { model: 'gpt-5', instructions: 'Be brief.', input: 'Hi', store_hint: 1 }),
    back('Anthropic Messages: block system list gives the array form back',
      composition('anthropic-messages', 'claude-haiku-4-5', { system: [{ type: 'text', text: 'Be brief.' }], input: [ask], parameters: { max_tokens: 9 } }),
      { model: 'claude-haiku-4-5', system: [{ type: 'text', text: 'Be brief.' }], messages: [ask], max_tokens: 9 }),
    fails('"model.api" that names no supported API', {
      ...(chat({ input: [ask] }) as { [key: string]: Json }), model: { api: 'google-gemini', name: 'gemini-2.5-pro' },
    }, "$['model']['api']", 'ERR_PROVIDER_UNKNOWN_FORMAT'),
    fails('a model with more than "api" and "name" has no request form', {
      ...(chat({ input: [ask] }) as { [key: string]: Json }), model: { api: 'openai-chat', name: 'gpt-4o', revision: '2024-08-06' },
    }, "$['model']"),
    fails('a non-empty context has no request form (provider requests carry documents inside messages)', {
      ...(chat({ input: [ask] }) as { [key: string]: Json }), context: [{ title: 'Handbuch', text: '…' }],
    }, "$['context'][0]"),
    fails('OpenAI Chat: a system message at the start of input would map back into system', chat({ input: [sys, ask] }), "$['system']"),
    fails('OpenAI Chat: a user message in system would map back into input', chat({ system: [ask] }), "$['system']"),
    fails('OpenAI Chat: an input element that is a string', chat({ input: ['Hi'] }), "$['input'][0]"),
    fails('a configuration field placed in parameters would map back into configuration',
      chat({ input: [ask], parameters: { response_format: { type: 'json_object' } } }), "$['parameters']"),
    fails('the same request field in input and configuration', chat({ input: [ask], configuration: { messages: [] } }),
      "$['configuration']['messages']"),
    fails('the same request field in configuration and excluded', chat({ input: [ask], configuration: { stream: false }, excluded: { stream: true } }),
      "$['excluded']['stream']"),
    fails('a lifted field kept in configuration must have a shape that does not lift', chat({ configuration: { messages: 'Hi' } }),
      "$['configuration']['messages']"),
    fails('OpenAI Responses: a system list of objects has no "instructions" form',
      composition('openai-responses', 'gpt-5', { system: [sys] }), "$['system']"),
    fails('OpenAI Responses: mixed string and object input elements',
      composition('openai-responses', 'gpt-5', { input: ['Hi', ask] }), "$['input'][0]"),
    fails('Anthropic Messages: two strings in system have no request form',
      composition('anthropic-messages', 'claude-haiku-4-5', { system: ['a', 'b'] }), "$['system'][0]"),
  ];
}

function detection(): Vector[] {
  const s = '4.5';
  const ask: Json = { role: 'user', content: 'Hi' };
  const is = (desc: string, input: Json, wantFormat: string): Vector => ({ desc, spec: s, input, wantFormat });
  const not = (desc: string, input: Json, wantErr: string): Vector => ({ desc, spec: s, input, wantErr, wantPath: '$' });
  const ambiguous = 'ERR_PROVIDER_AMBIGUOUS_FORMAT';
  const unknown = 'ERR_PROVIDER_UNKNOWN_FORMAT';
  return [
    is('"version": "runprint/v1" marks a composition', composition('openai-chat', 'gpt-4o', { input: [ask] }), 'composition'),
    is('any "runprint/" version marks a composition (its reader reports an unsupported version)',
      { version: 'runprint/v9', model: { api: 'x', name: 'y' } }, 'composition'),
    is('"messages" rules out OpenAI Responses and "stream_options" Anthropic Messages: OpenAI Chat', { model: 'gpt-4o', messages: [ask], stream: true, stream_options: { include_usage: true } }, 'openai-chat'),
    is('"n", "seed" and "response_format" are OpenAI Chat fields only', { model: 'gpt-4o', messages: [ask], n: 2, seed: 1, response_format: { type: 'text' } }, 'openai-chat'),
    is('"input" is an OpenAI Responses field only', { model: 'gpt-5', input: 'Hi' }, 'openai-responses'),
    is('"instructions" and "previous_response_id" are OpenAI Responses fields only',
      { model: 'gpt-5', instructions: 'x', previous_response_id: 'resp_1' }, 'openai-responses'),
    is('"system" is an Anthropic Messages field only', { model: 'claude-sonnet-4-5', max_tokens: 100, system: 'x', messages: [ask] }, 'anthropic-messages'),
    is('"stop_sequences" and "top_k" are Anthropic Messages fields only',
      { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [ask], stop_sequences: ['END'], top_k: 5 }, 'anthropic-messages'),
    is('unknown member names do not count', { model: 'claude-sonnet-4-5', messages: [ask], thinking: { type: 'enabled', budget_tokens: 1024 }, 'x-extra': 1 }, 'anthropic-messages'),
    is('a "version" that is not a runprint version is an unknown name', { version: 2, model: 'gpt-5', input: 'Hi' }, 'openai-responses'),
    not('a bare {model, messages, max_tokens} is both OpenAI Chat and Anthropic Messages',
      { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [ask] }, ambiguous),
    is('shared fields only (tools, temperature, stream, metadata) without max_tokens: Anthropic Messages requires max_tokens, so OpenAI Chat',
      { model: 'claude-sonnet-4-5', messages: [ask], tools: [], temperature: 0, stream: true, metadata: {} }, 'openai-chat'),
    not('shared fields with max_tokens stay ambiguous, whatever the model name says',
      { model: 'gpt-4o', messages: [ask], tools: [], temperature: 0, stream: true, max_tokens: 10 }, ambiguous),
    is('{model} alone: only OpenAI Responses requires no more than model', { model: 'gpt-4o' }, 'openai-responses'),
    not('a misspelled field ("mesages") beside shared fields only: refused, not read as OpenAI Responses',
      { model: 'gpt-4o', mesages: [ask], temperature: 0 }, unknown),
    not('an unknown name where only the required fields decided: refused, not guessed (OpenAI Chat by required fields, plus a vendor member)',
      { model: 'gpt-4o', messages: [ask], temperature: 0, guided_json: {} }, unknown),
    is('an unknown name beside a field only one API defines is a vendor extension of that API',
      { model: 'gpt-4o', messages: [ask], seed: 1, guided_json: {} }, 'openai-chat'),
    not('{model, temperature, max_tokens}: no candidate has all its required fields, so all stay and it is ambiguous',
      { model: 'm', temperature: 1, max_tokens: 5 }, ambiguous),
    not('no known member name at all', { prompt_text: 'Hi', engine: 'davinci' }, unknown),
    not('names from two APIs ("messages" and "input") fit no single API', { model: 'gpt-5', messages: [ask], input: 'Hi' }, unknown),
    not('a document that is not an object', [{ model: 'gpt-4o' }], unknown),
  ];
}

function headerMembers(): Vector[] {
  const s = '4.8';
  const f: Format = 'anthropic-messages';
  const ask: Json = { role: 'user', content: 'Fasse den Bericht zusammen. 📄' };
  const base = { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [ask] };
  const thinking = 'interleaved-thinking-2025-05-14';
  const context = 'context-1m-2025-08-07';
  // The composition of `base` with these betas: configuration holds them (SPEC 4.4), none when undefined.
  const withBetas = (betas?: Json[]): Json =>
    composition(f, 'claude-sonnet-4-5', { input: [ask], parameters: { max_tokens: 1024 }, ...(betas === undefined ? {} : { configuration: { betas } }) });
  // The identity is the one SPEC 5 gives the hand-written composition: the same for the same composition.
  const sent = (desc: string, headers: Json, request: Json, want: Json, format: Format = f): Vector =>
    ({ desc, spec: s, format, headers, request, wantComposition: want, wantRequestId: computeIdentity(want).requestId });
  const refused = (desc: string, headers: Json, request: Json, wantPath: string): Vector =>
    ({ desc, spec: s, format: f, headers, request, wantErr: 'ERR_PROVIDER_INVALID_REQUEST', wantPath });
  const both = `betas ["${thinking}", "${context}"]`;
  // Every printable ASCII character, 20 to 7E, in order: all are read as themselves (the comma splits).
  const printable = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
  return [
    sent(`one header line "${thinking},${context}" is the member ${both}, in configuration`,
      [['anthropic-beta', `${thinking},${context}`]], base, withBetas([thinking, context])),
    sent(`a body with ${both} and no header maps as before: the same composition and identity as the header`,
      [], { ...base, betas: [thinking, context] }, withBetas([thinking, context])),
    sent('parts are trimmed of spaces and tabs and empty parts dropped: " a , ,\tb " is ["a", "b"], the same identity',
      [['anthropic-beta', ` ${thinking} , ,	${context} `]], base, withBetas([thinking, context])),
    sent('two lines of the header are joined with a comma in the order received ("a" then "b" is "a, b"): the same identity',
      [['anthropic-beta', thinking], ['anthropic-beta', context]], base, withBetas([thinking, context])),
    sent('the order of the parts is kept: "b" then "a" is ["b", "a"], another identity',
      [['anthropic-beta', context], ['anthropic-beta', thinking]], base, withBetas([context, thinking])),
    sent('a part named twice is kept twice', [['anthropic-beta', `${thinking}, ${thinking}`]], base, withBetas([thinking, thinking])),
    sent('spaces inside a part are kept: only leading and trailing ones are removed',
      [['anthropic-beta', ' a b ,c']], base, withBetas(['a b', 'c'])),
    sent('header names are compared without case ("Anthropic-Beta")', [['Anthropic-Beta', thinking]], base, withBetas([thinking])),
    sent('a tab inside a part is kept, as a space is: "a<TAB>b" is the part "a<TAB>b"',
      [['anthropic-beta', 'a\tb, c']], base, withBetas(['a\tb', 'c'])),
    sent('every printable ASCII byte (20 to 7E) is read as its character: " !\"#$%&\'()*+,-./0-9:;<=>?@A-Z[\\]^_`a-z{|}~" is two parts, split at the comma',
      [['anthropic-beta', printable]], base, withBetas(printable.split(',').map((part) => part.trim()))),
    sent('an empty list (" , ") is as if the header were absent: no member', [['anthropic-beta', ' , ']], base, withBetas()),
    sent('lines that are all empty parts ("" and " ,\t") are an empty list: no member',
      [['anthropic-beta', ''], ['anthropic-beta', ' ,	']], base, withBetas()),
    sent('other headers ("anthropic-version", "content-type") are no part of the identity',
      [['anthropic-version', '2023-06-01'], ['content-type', 'application/json']], base, withBetas()),
    sent('a body with betas and a header whose list is empty: the body\'s betas, not refused',
      [['anthropic-beta', ' , ']], { ...base, betas: [thinking] }, withBetas([thinking])),
    sent('OpenAI Chat has no member headers: an "anthropic-beta" header is ignored', [['anthropic-beta', thinking]],
      { model: 'gpt-4o', messages: [ask] }, composition('openai-chat', 'gpt-4o', { input: [ask] }), 'openai-chat'),
    refused('a body with betas and a header with a non-empty list is refused at $[\'betas\']',
      [['anthropic-beta', context]], { ...base, betas: [thinking] }, "$['betas']"),
    refused('refused even when the body and the header name the same betas',
      [['anthropic-beta', thinking]], { ...base, betas: [thinking] }, "$['betas']"),
    refused('refused when the body\'s betas is []: the body has the member',
      [['anthropic-beta', thinking]], { ...base, betas: [] }, "$['betas']"),
    refused('refused when the body\'s betas is null: the body has the member',
      [['anthropic-beta', thinking]], { ...base, betas: null }, "$['betas']"),
    refused('the member is added before the body is mapped: a body with betas, a header and no model is refused at $[\'betas\']',
      [['anthropic-beta', thinking]], { max_tokens: 1024, messages: [ask], betas: [context] }, "$['betas']"),
    refused('a byte outside printable ASCII is refused, not guessed at: the UTF-8 bytes of "é" (C3 A9), read one character per byte as "Ã©", could as well be "é"',
      [['anthropic-beta', 'caf\u00c3\u00a9']], base, "$['betas']"),
    refused('a byte from 80 to FF alone (E9, "é" in ISO-8859-1) is refused', [['anthropic-beta', `${thinking},\u00e9-feature`]], base, "$['betas']"),
    refused('DEL (7F) is refused', [['anthropic-beta', 'a\u007fb']], base, "$['betas']"),
    refused('a control other than tab (01) is refused', [['anthropic-beta', 'a\u0001b']], base, "$['betas']"),
    refused('a refused byte in the second of two lines refuses the header, the first line\'s parts with it',
      [['anthropic-beta', thinking], ['anthropic-beta', 'caf\u00c3\u00a9']], base, "$['betas']"),
    refused('A0 (a no-break space in ISO-8859-1) is not trimmed as a space is: " , <A0> ," is refused, not an empty list',
      [['anthropic-beta', ' , \u00a0 ,']], base, "$['betas']"),
    refused('a refused byte is checked before the mapping: a body with no model and such a header is refused at $[\'betas\']',
      [['anthropic-beta', 'caf\u00c3\u00a9']], { max_tokens: 1024, messages: [ask] }, "$['betas']"),
    refused('a refused byte and betas in the body too: refused at $[\'betas\'] (either check gives it)',
      [['anthropic-beta', 'caf\u00c3\u00a9']], { ...base, betas: [thinking] }, "$['betas']"),
    refused('a body that is not an object is refused at $, a header beside it or not',
      [['anthropic-beta', thinking]], [base], '$'),
    refused('a body that is not an object is refused at $ even beside a header with a refused byte',
      [['anthropic-beta', 'caf\u00c3\u00a9']], [base], '$'),
  ];
}

function served(): Vector[] {
  const s = '4.6';
  const fact = (value: string): Json => ({ source: 'reported', value });
  const yields = (desc: string, format: Format, response: Json, wantServed: Json): Vector =>
    ({ desc, spec: s, format, response, wantServed });
  const fails = (desc: string, format: Format, response: Json, wantPath: string): Vector =>
    ({ desc, spec: s, format, response, wantErr: 'ERR_PROVIDER_INVALID_RESPONSE', wantPath });
  const chatCompletion: Json = {
    id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT', object: 'chat.completion', created: 1741569952, model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Morgen wird es sonnig. ☀️', refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 }, service_tier: 'default', system_fingerprint: 'fp_6b68a8204b',
  };
  const response: Json = {
    id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b', object: 'response', created_at: 1741476542, status: 'completed',
    error: null, model: 'gpt-4.1-2025-04-14', output: [{ type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'Hallo!', annotations: [] }] }],
    service_tier: 'flex', temperature: 1, usage: { input_tokens: 36, output_tokens: 87, total_tokens: 123 },
  };
  const message: Json = {
    id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929',
    content: [{ type: 'text', text: 'Hallo! 👋' }], stop_reason: 'end_turn', stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 6, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard', inference_geo: 'us' },
  };
  return [
    yields('OpenAI Chat: model snapshot, system fingerprint and service tier; never id, content, usage or timestamps', 'openai-chat',
      chatCompletion, { model: fact('gpt-4o-2024-08-06'), systemFingerprint: fact('fp_6b68a8204b'), serviceTier: fact('default') }),
    yields('OpenAI Chat: a stream chunk reports the same facts', 'openai-chat',
      { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_44709d6fcb', choices: [] },
      { model: fact('gpt-4o-mini-2024-07-18'), systemFingerprint: fact('fp_44709d6fcb') }),
    yields('OpenAI Chat: a null system fingerprint is no fact', 'openai-chat',
      { object: 'chat.completion', model: 'gpt-4o', system_fingerprint: null, choices: [] }, { model: fact('gpt-4o') }),
    yields('OpenAI Responses: model snapshot and service tier', 'openai-responses', response,
      { model: fact('gpt-4.1-2025-04-14'), serviceTier: fact('flex') }),
    yields('Anthropic Messages: model, and the service tier and region inside usage', 'anthropic-messages', message,
      { model: fact('claude-sonnet-4-5-20250929'), serviceTier: fact('standard'), inferenceGeo: fact('us') }),
    yields('Anthropic Messages: the beta speed mode inside usage', 'anthropic-messages',
      { type: 'message', model: 'claude-opus-4-6', usage: { input_tokens: 1, output_tokens: 1, speed: 'fast', service_tier: null } },
      { model: fact('claude-opus-4-6'), speed: fact('fast') }),
    fails('a response that is not an object', 'openai-chat', [chatCompletion], '$'),
    fails('OpenAI Chat: "model" that is not a string', 'openai-chat', { object: 'chat.completion', model: 4 }, "$['model']"),
    fails('OpenAI Chat: "system_fingerprint" that is not a string', 'openai-chat', { model: 'gpt-4o', system_fingerprint: 1 }, "$['system_fingerprint']"),
    fails('OpenAI Responses: the body of another API', 'openai-responses', chatCompletion, "$['object']"),
    fails('Anthropic Messages: "usage" that is not an object', 'anthropic-messages', { type: 'message', model: 'claude-opus-4-6', usage: 'n/a' }, "$['usage']"),
    fails('Anthropic Messages: an error body', 'anthropic-messages',
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, "$['type']"),
    fails('OpenAI Chat: an error body (a non-null "error" member) is rejected', 'openai-chat',
      { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, '$'),
    fails('OpenAI Responses: a failed response (a non-null "error" member) is rejected, though it names its model', 'openai-responses',
      { object: 'response', status: 'failed', model: 'gpt-5-2025-08-07', error: { code: 'server_error', message: 'x' } }, '$'),
    yields('a response that reports no fact gives no fact: {} (served, no fact known: SPEC 2.3)', 'openai-chat',
      { object: 'chat.completion', choices: [] }, {}),
    yields('a null "error" member is no error body', 'openai-responses',
      { object: 'response', error: null, model: 'gpt-5-2025-08-07' }, { model: fact('gpt-5-2025-08-07') }),
  ];
}

export function generate(): VectorFile[] {
  return [
    file('providers/common-rules.json', 'Provider mappings: rules common to every API', '4.1', commonRules()),
    file('providers/openai-chat.json', 'OpenAI Chat Completions request -> composition', '4.2', openAIChat()),
    file('providers/openai-responses.json', 'OpenAI Responses request -> composition', '4.3', openAIResponses()),
    file('providers/anthropic-messages.json', 'Anthropic Messages request -> composition', '4.4', anthropicMessages()),
    file('providers/request-from-composition.json', 'Composition -> provider request, and compositions no request maps to', '4.1', inverse()),
    file('providers/detect-format.json', 'Recognizing a composition or a provider request (--from auto)', '4.5', detection()),
    file('providers/served-from-response.json', 'Served facts reported by a provider response', '4.6', served()),
    file('providers/header-members.json',
      'Request members sent as headers: a captured Anthropic Messages call\'s anthropic-beta header is its betas member. ' +
      '"headers" lists the header lines of the request as received, in order, each as [name, value], a value\'s characters ' +
      'being its bytes (U+0000-U+00FF, one per byte); two lines of one header are two pairs (a receiver joins them as ' +
      '"v1, v2", RFC 9110 section 5.3). "wantRequestId" is the request identity',
      '4.8', headerMembers()),
  ];
}
