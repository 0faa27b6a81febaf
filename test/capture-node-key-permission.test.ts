/**
 * A data directory the process may not write (mode 0555): the receipt key file in-process capture
 * makes there, and the log key file serve makes there, fail as the data directory's other files
 * do when permission is denied: ERR_STORE_PERMISSION with the system's code (EACCES), the same
 * for runprintFetch and serve, not ERR_FILE_UNWRITABLE without a reason. Run as a process that
 * file modes apply to (helpers/unprivileged.ts).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runprintUnprivileged, runUnprivileged } from './helpers/unprivileged.ts';

const folder = mkdtempSync(join(tmpdir(), 'runprint-key-permission-'));
const data = join(folder, 'data');
mkdirSync(data);
chmodSync(data, 0o555);
after(() => {
  chmodSync(data, 0o755);
  rmSync(folder, { recursive: true, force: true });
});

const skip = process.platform === 'win32';
const CAPTURE_NODE = new URL('../src/capture-node/index.ts', import.meta.url).href;

test('runprintFetch: the receipt key file cannot be made in the data directory: ERR_STORE_PERMISSION (EACCES), naming the file', { skip }, async () => {
  // A call to a closed port: it fails, and its run is one the store cannot take.
  const script = `
    import { runprintFetch } from ${JSON.stringify(CAPTURE_NODE)};
    const errors = [];
    const fetch = runprintFetch({ data: ${JSON.stringify(data)}, onError: (error) => errors.push(error) });
    await fetch('http://127.0.0.1:9/v1/chat/completions', { method: 'POST', body: '{}' }).catch(() => undefined);
    await fetch.close();
    console.log(JSON.stringify(errors.map((error) => [error.code, error.message])));
  `;
  const out = await runUnprivileged(process.execPath, ['--input-type=module', '--no-warnings', '-e', script]);
  assert.equal(out.code, 0, out.stderr);
  const errors = JSON.parse(out.stdout) as Array<[string, string]>;
  assert.deepEqual(errors[0], ['ERR_STORE_PERMISSION', `receipt key file cannot be written in the data directory: permission denied (EACCES): ${join(data, 'receipt-key.pem')}`], out.stdout);
  assert.deepEqual(readdirSync(data), []);
});

test('serve: the log key file cannot be made in the data directory: the same code and reason, exit 4', { skip }, async () => {
  const out = await runprintUnprivileged(['serve', '--host', '127.0.0.1', '--port', '0', '--data', data]);
  assert.equal(out.code, 4, out.stderr);
  assert.match(out.stderr, /^runprint: ERR_STORE_PERMISSION: log key file cannot be written in the data directory: permission denied \(EACCES\)$/m);
  assert.deepEqual(readdirSync(data), []);
});
