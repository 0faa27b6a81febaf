/** The JSON data model (RFC 8259 section 3) as runprint holds it in memory. */

export type JsonPrimitive = null | boolean | number | string;
export type JsonArray = JsonValue[];
/** Objects produced by runprint's parser have a null prototype, so `__proto__` is an ordinary key. */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A new empty object with a null prototype. Made from `{}` rather than Object.create(null):
 * engines keep it in their compact fast-property form (V8 makes Object.create(null) a hash
 * table, about 2.5 times the memory per object and slower to read).
 */
export function createJsonObject(): JsonObject {
  const object = {};
  Object.setPrototypeOf(object, null);
  return object as JsonObject;
}
