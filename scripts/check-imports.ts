/** Fails when an import points the wrong way between src/ folders, or the pure core imports node:*. */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/**
 * Layers, lowest first. A file may import from its own layer or a lower one. Arrows point one way:
 * canonical JSON -> identity -> providers -> compose -> server -> cli.
 */
const LAYERS: Record<string, number> = {
  'errors.ts': 0,
  hash: 1,
  io: 1,
  'node-http': 1.5, // runprint's HTTP client over node:http (the proxy's upstream calls, the log outbox's): on io, below store and server
  jcs: 1,
  merkle: 2,
  keys: 2, // base64, PEM, Ed25519 keys and the signed-note verifier key: shared by receipt and log
  identity: 3,
  providers: 4,
  'model-digest': 4,
  compose: 5,
  log: 5.4, // signed notes, checkpoints, proofs: built on keys and merkle, below receipt
  receipt: 5.5, // above compose, providers and log (a receipt's log proof), below server and cli
  capture: 5.6, // run records from a call's bytes, and the fetch wrapper: above receipt, below store
  store: 5.8, // node:sqlite storage of the log, below the server that serves it
  replay: 5.9, // rebuilding, replaying and comparing stored runs: above store, below server and cli
  'capture-node': 5.9, // the Node side of capture (AsyncLocalStorage parents, runprintFetch into a data directory's run store)
  server: 6,
  cli: 7,
};

/** The pure core runs in a browser: no node:* imports, not even type-only ones. */
const PURE = new Set(['errors.ts', 'hash', 'io', 'jcs', 'merkle', 'keys', 'identity', 'providers', 'compose', 'receipt', 'log', 'capture']);
/** Files in otherwise impure folders that must stay pure too. */
const PURE_FILES = new Set(['server/app.ts', 'server/query.ts', 'server/identity-answer.ts', 'server/client-limits.ts', 'server/http-status.ts', 'server/read-body.ts', 'server/log-routes.ts', 'server/bearer.ts', 'server/witness-routes.ts', 'server/api-answers.ts', 'server/api-routes.ts', 'server/body-members.ts', 'server/proxy-routes.ts', 'server/run-routes.ts', 'server/ingest-routes.ts', 'store/run-storage.ts', 'store/storage.ts', 'store/parse-steps.ts', 'replay/group-runs.ts', 'replay/compare-runs.ts', 'replay/rebuild-request.ts', 'replay/output-difference.ts', 'replay/verify-run.ts', 'replay/diff-values.ts', 'replay/verdict.ts', 'server/run-analysis-routes.ts']);

async function* walk(folder: string): AsyncGenerator<string> {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

function areaOf(file: string): string {
  const first = relative(src, file).split('/')[0]!;
  return first;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export async function checkImports(): Promise<string[]> {
  const problems: string[] = [];
  for await (const file of walk(src)) {
    const area = areaOf(file);
    const layer = LAYERS[area];
    const name = relative(src, file);
    if (layer === undefined) {
      problems.push(`${name}: folder "${area}" has no layer in scripts/check-imports.ts`);
      continue;
    }
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2]!;
      if (specifier.startsWith('node:')) {
        if (PURE.has(area) || PURE_FILES.has(name)) problems.push(`${name}: pure core imports ${specifier}`);
        continue;
      }
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      if (!target.startsWith(src)) continue;
      const targetArea = areaOf(target);
      const targetLayer = LAYERS[targetArea];
      if (targetLayer === undefined || targetLayer > layer) {
        problems.push(`${name}: imports ${relative(src, target)}, which is above it (${targetArea} > ${area})`);
      } else if (PURE_FILES.has(name) && !PURE.has(targetArea) && !PURE_FILES.has(relative(src, target))) {
        problems.push(`${name}: pure file imports impure ${relative(src, target)}`);
      }
    }
  }
  // Tests import the code under test and their own fixtures and helpers, never the benchmarks or
  // the vector generators (those import from test/fixtures instead).
  const tests = join(root, 'test');
  for await (const file of walk(tests)) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2]!;
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      for (const folder of ['bench', 'scripts']) {
        if (target.startsWith(join(root, folder) + '/')) problems.push(`${relative(root, file)}: imports ${relative(root, target)}; tests import nothing from ${folder}/`);
      }
    }
  }
  return problems;
}

const problems = await checkImports();
if (problems.length > 0) {
  process.stderr.write(`import direction check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
