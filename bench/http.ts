/**
 * The HTTP layer (docs/decisions/0009-http-foundation.md): per-request cost of `runprint serve`
 * against a bare node:http server, and `/healthz` latency and checkpoint delay while a burst of
 * maximal identity requests runs, each against the same measure taken quiet in the same run.
 * Servers run as child processes; this process is only the client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chatRequest } from './fixtures.ts';
import type { BenchResult } from './measure.ts';

const BIN = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));
const BARE = fileURLToPath(new URL('./http-bare.ts', import.meta.url));

interface Server {
  base: string;
  stop(): Promise<void>;
}

async function start(args: string[], portPattern: RegExp, stream: 'stdout' | 'stderr'): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child[stream]!.setEncoding('utf8').on('data', (part: string) => {
      text += part;
      const match = portPattern.exec(text);
      if (match !== null) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`server exited: ${text}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    base: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One request; resolves with its status once the whole answer has arrived. */
function send(base: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { agent, method: body === undefined ? 'GET' : 'POST', headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers } });
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Nanoseconds per request for `count` requests, `concurrency` at a time. */
async function throughput(base: string, path: string, body: Uint8Array | undefined, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const status = await send(base, path, body);
        if (status !== 200) throw new Error(`${path} answered ${status}`);
      }
    }),
  );
  return Number(process.hrtime.bigint() - started) / count;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

async function perRequest(): Promise<BenchResult[]> {
  const data = await mkdtemp(join(tmpdir(), 'runprint-bench-http-'));
  const runprint = await start([BIN, 'serve', '--port', '0', '--data', data, '--no-log', '--max-client-requests', '0'], /listening on http:\/\/127\.0\.0\.1:([0-9]+)/, 'stderr');
  const bare = await start([BARE], /^([0-9]+)\n/, 'stdout');
  const small = new TextEncoder().encode(JSON.stringify(chatRequest(2_000)));
  const results: BenchResult[] = [];
  try {
    for (const [label, path, body, count] of [
      ['GET /healthz', '/healthz', undefined, 4000],
      [`POST /v1/identity, a ${small.length} B OpenAI Chat request`, '/v1/identity?from=openai-chat', small, 2000],
    ] as const) {
      await throughput(runprint.base, path, body, 500, 8);
      await throughput(bare.base, path, body, 500, 8);
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let round = 0; round < 5; round++) {
        theirs.push(await throughput(bare.base, path, body, count, 8));
        ours.push(await throughput(runprint.base, path, body, count, 8));
      }
      const ns = median(ours);
      const baseline = median(theirs);
      results.push({
        name: `${label} through runprint serve vs a bare node:http handler (time ratio, keep-alive, 8 at a time)`,
        ratio: ns / baseline,
        detail: `${(ns / 1000).toFixed(1)} µs vs ${(baseline / 1000).toFixed(1)} µs per request`,
      });
    }
  } finally {
    await runprint.stop();
    await bare.stop();
    await rm(data, { recursive: true, force: true });
  }
  return results;
}

/** A DSSE envelope of `n`: the log checks its shape only. */
function envelope(n: number): Uint8Array {
  const payload = Buffer.from(JSON.stringify({ n })).toString('base64');
  return new TextEncoder().encode(JSON.stringify({ payload, payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'AAAA' }] }));
}

interface Probe {
  healthz: number[];
  checkpoint: number[];
}

/** Every 20 ms a /healthz, every 250 ms a receipt with wait=checkpoint, for `ms`; latencies in ms. */
async function probe(base: string, ms: number, first: number): Promise<Probe> {
  const healthAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const healthz: number[] = [];
  const checkpoint: number[] = [];
  const until = Date.now() + ms;
  const health = (async () => {
    while (Date.now() < until) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const request = httpRequest(`${base}/healthz`, { agent: healthAgent }, (response) => {
          response.resume();
          response.on('end', () => resolve());
        });
        request.on('error', reject);
        request.end();
      });
      healthz.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const log = (async () => {
    for (let n = first; Date.now() < until; n++) {
      const started = performance.now();
      const status = await send(base, '/v1/log/entries?wait=checkpoint', envelope(n));
      if (status !== 201) throw new Error(`log entry answered ${status}`);
      checkpoint.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  await Promise.all([health, log]);
  healthAgent.destroy();
  return { healthz, checkpoint };
}

async function underBurst(): Promise<BenchResult[]> {
  const data = await mkdtemp(join(tmpdir(), 'runprint-bench-burst-'));
  const server = await start([BIN, 'serve', '--port', '0', '--data', data, '--log-anonymous-writes', '--max-client-requests', '0'], /listening on http:\/\/127\.0\.0\.1:([0-9]+)/, 'stderr');
  // Maximal bodies: 100,000 messages (the element cap), about 31 MB (under the 32 MiB limit).
  const content = 'x'.repeat(280);
  const maximal = new TextEncoder().encode(JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: 100_000 }, () => ({ role: 'user', content })) }));
  const results: BenchResult[] = [];
  try {
    const quiet = await probe(server.base, 10_000, 0);
    // The burst: 6 clients, each sending maximal bodies back to back.
    let stop = false;
    const statuses = new Map<number, number>();
    const burst = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const status = await send(server.base, '/v1/identity?from=openai-chat', maximal).catch(() => 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const loaded = await probe(server.base, 30_000, 1_000_000);
    stop = true;
    await Promise.all(burst);
    const answered = [...statuses].map(([status, n]) => `${n}×${status}`).join(', ');
    const p99q = percentile(quiet.healthz, 0.99);
    const p99b = percentile(loaded.healthz, 0.99);
    results.push({
      name: `/healthz p99 during a burst of maximal identity requests (${(maximal.length / 1e6).toFixed(1)} MB, 100,000 messages, 6 clients) vs quiet (time ratio)`,
      ratio: p99b / p99q,
      detail: `${p99b.toFixed(1)} ms vs ${p99q.toFixed(1)} ms, max ${Math.max(...loaded.healthz).toFixed(1)} ms, ${loaded.healthz.length} probes; burst answers ${answered}`,
    });
    const cpq = percentile(quiet.checkpoint, 0.99);
    const cpb = percentile(loaded.checkpoint, 0.99);
    results.push({
      name: 'entry -> signed checkpoint (POST ?wait=checkpoint) p99 during that burst vs quiet (time ratio)',
      ratio: cpb / cpq,
      detail: `${cpb.toFixed(0)} ms vs ${cpq.toFixed(0)} ms, median ${median(loaded.checkpoint).toFixed(0)} vs ${median(quiet.checkpoint).toFixed(0)} ms, max ${Math.max(...loaded.checkpoint).toFixed(0)} ms, ${loaded.checkpoint.length} entries`,
    });
  } finally {
    await server.stop();
    await rm(data, { recursive: true, force: true });
  }
  return results;
}

export async function benchHttp(): Promise<BenchResult[]> {
  const results = await perRequest();
  results.push(...(await underBurst()));
  agent.destroy();
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const result of await benchHttp()) process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
}
