/**
 * Typo protection (docs/SPEC.md 4.1.3): a provider request with members its mapping does not name,
 * or roles its API does not define, keeps them and gets its identity, with a warning naming each
 * and the nearest known name; --strict refuses it with ERR_REQUEST_UNKNOWN_MEMBER (exit 3).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { computeIdentity } from '../src/identity/identity.ts';
import { compositionFromRequest } from '../src/providers/request-mapping.ts';
import { unknownMembers } from '../src/providers/unknown-members.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { file, cli, folder } = cliFolder('runprint-cli-request-members-');

const typos = {
  model: 'gpt-4o',
  mesages: [],
  temprature: 0.2,
  system: 'Be brief.',
  messages: [{ role: 'sytem', content: 'a' }, { role: 'user', content: 'b' }],
};

test('unknown members and roles are kept, the identity is the mapping\'s, and each is named with the nearest known name', async () => {
  file('typos.json', JSON.stringify(typos));
  const result = await cli(['id', 'typos.json', '--from', 'openai-chat']);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `${computeIdentity(compositionFromRequest('openai-chat', typos)).requestId}\n`);
  assert.equal(result.stderr, [
    'runprint: warning: typos.json: member "mesages" is not in the openai-chat mapping (kept in configuration: it changes the identity); did you mean "messages"? (at $[\'mesages\'])',
    'runprint: warning: typos.json: member "temprature" is not in the openai-chat mapping (kept in configuration: it changes the identity); did you mean "temperature"? (at $[\'temprature\'])',
    'runprint: warning: typos.json: member "system" is not in the openai-chat mapping (kept in configuration: it changes the identity); it is a member of anthropic-messages requests (is --from right?) (at $[\'system\'])',
    'runprint: warning: typos.json: role "sytem" is not a role of openai-chat messages (kept as given); did you mean "system"? (at $[\'messages\'][0][\'role\'])',
    '',
  ].join('\n'));
  // The same warnings from explain; diff names each file.
  assert.equal((await cli(['explain', 'typos.json', '--from', 'openai-chat'])).stderr, result.stderr);
  file('clean.json', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'b' }] }));
  const diff = await cli(['diff', 'clean.json', 'typos.json', '--from', 'openai-chat']);
  assert.equal(diff.code, 1);
  assert.equal(diff.stderr, result.stderr);
  assert.deepEqual(await cli(['id', '-', '--from', 'openai-chat'], JSON.stringify({ model: 'gpt-4o', messages: [], guided_json: {} })), {
    code: 0, stdout: (await cli(['id', '-', '--from', 'openai-chat'], JSON.stringify({ model: 'gpt-4o', messages: [], guided_json: {} }))).stdout,
    stderr: 'runprint: warning: standard input: member "guided_json" is not in the openai-chat mapping (kept in configuration: it changes the identity) (at $[\'guided_json\'])\n',
  });
});

test('--strict refuses the request with ERR_REQUEST_UNKNOWN_MEMBER at the first unknown member, exit 3', async () => {
  file('typos.json', JSON.stringify(typos));
  for (const command of ['id', 'explain']) {
    assert.deepEqual(await cli([command, 'typos.json', '--from', 'openai-chat', '--strict']), {
      code: 3, stdout: '',
      stderr: 'runprint: ERR_REQUEST_UNKNOWN_MEMBER: member "mesages" is not in the openai-chat mapping; did you mean "messages"? (and 3 more) (at $[\'mesages\'])\n',
    });
  }
  file('role.json', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'system', content: 'x' }] }));
  assert.deepEqual(await cli(['id', 'role.json', '--from', 'anthropic-messages', '--strict']), {
    code: 3, stdout: '', stderr: 'runprint: ERR_REQUEST_UNKNOWN_MEMBER: role "system" is not a role of anthropic-messages messages (at $[\'messages\'][0][\'role\'])\n',
  });
  // A request its mapping knows entirely: no warning, and --strict changes nothing.
  file('clean.json', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'developer', content: 'x' }, { role: 'user', content: 'b' }], temperature: 0, stream: true }));
  const clean = await cli(['id', 'clean.json']);
  assert.equal(clean.stderr, '');
  assert.deepEqual(await cli(['id', 'clean.json', '--strict']), clean);
  // A composition is not a provider request: its shape rules are section 2's.
  file('composition.json', JSON.stringify({ version: 'runprint/v1', model: { api: 'x', name: 'y' }, system: [], input: [], context: [], tools: [], parameters: { temprature: 1 }, configuration: {} }));
  assert.equal((await cli(['id', 'composition.json', '--strict'])).code, 0);
});

test('sign warns as id does about each unknown member, signs the identity with them kept, and --strict refuses before signing', async () => {
  file('typos.json', JSON.stringify(typos));
  file('response.json', RESPONSE_TEXT);
  assert.equal((await cli(['keygen', '--out', 'keys'])).code, 0);
  const warned = await cli(['id', 'typos.json', '--from', 'openai-chat']);
  const signArgs = ['sign', '--key', 'keys/receipt-key.pem', '--composition', 'typos.json', '--output', 'response.json', '--from', 'openai-chat'];
  const signed = await cli([...signArgs, '--out', 'typos-receipt.json']);
  assert.equal(signed.code, 0);
  assert.equal(signed.stderr, warned.stderr);
  assert.match(signed.stderr, /did you mean "messages"\?/);
  const runId = (await cli(['id', 'typos.json', '--from', 'openai-chat', '--response', 'response.json'])).stdout.trim();
  const shown = JSON.parse((await cli(['show', 'typos-receipt.json', '--json'])).stdout);
  assert.equal(shown.runId, runId, 'the receipt binds the identity with the unknown members kept');
  const strict = await cli([...signArgs, '--strict', '--out', 'strict-receipt.json']);
  assert.deepEqual(strict, {
    code: 3, stdout: '',
    stderr: 'runprint: ERR_REQUEST_UNKNOWN_MEMBER: member "mesages" is not in the openai-chat mapping; did you mean "messages"? (and 3 more) (at $[\'mesages\'])\n',
  });
  assert.equal(existsSync(join(folder, 'strict-receipt.json')), false, 'nothing is signed or written');
  // A request its mapping knows: no warning, and --strict signs the same receipt.
  file('clean.json', JSON.stringify(REQUEST));
  const clean = await cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'clean.json', '--output', 'response.json', '--started', '2026-01-01T00:00:00Z']);
  assert.deepEqual(clean.stderr, '');
  assert.deepEqual(await cli(['sign', '--key', 'keys/receipt-key.pem', '--composition', 'clean.json', '--output', 'response.json', '--started', '2026-01-01T00:00:00Z', '--strict']), clean);
  // Countersigning signs a payload as it is: --strict has nothing to check there.
  const countersign = await cli(['sign', '--add-to', 'typos-receipt.json', '--key', 'keys/receipt-key.pem', '--strict']);
  assert.deepEqual(countersign, { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: --strict cannot be used with --add-to: the payload is already signed\n' });
});

test('--from auto does not guess the format of a request whose only unknown member may be a typo (SPEC 4.5 rule 6)', async () => {
  file('auto.json', JSON.stringify({ model: 'gpt-4o', mesages: [{ role: 'user', content: 'b' }], temperature: 0 }));
  assert.deepEqual(await cli(['id', 'auto.json']), {
    code: 3, stdout: '', stderr: 'runprint: ERR_PROVIDER_UNKNOWN_FORMAT: input has no field that only one API defines, and a member no supported API defines: $[\'mesages\'] (did you mean "messages"?); pass --from openai-chat|openai-responses|anthropic-messages to identify it anyway, with a warning naming each unknown member (at $)\n',
  });
  // README's own example: a misspelled shared field names itself and the field it is nearest to.
  file('temprature.json', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temprature: 0 }));
  assert.match((await cli(['id', 'temprature.json'])).stderr, /: \$\['temprature'\] \(did you mean "temperature"\?\); pass --from openai-chat\|/);
  const named = await cli(['id', 'auto.json', '--from', 'openai-chat']);
  assert.equal(named.code, 0);
  assert.match(named.stderr, /did you mean "messages"\?/);
});

test('each provider: its fields and roles are known, others are found with their paths', () => {
  assert.deepEqual(unknownMembers('openai-responses', { model: 'gpt-5', input: [{ role: 'usr', content: 'x' }, { type: 'function_call_output', call_id: 'c', output: 'o' }], instructions: 'x', max_output_tokens: 5 }), [
    { kind: 'role', name: 'usr', path: "$['input'][0]['role']", known: ['user', 'assistant', 'system', 'developer'], knownIn: [] },
  ]);
  assert.deepEqual(unknownMembers('anthropic-messages', { model: 'c', max_tokens: 1, system: 'x', messages: [{ role: 'assistant', content: 'x' }], stop_sequences: [] }), []);
  const found = unknownMembers('anthropic-messages', { model: 'c', max_tokens: 1, messages: [], instructions: 'x' });
  assert.deepEqual(found.map(({ name, path, knownIn }) => ({ name, path, knownIn })), [{ name: 'instructions', path: "$['instructions']", knownIn: ['openai-responses'] }]);
  assert.deepEqual(unknownMembers('openai-chat', 'not an object'), []);
});

test('a member name is echoed escaped and cut', async () => {
  file('odd.json', JSON.stringify({ model: 'gpt-4o', messages: [], [`x\u001b[31m${'y'.repeat(100)}`]: 1 }));
  const result = await cli(['id', 'odd.json', '--from', 'openai-chat']);
  assert.equal(result.code, 0);
  assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(result.stderr), JSON.stringify(result.stderr));
  assert.ok(result.stderr.startsWith(`runprint: warning: odd.json: member "x\\u001b[31m${'y'.repeat(34)}…" is not in the openai-chat mapping`), result.stderr);
});
