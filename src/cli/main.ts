/** `runprint`: the command line. Parses the command, runs it, and maps every error to one line and an exit code. */
import { RunprintError } from '../errors.ts';
import { EXIT, type CliIo } from './io.ts';
import { formatCommandHelp, formatUsage, formsOf } from './usage.ts';
import { runprintVersion } from './version.ts';
import { TerminalInputError } from './read-input.ts';
import { closestName } from '../io/closest-name.ts';
import { negativeValuesJoined } from './parse-options.ts';
import { printable } from '../io/printable.ts';

export { closestName };

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
  show: async () => (await import('./show-command.ts')).showCommand,
  disclose: async () => (await import('./disclose-command.ts')).discloseCommand,
  log: async () => (await import('./log-command.ts')).logCommand,
  runs: async () => (await import('./runs-command.ts')).runsCommand,
  replay: async () => (await import('./replay-command.ts')).replayCommand,
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
  // A log store of another log than serve's options name (--log-name, --log-key): the options are
  // wrong, not the store, so it exits as a wrong command line does, not as a corrupt store (3).
  if (error.code === 'ERR_CLI_USAGE' || error.code === 'ERR_LOG_CONFIG_MISMATCH') return EXIT.usage;
  if (VERIFICATION_FAILURES.has(error.code)) return EXIT.differs;
  if (error.code.startsWith('ERR_INPUT_') || IO_FAILURES.has(error.code)) return EXIT.io;
  if (error.code === 'ERR_INTERNAL') return EXIT.internal;
  return EXIT.input;
}

/** Runs one command line against `io`; returns the exit code and never throws. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  // `runprint help help` is the general help, as `runprint help` is.
  if (name === 'help' && args.length > 0 && args[0] !== 'help') return help(args, io);
  if (name === 'help' || name === '--help' || name === '-h') {
    io.stdout(USAGE);
    return EXIT.ok;
  }
  if (name === undefined) {
    // No command: a usage error like any other, said in one line before the usage.
    io.stderr(`runprint: ERR_CLI_USAGE: no command given\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    if (args.length > 0) {
      io.stderr(`runprint: ERR_CLI_USAGE: ${printable(name, 40)} takes nothing after it, not "${printable(args[0]!, 40)}"\n`);
      return EXIT.usage;
    }
    io.stdout(`${await runprintVersion()}\n`);
    return EXIT.ok;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) return unknownCommand(name, io);
  if (asksForHelp(args)) return help([name, ...args.slice(0, 1)], io);
  try {
    return await (await load())(negativeValuesJoined(args, takesValue(helpWords(name, args[0]))), io);
  } catch (error) {
    if (error instanceof RunprintError) {
      io.stderr(`runprint: ${error.toLine()}\n`);
      if (error instanceof TerminalInputError) io.stderr(`\n${formatCommandHelp(helpWords(name, args[0]))!}`);
      return exitCodeFor(error);
    }
    // Never a stack trace, never the content that was being processed.
    io.stderr(`runprint: ERR_INTERNAL: unexpected failure (${error instanceof Error ? error.name : typeof error})\n`);
    return EXIT.internal;
  }
}

function unknownCommand(name: string, io: CliIo): number {
  const closest = closestName(name, COMMAND_NAMES);
  const hint = closest === undefined ? '; run "runprint help"' : `; did you mean "${closest}"? (run "runprint help")`;
  io.stderr(`runprint: ERR_CLI_USAGE: unknown command "${printable(name, 40)}"${hint}\n`);
  return EXIT.usage;
}

/** `--help` or `-h` anywhere before `--`: the command's help, whatever else the line holds. */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** `runprint help COMMAND [SUBCOMMAND]` and `COMMAND [SUBCOMMAND] --help`: from the usage definitions. */
function help(words: readonly string[], io: CliIo): number {
  const [name, next] = words;
  if (name === undefined || !Object.hasOwn(COMMANDS, name)) return unknownCommand(name ?? '', io);
  io.stdout(formatCommandHelp(helpWords(name, next))!);
  return EXIT.ok;
}

/**
 * Whether an option of the command `words` takes a value, from its usage definitions. With it every
 * command line gets a negative value joined to its option (`--port -1` as `--port=-1`), also for
 * the commands with a parser of their own (serve's, model-digest's): the option's own check then
 * refuses the value.
 */
function takesValue(words: string): (name: string) => boolean {
  const options = new Set(formsOf(words).flatMap((form) => form.options.filter((option) => option.value !== undefined).map((option) => option.name)));
  return (name) => options.has(name);
}

/** The words help is printed for: the command, with its subcommand when `next` is one (`log proof`). */
function helpWords(name: string, next: string | undefined): string {
  return next !== undefined && formsOf(`${name} ${next}`).length > 0 ? `${name} ${next}` : name;
}

/**
 * What a failed write to standard output or error does, so none becomes an unhandled 'error' event
 * with a stack trace. Standard output closed by its reader (EPIPE: `runprint runs list | head`):
 * stop at once, quietly, with exit 0 (the reader has what it wanted). Any other failure (a full
 * disk behind `> file`): one line on standard error, exit 4.
 * Standard error closed or failing: nothing more is written there; the command goes on.
 */
function guardOutput(stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream, exit: (code: number) => void): { stderrOpen: () => boolean } {
  let stderrOpen = true;
  stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && stderrOpen) stderr.write(`runprint: ERR_FILE_UNWRITABLE: standard output cannot be written (${error.code ?? error.name})\n`);
    exit(error.code === 'EPIPE' ? EXIT.ok : EXIT.io);
  });
  stderr.on('error', () => {
    stderrOpen = false;
  });
  return { stderrOpen: () => stderrOpen };
}

/** The process entry point used by bin/runprint.js. */
export async function main(argv: string[]): Promise<number> {
  const output = guardOutput(process.stdout, process.stderr, (code) => process.exit(code));
  const io: CliIo = {
    readStdin: async (maxBytes = Infinity) => {
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of process.stdin) {
        chunks.push(chunk as Buffer);
        length += (chunk as Buffer).length;
        // Leaving the loop destroys the stream: the rest of an endless pipe is never read.
        if (length > maxBytes) return undefined;
      }
      return new Uint8Array(Buffer.concat(chunks, length));
    },
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void (output.stderrOpen() && process.stderr.write(text)),
    stderrIsTTY: process.stderr.isTTY === true,
    stdinIsTTY: process.stdin.isTTY === true,
    cwd: process.cwd(),
  };
  return run(argv, io);
}
