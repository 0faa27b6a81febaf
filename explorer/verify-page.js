// The verify page (#/verify): a receipt or bundle, its public key, and optionally the composition or
// request, the output, and a tlog-proof with the log key, all checked in this browser. Nothing
// given here is sent anywhere: the page makes no request while it verifies.
import { parseJson } from 'runprint/jcs';
import { parseNoteVerifier } from 'runprint/log';
import { CHECK_LABELS, parsePublicKey, verifyReceipt } from 'runprint/receipt';
import { h } from './common.js';
import { documentList, renderChecks } from './views.js';

const FORMATS = ['auto', 'composition', 'openai-chat', 'openai-responses', 'anthropic-messages'];

/** A text area that a file may fill: the file's exact bytes are kept for the check. */
function field(name, label, rows, hint) {
  const area = h('textarea', { name, rows, spellcheck: 'false', placeholder: hint });
  const file = h('input', { type: 'file', 'aria-label': `${label} from a file` });
  const holder = { area, bytes: undefined };
  file.addEventListener('change', async () => {
    const chosen = file.files?.[0];
    if (chosen === undefined) return;
    holder.bytes = new Uint8Array(await chosen.arrayBuffer());
    area.value = new TextDecoder().decode(holder.bytes);
  });
  area.addEventListener('input', () => void (holder.bytes = undefined));
  holder.element = h('label', {}, label, area, file);
  holder.label = label.replace(/^Optional: /, '').replace(/^./, (first) => first.toUpperCase());
  /** The bytes as given: the file's, else the text's UTF-8. */
  holder.value = () => (holder.bytes ?? (area.value.trim() === '' ? undefined : new TextEncoder().encode(area.value)));
  return holder;
}

/**
 * Reads what a field holds with `read`; an error names the field (an ERR_JSON_TRUNCATED alone did
 * not say which of the fields is cut) and marks it invalid.
 */
async function readField(holder, read) {
  try {
    const value = await read();
    holder.area.removeAttribute('aria-invalid');
    return value;
  } catch (error) {
    holder.area.setAttribute('aria-invalid', 'true');
    const named = new Error(`${holder.label} cannot be read: ${error.message}`);
    named.code = error.code;
    named.field = holder.area.name;
    throw named;
  }
}

async function check(fields, from) {
  for (const holder of Object.values(fields)) holder.area.removeAttribute('aria-invalid');
  const receipt = fields.receipt.value();
  const key = fields.key.value();
  if (receipt === undefined || key === undefined) throw new Error('a receipt and its public key are needed');
  const text = (bytes) => new TextDecoder().decode(bytes);
  const options = { keys: await readField(fields.key, () => Promise.all(text(key).split(/(?=-----BEGIN PUBLIC KEY-----)/).filter((pem) => pem.trim() !== '').map((pem) => parsePublicKey(pem)))) };
  const composition = fields.composition.value();
  if (composition !== undefined) {
    options.composition = await readField(fields.composition, () => parseJson(text(composition)));
    options.from = from;
  }
  const output = fields.output.value();
  if (output !== undefined) options.output = output;
  const proof = fields.proof.value();
  const logKey = fields.logKey.value();
  if (proof !== undefined) {
    if (logKey === undefined) throw new Error('a tlog-proof is checked against the log key: give it too');
    options.logProof = { proof, entry: receipt, policy: { logKey: await readField(fields.logKey, () => parseNoteVerifier(text(logKey).trim())), witnesses: [], threshold: 0 } };
  }
  // A receipt that cannot be read fails its own checks (envelope, payload, ...), named there;
  // verifyReceipt throws only for the composition or the output it was given: which one is
  // found by verifying again without the output.
  let report;
  try {
    report = await verifyReceipt(text(receipt), options);
  } catch (error) {
    const { output: _output, ...withoutOutput } = options;
    const culprit = output === undefined ? fields.composition
      : composition === undefined ? fields.output
        : await verifyReceipt(text(receipt), withoutOutput).then(() => fields.output, () => fields.composition);
    await readField(culprit, () => Promise.reject(error));
  }
  const steps = report.checks.map((step) => ({ label: CHECK_LABELS[step.name] ?? step.name, name: step.name, ok: step.ok, detail: step.ok ? '' : `${step.code ?? ''}: ${step.message ?? ''}` }));
  const failed = steps.find((step) => !step.ok);
  const notGiven = [composition === undefined ? 'the composition' : '', output === undefined ? 'the output' : '', proof === undefined ? 'the log proof' : ''].filter(Boolean);
  return { report, checks: [{
    id: 'receipt',
    title: 'Receipt',
    state: report.ok ? 'pass' : 'fail',
    steps,
    detail: report.ok ? `about ${report.runId}${report.logProof === undefined ? '' : `, entry ${report.logProof.index} of ${report.logProof.origin}`}${notGiven.length > 0 ? `; not checked (not given): ${notGiven.join(', ')}` : ''}` : `${failed?.name ?? ''} failed: ${failed?.label ?? ''}`,
    reliesOn: `the public key${options.keys.length === 1 ? '' : 's'} you gave (${options.keys.map((k) => `${k.keyId.slice(0, 16)}…`).join(', ')})${proof === undefined ? '' : ' and the log key you gave; no witnesses'}`,
  }] };
}

/**
 * What a verified receipt signs beyond the identities: the documents it declares the run rests on
 * (RECEIPTS 13.2 runDetails.retrieval), shown only once every check passed.
 */
function signedDeclarations(report) {
  if (!report.ok) return '';
  const documents = report.retrieval ?? [];
  return h('section', { id: 'receipt-retrieval' },
    h('h3', {}, 'Declared retrieval the receipt signs'),
    documents.length === 0
      ? h('p', { class: 'muted', id: 'receipt-retrieval-none' }, 'None: the receipt declares no document the run rests on (none was declared, or it was signed before receipts carried declarations).')
      : [h('p', {}, `The caller declared ${documents.length} document${documents.length === 1 ? '' : 's'} this run rests on; the signature covers each source, digest and place in the request:`), documentList(documents, 'receipt-retrieval-list', '', location.protocol !== 'file:')]);
}

export function verifyPage(main) {
  const fields = {
    receipt: field('receipt', 'Receipt: DSSE envelope or Sigstore bundle (JSON)', 6, '{"payloadType": "application/vnd.in-toto+json", ...}'),
    key: field('key', 'Public key (PEM; several for several signers)', 3, '-----BEGIN PUBLIC KEY-----'),
    composition: field('composition', 'Optional: the composition or provider request (JSON)', 4, '{"model": ...}'),
    output: field('output', 'Optional: the output, the response body or stream exactly as received', 4, ''),
    proof: field('proof', 'Optional: the tlog-proof', 3, 'c2sp.org/tlog-proof@v1'),
    logKey: field('logKey', 'The log\'s verifier key (with a tlog-proof)', 1, 'name+hash+base64'),
  };
  const from = h('select', { name: 'from' }, FORMATS.map((format) => h('option', { value: format }, format)));
  const panel = h('section', { class: 'verification', id: 'verification', 'aria-live': 'polite' });
  const form = h('form', { class: 'verify-form stack', onsubmit: async (event) => {
    event.preventDefault();
    panel.removeAttribute('data-done');
    try {
      const { report, checks } = await check(fields, from.value);
      renderChecks(panel, checks);
      panel.append(signedDeclarations(report));
    } catch (error) {
      panel.replaceChildren(h('div', { class: 'error', role: 'alert', 'data-code': error.code, 'data-field': error.field }, h('strong', {}, error.code ?? 'Cannot verify'), ': ', error.message));
      panel.dataset.done = 'error';
    }
  } },
  fields.receipt.element, fields.key.element, fields.composition.element, h('label', {}, 'Read the composition as', from), fields.output.element, fields.proof.element, fields.logKey.element,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Verify here')));
  main.append(h('h1', {}, 'Verify a receipt'),
    h('p', {}, 'Everything is checked in this browser with runprint\'s core and WebCrypto: nothing you give here is uploaded.'),
    location.protocol === 'file:' ? '' : h('p', {}, h('a', { href: '/explorer/verify-offline.html', download: 'runprint-verify.html', id: 'offline' }, 'Save this page as one file'), ' to verify with no server at all (it opens from disk and makes no connection).'),
    form, panel);
}
