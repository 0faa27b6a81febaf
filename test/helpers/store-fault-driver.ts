/**
 * Run by test/store-faults.test.ts as `unshare --map-root-user --mount node store-fault-driver.ts
 * SCENARIO DIR`: inside its own user and mount namespace it may mount a small tmpfs over DIR (a
 * real full disk) or bind DIR read-only, and nothing it mounts outlives it. Prints one JSON line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/cli/main.ts';
import { hashLeaf } from '../../src/merkle/rfc6962.ts';
import { generateKeyFiles, parsePrivateKey } from '../../src/keys/keys.ts';
import { DEFAULT_LOG_NAME, TransparencyLog } from '../../src/store/log-service.ts';
import { SqliteLog } from '../../src/store/sqlite-log.ts';
import { RUNPRINT_BIN } from './serve-process.ts';

const [scenario, dir] = process.argv.slice(2) as [string, string];
const entry = (n: number) => new TextEncoder().encode(`entry ${n} ${'x'.repeat(200)}`);

/** `runprint serve` in this process, expected to fail: its exit code and stderr (or "started" if it listens). */
async function serveFails(data: string): Promise<{ code: number | string; stderr: string }> {
  let stderr = '';
  const io = { readStdin: async () => new Uint8Array(), stdout: () => undefined, stderr: (text: string) => void (stderr += text), stderrIsTTY: false, cwd: dir };
  const started = new Promise<'started'>((resolve) => setTimeout(() => resolve('started'), 20_000).unref());
  const code = await Promise.race([run(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data], io), started]);
  return { code, stderr };
}

/** A real `runprint serve` child, stopped once it listens: whether it did, and its stderr. */
function serveStarts(data: string): Promise<{ started: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (/^runprint: log /m.test(stderr)) child.kill('SIGTERM');
    });
    child.once('exit', () => resolve({ started: /^runprint: log /m.test(stderr), stderr }));
  });
}

/** Writes until the file system is full. */
function fill(path: string): void {
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeFileSync(path, chunk, { flag: 'a' });
  } catch {
    for (let size = 4096; size >= 1; size >>= 1) {
      try {
        for (;;) writeFileSync(path, chunk.subarray(0, size), { flag: 'a' });
      } catch {
        // Smaller writes fill what is left.
      }
    }
  }
}

/** A log of 20 signed entries and 5 acknowledged ones no checkpoint covers yet (as a process killed before signing leaves them). */
async function makeLog(data: string): Promise<void> {
  mkdirSync(data, { mode: 0o700 });
  const pem = (await generateKeyFiles(DEFAULT_LOG_NAME)).privateKeyPem;
  writeFileSync(join(data, 'log-key.pem'), pem, { mode: 0o600 });
  const key = await parsePrivateKey(pem);
  const log = await TransparencyLog.open({ storage: SqliteLog.open(join(data, 'log.sqlite')), origin: DEFAULT_LOG_NAME, key });
  for (let n = 0; n < 20; n++) await log.append(entry(n));
  await log.close();
  const storage = SqliteLog.open(join(data, 'log.sqlite'));
  await storage.append([20, 21, 22, 23, 24].map((n) => ({ entry: entry(n), leafHash: hashLeaf(entry(n)) })));
  await storage.close();
}

/** Opens the log again and reports its checkpoint size and whether every entry is the one appended. */
async function reopen(data: string): Promise<{ size: number; entriesIntact: boolean }> {
  const key = await parsePrivateKey(readFileSync(join(data, 'log-key.pem'), 'utf8'));
  const log = await TransparencyLog.open({ storage: SqliteLog.open(join(data, 'log.sqlite')), origin: DEFAULT_LOG_NAME, key, check: 'full' });
  const size = (await log.checkpoint()).size;
  await log.close();
  const storage = SqliteLog.open(join(data, 'log.sqlite'));
  const stored = await storage.entries(0, size);
  await storage.close();
  const decoder = new TextDecoder();
  return { size, entriesIntact: stored.every((bytes, n) => decoder.decode(bytes) === decoder.decode(entry(n))) };
}

const out: Record<string, unknown> = { scenario };
if (scenario === 'full-disk') {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  // First start on a full disk: the log key cannot be written, and nothing is left in its place.
  const fresh = join(dir, 'fresh');
  mkdirSync(fresh, { mode: 0o700 });
  const restart = join(dir, 'restart');
  await makeLog(restart);
  fill(join(dir, 'fill'));
  out.firstStart = await serveFails(fresh);
  out.freshFiles = readdirSync(fresh);
  // Restart on the full disk: the stored log is intact, and a write (the -shm file, the checkpoint) fails.
  out.restart = await serveFails(restart);
  rmSync(join(dir, 'fill'));
  out.afterRestart = await reopen(restart);
  out.secondStart = await serveStarts(fresh);
  out.freshKeyMode = statSync(join(fresh, 'log-key.pem')).mode & 0o777;
} else if (scenario === 'read-only') {
  const data = join(dir, 'data');
  await makeLog(data);
  execFileSync('mount', ['--bind', dir, dir]);
  execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
  out.readOnly = await serveFails(data);
  execFileSync('umount', [dir]);
  out.afterReadOnly = await reopen(data);
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
