/**
 * What `runprint serve` says at start about capture (LOG.md 19.3, CAPTURE.md "The run store"): the
 * capture line names what the run store keeps and when it deletes content, when the options change
 * the defaults (so an operator sees at start that content goes after N days); a --capture-key file
 * that others may read gets the warning line the other key files get.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { killServeProcesses, startServe, type ServeProcess } from './helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
function folder(): string {
  const path = mkdtempSync(join(tmpdir(), 'runprint-capture-start-'));
  folders.push(path);
  return path;
}

/**
 * A serve started with `args` and `env`, killed once it printed its last start line (the
 * explorer's): only its start lines matter here. (Not SIGTERM: serve takes that signal only once it
 * has printed that line, and one sent at once may find no handler yet.)
 */
async function started(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const serve = await startServe({ data: folder(), args: ['--upstream', 'openai=http://127.0.0.1:9', '--capture-workers', '0', ...args], env });
  for (let i = 0; i < 400 && !serve.stderr().includes('runprint: explorer '); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  await serve.kill();
  assert.match(serve.stderr(), /^runprint: explorer /m, 'serve started');
  return serve;
}

/** The `runprint: capture on (...)` line of a serve started with `args` and `env`. */
async function captureLine(args: string[], env: Record<string, string> = {}): Promise<{ line: string; base: string; next: string | undefined }> {
  const serve = await started(args, env);
  const all = serve.stderr().split('\n');
  const at = all.findIndex((line) => line.startsWith('runprint: capture on ('));
  assert.ok(at >= 0 && all.filter((line) => line.startsWith('runprint: capture on (')).length === 1, serve.stderr());
  return { line: all[at]!, base: serve.base, next: all[at + 1] };
}

test('the capture line says what the run store keeps and when content is deleted, only when not the defaults', async () => {
  const plain = await captureLine([]);
  assert.equal(plain.line, `runprint: capture on (sync durability, runs in SQLite): ${plain.base}/openai -> http://127.0.0.1:9, ${plain.base}/anthropic -> https://api.anthropic.com`);
  // The next line says where an SDK's base URL points to go through the proxy.
  assert.equal(plain.next, `runprint: to capture a client's calls, point it at the proxy: OpenAI SDKs baseURL ${plain.base}/openai/v1, Anthropic SDKs baseURL ${plain.base}/anthropic`);

  const outputs = await captureLine(['--capture-retention', '30', '--capture-keep', 'digest', '--capture-keep', 'output=content']);
  assert.equal(outputs.line, `runprint: capture on (sync durability, runs in SQLite, keeping content only of output, content deleted after 30 days): ${outputs.base}/openai -> http://127.0.0.1:9, ${outputs.base}/anthropic -> https://api.anthropic.com`);

  // From the environment as from the options; one day is a day.
  const all = await captureLine([], { RUNPRINT_CAPTURE_RETENTION: '1', RUNPRINT_CAPTURE_KEEP: 'request=content' });
  assert.match(all.line, /^runprint: capture on \(sync durability, runs in SQLite, keeping all content, content deleted after 1 day\): /);

  const some = await captureLine(['--capture-keep', 'system=digest', '--capture-keep', 'input=digest']);
  assert.match(some.line, /^runprint: capture on \(sync durability, runs in SQLite, keeping digests only of system,input,output \(openai-responses\),request,retrieval\): /);

  const none = await captureLine(['--capture-keep', 'digest']);
  assert.match(none.line, /^runprint: capture on \(sync durability, runs in SQLite, keeping only digests\): /);

  const kept = await captureLine(['--capture-retention', '7']);
  assert.match(kept.line, /^runprint: capture on \(sync durability, runs in SQLite, content deleted after 7 days\): /);
});

test('a --capture-key file that group or others may read gets one warning line, as --sign-key and --witness-key do; the key is used', async () => {
  const dir = folder();
  const key = join(dir, 'receipts.pem');
  writeFileSync(key, (await generateKeyFiles('receipts')).privateKeyPem, { mode: 0o600 });
  chmodSync(key, 0o644);
  const warnings = (serve: ServeProcess) => serve.stderr().split('\n').filter((line) => line.includes('warning'));
  const open = await started(['--capture-key', key]);
  assert.deepEqual(warnings(open), ['runprint: warning: --capture-key file has mode 0644: users other than its owner have access to the private key; chmod 600 it']);
  assert.match(open.stderr(), /^runprint: capture on \(/m, 'capture runs with the key');
  // From the environment the same; an owner-only key draws none.
  chmodSync(key, 0o640);
  assert.deepEqual(warnings(await started([], { RUNPRINT_CAPTURE_KEY: key })), ['runprint: warning: --capture-key file has mode 0640: users other than its owner have access to the private key; chmod 600 it']);
  chmodSync(key, 0o600);
  assert.deepEqual(warnings(await started(['--capture-key', key])), []);
});
