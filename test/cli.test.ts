/** The runprint command line: outputs, exit codes and one-line errors (README, "CLI"). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { cliFolder } from './helpers/cli-folder.ts';

const { folder, file, cli } = cliFolder('runprint-cli-');

const chat = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello' },
  ],
  temperature: 0,
  stream: true,
};

test('canon prints the RFC 8785 bytes and nothing else', async () => {
  const result = await cli(['canon', '-'], '{ "b": [1.0, 2e0, "é"], "a": {"z": null, "y": true} }');
  assert.deepEqual(result, { code: 0, stdout: '{"a":{"y":true,"z":null},"b":[1,2,"é"]}', stderr: '' });
});

test('id prints the request identity of a provider request, stable across formatting', async () => {
  const a = await cli(['id', file('chat.json', JSON.stringify(chat))]);
  const b = await cli(['id', '--from', 'openai-chat', '-'], JSON.stringify(chat, null, 4));
  assert.equal(a.code, 0);
  assert.match(a.stdout, /^rp-req-v1-sha256-[0-9a-f]{64}\n$/);
  assert.equal(a.stdout, b.stdout);
  const unstreamed = await cli(['id', '-'], JSON.stringify({ ...chat, stream: false }));
  assert.equal(unstreamed.stdout, a.stdout, 'stream is excluded from identity');
  const warmer = await cli(['id', '-'], JSON.stringify({ ...chat, temperature: 0.1 }));
  assert.notEqual(warmer.stdout, a.stdout);
});

test('id --response gives the run identity; --json prints the identity document', async () => {
  const response = file('response.json', JSON.stringify({
    id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
  }));
  const result = await cli(['id', '--from', 'openai-chat', '--response', response, '--json', file('c.json', JSON.stringify(chat))]);
  assert.equal(result.code, 0, result.stderr);
  const document = JSON.parse(result.stdout);
  assert.match(document.runId, /^rp-run-v1-sha256-/);
  assert.deepEqual(document.served.facts.model, { source: 'reported', value: 'gpt-4o-2024-08-06' });
  assert.deepEqual(document.excluded, ['stream']);
  assert.equal(document.components.system.count, 1);
});

// SPEC 4.7: the response is read as SPEC 12.1 reads a body, so a stream and its response give the
// same served facts, and `id` gives the run identity that `sign` puts in a receipt.
test('id --response reads a JSON response or its SSE stream alike (SPEC 4.7)', async () => {
  const fixtures = new URL('./fixtures/output/', import.meta.url);
  const requests: Record<string, unknown> = {
    'openai-chat': chat,
    'openai-responses': { model: 'gpt-5', input: 'Hello', stream: true },
    'anthropic-messages': { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }], stream: true },
  };
  for (const [format, request] of Object.entries(requests)) {
    const input = file(`${format}-request.json`, JSON.stringify(request));
    const ids = [];
    for (const kind of ['json', 'sse']) {
      const body = new URL(`${format}/text.${kind}`, fixtures).pathname;
      const result = await cli(['id', '--from', format, '--response', body, '--json', input]);
      assert.equal(result.code, 0, `${format} ${kind}: ${result.stderr}`);
      const document = JSON.parse(result.stdout);
      assert.ok(Object.keys(document.served.facts).includes('model'), `${format} ${kind}`);
      ids.push(document.runId);
    }
    assert.equal(ids[0], ids[1], `${format}: a stream and its response give one run identity`);
  }
});

test('id --response: no served fact gives served {}; an error body and a composition are refused (SPEC 4.7)', async () => {
  const input = file('chat-request.json', JSON.stringify(chat));
  const bare = file('bare.json', JSON.stringify({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }] }));
  const result = await cli(['id', '--response', bare, '--json', input]);
  assert.equal(result.code, 0, result.stderr);
  const document = JSON.parse(result.stdout);
  assert.deepEqual(document.served.facts, {});
  assert.match(document.runId, /^rp-run-v1-sha256-/);
  const error = await cli(['id', '--response', file('error.json', JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests' } })), input]);
  assert.equal(error.code, 3);
  assert.match(error.stderr, /^runprint: ERR_OUTPUT_[A-Z_]+: /);
  assert.doesNotMatch(error.stderr, /Rate limit/);
  const composition = { version: 'runprint/v1', model: { name: 'm' }, system: [], input: [], context: [], tools: [], parameters: {}, configuration: {} };
  const refused = await cli(['id', '--response', bare, file('composition.json', JSON.stringify(composition))]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^runprint: ERR_CLI_USAGE: a response combines with a provider request, not with a composition/);
  const twice = await cli(['id', '--response', '-'], '{}');
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /^runprint: ERR_CLI_USAGE: only one of FILE and --response can be standard input/);
});

test('explain shows components and digests without message text', async () => {
  const result = await cli(['explain', file('e.json', JSON.stringify(chat))]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^request  rp-req-v1-sha256-/);
  assert.match(result.stdout, /├─ input +sha256:[0-9a-f]{64}  1 element/);
  assert.match(result.stdout, /excluded from identity: stream/);
  assert.doesNotMatch(result.stdout, /Hello|Be brief/);
});

test('explain cuts long names at 64 code points and escapes control characters (SPEC 1.3)', async () => {
  const huge = 'm'.repeat(1 << 20);
  const request = { model: huge, messages: [{ role: 'user', content: 'Hello' }], temperature: 0, '\u001b[31mred': 1 };
  const result = await cli(['explain', '--from', 'openai-chat', file('long.json', JSON.stringify(request))]);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stdout.length < 4000, `${result.stdout.length} characters`);
  assert.match(result.stdout, new RegExp(`openai-chat m{64}\u2026\n`));
  assert.doesNotMatch(result.stdout, /\u001b/);
  assert.match(result.stdout, /\\u001b\[31mred/);
});

test('diff exits 0 when equal and 1 with the paths that differ', async () => {
  const a = file('a.json', JSON.stringify(chat));
  const same = await cli(['diff', a, file('a2.json', JSON.stringify({ ...chat, stream: false }))]);
  assert.equal(same.code, 0);
  assert.match(same.stdout, /^equal rp-req-v1-sha256-/);
  const changed = structuredClone(chat);
  changed.messages[1]!.content = 'Hello!';
  const different = await cli(['diff', a, file('b.json', JSON.stringify({ ...changed, temperature: 1 }))]);
  assert.equal(different.code, 1);
  assert.match(different.stdout, /changed +input +\$\['input'\]\[0\]\['content'\]/);
  assert.match(different.stdout, /changed +parameters +\$\['parameters'\]\['temperature'\]/);
});

test('bad input: one line on stderr with a stable code, nothing on stdout, documented exit codes', async () => {
  const cases: Array<[string[], string, number, RegExp]> = [
    [['canon', '-'], '{"a":1,"a":2}', 3, /^runprint: ERR_JSON_DUPLICATE_KEY: .* \(at \$\['a'\]\)\n$/],
    [['canon', '-'], '{"a":', 3, /^runprint: ERR_JSON_TRUNCATED: /],
    [['id', '-'], '{"model":"m","messages":[],"max_tokens":5}', 3, /^runprint: ERR_PROVIDER_AMBIGUOUS_FORMAT: /],
    [['id', '--from', 'openai-chat', '-'], '{"messages":[]}', 3, /^runprint: ERR_PROVIDER_INVALID_REQUEST: /],
    [['id', '--from', 'nope', '-'], '{}', 2, /^runprint: ERR_CLI_USAGE: /],
    [['id', join(folder, 'missing.json')], '', 4, /^runprint: ERR_INPUT_NOT_FOUND: no such file: \/.*\/missing\.json\n$/],
    [['id', folder], '', 4, /^runprint: ERR_INPUT_UNREADABLE: /],
    [['frobnicate'], '', 2, /^runprint: ERR_CLI_USAGE: unknown command/],
    [['canon', '--bogus'], '', 2, /^runprint: ERR_CLI_USAGE: /],
    [['diff', 'a'], '', 2, /^runprint: ERR_CLI_USAGE: wrong number of arguments/],
  ];
  for (const [argv, stdin, code, stderr] of cases) {
    const result = await cli(argv, stdin);
    assert.equal(result.code, code, argv.join(' '));
    assert.equal(result.stdout, '', argv.join(' '));
    assert.match(result.stderr, stderr, argv.join(' '));
    assert.equal(result.stderr.split('\n').length, 2, 'exactly one line');
  }
});

test('a secret in the input is never echoed in an error', async () => {
  const secret = 'sk-live-DO-NOT-PRINT-0123456789';
  const result = await cli(['id', '--from', 'openai-chat', '-'], `{"model":"m","messages":[{"role":"user","content":"${secret}"}],"x":1,"x":2}`);
  assert.equal(result.code, 3);
  assert.doesNotMatch(result.stderr, new RegExp(secret));
});

test('the installed bin runs end to end and never prints a stack trace', async () => {
  const bin = new URL('../bin/runprint.js', import.meta.url).pathname;
  const ok = await promisify(execFile)(process.execPath, [bin, 'id', file('bin.json', JSON.stringify(chat))]);
  assert.match(ok.stdout, /^rp-req-v1-sha256-[0-9a-f]{64}\n$/);
  const failed = await promisify(execFile)(process.execPath, [bin, 'canon', file('bad.json', '{"a": NaN}')]).catch((error) => error);
  assert.equal(failed.code, 3);
  assert.match(failed.stderr, /^runprint: ERR_JSON_SYNTAX: /);
  assert.doesNotMatch(failed.stderr, /\n\s+at /);
});

test('runprint --version prints package.json version; an unknown command names itself and the nearest command', async () => {
  const { readFileSync } = await import('node:fs');
  const folder = cliFolder('runprint-version-');
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const word of ['--version', '-V', 'version']) {
    assert.deepEqual(await folder.cli([word]), { code: 0, stdout: `${version}\n`, stderr: '' });
  }
  const typo = await folder.cli(['verfy', 'receipt.json']);
  assert.equal(typo.code, 2);
  assert.equal(typo.stderr, 'runprint: ERR_CLI_USAGE: unknown command "verfy"; did you mean "verify"? (run "runprint help")\n');
  const far = await folder.cli(['zzzzzzzz']);
  assert.equal(far.stderr, 'runprint: ERR_CLI_USAGE: unknown command "zzzzzzzz"; run "runprint help"\n');
  const hostile = await folder.cli([`\u001b[31m${'x'.repeat(100)}`]);
  assert.equal(hostile.stderr.includes('\u001b'), false, 'no terminal escape is echoed');
  assert.ok(hostile.stderr.length < 120, 'a long word is cut');
});
