/** docs/SPEC.md section 12: the implementation against every vector in testdata/output/. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RunprintError } from '../src/errors.ts';
import { runOutputFrom, type RequestFormat } from '../src/providers/index.ts';

interface Vector {
  desc: string;
  spec: string;
  format: RequestFormat | null;
  bodyText: string;
  wantOutput?: unknown;
  wantDigest?: { sha256: string } | null;
  wantRawDigest?: { sha256: string };
  wantFinishReason?: string | null;
  wantServed?: unknown;
  wantUsage?: unknown;
  wantErr?: string;
}

const folder = new URL('../testdata/output/', import.meta.url);
const files = readdirSync(folder).filter((name) => name.endsWith('.json')).sort();

it('testdata/output holds at least 25 vectors', () => {
  const count = files.reduce((sum, name) => sum + JSON.parse(readFileSync(new URL(name, folder), 'utf8')).vectors.length, 0);
  assert.ok(count >= 25, `only ${count} vectors`);
});

for (const name of files) {
  const content = JSON.parse(readFileSync(new URL(name, folder), 'utf8')) as { desc: string; vectors: Vector[] };
  describe(`testdata/output/${name}`, () => {
    for (const vector of content.vectors) {
      it(vector.desc, () => {
        const body = new TextEncoder().encode(vector.bodyText);
        const format = vector.format ?? undefined;
        if (vector.wantErr !== undefined) {
          assert.throws(() => runOutputFrom(body, format), (error: unknown) => {
            assert.ok(error instanceof RunprintError);
            assert.equal(error.code, vector.wantErr);
            return true;
          });
          return;
        }
        const result = runOutputFrom(body, format);
        assert.deepEqual(JSON.parse(JSON.stringify(result.output)), vector.wantOutput);
        assert.deepEqual(result.digest, vector.wantDigest);
        assert.deepEqual(result.rawDigest, vector.wantRawDigest);
        assert.equal(result.finishReason, vector.wantFinishReason);
        if (vector.wantServed !== undefined) assert.deepEqual(JSON.parse(JSON.stringify(result.served)), vector.wantServed);
        if (vector.wantUsage !== undefined) assert.deepEqual(JSON.parse(JSON.stringify(result.usage)), vector.wantUsage);
      });
    }
  });
}
