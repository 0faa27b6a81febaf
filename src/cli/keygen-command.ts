/** `runprint keygen`: a new Ed25519 receipt key as PKCS #8, SPKI PEM, JWK and signed-note verifier key (SPEC 14.1). */
import { constants } from 'node:fs';
import { access, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { generateKeyFiles } from '../keys/keys.ts';
import { isKeyName } from '../keys/verifier-key.ts';
import { EXIT, type CliIo } from './io.ts';
import { writeFileAtomic } from './key-file.ts';
import { parseCommandLine } from './parse-options.ts';
import { refuseStandardOutput } from './output-file.ts';
import { makeFolders } from '../store/owner-only.ts';
import { fileName } from './read-input.ts';

/** The files keygen writes, by role. The private key is the only secret. */
export const KEY_FILE_NAMES = {
  privateKey: 'receipt-key.pem',
  publicKeyPem: 'receipt-key.pub.pem',
  publicKeyJwk: 'receipt-key.pub.jwk',
  verifierKey: 'receipt-key.vkey',
} as const;

/** True when something other than a directory is at `path` (a file, a device; a symbolic link is followed). */
async function isNonDirectory(path: string): Promise<boolean> {
  try {
    return !(await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function notAFolder(given: string): InputError {
  return new InputError('ERR_FILE_UNWRITABLE', `--out is a file, not a folder (keygen writes its four key files into a folder): ${fileName(given)}`);
}

function cannotWrite(error: unknown, given: string): InputError {
  const code = (error as { code?: string }).code;
  const why = code === 'ENOSPC' || code === 'EDQUOT' ? ': no space left' : '';
  return new InputError('ERR_FILE_UNWRITABLE', `cannot write the key files to the output folder${why}: ${fileName(given)}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export async function keygenCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandLine('keygen', args, { out: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } }, false);
  const name = values.name ?? 'runprint';
  if (!isKeyName(name)) throw new UsageError('ERR_CLI_USAGE', '--name must be non-empty and contain no spaces and no "+"');
  // Four files cannot go to standard output: `-` would be a folder named "-".
  refuseStandardOutput('--out', values.out, 'a folder');
  const folder = resolve(io.cwd, values.out ?? '.');
  const paths = Object.values(KEY_FILE_NAMES).map((file) => join(folder, file));
  const given = values.out ?? '.';
  // --out names the folder the key files go in: a file there is not one, and cannot become one.
  if (await isNonDirectory(folder)) throw notAFolder(given);
  // All or nothing: refuse before writing anything when any of the files is already there.
  for (const [index, path] of paths.entries()) {
    const shown = join(given, Object.values(KEY_FILE_NAMES)[index]!);
    if (await exists(path)) throw new InputError('ERR_FILE_EXISTS', `key file already exists, refusing to overwrite it: ${fileName(shown)}`);
  }
  const files = await generateKeyFiles(name);
  const contents = [
    [files.privateKeyPem, 0o600],
    [files.publicKeyPem, 0o644],
    [`${JSON.stringify(files.publicKeyJwk)}\n`, 0o644],
    [`${files.verifierKey}\n`, 0o644],
  ] as const;
  // Each file is whole or absent (written atomically, never over a file that appeared in the
  // meantime); when one fails, those this run wrote are removed again.
  const written: string[] = [];
  try {
    await makeFolders(folder, 0o700);
  } catch (error) {
    // EEXIST: a file took the folder's name meanwhile.
    if ((error as { code?: string }).code === 'EEXIST' && (await isNonDirectory(folder))) throw notAFolder(given);
    throw cannotWrite(error, given);
  }
  try {
    for (const [index, [content, mode]] of contents.entries()) {
      await writeFileAtomic(paths[index]!, content, mode);
      written.push(paths[index]!);
    }
  } catch (error) {
    for (const path of written) await unlink(path).catch(() => undefined);
    if ((error as { code?: string }).code === 'EEXIST') throw new InputError('ERR_FILE_EXISTS', `a key file appeared meanwhile in the output folder, refusing to overwrite it: ${fileName(given)}`);
    throw cannotWrite(error, given);
  }
  if (values.json === true) {
    const written = Object.fromEntries(Object.keys(KEY_FILE_NAMES).map((role, index) => [role, paths[index]!]));
    io.stdout(`${JSON.stringify({ keyId: files.keyId, verifierKey: files.verifierKey, files: written }, null, 2)}\n`);
  } else {
    io.stdout(`key id ${files.keyId}\n${paths.map((path) => `wrote ${path}\n`).join('')}`);
  }
  return EXIT.ok;
}
