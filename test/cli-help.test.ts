/**
 * The command line explains itself: `runprint help COMMAND` and `COMMAND --help` for every command,
 * printed from the usage definitions (src/cli/usage.ts) with examples; an option that is not
 * understood is named, with the nearest valid one, and exits 2 (README, "CLI").
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CliIo } from '../src/cli/io.ts';
import { run } from '../src/cli/main.ts';
import { COMMAND_USAGE, formatCommandHelp } from '../src/cli/usage.ts';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { generateKeyFiles } from '../src/keys/keys.ts';
import { defaultContentPolicy, runToStore } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { cliFolder } from './helpers/cli-folder.ts';
import { REQUEST, RESPONSE_TEXT } from './fixtures/receipt-run.ts';

const TERMINAL = 'runprint: ERR_CLI_USAGE: standard input is a terminal: give a FILE, or pipe the document in\n';

const { cli } = cliFolder('runprint-cli-help-');

/** Every command as help takes it: each first word (`log`) and each whole form (`log proof`). */
const commandWords = [...new Set(COMMAND_USAGE.flatMap((form) => [form.command.split(' ')[0]!, form.command]))];

test('COMMAND --help, -h and runprint help COMMAND print the same help for every command, exit 0', async () => {
  for (const words of commandWords) {
    const want = formatCommandHelp(words);
    assert.ok(want !== undefined, words);
    for (const argv of [[...words.split(' '), '--help'], [...words.split(' '), '-h'], ['help', ...words.split(' ')]]) {
      assert.deepEqual(await cli(argv), { code: 0, stdout: want, stderr: '' }, argv.join(' '));
    }
  }
  // --help wins over whatever else the line holds, even an option that would be refused.
  assert.deepEqual(await cli(['id', 'request.json', '--bogus', '--help']), { code: 0, stdout: formatCommandHelp('id'), stderr: '' });
  assert.deepEqual(await cli(['log', 'proof', '--json', '-h']), { code: 0, stdout: formatCommandHelp('log proof'), stderr: '' });
});

test('each help gives the summary, every option and one to three examples of each form; examples use only that form\'s options', async () => {
  for (const form of COMMAND_USAGE) {
    const help = formatCommandHelp(form.command)!;
    assert.ok(help.startsWith(`usage: runprint ${form.command}`), form.command);
    assert.ok(help.includes(form.summary), `${form.command}: summary`);
    for (const option of form.options) assert.match(help, new RegExp(`\\n  --${option.name}\\b`), `${form.command} --${option.name}`);
    assert.ok(form.examples.length >= 1 && form.examples.length <= 3, `${form.command}: ${form.examples.length} examples`);
    const known = new Set(form.options.map((option) => option.name));
    for (const example of form.examples) {
      assert.ok(help.includes(`\n  ${example}\n`), `${form.command}: example printed`);
      assert.ok(example.startsWith(`runprint ${form.command}`), example);
      for (const [, name] of example.matchAll(/ --([a-z][a-z-]*)/g)) assert.ok(known.has(name!), `${example}: --${name} is not an option of ${form.command}`);
      for (const option of form.options.filter((option) => option.required === true)) assert.ok(example.includes(`--${option.name} `), `${example}: misses required --${option.name}`);
    }
  }
  const log = formatCommandHelp('log')!;
  for (const form of COMMAND_USAGE.filter((usage) => usage.command.startsWith('log '))) assert.ok(log.includes(`runprint ${form.command} `), form.command);
});

test('the note on F is printed only by the help of a command that takes an F', () => {
  const note = 'F is auto, composition, openai-chat, openai-responses or anthropic-messages (default auto).';
  for (const words of commandWords) {
    const takesF = COMMAND_USAGE.some((form) => (form.command === words || form.command.startsWith(`${words} `)) && form.options.some((option) => option.value === 'F'));
    assert.equal(formatCommandHelp(words)!.includes(note), takesF, words);
  }
  assert.ok(formatCommandHelp('id')!.includes(note));
  assert.ok(!formatCommandHelp('replay')!.includes(note));
});

test('help for a command that does not exist names it and suggests the nearest', async () => {
  assert.deepEqual(await cli(['help', 'verfy']), { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: unknown command "verfy"; did you mean "verify"? (run "runprint help")\n' });
  assert.deepEqual(await cli(['log', 'submt', 'r.json']), {
    code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: log takes submit, proof or monitor; did you mean "log submit"?; run "runprint log --help"\n',
  });
});

test('an unknown option is named with the nearest valid one, exit 2', async () => {
  const cases: Array<[string[], string]> = [
    [['id', 'request.json', '--form', 'openai-chat'], 'unknown option "--form" for "id"; did you mean "--from"? (run "runprint id --help")'],
    [['explain', '--respones', 'r.json'], 'unknown option "--respones" for "explain"; did you mean "--response"? (run "runprint explain --help")'],
    [['diff', 'a', 'b', '--jsn'], 'unknown option "--jsn" for "diff"; did you mean "--json"? (run "runprint diff --help")'],
    [['diff', 'a', 'b', '--valeus'], 'unknown option "--valeus" for "diff"; did you mean "--values"? (run "runprint diff --help")'],
    [['canon', '--bogus'], 'unknown option "--bogus" for "canon" (run "runprint canon --help")'],
    [['keygen', '--ot', 'keys'], 'unknown option "--ot" for "keygen"; did you mean "--out"? (run "runprint keygen --help")'],
    [['log', 'monitor', 'http://127.0.0.1:1/', '--onse'], 'unknown option "--onse" for "log monitor"; did you mean "--once"? (run "runprint log monitor --help")'],
    [['log', 'proof', 'r.json', '--indx', '3'], 'unknown option "--indx" for "log proof"; did you mean "--index"? (run "runprint log proof --help")'],
    [['model-digest', 'model', '--allow-symlink'], 'unknown option "--allow-symlink" for "model-digest"; did you mean "--allow-symlinks"? (run "runprint model-digest --help")'],
    [['id', '-x'], 'unknown option "-x" for "id" (run "runprint id --help")'],
    [['verify', 'r.json', '--kye', 'k.pem'], 'unknown option "--kye" for "verify"; did you mean "--key"? (run "runprint verify --help")'],
    [['sign', '--composiiton', 'c.json'], 'unknown option "--composiiton" for "sign"; did you mean "--composition"? (run "runprint sign --help")'],
    [['disclose', 'create', '--reveel', 'system'], 'unknown option "--reveel" for "disclose create"; did you mean "--reveal"? (run "runprint disclose create --help")'],
  ];
  for (const [argv, message] of cases) {
    assert.deepEqual(await cli(argv), { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` }, argv.join(' '));
  }
});

test('a missing value, a value given to a flag and an argument where none is taken are named', async () => {
  const cases: Array<[string[], string]> = [
    [['id', 'request.json', '--from'], 'option --from needs a value (run "runprint id --help")'],
    [['id', '--from', '--json', 'request.json'], 'option --from needs a value (run "runprint id --help")'],
    [['id', 'request.json', '--json=yes'], 'option --json takes no value (run "runprint id --help")'],
    [['keygen', 'keys'], '"keygen" takes no argument "keys" (run "runprint keygen --help")'],
    [['log', 'submit', 'r.json', '--log'], 'option --log needs a value (run "runprint log submit --help")'],
    [['verify', 'r.json', '--key'], 'option --key needs a value (run "runprint verify --help")'],
    [['sign', 'extra.json'], '"sign" takes no argument "extra.json" (run "runprint sign --help")'],
  ];
  for (const [argv, message] of cases) {
    assert.deepEqual(await cli(argv), { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${message}\n` }, argv.join(' '));
  }
});

test('what is echoed is cut and escaped, and an option\'s value is never echoed', async () => {
  const secret = await cli(['log', 'submit', 'r.json', '--log', 'http://127.0.0.1:1/', '--tokn=s3cr3t-value']);
  assert.equal(secret.code, 2);
  assert.equal(secret.stderr, 'runprint: ERR_CLI_USAGE: unknown option "--tokn" for "log submit"; did you mean "--token"? (run "runprint log submit --help")\n');
  const escape = await cli(['id', '--fr\x1b[31m\u202eom']);
  assert.equal(escape.stderr, 'runprint: ERR_CLI_USAGE: unknown option "--fr\\u001b[31m\\u202eom" for "id" (run "runprint id --help")\n');
  const long = await cli(['id', `--${'a'.repeat(500)}`]);
  assert.equal(long.stderr, `runprint: ERR_CLI_USAGE: unknown option "--${'a'.repeat(38)}…" for "id" (run "runprint id --help")\n`);
  const argument = await cli(['keygen', `x\x07${'b'.repeat(100)}`]);
  assert.equal(argument.stderr, `runprint: ERR_CLI_USAGE: "keygen" takes no argument "x\\u0007${'b'.repeat(58)}…" (run "runprint keygen --help")\n`);
});

/** `argv` run in `cwd` with standard input a terminal: an input given as - is refused at once, naming standard input, instead of read. */
async function atTerminal(argv: string[], cwd: string): Promise<{ code: number; stderr: string; read: boolean }> {
  let stderr = '';
  let read = false;
  const io: CliIo = {
    readStdin: async () => {
      read = true;
      return new Uint8Array(0);
    },
    stdout: () => undefined,
    stderr: (text) => void (stderr += text),
    stderrIsTTY: false,
    stdinIsTTY: true,
    cwd,
  };
  return { code: await run(argv, io), stderr, read };
}

test('help says "standard input if -" for exactly the inputs that read standard input, and never for a file written (replay --json, --report)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-cli-stdin-'));
  try {
    const receiptKey = await generateKeyFiles('receipt');
    const log = await generateKeyFiles('example.test/log');
    writeFileSync(join(dir, 'key.pem'), receiptKey.privateKeyPem);
    writeFileSync(join(dir, 'key.pub.pem'), receiptKey.publicKeyPem);
    writeFileSync(join(dir, 'request.json'), JSON.stringify(REQUEST));
    writeFileSync(join(dir, 'response.json'), RESPONSE_TEXT);
    writeFileSync(join(dir, 'salts.json'), '{}');
    const signed = await run(['sign', '--key', 'key.pem', '--composition', 'request.json', '--output', 'response.json', '--out', 'receipt.json'], { readStdin: async () => new Uint8Array(0), stdout: () => undefined, stderr: () => undefined, stderrIsTTY: false, cwd: dir });
    assert.equal(signed, 0);
    const vkey = log.verifierKey;
    // A stored run for runs verify, which finds the run before it reads its keys.
    const requestBytes = new TextEncoder().encode(JSON.stringify(REQUEST));
    const responseBytes = new TextEncoder().encode(RESPONSE_TEXT);
    const started = Date.parse('2026-12-01T00:00:00Z');
    const captured = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status: 200, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
    const stored = runToStore(captured, { requestBytes, responseBytes }, defaultContentPolicy(), 'proxy', true);
    const store = SqliteRuns.open(join(dir, 'runs.sqlite'));
    await store.put([stored]);
    await store.close();
    const runId = stored.recordDigest;
    // runs verify reads --log-key only when there is a log to check: its file is there (never opened here).
    writeFileSync(join(dir, 'log.sqlite'), '');
    // For each input help marks, a command line whose other inputs are real files: the one given as - must be the one read.
    const cases: Record<string, string[]> = {
      'id --response': ['id', 'request.json', '--response', '-'],
      'explain --response': ['explain', 'request.json', '--response', '-'],
      'diff A or B': ['diff', 'request.json', '-'],
      'diff --response-a': ['diff', 'request.json', 'request.json', '--response-a', '-'],
      'diff --response-b': ['diff', 'request.json', 'request.json', '--response-b', '-'],
      'sign --key': ['sign', '--key', '-', '--composition', 'request.json', '--output', 'response.json'],
      'sign --composition': ['sign', '--key', 'key.pem', '--composition', '-', '--output', 'response.json'],
      'sign --output': ['sign', '--key', 'key.pem', '--composition', 'request.json', '--output', '-'],
      'sign --salts': ['sign', '--key', 'key.pem', '--composition', 'request.json', '--output', 'response.json', '--salts', '-'],
      'sign --retrieval': ['sign', '--key', 'key.pem', '--composition', 'request.json', '--output', 'response.json', '--retrieval', '-'],
      'sign --add-to': ['sign', '--add-to', '-', '--key', 'key.pem'],
      'verify RECEIPT': ['verify', '-', '--key', 'key.pub.pem'],
      'verify --key': ['verify', 'receipt.json', '--key', '-'],
      'verify --composition': ['verify', 'receipt.json', '--key', 'key.pub.pem', '--composition', '-'],
      'verify --salts': ['verify', 'receipt.json', '--key', 'key.pub.pem', '--composition', 'request.json', '--salts', '-'],
      'verify --output': ['verify', 'receipt.json', '--key', 'key.pub.pem', '--output', '-'],
      'verify --log-proof': ['verify', 'receipt.json', '--key', 'key.pub.pem', '--log-proof', '-', '--log-key', vkey],
      'verify --log-key': ['verify', 'receipt.json', '--key', 'key.pub.pem', '--log-proof', 'receipt.json', '--log-key', '-'],
      'verify --witness': ['verify', 'receipt.json', '--key', 'key.pub.pem', '--log-proof', 'receipt.json', '--log-key', vkey, '--witness', '-'],
      'show RECEIPT|BUNDLE': ['show', '-'],
      'show --log-proof': ['show', 'receipt.json', '--log-proof', '-'],
      'disclose create --composition': ['disclose', 'create', '--composition', '-', '--reveal', 'system'],
      'disclose create --salts': ['disclose', 'create', '--composition', 'request.json', '--reveal', 'system', '--salts', '-'],
      'disclose create --output': ['disclose', 'create', '--composition', 'request.json', '--reveal', 'system', '--output', '-'],
      'disclose verify DISCLOSURE': ['disclose', 'verify', '-', '--receipt', 'receipt.json', '--key', 'key.pub.pem'],
      'disclose verify --receipt': ['disclose', 'verify', 'receipt.json', '--receipt', '-', '--key', 'key.pub.pem'],
      'disclose verify --key': ['disclose', 'verify', 'receipt.json', '--receipt', 'receipt.json', '--key', '-'],
      'log submit RECEIPT': ['log', 'submit', '-', '--log', 'http://127.0.0.1:1/'],
      'log submit --key': ['log', 'submit', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--proof-out', 'proof', '--key', '-'],
      'log proof RECEIPT': ['log', 'proof', '-', '--log', 'http://127.0.0.1:1/', '--key', vkey],
      'log proof --key': ['log', 'proof', 'receipt.json', '--log', 'http://127.0.0.1:1/', '--key', '-'],
      'log monitor --key': ['log', 'monitor', 'http://127.0.0.1:1/', '--key', '-', '--once'],
      'runs verify --key': ['runs', 'verify', runId, '--data', dir, '--key', '-'],
      'runs verify --log-key': ['runs', 'verify', runId, '--data', dir, '--log-key', '-'],
      'runs verify --witness': ['runs', 'verify', runId, '--data', dir, '--witness', '-'],
      'runs verify --monitor-state': ['runs', 'verify', runId, '--data', dir, '--monitor-state', '-'],
    };
    const marked = COMMAND_USAGE.flatMap((form) => [
      ...(form.stdinArguments === undefined ? [] : [`${form.command} ${form.stdinArguments}`]),
      ...form.options.filter((option) => option.stdin === true).map((option) => `${form.command} --${option.name}`),
    ]);
    assert.deepEqual([...new Set(marked)].sort(), Object.keys(cases).sort(), 'a case for every input help marks');
    for (const [name, argv] of Object.entries(cases)) {
      const words = argv.slice(0, argv.findIndex((word) => !/^[a-z]+$/.test(word))).join(' ');
      assert.deepEqual(await atTerminal(argv, dir), { code: 2, stderr: `${TERMINAL}\n${formatCommandHelp(words)}`, read: false }, name);
      const help = formatCommandHelp(words)!;
      assert.ok(name.includes(' --') ? new RegExp(`\\n  --${name.split(' --')[1]} [^\\n]*(\\n {30}[^\\n]*)*standard\\s+input\\s+if\\s+-\\)`).test(help) : help.includes(`${name.slice(name.lastIndexOf(' ') + 1)} may be - for standard input.`), `${name}: help says so`);
    }
    // Files written are not standard input, and their help does not say so: replay refuses - for its reports.
    for (const words of commandWords) {
      const help = formatCommandHelp(words)!;
      for (const [, flag] of help.matchAll(/\n {2}--([a-z-]+) [^\n]*(?:\n {30}[^\n]*)*standard\s+input\s+if\s+-\)/g)) {
        assert.ok(marked.some((entry) => entry.startsWith(words) && entry.endsWith(` --${flag}`)), `${words} --${flag}`);
      }
    }
    const replay = formatCommandHelp('replay')!;
    assert.doesNotMatch(replay, /standard input/);
    for (const argv of [['replay', '--runs', 'all', '--json', '-'], ['replay', '--runs', 'all', '--json', 'report.json', '--report', '-']]) {
      const refused = await atTerminal(argv, dir);
      assert.equal(refused.code, 2, argv.join(' '));
      assert.match(refused.stderr, /^runprint: ERR_CLI_USAGE: (replay --runs needs --json FILE|--report must name a file)/, argv.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
