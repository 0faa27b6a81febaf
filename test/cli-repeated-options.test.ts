/**
 * An option that is not repeatable, given twice, is refused for every command (ERR_CLI_USAGE,
 * exit 2, naming the option and the command) instead of the last value being kept silently: `sign
 * --key A --key B` signed with B alone. The options docs/CLI.md calls repeatable stay repeatable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { COMMAND_USAGE } from '../src/cli/usage.ts';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { runCliInProcess } from './helpers/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'runprint-repeated-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const usageLine = (message: string) => `runprint: ERR_CLI_USAGE: ${message}\n`;

test('every non-repeatable option of every command, given twice, is refused by name', async () => {
  let checked = 0;
  for (const form of COMMAND_USAGE) {
    for (const option of form.options) {
      if (option.repeatable === true || option.name === 'help') continue;
      const once = option.value === undefined ? [`--${option.name}`] : [`--${option.name}`, 'x'];
      const twice = option.value === undefined ? [`--${option.name}`] : [`--${option.name}=y`];
      // replay's batch form is the one with --runs.
      const batch = option.name !== 'runs' && form.options.some((each) => each.name === 'runs') ? ['--runs', 'all'] : [];
      const result = await runCliInProcess([...form.command.split(' '), ...batch, ...once, ...twice], { cwd: dir });
      const where = `${form.command} --${option.name} twice`;
      assert.equal(result.code, 2, `${where}: ${result.stderr}`);
      assert.equal(result.stderr, `runprint: ERR_CLI_USAGE: --${option.name} is given more than once; ${form.command} takes it once\n`, where);
      checked++;
    }
  }
  assert.ok(checked > 100, `${checked} options checked`);
});

test('the cases of the review: sign --key, serve --data, replay --model, id --from, runs list --data', async () => {
  for (const [argv, message] of [
    [['sign', '--key', 'a.pem', '--key', 'b.pem', '--composition', 'c.json', '--output', 'o.json'], '--key is given more than once; sign takes it once'],
    [['serve', '--port', '0', '--data', join(dir, 'sv8'), '--data', join(dir, 'sv9')], '--data is given more than once; serve takes it once'],
    [['serve', '--port', '0', '--data', join(dir, 'sv8'), '--capture-token', 'a', '--capture-token=b'], '--capture-token is given more than once; serve takes it once'],
    [['replay', 'RUN', '--model', 'a', '--model', 'b'], '--model is given more than once; replay takes it once'],
    [['replay', '--runs', 'all', '--runs', 'limit=1', '--json', 'r.json'], '--runs is given more than once; replay takes it once'],
    [['id', 'req.json', '--from', 'openai-chat', '--from', 'composition'], '--from is given more than once; id takes it once'],
    [['runs', 'list', '--data', dir, '--data', join(dir, 'nowhere')], '--data is given more than once; runs list takes it once'],
    [['log', 'monitor', 'http://127.0.0.1:1/', '--key', 'k.vkey', '--interval', '5', '--interval', '-1'], '--interval is given more than once; log monitor takes it once'],
    [['model-digest', 'model.bin', '--method', 'files', '--method=shards'], '--method is given more than once; model-digest takes it once'],
    [['keygen', '--json', '--out', join(dir, 'k'), '--json'], '--json is given more than once; keygen takes it once'],
  ] as const) {
    const result = await runCliInProcess([...argv], { cwd: dir });
    assert.deepEqual(result, { code: 2, stdout: '', stderr: usageLine(message) }, argv.join(' '));
  }
  // Nothing was made for the refused serve.
  assert.throws(() => readFileSync(join(dir, 'sv8', 'log-key.pem')), { code: 'ENOENT' });
});

test('the repeatable options stay repeatable: verify --key twice checks both signers', async () => {
  const a = await generateKeyFiles('repeated-a');
  const b = await generateKeyFiles('repeated-b');
  writeFileSync(join(dir, 'a.pem'), a.privateKeyPem);
  writeFileSync(join(dir, 'a.pub.pem'), a.publicKeyPem);
  writeFileSync(join(dir, 'b.pub.pem'), b.publicKeyPem);
  writeFileSync(join(dir, 'c.json'), JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }));
  writeFileSync(join(dir, 'o.json'), JSON.stringify({ id: 'x', object: 'chat.completion', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }] }));
  const signed = await runCliInProcess(['sign', '--key', 'a.pem', '--composition', 'c.json', '--output', 'o.json', '--out', 'r.json'], { cwd: dir });
  assert.equal(signed.code, 0, signed.stderr);
  const one = await runCliInProcess(['verify', 'r.json', '--key', 'a.pub.pem', '--key', 'a.pub.pem'], { cwd: dir });
  assert.equal(one.code, 0, one.stderr);
  // Both keys are checked (b did not sign): not the last one alone, nor a usage error.
  const both = await runCliInProcess(['verify', 'r.json', '--key', 'a.pub.pem', '--key', 'b.pub.pem'], { cwd: dir });
  assert.notEqual(both.code, 0);
  assert.notEqual(both.code, 2, both.stderr);
});
