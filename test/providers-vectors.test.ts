/** docs/SPEC.md section 4: the implementation against every vector in testdata/providers/. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProviderError } from '../src/errors.ts';
import type { Composition } from '../src/identity/composition.ts';
import { parseComposition } from '../src/identity/composition.ts';
import type { JsonValue } from '../src/jcs/json-value.ts';
import {
  compositionFromRequest,
  detectFormat,
  requestFromComposition,
  servedFromResponse,
  type RequestFormat,
} from '../src/providers/index.ts';

const folder = join(dirname(fileURLToPath(import.meta.url)), '..', 'testdata', 'providers');

interface Vector {
  desc: string;
  spec: string;
  format?: RequestFormat;
  request?: JsonValue;
  composition?: JsonValue;
  input?: JsonValue;
  response?: JsonValue;
  wantComposition?: JsonValue;
  wantRequest?: JsonValue;
  wantFormat?: string;
  wantServed?: JsonValue;
  wantErr?: string;
  wantPath?: string;
}

function expectError(run: () => unknown, vector: Vector): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ProviderError, 'a ProviderError');
    assert.equal(error.code, vector.wantErr);
    if (vector.wantPath !== undefined) assert.equal(error.path, vector.wantPath);
    return true;
  });
}

function check(vector: Vector): void {
  if (vector.request !== undefined) {
    const format = vector.format as RequestFormat;
    if (vector.wantErr !== undefined) return expectError(() => compositionFromRequest(format, vector.request as JsonValue), vector);
    const composition = compositionFromRequest(format, vector.request);
    assert.deepEqual(composition, vector.wantComposition);
    parseComposition(composition as unknown as JsonValue);
    // Every accepted request comes back unchanged from its expected composition.
    assert.deepEqual(requestFromComposition(vector.wantComposition as unknown as Composition), vector.request);
    return;
  }
  if (vector.composition !== undefined) {
    const composition = parseComposition(vector.composition);
    if (vector.wantErr !== undefined) return expectError(() => requestFromComposition(composition), vector);
    assert.deepEqual(requestFromComposition(composition), vector.wantRequest);
    return;
  }
  if (vector.input !== undefined) {
    if (vector.wantErr !== undefined) return expectError(() => detectFormat(vector.input as JsonValue), vector);
    assert.equal(detectFormat(vector.input), vector.wantFormat);
    return;
  }
  if (vector.response !== undefined) {
    const format = vector.format as RequestFormat;
    if (vector.wantErr !== undefined) return expectError(() => servedFromResponse(format, vector.response as JsonValue), vector);
    assert.deepEqual(servedFromResponse(format, vector.response), vector.wantServed);
    return;
  }
  assert.fail(`vector "${vector.desc}" has no input member`);
}

const names = (await readdir(folder)).filter((name) => name.endsWith('.json')).sort();

describe('testdata/providers vectors', () => {
  it('has at least 45 vectors, each with desc and a section 4 citation', async () => {
    let count = 0;
    for (const name of names) {
      const content = JSON.parse(await readFile(join(folder, name), 'utf8')) as { vectors: Vector[]; spec: string };
      assert.match(content.spec, /^4\.[1-6]$/);
      for (const vector of content.vectors) {
        assert.equal(typeof vector.desc, 'string');
        assert.match(vector.spec, /^4\.[1-6]$/);
        count++;
      }
    }
    assert.ok(count >= 45, `${count} vectors`);
  });

  for (const name of names) {
    describe(name, async () => {
      const content = JSON.parse(await readFile(join(folder, name), 'utf8')) as { vectors: Vector[] };
      for (const vector of content.vectors) {
        it(vector.desc, () => check(vector));
      }
    });
  }
});
