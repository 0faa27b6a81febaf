/** docs/SPEC.md section 4.1: the provider request formats and the contract each mapping fulfils. */
import type { JsonObject, JsonValue } from '../jcs/json-value.ts';

/** The provider request bodies runprint maps into a composition (SPEC 4.2-4.4). */
export type RequestFormat = 'openai-chat' | 'openai-responses' | 'anthropic-messages';

/** Every request format, in the order SPEC section 4 describes them. */
export const REQUEST_FORMATS: readonly RequestFormat[] = [
  'openai-chat',
  'openai-responses',
  'anthropic-messages',
];

export function isRequestFormat(value: unknown): value is RequestFormat {
  return typeof value === 'string' && (REQUEST_FORMATS as readonly string[]).includes(value);
}

/** The list components a mapping lifts request fields into (`context` is always empty, SPEC 4.1). */
export interface Lists {
  system: JsonValue[];
  input: JsonValue[];
  tools: JsonValue[];
}

/** Lists lifted out of a request, and the request fields they were lifted from. */
export interface LiftedLists extends Lists {
  consumed: ReadonlySet<string>;
}

/**
 * One provider API's mapping (SPEC 4.2-4.4). `model` is handled by the common rules; every
 * top-level field that is neither lifted nor named in `parameters` or `excluded` goes to
 * `configuration` verbatim, whether or not `configuration` names it. The named sets are the field
 * table of the SPEC section and also drive format detection (SPEC 4.5).
 */
export interface RequestMapping {
  readonly format: RequestFormat;
  /** Fields that may lift into list components, under the presence rule (SPEC 4.1). */
  readonly lifted: ReadonlySet<string>;
  /** Sampling and generation controls, copied verbatim into `parameters`. */
  readonly parameters: ReadonlySet<string>;
  /** Known identity-relevant fields that go to `configuration` (unknown fields go there too). */
  readonly configuration: ReadonlySet<string>;
  /** Transport and bookkeeping fields: kept in `excluded` for replay, not part of identity. */
  readonly excluded: ReadonlySet<string>;
  /**
   * The request field whose object elements are messages with a `role`, and the roles the API
   * defines. Only for warnings about likely typos (unknown-members.ts); identity never looks at them.
   */
  readonly messages: { readonly field: string; readonly roles: ReadonlySet<string> };
  /** Lifts the list fields of an object request; throws ProviderError for a wrong JSON type. */
  lift(request: JsonObject): LiftedLists;
  /** The request fields that give back these lists; throws ProviderError when there are none. */
  lower(lists: Lists): JsonObject;
}

/** Every top-level field a mapping names, `model` included. */
export function knownFields(mapping: RequestMapping): Set<string> {
  return new Set<string>([
    'model',
    ...mapping.lifted,
    ...mapping.parameters,
    ...mapping.configuration,
    ...mapping.excluded,
  ]);
}

/** The member `key` of `object` when it is an own member; inherited names never count. */
export function member(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/**
 * Sets an own, enumerable member. A plain assignment of `__proto__` would change the object's
 * prototype and silently drop the field, so every member runprint copies goes through here.
 */
export function setMember(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
