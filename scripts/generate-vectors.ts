/** Regenerates testdata/ from scripts/vectors/*.ts; with --check, fails on any drift instead. */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What a generator module exports: the files it writes, relative to testdata/. */
export interface VectorFile {
  path: string;
  content: unknown;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function generateAll(): Promise<VectorFile[]> {
  const folder = join(root, 'scripts', 'vectors');
  const names = (await readdir(folder)).filter((name) => name.endsWith('.ts')).sort();
  const files: VectorFile[] = [];
  for (const name of names) {
    const module = (await import(pathToFileURL(join(folder, name)).href)) as {
      generate: () => VectorFile[] | Promise<VectorFile[]>;
    };
    files.push(...(await module.generate()));
  }
  return files;
}

export function render(content: unknown): string {
  return `${JSON.stringify(content, null, 2)}\n`;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const drifted: string[] = [];
  for (const file of await generateAll()) {
    const target = join(root, 'testdata', file.path);
    const text = render(file.content);
    const existing = await readFile(target, 'utf8').catch(() => undefined);
    if (existing === text) continue;
    if (check) drifted.push(file.path);
    else {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, text);
      process.stdout.write(`wrote testdata/${file.path}\n`);
    }
  }
  if (drifted.length > 0) {
    process.stderr.write(`testdata drifted from scripts/vectors: ${drifted.join(', ')}\n`);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
