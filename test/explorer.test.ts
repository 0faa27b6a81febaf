/**
 * The explorer (issue 12) in headless Chromium against real `runprint serve` processes whose run
 * stores the capture proxy filled (the openai client, the fake upstream): what is served and what
 * is not; the runs list, its filters and paging; compare; a run page and its verification panel
 * passing on good runs and failing, naming the check, on runs whose stored content or receipt was
 * changed in runs.sqlite, under other pinned keys, or under a pinned witness that never cosigned;
 * failed and unidentified calls, and one captured in process that got no answer (their status,
 * why they have no run identity, the runs list's marks, who signs a receipt, headers and run
 * numbers never cut mid-word); digest-only parts shown as digests; the capture token; no capture;
 * the log page's monitor; the verify page, in the explorer and saved as one file opened from
 * file://; the installed (compiled) layout; no console error, no request outside the server, and
 * the page weight. Screenshots at desktop and phone width go to test-output/explorer/ (not
 * committed).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { createApp } from '../src/server/app.ts';
import { explorerRoutes } from '../src/server/explorer-routes.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { chatExchange, HELLO_ANSWER, HELLO_REQUEST, postExchange } from './helpers/exchanges.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';
import { CHROMIUM, drawn, launchChromium, openPage, VIEWPORTS } from './helpers/explorer-browser.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;
/** A fine-tuned model's name, as long as they come: the runs list must still fit its columns. */
const FINE_TUNED = 'ft:gpt-4o-mini-2024-07-18:acme-research:support-triage:9xYz1234';

interface RunView {
  seq: number;
  captureId: string;
  model: string | null;
  capture: 'proxy' | 'sdk';
  record: {
    runId: string | null; requestId: string | null; parents: string[]; incomplete: { reason: string } | null; unidentified: { code: string; path: string | null } | null;
    served: Record<string, { value: unknown }> | null; request: { rawDigest: { sha256: string } }; response: { status: number | null };
  };
  identity: { components: Record<string, { salted?: true; digest: { sha256: string }; elements?: { sha256: string }[] }> } | null;
}

let upstream: FakeUpstream;
let serve: ServeProcess;
let browser: Browser;
const scratch: string[] = [];
const args = () => ['--upstream', `openai=${upstream.url}`, '--upstream', `anthropic=${upstream.url}`];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-explorer-'));
  scratch.push(dir);
  return dir;
}

async function runs(base: string, query = 'limit=1000'): Promise<RunView[]> {
  const response = await fetch(`${base}/v1/runs?${query}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { runs: RunView[] }).runs;
}

/** Calls through the proxy: a chat completion per question, `system` as the system prompt. */
async function call(base: string, model: string, system: string, question: string, headers: Record<string, string> = {}): Promise<void> {
  upstream.enqueue({ kind: 'text', text: `An answer of ${question.length} characters.` });
  const client = new OpenAI({ apiKey: 'sk-test-explorer-0123456789', baseURL: `${base}/openai/v1`, maxRetries: 0, defaultHeaders: headers });
  await client.chat.completions.create({ model, messages: [{ role: 'system', content: system }, { role: 'user', content: question }], temperature: 0.2 });
}

/** A run that gets a receipt: it has a run identity and its whole output. */
const receiptable = (run: RunView) => run.record.runId !== null && run.record.incomplete === null;

/** Waits until every run has its receipt, so pages show receipts and log proofs. */
async function receipted(base: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const all = await runs(base);
    const proofs = await Promise.all(all.filter(receiptable).map(async (run) => (await fetch(`${base}/v1/runs/${run.captureId}/tlog-proof`)).status));
    if (all.length > 0 && proofs.every((status) => status === 200)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail('every run gets a receipt and a log proof');
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  upstream = await startFakeUpstream();
  serve = await startServe({ data: tempDir(), args: args() });
  for (let i = 0; i < 6; i++) await call(serve.base, i % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini', 'Be brief.', `Question ${i}?`);
  await call(serve.base, 'gpt-4o', 'Answer in French.', 'Where is Paris?');
  const first = (await runs(serve.base)).at(-1)!;
  await call(serve.base, 'gpt-4o-mini', 'Be brief.', 'A follow-up step.', { 'runprint-parent': first.record.runId! });
  // A call the provider fails: a run with a record and no receipt.
  upstream.enqueue({ kind: 'error', status: 500, message: 'scripted failure' });
  const client = new OpenAI({ apiKey: 'sk-test-explorer-0123456789', baseURL: `${serve.base}/openai/v1`, maxRetries: 0 });
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Will this fail?' }] }));
  await upstream.settled();
  // A request runprint cannot identify (a number JSON cannot hold): forwarded, recorded as unidentified.
  upstream.enqueue({ kind: 'text', text: 'Answered all the same.' });
  const unidentified = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-explorer-0123456789' },
    body: '{"model":"gpt-4o","messages":[{"role":"user","content":"Too hot?"}],"temperature":1e999}',
  });
  assert.equal(unidentified.status, 200);
  await unidentified.arrayBuffer();
  // An Anthropic call, a second child of the first run.
  upstream.enqueue({ kind: 'text', text: 'Bonjour.' });
  const anthropic = await fetch(`${serve.base}/anthropic/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-explorer-0123456789', 'anthropic-version': '2023-06-01', 'runprint-parent': first.record.runId! },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello in French.' }] }),
  });
  assert.equal(anthropic.status, 200);
  await anthropic.arrayBuffer();
  // Two calls captured in process (runprintFetch({ url }) sends them as exchanges, capture point
  // sdk): one answered by a fine-tuned model with a long name (the widest row of the list), one
  // that got no answer at all (network-error).
  const now = Date.now();
  const answer = JSON.parse(HELLO_ANSWER.toString('utf8')) as Record<string, unknown>;
  const sdkCall = JSON.stringify({ model: FINE_TUNED, messages: [{ role: 'user', content: 'Captured in process?' }] });
  assert.equal((await postExchange(serve.base, chatExchange(sdkCall, JSON.stringify({ ...answer, model: FINE_TUNED }), { times: { started: now, response: now + 100, ended: now + 200 } }))).status, 200);
  assert.equal((await postExchange(serve.base, chatExchange(HELLO_REQUEST, '', { response: null, outcome: 'network-error', times: { started: now, response: null, ended: now + 200 } }))).status, 200);
  await receipted(serve.base);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await killServeProcesses();
  await upstream?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const open = (base: string, viewport?: { width: number; height: number }) => openPage(browser, base, viewport);


async function show(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await drawn(page);
}

/** Opens a run page and waits for its verification panel. */
async function showRun(page: Page, base: string, id: string): Promise<void> {
  await show(page, `${base}/explorer/#/run/${id}`);
  await page.waitForSelector('#verification[data-done]', { timeout: 60_000 });
  // Every check is laid out inside the page, whatever its state (a style once moved skipped ones off screen).
  const width = page.viewportSize()!.width;
  for (const box of await page.$$eval('#verification .check', (checks) => checks.map((check) => check.getBoundingClientRect().toJSON() as { x: number; width: number }))) {
    assert.ok(box.x >= 0 && box.x + box.width <= width && box.width > 0, `a check is shown inside the page: ${JSON.stringify(box)}`);
  }
}

const rowSeqs = (page: Page) => page.$$eval('table.runs tbody tr', (rows) => rows.map((row) => Number((row as HTMLElement).dataset['seq'])));

/** A run page's identities table as its reader sees it: each row's name and its value's innerText. */
const identityRows = (page: Page) => page.$eval('#identities', (table) => Object.fromEntries([...(table as HTMLTableElement).rows].map((row) => [row.cells[0]!.innerText, row.cells[1]!.innerText])));

async function screenshots(base: string, name: string, hash: string, ready: string): Promise<void> {
  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    const { page, problems, close } = await open(base, viewport);
    await show(page, `${base}/explorer/${hash}`);
    await page.waitForSelector(ready, { timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
    assert.deepEqual(problems, [], `${name} at ${width} width`);
    await close();
  }
}

test('the explorer serves its page, the pure core and @noble/hashes, and nothing else of the package, however the path is spelled', async () => {
  const app = createApp({ explorer: explorerRoutes() });
  const status = async (path: string) => (await app.request(path)).status;
  for (const file of readdirSync(new URL('../explorer/', import.meta.url))) assert.equal(await status(`/explorer/${file}`), 200, `explorer/${file} is served`);
  for (const path of ['/explorer/', '/explorer/index.html', '/explorer/core/errors.ts', '/explorer/core/jcs/index.ts', '/explorer/core/providers/openai-chat/index.ts', '/explorer/vendor/noble-hashes/sha2.js']) {
    assert.equal(await status(path), 200, path);
  }
  for (const path of [
    '/explorer/core/store/index.ts', '/explorer/core/server/app.ts', '/explorer/core/cli/main.ts', '/explorer/core/jcs/index.js', '/explorer/core/jcs/nothing.ts',
    '/explorer/core/jcs/../../cli/main.ts', '/explorer/core/%2e%2e/cli/main.ts', '/explorer/core/jcs%2f..%2f..%2fcli%2fmain.ts', '/explorer/../package.json',
    '/explorer/vendor/noble-hashes/../../../package.json', '/explorer/vendor/noble-hashes/package.json', '/explorer/package.json', '/explorer/core/', '/explorer/core/JCS/index.ts',
  ]) {
    assert.equal(await status(path), 404, path);
  }
  const page = await app.request('/explorer/', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(page.headers.get('content-encoding'), 'gzip');
  assert.match(page.headers.get('content-security-policy') ?? '', /^default-src 'none'; script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'; style-src 'self';.* connect-src 'self';/);
  const html = new TextDecoder().decode(gunzipSync(new Uint8Array(await page.arrayBuffer())));
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
  assert.ok(page.headers.get('content-security-policy')!.includes(`'sha256-${createHash('sha256').update(map).digest('base64')}'`), 'the import map is allowed by its hash');
  assert.match(map, /"runprint\/identity": "\/explorer\/core\/identity\/index\.ts"/, 'from the sources, the map names .ts modules');
  assert.equal((await app.request('/explorer/app.js', { method: 'POST' })).status, 405);
  assert.equal((await app.request('/v1/receipt-key')).status, 404, 'no receipt key without capture');
});

test('GET / leads to the runs list: every run, newest first, filtered by model, served model, component and time, and paged with before', { timeout: 180_000 }, async () => {
  const all = await runs(serve.base);
  const { page, problems, close } = await open(serve.base);
  await page.goto(`${serve.base}/`);
  await drawn(page);
  assert.equal(new URL(page.url()).pathname, '/explorer/');
  assert.deepEqual(await rowSeqs(page), all.map((run) => run.seq), 'every run, newest first');
  // The column headers and the run numbers stay whole, on one line, with the fine-tuned model's long name in the list.
  assert.ok(all.some((run) => run.model === FINE_TUNED));
  // (Lines: the distinct tops of the text's boxes; a word cut in two takes two.)
  const cut = await page.$$eval('table.runs thead th, table.runs td[data-label="#"] > a:first-child', (elements) => elements.flatMap((element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
    return element.textContent === '' || lines === 1 ? [] : [`${element.textContent}: ${lines} lines`];
  }));
  assert.deepEqual(cut, [], 'every header, and every run number, on one line at 1280 px');
  // An unidentified run is marked in its status cell, its error code in the mark's title; no other run is.
  const marks = await page.$$eval('table.runs tbody tr', (rows) => rows.flatMap((row) => {
    const mark = row.querySelector('[data-unidentified]');
    return mark === null ? [] : [{ seq: Number((row as HTMLElement).dataset['seq']), status: (row.querySelector('td[data-label="Status"]') as HTMLElement).innerText, title: mark.getAttribute('title'), badge: mark.className }];
  }));
  const unidentifiedRun = all.find((run) => run.record.unidentified !== null)!;
  assert.deepEqual(marks, [{ seq: unidentifiedRun.seq, status: '200 not identified', title: 'Not identified: ERR_JSON_NON_FINITE at $[\'temperature\'], so the run has no request or run identity', badge: 'badge unidentified' }]);

  // The model filter, typed into the form: the URL carries it, so it can be shared.
  await page.fill('input[name="model"]', 'gpt-4o');
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => location.hash.includes('model=gpt-4o'));
  await drawn(page);
  const gpt4o = all.filter((run) => run.model === 'gpt-4o');
  assert.deepEqual(await rowSeqs(page), gpt4o.map((run) => run.seq));
  assert.ok(gpt4o.length >= 3 && gpt4o.length < all.length);

  const servedModel = all.find((run) => run.seq === 1)!.record.served!['model']!.value as string;
  await show(page, `${serve.base}/explorer/#/runs?servedModel=${servedModel}`);
  assert.deepEqual(await rowSeqs(page), all.filter((run) => run.record.served?.['model']?.value === servedModel).map((run) => run.seq));

  const french = all.find((run) => run.seq === 7)!;
  const system = french.identity!.components['system']!.elements![0]!.sha256;
  await show(page, `${serve.base}/explorer/#/runs?component=system%3D${system}`);
  assert.deepEqual(await rowSeqs(page), [french.seq], 'one run has that system prompt');

  await show(page, `${serve.base}/explorer/#/runs?since=2999-01-01T00:00:00Z`);
  assert.deepEqual(await rowSeqs(page), []);
  assert.match((await page.textContent('#empty')) ?? '', /No run matches/);

  // Paging: three at a time, following "Older runs" to the end, gives every run once, in order.
  await show(page, `${serve.base}/explorer/#/runs?limit=3`);
  const seen: number[] = [];
  for (;;) {
    seen.push(...(await rowSeqs(page)));
    const older = await page.$('a[rel="next"]');
    if (older === null) break;
    const before = page.url();
    await older.click();
    await page.waitForFunction((url) => location.href !== url, before);
    await drawn(page);
  }
  assert.deepEqual(seen, all.map((run) => run.seq));
  assert.deepEqual(problems, []);

  // A filter the store refuses is shown with its code (the one console error is the 400 answer itself).
  await show(page, `${serve.base}/explorer/#/runs?since=yesterday`);
  assert.match((await page.textContent('.error')) ?? '', /ERR_HTTP_BAD_REQUEST/);
  assert.deepEqual(problems.map((problem) => /status of 400/.test(problem)), [true]);
  await close();
  await screenshots(serve.base, 'runs', '#/runs', '#counts[data-ready]');
});

test('the runs list filters by provider, status, parent and time range from its form, as shareable URLs, and counts the runs each filter selects', { timeout: 180_000 }, async () => {
  const all = await runs(serve.base);
  const first = all.find((run) => run.seq === 1)!;
  const seqsOf = (keep: (run: RunView) => boolean) => all.filter(keep).map((run) => run.seq);
  const { page, problems, close } = await open(serve.base);
  await show(page, `${serve.base}/explorer/#/runs`);
  await drawn(page);
  await page.waitForSelector('#counts[data-ready]');
  const count = (name: string) => page.textContent(`#counts [data-count="${name}"]`);
  assert.equal(await count('runs'), String(all.length));
  assert.equal(await count('requestIdentities'), String(new Set(all.map((run) => run.record.requestId).filter((id) => id !== null)).size));
  assert.equal(await count('runIdentities'), String(new Set(all.map((run) => run.record.runId).filter((id) => id !== null)).size));
  const modelCounts = await page.$$eval('#counts .count-group:first-child li', (items) => items.map((item) => item.textContent));
  const perModel = new Map<string, number>();
  for (const run of all) perModel.set(run.model ?? 'not identified', (perModel.get(run.model ?? 'not identified') ?? 0) + 1);
  assert.deepEqual(modelCounts, [...perModel].sort((a, b) => b[1] - a[1] || Number(a[0] === 'not identified') - Number(b[0] === 'not identified') || (a[0] < b[0] ? -1 : 1)).map(([model, n]) => `${model} ${n}`), 'runs per requested model, most first');
  assert.deepEqual([...perModel.keys()].sort(), ['claude-sonnet-4-5', FINE_TUNED, 'gpt-4o', 'gpt-4o-mini', 'not identified']);

  // Provider and status are chosen in the form; the URL carries them.
  await page.selectOption('select[name="provider"]', 'anthropic');
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => location.hash.includes('provider=anthropic'));
  await drawn(page);
  await page.waitForSelector('#counts[data-ready]');
  assert.deepEqual(await rowSeqs(page), [11]);
  assert.equal(await count('runs'), '1');
  await page.selectOption('select[name="provider"]', '');
  await page.selectOption('select[name="status"]', 'failed');
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => location.hash === '#/runs?status=failed');
  await drawn(page);
  assert.deepEqual(await rowSeqs(page), seqsOf((run) => run.seq === 9 || run.record.response.status === null), 'the call the provider failed, and the one that got no answer');
  assert.equal((await rowSeqs(page)).length, 2);
  await show(page, `${serve.base}/explorer/#/runs?status=unidentified`);
  assert.deepEqual(await rowSeqs(page), [10]);
  assert.equal(await page.inputValue('select[name="status"]'), 'unidentified', 'the form shows the filter of the URL');
  await show(page, `${serve.base}/explorer/#/runs?status=complete&provider=openai`);
  assert.deepEqual(await rowSeqs(page), seqsOf((run) => run.record.incomplete === null && run.seq !== 11));

  // The children of the first run, typed as its run identity; a model in the counts narrows them.
  await show(page, `${serve.base}/explorer/#/runs`);
  await page.fill('input[name="parent"]', first.record.runId!);
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => location.hash.includes('parent='));
  await drawn(page);
  await page.waitForSelector('#counts[data-ready]');
  assert.deepEqual(await rowSeqs(page), [11, 8]);
  assert.equal(await count('runs'), '2');
  await page.click('#counts a:text-is("gpt-4o-mini")');
  await page.waitForFunction(() => location.hash.includes('model=gpt-4o-mini'));
  await drawn(page);
  await page.waitForSelector('#counts[data-ready]');
  assert.deepEqual(await rowSeqs(page), [8]);
  assert.equal(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('parent'), first.record.runId, 'the parent filter stays');

  // A time range: since inclusive, until not.
  const [since, until] = [all.find((run) => run.seq === 3)!, all.find((run) => run.seq === 6)!].map((run) => (run.record as unknown as { times: { started: string } }).times.started);
  await show(page, `${serve.base}/explorer/#/runs?${new URLSearchParams({ since: since!, until: until! })}`);
  assert.deepEqual(await rowSeqs(page), [5, 4, 3]);
  assert.equal(await page.inputValue('input[name="until"]'), until);
  assert.deepEqual(problems, []);
  await close();
  await screenshots(serve.base, 'runs-filtered', `#/runs?parent=${first.record.runId}`, '#counts[data-ready]');
});

test('compare: two runs ticked in the list, side by side, equal parts as one digest, differing ones with both values', { timeout: 120_000 }, async () => {
  const all = await runs(serve.base);
  const [first, french] = [all.find((run) => run.seq === 1)!, all.find((run) => run.seq === 7)!];
  const { page, problems, close } = await open(serve.base);
  await show(page, `${serve.base}/explorer/#/runs`);
  assert.equal(await page.isDisabled('#compare'), true, 'nothing ticked yet');
  await page.check(`input[name="pick"][value="${first.captureId}"]`);
  await page.check(`input[name="pick"][value="${french.captureId}"]`);
  await page.click('#compare');
  await page.waitForSelector('#compare-verdict');
  const shared = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
  assert.deepEqual([shared.get('a'), shared.get('b')].sort(), [first.captureId, french.captureId].sort(), 'the comparison is a shareable URL');
  assert.equal(await page.textContent('#compare-verdict'), 'Different requests.');
  const equal = await page.$$eval('.compare-part', (parts) => Object.fromEntries(parts.map((part) => [(part as HTMLElement).dataset['component'], (part as HTMLElement).dataset['equal']])));
  assert.deepEqual(equal, { model: 'true', system: 'false', input: 'false', context: 'true', tools: 'true', parameters: 'true', configuration: 'true' });
  const system = (await page.textContent('[data-element="system[0]"]')) ?? '';
  assert.ok(system.includes('Be brief.') && system.includes('Answer in French.'), 'both stored values are shown');
  assert.equal(await page.getAttribute('tr[data-fact="model"]', 'data-equal'), 'true', 'both served by the same model');
  assert.deepEqual(problems, []);
  await close();
  await screenshots(serve.base, 'compare', `#/compare?a=${first.captureId}&b=${french.captureId}`, '#compare-verdict');
});

test('a run page shows identities, content, served facts, output, parents and receipt, and every check passes in the browser', { timeout: 180_000 }, async (t) => {
  const all = await runs(serve.base);
  const child = all.find((run) => run.seq === 8)!;
  const parent = all.find((run) => run.seq === 1)!;
  assert.deepEqual(child.record.parents, [parent.record.runId]);
  const { page, problems, close } = await open(serve.base);
  const weight = { files: 0, data: 0, requests: 0 };
  const pending: Promise<void>[] = [];
  page.on('response', (response) => {
    pending.push(response.body().then((body) => {
      weight.requests++;
      if (new URL(response.url()).pathname.startsWith('/explorer/')) weight.files += gzipSync(body, { level: 9 }).length;
      else weight.data += body.length;
    }, () => undefined));
  });
  await showRun(page, serve.base, child.captureId);
  await Promise.all(pending);
  const total = weight.files + weight.data;
  t.diagnostic(`first load of a run page: ${weight.requests} requests, ${(weight.files / 1024).toFixed(1)} KB of page and core (gzip), ${(weight.data / 1024).toFixed(1)} KB of run data`);
  assert.ok(total < 250 * 1024, `page weight ${total} bytes is within 250 KB compressed`);

  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
  for (const id of ['identity', 'receipt', 'log']) assert.equal(await page.getAttribute(`#check-${id}`, 'data-state'), 'pass', id);
  assert.equal(await page.textContent('#check-receipt .head strong'), 'Receipt signed by the service, about this run', 'the proxy captured it: the service signs');
  assert.match((await page.textContent('#check-identity')) ?? '', new RegExp(`computed ${child.record.runId}`));
  assert.match((await page.textContent('#check-receipt')) ?? '', /Relies on: the receipt key [0-9a-f]{16}… as this server gives it at \/v1\/receipt-key/);
  assert.match((await page.textContent('#check-log')) ?? '', /Relies on: the log key localhost\/runprint\+/);
  const identities = (await page.textContent('#identities')) ?? '';
  for (const value of [child.record.runId!, child.record.requestId!, child.captureId]) assert.ok(identities.includes(value), value);
  assert.match((await page.textContent('[data-element="input[0]"]')) ?? '', /A follow-up step\./);
  assert.match((await page.textContent('[data-element="system[0]"]')) ?? '', /Be brief\./);
  assert.deepEqual(await page.$$eval('#served ~ table.facts .badge', (badges) => badges.map((badge) => badge.textContent)), ['reported', 'reported', 'reported']);
  assert.equal(await page.$$eval('.digest-only', (blocks) => blocks.length), 0, 'everything is stored');
  assert.ok(await page.locator('pre', { hasText: `An answer of ${'A follow-up step.'.length} characters.` }).isVisible(), 'the output is shown, not folded away');

  assert.match((await page.textContent('#children + p')) ?? '', /None: no stored run names this run as its parent\./);
  // The parent is a link; following it shows the parent run, which passes too.
  await page.click(`a[href="#/run/${parent.record.runId}"]`);
  // The child's page is still in the document for a moment: wait for the parent's, checked.
  await page.waitForFunction(
    (id) => (document.querySelector('#identities')?.textContent ?? '').includes(id) && document.querySelector('#verification')?.getAttribute('data-done') !== null && document.querySelector('#verification')?.getAttribute('data-done') !== undefined,
    parent.captureId,
  );
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
  assert.ok(((await page.textContent('#identities')) ?? '').includes(parent.captureId));
  // Its children, newest first, each a link to its page; and a link to them in the runs list.
  const anthropicChild = all.find((run) => run.seq === 11)!;
  assert.deepEqual(await page.$$eval('#children + ul.family li > a', (links) => links.map((link) => link.getAttribute('href'))), [`#/run/${anthropicChild.captureId}`, `#/run/${child.captureId}`]);
  assert.match((await page.textContent('#children + ul.family')) ?? '', /#11 rp-run-.*claude-sonnet-4-5/);
  assert.equal(await page.getAttribute('#children + ul + p a', 'href'), `#/runs?${new URLSearchParams({ parent: parent.record.runId! })}`);
  await page.click(`#children + ul.family a[href="#/run/${child.captureId}"]`);
  await page.waitForFunction((id) => (document.querySelector('#identities')?.textContent ?? '').includes(id) && document.querySelector('#verification')?.hasAttribute('data-done') === true, child.captureId);
  // The failed call: its record is shown, nothing pretends to be a receipt, and the checks that cannot run say why.
  const failed = all.find((run) => run.seq === 9)!;
  assert.equal(failed.record.incomplete?.reason, 'http-status');
  await showRun(page, serve.base, failed.captureId);
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'pass', 'the request identity is recomputed');
  for (const id of ['receipt', 'log']) assert.equal(await page.getAttribute(`#check-${id}`, 'data-state'), 'skip', id);
  assert.match((await page.textContent('#check-receipt')) ?? '', /no receipt: the run has no run identity/);
  assert.match((await page.textContent('#verification .summary')) ?? '', /^1 of 3 checks passed \(the others could not run\)$/);
  assert.match((await page.textContent('#identities')) ?? '', /500.*http-status/);
  const failedRows = await identityRows(page);
  assert.deepEqual([failedRows['Status'], failedRows['Run identity']], ['500 http-status', 'none: the call failed (HTTP 500), so nothing was served']);
  await page.screenshot({ path: join(SHOTS, 'run-failed-call-desktop.png'), fullPage: true });
  // The unidentified request: no identity to recompute, no receipt; the page says nothing is verified.
  const unidentified = all.find((run) => run.seq === 10)!;
  assert.equal(unidentified.identity, null);
  await showRun(page, serve.base, unidentified.captureId);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'none');
  for (const id of ['identity', 'receipt', 'log']) assert.equal(await page.getAttribute(`#check-${id}`, 'data-state'), 'skip', id);
  assert.equal(await page.textContent('#verification .summary'), 'No check could run: nothing here is verified');
  assert.match((await page.textContent('#identities')) ?? '', /ERR_JSON_NON_FINITE \$\['temperature'\]/);
  assert.equal((await identityRows(page))['Run identity'], 'none: the request was not identified');
  assert.match((await page.textContent('main')) ?? '', /The request was not identified \(ERR_JSON_NON_FINITE at \$\['temperature'\]\), so it has no components\. What was asked, as received:/);
  // A call that got no answer at all (captured in process): its status and why it has no run
  // identity, in words; with no receipt, its receipt check names no signer (the capture column is the store's word).
  const noAnswer = all.find((run) => run.record.response.status === null)!;
  assert.equal(noAnswer.capture, 'sdk');
  await showRun(page, serve.base, noAnswer.captureId);
  const rows = await identityRows(page);
  assert.equal(rows['Status'], 'no response network-error', 'the badge stands apart from the status');
  assert.equal(rows['Run identity'], 'none: no answer');
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'skip');
  assert.equal(await page.textContent('#check-receipt .head strong'), 'Receipt about this run');
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `run-no-answer-${name}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  assert.deepEqual(problems, []);
  await close();
  await screenshots(serve.base, 'run', `#/run/${child.captureId}`, '#verification[data-done]');
  await screenshots(serve.base, 'run-with-children', `#/run/${parent.captureId}`, '#verification[data-done]');
  // Parents and children at phone width, up close (the whole page is long).
  const phone = await open(serve.base, VIEWPORTS.phone);
  await showRun(phone.page, serve.base, parent.captureId);
  const family = (await phone.page.locator('#parents').boundingBox())!;
  await phone.page.screenshot({ path: join(SHOTS, 'run-family-phone.png'), fullPage: true, clip: { x: 0, y: family.y - 8, width: VIEWPORTS.phone.width, height: 360 } });
  assert.deepEqual(phone.problems, []);
  await phone.close();
  await screenshots(serve.base, 'log', '#/log', '#checkpoint-check');
  await screenshots(serve.base, 'keys', '#/keys', 'textarea');
});

test('a run page draws the agent DAG around it: a three-level chain with a fan-out and a join, each node a link reached with Tab, readable at phone width', { timeout: 180_000 }, async () => {
  const dag = await startServe({ data: tempDir(), args: args() });
  const newest = async () => (await runs(dag.base, 'limit=1'))[0]!;
  const step = async (question: string, parents: RunView[], missing: string[] = []) => {
    await call(dag.base, 'gpt-4o-mini', 'You are one step of an agent.', question, parents.length + missing.length === 0 ? {} : { 'runprint-parent': [...parents.map((run) => run.record.runId!), ...missing].join(',') });
    return newest();
  };
  const a = await step('Plan the trip.', []);
  const b1 = await step('Find the trains.', [a]);
  const b2 = await step('Find the hotels.', [a]);
  const b3 = await step('Find the weather.', [a]);
  const c1 = await step('Book the 9:00 train.', [b1]);
  const c2 = await step('Match trains and hotels.', [b1, b2]);
  // A parent this store never captured (another service's run): a node without a page.
  const elsewhere = a.record.runId!.replace(/.$/, (digit) => (digit === '0' ? '1' : '0'));
  const d = await step('Send the summary.', [c1], [elsewhere]);
  await receipted(dag.base);
  const id = (run: RunView) => run.record.runId!;
  const name = new Map([a, b1, b2, b3, c1, c2, d].map((run, index) => [id(run), ['A', 'B1', 'B2', 'B3', 'C1', 'C2', 'D'][index]!]));
  name.set(elsewhere, 'X');
  const named = (key: string) => name.get(key) ?? key;

  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    const { page, problems, close } = await open(dag.base, viewport);
    await showRun(page, dag.base, b1.captureId);
    await page.waitForSelector('#agent-graph[data-ready] svg');
    // Nodes: B1, its parent and children (1 step), its siblings and grandchild (2), the grandchild's other parent (3).
    const nodes = await page.$$eval('#agent-graph [data-run]', (elements) => elements.map((element) => ({
      key: element.getAttribute('data-run')!, level: Number(element.getAttribute('data-level')), tag: element.tagName, href: element.getAttribute('href'),
      current: element.getAttribute('aria-current'), classes: element.getAttribute('class'), box: element.getBoundingClientRect().toJSON() as DOMRect,
    })));
    assert.deepEqual(nodes.map((node) => named(node.key)).sort(), ['A', 'B1', 'B2', 'B3', 'C1', 'C2', 'D', 'X']);
    const byName = new Map(nodes.map((node) => [named(node.key), node]));
    // Generations: a run one below its lowest parent shown; one with no parent shown just above its highest child.
    assert.deepEqual(Object.fromEntries([...byName].map(([key, node]) => [key, node.level])), { A: 0, X: 2, B1: 1, B2: 1, B3: 1, C1: 2, C2: 2, D: 3 });
    for (const [key, run] of [['A', a], ['B1', b1], ['B2', b2], ['B3', b3], ['C1', c1], ['C2', c2], ['D', d]] as const) {
      assert.equal(byName.get(key)!.tag, 'a', key);
      assert.equal(byName.get(key)!.href, `#/run/${encodeURIComponent(id(run))}`, key);
    }
    assert.equal(byName.get('B1')!.current, 'page');
    assert.equal(nodes.filter((node) => node.current !== null).length, 1, 'one node is this run');
    assert.equal(byName.get('X')!.tag, 'g', 'a parent not in the store has no link');
    assert.match(byName.get('X')!.classes ?? '', /missing/);
    assert.match((await page.textContent(`#agent-graph [data-run="${elsewhere}"]`)) ?? '', /not in this store/);
    // Edges, parent to child, each drawn from the bottom of the parent's box to the top of the child's.
    const edges = await page.$$eval('#agent-graph path.edge', (paths) => paths.map((path) => {
      const line = path as SVGPathElement;
      const matrix = line.getScreenCTM()!;
      const at = (length: number) => new DOMPoint(line.getPointAtLength(length).x, line.getPointAtLength(length).y).matrixTransform(matrix);
      return { parent: line.getAttribute('data-parent')!, child: line.getAttribute('data-child')!, start: at(0).toJSON() as DOMPoint, end: at(line.getTotalLength()).toJSON() as DOMPoint };
    }));
    assert.deepEqual(edges.map((edge) => `${named(edge.parent)}>${named(edge.child)}`).sort(), ['A>B1', 'A>B2', 'A>B3', 'B1>C1', 'B1>C2', 'B2>C2', 'C1>D', 'X>D']);
    for (const edge of edges) {
      const from = byName.get(named(edge.parent))!.box;
      const to = byName.get(named(edge.child))!.box;
      assert.ok(Math.abs(edge.start.x - (from.x + from.width / 2)) < 1 && Math.abs(edge.start.y - (from.y + from.height)) < 1, `${named(edge.parent)}>${named(edge.child)} starts at the parent's bottom`);
      assert.ok(Math.abs(edge.end.x - (to.x + to.width / 2)) < 1 && edge.end.y <= to.y && edge.end.y > to.y - 6, `${named(edge.parent)}>${named(edge.child)} ends at the child's top`);
      assert.ok(to.y > from.y + from.height, 'a child is drawn below its parent');
    }
    // Inside the page, no two nodes overlapping, drawn at their own size (not scaled down), text at least 12 px.
    for (const node of nodes) assert.ok(node.box.x >= 0 && node.box.x + node.box.width <= viewport.width, `${named(node.key)} inside ${width} width: ${JSON.stringify(node.box)}`);
    for (const [i, one] of nodes.entries()) {
      for (const other of nodes.slice(i + 1)) {
        const apart = one.box.x + one.box.width <= other.box.x || other.box.x + other.box.width <= one.box.x || one.box.y + one.box.height <= other.box.y || other.box.y + other.box.height <= one.box.y;
        assert.ok(apart, `${named(one.key)} and ${named(other.key)} do not overlap`);
      }
    }
    assert.equal(await page.$eval('#agent-graph svg', (svg) => Math.round(svg.getBoundingClientRect().width) === Number(svg.getAttribute('width'))), true, 'not scaled');
    assert.equal(await page.$eval('#agent-graph', (figure) => figure.scrollWidth <= figure.clientWidth), true, 'no sideways scrolling');
    assert.ok(await page.$eval('#agent-graph .label', (label) => parseFloat(getComputedStyle(label).fontSize)) >= 12);
    if (width === 'phone') assert.ok(new Set(nodes.filter((node) => node.level === 1).map((node) => node.box.y)).size >= 2, 'a generation wider than a phone wraps onto rows');
    await page.locator('#agent-graph').screenshot({ path: join(SHOTS, `run-graph-close-${width}.png`) });
    await page.screenshot({ path: join(SHOTS, `run-graph-${width}.png`), fullPage: true });
    // The one error the browser logs: the 404 of the parent this store does not hold.
    assert.deepEqual(problems.filter((problem) => !(/status of 404/.test(problem) && problem.includes(`/v1/runs/${elsewhere})`))), [], width);
    await close();
  }

  // Keyboard: Tab from the last link before the graph reaches every linked node in reading order; Enter follows one.
  const { page, problems, close } = await open(dag.base);
  await showRun(page, dag.base, b1.captureId);
  await page.waitForSelector('#agent-graph[data-ready] svg');
  await page.evaluate(() => {
    const figure = document.getElementById('agent-graph')!;
    const links = [...document.querySelectorAll<HTMLElement>('main a[href], main button, main input, main summary')].filter((element) => element.compareDocumentPosition(figure) & Node.DOCUMENT_POSITION_FOLLOWING);
    links.at(-1)!.focus();
  });
  // (A scrollable block of output between them takes a Tab of its own.)
  const inGraph = () => page.evaluate(() => document.activeElement?.getAttribute('data-run') ?? null);
  for (let i = 0; i < 4 && (await inGraph()) === null; i++) await page.keyboard.press('Tab');
  const reached = [named((await inGraph()) ?? 'outside the graph')];
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    reached.push(named((await inGraph()) ?? 'outside the graph'));
  }
  assert.deepEqual(reached, ['A', 'B1', 'B2', 'B3', 'C1', 'C2', 'D']);
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  assert.equal(named((await page.evaluate(() => document.activeElement?.getAttribute('data-run'))) ?? ''), 'C1');
  await page.keyboard.press('Enter');
  await page.waitForFunction((key) => document.querySelector('#agent-graph[data-ready] a[aria-current="page"]')?.getAttribute('data-run') === key, id(c1));
  assert.equal(new URL(page.url()).hash, `#/run/${encodeURIComponent(id(c1))}`);
  assert.ok(((await page.textContent('#identities')) ?? '').includes(c1.captureId));
  // From C1, three steps reach B3 (C1 < B1 < A > B3) and every other run.
  assert.deepEqual((await page.$$eval('#agent-graph [data-run]', (elements) => elements.map((element) => element.getAttribute('data-run')!))).map(named).sort(), ['A', 'B1', 'B2', 'B3', 'C1', 'C2', 'D', 'X']);
  assert.deepEqual(problems.filter((problem) => !(/status of 404/.test(problem) && problem.includes(`/v1/runs/${elsewhere})`))), []);
  await close();
  await dag.stop();
});

test('the agent graph is bounded: 12 children read per run (the node says there are more), 40 runs at most (the caption says so)', { timeout: 180_000 }, async () => {
  const wide = await startServe({ data: tempDir(), args: args() });
  const newest = async () => (await runs(wide.base, 'limit=1'))[0]!;
  await call(wide.base, 'gpt-4o', 'Plan.', 'The root.');
  const root = await newest();
  const children: RunView[] = [];
  for (let i = 0; i < 14; i++) {
    await call(wide.base, 'gpt-4o-mini', 'Step.', `Child ${i}.`, { 'runprint-parent': root.record.runId! });
    children.push(await newest());
  }
  // Three grandchildren under each of the first 12 children: more than the graph holds.
  for (const child of children.slice(0, 12)) {
    for (let i = 0; i < 3; i++) await call(wide.base, 'gpt-4o-mini', 'Substep.', `Grandchild ${i} of ${child.seq}.`, { 'runprint-parent': child.record.runId! });
  }
  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    const { page, problems, close } = await open(wide.base, viewport);
    await show(page, `${wide.base}/explorer/#/run/${root.captureId}`);
    await page.waitForSelector('#agent-graph[data-ready] svg', { timeout: 60_000 });
    const keys = await page.$$eval('#agent-graph a[data-run]', (links) => links.map((link) => link.getAttribute('data-run')!));
    assert.equal(keys.length, 40, `${width}: the nearest 40 runs`);
    // The 12 newest children are read, as the runs list pages them (the two oldest are left to it), and the root says there are more.
    const childKeys = new Set(children.map((child) => child.record.runId!));
    assert.deepEqual(keys.filter((key) => childKeys.has(key)).sort(), children.slice(2).map((child) => child.record.runId!).sort());
    assert.equal(await page.textContent(`#agent-graph [data-run="${root.record.runId}"] .more`), '+ more');
    assert.equal(await page.$$eval('#agent-graph .more', (marks) => marks.length), 1);
    assert.match((await page.textContent('#agent-graph figcaption')) ?? '', /^40 runs up to 3 steps from this one \(the nearest 40: more are not drawn\).*“\+ more”: that run has more than 12 children, all in the runs list\.$/);
    for (const box of await page.$$eval('#agent-graph a[data-run]', (links) => links.map((link) => link.getBoundingClientRect().toJSON() as DOMRect))) {
      assert.ok(box.x >= 0 && box.x + box.width <= viewport.width, `inside ${width} width`);
    }
    await page.locator('#agent-graph').screenshot({ path: join(SHOTS, `run-graph-bounded-${width}.png`) });
    assert.deepEqual(problems, [], width);
    await close();
  }
  await wide.stop();
});

test('the runs list filters by replay verdict: the runs runprint replay replayed with it, chosen in the form, as a shareable URL', { timeout: 120_000 }, async () => {
  const data = tempDir();
  const replayed = await startServe({ data, args: args() });
  await call(replayed.base, 'gpt-4o', 'Be brief.', 'Name a colour.');
  await call(replayed.base, 'gpt-4o', 'Be brief.', 'Name a river.');
  const [river, colour] = await runs(replayed.base);
  // Replayed through the CLI on the same store: the colour again with the same answer, the river with another one.
  const replay = async (run: RunView, text: string) => {
    upstream.enqueue({ kind: 'text', text });
    const out = await runCliInProcess(['replay', run.captureId, '--data', data, '--upstream', `openai=${upstream.url}`, '--json']);
    return (JSON.parse(out.stdout) as { verdict: string }).verdict;
  };
  assert.equal(await replay(colour!, `An answer of ${'Name a colour.'.length} characters.`), 'identical');
  assert.equal(await replay(river!, 'Another answer altogether.'), 'divergent');
  const { page, problems, close } = await open(replayed.base);
  await show(page, `${replayed.base}/explorer/#/runs`);
  await drawn(page);
  await page.waitForSelector('#counts[data-ready]');
  assert.equal(await page.textContent('#counts [data-count="runs"]'), '4', 'two runs and their two replays');
  await page.selectOption('select[name="verdict"]', 'divergent');
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => location.hash === '#/runs?verdict=divergent');
  await drawn(page);
  await page.waitForSelector('#counts[data-ready]');
  assert.deepEqual(await rowSeqs(page), [river!.seq], 'the original, not its replay');
  assert.equal(await page.textContent('#counts [data-count="runs"]'), '1');
  await show(page, `${replayed.base}/explorer/#/runs?verdict=identical`);
  await drawn(page);
  await page.waitForSelector('#counts[data-ready]');
  assert.deepEqual(await rowSeqs(page), [colour!.seq]);
  assert.equal(await page.inputValue('select[name="verdict"]'), 'identical', 'the form shows the filter of the URL');
  await show(page, `${replayed.base}/explorer/#/runs?verdict=variant`);
  assert.equal(await page.textContent('#empty'), 'No run matches these filters.');
  assert.deepEqual(problems, []);
  await close();
  await screenshots(replayed.base, 'runs-verdict', '#/runs?verdict=divergent', '#counts[data-ready]');
  await replayed.stop();
});

test('a run page lists its replays with their verdicts, a replay\'s page names its original and verdict, and the runs list marks replays', { timeout: 120_000 }, async () => {
  const data = tempDir();
  const replayed = await startServe({ data, args: args() });
  await call(replayed.base, 'gpt-4o', 'Be brief.', 'Name a mountain.');
  const [original] = await runs(replayed.base);
  // Replayed twice through the CLI on the same store: the same answer, then another one.
  const replay = async (text: string) => {
    upstream.enqueue({ kind: 'text', text });
    const out = await runCliInProcess(['replay', original!.captureId, '--data', data, '--upstream', `openai=${upstream.url}`, '--json']);
    return (JSON.parse(out.stdout) as { verdict: string }).verdict;
  };
  assert.equal(await replay(`An answer of ${'Name a mountain.'.length} characters.`), 'identical');
  assert.equal(await replay('Another answer altogether.'), 'divergent');
  const [second, first] = await runs(replayed.base);
  const { page, problems, close } = await open(replayed.base);
  // The original's page: both replays, oldest first, each with its verdict, its page and the compare view of the two.
  await showRun(page, replayed.base, original!.captureId);
  assert.equal(await page.$('#replay-of'), null, 'the original is no replay');
  assert.equal(await page.textContent('#replayed'), `Replayed 2 times: #${first!.seq} identical, #${second!.seq} divergent (see Replays below)`);
  const listed = await page.$$eval('#replay-list li', (items) => items.map((item) => ({
    replay: (item as HTMLElement).dataset['replay'],
    verdict: item.querySelector('[data-verdict]')?.textContent,
    links: [...item.querySelectorAll('a')].map((link) => link.getAttribute('href')),
  })));
  assert.deepEqual(listed, [first!, second!].map((run, index) => ({
    replay: run.captureId,
    verdict: ['identical', 'divergent'][index],
    links: [`#/run/${run.captureId}`, `#/compare?a=${original!.captureId}&b=${run.captureId}`],
  })));
  // Following the second replay's link: its page names the original, the verdict, and compares the two.
  await page.click(`#replay-list li[data-replay="${second!.captureId}"] a[href="#/run/${second!.captureId}"]`);
  await page.waitForSelector('#verification[data-done]', { timeout: 60_000 });
  assert.equal(await page.textContent('#replay-of'), `A replay of run #${original!.seq} (runprint replay) · verdict divergent · compare the two`);
  assert.equal(await page.getAttribute('#replay-of [data-verdict]', 'class'), 'badge fail');
  assert.equal(await page.textContent('#check-receipt .head strong'), 'Receipt signed by the service (serve signs the replays runprint replay stores), about this run');
  assert.equal(await page.textContent('#replays + p'), 'None: runprint replay has not replayed this run on this store.');
  await page.click(`#replay-of a[href="#/compare?a=${original!.captureId}&b=${second!.captureId}"]`);
  await page.waitForFunction(() => location.hash.startsWith('#/compare?'));
  await drawn(page);
  assert.match(await page.textContent('main') ?? '', /output/i, 'the compare view of the original and its replay');
  await page.goBack();
  await page.waitForSelector('#replay-of');
  await page.click(`#replay-of a[href="#/run/${original!.captureId}"]`);
  await page.waitForSelector('#replayed');
  assert.equal(await page.$('#replay-of'), null, 'back on the original');
  // The runs list: each replay marked with a link to its original; the original says it was replayed.
  await show(page, `${replayed.base}/explorer/#/runs`);
  const marks = await page.$$eval('table.runs tbody tr', (rows) => rows.map((row) => [Number((row as HTMLElement).dataset['seq']), row.querySelector('[data-replay-of]')?.textContent ?? null, row.querySelector('[data-replays]')?.textContent ?? null]));
  assert.deepEqual(marks, [[second!.seq, `replay of #${original!.seq}`, null], [first!.seq, `replay of #${original!.seq}`, null], [original!.seq, null, 'replayed 2×']]);
  assert.equal(await page.getAttribute(`tr[data-seq="${first!.seq}"] [data-replay-of]`, 'href'), `#/run/${original!.captureId}`);
  assert.deepEqual(problems, []);
  await close();
  await screenshots(replayed.base, 'run-replays', `#/run/${original!.captureId}`, '#verification[data-done]');
  await screenshots(replayed.base, 'run-replay-of', `#/run/${second!.captureId}`, '#verification[data-done]');
  await screenshots(replayed.base, 'runs-replays', '#/runs', '#counts[data-ready]');
  await replayed.stop();
});

test('a render the hash change overtook (a run page still loading when the runs list was asked for) leaves the newer page whole: its content, title and data-ready', { timeout: 60_000 }, async () => {
  const [run] = await runs(serve.base);
  const { page, problems, close } = await open(serve.base);
  // The run page's own record arrives late, so its render is still waiting when the hash changes.
  const url = `${serve.base}/v1/runs/${run!.captureId}`;
  await page.route(url, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue();
  });
  const late = page.waitForResponse(url);
  await page.goto(`${serve.base}/explorer/#/run/${run!.captureId}`);
  await page.evaluate(() => void (location.hash = '#/runs'));
  await drawn(page);
  await late;
  // The overtaken render goes on with the record it now has (its checks, a second or so); then the page is looked at.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(await page.getAttribute('main', 'data-ready'), '#/runs');
  assert.deepEqual(await page.$$eval('main h1', (headings) => headings.map((heading) => heading.textContent)), ['Runs']);
  assert.equal(await page.$('#verification'), null, 'nothing of the run page');
  assert.equal(await page.title(), 'Runs · runprint explorer');
  assert.equal(await page.$$eval('main', (mains) => mains.length), 1);
  assert.deepEqual(problems, []);
  await close();
});

test('the log page checks the checkpoint and, as a monitor in the browser, that the log only grew since this browser last checked it', { timeout: 120_000 }, async () => {
  const { page, problems, close } = await open(serve.base);
  await show(page, `${serve.base}/explorer/#/log`);
  assert.equal(await page.getAttribute('#checkpoint-check', 'data-state'), 'pass');
  const size = Number(/Tree size(\d+)/.exec((await page.textContent('#checkpoint-check')) ?? '')![1]);
  assert.equal(size, (await runs(serve.base)).filter(receiptable).length, 'one entry per receipt');
  await page.click('#monitor');
  await page.waitForSelector('#monitor-result [data-state]');
  assert.equal(await page.getAttribute('#monitor-result [data-state]', 'data-state'), 'pass');
  assert.match((await page.textContent('#monitor-result')) ?? '', new RegExp(`root of all ${size} entries, and each of the ${size} entries hashes into it`));

  await call(serve.base, 'gpt-4o', 'Be brief.', 'One more question?');
  await receipted(serve.base);
  for (let i = 0; i < 100 && !((await (await fetch(`${serve.base}/checkpoint`)).text()).split('\n')[1] === String(size + 1)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  await page.reload();
  await drawn(page);
  assert.match((await page.textContent('main')) ?? '', new RegExp(`Last checked here at size ${size}`));
  await page.click('#monitor');
  await page.waitForSelector('#monitor-result [data-state]');
  assert.match((await page.textContent('#monitor-result')) ?? '', new RegExp(`Consistent with the checkpoint of size ${size} this browser checked before; 1 new entry hashes into the root of size ${size + 1}`));
  assert.deepEqual(await page.$$eval('#log-history tbody tr td:nth-child(2)', (cells) => cells.map((cell) => cell.textContent)), [String(size + 1), String(size)]);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: join(SHOTS, 'log-monitor-desktop.png'), fullPage: true });
  await close();
});

test('a run whose parts are kept as digests only shows digests, never blank content, and its identity check says it could not run', { timeout: 120_000 }, async () => {
  const digests = await startServe({ data: tempDir(), args: [...args(), '--capture-keep', 'input=digest'] });
  try {
    // The same call twice: one run identity, two captures.
    await call(digests.base, 'gpt-4o', 'Be brief.', 'A private question?');
    await call(digests.base, 'gpt-4o', 'Be brief.', 'A private question?');
    await receipted(digests.base);
    const [run, earlier] = await runs(digests.base);
    assert.equal(run!.record.runId, earlier!.record.runId);
    const { page, problems, close } = await open(digests.base);
    await showRun(page, digests.base, run!.captureId);
    assert.match((await page.textContent('[data-element="input[0]"] .digest-only')) ?? '', /Digest only: the content was not kept/);
    assert.ok(((await page.textContent('[data-element="input[0]"]')) ?? '').includes(run!.identity!.components['input']!.elements![0]!.sha256));
    assert.ok(!((await page.textContent('main')) ?? '').includes('A private question?'), 'the question is nowhere on the page');
    assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'skip');
    assert.match((await page.textContent('#check-identity')) ?? '', /input\[0\]\): the identity cannot be recomputed from content/);
    assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass', 'the signature still verifies');
    assert.match((await page.textContent('#check-receipt')) ?? '', /not checked: the identity from content/);
    assert.equal(await page.getAttribute('#check-log', 'data-state'), 'pass');
    // What the run view says is not stored is not asked for: no 404 in the console.
    assert.deepEqual(problems, []);
    await page.screenshot({ path: join(SHOTS, 'run-digest-only-desktop.png'), fullPage: true });
    // A run identity names every capture of the run: the latest is shown, each capture linked.
    await showRun(page, digests.base, run!.record.runId!);
    assert.match((await page.textContent('main')) ?? '', /This run identity was captured 2 times; the latest is shown/);
    assert.ok(((await page.textContent('#identities')) ?? '').includes(run!.captureId));
    for (const capture of [run!, earlier!]) assert.ok(await page.$(`a[href="#/run/${capture.captureId}"]`), capture.captureId);
    await close();
  } finally {
    await digests.stop();
  }
});

test('a salted run with a part kept as a digest only: the salts the store keeps are read, each stored piece is checked against its digest, and the check names only the part not stored', { timeout: 120_000 }, async () => {
  const salted = await startServe({ data: tempDir(), args: [...args(), '--capture-salt', 'input', '--capture-keep', 'system=digest'] });
  try {
    await call(salted.base, 'gpt-4o', 'A secret system prompt.', 'A guessable question?');
    await receipted(salted.base);
    const [run] = await runs(salted.base);
    assert.equal(run!.identity!.components['input']!.salted, true);
    const { page, problems, close } = await open(salted.base);
    const asked: string[] = [];
    page.on('request', (request) => asked.push(new URL(request.url()).pathname));
    await showRun(page, salted.base, run!.captureId);
    const check = (await page.textContent('#check-identity')) ?? '';
    assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'skip', check);
    assert.match(check, /1 part is kept as a digest only \(system\[0\]\): the identity cannot be recomputed from content; the 4 pieces stored give their digests/);
    assert.ok(!check.includes('salts'), `the salts are stored and read: ${check}`);
    // The salted input[0] among the pieces checked, each against its digest.
    assert.equal(await page.textContent('#check-identity li.pass'), '✓ each stored piece gives its digest (4: model, input[0], parameters, configuration)');
    assert.ok(asked.includes(`/v1/runs/${run!.captureId}/salts`), 'the salts are read on their own');
    assert.ok(!asked.some((path) => path.endsWith('/composition')), 'the composition, not answered while a piece is digest only, is not asked for');
    assert.deepEqual(problems, [], 'no 404 in the console');
    await page.screenshot({ path: join(SHOTS, 'run-salted-digest-only-desktop.png'), fullPage: true });
    await close();
  } finally {
    await salted.stop();
  }
});

test('a salted run (serve --capture-salt): the page recomputes its identity with the salts the store keeps, and every check passes', { timeout: 120_000 }, async () => {
  const salted = await startServe({ data: tempDir(), args: [...args(), '--capture-salt', 'system,input'] });
  try {
    await call(salted.base, 'gpt-4o', 'yes', 'A guessable question?');
    await receipted(salted.base);
    const [run] = await runs(salted.base);
    assert.equal(run!.identity!.components['system']!.salted, true);
    const { page, problems, close } = await open(salted.base);
    await showRun(page, salted.base, run!.captureId);
    for (const id of ['identity', 'receipt', 'log']) assert.equal(await page.getAttribute(`#check-${id}`, 'data-state'), 'pass', `${id}: ${(await page.textContent(`#check-${id}`)) ?? ''}`);
    // The salted components are marked, and their digests explained as salted commitments; the others are not.
    assert.deepEqual(await page.$$eval('#main [data-salted]', (marks) => marks.map((mark) => [(mark as HTMLElement).dataset['salted'], mark.textContent])), [['system', 'salted'], ['input', 'salted']]);
    assert.match((await page.textContent('[data-component="system"] .salted-note')) ?? '', /^Salted: each digest here is a commitment, computed with a random salt of this run/);
    assert.equal(await page.$('[data-component="model"] .salted-note'), null);
    // The same system prompt, another question: salted digests all differ, so compare reads the
    // content the store keeps instead, element by element.
    await call(salted.base, 'gpt-4o', 'yes', 'Another question?');
    const [second] = await runs(salted.base);
    assert.notEqual(second!.identity!.components['system']!.digest.sha256, run!.identity!.components['system']!.digest.sha256);
    await show(page, `${salted.base}/explorer/#/compare?a=${run!.captureId}&b=${second!.captureId}`);
    const parts = await page.$$eval('.compare-part[data-salted]', (nodes) => Object.fromEntries(nodes.map((node) => [(node as HTMLElement).dataset['component'], (node as HTMLElement).dataset['equal']])));
    assert.deepEqual(parts, { system: 'true', input: 'false' });
    assert.equal(await page.getAttribute('[data-element="input[0]"]', 'data-equal'), 'false');
    assert.match((await page.textContent('.compare-part[data-component="system"]')) ?? '', /Salted: each run commits/);
    await screenshots(salted.base, 'compare-salted', `#/compare?a=${run!.captureId}&b=${second!.captureId}`, '#compare-verdict');
    assert.deepEqual(problems, []);
    await close();
  } finally {
    await salted.stop();
  }
});

test('the verify page checks what it is given, receipt, key, request, output, tlog-proof and log key, without a request, and fails a changed output naming the check', { timeout: 120_000 }, async () => {
  const run = (await runs(serve.base)).find((view) => view.seq === 5)!;
  const sent = upstream.requests.find((request) => createHash('sha256').update(request.body).digest('hex') === run.record.request.rawDigest.sha256)!;
  const receipt = await (await fetch(`${serve.base}/v1/runs/${run.captureId}/receipt`)).text();
  const { publicKey } = (await (await fetch(`${serve.base}/v1/receipt-key`)).json()) as { publicKey: string };
  const proof = await (await fetch(`${serve.base}/v1/runs/${run.captureId}/tlog-proof`)).text();
  const { page, problems, close } = await open(serve.base);
  await show(page, `${serve.base}/explorer/#/verify`);
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.fill('textarea[name="receipt"]', receipt);
  await page.fill('textarea[name="key"]', publicKey);
  await page.fill('textarea[name="composition"]', sent.body.toString('utf8'));
  await page.selectOption('select[name="from"]', 'openai-chat');
  const output = sent.response.body.toString('utf8');
  await page.fill('textarea[name="output"]', output);
  await page.fill('textarea[name="proof"]', proof);
  await page.fill('textarea[name="logKey"]', serve.key);
  await page.click('form.verify-form button[type="submit"]');
  await page.waitForSelector('#verification[data-done]');
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass', (await page.textContent('#verification')) ?? '');
  const passed = await page.$$eval('#check-receipt li.pass', (items) => items.map((item) => (item as HTMLElement).dataset['step']));
  for (const step of ['signature', 'composition', 'output', 'log-checkpoint', 'log-inclusion']) assert.ok(passed.includes(step), step);
  await page.screenshot({ path: join(SHOTS, 'verify-result-desktop.png'), fullPage: true });

  await page.fill('textarea[name="output"]', output.replace('characters', 'Characters'));
  await page.click('form.verify-form button[type="submit"]');
  await page.waitForSelector('#verification[data-done="fail"]');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'output');
  assert.deepEqual(requests, [], 'nothing is sent anywhere while verifying');
  assert.deepEqual(problems, []);
  await close();
  await screenshots(serve.base, 'verify', '#/verify', 'form.verify-form');
});

test('the verify page saved as one file works offline from a file:// URL and makes no connection', { timeout: 120_000 }, async () => {
  const run = (await runs(serve.base)).find((view) => view.seq === 4)!;
  const sent = upstream.requests.find((request) => createHash('sha256').update(request.body).digest('hex') === run.record.request.rawDigest.sha256)!;
  const receipt = await (await fetch(`${serve.base}/v1/runs/${run.captureId}/receipt`)).text();
  const { publicKey } = (await (await fetch(`${serve.base}/v1/receipt-key`)).json()) as { publicKey: string };
  const proof = await (await fetch(`${serve.base}/v1/runs/${run.captureId}/tlog-proof`)).text();
  const saved = await fetch(`${serve.base}/explorer/verify-offline.html`);
  assert.equal(saved.headers.get('content-disposition'), 'attachment; filename="runprint-verify.html"');
  const file = join(tempDir(), 'runprint-verify.html');
  writeFileSync(file, await saved.text());
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => void (message.type() === 'error' && problems.push(message.text())));
  page.on('pageerror', (error) => problems.push(error.message));
  const requests: string[] = [];
  page.on('request', (request) => void (request.url().startsWith('data:') || requests.push(request.url())));
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('main[data-ready]', { timeout: 60_000 });
  assert.equal(await page.$('#offline'), null, 'no link to save it again from disk');
  await page.fill('textarea[name="receipt"]', receipt);
  await page.fill('textarea[name="key"]', publicKey);
  await page.fill('textarea[name="composition"]', sent.body.toString('utf8'));
  await page.fill('textarea[name="output"]', sent.response.body.toString('utf8'));
  await page.fill('textarea[name="proof"]', proof);
  await page.fill('textarea[name="logKey"]', serve.key);
  await page.click('form.verify-form button[type="submit"]');
  await page.waitForSelector('#verification[data-done]');
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass', (await page.textContent('#verification')) ?? '');
  assert.deepEqual(requests, [pathToFileURL(file).href], 'the file itself, nothing else');
  assert.deepEqual(problems, []);
  await page.screenshot({ path: join(SHOTS, 'verify-offline-desktop.png'), fullPage: true });
  await context.close();
});

test('keys pinned in the browser are used instead of the server\'s: other keys fail the signature and the checkpoint, naming them', { timeout: 120_000 }, async () => {
  const run = (await runs(serve.base)).find((view) => view.seq === 6)!;
  const other = await generateKeyFiles('example.test/other-log');
  const { page, problems, close } = await open(serve.base);
  await show(page, `${serve.base}/explorer/#/keys`);
  await page.fill('textarea[name="receipt"]', other.publicKeyPem);
  await page.fill('textarea[name="log"]', other.verifierKey);
  await page.click('form button[type="submit"]');
  await page.waitForSelector('text=Saved in this browser.');
  await showRun(page, serve.base, run.captureId);
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'pass', 'the identity relies on no key');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'signature');
  assert.match((await page.textContent('#check-receipt .relies')) ?? '', new RegExp(`receipt key ${other.keyId.slice(0, 16)}… pinned in this browser`));
  assert.equal(await page.getAttribute('#check-log li.fail', 'data-step'), 'log-checkpoint');
  assert.match((await page.textContent('#check-log .relies')) ?? '', /example\.test\/other-log\+[0-9a-f]{8} pinned in this browser/);

  // Trust on first use: pinning the keys the server gives now, the checks pass and say they used the pinned keys.
  await show(page, `${serve.base}/explorer/#/keys`);
  await page.click('#pin-served');
  await page.waitForSelector('text=Saved in this browser.');
  assert.equal(await page.inputValue('textarea[name="log"]'), serve.key);
  await showRun(page, serve.base, run.captureId);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
  assert.match((await page.textContent('#check-receipt .relies')) ?? '', /pinned in this browser/);

  await show(page, `${serve.base}/explorer/#/keys`);
  await page.fill('textarea[name="receipt"]', '');
  await page.fill('textarea[name="log"]', '');
  await page.click('form button[type="submit"]');
  await page.waitForSelector('text=Saved in this browser.');
  await showRun(page, serve.base, run.captureId);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass', 'without pinned keys, the server\'s keys again');
  assert.match((await page.textContent('#check-receipt .relies')) ?? '', /as this server gives it at \/v1\/receipt-key/);
  assert.deepEqual(problems, []);
  await close();
});

test('with --capture-token the explorer shows nothing of the store until the reader gives the token, then sends it on every call', { timeout: 120_000 }, async () => {
  const TOKEN = 'explorer-capture-token-1';
  const guarded = await startServe({ data: tempDir(), args: [...args(), '--capture-token', TOKEN] });
  try {
    await call(guarded.base, 'gpt-4o', 'Be brief.', 'A guarded question?', { 'runprint-capture-token': TOKEN });
    const [run] = ((await (await fetch(`${guarded.base}/v1/runs`, { headers: { 'runprint-capture-token': TOKEN } })).json()) as { runs: RunView[] }).runs;
    const { page, problems, close } = await open(guarded.base);
    await show(page, `${guarded.base}/explorer/#/runs`);
    assert.match((await page.textContent('.error')) ?? '', /ERR_HTTP_UNAUTHORIZED/);
    assert.equal(await page.$('table.runs'), null, 'no run is listed without the token');
    assert.equal(await page.textContent('.error label[for="capture-token"]'), 'Capture token (runprint-capture-token)', 'the field has a visible label');
    assert.ok(await page.isVisible('.error label[for="capture-token"]'));
    // A wrong token is told apart from none: refused, and the field asks for another.
    await page.fill('.error input[name="token"]', 'not-the-token');
    await page.click('.error button[type="submit"]');
    await page.waitForSelector('.error label:text("Another capture token")');
    assert.match((await page.textContent('.error')) ?? '', /^Token refused \(ERR_HTTP_UNAUTHORIZED\): the capture token given in this browser was refused/);
    await page.screenshot({ path: join(SHOTS, 'token-refused-desktop.png') });
    await page.fill('.error input[name="token"]', TOKEN);
    await page.click('.error button[type="submit"]');
    await page.waitForSelector('table.runs');
    assert.deepEqual(await rowSeqs(page), [run!.seq]);
    await page.click(`a[href="#/run/${run!.captureId}"] >> nth=0`);
    await page.waitForSelector('#verification[data-done]');
    assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass', 'content, receipt and proof are read with the token');
    // The receipt download goes through the page too, with the token: the file is the stored receipt.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#receipt ~ p a:text("download")')]);
    assert.equal(download.suggestedFilename(), `${run!.captureId}.receipt.json`);
    const stored = await (await fetch(`${guarded.base}/v1/runs/${run!.captureId}/receipt`, { headers: { 'runprint-capture-token': TOKEN } })).text();
    assert.equal(readFileSync((await download.path())!, 'utf8'), stored);
    assert.deepEqual(problems.map((problem) => /status of 401/.test(problem)), [true, true], 'the console errors are the refused calls: without the token, then with a wrong one');
    await close();
  } finally {
    await guarded.stop();
  }
});

test('a run whose stream was cut says so where its run identity would be, not "the response gave no served facts"', { timeout: 120_000 }, async () => {
  const cutting = await startServe({ data: tempDir(), args: args() });
  try {
    upstream.enqueue({ kind: 'text', text: 'A long answer that never ends.', cutAfterEvents: 1 });
    const response = await fetch(`${cutting.base}/openai/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-explorer-0123456789' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Cut me off?' }] }),
    });
    await response.text().catch(() => '');
    await upstream.settled();
    let run: RunView | undefined;
    for (let i = 0; i < 100 && run === undefined; i++) {
      [run] = await runs(cutting.base);
      if (run === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(run!.record.incomplete?.reason, 'cut');
    assert.equal(run!.record.runId, null);
    const { page, problems, close } = await open(cutting.base);
    await showRun(page, cutting.base, run!.captureId);
    assert.equal((await identityRows(page))['Run identity'], 'none: the response was cut off before its end');
    assert.deepEqual(problems, []);
    await close();
  } finally {
    await cutting.stop();
  }
});

test('a serve stopped while the page is open: a click says the server is not answering, not "Failed to fetch"', { timeout: 120_000 }, async () => {
  const stopping = await startServe({ data: tempDir(), args: args() });
  await call(stopping.base, 'gpt-4o', 'Be brief.', 'Still there?');
  const [run] = await runs(stopping.base);
  const { page, close } = await open(stopping.base);
  await show(page, `${stopping.base}/explorer/#/runs`);
  await stopping.stop();
  await page.click(`a[href="#/run/${run!.captureId}"] >> nth=0`);
  await drawn(page);
  const text = (await page.textContent('main .error')) ?? '';
  assert.match(text, /^The server is not answering: runprint serve at 127\.0\.0\.1:\d+ did not answer GET \/v1\/runs\/[0-9a-f-]+: it may have stopped, or the network between is down \(the browser says: Failed to fetch\)\. Reload once it answers again\.$/);
  await page.screenshot({ path: join(SHOTS, 'server-stopped-desktop.png') });
  await close();
});

test('installed, runprint runs compiled: the explorer loads the core\'s .js from dist/ (never a .ts) and its checks pass', { timeout: 180_000 }, async () => {
  // A copy of the package as npm installs it (package.json "files"), compiled here so the checkout's dist/ is not touched.
  const root = fileURLToPath(new URL('..', import.meta.url));
  const installed = tempDir();
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(installed, 'dist')], () => resolve()).once('error', reject);
  });
  assert.ok(existsSync(join(installed, 'dist/server/explorer-routes.js')), 'the server compiles');
  for (const part of ['bin', 'explorer', 'package.json']) cpSync(join(root, part), join(installed, part), { recursive: true });
  mkdirSync(join(installed, 'docs'));
  cpSync(join(root, 'docs/openapi.json'), join(installed, 'docs/openapi.json'));
  symlinkSync(join(root, 'node_modules'), join(installed, 'node_modules'));
  const child = spawn(process.execPath, [join(installed, 'bin/runprint.js'), 'serve', '--port', '0', '--data', tempDir(), ...args()], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    for (let i = 0; i < 200 && !/runprint: explorer /.test(stderr); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
    assert.ok(base !== undefined, stderr);
    await call(base, 'gpt-4o', 'Be brief.', 'Compiled?');
    await receipted(base);
    const [run] = await runs(base);
    const { page, problems, close } = await open(base);
    const loaded: string[] = [];
    page.on('request', (request) => loaded.push(new URL(request.url()).pathname));
    await showRun(page, base, run!.captureId);
    assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
    assert.ok(loaded.some((path) => path === '/explorer/core/identity/index.js'));
    assert.deepEqual(loaded.filter((path) => path.endsWith('.ts')), []);
    assert.deepEqual(problems, []);
    assert.ok(!stderr.includes('warning'), 'no type stripping, no warning');
    await close();
  } finally {
    child.kill();
  }
});

test('witnesses pinned in the browser: the log check and the log page verify their cosignatures, and a witness that did not cosign fails the check, naming it', { timeout: 180_000 }, async () => {
  const dir = tempDir();
  const LOG_NAME = 'example.test/explorer-log';
  const WITNESS_NAME = 'example.test/explorer-witness';
  const [logFiles, witnessFiles, absentFiles] = await Promise.all([generateKeyFiles(LOG_NAME), generateKeyFiles(WITNESS_NAME), generateKeyFiles('example.test/absent-witness')]);
  writeFileSync(join(dir, 'log.pem'), logFiles.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'witness.pem'), witnessFiles.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'absent.pem'), absentFiles.privateKeyPem, { mode: 0o600 });
  const witness = await startServe({ data: join(dir, 'witness-data'), args: ['--no-capture', '--witness-key', join(dir, 'witness.pem'), '--witness-name', WITNESS_NAME, '--witness-log', logFiles.verifierKey] });
  const absent = await startServe({ data: join(dir, 'absent-data'), args: ['--no-capture', '--witness-key', join(dir, 'absent.pem'), '--witness-name', 'example.test/absent-witness', '--witness-log', logFiles.verifierKey] });
  /** The witness's cosigner key, from the line serve prints after its log line. */
  const vkeyOf = async (served: ServeProcess) => {
    for (let i = 0; i < 200 && !/^runprint: witness \S+$/m.test(served.stderr()); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    return /^runprint: witness (\S+)$/m.exec(served.stderr())![1]!;
  };
  const witnessKey = await vkeyOf(witness);
  const absentKey = await vkeyOf(absent);
  await absent.stop();
  const logged = await startServe({ data: join(dir, 'log-data'), args: [...args(), '--log-name', LOG_NAME, '--log-key', join(dir, 'log.pem'), '--log-witness', `${witness.base}=${witnessKey}`] });
  try {
    await call(logged.base, 'gpt-4o', 'Be brief.', 'Witnessed?');
    await receipted(logged.base);
    const [run] = await runs(logged.base);
    // The receipt's proof carries the witness's cosignature once a cosigned checkpoint covers it.
    for (let i = 0; i < 100 && !(await (await fetch(`${logged.base}/v1/runs/${run!.captureId}/tlog-proof`)).text()).includes(`— ${WITNESS_NAME} `); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const { page, problems, close } = await open(logged.base);
    await show(page, `${logged.base}/explorer/#/keys`);
    await page.fill('textarea[name="witnesses"]', witnessKey);
    await page.fill('input[name="threshold"]', '1');
    await page.click('form button[type="submit"]');
    await page.waitForSelector('text=Saved in this browser.');
    await showRun(page, logged.base, run!.captureId);
    assert.equal(await page.getAttribute('#check-log', 'data-state'), 'pass', (await page.textContent('#check-log')) ?? '');
    assert.equal(await page.getAttribute('#check-log li[data-step="log-witnesses"]', 'class'), 'pass');
    assert.match((await page.textContent('#check-log .relies')) ?? '', /at least 1 of the 1 witness pinned in this browser \(example\.test\/explorer-witness\) must have cosigned/);
    await show(page, `${logged.base}/explorer/#/log`);
    assert.equal(await page.getAttribute(`[data-cosigner="${WITNESS_NAME}"]`, 'data-verified'), 'true');
    await page.screenshot({ path: join(SHOTS, 'log-witnessed-desktop.png'), fullPage: true });

    // A pinned witness that never cosigned: the policy is not met, and the check says which step failed.
    await show(page, `${logged.base}/explorer/#/keys`);
    await page.fill('textarea[name="witnesses"]', absentKey);
    await page.click('form button[type="submit"]');
    await page.waitForSelector('text=Saved in this browser.');
    await showRun(page, logged.base, run!.captureId);
    assert.equal(await page.getAttribute('#check-log', 'data-state'), 'fail');
    assert.equal(await page.getAttribute('#check-log li.fail', 'data-step'), 'log-witnesses');
    assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass', 'the receipt itself is fine');
    assert.deepEqual(problems, []);
    await close();
  } finally {
    await logged.stop();
    await witness.stop();
  }
});

test('with --no-capture the runs page says there is no run store, and the log page still works', { timeout: 60_000 }, async () => {
  const bare = await startServe({ data: tempDir(), args: ['--no-capture'] });
  try {
    assert.equal((await fetch(`${bare.base}/v1/receipt-key`)).status, 404, 'no capture, no receipt key');
    const { page, problems, close } = await open(bare.base);
    await show(page, `${bare.base}/explorer/#/runs`);
    assert.match((await page.textContent('#no-capture')) ?? '', /does not capture runs/);
    assert.ok(problems.length === 1 && /status of 404/.test(problems[0]!), problems.join('\n'));
    await show(page, `${bare.base}/explorer/#/log`);
    assert.equal(await page.getAttribute('#checkpoint-check', 'data-state'), 'pass');
    assert.equal(problems.length, 1);
    await close();
  } finally {
    await bare.stop();
  }
});

test('with --capture-log the log check does not use this server\'s log key: skipped until the capture log\'s key is pinned, then it passes', { timeout: 120_000 }, async () => {
  const remote = await startServe({ data: tempDir(), token: 'explorer-remote-log', args: ['--no-capture'] });
  const capturing = await startServe({ data: tempDir(), args: [...args(), '--capture-log', `${remote.base}/`, '--capture-log-token', 'explorer-remote-log', '--capture-log-key', remote.key] });
  try {
    await call(capturing.base, 'gpt-4o', 'Be brief.', 'Which log holds this?');
    await receipted(capturing.base);
    const run = (await runs(capturing.base))[0]!;
    const { page, problems, close } = await open(capturing.base);
    await showRun(page, capturing.base, run.captureId);
    assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
    assert.equal(await page.getAttribute('#check-log', 'data-state'), 'skip');
    assert.match((await page.textContent('#check-log')) ?? '', /the receipt is in the log this server sends receipts to \(http:\/\/127\.0\.0\.1:[0-9]+\/\), not in its own: pin that log's key \(Keys\) to check it here/);
    await show(page, `${capturing.base}/explorer/#/keys`);
    await page.fill('textarea[name="log"]', remote.key);
    await page.click('form button[type="submit"]');
    await page.waitForSelector('text=Saved in this browser.');
    await showRun(page, capturing.base, run.captureId);
    assert.equal(await page.getAttribute('#check-log', 'data-state'), 'pass', (await page.textContent('#check-log')) ?? '');
    assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
    assert.deepEqual(problems, []);
    await close();
  } finally {
    await capturing.stop();
    await remote.stop();
  }
});

test('runs tampered with in runs.sqlite fail in the browser, naming the check: changed content fails the identity, a changed receipt its signature and log inclusion', { timeout: 180_000 }, async () => {
  const all = await runs(serve.base);
  const [contentRun, receiptRun, goodRun] = [all.find((run) => run.seq === 2)!, all.find((run) => run.seq === 3)!, all.find((run) => run.seq === 4)!];
  const data = /data directory (\S+)\)/.exec(serve.stderr())![1]!;
  assert.equal(await serve.stop(), 0);
  const db = new DatabaseSync(join(data, 'runs.sqlite'));
  try {
    const input = contentRun.identity!.components['input']!.elements![0]!.sha256;
    const stored = db.prepare('SELECT bytes FROM content WHERE digest = ?').get(input) as { bytes: Uint8Array };
    const text = new TextDecoder().decode(stored.bytes);
    assert.match(text, /Question 1\?/);
    assert.equal(db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(new TextEncoder().encode(text.replace('Question 1?', 'Question 1!')), input).changes, 1);
    const { receipt } = db.prepare('SELECT receipt FROM runs WHERE capture_id = ?').get(receiptRun.captureId) as { receipt: string };
    const envelope = JSON.parse(receipt) as { signatures: { sig: string }[] };
    const sig = envelope.signatures[0]!.sig;
    const changed = receipt.replace(sig, `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
    assert.notEqual(changed, receipt);
    assert.equal(db.prepare('UPDATE runs SET receipt = ? WHERE capture_id = ?').run(changed, receiptRun.captureId).changes, 1);
  } finally {
    db.close();
  }
  serve = await startServe({ data, args: args() });
  const { page, problems, close } = await open(serve.base);

  await showRun(page, serve.base, contentRun.captureId);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'fail');
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'fail');
  assert.match((await page.textContent('#check-identity')) ?? '', /content does not match its digest: input\[0\]/);
  assert.deepEqual(await page.$$eval('[data-mismatch]', (marks) => marks.map((mark) => (mark as HTMLElement).dataset['mismatch'])), ['input[0]'], 'the changed element is marked where it is shown');
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'fail');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'composition', 'the receipt fails where the identity is recomputed from the changed content');
  assert.equal(await page.getAttribute('#check-log', 'data-state'), 'pass', 'the receipt itself is untouched');
  assert.match((await page.textContent('#verification .summary')) ?? '', /^Failed: Run identity recomputed from the stored content; Receipt signed by the service/);
  await page.screenshot({ path: join(SHOTS, 'run-tampered-content-desktop.png'), fullPage: true });

  await showRun(page, serve.base, receiptRun.captureId);
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'pass', 'the content is untouched');
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'fail');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'signature');
  assert.match((await page.textContent('#check-receipt')) ?? '', /signature failed/);
  assert.equal(await page.getAttribute('#check-log', 'data-state'), 'fail');
  assert.equal(await page.getAttribute('#check-log li.fail', 'data-step'), 'log-inclusion', 'the log holds the receipt as it was signed');
  await page.locator('#verification').screenshot({ path: join(SHOTS, 'run-tampered-receipt-panel.png') });
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `run-tampered-receipt-${name}.png`), fullPage: true });
  }

  await showRun(page, serve.base, goodRun.captureId);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass', 'a run nobody touched still passes');
  assert.deepEqual(problems, []);
  await close();
});
