/** The JSON text of a run's identity document as the run store keeps it, made once per document. */
import type { IdentityDocument } from '../identity/identity.ts';

/**
 * Texts already made, by document: the store writes the text (runWriteOf) and the recorder reads
 * it back to sign from memory what the store would give back (run-recorder.ts), one
 * JSON.stringify of about 6.5 KB for a 20 KB request instead of two. A document is not changed
 * once captured, so its text stays its text; an entry goes with its document.
 */
const texts = new WeakMap<IdentityDocument, string>();

/** JSON.stringify(identity), null for none. */
export function identityText(identity: IdentityDocument | null): string | null {
  if (identity === null) return null;
  let text = texts.get(identity);
  if (text === undefined) {
    text = JSON.stringify(identity);
    texts.set(identity, text);
  }
  return text;
}
