/**
 * Explorer details a reviewer found in Chromium, each driven in headless Chromium against a real
 * `runprint serve` with a fake upstream: comparing with a run whose request was not identified,
 * the Keys page refusing keys the checks cannot read, the error pages of a run id, the counts box,
 * the filter fields' hints and borders, and the agent graph's focus ring and long model names.
 * Screenshots go to test-output/explorer/review-*.png (not committed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { generateKeyFiles, parsePublicKey } from '../src/keys/keys.ts';
import { formatCosignerKey } from '../src/log/cosignature.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { CHROMIUM, drawn, endExplorerTest, launchChromium, openPage } from './helpers/explorer-browser.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;
/** Requested models of the runs: more than the counts box lists before "Show all". */
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o3', 'o4-mini', 'ft:gpt-4o-mini-2024-07-18:acme-research:support-triage:9xYz1234'];
const LONG_MODEL = 'claude-sonnet-4-5';

interface RunView { seq: number; captureId: string; model: string | null; record: { runId: string | null; unidentified: { code: string; path: string | null } | null } }

let upstream: FakeUpstream;
let serve: ServeProcess;
let browser: Browser;
let data: string;
let all: RunView[];

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  upstream.enqueue({ kind: 'text', text: 'An answer.' });
  const response = await fetch(`${serve.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-review-0123456789', 'x-api-key': 'sk-ant-test-review-0123456789', 'anthropic-version': '2023-06-01', ...headers }, body });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
}

const chat = (model: string, content: string, temperature = '0.2') => `{"model":${JSON.stringify(model)},"messages":[{"role":"user","content":${JSON.stringify(content)}}],"temperature":${temperature}}`;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-review-'));
  upstream = await startFakeUpstream();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`] });
  for (const model of MODELS) await post('/openai/v1/chat/completions', chat(model, `Which model is ${model}?`));
  const parent = ((await (await fetch(`${serve.base}/v1/runs?limit=100`)).json()) as { runs: RunView[] }).runs.at(-1)!;
  // A child with a model name wider than its graph box.
  await post('/anthropic/v1/messages', JSON.stringify({ model: LONG_MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] }), { 'runprint-parent': parent.record.runId! });
  // A request runprint cannot identify (a number JSON cannot hold): stored without components.
  await post('/openai/v1/chat/completions', chat('gpt-4o', 'Too hot?', '1e999'));
  all = ((await (await fetch(`${serve.base}/v1/runs?limit=100`)).json()) as { runs: RunView[] }).runs;
  browser = await launchChromium();
});

after(() => endExplorerTest(browser, upstream, data));

async function show(page: Page, hash: string): Promise<void> {
  await page.goto(`${serve.base}/explorer/${hash}`);
  await drawn(page);
}

/** WCAG contrast of two CSS colors as getComputedStyle gives them (rgb or rgba, opaque). */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = (color.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => Number(v) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x! + 0.05) / (y! + 0.05);
}

test('compare with a run whose request was not identified says once that it has no components, with its code', { timeout: 60_000 }, async () => {
  const unidentified = all.find((run) => run.record.unidentified !== null)!;
  const identified = all.find((run) => run.model === 'gpt-4o' && run.record.runId !== null)!;
  const { page, problems, close } = await openPage(browser, serve.base);
  await show(page, `#/compare?a=${identified.captureId}&b=${unidentified.captureId}`);
  assert.equal(await page.textContent('#compare-verdict'), 'Not comparable by identity: the request of run B was not identified.');
  assert.equal(await page.textContent('#compare-no-components'), 'Run B has no components: its request was not identified (ERR_JSON_NON_FINITE at $[\'temperature\']), so there is nothing to compare component by component.');
  assert.equal(await page.$$eval('.compare-part', (parts) => parts.length), 0, 'no component is said to differ');
  assert.doesNotMatch((await page.textContent('main')) ?? '', /element\(s\) in A/);
  await page.screenshot({ path: join(SHOTS, 'review-compare-unidentified.png'), fullPage: true });
  // Both unidentified: neither has components, and their missing identities are not "equal".
  await show(page, `#/compare?a=${unidentified.captureId}&b=${unidentified.captureId}`);
  assert.match((await page.textContent('#compare-no-components')) ?? '', /^Neither run has components: neither request was identified \(A: ERR_JSON_NON_FINITE at \$\['temperature'\]; B: ERR_JSON_NON_FINITE/);
  assert.deepEqual(await page.$$eval('#compare-summary tbody tr', (rows) => rows.slice(0, 2).map((row) => [(row as HTMLElement).dataset['equal'], row.querySelector('th .badge')?.textContent])), [['none', 'neither has one'], ['none', 'neither has one']]);
  assert.deepEqual(problems, []);
  await close();
});

test('the Keys page refuses keys the checks cannot read, naming the field and what is wrong, and keeps valid ones', { timeout: 60_000 }, async () => {
  const keys = await generateKeyFiles('example.test/log');
  const witness = formatCosignerKey('witness.example/w1', await parsePublicKey((await generateKeyFiles('w')).publicKeyPem));
  const { page, problems, close } = await openPage(browser, serve.base);
  await show(page, '#/keys');
  // The receipt key's field names every form it takes, not PEM alone.
  assert.match((await page.textContent('label:has(textarea[name="receipt"])')) ?? '', /^Receipt public key \(PEM, JWK or signed-note verifier key\)/);
  const save = async () => {
    await page.click('form button[type="submit"]');
    await page.waitForFunction(() => (document.querySelector('#keys-saved')?.textContent ?? '') !== '');
  };
  const stored = () => page.evaluate(() => [localStorage.getItem('runprint-receipt-key'), localStorage.getItem('runprint-log-key'), localStorage.getItem('runprint-witness-keys'), localStorage.getItem('runprint-witness-threshold')]);
  // Garbage in every field: nothing saved, each problem named with its field and code.
  await page.fill('textarea[name="receipt"]', 'hello');
  await page.fill('textarea[name="log"]', witness);
  await page.fill('textarea[name="witnesses"]', `${witness}\nnot a key`);
  await page.fill('input[name="threshold"]', '3');
  await save();
  assert.equal(await page.getAttribute('#keys-saved', 'role'), 'alert');
  assert.deepEqual(await page.$$eval('#key-problems li', (items) => items.map((item) => item.textContent)), [
    'Receipt public key: public key is not a PEM SubjectPublicKeyInfo, a JWK or a signed-note verifier key (ERR_KEY_INVALID)',
    'Log verifier key: verifier key is not an Ed25519 (type 0x01) key (ERR_KEY_UNSUPPORTED)',
    'Witness keys, line 2: cosigner key is not of the form <name>+<8 hex digits>+<base64> (ERR_KEY_INVALID)',
    'How many witnesses at least: "3" is not a whole number from 1 to 2 (the witness keys given), so no checkpoint could meet it (ERR_WITNESS_THRESHOLD_INVALID)',
  ]);
  assert.match((await page.textContent('#keys-saved strong')) ?? '', /^Not saved \(ERR_KEY_INVALID\)/);
  assert.deepEqual(await page.$$eval('[aria-invalid="true"]', (fields) => fields.map((field) => (field as HTMLTextAreaElement).name)), ['receipt', 'log', 'witnesses', 'threshold']);
  assert.deepEqual(await stored(), [null, null, null, null], 'nothing was saved');
  assert.equal(await page.inputValue('textarea[name="receipt"]'), 'hello', 'what was typed is kept');
  await page.screenshot({ path: join(SHOTS, 'review-keys-refused.png'), fullPage: true });
  // A private key where the public one goes is named as such.
  await page.fill('textarea[name="receipt"]', keys.privateKeyPem);
  await page.fill('textarea[name="log"]', keys.verifierKey);
  await page.fill('textarea[name="witnesses"]', witness);
  await page.fill('input[name="threshold"]', '1');
  await save();
  assert.deepEqual(await page.$$eval('#key-problems li', (items) => items.map((item) => item.textContent)), ['Receipt public key: a private key was given where a public key is expected (ERR_KEY_INVALID)']);
  assert.deepEqual(await page.$$eval('[aria-invalid="true"]', (fields) => fields.map((field) => (field as HTMLTextAreaElement).name)), ['receipt']);
  // A threshold alone out of range has its own code: it is no key.
  await page.fill('textarea[name="receipt"]', keys.publicKeyPem);
  await page.fill('input[name="threshold"]', '2');
  await save();
  assert.deepEqual(await page.$$eval('#key-problems li', (items) => items.map((item) => (item as HTMLElement).dataset['code'])), ['ERR_WITNESS_THRESHOLD_INVALID']);
  assert.match((await page.textContent('#keys-saved strong')) ?? '', /^Not saved \(ERR_WITNESS_THRESHOLD_INVALID\)/);
  assert.deepEqual(await page.$$eval('[aria-invalid="true"]', (fields) => fields.map((field) => (field as HTMLInputElement).name)), ['threshold']);
  await page.fill('input[name="threshold"]', '1');
  // Valid keys (PEM, JWK and signed-note verifier key) are saved.
  for (const receipt of [keys.publicKeyPem, JSON.stringify(keys.publicKeyJwk), keys.verifierKey]) {
    await page.fill('textarea[name="receipt"]', receipt);
    await save();
    assert.equal(await page.textContent('#keys-saved'), 'Saved in this browser.');
    assert.deepEqual(await stored(), [receipt.trim(), keys.verifierKey, witness, '1']);
    assert.equal(await page.$$eval('[aria-invalid="true"]', (fields) => fields.length), 0);
  }
  assert.deepEqual(problems, []);
  await close();
});

test('an unknown or malformed run id has a page with a heading, its title, and a link back to the runs', { timeout: 60_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  for (const [id, heading, code] of [['00000000-0000-4000-8000-000000000000', 'Run not found', 'ERR_RUN_NOT_FOUND'], ['not-a-run', 'Not a run id', 'ERR_HTTP_BAD_REQUEST']] as const) {
    await show(page, `#/run/${id}`);
    assert.equal(await page.textContent('main h1'), heading);
    assert.equal(await page.title(), `${heading} · runprint explorer`);
    assert.equal(await page.getAttribute('main .error', 'data-code'), code);
    await page.screenshot({ path: join(SHOTS, `review-run-${code}.png`), clip: { x: 0, y: 0, width: 1280, height: 320 } });
    await page.click('main a[href="#/runs"]');
    await drawn(page);
    assert.equal(await page.textContent('main h1'), 'Runs', 'the link leads back to the runs');
  }
  // The failed requests are the 404 and 400 asked for, logged by the browser; nothing else.
  assert.deepEqual(problems.filter((problem) => !/status of (404|400)/.test(problem)), []);
  await close();
});

test('the counts box shows each row whole, and the rows past the first eight behind "Show all"', { timeout: 60_000 }, async () => {
  for (const viewport of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
    const { page, problems, close } = await openPage(browser, serve.base, viewport);
    await show(page, '#/runs');
    await page.waitForSelector('#counts[data-ready]');
    const rows = () => page.$eval('.count-group', (group) => {
      const list = group.querySelector('ul')!;
      const box = list.getBoundingClientRect();
      return {
        scrolls: list.scrollHeight > list.clientHeight + 1,
        shown: [...list.children].filter((item) => !(item as HTMLElement).hidden).map((item) => {
          const rect = item.getBoundingClientRect();
          return { text: item.textContent, whole: rect.top >= box.top - 0.5 && rect.bottom <= box.bottom + 0.5 && rect.height > 0 };
        }),
      };
    });
    const first = await rows();
    assert.equal(first.scrolls, false, 'no scroll box cuts the list');
    assert.equal(first.shown.length, 8);
    for (const row of first.shown) assert.ok(row.whole, `"${row.text}" is shown whole at ${viewport.width} px`);
    await page.screenshot({ path: join(SHOTS, `review-counts-${viewport.width}.png`), clip: { x: 0, y: 0, width: viewport.width, height: Math.min(viewport.height, 900) }, fullPage: true });
    await page.click('.count-group button.link');
    const every = await rows();
    assert.equal(every.shown.length, MODELS.length + 2, 'every requested model, and the not identified row');
    for (const row of every.shown) assert.ok(row.whole, `"${row.text}" is shown whole at ${viewport.width} px`);
    assert.ok(every.shown.some((row) => row.text?.startsWith('not identified')));
    assert.deepEqual(problems, []);
    await close();
  }
});

test('filter hints read as examples (e.g., italic, lighter, 4.5:1) and field borders reach 3:1, light and dark', { timeout: 60_000 }, async () => {
  for (const scheme of ['light', 'dark'] as const) {
    const { page, problems, close } = await openPage(browser, serve.base);
    await page.emulateMedia({ colorScheme: scheme });
    await show(page, '#/runs');
    const fields = await page.$$eval('form.filters input, form.filters select', (inputs) => inputs.map((input) => {
      const style = getComputedStyle(input);
      const hint = getComputedStyle(input, '::placeholder');
      return { name: (input as HTMLInputElement).name, placeholder: (input as HTMLInputElement).placeholder ?? '', color: style.color, background: style.backgroundColor, border: style.borderTopColor, panel: getComputedStyle(input.closest('form')!).backgroundColor, hint: hint.color, italic: hint.fontStyle };
    }));
    for (const name of ['since', 'until', 'model', 'servedModel', 'parent']) assert.match(fields.find((field) => field.name === name)!.placeholder, /^e\.g\. /, `${name}'s placeholder is an example`);
    for (const field of fields) {
      assert.ok(contrast(field.border, field.background) >= 3 && contrast(field.border, field.panel) >= 3, `${scheme}: ${field.name}'s border ${field.border} is 3:1 against ${field.background} and ${field.panel}`);
      if (field.placeholder === '') continue;
      assert.equal(field.italic, 'italic', `${scheme}: ${field.name}'s hint is italic`);
      assert.ok(contrast(field.hint, field.background) >= 4.5, `${scheme}: ${field.name}'s hint ${field.hint} is 4.5:1 on ${field.background}`);
      assert.ok(contrast(field.color, field.background) >= 1.5 * contrast(field.hint, field.background), `${scheme}: ${field.name}'s hint ${field.hint} is clearly lighter than a value ${field.color}`);
    }
    await page.screenshot({ path: join(SHOTS, `review-filters-${scheme}.png`), clip: { x: 0, y: 0, width: 1280, height: 420 } });
    assert.deepEqual(problems, []);
    await close();
  }
});

test('the agent graph: a long model name is cut with an ellipsis inside its box, and keyboard focus on the current node is clearly visible', { timeout: 60_000 }, async () => {
  const child = all.find((run) => run.model === LONG_MODEL)!;
  const { page, problems, close } = await openPage(browser, serve.base);
  await show(page, `#/run/${child.captureId}`);
  await page.waitForSelector('#agent-graph[data-ready] svg');
  const nodes = await page.$$eval('#agent-graph a.node', (links) => links.map((link) => {
    const box = link.querySelector('rect:not(.focus-ring)')!.getBoundingClientRect();
    const label = link.querySelector('text.label') as SVGTextElement;
    const text = label.getBoundingClientRect();
    const probe = label.cloneNode() as SVGTextElement;
    probe.textContent = label.dataset['full'] ?? label.textContent;
    label.parentNode!.append(probe);
    const whole = probe.getComputedTextLength();
    probe.remove();
    return { label: label.textContent, full: label.dataset['full'] ?? null, title: label.querySelector('title')?.textContent ?? null, inside: text.left >= box.left && text.right <= box.right - 4, whole, room: box.width - 16, current: link.classList.contains('current') };
  }));
  const current = nodes.find((node) => node.current)!;
  assert.ok(current.whole > current.room, `the label "${current.full}" is wider (${current.whole.toFixed(1)} px) than its box's room (${current.room} px)`);
  assert.equal(current.full, `#${child.seq} ${LONG_MODEL}`);
  assert.equal(current.title, current.full, 'the whole label is its title');
  assert.match(current.label!, /…$/);
  for (const node of nodes) assert.ok(node.inside, `"${node.label}" stays inside its box`);

  // Focus by keyboard: the pixels around the current node that change, by 3:1 at least, cover
  // twice its perimeter at least (WCAG 2.4.13's measure of a focus indicator).
  const link = page.locator('#agent-graph a.node.current');
  await page.evaluate(() => document.querySelector('#agent-graph')!.scrollIntoView({ block: 'center' }));
  const box = (await link.locator('rect:not(.focus-ring)').boundingBox())!;
  const clip = { x: box.x - 8, y: box.y - 8, width: box.width + 16, height: box.height + 16 };
  await page.mouse.move(0, 0);
  const before = await page.screenshot({ clip });
  await page.focus('#agent-graph a.node.current');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.matches('#agent-graph a.node.current:focus-visible')), true);
  const focused = await page.screenshot({ clip });
  await page.screenshot({ path: join(SHOTS, 'review-graph-focus.png'), clip: { x: box.x - 200, y: box.y - 120, width: box.width + 400, height: box.height + 240 } });
  const changed = await page.evaluate(async ([a, b]) => {
    const pixels = async (base64: string) => {
      const bitmap = await createImageBitmap(new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: 'image/png' }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d')!;
      context.drawImage(bitmap, 0, 0);
      return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    };
    const [x, y] = [await pixels(a!), await pixels(b!)];
    const luminance = (data: Uint8ClampedArray, i: number) => [0, 1, 2].map((k) => data[i + k]! / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((sum, v, k) => sum + v * [0.2126, 0.7152, 0.0722][k]!, 0);
    let count = 0;
    for (let i = 0; i < x.length; i += 4) {
      const [p, q] = [luminance(x, i), luminance(y, i)].sort((m, n) => n - m);
      if ((p! + 0.05) / (q! + 0.05) >= 3) count++;
    }
    return count;
  }, [before.toString('base64'), focused.toString('base64')]);
  const perimeter = 2 * (box.width + box.height);
  assert.ok(changed >= 2 * perimeter, `focus changes ${changed} pixels by 3:1, at least twice the perimeter (${2 * perimeter})`);
  assert.deepEqual(problems, []);
  await close();
});
