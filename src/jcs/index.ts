/** docs/SPEC.md section 3: strict I-JSON parsing and RFC 8785 canonical JSON, the pure core's entry point. */
export { parseJson } from './parse.ts';
export type { ParseOptions } from './parse.ts';
export { canonicalize, canonicalBytes } from './canonicalize.ts';
export type { CanonicalizeOptions } from './canonicalize.ts';
export { toJsonValue } from './to-json-value.ts';
export type { ToJsonValueOptions } from './to-json-value.ts';
export { isJsonObject } from './json-value.ts';
export type { JsonArray, JsonObject, JsonPrimitive, JsonValue } from './json-value.ts';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, MAX_DEPTH_CEILING } from './limits.ts';
