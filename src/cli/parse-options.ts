/**
 * One command line parser for every command: node:util parseArgs, strict, and when it refuses, a
 * message that names what was not understood (`unknown option "--formt" for "id"; did you mean
 * "--from"?`) instead of parseArgs' own text. Option values are never echoed: one may be a token.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from '../errors.ts';
import { closestName } from './closest-name.ts';
import { printable } from './printable.ts';

/** The parsed command line of `command` (its words, `log submit`), or ERR_CLI_USAGE naming what is wrong. */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(command: string, args: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch {
    throw new UsageError('ERR_CLI_USAGE', `${diagnose(command, args, options, allowPositionals)} (run "runprint ${command} --help")`);
  }
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
