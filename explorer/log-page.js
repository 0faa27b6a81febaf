// The log page (#/log): the latest checkpoint, its signature checked here against the log key, the
// signatures on it, and a monitor in this browser: from the last checkpoint this browser checked,
// the tiles must reproduce the new root, prove it consistent with the old one, and every new entry
// must hash into it (checkLogProgress, as `runprint log monitor` does). What was checked, and
// when, is kept in this browser: the tree size over time as this reader saw it.
import { checkLogProgress, logPrefix, parseCosignerKey, parseNoteVerifier, verifyCheckpointNote, verifyCosignatures } from 'runprint/log';
import { api, errorBlock, h, pinnedKeys } from './common.js';

const HISTORY = 'runprint-log-history';
const hex = (bytes) => [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');

/** What this browser checked of the log named by `keyLine`: [{size, rootHash, note, checked, entries}], oldest first. */
function history(keyLine) {
  try {
    return JSON.parse(localStorage.getItem(HISTORY) ?? '{}')[keyLine] ?? [];
  } catch {
    return [];
  }
}

function remember(keyLine, item) {
  let all;
  try {
    all = JSON.parse(localStorage.getItem(HISTORY) ?? '{}');
  } catch {
    all = {};
  }
  all[keyLine] = [...(all[keyLine] ?? []), item].slice(-50);
  localStorage.setItem(HISTORY, JSON.stringify(all));
}

const row = (name, value) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, value));

function historyTable(keyLine) {
  const seen = history(keyLine);
  if (seen.length === 0) return h('p', { class: 'muted', id: 'log-history' }, 'This browser has not checked this log yet.');
  return h('table', { class: 'facts', id: 'log-history' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Checked (UTC)'), h('th', {}, 'Tree size'), h('th', {}, 'Entries rechecked'))),
    h('tbody', {}, seen.slice().reverse().map((item) => h('tr', {}, h('td', {}, item.checked.replace('T', ' ').replace(/\.\d+Z$/, '')), h('td', {}, String(item.size)), h('td', {}, String(item.entries))))));
}

/** Runs the monitor from the last checkpoint this browser checked to `latest`, and records it. */
async function monitor(keyLine, verifier, latest, noteText) {
  const seen = history(keyLine);
  const last = seen.at(-1);
  let previous;
  if (last !== undefined) previous = (await verifyCheckpointNote(last.note, verifier)).checkpoint;
  const progress = await checkLogProgress(logPrefix(location.origin), previous, latest);
  remember(keyLine, { size: latest.size, rootHash: hex(latest.rootHash), note: noteText, checked: new Date().toISOString(), entries: progress.entriesChecked });
  return { progress, previous };
}

export async function logPage(main) {
  main.append(h('h1', {}, 'Log'));
  let text;
  let served;
  try {
    [text, served] = await Promise.all([api('/checkpoint', 'text'), api('/v1/log/key', 'text', 'no-cache')]);
  } catch (error) {
    main.append(errorBlock(error));
    return;
  }
  const pinned = pinnedKeys().log;
  const keyLine = (pinned ?? served).trim();
  const relies = h('p', { class: 'relies' }, 'Relies on: the log key ', h('code', {}, keyLine), pinned === null ? ' as this server gives it at /v1/log/key (pin your own under Keys).' : ' pinned in this browser.');
  let verifier;
  let signed;
  try {
    verifier = await parseNoteVerifier(keyLine);
    signed = await verifyCheckpointNote(text, verifier);
  } catch (error) {
    main.append(h('div', { class: 'check fail', id: 'checkpoint-check', 'data-state': 'fail' }, h('div', { class: 'head' }, h('span', { class: 'state' }, 'FAIL'), h('strong', {}, 'Checkpoint signed by the log key')), h('p', {}, `${error.code ?? ''}: ${error.message}`), relies),
      h('h2', {}, 'Checkpoint as served'), h('pre', {}, text));
    return;
  }
  const { checkpoint, note } = signed;
  const others = note.signatures.filter((signature) => !(signature.name === verifier.name && signature.keyHash === verifier.keyHash));
  // Cosignatures by the witnesses pinned in this browser are verified; others are only named.
  const { witnesses } = pinnedKeys();
  let cosigned = [];
  let cosignError;
  try {
    const keys = await Promise.all(witnesses.map((line) => parseCosignerKey(line)));
    cosigned = await verifyCosignatures(note, keys);
  } catch (error) {
    cosignError = `${error.code ?? ''}: ${error.message}`;
  }
  const signatureLine = (signature) => {
    const verified = cosigned.find((cosignature) => cosignature.name === signature.name);
    return h('div', { 'data-cosigner': signature.name, 'data-verified': String(verified !== undefined) },
      verified !== undefined ? `${signature.name}: cosignature verified with the witness key pinned here (cosigned at ${new Date(verified.timestamp * 1000).toISOString()})` : `${signature.name} (key ${signature.keyHash}): not checked, no key for it is pinned under Keys`);
  };
  main.append(h('div', { class: 'check pass', id: 'checkpoint-check', 'data-state': 'pass' },
    h('div', { class: 'head' }, h('span', { class: 'state' }, 'PASS'), h('strong', {}, 'Checkpoint signed by the log key')),
    h('table', { class: 'facts' },
      row('Origin', checkpoint.origin),
      row('Tree size', String(checkpoint.size)),
      row('Root hash', h('span', { class: 'digest' }, hex(checkpoint.rootHash))),
      row('Other signatures', others.length === 0 ? h('span', { class: 'muted' }, 'none: no witness cosigned this checkpoint') : others.map(signatureLine)),
      ...(cosignError === undefined ? [] : [row('Witnesses', h('span', { class: 'badge fail' }, cosignError))])),
    relies));

  const result = h('div', { id: 'monitor-result', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', id: 'monitor' }, 'Check the log\'s history here');
  const seen = history(keyLine);
  button.addEventListener('click', async () => {
    button.disabled = true;
    result.replaceChildren(h('p', { class: 'muted' }, 'Checking…'));
    let check;
    try {
      const { progress, previous } = await monitor(keyLine, verifier, checkpoint, text);
      check = h('div', { class: 'check pass', 'data-state': 'pass' }, h('div', { class: 'head' }, h('span', { class: 'state' }, 'PASS'), h('strong', {}, 'The log only grew')),
        h('p', {}, previous === undefined
          ? `The tiles reproduce the root of all ${progress.to} entries, and each of the ${progress.entriesChecked} entries hashes into it.`
          : `Consistent with the checkpoint of size ${progress.from} this browser checked before; ${progress.entriesChecked} new entr${progress.entriesChecked === 1 ? 'y hashes' : 'ies hash'} into the root of size ${progress.to}.`));
    } catch (error) {
      check = h('div', { class: 'check fail', 'data-state': 'fail' }, h('div', { class: 'head' }, h('span', { class: 'state' }, 'FAIL'), h('strong', {}, 'The log only grew')), h('p', {}, `${error.code ?? ''}: ${error.message}`));
    }
    result.replaceChildren(check);
    document.getElementById('log-history')?.replaceWith(historyTable(keyLine));
    button.disabled = false;
  });
  main.append(
    h('h2', {}, 'Monitor'),
    h('p', {}, seen.length === 0
      ? 'This browser has not checked this log before: the check rebuilds the tree from its tiles and entries.'
      : `Last checked here at size ${seen.at(-1).size}: the check proves the log grew from there without rewriting what it had signed.`),
    h('div', { class: 'actions' }, button), result,
    h('h2', {}, 'Tree size over time, as this browser checked it'), historyTable(keyLine),
    h('h2', {}, 'Checkpoint as served'), h('pre', {}, text));
}
