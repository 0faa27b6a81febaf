/** `runprint disclose`: fresh salts, and disclosures of chosen parts of a run, created and verified (SPEC 17). */
import { parseArgs } from 'node:util';
import { compositionFromDocument, isInputFormat, type InputFormat } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import { LIST_COMPONENTS, REQUEST_COMPONENTS, type Composition } from '../identity/composition.ts';
import { createSalts } from '../identity/salt.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';
import { runOutputFrom } from '../providers/run-output.ts';
import { createDisclosure, formatDisclosure, type Reveal } from '../receipt/disclosure.ts';
import { DISCLOSURE_CHECK_LABELS, verifyDisclosure, type DisclosureReport } from '../receipt/disclosure-verify.ts';
import { decodePayload } from '../receipt/envelope.ts';
import { readReceiptInput } from '../receipt/receipt-input.ts';
import { parsePublicKey, type PublicKey } from '../keys/keys.ts';
import { parseStatement } from '../receipt/statement.ts';
import { CHECK_LABELS, verifyReceipt, type VerificationReport } from '../receipt/verify.ts';
import { EXIT, type CliIo } from './io.ts';
import { closestName } from '../io/closest-name.ts';
import { refuseStandardOutput, writeOutputFile } from './output-file.ts';
import { parseCommandLine } from './parse-options.ts';
import { readInput, readingOutputFile, readJsonInput } from './read-input.ts';
import { withSaltsFile } from './salts-file.ts';
import { formatCommandHelp } from './usage.ts';

const OPTIONS = {
  components: { type: 'string' },
  composition: { type: 'string' },
  from: { type: 'string' },
  salts: { type: 'string' },
  output: { type: 'string' },
  'output-format': { type: 'string' },
  reveal: { type: 'string', multiple: true },
  out: { type: 'string' },
  receipt: { type: 'string' },
  key: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** Which options each subcommand takes; any other is a usage error. */
const ALLOWED: { [command: string]: ReadonlyArray<keyof typeof OPTIONS> } = {
  salts: ['components', 'help'],
  create: ['composition', 'from', 'salts', 'output', 'output-format', 'reveal', 'out', 'help'],
  verify: ['receipt', 'key', 'json', 'help'],
};

function usage(message: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', message);
}

const REVEAL = /^([a-z]+)(?:\[(0|[1-9][0-9]{0,15})\])?$/;

/** `system` is the component whole; `input[2]` the element at index 2 of a list component. */
export function parseReveal(text: string): Reveal {
  const match = REVEAL.exec(text);
  const name = match?.[1];
  if (name === undefined || !(REQUEST_COMPONENTS as readonly string[]).includes(name)) {
    throw usage(`--reveal must name a request component (${REQUEST_COMPONENTS.join(', ')}), with [INDEX] for one element of a list`);
  }
  if (match![2] === undefined) return { component: name };
  if (!(LIST_COMPONENTS as readonly string[]).includes(name)) throw usage(`--reveal ${name}[…]: only list components (${LIST_COMPONENTS.join(', ')}) have elements`);
  const index = Number(match![2]);
  if (!Number.isSafeInteger(index)) throw usage('--reveal index is too large');
  return { component: name, index };
}

export async function discloseCommand(args: string[], io: CliIo): Promise<number> {
  // Named with its subcommand when it comes first, as it does ("disclose salts takes it once").
  const first = args[0];
  const named = first !== undefined && Object.hasOwn(ALLOWED, first) ? `disclose ${first}` : 'disclose';
  const { values, positionals } = parseCommandLine(named, args, OPTIONS);
  const [command, ...rest] = positionals;
  // `ALLOWED` is an object: a subcommand named like one of its inherited members is no subcommand.
  const allowed = command !== undefined && Object.hasOwn(ALLOWED, command) ? ALLOWED[command] : undefined;
  // The help comes from usage.ts, as every command's (the dispatcher answers --help before this).
  if (values.help === true) {
    io.stdout(formatCommandHelp(allowed === undefined ? 'disclose' : `disclose ${command}`)!);
    return EXIT.ok;
  }
  // As runs and log: one line saying what the command takes (the help is one --help away).
  if (command === undefined) throw usage('disclose takes salts, create or verify; run "runprint disclose --help"');
  if (allowed === undefined) {
    const closest = closestName(command, Object.keys(ALLOWED));
    throw usage(`disclose takes salts, create or verify${closest === undefined ? '' : `; did you mean "disclose ${closest}"?`}; run "runprint disclose --help"`);
  }
  for (const option of Object.keys(values)) {
    if (!allowed.includes(option as keyof typeof OPTIONS)) throw usage(`--${option} cannot be used with "disclose ${command}"`);
  }
  if (command === 'salts') return saltsCommand(values, rest, io);
  if (command === 'create') return createCommand(values, rest, io);
  return verifyCommand(values, rest, io);
}

function saltsCommand(values: Values, rest: string[], io: CliIo): number {
  if (rest.length !== 0 || values.components === undefined) throw usage('give --components NAME[,NAME]... and nothing else');
  const names = values.components.split(',');
  for (const name of names) {
    if (!(REQUEST_COMPONENTS as readonly string[]).includes(name)) throw usage(`--components must name request components (${REQUEST_COMPONENTS.join(', ')})`);
  }
  if (new Set(names).size !== names.length) throw usage('--components names a component twice');
  io.stdout(`${JSON.stringify(createSalts(names), null, 2)}\n`);
  return EXIT.ok;
}

async function createCommand(values: Values, rest: string[], io: CliIo): Promise<number> {
  if (rest.length !== 0) throw usage('"disclose create" takes no positional arguments');
  refuseStandardOutput('--out', values.out);
  if (values.composition === undefined) throw usage('--composition is required');
  if (values.reveal === undefined || values.reveal.length === 0) throw usage('--reveal is required: name what to disclose');
  if (values.from !== undefined && !isInputFormat(values.from)) {
    throw usage('--from must be auto, composition, openai-chat, openai-responses or anthropic-messages');
  }
  if (values['output-format'] !== undefined && !isRequestFormat(values['output-format'])) {
    throw usage('--output-format must be openai-chat, openai-responses or anthropic-messages');
  }
  const stdin = [values.composition, values.salts, values.output].filter((name) => name === '-');
  if (stdin.length > 1) throw usage('only one input can be standard input');
  const reveal = values.reveal.map(parseReveal);
  const keys = reveal.map((r) => (r.index === undefined ? r.component : `${r.component}[${r.index}]`));
  if (new Set(keys).size !== keys.length) throw usage('--reveal names the same part twice');
  const document = await readJsonInput(values.composition, io, '--composition ');
  const from = values.from as InputFormat | undefined;
  let { composition, format } = compositionFromDocument(document, from === undefined ? {} : { from });
  if (values.salts !== undefined) composition = await withSaltsFile(composition, values.salts, io);
  if (composition.served === undefined) {
    // As runprint sign does: the served facts of a provider request come from its response.
    if (values.output === undefined) throw usage('the composition has no served facts: give --output FILE, the response the receipt was signed with');
    const outputFormat = (values['output-format'] as RequestFormat | undefined) ?? (format === 'composition' ? undefined : format);
    const output = values.output;
    const bytes = await readInput(output, io);
    composition.served = (await readingOutputFile(output, () => runOutputFrom(bytes, outputFormat))).served;
  }
  checkReveal(composition, reveal);
  const text = formatDisclosure(createDisclosure(composition, { reveal }));
  if (values.out === undefined) {
    io.stdout(text);
    return EXIT.ok;
  }
  await writeOutputFile(values.out, text, io);
  return EXIT.ok;
}

/** Reveals that cannot be made are the command line's fault: reported as usage errors. */
function checkReveal(composition: Composition, reveal: readonly Reveal[]): void {
  const whole = new Set(reveal.filter((r) => r.index === undefined).map((r) => r.component));
  for (const { component, index } of reveal) {
    if (index === undefined) continue;
    if (whole.has(component)) throw usage(`--reveal ${component} and ${component}[${index}]: reveal a component whole or by element, not both`);
    const length = (composition[component as (typeof LIST_COMPONENTS)[number]] as unknown[]).length;
    if (index >= length) throw usage(`--reveal ${component}[${index}]: "${component}" has ${length} element(s)`);
  }
}

async function verifyCommand(values: Values, rest: string[], io: CliIo): Promise<number> {
  if (rest.length !== 1) throw usage('give exactly one DISCLOSURE file (or - for standard input)');
  if (values.receipt === undefined) throw usage('--receipt is required');
  if (values.key === undefined || values.key.length === 0) throw usage('--key is required');
  const stdin = [rest[0], values.receipt, ...values.key].filter((name) => name === '-');
  if (stdin.length > 1) throw usage('only one input can be standard input');
  const keys: PublicKey[] = [];
  for (const name of values.key) keys.push(await parsePublicKey(new TextDecoder().decode(await readInput(name, io))));
  const envelope = await readInput(values.receipt, io);
  const disclosure = await readInput(rest[0], io);
  // 1. The receipt, checked in full by the receipt checklist: only a signed statement is used.
  const receipt = await verifyReceipt(envelope, { keys });
  let report: DisclosureReport | undefined;
  if (receipt.ok) {
    // The envelope has just verified, so reading it again cannot fail.
    const statement = parseStatement(decodePayload(readReceiptInput(envelope).envelope));
    // 2. The disclosure against the signed statement.
    report = verifyDisclosure(disclosure, statement);
  }
  const ok = receipt.ok && report?.ok === true;
  if (values.json === true) {
    const out = { ok, receipt, disclosure: report ?? null, ...(ok ? { runId: report!.runId } : {}) };
    io.stdout(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    io.stdout(formatReports(receipt, report, ok));
  }
  return ok ? EXIT.ok : EXIT.differs;
}

function formatReports(receipt: VerificationReport, report: DisclosureReport | undefined, ok: boolean): string {
  let out = '';
  for (const check of receipt.checks) {
    const label = check.keyId === undefined ? CHECK_LABELS[check.name] : `${CHECK_LABELS[check.name]} (key ${check.keyId.slice(0, 16)})`;
    const at = check.path === undefined ? '' : ` (at ${check.path})`;
    out += check.ok ? `✓ receipt: ${label}\n` : `✗ receipt: ${label}: ${check.code}: ${check.message}${at}\n`;
  }
  for (const check of report?.checks ?? []) {
    const part = check.component === undefined ? '' : check.index === undefined ? ` ${check.component}` : ` ${check.component}[${check.index}]`;
    const label = `${DISCLOSURE_CHECK_LABELS[check.name]}${part === '' ? '' : `:${part}`}`;
    const at = check.path === undefined ? '' : ` (at ${check.path})`;
    out += check.ok ? `✓ disclosure: ${label}\n` : `✗ disclosure: ${label}: ${check.code}: ${check.message}${at}\n`;
  }
  out += ok ? `disclosure verified: ${report!.runId}\n` : 'disclosure NOT verified\n';
  return out;
}
