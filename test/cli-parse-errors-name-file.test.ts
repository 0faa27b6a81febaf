/**
 * README: "An error about a file … names it as given". A file that is not strict JSON, or an
 * output whose bytes cannot be read as a response, is named in the error, as `--response` and
 * `--retrieval` name theirs: `LABEL FILE: message`, the code and the JSON path unchanged. A
 * document piped in on standard input as the positional FILE is left as it was.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliFolder } from './helpers/cli-folder.ts';

const REQUEST = JSON.stringify({ model: 'gpt-4o', temperature: 0, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the capital of France?' }] });
const RESPONSE = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Paris.' } }] });
const TRUNCATED = 'JSON text ends before the value is complete at byte 10 (line 2, column 1) (at $[\'model\'])';

test('a file that is not strict JSON is named in the error, by the option that gave it', async () => {
  const folder = cliFolder('runprint-cli-parse-names-');
  folder.file('request.json', REQUEST);
  folder.file('response.json', RESPONSE);
  folder.file('broken.json', '{"model":\n');
  assert.equal((await folder.cli(['keygen', '--out', 'keys'])).code, 0);
  assert.equal((await folder.cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'request.json', '--output', 'response.json', '--out', 'receipt.json'])).code, 0);
  const sign = ['sign', '--key', 'keys/receipt-key.pem'];
  const verify = ['verify', 'receipt.json', '--key', 'keys/receipt-key.pub.pem'];
  const disclose = ['disclose', 'create', '--reveal', 'system'];
  for (const [argv, named] of [
    [['canon', 'broken.json'], 'broken.json'],
    [['id', 'broken.json'], 'broken.json'],
    [['explain', 'broken.json'], 'broken.json'],
    [['diff', 'request.json', 'broken.json'], 'broken.json'],
    [['diff', 'broken.json', 'request.json'], 'broken.json'],
    [[...sign, '--composition', 'broken.json', '--output', 'response.json'], '--composition broken.json'],
    [[...sign, '--composition', 'request.json', '--output', 'broken.json'], '--output broken.json'],
    [[...sign, '--composition', 'request.json', '--salts', 'broken.json', '--output', 'response.json'], '--salts broken.json'],
    [[...verify, '--composition', 'broken.json'], '--composition broken.json'],
    [[...verify, '--composition', 'request.json', '--output', 'broken.json'], '--output broken.json'],
    [[...verify, '--output', 'broken.json', '--output-format', 'openai-chat'], '--output broken.json'],
    [[...verify, '--composition', 'request.json', '--salts', 'broken.json'], '--salts broken.json'],
    [[...disclose, '--composition', 'broken.json', '--output', 'response.json'], '--composition broken.json'],
    [[...disclose, '--composition', 'request.json', '--salts', 'broken.json', '--output', 'response.json'], '--salts broken.json'],
    [[...disclose, '--composition', 'request.json', '--output', 'broken.json'], '--output broken.json'],
  ] as const) {
    const result = await folder.cli([...argv]);
    assert.deepEqual(result, { code: 3, stdout: '', stderr: `runprint: ERR_JSON_TRUNCATED: ${named}: ${TRUNCATED}\n` }, argv.join(' '));
  }
  // Nothing was written by a refused sign or disclose.
  assert.equal((await folder.cli([...sign, '--composition', 'request.json', '--output', 'broken.json', '--out', 'refused.json'])).code, 3);
  assert.equal((await folder.cli(['canon', 'refused.json'])).code, 4);
});

test('an output stream that cannot be assembled names --output; a stream given as the request says where it belongs', async () => {
  const folder = cliFolder('runprint-cli-parse-names-sse-');
  folder.file('request.json', REQUEST);
  folder.file('response.json', RESPONSE);
  folder.file('cut.sse', 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant","content":"Par"},"finish_reason":null}]}\n\n');
  const signed = await folder.cli(['sign', '--key', (await keyFolder(folder)), '--composition', 'request.json', '--output', 'cut.sse']);
  assert.equal(signed.code, 3);
  assert.match(signed.stderr, /^runprint: ERR_OUTPUT_INCOMPLETE_STREAM: --output cut\.sse: /);
  const id = await folder.cli(['id', 'cut.sse']);
  assert.equal(id.code, 3);
  assert.equal(id.stderr, 'runprint: ERR_JSON_SYNTAX: cut.sse: JSON syntax error: expected a value at byte 0 (line 1, column 1); this looks like a provider\'s event stream, not a request (give it with --response) (at $)\n');
  // The positional FILE from standard input is said as before: no file to name.
  const piped = await folder.cli(['canon', '-'], '{"model":\n');
  assert.deepEqual(piped, { code: 3, stdout: '', stderr: `runprint: ERR_JSON_TRUNCATED: ${TRUNCATED}\n` });
});

async function keyFolder(folder: ReturnType<typeof cliFolder>): Promise<string> {
  assert.equal((await folder.cli(['keygen', '--out', 'keys'])).code, 0);
  return 'keys/receipt-key.pem';
}
