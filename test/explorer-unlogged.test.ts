/**
 * A receipt with no log index, as the explorer says it: one longer than a log entry can be (a call
 * of 700 messages: ERR_LOG_ENTRY_TOO_LARGE at serve) is said to be in no log for good, on the runs
 * list and the run page, which offers no tlog-proof to download; a serve with --no-log says it
 * keeps no log. A download that fails (the server stopped) is an error on the page, not an
 * uncaught one. Driven in headless Chromium; screenshots go to test-output/explorer/unlogged-*.png
 * (not committed).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { CHROMIUM, drawn, launchChromium, openPage } from './helpers/explorer-browser.ts';
import { killServeProcesses, RUNPRINT_BIN, startServe, type ServeProcess } from './helpers/serve-process.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;

interface RunView { seq: number; captureId: string; receipt: { logIndex: number | null; size: number } | null }

let upstream: FakeUpstream;
let browser: Browser;
const scratch: string[] = [];
const children: ChildProcess[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  upstream = await startFakeUpstream();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await killServeProcesses();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await upstream?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

async function serveOn(): Promise<ServeProcess> {
  const data = mkdtempSync(join(tmpdir(), 'runprint-explorer-unlogged-'));
  scratch.push(data);
  return startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
}

async function call(serve: ServeProcess, messages: unknown[]): Promise<string> {
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages }) });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  return response.headers.get('runprint-capture-id')!;
}

/** The run's view once it is signed (and, with `logged`, once the calls before it are logged). */
async function signed(serve: ServeProcess, captureId: string): Promise<RunView> {
  for (let i = 0; i < 400; i++) {
    const [run] = ((await (await fetch(`${serve.base}/v1/runs/${captureId}`)).json()) as { runs: RunView[] }).runs;
    if (run?.receipt != null) return run;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${captureId} is signed`);
}

async function show(page: Page, base: string, hash: string): Promise<void> {
  await page.goto(`${base}/explorer/${hash}`);
  await drawn(page);
}

test('a receipt too large for the log is said to be in no log, on the list and its page, with no tlog-proof offered; a failed download is shown', { timeout: 120_000 }, async () => {
  const serve = await serveOn();
  const small = await call(serve, [{ role: 'user', content: 'before' }]);
  const long = await call(serve, Array.from({ length: 700 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i}` })));
  const view = await signed(serve, long);
  assert.equal(view.receipt!.logIndex, null);
  assert.ok(view.receipt!.size > 65_535, `the view gives the receipt's size (${view.receipt!.size})`);
  for (let i = 0; i < 200 && (await signed(serve, small)).receipt!.logIndex === null; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal((await signed(serve, small)).receipt!.size, (await (await fetch(`${serve.base}/v1/runs/${small}/receipt`)).text()).length);

  const { page, problems, close } = await openPage(browser, serve.base);
  await show(page, serve.base, '#/runs');
  assert.equal(await page.textContent(`tr[data-seq="${view.seq}"] td[data-label="Receipt"]`), 'signed, too large for a log');
  assert.match((await page.getAttribute(`tr[data-seq="${view.seq}"] [data-unlogged]`, 'title')) ?? '', /^The receipt \([0-9,]+ bytes\) is longer than a log entry can be \(65,535 bytes\): no log holds it \(ERR_LOG_ENTRY_TOO_LARGE\)/);
  assert.equal(await page.textContent('tbody tr:last-child td[data-label="Receipt"]'), 'log #0');

  await show(page, serve.base, `#/run/${long}`);
  await page.waitForSelector('#verification[data-done]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('#check-log', 'data-state'), 'skip');
  assert.match((await page.textContent('#check-log .detail')) ?? '', /^ERR_LOG_ENTRY_TOO_LARGE: the receipt \([0-9,]+ bytes\) is longer than a log entry can be \(65,535 bytes\), so no log holds it; it verifies with the receipt key alone$/);
  assert.doesNotMatch((await page.textContent('#verification')) ?? '', /without its log/);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
  assert.match((await page.textContent('#receipt-unlogged')) ?? '', /^Not in a log, and never will be: this receipt \([0-9,]+ bytes\) is longer than a log entry can be/);
  assert.deepEqual(await page.$$eval('#receipt-links a', (links) => links.map((link) => link.textContent)), ['download'], 'no tlog-proof link');
  const download = page.waitForEvent('download');
  await page.click('#receipt-links a');
  assert.equal((await download).suggestedFilename(), `${long}.receipt.json`);
  await page.screenshot({ path: join(SHOTS, 'unlogged-too-large.png'), clip: { x: 0, y: 0, width: 1280, height: 900 } });

  // The server stops: the download says so on the page.
  assert.equal(await serve.stop(), 0);
  await page.click('#receipt-links a');
  await page.waitForSelector('[data-download]');
  assert.match((await page.textContent('[data-download]')) ?? '', new RegExp(`^Not downloaded \\(${long}\\.receipt\\.json\\): The server is not answering: runprint serve at 127\\.0\\.0\\.1:[0-9]+ did not answer GET /v1/runs/${long}/receipt`));
  assert.equal(await page.getAttribute('[data-download]', 'role'), 'alert');
  await page.locator('[data-download]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'unlogged-download-failed.png') });
  assert.deepEqual(problems.filter((problem) => !/ERR_CONNECTION_REFUSED/.test(problem)), [], 'no uncaught error');
  await close();
});

/** serve --no-log (startServe waits for the log line such a serve never prints): stopped with SIGTERM. */
async function serveWithoutLog(): Promise<ServeProcess & { stop(): Promise<number | string> }> {
  const data = mkdtempSync(join(tmpdir(), 'runprint-explorer-unlogged-'));
  scratch.push(data);
  const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--no-log', '--upstream', `openai=${upstream.url}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const explorer = /runprint: explorer http:\/\/127\.0\.0\.1:([0-9]+)\//.exec(stderr);
      if (explorer !== null) resolve(Number(explorer[1]));
    });
    void exited.then((code) => reject(new Error(`serve --no-log exited (${code}): ${stderr}`)));
  });
  return { pid: child.pid!, base: `http://127.0.0.1:${port}`, port, key: '', stderr: () => stderr, exited, kill: () => (child.kill('SIGKILL'), exited), stop: () => (child.kill('SIGTERM'), exited) };
}

test('a serve that keeps no log says so of each receipt, not that it waits', { timeout: 60_000 }, async () => {
  const serve = await serveWithoutLog();
  const run = await signed(serve, await call(serve, [{ role: 'user', content: 'no log here' }]));
  assert.equal(run.receipt!.logIndex, null);
  const { page, problems, close } = await openPage(browser, serve.base);
  await show(page, serve.base, '#/runs');
  assert.equal(await page.textContent(`tr[data-seq="${run.seq}"] td[data-label="Receipt"]`), 'signed, not in a log');
  await show(page, serve.base, `#/run/${run.captureId}`);
  await page.waitForSelector('#verification[data-done]');
  assert.equal(await page.getAttribute('#check-log', 'data-state'), 'skip');
  assert.equal(await page.textContent('#check-log .detail'), 'the receipt is not in a log: this server keeps none (serve --no-log)');
  assert.deepEqual(await page.$$eval('#receipt-links a', (links) => links.map((link) => link.textContent)), ['download']);
  assert.deepEqual(problems.filter((problem) => !/status of 404/.test(problem)), []);
  await close();
  assert.equal(await serve.stop(), 0);
});
