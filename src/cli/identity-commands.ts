/** `runprint canon`, `id`, `explain` and `diff`: the identity commands (README, "CLI"). */
import { parseArgs } from 'node:util';
import { compositionFromDocument, isInputFormat, type ComposeOptions } from '../compose/from-document.ts';
import { RunprintError, UsageError } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { computeIdentity } from '../identity/identity.ts';
import type { Difference } from '../identity/diff.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { explainComposition, formatExplanation } from './explain-format.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { fileName, looksLikeResponse, namingFile, readInput, readJsonInput } from './read-input.ts';
import { checkRequestMembers } from './request-warnings.ts';
import type { DigestDifference } from '../receipt/digest-view.ts';
import { diffSides, inexactNote, KIND_NAMES, readDiffSide, type DiffSide, type OutputComparison, type RunDiff } from '../receipt/run-diff.ts';
import { valuesOf } from '../replay/diff-values.ts';

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

/**
 * `read(false)`, the document alone, then with its response file `read(true)`, with errors a user
 * can act on: a document that could not be read as a request but looks like a provider response
 * says so (it belongs after --response); once the document alone reads, what fails with the
 * response is about that file's content and names it (`response.label FILE`), but a refusal
 * (UsageError: a response to a composition), which is about the options.
 */
function readNamingFiles<T>(document: JsonValue, read: (withResponse: boolean) => T, response: { label: string; name: unknown } | undefined): T {
  let alone: T;
  try {
    alone = read(false);
  } catch (error) {
    if (error instanceof RunprintError && looksLikeResponse(document)) error.message = `${RESPONSE_HINT}: ${error.message}`;
    throw error;
  }
  if (response === undefined) return alone;
  try {
    return read(true);
  } catch (error) {
    throw error instanceof UsageError ? error : namingFile(error, response.label, typeof response.name === 'string' ? response.name : undefined);
  }
}

/** compositionFromDocument, its errors as readNamingFiles says them. */
function composeNamingFiles(document: JsonValue, options: ComposeOptions, response: unknown): ReturnType<typeof compositionFromDocument> {
  const { response: body, ...alone } = options;
  return readNamingFiles(document, (withResponse) => compositionFromDocument(document, withResponse ? options : alone), body === undefined ? undefined : { label: '--response ', name: response });
}

/** With --from naming its format, a response read as a request gets an identity: say what it looks like. */
function warnIfResponse(document: JsonValue, format: string, input: string | undefined, io: CliIo): void {
  if (format === 'composition' || !looksLikeResponse(document)) return;
  io.stderr(`runprint: warning: ${input === undefined || input === '-' ? 'standard input' : fileName(input)}: ${RESPONSE_HINT}\n`);
}

/** Said before an error about a request that looks like a provider response. */
const RESPONSE_HINT = 'this looks like a provider response, not a request (give it with --response)';

/** `canon [FILE|-]`: the RFC 8785 bytes, nothing added. */
export async function canonCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parse('canon', args, {}, { min: 0, max: 1 });
  const value = await readJsonInput(positionals[0], io);
  io.stdout(canonicalize(value));
  return EXIT.ok;
}

/** `id [FILE|-] [--from F] [--response FILE] [--strict] [--json]`. */
export async function idCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parse('id', args, { ...FROM_OPTIONS, json: { type: 'boolean' } }, { min: 0, max: 1 });
  const options = await composeOptions(values, io, positionals[0]);
  const document = await readJsonInput(positionals[0], io);
  const { composition, format } = composeNamingFiles(document, options, values.response);
  warnIfResponse(document, format, positionals[0], io);
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
  const document = await readJsonInput(positionals[0], io);
  const { composition, format } = composeNamingFiles(document, options, values.response);
  warnIfResponse(document, format, positionals[0], io);
  checkRequestMembers(document, format, positionals[0], values.strict === true, io);
  const identity = computeIdentity(composition);
  if (values['json'] === true) io.stdout(`${JSON.stringify(explainComposition(composition, identity, format), null, 2)}\n`);
  else io.stdout(formatExplanation(composition, identity, format));
  return EXIT.ok;
}

/**
 * `diff A B [--from F] [--response-a FILE] [--response-b FILE] [--values] [--json]`: exit 0 when
 * the identities are equal, 1 when not, listing what differs. A and B are each a composition, a
 * provider request (with its response, if given), a receipt or an identity document.
 */
export async function diffCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parse(
    'diff',
    args,
    { from: { type: 'string' }, 'response-a': { type: 'string' }, 'response-b': { type: 'string' }, strict: { type: 'boolean' }, json: { type: 'boolean' }, values: { type: 'boolean' } },
    { min: 2, max: 2 },
  );
  const { from } = await composeOptions(values, io);
  const responses = { a: values['response-a'], b: values['response-b'] };
  if ([positionals[0], positionals[1], responses.a, responses.b].filter((input) => input === '-').length > 1) {
    throw new UsageError('ERR_CLI_USAGE', 'only one of A, B, --response-a and --response-b can be standard input');
  }
  const read = async (input: string, side: 'a' | 'b'): Promise<DiffSide> => {
    const document = await readJsonInput(input, io);
    const response = responses[side];
    const body = typeof response === 'string' ? await readInput(response, io) : undefined;
    const alone = from === undefined ? {} : { from };
    const read: DiffSide = readNamingFiles(
      document,
      (withResponse) => readDiffSide(document, withResponse && body !== undefined ? { ...alone, response: { body, name: `--response-${side}` } } : alone),
      body === undefined ? undefined : { label: `--response-${side} `, name: response },
    );
    if (read.format !== undefined) {
      warnIfResponse(document, read.format, input, io);
      checkRequestMembers(document, read.format, input, values.strict === true, io);
    }
    return read;
  };
  const a = await read(positionals[0]!, 'a');
  const b = await read(positionals[1]!, 'b');
  const result = diffSides(a, b);
  const json = values['json'] === true;
  const showValues = values['values'] === true;
  if (a.composition !== undefined && b.composition !== undefined) return printContentDiff(result, a.composition, b.composition, json, showValues, io);
  return printKindsDiff(result, json, showValues, io);
}

/** The output lines: `output equal sha256:…`, or `output differs` with both digests. */
function formatOutput(output: OutputComparison | undefined): string {
  if (output === undefined) return '';
  const digest = (value: string | null) => value ?? '(no output digest)';
  return output.equal ? `output equal ${digest(output.a)}\n` : `output differs\n  a ${digest(output.a)}\n  b ${digest(output.b)}\n`;
}

/** Two compositions or requests: the structural diff of SPEC 10, with the values on request. */
function printContentDiff(result: RunDiff, a: unknown, b: unknown, json: boolean, showValues: boolean, io: CliIo): number {
  const differences: Array<Difference & { values?: { a?: string; b?: string } }> = showValues
    ? result.differences.map((difference) => {
        const shown = valuesOf(difference, a, b);
        return shown === undefined ? difference : { ...difference, values: shown };
      })
    : result.differences;
  if (json) {
    io.stdout(`${JSON.stringify({ ...result, differences }, null, 2)}\n`);
    return result.equal ? EXIT.ok : EXIT.differs;
  }
  // Equal request identities still list what --json lists: served facts one side lacks (`removed
  // served`), which do not make the identities differ (docs/CLI.md, diff --json).
  let out = result.equal ? `equal ${result.a}\n` : `differ\n  a ${result.a}\n  b ${result.b}\n`;
  for (const difference of differences) {
    const where =
      difference.change === 'moved' ? ` (from [${difference.from}] to [${difference.to}])` : '';
    out += `${difference.change.padEnd(8)} ${difference.component.padEnd(14)} ${difference.path}${where}\n`;
    if (difference.values !== undefined) {
      if (difference.values.a !== undefined) out += `           a: ${difference.values.a}\n`;
      if (difference.values.b !== undefined) out += `           b: ${difference.values.b}\n`;
    }
  }
  for (const component of result.inexact) out += inexactNote(component);
  io.stdout(out + formatOutput(result.output));
  return result.equal ? EXIT.ok : EXIT.differs;
}

/** A receipt or an identity document on either side: only digests, identities, served facts and outputs. */
function printKindsDiff(result: RunDiff, json: boolean, showValues: boolean, io: CliIo): number {
  if (showValues) io.stderr('runprint: --values: no content to show: a receipt or an identity document carries only digests\n');
  if (json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return result.equal ? EXIT.ok : EXIT.differs;
  }
  const kinds = result.kinds!;
  // As for two compositions: equal identities list only what --json lists (served facts one side lacks).
  let out = result.equal
    ? `equal ${result.a}\n  a ${KIND_NAMES[kinds.a]}\n  b ${KIND_NAMES[kinds.b]}\n`
    : `differ\n  a ${result.a} (${KIND_NAMES[kinds.a]})\n  b ${result.b} (${KIND_NAMES[kinds.b]})\n`;
  for (const difference of result.differences as DigestDifference[]) {
    const count = difference.count === undefined ? '' : ` (count ${difference.count.a ?? '-'} to ${difference.count.b ?? '-'})`;
    out += `${difference.change.padEnd(8)} ${difference.component.padEnd(14)} ${difference.path}${count}\n`;
  }
  out += formatOutput(result.output);
  if (result.signaturesChecked === false) out += 'receipt signatures not checked: run "runprint verify" to check them\n';
  io.stdout(out);
  return result.equal ? EXIT.ok : EXIT.differs;
}
