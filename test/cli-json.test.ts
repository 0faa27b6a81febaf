/** The `--json` output of explain, diff, keygen and log monitor: the shapes docs/CLI.md documents, from the real commands. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodeBase64 } from '../src/keys/base64.ts';
import { generateKeyFiles, parsePrivateKey, parsePublicKey } from '../src/keys/keys.ts';
import { parseCheckpoint } from '../src/log/checkpoint.ts';
import { parseNote } from '../src/log/note.ts';
import { createApp } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { openSqliteLog } from '../src/store/log-service.ts';
import { cliFolder } from './helpers/cli-folder.ts';

const { folder, file, cli } = cliFolder('runprint-cli-json-');
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const chat = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'Be brief. SECRET-PROMPT-TEXT' },
    { role: 'user', content: 'Hello' },
  ],
  tools: [{ type: 'function', function: { name: 'get_weather', parameters: {} } }],
  temperature: 0,
  stream: true,
};
const response = {
  id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
};

test('explain --json: the components in SPEC order with digests, members and element tags, never content', async () => {
  file('chat.json', JSON.stringify(chat));
  file('response.json', JSON.stringify(response));
  const result = await cli(['explain', 'chat.json', '--response', 'response.json', '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(!result.stdout.includes('SECRET-PROMPT-TEXT'));
  const explained = JSON.parse(result.stdout);
  const identity = JSON.parse((await cli(['id', 'chat.json', '--response', 'response.json', '--json'])).stdout);
  assert.deepEqual(Object.keys(explained), ['format', 'requestId', 'runId', 'components', 'excluded']);
  assert.equal(explained.format, 'openai-chat');
  assert.equal(explained.requestId, identity.requestId);
  assert.equal(explained.runId, identity.runId);
  assert.deepEqual(explained.excluded, identity.excluded);
  assert.deepEqual(explained.components.map((c: { name: string }) => c.name), [...Object.keys(identity.components), 'served']);
  for (const component of explained.components) {
    assert.match(component.digest, DIGEST);
    if (component.kind !== 'served') assert.equal(component.digest, `sha256:${identity.components[component.name].digest.sha256}`);
  }
  const byName = Object.fromEntries(explained.components.map((c: { name: string }) => [c.name, c]));
  assert.deepEqual(byName.model, { name: 'model', kind: 'value', digest: byName.model.digest, members: ['openai-chat', 'gpt-4o'] });
  assert.deepEqual(byName.parameters.members, ['temperature']);
  assert.equal(byName.system.kind, 'list');
  assert.equal(byName.system.count, 1);
  assert.deepEqual(byName.system.elements[0].tags, { role: 'system' });
  assert.equal(byName.system.elements[0].index, 0);
  assert.equal(byName.system.elements[0].bytes, JSON.stringify(chat.messages[0]).length);
  assert.equal(byName.system.elements[0].digest, `sha256:${identity.components.system.elements[0].sha256}`);
  assert.deepEqual(byName.tools.elements[0].tags, { type: 'function', function: 'get_weather' });
  assert.deepEqual(byName.served.facts, Object.fromEntries(Object.entries(identity.served.facts).map(([name, fact]) => [name, (fact as { source: string }).source])));
  const text = await cli(['explain', 'chat.json']);
  for (const component of JSON.parse((await cli(['explain', 'chat.json', '--json'])).stdout).components) assert.ok(text.stdout.includes(component.digest));
});

test('diff --json: equal, compared, both identities and each difference; exit 0 or 1 as without --json', async () => {
  file('a.json', JSON.stringify(chat));
  file('b.json', JSON.stringify({ ...chat, temperature: 0.5 }));
  const same = await cli(['diff', 'a.json', 'a.json', '--json']);
  const idA = (await cli(['id', 'a.json'])).stdout.trim();
  assert.deepEqual({ code: same.code, stderr: same.stderr, json: JSON.parse(same.stdout) }, {
    code: 0, stderr: '', json: { equal: true, compared: 'requestId', a: idA, b: idA, differences: [], inexact: [] },
  });
  const differ = await cli(['diff', 'a.json', 'b.json', '--json']);
  assert.equal(differ.code, 1);
  assert.deepEqual(JSON.parse(differ.stdout), {
    equal: false, compared: 'requestId', a: idA, b: (await cli(['id', 'b.json'])).stdout.trim(),
    differences: [{ component: 'parameters', change: 'changed', path: "$['parameters']['temperature']" }],
    inexact: [],
  });
});

test('keygen --json: key id, verifier key and the files written, never the private key', async () => {
  const result = await cli(['keygen', '--out', 'keys', '--name', 'example.test/app', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout);
  const keys = join(folder, 'keys');
  assert.deepEqual(printed.files, {
    privateKey: join(keys, 'receipt-key.pem'), publicKeyPem: join(keys, 'receipt-key.pub.pem'),
    publicKeyJwk: join(keys, 'receipt-key.pub.jwk'), verifierKey: join(keys, 'receipt-key.vkey'),
  });
  assert.deepEqual(Object.keys(printed), ['keyId', 'verifierKey', 'files']);
  assert.equal(printed.keyId, (await parsePublicKey(readFileSync(printed.files.publicKeyPem, 'utf8'))).keyId);
  assert.equal(`${printed.verifierKey}\n`, readFileSync(printed.files.verifierKey, 'utf8'));
  assert.ok(!result.stdout.includes('PRIVATE KEY'));
});

test('log monitor --json: one line per check, first then unchanged then grown', async () => {
  const origin = 'example.test/cli-json-log';
  const key = await parsePrivateKey((await generateKeyFiles(origin)).privateKeyPem);
  const log = await openSqliteLog({ path: join(folder, 'log.sqlite'), origin, key, checkpointDelayMs: 20 });
  const server = await listen(createApp({ log: { log, token: 'token-0123456789abcdef' } }), { host: '127.0.0.1', port: 0 });
  closers.push(async () => {
    await server.close();
    await log.close();
  });
  const url = `http://127.0.0.1:${server.port}/`;
  const append = async (body: string) => {
    const answer = await fetch(`${url}v1/log/entries`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: 'Bearer token-0123456789abcdef' } });
    assert.equal(answer.ok, true);
    await answer.arrayBuffer();
    await log.publishCheckpoint();
  };
  const entry = (n: number) => JSON.stringify({ payload: encodeBase64(new TextEncoder().encode(`entry ${n}`)), payloadType: 'text/plain', signatures: [{ sig: 'AAAA' }] });
  await append(entry(0));
  const vkey = file('log.vkey', `${log.verifierKey}\n`);
  const monitor = () => cli(['log', 'monitor', url, '--key', vkey, '--state', 'monitor.json', '--once', '--json']);
  const rootHash = async () => encodeBase64(parseCheckpoint(parseNote(await (await fetch(`${url}checkpoint`)).text()).text).rootHash);
  const lines: unknown[] = [];
  for (const step of [() => undefined, () => undefined, async () => { await append(entry(1)); await append(entry(2)); }]) {
    await step();
    const result = await monitor();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\{[^\n]*\}\n$/);
    lines.push({ ...JSON.parse(result.stdout), rootHash: JSON.parse(result.stdout).rootHash === await rootHash() });
  }
  assert.deepEqual(lines, [
    { origin, size: 1, rootHash: true, previousSize: null, change: 'first', entriesChecked: 1 },
    { origin, size: 1, rootHash: true, previousSize: 1, change: 'unchanged', entriesChecked: 0 },
    { origin, size: 3, rootHash: true, previousSize: 1, change: 'grown', entriesChecked: 2 },
  ]);
});
