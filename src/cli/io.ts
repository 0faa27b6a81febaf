/** The streams a CLI command talks to, so tests can run commands without a child process. */

export interface CliIo {
  /**
   * Reads all of standard input. Given `maxBytes`, it stops as soon as more than that has come and
   * gives undefined, so an endless pipe is never held whole.
   */
  readStdin(maxBytes?: number): Promise<Uint8Array | undefined>;
  /** Writes to standard output exactly what is given. */
  stdout(text: string | Uint8Array): void;
  /** Writes to standard error exactly what is given. */
  stderr(text: string): void;
  /** True when standard error is a terminal (progress bars go there, and only then). */
  stderrIsTTY: boolean;
  /** True when standard input is a terminal: a command that would read a document from it prints its usage instead. */
  stdinIsTTY?: boolean;
  /** Working directory against which relative paths are resolved. */
  cwd: string;
}

/** Exit codes of `runprint` (README, "Exit codes"). */
export const EXIT = {
  ok: 0,
  /** `diff`: the identities differ. Later: a verification that fails. */
  differs: 1,
  /** The command line is wrong. */
  usage: 2,
  /** The input is not acceptable (bad JSON, bad composition, bad request). */
  input: 3,
  /** A file could not be read or written. */
  io: 4,
  /** A bug in runprint; reported without a stack trace. */
  internal: 70,
} as const;
