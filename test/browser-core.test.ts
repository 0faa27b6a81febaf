/**
 * The pure core runs in a browser: dist/ (as `npm run build` compiles it) is loaded as plain ES
 * modules by Debian's Chromium, driven by playwright-core, and checks testdata/ vectors there
 * (canonical JSON, identity, Merkle proofs, signed notes and tlog-proofs, receipts with the
 * browser's WebCrypto Ed25519). The page may load only from this test's loopback server.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

const root = new URL('..', import.meta.url).pathname;
const CHROMIUM = process.env['RUNPRINT_CHROMIUM'] ?? '/usr/bin/chromium';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.json': 'application/json', '.html': 'text/html', '.map': 'application/json' };

const PAGE = `<!doctype html><meta charset="utf-8"><title>runprint core</title><link rel="icon" href="data:,">
<script type="importmap">{"imports": {"@noble/hashes/": "/node_modules/@noble/hashes/"}}</script>
<script type="module" src="/test/browser/core-vectors.js"></script>`;

test('the pure core, compiled, checks the vectors in headless Chromium', { timeout: 180_000 }, async (t) => {
  assert.ok(existsSync(join(root, 'dist', 'jcs', 'index.js')), 'dist/ is built (npm test runs npm run build first)');
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  const served: string[] = [];
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    served.push(path);
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    const allowed = ['/dist/', '/testdata/', '/test/browser/', '/node_modules/@noble/hashes/'].some((prefix) => path.startsWith(prefix));
    const file = join(root, path);
    if (!allowed || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(`http://127.0.0.1:${port}/`)) problems.push(`outside request: ${request.url()}`);
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (globalThis as { runprintResults?: unknown }).runprintResults !== undefined, undefined, { timeout: 120_000 });
    const results = (await page.evaluate(() => (globalThis as { runprintResults?: unknown }).runprintResults)) as {
      checked: Record<string, number>;
      failures: string[];
      hashFallback: boolean;
    };
    t.diagnostic(`vectors checked in the browser: ${JSON.stringify(results.checked)}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(results.failures, []);
    assert.equal(results.hashFallback, true, 'no Node process object: SHA-256 comes from @noble/hashes');
    for (const area of ['jcs', 'identity', 'merkle', 'log', 'receipt']) {
      assert.ok((results.checked[area] ?? 0) >= 10, `${area}: ${results.checked[area] ?? 0} vectors checked`);
    }
    assert.ok(!served.some((path) => path.startsWith('/node_modules/') && !path.startsWith('/node_modules/@noble/hashes/')));
    assert.ok(!served.some((path) => /^\/dist\/(store|server|cli|model-digest)\//.test(path)), 'only the pure core is loaded');
  } finally {
    await browser.close();
    server.close();
  }
});
