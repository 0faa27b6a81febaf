/**
 * A fake AI provider on loopback for tests: OpenAI `POST /v1/chat/completions` and
 * `POST /v1/responses`, Anthropic `POST /v1/messages` (JSON and SSE), and `GET /v1/models`, close
 * enough to the real services that the official SDK clients read its answers. Each request takes
 * the next scripted scenario (text, tool calls, an error status, with delays, slow, paused or
 * cut-off streams) and is recorded with its exact body bytes and headers, and with the exact bytes the
 * fake answered. No test calls a real provider.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicError, anthropicHeaders, answerAnthropicMessages } from './anthropic-messages.ts';
import { answerOpenAIChat, openaiError, openaiHeaders } from './openai-chat.ts';
import { answerOpenAIResponses } from './openai-responses.ts';
import { DEFAULT_SCENARIO, SERVED_MODELS, type AnswerContext, type Reply, type Scenario, type Timing } from './scenario.ts';

export type { ErrorScenario, Scenario, TextScenario, ToolCall, ToolCallsScenario, Timing } from './scenario.ts';
export { SERVED_MODELS, SYSTEM_FINGERPRINT } from './scenario.ts';

export interface RecordedResponse {
  /** null until the status line was sent. */
  status: number | null;
  headers: Record<string, string>;
  /** Every body byte written so far, exactly. */
  body: Buffer;
  /** 'complete': the body ended; 'cut': the fake destroyed the socket as scripted; 'client-closed': the client went away first. */
  outcome: 'pending' | 'complete' | 'cut' | 'client-closed';
}

export interface RecordedRequest {
  method: string;
  /** The request target as received (path and query). */
  path: string;
  /** Node's lower-cased header object. */
  headers: IncomingHttpHeaders;
  /** Names and values as sent, in order. */
  rawHeaders: string[];
  /** The exact body bytes received. */
  body: Buffer;
  response: RecordedResponse;
}

export interface FakeUpstreamOptions {
  /** Scenarios answered in order, one per answering request (`GET /v1/models` takes none); then `fallback`. */
  script?: Scenario[];
  /** The answer once the script is used up (default: a short text answer). */
  fallback?: Scenario | ((request: RecordedRequest) => Scenario);
  /** false: random ids, the current time, and a random tag appended to every text answer. Default true. */
  deterministic?: boolean;
  /** The port on 127.0.0.1 (default 0: any free one); one in use fails the start (EADDRINUSE). */
  port?: number;
}

export interface FakeUpstream {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Appends scenarios to the script. */
  enqueue(...scenarios: Scenario[]): void;
  /** Resolves when every response begun so far has ended, been cut or been abandoned by its client. */
  settled(): Promise<void>;
  /**
   * Resolves once `count` requests in all have arrived whole, each having taken its scenario (at
   * once when they have): a test acts on a call the fake holds (its headers or the rest of its
   * stream) only once the fake has it, whatever the load.
   */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

type Body = { [key: string]: unknown };
type Answer = (request: Body, scenario: Scenario, context: AnswerContext) => Reply;

const ROUTES: Record<string, { answer: Answer; anthropic: boolean }> = {
  '/v1/chat/completions': { answer: answerOpenAIChat, anthropic: false },
  '/v1/responses': { answer: answerOpenAIResponses, anthropic: false },
  '/v1/messages': { answer: answerAnthropicMessages, anthropic: true },
};

const FIXED_CREATED = 1767225600; // 2026-01-01T00:00:00Z

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const script = [...(options.script ?? [])];
  const deterministic = options.deterministic ?? true;
  const requests: RecordedRequest[] = [];
  const inflight = new Set<Promise<void>>();
  /** Tests waiting for a number of requests (received). */
  const waiting: Array<{ count: number; resolve: () => void }> = [];

  const contextFor = (requestBytes: number): AnswerContext => {
    let counter = 0;
    return {
      id: (prefix) => deterministic ? `${prefix}fake${String(++counter).padStart(4, '0')}` : `${prefix}${randomBytes(12).toString('hex')}`,
      created: deterministic ? FIXED_CREATED : Math.floor(Date.now() / 1000),
      variation: deterministic ? '' : ` [${randomBytes(4).toString('hex')}]`,
      requestBytes,
    };
  };

  const nextScenario = (record: RecordedRequest): Scenario => {
    const scripted = script.shift();
    if (scripted !== undefined) return scripted;
    const fallback = options.fallback ?? DEFAULT_SCENARIO;
    return typeof fallback === 'function' ? fallback(record) : fallback;
  };

  const answer = (record: RecordedRequest): { reply: Reply; scenario: Scenario | null } => {
    const path = record.path.split('?')[0] ?? '';
    const anthropicClient = record.headers['anthropic-version'] !== undefined;
    const context = contextFor(record.body.length);
    const route = ROUTES[path];
    if (record.method === 'GET' && path === '/v1/models') {
      return { reply: modelsList(anthropicClient, context), scenario: null };
    }
    if (record.method !== 'POST' || route === undefined) {
      const message = `Unknown request URL: ${record.method} ${path}.`;
      return { reply: anthropicClient ? anthropicError(404, message, context) : openaiError(404, message, context), scenario: null };
    }
    let request: unknown;
    try {
      request = JSON.parse(record.body.toString('utf8'));
    } catch {
      request = undefined;
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      const message = 'We could not parse the JSON body of your request.';
      return { reply: route.anthropic ? anthropicError(400, message, context) : openaiError(400, message, context), scenario: null };
    }
    const scenario = nextScenario(record);
    return { reply: route.answer(request as Body, scenario, context), scenario };
  };

  const server = createServer((req, res) => {
    const done = handle(req, res).catch(() => {
      res.destroy();
    });
    inflight.add(done);
    void done.finally(() => inflight.delete(done));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.concat(chunks),
      response: { status: null, headers: {}, body: Buffer.alloc(0), outcome: 'pending' },
    };
    requests.push(record);
    const { reply, scenario } = answer(record);
    // Told after the request took its scenario (resolved promises run after this turn anyway).
    for (const waiter of waiting.filter((each) => requests.length >= each.count)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve();
    }
    await send(record.response, res, reply, scenario ?? {});
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...scenarios) => void script.push(...scenarios),
    settled: async () => {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    received: (count) => requests.length >= count ? Promise.resolve() : new Promise<void>((resolve) => void waiting.push({ count, resolve })),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves true after `ms`, or false as soon as the client has gone away. */
function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });
}

/** Resolves true once `resume` has settled, or false as soon as the client has gone away. */
function settledUnlessClosed(res: ServerResponse, resume: Promise<unknown>): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    res.once('close', onClose);
    const go = () => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    };
    resume.then(go, go);
  });
}

function write(res: ServerResponse, recorded: RecordedResponse, bytes: Buffer): Promise<void> {
  recorded.body = Buffer.concat([recorded.body, bytes]);
  return new Promise((resolve, reject) => res.write(bytes, (error) => (error ? reject(error) : resolve())));
}

async function send(recorded: RecordedResponse, res: ServerResponse, reply: Reply, timing: Timing): Promise<void> {
  res.on('close', () => {
    if (recorded.outcome === 'pending') recorded.outcome = res.writableFinished ? 'complete' : 'client-closed';
  });
  if (timing.headersDelayMs !== undefined && !(await waitUnlessClosed(res, timing.headersDelayMs))) return;
  if (res.destroyed) return;
  const sse = reply.type === 'sse';
  const bytes = sse ? null : Buffer.from(JSON.stringify(reply.body), 'utf8');
  const headers: Record<string, string> = {
    'content-type': sse ? 'text/event-stream; charset=utf-8' : 'application/json',
    ...(bytes === null ? { 'cache-control': 'no-cache' } : { 'content-length': String(bytes.length) }),
    ...reply.headers,
    ...timing.headers,
  };
  recorded.status = reply.status;
  recorded.headers = headers;
  res.writeHead(reply.status, headers);
  if (bytes !== null) {
    if (timing.cutAfterBytes !== undefined && timing.cutAfterBytes < bytes.length) {
      await write(res, recorded, bytes.subarray(0, timing.cutAfterBytes));
      recorded.outcome = 'cut';
      res.destroy();
      return;
    }
    recorded.body = bytes;
    res.end(bytes);
    return;
  }
  res.flushHeaders();
  const events = reply.type === 'sse' ? reply.events : [];
  for (const [index, event] of events.entries()) {
    if (index === timing.cutAfterEvents) {
      recorded.outcome = 'cut';
      res.destroy();
      return;
    }
    if (index === timing.pauseBeforeEvent && timing.resume !== undefined && !(await settledUnlessClosed(res, timing.resume))) return;
    if (index > 0 && timing.eventDelayMs !== undefined && !(await waitUnlessClosed(res, timing.eventDelayMs))) return;
    if (res.destroyed) return;
    await write(res, recorded, Buffer.from(event, 'utf8'));
  }
  res.end();
}

function modelsList(anthropicClient: boolean, context: AnswerContext): Reply {
  const served = Object.values(SERVED_MODELS);
  if (anthropicClient) {
    const data = served.filter((id) => id.startsWith('claude-')).map((id) => ({
      type: 'model', id, display_name: id, created_at: '2025-09-29T00:00:00Z',
    }));
    return {
      type: 'json', status: 200, headers: anthropicHeaders(context),
      body: { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null },
    };
  }
  const data = [...Object.keys(SERVED_MODELS), ...served].filter((id) => !id.startsWith('claude-')).map((id) => ({
    id, object: 'model', created: 1715367049, owned_by: 'system',
  }));
  return { type: 'json', status: 200, headers: openaiHeaders(context), body: { object: 'list', data } };
}

/** The Fetch standard's bad ports a process may listen on without privileges: Node's fetch (undici) refuses to connect to any of them. */
export const BAD_PORTS = [6000, 10080, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697];

/** A fake upstream listening on the first of BAD_PORTS that is free. */
export async function startFakeUpstreamOnABadPort(): Promise<FakeUpstream> {
  for (const port of BAD_PORTS) {
    try {
      return await startFakeUpstream({ port });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error(`every one of the bad ports ${BAD_PORTS.join(', ')} is in use`);
}
