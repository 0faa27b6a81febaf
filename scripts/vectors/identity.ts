/** Generates testdata/identity/*.json: digests, identities, identity strings and diffs (SPEC 5-7, 10). */
import { RunprintError } from '../../src/errors.ts';
import { toHex } from '../../src/hash/sha256.ts';
import { computeIdentity } from '../../src/identity/identity.ts';
import { diffCompositions } from '../../src/identity/diff.ts';
import {
  domainTag,
  elementDigest,
  elementSalt,
  listComponentDigest,
  listRoot,
  requestDigest,
  runDigest,
  saltedElementDigest,
  saltedValueComponentDigest,
  valueComponentDigest,
} from '../../src/identity/digest.ts';
import { saltBytes } from '../../src/identity/salt.ts';
import { parseIdentity } from '../../src/identity/identity-string.ts';
import { canonicalize } from '../../src/jcs/canonicalize.ts';
import type { VectorFile } from '../generate-vectors.ts';
import { BASE, MINIMAL, SALT_A, SALT_B, variant } from '../../test/fixtures/identity-compositions.ts';
import * as reference from './fixtures/identity-reference.ts';

/** The code and path of the RunprintError `run` throws; fails the generator when it throws none. */
function failure(run: () => unknown): { code: string; path: string | undefined } {
  try {
    run();
  } catch (error) {
    if (error instanceof RunprintError) return { code: error.code, path: error.path };
    throw error;
  }
  throw new Error('expected an error');
}

/** Fails the generator when a case does not have the outcome it was written for (vectors are not snapshots). */
function expect(actual: unknown, intended: unknown, desc: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(intended)) {
    throw new Error(`vector "${desc}": intended ${JSON.stringify(intended)}, got ${JSON.stringify(actual)}`);
  }
}

const utf8 = new TextEncoder();
const bytes = (hex: string): Buffer => Buffer.from(hex, 'hex');

/**
 * Recomputes a digest vector from its inputs with the naive reference of SPEC 5 (node:crypto,
 * no src/identity code) and fails generation unless every wanted digest agrees.
 */
function checkDigestVector(v: Record<string, any>): void {
  const agree = (want: string, got: Buffer): void => expect(want, got.toString('hex'), v['desc']);
  if ('wantTagHex' in v) agree(v['wantTagHex'], reference.tag(v['purpose']));
  if ('wantElementDigest' in v) agree(v['wantElementDigest'], reference.element(v['canonical']));
  if ('wantListRoot' in v) {
    const root = reference.mth(v['elementDigests'].map(bytes));
    agree(v['wantListRoot'], root);
    agree(v['wantInputComponentDigest'], reference.listComponent('input', v['elementDigests'].length, root));
  }
  if ('wantComponentDigest' in v) {
    agree(v['wantComponentDigest'], v['salt'] === undefined
      ? reference.valueComponent(v['component'], v['canonical'])
      : reference.saltedValueComponent(v['component'], bytes(v['salt']), v['canonical']));
  }
  if ('wantRequestDigest' in v) {
    const request = reference.request(v['componentDigests'].map(bytes));
    agree(v['wantRequestDigest'], request);
    agree(v['wantRunDigest'], reference.run(request, bytes(v['servedComponentDigest'])));
  }
  if ('wantElementSalt' in v) agree(v['wantElementSalt'], reference.elementSalt(bytes(v['salt']), v['index']));
  if ('wantSaltedElementDigest' in v) agree(v['wantSaltedElementDigest'], reference.saltedElement(bytes(v['elementSalt']), v['canonical']));
}

function primitives(): VectorFile {
  const vectors: unknown[] = [];
  for (const purpose of ['element', 'request', 'run', 'component/model', 'component/input', 'component/served', 'salt', 'salted-element', 'salted-component/parameters']) {
    vectors.push({
      desc: `domain tag for "${purpose}"`,
      spec: '5.1',
      purpose,
      wantTagHex: toHex(domainTag(purpose)),
    });
  }
  for (const canonical of ['"hello"', '{"content":"Hi","role":"user"}', '[]', '{"text":"été 🌍"}']) {
    vectors.push({
      desc: 'element digest of one canonical element',
      spec: '5.2',
      canonical,
      canonicalHex: toHex(utf8.encode(canonical)),
      wantElementDigest: toHex(elementDigest(canonical)),
    });
  }
  for (let count = 0; count <= 5; count++) {
    const elements = Array.from({ length: count }, (_, index) => elementDigest(JSON.stringify(`element ${index}`)));
    vectors.push({
      desc: `list root and input component digest of ${count} element digest(s)`,
      spec: '5.3',
      elementDigests: elements.map(toHex),
      wantListRoot: toHex(listRoot(elements)),
      wantInputComponentDigest: toHex(listComponentDigest('input', count, listRoot(elements))),
    });
  }
  for (const [name, value] of [
    ['model', { name: 'm' }],
    ['parameters', { temperature: 0.7 }],
    ['configuration', {}],
  ] as const) {
    vectors.push({
      desc: `value component digest of ${name}`,
      spec: '5.4',
      component: name,
      canonical: canonicalize(value),
      wantComponentDigest: toHex(valueComponentDigest(name, canonicalize(value))),
    });
  }
  const seven = Array.from({ length: 7 }, (_, index) => elementDigest(String(index)));
  const request = requestDigest(seven);
  const served = valueComponentDigest('served', '{}');
  vectors.push({
    desc: 'request digest over seven component digests, then run digest with an empty served object',
    spec: '5.5',
    componentDigests: seven.map(toHex),
    servedComponentDigest: toHex(served),
    wantRequestDigest: toHex(request),
    wantRunDigest: toHex(runDigest(request, served)),
  });
  for (const vector of vectors) checkDigestVector(vector as Record<string, unknown>);
  return {
    path: 'identity/digest-primitives.json',
    content: { desc: 'The digest building blocks, byte by byte', spec: '5', generated: true, vectors },
  };
}

/**
 * How a vector's identities compare with those of another vector (by `desc`): the intended outcome,
 * asserted before the file is written and written into it as `wantComparison`.
 */
interface Comparison {
  with: string;
  requestId: 'same' | 'different';
  runId: 'same' | 'different' | 'absent';
}

const BASE_DESC = 'a complete local run with derived and reported served facts';
const vs = (requestId: Comparison['requestId'], runId: Comparison['runId'], other = BASE_DESC): Comparison => ({ with: other, requestId, runId });

const COMPOSITIONS: Array<[string, string, unknown, Comparison?]> = [
  ['the smallest valid composition', '2', MINIMAL],
  [BASE_DESC, '7', BASE],
  ['BASE without served facts: a request identity only', '5.5', variant((c) => void delete c['served']), vs('same', 'absent')],
  ['BASE with two input messages swapped: lists are ordered', '2.2', variant((c) => {
    const input = c['input'] as unknown[];
    [input[0], input[1]] = [input[1]!, input[0]!];
  }), vs('different', 'different')],
  ['BASE with context documents reordered', '2.2', variant((c) => void (c['context'] as unknown[]).reverse()), vs('different', 'different')],
  ['BASE with parameters written in another member order: same identity', '3.4', variant((c) => {
    c['parameters'] = { seed: '18446744073709551615', max_tokens: 256, top_p: 1, temperature: 0.2 };
  }), vs('same', 'same')],
  ['BASE with temperature 0.2 written as 2e-1: same number, same identity', '3.4', variant((c) => {
    (c['parameters'] as Record<string, unknown>)['temperature'] = 2e-1;
  }), vs('same', 'same')],
  ['BASE with one more excluded field: identity unchanged', '2.4', variant((c) => {
    c['excluded'] = { stream: true, user: 'u-123' };
  }), vs('same', 'same')],
  ['BASE with an empty excluded object: identity unchanged', '2.4', variant((c) => {
    c['excluded'] = {};
  }), vs('same', 'same')],
  ['BASE with a different reported runtime: same request identity, different run identity', '5.5', variant((c) => {
    (c['served'] as Record<string, { value: unknown }>)['runtime']!.value = 'llama.cpp b4501';
  }), vs('same', 'different')],
  ['BASE with the runtime derived instead of reported: the source is hashed', '2.3', variant((c) => {
    (c['served'] as Record<string, { source: string }>)['runtime']!.source = 'derived';
  }), vs('same', 'different')],
  ['BASE with a served fact whose value is null: allowed, and hashed', '2.3', variant((c) => {
    (c['served'] as Record<string, unknown>)['speed'] = { source: 'reported', value: null };
  }), vs('same', 'different')],
  ['BASE with an empty served object: served, no fact known', '2.3', variant((c) => void (c['served'] = {})), vs('same', 'different')],
  ['BASE with the system prompt in NFD instead of NFC: code points are hashed as given', '3.4', variant((c) => {
    c['system'] = ['Re\u0301ponds en franc\u0327ais.'];
  }), vs('different', 'different', 'BASE with the system prompt in NFC')],
  ['BASE with the system prompt in NFC', '3.4', variant((c) => {
    c['system'] = ['R\u00e9ponds en fran\u00e7ais.'];
  }), vs('different', 'different')],
  ['an empty string and an absent element differ: system [""]', '2.2', variant((c) => void (c['system'] = [''])), vs('different', 'different', 'an empty system list')],
  ['an empty system list', '2.2', variant((c) => void (c['system'] = [])), vs('different', 'different')],
  ['BASE with the input salted: salted element digests, root and component digest as in 5.3 and 5.4', '5.6', variant((c) => {
    c['salts'] = { input: SALT_A };
  }), vs('different', 'different')],
  ['BASE with the parameters salted: a salted value component', '5.6', variant((c) => {
    c['salts'] = { parameters: SALT_A };
  }), vs('different', 'different')],
  ['BASE with the system instructions salted with salt A', '5.6', variant((c) => {
    c['salts'] = { system: SALT_A };
  }), vs('different', 'different')],
  ['BASE with the system instructions salted with salt B: same content, another salt, another identity', '5.6', variant((c) => {
    c['salts'] = { system: SALT_B };
  }), vs('different', 'different', 'BASE with the system instructions salted with salt A')],
  ['BASE with every request component salted', '5.6', variant((c) => {
    c['salts'] = { model: SALT_A, system: SALT_B, input: SALT_A, context: SALT_B, tools: SALT_A, parameters: SALT_B, configuration: SALT_A };
  }), vs('different', 'different')],
  ['BASE with an empty "salts" object: nothing salted, the identity of BASE', '2.5', variant((c) => {
    c['salts'] = {};
  }), vs('same', 'same')],
];

function compare(a: { requestId: string; runId: string | null }, b: { requestId: string; runId: string | null }, other: string): Comparison {
  return {
    with: other,
    requestId: a.requestId === b.requestId ? 'same' : 'different',
    runId: a.runId === null ? 'absent' : a.runId === b.runId ? 'same' : 'different',
  };
}

function documents(): VectorFile {
  const identities = new Map(COMPOSITIONS.map(([desc, , composition]) => [desc, computeIdentity(composition)]));
  const vectors = COMPOSITIONS.map(([desc, spec, composition, intended]) => {
    const identity = identities.get(desc)!;
    expect({ requestId: identity.requestId, runId: identity.runId }, reference.identityOf(composition as Record<string, unknown>), desc);
    if (intended === undefined) return { desc, spec, composition, wantIdentity: identity };
    const other = identities.get(intended.with);
    if (other === undefined) throw new Error(`vector "${desc}": no vector "${intended.with}"`);
    expect(compare(identity, other, intended.with), intended, desc);
    return { desc, spec, composition, wantIdentity: identity, wantComparison: intended };
  });
  return {
    path: 'identity/compositions.json',
    content: {
      desc: 'Compositions and their complete identity documents (SPEC 7); wantComparison says which identities equal those of another vector',
      spec: '7',
      generated: true,
      vectors,
    },
  };
}

const HUGE_NAME = 'n'.repeat(100);
const CUT_NAME = `${'n'.repeat(64)}'\u2026`;

/** Rejected compositions: [desc, spec section, composition, intended code, intended path]. */
const BAD_COMPOSITIONS: Array<[string, string, unknown, string, string]> = [
  ['not an object', '2.1', [], 'ERR_COMPOSITION_INVALID', '$'],
  ['unknown version', '8', { ...MINIMAL, version: 'runprint/v2' }, 'ERR_COMPOSITION_VERSION', "$['version']"],
  ['an unknown version with an unknown member: the version is checked first', '2.1', { version: 'runprint/v2', foo: 1 }, 'ERR_COMPOSITION_VERSION', "$['version']"],
  ['an unknown version without any component: the version is checked first', '2.1', { version: 'runprint/v1.1' }, 'ERR_COMPOSITION_VERSION', "$['version']"],
  ['missing version', '2.1', (({ version, ...rest }) => rest)(MINIMAL), 'ERR_COMPOSITION_INVALID', "$['version']"],
  ['a version that is not a string', '2.1', { ...MINIMAL, version: 1 }, 'ERR_COMPOSITION_INVALID', "$['version']"],
  ['missing a component', '2.1', (({ context, ...rest }) => rest)(MINIMAL), 'ERR_COMPOSITION_INVALID', "$['context']"],
  ['unknown top-level member', '2.1', { ...MINIMAL, prompt: 'x' }, 'ERR_COMPOSITION_INVALID', "$['prompt']"],
  ['two unknown members: the least name is reported', '2.1', { zeta: 1, ...MINIMAL, alpha: 2 }, 'ERR_COMPOSITION_INVALID', "$['alpha']"],
  ['an unknown member and a missing component: the unknown member is reported', '2.1', { ...(({ tools, ...rest }) => rest)(MINIMAL), prompt: 'x' }, 'ERR_COMPOSITION_INVALID', "$['prompt']"],
  ['a missing parameters and a system that is an object: system comes first in request order', '2.1', { ...(({ parameters, ...rest }) => rest)(MINIMAL), system: {} }, 'ERR_COMPOSITION_INVALID', "$['system']"],
  ['an unknown member named by 100 code points: the path cuts it at 64', '1.3', { ...MINIMAL, [HUGE_NAME]: 1 }, 'ERR_COMPOSITION_INVALID', `$['${CUT_NAME}]`],
  ['a list component that is an object', '2.1', { ...MINIMAL, input: {} }, 'ERR_COMPOSITION_INVALID', "$['input']"],
  ['a value component that is an array', '2.1', { ...MINIMAL, parameters: [] }, 'ERR_COMPOSITION_INVALID', "$['parameters']"],
  ['model without a name', '2.1', { ...MINIMAL, model: { digest: { sha256: '00' } } }, 'ERR_COMPOSITION_INVALID', "$['model']['name']"],
  ['model with an empty name', '2.1', { ...MINIMAL, model: { name: '' } }, 'ERR_COMPOSITION_INVALID', "$['model']['name']"],
  ['served that is an array', '2.3', { ...MINIMAL, served: [] }, 'ERR_COMPOSITION_INVALID', "$['served']"],
  ['a served fact that is a string', '2.3', { ...MINIMAL, served: { model: 'x' } }, 'ERR_COMPOSITION_INVALID', "$['served']['model']"],
  ['a served fact with an unknown source', '2.3', { ...MINIMAL, served: { model: { source: 'guessed', value: 'x' } } }, 'ERR_COMPOSITION_INVALID', "$['served']['model']['source']"],
  ['a served fact without a source', '2.3', { ...MINIMAL, served: { model: { value: 'x' } } }, 'ERR_COMPOSITION_INVALID', "$['served']['model']['source']"],
  ['a served fact without a value', '2.3', { ...MINIMAL, served: { model: { source: 'reported' } } }, 'ERR_COMPOSITION_INVALID', "$['served']['model']['value']"],
  ['a served fact with an extra member', '2.3', { ...MINIMAL, served: { model: { source: 'reported', value: 'x', note: 1 } } }, 'ERR_COMPOSITION_INVALID', "$['served']['model']['note']"],
  ['a served fact with an extra member and an unknown source: the extra member is reported', '2.3', { ...MINIMAL, served: { model: { source: 'guessed', value: 'x', note: 1 } } }, 'ERR_COMPOSITION_INVALID', "$['served']['model']['note']"],
  ['two bad served facts: the least name is reported', '2.3', { ...MINIMAL, served: { zeta: { source: 'x', value: 1 }, alpha: { source: 'y', value: 1 } } }, 'ERR_COMPOSITION_INVALID', "$['served']['alpha']['source']"],
  ['excluded that is not an object', '2.4', { ...MINIMAL, excluded: 'stream' }, 'ERR_COMPOSITION_INVALID', "$['excluded']"],
  ['excluded that is an array', '2.4', { ...MINIMAL, excluded: ['stream'] }, 'ERR_COMPOSITION_INVALID', "$['excluded']"],
  ['an unsafe integer inside an element', '3.2', { ...MINIMAL, input: [{ n: 2 ** 53 }] }, 'ERR_JSON_UNSAFE_INTEGER', "$['input'][0]['n']"],
  ['an unsafe integer in excluded: not hashed, but still JSON', '2.4', { ...MINIMAL, excluded: { seed: 2 ** 53 } }, 'ERR_JSON_UNSAFE_INTEGER', "$['excluded']['seed']"],
  ['an unsafe integer in input and in configuration: input comes first', '2.1', { ...MINIMAL, input: [2 ** 53], configuration: { n: 2 ** 53 } }, 'ERR_JSON_UNSAFE_INTEGER', "$['input'][0]"],
  ['salts that is not an object', '2.5', { ...MINIMAL, salts: [SALT_A] }, 'ERR_COMPOSITION_INVALID', "$['salts']"],
  ['a salt for the served facts', '2.5', { ...MINIMAL, salts: { served: SALT_A } }, 'ERR_COMPOSITION_INVALID', "$['salts']['served']"],
  ['a salt for an unknown component', '2.5', { ...MINIMAL, salts: { prompt: SALT_A } }, 'ERR_COMPOSITION_INVALID', "$['salts']['prompt']"],
  ['a salt in uppercase hex', '2.5', { ...MINIMAL, salts: { system: SALT_A.toUpperCase() } }, 'ERR_COMPOSITION_INVALID', "$['salts']['system']"],
  ['a salt of 31 bytes', '2.5', { ...MINIMAL, salts: { system: SALT_A.slice(2) } }, 'ERR_COMPOSITION_INVALID', "$['salts']['system']"],
  ['a salt that is a number', '2.5', { ...MINIMAL, salts: { system: 1 } }, 'ERR_COMPOSITION_INVALID', "$['salts']['system']"],
];

function badCompositions(): VectorFile {
  return {
    path: 'identity/composition-errors.json',
    content: {
      desc: 'Compositions that must be rejected, with the error code and path (SPEC 2.1 gives the order of checks)',
      spec: '2',
      generated: true,
      vectors: BAD_COMPOSITIONS.map(([desc, spec, composition, code, path]) => {
        expect(failure(() => computeIdentity(composition)), { code, path }, desc);
        return { desc, spec, composition, wantErr: code, wantPath: path };
      }),
    },
  };
}

const A64 = 'a'.repeat(64);
/** Identity strings: [desc, text, intended outcome: the kind it parses as, or the error code]. */
const STRINGS: Array<[string, string, 'req' | 'run' | 'ERR_IDENTITY_MALFORMED' | 'ERR_IDENTITY_UNSUPPORTED_VERSION']> = [
  ['canonical request identity', `rp-req-v1-sha256-${'0'.repeat(64)}`, 'req'],
  ['canonical run identity', `rp-run-v1-sha256-${'ab'.repeat(32)}`, 'run'],
  ['uppercase hex', `rp-run-v1-sha256-${'AB'.repeat(32)}`, 'ERR_IDENTITY_MALFORMED'],
  ['uppercase scheme', `RP-run-v1-sha256-${'ab'.repeat(32)}`, 'ERR_IDENTITY_MALFORMED'],
  ['digest one digit short', `rp-run-v1-sha256-${'a'.repeat(63)}`, 'ERR_IDENTITY_MALFORMED'],
  ['digest one digit long', `rp-run-v1-sha256-${'a'.repeat(65)}`, 'ERR_IDENTITY_MALFORMED'],
  ['unknown kind', `rp-out-v1-sha256-${A64}`, 'ERR_IDENTITY_MALFORMED'],
  ['unknown kind with an unknown version: the kind is checked first', `rp-out-v2-sha256-${A64}`, 'ERR_IDENTITY_MALFORMED'],
  ['future version', `rp-run-v2-sha256-${A64}`, 'ERR_IDENTITY_UNSUPPORTED_VERSION'],
  ['future version with a digest of another length: well-formed for another version', 'rp-run-v2-sha256-ABC123', 'ERR_IDENTITY_UNSUPPORTED_VERSION'],
  ['future version with an empty digest: well-formed for another version', 'rp-req-v10-sha256-', 'ERR_IDENTITY_UNSUPPORTED_VERSION'],
  ['version with a leading zero', `rp-run-v01-sha256-${A64}`, 'ERR_IDENTITY_MALFORMED'],
  ['version 0', `rp-run-v0-sha256-${A64}`, 'ERR_IDENTITY_MALFORMED'],
  ['other algorithm', `rp-run-v1-sha512-${'a'.repeat(128)}`, 'ERR_IDENTITY_UNSUPPORTED_VERSION'],
  ['other algorithm in uppercase: not well-formed', `rp-run-v1-SHA512-${'a'.repeat(128)}`, 'ERR_IDENTITY_MALFORMED'],
  ['a digest with a character outside [0-9A-Za-z]', `rp-run-v2-sha256-${'a'.repeat(63)}_`, 'ERR_IDENTITY_MALFORMED'],
  ['colon separators', `rp:run:v1:sha256:${A64}`, 'ERR_IDENTITY_MALFORMED'],
  ['trailing newline', `rp-run-v1-sha256-${A64}\n`, 'ERR_IDENTITY_MALFORMED'],
  ['leading space', ` rp-run-v1-sha256-${A64}`, 'ERR_IDENTITY_MALFORMED'],
  ['empty string', '', 'ERR_IDENTITY_MALFORMED'],
];

function identityStrings(): VectorFile {
  const vectors = STRINGS.map(([desc, text, intended]) => {
    try {
      const parsed = parseIdentity(text);
      expect(parsed.kind, intended, desc);
      return { desc, spec: '6', text, want: { kind: parsed.kind, version: parsed.version, algorithm: parsed.algorithm, digest: toHex(parsed.digest) } };
    } catch (error) {
      if (!(error instanceof RunprintError)) throw error;
      expect(error.code, intended, desc);
      return { desc, spec: '6', text, wantErr: error.code };
    }
  });
  return {
    path: 'identity/identity-strings.json',
    content: { desc: 'Identity strings: the one canonical spelling and rejected spellings', spec: '6', generated: true, vectors },
  };
}

type Change = [change: string, component: string, path: string];

function diffs(): VectorFile {
  /** [desc, a, b, intended differences as (change, component, path); none means equal]. */
  const cases: Array<[string, unknown, unknown, Change[]]> = [
    ['identical compositions', BASE, structuredClone(BASE), []],
    ['only an excluded field differs: equal', BASE, variant((c) => void (c['excluded'] = { stream: true })), []],
    ['a parameter changed', BASE, variant((c) => void ((c['parameters'] as Record<string, unknown>)['temperature'] = 0.7)), [['changed', 'parameters', "$['parameters']['temperature']"]]],
    ['a message text changed', BASE, variant((c) => void ((c['input'] as Array<Record<string, unknown>>)[2]!['content'] = 'Und der Montblanc?')), [['changed', 'input', "$['input'][2]['content']"]]],
    ['a message appended', BASE, variant((c) => void (c['input'] as unknown[]).push({ role: 'user', content: 'Danke!' })), [['added', 'input', "$['input'][3]"]]],
    ['a context document removed', BASE, variant((c) => void (c['context'] as unknown[]).shift()), [['removed', 'context', "$['context'][0]"]]],
    ['two messages swapped', BASE, variant((c) => {
      const input = c['input'] as unknown[];
      [input[0], input[1]] = [input[1]!, input[0]!];
    }), [['moved', 'input', "$['input'][1]"]]],
    ['a served fact changed', BASE, variant((c) => void ((c['served'] as Record<string, { value: unknown }>)['runtime']!.value = 'vllm 0.9')), [['changed', 'served', "$['served']['runtime']['value']"]]],
    ['a configuration member named by 100 code points added: a diff path is exact, never cut', BASE, variant((c) => void ((c['configuration'] as Record<string, unknown>)[HUGE_NAME] = 1)), [['added', 'configuration', `$['configuration']['${HUGE_NAME}']`]]],
    ['only a salt differs: reported at the salts member, never showing the salt', variant((c) => void (c['salts'] = { system: SALT_A })), variant((c) => void (c['salts'] = { system: SALT_B })), [['changed', 'system', "$['salts']['system']"]]],
  ];
  const vectors = cases.map(([desc, a, b, intended]) => {
    const result = diffCompositions(a, b);
    expect(result.equal, intended.length === 0, desc);
    expect(result.differences.map((d) => [d.change, d.component, d.path]), intended, desc);
    return { desc, spec: '10', a, b, wantEqual: result.equal, wantCompared: result.compared, wantDifferences: result.differences };
  });
  return {
    path: 'identity/diffs.json',
    content: { desc: 'Structural diffs of two compositions', spec: '10', generated: true, vectors },
  };
}

/** SPEC 5.6 (draft): the salted digests byte by byte, from a salt and canonical bytes. */
function saltedDigests(): VectorFile {
  const vectors: unknown[] = [];
  for (const [salt, index] of [[SALT_A, 0], [SALT_A, 1], [SALT_A, 2 ** 32], [SALT_B, 0]] as const) {
    vectors.push({
      desc: `element salt ${index} of a list salt`,
      spec: '5.6',
      salt,
      index,
      wantElementSalt: toHex(elementSalt(saltBytes(salt), index)),
    });
  }
  for (const canonical of ['"hello"', '{"content":"Hi","role":"user"}']) {
    const elementSaltHex = toHex(elementSalt(saltBytes(SALT_A), 0));
    vectors.push({
      desc: 'salted element digest of one canonical element with element salt 0 of salt A',
      spec: '5.6',
      elementSalt: elementSaltHex,
      canonical,
      wantSaltedElementDigest: toHex(saltedElementDigest(saltBytes(elementSaltHex), canonical)),
    });
  }
  for (const [name, value, salt] of [['parameters', { temperature: 0.7 }, SALT_A], ['parameters', { temperature: 0.7 }, SALT_B], ['model', { name: 'm' }, SALT_A]] as const) {
    vectors.push({
      desc: `salted value component digest of ${name}`,
      spec: '5.6',
      component: name,
      salt,
      canonical: canonicalize(value),
      wantComponentDigest: toHex(saltedValueComponentDigest(name, saltBytes(salt), canonicalize(value))),
    });
  }
  for (const vector of vectors) checkDigestVector(vector as Record<string, unknown>);
  return {
    path: 'identity/salted-digests.json',
    content: {
      desc: 'Salted commitments byte by byte: element salts, salted element digests, salted value component digests (salts are fixed test values)',
      spec: '5.6',
      generated: true,
      vectors,
    },
  };
}

export function generate(): VectorFile[] {
  return [primitives(), documents(), badCompositions(), identityStrings(), diffs(), saltedDigests()];
}
