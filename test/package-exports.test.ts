/** Every subpath export of package.json resolves, by the package's own name, to a module with exports. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  name: string;
  exports: Record<string, string>;
};

test('each subpath export loads and exports something', async () => {
  assert.ok(Object.keys(manifest.exports).length >= 9);
  for (const subpath of Object.keys(manifest.exports)) {
    const specifier = `${manifest.name}${subpath.slice(1)}`;
    const module = (await import(specifier)) as Record<string, unknown>;
    assert.ok(Object.keys(module).length > 0, `${specifier} exports nothing`);
  }
});
