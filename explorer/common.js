// Shared by the explorer's pages: building elements (text is never parsed as HTML, and never
// reordered or hidden by the characters in it), reading this server's routes, and the keys a
// reader pinned in this browser.

import { escapeHiddenKeepingLines, escapeUnsafe } from 'runprint/io/printable';

/**
 * Text as the page draws it: each character that would reorder or hide it (the bidirectional
 * controls, zero-width and invisible characters, the tag characters U+E0000-U+E007F, the C0 and C1
 * controls but tab, line feed and carriage return: the one list of src/io/printable.ts) written as
 * `\uXXXX`, so a model named `gpt-4o\u202e1-inim` is not drawn "gpt-4omini-1", nor "gnp.exe" as
 * "exe.png". Every text h() and the graph draw goes through here: the runs' model names, content,
 * outputs, ids and errors come from callers and providers.
 */
export const visible = (text) => escapeHiddenKeepingLines(text);

/** Attributes a reader sees or hears (a tooltip, a label): drawn as visible() draws text. Others (href, value, data-) are kept as given. */
const READ_ATTRIBUTES = new Set(['title', 'aria-label', 'placeholder', 'alt']);

/** An element: h('a', { href: '#/runs' }, 'Runs'). Children are nodes or text; text is never parsed as HTML, and drawn visible(). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : READ_ATTRIBUTES.has(name) ? visible(String(value)) : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : visible(String(child)));
  }
  return element;
}

/** An error the service answered, with its stable code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const TOKEN = 'runprint-capture-token';

/**
 * GET a path of this server: as JSON, text or bytes. Sends the capture token when one was given.
 * `cache` is fetch's cache mode: 'no-cache' for what must be this server's answer now (its keys),
 * whatever an older answer told the browser to keep.
 */
export async function api(path, as = 'json', cache = 'default') {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN);
  if (token !== null) headers[TOKEN] = token;
  let response;
  try {
    response = await fetch(path, { headers, cache });
  } catch (error) {
    // No answer at all (fetch's TypeError "Failed to fetch"): the server stopped, or the network is down.
    throw new ApiError(0, null, `runprint serve at ${location.host} did not answer GET ${path.split('?')[0]}: it may have stopped, or the network between is down (the browser says: ${error.message}). Reload once it answers again.`);
  }
  if (!response.ok) {
    let code = `HTTP ${response.status}`;
    let message = response.statusText;
    try {
      const body = await response.json();
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not a runprint error answer
    }
    // A token this browser sent, refused: not the same as none given.
    if (response.status === 401 && token !== null) message = `the capture token given in this browser was refused: it is not the one this server was started with (--capture-token); give the right one (${message})`;
    const refused = new ApiError(response.status, code, message);
    refused.tokenSent = token !== null && response.status === 401;
    throw refused;
  }
  if (as === 'json') return response.json();
  if (as === 'text') return response.text();
  return new Uint8Array(await response.arrayBuffer());
}

/** The keys a reader pinned in this browser (#/keys); null where none is pinned. */
export function pinnedKeys() {
  const witnesses = (localStorage.getItem('runprint-witness-keys') ?? '').split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const threshold = Number(localStorage.getItem('runprint-witness-threshold') ?? '1');
  return { receipt: localStorage.getItem('runprint-receipt-key'), log: localStorage.getItem('runprint-log-key'), witnesses, threshold: witnesses.length === 0 ? 0 : threshold };
}

export const short = (text, length = 24) => (text.length > length ? `${text.slice(0, length)}…` : text);

/**
 * A caller's text (a declared document's source) as a page shows it: every control or reordering
 * character written as `\uXXXX` (src/io/printable.ts, as for a terminal), so `\u202Eevil.com` is not drawn as "moc.live", cut to `max`
 * code points with `…`.
 */
export function shown(text, max = 200) {
  const characters = [...text];
  const cut = escapeUnsafe(characters.slice(0, max).join(''));
  return characters.length > max ? `${cut}…` : cut;
}

/** An error as a block: its code and message, and a token form when the run store wants one. */
export function errorBlock(error) {
  const unanswered = error instanceof ApiError && error.status === 0;
  const title = unanswered ? 'The server is not answering' : error.tokenSent ? `Token refused (${error.code})` : error.code ?? 'Error';
  const block = h('div', { class: 'error', role: 'alert', 'data-code': error.code ?? (unanswered ? 'no-answer' : undefined) }, h('strong', {}, title), ': ', error.message ?? String(error));
  if (error.code === 'ERR_HTTP_UNAUTHORIZED') {
    const input = h('input', { type: 'password', name: 'token', id: 'capture-token', autocomplete: 'off' });
    block.append(
      h('form', { class: 'actions token-form', onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN, input.value);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      } }, h('label', { for: 'capture-token', class: 'inline' }, error.tokenSent ? 'Another capture token' : 'Capture token (runprint-capture-token)'), input, h('button', { type: 'submit' }, 'Use token')),
    );
  }
  return block;
}

/**
 * A link that saves what a path of this server answers as a file: fetched with api(), so the
 * capture token goes with it, then handed to the browser as a download. A download that fails
 * (the server refuses it, or does not answer) says so on the page, under the link's paragraph.
 */
export function downloadLink(path, filename, label) {
  let shown;
  const link = h('a', { href: path, download: filename, onclick: async (event) => {
    event.preventDefault();
    shown?.remove();
    shown = undefined;
    let bytes;
    try {
      bytes = await api(path, 'bytes');
    } catch (error) {
      shown = errorBlock(error);
      shown.dataset.download = filename;
      shown.prepend(`Not downloaded (${filename}): `);
      (link.closest('p, li, div') ?? link).after(shown);
      return;
    }
    const url = URL.createObjectURL(new Blob([bytes]));
    const save = h('a', { href: url, download: filename });
    save.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } }, label);
  return link;
}
