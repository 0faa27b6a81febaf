/** RFC 8785 section 3.2.2.2 (note) and RFC 7493 section 2.1: finding a lone surrogate in a JSON tree, with its path. */
import { JsonError, formatPath } from '../errors.ts';
import type { JsonValue } from './json-value.ts';

/**
 * Throws ERR_JSON_LONE_SURROGATE for the first string or member name in `value` (in RFC 8785
 * member order) that is not well-formed UTF-16; returns normally if there is none. A lone
 * surrogate in a member name is reported at the path of the object that holds it, so the path
 * itself stays well-formed.
 */
export function assertWellFormed(value: JsonValue): void {
  const segments: Array<string | number> = [];
  if (!check(value, segments)) {
    const inName = segments[segments.length - 1] === NAME_MARK;
    if (inName) segments.pop();
    throw new JsonError(
      'ERR_JSON_LONE_SURROGATE',
      inName
        ? 'JSON member name has a lone surrogate (not well-formed Unicode)'
        : 'JSON string has a lone surrogate (not well-formed Unicode)',
      formatPath(segments),
    );
  }
}

// Marks a failure in a member name rather than in a value; never a real segment (not a string).
const NAME_MARK = -1;

/** False when a lone surrogate was found; `segments` then holds its path. Depth is already bounded. */
function check(value: JsonValue, segments: Array<string | number>): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      segments.push(index);
      if (!check(value[index]!, segments)) return false;
      segments.pop();
    }
    return true;
  }
  // The default sort compares UTF-16 code units, the order RFC 8785 section 3.2.3 asks for.
  const names = Object.keys(value).sort();
  for (const name of names) {
    if (!name.isWellFormed()) {
      segments.push(NAME_MARK);
      return false;
    }
    segments.push(name);
    if (!check(value[name]!, segments)) return false;
    segments.pop();
  }
  return true;
}
