/** The text `runprint explain` prints: components and elements with their digests, no content. */
import { capName } from '../errors.ts';
import { REQUEST_COMPONENTS, type Composition } from '../identity/composition.ts';
import type { IdentityDocument } from '../identity/identity.ts';

/**
 * A tree of the composition. It shows digests, sizes, roles and member names, never message text
 * or other content, so its output can be pasted into a ticket without leaking a prompt.
 */
export function formatExplanation(composition: Composition, identity: IdentityDocument, format: string): string {
  const lines: string[] = [];
  lines.push(`request  ${identity.requestId}`);
  lines.push(`run      ${identity.runId ?? '(none: no served facts; pass --response or add "served")'}`);
  lines.push(`read as  ${format}`);
  lines.push('components');
  const names = [...REQUEST_COMPONENTS, ...(identity.served === null ? [] : ['served' as const])];
  names.forEach((name, position) => {
    const last = position === names.length - 1;
    const branch = last ? '└─ ' : '├─ ';
    const indent = last ? '   ' : '│  ';
    if (name === 'served') {
      const facts = Object.entries(identity.served!.facts)
        .map(([fact, { source }]) => `${shown(fact)} (${source})`)
        .join(', ');
      lines.push(`${branch}${'served'.padEnd(14)} sha256:${identity.served!.digest.sha256}  ${facts}`);
      return;
    }
    const entry = identity.components[name];
    if (entry.kind === 'value') {
      lines.push(`${branch}${name.padEnd(14)} sha256:${entry.digest.sha256}  ${describeValue(name, composition[name])}`);
      return;
    }
    const plural = entry.count === 1 ? 'element' : 'elements';
    lines.push(`${branch}${name.padEnd(14)} sha256:${entry.digest.sha256}  ${entry.count} ${plural}`);
    const list = composition[name] as unknown[];
    entry.elements.forEach((digest, index) => {
      const elementBranch = index === entry.elements.length - 1 ? '└─ ' : '├─ ';
      const label = `[${index}]`.padEnd(11);
      lines.push(`${indent}${elementBranch}${label} sha256:${digest.sha256}  ${describeElement(list[index])}`);
    });
  });
  if (identity.excluded.length > 0) {
    lines.push(`excluded from identity: ${identity.excluded.map(shown).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeValue(name: string, value: unknown): string {
  const object = value as Record<string, unknown>;
  if (name === 'model') {
    const parts = [object['api'], object['name']].filter((part) => typeof part === 'string');
    return parts.map(shown).join(' ');
  }
  const keys = Object.keys(object).filter((key) => object[key] !== undefined);
  return keys.length === 0 ? '(empty)' : keys.sort().map(shown).join(', ');
}

const encoder = new TextEncoder();

function describeElement(element: unknown): string {
  const size = `${encoder.encode(JSON.stringify(element) ?? '').length} bytes`;
  if (typeof element === 'string') return `text, ${size}`;
  if (typeof element !== 'object' || element === null || Array.isArray(element)) return size;
  const object = element as Record<string, unknown>;
  const tags: string[] = [];
  for (const key of ['role', 'type', 'name']) {
    if (typeof object[key] === 'string') tags.push(`${key}=${shown(object[key] as string)}`);
  }
  const functionName = (object['function'] as Record<string, unknown> | undefined)?.['name'];
  if (typeof functionName === 'string') tags.push(`function=${shown(functionName)}`);
  return [...tags, size].join(', ');
}

/**
 * A name from the input as the tree shows it: cut to 64 code points like an error path (SPEC 1.3),
 * with control characters escaped so that no input can move the terminal's cursor or colours.
 */
function shown(name: string): string {
  return capName(name).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
