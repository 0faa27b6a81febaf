/**
 * A JSON Schema (2020-12) checker for the keywords docs/openapi.json uses, and no more: type (one or
 * a list), const, enum, pattern, minimum, maximum, properties, required, additionalProperties (false or a
 * schema), items, oneOf, not, and $ref to `#/...`. A keyword it does not know fails the check, so
 * the document cannot use one that goes unchecked.
 */
type Schema = { [keyword: string]: unknown } | boolean;

const KNOWN = new Set(['type', 'const', 'enum', 'pattern', 'minimum', 'maximum', 'properties', 'required', 'additionalProperties', 'items', 'oneOf', 'not', '$ref', 'description', 'contentMediaType']);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function resolveRef(root: unknown, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  let at: unknown = root;
  for (const part of ref.slice(2).split('/')) at = (at as Record<string, unknown>)[part];
  if (at === undefined) throw new Error(`unresolved $ref ${ref}`);
  return at as Schema;
}

/** The problems of `value` against `schema` (empty when it conforms), each with its JSON pointer. */
export function validate(value: unknown, schema: Schema, root: unknown, at = ''): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${at}: no value allowed`];
  const problems: string[] = [];
  for (const keyword of Object.keys(schema)) if (!KNOWN.has(keyword)) problems.push(`${at}: schema keyword "${keyword}" is not checked`);
  if (typeof schema['$ref'] === 'string') problems.push(...validate(value, resolveRef(root, schema['$ref']), root, at));
  const type = schema['type'];
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [...problems, `${at}: ${actual}, want ${types.join(' or ')}`];
  }
  if ('const' in schema && JSON.stringify(value) !== JSON.stringify(schema['const'])) problems.push(`${at}: not the constant`);
  if (Array.isArray(schema['enum']) && !schema['enum'].some((item) => JSON.stringify(item) === JSON.stringify(value))) problems.push(`${at}: not one of the enum`);
  if (typeof schema['pattern'] === 'string' && typeof value === 'string' && !new RegExp(schema['pattern'], 'u').test(value)) problems.push(`${at}: does not match ${schema['pattern']}`);
  if (typeof schema['minimum'] === 'number' && typeof value === 'number' && value < schema['minimum']) problems.push(`${at}: below ${schema['minimum']}`);
  if (typeof schema['maximum'] === 'number' && typeof value === 'number' && value > schema['maximum']) problems.push(`${at}: above ${schema['maximum']}`);
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
    for (const name of (schema['required'] ?? []) as string[]) if (!(name in object)) problems.push(`${at}: missing "${name}"`);
    for (const [name, member] of Object.entries(object)) {
      const sub = properties[name] ?? (schema['additionalProperties'] as Schema | undefined);
      if (sub !== undefined) problems.push(...validate(member, sub, root, `${at}/${name}`));
    }
  }
  if (Array.isArray(value) && schema['items'] !== undefined) value.forEach((item, index) => problems.push(...validate(item, schema['items'] as Schema, root, `${at}/${index}`)));
  if (Array.isArray(schema['oneOf'])) {
    const matching = schema['oneOf'].filter((option) => validate(value, option as Schema, root, at).length === 0).length;
    if (matching !== 1) problems.push(`${at}: matches ${matching} of oneOf, want exactly 1`);
  }
  if (schema['not'] !== undefined && validate(value, schema['not'] as Schema, root, at).length === 0) problems.push(`${at}: matches "not"`);
  return problems;
}
