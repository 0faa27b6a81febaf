/**
 * A command that would read its document from standard input, run at a terminal with no file and
 * nothing piped in, prints its usage and exits 2 instead of waiting silently (README, "CLI").
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { CliIo } from '../src/cli/io.ts';
import { run } from '../src/cli/main.ts';
import { formatCommandHelp } from '../src/cli/usage.ts';

const LINE = 'runprint: ERR_CLI_USAGE: standard input is a terminal: give a FILE, or pipe the document in\n';

async function atTerminal(argv: string[], stdinIsTTY: boolean, stdin = '{"a":1}') {
  let stdout = '';
  let stderr = '';
  let read = false;
  const io: CliIo = {
    readStdin: async () => {
      read = true;
      return new TextEncoder().encode(stdin);
    },
    stdout: (text) => void (stdout += typeof text === 'string' ? text : new TextDecoder().decode(text)),
    stderr: (text) => void (stderr += text),
    stderrIsTTY: false,
    stdinIsTTY,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  };
  return { code: await run(argv, io), stdout, stderr, read };
}

test('standard input at a terminal: the command\'s usage on stderr, exit 2, stdin never read', async () => {
  for (const [argv, words] of [[['canon'], 'canon'], [['id', '-'], 'id'], [['explain', '--from', 'openai-chat'], 'explain'], [['log', 'submit', '-', '--log', 'http://127.0.0.1:1/'], 'log submit']] as const) {
    assert.deepEqual(await atTerminal([...argv], true), { code: 2, stdout: '', stderr: `${LINE}\n${formatCommandHelp(words)}`, read: false }, argv.join(' '));
  }
});

test('piped standard input is read as before', async () => {
  assert.deepEqual(await atTerminal(['canon'], false), { code: 0, stdout: '{"a":1}', stderr: '', read: true });
  assert.deepEqual(await atTerminal(['canon', '-'], false), { code: 0, stdout: '{"a":1}', stderr: '', read: true });
});

test('a real process on a pseudo-terminal (script(1)) exits 2 with the usage instead of waiting', async () => {
  const bin = fileURLToPath(new URL('../bin/runprint.js', import.meta.url));
  // script gives the child a terminal as standard input; a child that waited would be killed by the timeout.
  const child = promisify(execFile)('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} id`, '/dev/null'], { timeout: 30_000 });
  const failure = await child.then(() => undefined, (error: { code?: number; killed?: boolean; stdout?: string }) => error);
  assert.ok(failure !== undefined, 'runprint id at a terminal must not succeed');
  assert.equal(failure.killed, false, 'runprint id waited at the terminal');
  assert.equal(failure.code, 2);
  const output = failure.stdout!.replaceAll('\r\n', '\n');
  assert.ok(output.startsWith(`${LINE}\nusage: runprint id [FILE|-]`), JSON.stringify(output.slice(0, 200)));
});
