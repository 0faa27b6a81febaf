/** runprint's own version, package.json `version`: read where the running code sits (src/<folder> or dist/<folder>). */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export async function runprintVersion(): Promise<string> {
  const text = await readFile(PACKAGE_JSON, 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

let known: string | undefined;

/** The same, read at once (for a tracer made as runprintFetch is); undefined when package.json cannot be read. */
export function runprintVersionNow(): string | undefined {
  if (known === undefined) {
    try {
      known = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
    } catch {
      return undefined;
    }
  }
  return known;
}
