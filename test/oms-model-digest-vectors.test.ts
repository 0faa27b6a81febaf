/** OMS v1.0 model digest vectors (SPEC section 9): each inline model built on disk and digested. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { computeModelDigest } from '../src/model-digest/index.ts';
import type { ModelDigestOptions, ModelSerialization } from '../src/model-digest/index.ts';

type Entry = { path: string; text?: string; hex?: string; kind?: 'directory' | 'symlink'; target?: string };
interface Vector {
  desc: string;
  spec: string;
  model: { type: 'file'; text: string } | { type: 'directory'; entries: Entry[] };
  serialization: ModelSerialization;
  wantResources?: Array<{ name: string; digest: { sha256: string } }>;
  wantDigest?: { sha256: string };
  wantBytes?: number;
  wantErr?: string;
}

const FILE = new URL('../testdata/model-digest/oms-model-digest.json', import.meta.url);
const committed = readFileSync(FILE, 'utf8');
const vectors = (JSON.parse(committed) as { vectors: Vector[] }).vectors;

const root = mkdtempSync(join(tmpdir(), 'runprint-oms-vectors-'));
after(() => rmSync(root, { recursive: true, force: true }));

function build(vector: Vector, index: number): string {
  const base = join(root, String(index));
  mkdirSync(base);
  if (vector.model.type === 'file') {
    writeFileSync(join(base, 'model.bin'), vector.model.text);
    return join(base, 'model.bin');
  }
  const model = join(base, 'model');
  mkdirSync(model);
  for (const entry of vector.model.entries) {
    const path = join(model, entry.path);
    if (entry.kind === 'directory') {
      mkdirSync(path, { recursive: true });
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    if (entry.kind === 'symlink') symlinkSync(entry.target!, path);
    else writeFileSync(path, entry.hex !== undefined ? Buffer.from(entry.hex, 'hex') : entry.text!);
  }
  return model;
}

function optionsOf(serialization: ModelSerialization): ModelDigestOptions {
  const options: ModelDigestOptions = {
    method: serialization.method,
    allowSymlinks: serialization.allow_symlinks,
    ignorePaths: serialization.ignore_paths,
  };
  if (serialization.method === 'shards') options.shardSize = serialization.shard_size;
  return options;
}

test('the vectors cover both methods, errors, and digests published by the OMS reference', () => {
  assert.ok(vectors.some((v) => v.serialization.method === 'files' && v.wantDigest));
  assert.ok(vectors.some((v) => v.serialization.method === 'shards' && v.wantDigest));
  assert.ok(vectors.filter((v) => v.wantErr).length >= 5);
  assert.ok(vectors.filter((v) => 'source' in v).length >= 6);
  for (const vector of vectors) assert.match(vector.spec, /^9(\.\d+)?$/, vector.desc);
});

vectors.forEach((vector, index) => {
  test(`vector: ${vector.desc}`, async () => {
    const path = build(vector, index);
    for (const concurrency of [1, 2]) {
      const run = computeModelDigest(path, { ...optionsOf(vector.serialization), concurrency });
      if (vector.wantErr !== undefined) {
        await assert.rejects(run, (error: Error & { code?: string }) => {
          assert.equal(error.code, vector.wantErr);
          assert.equal(error.name, 'ModelDigestError');
          return true;
        });
        continue;
      }
      const result = await run;
      assert.deepEqual(result.resources, vector.wantResources);
      assert.deepEqual(result.digest, vector.wantDigest);
      assert.equal(result.bytes, vector.wantBytes);
      assert.deepEqual(result.serialization, vector.serialization);
    }
  });
});
