/**
 * The explorer's run page shows a run's declared retrieval (record.retrieval, docs/CAPTURE.md
 * "Declared retrieval") and, once the receipt verified in the browser, whether its signed
 * runDetails.retrieval is the record's (docs/RECEIPTS.md 13.2, step 8.14): headless Chromium
 * against a real `runprint serve` whose proxy captured calls made with the openai client and a
 * `runprint-retrieval` header. A source is the caller's text and is shown as text; records changed
 * in runs.sqlite after signing (a declaration removed, one added) are told apart from the receipt.
 * Screenshots go to test-output/explorer/ (not committed).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { retrievalHeader, type RunRecord } from '../src/capture/index.ts';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';
import { CHROMIUM, drawn, launchChromium, openPage, VIEWPORTS } from './helpers/explorer-browser.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;
const KEY = 'sk-test-explorer-retrieval-0123456789';

const DOC_A = 'The Eiffel Tower is 330 metres tall and stands in Paris.';
const DOC_B = 'Lyon lies at the confluence of the Rhône and the Saône.';
/** A source that would run script if the page parsed it as HTML: it must be shown as the text it is. */
const HOSTILE = 'kb://towers/<img src=x onerror="window.__pwned=1">eiffel';
/** A source whose characters would reorder what is drawn ("moc.live"), and one far longer than a line. */
const BIDI = '\u202Eevil.com\u202C';
const LONG = `kb://${'x'.repeat(3000)}`;

interface RunView {
  seq: number;
  captureId: string;
  record: RunRecord;
}

let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;
let browser: Browser;
const scratch: string[] = [];
const args = () => ['--upstream', `openai=${upstream.url}`];

async function runs(base: string): Promise<RunView[]> {
  const response = await fetch(`${base}/v1/runs?limit=1000`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { runs: RunView[] }).runs;
}

/** A chat completion through the proxy: DOC_B in the system prompt, DOC_A in the question; `documents` declared in runprint-retrieval. */
async function call(question: string, documents: { source: string; text: string }[] | null, fail = false): Promise<void> {
  upstream.enqueue(fail ? { kind: 'error', status: 500, message: 'scripted failure' } : { kind: 'text', text: `An answer to: ${question}` });
  const client = new OpenAI({ apiKey: KEY, baseURL: `${serve.base}/openai/v1`, maxRetries: 0 });
  const made = client.chat.completions.create(
    { model: 'gpt-4o', messages: [{ role: 'system', content: `Answer from the documents.\n${DOC_B}` }, { role: 'user', content: `Documents:\n${DOC_A}\n\nQuestion: ${question}` }] },
    documents === null ? {} : { headers: { 'runprint-retrieval': retrievalHeader(documents) } },
  );
  if (fail) await assert.rejects(made);
  else await made;
  await upstream.settled();
}

/** Waits until every run with a whole answer has its receipt and log proof. */
async function receipted(base: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const all = await runs(base);
    const proofs = await Promise.all(all.filter((run) => run.record.runId !== null && run.record.incomplete === null)
      .map(async (run) => (await fetch(`${base}/v1/runs/${run.captureId}/tlog-proof`)).status));
    if (all.length > 0 && proofs.every((status) => status === 200)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail('every run gets a receipt and a log proof');
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  upstream = await startFakeUpstream();
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-retrieval-'));
  scratch.push(data);
  serve = await startServe({ data, args: args() });
  await call('How tall is the tower?', [{ source: HOSTILE, text: DOC_A }, { source: 'kb://cities/lyon', text: DOC_B }]);
  await call('Where is Lyon?', null);
  await call('And in feet?', [{ source: 'kb://towers/eiffel-again', text: DOC_A }]);
  await call('Will this fail?', [{ source: 'kb://cities/lyon', text: DOC_B }], true);
  await call('Which way does this read?', [{ source: BIDI, text: DOC_B }, { source: LONG, text: DOC_B }]);
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


/** Opens a run page and waits for its verification panel. */
async function showRun(page: Page, base: string, id: string): Promise<void> {
  await page.goto(`${base}/explorer/#/run/${id}`);
  await drawn(page);
  await page.waitForSelector('#verification[data-done]', { timeout: 60_000 });
}

const bySeq = (all: RunView[], seq: number) => all.find((run) => run.seq === seq)!;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const signedState = (page: Page) => page.getAttribute('#retrieval-signed', 'data-signed');

test('a run page lists the declared documents (source as text, where found, digest and the runs with it) and says the verified receipt signs them', { timeout: 120_000 }, async () => {
  const all = await runs(serve.base);
  const declared = bySeq(all, 1);
  assert.deepEqual(declared.record.retrieval.map((document) => [document.source, document.component, document.element]), [[HOSTILE, 'input', 0], ['kb://cities/lyon', 'system', 0]]);
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const { page, problems, close } = await open(serve.base, viewport);
    await showRun(page, serve.base, declared.captureId);
    assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
    assert.equal(await page.textContent('#retrieval'), 'Declared retrieval');
    const items = await page.$$eval('#retrieval-list li', (lis) => lis.map((li) => ({
      source: li.querySelector('.source')!.textContent, where: li.querySelector('code')!.textContent, digest: li.querySelector('.digest')!.textContent, href: li.querySelector('a')!.getAttribute('href'),
    })));
    assert.deepEqual(items, [
      { source: HOSTILE, where: 'input[0]', digest: sha256(DOC_A), href: `#/runs?component=retrieval%3D${sha256(DOC_A)}` },
      { source: 'kb://cities/lyon', where: 'system[0]', digest: sha256(DOC_B), href: `#/runs?component=retrieval%3D${sha256(DOC_B)}` },
    ]);
    assert.equal(await page.$$eval('main img', (images) => images.length), 0, 'the source is text, never HTML');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await signedState(page), 'signed');
    assert.match((await page.textContent('#retrieval-signed')) ?? '', /^signed The receipt, verified in this browser, signs exactly these documents\.$/);
    assert.equal(await page.getAttribute('#check-receipt [data-step="retrieval"]', 'class'), 'pass', 'the receipt check has the step, passing');
    await page.screenshot({ path: join(SHOTS, `run-retrieval-${name}.png`), fullPage: true });
    const top = await page.$eval('#retrieval', (heading) => heading.getBoundingClientRect().top + window.scrollY);
    await page.screenshot({ path: join(SHOTS, `run-retrieval-close-${name}.png`), fullPage: true, clip: { x: 0, y: top - 8, width: viewport.width, height: name === 'phone' ? 420 : 260 } });
    if (name === 'desktop') {
      // "runs with this" is the runs list filtered by the document's digest: both runs that declared it.
      await page.click(`#retrieval-list a[href="#/runs?component=retrieval%3D${sha256(DOC_A)}"]`);
      await drawn(page);
      assert.deepEqual(await page.$$eval('table.runs tbody tr', (rows) => rows.map((row) => Number((row as HTMLElement).dataset['seq']))), [3, 1]);
    }
    assert.deepEqual(problems, []);
    await close();
  }
});

test('a run without declarations says "None declared", and that its verified receipt declares none either; a run without a receipt says nothing signs its declarations', { timeout: 120_000 }, async () => {
  const all = await runs(serve.base);
  const { page, problems, close } = await open(serve.base);
  const plain = bySeq(all, 2);
  assert.deepEqual(plain.record.retrieval, []);
  await showRun(page, serve.base, plain.captureId);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
  assert.equal(await page.textContent('#retrieval-none'), 'None declared: the caller named no document this run rests on.');
  assert.equal(await page.$$eval('#retrieval-list', (lists) => lists.length), 0);
  assert.equal(await signedState(page), 'none');
  assert.equal(await page.textContent('#retrieval-signed'), 'The receipt, verified in this browser, declares none either.');
  assert.equal(await page.$$eval('#check-receipt [data-step="retrieval"]', (steps) => steps.length), 0, 'no retrieval step where neither declares any');
  await page.screenshot({ path: join(SHOTS, 'run-retrieval-none-desktop.png'), fullPage: true });

  const failed = bySeq(all, 4);
  assert.equal(failed.record.incomplete?.reason, 'http-status');
  assert.equal(failed.record.retrieval.length, 1);
  await showRun(page, serve.base, failed.captureId);
  assert.equal(await page.$$eval('#retrieval-list li', (lis) => lis.length), 1);
  assert.equal(await signedState(page), 'unchecked');
  assert.match((await page.textContent('#retrieval-signed')) ?? '', /^not checked This run has no receipt, so nothing signs its declared retrieval\.$/);
  assert.deepEqual(problems, []);
  await close();
});

test('the verify page shows the declared retrieval a pasted receipt signs, once it verifies; none for a receipt that declares none', { timeout: 120_000 }, async () => {
  const all = await runs(serve.base);
  const { publicKey } = (await (await fetch(`${serve.base}/v1/receipt-key`)).json()) as { publicKey: string };
  const receiptOf = async (run: RunView) => (await fetch(`${serve.base}/v1/runs/${run.captureId}/receipt`)).text();
  const { page, problems, close } = await open(serve.base);
  await page.goto(`${serve.base}/explorer/#/verify`);
  await drawn(page);
  const verify = async (receipt: string) => {
    await page.evaluate(() => document.querySelector('#verification')?.removeAttribute('data-done'));
    await page.fill('textarea[name="receipt"]', receipt);
    await page.fill('textarea[name="key"]', publicKey);
    await page.click('form.verify-form button[type="submit"]');
    await page.waitForSelector('#verification[data-done]');
    return page.getAttribute('#verification', 'data-done');
  };
  assert.equal(await verify(await receiptOf(bySeq(all, 1))), 'pass');
  assert.equal(await page.textContent('#receipt-retrieval h3'), 'Declared retrieval the receipt signs');
  const items = await page.$$eval('#receipt-retrieval-list li', (lis) => lis.map((li) => [li.querySelector('.source')!.textContent, li.querySelector('code')!.textContent, li.querySelector('.digest')!.textContent]));
  assert.deepEqual(items, [[HOSTILE, 'input[0]', sha256(DOC_A)], ['kb://cities/lyon', 'system[0]', sha256(DOC_B)]]);
  assert.equal(await page.$$eval('main img', (images) => images.length), 0, 'the source is text, never HTML');
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  const top = await page.$eval('#verification', (panel) => panel.getBoundingClientRect().top + window.scrollY);
  await page.screenshot({ path: join(SHOTS, 'verify-retrieval-desktop.png'), fullPage: true, clip: { x: 0, y: top - 8, width: VIEWPORTS.desktop.width, height: 720 } });

  assert.equal(await verify(await receiptOf(bySeq(all, 2))), 'pass');
  assert.match((await page.textContent('#receipt-retrieval-none')) ?? '', /^None: the receipt declares no document the run rests on/);
  assert.equal(await page.$$eval('#receipt-retrieval-list', (lists) => lists.length), 0);

  // A receipt that does not verify (a changed signature) says nothing of what it signs.
  const tampered = JSON.parse(await receiptOf(bySeq(all, 1))) as { signatures: Array<{ sig: string }> };
  tampered.signatures[0]!.sig = `${tampered.signatures[0]!.sig.startsWith('A') ? 'B' : 'A'}${tampered.signatures[0]!.sig.slice(1)}`;
  assert.equal(await verify(JSON.stringify(tampered)), 'fail');
  assert.equal(await page.$$eval('#receipt-retrieval', (sections) => sections.length), 0);
  assert.deepEqual(problems, []);
  await close();
});

test('a source with characters that reorder text is shown with them escaped, and a long one cut, on the run page and the Verify page', { timeout: 120_000 }, async () => {
  const all = await runs(serve.base);
  const run = bySeq(all, 5);
  assert.deepEqual(run.record.retrieval.map((document) => document.source), [BIDI, LONG]);
  const { page, problems, close } = await open(serve.base);
  await showRun(page, serve.base, run.captureId);
  const expected = ['\\u202eevil.com\\u202c', `kb://${'x'.repeat(195)}…`];
  assert.deepEqual(await page.$$eval('#retrieval-list .source', (sources) => sources.map((source) => source.textContent)), expected);
  const { publicKey } = (await (await fetch(`${serve.base}/v1/receipt-key`)).json()) as { publicKey: string };
  await page.goto(`${serve.base}/explorer/#/verify`);
  await drawn(page);
  await page.fill('textarea[name="receipt"]', await (await fetch(`${serve.base}/v1/runs/${run.captureId}/receipt`)).text());
  await page.fill('textarea[name="key"]', publicKey);
  await page.click('form.verify-form button[type="submit"]');
  await page.waitForSelector('#verification[data-done="pass"]');
  assert.deepEqual(await page.$$eval('#receipt-retrieval-list .source', (sources) => sources.map((source) => source.textContent)), expected);
  assert.deepEqual(problems, []);
  await close();
});

test('a record changed in runs.sqlite after signing: a declaration removed differs from the receipt, one added to a run that declared none meets a receipt without a retrieval member (not checked); only the first fails the receipt check', { timeout: 120_000 }, async () => {
  const all = await runs(serve.base);
  const [removed, added] = [bySeq(all, 1), bySeq(all, 2)];
  assert.equal(await serve.stop(), 0);
  const db = new DatabaseSync(join(data, 'runs.sqlite'));
  try {
    const change = (run: RunView, edit: (record: RunRecord) => void) => {
      const record = structuredClone(run.record);
      edit(record);
      // The record's own digest made to match, as whoever holds the store can: only the signed receipt tells.
      const text = canonicalize(record);
      assert.equal(db.prepare('UPDATE runs SET record = ?, record_digest = ? WHERE capture_id = ?').run(text, createHash('sha256').update(text).digest('hex'), run.captureId).changes, 1);
    };
    change(removed, (record) => void record.retrieval.pop());
    change(added, (record) => void record.retrieval.push({ source: 'kb://added/later', digest: { sha256: sha256(DOC_A) }, component: 'input', element: 0 }));
  } finally {
    db.close();
  }
  serve = await startServe({ data, args: args() });
  const { page, problems, close } = await open(serve.base);

  await showRun(page, serve.base, removed.captureId);
  assert.equal(await page.$$eval('#retrieval-list li', (lis) => lis.length), 1, 'the record now declares one document');
  assert.equal(await signedState(page), 'differs');
  assert.match((await page.textContent('#retrieval-signed')) ?? '', /^differs from the record The receipt, verified in this browser, signs other documents:$/);
  assert.deepEqual(await page.$$eval('#retrieval-receipt .source', (sources) => sources.map((source) => source.textContent)), [HOSTILE, 'kb://cities/lyon'], 'what the receipt signs is listed');
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'fail');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'retrieval');
  assert.match((await page.textContent('#check-receipt')) ?? '', /the receipt declares other documents than the record/);
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'pass', 'the content is untouched');
  await page.screenshot({ path: join(SHOTS, 'run-retrieval-differs-desktop.png'), fullPage: true });
  const top = await page.$eval('#retrieval', (heading) => heading.getBoundingClientRect().top + window.scrollY);
  await page.screenshot({ path: join(SHOTS, 'run-retrieval-differs-close-desktop.png'), fullPage: true, clip: { x: 0, y: top - 8, width: VIEWPORTS.desktop.width, height: 280 } });

  await showRun(page, serve.base, added.captureId);
  // A receipt without a retrieval member says nothing of declarations (signed before receipts
  // carried them, or with none then): not checked, not failed, as runs verify says.
  assert.equal(await signedState(page), 'receipt-none');
  assert.match((await page.textContent('#retrieval-signed')) ?? '', /^not checked The receipt, verified in this browser, states no declared retrieval /);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
  assert.equal(await page.$('#check-receipt li[data-step="retrieval"]'), null, 'no retrieval step');
  assert.deepEqual(problems, []);
  await close();
});

test('documents in a salted component, which receipts leave out by design, are said to be left out for that reason, not as an old receipt', { timeout: 120_000 }, async () => {
  const salted = await startServe({ data: mkdtempSync(join(tmpdir(), 'runprint-explorer-retrieval-salted-')), args: [...args(), '--capture-salt', 'input'] });
  const before = serve;
  serve = salted;
  try {
    // DOC_A is in the (salted) input only; DOC_B in the system prompt, which is not salted.
    await call('How tall is the tower?', [{ source: 'kb://towers/eiffel', text: DOC_A }]);
    await call('And Lyon?', [{ source: 'kb://towers/eiffel', text: DOC_A }, { source: 'kb://cities/lyon', text: DOC_B }]);
    await receipted(salted.base);
    const [mixed, withheld] = await runs(salted.base);
    const { page, problems, close } = await open(salted.base);
    await showRun(page, salted.base, withheld!.captureId);
    assert.equal(await signedState(page), 'withheld');
    const line = (await page.textContent('#retrieval-signed')) ?? '';
    assert.match(line, /^not in the receipt The receipt, verified in this browser, leaves this document out by design: it is in a salted component \(input\[0\]\), and a receipt never states a document of a salted component/);
    assert.ok(!/signed before receipts carried declarations/.test(line), line);
    assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
    await page.screenshot({ path: join(SHOTS, 'run-retrieval-salted-desktop.png'), fullPage: true });
    await showRun(page, salted.base, mixed!.captureId);
    assert.equal(await signedState(page), 'signed');
    assert.match((await page.textContent('#retrieval-signed')) ?? '', /^signed The receipt, verified in this browser, signs the documents of components that are not salted; the others are left out by design: it is in a salted component \(input\[0\]\)/);
    assert.deepEqual(problems, []);
    await close();
  } finally {
    serve = before;
    await salted.stop();
  }
});
