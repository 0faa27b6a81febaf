/**
 * `runprint runs receipt RUN [--out FILE] [--key-out FILE]`: an in-process run's receipt and the
 * public key that checks it, out of the data directory, without serve; `runprint verify` then
 * checks the receipt with that key alone, offline.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runprintFetch } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { storeRuns } from './helpers/stored-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { cliFolder } from './helpers/cli-folder.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-cli-runs-receipt-');

before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

/** One chat call captured in process into `data`, its receipt signed before close returns; its capture id. */
async function captured(data: string): Promise<string> {
  const errors: RunprintError[] = [];
  const capture = runprintFetch({ data, onError: (error) => void errors.push(error) });
  const response = await capture(`${upstream.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-runs-receipt' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] }) });
  assert.equal(response.status, 200);
  await response.text();
  await capture.close();
  assert.deepEqual(errors, []);
  return response.headers.get('runprint-capture-id')!;
}

test('runs receipt writes the receipt as stored and the data directory key\'s public half; verify checks it with them alone', async () => {
  const data = scratch.tempDir();
  const captureId = await captured(data);
  const folder = cliFolder('runprint-cli-runs-receipt-out-');
  const written = await folder.cli(['runs', 'receipt', captureId, '--data', data, '--out', 'captured-receipt.json', '--key-out', 'receipt-key.pub.pem']);
  assert.deepEqual(written, { code: 0, stdout: '', stderr: '' });
  const pem = readFileSync(join(folder.folder, 'receipt-key.pub.pem'), 'utf8');
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/);
  // The same bytes on standard output, and the same as the run store's (what GET /v1/runs/ID/receipt answers).
  const printed = await folder.cli(['runs', 'receipt', captureId, '--data', data]);
  assert.equal(printed.code, 0);
  const receipt = readFileSync(join(folder.folder, 'captured-receipt.json'), 'utf8');
  assert.equal(printed.stdout.replace(/\n$/, ''), receipt.replace(/\n$/, ''));
  const shown = JSON.parse((await folder.cli(['runs', 'show', captureId, '--data', data, '--json'])).stdout) as { runs: Array<{ record: { runId: string } }> };
  const checked = await folder.cli(['verify', 'captured-receipt.json', '--key', 'receipt-key.pub.pem', '--json']);
  assert.equal(checked.code, 0, checked.stderr);
  const report = JSON.parse(checked.stdout) as { ok: boolean; runId: string };
  assert.equal(report.ok, true);
  assert.equal(report.runId, shown.runs[0]!.record.runId);
  // The content too, offline (README): the composition and the response bytes out of the run store.
  const composition = await folder.cli(['runs', 'show', captureId, '--data', data, '--composition']);
  const response = await folder.cli(['runs', 'show', captureId, '--data', data, '--response']);
  assert.deepEqual([composition.code, response.code, response.stderr], [0, 0, '']);
  assert.equal((JSON.parse(response.stdout) as { object: string }).object, 'chat.completion');
  folder.file('captured-composition.json', composition.stdout);
  folder.file('captured-response.json', response.stdout);
  const withContent = await folder.cli(['verify', 'captured-receipt.json', '--key', 'receipt-key.pub.pem', '--composition', 'captured-composition.json', '--output', 'captured-response.json', '--json']);
  assert.equal(withContent.code, 0, withContent.stdout);
  const steps = (JSON.parse(withContent.stdout) as { checks: Array<{ name: string; ok: boolean }> }).checks;
  assert.deepEqual(steps.filter((step) => step.name === 'composition' || step.name === 'output').map((step) => [step.name, step.ok]), [['composition', true], ['output', true]]);
  const altered = JSON.parse(response.stdout) as { choices: Array<{ message: { content: string } }> };
  altered.choices[0]!.message.content += '!';
  folder.file('captured-response.json', JSON.stringify(altered));
  assert.equal((await folder.cli(['verify', 'captured-receipt.json', '--key', 'receipt-key.pub.pem', '--composition', 'captured-composition.json', '--output', 'captured-response.json'])).code, 1, 'another response fails');
  const both = await folder.cli(['runs', 'show', captureId, '--data', data, '--response', '--json']);
  assert.deepEqual([both.code, both.stdout, both.stderr], [2, '', 'runprint: ERR_CLI_USAGE: runs show: --response prints the response\'s bytes alone; give it without --composition and --json\n']);
  // Another key does not check it: the key written is the one that signed.
  const other = await generateKeyFiles('other');
  folder.file('other.pub.pem', other.publicKeyPem);
  assert.equal((await folder.cli(['verify', 'captured-receipt.json', '--key', 'other.pub.pem'])).code, 1);
});

test('runs receipt refuses, with its code and nothing written, a run without a receipt, a key that did not sign it, and a bad command line', async () => {
  const folder = cliFolder('runprint-cli-runs-receipt-refused-');
  // Stored without receipts (as before serve signs them).
  const unsigned = scratch.tempDir();
  const [id] = await storeRuns(unsigned, 1);
  const none = await folder.cli(['runs', 'receipt', id!, '--data', unsigned, '--out', 'receipt.json']);
  assert.equal(none.code, 3);
  assert.match(none.stderr, /^runprint: ERR_RUN_NO_RECEIPT: the receipt is not signed yet/);
  assert.equal(existsSync(join(folder.folder, 'receipt.json')), false);

  // The key that signed is gone from the data directory (as when serve signed with --capture-key).
  const keyed = scratch.tempDir();
  const keyedId = await captured(keyed);
  rmSync(join(keyed, 'receipt-key.pem'));
  const noKey = await folder.cli(['runs', 'receipt', keyedId, '--data', keyed, '--out', 'receipt.json', '--key-out', 'key.pem']);
  assert.equal(noKey.code, 4);
  assert.match(noKey.stderr, /ERR_INPUT_NOT_FOUND: no receipt-key\.pem in the data directory/);
  assert.equal(existsSync(join(folder.folder, 'receipt.json')), false);
  // A receipt-key.pem that did not sign it.
  writeFileSync(join(keyed, 'receipt-key.pem'), (await generateKeyFiles('runprint-capture')).privateKeyPem, { mode: 0o600 });
  const mismatch = await folder.cli(['runs', 'receipt', keyedId, '--data', keyed, '--out', 'receipt.json', '--key-out', 'key.pem']);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.stderr, /ERR_SIGNATURE_UNKNOWN_KEY: the receipt is not signed by receipt-key\.pem in the data directory/);
  assert.equal(existsSync(join(folder.folder, 'receipt.json')) || existsSync(join(folder.folder, 'key.pem')), false);
  // Without --key-out the receipt is given all the same.
  assert.equal((await folder.cli(['runs', 'receipt', keyedId, '--data', keyed])).code, 0);

  for (const [argv, message] of [
    [['runs', 'receipt'], /runs receipt takes one RUN/],
    [['runs', 'receipt', keyedId, '--out', '-'], /--out must name a file/],
    [['runs', 'receipt', keyedId, '--out', 'x.json', '--key-out', 'x.json'], /--out and --key-out name the same file/],
    [['runs', 'reciept'], /did you mean "runs receipt"/],
  ] as const) {
    const result = await folder.cli([...argv]);
    assert.equal(result.code, 2, argv.join(' '));
    assert.match(result.stderr, message);
  }
  // An output that cannot be written is said before anything is: no receipt on standard output or in --out.
  const signed = scratch.tempDir();
  const signedId = await captured(signed);
  writeFileSync(join(folder.folder, 'afile'), 'a file');
  for (const [argv, name, why] of [
    [['--out', 'kr.json', '--key-out', 'nofolder/k.pem'], 'nofolder/k.pem', 'no such folder'],
    [['--key-out', 'nofolder/k.pem'], 'nofolder/k.pem', 'no such folder'],
    [['--out', 'afile/r.json', '--key-out', 'k.pem'], 'afile/r.json', 'a part of the path is not a folder'],
    [['--out', 'kr.json', '--key-out', '/dev/null/k.pem'], '/dev/null/k.pem', 'a part of the path is not a folder'],
  ] as const) {
    const result = await folder.cli(['runs', 'receipt', signedId, '--data', signed, ...argv]);
    assert.deepEqual(result, { code: 4, stdout: '', stderr: `runprint: ERR_FILE_UNWRITABLE: cannot write file (${why}): ${name}\n` }, argv.join(' '));
    assert.equal(existsSync(join(folder.folder, 'kr.json')) || existsSync(join(folder.folder, 'k.pem')), false, argv.join(' '));
  }
  const missing = await folder.cli(['runs', 'receipt', '00000000-0000-4000-8000-000000000000', '--data', keyed]);
  assert.match(missing.stderr, /^runprint: ERR_RUN_NOT_FOUND/);
});
