/**
 * Typo protection for provider requests (docs/SPEC.md 4.1.3): each member the mapping does not name
 * and each role the API does not define is kept, and named on standard error with the nearest known
 * name; `--strict` refuses the request instead (ERR_REQUEST_UNKNOWN_MEMBER).
 */
import { ProviderError } from '../errors.ts';
import type { JsonValue } from '../jcs/json-value.ts';
import { REQUEST_FORMATS, type RequestFormat } from '../providers/request-format.ts';
import { unknownMembers, type UnknownMember } from '../providers/unknown-members.ts';
import { closestName } from '../io/closest-name.ts';
import type { CliIo } from './io.ts';
import { printable } from '../io/printable.ts';
import { fileName } from './read-input.ts';

/** What is said about one unknown member or role: named, with the nearest known name or the format that knows it. */
export function describeUnknown(format: RequestFormat, unknown: UnknownMember, kept: boolean): string {
  const name = printable(unknown.name, 40);
  const nearest = closestName(unknown.name, unknown.known);
  const hint = nearest !== undefined ? `; did you mean "${nearest}"?` : unknown.knownIn.length > 0 ? `; it is a member of ${unknown.knownIn.join(' and ')} requests (is --from right?)` : '';
  if (unknown.kind === 'role') return `role "${name}" is not a role of ${format} messages${kept ? ' (kept as given)' : ''}${hint}`;
  return `member "${name}" is not in the ${format} mapping${kept ? ' (kept in configuration: it changes the identity)' : ''}${hint}`;
}

/**
 * Warns about, or with `strict` refuses, the unknown members and roles of a provider request read
 * as `format`. A composition is not a provider request: its shape is checked by section 2.
 */
export function checkRequestMembers(document: JsonValue, format: 'composition' | RequestFormat, input: string | undefined, strict: boolean, io: CliIo): void {
  if (format === 'composition') return;
  const found = unknownMembers(format, document);
  if (found.length === 0) return;
  if (strict) {
    const first = found[0]!;
    const more = found.length > 1 ? ` (and ${found.length - 1} more)` : '';
    throw new ProviderError('ERR_REQUEST_UNKNOWN_MEMBER', `${describeUnknown(format, first, false)}${more}`, first.path);
  }
  const where = input === undefined || input === '-' ? 'standard input' : fileName(input);
  for (const unknown of found) io.stderr(`runprint: warning: ${where}: ${describeUnknown(format, unknown, true)} (at ${unknown.path})\n`);
}

/**
 * `replay --param K=V`: a K the request's API does not define is sent and kept (in configuration:
 * it changes the identity), and said on standard error as `id` says an unknown member of a file,
 * with the nearest known name. With no format (a batch, whose runs may be of several APIs), K is
 * said only when no supported API defines it, with the nearest name any of them knows.
 */
export function warnUnknownParams(params: ReadonlyArray<readonly [string, JsonValue]>, format: RequestFormat | undefined, io: CliIo): void {
  const request: { [name: string]: JsonValue } = {};
  for (const [name] of params) request[name] = null;
  if (format !== undefined) {
    for (const unknown of unknownMembers(format, request)) {
      if (unknown.kind === 'member') io.stderr(`runprint: warning: --param ${printable(unknown.name, 40)}: ${describeUnknown(format, unknown, true)}\n`);
    }
    return;
  }
  const known = new Set<string>();
  const unknownIn = new Map<string, number>();
  for (const each of REQUEST_FORMATS) {
    for (const unknown of unknownMembers(each, request)) {
      unknown.known.forEach((name) => known.add(name));
      unknownIn.set(unknown.name, (unknownIn.get(unknown.name) ?? 0) + 1);
    }
  }
  for (const [name, count] of unknownIn) {
    if (count < REQUEST_FORMATS.length) continue;
    const nearest = closestName(name, [...known]);
    io.stderr(`runprint: warning: --param ${printable(name, 40)}: member "${printable(name, 40)}" is in no supported API's request (sent, and kept in configuration: it changes the identity)${nearest === undefined ? '' : `; did you mean "${nearest}"?`}\n`);
  }
}
