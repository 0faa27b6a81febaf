/** C2SP tlog-tiles: paths, tile contents, entry bundles, and proofs read back from tiles alone. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  computeTiles,
  consistencyProofFromTiles,
  entriesPath,
  entryBundlesForSize,
  formatEntryBundle,
  inclusionProofFromTiles,
  leafHashFromTiles,
  parseEntryBundle,
  parseTilePath,
  rootFromTiles,
  tilePath,
  tileNodes,
  tilesForSize,
  type TileCoordinates,
} from '../src/log/index.ts';
import { hashLeaf } from '../src/merkle/rfc6962.ts';
import { proveConsistency, proveInclusion, rootHashAt, verifyConsistency, verifyInclusion } from '../src/merkle/index.ts';

const leafHashes = Array.from({ length: 70000 }, (_, i) => hashLeaf(new TextEncoder().encode(`entry ${i}`)));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function tileStore(size: number): Map<string, Uint8Array> {
  const store = new Map<string, Uint8Array>();
  for (const { tile, data } of computeTiles(leafHashes.slice(0, size))) store.set(tilePath(tile), data);
  return store;
}

function reader(store: Map<string, Uint8Array>, reads?: string[]) {
  return (tile: TileCoordinates) => {
    const path = tilePath(tile);
    reads?.push(path);
    const data = store.get(path);
    if (data === undefined) throw new Error(`no tile ${path}`);
    return data;
  };
}

test('paths: N in x-prefixed 3-digit groups, .p/W for partial tiles, entries beside the hash tiles', () => {
  assert.equal(tilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
  assert.equal(tilePath({ level: 1, index: 0, width: 1 }), 'tile/1/000.p/1');
  assert.equal(tilePath({ level: 3, index: 1000, width: 255 }), 'tile/3/x001/000.p/255');
  assert.equal(entriesPath({ index: 5, width: 7 }), 'tile/entries/005.p/7');
  assert.deepEqual(parseTilePath('tile/2/x001/x234/067.p/8'), { kind: 'hashes', tile: { level: 2, index: 1234067, width: 8 } });
  assert.throws(() => tilePath({ level: 0, index: 0, width: 0 }), { name: 'RangeError', message: 'tile width must be an integer in [1, 256]' });
  assert.throws(() => parseTilePath('tile/0/x0001/000'), { name: 'LogError', code: 'ERR_LOG_TILE_INVALID', message: 'tile path is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]' });
  assert.throws(() => parseTilePath('tile/0/x000/000'), { code: 'ERR_LOG_TILE_INVALID', message: 'tile path is not in its canonical spelling' });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 63 }), fc.maxSafeNat(), fc.integer({ min: 1, max: 256 }), (level, index, width) => {
      assert.deepEqual(parseTilePath(tilePath({ level, index, width })), { kind: 'hashes', tile: { level, index, width } });
      assert.deepEqual(parseTilePath(entriesPath({ index, width })), { kind: 'entries', bundle: { index, width } });
    }),
  );
});

test('the tiles of a tree: level 0 holds the leaf hashes, level 1 the roots of 256 leaves', () => {
  const tiles = computeTiles(leafHashes.slice(0, 70000));
  assert.deepEqual(
    tiles.map(({ tile }) => tile),
    tilesForSize(70000),
  );
  assert.equal(tiles.filter(({ tile }) => tile.level === 0).length, 274);
  assert.deepEqual(tiles.at(-2)!.tile, { level: 1, index: 1, width: 17 });
  assert.deepEqual(tiles.at(-1)!.tile, { level: 2, index: 0, width: 1 });
  assert.equal(hex(tiles[0]!.data.subarray(32, 64)), hex(leafHashes[1]!));
  const level1 = tiles.find(({ tile }) => tile.level === 1)!;
  assert.equal(hex(level1.data.subarray(32, 64)), hex(rootHashAt(leafHashes.slice(256), 256)));
  assert.deepEqual(entryBundlesForSize(513), [
    { index: 0, width: 256 },
    { index: 1, width: 256 },
    { index: 2, width: 1 },
  ]);
  assert.deepEqual(tilesForSize(0), []);
  assert.deepEqual(tileNodes({ level: 1, index: 1, width: 2 }), [
    { level: 8, index: 256 },
    { level: 8, index: 257 },
  ]);
  // Every tile's data is the concatenation of the hashes of its nodes.
  for (const { tile, data } of tiles.slice(-3)) {
    const nodes = tileNodes(tile);
    nodes.forEach((node, i) => {
      const width = 2 ** node.level;
      assert.equal(hex(data.subarray(i * 32, i * 32 + 32)), hex(rootHashAt(leafHashes.slice(node.index * width), width)));
    });
  }
});

test('root, leaf hashes, inclusion and consistency proofs from tiles equal those from all leaves', async () => {
  const size = 70000;
  const store = tileStore(size);
  const reads: string[] = [];
  const read = reader(store, reads);
  assert.equal(hex(await rootFromTiles(size, read)), hex(rootHashAt(leafHashes, size)));
  for (const index of [0, 1, 255, 256, 65535, 65536, 69999]) {
    assert.equal(hex(await leafHashFromTiles(index, size, read)), hex(leafHashes[index]!));
    const proof = await inclusionProofFromTiles(index, size, read);
    assert.deepEqual(proof.map(hex), proveInclusion(leafHashes, index).map(hex));
  }
  for (const oldSize of [1, 256, 257, 65536, 69998]) {
    const proof = await consistencyProofFromTiles(oldSize, size, read);
    assert.deepEqual(proof.map(hex), proveConsistency(leafHashes, oldSize, size).map(hex));
    assert.equal(verifyConsistency(oldSize, size, proof, rootHashAt(leafHashes, oldSize), rootHashAt(leafHashes, size)), true);
  }
  // One proof reads only a few tiles, never the whole log.
  reads.length = 0;
  await inclusionProofFromTiles(12345, size, reader(store, reads));
  assert.ok(reads.length <= 4, reads.join(' '));
});

test('proofs from tiles verify for small trees of every shape (fast-check)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 1100 }), fc.nat(), async (size, pick) => {
      const read = reader(tileStore(size));
      const index = pick % size;
      const root = await rootFromTiles(size, read);
      assert.equal(verifyInclusion(leafHashes[index]!, index, size, await inclusionProofFromTiles(index, size, read), root), true);
      const oldSize = pick % (size + 1);
      assert.equal(verifyConsistency(oldSize, size, await consistencyProofFromTiles(oldSize, size, read), rootHashAt(leafHashes, oldSize), root), true);
    }),
    { numRuns: 40 },
  );
});

test('a tile of the wrong length is refused; a tampered tile gives a proof that fails', async () => {
  const store = tileStore(300);
  const short = new Map(store);
  short.set('tile/0/001.p/44', store.get('tile/0/001.p/44')!.subarray(32));
  await assert.rejects(inclusionProofFromTiles(0, 300, reader(short)), { name: 'LogError', code: 'ERR_LOG_TILE_INVALID', message: 'tile must hold 32 bytes per hash of its width' });
  const tampered = new Map(store);
  // The root of leaves 0..255 on the path of leaf 299 is read from the level-1 tile.
  const data = Uint8Array.from(store.get('tile/1/000.p/1')!);
  data[7]! ^= 1;
  tampered.set('tile/1/000.p/1', data);
  const proof = await inclusionProofFromTiles(299, 300, reader(tampered));
  assert.equal(verifyInclusion(leafHashes[299]!, 299, 300, proof, rootHashAt(leafHashes, 300)), false);
});

test('entry bundles: uint16 big-endian lengths, strict parsing', () => {
  const bundle = formatEntryBundle([new Uint8Array([1, 2]), new Uint8Array(0)]);
  assert.equal(hex(bundle), '000201020000');
  assert.deepEqual(parseEntryBundle(bundle, 2).map(hex), ['0102', '']);
  assert.throws(() => parseEntryBundle(bundle.subarray(0, 5)), { name: 'LogError', code: 'ERR_LOG_TILE_INVALID', message: 'entry bundle ends inside an entry length' });
  assert.throws(() => parseEntryBundle(bundle.subarray(0, 3)), { code: 'ERR_LOG_TILE_INVALID', message: 'entry bundle ends inside an entry' });
  assert.throws(() => parseEntryBundle(bundle, 3), { code: 'ERR_LOG_TILE_INVALID', message: 'entry bundle does not hold as many entries as its width' });
  assert.throws(() => parseEntryBundle(new Uint8Array(2 * 257)), { code: 'ERR_LOG_TILE_INVALID', message: 'entry bundle holds more than 256 entries' });
  assert.throws(() => formatEntryBundle([new Uint8Array(65536)]), { name: 'RangeError', message: 'an entry is at most 65535 bytes' });
  assert.throws(() => formatEntryBundle([]), { name: 'RangeError', message: 'an entry bundle holds 1 to 256 entries' });
});
