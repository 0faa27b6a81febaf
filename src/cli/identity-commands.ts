/** `runprint canon`, `id`, `explain` and `diff`: the identity commands (README, "CLI"). */
import { parseArgs } from 'node:util';
import { compositionFromDocument, isInputFormat, type ComposeOptions } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import { computeIdentity } from '../identity/identity.ts';
import { diffCompositions } from '../identity/diff.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { parseJson } from '../jcs/parse.ts';
import { explainComposition, formatExplanation } from './explain-format.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { readInput } from './read-input.ts';
import { checkRequestMembers } from './request-warnings.ts';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

function parse(command: string, args: string[], options: Options, positionals: { min: number; max: number }) {
  const parsed = parseCommandLine(command, args, options ?? {});
  if (parsed.positionals.length < positionals.min || parsed.positionals.length > positionals.max) {
    throw new UsageError('ERR_CLI_USAGE', `wrong number of arguments; run "runprint ${command} --help"`);
  }
  return parsed;
}

const FROM_OPTIONS = {
  from: { type: 'string' },
  response: { type: 'string' },
  strict: { type: 'boolean' },
} as const;

async function composeOptions(values: { from?: unknown; response?: unknown }, io: CliIo, input?: string): Promise<ComposeOptions> {
  const options: ComposeOptions = {};
  if (values.response === '-' && (input === undefined || input === '-')) {
    throw new UsageError('ERR_CLI_USAGE', 'only one of FILE and --response can be standard input');
  }
  if (values.from !== undefined) {
    if (typeof values.from !== 'string' || !isInputFormat(values.from)) {
      throw new UsageError(
        'ERR_CLI_USAGE',
        '--from must be auto, composition, openai-chat, openai-responses or anthropic-messages',
      );
    }
    options.from = values.from;
  }
  if (typeof values.response === 'string') options.response = await readInput(values.response, io);
  return options;
}

/** `canon [FILE|-]`: the RFC 8785 bytes, nothing added. */
export async function canonCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parse('canon', args, {}, { min: 0, max: 1 });
  const value = parseJson(await readInput(positionals[0], io));
  io.stdout(canonicalize(value));
  return EXIT.ok;
}

/** `id [FILE|-] [--from F] [--response FILE] [--strict] [--json]`. */
export async function idCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parse('id', args, { ...FROM_OPTIONS, json: { type: 'boolean' } }, { min: 0, max: 1 });
  const options = await composeOptions(values, io, positionals[0]);
  const document = parseJson(await readInput(positionals[0], io));
  const { composition, format } = compositionFromDocument(document, options);
  checkRequestMembers(document, format, positionals[0], values.strict === true, io);
  const identity = computeIdentity(composition);
  if (values['json'] === true) io.stdout(`${JSON.stringify(identity, null, 2)}\n`);
  else io.stdout(`${identity.runId ?? identity.requestId}\n`);
  return EXIT.ok;
}

/** `explain [FILE|-] [--from F] [--response FILE] [--json]`: a readable tree, or the same as data. */
export async function explainCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parse('explain', args, { ...FROM_OPTIONS, json: { type: 'boolean' } }, { min: 0, max: 1 });
  const options = await composeOptions(values, io, positionals[0]);
  const document = parseJson(await readInput(positionals[0], io));
  const { composition, format } = compositionFromDocument(document, options);
  checkRequestMembers(document, format, positionals[0], values.strict === true, io);
  const identity = computeIdentity(composition);
  if (values['json'] === true) io.stdout(`${JSON.stringify(explainComposition(composition, identity, format), null, 2)}\n`);
  else io.stdout(formatExplanation(composition, identity, format));
  return EXIT.ok;
}

/** `diff A B [--from F] [--json]`: exit 0 when equal, 1 when not, listing what differs. */
export async function diffCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parse('diff', args, { from: { type: 'string' }, strict: { type: 'boolean' }, json: { type: 'boolean' } }, { min: 2, max: 2 });
  const options = await composeOptions(values, io);
  if (positionals[0] === '-' && positionals[1] === '-') {
    throw new UsageError('ERR_CLI_USAGE', 'only one of A and B can be standard input');
  }
  const read = async (input: string) => {
    const document = parseJson(await readInput(input, io));
    const { composition, format } = compositionFromDocument(document, options);
    checkRequestMembers(document, format, input, values.strict === true, io);
    return composition;
  };
  const a = await read(positionals[0]!);
  const b = await read(positionals[1]!);
  const result = diffCompositions(a, b);
  const idA = result.compared === 'runId' ? result.a.runId : result.a.requestId;
  const idB = result.compared === 'runId' ? result.b.runId : result.b.requestId;
  if (values['json'] === true) {
    io.stdout(`${JSON.stringify({ equal: result.equal, compared: result.compared, a: idA, b: idB, differences: result.differences }, null, 2)}\n`);
    return result.equal ? EXIT.ok : EXIT.differs;
  }
  if (result.equal) {
    io.stdout(`equal ${idA}\n`);
    return EXIT.ok;
  }
  let out = `differ\n  a ${idA}\n  b ${idB}\n`;
  for (const difference of result.differences) {
    const where =
      difference.change === 'moved' ? ` (from [${difference.from}] to [${difference.to}])` : '';
    out += `${difference.change.padEnd(8)} ${difference.component.padEnd(14)} ${difference.path}${where}\n`;
  }
  io.stdout(out);
  return EXIT.differs;
}
