/**
 * Files read whole with a bound: a device or a pipe named as a file (/dev/zero) is not read
 * without end. Node side (node:fs).
 */
import { open, type FileHandle } from 'node:fs/promises';

/** Most bytes of a small file runprint reads whole (a key file, a monitor's state): 1 MiB. */
export const MAX_SMALL_FILE_BYTES = 1024 * 1024;

/**
 * A file's bytes, read to at most `limit` bytes (by default a small file's: a key, a state file):
 * a device or a pipe named as a file (/dev/zero) is not read without end. Throws the file system's
 * error as it is (the caller names it; EISDIR for a directory) and, past `limit`, an Error with
 * code `ETOOBIG`.
 */
export async function readFileAtMost(path: string, limit = MAX_SMALL_FILE_BYTES): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat();
    // A regular file says its size; a pipe or a device says 0, and only reading tells.
    if (info.isDirectory()) throw Object.assign(new Error(`EISDIR: ${path}`), { code: 'EISDIR' });
    const bytes = info.size > limit ? undefined : await readAtMost(handle, info.isFile() ? info.size : 0, limit);
    if (bytes === undefined) throw Object.assign(new Error(`larger than ${limit} bytes: ${path}`), { code: 'ETOOBIG' });
    return bytes;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Reads `handle` to its end, or gives undefined as soon as more than `limit` bytes have come.
 * `expected` is the size a regular file gave: one buffer of that size plus one byte then sees the
 * end. A pipe or a device is read in pieces of 1 MiB, never past `limit` + 1 bytes in all (nothing
 * is copied until the end is seen, so a refused input costs about `limit` bytes of memory).
 */
async function readAtMost(handle: FileHandle, expected: number, limit: number): Promise<Uint8Array | undefined> {
  const pieces: Buffer[] = [];
  let total = 0;
  let size = Math.min(expected + 1, limit + 1);
  for (;;) {
    const piece = Buffer.allocUnsafe(size);
    let length = 0;
    while (length < piece.length) {
      const { bytesRead } = await handle.read(piece, length, piece.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    pieces.push(piece.subarray(0, length));
    total += length;
    if (total > limit) return undefined;
    if (length < piece.length) break;
    size = Math.min(1024 * 1024, limit + 1 - total);
  }
  const whole = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
  return new Uint8Array(whole.buffer, whole.byteOffset, whole.length);
}
