/** A data directory's run store and receipt key: what `runprint serve` and in-process capture share. */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { printable } from '../io/printable.ts';
import { join, resolve } from 'node:path';
import { InputError, KeyError, LogError, type RunprintError } from '../errors.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../keys/keys.ts';
import { writeFileAtomic } from './key-file.ts';
import { readFileAtMost } from './small-file.ts';

/** In the data directory: the run store, and the receipt key made on first use when no other key is given. */
export const RUNS_DATABASE = 'runs.sqlite';
export const RECEIPT_KEY_FILE = 'receipt-key.pem';

/**
 * The receipt key: the `file` given (resolved against `cwd`; `--capture-key` in serve), else the
 * data directory's own receipt-key.pem, made owner-only (0600) and atomically on first use. Two
 * processes making it at once both end with the one that was written first.
 */
export async function receiptKey(dataDir: string, cwd: string, file: string | undefined): Promise<SigningKey> {
  const path = file === undefined ? join(dataDir, RECEIPT_KEY_FILE) : resolve(cwd, file);
  let text: string;
  try {
    text = new TextDecoder().decode(await readFileAtMost(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (file !== undefined || code !== 'ENOENT') {
      // Named as given (the data directory's own by its path) with the system's reason.
      const why = code === 'ETOOBIG' ? 'larger than 1 MiB: not a key file' : typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'unreadable';
      throw new InputError('ERR_INPUT_UNREADABLE', `receipt key file cannot be read (${why}): ${printable(file ?? path, 200)}`);
    }
    text = (await generateKeyFiles('runprint-capture')).privateKeyPem;
    try {
      await writeFileAtomic(path, text, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return receiptKey(dataDir, cwd, file);
      throw keyFileUnwritable('receipt key file', error);
    }
  }
  if (text.trim() === '') throw new KeyError('ERR_KEY_INVALID', `${file === undefined ? `${RECEIPT_KEY_FILE} in the data directory` : '--capture-key file'} is empty`);
  return withNodeSigner(await parsePrivateKey(text), text);
}

/**
 * The error for a key file (`what`: the receipt key's, serve's log key's) that could not be made in
 * the data directory, from the file system's error, as the data directory's other files say theirs
 * (capture-node/fs-errors.ts, store/storage-faults.ts): permission denied is ERR_STORE_PERMISSION
 * with the system's code, a read-only file system ERR_STORE_READ_ONLY; a full one, and anything
 * else, ERR_FILE_UNWRITABLE (with "no space left" for the former).
 */
export function keyFileUnwritable(what: string, error: unknown): RunprintError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = `${what} cannot be written in the data directory`;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return new LogError('ERR_STORE_PERMISSION', `${message}: permission denied (${code})`);
    case 'EROFS':
      return new LogError('ERR_STORE_READ_ONLY', `${message}: the file system is read-only`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new InputError('ERR_FILE_UNWRITABLE', `${message}: no space left`);
    default:
      return new InputError('ERR_FILE_UNWRITABLE', message);
  }
}

/**
 * The key with Node's own Ed25519 signer attached (SigningKey.signBytes), made from the same PEM
 * text: every receipt serve or in-process capture signs with the receipt key goes through it.
 * Measured: 47 us of CPU per 10 KB message against 96 us for WebCrypto's, most of which ran on the
 * event loop. The key unchanged when Node cannot read the text.
 */
export function withNodeSigner(key: SigningKey, pem: string): SigningKey {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch {
    return key;
  }
  if (keyObject.asymmetricKeyType !== 'ed25519') return key;
  return { ...key, signBytes: (message) => new Uint8Array(sign(null, message, keyObject)) };
}
