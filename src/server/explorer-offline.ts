/**
 * The explorer's verify page as one HTML file that works offline, from a `file://` URL (issue 12,
 * "Verify a receipt"): every module it imports, runprint's core and @noble/hashes included, is
 * inlined as a `data:` URL named in the page's import map, with each import rewritten to that name.
 * Its Content-Security-Policy allows no connection at all, so nothing given to it can leave.
 */

/** A served file's text by its path under /explorer/, as the explorer routes serve it. */
export type ExplorerReader = (path: string) => Promise<string | undefined>;

/** `from '...'`, `import '...'` and `import('...')`: the specifiers of a module's static and dynamic imports. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"\n]+)\2/g;
const NAME = 'runprint-offline/';

/** Where a specifier of the module at `path` leads, as a path under /explorer/; undefined when it leads nowhere served. */
function resolve(specifier: string, path: string, imports: Record<string, string>): string | undefined {
  let target: string | undefined;
  if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
    target = new URL(specifier, `http://explorer.invalid/explorer/${path}`).pathname;
  } else if (imports[specifier] !== undefined) {
    target = imports[specifier];
  } else {
    const prefix = Object.keys(imports).find((key) => key.endsWith('/') && specifier.startsWith(key));
    if (prefix !== undefined) target = imports[prefix] + specifier.slice(prefix.length);
  }
  return target?.startsWith('/explorer/') ? target.slice('/explorer/'.length) : undefined;
}

/** Builds the offline page from the explorer's own files: index.html's import map, style.css, offline.js and all it imports. */
export async function offlinePage(read: ExplorerReader): Promise<string> {
  const index = await read('index.html');
  const map = index === undefined ? null : /<script type="importmap">([\s\S]*?)<\/script>/.exec(index);
  if (map === null) throw new Error('the explorer page has no import map');
  const imports = (JSON.parse(map[1]!) as { imports: Record<string, string> }).imports;
  const modules = new Map<string, string>();
  const pending = ['offline.js'];
  for (let path = pending.shift(); path !== undefined; path = pending.shift()) {
    if (modules.has(path)) continue;
    const text = await read(path);
    if (text === undefined) throw new Error(`the offline page needs ${path}, which is not served`);
    modules.set(path, text.replace(SPECIFIER, (whole, before: string, quote: string, specifier: string) => {
      const target = resolve(specifier, path!, imports);
      if (target === undefined) return whole;
      pending.push(target);
      return `${before}${quote}${NAME}${target}${quote}`;
    }));
  }
  const importMap = JSON.stringify({ imports: Object.fromEntries([...modules].map(([path, text]) => [`${NAME}${path}`, `data:text/javascript;base64,${Buffer.from(text, 'utf8').toString('base64')}`])) });
  const style = (await read('style.css')) ?? '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' data:; style-src 'unsafe-inline'; img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'">
<title>runprint: verify a receipt (offline)</title>
<link rel="icon" href="data:,">
<style>${style}</style>
<script type="importmap">${importMap}</script>
<script type="module">import '${NAME}offline.js';</script>
</head>
<body>
<header><span class="brand">runprint</span><span class="muted">verify a receipt, offline: this file makes no connection</span></header>
<main id="main" tabindex="-1"><noscript><p>Verifying needs JavaScript.</p></noscript></main>
</body>
</html>
`;
}
