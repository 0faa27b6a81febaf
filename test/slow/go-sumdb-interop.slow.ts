/** C2SP checkpoints, tiles, entry bundles and RFC 9162 proofs from src/log verify with golang.org/x/mod/sumdb/note and sumdb/tlog (interop/go). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  computeTiles,
  cosignatureSigner,
  cosignCheckpoint,
  entriesPath,
  entryBundlesForSize,
  formatCheckpoint,
  formatEntryBundle,
  formatNote,
  noteSigner,
  noteVerifierKey,
  parseNote,
  signNote,
  tilePath,
} from '../../src/log/index.ts';
import { proveConsistency, proveInclusion, rootHashAt } from '../../src/merkle/index.ts';
import { hashLeaf } from '../../src/merkle/rfc6962.ts';
import { parsePrivateKey } from '../../src/keys/keys.ts';
import { LOG_KEY, WITNESS_KEYS } from '../fixtures/log-keys.ts';

const INSTALL = 'apt-get install -y golang-go golang-golang-x-mod-dev';
const program = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'interop', 'go', 'main.go');
// 700 entries: three level-0 tiles and a partial level-1 tile; 66000: tiles on three levels.
for (const [SIZE, OLD_SIZE] of [[700, 300], [66000, 65537]] as const) {
  test(`golang.org/x/mod/sumdb opens runprint checkpoints and checks its tiles, entry bundles and proofs (${SIZE} entries)`, async () => {
    const version = spawnSync('go', ['version'], { encoding: 'utf8' });
    assert.ok(version.status === 0, `the Go toolchain is missing: run \`${INSTALL}\` (this check needs go and golang.org/x/mod/sumdb)`);

    const folder = mkdtempSync(join(tmpdir(), 'runprint-go-interop-'));
    try {
      const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOPROXY: 'off', GOFLAGS: '', GOCACHE: join(folder, 'gocache') };
      const binary = join(folder, 'runprint-sumdb-interop');
      const build = spawnSync('go', ['build', '-o', binary, program], { encoding: 'utf8', env });
      assert.equal(build.status, 0, `go build of interop/go failed (is golang.org/x/mod/sumdb installed? run \`${INSTALL}\`):\n${build.stderr}`);

      const entries = Array.from({ length: SIZE }, (_, i) => new TextEncoder().encode(`runprint interop entry ${i}`));
      const leafHashes = entries.map(hashLeaf);
      const key = await parsePrivateKey(LOG_KEY.privateKeyPem);
      const signer = noteSigner(LOG_KEY.name, key);
      const witness = cosignatureSigner(WITNESS_KEYS[0]!.name, await parsePrivateKey(WITNESS_KEYS[0]!.privateKeyPem), () => 1767225600);

      const write = (path: string, data: string | Uint8Array) => {
        mkdirSync(dirname(join(folder, path)), { recursive: true });
        writeFileSync(join(folder, path), data);
      };
      write('vkey', `${noteVerifierKey(LOG_KEY.name, key.publicKey)}\n`);
      // The newer checkpoint also carries a witness cosignature: Go must ignore the unknown signature type.
      const checkpoint = formatCheckpoint({ origin: LOG_KEY.name, size: SIZE, rootHash: rootHashAt(leafHashes, SIZE) });
      write('checkpoint', formatNote(await cosignCheckpoint(parseNote(await signNote(checkpoint, signer)), witness)));
      write('checkpoint.old', await signNote(formatCheckpoint({ origin: LOG_KEY.name, size: OLD_SIZE, rootHash: rootHashAt(leafHashes, OLD_SIZE) }), signer));
      for (const { tile, data } of computeTiles(leafHashes)) write(tilePath(tile), data);
      for (const bundle of entryBundlesForSize(SIZE)) {
        write(entriesPath(bundle), formatEntryBundle(entries.slice(bundle.index * 256, bundle.index * 256 + bundle.width)));
      }
      const b64 = (hash: Uint8Array) => Buffer.from(hash).toString('base64');
      const inclusion = [];
      for (const [index, size] of [[0, 1], [0, SIZE], [255, SIZE], [256, SIZE], [511, 512], [SIZE - 1, SIZE], [123, OLD_SIZE], [OLD_SIZE - 1, OLD_SIZE], [400, 513]] as const) {
        inclusion.push({ index, size, proof: proveInclusion(leafHashes.slice(0, size), index).map(b64) });
      }
      const consistency = [];
      for (const [oldSize, newSize] of [[1, SIZE], [OLD_SIZE, SIZE], [256, 512], [255, 257], [511, 700], [SIZE - 1, SIZE], [7, 13]] as const) {
        consistency.push({ oldSize, newSize, proof: proveConsistency(leafHashes, oldSize, newSize).map(b64) });
      }
      write('proofs.json', JSON.stringify({ inclusion, consistency }));

      const run = spawnSync(binary, [folder], { encoding: 'utf8' });
      assert.equal(run.status, 0, `interop/go rejected runprint's log:\n${run.stdout}${run.stderr}`);
      const lines = run.stdout.trim().split('\n');
      assert.ok(lines.every((line) => line.startsWith('ok ')), run.stdout);
      assert.match(run.stdout, new RegExp(`ok note\\.Open checkpoint size ${SIZE} \\(2 signatures, 1 verified\\)`));
      assert.match(run.stdout, /ok tlog\.ReadTileData equals runprint's \d+ tiles byte for byte/);
      assert.match(run.stdout, new RegExp(`ok ${SIZE} entries in runprint entry bundles`));
      assert.match(run.stdout, /ok tlog\.CheckRecord accepts 9 runprint inclusion proofs/);
      assert.match(run.stdout, /ok tlog\.CheckTree accepts 7 runprint consistency proofs/);
      process.stdout.write(`# ${lines.join('\n# ')}\n`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
}
