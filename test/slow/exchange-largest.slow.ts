/**
 * The largest call in-process capture keeps whole (a 30 MiB request, a 60 MiB answer) sent to a
 * real `runprint serve` (`runprintFetch({ url })`): its exchange, about 122 MiB of base64 in JSON,
 * is within serve's limit (MAX_EXCHANGE_BYTES) and the server records the run, as a local store
 * would; nothing is set aside in the outbox's rejected folder.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REJECTED_FOLDER, OUTBOX_FOLDER, runprintFetch } from '../../src/capture-node/index.ts';
import { endServeTest, scratchFolders } from '../helpers/scratch.ts';
import { startServe } from '../helpers/serve-process.ts';

const scratch = scratchFolders('runprint-largest-');
after(() => endServeTest(undefined, scratch));

test('a 30 MiB request with a 60 MiB answer, captured in process and sent to a server, is recorded there', { timeout: 300_000 }, async () => {
  const answer = Buffer.from(JSON.stringify({ id: 'big', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'y'.repeat(60 * 1024 * 1024) } }] }));
  const upstream = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
      response.end(answer);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const serve = await startServe({ data: scratch.tempDir() });
  const data = scratch.tempDir();
  const capturing = runprintFetch({ url: serve.base, data });
  try {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(30 * 1024 * 1024) }] });
    const response = await capturing(`http://127.0.0.1:${(upstream.address() as { port: number }).port}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal((await response.arrayBuffer()).byteLength, answer.length);
    const captureId = response.headers.get('runprint-capture-id');
    await capturing.flush();
    let runs: Array<{ captureId: string; record: { runId: string | null } }> = [];
    for (let i = 0; i < 600 && runs.length === 0; i++) {
      runs = ((await (await fetch(`${serve.base}/v1/runs?limit=5`)).json()) as { runs: typeof runs }).runs;
      if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(runs.length, 1, 'recorded by the server');
    if (captureId !== null) assert.equal(runs[0]!.captureId, captureId);
    const rejected = join(data, OUTBOX_FOLDER, REJECTED_FOLDER);
    assert.deepEqual(existsSync(rejected) ? readdirSync(rejected) : [], [], 'nothing set aside');
  } finally {
    await capturing.close();
    upstream.close();
    await serve.stop();
  }
});
