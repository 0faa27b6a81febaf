/** docs/SPEC.md section 4: the implementation against every vector in testdata/providers/. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareRequest } from '../src/capture/capture-run.ts';
import { ProviderError } from '../src/errors.ts';
import type { Composition } from '../src/identity/composition.ts';
import { parseComposition } from '../src/identity/composition.ts';
import type { JsonObject, JsonValue } from '../src/jcs/json-value.ts';
import { headerMembersOut, memberHeadersOf } from '../src/providers/header-members.ts';
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
  headers?: Array<[string, string]>;
  composition?: JsonValue;
  input?: JsonValue;
  response?: JsonValue;
  wantComposition?: JsonValue;
  wantRequestId?: string;
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

/**
 * SPEC 4.8: a captured call as the proxy and runprintFetch read it: its header lines appended in
 * order to a Fetch Headers (get joins the lines of one header with ", "), the member headers taken
 * from it, and the body's bytes prepared with them.
 */
function prepared(format: RequestFormat, lines: Array<[string, string]>, body: JsonValue): ReturnType<typeof prepareRequest> {
  const headers = new Headers();
  for (const [name, value] of lines) headers.append(name, value);
  return prepareRequest(format, new TextEncoder().encode(JSON.stringify(body)), undefined, memberHeadersOf(format, (name) => headers.get(name)));
}

function checkCaptured(vector: Vector & { headers: Array<[string, string]> }): void {
  const format = vector.format as RequestFormat;
  const result = prepared(format, vector.headers, vector.request as JsonValue);
  if (vector.wantErr !== undefined) {
    assert.ok(result.error instanceof ProviderError, 'a ProviderError');
    assert.equal(result.error.code, vector.wantErr);
    assert.equal(result.error.path, vector.wantPath);
    return;
  }
  assert.equal(result.error, null);
  // The body is read as JSON text (its objects have no prototype): compare as JSON values.
  assert.deepEqual(JSON.parse(JSON.stringify(result.composition)), vector.wantComposition);
  assert.equal(result.identity!.requestId, vector.wantRequestId);
  // A replay sends the members as headers again (SPEC 4.8), and is identified as the call was.
  const replay = headerMembersOut(format, requestFromComposition(vector.wantComposition as unknown as Composition) as JsonObject);
  const again = prepared(format, Object.entries(replay.headers), replay.request);
  assert.equal(again.identity?.requestId, vector.wantRequestId);
}

function check(vector: Vector): void {
  if (vector.headers !== undefined) return checkCaptured(vector as Vector & { headers: Array<[string, string]> });
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
      assert.match(content.spec, /^4\.[1-8]$/);
      for (const vector of content.vectors) {
        assert.equal(typeof vector.desc, 'string');
        assert.match(vector.spec, /^4\.[1-8]$/);
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
