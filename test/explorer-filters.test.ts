/**
 * The runs list's filter fields in headless Chromium against a real `runprint serve`: at 1400 px
 * (a laptop's browser window), the desktop and the phone widths, every field shows its whole
 * placeholder (a reviewer saw "e.g. 2026-12-05T00:00:(" in Since at 1400 px). The placeholder's
 * width is measured with the field's own font and compared with the field's content box.
 * Screenshots go to test-output/explorer/filters-WIDTH.png (not committed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { CHROMIUM, drawn, launchChromium, openPage, VIEWPORTS } from './helpers/explorer-browser.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;
let browser: Browser;
let serve: ServeProcess;
let data: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-filters-'));
  serve = await startServe({ data });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await killServeProcesses();
  rmSync(data, { recursive: true, force: true });
});

test('every filter field shows its whole placeholder at 1400 px, desktop and phone widths', async () => {
  const widths = { laptop: { width: 1400, height: 900 }, ...VIEWPORTS };
  for (const [name, viewport] of Object.entries(widths)) {
    const { page, problems, close } = await openPage(browser, serve.base, viewport);
    await page.goto(`${serve.base}/explorer/#/runs`);
    await drawn(page);
    const fields = await page.$$eval('form.filters input[placeholder]', (inputs) =>
      inputs.map((input) => {
        const style = getComputedStyle(input);
        const context = document.createElement('canvas').getContext('2d')!;
        context.font = style.font;
        const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return { name: (input as HTMLInputElement).name, placeholder: (input as HTMLInputElement).placeholder, text: context.measureText((input as HTMLInputElement).placeholder).width, room };
      }),
    );
    assert.ok(fields.some((field) => field.name === 'since') && fields.some((field) => field.name === 'until'), 'the time fields are there');
    for (const field of fields) assert.ok(field.text <= field.room, `${field.name} shows "${field.placeholder}" whole at ${viewport.width} px: ${field.text.toFixed(1)} px of text in ${field.room.toFixed(1)} px`);
    await page.screenshot({ path: join(SHOTS, `filters-${viewport.width}.png`), clip: { x: 0, y: 0, width: viewport.width, height: Math.min(viewport.height, 700) } });
    assert.deepEqual(problems, [], `${name}: no console error, no request outside the server`);
    await close();
  }
});
