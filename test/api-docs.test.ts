/**
 * docs/API.md runs: every ```js block is written to its own .mjs file in a fresh folder, its
 * `runprint/...` imports pointed at the compiled files of this checkout (dist/, as package.json
 * `exports` maps them; `npm test` builds it first), and run with this node. A block asserts its
 * own results with node:assert, so a wrong example fails here, not in a reader's hands.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, { default: string }>;
};
const doc = readFileSync(join(root, 'docs/API.md'), 'utf8');

/** The files the guide says its folder holds: an OpenAI Chat request, its JSON response and the same answer streamed. */
const REQUEST = `${JSON.stringify(
  {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'Answer in German, in one sentence.' },
      { role: 'user', content: 'What is the weather in Zurich tomorrow?' },
    ],
    temperature: 0,
  },
  null,
  2,
)}\n`;
const GIVEN_FILES: ReadonlyArray<[name: string, source: string]> = [
  ['response.json', 'test/fixtures/output/openai-chat/text.json'],
  ['response.sse', 'test/fixtures/output/openai-chat/text.sse'],
];

interface Example {
  heading: string;
  line: number;
  code: string;
}

/** Every ```js block, with the nearest heading above it and its line in the document. */
function examples(): Example[] {
  const found: Example[] = [];
  const lines = doc.split('\n');
  let heading = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    if (line.trim() !== '```js') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    assert.ok(end < lines.length, `docs/API.md line ${i + 1}: a js block is never closed`);
    found.push({ heading, line: i + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return found;
}

/** A `runprint/...` specifier in a static or dynamic import. */
const IMPORT = /(\bfrom\s*|\bimport\s*\(\s*)(['"])runprint(\/[^'"]*)\2/g;

/** The block with every `runprint/...` specifier replaced by the file URL of its compiled module. */
function pointAtDist(code: string): string {
  return code.replace(IMPORT, (_whole, before: string, quote: string, subpath: string) => {
    const entry = manifest.exports[`.${subpath}`];
    assert.ok(entry !== undefined, `docs/API.md imports runprint${subpath}, which package.json does not export`);
    return `${before}${quote}${pathToFileURL(join(root, entry.default)).href}${quote}`;
  });
}

function run(file: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

const blocks = examples();

test('docs/API.md has examples for every subpath export, and the compiled package exists', () => {
  for (const [, entry] of Object.entries(manifest.exports)) {
    assert.ok(existsSync(join(root, entry.default)), `${entry.default} is missing: run npm run build`);
  }
  assert.ok(blocks.length >= 12, `only ${blocks.length} js blocks`);
  const imported = new Set(blocks.flatMap((block) => [...block.code.matchAll(IMPORT)].map((match) => `.${match[3]}`)));
  for (const subpath of Object.keys(manifest.exports)) {
    assert.ok(imported.has(subpath), `no example imports runprint${subpath.slice(1)}`);
  }
});

for (const [number, block] of blocks.entries()) {
  test(`docs/API.md line ${block.line} (${block.heading}) runs and its assertions hold`, async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runprint-api-docs-'));
    try {
      writeFileSync(join(folder, 'request.json'), REQUEST);
      for (const [name, source] of GIVEN_FILES) copyFileSync(join(root, source), join(folder, name));
      const file = join(folder, `example-${number + 1}.mjs`);
      writeFileSync(file, pointAtDist(block.code));
      const result = await run(file, folder);
      assert.equal(result.code, 0, `example at docs/API.md line ${block.line} failed:\n${result.stderr}${result.stdout}`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
}
