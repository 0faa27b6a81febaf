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

export const USAGE = `usage: runprint <command> [options]

commands:
  canon [FILE|-]                      print the RFC 8785 canonical bytes of a JSON document
  id [FILE|-] [--from F] [--response FILE] [--json]
                                      print the identity (--json: the identity document)
  explain [FILE|-] [--from F] [--response FILE]
                                      show components and elements with their digests
  diff A B [--from F]                 exit 0 when the identities are equal, 1 when not
  model-digest PATH [--json] [--method files|shards] [--shard-size N] [--allow-symlinks]
                                      OpenSSF Model Signing v1.0 digest of a file or directory
  serve [--host H] [--port N] [--data DIR] [--log-name NAME] [--log-key KEY]
        [--log-token T] [--log-anonymous-writes] [--log-db URL] [--no-log]
        [--log-witness URL=VKEY]... [--log-witness-timeout MS]
        [--witness-key KEY --witness-name NAME --witness-log VKEY...]
                                      run the HTTP service and its log (default 127.0.0.1:8480);
                                      --log-db: PostgreSQL instead of <data>/log.sqlite;
                                      --log-witness: ask a witness to cosign each checkpoint;
                                      --witness-*: also cosign other logs' checkpoints
  keygen [--out DIR] [--name NAME]    new Ed25519 receipt key: private PEM, public PEM, JWK, vkey
  sign --key KEY --composition FILE --output FILE [--from F] [--started T --finished T]
       [--capture cli|sdk|proxy] [--parent RUNID]... [--out FILE] [--bundle FILE]
  sign --add-to RECEIPT --key KEY [--out FILE]
                                      sign a receipt (DSSE envelope JSON), or add a signature
  verify RECEIPT --key PUB [--key PUB]... [--composition FILE] [--output FILE] [--json]
         [--log-proof FILE --log-key VKEY [--log-origin O] [--witness VKEY]... [--witness-threshold K]]
                                      check a receipt offline; exit 0 when every check passes
                                      (--log-proof: and its tlog-proof, with at least K of the
                                      witnesses cosigning; K defaults to all of them)
  disclose salts --components NAME[,NAME]...
                                      fresh random salts for the named components (JSON)
  disclose create --composition FILE [--from F] [--salts FILE] [--output FILE]
       --reveal PART [--reveal PART]... [--out FILE]
                                      reveal chosen components (system) or elements (input[2])
  disclose verify DISCLOSURE --receipt RECEIPT --key PUB [--json]
                                      check the receipt, then the disclosure against it
  log submit RECEIPT --log URL [--token T] [--proof-out FILE --key LOGKEY.vkey]
                                      add a receipt to a log; prints its index and leafHash
                                      (--proof-out: save its verified tlog-proof to a new FILE)
  log proof RECEIPT --log URL --key LOGKEY.vkey [--index N] [--json] [--out FILE]
                                      a C2SP tlog-proof of the receipt, proved from the log's tiles
  log monitor URL --key LOGKEY.vkey [--state FILE] [--once] [--interval S]
                                      follow a log; exit 1 on a fork, a rewrite or a dropped entry

F is auto, composition, openai-chat, openai-responses or anthropic-messages (default auto).
`;

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
