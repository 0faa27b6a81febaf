/** `runprint model-digest` (SPEC section 9): output, JSON shape, progress on a terminal, errors, exit codes. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { modelDigestCommand } from '../src/cli/model-digest-command.ts';
import { EXIT } from '../src/cli/io.ts';
import type { CliIo } from '../src/cli/io.ts';
import { computeModelDigest } from '../src/model-digest/index.ts';

const root = mkdtempSync(join(tmpdir(), 'runprint-oms-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const model = join(root, 'model');
mkdirSync(join(model, 'sub'), { recursive: true });
writeFileSync(join(model, 'config.json'), '{"layers":2}\n');
writeFileSync(join(model, 'sub', 'weights.bin'), Buffer.alloc(40 * 1024 * 1024, 7));

async function run(args: string[], options: { tty?: boolean; cwd?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    readStdin: async () => new Uint8Array(),
    stdout: (text) => void (stdout += typeof text === 'string' ? text : Buffer.from(text).toString('utf8')),
    stderr: (text) => void (stderr += text),
    stderrIsTTY: options.tty ?? false,
    cwd: options.cwd ?? root,
  };
  const code = await modelDigestCommand(args, io);
  return { code, stdout, stderr };
}

test('prints sha256:<hex> on one line, nothing on stderr, exit 0', async () => {
  const result = await run([model]);
  const want = await computeModelDigest(model);
  assert.deepEqual(result, { code: EXIT.ok, stdout: `sha256:${want.digest.sha256}\n`, stderr: '' });
});

test('a relative PATH is resolved against the working directory', async () => {
  const relative = await run(['model']);
  const absolute = await run([model], { cwd: '/' });
  assert.equal(relative.code, EXIT.ok);
  assert.equal(relative.stdout, absolute.stdout);
});

test('--json prints the whole ModelDigest: digest, serialization, resources, bytes', async () => {
  const result = await run([model, '--json', '--shard-size', '16777216']);
  assert.equal(result.code, EXIT.ok);
  assert.equal(result.stderr, '');
  assert.ok(result.stdout.endsWith('}\n'));
  const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), ['digest', 'serialization', 'resources', 'bytes']);
  assert.deepEqual(parsed.serialization, {
    method: 'shards',
    hash_type: 'sha256',
    shard_size: 16777216,
    allow_symlinks: false,
    ignore_paths: ['.git', '.gitattributes', '.github', '.gitignore'],
  });
  assert.equal(parsed.bytes, 13 + 40 * 1024 * 1024);
  const resources = parsed.resources as Array<{ name: string; digest: { sha256: string } }>;
  assert.deepEqual(resources.map((r) => r.name), [
    'config.json:0:13',
    'sub/weights.bin:0:16777216',
    'sub/weights.bin:16777216:33554432',
    'sub/weights.bin:33554432:41943040',
  ]);
  const combined = createHash('sha256');
  for (const resource of resources) combined.update(Buffer.from(resource.digest.sha256, 'hex'));
  assert.deepEqual(parsed.digest, { sha256: combined.digest('hex') });
  assert.deepEqual(parsed, JSON.parse(JSON.stringify(await computeModelDigest(model, { shardSize: 16777216 }))));
});

test('--method files and --shard-size=N select the serialization', async () => {
  const files = await run(['--method', 'files', model]);
  assert.equal(files.stdout, `sha256:${(await computeModelDigest(model, { method: 'files' })).digest.sha256}\n`);
  const inline = await run([`--shard-size=1000`, '--method=shards', model]);
  assert.equal(inline.stdout, `sha256:${(await computeModelDigest(model, { shardSize: 1000 })).digest.sha256}\n`);
  assert.notEqual(files.stdout, inline.stdout);
});

test('on a terminal a progress bar is drawn on stderr and cleared at the end', async () => {
  const result = await run([model, '--method', 'files'], { tty: true });
  assert.equal(result.code, EXIT.ok);
  assert.match(result.stdout, /^sha256:[0-9a-f]{64}\n$/);
  // From the first moment: the listing line, then the bar from 0% before any byte is hashed.
  assert.ok(result.stderr.startsWith("\r\x1b[2Kmodel-digest: listing the model's files…\r\x1b[2Kmodel-digest ["), JSON.stringify(result.stderr.slice(0, 80)));
  assert.match(result.stderr, /model-digest \[\.{30}\]   0% 0 B \/ 40\.0 MiB, … \/s, … left/);
  // The last bar: all bytes, the rate since hashing began, nothing left.
  assert.match(result.stderr, /100% 40\.0 MiB \/ 40\.0 MiB, [0-9.]+ (B|KiB|MiB|GiB)\/s, 0 s left/);
  assert.ok(result.stderr.endsWith('\r\x1b[2K'), 'the last thing written clears the line');
  assert.ok(!result.stderr.includes('\n'), 'the bar never scrolls the terminal');
});

test('errors are one line on stderr with the code, and the exit code of their kind', async () => {
  const cases: Array<[string[], number, string]> = [
    [[], EXIT.usage, 'ERR_CLI_USAGE: model-digest needs a model PATH'],
    [[model, model], EXIT.usage, 'ERR_CLI_USAGE: model-digest takes exactly one model PATH'],
    [[model, '--fast'], EXIT.usage, 'ERR_CLI_USAGE: unknown option "--fast" for "model-digest" (run "runprint model-digest --help")'],
    [[model, '--method', 'blake2'], EXIT.usage, 'ERR_CLI_USAGE: --method must be files or shards'],
    [[model, '--method'], EXIT.usage, 'ERR_CLI_USAGE: --method needs a value'],
    [[model, '--shard-size', '0'], EXIT.usage, 'ERR_CLI_USAGE: --shard-size must be a positive whole number of bytes'],
    [[model, '--shard-size', '1e9'], EXIT.usage, 'ERR_CLI_USAGE: --shard-size must be a positive whole number of bytes'],
    [[model, '--shard-size', '99999999999999999999'], EXIT.usage, 'ERR_CLI_USAGE: --shard-size must be a positive whole number of bytes'],
    [[model, '--method', 'files', '--shard-size', '8'], EXIT.usage, 'ERR_CLI_USAGE: --shard-size applies only to --method shards'],
    [[join(root, 'missing')], EXIT.io, `ERR_MODEL_NOT_FOUND: model path does not exist: ${join(root, 'missing')}`],
    [[join(root, 'empty')], EXIT.input, 'ERR_MODEL_UNSUPPORTED_ENTRY: model has no resource to digest: no regular file, or only empty files under the shards method'],
  ];
  mkdirSync(join(root, 'empty'));
  for (const [args, code, line] of cases) {
    assert.deepEqual(await run(args), { code, stdout: '', stderr: `runprint: ${line}\n` }, args.join(' '));
  }
});

test('a symbolic link: refused (exit 3) unless --allow-symlinks', async () => {
  const linked = join(root, 'linked');
  mkdirSync(linked);
  writeFileSync(join(linked, 'real.bin'), 'weights');
  symlinkSync('real.bin', join(linked, 'link.bin'));
  const refused = await run([linked], { tty: true });
  assert.deepEqual(refused, {
    code: EXIT.input,
    stdout: '',
    // On a terminal the progress line ("listing…") is drawn first and erased before the error.
    stderr: "\r\x1b[2Kmodel-digest: listing the model's files…\r\x1b[2Krunprint: ERR_MODEL_UNSUPPORTED_ENTRY: model contains a symbolic link and symbolic links are not allowed (model caches are often links: pass --allow-symlinks to follow links to regular files)\n",
  });
  const allowed = await run([linked, '--allow-symlinks', '--json']);
  assert.equal(allowed.code, EXIT.ok);
  const parsed = JSON.parse(allowed.stdout) as { resources: Array<{ name: string }>; serialization: object };
  assert.deepEqual(parsed.resources.map((r) => r.name), ['link.bin:0:7', 'real.bin:0:7']);
  assert.equal((parsed.serialization as { allow_symlinks: boolean }).allow_symlinks, true);
});

test('--help prints the usage on stdout', async () => {
  const result = await run(['--help']);
  assert.equal(result.code, EXIT.ok);
  assert.match(result.stdout, /^usage: runprint model-digest PATH \[--json\]/);
  assert.equal(result.stderr, '');
});
