/**
 * The receipt key the explorer checks receipts with, when serve changes it (restarted with another
 * --capture-key on the same data and port): the browser does not keep the old key (GET
 * /v1/receipt-key and /v1/log/key are no-cache, and the page asks for them so), so receipts of the
 * new key pass at once; a receipt of the old key is NOT CHECKED, naming the key it says signed it
 * and the key this server gives (a warning, not a pass nor a fail); under a pinned key, a receipt
 * of another key still fails. Driven in headless Chromium; screenshots go to
 * test-output/explorer/receipt-key-*.png (not committed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { generateKeyFiles, parsePublicKey, type KeyFiles } from '../src/keys/keys.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { CHROMIUM, drawn, endExplorerTest, launchChromium, openPage } from './helpers/explorer-browser.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;

interface RunView { seq: number; captureId: string; receipt: { logIndex: number | null } | null }

let upstream: FakeUpstream;
let browser: Browser;
let data: string;
const keys: KeyFiles[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-key-'));
  upstream = await startFakeUpstream();
  for (const name of ['old', 'new']) {
    const files = await generateKeyFiles('runprint');
    writeFileSync(join(data, `${name}.pem`), files.privateKeyPem, { mode: 0o600 });
    keys.push(files);
  }
  browser = await launchChromium();
});

after(() => endExplorerTest(browser, upstream, data));

/** serve on the data directory with the key `name`, on `port` (0: any), and one captured run, signed and logged. */
async function serveWith(name: string, port: number): Promise<{ serve: ServeProcess; run: RunView }> {
  const serve = await startServe({ data: join(data, 'store'), args: ['--upstream', `openai=${upstream.url}`, '--capture-key', join(data, `${name}.pem`), '--port', String(port)] });
  upstream.enqueue({ kind: 'text', text: `Signed with the ${name} key.` });
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-key-0123456789' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `A run signed with the ${name} key.` }] }),
  });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  for (let i = 0; i < 200; i++) {
    const [run] = ((await (await fetch(`${serve.base}/v1/runs?limit=1`)).json()) as { runs: RunView[] }).runs;
    if (run?.receipt?.logIndex != null && (await fetch(`${serve.base}/v1/runs/${run.captureId}/tlog-proof`)).status === 200) return { serve, run };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the run is signed and logged');
}

async function showRun(page: Page, base: string, run: RunView): Promise<void> {
  await page.goto(`${base}/explorer/#/run/${run.captureId}`);
  await drawn(page);
  await page.waitForSelector('#verification[data-done]');
}

test('after serve changes its receipt key, the page checks with the new key at once, and a receipt of the old key is not checked, naming both keys', { timeout: 120_000 }, async () => {
  const first = await serveWith('old', 0);
  // The keys are this server's answer now, not one a browser keeps.
  for (const path of ['/v1/receipt-key', '/v1/log/key']) assert.equal((await fetch(`${first.serve.base}${path}`)).headers.get('cache-control'), 'no-cache', path);
  const { page, problems, close } = await openPage(browser, first.serve.base);
  await showRun(page, first.serve.base, first.run);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
  assert.equal(await first.serve.stop(), 0);

  // The same origin, the same browser: serve restarted with another key.
  const second = await serveWith('new', first.serve.port);
  assert.equal(second.serve.base, first.serve.base);
  const [oldId, newId] = await Promise.all(keys.map(async (files) => (await parsePublicKey(files.publicKeyPem)).keyId));
  await showRun(page, second.serve.base, second.run);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass', (await page.textContent('#check-receipt')) ?? '');
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass');

  await showRun(page, second.serve.base, first.run);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'skip', (await page.textContent('#check-receipt')) ?? '');
  assert.equal(await page.textContent('#check-receipt .detail'), `not checked: signed by key ${oldId!.slice(0, 16)}…, not the key this server gives (${newId!.slice(0, 16)}…); pin the key that signed it under Keys, obtained another way, to check it here`);
  assert.equal(await page.textContent('#check-receipt .state'), 'NOT CHECKED');
  assert.equal(await page.getAttribute('#verification', 'data-done'), 'pass', 'the other checks pass; the receipt is neither passed nor failed');
  assert.equal(await page.textContent('#verification .summary'), '2 of 3 checks passed (the others could not run)');
  await page.locator('#verification').screenshot({ path: join(SHOTS, 'receipt-key-old-key.png') });

  // A key the reader pinned is the one: the old receipt passes under it, the new one fails.
  await page.goto(`${second.serve.base}/explorer/#/keys`);
  await drawn(page);
  await page.fill('textarea[name="receipt"]', keys[0]!.publicKeyPem);
  await page.click('form button[type="submit"]');
  await page.waitForSelector('text=Saved in this browser.');
  await showRun(page, second.serve.base, first.run);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'pass');
  await showRun(page, second.serve.base, second.run);
  assert.equal(await page.getAttribute('#check-receipt', 'data-state'), 'fail');
  assert.equal(await page.getAttribute('#check-receipt li.fail', 'data-step'), 'signature');
  assert.match((await page.textContent('#check-receipt li.fail')) ?? '', /ERR_SIGNATURE_UNKNOWN_KEY/);
  assert.deepEqual(problems, []);
  await close();
});
