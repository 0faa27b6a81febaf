/**
 * A run of thousands of messages in the explorer: its page reads the stored content in one
 * composition (not one request per message), shows the first and last elements of a long list
 * with the others folded (shown a hundred at a time, or all, on demand), and still checks every
 * piece. A run whose stored content was changed is read piece by piece, the reading's progress
 * said, and the changed element, folded, is marked on its fold and when shown. Driven in headless
 * Chromium against a real `runprint serve`; the load time is printed (not asserted); screenshots
 * go to test-output/explorer/large-run-*.png (not committed).
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
const LARGE = 5_000;
const SMALL = 60;

interface RunView { seq: number; captureId: string; receipt: { logIndex: number | null } | null; identity: { components: Record<string, { elements?: { sha256: string }[] }> } }

let upstream: FakeUpstream;
let serve: ServeProcess;
let browser: Browser;
let data: string;
let large: RunView;
let small: RunView;

async function call(messages: number, says: string): Promise<RunView> {
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: messages }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `${says} ${i}` })) }),
  });
  await response.arrayBuffer();
  assert.equal(response.status, 200);
  const captureId = response.headers.get('runprint-capture-id')!;
  for (let i = 0; i < 600; i++) {
    const answer = await fetch(`${serve.base}/v1/runs/${captureId}`);
    if (answer.status === 200) {
      const [run] = ((await answer.json()) as { runs: RunView[] }).runs;
      if (run?.receipt != null) return run;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${captureId} is recorded and signed`);
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-large-'));
  upstream = await startFakeUpstream();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  small = await call(SMALL, 'Small turn');
  large = await call(LARGE, 'Message number');
  browser = await launchChromium();
});

after(() => endExplorerTest(browser, upstream, data));

/** Opens a run page, counting the requests it makes by route, until every check is done. */
async function showRun(page: Page, run: RunView): Promise<{ ms: number; requests: Map<string, number> }> {
  const requests = new Map<string, number>();
  const count = (url: string) => {
    const path = new URL(url).pathname;
    const route = path.startsWith('/v1/content/') ? 'content' : path.endsWith('/composition') ? 'composition' : 'other';
    requests.set(route, (requests.get(route) ?? 0) + 1);
  };
  page.on('request', (request) => count(request.url()));
  const started = Date.now();
  await page.goto(`${serve.base}/explorer/#/run/${run.captureId}`);
  await drawn(page);
  await page.waitForSelector('#verification[data-done]');
  return { ms: Date.now() - started, requests };
}

const elements = (page: Page) => page.$$eval('[data-component="input"] .element', (shown) => shown.map((element) => (element as HTMLElement).dataset['element']));

test(`a run of ${LARGE.toLocaleString('en-US')} messages is read in one composition, shows its first and last elements and folds the others, and checks them all`, { timeout: 120_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  const { ms, requests } = await showRun(page, large);
  console.log(`a run page of ${LARGE} messages: drawn and checked in ${ms} ms, ${requests.get('content') ?? 0} content requests, ${await page.evaluate(() => document.documentElement.scrollHeight)} px tall`);
  assert.equal(requests.get('composition'), 1);
  assert.equal(requests.get('content'), 1, 'the response bytes alone, not one request per message');
  assert.equal(await page.$('#loading'), null, 'the progress line is gone once read');
  assert.deepEqual(await elements(page), ['input[0]', 'input[1]', 'input[2]', 'input[3]', 'input[4]', 'input[4995]', 'input[4996]', 'input[4997]', 'input[4998]', 'input[4999]']);
  assert.match((await page.textContent('[data-fold="input"]')) ?? '', /^4,990 elements not shown: input\[5\] to input\[4994\] Show the next 100 Show them all$/);
  assert.ok((await page.evaluate(() => document.documentElement.scrollHeight)) < 20_000, 'the page is not hundreds of thousands of pixels tall');
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'pass', 'every piece is checked, shown or not');
  assert.match((await page.textContent('#check-identity')) ?? '', /each component's stored content gives its digest/);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
  await page.screenshot({ path: join(SHOTS, 'large-run-folded.png'), fullPage: true });
  await page.click('[data-fold="input"] button:first-of-type');
  assert.equal((await elements(page)).length, 110);
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['element']), 'input[5]', 'focus goes to the first element shown');
  assert.match((await page.textContent('[data-fold="input"]')) ?? '', /^4,890 elements not shown: input\[105\] to input\[4994\]/);
  assert.match((await page.textContent('[data-element="input[104]"] pre')) ?? '', /"content": "Message number 104"/);
  await page.click('[data-fold="input"] button:last-of-type');
  assert.equal((await elements(page)).length, LARGE);
  assert.equal(await page.$('[data-fold="input"]'), null);
  assert.deepEqual(problems, []);
  await close();
});

test('a run whose stored content was changed is read piece by piece, saying how far it got; the changed element is marked on its fold and when shown', { timeout: 120_000 }, async () => {
  const changed = small.identity.components['input']!.elements![10]!.sha256;
  assert.equal(await serve.stop(), 0);
  const db = new DatabaseSync(join(data, 'runs.sqlite'));
  try {
    const { bytes } = db.prepare('SELECT bytes FROM content WHERE digest = ?').get(changed) as { bytes: Uint8Array };
    const text = new TextDecoder().decode(bytes);
    assert.match(text, /Small turn 10/);
    assert.equal(db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new TextEncoder().encode(text.replace('Small turn 10', 'Small turn 11')), changed).changes, 1);
  } finally {
    db.close();
  }
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const { page, problems, close } = await openPage(browser, serve.base);
  // Every text the progress line takes, as it takes it.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { progress: string[] }).progress = seen;
    new MutationObserver(() => {
      const line = document.getElementById('loading')?.textContent;
      if (line !== undefined && line !== seen.at(-1)) seen.push(line);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  const { requests } = await showRun(page, small);
  assert.equal(requests.get('composition'), 1, 'asked for, and refused: the server checks the content too');
  assert.equal(requests.get('content'), SMALL + 4, 'then each piece: the messages, the model, parameters and configuration, and the response');
  const progress = await page.evaluate(() => (window as unknown as { progress: string[] }).progress);
  assert.equal(progress[0], 'Reading the run\'s stored content…');
  assert.ok(progress.includes(`Reading the run's stored content: ${SMALL + 4} of ${SMALL + 4} pieces…`), progress.join(' | '));
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'fail');
  assert.match((await page.textContent('#check-identity')) ?? '', /content does not match its digest: input\[10\]/);
  assert.equal(await page.textContent('[data-fold="input"] [data-mismatch-hidden]'), 'input[10] does not match its digest');
  await page.click('[data-fold="input"] button:first-of-type');
  assert.equal(await page.textContent('[data-element="input[10]"] [data-mismatch]'), 'content does not match its digest');
  await page.screenshot({ path: join(SHOTS, 'large-run-changed.png'), fullPage: true });
  // The one error the browser logs is the composition the server refused (500 ERR_REPLAY_CONTENT_MISMATCH).
  assert.deepEqual(problems.filter((problem) => !/status of 500 .*\/composition\)$/.test(problem)), []);
  await close();
});
