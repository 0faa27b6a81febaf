/** `runprint verify`: the verification checklist of a receipt, printed check by check (SPEC 15). */
import { compositionFromDocument } from '../compose/from-document.ts';
import { isInputFormat, type InputFormat } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { parseDecimal } from '../log/checkpoint.ts';
import type { NoteVerifier } from '../log/note.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';
import { parsePublicKey, type PublicKey } from '../keys/keys.ts';
import type { ReceiptRetrieval } from '../receipt/predicate.ts';
import { CHECK_LABELS, verifyReceipt, type VerifyOptions } from '../receipt/verify.ts';
import { printable } from '../io/printable.ts';
import { formatCommandHelp } from './usage.ts';
import { EXIT, type CliIo } from './io.ts';
import { logKeyGivenAs } from '../receipt/log-proof-check.ts';
import { readLogKey, readWitnessKey } from './log-options.ts';
import { parseCommandLine } from './parse-options.ts';
import { readInput, readingOutputFile, readJsonInput } from './read-input.ts';
import { isBundleFile } from './receipt-input.ts';
import { withSaltsFile } from './salts-file.ts';

const OPTIONS = {
  key: { type: 'string', multiple: true },
  composition: { type: 'string' },
  salts: { type: 'string' },
  from: { type: 'string' },
  output: { type: 'string' },
  'output-format': { type: 'string' },
  json: { type: 'boolean' },
  'log-proof': { type: 'string' },
  'log-key': { type: 'string' },
  'log-origin': { type: 'string' },
  witness: { type: 'string', multiple: true },
  'witness-threshold': { type: 'string' },
  help: { type: 'boolean' },
} as const;

function usage(message: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', message);
}

export async function verifyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('verify', args, OPTIONS);
  if (values.help === true) {
    io.stdout(formatCommandHelp('verify')!);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw usage('give exactly one RECEIPT file (or - for standard input)');
  if (values.key === undefined || values.key.length === 0) throw usage('--key is required');
  if (values.from !== undefined && !isInputFormat(values.from)) {
    throw usage('--from must be auto, composition, openai-chat, openai-responses or anthropic-messages');
  }
  if (values['output-format'] !== undefined && !isRequestFormat(values['output-format'])) {
    throw usage('--output-format must be openai-chat, openai-responses or anthropic-messages');
  }
  if (values.salts !== undefined && values.composition === undefined) throw usage('--salts goes with --composition');
  const witnessNames = values.witness ?? [];
  const threshold = checkLogOptions(values, witnessNames.length);
  const stdin = [positionals[0], values.composition, values.salts, values.output, ...values.key, values['log-proof'], values['log-key'], ...witnessNames].filter(
    (name) => name === '-',
  );
  if (stdin.length > 1) throw usage('only one input can be standard input');
  const keys: PublicKey[] = [];
  for (const name of values.key) keys.push(await parsePublicKey(new TextDecoder().decode(await readInput(name, io))));
  const logKey = values['log-key'] === undefined ? undefined : await readLogKey(values['log-key'], io);
  const witnesses: NoteVerifier[] = [];
  for (const name of witnessNames) {
    const witness = await readWitnessKey(name, io);
    // The policy counts witnesses by name: two keys under one name would count once.
    if (witnesses.some((other) => other.name === witness.name)) throw usage('each --witness must have its own name');
    witnesses.push(witness);
  }
  const receiptBytes = await readInput(positionals[0], io);
  const options: VerifyOptions = { keys };
  if (values.composition !== undefined) options.composition = await readJsonInput(values.composition, io, '--composition ');
  if (values.from !== undefined) options.from = values.from as InputFormat;
  if (values.salts !== undefined && options.composition !== undefined) {
    // The salts join the composition the document stands for, which is then read as one.
    const { composition } = compositionFromDocument(options.composition, options.from === undefined ? {} : { from: options.from });
    options.composition = (await withSaltsFile(composition, values.salts, io)) as unknown as JsonValue;
    options.from = 'composition';
  }
  if (values.output !== undefined) options.output = await readInput(values.output, io);
  if (values['output-format'] !== undefined) options.outputFormat = values['output-format'] as RequestFormat;
  if (values['log-proof'] !== undefined && logKey !== undefined) {
    // The log holds the bytes that were submitted: a DSSE envelope file, never a bundle made from it.
    if (isBundleFile(receiptBytes)) throw usage('--log-proof checks the receipt file submitted to the log (a DSSE envelope), not a Sigstore bundle');
    const proof = await readInput(values['log-proof'], io);
    const policy = { logKey, witnesses, threshold, ...(values['log-origin'] === undefined ? {} : { origin: values['log-origin'] }) };
    // A checkpoint the key did not sign names the option that gave it, and what to give instead.
    options.logProof = { proof, entry: receiptBytes, policy, logKeyWording: logKeyGivenAs('--log-key') };
  }
  // The composition was read above, so what the receipt check throws of output or JSON is the output's.
  const output = values.output;
  const report = output === undefined ? await verifyReceipt(receiptBytes, options) : await readingOutputFile(output, () => verifyReceipt(receiptBytes, options));
  if (values.json === true) {
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    let out = '';
    for (const check of report.checks) {
      const label = check.keyId === undefined ? CHECK_LABELS[check.name] : `${CHECK_LABELS[check.name]} (key ${check.keyId.slice(0, 16)})`;
      const at = check.path === undefined ? '' : ` (at ${check.path})`;
      out += check.ok ? `✓ ${label}\n` : `✗ ${label}: ${check.code}: ${check.message}${at}\n`;
    }
    if (report.logProof !== undefined) {
      const { origin, index, treeSize, cosignedBy } = report.logProof;
      out += `logged in ${origin} at index ${index} of ${treeSize}`;
      out += cosignedBy.length === 0 ? '\n' : `, cosigned by ${cosignedBy.join(', ')} (${threshold} of ${witnesses.length} required)\n`;
    }
    if (report.retrieval !== undefined) out += formatRetrieval(report.retrieval);
    out += report.ok ? `receipt verified: ${report.runId}\n` : 'receipt NOT verified\n';
    io.stdout(out);
  }
  return report.ok ? EXIT.ok : EXIT.differs;
}

/**
 * The declared documents a verified receipt signs (RECEIPTS 13.2 `runDetails.retrieval`), one line
 * each: source (escaped and cut, as `show` prints signed strings), digest of the text, where in the
 * request.
 */
export function formatRetrieval(retrieval: readonly ReceiptRetrieval[]): string {
  let out = `declared retrieval: ${retrieval.length} document${retrieval.length === 1 ? '' : 's'}\n`;
  for (const entry of retrieval) out += `  ${printable(entry.source, 100)} sha256:${entry.digest.sha256} (${entry.component}[${entry.element}])\n`;
  return out;
}

/**
 * The log options go together: --log-proof needs --log-key and takes the others; the witness
 * threshold is from 1 to the number of witnesses, all of them when not given. Returns it.
 */
function checkLogOptions(
  values: { 'log-proof'?: string; 'log-key'?: string; 'log-origin'?: string; 'witness-threshold'?: string },
  witnessCount: number,
): number {
  if (values['log-proof'] === undefined) {
    if (values['log-key'] !== undefined || values['log-origin'] !== undefined || witnessCount > 0 || values['witness-threshold'] !== undefined) {
      throw usage('--log-key, --log-origin, --witness and --witness-threshold go with --log-proof');
    }
    return 0;
  }
  if (values['log-key'] === undefined) throw usage('--log-proof needs --log-key, the log\'s verifier key');
  if (values['log-origin'] === '') throw usage('--log-origin must not be empty');
  if (values['witness-threshold'] === undefined) return witnessCount;
  if (witnessCount === 0) throw usage('--witness-threshold needs --witness keys');
  const threshold = parseDecimal(values['witness-threshold']);
  if (threshold === undefined || threshold < 1 || threshold > witnessCount) {
    throw usage('--witness-threshold must be a whole number from 1 to the number of --witness keys');
  }
  return threshold;
}
