/**
 * Issue 4, section 7: a running `runprint serve` verifies over HTTP with an independent client built
 * only on the Go checksum database's own packages, golang.org/x/mod/sumdb/note and sumdb/tlog
 * (interop/go/served): its checkpoints open with the log's key, its tiles authenticate through
 * tlog.TileHashReader, every entry of its entry bundles is included, its JSON inclusion proofs check,
 * and two checkpoints taken at different sizes are consistent. The roots Go computes are compared
 * with the ones recomputed here from the bytes submitted; a wrong key and tampered tiles or bundles
 * must make the Go client fail.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateKeyFiles, parsePrivateKey } from '../../src/keys/keys.ts';
import { noteVerifierKey, parseNoteVerifier } from '../../src/log/note-keys.ts';
import { b64, envelope, fetchSignedCheckpoint, indexPath, leafHashOf, submit, TOKEN } from '../helpers/log-reliability.ts';
import { referenceRoot } from '../helpers/reference-tree.ts';
import { killServeProcesses, startServe, type ServeProcess } from '../helpers/serve-process.ts';

const INSTALL = 'apt-get install -y golang-go golang-golang-x-mod-dev';
const program = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'interop', 'go', 'served', 'main.go');

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function buildGoClient(folder: string): string {
  const version = spawnSync('go', ['version'], { encoding: 'utf8' });
  assert.ok(version.status === 0, `the Go toolchain is missing: run \`${INSTALL}\` (this check needs go and golang.org/x/mod/sumdb)`);
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(folder, 'gocache') };
  const binary = join(folder, 'runprint-served-tiles');
  const build = spawnSync('go', ['build', '-o', binary, program], { encoding: 'utf8', env });
  assert.equal(build.status, 0, `go build of interop/go/served failed (is golang.org/x/mod/sumdb installed? run \`${INSTALL}\`):\n${build.stderr}`);
  return binary;
}

/** Runs the Go client (not spawnSync: the tampering proxy answers it from this process); its output and exit status. */
function runGo(binary: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Submits `count` new entries with `concurrency` clients; the entry bytes by answered index. */
async function fill(server: ServeProcess, byIndex: string[], count: number, label: string, concurrency = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const body = envelope(`${label} entry ${next++}`);
        const answer = await submit(server.base, body);
        assert.equal(answer.status, 201);
        assert.equal(byIndex[answer.index], undefined, `index ${answer.index} answered twice`);
        byIndex[answer.index] = body;
      }
    }),
  );
}

async function waitForSize(server: ServeProcess, size: number): Promise<void> {
  const verifier = await parseNoteVerifier(server.key);
  for (let wait = 0; wait < 400; wait++) {
    const checkpoint = await fetchSignedCheckpoint(server.base, verifier);
    if (checkpoint.size === size) return;
    assert.ok(checkpoint.size < size, `checkpoint of ${checkpoint.size} is larger than the ${size} entries submitted`);
    await sleep(25);
  }
  assert.fail(`no checkpoint of size ${size} within 10 s`);
}

/** The "tree N ROOT" line the Go client ends with, checked against the root recomputed here. */
function checkTree(stdout: string, byIndex: string[]): void {
  const size = byIndex.length;
  assert.ok(byIndex.every((body) => body !== undefined), 'indexes 0 .. n-1 were all answered');
  const root = b64(referenceRoot(byIndex.map((body) => leafHashOf(body))));
  assert.match(stdout, new RegExp(`^tree ${size} ${root.replace(/[+/]/g, '\\$&')}$`, 'm'), `Go computed the root recomputed here for ${size} entries`);
}

/** A proxy to `target` that flips one byte of the answer to any path `tamper` picks. */
async function tamperingProxy(target: string, tamper: (path: string) => boolean): Promise<{ base: string; server: Server }> {
  const server = createServer((request, response) => {
    void (async () => {
      const upstream = await fetch(`${target}${request.url}`);
      const body = Buffer.from(await upstream.arrayBuffer());
      if (upstream.status === 200 && tamper(request.url ?? '')) body[body.length - 1]! ^= 0x01;
      response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
      response.end(body);
    })().catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { base: `http://127.0.0.1:${address.port}`, server };
}

// 700: full and partial level-0 tiles, a partial level-1 tile. 256,500: past 65,536 (level-2 tiles)
// and 256,000 (level-0 tiles x001/000 and x001/001.p/244, paths as tlog.Tile.Path writes them).
for (const [OLD_SIZE, SIZE] of [[300, 700], [65_000, 256_500]] as const) {
  test(`golang.org/x/mod/sumdb verifies a running runprint serve over HTTP: checkpoints, tiles, every entry, consistency ${OLD_SIZE} -> ${SIZE}`, { timeout: 1_200_000 }, async (t) => {
    const folder = mkdtempSync(join(tmpdir(), 'runprint-go-served-'));
    folders.push(folder);
    const binary = buildGoClient(folder);
    const server = await startServe({ data: join(folder, 'data'), token: TOKEN });
    try {
      const vkey = join(folder, 'log.vkey');
      writeFileSync(vkey, `${server.key}\n`);
      const old = join(folder, 'old-checkpoint');
      const byIndex: string[] = [];

      let started = performance.now();
      await fill(server, byIndex, OLD_SIZE, `first ${OLD_SIZE}`);
      await waitForSize(server, OLD_SIZE);
      t.diagnostic(`${OLD_SIZE} entries submitted over HTTP in ${Math.round(performance.now() - started)} ms`);
      started = performance.now();
      const first = await runGo(binary, ['-vkey', vkey, '-save', old, server.base]);
      assert.equal(first.status, 0, `the Go client refused the log of ${OLD_SIZE}:\n${first.stdout}${first.stderr}`);
      checkTree(first.stdout, byIndex);
      t.diagnostic(`Go checked ${OLD_SIZE} entries in ${Math.round(performance.now() - started)} ms`);

      started = performance.now();
      await fill(server, byIndex, SIZE - OLD_SIZE, `then ${SIZE}`);
      await waitForSize(server, SIZE);
      t.diagnostic(`${SIZE - OLD_SIZE} more entries submitted in ${Math.round(performance.now() - started)} ms`);
      started = performance.now();
      const second = await runGo(binary, ['-vkey', vkey, '-old', old, server.base]);
      assert.equal(second.status, 0, `the Go client refused the log of ${SIZE}:\n${second.stdout}${second.stderr}`);
      t.diagnostic(`Go checked ${SIZE} entries in ${Math.round(performance.now() - started)} ms`);
      checkTree(second.stdout, byIndex);
      const lines = second.stdout.trim().split('\n');
      assert.ok(lines.slice(0, -1).every((line) => line.startsWith('ok ')), second.stdout);
      assert.match(second.stdout, new RegExp(`^ok note\\.Open checkpoint: size ${SIZE} \\(1 signatures, 1 verified\\)$`, 'm'));
      assert.match(second.stdout, /^ok \/v1\/log\/key is the verifier key$/m);
      assert.match(second.stdout, new RegExp(`^ok the ${SIZE} entries of the served entry bundles, hashed with tlog\\.RecordHash / StoredHashes, give the signed root$`, 'm'));
      assert.match(second.stdout, /^ok the \d+ served tiles equal tlog\.ReadTileData of the tree of the entries, byte for byte$/m);
      assert.match(second.stdout, new RegExp(`^ok tlog\\.TileHashReader \\+ TreeHash: served tiles give the signed root of ${SIZE}$`, 'm'));
      assert.match(second.stdout, new RegExp(`^ok tlog\\.CheckRecord includes each of the ${SIZE} entries under the signed root`, 'm'));
      assert.match(second.stdout, /^ok tlog\.CheckRecord accepts 8 inclusion proofs from \/v1\/log\/proof$/m);
      assert.match(second.stdout, new RegExp(`^ok tlog\\.CheckTree: the signed checkpoint of ${OLD_SIZE} is consistent with the signed checkpoint of ${SIZE}$`, 'm'));
      assert.match(second.stdout, /^ok the older tree's tiles \(\d+, partial ones at their old widths\) are still served and give its signed root$/m);
      for (const line of [...first.stdout.trim().split('\n'), ...lines]) t.diagnostic(line);

      // The same client fails on a key that is not the log's, and on one flipped bit in a tile or a bundle.
      const other = await parsePrivateKey((await generateKeyFiles('localhost/runprint')).privateKeyPem);
      const otherKey = join(folder, 'other.vkey');
      writeFileSync(otherKey, `${noteVerifierKey('localhost/runprint', other.publicKey)}\n`);
      const wrongKey = await runGo(binary, ['-vkey', otherKey, server.base]);
      assert.equal(wrongKey.status, 1, wrongKey.stdout);
      assert.match(wrongKey.stderr, /^FAIL: note\.Open checkpoint: /);
      const lastTile = `/tile/0/${indexPath(Math.floor(SIZE / 256))}.p/${SIZE % 256}`;
      for (const [what, tamper, message] of [
        ['a level-0 tile', (path: string) => path === '/tile/0/000', /^FAIL: served tile tile\/0\/000 is not the one tlog computes from the entries$/m],
        ['a level-1 tile', (path: string) => path.startsWith('/tile/1/'), /^FAIL: served tile tile\/1\/000(\.p\/\d+)? is not the one tlog computes from the entries$/m],
        ['the partial level-0 tile', (path: string) => path === lastTile, new RegExp(`^FAIL: served tile tile${lastTile.slice(5).replace(/[./]/g, '\\$&')} is not the one tlog computes from the entries$`, 'm')],
        ['an entry bundle', (path: string) => path === '/tile/entries/001', /^FAIL: the entries of the served bundles do not give the signed root/],
      ] as const) {
        const proxy = await tamperingProxy(server.base, tamper);
        try {
          const run = await runGo(binary, ['-vkey', vkey, proxy.base]);
          assert.equal(run.status, 1, `the Go client took ${what} with one bit flipped:\n${run.stdout}`);
          assert.match(run.stderr, message, `${what} flipped`);
        } finally {
          await new Promise((resolve) => proxy.server.close(resolve));
        }
      }
      assert.equal(await server.stop(), 0);
    } finally {
      await server.kill();
    }
  });
}
