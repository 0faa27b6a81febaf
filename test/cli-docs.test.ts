/**
 * One source for the command line's documentation: the usage definitions of src/cli/usage.ts are
 * what `runprint help` prints, what each command's parser accepts, what each `COMMAND --help`
 * names, what the README's CLI table and docs/LOG.md 19.3 list; the README's exit-code table says
 * what the CLI's error-to-exit mapping does.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import util, { type ParseArgsConfig } from 'node:util';
import { test } from 'node:test';
import { RunprintError, type ErrorCode } from '../src/errors.ts';
import type { CliIo } from '../src/cli/io.ts';
import { COMMAND_NAMES, exitCodeFor, run } from '../src/cli/main.ts';
import { COMMAND_USAGE, formatSynopsis, formatUsage, type CommandUsage, type OptionUsage } from '../src/cli/usage.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

// Every parseArgs call the commands make is recorded, with the options it was given.
const calls: ParseArgsConfig[] = [];
const realParseArgs = util.parseArgs;
util.parseArgs = ((config: ParseArgsConfig) => {
  calls.push(config);
  return realParseArgs(config);
}) as typeof util.parseArgs;
syncBuiltinESMExports();

async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    readStdin: async () => new Uint8Array(0),
    stdout: (text) => void (stdout += typeof text === 'string' ? text : new TextDecoder().decode(text)),
    stderr: (text) => void (stderr += text),
    stderrIsTTY: false,
    cwd: '/nonexistent-runprint-docs-test',
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** The options parseArgs was given by the command `words`, run with an option nobody knows. */
async function parserOptions(words: string): Promise<ParseArgsConfig['options'] | undefined> {
  calls.length = 0;
  const result = await runCli([...words.split(' '), '--no-such-option-for-docs']);
  assert.equal(result.code, 2, `${words}: an unknown option is a usage error`);
  return calls.at(-1)?.options;
}

const optionNames = (forms: readonly CommandUsage[]) => new Set(forms.flatMap((form) => form.options.map((option) => option.name)));
const optionOf = (forms: readonly CommandUsage[], name: string): OptionUsage => forms.flatMap((form) => form.options).find((option) => option.name === name)!;
const sorted = (names: Iterable<string>) => [...names].sort();
const commandWords = [...new Set(COMMAND_USAGE.map((form) => form.command))];

test('runprint help prints the usage definitions, and every command of the dispatcher has one', async () => {
  const help = await runCli(['help']);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, formatUsage());
  for (const form of COMMAND_USAGE) {
    for (const option of form.options) assert.ok(help.stdout.includes(`--${option.name}`), `${form.command} --${option.name}`);
  }
  assert.deepEqual(sorted(new Set(COMMAND_USAGE.map((form) => form.command.split(' ')[0]!))), sorted(COMMAND_NAMES));
  const bare = await runCli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stderr, `runprint: ERR_CLI_USAGE: no command given\n\n${formatUsage()}`);
});

test('each command\'s parser accepts exactly the options the definitions give it, with the same value kind and repetition', async () => {
  const byConfig = new Map<object, CommandUsage[]>();
  for (const words of commandWords) {
    if (words === 'model-digest') continue; // its own parser: the next test
    const options = await parserOptions(words);
    assert.ok(options !== undefined, `${words} parses its options with parseArgs`);
    const forms = byConfig.get(options) ?? [];
    byConfig.set(options, [...forms, ...COMMAND_USAGE.filter((form) => form.command === words)]);
  }
  for (const [options, forms] of byConfig) {
    const where = [...new Set(forms.map((form) => form.command))].join(', ');
    const parsed = Object.keys(options).filter((name) => name !== 'help');
    assert.deepEqual(sorted(parsed), sorted(optionNames(forms)), `${where}: options parseArgs accepts vs usage.ts`);
    for (const name of parsed) {
      const config = (options as Record<string, { type: string; multiple?: boolean }>)[name]!;
      const option = optionOf(forms, name);
      assert.equal(config.type, option.value === undefined ? 'boolean' : 'string', `${where} --${name}: a flag in usage.ts exactly when a boolean in parseArgs`);
      assert.equal(config.multiple === true, option.repeatable === true, `${where} --${name}: repeatable in usage.ts exactly when multiple in parseArgs`);
    }
  }
});

test('disclose takes, per subcommand, exactly the options its definition gives', async () => {
  const forms = COMMAND_USAGE.filter((form) => form.command.startsWith('disclose '));
  for (const form of forms) {
    for (const name of optionNames(forms)) {
      const option = optionOf(forms, name);
      const result = await runCli([...form.command.split(' '), ...(option.value === undefined ? [`--${name}`] : [`--${name}`, 'x'])]);
      const refused = result.stderr.includes(`--${name} cannot be used with "${form.command}"`);
      assert.equal(refused, !form.options.some((o) => o.name === name), `${form.command} --${name}: ${result.stderr}`);
    }
  }
});

test('model-digest (its own parser) accepts the options of its definition and refuses others', async () => {
  const form = COMMAND_USAGE.find((usage) => usage.command === 'model-digest')!;
  for (const option of form.options) {
    const value = option.name === 'method' ? ['shards'] : option.value === undefined ? [] : ['1024'];
    const result = await runCli(['model-digest', 'no-such-model', `--${option.name}`, ...value]);
    assert.match(result.stderr, /ERR_MODEL_NOT_FOUND/, `model-digest --${option.name}: ${result.stderr}`);
  }
  const unknown = await runCli(['model-digest', 'no-such-model', '--no-such-option-for-docs']);
  assert.match(unknown.stderr, /ERR_CLI_USAGE: unknown option/);
});

test('each COMMAND --help names every option of its definitions, and only options that exist', async () => {
  const everyOption = optionNames(COMMAND_USAGE);
  const everyCommand = new Set(COMMAND_USAGE.flatMap((form) => [form.command.split(' ')[0]!, form.command]));
  assert.deepEqual(sorted(new Set([...everyCommand].map((words) => words.split(' ')[0]!))), sorted(COMMAND_NAMES));
  for (const words of everyCommand) {
    const result = await runCli([...words.split(' '), '--help']);
    assert.equal(result.code, 0, `${words} --help`);
    const named = new Set([...result.stdout.matchAll(/--([a-z][a-z-]*)/g)].map((match) => match[1]!));
    named.delete('help');
    const forms = COMMAND_USAGE.filter((form) => form.command === words || form.command.startsWith(`${words} `));
    for (const name of optionNames(forms)) assert.ok(named.has(name), `${words} --help does not name --${name}`);
    for (const name of named) assert.ok(everyOption.has(name), `${words} --help names --${name}, which no command takes`);
    for (const form of forms) for (const example of form.examples) assert.ok(result.stdout.includes(example), `${words} --help: example ${example}`);
  }
});

test('the README\'s CLI table lists every command form with the synopsis of its definition, in order', () => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('\n## CLI\n'), readme.indexOf('\n### Exit codes\n'));
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  const synopses = rows.map((row) => /^\| `((?:[^`])+)` \|/.exec(row)![1]!.replaceAll('\\|', '|').replaceAll('…', '...'));
  assert.deepEqual(synopses, COMMAND_USAGE.map(formatSynopsis));
});

test('docs/LOG.md 19.3 lists every serve option, with its value and environment variable, and serve reads those variables', () => {
  const serve = COMMAND_USAGE.filter((form) => form.command === 'serve');
  const log = read('docs/LOG.md');
  const section = log.slice(log.indexOf('### 19.3 '), log.indexOf('### 19.4 '));
  const listed: string[] = [];
  for (const row of section.split('\n').filter((line) => line.startsWith('| `--'))) {
    const [flags, env] = row.split(' | ');
    const names: string[] = [];
    for (const [, name, value] of flags!.matchAll(/`--([a-z-]+)(?: ([^`]+))?`/g)) {
      const option = optionOf(serve, name!);
      assert.ok(option !== undefined, `19.3 lists --${name}, which serve does not take`);
      assert.equal(value?.replaceAll('\\|', '|'), option.value, `19.3: the value of --${name}`);
      names.push(name!);
    }
    const wantEnv = names.map((name) => optionOf(serve, name).env).filter((name) => name !== undefined);
    assert.deepEqual(sorted(env!.match(/RUNPRINT_[A-Z_]+/g) ?? []), sorted(wantEnv), `19.3: the environment of ${names.join(', ')}`);
    listed.push(...names);
  }
  assert.deepEqual(sorted(listed), sorted(optionNames(serve)));
  // serve's own files: serve-command.ts and any src/cli/serve-*.ts it splits its options into.
  const files = readdirSync(new URL('../src/cli/', import.meta.url)).filter((name) => /^serve-[a-z-]+\.ts$/.test(name));
  const source = files.map((name) => read(`src/cli/${name}`)).join('\n');
  const readEnv = new Set([...source.matchAll(/'(RUNPRINT_[A-Z_]+)'/g)].map((match) => match[1]!));
  assert.deepEqual(sorted(readEnv), sorted(serve.flatMap((form) => form.options.flatMap((option) => (option.env === undefined ? [] : [option.env])))));
});

test('the README\'s exit-code table says what exitCodeFor does', () => {
  const codes = [...read('src/errors.ts').matchAll(/^\s*\| '(ERR_[A-Z0-9_]+)'/gm)].map((match) => match[1]! as ErrorCode);
  assert.ok(codes.length > 50);
  const exitOf = (code: ErrorCode) => exitCodeFor(new RunprintError(code, 'x'));
  const readme = read('README.md');
  const table = readme.slice(readme.indexOf('\n### Exit codes\n'), readme.indexOf('\n## Service\n'));
  const rows = new Map<number, { explicit: Set<string>; prefixes: string[] }>();
  for (const [, exit, text] of table.matchAll(/^\| (\d+) \| (.*) \|$/gm)) {
    const names = [...text!.matchAll(/`(ERR_[A-Z0-9_]+\*?)`/g)].map((match) => match[1]!);
    rows.set(Number(exit), { explicit: new Set(names.filter((name) => !name.endsWith('*'))), prefixes: names.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1)) });
  }
  assert.deepEqual(sorted([...rows.keys()].map(String)), ['0', '1', '2', '3', '4', '70']);
  const explicitRow = (code: string) => [...rows].find(([, row]) => row.explicit.has(code))?.[0];
  for (const [exit, row] of rows) {
    for (const name of row.explicit) assert.ok((codes as string[]).includes(name), `exit ${exit} names ${name}, which is not an error code`);
    // Exit 1 also covers the checks verify reports as failed, whatever their code.
    if (exit === 1) continue;
    for (const code of codes) {
      const named = row.explicit.has(code) || (row.prefixes.some((prefix) => code.startsWith(prefix)) && explicitRow(code) === undefined);
      if (named) assert.equal(exitOf(code), exit, `the README puts ${code} under exit ${exit}`);
    }
  }
  for (const code of codes) {
    const exit = exitOf(code);
    const row = rows.get(exit)!;
    if (exit === 3) continue; // the default: every code not listed elsewhere
    assert.ok(row.explicit.has(code) || row.prefixes.some((prefix) => code.startsWith(prefix)), `${code} exits ${exit}; the README's row ${exit} does not list it`);
  }
  assert.ok(rows.get(3)!.explicit.has('ERR_STORE_CORRUPT'), 'ERR_STORE_CORRUPT exits 3 while the other store errors exit 4: the README says so');
});
