import { spawn } from 'node:child_process';
import { RUNPRINT_BIN } from './serve-process.ts';

/**
 * Runs a command as a process that file modes apply to. Root reads and writes every file whatever
 * its mode, so as root the command runs as root with every capability dropped (util-linux
 * setpriv): still uid 0, it reaches wherever the checkout and the test's files are (a clone in a
 * directory only its owner may enter, say), but a file with mode 000 or 0444 is as closed to it
 * as to any user. As any other user it runs as it is.
 */
export function unprivileged(command: string, args: string[]): { command: string; args: string[] } {
  if (process.getuid?.() !== 0) return { command, args };
  return { command: 'setpriv', args: ['--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--', command, ...args] };
}

/** `runprint ARGS` as such a process (in `cwd` when given): its exit code, standard output and standard error. */
export function runprintUnprivileged(args: string[], cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runUnprivileged(process.execPath, [RUNPRINT_BIN, ...args], cwd);
}

/** `command ARGS` as such a process (in `cwd` when given): its exit code, standard output and standard error. */
export function runUnprivileged(command: string, args: string[], cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { command: run, args: argv } = unprivileged(command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(run, argv, { ...(cwd === undefined ? {} : { cwd }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
