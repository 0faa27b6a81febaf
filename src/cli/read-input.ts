/** Reading a CLI input document from a file or standard input, with stable errors that name the file. */
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError, JsonError, UsageError } from '../errors.ts';
import type { CliIo } from './io.ts';
import { printable } from '../io/printable.ts';

/** Largest input document read (SPEC 3.1): 256 MiB. */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * Standard input is a terminal where a document was to be read: nobody is piping one in, and
 * waiting would look like a hang. The dispatcher prints the command's usage after this error.
 */
export class TerminalInputError extends UsageError {
  constructor() {
    super('ERR_CLI_USAGE', 'standard input is a terminal: give a FILE, or pipe the document in');
  }
}

/**
 * Reads FILE, or standard input when the name is `-` or absent (refused when standard input is a
 * terminal). No more than MAX_INPUT_BYTES (and one read's worth) is ever held: a pipe, a FIFO, a
 * process substitution or a device such as /dev/zero that gives more is ERR_JSON_TOO_LARGE as soon
 * as the limit is passed, not after it has all been read.
 */
export async function readInput(name: string | undefined, io: CliIo): Promise<Uint8Array> {
  if (name === undefined || name === '-') {
    if (io.stdinIsTTY === true) throw new TerminalInputError();
    const bytes = await io.readStdin(MAX_INPUT_BYTES);
    if (bytes === undefined || bytes.length > MAX_INPUT_BYTES) throw tooLarge('standard input');
    return bytes;
  }
  const path = resolve(io.cwd, name);
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const info = await handle.stat();
    if (info.isDirectory()) throw new InputError('ERR_INPUT_UNREADABLE', `a directory, not a file: ${fileName(name)}`);
    // A regular file says its size; a pipe or a device says 0, and only reading tells.
    if (info.size > MAX_INPUT_BYTES) throw tooLarge(fileName(name));
    const bytes = await readAtMost(handle, info.isFile() ? info.size : 0, MAX_INPUT_BYTES);
    if (bytes === undefined) throw tooLarge(fileName(name));
    return bytes;
  } catch (error) {
    if (error instanceof InputError || error instanceof JsonError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError('ERR_INPUT_NOT_FOUND', `no such file: ${fileName(name)}`);
    if (code === 'EISDIR') throw new InputError('ERR_INPUT_UNREADABLE', `a directory, not a file: ${fileName(name)}`);
    throw new InputError('ERR_INPUT_UNREADABLE', `cannot read file: ${fileName(name)}`);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Most bytes of a small file runprint reads whole (a key file, a monitor's state): 1 MiB. */
export const MAX_SMALL_FILE_BYTES = 1024 * 1024;

/**
 * A small file's bytes (a key, a state file), read to at most `limit` bytes: a device or a pipe
 * named as one (/dev/zero) is not read without end. Throws the file system's error as it is (the
 * caller names it) and, past `limit`, an Error with code `ETOOBIG`.
 */
export async function readSmallFile(path: string, limit = MAX_SMALL_FILE_BYTES): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat();
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

function tooLarge(what: string): JsonError {
  return new JsonError('ERR_JSON_TOO_LARGE', `input is larger than ${MAX_INPUT_BYTES} bytes: ${what}`);
}

/** A file name as the user gave it, safe to print: cut to 80 characters, control characters escaped. */
export function fileName(name: string): string {
  return printable(name, 80);
}
