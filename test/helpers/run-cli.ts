/** Runs one runprint command line in this process (the real CLI, `run` of src/cli/main.ts) and collects what it printed. */
import { tmpdir } from 'node:os';
import { run } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `argv` as `runprint` would get it, with an empty stdin; `cwd` default the temporary directory; `tty` says stderr is a terminal. */
export async function runCliInProcess(argv: string[], options: { cwd?: string; tty?: boolean } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    readStdin: async () => new Uint8Array(0),
    stdout: (text) => void (stdout += typeof text === 'string' ? text : new TextDecoder().decode(text)),
    stderr: (text) => void (stderr += text),
    stderrIsTTY: options.tty ?? false,
    cwd: options.cwd ?? tmpdir(),
  });
  return { code, stdout, stderr };
}
