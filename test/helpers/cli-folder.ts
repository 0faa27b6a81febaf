/** A temporary folder to run CLI commands in, through `run()` with an in-memory CliIo (no child process). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io.ts';
import { run } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliFolder {
  folder: string;
  /** Writes a file in the folder and returns its absolute path. */
  file(name: string, content: string | Uint8Array): string;
  /** Runs `runprint ARGV` in the folder with `stdin` as standard input. */
  cli(argv: string[], stdin?: string): Promise<CliResult>;
}

export function cliFolder(prefix: string): CliFolder {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  return {
    folder,
    file(name, content) {
      const path = join(folder, name);
      writeFileSync(path, content);
      return path;
    },
    async cli(argv, stdin = '') {
      let stdout = '';
      let stderr = '';
      const io: CliIo = {
        readStdin: async () => new TextEncoder().encode(stdin),
        stdout: (text) => void (stdout += typeof text === 'string' ? text : new TextDecoder().decode(text)),
        stderr: (text) => void (stderr += text),
        stderrIsTTY: false,
        cwd: folder,
      };
      return { code: await run(argv, io), stdout, stderr };
    },
  };
}
