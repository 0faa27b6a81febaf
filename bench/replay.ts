/**
 * Replay and comparison (issue 11): rebuilding a stored run's request (rebuildRequest: every
 * component and element read from the run store, checked against its digest, the inverse mapping,
 * and the request identity recomputed) and comparing two stored runs (compareRuns: both
 * compositions rebuilt, the structural diff, served facts, outputs to their first difference),
 * each as a ratio to parsing the stored bytes the operation rests on with `JSON.parse` (the
 * request bytes for a rebuild; both runs' request and response bytes for a diff). The runs are made
 * by the capture core (captureRunWith) and stored by the SQLite run store, as serve stores them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { compareRuns } from '../src/replay/compare-runs.ts';
import { rebuildRequest } from '../src/replay/rebuild-request.ts';
import { defaultContentPolicy, runToStore, type StoredRun } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { chatRequest } from './fixtures.ts';
import { SIZES, type BenchResult } from './measure.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An OpenAI Chat Completions answer whose text has about `words` words, the word at `changed` replaced. */
function answer(words: number, changed: number): Uint8Array {
  const text = Array.from({ length: words }, (_, i) => (i === changed ? 'otherwise' : `word${i % 97}`)).join(' ');
  return encoder.encode(JSON.stringify({
    id: 'chatcmpl-bench', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_bench',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1000, completion_tokens: words, total_tokens: 1000 + words },
  }));
}

async function store(runs: SqliteRuns, request: Record<string, unknown>, response: Uint8Array): Promise<{ run: StoredRun; bytes: Uint8Array[] }> {
  const requestBytes = encoder.encode(JSON.stringify({ ...request, stream: false }));
  const captured = captureRunWith({
    format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200,
    headers: new Headers({ 'content-type': 'application/json' }), responseBytes: response, outcome: 'complete',
    times: { started: 1767225600000, response: 1767225600100, ended: 1767225600200 },
  });
  if (captured.record.runId === null) throw new Error('the bench run has no run identity');
  await runs.put([runToStore(captured, { requestBytes, responseBytes: response }, defaultContentPolicy(), 'sdk', false)]);
  const [run] = await runs.find(captured.record.captureId);
  return { run: run!, bytes: [requestBytes, response] };
}

/** Median time per call of an async operation, over rounds of at least `roundMs`, alternating with the baseline. */
async function compareAsync(candidate: () => Promise<unknown>, baseline: () => unknown, pairs = 7, roundMs = 200): Promise<{ candidate: number; baseline: number }> {
  const time = async (fn: () => unknown): Promise<number> => {
    let calls = 0;
    const start = process.hrtime.bigint();
    while (Number(process.hrtime.bigint() - start) < roundMs * 1e6) {
      await fn();
      calls++;
    }
    return Number(process.hrtime.bigint() - start) / calls;
  };
  await time(candidate);
  await time(baseline);
  const c: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < pairs; i++) {
    b.push(await time(baseline));
    c.push(await time(candidate));
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  return { candidate: median(c), baseline: median(b) };
}

const us = (ns: number) => `${(ns / 1000).toFixed(0)} µs`;

export async function benchReplay(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-bench-replay-'));
  const runs = SqliteRuns.open(join(dir, 'runs.sqlite'));
  const results: BenchResult[] = [];
  try {
    for (const [label, size] of SIZES) {
      const { run, bytes } = await store(runs, chatRequest(size), answer(200, -1));
      const parse = () => JSON.parse(decoder.decode(bytes[0]!));
      const rebuilt = await rebuildRequest(runs, run);
      if (rebuilt.requestId !== run.record.requestId) throw new Error('the rebuilt request has another identity');
      const { candidate, baseline } = await compareAsync(() => rebuildRequest(runs, run), parse);
      results.push({
        name: `replay: rebuild a stored run's request vs JSON.parse of its request bytes, ${label} (${(bytes[0]!.length / 1000).toFixed(0)} KB) (time ratio)`,
        ratio: candidate / baseline,
        detail: `${us(candidate)} vs ${us(baseline)} per run; ${rebuilt.composition.input.length} input elements read and checked`,
      });
    }
    // Two 200 KB runs: one message and one word of the answer differ.
    const request = chatRequest(200_000);
    const messages = request['messages'] as Array<Record<string, unknown>>;
    const other = { ...request, messages: messages.map((message, i) => (i === 3 ? { ...message, content: 'A message that is not the same.' } : message)) };
    const a = await store(runs, request, answer(2000, -1));
    const b = await store(runs, other, answer(2000, 1500));
    const { diff } = await compareRuns(runs, a.run, b.run);
    if (diff.differences.length === 0 || diff.output.firstDifference === undefined) throw new Error('the bench runs do not differ as meant');
    const all = [...a.bytes, ...b.bytes];
    const total = all.reduce((sum, bytes) => sum + bytes.length, 0);
    const { candidate, baseline } = await compareAsync(() => compareRuns(runs, a.run, b.run), () => all.map((bytes) => JSON.parse(decoder.decode(bytes))));
    results.push({
      name: `replay: runs diff of two 200 KB runs vs JSON.parse of their stored request and response bytes (${(total / 1000).toFixed(0)} KB) (time ratio)`,
      ratio: candidate / baseline,
      detail: `${us(candidate)} vs ${us(baseline)}; ${diff.differences.length} request difference(s), output first differs at ${diff.output.firstDifference.path} (word similarity ${diff.output.firstDifference.text?.similarity ?? 'n/a'})`,
    });
  } finally {
    await runs.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
