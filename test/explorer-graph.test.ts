/**
 * The explorer's agent graph in headless Chromium against a real `runprint serve`: an edge that
 * spans generations (a run whose parents are its grandparent and its parent) and the edges into a
 * generation that wraps onto several rows at phone width are routed around the nodes in between:
 * no edge's drawn path passes through a node box it does not connect (drawn straight, the edge
 * A>D passed through B and C and read as B>D). Screenshots go to test-output/explorer/graph-*.png
 * (not committed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { CHROMIUM, drawn, endExplorerTest, launchChromium, openPage, VIEWPORTS } from './helpers/explorer-browser.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { startServe, type ServeProcess } from './helpers/serve-process.ts';

const SHOTS = new URL('../test-output/explorer/', import.meta.url).pathname;
let browser: Browser;
let upstream: FakeUpstream;
let serve: ServeProcess;
let data: string;

interface RunView { captureId: string; record: { runId: string } }

/** A proxied chat call with these parents; the run it made. */
async function step(question: string, parents: RunView[]): Promise<RunView> {
  upstream.enqueue({ kind: 'text', text: `Done: ${question}` });
  const response = await fetch(`${serve.base}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-graph-0123456789', ...(parents.length === 0 ? {} : { 'runprint-parent': parents.map((run) => run.record.runId).join(',') }) },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: question }] }),
  });
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  const { runs } = (await (await fetch(`${serve.base}/v1/runs?limit=1`)).json()) as { runs: RunView[] };
  assert.ok(runs[0]!.record.runId !== null);
  return runs[0]!;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  data = mkdtempSync(join(tmpdir(), 'runprint-explorer-graph-'));
  upstream = await startFakeUpstream();
  serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  browser = await launchChromium();
});
after(() => endExplorerTest(browser, upstream, data));

test('no edge of the agent graph passes through a node box it does not connect: a long edge goes around the generations between, at desktop and phone widths', { timeout: 180_000 }, async () => {
  // A fans out to B and E1..E4; B > C; D has parents A and C: the edge A>D spans B's and C's generations.
  const a = await step('Plan.', []);
  const b = await step('Research.', [a]);
  for (const name of ['E1', 'E2', 'E3', 'E4']) await step(`Side task ${name}.`, [a]);
  const c = await step('Draft.', [b]);
  const d = await step('Review the plan and the draft.', [a, c]);
  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    const { page, problems, close } = await openPage(browser, serve.base, viewport);
    await page.goto(`${serve.base}/explorer/#/run/${c.captureId}`);
    await drawn(page);
    await page.waitForSelector('#agent-graph[data-ready] svg');
    const found = await page.evaluate(() => {
      const boxes = [...document.querySelectorAll('#agent-graph [data-run]')].map((node) => ({ key: node.getAttribute('data-run')!, box: node.querySelector('rect')!.getBoundingClientRect().toJSON() as DOMRect }));
      const crossings: string[] = [];
      const edges: string[] = [];
      for (const path of document.querySelectorAll<SVGPathElement>('#agent-graph path.edge')) {
        const parent = path.getAttribute('data-parent')!;
        const child = path.getAttribute('data-child')!;
        edges.push(`${parent}>${child}`);
        const matrix = path.getScreenCTM()!;
        const length = path.getTotalLength();
        for (let at = 0; at <= length; at += 1) {
          const point = new DOMPoint(path.getPointAtLength(at).x, path.getPointAtLength(at).y).matrixTransform(matrix);
          for (const { key, box } of boxes) {
            if (key === parent || key === child) continue;
            if (point.x > box.x + 0.5 && point.x < box.x + box.width - 0.5 && point.y > box.y + 0.5 && point.y < box.y + box.height - 0.5) {
              crossings.push(`${parent}>${child} at (${point.x.toFixed(1)}, ${point.y.toFixed(1)}) inside ${key}`);
              break;
            }
          }
        }
      }
      return { crossings: [...new Set(crossings.map((line) => line.replace(/ at \(.*\) /, ' ')))], edges, keys: boxes.map((node) => node.key) };
    });
    const names = new Map([[a, 'A'], [b, 'B'], [c, 'C'], [d, 'D']].map(([run, name]) => [(run as RunView).record.runId, name as string]));
    const named = (text: string) => text.replace(/rp-run-v1-sha256-[0-9a-f]{64}/g, (id) => names.get(id) ?? 'E');
    assert.equal(found.keys.length, 8, 'A, B, C, D and E1..E4 are drawn');
    assert.ok(found.edges.map(named).includes('A>D'), 'the long edge A>D is drawn');
    assert.deepEqual(found.crossings.map(named), [], `${width}: no edge crosses a node it does not connect`);
    assert.equal(await page.$eval('#agent-graph', (figure) => figure.scrollWidth <= figure.clientWidth), true, `${width}: no sideways scrolling`);
    await page.locator('#agent-graph').screenshot({ path: join(SHOTS, `graph-long-edge-${width}.png`) });
    assert.deepEqual(problems, [], width);
    await close();
  }
});
