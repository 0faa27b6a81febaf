/** docs/SPEC.md section 4.1: properties of the request mappings, checked over generated requests. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProviderError } from '../src/errors.ts';
import { parseComposition, type Composition } from '../src/identity/composition.ts';
import type { JsonObject, JsonValue } from '../src/jcs/json-value.ts';
import {
  REQUEST_FORMATS,
  compositionFromRequest,
  detectFormat,
  requestFromComposition,
  type RequestFormat,
} from '../src/providers/index.ts';
import { knownFields } from '../src/providers/request-format.ts';
import { mappingFor } from '../src/providers/request-mapping.ts';

const json = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>;
const object = fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 4 }) as fc.Arbitrary<JsonObject>;

/** Builds an object with own members only, so "__proto__" is a member and not the prototype. */
function build(entries: Array<[string, JsonValue]>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of entries) {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A JSON value rebuilt from ordinary objects: prototypes are no part of a JSON value. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value !== 'object' || value === null) return value;
  return build(Object.entries(value).map(([key, member]) => [key, plain(member) as JsonValue]));
}

function assertJsonEqual(actual: unknown, expected: unknown): void {
  assert.deepEqual(plain(actual), plain(expected));
}

const message = fc
  .tuple(fc.constantFrom<JsonValue>('system', 'developer', 'user', 'assistant', 'tool', 'function', 7, null), json, object)
  .map(([role, content, rest]) => build([...Object.entries(rest), ['role', role], ['content', content]]));
const objects = (element: fc.Arbitrary<JsonObject>) => fc.array(element, { maxLength: 5 });
/** A lifted field: absent, null, [] or a liftable value. */
const liftable = (value: fc.Arbitrary<JsonValue>) =>
  fc.option(fc.oneof(fc.constant<JsonValue>(null), fc.constant<JsonValue>([]), value), { nil: undefined });
const text = fc.string({ maxLength: 12 }) as fc.Arbitrary<JsonValue>;

const LIFTED: { [F in RequestFormat]: Array<[string, fc.Arbitrary<JsonValue | undefined>]> } = {
  'openai-chat': [
    ['messages', liftable(objects(message))],
    ['tools', liftable(objects(object))],
  ],
  'openai-responses': [
    ['instructions', fc.option(fc.oneof(fc.constant<JsonValue>(null), text), { nil: undefined })],
    ['input', liftable(fc.oneof(text, objects(message)))],
    ['tools', liftable(objects(object))],
  ],
  'anthropic-messages': [
    ['system', liftable(fc.oneof(text, objects(object)))],
    ['messages', liftable(objects(message))],
    ['tools', liftable(objects(object))],
  ],
};

/** Requests the mapping accepts: lifted fields in every allowed shape, known and unknown fields. */
function requests(format: RequestFormat): fc.Arbitrary<JsonObject> {
  const mapping = mappingFor(format);
  const known = [...mapping.parameters, ...mapping.configuration, ...mapping.excluded];
  // An "unknown" key must be unknown to every API: a random "n" or "top_k" is another API's field,
  // and would rightly make detection answer that API.
  const reserved = new Set(['model', ...mapping.lifted, ...REQUEST_FORMATS.flatMap((other) => [...knownFields(mappingFor(other))])]);
  const unknownKey = fc
    .oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'version', 'configuration'))
    .filter((key) => !reserved.has(key));
  return fc
    .record({
      model: fc.string({ minLength: 1, maxLength: 20 }),
      lifted: fc.tuple(...LIFTED[format].map(([, arb]) => arb)),
      known: fc.subarray(known).chain((keys) => fc.tuple(...keys.map((key) => fc.tuple(fc.constant(key), json)))),
      unknown: fc.array(fc.tuple(unknownKey, json), { maxLength: 4 }),
    })
    .chain(({ model, lifted, known: knownEntries, unknown }) => {
      const entries: Array<[string, JsonValue]> = [['model', model]];
      LIFTED[format].forEach(([key], index) => {
        const value = lifted[index];
        if (value !== undefined) entries.push([key, value]);
      });
      const seen = new Set(entries.map(([key]) => key));
      for (const [key, value] of [...knownEntries, ...unknown]) {
        if (!seen.has(key)) entries.push([key, value]), seen.add(key);
      }
      return fc.shuffledSubarray(entries, { minLength: entries.length }).map((shuffled) => {
        // model first is not required; keep any member order the generator picked.
        return build(shuffled);
      });
    });
}

for (const format of REQUEST_FORMATS) {
  describe(`${format} mapping properties`, () => {
    it('is lossless: requestFromComposition(compositionFromRequest(r)) equals r', () => {
      fc.assert(
        fc.property(requests(format), (request) => {
          const composition = compositionFromRequest(format, request);
          parseComposition(composition as unknown as JsonValue);
          assertJsonEqual(requestFromComposition(composition), request);
        }),
        { numRuns: 400 },
      );
    });

    it('drops no field: every request member is found in exactly one place', () => {
      fc.assert(
        fc.property(requests(format), (request) => {
          const composition = compositionFromRequest(format, request);
          const placed = [
            ...Object.keys(composition.parameters),
            ...Object.keys(composition.configuration),
            ...Object.keys(composition.excluded ?? {}),
          ];
          assert.equal(new Set(placed).size, placed.length);
          for (const key of Object.keys(request)) {
            const lifted = key === 'model' || !placed.includes(key);
            if (lifted) assert.ok(key === 'model' || mappingFor(format).lifted.has(key), key);
          }
        }),
        { numRuns: 200 },
      );
    });

    it('on any JSON value either maps losslessly or rejects with ERR_PROVIDER_INVALID_REQUEST', () => {
      // Lifted fields get arbitrary JSON values, or values that lift, so both outcomes are common.
      const lifted = fc.array(
        fc.tuple(fc.constantFrom(...mappingFor(format).lifted), fc.oneof(json, ...LIFTED[format].map(([, arb]) => arb))),
        { maxLength: 3 },
      );
      const anyRequest = fc
        .tuple(object, fc.oneof(fc.string({ minLength: 1 }), json), lifted)
        .map(([rest, model, entries]) =>
          build([...Object.entries(rest), ['model', model], ...entries].filter((entry): entry is [string, JsonValue] => entry[1] !== undefined)),
        );
      fc.assert(
        fc.property(fc.oneof({ weight: 1, arbitrary: json }, { weight: 4, arbitrary: anyRequest }), (request) => {
          let composition: Composition;
          try {
            composition = compositionFromRequest(format, request);
          } catch (error) {
            assert.ok(error instanceof ProviderError);
            assert.equal(error.code, 'ERR_PROVIDER_INVALID_REQUEST');
            return;
          }
          assertJsonEqual(requestFromComposition(composition), request);
        }),
        { numRuns: 400 },
      );
    });

    it('requestFromComposition accepts exactly the compositions that map back to themselves', () => {
      const lists = fc.array(fc.oneof(json, message), { maxLength: 3 });
      const random = fc.record({
        system: lists,
        input: lists,
        tools: fc.array(fc.oneof(object, json), { maxLength: 2 }),
        parameters: object,
        configuration: object,
      }).map((parts): Composition => ({ version: 'runprint/v1', model: { api: format, name: 'm' }, context: [], ...parts }));
      // Compositions of real requests, sometimes nudged: one element or member moved elsewhere.
      const nudged = fc.tuple(requests(format), fc.nat(5), fc.string({ maxLength: 4 })).map(([request, nudge, key]) => {
        const composition = compositionFromRequest(format, request);
        const first = composition.input[0];
        if (nudge === 1 && first !== undefined) composition.system = [...composition.system, first];
        if (nudge === 2) composition.context = [{ text: key }];
        if (nudge === 3) composition.model = { ...composition.model, extra: key };
        if (nudge === 4) composition.parameters = build([...Object.entries(composition.parameters), [key, 1]]);
        if (nudge === 5) composition.configuration = build([...Object.entries(composition.configuration), [key, null]]);
        return composition;
      });
      fc.assert(
        fc.property(fc.oneof(random, nudged), (composition) => {
          let request: JsonObject;
          try {
            request = requestFromComposition(composition);
          } catch (error) {
            assert.ok(error instanceof ProviderError);
            assert.equal(error.code, 'ERR_PROVIDER_INVALID_REQUEST');
            return;
          }
          assertJsonEqual(compositionFromRequest(format, request), composition);
        }),
        { numRuns: 400 },
      );
    });
  });
}

describe('format detection properties', () => {
  it('never mistakes a request of one API for another: it answers its own format or asks for --from', () => {
    for (const format of REQUEST_FORMATS) {
      fc.assert(
        fc.property(requests(format), (request) => {
          // Only requests with every field their API requires are requests of that API (SPEC 4.5).
          const required = { 'openai-chat': ['messages'], 'openai-responses': [], 'anthropic-messages': ['messages', 'max_tokens'] }[format];
          fc.pre(required.every((key) => (request as Record<string, unknown>)[key] !== undefined));
          let detected: string;
          try {
            detected = detectFormat(request);
          } catch (error) {
            assert.ok(error instanceof ProviderError);
            assert.ok(['ERR_PROVIDER_AMBIGUOUS_FORMAT', 'ERR_PROVIDER_UNKNOWN_FORMAT'].includes(error.code));
            return;
          }
          // A generated unknown "version" member may look like a composition; nothing else may.
          if (detected !== 'composition') assert.equal(detected, format);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('recognizes every composition', () => {
    for (const format of REQUEST_FORMATS) {
      fc.assert(
        fc.property(requests(format), (request) => {
          assert.equal(detectFormat(compositionFromRequest(format, request) as unknown as JsonValue), 'composition');
        }),
        { numRuns: 50 },
      );
    }
  });
});
