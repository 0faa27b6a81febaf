/** Reading a CLI input document from a file or standard input, with stable errors that name the file. */
import { readFile, stat } from 'node:fs/promises';
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

/** Reads FILE, or standard input when the name is `-` or absent (refused when standard input is a terminal). */
export async function readInput(name: string | undefined, io: CliIo): Promise<Uint8Array> {
  if (name === undefined || name === '-') {
    if (io.stdinIsTTY === true) throw new TerminalInputError();
    const bytes = await io.readStdin();
    if (bytes.length > MAX_INPUT_BYTES) throw tooLarge('standard input');
    return bytes;
  }
  const path = resolve(io.cwd, name);
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new InputError('ERR_INPUT_UNREADABLE', `a directory, not a file: ${fileName(name)}`);
    if (info.size > MAX_INPUT_BYTES) throw tooLarge(fileName(name));
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if (error instanceof InputError || error instanceof JsonError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError('ERR_INPUT_NOT_FOUND', `no such file: ${fileName(name)}`);
    throw new InputError('ERR_INPUT_UNREADABLE', `cannot read file: ${fileName(name)}`);
  }
}

function tooLarge(what: string): JsonError {
  return new JsonError('ERR_JSON_TOO_LARGE', `input is larger than ${MAX_INPUT_BYTES} bytes: ${what}`);
}

/** A file name as the user gave it, safe to print: cut to 80 characters, control characters escaped. */
export function fileName(name: string): string {
  return printable(name, 80);
}
