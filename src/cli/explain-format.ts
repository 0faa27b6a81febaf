/** The text `runprint explain` prints: components and elements with their digests, no content. */
import type { Composition } from '../identity/composition.ts';
import { explainComposition } from '../identity/explain.ts';
import type { IdentityDocument } from '../identity/identity.ts';

export { explainComposition, type ExplainedComponent, type ExplainedElement, type Explanation } from '../identity/explain.ts';

/** The tree `runprint explain` prints, from the explanation. */
export function formatExplanation(composition: Composition, identity: IdentityDocument, format: string): string {
  const explained = explainComposition(composition, identity, format);
  const lines: string[] = [];
  lines.push(`request  ${explained.requestId}`);
  lines.push(`run      ${explained.runId ?? '(none: no served facts; pass --response or add "served")'}`);
  lines.push(`read as  ${format}`);
  lines.push('components');
  explained.components.forEach((component, position) => {
    const last = position === explained.components.length - 1;
    const branch = last ? '└─ ' : '├─ ';
    const indent = last ? '   ' : '│  ';
    const head = `${branch}${component.name.padEnd(14)} ${component.digest}  `;
    if (component.kind === 'served') {
      lines.push(head + Object.entries(component.facts!).map(([fact, source]) => `${fact} (${source})`).join(', '));
      return;
    }
    if (component.kind === 'value') {
      const members = component.members!;
      lines.push(head + (component.name === 'model' ? members.join(' ') : members.length === 0 ? '(empty)' : members.join(', ')));
      return;
    }
    lines.push(`${head}${component.count} ${component.count === 1 ? 'element' : 'elements'}`);
    const elements = component.elements!;
    elements.forEach((element, index) => {
      const elementBranch = index === elements.length - 1 ? '└─ ' : '├─ ';
      const tags = element.text === true ? ['text'] : Object.entries(element.tags).map(([key, value]) => `${key}=${value}`);
      lines.push(`${indent}${elementBranch}${`[${index}]`.padEnd(11)} ${element.digest}  ${[...tags, `${element.bytes} bytes`].join(', ')}`);
    });
  });
  if (explained.excluded.length > 0) lines.push(`excluded from identity: ${explained.excluded.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
