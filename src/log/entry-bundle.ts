/** C2SP tlog-tiles, "Log Entries": an entry bundle is each entry as a big-endian uint16 length and its bytes. */
import { LogError } from '../errors.ts';
import { TILE_WIDTH } from './tiles.ts';

/** Entries are at most 65535 bytes: the length is a uint16. */
export const MAX_ENTRY_SIZE = 0xffff;

/**
 * The entry bundle, byte for byte: for each entry, in log order,
 *
 *     uint16 length (big-endian) || entry bytes
 *
 * A bundle holds 1 to 256 entries.
 */
export function formatEntryBundle(entries: ReadonlyArray<Uint8Array>): Uint8Array {
  if (entries.length < 1 || entries.length > TILE_WIDTH) throw new RangeError('an entry bundle holds 1 to 256 entries');
  let total = 0;
  for (const entry of entries) {
    if (entry.length > MAX_ENTRY_SIZE) throw new RangeError('an entry is at most 65535 bytes');
    total += 2 + entry.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const entry of entries) {
    out[offset] = entry.length >> 8;
    out[offset + 1] = entry.length & 0xff;
    out.set(entry, offset + 2);
    offset += 2 + entry.length;
  }
  return out;
}

/**
 * Reads an entry bundle. The bytes are untrusted: a truncated length or entry, trailing bytes, or
 * (when `width` is given) a number of entries other than the bundle's width is refused.
 */
export function parseEntryBundle(bytes: Uint8Array, width?: number): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 2 > bytes.length) throw new LogError('ERR_LOG_TILE_INVALID', 'entry bundle ends inside an entry length');
    const length = (bytes[offset]! << 8) | bytes[offset + 1]!;
    if (offset + 2 + length > bytes.length) throw new LogError('ERR_LOG_TILE_INVALID', 'entry bundle ends inside an entry');
    entries.push(bytes.slice(offset + 2, offset + 2 + length));
    offset += 2 + length;
    if (entries.length > TILE_WIDTH) throw new LogError('ERR_LOG_TILE_INVALID', 'entry bundle holds more than 256 entries');
  }
  if (entries.length === 0) throw new LogError('ERR_LOG_TILE_INVALID', 'entry bundle is empty');
  if (width !== undefined && entries.length !== width) throw new LogError('ERR_LOG_TILE_INVALID', 'entry bundle does not hold as many entries as its width');
  return entries;
}
