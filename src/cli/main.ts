/** `runprint`: the command line. Parses the command, runs it, and maps every error to one line and an exit code. */
import { RunprintError } from '../errors.ts';
import { EXIT, type CliIo } from './io.ts';
import { formatUsage } from './usage.ts';
import { runprintVersion } from './version.ts';

type Command = (args: string[], io: CliIo) => Promise<number>;

/**
 * Each command's module is loaded only when that command runs, so `runprint id` does not pay for
 * the log's storage, the HTTP server or the model hashing pool at start-up.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  canon: async () => (await import('./identity-commands.ts')).canonCommand,
  id: async () => (await import('./identity-commands.ts')).idCommand,
  explain: async () => (await import('./identity-commands.ts')).explainCommand,
  diff: async () => (await import('./identity-commands.ts')).diffCommand,
  'model-digest': async () => (await import('./model-digest-command.ts')).modelDigestCommand,
  serve: async () => (await import('./serve-command.ts')).serveCommand,
  keygen: async () => (await import('./keygen-command.ts')).keygenCommand,
  sign: async () => (await import('./sign-command.ts')).signCommand,
  verify: async () => (await import('./verify-command.ts')).verifyCommand,
  disclose: async () => (await import('./disclose-command.ts')).discloseCommand,
  log: async () => (await import('./log-command.ts')).logCommand,
};

/** The command names the dispatcher knows (the first word of every form in usage.ts). */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** `runprint help`, printed from the usage definitions of usage.ts. */
export const USAGE = formatUsage();

const VERIFICATION_FAILURES = new Set<string>([
  'ERR_SIGNATURE_INVALID',
  'ERR_SIGNATURE_UNKNOWN_KEY',
  'ERR_IDENTITY_MISMATCH',
  'ERR_OUTPUT_MISMATCH',
  'ERR_DISCLOSURE_MISMATCH',
  'ERR_LOG_ENTRY_NOT_FOUND',
  'ERR_LOG_FORK',
  'ERR_LOG_REWRITE',
  'ERR_LOG_DROPPED',
]);

const IO_FAILURES = new Set<string>([
  'ERR_HTTP_LISTEN',
  'ERR_MODEL_NOT_FOUND',
  'ERR_MODEL_UNREADABLE',
  'ERR_FILE_EXISTS',
  'ERR_FILE_UNWRITABLE',
  'ERR_LOG_UNREACHABLE',
  'ERR_WITNESS_UNREACHABLE',
  'ERR_STORE_UNAVAILABLE',
  'ERR_STORE_NO_SPACE',
  'ERR_STORE_READ_ONLY',
  'ERR_STORE_PERMISSION',
  'ERR_STORE_LOCKED',
]);

/** Exit code for an error of each kind (README, "Exit codes"). */
export function exitCodeFor(error: RunprintError): number {
  if (error.code === 'ERR_CLI_USAGE') return EXIT.usage;
  if (VERIFICATION_FAILURES.has(error.code)) return EXIT.differs;
  if (error.code.startsWith('ERR_INPUT_') || IO_FAILURES.has(error.code)) return EXIT.io;
  if (error.code === 'ERR_INTERNAL') return EXIT.internal;
  return EXIT.input;
}

/** Runs one command line against `io`; returns the exit code and never throws. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout)(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout(`${await runprintVersion()}\n`);
    return EXIT.ok;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    const closest = closestName(name, COMMAND_NAMES);
    const hint = closest === undefined ? '; run "runprint help"' : `; did you mean "${closest}"? (run "runprint help")`;
    io.stderr(`runprint: ERR_CLI_USAGE: unknown command "${printable(name)}"${hint}\n`);
    return EXIT.usage;
  }
  try {
    return await (await load())(args, io);
  } catch (error) {
    if (error instanceof RunprintError) {
      io.stderr(`runprint: ${error.toLine()}\n`);
      return exitCodeFor(error);
    }
    // Never a stack trace, never the content that was being processed.
    io.stderr(`runprint: ERR_INTERNAL: unexpected failure (${error instanceof Error ? error.name : typeof error})\n`);
    return EXIT.internal;
  }
}

/** A command-line word as it may be echoed: at most 40 characters, control characters escaped. */
function printable(word: string): string {
  const cut = [...word].slice(0, 40).join('');
  return JSON.stringify(cut).slice(1, -1) + (cut.length < word.length ? '…' : '');
}

/** Levenshtein distance, for suggesting the name nearest to a mistyped one. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known name nearest to `word`, when it is near enough to be a typo (at most a third of it differs). */
export function closestName(word: string, names: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = distance(word.toLowerCase(), name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return bestDistance <= Math.max(1, Math.floor(Math.max(word.length, (best ?? '').length) / 3)) ? best : undefined;
}

/** The process entry point used by bin/runprint.js. */
export async function main(argv: string[]): Promise<number> {
  const io: CliIo = {
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    cwd: process.cwd(),
  };
  return run(argv, io);
}
