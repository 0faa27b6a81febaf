/**
 * runprint/capture-node loads node:sqlite only when a local run store is opened: on a Node without
 * it (before 22.5, such as Node 20, where importing it fails with ERR_UNKNOWN_BUILTIN_MODULE), the
 * package still imports, capture to a server (`url`) works, and a local store is reported as a
 * store that cannot be opened, with the Node versions runprint needs, while the calls go on. Such a
 * Node is simulated in a child process by a module hook that fails `node:sqlite` as Node 20 does
 * and lists every module that asked for it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { scratchFolders } from './helpers/scratch.ts';

const ENTRY = fileURLToPath(new URL('../src/capture-node/index.ts', import.meta.url));
const scratch = scratchFolders('runprint-lazy-sqlite-');
let upstream: FakeUpstream;

before(async () => {
  upstream = await startFakeUpstream();
});
after(async () => {
  await upstream.close();
  scratch.removeAll();
});

/** A module hook that makes node:sqlite missing, as on Node 20, and prints who asked for it. */
const NO_SQLITE = `
  import { registerHooks } from 'node:module';
  registerHooks({
    resolve(specifier, context, next) {
      if (specifier === 'node:sqlite') {
        process.stderr.write('node:sqlite asked for by ' + context.parentURL + '\\n');
        const error = new Error('No such built-in module: node:sqlite');
        error.code = 'ERR_UNKNOWN_BUILTIN_MODULE';
        throw error;
      }
      return next(specifier, context);
    },
  });
`;

function runWithoutSqlite(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = scratch.tempDir();
  writeFileSync(join(dir, 'no-sqlite.mjs'), NO_SQLITE);
  writeFileSync(join(dir, 'app.ts'), script);
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', join(dir, 'no-sqlite.mjs'), join(dir, 'app.ts')], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

/** The script's one chat call to the fake upstream through `fetch`. */
const call = () => `await fetch(${JSON.stringify(`${upstream.url}/v1/chat/completions`)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) })`;

test('without node:sqlite: the package imports and capture to a server works (the exchange waits in the outbox)', async () => {
  const data = scratch.tempDir();
  upstream.enqueue({ kind: 'text', text: 'Remote.' });
  const result = await runWithoutSqlite(`
    import { runprintFetch } from ${JSON.stringify(ENTRY)};
    const errors = [];
    const fetch = runprintFetch({ data: ${JSON.stringify(data)}, url: 'http://127.0.0.1:9', onError: (error) => void errors.push(error.code) });
    const response = ${call()};
    const text = await response.text();
    await fetch.close();
    process.stdout.write(JSON.stringify({ status: response.status, text: JSON.parse(text).choices[0].message.content, errors, outbox: fetch.counts.outbox }));
  `);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /node:sqlite asked for/, 'no module asked for node:sqlite');
  const out = JSON.parse(result.stdout) as { status: number; text: string; errors: string[]; outbox: { queued: number } };
  assert.deepEqual({ status: out.status, text: out.text, queued: out.outbox.queued }, { status: 200, text: 'Remote.', queued: 1 });
  assert.ok(out.errors.length > 0 && out.errors.every((code) => code === 'ERR_CAPTURE_UNAVAILABLE'), `only the server that cannot be reached: ${out.errors.join(' ')}`);
  assert.equal(readdirSync(join(data, 'outbox')).filter((name) => name.endsWith('.json')).length, 1);
});

test('without node:sqlite: a local store is reported with the Node versions runprint needs, and the call goes on; nothing is written', async () => {
  // Not there yet: neither it nor a receipt key in it is made for a store that can never open.
  const data = join(scratch.tempDir(), 'data');
  upstream.enqueue({ kind: 'text', text: 'Local.' });
  const result = await runWithoutSqlite(`
    import { runprintFetch } from ${JSON.stringify(ENTRY)};
    const errors = [];
    const fetch = runprintFetch({ data: ${JSON.stringify(data)}, onError: (error) => void errors.push([error.code, error.message]) });
    const response = ${call()};
    await response.text();
    await fetch.close();
    process.stdout.write(JSON.stringify({ status: response.status, errors, failures: fetch.counts.failures }));
  `);
  assert.equal(result.code, 0, result.stderr);
  const out = JSON.parse(result.stdout) as { status: number; errors: Array<[string, string]>; failures: number };
  assert.equal(out.status, 200);
  assert.equal(out.failures, 1);
  assert.equal(out.errors.length, 1, JSON.stringify(out.errors));
  assert.equal(out.errors[0]![0], 'ERR_STORE_UNAVAILABLE');
  assert.match(out.errors[0]![1], /^runprint needs Node 22\.23\.3 or later on the 22 line, or 24\.3 or later: the local run store uses node:sqlite, which this Node \(v[0-9.]+\) does not have$/);
  assert.equal(existsSync(data), false, 'no data directory, no receipt-key.pem');
});

test('without node:sqlite: a data directory that is there is left empty (no receipt-key.pem)', async () => {
  const data = scratch.tempDir();
  const result = await runWithoutSqlite(`
    import { runprintFetch } from ${JSON.stringify(ENTRY)};
    const errors = [];
    const fetch = runprintFetch({ data: ${JSON.stringify(data)}, onError: (error) => void errors.push(error.code) });
    const response = ${call()};
    await response.text();
    await fetch.close();
    process.stdout.write(JSON.stringify({ status: response.status, errors }));
  `);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { status: 200, errors: ['ERR_STORE_UNAVAILABLE'] });
  assert.deepEqual(readdirSync(data), []);
});
