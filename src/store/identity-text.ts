/** The JSON text of a run's identity document as the run store keeps it, made once per document. */
import { STEP_ELEMENTS } from '../capture/large-run.ts';
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

/**
 * identityText made in steps (a yield after every STEP_ELEMENTS list elements), remembered as
 * identityText's: the same text, for a large run's document (JSON.stringify of the document of
 * 100,000 messages, some 8 MB, held the event loop 50 to 90 ms in one go).
 */
export function* identityTextSteps(identity: IdentityDocument | null): Generator<void, string | null, void> {
  if (identity === null) return null;
  let text = texts.get(identity);
  if (text === undefined) {
    text = yield* jsonSteps(identity);
    texts.set(identity, text);
  }
  return text;
}

/**
 * JSON.stringify(value) for plain JSON data (no toJSON, no cycles), an array of STEP_ELEMENTS or
 * more written STEP_ELEMENTS elements at a time with a yield between.
 */
function* jsonSteps(value: unknown): Generator<void, string, void> {
  if (Array.isArray(value) && value.length >= STEP_ELEMENTS) {
    const pieces: string[] = [];
    for (let start = 0; start < value.length; start += STEP_ELEMENTS) {
      pieces.push(JSON.stringify(value.slice(start, start + STEP_ELEMENTS)).slice(1, -1));
      yield;
    }
    return `[${pieces.join(',')}]`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value);
  const members: string[] = [];
  for (const [name, member] of Object.entries(value)) {
    // As JSON.stringify: a member whose value has no JSON is left out.
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    members.push(`${JSON.stringify(name)}:${yield* jsonSteps(member)}`);
  }
  return `{${members.join(',')}}`;
}
