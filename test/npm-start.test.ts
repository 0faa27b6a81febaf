/**
 * README's first command runs `npm start` in the foreground: stopping npm (SIGTERM, or Ctrl-C's
 * SIGINT) stops the service too, leaving no server behind that still holds the port and the log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;

function healthz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (incoming) => {
      incoming.resume();
      incoming.on('end', () => resolve(incoming.statusCode === 200));
    });
    outgoing.on('error', () => resolve(false));
    outgoing.end();
  });
}

/** Processes started with this data directory in their environment (Linux /proc): what a stop left behind. */
function leftBehind(data: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`RUNPRINT_DATA=${data}`)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile, or is not ours to read
    }
  }
  return pids;
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to npm start stops the server it started`, { timeout: 60_000 }, async () => {
    const data = mkdtempSync(join(tmpdir(), 'runprint-start-'));
    // Standard error goes to a file, not a pipe, so a server left behind holds nothing of this test's.
    const log = join(data, 'stderr.txt');
    const fd = openSync(log, 'w');
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, RUNPRINT_DATA: data, RUNPRINT_PORT: '0' },
      stdio: ['ignore', 'ignore', fd],
    });
    closeSync(fd);
    let port = 0;
    for (let attempt = 0; attempt < 300 && port === 0; attempt++) {
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(log, 'utf8'));
      if (match !== null) port = Number(match[1]);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.notEqual(port, 0, `npm start did not start listening: ${readFileSync(log, 'utf8')}`);
    assert.equal(await healthz(port), true, 'the service answers before the signal');
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    npm.kill(signal);
    await exited;
    // The server must be gone too, not orphaned: its port stops answering.
    let answering = true;
    for (let attempt = 0; attempt < 100 && answering; attempt++) {
      answering = await healthz(port);
      if (answering) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const orphans = leftBehind(data);
    for (const pid of orphans) process.kill(pid, 'SIGKILL');
    assert.equal(answering, false, `the server on port ${port} still answers after npm ended`);
    assert.deepEqual(orphans, [], 'no process of this npm start is left');
  });
}
