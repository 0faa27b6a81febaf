/** Key files on disk: the writer lives in the store layer (the run store's receipt key uses it too). */
import { keyFileMode } from '../store/key-file.ts';
import type { CliIo } from './io.ts';

export { keyFileMode, writeFileAtomic } from '../store/key-file.ts';

/** One line on stderr when users other than its owner have access to a private key file (the key still works). */
export async function warnOpenKey(path: string, what: string, io: CliIo): Promise<void> {
  const mode = await keyFileMode(path).catch(() => undefined);
  if (mode !== undefined && (mode & 0o077) !== 0) {
    io.stderr(`runprint: warning: ${what} has mode ${mode.toString(8).padStart(4, '0')}: users other than its owner have access to the private key; chmod 600 it\n`);
  }
}
