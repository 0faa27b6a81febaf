/**
 * `runprint` run as a user runs it: a process of bin/runprint.js of its own, in a new scratch
 * folder, with none of runprint's environment variables but those given, and standard input
 * given (empty by default); and a data directory of stored runs for it to read.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { defaultContentPolicy, runToStore } from '../../src/store/run-storage.ts';
import { SqliteRuns } from '../../src/store/sqlite-runs.ts';
import type { ScratchFolders } from './scratch.ts';
import { RUNPRINT_BIN } from './serve-process.ts';
import { chatRun } from './stored-runs.ts';

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `runprint ARGS` in a folder of `scratch`; its exit code and output. */
export function runprintChild(scratch: ScratchFolders, args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<ChildResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('RUNPRINT_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNPRINT_BIN, ...args], { cwd: scratch.tempDir(), env: { ...env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** A data directory of `scratch` whose runs.sqlite holds two chat runs of the system prompt "Be brief."; their capture ids. */
export async function dataWithTwoRuns(scratch: ScratchFolders): Promise<{ data: string; ids: string[] }> {
  const data = scratch.tempDir();
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    const runs = ['Name a colour.', 'Name a river.'].map((user) => chatRun(user, 'Be brief.'));
    await store.put(runs.map(({ run, bytes }) => runToStore(run, bytes, defaultContentPolicy(), 'proxy', true)));
    return { data, ids: runs.map(({ run }) => run.record.captureId) };
  } finally {
    await store.close();
  }
}
