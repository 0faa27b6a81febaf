/**
 * Run by test/capture-fetch-unread.test.ts as `node --expose-gc capture-unread-child.ts N`: N calls
 * through captureFetch to a loopback upstream answering 1 MiB each, every answer dropped unread;
 * then garbage collections. Prints one JSON line: the array buffer memory still held (bytes), the
 * counts, and what the records say.
 */
import { createServer } from 'node:http';
import { captureFetch } from '../../src/capture/capture-fetch.ts';
import type { RunRecord } from '../../src/capture/run-record.ts';

const calls = Number(process.argv[2] ?? 100);
const MIB = 1 << 20;
const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(`{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"${'x'.repeat(MIB)}"},"finish_reason":"stop"}]}`);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/chat/completions`;
const records: RunRecord[] = [];
const fetch = captureFetch(globalThis.fetch, { onRun: (record) => void records.push(record), idHeaders: true });
const collect = async () => {
  for (let i = 0; i < 10; i++) {
    globalThis.gc!();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
await collect();
const before = process.memoryUsage().arrayBuffers;
const ids: string[] = [];
for (let i = 0; i < calls; i++) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi."}]}' });
  ids.push(response.headers.get('runprint-capture-id')!);
}
await collect();
const held = process.memoryUsage().arrayBuffers - before;
const first = await Promise.race([fetch.runOf(ids[0]!), new Promise((resolve) => setTimeout(() => resolve('pending'), 2_000))]);
process.stdout.write(`${JSON.stringify({ held, counts: fetch.counts, outcomes: [...new Set(records.map((record) => record.outcome))], first: typeof first === 'string' ? first : (first as RunRecord | null)?.outcome ?? null })}\n`);
server.closeAllConnections();
server.close();
