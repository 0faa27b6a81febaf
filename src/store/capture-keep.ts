/**
 * What a run store keeps, from the values of serve's --capture-keep (RUNPRINT_CAPTURE_KEEP) and of
 * runprintFetch's `keep`: one parser for both, so the two take the same forms (docs/CAPTURE.md,
 * "The run store").
 */
import { closestName } from '../io/closest-name.ts';
import { CONTENT_PARTS, defaultContentPolicy, type ContentPart, type ContentPolicy } from './run-storage.ts';

/** The forms a --capture-keep value takes. */
export const KEEP_FORMS = `content, digest, or PART=content|digest with PART one of ${CONTENT_PARTS.join(', ')}`;

/** A value as an error message quotes it: JSON, cut after 64 characters. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}\u2026` : value);
}

/**
 * The policy the values give, applied in order over the default (defaultContentPolicy): each is
 * `content` or `digest` (every part) or `PART=content|digest` (that part), so `digest` then
 * `output=content` keeps only outputs. A value of another form is a RangeError whose message
 * quotes it and says what is wrong (an unknown part names the one meant when one is near).
 */
export function keepPolicy(values: readonly string[]): ContentPolicy {
  const policy = defaultContentPolicy();
  for (const value of values) {
    const split = value.indexOf('=');
    const part = split < 0 ? undefined : value.slice(0, split);
    const mode = split < 0 ? value : value.slice(split + 1);
    if (part !== undefined && !(CONTENT_PARTS as readonly string[]).includes(part)) {
      const meant = closestName(part, CONTENT_PARTS);
      throw new RangeError(`${quoted(value)}: unknown part ${quoted(part)}${meant === undefined ? '' : ` (did you mean ${meant}?)`}; PART is one of ${CONTENT_PARTS.join(', ')}`);
    }
    if (mode !== 'content' && mode !== 'digest') {
      const meant = closestName(mode, ['content', 'digest']);
      throw new RangeError(`${quoted(value)} is not ${KEEP_FORMS}${meant === undefined ? '' : ` (did you mean ${part === undefined ? meant : `${part}=${meant}`}?)`}`);
    }
    if (part === undefined) for (const each of CONTENT_PARTS) policy[each] = mode;
    else policy[part as ContentPart] = mode;
  }
  return policy;
}
