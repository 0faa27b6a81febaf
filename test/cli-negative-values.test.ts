/**
 * A negative number given as an option's value (`--limit -1`, `--limit=-1`) reaches the option's
 * own check, which names the range, instead of being read as an option ("needs a value", or
 * serve's whole usage): for the commands of parseCommandLine and for serve's and model-digest's
 * own parsers alike.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CliIo } from '../src/cli/io.ts';
import { negativeValuesJoined, parseCommandLine } from '../src/cli/parse-options.ts';
import { runsCommand } from '../src/cli/runs-command.ts';
import { runCliInProcess } from './helpers/run-cli.ts';

const data = mkdtempSync(join(tmpdir(), 'runprint-negative-'));
after(() => rmSync(data, { recursive: true, force: true }));

const usageLine = (message: string) => `runprint: ERR_CLI_USAGE: ${message}\n`;

test('runs list --limit -1 and --limit=-1: the limit\'s range, exit 2', async () => {
  for (const limit of [['--limit', '-1'], ['--limit=-1'], ['--limit', '-5000']]) {
    const result = await runCliInProcess(['runs', 'list', '--data', data, ...limit]);
    assert.deepEqual(result, { code: 2, stdout: '', stderr: usageLine('limit must be a number from 1 to 1000') }, limit.join(' '));
  }
  // A value that is not a number still reads as a missing value: --json is an option, not a limit.
  const missing = await runCliInProcess(['runs', 'list', '--data', data, '--limit', '--json']);
  assert.equal(missing.stderr, usageLine('option --limit needs a value (run "runprint runs list --help")'));
  const dashed = await runCliInProcess(['runs', 'list', '--data', data, '--limit', '-x']);
  assert.equal(dashed.stderr, usageLine('option --limit needs a value (run "runprint runs list --help")'));
});

test('serve --capture-retention -1, --port -1: the option\'s own error, not serve\'s whole usage', async () => {
  for (const [args, message] of [
    [['--capture-retention', '-1'], '--capture-retention must be a number of days from 1 to 99999'],
    [['--capture-retention=-1'], '--capture-retention must be a number of days from 1 to 99999'],
    [['--port', '-1'], '--port must be a number from 0 to 65535'],
  ] as const) {
    const result = await runCliInProcess(['serve', '--data', join(data, 'serve'), ...args]);
    assert.deepEqual(result, { code: 2, stdout: '', stderr: usageLine(message) }, args.join(' '));
  }
});

test('serve --capture-keep with a mistyped part names the nearest one, as runprintFetch({ keep }) does; a wrong mode quotes the value', async () => {
  const typo = await runCliInProcess(['serve', '--data', join(data, 'serve'), '--capture-keep', 'sytem=digest']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^runprint: ERR_CLI_USAGE: --capture-keep "sytem=digest": unknown part "sytem" \(did you mean system\?\); PART is one of model, system, /);
  const mode = await runCliInProcess(['serve', '--data', join(data, 'serve'), '--capture-keep', 'output=kept']);
  assert.match(mode.stderr, /^runprint: ERR_CLI_USAGE: --capture-keep "output=kept" is not content, digest, or PART=content\|digest/);
  const misspelt = await runCliInProcess(['serve', '--data', join(data, 'serve'), '--capture-keep', 'output=contnet']);
  assert.match(misspelt.stderr, /^runprint: ERR_CLI_USAGE: --capture-keep "output=contnet" is not content, digest, .* \(did you mean output=content\?\)\n$/);
  const bare = await runCliInProcess(['serve', '--data', join(data, 'serve'), '--capture-keep', 'digst']);
  assert.match(bare.stderr, /\(did you mean digest\?\)\n$/);
  for (const result of [typo, mode, misspelt, bare]) assert.equal(result.stderr.split('\n').length, 2, 'one line');
});

test('model-digest --shard-size -5: its own range error', async () => {
  const result = await runCliInProcess(['model-digest', join(data, 'no-model'), '--shard-size', '-5']);
  assert.deepEqual(result, { code: 2, stdout: '', stderr: usageLine('--shard-size must be a positive whole number of bytes') });
});

test('a command function called without the dispatcher joins the value too (parseCommandLine)', async () => {
  let stderr = '';
  const io: CliIo = { readStdin: async () => new Uint8Array(0), stdout: () => undefined, stderr: (text) => void (stderr += text), stderrIsTTY: false, cwd: data };
  await assert.rejects(runsCommand(['list', '--data', data, '--limit', '-1'], io), /limit must be a number from 1 to 1000/);
  assert.equal(stderr, '');
  const { values } = parseCommandLine('x', ['--n', '-2.5', 'file'], { n: { type: 'string' } });
  assert.equal(values.n, '-2.5');
});

test('what is joined: a word of - and a digit after an option taking a value, never after --, never after a flag', () => {
  const takes = (name: string) => name === 'limit' || name === 'since';
  assert.deepEqual(negativeValuesJoined(['--limit', '-1', 'x'], takes), ['--limit=-1', 'x']);
  assert.deepEqual(negativeValuesJoined(['--limit', '-1', '--since', '-0'], takes), ['--limit=-1', '--since=-0']);
  assert.deepEqual(negativeValuesJoined(['--limit=-1', '-2'], takes), ['--limit=-1', '-2'], 'an inline value is the value; the next word is not');
  assert.deepEqual(negativeValuesJoined(['--json', '-1'], takes), ['--json', '-1'], 'a flag takes no value');
  assert.deepEqual(negativeValuesJoined(['--limit', '-x'], takes), ['--limit', '-x'], 'not a number');
  assert.deepEqual(negativeValuesJoined(['--limit', '-'], takes), ['--limit', '-'], 'standard input');
  assert.deepEqual(negativeValuesJoined(['--limit'], takes), ['--limit']);
  assert.deepEqual(negativeValuesJoined(['--', '--limit', '-1'], takes), ['--', '--limit', '-1'], 'after --, words are positionals');
  assert.deepEqual(negativeValuesJoined(['-1', '--limit', '-1'], takes), ['-1', '--limit=-1']);
});
