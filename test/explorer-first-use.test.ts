/**
 * What a new user meets in the explorer, found in review: a run whose request was not identified
 * shows the request bytes the store keeps (the only copy of what was asked), as text, with why;
 * a streamed run shows the output its events assemble, the stream as received behind a summary;
 * the verify page names the field it cannot read (an ERR_JSON_TRUNCATED alone did not say which);
 * "Pin the keys this server gives now" says what it pinned, and with the server stopped pins
 * nothing and says so. Driven in headless Chromium against a real `runprint serve`; screenshots go
 * to test-output/explorer/first-use-*.png (not committed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { CHROMIUM, drawn, endExplorerTest, launchChromium, openPage } from './helpers/explorer-browser.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;
const NOT_A_LIST = '{"model":"gpt-4o","messages":"not a list"}';
/** Another unidentified request, whose stored bytes the test changes in the store (to as many bytes). */
const TO_CHANGE = '{"model":"gpt-4o","messages":"not a list, twice"}';
const CHANGED = '{"model":"gpt-4o","messages":"not a list, again"}';
const ASKED = '{"model":"gpt-4o","messages":[{"role":"user","content":"Stream it."}],"stream":true}';

interface RunView { seq: number; captureId: string; receipt: { logIndex: number | null } | null }

let upstream: FakeUpstream;
let serve: ServeProcess;
let browser: Browser;
let data: string;
let unidentified: string;
let toChange: string;
let streamed: string;
let plain: string;

async function post(body: string, answer: string): Promise<string> {
  upstream.enqueue({ kind: 'text', text: answer });
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-first-0123456789' }, body });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  return response.headers.get('runprint-capture-id')!;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-first-'));
  upstream = await startFakeUpstream();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  unidentified = await post(NOT_A_LIST, 'Answered all the same.');
  toChange = await post(TO_CHANGE, 'Answered this one too.');
  streamed = await post(ASKED, 'A streamed answer in several pieces.');
  plain = await post('{"model":"gpt-4o","messages":[{"role":"user","content":"Plain."}]}', 'A plain answer.');
  for (let i = 0; i < 200; i++) {
    const [run] = ((await (await fetch(`${serve.base}/v1/runs/${plain}`)).json()) as { runs: RunView[] }).runs;
    if (run?.receipt?.logIndex != null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  browser = await launchChromium();
});

after(() => endExplorerTest(browser, upstream, data));

async function showRun(page: Page, captureId: string): Promise<void> {
  await page.goto(`${serve.base}/explorer/#/run/${captureId}`);
  await drawn(page);
  await page.waitForSelector('#verification[data-done]');
}

test('an unidentified run shows its request bytes as text, with the code and place that stopped its identity', { timeout: 60_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  await showRun(page, unidentified);
  assert.equal(await page.textContent('#unidentified'), 'not identified The request was not identified (ERR_PROVIDER_INVALID_REQUEST at $[\'messages\']), so it has no components. What was asked, as received:');
  assert.equal(await page.textContent('#request-bytes h3'), `Request bytes · ${NOT_A_LIST.length} bytes`);
  assert.equal(await page.textContent('#request-bytes pre'), NOT_A_LIST);
  await page.screenshot({ path: join(SHOTS, 'first-use-unidentified.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await close();
});

test('a streamed run shows the output its events assemble, and the stream as received behind a summary', { timeout: 60_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  await showRun(page, streamed);
  assert.equal(await page.textContent('#output-assembled'), 'Output, assembled from the stream');
  const assembled = (await page.textContent('#output-assembled + pre')) ?? '';
  assert.match(assembled, /"content": "A streamed answer in several pieces\."/, assembled);
  assert.doesNotMatch(assembled, /data: /);
  assert.equal(await page.getAttribute('#output-stream', 'open'), null, 'the stream is folded');
  assert.match((await page.textContent('#output-stream summary')) ?? '', /^The stream as received \([0-9,]+ bytes\)$/);
  assert.match((await page.textContent('#output-stream pre')) ?? '', /^data: \{/);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
  await page.locator('#output').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, 'first-use-streamed.png') });
  assert.deepEqual(problems, []);
  await close();
});

test('the verify page names the field it cannot read: a cut composition, a cut output', { timeout: 60_000 }, async () => {
  const receipt = await (await fetch(`${serve.base}/v1/runs/${plain}/receipt`)).text();
  const { publicKey } = (await (await fetch(`${serve.base}/v1/receipt-key`)).json()) as { publicKey: string };
  const { page, problems, close } = await openPage(browser, serve.base);
  await page.goto(`${serve.base}/explorer/#/verify`);
  await drawn(page);
  await page.fill('textarea[name="receipt"]', receipt);
  await page.fill('textarea[name="key"]', publicKey);
  const verify = async () => {
    await page.click('form button[type="submit"]');
    await page.waitForSelector('#verification[data-done]');
  };
  await page.fill('textarea[name="composition"]', '{"model":"gpt-4o","messa');
  await verify();
  assert.equal(await page.getAttribute('#verification .error', 'data-field'), 'composition');
  assert.match((await page.textContent('#verification .error')) ?? '', /^ERR_JSON_TRUNCATED: The composition or provider request \(JSON\) cannot be read: /);
  assert.equal(await page.getAttribute('textarea[name="composition"]', 'aria-invalid'), 'true');
  await page.screenshot({ path: join(SHOTS, 'first-use-verify-cut.png'), fullPage: true });
  // A whole composition and a cut output: the output is named, the composition no longer marked.
  await page.fill('textarea[name="composition"]', '{"model":"gpt-4o","messages":[{"role":"user","content":"Plain."}]}');
  await page.fill('textarea[name="output"]', '{"id":"chatcmpl-');
  await verify();
  assert.equal(await page.getAttribute('#verification .error', 'data-field'), 'output');
  assert.match((await page.textContent('#verification .error')) ?? '', /^ERR_JSON_TRUNCATED: The output, the response body or stream exactly as received cannot be read: /);
  assert.equal(await page.getAttribute('textarea[name="composition"]', 'aria-invalid'), null);
  assert.equal(await page.getAttribute('textarea[name="output"]', 'aria-invalid'), 'true');
  // Fixed, it verifies.
  await page.fill('textarea[name="output"]', '');
  await verify();
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
  assert.deepEqual(problems, []);
  await close();
});

test('an unidentified run whose stored request bytes were changed in the store is marked, not shown as received; the untouched one is not marked', { timeout: 60_000 }, async () => {
  const [run] = ((await (await fetch(`${serve.base}/v1/runs/${toChange}`)).json()) as { runs: { record: { request: { rawDigest: { sha256: string }; size: number } } }[] }).runs;
  const digest = run!.record.request.rawDigest.sha256;
  assert.equal(run!.record.request.size, CHANGED.length, 'as many bytes: only the digest can tell');
  assert.equal(await serve.stop(), 0);
  const db = new DatabaseSync(join(data, 'runs.sqlite'));
  try {
    assert.equal(db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new TextEncoder().encode(CHANGED), digest).changes, 1);
  } finally {
    db.close();
  }
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const { page, problems, close } = await openPage(browser, serve.base);
  await showRun(page, toChange);
  assert.equal(await page.textContent('#request-bytes [data-mismatch="request"]'), 'content does not match its digest');
  const said = (await page.textContent('#unidentified')) ?? '';
  assert.equal(said, 'not identified The request was not identified (ERR_PROVIDER_INVALID_REQUEST at $[\'messages\']), so it has no components. The bytes stored for it do not give its recorded digest and size, so they are not what was received:');
  assert.doesNotMatch(said, /What was asked, as received/);
  assert.equal(await page.textContent('#request-bytes pre'), CHANGED);
  await page.screenshot({ path: join(SHOTS, 'first-use-unidentified-changed.png'), fullPage: true });
  await showRun(page, unidentified);
  assert.equal(await page.$('[data-mismatch]'), null, 'the untouched run is not marked');
  assert.match((await page.textContent('#unidentified')) ?? '', /What was asked, as received:$/);
  assert.deepEqual(problems, []);
  await close();
});

test('"Pin the keys this server gives now" says what it pinned; with the server stopped it pins nothing and says so', { timeout: 60_000 }, async () => {
  const { keyId } = (await (await fetch(`${serve.base}/v1/receipt-key`)).json()) as { keyId: string };
  const { page, problems, close } = await openPage(browser, serve.base);
  await page.goto(`${serve.base}/explorer/#/keys`);
  await drawn(page);
  await page.click('#pin-served');
  await page.waitForSelector('text=Saved in this browser.');
  assert.equal(await page.textContent('#keys-saved'), `Saved in this browser. Pinned what this server gave just now: the receipt key ${keyId.slice(0, 16)}… and the log key ${serve.key.split('+').slice(0, 2).join('+')}.`);
  const pinned = await page.evaluate(() => [localStorage.getItem('runprint-receipt-key'), localStorage.getItem('runprint-log-key')]);
  assert.equal(pinned[1], serve.key);
  await page.evaluate(() => localStorage.clear());
  assert.equal(await serve.stop(), 0);
  await page.click('#pin-served');
  await page.waitForSelector('#keys-saved .error');
  assert.match((await page.textContent('#keys-saved')) ?? '', /^The server is not answering: runprint serve at 127\.0\.0\.1:[0-9]+ did not answer GET \/v1\/(receipt-key|log\/key).*Nothing was pinned: the keys pinned before, if any, stay pinned\.$/);
  assert.deepEqual(await page.evaluate(() => [localStorage.getItem('runprint-receipt-key'), localStorage.getItem('runprint-log-key')]), [null, null], 'nothing pinned from a copy the browser kept');
  await page.screenshot({ path: join(SHOTS, 'first-use-pin-stopped.png'), clip: { x: 0, y: 0, width: 1280, height: 700 } });
  assert.deepEqual(problems.filter((problem) => !/ERR_CONNECTION_REFUSED/.test(problem)), []);
  await close();
});
