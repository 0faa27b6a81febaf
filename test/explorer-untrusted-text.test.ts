/**
 * What callers and providers send, as the explorer draws it: a bidirectional control (U+202E and
 * the like) or an invisible character in a model name, a prompt or an output is written as
 * `\uXXXX` wherever the page shows it (runs list, counts, run page, graph, compare), so "gnp.exe"
 * is not drawn as "exe.png" and a model named `gpt-4o\u202E1-inim` not as "gpt-4omini-1"; a model
 * name of 300 characters keeps the runs list within the page, the whole name a click away. Driven
 * in headless Chromium against a real `runprint serve`; screenshots go to
 * test-output/explorer/untrusted-*.png (not committed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { CHROMIUM, drawn, endExplorerTest, launchChromium, openPage, VIEWPORTS } from './helpers/explorer-browser.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;
const BIDI_MODEL = 'gpt-4o\u202E1-inim';
/** Then the characters that hide text: a word joiner, a soft hyphen, U+180E, U+3164 and tag characters (an invisible "I", the cancel tag). */
const HIDING = '\u2060\u00AD\u180E\u3164\u{E0049}\u{E007F}';
const PROMPT = `Please open gnp\u202Eexe.png\u202C and report.${HIDING}`;
const ANSWER = 'Opened gnp\u202Eexe.png\u2066\u200B as asked.';
/** A model name of 300 characters, one word with nowhere to break it: a caller chooses it. */
const LONG_MODEL = `ft:gpt4o:${'AcmeResearch'.repeat(25)}`.slice(0, 300);

interface RunView { seq: number; captureId: string; model: string | null; record: { runId: string | null } }

let upstream: FakeUpstream;
let serve: ServeProcess;
let browser: Browser;
let data: string;
let all: RunView[];

async function post(model: string, content: string, answer: string, headers: Record<string, string> = {}): Promise<void> {
  upstream.enqueue({ kind: 'text', text: answer });
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-text-0123456789', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-text-'));
  upstream = await startFakeUpstream();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  await post(LONG_MODEL, 'A model of a long name.', 'Long.');
  await post('gpt-4o', 'A plain first step.', 'Plain.');
  const first = ((await (await fetch(`${serve.base}/v1/runs?limit=1`)).json()) as { runs: RunView[] }).runs[0]!;
  await post(BIDI_MODEL, PROMPT, ANSWER, { 'runprint-parent': first.record.runId! });
  all = ((await (await fetch(`${serve.base}/v1/runs?limit=10`)).json()) as { runs: RunView[] }).runs;
  assert.equal(all[0]!.model, BIDI_MODEL, 'the store keeps the name as sent');
  browser = await launchChromium();
});

after(() => endExplorerTest(browser, upstream, data));

async function show(page: Page, hash: string): Promise<void> {
  await page.goto(`${serve.base}/explorer/${hash}`);
  await drawn(page);
}

/** Every text the page draws (text nodes, and the titles and labels read out) that holds a character that reorders or hides text. */
function hidden(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const HIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\u3164\ufeff\u{e0000}-\u{e007f}]/u;
    const found: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) if (HIDDEN.test(node.nodeValue ?? '')) found.push(JSON.stringify(node.nodeValue));
    for (const element of document.querySelectorAll('[title], [aria-label]')) {
      for (const name of ['title', 'aria-label']) if (HIDDEN.test(element.getAttribute(name) ?? '')) found.push(`${name}=${JSON.stringify(element.getAttribute(name))}`);
    }
    return found;
  });
}

test('bidi controls in a model name, a prompt and an output are drawn as \\uXXXX on the runs list, the run page, its graph and compare', { timeout: 90_000 }, async () => {
  const [child, parent] = all as [RunView, RunView];
  const { page, problems, close } = await openPage(browser, serve.base);
  await show(page, '#/runs');
  await page.waitForSelector('#counts[data-ready]');
  assert.deepEqual(await hidden(page), []);
  assert.equal(await page.textContent(`tr[data-seq="${child.seq}"] td[data-label="Model"] bdi`), 'gpt-4o\\u202e1-inim');
  assert.ok(((await page.textContent('#counts')) ?? '').includes('gpt-4o\\u202e1-inim'));
  await page.screenshot({ path: join(SHOTS, 'untrusted-runs.png'), fullPage: true });

  await show(page, `#/run/${child.captureId}`);
  await page.waitForSelector('#verification[data-done]');
  await page.waitForSelector('#agent-graph[data-ready]');
  assert.deepEqual(await hidden(page), []);
  assert.equal(await page.textContent('[data-fact="model"] td'), 'gpt-4o\\u202e1-inim');
  assert.ok(((await page.textContent('[data-element="input[0]"] pre')) ?? '').includes('gnp\\u202eexe.png\\u202c'), 'the prompt');
  assert.ok(((await page.textContent('[data-element="input[0]"] pre')) ?? '').includes('report.\\u2060\\u00ad\\u180e\\u3164\\u{e0049}\\u{e007f}'), 'the characters that hide text in the prompt');
  assert.ok(((await page.textContent('#output ~ pre')) ?? '').includes('gnp\\u202eexe.png\\u2066\\u200b'), 'the output');
  assert.ok(((await page.textContent('#served ~ table')) ?? '').includes('gpt-4o\\u202e1-inim'), 'the served model');
  assert.ok(((await page.textContent('#agent-graph')) ?? '').includes('gpt-4o\\u202e'), 'the graph node');
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass', 'what is drawn is not what is checked: the checks read the bytes');
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `untrusted-run-${name}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);

  await show(page, `#/run/${parent.captureId}`);
  await page.waitForSelector('#verification[data-done]');
  assert.deepEqual(await hidden(page), []);
  assert.ok(((await page.textContent('#children ~ ul')) ?? '').includes('gpt-4o\\u202e1-inim'), 'the child\'s model');

  await show(page, `#/compare?a=${parent.captureId}&b=${child.captureId}`);
  await page.waitForSelector('#compare-verdict');
  assert.deepEqual(await hidden(page), []);
  assert.ok(((await page.textContent('main')) ?? '').includes('gnp\\u202eexe.png'));
  assert.deepEqual(problems, []);
  await close();
});

test('a model name of 300 characters keeps the runs list within the page on a laptop and a phone; the whole name is in its title and one click away', { timeout: 60_000 }, async () => {
  assert.equal(LONG_MODEL.length, 300);
  const long = all.find((run) => run.model === LONG_MODEL)!;
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const { page, problems, close } = await openPage(browser, serve.base, viewport);
    await show(page, '#/runs');
    await page.waitForSelector('#counts[data-ready]');
    const width = () => page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok((await width()) <= viewport.width, `the page is ${await width()} px wide at ${viewport.width} px`);
    const cell = `tr[data-seq="${long.seq}"] td[data-label="Model"]`;
    assert.equal(await page.textContent(`${cell} bdi`), `${LONG_MODEL.slice(0, 60)}…`);
    assert.equal(await page.getAttribute(`${cell} .long-name`, 'title'), LONG_MODEL);
    await page.screenshot({ path: join(SHOTS, `untrusted-long-model-${name}.png`), fullPage: true });
    await page.click(`${cell} button`);
    assert.equal(await page.textContent(`${cell} bdi`), LONG_MODEL);
    assert.ok((await width()) <= viewport.width, `shown whole, the name wraps: ${await width()} px at ${viewport.width} px`);
    const table = await page.$eval('table.runs', (element) => element.getBoundingClientRect().right);
    assert.ok(table <= viewport.width, `the table ends at ${table} px`);
    // Its run page and a compare with it stay within the page too.
    for (const hash of [`#/run/${long.captureId}`, `#/compare?a=${long.captureId}&b=${all[0]!.captureId}`]) {
      await show(page, hash);
      assert.ok((await width()) <= viewport.width, `${hash} is ${await width()} px wide at ${viewport.width} px`);
    }
    assert.deepEqual(problems, []);
    await close();
  }
});
