/**
 * In-process capture overhead: a 20 KB OpenAI Chat Completions request to the fake upstream on
 * loopback, answered as JSON and as an SSE stream, through plain `fetch` and through
 * `captureFetch(fetch)` (record built, identity and output digest computed, handed to a no-op
 * sink). Calls are sequential; the two are measured in alternating rounds. The record is built
 * after the application's last byte, so its CPU shows in per-call time as contention with the
 * next call, as it would in an application making calls back to back.
 */
import { captureFetch } from '../src/capture/index.ts';
import { startFakeUpstream } from '../test/helpers/fake-upstream/index.ts';
import { chatRequest } from './fixtures.ts';
import type { BenchResult } from './measure.ts';

const CALLS_PER_ROUND = 200;
const ROUNDS = 7;

async function timeCalls(fetchImpl: typeof fetch, url: string, body: string): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS_PER_ROUND; i++) {
    const response = await fetchImpl(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, body });
    await response.arrayBuffer();
  }
  return Number(process.hrtime.bigint() - start) / CALLS_PER_ROUND;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function benchCapture(): Promise<BenchResult[]> {
  const upstream = await startFakeUpstream({ fallback: { kind: 'text', text: 'The quarterly revenue rose by four percent, mostly from services.' } });
  let records = 0;
  const capturing = captureFetch(globalThis.fetch, { onRun: () => void records++, onError: (error) => { throw error; } });
  const url = `${upstream.url}/v1/chat/completions`;
  const results: BenchResult[] = [];
  try {
    for (const stream of [false, true]) {
      const request = chatRequest(20_000);
      // chatRequest asks for a stream: the JSON case must say it does not.
      const body = JSON.stringify({ ...request, stream });
      await timeCalls(globalThis.fetch, url, body);
      await timeCalls(capturing, url, body);
      const plain: number[] = [];
      const captured: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        plain.push(await timeCalls(globalThis.fetch, url, body));
        captured.push(await timeCalls(capturing, url, body));
      }
      const [p, c] = [median(plain), median(captured)];
      results.push({
        name: `capture: fetch wrapper vs plain fetch, ${(Buffer.byteLength(body) / 1000).toFixed(1)} KB chat request, ${stream ? 'SSE stream' : 'JSON'} answer (time ratio)`,
        ratio: c / p,
        detail: `${(c / 1000).toFixed(0)} µs vs ${(p / 1000).toFixed(0)} µs per call, +${((c - p) / 1000).toFixed(0)} µs, sequential on loopback`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (records === 0) throw new Error('no run was recorded');
  } finally {
    await upstream.close();
  }
  return results;
}
