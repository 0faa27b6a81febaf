/** docs/SPEC.md section 3.5: in-process JavaScript values mapped to the JSON data model as JSON.stringify sees them. */
import { JsonError, formatPath } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import type { JsonArray, JsonObject, JsonValue } from './json-value.ts';
import { createJsonObject } from './json-value.ts';
import { tooDeepMessage } from './limits.ts';
import { numberProblem, numberProblemMessage } from './number-rules.ts';

/** The result of one validating pass: a fresh JSON tree, members inserted in RFC 8785 order. */
export interface NormalizedValue {
  value: JsonValue;
  /**
   * True when some member name starts with a digit. Engines list integer-like names ("1", "10")
   * first and in numeric order, so such a tree must not be handed to JSON.stringify for order.
   */
  digitNames: boolean;
}

const OBJECT_PROTOTYPE = Object.prototype;

/**
 * An error on its way up the value: each container it passes adds its segment and itself, so the
 * path is built only when something fails. Not exported; `normalize` turns it into a JsonError.
 */
class Unwind {
  readonly code: ErrorCode;
  readonly message: string;
  readonly segments: Array<string | number> = [];
  readonly containers: object[] = [];
  constructor(code: ErrorCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

function passUp(error: unknown, segment: string | number, container: object): unknown {
  if (error instanceof Unwind) {
    error.segments.push(segment);
    error.containers.push(container);
  }
  return error;
}

interface Walk {
  readonly maxDepth: number;
  readonly nullPrototype: boolean;
  /** Someone made a property of Object.prototype enumerable: read members with Object.keys. */
  readonly inheritedEnumerables: boolean;
  /** Scratch arrays for each depth's member names and their values (see `pool`). */
  readonly names: string[][];
  readonly inputs: unknown[][];
  digitNames: boolean;
}

/**
 * Validates `input` and copies it into a JSON tree in one pass, applying JSON.stringify's rules
 * (toJSON, boxed primitives, omitted undefined members) and runprint's stricter ones (SPEC 3.5).
 * Objects in the copy have a null prototype when `nullPrototype` is set. Strings are not checked
 * for lone surrogates here: callers check the result (see lone-surrogates.ts).
 *
 * Cycles need no bookkeeping on the way down: a cycle is infinitely deep, so it always ends in
 * the depth limit, and only then is the chain of containers searched for a repeat.
 */
export function normalize(input: unknown, maxDepth: number, nullPrototype: boolean): NormalizedValue {
  // A call from inside a toJSON method finds the pool taken and uses arrays of its own.
  const scratch = pool ?? { names: [], inputs: [] };
  const pooled = scratch === pool;
  pool = undefined;
  const walk: Walk = {
    maxDepth,
    nullPrototype,
    inheritedEnumerables: hasInheritedEnumerables(),
    names: scratch.names,
    inputs: scratch.inputs,
    digitNames: false,
  };
  try {
    const value = visit(input, '', 1, walk);
    if (value === undefined) throw unsupported('undefined has no JSON form outside an object member');
    return { value, digitNames: walk.digitNames };
  } catch (error) {
    // A walk that stopped early left values in the scratch arrays: drop them.
    // (forEach skips the depths this walk never reached.)
    scratch.names.forEach((names) => (names.length = 0));
    scratch.inputs.forEach((inputs) => (inputs.length = 0));
    if (!(error instanceof Unwind)) throw error;
    const segments = error.segments.reverse();
    const containers = error.containers.reverse();
    if (error.code === 'ERR_JSON_TOO_DEEP') {
      for (let index = 1; index < containers.length; index++) {
        if (containers.indexOf(containers[index]!) < index) {
          throw new JsonError('ERR_JSON_CYCLE', 'JSON value contains itself (a cycle)', formatPath(segments.slice(0, index)));
        }
      }
    }
    throw new JsonError(error.code, error.message, formatPath(segments));
  } finally {
    if (pooled) pool = scratch;
  }
}

interface Scratch {
  readonly names: string[][];
  readonly inputs: unknown[][];
}

/**
 * Scratch arrays for member names and values, one pair per depth, reused from call to call: small
 * values are canonicalized by the thousand, and allocating these was a fifth of their cost. Every
 * slot is emptied as soon as it is read, so the pool holds no caller data between calls.
 */
let pool: Scratch | undefined = { names: [], inputs: [] };

function hasInheritedEnumerables(): boolean {
  for (const name in OBJECT_PROTOTYPE) if (name !== undefined) return true;
  return false;
}

function unsupported(message: string): Unwind {
  return new Unwind('ERR_JSON_UNSUPPORTED_VALUE', message);
}

/** One value, as SerializeJSONProperty (ECMA-262 25.5.2.2) would see it; undefined means "omit". */
function visit(input: unknown, key: string | number, depth: number, walk: Walk): JsonValue | undefined {
  let value = input;
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint' || typeof value === 'function') {
    // toJSON gets the member name, or the array index as a string, or "" at the top.
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, typeof key === 'number' ? String(key) : key);
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number': {
      const problem = numberProblem(value);
      if (problem !== undefined) throw new Unwind(problem, numberProblemMessage(problem));
      return value;
    }
    case 'object':
      if (value === null) return null;
      if (Array.isArray(value)) return visitArray(value, depth, walk);
      return visitObject(value, depth, walk);
    case 'undefined':
      return undefined;
    case 'bigint':
      throw unsupported('BigInt has no JSON form; send 64-bit integers as strings');
    case 'function':
      throw unsupported('a function has no JSON form');
    default:
      throw unsupported('a symbol has no JSON form');
  }
}

function visitArray(array: unknown[], depth: number, walk: Walk): JsonArray {
  if (depth > walk.maxDepth) throw tooDeep(walk, array);
  const length = array.length;
  const out: JsonArray = new Array<JsonValue>(length);
  let index = 0;
  try {
    for (; index < length; index++) {
      const input = array[index];
      const element = typeof input === 'string' ? input : visit(input, index, depth + 1, walk);
      if (element === undefined) {
        throw unsupported(
          index in array
            ? 'undefined has no JSON form as an array element'
            : 'an array hole (a missing element) has no JSON form',
        );
      }
      out[index] = element;
    }
  } catch (error) {
    throw passUp(error, index, array);
  }
  return out;
}

function visitObject(object: object, depth: number, walk: Walk): JsonValue {
  const prototype: unknown = Object.getPrototypeOf(object);
  if (prototype !== OBJECT_PROTOTYPE && prototype !== null) return visitOtherObject(object, depth, walk);
  if (depth > walk.maxDepth) throw tooDeep(walk, object);
  // Own enumerable string-keyed members, as JSON.stringify lists them (symbols are skipped),
  // gathered into the scratch arrays of this depth, so the walk allocates only its output.
  let names = walk.names[depth];
  let inputs = walk.inputs[depth];
  if (names === undefined || inputs === undefined) {
    names = walk.names[depth] = [];
    inputs = walk.inputs[depth] = [];
  }
  let count = 0;
  if (walk.inheritedEnumerables) {
    for (const name of Object.keys(object)) {
      names[count] = name;
      inputs[count++] = (object as Record<string, unknown>)[name];
    }
  } else {
    // for-in is the engine's fastest way to read members; with nothing enumerable on
    // Object.prototype (checked per call), it yields exactly the own enumerable names.
    for (const name in object) {
      names[count] = name;
      inputs[count++] = (object as Record<string, unknown>)[name];
    }
  }
  sortMembers(names, inputs, count);
  const out: JsonObject = walk.nullPrototype ? createJsonObject() : {};
  let name = '';
  try {
    for (let index = 0; index < count; index++) {
      name = names[index]!;
      const input = inputs[index];
      names[index] = '';
      inputs[index] = undefined;
      const member = typeof input === 'string' ? input : visit(input, name, depth + 1, walk);
      if (member === undefined) continue;
      const first = name.charCodeAt(0);
      if (first <= 0x39 && first >= 0x30) walk.digitNames = true;
      // On an ordinary object, assigning "__proto__" would set the prototype instead.
      if (name === '__proto__' && !walk.nullPrototype) {
        Object.defineProperty(out, name, { value: member, enumerable: true, writable: true, configurable: true });
      } else out[name] = member;
    }
  } catch (error) {
    throw passUp(error, name, object);
  }
  return out;
}

/**
 * Sorts the first `count` names by UTF-16 code units (RFC 8785 section 3.2.3), moving each
 * member's input along with its name. Insertion sort: objects are small, and usually a first
 * code unit decides.
 */
function sortMembers(names: string[], inputs: unknown[], count: number): void {
  for (let index = 1; index < count; index++) {
    const name = names[index]!;
    let at = index - 1;
    const previous = names[at]!;
    // Already in order? Usually the first code units decide (NaN for "" compares false).
    if (previous.charCodeAt(0) < name.charCodeAt(0) || !(previous > name)) continue;
    const input = inputs[index];
    do {
      names[at + 1] = names[at]!;
      inputs[at + 1] = inputs[at];
      at--;
    } while (at >= 0 && names[at]! > name);
    names[at + 1] = name;
    inputs[at + 1] = input;
  }
}

/**
 * An object that is neither plain nor an array, after toJSON: boxed primitives unwrap as
 * JSON.stringify unwraps them; anything else (Map, Set, typed arrays, class instances, RegExp,
 * Error) has a lossy wire form and is refused. The brand checks cannot be fooled by
 * Symbol.toStringTag.
 */
function visitOtherObject(object: object, depth: number, walk: Walk): JsonValue {
  const primitive = unbox(object);
  if (primitive === undefined) {
    throw unsupported('an object that is not a plain object or array has no exact JSON form; give it a toJSON method');
  }
  return visit(primitive, '', depth, walk)!;
}

function unbox(object: object): string | number | boolean | bigint | undefined {
  for (const valueOf of BOXED_VALUE_OF) {
    try {
      return valueOf.call(object) as string | number | boolean | bigint;
    } catch {
      // Not this kind of box.
    }
  }
  return undefined;
}

const BOXED_VALUE_OF: ReadonlyArray<(this: unknown) => unknown> = [
  Number.prototype.valueOf,
  String.prototype.valueOf,
  Boolean.prototype.valueOf,
  BigInt.prototype.valueOf,
];

function tooDeep(walk: Walk, container: object): Unwind {
  const error = new Unwind('ERR_JSON_TOO_DEEP', tooDeepMessage(walk.maxDepth));
  error.containers.push(container);
  return error;
}
