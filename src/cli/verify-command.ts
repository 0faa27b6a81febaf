/** `runprint verify`: the verification checklist of a receipt, printed check by check (SPEC 15). */
import { parseArgs } from 'node:util';
import { compositionFromDocument } from '../compose/from-document.ts';
import { isInputFormat, type InputFormat } from '../compose/from-document.ts';
import { UsageError } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { parseJson } from '../jcs/parse.ts';
import { isRequestFormat, type RequestFormat } from '../providers/request-format.ts';
import { parsePublicKey, type PublicKey } from '../receipt/keys.ts';
import { CHECK_LABELS, verifyReceipt, type VerifyOptions } from '../receipt/verify.ts';
import { EXIT, type CliIo } from './io.ts';
import { readInput } from './read-input.ts';
import { receiptEnvelopeInput } from './receipt-input.ts';
import { withSaltsFile } from './salts-file.ts';

export const VERIFY_USAGE = `usage: runprint verify RECEIPT --key PUB [--key PUB2]... [options]

Checks a receipt (a DSSE envelope, or a Sigstore bundle holding one) offline and prints each check.
Exit 0 when every check passes, 1 when one fails.
  --key PUB            public key: PEM, JWK or signed-note verifier key; every key given must
                       have signed the receipt (repeat for an application and a gateway key)
  --composition FILE   recompute the identity from this composition or provider request
  --from F             how to read --composition (default auto)
  --salts FILE         salts kept apart from the composition (SPEC 2.5)
  --output FILE        recompute the output digest from this response body or stream
  --output-format F    how to read --output (default: as the receipt records)
  --json               print the report as JSON
`;

const OPTIONS = {
  key: { type: 'string', multiple: true },
  composition: { type: 'string' },
  salts: { type: 'string' },
  from: { type: 'string' },
  output: { type: 'string' },
  'output-format': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

function usage(message: string): UsageError {
  return new UsageError('ERR_CLI_USAGE', message);
}

export async function verifyCommand(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch {
    throw usage('unknown option or missing option value; run "runprint verify --help"');
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.stdout(VERIFY_USAGE);
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
  const stdin = [positionals[0], values.composition, values.salts, values.output, ...values.key].filter((name) => name === '-');
  if (stdin.length > 1) throw usage('only one input can be standard input');
  const keys: PublicKey[] = [];
  for (const name of values.key) keys.push(await parsePublicKey(new TextDecoder().decode(await readInput(name, io))));
  const receipt = receiptEnvelopeInput(await readInput(positionals[0], io));
  const options: VerifyOptions = { keys };
  if (values.composition !== undefined) options.composition = parseJson(await readInput(values.composition, io));
  if (values.from !== undefined) options.from = values.from as InputFormat;
  if (values.salts !== undefined && options.composition !== undefined) {
    // The salts join the composition the document stands for, which is then read as one.
    const { composition } = compositionFromDocument(options.composition, options.from === undefined ? {} : { from: options.from });
    options.composition = (await withSaltsFile(composition, values.salts, io)) as unknown as JsonValue;
    options.from = 'composition';
  }
  if (values.output !== undefined) options.output = await readInput(values.output, io);
  if (values['output-format'] !== undefined) options.outputFormat = values['output-format'] as RequestFormat;
  const report = await verifyReceipt(receipt, options);
  if (values.json === true) {
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    let out = '';
    for (const check of report.checks) {
      const label = check.keyId === undefined ? CHECK_LABELS[check.name] : `${CHECK_LABELS[check.name]} (key ${check.keyId.slice(0, 16)})`;
      out += check.ok ? `✓ ${label}\n` : `✗ ${label}: ${check.code}: ${check.message}\n`;
    }
    out += report.ok ? `receipt verified: ${report.runId}\n` : 'receipt NOT verified\n';
    io.stdout(out);
  }
  return report.ok ? EXIT.ok : EXIT.differs;
}
