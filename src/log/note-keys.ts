/** C2SP signed-note, "Ed25519 signatures" (type 0x01): note signers and verifiers over runprint's Ed25519 keys. */
import { KeyError } from '../errors.ts';
import { requirePublicKey, requireSigningKey, requireString } from '../keys/key-arguments.ts';
import { importPublicKey, type PublicKey, type SigningKey } from '../keys/keys.ts';
import { formatVerifierKey, isKeyName, noteKeyHash, parseVerifierKey } from '../keys/verifier-key.ts';
import type { NoteSigner, NoteVerifier } from './note.ts';

const ED25519 = { name: 'Ed25519' } as const;
const encoder = new TextEncoder();

function checkName(name: string): void {
  if (!isKeyName(name)) throw new KeyError('ERR_KEY_INVALID', 'key name must be non-empty and contain no spaces and no "+"');
}

/** Signs note text with an Ed25519 key under `name` (for a log, its origin). */
export function noteSigner(name: string, key: SigningKey): NoteSigner {
  requireString(name, 'noteSigner name');
  requireSigningKey(key, 'noteSigner key');
  checkName(name);
  return {
    name,
    keyHash: noteKeyHash(name, key.publicKey.raw),
    async sign(text: string): Promise<Uint8Array> {
      return new Uint8Array(await globalThis.crypto.subtle.sign(ED25519, key.cryptoKey, encoder.encode(text)));
    },
  };
}

/** Checks Ed25519 note signatures made under `name` by `key`. */
export function noteVerifier(name: string, key: PublicKey): NoteVerifier {
  requireString(name, 'noteVerifier name');
  requirePublicKey(key, 'noteVerifier key');
  checkName(name);
  return {
    name,
    keyHash: noteKeyHash(name, key.raw),
    async verify(text: string, signature: Uint8Array): Promise<boolean> {
      if (signature.length !== 64) return false;
      return globalThis.crypto.subtle.verify(ED25519, key.cryptoKey, Uint8Array.from(signature), encoder.encode(text));
    },
  };
}

/** A verifier from its C2SP verifier key text `<name>+<hash>+<base64(0x01 || key)>`. */
export async function parseNoteVerifier(verifierKey: string): Promise<NoteVerifier> {
  requireString(verifierKey, 'parseNoteVerifier verifier key');
  const { name, raw } = parseVerifierKey(verifierKey);
  return noteVerifier(name, await importPublicKey(raw));
}

/** The verifier key text of a signer's key, as golang.org/x/mod/sumdb/note's NewVerifier reads it. */
export function noteVerifierKey(name: string, key: PublicKey): string {
  requirePublicKey(key, 'noteVerifierKey key');
  return formatVerifierKey(name, key.raw);
}
