/** OMS v1.0 model digest (SPEC section 9.2): entries it refuses and files that change or cannot be read. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { computeModelDigest } from '../src/model-digest/index.ts';
import { unprivileged } from './helpers/unprivileged.ts';
import type { ModelDigestOptions } from '../src/model-digest/index.ts';

const root = mkdtempSync(join(tmpdir(), 'runprint-oms-errors-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

function model(files: Record<string, string | Buffer> = { 'w.bin': 'weights' }): string {
  const folder = join(root, `m${counter++}`);
  mkdirSync(folder);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(folder, path, '..'), { recursive: true });
    writeFileSync(join(folder, path), content);
  }
  return folder;
}

async function rejects(path: string, code: string, message: string, options: ModelDigestOptions = {}): Promise<void> {
  await assert.rejects(computeModelDigest(path, options), (error: Error & { code?: string }) => {
    assert.equal(error.name, 'ModelDigestError');
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

const NOT_FOUND = 'model path does not exist';
const DANGLING = 'a symbolic link in the model points to nothing';
const UNREADABLE = 'a model file or directory cannot be read';
const CHANGED = 'a model file changed while it was being digested';
const SYMLINK = 'model contains a symbolic link and symbolic links are not allowed';
const LINK_TO_DIRECTORY = 'model contains a symbolic link to a directory';
const SPECIAL = 'model contains an entry that is neither a regular file nor a directory';
const NOT_UTF8 = 'model contains a file name that is not valid UTF-8';
const COLON = 'model contains a file name with a colon, which the shards serialization cannot name';
const EMPTY = 'model has no resource to digest: no regular file, or only empty files under the shards method';

test('a path that does not exist', async () => {
  await rejects(join(root, 'no-such-model'), 'ERR_MODEL_NOT_FOUND', NOT_FOUND);
  await rejects(join(model(), 'w.bin', 'below-a-file'), 'ERR_MODEL_NOT_FOUND', NOT_FOUND);
});

test('symbolic links are refused unless allowed; an allowed link to a file hashes as the file', async () => {
  const withLink = model({ 'real.bin': 'weights', 'sub/x.bin': 'x' });
  symlinkSync('../real.bin', join(withLink, 'sub', 'link.bin'));
  await rejects(withLink, 'ERR_MODEL_UNSUPPORTED_ENTRY', SYMLINK);
  const linked = await computeModelDigest(withLink, { method: 'files', allowSymlinks: true });
  const copy = model({ 'real.bin': 'weights', 'sub/x.bin': 'x', 'sub/link.bin': 'weights' });
  const copied = await computeModelDigest(copy, { method: 'files' });
  assert.equal(linked.digest.sha256, copied.digest.sha256);
  assert.deepEqual(linked.resources, copied.resources);
  assert.equal(linked.serialization.allow_symlinks, true);
});

test('the model path itself may be a link only when links are allowed', async () => {
  const target = model({ 'w.bin': 'weights' });
  const link = join(root, `link-${counter++}`);
  symlinkSync(target, link);
  await rejects(link, 'ERR_MODEL_UNSUPPORTED_ENTRY', SYMLINK);
  const through = await computeModelDigest(link, { allowSymlinks: true });
  assert.equal(through.digest.sha256, (await computeModelDigest(target)).digest.sha256);
});

test('allowed links to a directory, to nothing, or in a loop are refused', async () => {
  const toDirectory = model({ 'd/w.bin': 'weights' });
  symlinkSync('d', join(toDirectory, 'link'));
  await rejects(toDirectory, 'ERR_MODEL_UNSUPPORTED_ENTRY', LINK_TO_DIRECTORY, { allowSymlinks: true });
  const dangling = model();
  symlinkSync('missing.bin', join(dangling, 'dangling.bin'));
  await rejects(dangling, 'ERR_MODEL_NOT_FOUND', DANGLING, { allowSymlinks: true });
  const loop = model();
  symlinkSync('b', join(loop, 'a'));
  symlinkSync('a', join(loop, 'b'));
  await rejects(loop, 'ERR_MODEL_NOT_FOUND', DANGLING, { allowSymlinks: true });
});

test('a FIFO, a socket or a device is refused, unless ignored', async () => {
  const withFifo = model();
  execFileSync('mkfifo', [join(withFifo, 'pipe')]);
  await rejects(withFifo, 'ERR_MODEL_UNSUPPORTED_ENTRY', SPECIAL);
  await rejects(join(withFifo, 'pipe'), 'ERR_MODEL_UNSUPPORTED_ENTRY', SPECIAL);
  const ignored = await computeModelDigest(withFifo, { ignorePaths: ['pipe'] });
  assert.deepEqual(ignored.resources.map((r) => r.name), ['w.bin:0:7']);

  const withSocket = model();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(withSocket, 'socket'), resolve));
  try {
    await rejects(withSocket, 'ERR_MODEL_UNSUPPORTED_ENTRY', SPECIAL);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  await rejects('/dev/null', 'ERR_MODEL_UNSUPPORTED_ENTRY', SPECIAL);
});

test('a model with nothing to digest is refused (OMS: an empty model MUST be rejected)', async () => {
  const empty = model({});
  mkdirSync(join(empty, 'only', 'directories'), { recursive: true });
  await rejects(empty, 'ERR_MODEL_UNSUPPORTED_ENTRY', EMPTY);
  await rejects(empty, 'ERR_MODEL_UNSUPPORTED_ENTRY', EMPTY, { method: 'files' });
  await rejects(model({ '.gitattributes': '*.bin lfs' }), 'ERR_MODEL_UNSUPPORTED_ENTRY', EMPTY, { method: 'files' });
  const onlyEmptyFiles = model({ 'a.bin': '', 'b/c.bin': '' });
  await rejects(onlyEmptyFiles, 'ERR_MODEL_UNSUPPORTED_ENTRY', EMPTY);
  const files = await computeModelDigest(onlyEmptyFiles, { method: 'files' });
  assert.deepEqual(files.resources.map((r) => r.name), ['a.bin', 'b/c.bin']);
});

test('a file name that is not UTF-8, or has a colon under the shards method', async () => {
  const badName = model();
  writeFileSync(Buffer.concat([Buffer.from(`${badName}/bad-`), Buffer.from([0xff, 0xfe]), Buffer.from('.bin')]), 'x');
  await rejects(badName, 'ERR_MODEL_UNSUPPORTED_ENTRY', NOT_UTF8);
  const colon = model({ 'a:b.bin': 'weights' });
  await rejects(colon, 'ERR_MODEL_UNSUPPORTED_ENTRY', COLON);
  assert.deepEqual((await computeModelDigest(colon, { method: 'files' })).resources.map((r) => r.name), ['a:b.bin']);
});

// Root reads every file whatever its mode, so as root the check runs in a child process without
// root's capabilities (see helpers/unprivileged.ts: still uid 0, so it reaches the checkout wherever
// it is); as any other user it runs here.
async function digestWithoutPrivileges(path: string): Promise<{ code?: string; message?: string }> {
  if (process.getuid?.() !== 0) {
    return computeModelDigest(path).then(
      () => ({}),
      (error: { code: string; message: string }) => ({ code: error.code, message: error.message }),
    );
  }
  const script = `
    const { computeModelDigest } = await import(${JSON.stringify(new URL('../src/model-digest/index.ts', import.meta.url).href)});
    computeModelDigest(process.env.MODEL).then(
      () => process.stdout.write('{}'),
      (error) => process.stdout.write(JSON.stringify({ code: error.code, message: error.message })));`;
  const { command, args } = unprivileged(process.execPath, ['--input-type=module', '-e', script]);
  const child = spawnSync(command, args, { env: { MODEL: path, PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as { code?: string; message?: string };
}

test('a file or a directory that cannot be read', async () => {
  const unreadableFile = model({ 'ok.bin': 'ok', 'secret.bin': 'weights' });
  const unreadableDirectory = model({ 'ok.bin': 'ok', 'locked/w.bin': 'weights' });
  chmodSync(root, 0o755);
  for (const folder of [unreadableFile, unreadableDirectory]) chmodSync(folder, 0o755);
  chmodSync(join(unreadableFile, 'secret.bin'), 0o000);
  chmodSync(join(unreadableDirectory, 'locked'), 0o000);
  assert.deepEqual(await digestWithoutPrivileges(unreadableFile), { code: 'ERR_MODEL_UNREADABLE', message: UNREADABLE });
  assert.deepEqual(await digestWithoutPrivileges(unreadableDirectory), {
    code: 'ERR_MODEL_UNREADABLE',
    message: UNREADABLE,
  });
  chmodSync(join(unreadableFile, 'secret.bin'), 0o644);
  assert.deepEqual(await digestWithoutPrivileges(unreadableFile), {}, 'the same model once readable');
  chmodSync(join(unreadableDirectory, 'locked'), 0o755);
});

// Acts on the first progress report after real bytes were read, while hashing is under way.
function onceHashing(action: () => void): NonNullable<ModelDigestOptions['onProgress']> {
  let done = false;
  return (bytes) => {
    if (bytes > 0 && !done) {
      done = true;
      action();
    }
  };
}

const BIG = Buffer.alloc(40 * 1024 * 1024, 0x5a);

test('a file that grows, is touched, or disappears while the model is hashed', async () => {
  const grows = model({ 'big.bin': BIG });
  const onProgress = onceHashing(() => appendFileSync(join(grows, 'big.bin'), 'more'));
  await rejects(grows, 'ERR_MODEL_UNREADABLE', CHANGED, { onProgress });

  const touched = model({ 'big.bin': BIG });
  const touch = onceHashing(() => utimesSync(join(touched, 'big.bin'), new Date(), new Date(1_000_000_000_000)));
  await rejects(touched, 'ERR_MODEL_UNREADABLE', CHANGED, { onProgress: touch, method: 'files' });

  // One worker takes the largest resource first, so the small file is opened only after this.
  const vanishes = model({ 'big.bin': BIG, 'small.bin': 'small' });
  const remove = onceHashing(() => unlinkSync(join(vanishes, 'small.bin')));
  await rejects(vanishes, 'ERR_MODEL_UNREADABLE', CHANGED, { onProgress: remove, concurrency: 1 });

  const untouched = model({ 'big.bin': BIG, 'small.bin': 'small' });
  cpSync(untouched, join(root, 'untouched-copy'), { recursive: true });
  const calm = await computeModelDigest(untouched, { onProgress: onceHashing(() => undefined), concurrency: 1 });
  assert.equal(calm.digest.sha256, (await computeModelDigest(join(root, 'untouched-copy'))).digest.sha256);
});

test('a file touched after its own resources were hashed, before the model is done, is reported', async () => {
  // One worker, largest first: big.bin is done before small.bin's bytes are reported.
  const folder = model({ 'big.bin': BIG, 'small.bin': 'small' });
  let touched = false;
  const onProgress = (done: number): void => {
    if (done > BIG.length && !touched) {
      touched = true;
      utimesSync(join(folder, 'big.bin'), new Date(), new Date(1_000_000_000_000));
    }
  };
  await rejects(folder, 'ERR_MODEL_UNREADABLE', CHANGED, { onProgress, concurrency: 1, method: 'files' });
  assert.ok(touched);
});

test('a change stops the hashing at the next resource, not at the end of the model', async () => {
  const folder = model({ 'big.bin': Buffer.alloc(160 * 1024 * 1024, 1) });
  let reported = 0;
  const onProgress = (done: number): void => {
    if (reported === 0 && done > 0) appendFileSync(join(folder, 'big.bin'), 'more');
    reported = done;
  };
  await rejects(folder, 'ERR_MODEL_UNREADABLE', CHANGED, { onProgress, concurrency: 1, shardSize: 16 * 1024 * 1024 });
  assert.equal(reported, 16 * 1024 * 1024, 'one shard read, then the change was seen');
});

test('wrong options are programmer errors: TypeError or RangeError', async () => {
  const path = model();
  const bad: Array<[ModelDigestOptions, ErrorConstructor, string]> = [
    [{ method: 'blake2' as 'files' }, TypeError, "method must be 'files' or 'shards'"],
    [{ method: 'files', shardSize: 8 }, TypeError, 'shardSize applies only to the shards method'],
    [{ shardSize: 0 }, RangeError, 'shardSize must be a positive integer'],
    [{ shardSize: 1.5 }, RangeError, 'shardSize must be a positive integer'],
    [{ concurrency: 0 }, RangeError, 'concurrency must be a positive integer'],
    [{ ignorePaths: ['../outside'] }, RangeError, 'ignorePaths must be relative paths inside the model'],
    [{ ignorePaths: ['/etc'] }, RangeError, 'ignorePaths must be relative paths inside the model'],
  ];
  for (const [options, type, message] of bad) {
    await assert.rejects(computeModelDigest(path, options), (error: Error) => {
      assert.ok(error instanceof type, `${message}: ${error.name}`);
      assert.equal(error.message, message);
      return true;
    });
  }
});
