/**
 * docs/SPEC.md 4.1.3: members of a provider request that its mapping does not name, and message
 * roles its API does not define. They are kept (an unknown member goes to `configuration`, an
 * unknown role stays in its message) and change the identity; this only finds them, so that a
 * typo (`mesages`, `temprature`) or a request of another format can be pointed out.
 */
import { formatPath } from '../errors.ts';
import { isJsonObject, type JsonValue } from '../jcs/json-value.ts';
import { providerFor } from './registry.ts';
import { knownFields, member, REQUEST_FORMATS, type RequestFormat } from './request-format.ts';

/** One member or role the mapping does not know, with what it does know there. */
export interface UnknownMember {
  kind: 'member' | 'role';
  /** The member's name, or the role's value. */
  name: string;
  /** RFC 9535 normalized path of the member, or of the `role` member. */
  path: string;
  /** The names the mapping knows in that place, for suggesting the nearest. */
  known: readonly string[];
  /** For a member: the other request formats that name it (a request of another format, read as this one). */
  knownIn: RequestFormat[];
}

/** The unknown top-level members of `request` and unknown roles of its messages, in document order. */
export function unknownMembers(format: RequestFormat, request: JsonValue): UnknownMember[] {
  if (!isJsonObject(request)) return [];
  const mapping = providerFor(format).request;
  const known = knownFields(mapping);
  const found: UnknownMember[] = [];
  for (const name of Object.keys(request)) {
    if (known.has(name)) continue;
    const knownIn = REQUEST_FORMATS.filter((other) => other !== format && knownFields(providerFor(other).request).has(name));
    found.push({ kind: 'member', name, path: formatPath([name]), known: [...known], knownIn });
  }
  const messages = member(request, mapping.messages.field);
  if (Array.isArray(messages)) {
    messages.forEach((message, index) => {
      if (!isJsonObject(message)) return;
      const role = member(message, 'role');
      if (typeof role === 'string' && !mapping.messages.roles.has(role)) {
        found.push({ kind: 'role', name: role, path: formatPath([mapping.messages.field, index, 'role']), known: [...mapping.messages.roles], knownIn: [] });
      }
    });
  }
  return found;
}
