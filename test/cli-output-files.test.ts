/**
 * The files `sign --out`, `sign --bundle` and `disclose create --out` write: an existing file is
 * replaced whole or not at all (a temporary file in the same folder, renamed over it), so a write
 * that fails (a full disk, here a file size limit) leaves the old file as it was and no temporary
 * file. A failure is ERR_FILE_UNWRITABLE (exit 4) naming the file as given and saying why.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { disclosureComposition } from './fixtures/disclosure-run.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { cliFolder } from './helpers/cli-folder.ts';
import { unprivileged } from './helpers/unprivileged.ts';

const BIN = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));
const { folder, file, cli } = cliFolder('runprint-output-files-');

file('request.json', JSON.stringify(REQUEST));
file('response.json', RESPONSE_TEXT);
file('composition.json', JSON.stringify(disclosureComposition()));
file('output.json', '{"text":"Der Mont Blanc."}\n');

const SIGN = ['sign', '--key', 'k1/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json'];
const DISCLOSE = ['disclose', 'create', '--composition', 'composition.json', '--output', 'output.json', '--reveal', 'system'];

const ready = (async () => {
  for (const out of ['k1', 'k2']) assert.equal((await cli(['keygen', '--out', out])).code, 0);
  const signed = await cli([...SIGN, '--out', 'receipt.json']);
  assert.equal(signed.code, 0, signed.stderr);
})();

/** Runs `runprint ARGS` in the folder as a real process after the shell command `setup` (`ulimit -f 1`); exit code and stderr. */
function runUnder(setup: string, args: string[], options: { unprivileged?: boolean } = {}): Promise<{ code: number | string; stderr: string }> {
  const shell = options.unprivileged === true ? unprivileged('sh', []) : { command: 'sh', args: [] };
  return new Promise((resolve, reject) => {
    const child = spawn(shell.command, [...shell.args, '-c', `${setup} && exec "$0" "$@"`, process.execPath, BIN, ...args], { cwd: folder, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', stderr }));
  });
}

const read = (name: string) => readFileSync(join(folder, name), 'utf8');
/** Names in a folder that look like a left-over temporary file. */
const temporaries = (dir = folder) => readdirSync(dir).filter((name) => name.endsWith('.tmp'));

test('sign --add-to R --out R whose write fails (a file size limit: a full disk) leaves R whole, with no temporary file', async () => {
  await ready;
  const before = read('receipt.json');
  assert.ok(before.length > 512);
  // sh's ulimit -f counts 512-byte blocks: the new receipt cannot be written past the first one.
  const failed = await runUnder('ulimit -f 1', ['sign', '--add-to', 'receipt.json', '--key', 'k2/receipt-key.pem', '--out', 'receipt.json']);
  assert.deepEqual(failed, { code: 4, stderr: 'runprint: ERR_FILE_UNWRITABLE: cannot write file (larger than the file size limit): receipt.json\n' });
  assert.equal(read('receipt.json'), before);
  assert.deepEqual(temporaries(), []);
  for (const [args, name] of [
    [[...SIGN, '--out', 'receipt.json'], 'receipt.json'],
    [[...SIGN, '--bundle', 'receipt.json'], 'receipt.json'],
    [[...DISCLOSE, '--out', 'receipt.json'], 'receipt.json'],
  ] as const) {
    // A disclosure is shorter than one block: no byte at all may be written.
    assert.deepEqual(await runUnder('ulimit -f 0', [...args]), { code: 4, stderr: `runprint: ERR_FILE_UNWRITABLE: cannot write file (larger than the file size limit): ${name}\n` }, args.join(' '));
    assert.equal(read('receipt.json'), before, args.join(' '));
    assert.deepEqual(temporaries(), [], args.join(' '));
  }
});

test('sign --add-to R --out R replaces R with the countersigned receipt, keeping its mode and a symbolic link to it', async () => {
  await ready;
  const copy = await cli([...SIGN, '--out', 'in-place.json']);
  assert.equal(copy.code, 0, copy.stderr);
  chmodSync(join(folder, 'in-place.json'), 0o640);
  symlinkSync('in-place.json', join(folder, 'link.json'));
  const added = await cli(['sign', '--add-to', 'link.json', '--key', 'k2/receipt-key.pem', '--out', 'link.json']);
  assert.deepEqual(added, { code: 0, stdout: '', stderr: '' });
  assert.equal(JSON.parse(read('in-place.json')).signatures.length, 2);
  assert.equal(lstatSync(join(folder, 'link.json')).isSymbolicLink(), true);
  assert.equal(readlinkSync(join(folder, 'link.json')), 'in-place.json');
  assert.equal(statSync(join(folder, 'in-place.json')).mode & 0o777, 0o640);
  assert.deepEqual(temporaries(), []);
});

test('an --out whose name is as long as a file name may be (255 bytes) is written and replaced: the temporary file has a shorter name then', async () => {
  await ready;
  const long = `${'r'.repeat(250)}.json`;
  assert.equal(Buffer.byteLength(long), 255);
  for (let round = 0; round < 2; round++) {
    const written = await cli([...SIGN, '--out', long]);
    assert.deepEqual(written, { code: 0, stdout: '', stderr: '' }, `round ${round}`);
    assert.equal(JSON.parse(read(long)).signatures.length, 1);
  }
  assert.deepEqual(temporaries(), []);
});

test('an --out or --bundle that is a folder, or in a folder that does not exist: ERR_FILE_UNWRITABLE with the reason, nothing written', async () => {
  await ready;
  mkdirSync(join(folder, 'adir'));
  for (const [option, name, reason] of [
    ['--out', 'adir', 'it is a directory, not a file'],
    ['--bundle', 'adir', 'it is a directory, not a file'],
    ['--out', 'nodir/x.json', 'no such folder'],
    ['--bundle', 'nodir/x.json', 'no such folder'],
    ['--out', 'request.json/x.json', 'a part of the path is not a folder'],
  ] as const) {
    assert.deepEqual(await cli([...SIGN, option, name]), { code: 4, stdout: '', stderr: `runprint: ERR_FILE_UNWRITABLE: cannot write file (${reason}): ${name}\n` }, `sign ${option} ${name}`);
  }
  // --bundle and --out together: one that cannot be written is said before the other is written.
  for (const [args, name, reason] of [
    [['--bundle', 'b.json', '--out', 'nodir/x.json'], 'nodir/x.json', 'no such folder'],
    [['--bundle', 'nodir/b.json', '--out', 'x.json'], 'nodir/b.json', 'no such folder'],
    [['--bundle', 'b.json', '--out', 'adir'], 'adir', 'it is a directory, not a file'],
  ] as const) {
    assert.deepEqual(await cli([...SIGN, ...args]), { code: 4, stdout: '', stderr: `runprint: ERR_FILE_UNWRITABLE: cannot write file (${reason}): ${name}\n` }, `sign ${args.join(' ')}`);
    assert.deepEqual(readdirSync(folder).filter((entry) => entry === 'b.json' || entry === 'x.json'), [], `sign ${args.join(' ')}`);
  }
  for (const [name, reason] of [['adir', 'it is a directory, not a file'], ['nodir/x.json', 'no such folder']] as const) {
    assert.deepEqual(await cli([...DISCLOSE, '--out', name]), { code: 4, stdout: '', stderr: `runprint: ERR_FILE_UNWRITABLE: cannot write file (${reason}): ${name}\n` }, `disclose create --out ${name}`);
  }
  assert.deepEqual(readdirSync(join(folder, 'adir')), []);
  assert.deepEqual(temporaries(), []);
});

test('an --out in a folder the process may not write, of a file it may: ERR_FILE_UNWRITABLE, permission denied, the file there unchanged', async () => {
  await ready;
  mkdirSync(join(folder, 'closed'));
  const before = (await cli([...SIGN, '--out', 'closed/receipt.json'])).code;
  assert.equal(before, 0);
  const old = read('closed/receipt.json');
  // The file itself may be written by anyone: only the folder's permission stands in the way of
  // replacing it whole (a write in place would pass).
  chmodSync(join(folder, 'closed', 'receipt.json'), 0o666);
  chmodSync(join(folder, 'closed'), 0o555);
  try {
    for (const args of [[...SIGN, '--out', 'closed/receipt.json'], [...DISCLOSE, '--out', 'closed/receipt.json']]) {
      assert.deepEqual(await runUnder('true', args, { unprivileged: true }), { code: 4, stderr: 'runprint: ERR_FILE_UNWRITABLE: cannot write file (permission denied): closed/receipt.json\n' }, args.join(' '));
    }
  } finally {
    chmodSync(join(folder, 'closed'), 0o755);
  }
  assert.equal(read('closed/receipt.json'), old);
  assert.deepEqual(temporaries(join(folder, 'closed')), []);
});

test('disclose create --out and sign --bundle replace an existing file with the new one', async () => {
  await ready;
  file('replaced.json', 'old\n');
  assert.equal((await cli([...DISCLOSE, '--out', 'replaced.json'])).code, 0);
  assert.equal(read('replaced.json'), (await cli(DISCLOSE)).stdout);
  file('bundle.json', 'old\n');
  assert.equal((await cli([...SIGN, '--bundle', 'bundle.json'])).code, 0);
  assert.equal(JSON.parse(read('bundle.json')).mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  // A device is written to, not replaced.
  assert.deepEqual(await cli([...SIGN, '--out', '/dev/null']), { code: 0, stdout: '', stderr: '' });
  assert.deepEqual(temporaries(), []);
});

test('keygen --out naming a file, and log proof/submit writing to a folder, say what is there (finding: "a key file appeared meanwhile", "file already exists")', async () => {
  await ready;
  file('plain.json', '{}\n');
  symlinkSync('plain.json', join(folder, 'plain-link'));
  for (const name of ['plain.json', 'plain-link']) {
    assert.deepEqual(await cli(['keygen', '--out', name]), {
      code: 4, stdout: '', stderr: `runprint: ERR_FILE_UNWRITABLE: --out is a file, not a folder (keygen writes its four key files into a folder): ${name}\n`,
    }, `keygen --out ${name}`);
  }
  assert.equal(read('plain.json'), '{}\n');
  mkdirSync(join(folder, 'proofs'));
  assert.deepEqual(await cli(['log', 'proof', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--key', 'k1/receipt-key.vkey', '--out', 'proofs']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_UNWRITABLE: cannot write file (it is a directory, not a file): proofs\n',
  });
  assert.deepEqual(await cli(['log', 'submit', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--key', 'k1/receipt-key.vkey', '--proof-out', 'proofs']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_UNWRITABLE: cannot write file (it is a directory, not a file): proofs\n',
  });
  // A proof file whose folder is not there is said before the receipt is sent (here to no log at all).
  assert.deepEqual(await cli(['log', 'submit', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--key', 'k1/receipt-key.vkey', '--proof-out', 'nodir/p.json']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_UNWRITABLE: cannot write file (no such folder): nodir/p.json\n',
  });
  assert.deepEqual(await cli(['log', 'proof', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--key', 'k1/receipt-key.vkey', '--out', 'plain.json/p.json']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_UNWRITABLE: cannot write file (a part of the path is not a folder): plain.json/p.json\n',
  });
  // An existing file is still refused as before.
  assert.deepEqual(await cli(['log', 'proof', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--key', 'k1/receipt-key.vkey', '--out', 'plain.json']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_EXISTS: file already exists, refusing to overwrite it: plain.json\n',
  });
  assert.deepEqual(readdirSync(join(folder, 'proofs')), []);
});

test('--out - (and --bundle -, or an empty name) is refused as a usage error: a file named "-" is never written', async () => {
  await ready;
  for (const [args, line] of [
    [[...SIGN, '--out', '-'], '--out must name a file'],
    [[...SIGN, '--bundle', '-'], '--bundle must name a file'],
    [[...SIGN, '--out', ''], '--out must name a file'],
    [['sign', '--add-to', 'receipt.json', '--key', 'k2/receipt-key.pem', '--out', '-'], '--out must name a file'],
    [[...DISCLOSE, '--out', '-'], '--out must name a file'],
    [['keygen', '--out', '-'], '--out must name a folder'],
    [['keygen', '--out', ''], '--out must name a folder'],
  ] as const) {
    const result = await cli([...args]);
    assert.equal(result.code, 2, args.join(' '));
    assert.equal(result.stdout, '', args.join(' '));
    assert.ok(result.stderr.startsWith(`runprint: ERR_CLI_USAGE: ${line}\n`), `${args.join(' ')}: ${result.stderr}`);
  }
  assert.deepEqual(readdirSync(folder).filter((name) => name === '-'), []);
});
