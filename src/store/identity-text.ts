/** The JSON text of a run's identity document as the run store keeps it, made once per document. */
import { STEP_ELEMENTS } from '../capture/large-run.ts';
import type { IdentityDocument } from '../identity/identity.ts';
import { parseSteps } from './parse-steps.ts';
import { inTurns } from '../io/steps.ts';

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
    const pieces: string[] = [];
    yield* jsonSteps(identity, pieces);
    // One join of the pieces in a step of its own: a join at each level of the document copied
    // its 8 MB once per level, some 120 ms in one step.
    yield;
    text = pieces.join('');
    texts.set(identity, text);
  }
  return text;
}

/**
 * The pieces of JSON.stringify(value), added to `pieces`, for plain JSON data (no toJSON, no
 * cycles), an array of STEP_ELEMENTS or more written STEP_ELEMENTS elements at a time with a
 * yield between.
 */
function* jsonSteps(value: unknown, pieces: string[]): Generator<void, void, void> {
  if (Array.isArray(value) && value.length >= STEP_ELEMENTS) {
    pieces.push('[');
    for (let start = 0; start < value.length; start += STEP_ELEMENTS) {
      const chunk = JSON.stringify(value.slice(start, start + STEP_ELEMENTS));
      pieces.push(start === 0 ? chunk.slice(1, -1) : `,${chunk.slice(1, -1)}`);
      yield;
    }
    pieces.push(']');
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return void pieces.push(JSON.stringify(value));
  pieces.push('{');
  let first = true;
  for (const [name, member] of Object.entries(value)) {
    // As JSON.stringify: a member whose value has no JSON is left out.
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
    pieces.push(`${first ? '' : ','}${JSON.stringify(name)}:`);
    first = false;
    yield* jsonSteps(member, pieces);
  }
  pieces.push('}');
}

/**
 * The document as the store gives it back, JSON.parse(identityText(identity)), its text parsed in
 * steps of STEP_ELEMENTS list elements (parseSteps) with `pause` awaited between them.
 */
export async function identityAsStored(identity: IdentityDocument | null, pause: () => Promise<void>): Promise<IdentityDocument | null> {
  if (identity === null) return null;
  return (await inTurns(parseSteps(identityText(identity)!, STEP_ELEMENTS), pause)) as IdentityDocument;
}
