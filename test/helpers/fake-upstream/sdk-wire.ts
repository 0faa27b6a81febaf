/**
 * The wire fixtures of test/fixtures/sdk-wire/: for each official SDK client and kind of call,
 * the exact request body it sent and the exact response body the fake upstream answered. Written
 * by scripts/sdk-wire-fixtures.ts, and rebuilt and compared by the SDK test, so a change in what a
 * pinned SDK sends, or in what the fake answers, shows as a diff.
 */
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText, tool, type ToolSet } from 'ai';
import OpenAI from 'openai';
import { z } from 'zod';
import { startFakeUpstream, type Scenario } from './index.ts';

export const SDK_WIRE_FOLDER = new URL('../../fixtures/sdk-wire/', import.meta.url);

export interface SdkWireFixture {
  desc: string;
  /** The npm package whose client made the call, and its pinned version. */
  client: string;
  version: string;
  method: string;
  path: string;
  /** The header that carried the API key (its value is a test key). */
  credentialHeader: string;
  request: { contentType: string; body: string };
  response: { status: number; contentType: string; body: string };
}

interface WireCase {
  name: string;
  client: string;
  credentialHeader: string;
  scenario: Scenario;
  call: (url: string) => Promise<unknown>;
}

const TEXT: Scenario = { kind: 'text', text: 'Grüße aus Zürich.' };
const TOOL: Scenario = { kind: 'tool-calls', calls: [{ name: 'get_weather', arguments: '{"city":"Zürich"}' }] };
const ERROR: Scenario = { kind: 'error', status: 400, message: 'Invalid request.' };
const PARAMETERS = { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] };
const PROMPT = 'Weather in Zürich?';

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iterable) void _;
}
const ignoreError = (promise: Promise<unknown>) => promise.then(() => undefined, () => undefined);

function cases(): WireCase[] {
  const openai = (url: string) => new OpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1`, maxRetries: 0 });
  const anthropic = (url: string) => new Anthropic({ apiKey: 'sk-test', baseURL: url, maxRetries: 0 });
  const aiOpenai = (url: string) => createOpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1` });
  const aiAnthropic = (url: string) => createAnthropic({ apiKey: 'sk-test', baseURL: `${url}/v1` });
  const lcOpenai = (url: string) => new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk-test', maxRetries: 0, configuration: { baseURL: `${url}/v1` } });
  const lcAnthropic = (url: string) => new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: 'sk-test', maxRetries: 0, anthropicApiUrl: url });
  const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: PROMPT }] };
  const message = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user' as const, content: PROMPT }] };
  const functionTool = { type: 'function' as const, function: { name: 'get_weather', parameters: PARAMETERS } };
  const aiTools = { get_weather: tool({ inputSchema: z.object({ city: z.string() }) }) } as ToolSet;
  return [
    { name: 'openai-chat-text', client: 'openai', credentialHeader: 'authorization', scenario: TEXT, call: (url) => openai(url).chat.completions.create(chat) },
    { name: 'openai-chat-stream', client: 'openai', credentialHeader: 'authorization', scenario: TEXT, call: async (url) => drain(await openai(url).chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } })) },
    { name: 'openai-chat-tool-stream', client: 'openai', credentialHeader: 'authorization', scenario: TOOL, call: async (url) => drain(await openai(url).chat.completions.create({ ...chat, stream: true, tools: [functionTool] })) },
    { name: 'openai-chat-error', client: 'openai', credentialHeader: 'authorization', scenario: ERROR, call: (url) => ignoreError(openai(url).chat.completions.create(chat)) },
    { name: 'openai-responses-text', client: 'openai', credentialHeader: 'authorization', scenario: TEXT, call: (url) => openai(url).responses.create({ model: 'gpt-4.1', input: PROMPT }) },
    { name: 'openai-responses-tool-stream', client: 'openai', credentialHeader: 'authorization', scenario: TOOL, call: async (url) => drain(await openai(url).responses.create({ model: 'gpt-4.1', input: PROMPT, stream: true, tools: [{ type: 'function', name: 'get_weather', parameters: PARAMETERS, strict: false }] })) },
    { name: 'anthropic-messages-text', client: '@anthropic-ai/sdk', credentialHeader: 'authorization', scenario: TEXT, call: (url) => anthropic(url).messages.create(message) },
    { name: 'anthropic-messages-stream', client: '@anthropic-ai/sdk', credentialHeader: 'authorization', scenario: TEXT, call: async (url) => drain(await anthropic(url).messages.create({ ...message, stream: true })) },
    { name: 'anthropic-messages-tool-stream', client: '@anthropic-ai/sdk', credentialHeader: 'authorization', scenario: TOOL, call: (url) => anthropic(url).messages.stream({ ...message, tools: [{ name: 'get_weather', input_schema: PARAMETERS }] }).finalMessage() },
    { name: 'anthropic-messages-error', client: '@anthropic-ai/sdk', credentialHeader: 'authorization', scenario: { kind: 'error', status: 529 }, call: (url) => ignoreError(anthropic(url).messages.create(message)) },
    { name: 'ai-openai-responses-text', client: '@ai-sdk/openai', credentialHeader: 'authorization', scenario: TEXT, call: (url) => generateText({ model: aiOpenai(url)('gpt-4.1'), prompt: PROMPT, maxRetries: 0 }) },
    { name: 'ai-openai-chat-tool-stream', client: '@ai-sdk/openai', credentialHeader: 'authorization', scenario: TOOL, call: (url) => drain(streamText({ model: aiOpenai(url).chat('gpt-4o'), prompt: PROMPT, tools: aiTools, maxRetries: 0 }).fullStream) },
    { name: 'ai-anthropic-text', client: '@ai-sdk/anthropic', credentialHeader: 'x-api-key', scenario: TEXT, call: (url) => generateText({ model: aiAnthropic(url)('claude-sonnet-4-5'), prompt: PROMPT, maxRetries: 0 }) },
    { name: 'ai-anthropic-tool-stream', client: '@ai-sdk/anthropic', credentialHeader: 'x-api-key', scenario: TOOL, call: (url) => drain(streamText({ model: aiAnthropic(url)('claude-sonnet-4-5'), prompt: PROMPT, tools: aiTools, maxRetries: 0 }).fullStream) },
    { name: 'langchain-openai-text', client: '@langchain/openai', credentialHeader: 'authorization', scenario: TEXT, call: (url) => lcOpenai(url).invoke(PROMPT) },
    { name: 'langchain-openai-stream', client: '@langchain/openai', credentialHeader: 'authorization', scenario: TEXT, call: async (url) => drain(await lcOpenai(url).stream(PROMPT)) },
    { name: 'langchain-anthropic-text', client: '@langchain/anthropic', credentialHeader: 'x-api-key', scenario: TEXT, call: (url) => lcAnthropic(url).invoke(PROMPT) },
    { name: 'langchain-anthropic-tool-stream', client: '@langchain/anthropic', credentialHeader: 'x-api-key', scenario: TOOL, call: async (url) => drain(await lcAnthropic(url).bindTools([functionTool]).stream(PROMPT)) },
  ];
}

function pinnedVersion(client: string): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> };
  return manifest.devDependencies[client] ?? 'unknown';
}

/** Runs every case against a fresh fake upstream; returns the fixtures by file name. */
export async function buildSdkWireFixtures(): Promise<Map<string, SdkWireFixture>> {
  const upstream = await startFakeUpstream();
  const fixtures = new Map<string, SdkWireFixture>();
  try {
    for (const wire of cases()) {
      const mark = upstream.requests.length;
      upstream.enqueue(wire.scenario);
      await wire.call(upstream.url);
      await upstream.settled();
      const received = upstream.requests.slice(mark);
      if (received.length !== 1) throw new Error(`${wire.name}: expected one request, got ${received.length}`);
      const request = received[0]!;
      const text = (bytes: Buffer) => {
        const decoded = bytes.toString('utf8');
        if (!Buffer.from(decoded, 'utf8').equals(bytes)) throw new Error(`${wire.name}: a body is not UTF-8`);
        return decoded;
      };
      if (request.headers[wire.credentialHeader] === undefined) throw new Error(`${wire.name}: no ${wire.credentialHeader} header`);
      fixtures.set(`${wire.name}.json`, {
        desc: `${wire.name}: the request body ${wire.client} sent and the fake upstream's answer`,
        client: wire.client,
        version: pinnedVersion(wire.client),
        method: request.method,
        path: request.path,
        credentialHeader: wire.credentialHeader,
        request: { contentType: String(request.headers['content-type']), body: text(request.body) },
        response: { status: request.response.status ?? 0, contentType: request.response.headers['content-type'] ?? '', body: text(request.response.body) },
      });
    }
  } finally {
    await upstream.close();
  }
  return fixtures;
}

export function formatSdkWireFixture(fixture: SdkWireFixture): string {
  return `${JSON.stringify(fixture, null, 2)}\n`;
}
