/**
 * The run store at 1,000,000 runs (issue 12: "the runs list for 1,000,000 stored runs answers a
 * filtered page in under 300 ms"). `npm run bench -- runs-1m` builds, once, a SQLite run store
 * of 1M captured runs in bench/.cache/ (gitignored; RUNPRINT_BENCH_RUNS_REBUILD=1 builds it
 * again, RUNPRINT_BENCH_RUNS sets the size), then times pages of `GET /v1/runs` (the route, its
 * query and the JSON of 25 runs) and `GET /v1/runs/counts` under the explorer's filters.
 *
 * The runs are real captures: every one is built by captureRunWith from request and response
 * bytes and stored by SqliteRuns.put (batches of 20,000, one transaction each), so records,
 * identity documents, digests, content and parents are what capture stores. Over 30 days:
 * 12 models of three providers (the most used asks 30% of runs, the least 0.5%), each served by
 * one or two snapshots; 24 system prompts (one in 4% of runs); 60% of questions unique, 40% from
 * 2,000 repeated ones (an evaluation set); 20% of runs are agent steps naming an earlier run as
 * parent; 3% failed (500), 2% cut short, 1% unidentified.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { isReceiptable } from '../src/capture/run-receipt.ts';
import type { RequestFormat } from '../src/providers/request-format.ts';
import { createApp } from '../src/server/app.ts';
import { defaultContentPolicy, runToStore, type RunToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import type { BenchResult } from './measure.ts';

const CACHE = new URL('./.cache/', import.meta.url).pathname;
const STORE_LAYOUT = 2;
const DAY = 86_400_000;
const START = Date.parse('2026-11-01T00:00:00Z');
const encoder = new TextEncoder();

/** Models with their share of runs (sums to 1), API and served snapshots. */
const MODELS: Array<{ name: string; share: number; format: RequestFormat; served: string[] }> = [
  { name: 'gpt-4o', share: 0.3, format: 'openai-chat', served: ['gpt-4o-2024-08-06', 'gpt-4o-2024-11-20'] },
  { name: 'gpt-4o-mini', share: 0.2, format: 'openai-chat', served: ['gpt-4o-mini-2024-07-18'] },
  { name: 'claude-sonnet-4-5', share: 0.15, format: 'anthropic-messages', served: ['claude-sonnet-4-5-20250929'] },
  { name: 'gpt-4.1', share: 0.1, format: 'openai-responses', served: ['gpt-4.1-2025-04-14'] },
  { name: 'claude-haiku-4-5', share: 0.08, format: 'anthropic-messages', served: ['claude-haiku-4-5-20251001'] },
  { name: 'o3', share: 0.05, format: 'openai-responses', served: ['o3-2025-04-16'] },
  { name: 'gpt-4.1-mini', share: 0.04, format: 'openai-chat', served: ['gpt-4.1-mini-2025-04-14'] },
  { name: 'claude-opus-4-1', share: 0.03, format: 'anthropic-messages', served: ['claude-opus-4-1-20250805'] },
  { name: 'gpt-5', share: 0.02, format: 'openai-responses', served: ['gpt-5-2025-08-07'] },
  { name: 'gpt-5-mini', share: 0.015, format: 'openai-chat', served: ['gpt-5-mini-2025-08-07'] },
  { name: 'o4-mini', share: 0.01, format: 'openai-responses', served: ['o4-mini-2025-04-16'] },
  { name: 'gpt-3.5-turbo', share: 0.005, format: 'openai-chat', served: ['gpt-3.5-turbo-0125'] },
];

const SYSTEMS = Array.from({ length: 24 }, (_, i) => `You are the support assistant of team ${i}. Answer in at most three sentences, cite the policy section you rely on, and never promise refunds. Version ${i % 3 + 1}.`);

/** A small deterministic generator (mulberry32), so every build holds the same runs. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickModel(r: number): (typeof MODELS)[number] {
  let sum = 0;
  for (const model of MODELS) {
    sum += model.share;
    if (r < sum) return model;
  }
  return MODELS[MODELS.length - 1]!;
}

function requestOf(format: RequestFormat, model: string, system: string, question: string, unidentified: boolean): string {
  const temperature = unidentified ? '1e999' : '0.2';
  if (format === 'anthropic-messages') return `{"model":${JSON.stringify(model)},"max_tokens":512,"system":${JSON.stringify(system)},"messages":[{"role":"user","content":${JSON.stringify(question)}}],"temperature":${temperature}}`;
  if (format === 'openai-responses') return `{"model":${JSON.stringify(model)},"instructions":${JSON.stringify(system)},"input":${JSON.stringify(question)},"temperature":${temperature}}`;
  return `{"model":${JSON.stringify(model)},"messages":[{"role":"system","content":${JSON.stringify(system)}},{"role":"user","content":${JSON.stringify(question)}}],"temperature":${temperature}}`;
}

function responseOf(format: RequestFormat, served: string, text: string, n: number): string {
  if (format === 'anthropic-messages') return JSON.stringify({ id: `msg_${n}`, type: 'message', role: 'assistant', model: served, content: [{ type: 'text', text }], stop_reason: 'end_turn', usage: { input_tokens: 60, output_tokens: 40 } });
  if (format === 'openai-responses') return JSON.stringify({ id: `resp_${n}`, object: 'response', created_at: 1764547200, status: 'completed', model: served, output: [{ type: 'message', id: `msg_${n}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] }], usage: { input_tokens: 60, output_tokens: 40, total_tokens: 100 } });
  return JSON.stringify({ id: `chatcmpl-${n}`, object: 'chat.completion', created: 1764547200, model: served, system_fingerprint: 'fp_4f0b692a0c', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text } }], usage: { prompt_tokens: 60, completion_tokens: 40, total_tokens: 100 } });
}

/** Run `n` of the store, as capture would have stored it; `recent` holds recent run identities (agent parents). */
function makeRun(n: number, size: number, next: () => number, recent: string[]): RunToStore {
  const model = pickModel(next());
  const served = model.served[Math.floor(next() * model.served.length)]!;
  const systemRoll = next();
  const system = SYSTEMS[systemRoll < 0.04 ? 0 : 1 + Math.floor(next() * (SYSTEMS.length - 1))]!;
  const repeated = next() < 0.4;
  const question = repeated ? `Evaluation question ${Math.floor(next() * 2000)}: what does section ${Math.floor(next() * 40)} of the refund policy say about late returns?` : `Customer ${n}: my order ${(n * 7919) % 1_000_003} arrived late and the box was damaged; what can I do, and how long will it take?`;
  const fate = next();
  const unidentified = fate < 0.01;
  const failed = fate >= 0.01 && fate < 0.04;
  const cut = fate >= 0.04 && fate < 0.06;
  const requestBytes = encoder.encode(requestOf(model.format, model.name, system, question, unidentified));
  const text = `Thank you for writing. Under section ${n % 40} of the policy a late or damaged delivery can be returned within 30 days; I have opened case ${n} for you and you will hear from us within two working days.`;
  const full = responseOf(model.format, served, text, n);
  const responseBytes = encoder.encode(failed ? '{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}' : cut ? full.slice(0, 120) : full);
  const started = START + Math.floor((n / size) * 30 * DAY);
  const parent = recent.length > 0 && next() < 0.2 ? recent[Math.floor(next() * recent.length)] : undefined;
  const run = captureRunWith({
    format: model.format,
    method: 'POST',
    path: model.format === 'anthropic-messages' ? '/v1/messages' : model.format === 'openai-responses' ? '/v1/responses' : '/v1/chat/completions',
    requestBytes,
    status: failed ? 500 : 200,
    headers: new Headers({ 'content-type': 'application/json', 'x-request-id': `req_${n}` }),
    responseBytes,
    outcome: cut ? 'aborted' : 'complete',
    times: { started, response: started + 400, ended: started + 1200 },
    ...(parent === undefined ? {} : { parents: [parent] }),
  });
  if (run.record.runId !== null) {
    recent.push(run.record.runId);
    if (recent.length > 1000) recent.shift();
  }
  return runToStore(run, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', isReceiptable(run));
}

/** The store under bench/.cache, built once (see the file's comment). */
async function millionRuns(size: number): Promise<{ path: string; built?: { ms: number; bytes: number } }> {
  mkdirSync(CACHE, { recursive: true });
  // The store's layout in the name: a store cached by an older layout is built again, not migrated
  // (2: run_digests.kept, 2026-12-06).
  const path = join(CACHE, `runs-${size}-layout${STORE_LAYOUT}.sqlite`);
  const ready = join(CACHE, `runs-${size}-layout${STORE_LAYOUT}.ready`);
  if (existsSync(ready) && process.env['RUNPRINT_BENCH_RUNS_REBUILD'] === undefined) return { path };
  for (const file of [path, `${path}-wal`, `${path}-shm`, ready]) rmSync(file, { force: true });
  const start = performance.now();
  const store = SqliteRuns.open(path);
  const next = random(12);
  const recent: string[] = [];
  const batch = 20_000;
  for (let first = 0; first < size; first += batch) {
    const runs: RunToStore[] = [];
    for (let n = first; n < Math.min(size, first + batch); n++) runs.push(makeRun(n, size, next, recent));
    await store.put(runs);
    if ((first / batch) % 5 === 4) process.stderr.write(`  stored ${(first + runs.length).toLocaleString('en-US')} runs in ${((performance.now() - start) / 1000).toFixed(0)} s\n`);
  }
  await store.close();
  writeFileSync(ready, '');
  return { path, built: { ms: performance.now() - start, bytes: statSync(path).size } };
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Times `GET path` `rounds` times (after one warm-up): median and max, and the last answer. */
async function time(app: ReturnType<typeof createApp>, path: string, rounds = 9): Promise<{ median: number; max: number; body: unknown }> {
  let body: unknown;
  const times: number[] = [];
  for (let round = -1; round < rounds; round++) {
    const t0 = performance.now();
    const response = await app.request(path);
    body = await response.json();
    const elapsed = performance.now() - t0;
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(body)}`);
    if (round >= 0) times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, max: times[times.length - 1]!, body };
}

export async function benchRuns1m(): Promise<BenchResult[]> {
  const size = Number(process.env['RUNPRINT_BENCH_RUNS'] ?? 1_000_000);
  const results: BenchResult[] = [];
  const { path, built } = await millionRuns(size);
  if (built !== undefined) {
    results.push({ name: `build a ${size.toLocaleString('en-US')}-run store through captureRunWith and SqliteRuns.put (batches of 20,000), throughput (no baseline: setup)`, ratio: 1, detail: `${(built.ms / 1000).toFixed(0)} s, ${Math.round(size / (built.ms / 1000)).toLocaleString('en-US')} runs/s, ${(built.bytes / 2 ** 30).toFixed(2)} GiB` });
  }
  const opening = performance.now();
  const storage = SqliteRuns.open(path);
  results.push({ name: `open the ${size.toLocaleString('en-US')}-run store (quick_check, schema) (time; no baseline)`, ratio: 1, detail: ms(performance.now() - opening) });
  try {
    const app = createApp({ runs: { storage } });
    // Values to filter by, taken from the store: a run in the middle, its system prompt, its parent.
    const middle = ((await time(app, `/v1/runs?limit=1&before=${Math.floor(size / 2)}`, 1)).body as { runs: Array<Record<string, any>> }).runs[0]!;
    const child = ((await time(app, `/v1/runs?limit=200&before=${Math.floor(size / 2)}`, 1)).body as { runs: Array<Record<string, any>> }).runs.find((run) => run['record'].parents.length > 0)!;
    const system = middle['identity'].components.system.digest.sha256 as string;
    const question = middle['identity'].components.input.elements[0].sha256 as string;
    const day = new Date(START + 15 * DAY).toISOString();
    const dayAfter = new Date(START + 16 * DAY).toISOString();
    const cases: Array<[string, string]> = [
      ['no filter (newest page)', ''],
      ['no filter, a page in the middle (before)', `before=${Math.floor(size / 2)}`],
      ['model (30% of runs)', 'model=gpt-4o'],
      ['model (0.5% of runs)', 'model=gpt-3.5-turbo'],
      ['served model (15%)', 'servedModel=gpt-4o-2024-11-20'],
      ['served model (0.5%), a page in the middle', `servedModel=gpt-3.5-turbo-0125&before=${Math.floor(size / 2)}`],
      ['provider anthropic (26%)', 'provider=anthropic'],
      ['status failed (3%)', 'status=failed'],
      ['status unidentified (1%)', 'status=unidentified'],
      ['status incomplete (2%) and model (0.5%)', 'status=incomplete&model=gpt-3.5-turbo'],
      ['component: a system prompt (about 4% of runs)', `component=system=${system}`],
      ['component: one question\'s element digest (any part)', `component=${question}`],
      ['time range: one day in the middle (since, until)', `since=${day}&until=${dayAfter}`],
      ['time range and model (0.5%)', `since=${day}&until=${dayAfter}&model=gpt-3.5-turbo`],
      ['parent (the children of a run)', `parent=${child['record'].parents[0]}`],
    ];
    for (const [label, query] of cases) {
      const page = await time(app, `/v1/runs?limit=25${query === '' ? '' : `&${query}`}`);
      const count = (page.body as { runs: unknown[] }).runs.length;
      results.push({ name: `GET /v1/runs, a page of 25, ${label}, ${size.toLocaleString('en-US')} runs (time; target < 300 ms)`, ratio: 1, detail: `median ${ms(page.median)}, max ${ms(page.max)}, ${count} runs answered; target ${page.max < 300 ? 'met' : 'NOT met'}` });
    }
    for (const [label, query] of [
      ['no filter', ''],
      ['model (30%)', 'model=gpt-4o'],
      ['model (0.5%)', 'model=gpt-3.5-turbo'],
      ['status failed', 'status=failed'],
      ['provider anthropic (26%)', 'provider=anthropic'],
      ['provider openai (74%)', 'provider=openai'],
      ['a system prompt', `component=system=${system}`],
      ['one day', `since=${day}&until=${dayAfter}`],
      ['parent', `parent=${child['record'].parents[0]}`],
    ] as const) {
      const counts = await time(app, `/v1/runs/counts${query === '' ? '' : `?${query}`}`, 5);
      const body = counts.body as { runs: number; requestIdentities: number; runIdentities: number };
      results.push({ name: `GET /v1/runs/counts, ${label}, ${size.toLocaleString('en-US')} runs (time; no target)`, ratio: 1, detail: `median ${ms(counts.median)}, max ${ms(counts.max)}; ${body.runs.toLocaleString('en-US')} runs, ${body.requestIdentities.toLocaleString('en-US')} request identities, ${body.runIdentities.toLocaleString('en-US')} run identities` });
    }
  } finally {
    await storage.close();
  }
  return results;
}

// `node bench/runs-1m.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const result of await benchRuns1m()) process.stdout.write(`${result.ratio.toFixed(2).padStart(6)}x  ${result.name}  (${result.detail})\n`);
}
