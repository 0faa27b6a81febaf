/** `runprint canon`, `id`, `explain` and `diff`: the identity commands (README, "CLI"). */
import { parseArgs } from 'node:util';
import { compositionFromDocument, isInputFormat, type ComposeOptions } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import { computeIdentity } from '../identity/identity.ts';
import { diffCompositions, type Difference } from '../identity/diff.ts';
import { canonicalize } from '../jcs/canonicalize.ts';
import { parseJson } from '../jcs/parse.ts';
import { explainComposition, formatExplanation } from './explain-format.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { readInput } from './read-input.ts';
import { checkRequestMembers } from './request-warnings.ts';
import {
  diffDigests,
  isIdentityDocument,
  isReceiptDocument,
  valuesOf,
  viewOfIdentity,
  viewOfIdentityDocument,
  viewOfReceipt,
  type DiffKind,
  type DigestView,
} from './diff-inputs.ts';

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

/**
 * `diff A B [--from F] [--values] [--json]`: exit 0 when equal, 1 when not, listing what differs.
 * A and B are each a composition, a provider request, a receipt or an identity document.
 */
export async function diffCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parse('diff', args, { from: { type: 'string' }, strict: { type: 'boolean' }, json: { type: 'boolean' }, values: { type: 'boolean' } }, { min: 2, max: 2 });
  const options = await composeOptions(values, io);
  if (positionals[0] === '-' && positionals[1] === '-') {
    throw new UsageError('ERR_CLI_USAGE', 'only one of A and B can be standard input');
  }
  const read = async (input: string): Promise<DiffSide> => {
    const document = parseJson(await readInput(input, io));
    if (isReceiptDocument(document)) return { kind: 'receipt', view: viewOfReceipt(document) };
    if (isIdentityDocument(document)) return { kind: 'identity-document', view: viewOfIdentityDocument(document) };
    const { composition, format } = compositionFromDocument(document, options);
    checkRequestMembers(document, format, input, values.strict === true, io);
    return { kind: format === 'composition' ? 'composition' : 'request', composition };
  };
  const a = await read(positionals[0]!);
  const b = await read(positionals[1]!);
  if (a.composition !== undefined && b.composition !== undefined) {
    return diffContent(a.composition, b.composition, values['json'] === true, values['values'] === true, io);
  }
  return diffKinds(a, b, values['json'] === true, values['values'] === true, io);
}

interface DiffSide {
  kind: DiffKind;
  composition?: unknown;
  view?: DigestView;
}

/** Two compositions or requests: the structural diff of SPEC 10, with the values on request. */
function diffContent(a: unknown, b: unknown, json: boolean, showValues: boolean, io: CliIo): number {
  const result = diffCompositions(a, b);
  const idA = result.compared === 'runId' ? result.a.runId : result.a.requestId;
  const idB = result.compared === 'runId' ? result.b.runId : result.b.requestId;
  const differences: Array<Difference & { values?: { a?: string; b?: string } }> = showValues
    ? result.differences.map((difference) => {
        const shown = valuesOf(difference, a, b);
        return shown === undefined ? difference : { ...difference, values: shown };
      })
    : result.differences;
  if (json) {
    io.stdout(`${JSON.stringify({ equal: result.equal, compared: result.compared, a: idA, b: idB, differences }, null, 2)}\n`);
    return result.equal ? EXIT.ok : EXIT.differs;
  }
  if (result.equal) {
    io.stdout(`equal ${idA}\n`);
    return EXIT.ok;
  }
  let out = `differ\n  a ${idA}\n  b ${idB}\n`;
  for (const difference of differences) {
    const where =
      difference.change === 'moved' ? ` (from [${difference.from}] to [${difference.to}])` : '';
    out += `${difference.change.padEnd(8)} ${difference.component.padEnd(14)} ${difference.path}${where}\n`;
    if (difference.values !== undefined) {
      if (difference.values.a !== undefined) out += `           a: ${difference.values.a}\n`;
      if (difference.values.b !== undefined) out += `           b: ${difference.values.b}\n`;
    }
  }
  io.stdout(out);
  return EXIT.differs;
}

const KIND_NAMES: Record<DiffKind, string> = {
  composition: 'composition',
  request: 'request',
  receipt: 'receipt',
  'identity-document': 'identity document',
};

/** A receipt or an identity document on either side: only digests, identities and served facts. */
function diffKinds(a: DiffSide, b: DiffSide, json: boolean, showValues: boolean, io: CliIo): number {
  const viewA = a.view ?? viewOfIdentity(computeIdentity(a.composition));
  const viewB = b.view ?? viewOfIdentity(computeIdentity(b.composition));
  const result = diffDigests(viewA, viewB);
  const idA = result.compared === 'runId' ? viewA.runId : viewA.requestId;
  const idB = result.compared === 'runId' ? viewB.runId : viewB.requestId;
  const receipt = a.kind === 'receipt' || b.kind === 'receipt';
  if (showValues) io.stderr('runprint: --values: no content to show: a receipt or an identity document carries only digests\n');
  if (json) {
    const shape: Record<string, unknown> = { equal: result.equal, compared: result.compared, a: idA, b: idB, kinds: { a: a.kind, b: b.kind } };
    if (receipt) shape['signaturesChecked'] = false;
    shape['differences'] = result.differences;
    io.stdout(`${JSON.stringify(shape, null, 2)}\n`);
    return result.equal ? EXIT.ok : EXIT.differs;
  }
  // As for two compositions: equal identities print no differences (those are in --json).
  let out = result.equal
    ? `equal ${idA}\n  a ${KIND_NAMES[a.kind]}\n  b ${KIND_NAMES[b.kind]}\n`
    : `differ\n  a ${idA} (${KIND_NAMES[a.kind]})\n  b ${idB} (${KIND_NAMES[b.kind]})\n`;
  for (const difference of result.equal ? [] : result.differences) {
    const count = difference.count === undefined ? '' : ` (count ${difference.count.a ?? '-'} to ${difference.count.b ?? '-'})`;
    out += `${difference.change.padEnd(8)} ${difference.component.padEnd(14)} ${difference.path}${count}\n`;
  }
  if (receipt) out += 'receipt signatures not checked: run "runprint verify" to check them\n';
  io.stdout(out);
  return result.equal ? EXIT.ok : EXIT.differs;
}
