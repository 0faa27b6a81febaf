/** Reading a CLI input document from a file or standard input, with stable errors that name the file. */
import { resolve } from 'node:path';
import { InputError, JsonError, OutputError, RunprintError, UsageError } from '../errors.ts';
import { isJsonObject, type JsonValue } from '../jcs/json-value.ts';
import { parseJson } from '../jcs/parse.ts';
import type { CliIo } from './io.ts';
import { readFileAtMost } from '../store/small-file.ts';
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
  // The empty name is no file (resolved, it would be the working directory): said as such.
  if (name === '') throw new UsageError('ERR_CLI_USAGE', 'a file name is empty: give a FILE, or - for standard input');
  try {
    return await readFileAtMost(resolve(io.cwd, name), MAX_INPUT_BYTES);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ETOOBIG') throw tooLarge(fileName(name));
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputError('ERR_INPUT_NOT_FOUND', `no such file: ${fileName(name)}`);
    if (code === 'EISDIR') throw new InputError('ERR_INPUT_UNREADABLE', `a directory, not a file: ${fileName(name)}`);
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

/**
 * Names the file an error is about: its message then starts `LABEL FILE: ` (`--response
 * response.json: response "object" is not …`), the file printable and cut as above; its class, code
 * and path stay. Anything that is not a runprint error is left as it is.
 */
export function namingFile(error: unknown, label: string, name: string | undefined): unknown {
  if (!(error instanceof RunprintError)) return error;
  const where = name === undefined || name === '-' ? 'standard input' : fileName(name);
  error.message = `${label}${where}: ${error.message}`;
  return error;
}

/**
 * readInput, then strict JSON: a document that is not (ERR_JSON_*) names the file as namingFile
 * does, `LABEL FILE: message` (`--composition broken.json: JSON text ends …`). A positional FILE
 * (no label) read from standard input is left unnamed, as it always was.
 */
export async function readJsonInput(name: string | undefined, io: CliIo, label = ''): Promise<JsonValue> {
  const bytes = await readInput(name, io);
  try {
    return parseJson(bytes);
  } catch (error) {
    if (!(error instanceof JsonError) || (label === '' && (name === undefined || name === '-'))) throw error;
    if (label === '' && looksLikeEventStream(bytes)) error.message = `${error.message}; this looks like a provider's event stream, not a request (give it with --response)`;
    throw namingFile(error, label, name);
  }
}

/**
 * Runs `read` over the response bytes of `--output FILE`, naming the file in what its bytes fail
 * with (ERR_OUTPUT_*, or ERR_JSON_* for a JSON response that is not strict JSON), as
 * `--output FILE: message`; every other error is left as it is.
 */
export async function readingOutputFile<T>(name: string, read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof OutputError) && !(error instanceof JsonError)) throw error;
    throw namingFile(error, '--output ', name);
  }
}

/** True when bytes begin as a server-sent-event stream does (`data:`, `event:`, `id:`, `retry:` or a `:` comment). */
function looksLikeEventStream(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 16)).replace(/^\uFEFF?[\r\n]*/, '');
  return /^(data|event|id|retry)[:\s]|^:/.test(head);
}

/**
 * True when a document given as a request looks like a provider's response to one: an OpenAI Chat
 * completion (`choices`, `object` "chat.completion"), an OpenAI Responses response (`object`
 * "response" with `output`), or an Anthropic message (`type` "message", `role` "assistant" and a
 * `content` list). Only for a hint: detection never reads values (SPEC 4.5).
 */
export function looksLikeResponse(document: JsonValue): boolean {
  if (!isJsonObject(document)) return false;
  const object = document['object'];
  if (object === 'chat.completion' || object === 'chat.completion.chunk' || Array.isArray(document['choices'])) return true;
  if (object === 'response' && Array.isArray(document['output'])) return true;
  return document['type'] === 'message' && document['role'] === 'assistant' && Array.isArray(document['content']);
}
