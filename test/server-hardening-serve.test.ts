/** `runprint serve` under load: a maximal identity request, slow-header sockets, an escaped failure. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { killServeProcesses, RUNPRINT_BIN, startServe } from './helpers/serve-process.ts';

let data: string;

before(async () => {
  data = await mkdtemp(join(tmpdir(), 'runprint-hardening-serve-'));
});

after(async () => {
  await killServeProcesses();
  await rm(data, { recursive: true, force: true });
});

/** An OpenAI Chat request of `count` messages, `size` characters each. */
function chat(count: number, size: number): string {
  const content = 'x'.repeat(size);
  return JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: count }, () => ({ role: 'user', content })) });
}

/** POSTs `body`; resolves once it is all sent (`sent`) and once the answer has arrived (`answered`, with the status). */
function post(base: string, path: string, body: string): { sent: Promise<void>; answered: Promise<number> } {
  let markSent!: () => void;
  const sent = new Promise<void>((resolve) => (markSent = resolve));
  const answered = new Promise<number>((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.on('finish', markSent);
    request.end(body);
  });
  return { sent, answered };
}

test('/healthz answers while a large identity request is being computed', async () => {
  const serve = await startServe({ data: join(data, 'big'), token: 'secret-token' });
  // 30,000 messages: about a second of work for one thread (the cap, 100,000, takes about 4 s).
  const big = post(serve.base, '/v1/identity?from=openai-chat', chat(30_000, 100));
  await big.sent;
  let bigDone = false;
  void big.answered.then(() => (bigDone = true));
  const health = await fetch(`${serve.base}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(bigDone, false, 'healthz waited for the identity computation');
  assert.equal(await big.answered, 200);
  // One element more is refused, not computed.
  assert.equal(await post(serve.base, '/v1/identity?from=openai-chat', chat(100_001, 1)).answered, 413);
  await serve.stop();
});

/** Opens a connection that sends half a request line and then nothing; resolves once connected. */
function slowHeaders(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      resolve(socket);
    });
    socket.on('error', () => resolve(socket));
  });
}

test('slow-header clients cannot shut others out, even under a low open-file limit', async () => {
  const dir = join(data, 'slow');
  // The process gets 256 descriptors; 400 slow sockets from one address would exhaust them.
  const child = spawn('bash', ['-c', `ulimit -n 256; exec "${process.execPath}" "${RUNPRINT_BIN}" serve --host 127.0.0.1 --port 0 --data "${dir}" --no-log`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (part: string) => (stderr += part));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', () => {
        const match = /listening on http:\/\/127\.0\.0\.1:([0-9]+)/.exec(stderr);
        if (match !== null) resolve(Number(match[1]));
      });
      void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
    });
    const sockets: Socket[] = [];
    for (let i = 0; i < 400; i++) sockets.push(await slowHeaders(port, '127.0.0.2'));
    try {
      // Another client is served at once, while every slow socket is still open.
      for (let i = 0; i < 5; i++) assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.doesNotMatch(stderr, /EMFILE|ERR_INTERNAL/);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});

test('serve --host ::1 prints a URL with brackets and answers', async () => {
  const child = spawn(process.execPath, [RUNPRINT_BIN, 'serve', '--host', '::1', '--port', '0', '--data', join(data, 'v6'), '--no-log'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (part: string) => (stderr += part));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', () => {
        const match = /listening on (http:\/\/\S+) /.exec(stderr);
        if (match !== null) resolve(match[1]!);
      });
      void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
    });
    assert.match(url, /^http:\/\/\[::1\]:[0-9]+$/);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});

test("serve's last-resort guard reports an escaped failure on one line and keeps serving", async () => {
  // A process with serve's guard and listener, in which a failure escapes every handler.
  const script = `
    import { guardProcess } from ${JSON.stringify(new URL('../src/cli/serve-limits.ts', import.meta.url).href)};
    import { createApp } from ${JSON.stringify(new URL('../src/server/app.ts', import.meta.url).href)};
    import { listen } from ${JSON.stringify(new URL('../src/server/listen.ts', import.meta.url).href)};
    guardProcess({ stderr: (text) => process.stderr.write(text) });
    const server = await listen(createApp(), { host: '127.0.0.1', port: 0 });
    setTimeout(() => { const error = new TypeError('secret request content'); error.code = 'ERR_INVALID_STATE'; throw error; }, 10);
    setTimeout(() => Promise.reject(new Error('secret')), 20);
    setTimeout(async () => {
      const response = await fetch(server.url + '/healthz');
      process.stdout.write(String(response.status));
      await server.close();
    }, 100);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (part: string) => (stdout += part));
  child.stderr.setEncoding('utf8').on('data', (part: string) => (stderr += part));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
  assert.equal(stdout, '200');
  assert.equal(
    stderr,
    'runprint: ERR_INTERNAL: a failure escaped the request handlers (ERR_INVALID_STATE); still serving\n' +
      'runprint: ERR_INTERNAL: a failure escaped the request handlers (Error); still serving\n',
  );
});
