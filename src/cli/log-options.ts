/** Options shared by the `runprint log` commands: the log's prefix URL and its verifier key file. */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from '../errors.ts';
import { logPrefix } from '../log/client.ts';
import { parseNoteVerifier } from '../log/note-keys.ts';
import type { NoteVerifier } from '../log/note.ts';
import type { CliIo } from './io.ts';
import { readInput } from './read-input.ts';

export function logUsageError(message: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', message);
}

/** parseArgs for one `runprint log` command: positionals allowed, any unknown option a usage error. */
export function parseLogArgs<const O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch {
    throw logUsageError('unknown option or missing option value; run "runprint log --help"');
  }
}

/** Reads a signed-note verifier key file (`runprint serve` prints it; `GET /v1/log/key` serves it). */
export async function readLogKey(name: string, io: CliIo): Promise<NoteVerifier> {
  return parseNoteVerifier(new TextDecoder().decode(await readInput(name, io)).trim());
}

/** The prefix URL of a log, or a usage error. */
export function logUrl(url: string): URL {
  try {
    return logPrefix(url);
  } catch {
    throw logUsageError('the log URL must be an absolute http or https URL');
  }
}
