/** C2SP tlog-tiles, "Merkle Tree" and "Tiles": tile coordinates, paths, contents, and proofs read back from tiles. */
import { LogError } from '../errors.ts';
import { completeSubtrees, consistencyProofRanges, inclusionProofRanges, type SubtreeNode } from '../merkle/consistency.ts';
import { hashChildren, rootFromLeafHashes } from '../merkle/rfc6962.ts';

/** Tiles are 8 levels of the tree: a full tile holds 256 hashes. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

/** Bytes of a tile's subtree hashes (tileSubtreeHashes): 255 hashes. */
export const TILE_SUBTREE_BYTES = (TILE_WIDTH - 1) * 32;

/**
 * The RFC 6962 interior nodes above a tile's hashes, row by row: the parents of pairs (128 for a
 * full tile), then theirs (64), .., then the root of a full tile (the tile hash one level up).
 * Row r (subtrees of 2^r hashes, r = 1..8) starts at hash 256 - 2^(9-r) of the result, whatever
 * the width, so a full tile's rows are simply concatenated; a partial tile of width W has
 * floor(W / 2^r) complete subtrees in row r and zeros after them. TILE_SUBTREE_BYTES long.
 */
export function tileSubtreeHashes(hashes: ReadonlyArray<Uint8Array>): Uint8Array {
  if (hashes.length > TILE_WIDTH) throw new RangeError('a tile has at most 256 hashes');
  const out = new Uint8Array(TILE_SUBTREE_BYTES);
  let below: ReadonlyArray<Uint8Array> = hashes;
  for (let row = 1; row <= TILE_HEIGHT; row++) {
    const start = TILE_WIDTH - 2 ** (TILE_HEIGHT + 1 - row);
    const here: Uint8Array[] = [];
    for (let i = 0; i < below.length >> 1; i++) {
      const parent = out.subarray((start + i) * 32, (start + i + 1) * 32);
      parent.set(hashChildren(below[2 * i]!, below[2 * i + 1]!));
      here.push(parent);
    }
    below = here;
  }
  return out;
}

/**
 * A hash tile: at `level` L it holds the hashes of the complete subtrees of 2^(8L) leaves with
 * indexes 256N .. 256N + width - 1, 32 bytes each, concatenated. The same coordinates at level 0
 * name an entry bundle (`entries`), which holds the entries of those leaves.
 */
export interface TileCoordinates {
  level: number;
  index: number;
  /** 1 .. 256; a tile narrower than 256 is partial. */
  width: number;
}

/** Reads a tile's bytes, for example over HTTP. Its data is untrusted until a proof built from it verifies. */
export type TileReader = (tile: TileCoordinates) => Uint8Array | Promise<Uint8Array>;

function invalid(message: string): LogError {
  return new LogError('ERR_LOG_TILE_INVALID', message);
}

function checkCoordinates(tile: TileCoordinates): void {
  if (!Number.isSafeInteger(tile.level) || tile.level < 0 || tile.level > 63) throw new RangeError('tile level must be an integer in [0, 63]');
  if (!Number.isSafeInteger(tile.index) || tile.index < 0) throw new RangeError('tile index must be a non-negative safe integer');
  if (!Number.isSafeInteger(tile.width) || tile.width < 1 || tile.width > TILE_WIDTH) throw new RangeError('tile width must be an integer in [1, 256]');
}

/** N as the spec spells it: 3-digit groups, every group but the last prefixed with "x" (1234067 -> x001/x234/067). */
function formatIndex(index: number): string {
  let digits = String(index);
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3));
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
}

function formatWidth(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]`, relative to the log's prefix URL. */
export function tilePath(tile: TileCoordinates): string {
  checkCoordinates(tile);
  return `tile/${tile.level}/${formatIndex(tile.index)}${formatWidth(tile.width)}`;
}

/** `tile/entries/<N>[.p/<W>]`, relative to the log's prefix URL. */
export function entriesPath(bundle: { index: number; width: number }): string {
  checkCoordinates({ level: 0, ...bundle });
  return `tile/entries/${formatIndex(bundle.index)}${formatWidth(bundle.width)}`;
}

const PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/**
 * Reads a tile or entry bundle path. Only the one spelling tilePath or entriesPath writes is
 * accepted: no leading zero group, no `.p/256`, no level above 63.
 */
export function parseTilePath(path: string): { kind: 'hashes'; tile: TileCoordinates } | { kind: 'entries'; bundle: { index: number; width: number } } {
  const match = PATH.exec(path);
  const index = match === null ? NaN : Number(match[2]!.replace(/[x/]/g, ''));
  const width = match?.[3] === undefined ? TILE_WIDTH : Number(match[3]);
  if (match === null || !Number.isSafeInteger(index) || width > 255 && match[3] !== undefined) throw invalid('tile path is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]');
  if (match[1] === 'entries') {
    const bundle = { index, width };
    if (entriesPath(bundle) !== path) throw invalid('tile path is not in its canonical spelling');
    return { kind: 'entries', bundle };
  }
  const tile = { level: Number(match[1]), index, width };
  if (tile.level > 63 || tilePath(tile) !== path) throw invalid('tile path is not in its canonical spelling');
  return { kind: 'hashes', tile };
}

/** The complete subtrees whose hashes the tile holds, in order: tree level 8L, indexes 256N .. 256N + W - 1. */
export function tileNodes(tile: TileCoordinates): SubtreeNode[] {
  checkCoordinates(tile);
  return Array.from({ length: tile.width }, (_, i) => ({ level: tile.level * TILE_HEIGHT, index: tile.index * TILE_WIDTH + i }));
}

/** How many complete subtrees of 2^(8 * level) leaves a tree of `size` leaves has. */
function storedCount(level: number, size: number): number {
  return Math.floor(size / 2 ** (TILE_HEIGHT * level));
}

/** The tile at `level`, `index` as a tree of `size` leaves publishes it (its width), or undefined if it has none. */
export function tileAt(level: number, index: number, size: number): TileCoordinates | undefined {
  const width = Math.min(TILE_WIDTH, storedCount(level, size) - index * TILE_WIDTH);
  return width >= 1 ? { level, index, width } : undefined;
}

/** Every hash tile a log of `size` leaves publishes, level by level, left to right. */
export function tilesForSize(size: number): TileCoordinates[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('size must be a non-negative safe integer');
  const tiles: TileCoordinates[] = [];
  for (let level = 0; storedCount(level, size) > 0; level++) {
    for (let index = 0; ; index++) {
      const tile = tileAt(level, index, size);
      if (tile === undefined) break;
      tiles.push(tile);
    }
  }
  return tiles;
}

/** Every entry bundle a log of `size` leaves publishes (the level-0 coordinates). */
export function entryBundlesForSize(size: number): Array<{ index: number; width: number }> {
  return tilesForSize(size)
    .filter((tile) => tile.level === 0)
    .map(({ index, width }) => ({ index, width }));
}

/** Every hash tile of the tree of `leafHashes`, with its data (32 bytes per hash). */
export function computeTiles(leafHashes: ReadonlyArray<Uint8Array>): Array<{ tile: TileCoordinates; data: Uint8Array }> {
  const out: Array<{ tile: TileCoordinates; data: Uint8Array }> = [];
  let level: ReadonlyArray<Uint8Array> = leafHashes;
  for (let tileLevel = 0; level.length > 0; tileLevel++) {
    for (let index = 0; index * TILE_WIDTH < level.length; index++) {
      const hashes = level.slice(index * TILE_WIDTH, (index + 1) * TILE_WIDTH);
      const data = new Uint8Array(hashes.length * 32);
      hashes.forEach((hash, i) => data.set(hash, i * 32));
      out.push({ tile: { level: tileLevel, index, width: hashes.length }, data });
    }
    // Eight levels up: only complete subtrees are stored.
    for (let step = 0; step < TILE_HEIGHT; step++) {
      const next: Uint8Array[] = [];
      for (let i = 0; i + 1 < level.length; i += 2) next.push(hashChildren(level[i]!, level[i + 1]!));
      level = next;
    }
  }
  return out;
}

/**
 * Reads the hashes of complete subtrees of a tree of `size` leaves from its tiles: a node at tree
 * level 8L + r is the root of 2^r consecutive hashes of one tile at level L. Each tile is read once.
 */
export function tileHashReader(size: number, readTile: TileReader): (nodes: ReadonlyArray<SubtreeNode>) => Promise<Uint8Array[]> {
  const cache = new Map<string, Promise<Uint8Array>>();
  const load = (tile: TileCoordinates): Promise<Uint8Array> => {
    const key = `${tile.level}/${tile.index}`;
    let data = cache.get(key);
    if (data === undefined) {
      data = Promise.resolve(readTile(tile)).then((bytes) => {
        if (bytes.length !== tile.width * 32) throw invalid('tile must hold 32 bytes per hash of its width');
        return bytes;
      });
      cache.set(key, data);
    }
    return data;
  };
  return async (nodes) => {
    const hashes: Uint8Array[] = [];
    for (const node of nodes) {
      const level = Math.floor(node.level / TILE_HEIGHT);
      const count = 2 ** (node.level % TILE_HEIGHT);
      const first = node.index * count;
      const index = Math.floor(first / TILE_WIDTH);
      const offset = first % TILE_WIDTH;
      const tile = tileAt(level, index, size);
      if (tile === undefined || offset + count > tile.width) throw new RangeError('node is not a complete subtree of the tree');
      const data = await load(tile);
      const stored: Uint8Array[] = [];
      for (let i = offset; i < offset + count; i++) stored.push(data.subarray(i * 32, i * 32 + 32));
      hashes.push(rootFromLeafHashes(stored));
    }
    return hashes;
  };
}

async function rangeHashes(ranges: ReadonlyArray<{ start: number; end: number }>, size: number, readTile: TileReader): Promise<Uint8Array[]> {
  const read = tileHashReader(size, readTile);
  const out: Uint8Array[] = [];
  for (const range of ranges) {
    const hashes = await read(completeSubtrees(range.start, range.end));
    let hash = hashes[hashes.length - 1]!;
    for (let i = hashes.length - 2; i >= 0; i--) hash = hashChildren(hashes[i]!, hash);
    out.push(hash);
  }
  return out;
}

/** The root hash of the tree of `size` leaves, from its tiles (compare it with the checkpoint's). */
export async function rootFromTiles(size: number, readTile: TileReader): Promise<Uint8Array> {
  if (size === 0) return rootFromLeafHashes([]);
  const [root] = await rangeHashes([{ start: 0, end: size }], size, readTile);
  return root!;
}

/** The inclusion proof of the leaf at `index` in the tree of `size` leaves, from its tiles. */
export function inclusionProofFromTiles(index: number, size: number, readTile: TileReader): Promise<Uint8Array[]> {
  return rangeHashes(inclusionProofRanges(index, size), size, readTile);
}

/** The consistency proof from the tree of `oldSize` leaves to that of `newSize`, from the newer tree's tiles. */
export function consistencyProofFromTiles(oldSize: number, newSize: number, readTile: TileReader): Promise<Uint8Array[]> {
  return rangeHashes(consistencyProofRanges(oldSize, newSize), newSize, readTile);
}

/** The leaf hash at `index` of the tree of `size` leaves, from its level-0 tile. */
export async function leafHashFromTiles(index: number, size: number, readTile: TileReader): Promise<Uint8Array> {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError('index must be an integer in [0, size)');
  const [hash] = await tileHashReader(size, readTile)([{ level: 0, index }]);
  return hash!;
}
