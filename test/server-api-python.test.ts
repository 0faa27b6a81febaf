/** The README's "Use it from Python" block, run with python3 (standard library only) against a real `runprint serve`. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { compositionFromDocument } from '../src/compose/from-document.ts';
import { computeIdentity } from '../src/identity/identity.ts';
import { APPLICATION_KEY, REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { killServeProcesses, runRunprint, startServe } from './helpers/serve-process.ts';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The first python block after the "Use it from Python" heading. */
function pythonBlock(): string {
  const section = README.slice(README.indexOf('### Use it from Python'));
  const match = /```python\n([\s\S]*?)```/.exec(section);
  assert.ok(match, 'the README has a python block under "Use it from Python"');
  return match[1]!;
}

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

test('the README\'s Python block prints the run identity and verifies a receipt through a real serve', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'runprint-python-'));
  folders.push(folder);
  await mkdir(join(folder, 'keys'));
  await writeFile(join(folder, 'request.json'), `${JSON.stringify(REQUEST, null, 2)}\n`);
  await writeFile(join(folder, 'response.json'), RESPONSE_TEXT);
  await writeFile(join(folder, 'keys', 'receipt-key.pem'), APPLICATION_KEY.privateKeyPem, { mode: 0o600 });
  await writeFile(join(folder, 'keys', 'receipt-key.pub.pem'), APPLICATION_KEY.publicKeyPem);
  const signed = await runRunprint(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--out', 'receipt.json'], { cwd: folder });
  assert.equal(signed.code, 0, signed.stderr);
  await writeFile(join(folder, 'use.py'), pythonBlock());
  const runId = computeIdentity(compositionFromDocument(REQUEST as never, { response: new TextEncoder().encode(RESPONSE_TEXT) }).composition).runId;

  const server = await startServe({ data: join(folder, 'runprint-data') });
  const python = (env: Record<string, string>) => promisify(execFile)('python3', ['use.py'], { cwd: folder, env: { ...process.env, ...env } }).catch((error) => error);
  const result = await python({ RUNPRINT_URL: server.base });
  assert.equal(result.stderr ?? '', '');
  assert.equal(result.stdout, `${runId}\nreceipt verified: ${runId}\n`);

  // A receipt that does not match is an answer, printed as such; the service's errors reach Python as their code.
  await writeFile(join(folder, 'response.json'), RESPONSE_TEXT.replace('Paris', 'Lyon'));
  const other = await python({ RUNPRINT_URL: server.base });
  // It names the checks that failed.
  assert.match(other.stdout, /^rp-run-\S+\nreceipt NOT verified: \[\{'name': 'output', 'ok': False, 'code': 'ERR_OUTPUT_MISMATCH', 'message': '[^']+'\}\]\n$/);
  await writeFile(join(folder, 'response.json'), 'data: {"id":');
  const broken = await python({ RUNPRINT_URL: server.base });
  assert.match(broken.stderr, /RuntimeError: ERR_[A-Z_]+: /);
  await server.stop();
});
