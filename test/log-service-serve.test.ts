/** `runprint serve` runs the log: a key made owner-only on first start, the token from the environment, the same log after a restart. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));

async function serve(data: string, env: Record<string, string>): Promise<{ base: string; key: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--data', data], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const lines = await new Promise<string[]>((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (/runprint: log .*\n/.test(stderr)) resolve(stderr.split('\n'));
    });
    child.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  const port = /127\.0\.0\.1:([0-9]+)/.exec(lines[0]!)![1]!;
  const key = lines[1]!.replace('runprint: log ', '');
  return {
    base: `http://127.0.0.1:${port}`,
    key,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

test('runprint serve: default log name, owner-only key, token writes, same log after a restart', async () => {
  const data = await mkdtemp(join(tmpdir(), 'runprint-serve-'));
  try {
    const env = { RUNPRINT_LOG_TOKEN: 'secret-token' };
    const first = await serve(data, env);
    assert.match(first.key, /^localhost\/runprint\+[0-9a-f]{8}\+/);
    assert.equal((await stat(join(data, 'log-key.pem'))).mode & 0o777, 0o600);
    assert.equal(await (await fetch(`${first.base}/v1/log/key`)).text(), `${first.key}\n`);
    const body = JSON.stringify({ payload: 'AAAA', payloadType: 't', signatures: [{ sig: 'AAAA' }] });
    const refused = await fetch(`${first.base}/v1/log/entries`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(refused.status, 401);
    const posted = await fetch(`${first.base}/v1/log/entries`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token' } });
    assert.equal(posted.status, 201);
    assert.equal((await posted.json()).index, 0);
    assert.equal(await first.stop(), 0);

    const second = await serve(data, env);
    try {
      assert.equal(second.key, first.key);
      assert.match(await (await fetch(`${second.base}/checkpoint`)).text(), /^localhost\/runprint\n1\n/);
    } finally {
      await second.stop();
    }
  } finally {
    await rm(data, { recursive: true, force: true });
  }
});

test('runprint serve refuses a log database that is not one, with ERR_STORE_CORRUPT and no socket', async () => {
  const data = await mkdtemp(join(tmpdir(), 'runprint-serve-'));
  try {
    // Owner-only, as runprint makes it: a mode that lets others read it would add a warning line.
    await writeFile(join(data, 'log.sqlite'), 'not an SQLite database, not an SQLite database\n', { mode: 0o600 });
    const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--data', data], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 3);
    assert.equal(stderr, `runprint: ERR_STORE_CORRUPT: log database ${join(data, 'log.sqlite')} is damaged, or not an SQLite file\n`);
  } finally {
    await rm(data, { recursive: true, force: true });
  }
});
