/**
 * Every error that concerns a file or a URL names it, safely: cut, control characters escaped,
 * and never a credential (README, "CLI").
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliFolder } from './helpers/cli-folder.ts';
import { closedPort } from './helpers/closed-port.ts';

const { folder, file, cli } = cliFolder('runprint-cli-errors-');

test('a file that is missing, a directory or unreadable is named as given', async () => {
  assert.deepEqual(await cli(['id', 'response.json']), { code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: response.json\n' });
  file('request.json', '{"model":"gpt-4o","messages":[]}');
  assert.deepEqual(await cli(['id', 'request.json', '--response', 'answers/response.json']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: answers/response.json\n',
  });
  mkdirSync(join(folder, 'models'));
  assert.deepEqual(await cli(['canon', 'models']), { code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_UNREADABLE: a directory, not a file: models\n' });
  assert.deepEqual(await cli(['canon', 'request.json/x']), { code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: request.json/x\n' });
});

test('an error about a --response file\'s content names the file; a response given as the request says so', async () => {
  const request = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
  const response = { id: 'c', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };
  file('asked.json', JSON.stringify(request));
  file('answer.json', JSON.stringify(response));
  const named = 'runprint: ERR_OUTPUT_INVALID: --response asked.json: response "object" is not "chat.completion"\n';
  assert.deepEqual(await cli(['id', 'asked.json', '--response', 'asked.json']), { code: 3, stdout: '', stderr: named });
  assert.deepEqual(await cli(['explain', 'asked.json', '--response', 'asked.json']), { code: 3, stdout: '', stderr: named });
  assert.deepEqual(await cli(['diff', 'asked.json', 'asked.json', '--response-b', 'asked.json']), {
    code: 3, stdout: '', stderr: 'runprint: ERR_OUTPUT_INVALID: --response-b asked.json: response "object" is not "chat.completion"\n',
  });
  const hint = 'this looks like a provider response, not a request (give it with --response)';
  const asRequest = await cli(['id', 'answer.json']);
  assert.equal(asRequest.code, 3);
  assert.ok(asRequest.stderr.startsWith(`runprint: ERR_PROVIDER_UNKNOWN_FORMAT: ${hint}: input has no field`), asRequest.stderr);
  assert.ok((await cli(['diff', 'asked.json', 'answer.json'])).stderr.startsWith(`runprint: ERR_PROVIDER_UNKNOWN_FORMAT: ${hint}: `));
  const withFrom = await cli(['id', 'answer.json', '--from', 'openai-chat']);
  assert.equal(withFrom.code, 0);
  assert.ok(withFrom.stderr.startsWith(`runprint: warning: answer.json: ${hint}\n`), withFrom.stderr);
  // A request is not taken for a response.
  const plain = await cli(['id', 'asked.json']);
  assert.deepEqual([plain.code, plain.stderr], [0, '']);
});

test('a file name is echoed with its control characters escaped and cut to 80 characters', async () => {
  assert.deepEqual(await cli(['canon', 'evil\x1b]0;owned\x07\n.json']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_INPUT_NOT_FOUND: no such file: evil\\u001b]0;owned\\u0007\\u000a.json\n',
  });
  const long = `${'d/'.repeat(60)}x.json`;
  assert.deepEqual(await cli(['canon', long]), { code: 4, stdout: '', stderr: `runprint: ERR_INPUT_NOT_FOUND: no such file: ${long.slice(0, 80)}…\n` });
});

test('model-digest names the model PATH given when it does not exist, escaped', async () => {
  assert.deepEqual(await cli(['model-digest', 'models/llama\u001b[0m']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_MODEL_NOT_FOUND: model path does not exist: models/llama\\u001b[0m\n',
  });
});

test('an existing output file and a key file are named', async () => {
  writeFileSync(join(folder, 'receipt.tlog'), 'kept');
  file('receipt.json', '{}');
  assert.equal((await cli(['keygen', '--out', 'log-keys'])).code, 0);
  assert.deepEqual(await cli(['log', 'proof', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--key', 'log-keys/receipt-key.vkey', '--out', 'receipt.tlog']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_EXISTS: file already exists, refusing to overwrite it: receipt.tlog\n',
  });
  mkdirSync(join(folder, 'keys'));
  writeFileSync(join(folder, 'keys', 'receipt-key.pub.jwk'), '{}');
  assert.deepEqual(await cli(['keygen', '--out', 'keys']), {
    code: 4, stdout: '', stderr: 'runprint: ERR_FILE_EXISTS: key file already exists, refusing to overwrite it: keys/receipt-key.pub.jwk\n',
  });
});

test('a log that cannot be reached is named by its URL, without user name, password or query', async () => {
  const port = await closedPort();
  file('receipt.json', '{}');
  const plain = await cli(['log', 'submit', 'receipt.json', '--log', `http://127.0.0.1:${port}/logs/a`]);
  assert.deepEqual(plain, { code: 4, stdout: '', stderr: `runprint: ERR_LOG_UNREACHABLE: cannot reach http://127.0.0.1:${port}/logs/a/v1/log/entries\n` });
  const secret = await cli(['log', 'submit', 'receipt.json', '--log', `http://alice:s3cret@127.0.0.1:${port}/?token=t0ken#frag`]);
  assert.deepEqual(secret, { code: 4, stdout: '', stderr: `runprint: ERR_LOG_UNREACHABLE: cannot reach http://127.0.0.1:${port}/v1/log/entries\n` });
  assert.equal((await cli(['keygen', '--out', 'monitor-keys'])).code, 0);
  const monitor = await cli(['log', 'monitor', `http://127.0.0.1:${port}/`, '--key', 'monitor-keys/receipt-key.vkey', '--once', '--state', 'state.json']);
  assert.deepEqual(monitor, { code: 4, stdout: '', stderr: `runprint: ERR_LOG_UNREACHABLE: cannot reach http://127.0.0.1:${port}/checkpoint\n` });
});
