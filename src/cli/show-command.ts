/**
 * `runprint show RECEIPT|BUNDLE [--log-proof FILE] [--json]`: what a receipt claims, as a person
 * reads it (docs/RECEIPTS.md 13). It checks no signature, digest or proof: every line is a claim
 * of the payload until `runprint verify` has checked it, and the output says so.
 */
import { UsageError } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { parseCheckpoint } from '../log/checkpoint.ts';
import { parseTlogProof } from '../log/tlog-proof.ts';
import { decodePayload } from '../receipt/envelope.ts';
import { readPredicate } from '../receipt/predicate-shape.ts';
import type { Predicate } from '../receipt/predicate.ts';
import { readReceiptInput } from '../receipt/receipt-input.ts';
import { checkPredicateType, checkStatementType, parseStatement, readSubjects } from '../receipt/statement.ts';
import { EXIT, type CliIo } from './io.ts';
import { parseCommandLine } from './parse-options.ts';
import { printable } from '../io/printable.ts';
import { readInput } from './read-input.ts';
import { readingReceiptFile } from './receipt-input.ts';

/** The log proof a receipt travels with, as it claims to be: parsed, not checked. */
export interface ShownLogProof {
  origin: string;
  index: number;
  size: number;
  /** The names on the checkpoint's signature lines (the log's and any witnesses'), unauthenticated. */
  signedBy: string[];
}

/** What `runprint show --json` prints (docs/CLI.md). */
export interface ShownReceipt {
  /** Always false: show reads the claims and checks none of them. */
  verified: false;
  form: 'envelope' | 'bundle';
  /** The bundle's public-key hint, for a Sigstore bundle. */
  bundleKeyHint?: string;
  runId: string;
  requestId: string;
  requestedModel: string;
  served: Record<string, { source: string; value: JsonValue }>;
  capture: string;
  builder: { id: string; runprintVersion: string };
  startedOn: string | null;
  finishedOn: string | null;
  output: { digest: string | null; bytesDigest: string; format: string | null; finishReason: string | null; stream: boolean };
  parentRunIds: string[];
  /**
   * The documents the receipt declares the run rests on (RECEIPTS 13.2 `runDetails.retrieval`):
   * source, digest of the text (`sha256:<hex>`), and where in the request; `[]` when it declares none.
   */
  retrieval: Array<{ source: string; digest: string; component: string; element: number }>;
  /** One entry per signature, in envelope order: the key id the envelope names (unauthenticated), or null. */
  signatures: Array<{ keyId: string | null }>;
  /** With --log-proof: the proof's claims; null without one. */
  logProof: ShownLogProof | null;
}

const NOT_VERIFIED = 'claims only, NOT verified; check them with "runprint verify RECEIPT --key PUB"';

export async function showCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine('show', args, { 'log-proof': { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('ERR_CLI_USAGE', 'give exactly one RECEIPT or BUNDLE file (or - for standard input); run "runprint show --help"');
  if (positionals[0] === '-' && values['log-proof'] === '-') throw new UsageError('ERR_CLI_USAGE', 'only one of RECEIPT and --log-proof can be standard input');
  const bytes = await readInput(positionals[0], io);
  const shown = await readingReceiptFile('', positionals[0]!, () => readClaims(bytes));
  if (values['log-proof'] !== undefined) shown.logProof = readLogProof(await readInput(values['log-proof'], io));
  io.stdout(values.json === true ? `${JSON.stringify(shown, null, 2)}\n` : formatShown(shown));
  return EXIT.ok;
}

/** The receipt's claims, read by the shape rules of RECEIPTS 15 steps 1, 5-8, with no signature or digest checked. */
export function readClaims(bytes: Uint8Array): ShownReceipt {
  const { envelope, bundleKeyHint } = readReceiptInput(bytes);
  const statement = parseStatement(decodePayload(envelope));
  checkStatementType(statement);
  const subjects = readSubjects(statement);
  checkPredicateType(statement);
  const predicate: Predicate = readPredicate(statement['predicate']);
  const { externalParameters } = predicate.buildDefinition;
  const { runDetails } = predicate;
  const shown: ShownReceipt = {
    verified: false,
    form: bundleKeyHint === undefined ? 'envelope' : 'bundle',
    runId: subjects.run.runId,
    requestId: externalParameters.requestId,
    requestedModel: externalParameters.model,
    served: Object.fromEntries(Object.entries(runDetails.served).map(([name, fact]) => [name, { source: fact.source, value: fact.value }])),
    capture: externalParameters.capture,
    builder: { id: runDetails.builder.id, runprintVersion: runDetails.builder.version.runprint },
    startedOn: runDetails.metadata.startedOn ?? null,
    finishedOn: runDetails.metadata.finishedOn ?? null,
    output: {
      digest: runDetails.output.digest === null ? null : `sha256:${runDetails.output.digest.sha256}`,
      bytesDigest: `sha256:${subjects.outputBytes.sha256}`,
      format: runDetails.output.format,
      finishReason: runDetails.output.finishReason,
      stream: runDetails.output.stream,
    },
    parentRunIds: [...runDetails.parentRunIds],
    retrieval: (runDetails.retrieval ?? []).map((entry) => ({ source: entry.source, digest: `sha256:${entry.digest.sha256}`, component: entry.component, element: entry.element })),
    signatures: envelope.signatures.map((signature) => ({ keyId: signature.keyid ?? null })),
    logProof: null,
  };
  if (bundleKeyHint !== undefined) shown.bundleKeyHint = bundleKeyHint;
  return shown;
}

/** A tlog-proof's claims: the checkpoint's origin and size, the index, the signature names; nothing checked. */
function readLogProof(bytes: Uint8Array): ShownLogProof {
  const proof = parseTlogProof(new TextDecoder('utf-8', { fatal: false }).decode(bytes));
  const checkpoint = parseCheckpoint(proof.checkpoint.text);
  return { origin: checkpoint.origin, index: proof.index, size: checkpoint.size, signedBy: proof.checkpoint.signatures.map((signature) => signature.name) };
}

/** A value from the payload as one line may show it: signed by someone, but not yet checked, so escaped and cut. */
function text(value: JsonValue | string): string {
  return printable(typeof value === 'string' ? value : JSON.stringify(value), 100);
}

/** The text `runprint show` prints. */
export function formatShown(shown: ShownReceipt): string {
  const row = (label: string, value: string) => `  ${label.padEnd(15)}${value}\n`;
  let out = `receipt (${NOT_VERIFIED})\n`;
  out += row('form', shown.form === 'envelope' ? 'DSSE envelope' : `Sigstore bundle, key hint ${text(shown.bundleKeyHint!)}`);
  out += row('run', shown.runId);
  out += row('request', shown.requestId);
  out += row('model asked', text(shown.requestedModel));
  const served = Object.entries(shown.served);
  out += row('served', served.length === 0 ? '(no fact known)' : served.map(([name, fact]) => `${text(name)} ${text(fact.value)} (${fact.source})`).join(', '));
  out += row('captured', `${text(shown.capture)} by ${text(shown.builder.id)}, runprint ${text(shown.builder.runprintVersion)}`);
  out += row('started', shown.startedOn === null ? '(not recorded)' : text(shown.startedOn));
  out += row('finished', shown.finishedOn === null ? '(not recorded)' : text(shown.finishedOn));
  const output = shown.output;
  const how = [output.format === null ? 'read as plain JSON' : `read as ${text(output.format)}`, output.stream ? 'stream' : 'body', ...(output.finishReason === null ? [] : [`finish ${text(output.finishReason)}`])];
  out += row('output', `${output.digest ?? '(no assembled digest)'} (${how.join(', ')})`);
  out += row('output bytes', output.bytesDigest);
  out += row('parents', shown.parentRunIds.length === 0 ? '(none)' : shown.parentRunIds[0]!);
  for (const parent of shown.parentRunIds.slice(1)) out += row('', parent);
  const documents = shown.retrieval.map((entry) => `${text(entry.source)} ${entry.digest} (${entry.component}[${entry.element}])`);
  out += row('retrieval', documents.length === 0 ? '(none declared)' : documents[0]!);
  for (const document of documents.slice(1)) out += row('', document);
  const keyIds = shown.signatures.map((signature) => (signature.keyId === null ? '(no key id)' : text(signature.keyId)));
  out += row('signatures', `${shown.signatures.length}, key ids as the envelope names them: ${keyIds.join(', ')}`);
  if (shown.logProof === null) {
    out += row('log proof', '(none given; --log-proof FILE shows one)');
  } else {
    const { origin, index, size, signedBy } = shown.logProof;
    out += row('log proof', `index ${index} of ${size} in ${text(origin)}, signed by ${signedBy.map(text).join(', ') || '(none)'} (not checked: verify --log-proof)`);
  }
  return out;
}
