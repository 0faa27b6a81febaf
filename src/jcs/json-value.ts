/** The JSON data model (RFC 8259 section 3) as runprint holds it in memory. */

export type JsonPrimitive = null | boolean | number | string;
export type JsonArray = JsonValue[];
/** Objects produced by runprint's parser have a null prototype, so `__proto__` is an ordinary key. */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
