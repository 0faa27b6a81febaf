/** runprint's own version, package.json `version`: read where the running code sits (src/<folder> or dist/<folder>). */
import { readFile } from 'node:fs/promises';

export async function runprintVersion(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}
