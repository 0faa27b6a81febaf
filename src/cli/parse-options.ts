/**
 * One command line parser for every command: node:util parseArgs, strict, and when it refuses, a
 * message that names what was not understood (`unknown option "--formt" for "id"; did you mean
 * "--from"?`) instead of parseArgs' own text. Option values are never echoed: one may be a token.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from '../errors.ts';
import { closestName } from '../io/closest-name.ts';
import { printable } from '../io/printable.ts';

/**
 * `--limit -1` as `--limit=-1`: a word that starts with `-` and a digit after an option that takes
 * a value is that option's value (parseArgs would read it as an option and refuse the line), so
 * the option's own check names what is wrong with it (`limit must be a number from 1 to 1000`).
 * Words after `--` are left as they are.
 */
export function negativeValuesJoined(args: readonly string[], takesValue: (name: string) => boolean): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      joined.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (arg.startsWith('--') && !arg.includes('=') && takesValue(arg.slice(2)) && next !== undefined && /^-[0-9]/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** Whether `name` is an option of `options` that takes a value. */
const valueOption = (options: ParseArgsOptionsConfig) => (name: string) => Object.hasOwn(options, name) && options[name]!.type === 'string';

/**
 * The parsed command line of `command` (its words, `log submit`), or ERR_CLI_USAGE naming what is
 * wrong. An option that is not repeatable (`multiple` in `options`; "repeatable" in docs/CLI.md)
 * given twice is refused (`--key is given more than once; sign takes it once`): parseArgs would
 * keep the last value silently, so `sign --key A --key B` would sign with B alone.
 */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(command: string, given: string[], options: O, allowPositionals = true) {
  const args = negativeValuesJoined(given, valueOption(options));
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals, strict: true, tokens: true });
  } catch {
    throw new UsageError('ERR_CLI_USAGE', `${diagnose(command, args, options, allowPositionals)} (run "runprint ${command} --help")`);
  }
  refuseRepeated(command, parsed.tokens, options);
  const { values, positionals } = parsed;
  return { values, positionals };
}

/** ERR_CLI_USAGE for an option of `options` that is not repeatable and is among `tokens` more than once. */
export function refuseRepeated(command: string, tokens: ReadonlyArray<{ kind: string; name?: string }>, options: ParseArgsOptionsConfig): void {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined || !Object.hasOwn(options, token.name) || options[token.name]!.multiple === true) continue;
    if (seen.has(token.name)) throw givenTwice(command, token.name);
    seen.add(token.name);
  }
}

/** `--key is given more than once; sign takes it once`: also for the commands with a parser of their own. */
export function givenTwice(command: string, name: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', `--${name} is given more than once; ${command} takes it once`);
}

/** What a strict parse refused, found by reading the same command line loosely, token by token. */
export function diagnose(command: string, args: string[], options: ParseArgsOptionsConfig, allowPositionals: boolean): string {
  let tokens;
  try {
    ({ tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true }));
  } catch {
    return 'the command line cannot be read';
  }
  const names = Object.keys(options);
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!allowPositionals) return `"${command}" takes no argument "${printable(token.value)}"`;
      continue;
    }
    if (token.kind !== 'option') continue;
    const config = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    // Only the name is echoed: `--tokn=SECRET` must not print SECRET.
    if (config === undefined) return unknownOption(command, token.rawName, names);
    if (config.type === 'boolean' && token.inlineValue === true) return `option --${token.name} takes no value`;
    if (config.type === 'string' && (token.value === undefined || (token.inlineValue !== true && token.value.length > 1 && token.value.startsWith('-')))) {
      return `option --${token.name} needs a value`;
    }
  }
  return 'the command line cannot be read';
}

/** `unknown option "--formt" for "id"; did you mean "--from"?` */
export function unknownOption(command: string, rawName: string, names: readonly string[]): string {
  const word = rawName.replace(/^-+/, '');
  const closest = rawName.startsWith('--') ? closestName(word, names) : undefined;
  const hint = closest === undefined ? '' : `; did you mean "--${closest}"?`;
  return `unknown option "${printable(rawName, 40)}" for "${command}"${hint}`;
}
