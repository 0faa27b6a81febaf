/**
 * Small command-line inputs said as what they are: `runprint help help` is the general help;
 * `--version` with anything after it, and no command at all, are usage errors with their one
 * ERR_CLI_USAGE line; an empty file name is said to be empty (not "a directory": resolved, it is
 * the working directory), for an input, a model PATH, replay's --weights and log monitor's --state;
 * a --parent that is no identity is named by the option; a log monitor state file too large to
 * be one is said to be too large, not unreadable.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { USAGE } from '../src/cli/main.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { folder, file, cli } = cliFolder('runprint-small-inputs-');
file('request.json', JSON.stringify(REQUEST));
file('response.json', RESPONSE_TEXT);

const usage = (message: string) => ({ code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` });
const LOG_KEY = 'localhost/runprint+b1c7f33a+AfCyGJuFolKu1UERUqK7Aq9SLH/93447zzl/3V+kozjX';

test('help help is the general help; --version takes nothing after it; no command is a usage error with its line', async () => {
  assert.deepEqual(await cli(['help', 'help']), { code: 0, stdout: USAGE, stderr: '' });
  for (const word of ['--version', '-V', 'version']) assert.deepEqual(await cli([word, 'x']), usage(`${word} takes nothing after it, not "x"`), word);
  assert.deepEqual(await cli([]), { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: no command given\n\n${USAGE}` });
});

test('an empty file name is said to be empty, not a directory', async () => {
  for (const argv of [['id', ''], ['canon', ''], ['explain', ''], ['diff', 'request.json', ''], ['id', 'request.json', '--response', '']]) {
    assert.deepEqual(await cli(argv), usage('a file name is empty: give a FILE, or - for standard input'), JSON.stringify(argv));
  }
  assert.deepEqual(await cli(['model-digest', '']), usage('model-digest PATH is empty: give the model\'s file or folder'));
  assert.deepEqual(await cli(['replay', 'x', '--weights', '']), usage('--weights must name the model\'s file or folder'));
  assert.deepEqual(await cli(['log', 'monitor', 'http://127.0.0.1:1/', '--key', LOG_KEY, '--state', '', '--once']), usage('--state must name a file'));
});

test('sign --parent that is not an identity names --parent and the value', async () => {
  assert.equal((await cli(['keygen', '--out', 'k'])).code, 0);
  const result = await cli(['sign', '--key', 'k/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--parent', 'BAD']);
  assert.deepEqual(result, { code: 3, stdout: '', stderr: 'runprint: ERR_IDENTITY_MALFORMED: --parent BAD: identity is not of the form rp-<kind>-v<version>-<algorithm>-<hex>\n' });
});

test('log monitor --state naming a file too large to be a state file says so; a folder is said to be one', async () => {
  writeFileSync(join(folder, 'big.json'), Buffer.alloc(20 * 1024 * 1024, 0x20));
  const big = await cli(['log', 'monitor', 'http://127.0.0.1:1/', '--key', LOG_KEY, '--state', 'big.json', '--once']);
  assert.deepEqual(big, { code: 4, stdout: '', stderr: `runprint: ERR_INPUT_UNREADABLE: monitor state file is larger than 1 MiB, so not one runprint log monitor wrote (a few hundred bytes): ${join(folder, 'big.json')}\n` });
  const dir = await cli(['log', 'monitor', 'http://127.0.0.1:1/', '--key', LOG_KEY, '--state', '.', '--once']);
  assert.deepEqual(dir, { code: 4, stdout: '', stderr: `runprint: ERR_INPUT_UNREADABLE: monitor state file cannot be read (it is a directory, not a file): ${folder}\n` });
});
