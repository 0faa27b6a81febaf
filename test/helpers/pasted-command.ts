/**
 * A command a report prints for its reader to run, run as the reader would: copied from the page
 * (its text, entities decoded) and pasted into bash in a folder of its own, with `runprint` the
 * checkout's bin/runprint.js and none of runprint's environment variables but those given.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNPRINT_BIN } from './serve-process.ts';

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/** The text of each `<code>` of `html` that starts with `prefix`, as a browser shows it. */
export function codeTexts(html: string, prefix: string): string[] {
  return [...html.matchAll(/<code>([^<]*)<\/code>/g)].map((match) => match[1]!.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]!)).filter((text) => text.startsWith(prefix));
}

/** `command` pasted into bash in a new empty folder; its exit code and output. */
export function runPasted(command: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const folder = mkdtempSync(join(tmpdir(), 'runprint-pasted-'));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('RUNPRINT_')));
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `runprint() { "$PASTED_NODE" "$PASTED_BIN" "$@"; }\n${command}`], {
      cwd: folder,
      env: { ...clean, ...env, PASTED_NODE: process.execPath, PASTED_BIN: RUNPRINT_BIN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      rmSync(folder, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}
