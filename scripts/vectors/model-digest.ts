/** Generates testdata/model-digest/*.json: OpenSSF Model Signing v1.0 model digests (SPEC section 9). */
import { createHash } from 'node:crypto';
import type { VectorFile } from '../generate-vectors.ts';

// Expected values come from the naive in-memory reading of section 9 below, never from
// src/model-digest/: the test suite builds each model on disk and checks the real code against them.

/** One entry of a model directory; `text` is hashed as UTF-8, `hex` as the bytes it spells. */
type Entry =
  | { path: string; text: string }
  | { path: string; hex: string }
  | { path: string; kind: 'directory' }
  | { path: string; kind: 'symlink'; target: string };

type Model = { type: 'file'; text: string } | { type: 'directory'; entries: Entry[] };

type Serialization =
  | { method: 'files'; hash_type: 'sha256'; allow_symlinks: boolean; ignore_paths: string[] }
  | { method: 'shards'; hash_type: 'sha256'; shard_size: number; allow_symlinks: boolean; ignore_paths: string[] };

interface Case {
  desc: string;
  spec: string;
  model: Model;
  serialization: Serialization;
  /** For models taken from the OMS reference library's goldens: where, and the digest it gives. */
  source?: string;
  sourceDigest?: string;
}

const GIT = ['.git', '.gitattributes', '.github', '.gitignore'];
const files = (allow_symlinks = false, ignore_paths = GIT): Serialization => ({
  method: 'files', hash_type: 'sha256', allow_symlinks, ignore_paths,
});
const shards = (shard_size: number, allow_symlinks = false, ignore_paths = GIT): Serialization => ({
  method: 'shards', hash_type: 'sha256', shard_size, allow_symlinks, ignore_paths,
});
const dir = (...entries: Entry[]): Model => ({ type: 'directory', entries });
const text = (path: string, content: string): Entry => ({ path, text: content });

const SMALL = dir(
  text('config.json', '{"layers":2}\n'),
  text('weights/layer-1.bin', 'second layer weights, twenty-nine'),
  { path: 'weights/layer-0.bin', hex: '000102030405060708090a0b0c0d0e0f101112131415161718' },
  text('weights/.keep', ''),
  text('a-b.txt', 'sorts after a/ (component order)'),
  text('a/b.txt', 'sorts before a-b.txt'),
  text('données/modèle.txt', 'accents are hashed as written, never normalized'),
  text('\u{e000}.bin', 'U+E000 comes before U+1F600 in code point order'),
  text('\u{1f600}.bin', 'but after it in UTF-16 code unit order'),
  { path: 'empty/nested', kind: 'directory' },
);

const SAMPLE_FOLDER = dir(
  ...[0, 1].flatMap((i) => [0, 1, 2].map((j) => text(`d${i}/f${i}${j}`, `This is file f${i}${j} in d${i}.`))),
  ...[0, 1, 2, 3].map((i) => text(`f${i}`, `This is file f${i} in root.`)),
);
const DEEP_FOLDER = dir(...[0, 1, 2, 3].map((i) => text(`d0/d1/d2/d3/d4/f${i}`, `This is file f${i}.`)));
const SAMPLE_FILE: Model = { type: 'file', text: 'This is a simple model' };
const GOLDENS = 'sigstore/model-transparency tests/_signing/testdata/signing/TestPayload';

const CASES: Case[] = [
  { desc: 'one file, files method: the resource is named "."', spec: '9.3', model: SAMPLE_FILE, serialization: files() },
  { desc: 'one file, shards of 8 bytes: 22 bytes give .:0:8, .:8:16, .:16:22', spec: '9.3', model: SAMPLE_FILE, serialization: shards(8),
    source: `${GOLDENS}/sample_model_file_small_shards`, sourceDigest: '57d54248751a51781ac2bed647670df0c45d3926e337021585c34a82384b6573' },
  { desc: 'one file, the OMS reference default shard size 10^9: one shard', spec: '9.3', model: SAMPLE_FILE, serialization: shards(1_000_000_000),
    source: `${GOLDENS}/sample_model_file_shard`, sourceDigest: '002d162f867c5eee944e5080d25829b6625be0e3f081f6fbafc7dd655ca2e178' },
  { desc: 'OMS reference sample folder, files method', spec: '9.4', model: SAMPLE_FOLDER, serialization: files(),
    source: `${GOLDENS}/sample_model_folder`, sourceDigest: '143cc682e555951649f18e2761c3d526d2502996f5e32dc187ef7f8a614f8df7' },
  { desc: 'OMS reference sample folder, shards of 8 bytes: shards ordered by start as an integer', spec: '9.3', model: SAMPLE_FOLDER, serialization: shards(8),
    source: `${GOLDENS}/sample_model_folder_small_shards`, sourceDigest: '2139af57fd2a4f324ac7cd0fc04898cce73d0871b363c8eb3fc07ab7da4c8445' },
  { desc: 'OMS reference deep folder, files method', spec: '9.4', model: DEEP_FOLDER, serialization: files(),
    source: `${GOLDENS}/deep_model_folder`, sourceDigest: '18b5a45fe7983f7194e8ffd96c80f5f0ec53191bf4a32b6aff293f043e816d7a' },
  { desc: 'OMS reference deep folder, shards of 8 bytes', spec: '9.4', model: DEEP_FOLDER, serialization: shards(8),
    source: `${GOLDENS}/deep_model_folder_small_shards`, sourceDigest: 'fe81b684c60474cea9b27ba1de9993e54bb19806664613758aa4d335ee398497' },
  { desc: 'nested folders, an empty file, unicode names, files method; empty directories add nothing', spec: '9.3', model: SMALL, serialization: files() },
  { desc: 'the same model, shards of 16 bytes; the empty file has no shard', spec: '9.3', model: SMALL, serialization: shards(16) },
  { desc: 'one 100-byte file in shards of 8: 13 shards, 96:100 last, ordered as integers', spec: '9.3',
    model: dir(text('w.bin', 'x'.repeat(100))), serialization: shards(8) },
  { desc: 'a file exactly two shards long has no empty third shard', spec: '9.3', model: dir(text('w.bin', '0123456789abcdef')), serialization: shards(8) },
  { desc: 'one empty file, files method: its digest is SHA-256 of nothing', spec: '9.3', model: { type: 'file', text: '' }, serialization: files() },
  { desc: 'one empty file, shards method: no shard, so nothing to digest', spec: '9.2', model: { type: 'file', text: '' }, serialization: shards(8) },
  { desc: 'a directory holding only an empty file, shards method', spec: '9.2', model: dir(text('empty', '')), serialization: shards(8) },
  { desc: 'an empty directory, files method', spec: '9.2', model: dir({ path: 'sub', kind: 'directory' }), serialization: files() },
  { desc: 'git metadata is ignored by default, .gitmodules and .github-pages are not', spec: '9.2',
    model: dir(text('m.bin', 'model'), text('.git/HEAD', 'ref: refs/heads/main\n'), text('.gitattributes', '*.bin filter=lfs\n'),
      text('.github/workflows/ci.yml', 'on: push\n'), text('.gitignore', '*.tmp\n'), text('.gitmodules', ''), text('.github-pages', 'kept')),
    serialization: files() },
  { desc: 'with no ignore paths, git metadata is part of the model', spec: '9.2',
    model: dir(text('m.bin', 'model'), text('.git/HEAD', 'ref: refs/heads/main\n'), text('.gitattributes', '*.bin filter=lfs\n')),
    serialization: files(false, []) },
  { desc: 'an ignored directory hides everything below it, and nothing else', spec: '9.2',
    model: dir(text('m.bin', 'model'), text('docs/README.md', '# docs\n'), text('docs/img/a.png', 'png'), text('docs2/kept.txt', 'kept')),
    serialization: files(false, ['docs']) },
  { desc: 'a symbolic link is refused when links are not allowed', spec: '9.2',
    model: dir(text('real.bin', 'weights'), { path: 'link.bin', kind: 'symlink', target: 'real.bin' }), serialization: files() },
  { desc: 'an allowed link to a file is hashed as that file, under the link name', spec: '9.2',
    model: dir(text('real.bin', 'weights'), { path: 'sub/link.bin', kind: 'symlink', target: '../real.bin' }), serialization: files(true) },
  { desc: 'an allowed link to a directory is refused', spec: '9.2',
    model: dir(text('d/real.bin', 'weights'), { path: 'link', kind: 'symlink', target: 'd' }), serialization: shards(8, true) },
  { desc: 'an allowed link that points to nothing', spec: '9.2',
    model: dir(text('real.bin', 'weights'), { path: 'dangling.bin', kind: 'symlink', target: 'missing.bin' }), serialization: files(true) },
  { desc: 'a file name with a colon cannot be named as a shard', spec: '9.3', model: dir(text('a:b.bin', 'weights')), serialization: shards(8) },
  { desc: 'a file name with a colon is fine with the files method', spec: '9.3', model: dir(text('a:b.bin', 'weights')), serialization: files() },
];

// ---- section 9, read naively: in memory, no file system ----

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();
const bytesOf = (entry: { text: string } | { hex: string }): Buffer =>
  'text' in entry ? Buffer.from(entry.text, 'utf8') : Buffer.from(entry.hex, 'hex');

type Outcome = { resources: Array<{ name: string; bytes: Buffer }>; size: number } | { error: string };

function resolveFiles(model: Model, serialization: Serialization): Array<{ name: string; bytes: Buffer }> | string {
  if (model.type === 'file') return [{ name: '.', bytes: Buffer.from(model.text, 'utf8') }];
  const ignored = (path: string) => serialization.ignore_paths.some((p) => path === p || path.startsWith(`${p}/`));
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (const entry of model.entries) {
    if (ignored(entry.path) || ('kind' in entry && entry.kind === 'directory')) continue;
    if (!('kind' in entry)) {
      out.push({ name: entry.path, bytes: bytesOf(entry) });
      continue;
    }
    if (!serialization.allow_symlinks) return 'ERR_MODEL_UNSUPPORTED_ENTRY';
    const target = [...entry.path.split('/').slice(0, -1), ...entry.target.split('/')].reduce<string[]>(
      (parts, part) => (part === '..' ? parts.slice(0, -1) : [...parts, part]), []).join('/');
    const file = model.entries.find((other) => other.path === target && !('kind' in other));
    if (file !== undefined && !('kind' in file)) out.push({ name: entry.path, bytes: bytesOf(file) });
    else if (model.entries.some((other) => other.path.startsWith(`${target}/`))) return 'ERR_MODEL_UNSUPPORTED_ENTRY';
    else return 'ERR_MODEL_NOT_FOUND';
  }
  return out;
}

// Path components compared by code point, a prefix first; then shard start, then end.
function compareKeys(a: { parts: string[]; start: number }, b: { parts: string[]; start: number }): number {
  for (let i = 0; i < Math.min(a.parts.length, b.parts.length); i++) {
    const x = Array.from(a.parts[i]!, (c) => c.codePointAt(0)!);
    const y = Array.from(b.parts[i]!, (c) => c.codePointAt(0)!);
    for (let j = 0; j < Math.min(x.length, y.length); j++) if (x[j] !== y[j]) return x[j]! - y[j]!;
    if (x.length !== y.length) return x.length - y.length;
  }
  return a.parts.length - b.parts.length || a.start - b.start;
}

function digestModel(model: Model, serialization: Serialization): Outcome {
  const found = resolveFiles(model, serialization);
  if (typeof found === 'string') return { error: found };
  const pieces: Array<{ name: string; parts: string[]; start: number; bytes: Buffer }> = [];
  for (const file of found) {
    const parts = file.name === '.' ? [] : file.name.split('/');
    if (serialization.method === 'files') {
      pieces.push({ name: file.name, parts, start: 0, bytes: file.bytes });
      continue;
    }
    if (file.name.includes(':')) return { error: 'ERR_MODEL_UNSUPPORTED_ENTRY' };
    for (let start = 0; start < file.bytes.length; start += serialization.shard_size) {
      const end = Math.min(file.bytes.length, start + serialization.shard_size);
      pieces.push({ name: `${file.name}:${start}:${end}`, parts, start, bytes: file.bytes.subarray(start, end) });
    }
  }
  if (pieces.length === 0) return { error: 'ERR_MODEL_UNSUPPORTED_ENTRY' };
  pieces.sort(compareKeys);
  return { resources: pieces, size: found.reduce((sum, file) => sum + file.bytes.length, 0) };
}

function vector(item: Case): Record<string, unknown> {
  const outcome = digestModel(item.model, item.serialization);
  const common = { desc: item.desc, spec: item.spec, ...(item.source ? { source: item.source } : {}),
    model: item.model, serialization: item.serialization };
  if ('error' in outcome) return { ...common, wantErr: outcome.error };
  const digests = outcome.resources.map((resource) => sha256(resource.bytes));
  const wantDigest = sha256(Buffer.concat(digests)).toString('hex');
  if (item.sourceDigest !== undefined && item.sourceDigest !== wantDigest) {
    throw new Error(`${item.desc}: ${wantDigest} differs from the OMS reference's ${item.sourceDigest}`);
  }
  return {
    ...common,
    wantResources: outcome.resources.map((resource, i) => ({ name: resource.name, digest: { sha256: digests[i]!.toString('hex') } })),
    wantDigest: { sha256: wantDigest },
    wantBytes: outcome.size,
  };
}

export function generate(): VectorFile[] {
  return [{
    path: 'model-digest/oms-model-digest.json',
    content: {
      desc: 'OpenSSF Model Signing v1.0 model digests of small models described inline: per-resource SHA-256 in OMS order, the model digest over them, or the error code; vectors with "source" reproduce a digest published by the OMS reference library',
      spec: '9',
      generated: true,
      vectors: CASES.map(vector),
    },
  }];
}
