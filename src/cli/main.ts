/** `runprint`: the command line. Parses the command, runs it, and maps every error to one line and an exit code. */
import { RunprintError } from '../errors.ts';
import { discloseCommand } from './disclose-command.ts';
import { canonCommand, diffCommand, explainCommand, idCommand } from './identity-commands.ts';
import { EXIT, type CliIo } from './io.ts';
import { keygenCommand } from './keygen-command.ts';
import { logCommand } from './log-command.ts';
import { modelDigestCommand } from './model-digest-command.ts';
import { serveCommand } from './serve-command.ts';
import { signCommand } from './sign-command.ts';
import { formatUsage } from './usage.ts';
import { verifyCommand } from './verify-command.ts';

type Command = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  canon: canonCommand,
  id: idCommand,
  explain: explainCommand,
  diff: diffCommand,
  'model-digest': modelDigestCommand,
  serve: serveCommand,
  keygen: keygenCommand,
  sign: signCommand,
  verify: verifyCommand,
  disclose: discloseCommand,
  log: logCommand,
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
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(`runprint: ERR_CLI_USAGE: unknown command; run "runprint help"\n`);
    return EXIT.usage;
  }
  try {
    return await command(args, io);
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
