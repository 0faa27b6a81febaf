/** docs/CLI.md `explain --json` and `POST /v1/explain`: a composition explained by its digests, sizes, roles and member names, no content. */
import { capName } from '../errors.ts';
import { REQUEST_COMPONENTS, type Composition } from './composition.ts';
import type { IdentityDocument } from './identity.ts';

/** One element of a list component as `explain --json` gives it: no content, only its digest, size and tags. */
export interface ExplainedElement {
  index: number;
  digest: string;
  bytes: number;
  /** Present (true) when the element is a plain string. */
  text?: true;
  /** `role`, `type`, `name` and `function` when the element has them as strings (cut, escaped). */
  tags: Record<string, string>;
}

/** One component as `explain --json` gives it. */
export interface ExplainedComponent {
  name: string;
  kind: 'value' | 'list' | 'served';
  digest: string;
  salted?: true;
  /** value: the member names (model: api and name); served: each fact with its source. */
  members?: string[];
  facts?: Record<string, string>;
  count?: number;
  elements?: ExplainedElement[];
}

/** What `runprint explain --json` prints (docs/CLI.md): the tree, as data. */
export interface Explanation {
  format: string;
  requestId: string;
  runId: string | null;
  components: ExplainedComponent[];
  excluded: string[];
}

/**
 * The composition explained: digests, sizes, roles and member names, never message text or other
 * content, so the result can be pasted into a ticket without leaking a prompt.
 */
export function explainComposition(composition: Composition, identity: IdentityDocument, format: string): Explanation {
  const components: ExplainedComponent[] = [];
  for (const name of REQUEST_COMPONENTS) {
    const entry = identity.components[name];
    const salted = entry.salted === true ? { salted: true as const } : {};
    if (entry.kind === 'value') {
      components.push({ name, kind: 'value', digest: `sha256:${entry.digest.sha256}`, ...salted, members: valueMembers(name, composition[name]) });
      continue;
    }
    const list = composition[name] as unknown[];
    const elements = entry.elements.map((digest, index) => ({ index, digest: `sha256:${digest.sha256}`, ...describeElement(list[index]) }));
    components.push({ name, kind: 'list', digest: `sha256:${entry.digest.sha256}`, ...salted, count: entry.count, elements });
  }
  if (identity.served !== null) {
    const facts = Object.fromEntries(Object.entries(identity.served.facts).map(([fact, { source }]) => [shown(fact), source]));
    components.push({ name: 'served', kind: 'served', digest: `sha256:${identity.served.digest.sha256}`, facts });
  }
  return { format, requestId: identity.requestId, runId: identity.runId, components, excluded: identity.excluded.map(shown) };
}

/** The model's api and name; for another value component, its member names, sorted. */
function valueMembers(name: string, value: unknown): string[] {
  const object = value as Record<string, unknown>;
  if (name === 'model') return [object['api'], object['name']].filter((part) => typeof part === 'string').map(shown);
  return Object.keys(object).filter((key) => object[key] !== undefined).sort().map(shown);
}

const encoder = new TextEncoder();

function describeElement(element: unknown): { bytes: number; text?: true; tags: Record<string, string> } {
  const bytes = encoder.encode(JSON.stringify(element) ?? '').length;
  const tags: Record<string, string> = {};
  if (typeof element === 'string') return { bytes, text: true, tags };
  if (typeof element !== 'object' || element === null || Array.isArray(element)) return { bytes, tags };
  const object = element as Record<string, unknown>;
  for (const key of ['role', 'type', 'name']) {
    if (typeof object[key] === 'string') tags[key] = shown(object[key] as string);
  }
  const functionName = (object['function'] as Record<string, unknown> | undefined)?.['name'];
  if (typeof functionName === 'string') tags['function'] = shown(functionName);
  return { bytes, tags };
}

/**
 * A name from the input as the tree shows it: cut to 64 code points like an error path (SPEC 1.3),
 * with control characters escaped so that no input can move the terminal's cursor or colours.
 */
function shown(name: string): string {
  return capName(name).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
