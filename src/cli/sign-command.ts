/** `runprint sign`: sign a receipt for a run, or countersign an existing one (SPEC 13-14). */
import { compositionFromDocument, isInputFormat, type InputFormat } from '../compose/from-document.ts';
import { readDeclared } from '../capture/declared.ts';
import type { DeclaredDocument } from '../capture/run-record.ts';
import { RunprintError, UsageError } from '../errors.ts';
import { parseIdentity } from '../identity/identity-string.ts';
import { printable } from '../io/printable.ts';
import { parseJson } from '../jcs/parse.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';
import { formatEnvelope, readEnvelope, type Envelope } from '../receipt/envelope.ts';
import { parsePrivateKey } from '../keys/keys.ts';
import { CAPTURES, isTimestamp, type Capture, type ReceiptFacts } from '../receipt/predicate.ts';
import { receiptFactsOf } from '../receipt/receipt-facts.ts';
import { addSignature, signReceipt } from '../receipt/sign.ts';
import { formatBundle } from '../receipt/sigstore-bundle.ts';
import { signedRetrieval } from '../server/api-answers.ts';
import { runprintVersion } from './version.ts';
import { formatCommandHelp } from './usage.ts';
import { EXIT, type CliIo } from './io.ts';
import { checkWritable, refuseStandardOutput, writeOutputFile } from './output-file.ts';
import { parseCommandLine } from './parse-options.ts';
import { fileName, readInput, readingOutputFile, readJsonInput } from './read-input.ts';
import { readingReceiptFile } from './receipt-input.ts';
import { checkRequestMembers } from './request-warnings.ts';
import { withSaltsFile } from './salts-file.ts';

const OPTIONS = {
  key: { type: 'string' },
  composition: { type: 'string' },
  salts: { type: 'string' },
  from: { type: 'string' },
  output: { type: 'string' },
  'output-format': { type: 'string' },
  started: { type: 'string' },
  finished: { type: 'string' },
  capture: { type: 'string' },
  parent: { type: 'string', multiple: true },
  retrieval: { type: 'string' },
  out: { type: 'string' },
  bundle: { type: 'string' },
  'add-to': { type: 'string' },
  strict: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

function usage(message: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', message);
}

export async function signCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandLine('sign', args, OPTIONS, false);
  if (values.help === true) {
    io.stdout(formatCommandHelp('sign')!);
    return EXIT.ok;
  }
  if (values.key === undefined) throw usage('--key is required');
  // The receipt goes to standard output when --out is not given; `-` would be a file named "-".
  refuseStandardOutput('--out', values.out);
  refuseStandardOutput('--bundle', values.bundle);
  // Both files can be written, before anything is: a failed --out never follows a --bundle written.
  for (const name of [values.bundle, values.out]) if (name !== undefined) await checkWritable(name, io);
  const key = await parsePrivateKey(new TextDecoder().decode(await readInput(values.key, io)));
  let envelope: Envelope;
  if (values['add-to'] !== undefined) {
    for (const option of ['composition', 'salts', 'output', 'from', 'strict', 'output-format', 'started', 'finished', 'capture', 'parent', 'retrieval'] as const) {
      if (values[option] !== undefined) throw usage(`--${option} cannot be used with --add-to: the payload is already signed`);
    }
    const receipt = values['add-to'];
    const bytes = await readInput(receipt, io);
    const before = await readingReceiptFile('--add-to ', receipt, () => readEnvelope(bytes).signatures.length);
    envelope = await readingReceiptFile('--add-to ', receipt, () => addSignature(bytes, key));
    // The key's signature is there already: the envelope is written as it was, and that is said.
    if (envelope.signatures.length === before) {
      io.stderr(`runprint: --add-to ${receipt === '-' ? 'standard input' : fileName(receipt)}: key ${key.keyId} already signed this receipt; nothing added\n`);
    }
  } else {
    envelope = await signReceipt(await receiptFacts(values, io), key);
  }
  const text = formatEnvelope(envelope);
  if (values.bundle !== undefined) {
    if (envelope.signatures.length !== 1) throw usage('--bundle needs a receipt with exactly one signature (a Sigstore bundle holds one)');
    await writeOutputFile(values.bundle, `${JSON.stringify(formatBundle(envelope, { publicKeyHint: key.keyId }), null, 2)}\n`, io);
  }
  if (values.out !== undefined) await writeOutputFile(values.out, text, io);
  else io.stdout(text);
  return EXIT.ok;
}

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

async function receiptFacts(values: Values, io: CliIo): Promise<ReceiptFacts> {
  if (values.composition === undefined || values.output === undefined) throw usage('--composition and --output are required');
  if ([values.composition, values.output, values.salts, values.retrieval].filter((name) => name === '-').length > 1) {
    throw usage('only one of --composition, --output, --salts and --retrieval can be standard input');
  }
  if (values.from !== undefined && !isInputFormat(values.from)) {
    throw usage('--from must be auto, composition, openai-chat, openai-responses or anthropic-messages');
  }
  if (values['output-format'] !== undefined && !isRequestFormat(values['output-format'])) {
    throw usage('--output-format must be openai-chat, openai-responses or anthropic-messages');
  }
  const capture = values.capture ?? 'cli';
  if (!(CAPTURES as readonly string[]).includes(capture)) throw usage('--capture must be cli, sdk or proxy');
  for (const option of ['started', 'finished'] as const) {
    const time = values[option];
    if (time !== undefined && !isTimestamp(time)) throw usage(`--${option} must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z`);
  }
  for (const parent of values.parent ?? []) {
    let kind: string;
    try {
      kind = parseIdentity(parent).kind;
    } catch (error) {
      // Said of the option it came from, with the value as given (printable, cut).
      if (error instanceof RunprintError) error.message = `--parent ${printable(parent, 80)}: ${error.message}`;
      throw error;
    }
    if (kind !== 'run') throw usage('--parent must be a run identity (rp-run-…)');
  }
  const declared = values.retrieval === undefined ? undefined : await readRetrievalFile(values.retrieval, io);
  const from = values.from as InputFormat | undefined;
  const document = await readJsonInput(values.composition, io, '--composition ');
  let { composition, format } = compositionFromDocument(document, from === undefined ? {} : { from });
  // A typo'd member changes the identity the receipt binds: named before anything is signed.
  checkRequestMembers(document, format, values.composition, values.strict === true, io);
  // Checked against the request as capture checks a call's declaration: refused, not left out.
  const retrieval = declared === undefined ? [] : signedRetrieval(composition, declared);
  if (values.salts !== undefined) composition = await withSaltsFile(composition, values.salts, io);
  const output = await readInput(values.output, io);
  const version = await runprintVersion();
  // The composition was read above: what this throws of output or JSON is the output file's.
  const facts = await readingOutputFile(values.output, () => receiptFactsOf(
    { composition, format },
    {
      output,
      capture: capture as Capture,
      runprintVersion: version,
      parentRunIds: values.parent ?? [],
      ...(values['output-format'] === undefined ? {} : { outputFormat: values['output-format'] as RequestFormat }),
      ...(values.started === undefined ? {} : { startedOn: values.started }),
      ...(values.finished === undefined ? {} : { finishedOn: values.finished }),
    },
    { started: '--started', finished: '--finished' },
  ));
  // Absent when nothing is declared, as in capture's receipts: the bytes signed before --retrieval existed.
  if (retrieval.length > 0) facts.retrieval = retrieval;
  return facts;
}

/**
 * `--retrieval FILE`: the documents the run rests on, a JSON array of `{ source, text }` (two
 * non-empty strings, nothing else: the shape withRetrieval, an exchange and the proxy's
 * `runprint-retrieval` header take). Anything else is ERR_CAPTURE_RETRIEVAL_INVALID, as the
 * proxy's header, naming the option and the place, never a text.
 */
async function readRetrievalFile(name: string, io: CliIo): Promise<DeclaredDocument[]> {
  const bytes = await readInput(name, io);
  const where = `--retrieval ${name === '-' ? 'standard input' : fileName(name)}`;
  let value: unknown;
  try {
    value = parseJson(bytes);
  } catch (error) {
    if (!(error instanceof RunprintError)) throw error;
    throw new RunprintError('ERR_CAPTURE_RETRIEVAL_INVALID', `${where} must be strict I-JSON (UTF-8), a JSON array of { source, text }: ${error.code}`, error.path);
  }
  try {
    return readDeclared(value, '$', 'ERR_CAPTURE_RETRIEVAL_INVALID');
  } catch (error) {
    if (!(error instanceof RunprintError)) throw error;
    throw new RunprintError('ERR_CAPTURE_RETRIEVAL_INVALID', `${where}: ${error.message}`, error.path);
  }
}
