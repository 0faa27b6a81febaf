/** OMS v1.0 model digest (SPEC section 9) recomputed independently: a naive reference and sha256sum. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { computeModelDigest, DEFAULT_IGNORE_PATHS, DEFAULT_SHARD_SIZE } from '../src/model-digest/index.ts';
import type { ModelDigest } from '../src/model-digest/index.ts';

const root = mkdtempSync(join(tmpdir(), 'runprint-oms-'));
after(() => rmSync(root, { recursive: true, force: true }));

function writeModel(name: string, files: Record<string, Uint8Array | string>, directories: string[] = []): string {
  const model = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(model, path)), { recursive: true });
    writeFileSync(join(model, path), content);
  }
  for (const path of directories) mkdirSync(join(model, path), { recursive: true });
  return model;
}

// Nested folders, several files, an empty file, unicode names whose order differs between code
// points and UTF-16 (U+E000 vs U+1F600), `a/b` vs `a-b` (component order vs string order), a
// file bigger than the shard size and than one 16 MiB read, git metadata, an empty directory.
const big = randomBytes(40 * 1024 * 1024 + 12345);
const MODEL = writeModel(
  'model',
  {
    'config.json': '{"hidden_size": 8}\n',
    'tokenizer/vocab.txt': 'a\nb\nc\n',
    'weights/model-00001-of-00002.bin': big,
    'weights/model-00002-of-00002.bin': randomBytes(3 * 1024 * 1024 + 1),
    'weights/empty.bin': '',
    'a/b.bin': 'component order puts me first',
    'a-b.bin': 'string order would put me first',
    'données/modèle.bin': 'é is two UTF-8 bytes, never normalized',
    '日本/重み.bin': 'CJK names',
    '\u{e000}.bin': 'U+E000',
    '\u{1f600}.bin': 'U+1F600',
    '.gitattributes': '*.bin filter=lfs diff=lfs merge=lfs -text\n',
    '.git/HEAD': 'ref: refs/heads/main\n',
  },
  ['empty/dir'],
);
const SHARD = 7_000_003; // prime, so shards cross 16 MiB read boundaries at odd offsets

// ---- (a) a naive reference: whole files in memory, written from section 9, not from src/ ----

function naiveFiles(model: string): Array<{ name: string; bytes: Buffer }> {
  const out: Array<{ name: string; bytes: Buffer }> = [];
  const visit = (folder: string, prefix: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const name = prefix + entry.name;
      if (DEFAULT_IGNORE_PATHS.some((p) => name === p || name.startsWith(`${p}/`))) continue;
      if (entry.isDirectory()) visit(join(folder, entry.name), `${name}/`);
      else out.push({ name, bytes: readFileSync(join(folder, entry.name)) });
    }
  };
  visit(model, '');
  return out;
}

function byComponentsThenStart(a: { name: string; start: number }, b: { name: string; start: number }): number {
  const x = a.name.split('/');
  const y = b.name.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = [...x[i]!].map((c) => c.codePointAt(0)!);
    const q = [...y[i]!].map((c) => c.codePointAt(0)!);
    for (let j = 0; j < Math.min(p.length, q.length); j++) if (p[j] !== q[j]) return p[j]! - q[j]!;
    if (p.length !== q.length) return p.length - q.length;
  }
  return x.length - y.length || a.start - b.start;
}

function naiveDigest(model: string, shardSize?: number): { resources: Array<[string, string]>; digest: string } {
  const pieces: Array<{ name: string; start: number; label: string; bytes: Buffer }> = [];
  for (const file of naiveFiles(model)) {
    if (shardSize === undefined) pieces.push({ name: file.name, start: 0, label: file.name, bytes: file.bytes });
    else {
      for (let start = 0; start < file.bytes.length; start += shardSize) {
        const end = Math.min(file.bytes.length, start + shardSize);
        pieces.push({ name: file.name, start, label: `${file.name}:${start}:${end}`, bytes: file.bytes.subarray(start, end) });
      }
    }
  }
  pieces.sort(byComponentsThenStart);
  const digests = pieces.map((piece) => createHash('sha256').update(piece.bytes).digest());
  return {
    resources: pieces.map((piece, i) => [piece.label, digests[i]!.toString('hex')]),
    digest: createHash('sha256').update(Buffer.concat(digests)).digest('hex'),
  };
}

// ---- (b) coreutils: sha256sum per resource, xxd -r -p to raw bytes, sha256sum over them ----

// Component order = byte order once "/" becomes \x01, a byte below every other in a file name.
const SHELL = String.raw`
set -euo pipefail
cd "$1"; shard="$2"
find . -type f -printf '%P\n' | grep -Ev '^(\.git|\.gitattributes|\.github|\.gitignore)(/|$)' \
  | sed 's|/|\x01|g' | LC_ALL=C sort | sed 's|\x01|/|g' > "$3/names"
while IFS= read -r name; do
  if [ "$shard" = files ]; then
    printf '%s %s\n' "$name" "$(sha256sum < "$name" | cut -c1-64)"
  else
    size=$(stat -c %s -- "$name"); start=0
    while [ "$start" -lt "$size" ]; do
      end=$(( start + shard < size ? start + shard : size ))
      printf '%s:%s:%s %s\n' "$name" "$start" "$end" \
        "$(tail -c +$(( start + 1 )) -- "$name" | head -c $(( end - start )) | sha256sum | cut -c1-64)"
      start=$end
    done
  fi
done < "$3/names" > "$3/resources"
cat "$3/resources"
printf 'model %s\n' "$(cut -d' ' -f2 "$3/resources" | xxd -r -p | sha256sum | cut -c1-64)"
`;

function coreutilsDigest(model: string, shardSize?: number): { resources: Array<[string, string]>; digest: string } {
  const scratch = mkdtempSync(join(root, 'shell-'));
  const output = execFileSync('bash', ['-c', SHELL, 'oms', model, String(shardSize ?? 'files'), scratch], {
    encoding: 'utf8',
  });
  const lines = output.trimEnd().split('\n').map((line) => {
    const at = line.lastIndexOf(' ');
    return [line.slice(0, at), line.slice(at + 1)] as [string, string];
  });
  const last = lines.pop()!;
  assert.equal(last[0], 'model');
  return { resources: lines, digest: last[1] };
}

const pairs = (result: ModelDigest): Array<[string, string]> =>
  result.resources.map((resource) => [resource.name, resource.digest.sha256]);

for (const shardSize of [undefined, SHARD]) {
  const label = shardSize === undefined ? 'files' : `shards of ${shardSize} bytes`;

  test(`${label}: equals a naive single-threaded reference`, async () => {
    const result = await computeModelDigest(MODEL, shardSize === undefined ? { method: 'files' } : { shardSize });
    const want = naiveDigest(MODEL, shardSize);
    assert.deepEqual(pairs(result), want.resources);
    assert.equal(result.digest.sha256, want.digest);
  });

  test(`${label}: equals sha256sum per resource combined with xxd and sha256sum`, async () => {
    const result = await computeModelDigest(MODEL, shardSize === undefined ? { method: 'files' } : { shardSize });
    const want = coreutilsDigest(MODEL, shardSize);
    assert.deepEqual(pairs(result), want.resources);
    assert.equal(result.digest.sha256, want.digest);
  });
}

test('resources are in OMS order: path components by code point, then shard start as an integer', async () => {
  const names = (await computeModelDigest(MODEL, { method: 'files' })).resources.map((r) => r.name);
  assert.ok(names.indexOf('a/b.bin') < names.indexOf('a-b.bin'));
  assert.ok(names.indexOf('\u{e000}.bin') < names.indexOf('\u{1f600}.bin'));
  assert.ok(!names.includes('.gitattributes') && !names.some((n) => n.startsWith('.git/')));
  const shards = (await computeModelDigest(MODEL, { shardSize: SHARD })).resources.map((r) => r.name);
  const first = shards.filter((n) => n.startsWith('weights/model-00001-of-00002.bin:'));
  assert.deepEqual(first.slice(0, 3), [
    'weights/model-00001-of-00002.bin:0:7000003',
    'weights/model-00001-of-00002.bin:7000003:14000006',
    'weights/model-00001-of-00002.bin:14000006:21000009',
  ]);
  assert.ok(!shards.some((n) => n.startsWith('weights/empty.bin')), 'an empty file has no shard');
  assert.ok(names.includes('weights/empty.bin'), 'an empty file is a resource of the files method');
});

test('defaults: shards of 2^28 bytes, sha256, no symlinks, git paths ignored; bytes counts every file', async () => {
  const result = await computeModelDigest(MODEL);
  assert.deepEqual(result.serialization, {
    method: 'shards',
    hash_type: 'sha256',
    shard_size: 268_435_456,
    allow_symlinks: false,
    ignore_paths: ['.git', '.gitattributes', '.github', '.gitignore'],
  });
  const total = naiveFiles(MODEL).reduce((sum, file) => sum + file.bytes.length, 0);
  assert.equal(result.bytes, total);
  assert.equal(DEFAULT_SHARD_SIZE, 2 ** 28);
  assert.equal(result.digest.sha256, naiveDigest(MODEL, DEFAULT_SHARD_SIZE).digest);
  assert.deepEqual(JSON.parse(JSON.stringify(result)), result, 'the result is plain JSON');
});

test('the digest does not depend on the number of workers', async () => {
  const digests = new Set<string>();
  for (const concurrency of [1, 2, 3, 8]) {
    digests.add((await computeModelDigest(MODEL, { shardSize: SHARD, concurrency })).digest.sha256);
  }
  assert.equal(digests.size, 1);
});

test('a single file is one resource named "." (files) or shards named ".:start:end"', async () => {
  const file = join(MODEL, 'weights', 'model-00002-of-00002.bin');
  const bytes = readFileSync(file);
  const whole = createHash('sha256').update(bytes).digest();
  const result = await computeModelDigest(file, { method: 'files' });
  assert.deepEqual(pairs(result), [['.', whole.toString('hex')]]);
  assert.equal(result.digest.sha256, createHash('sha256').update(whole).digest('hex'));
  const sharded = await computeModelDigest(file, { shardSize: 2 * 1024 * 1024 });
  assert.deepEqual(sharded.resources.map((r) => r.name), ['.:0:2097152', `.:2097152:${bytes.length}`]);
});

test('ignore paths: an explicit list replaces the defaults and hides whole directories', async () => {
  const all = await computeModelDigest(MODEL, { method: 'files', ignorePaths: [] });
  assert.ok(all.resources.some((r) => r.name === '.git/HEAD'));
  const some = await computeModelDigest(MODEL, { method: 'files', ignorePaths: ['./weights/', 'a'] });
  assert.deepEqual(some.serialization.ignore_paths, ['a', 'weights']);
  assert.ok(!some.resources.some((r) => r.name.startsWith('weights/') || r.name.startsWith('a/')));
  assert.ok(some.resources.some((r) => r.name === 'a-b.bin'), '"a" does not hide "a-b.bin"');
});

test('progress runs from 0 to the total, never backwards', async () => {
  const seen: Array<[number, number]> = [];
  const result = await computeModelDigest(MODEL, { shardSize: SHARD, onProgress: (done, total) => seen.push([done, total]) });
  assert.deepEqual(seen[0], [0, result.bytes]);
  assert.deepEqual(seen.at(-1), [result.bytes, result.bytes]);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![0] >= seen[i - 1]![0]);
  assert.ok(seen.some(([done]) => done > 0 && done < result.bytes), 'progress is reported while reading');
  assert.equal(statSync(join(MODEL, 'weights', 'model-00001-of-00002.bin')).size, big.length);
});
