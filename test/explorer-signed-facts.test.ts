/**
 * The run page shows a run's facts from the run store; the receipt, verified in the browser, signs
 * most of them (docs/RECEIPTS.md 13.2). A run store changed after signing, its record digest made
 * to match, must not pass: each fact the page shows that the receipt does not sign as shown (the
 * parents, the start time, the finish reason and usage, the model and capture columns) fails the
 * receipt check, naming the fact, and is marked where it is shown with what the receipt signs.
 * A receipt that does not verify (or none) names no signer from the store's capture column, and
 * the model, capture point and times are marked not checked: the run store's word alone.
 * Driven in headless Chromium against real `runprint serve` processes; screenshots go to
 * test-output/explorer/signed-facts-*.png (not committed).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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

interface RunView { seq: number; captureId: string; model: string | null; capture: string; record: { runId: string | null; parents: string[] }; receipt: { logIndex: number | null } | null }

let upstream: FakeUpstream;
let serve: ServeProcess;
let browser: Browser;
let data: string;
/**
 * The runs by what is changed in their store rows: parents and start, output facts, model column,
 * capture column, nothing; the receipt's signature with the model and capture columns (forged); and
 * a failed call, which has no receipt.
 */
let byCase: Record<'parents' | 'output' | 'model' | 'capture' | 'untouched' | 'forged' | 'failed', RunView>;

async function runs(): Promise<RunView[]> {
  return ((await (await fetch(`${serve.base}/v1/runs?limit=100`)).json()) as { runs: RunView[] }).runs;
}

async function post(content: string, headers: Record<string, string> = {}): Promise<void> {
  upstream.enqueue({ kind: 'text', text: `About ${content}.` });
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-facts-0123456789', ...headers },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
  });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-facts-'));
  upstream = await startFakeUpstream();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  await post('the first step');
  const first = (await runs())[0]!;
  await post('a second step', { 'runprint-parent': first.record.runId! });
  for (const step of ['a third step', 'a fourth step', 'a fifth step', 'a sixth step', 'a seventh step']) await post(step);
  for (let i = 0; i < 200 && !(await runs()).every((run) => run.receipt?.logIndex != null); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok((await runs()).every((run) => run.receipt?.logIndex != null), 'every run is signed and logged');
  // A call the upstream fails: no run identity, so no receipt is made for it.
  upstream.enqueue({ kind: 'error', status: 500 });
  const failing = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-facts-0123456789' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a failed step' }] }),
  });
  assert.equal(failing.status, 500);
  await failing.arrayBuffer();
  const all = (await runs()).sort((a, b) => a.seq - b.seq);
  byCase = { parents: all[1]!, output: all[2]!, model: all[3]!, capture: all[4]!, untouched: all[0]!, forged: all[5]!, failed: all[7]! };
  assert.equal(byCase.failed.receipt, null);
  assert.equal(await serve.stop(), 0);
  // The changes an owner of the run store can make: the record (its digest made to match) and the columns.
  const db = new DatabaseSync(join(data, 'runs.sqlite'));
  try {
    const edit = (run: RunView, change: (record: Record<string, any>) => void) => {
      const { record } = db.prepare('SELECT record FROM runs WHERE capture_id = ?').get(run.captureId) as { record: string };
      const changed = JSON.parse(record) as Record<string, any>;
      change(changed);
      const text = JSON.stringify(changed);
      assert.equal(db.prepare('UPDATE runs SET record = ?, record_digest = ? WHERE capture_id = ?').run(text, createHash('sha256').update(text).digest('hex'), run.captureId).changes, 1);
    };
    edit(byCase.parents, (record) => {
      record['parents'] = [byCase.model.record.runId];
      record['times'].started = '2020-01-01T00:00:00.000Z';
    });
    edit(byCase.output, (record) => {
      record['output'].finishReason = 'length';
      record['output'].usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
    });
    assert.equal(db.prepare('UPDATE runs SET model = ? WHERE capture_id = ?').run('gpt-5-FAKE', byCase.model.captureId).changes, 1);
    assert.equal(db.prepare('UPDATE runs SET capture = ? WHERE capture_id = ?').run('sdk', byCase.capture.captureId).changes, 1);
    // Forged (not the last logged run, which serve checks against its log when it starts): the columns changed and the receipt's signature with them (one of its characters), so it no longer verifies.
    const { receipt } = db.prepare('SELECT receipt FROM runs WHERE capture_id = ?').get(byCase.forged.captureId) as { receipt: string };
    const sig = (JSON.parse(receipt) as { signatures: Array<{ sig: string }> }).signatures[0]!.sig;
    const forged = receipt.replace(sig, `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
    assert.notEqual(forged, receipt);
    assert.equal(db.prepare('UPDATE runs SET receipt = ?, model = ?, capture = ? WHERE capture_id = ?').run(forged, 'gpt-5-FAKE', 'sdk', byCase.forged.captureId).changes, 1);
  } finally {
    db.close();
  }
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  browser = await launchChromium();
});

after(() => endExplorerTest(browser, upstream, data));

async function showRun(page: Page, run: RunView): Promise<void> {
  await page.goto(`${serve.base}/explorer/#/run/${run.captureId}`);
  await drawn(page);
  await page.waitForSelector('#verification[data-done]');
}

/** The marks next to the facts the receipt does not sign as shown: [fact, text]. */
const marks = (page: Page) => page.$$eval('[data-unsigned]', (found) => found.map((mark) => [(mark as HTMLElement).dataset['unsigned'], mark.textContent]));
/** The marks of the facts no receipt verified here signs: [fact, text]. */
const unchecked = (page: Page) => page.$$eval('[data-unchecked]', (found) => found.map((mark) => [(mark as HTMLElement).dataset['unchecked'], mark.textContent]));

test('a changed parent and start time fail the receipt check, naming them, and are marked where shown with what the receipt signs', { timeout: 60_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  await showRun(page, byCase.parents);
  // What the store now says is on the page, as before: the page does not hide it.
  assert.match((await page.textContent('[data-fact="times"]')) ?? '', /started 2020-01-01T00:00:00\.000Z/);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'fail');
  assert.equal(await page.getAttribute('#check-identity', 'data-state'), 'pass', 'parents and times are no part of the identity');
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'fail');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'signed-facts');
  assert.equal(await page.textContent('#check-receipt .detail'), 'signed-facts failed: what the run store says of the parents and started is not what the receipt signs');
  const step = (await page.textContent('#check-receipt li.fail')) ?? '';
  assert.ok(step.includes(`parents: the run store says ["${byCase.model.record.runId}"], the receipt signs ["${byCase.untouched.record.runId}"]`), step);
  assert.match(step, /started: the run store says 2020-01-01T00:00:00\.000Z, the receipt signs 20[0-9]{2}-/);
  assert.deepEqual((await marks(page)).map(([fact]) => fact), ['started', 'parents']);
  assert.ok((await marks(page))[1]![1]!.includes(`parents: the receipt signs ["${byCase.untouched.record.runId}"]`));
  assert.doesNotMatch((await page.textContent('#verification .summary')) ?? '', /checks passed/);
  await page.screenshot({ path: join(SHOTS, 'signed-facts-parents.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await close();
});

test('a changed finish reason and usage, model column or capture column fail the receipt check, naming each', { timeout: 60_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  await showRun(page, byCase.output);
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'signed-facts');
  assert.equal(await page.textContent('#check-receipt .detail'), 'signed-facts failed: what the run store says of the finish reason and usage is not what the receipt signs');
  assert.deepEqual((await marks(page)).map(([fact, text]) => [fact, text!.split(':')[0]]), [['finish reason', 'finish reason'], ['usage', 'usage']]);
  assert.match((await marks(page))[0]![1]!, /^finish reason: the receipt signs stop$/);

  await showRun(page, byCase.model);
  assert.equal(await page.textContent('[data-fact="model"] td'), 'gpt-5-FAKE model: the receipt signs gpt-4o');
  assert.equal(await page.textContent('#check-receipt .detail'), 'signed-facts failed: what the run store says of the model is not what the receipt signs');
  assert.match((await page.textContent('#check-receipt li.fail')) ?? '', /model: the run store says gpt-5-FAKE, the receipt signs gpt-4o$/);

  await showRun(page, byCase.capture);
  // Who signed is what the receipt says: the service, whatever the capture column claims.
  assert.equal(await page.textContent('#check-receipt strong'), 'Receipt signed by the service, about this run');
  assert.match((await page.textContent('#check-receipt li.fail')) ?? '', /capture: the run store says sdk, the receipt signs proxy$/);
  assert.deepEqual((await marks(page)).map(([fact]) => fact), ['capture']);
  await page.locator('#verification').screenshot({ path: join(SHOTS, 'signed-facts-capture-panel.png') });
  assert.deepEqual(problems, []);
  await close();
});

test('a run nobody changed passes, saying the facts shown are the ones the receipt signs and which are the store\'s word alone', { timeout: 60_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  await showRun(page, byCase.untouched);
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');
  assert.equal(await page.textContent('#verification .summary'), '3 of 3 checks passed');
  assert.equal(await page.getAttribute('#check-receipt li[data-step="signed-facts"]', 'class'), 'pass');
  assert.equal(await page.textContent('#check-receipt .detail'), 'signature and statement verified; the model, capture point, parents, times and output facts shown are the ones it signs; the HTTP status, method, path and response size are the run store\'s word (no receipt states them)');
  assert.deepEqual(await marks(page), []);
  // Compared with the verified receipt: none is marked as the store's word alone.
  assert.deepEqual(await unchecked(page), []);
  assert.equal(await page.$('#facts-unchecked'), null);
  assert.deepEqual(problems, []);
  await close();
});

test('a receipt that does not verify says nothing of who signed it: its title and the model, capture point and times are the run store\'s word, marked not checked', { timeout: 60_000 }, async () => {
  const { page, problems, close } = await openPage(browser, serve.base);
  await showRun(page, byCase.forged);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'fail');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'signature');
  // The capture column says sdk: the title does not present that as who signed.
  const title = 'Receipt about this run, not verified: the run store says it is signed by the application\'s runprint (in-process capture)';
  assert.equal(await page.textContent('#check-receipt .head strong'), title);
  // The log holds the receipt as it was signed: the changed one is not included either.
  assert.equal(await page.textContent('#verification .summary'), `Failed: ${title}; Receipt included in the transparency log`);
  // What the store says is shown, each fact a receipt would sign marked where it is shown, and said once.
  assert.equal(await page.textContent('[data-fact="model"] td'), 'gpt-5-FAKE not checked');
  assert.match((await page.textContent('[data-fact="call"] td')) ?? '', /· sdk not checked$/);
  assert.deepEqual((await unchecked(page)).map(([fact, text]) => `${fact} ${text}`), ['model not checked', 'call not checked', 'times not checked']);
  assert.equal(await page.textContent('#facts-unchecked'), 'not checked The receipt was not verified in this browser (see the verification panel), so the model, capture point, parents, times and output facts shown are not compared with what it signs: they are the run store\'s word alone.');
  assert.deepEqual(await marks(page), [], 'nothing is compared with a receipt that did not verify');
  await page.screenshot({ path: join(SHOTS, 'signed-facts-forged.png') });

  await showRun(page, byCase.failed);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'skip');
  assert.equal(await page.textContent('#check-receipt .head strong'), 'Receipt about this run', 'no receipt: no signer is named');
  assert.deepEqual((await unchecked(page)).map(([fact]) => fact), ['model', 'call', 'times']);
  assert.equal(await page.textContent('#facts-unchecked'), 'not checked This run has no receipt, so nothing signs the model, capture point, parents, times and output facts shown: they are the run store\'s word alone.');
  await page.screenshot({ path: join(SHOTS, 'signed-facts-no-receipt.png') });

  // A receipt that verifies but whose facts differ: each is compared, none is "not checked".
  await showRun(page, byCase.capture);
  assert.deepEqual(await unchecked(page), []);
  assert.equal(await page.$('#facts-unchecked'), null);
  assert.deepEqual(problems, []);
  await close();
});
