/** Generated vectors are regenerated in the test run and must equal the committed files. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

test('testdata/ matches what scripts/vectors/ generates (run `npm run vectors` after a deliberate change)', async () => {
  // The generators run as `npm run vectors` runs them, in their own process, with --check: they
  // write nothing and exit 1 naming every file that would change.
  const script = new URL('../scripts/generate-vectors.ts', import.meta.url).pathname;
  const result = await promisify(execFile)(process.execPath, [script, '--check'], { maxBuffer: 16 * 1024 * 1024 }).then(
    (ok) => ({ code: 0, ...ok }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  assert.equal(result.code, 0, `testdata/ drifted:\n${result.stdout}${result.stderr}`);
});

test('every vector has a description, a spec section, and an expected result or error', () => {
  let count = 0;
  for (const file of readdirRecursive(new URL('../testdata/', import.meta.url))) {
    const content = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(typeof content.desc, 'string', file.pathname);
    assert.ok(Array.isArray(content.vectors), file.pathname);
    for (const vector of content.vectors) {
      assert.equal(typeof vector.desc, 'string', `${file.pathname}: a vector without desc`);
      assert.ok(typeof (vector.spec ?? content.spec) === 'string', `${file.pathname}: ${vector.desc}: no spec section`);
      const keys = Object.keys(vector);
      assert.ok(keys.some((key) => key.startsWith('want')), `${file.pathname}: ${vector.desc}: nothing expected`);
      count++;
    }
  }
  assert.ok(count >= 150, `only ${count} vectors`);
});

function readdirRecursive(folder: URL): URL[] {
  const out: URL[] = [];
  for (const name of readdirSync(folder)) {
    const url = new URL(name, folder);
    if (statSync(url).isDirectory()) out.push(...readdirRecursive(new URL(`${name}/`, folder)));
    else if (name.endsWith('.json')) out.push(url);
  }
  return out;
}
