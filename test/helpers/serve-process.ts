/**
 * Spawns a real `runprint serve` process for tests: reads its port and log key from stderr, and
 * stops or kills it. Every process started here is remembered until it exits, so a test file's
 * `after(killServeProcesses)` leaves none behind, whatever failed.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const RUNPRINT_BIN = fileURLToPath(new URL('../../bin/runprint.js', import.meta.url));

export interface ServeOptions {
  /** The data directory (--data). */
  data: string;
  /** The log's write token (--log-token). */
  token?: string;
  /** Further `serve` arguments. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Longest wait for the "listening" and "log" lines, in ms (default 20 s). */
  startTimeoutMs?: number;
}

export interface ServeProcess {
  readonly pid: number;
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly base: string;
  readonly port: number;
  /** The log's verifier key as `runprint: log <vkey>` printed it. */
  readonly key: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGKILL: no cleanup in the process. Resolves once it has exited. */
  kill(): Promise<number | string>;
  /** SIGTERM: a clean stop. Resolves with the exit code. */
  stop(): Promise<number | string>;
}

const live = new Set<ChildProcessByStdio<null, null, Readable>>();

/** Starts `runprint serve --port 0 --data DIR` with the project's Node and waits until it listens. */
export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  // serve takes each of these once: a test's own --host or --port replaces the default.
  const gives = (name: string) => (options.args ?? []).some((arg) => arg === name || arg.startsWith(`${name}=`));
  const args = [RUNPRINT_BIN, 'serve', ...(gives('--host') ? [] : ['--host', '127.0.0.1']), ...(gives('--port') ? [] : ['--port', '0']), '--data', options.data];
  if (options.token !== undefined) args.push('--log-token', options.token);
  args.push(...(options.args ?? []));
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  // Only what the test passes configures the log.
  for (const name of ['RUNPRINT_HOST', 'RUNPRINT_PORT', 'RUNPRINT_DATA', 'RUNPRINT_LOG_TOKEN', 'RUNPRINT_LOG_DB', 'RUNPRINT_LOG_KEY', 'RUNPRINT_LOG_NAME']) {
    if (options.env?.[name] === undefined) delete env[name];
  }
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const timeout = options.startTimeoutMs ?? 20_000;
  let port: number;
  let key: string;
  try {
    [port, key] = await new Promise<[number, string]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`runprint serve did not start within ${timeout} ms; stderr:\n${stderr}`)), timeout);
      const check = () => {
        const listening = /runprint: listening on http:\/\/127\.0\.0\.1:([0-9]+)/.exec(stderr);
        const log = /^runprint: log (\S+)$/m.exec(stderr);
        if (listening !== null && log !== null) {
          clearTimeout(timer);
          resolve([Number(listening[1]), log[1]!]);
        }
      };
      child.stderr.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`runprint serve exited (${code}) before it listened; stderr:\n${stderr}`));
      });
      check();
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return exited;
  };
  return {
    pid: child.pid!,
    base: `http://127.0.0.1:${port}`,
    port,
    key,
    stderr: () => stderr,
    exited,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}

/** SIGKILLs every serve process started here that is still running, and waits for each to exit. */
export async function killServeProcesses(): Promise<void> {
  const waits = [...live].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

/** Runs `runprint ARGS` with the project's Node to its end: exit code, stdout and stderr. */
export function runRunprint(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNPRINT_BIN, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeout = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runprint ${args.join(' ')} did not finish within ${timeout} ms; stderr:\n${stderr}`));
    }, timeout);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}
