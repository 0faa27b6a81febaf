/** Debian's Chromium driven by playwright-core, as the explorer's tests use it. */
import { rmSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { killServeProcesses } from './serve-process.ts';

export const CHROMIUM = process.env['RUNPRINT_CHROMIUM'] ?? '/usr/bin/chromium';
export const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const;

/** Headless Chromium with no background connections (the machine's network is closed). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A fresh page that records console errors, page errors and any request outside `base`. */
export async function openPage(browser: Browser, base: string, viewport: { width: number; height: number } = VIEWPORTS.desktop): Promise<{ page: Page; problems: string[]; close(): Promise<void> }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  page.on('request', (request) => {
    if (!request.url().startsWith(`${base}/`)) problems.push(`outside request: ${request.url()}`);
  });
  return { page, problems, close: () => context.close() };
}

/**
 * Waits until the page has drawn the location it is at: main's data-ready names the hash it drew
 * (a hash change keeps the old page, ready, until its hashchange event draws the new one).
 */
export async function drawn(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('main')?.getAttribute('data-ready') === location.hash, undefined, { timeout: 60_000 });
}

/** The end of an explorer test file: its browser closed, its serves stopped, its upstream closed and its data folder removed. */
export async function endExplorerTest(browser: Browser | undefined, upstream: { close(): Promise<void> } | undefined, data: string): Promise<void> {
  await browser?.close();
  await killServeProcesses();
  await upstream?.close();
  rmSync(data, { recursive: true, force: true });
}
