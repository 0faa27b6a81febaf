/**
 * The explorer (issue 12, docs/decisions/0013-explorer.md): static pages under `/explorer/` that
 * read the run store's routes and check what they show in the browser with runprint's pure core,
 * served here as ES modules, and `GET /v1/receipt-key`, the public key the page verifies receipts
 * with. The core is served from the tree this server runs: dist/ when it runs compiled, else
 * src/ with its types stripped, so the page and the server always run the same code.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
// A namespace import: only the sources need stripTypeScriptTypes, and a compiled runprint on an
// older Node must not fail to load for a function it never calls.
import * as nodeModule from 'node:module';
import { gzipSync } from 'node:zlib';
import { RunprintError } from '../errors.ts';
import { publicKeyPem, type PublicKey } from '../keys/keys.ts';
import { offlinePage } from './explorer-offline.ts';
import { knownParameters } from './query.ts';

type Handler = (request: Request, url: URL) => Promise<Response>;

export interface ExplorerOptions {
  /** The key receipts of captured runs are signed with; `GET /v1/receipt-key` exists only when given. */
  receiptKey?: PublicKey;
}

export interface ExplorerRoutes {
  routes: Record<string, Record<string, Handler>>;
  /** Every path under `/explorer/`. */
  prefix: Handler;
  /** `prefix` as `METHOD /path` for the app's route table. */
  prefixRoutes: string[];
}

const ROOT = new URL('../../', import.meta.url);
/** The core folders the page may load: the pure core (scripts/check-imports.ts, PURE), nothing of store, server or cli. */
const CORE_FOLDERS = new Set(['hash', 'io', 'jcs', 'merkle', 'keys', 'identity', 'providers', 'compose', 'receipt', 'log', 'capture']);
/** The page's own files (explorer/ at the package root). */
const PAGE_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'common.js': 'text/javascript; charset=utf-8',
  'compare.js': 'text/javascript; charset=utf-8',
  'graph.js': 'text/javascript; charset=utf-8',
  'log-page.js': 'text/javascript; charset=utf-8',
  'views.js': 'text/javascript; charset=utf-8',
  'verify.js': 'text/javascript; charset=utf-8',
  'verify-page.js': 'text/javascript; charset=utf-8',
  'offline.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};
const JS = 'text/javascript; charset=utf-8';
/** The verify page as one file, for use offline (explorer-offline.ts). */
const OFFLINE = 'verify-offline.html';
/** Where the core's one dependency, @noble/hashes (its browser SHA-256), is found. */
const NOBLE = new URL('./', import.meta.resolve('@noble/hashes/sha2.js'));
const fromSource = import.meta.url.endsWith('.ts');

interface Asset {
  type: string;
  bytes: Uint8Array;
  gzip: Uint8Array;
}

/**
 * The page's security policy: scripts from this origin only, plus the one inline import map by its
 * hash; data from this origin only. The page makes no request anywhere else.
 */
function securityPolicy(html: string): string {
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html);
  const hash = map === null ? '' : ` 'sha256-${createHash('sha256').update(map[1]!).digest('base64')}'`;
  return `default-src 'none'; script-src 'self'${hash}; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
}

/** The file behind a path under /explorer/, or undefined when no file is served there. */
function fileOf(path: string): { url: URL; type: string } | undefined {
  if (path === '') path = 'index.html';
  const page = PAGE_FILES[path];
  if (page !== undefined) return { url: new URL(`explorer/${path}`, ROOT), type: page };
  // Only plain names: lower-case letters, digits and dashes, no "..", under a core folder.
  const core = /^core\/((?:[a-z-]+\/)*)([a-z0-9-]+)\.(js|ts)$/.exec(path);
  if (core !== null) {
    const [, folders, name, extension] = core as unknown as [string, string, string, string];
    if (folders === '' ? name !== 'errors' : !CORE_FOLDERS.has(folders.split('/')[0]!)) return undefined;
    if (extension !== (fromSource ? 'ts' : 'js')) return undefined;
    return { url: new URL(`${fromSource ? 'src' : 'dist'}/${folders}${name}.${extension}`, ROOT), type: JS };
  }
  const noble = /^vendor\/noble-hashes\/([a-z0-9_-]+\.js)$/.exec(path);
  if (noble !== null) return { url: new URL(noble[1]!, NOBLE), type: JS };
  return undefined;
}

export function explorerRoutes(options: ExplorerOptions = {}): ExplorerRoutes {
  const cache = new Map<string, Promise<Asset | undefined>>();
  /** A file's text as served: core modules without their types when they are sources, and the page's import map pointing at them. */
  const served = (path: string, text: string): string => {
    if (!fromSource) return text;
    if (path === '' || path === 'index.html') return text.replace(/("\/explorer\/core\/[a-z/-]+)\.js"/g, '$1.ts"');
    return path.startsWith('core/') ? nodeModule.stripTypeScriptTypes(text) : text;
  };
  const asset = (type: string, text: string): Asset => {
    const bytes = new TextEncoder().encode(text);
    return { type, bytes, gzip: new Uint8Array(gzipSync(bytes, { level: 9 })) };
  };
  /** A served file, read, prepared and compressed once; a path that names no file is not remembered (there are endless such paths). */
  const load = (path: string): Promise<Asset | undefined> => {
    let loaded = cache.get(path);
    if (loaded !== undefined) return loaded;
    const file = fileOf(path);
    if (path === OFFLINE) {
      const read = async (part: string) => {
        const found = await load(part);
        return found === undefined ? undefined : new TextDecoder().decode(found.bytes);
      };
      loaded = offlinePage(read).then((text) => asset('text/html; charset=utf-8', text));
    } else if (file !== undefined) {
      loaded = readFile(file.url).then((raw) => asset(file.type, served(path, new TextDecoder().decode(raw))), () => undefined);
    } else {
      return Promise.resolve(undefined);
    }
    cache.set(path, loaded);
    loaded.then(
      (found) => void (found === undefined && cache.delete(path)),
      () => void cache.delete(path),
    );
    return loaded;
  };

  const prefix: Handler = async (request, url) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new RunprintError('ERR_HTTP_METHOD_NOT_ALLOWED', 'method not allowed; use GET, HEAD');
    const path = url.pathname.slice('/explorer/'.length);
    const asset = await load(path);
    if (asset === undefined) throw new RunprintError('ERR_HTTP_NOT_FOUND', 'no such path');
    const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
    const headers: Record<string, string> = {
      'content-type': asset.type,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    };
    if (path === OFFLINE) {
      // A file to save: it carries its own policy, which allows no connection.
      headers['content-disposition'] = 'attachment; filename="runprint-verify.html"';
    } else if (asset.type.startsWith('text/html')) {
      headers['content-security-policy'] = securityPolicy(new TextDecoder().decode(asset.bytes));
      headers['referrer-policy'] = 'no-referrer';
    }
    return new Response((gzip ? asset.gzip : asset.bytes) as Uint8Array<ArrayBuffer>, { headers });
  };

  const routes: Record<string, Record<string, Handler>> = {
    '/': { GET: async () => new Response(null, { status: 302, headers: { location: '/explorer/' } }) },
  };
  const key = options.receiptKey;
  if (key !== undefined) {
    const publicKey = publicKeyPem(key.raw);
    routes['/v1/receipt-key'] = {
      GET: async (_request, url) => {
        knownParameters(url, '/v1/receipt-key', []);
        // Not kept by a browser: serve may restart with another key, and a page holding the old one
        // would fail every receipt the new key signs.
        return Response.json({ keyId: key.keyId, publicKey }, { headers: { 'cache-control': 'no-cache' } });
      },
    };
  }
  return {
    routes,
    prefix,
    prefixRoutes: ['GET /explorer/{path}'],
  };
}
