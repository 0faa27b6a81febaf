/** Options shared by the `runprint log` commands and `verify --log-proof`: log URLs, log and witness keys, proof files. */
import { stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { InputError, UsageError } from '../errors.ts';
import { logPrefix } from '../log/client.ts';
import { parseCosignerKey } from '../log/cosignature.ts';
import { parseNoteVerifier } from '../log/note-keys.ts';
import { withSignerWording, type NoteVerifier, type UnknownSignerWording } from '../log/note.ts';
import { logKeyGivenAs } from '../receipt/log-proof-check.ts';
import type { CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { checkWritable, unwritable } from './output-file.ts';
import { fileName, readInput } from './read-input.ts';

export function logUsageError(message: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', message);
}

/** parseArgs for one `runprint log` command (`log submit`): positionals allowed, any unknown option a usage error naming it. */
export function parseLogArgs<const O extends ParseArgsOptionsConfig>(command: string, args: string[], options: O) {
  return parseCommandLine(command, args, options);
}

/**
 * A signed-note verifier key given on the command line: `<name>+<8 hex digits>+<base64>` is the
 * key itself; anything else names a file holding one (`-` for standard input).
 */
const INLINE_VKEY = /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+={0,2}$/;

/** True when the option value is a verifier key itself rather than the name of a file holding one. */
export function isInlineVerifierKey(value: string): boolean {
  return INLINE_VKEY.test(value);
}

async function verifierKeyText(value: string, io: CliIo): Promise<string> {
  return isInlineVerifierKey(value) ? value : new TextDecoder().decode(await readInput(value, io)).trim();
}

/** The log's verifier key (`runprint serve` prints it; `GET /v1/log/key` serves it): the key, or a file holding it. */
export async function readLogKey(value: string, io: CliIo): Promise<NoteVerifier> {
  return parseNoteVerifier(await verifierKeyText(value, io));
}

/** What to do when --key did not sign a checkpoint the log served: the verifier key is the log's own, checked out of band. */
export const GIVE_LOG_KEY = logKeyGivenAs('--key').remedy;

/**
 * `work`, with a checkpoint that --key did not sign named in the command's words (which
 * checkpoint, and what to do), keeping ERR_LOG_NOTE_SIGNATURE.
 */
export function naming<T>(wording: UnknownSignerWording, work: () => Promise<T>): Promise<T> {
  return withSignerWording({ keys: '--key', ...wording }, work);
}

/** A witness's cosignature/v1 verifier key (type 0x04): the key, or a file holding it. */
export async function readWitnessKey(value: string, io: CliIo): Promise<NoteVerifier> {
  return parseCosignerKey(await verifierKeyText(value, io));
}

/** The prefix URL of a log, or a usage error. */
export function logUrl(url: string): URL {
  try {
    return logPrefix(url);
  } catch (error) {
    throw logUsageError(error instanceof RangeError && error.message.includes('/v1/log/') ? `the ${error.message}` : 'the log URL must be an absolute http or https URL');
  }
}

function fileExists(name: string): InputError {
  return new InputError('ERR_FILE_EXISTS', `file already exists, refusing to overwrite it: ${fileName(name)}`);
}

/**
 * Fails with ERR_FILE_EXISTS when FILE is already there, or ERR_FILE_UNWRITABLE when it is a
 * directory or could not be made (its folder not there, a file, or not writable): checked before
 * any work whose result would be lost (a receipt submitted to the log).
 */
export async function refuseExisting(name: string, io: CliIo): Promise<void> {
  let directory: boolean;
  try {
    directory = (await stat(resolve(io.cwd, name))).isDirectory();
  } catch {
    await checkWritable(name, io);
    return;
  }
  throw directory ? unwritable(name, { code: 'EISDIR' }) : fileExists(name);
}

/** Writes a new file; never replaces one that exists (ERR_FILE_EXISTS), even one created meanwhile. */
export async function writeNewFile(name: string, text: string, io: CliIo): Promise<void> {
  try {
    await writeFile(resolve(io.cwd, name), text, { flag: 'wx' });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw unwritable(name, error);
    await refuseExisting(name, io);
    throw fileExists(name);
  }
}
