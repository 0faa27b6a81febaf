/**
 * The capture proxy (issue 10, section 8): a 20 KB OpenAI Chat Completions request sent to a
 * loopback upstream directly and through a real `runprint serve` process (capture on: identity,
 * record, receipt and log, with the serve's defaults), in async and in sync (default) durability.
 *
 * - Added latency, p50 and p99, at fixed offered rates (open loop: each request is timed from the
 *   moment it was due, so a stalled server cannot hide its queue), JSON and SSE answers; time to
 *   the first streamed byte; achieved rate against offered.
 * - Throughput, closed loop, against the upstream directly and two bare pass-through forwarders
 *   without capture written here (node:http piping, and fetch as the proxy uses it); the CPU
 *   each server process spent per request, read from /proc, gives requests/s per core.
 * - RSS of the sync serve process at start and after each phase, then over a soak.
 * - The identity of the same 20 KB request from its raw bytes against decode + JSON.parse +
 *   JSON.stringify + SHA-256 (the issue's at-most-1.5x target; as bench/identity.ts does).
 * - That every proxied request became a stored run with a receipt in the log (counted in the run
 *   store once each serve has stopped), and how far receipts lag behind commits at full load.
 *   Between phases the benchmark waits until every committed run has its receipt.
 *
 * The upstream and the forwarders are this file run as child processes (`node bench/proxy.ts
 * upstream`, `forward-http URL`, `forward-fetch URL`); the benchmark process is only the client.
 * The upstream answers fixed bytes and keeps nothing (the tests' fake upstream records every
 * request, which would grow without bound here). All share the machine's cores, so absolute
 * numbers carry the client's and upstream's load; the added figures are proxy minus direct in
 * the same run, measured in alternating rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { prepareRequest } from '../src/capture/capture-run.ts';
import { compositionFromDocument } from '../src/compose/from-document.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { parseJson } from '../src/jcs/parse.ts';
import { chatRequest } from './fixtures.ts';
import { compare, us, type BenchResult } from './measure.ts';

const SELF = fileURLToPath(import.meta.url);
const BIN = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));

/** Connections the client opens to each server at most (requests beyond wait in the client, timed from when due). */
const MAX_SOCKETS = 256;
/** The upstream's SSE answer: the first event at once, the rest this many ms later. */
const STREAM_GAP_MS = 5;
const ANSWER = 'Revenue rose by twelve percent across all regions in the quarter, led by services in EMEA (doc-3) and by subscription renewals in APAC (doc-7); hardware was flat. The report attributes most of the growth to pricing rather than volume.';

// ---------------------------------------------------------------------------------------------
// Child roles: the upstream and the pass-through forwarders.

function listen(server: ReturnType<typeof createServer>): void {
  server.keepAliveTimeout = 120_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
  });
}

/** A fixed OpenAI Chat answer: JSON, or SSE when the body asks for a stream. */
function serveUpstream(): void {
  const created = 1767225600;
  const model = 'gpt-4o-2024-08-06';
  const fingerprint = 'fp_bench0001';
  const usage = { prompt_tokens: 5210, completion_tokens: 52, total_tokens: 5262, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };
  const json = Buffer.from(JSON.stringify({
    id: 'chatcmpl-bench0001', object: 'chat.completion', created, model,
    choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage, service_tier: 'default', system_fingerprint: fingerprint,
  }));
  const event = (delta: object, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-bench0001', object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: fingerprint, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const words = ANSWER.split(/(?<= )/);
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += 4) pieces.push(words.slice(i, i + 4).join(''));
  const first = Buffer.from(event({ role: 'assistant', content: '', refusal: null }) + event({ content: pieces[0]! }));
  const rest = Buffer.from(pieces.slice(1).map((piece) => event({ content: piece })).join('') + event({}, 'stop') + 'data: [DONE]\n\n');
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        response.writeHead(404, { 'content-type': 'application/json' });
        return void response.end('{"error":{"message":"not found"}}');
      }
      const body = Buffer.concat(chunks);
      if (body.includes('"stream":true')) {
        response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_bench' });
        response.write(first);
        setTimeout(() => response.end(rest), STREAM_GAP_MS);
      } else {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length, 'x-request-id': 'req_bench' });
        response.end(json);
      }
    });
  });
  listen(server);
}

const DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);
function passed(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!DROPPED.has(name) && value !== undefined) out[name] = value;
  return out;
}

/** A bare pass-through without capture: `/openai/...` to the upstream, node:http both ways, piped. */
function serveForwardHttp(upstream: string): void {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').replace(/^\/openai/, '');
    const headers = passed(request.headers);
    if (request.headers['content-length'] !== undefined) headers['content-length'] = request.headers['content-length'];
    const out = httpRequest(`${upstream}${path}`, { method: request.method, headers, agent }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, passed(answer.headers));
      answer.pipe(response);
    });
    out.on('error', () => {
      response.writeHead(502);
      response.end();
    });
    request.pipe(out);
  });
  listen(server);
}

/** The same with fetch (undici) to the upstream, the body read whole first, as the proxy does. */
function serveForwardFetch(upstream: string): void {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      try {
        const headers = passed(request.headers) as Record<string, string>;
        const answer = await fetch(`${upstream}${(request.url ?? '/').replace(/^\/openai/, '')}`, { method: request.method!, headers, body: Buffer.concat(chunks) });
        const back: OutgoingHttpHeaders = {};
        answer.headers.forEach((value, name) => {
          if (!DROPPED.has(name)) back[name] = value;
        });
        response.writeHead(answer.status, back);
        if (answer.body !== null) {
          const reader = answer.body.getReader();
          for (let part = await reader.read(); !part.done; part = await reader.read()) response.write(part.value);
        }
        response.end();
      } catch {
        if (!response.headersSent) response.writeHead(502);
        response.end();
      }
    });
  });
  listen(server);
}

// ---------------------------------------------------------------------------------------------
// The client side.

interface Server {
  name: string;
  base: string;
  /** Before /v1/chat/completions: /openai through a proxy, nothing to the upstream itself. */
  prefix: string;
  pid: number;
  agent: Agent;
  data?: string;
  stop(): Promise<void>;
}

async function start(name: string, args: string[], portPattern: RegExp, stream: 'stdout' | 'stderr', data?: string): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child[stream]!.setEncoding('utf8').on('data', (part: string) => {
      text += part;
      const match = portPattern.exec(text);
      if (match !== null) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`${name} exited: ${text}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  // Should this process end before stop(), its children end with it.
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  return {
    name,
    base: `http://127.0.0.1:${port}`,
    prefix: '/openai',
    pid: child.pid!,
    agent,
    ...(data === undefined ? {} : { data }),
    stop: async () => {
      process.off('exit', orphan);
      agent.destroy();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startServe(name: string, upstream: string, durability: 'sync' | 'async', workers = 0): Promise<Server> {
  const data = await mkdtemp(join(tmpdir(), `runprint-bench-proxy-${durability}-`));
  return start(
    name,
    [BIN, 'serve', '--port', '0', '--data', data, '--upstream', `openai=${upstream}`, '--capture-durability', durability, '--capture-workers', String(workers), '--max-client-requests', '0', '--max-client-connections', '0'],
    /listening on http:\/\/127\.0\.0\.1:([0-9]+)/,
    'stderr',
    data,
  );
}

/** Resident set size of a process, in MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) / 1024;
}

/** CPU time of a process (all threads, user + system), or of its main thread only, in seconds (Linux /proc). */
function cpuSeconds(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (CLK_TCK 100)
}

interface Timing {
  /** ms from when the request was due (open loop) or sent (closed loop) to the first body byte and to the end. */
  first: number;
  end: number;
  /** The proxy named the capture (runprint-capture-id). */
  captured: boolean;
}

/** Requests sent again, by server, after a keep-alive socket the server had closed failed at once (Node's documented race). */
const retried = new Map<string, number>();

function send(server: Server, body: Uint8Array, due: number, retry = true): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${server.base}${server.prefix}/v1/chat/completions`, {
      agent: server.agent,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: 'Bearer sk-bench' },
    });
    let answered = false;
    request.on('response', (response) => {
      answered = true;
      let first = NaN;
      response.on('data', () => {
        if (Number.isNaN(first)) first = performance.now() - due;
      });
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`${server.name} answered ${response.statusCode}`));
        resolve({ first, end: performance.now() - due, captured: response.headers['runprint-capture-id'] !== undefined });
      });
      response.on('error', reject);
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (retry && !answered && request.reusedSocket && error.code === 'ECONNRESET') {
        retried.set(server.name, (retried.get(server.name) ?? 0) + 1);
        return void send(server, body, due, false).then(resolve, reject);
      }
      reject(new Error(`${server.name}: ${error.code ?? error.message}`));
    });
    request.end(body);
  });
}

interface OpenLoop {
  timings: Timing[];
  /** Requests that failed (connection errors, statuses other than 200), by message. */
  failed: Map<string, number>;
  /** Completed requests per second, from the first due time to the last answer. */
  achieved: number;
}

/** `rate` requests per second for `ms`, each sent when due whatever the others are doing. */
async function openLoop(server: Server, body: Uint8Array, rate: number, ms: number): Promise<OpenLoop> {
  const total = Math.round((rate * ms) / 1000);
  const pending: Promise<Timing | Error>[] = [];
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    const tick = () => {
      const now = performance.now();
      while (sent < total && started + (sent * 1000) / rate <= now) {
        pending.push(send(server, body, started + (sent * 1000) / rate).catch((error: Error) => error));
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + (sent * 1000) / rate - performance.now()));
      else resolve();
    };
    tick();
  });
  const done = await Promise.all(pending);
  const elapsed = performance.now() - started;
  const timings = done.filter((item): item is Timing => !(item instanceof Error));
  const failed = new Map<string, number>();
  for (const item of done) if (item instanceof Error) failed.set(item.message, (failed.get(item.message) ?? 0) + 1);
  if (timings.length === 0) throw new Error(`every request to ${server.name} failed: ${[...failed].map(([m, n]) => `${n}x ${m}`).join(', ')}`);
  return { timings, failed, achieved: (timings.length * 1000) / elapsed };
}

/**
 * Requests `concurrency` at a time, until `count` were sent or `ms` passed; requests per second,
 * the server's CPU seconds, and how many answers carried a capture id.
 */
async function closedLoop(server: Server, body: Uint8Array, limit: { count?: number; ms?: number }, concurrency: number): Promise<{ count: number; rps: number; cpu: number; mainCpu: number; captured: number }> {
  let sent = 0;
  let done = 0;
  let captured = 0;
  const cpuBefore = cpuSeconds(server.pid);
  const mainBefore = cpuSeconds(server.pid, true);
  const started = performance.now();
  const more = () => (limit.count === undefined || sent < limit.count) && (limit.ms === undefined || performance.now() - started < limit.ms);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) {
        sent++;
        const timing = await send(server, body, performance.now());
        done++;
        if (timing.captured) captured++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  return { count: done, rps: (done * 1000) / elapsed, cpu: cpuSeconds(server.pid) - cpuBefore, mainCpu: cpuSeconds(server.pid, true) - mainBefore, captured };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
};
const median = (values: number[]) => percentile(values, 0.5);
const ms = (value: number) => `${value.toFixed(2)} ms`;

/**
 * Waits until a running serve has signed a receipt for every run it committed (receipts are
 * signed and logged after the commit, in the background), so that one phase's backlog does not
 * land in the next. Returns how many were waiting and how long catching up took.
 */
async function settle(server: Server, limitMs = 30_000): Promise<{ waiting: number; ms: number; left: number }> {
  const db = new DatabaseSync(join(server.data!, 'runs.sqlite'), { readOnly: true });
  try {
    const query = db.prepare('SELECT count(*) AS n FROM runs WHERE receiptable = 1 AND receipt IS NULL');
    const unsigned = () => Number((query.get() as { n: number }).n);
    const started = performance.now();
    const waiting = unsigned();
    let left = waiting;
    while (left > 0 && performance.now() - started < limitMs) {
      await pause(50);
      left = unsigned();
    }
    return { waiting, ms: performance.now() - started, left };
  } finally {
    db.close();
  }
}

/** Rows and receipts in a stopped serve's run store. */
function storeCounts(data: string): { runs: number; receipts: number; logged: number } {
  const db = new DatabaseSync(join(data, 'runs.sqlite'), { readOnly: true });
  try {
    const row = db.prepare('SELECT count(*) AS runs, count(receipt) AS receipts, count(log_index) AS logged FROM runs').get() as { runs: number; receipts: number; logged: number };
    return { runs: Number(row.runs), receipts: Number(row.receipts), logged: Number(row.logged) };
  } finally {
    db.close();
  }
}

/** Offered rates the issue names (JSON at both, SSE at the first); where the proxy cannot keep up they show the queue. */
const ISSUE_RATES = [500, 1000];
/** Further offered rates, as fractions of the closed-loop throughput measured in the same run. */
const FRACTIONS = [0.25, 0.5];
const PHASE_MS = 1_500;
/** The issue's rates run this long: a queue of a few seconds builds behind them already. */
const OVERLOAD_MS = 500;
const ROUNDS = 2;
const WARM_UP = 100;
const THROUGHPUT_MS = 2_500;
const CONCURRENCY = 16;
const SOAK_STEPS = 4;
const SOAK_STEP_MS = 4_000;

interface Phase {
  timings: Timing[];
  achieved: number[];
  failed: Map<string, number>;
}
const failures = (phase: Phase) => (phase.failed.size === 0 ? '' : `; FAILED: ${[...phase.failed].map(([message, n]) => `${n}x ${message}`).join(', ')}`);

/** Kept up: completed at least 97% of the offered rate, and p99 under 100 ms (no queue built up). */
const keptUp = (phase: Phase, offered: number) => phase.failed.size === 0 && Math.min(...phase.achieved) >= 0.97 * offered && percentile(phase.timings.map((t) => t.end), 0.99) < 100;

/** Progress on stderr: the group runs for minutes. */
const began = performance.now();
const note = (text: string) => process.stderr.write(`  proxy ${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s: ${text}\n`);

export async function benchProxy(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  note('identity');
  const request = chatRequest(20_000);
  const json = new TextEncoder().encode(JSON.stringify({ ...request, stream: false }));
  const sse = new TextEncoder().encode(JSON.stringify({ ...request, stream: true }));
  const size = `${(json.length / 1000).toFixed(1)} KB`;

  // The identity of the request from its raw bytes, as the proxy computes it (prepareRequest) and
  // as bench/identity.ts measures it, against decode + JSON.parse + JSON.stringify + SHA-256.
  const decoder = new TextDecoder();
  const baseline = () => createHash('sha256').update(JSON.stringify(JSON.parse(decoder.decode(json)))).digest();
  const prepared = compare(() => prepareRequest('openai-chat', json), baseline, { pairs: 7, roundMs: 100 });
  results.push({
    name: `proxy: request identity from the raw bytes of the ${json.length} B, ${(request['messages'] as unknown[]).length}-message chat request (prepareRequest, as the proxy does) vs decode + JSON.parse + JSON.stringify + SHA-256 (time ratio, target <= 1.5)`,
    ratio: prepared.ratio,
    detail: `${us(prepared.candidate)} vs ${us(prepared.baseline)}`,
  });
  const parseOnly = compare(() => parseJson(json), () => JSON.parse(decoder.decode(json)), { pairs: 7, roundMs: 100 });
  results.push({
    name: 'proxy: of which the strict parser, parseJson(bytes) vs decode + JSON.parse (time ratio)',
    ratio: parseOnly.ratio,
    detail: `${us(parseOnly.candidate)} vs ${us(parseOnly.baseline)}`,
  });
  const fromTree = compare(() => computeIdentity(compositionFromDocument(JSON.parse(decoder.decode(json)), { from: 'openai-chat' }).composition), baseline, { pairs: 7, roundMs: 100 });
  results.push({
    name: 'proxy: the same identity with JSON.parse in place of the strict parser, vs the same baseline (time ratio: what a parser as fast as JSON.parse alone would give)',
    ratio: fromTree.ratio,
    detail: `${us(fromTree.candidate)} vs ${us(fromTree.baseline)}`,
  });

  const upstream = await start('upstream', [SELF, 'upstream'], /^([0-9]+)\n/, 'stdout');
  const servers: Server[] = [upstream];
  try {
    const direct: Server = { ...upstream, name: 'direct', prefix: '', agent: new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }), stop: async () => undefined };
    const sync = await startServe('sync', upstream.base, 'sync');
    servers.push(sync);
    const rss: Array<[string, number]> = [['start', rssMiB(sync.pid)]];
    const async_ = await startServe('async', upstream.base, 'async');
    servers.push(async_);
    // The default durability with the identities in a worker thread (serve --capture-workers 1).
    const pooled = await startServe('sync, 1 worker', upstream.base, 'sync', 1);
    servers.push(pooled);
    const forwardHttp = await start('forward-http', [SELF, 'forward-http', upstream.base], /^([0-9]+)\n/, 'stdout');
    servers.push(forwardHttp);
    const forwardFetch = await start('forward-fetch', [SELF, 'forward-fetch', upstream.base], /^([0-9]+)\n/, 'stdout');
    servers.push(forwardFetch);
    const sent = new Map<Server, number>();
    const count = (server: Server, n: number) => sent.set(server, (sent.get(server) ?? 0) + n);
    const mark = (label: string) => rss.push([`${label} (${(sent.get(sync) ?? 0).toLocaleString('en')})`, rssMiB(sync.pid)]);

    note('warm-up');
    // Warm up every path (JIT, connections, the serve's workers and first commits).
    for (const server of [direct, sync, async_, pooled, forwardHttp, forwardFetch]) {
      for (const body of [json, sse]) {
        await closedLoop(server, body, { count: WARM_UP }, 8);
        count(server, WARM_UP);
      }
    }
    mark('warm');
    for (const server of [sync, async_, pooled]) await settle(server);

    note('throughput');
    // Throughput, closed loop, JSON answers: capture on vs the upstream direct and vs no capture.
    const through = [direct, forwardHttp, forwardFetch, async_, sync, pooled];
    const rps = new Map<Server, number[]>(through.map((t) => [t, []]));
    const cpu = new Map<Server, number[]>(through.map((t) => [t, []]));
    const mainCpu = new Map<Server, number[]>(through.map((t) => [t, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of through) {
        const run = await closedLoop(target, json, { ms: THROUGHPUT_MS }, CONCURRENCY);
        count(target, run.count);
        if ((target === sync || target === async_ || target === pooled) && run.captured !== run.count) throw new Error(`${target.name}: ${run.captured} of ${run.count} answers carried a capture id`);
        rps.get(target)!.push(run.rps);
        cpu.get(target)!.push((run.cpu / run.count) * 1e6);
        mainCpu.get(target)!.push((run.mainCpu / run.count) * 1e6);
        if (target === pooled) await settle(target);
        if (target === sync || target === async_) {
          const lag = await settle(target);
          if (round === ROUNDS - 1) {
            results.push({
              name: `proxy: receipts behind at the end of ${THROUGHPUT_MS / 1000} s at full load, ${target.name} durability: runs committed without a receipt yet / runs answered (ratio)`,
              ratio: lag.waiting / run.count,
              detail: `${lag.waiting} of ${run.count}; signing and logging them took ${(lag.ms / 1000).toFixed(1)} s more${lag.left > 0 ? `, ${lag.left} still unsigned after that` : ''}`,
            });
          }
        }
        await pause(300);
      }
    }
    mark('throughput');
    const best = (server: Server) => Math.max(...rps.get(server)!);
    const cpuUs = (server: Server) => Math.min(...cpu.get(server)!);
    for (const target of [sync, async_]) {
      results.push({
        name: `proxy: throughput with capture on (${target.name} durability; identity, record, receipt, log), ${CONCURRENCY} at a time, JSON, vs the upstream direct (throughput ratio)`,
        ratio: best(target) / best(direct),
        detail: `${best(target).toFixed(0)}/s vs ${best(direct).toFixed(0)}/s; the serve process used ${cpuUs(target).toFixed(0)} µs of CPU per request (all threads) = ${(1e6 / cpuUs(target)).toFixed(0)} requests/s per core`,
      });
    }
    results.push({
      name: `proxy: serve CPU per captured call, sync durability, identities in a worker thread (--capture-workers 1) vs on the event loop (time ratio; above 1: more CPU), ${CONCURRENCY} at a time, JSON`,
      ratio: cpuUs(pooled) / cpuUs(sync),
      detail: `${cpuUs(pooled).toFixed(0)} vs ${cpuUs(sync).toFixed(0)} µs, of which the main thread (the event loop) ${Math.min(...mainCpu.get(pooled)!).toFixed(0)} vs ${Math.min(...mainCpu.get(sync)!).toFixed(0)} µs; throughput ${best(pooled).toFixed(0)}/s vs ${best(sync).toFixed(0)}/s`,
    });
    for (const target of [forwardHttp, forwardFetch]) {
      results.push({
        name: `proxy: throughput of capture (sync) vs a bare pass-through without capture, ${target.name === 'forward-http' ? 'node:http piping' : 'node:http server + fetch to the upstream'} (throughput ratio)`,
        ratio: best(sync) / best(target),
        detail: `${best(sync).toFixed(0)}/s vs ${best(target).toFixed(0)}/s; the pass-through used ${cpuUs(target).toFixed(0)} µs of CPU per request = ${(1e6 / cpuUs(target)).toFixed(0)} requests/s per core`,
      });
    }

    // Latency at fixed offered rates, open loop, in alternating rounds.
    const capacity = Math.min(best(sync), best(async_));
    const rates = [...FRACTIONS.map((f) => Math.max(10, Math.round((capacity * f) / 10) * 10)), ...ISSUE_RATES];
    const targets = [direct, async_, sync];
    const kept = new Map<string, number[]>();
    for (const [kind, body] of [['JSON', json], ['SSE', sse]] as const) {
      for (const rate of kind === 'JSON' ? rates : rates.slice(0, -1)) {
        const overload = ISSUE_RATES.includes(rate);
        const rounds = overload ? 1 : ROUNDS;
        const phaseMs = overload ? OVERLOAD_MS : PHASE_MS;
        note(`latency, ${kind}, ${rate}/s`);
        const samples = new Map<Server, Phase>(targets.map((t) => [t, { timings: [], achieved: [], failed: new Map() }]));
        for (let round = 0; round < rounds; round++) {
          for (const target of targets) {
            const run = await openLoop(target, body, rate, phaseMs);
            count(target, run.timings.length + [...run.failed.values()].reduce((a, b) => a + b, 0));
            samples.get(target)!.timings.push(...run.timings);
            samples.get(target)!.achieved.push(run.achieved);
            for (const [message, n] of run.failed) samples.get(target)!.failed.set(message, (samples.get(target)!.failed.get(message) ?? 0) + n);
            if (target !== direct) await settle(target);
            await pause(300);
          }
        }
        const d = samples.get(direct)!;
        const dEnd = d.timings.map((t) => t.end);
        const dFirst = d.timings.map((t) => t.first);
        for (const target of [async_, sync]) {
          const s = samples.get(target)!;
          const end = s.timings.map((t) => t.end);
          const captured = s.timings.filter((t) => t.captured).length;
          if (keptUp(s, rate)) kept.set(`${kind} ${target.name}`, [...(kept.get(`${kind} ${target.name}`) ?? []), rate]);
          const what = `${kind}, ${size}, ${rate}/s offered for ${(rounds * phaseMs) / 1000} s, ${target.name} durability`;
          const state = `${keptUp(s, rate) ? 'kept up' : 'DID NOT keep up'}: achieved ${Math.min(...s.achieved).toFixed(0)}/s (direct ${Math.min(...d.achieved).toFixed(0)}/s); ${captured}/${s.timings.length} captured${failures(s)}${failures(d)}`;
          results.push({
            name: `proxy: added latency p50, ${what} (time ratio proxy/direct)`,
            ratio: median(end) / median(dEnd),
            detail: `+${ms(median(end) - median(dEnd))}: ${ms(median(end))} vs ${ms(median(dEnd))}; ${state}`,
          });
          results.push({
            name: `proxy: added latency p99, ${what} (time ratio proxy/direct)`,
            ratio: percentile(end, 0.99) / percentile(dEnd, 0.99),
            detail: `+${ms(percentile(end, 0.99) - percentile(dEnd, 0.99))}: ${ms(percentile(end, 0.99))} vs ${ms(percentile(dEnd, 0.99))}, max ${ms(Math.max(...end))}`,
          });
          if (kind === 'SSE') {
            const first = s.timings.map((t) => t.first);
            results.push({
              name: `proxy: time to first streamed byte p50, ${what} (time ratio proxy/direct)`,
              ratio: median(first) / median(dFirst),
              detail: `+${ms(median(first) - median(dFirst))}: ${ms(median(first))} vs ${ms(median(dFirst))}; p99 ${ms(percentile(first, 0.99))} vs ${ms(percentile(dFirst, 0.99))} (+${ms(percentile(first, 0.99) - percentile(dFirst, 0.99))})`,
            });
          }
        }
        await pause(overload ? 1_000 : 0);
      }
      mark(`${kind} latency`);
    }
    for (const kind of ['JSON', 'SSE']) {
      for (const target of [async_, sync]) {
        const list = kept.get(`${kind} ${target.name}`) ?? [];
        const highest = list.length === 0 ? 0 : Math.max(...list);
        results.push({
          name: `proxy: highest offered rate kept up with (no failure, >= 97% achieved, p99 < 100 ms), ${kind}, ${target.name} durability, of ${(kind === 'JSON' ? rates : rates.slice(0, -1)).join(', ')}/s; vs the closed-loop throughput (ratio)`,
          ratio: highest / capacity,
          detail: list.length === 0 ? `none of them; closed loop ${capacity.toFixed(0)}/s` : `${highest}/s of ${capacity.toFixed(0)}/s`,
        });
      }
    }

    note('soak');
    // Memory: RSS of the sync serve process over a soak of closed-loop requests.
    for (let step = 0; step < SOAK_STEPS; step++) {
      count(sync, (await closedLoop(sync, json, { ms: SOAK_STEP_MS }, CONCURRENCY)).count);
      await settle(sync);
      mark('soak');
    }
    const warm = rss.find(([label]) => label.startsWith('warm'))![1];
    const end = rss.at(-1)![1];
    results.push({
      name: `proxy: RSS of the sync serve process after ${(sent.get(sync) ?? 0).toLocaleString('en')} requests vs after warm-up (ratio; 1 = flat)`,
      ratio: end / warm,
      detail: `${rss.map(([label, value]) => `${label} ${value.toFixed(0)}`).join(', ')} MiB; async serve ${rssMiB(async_.pid).toFixed(0)} MiB after ${(sent.get(async_) ?? 0).toLocaleString('en')}; sent again after a keep-alive reset: ${retried.size === 0 ? 'none' : [...retried].map(([name, n]) => `${n} to ${name}`).join(', ')}`,
    });

    note('stopping');
    // Every proxied request is a stored run with a receipt in the log once the serve has stopped.
    for (const server of [sync, async_, pooled]) {
      const stopAt = performance.now();
      await server.stop();
      servers.splice(servers.indexOf(server), 1);
      const stored = storeCounts(server.data!);
      const requests = sent.get(server) ?? 0;
      results.push({
        name: `proxy: ${server.name} serve: stored runs with a receipt in the log / requests sent (ratio; 1 = all)`,
        ratio: stored.logged / requests,
        detail: `${stored.runs} runs, ${stored.receipts} receipts, ${stored.logged} logged, of ${requests} requests; stopping (finishing receipts) took ${((performance.now() - stopAt) / 1000).toFixed(1)} s`,
      });
      await rm(server.data!, { recursive: true, force: true });
    }
    direct.agent.destroy();
  } finally {
    for (const server of servers) {
      await server.stop();
      if (server.data !== undefined) await rm(server.data, { recursive: true, force: true });
    }
  }
  return results;
}

/** The soak: this many minutes (RUNPRINT_BENCH_SOAK_MINUTES, default 10), in windows of this many seconds. */
const SOAK_MINUTES = Number(process.env['RUNPRINT_BENCH_SOAK_MINUTES'] ?? 10);
const SOAK_WINDOW_MS = 30_000;
const SOAK_CONCURRENCY = 8;

/**
 * `npm run bench -- proxy-soak` (named only; about 11 minutes): one sync serve captures 20 KB
 * calls for SOAK_MINUTES, closed loop, 8 at a time, JSON and SSE windows in turn; its RSS is read
 * after the warm-up and after every 30 s window. Flat memory: the RSS at the end against the RSS
 * at the middle of the soak, and the growth per minute over the second half (least squares).
 */
export async function benchProxySoak(): Promise<BenchResult[]> {
  const request = chatRequest(20_000);
  const bodies = [false, true].map((stream) => new TextEncoder().encode(JSON.stringify({ ...request, stream })));
  const upstream = await start('upstream', [SELF, 'upstream'], /^([0-9]+)\n/, 'stdout');
  const servers: Server[] = [upstream];
  try {
    const sync = await startServe('sync', upstream.base, 'sync');
    servers.push(sync);
    const startRss = rssMiB(sync.pid);
    await closedLoop(sync, bodies[0]!, { count: 2_000 }, SOAK_CONCURRENCY);
    const warm = rssMiB(sync.pid);
    const samples: Array<{ minute: number; rss: number; sent: number }> = [];
    const began = performance.now();
    let sent = 2_000;
    let cpu = 0;
    for (let window = 0; performance.now() - began < SOAK_MINUTES * 60_000; window++) {
      const round = await closedLoop(sync, bodies[window % 2]!, { ms: SOAK_WINDOW_MS }, SOAK_CONCURRENCY);
      sent += round.count;
      cpu += round.cpu;
      samples.push({ minute: (performance.now() - began) / 60_000, rss: rssMiB(sync.pid), sent });
      note(`soak ${samples.at(-1)!.minute.toFixed(1)} min: ${sent} requests, RSS ${samples.at(-1)!.rss.toFixed(0)} MiB`);
    }
    const minutes = samples.at(-1)!.minute;
    const middle = samples.find((sample) => sample.minute >= minutes / 2)!;
    const second = samples.filter((sample) => sample.minute >= minutes / 2);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const mx = mean(second.map((sample) => sample.minute));
    const my = mean(second.map((sample) => sample.rss));
    const slope = second.reduce((sum, sample) => sum + (sample.minute - mx) * (sample.rss - my), 0) / second.reduce((sum, sample) => sum + (sample.minute - mx) ** 2, 0);
    await settle(sync, 120_000);
    await sync.stop();
    servers.pop();
    const stored = storeCounts(sync.data!);
    await rm(sync.data!, { recursive: true, force: true });
    return [
      {
        name: `proxy-soak: RSS of the sync serve at the end of a ${minutes.toFixed(1)}-minute soak vs at its middle (ratio; 1 = flat), 20 KB calls, ${SOAK_CONCURRENCY} at a time, JSON and SSE in turn`,
        ratio: samples.at(-1)!.rss / middle.rss,
        detail: `start ${startRss.toFixed(0)}, after 2,000 warm-up calls ${warm.toFixed(0)}, then ${samples.map((sample) => `${sample.minute.toFixed(1)} min ${sample.rss.toFixed(0)}`).join(', ')} MiB; ${(sent - 2_000).toLocaleString('en-US')} calls in the soak, ${((1e6 * cpu) / (sent - 2_000)).toFixed(0)} µs of serve CPU each`,
      },
      {
        name: 'proxy-soak: RSS growth over the second half of the soak, MiB per minute (least squares; shown as the ratio of the end RSS predicted by it to the middle RSS)',
        ratio: (middle.rss + slope * (minutes - middle.minute)) / middle.rss,
        detail: `${slope.toFixed(2)} MiB/min over ${second.length} samples`,
      },
      {
        name: 'proxy-soak: stored runs with a receipt in the log / calls sent (ratio; 1 = all)',
        ratio: stored.logged / sent,
        detail: `${stored.runs} runs, ${stored.receipts} receipts, ${stored.logged} logged, of ${sent} calls`,
      },
    ];
  } finally {
    for (const server of servers) {
      await server.stop();
      if (server.data !== undefined) await rm(server.data, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const role = process.argv[2];
  if (role === 'upstream') serveUpstream();
  else if (role === 'forward-http') serveForwardHttp(process.argv[3]!);
  else if (role === 'forward-fetch') serveForwardFetch(process.argv[3]!);
  else for (const result of await benchProxy()) process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
}
