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
import { BASE, MINIMAL, SALT_A, SALT_B, variant } from './fixtures/identity.ts';

function errorCode(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof RunprintError) return error.code;
    throw error;
  }
  throw new Error('expected an error');
}

const utf8 = new TextEncoder();

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
  return {
    path: 'identity/digest-primitives.json',
    content: { desc: 'The digest building blocks, byte by byte', spec: '5', generated: true, vectors },
  };
}

const COMPOSITIONS: Array<[string, string, unknown]> = [
  ['the smallest valid composition', '2', MINIMAL],
  ['a complete local run with derived and reported served facts', '7', BASE],
  ['BASE without served facts: a request identity only', '5.5', variant((c) => void delete c['served'])],
  ['BASE with two input messages swapped: lists are ordered', '2.2', variant((c) => {
    const input = c['input'] as unknown[];
    [input[0], input[1]] = [input[1]!, input[0]!];
  })],
  ['BASE with context documents reordered', '2.2', variant((c) => void (c['context'] as unknown[]).reverse())],
  ['BASE with parameters written in another member order: same identity', '3.4', variant((c) => {
    c['parameters'] = { seed: '18446744073709551615', max_tokens: 256, top_p: 1, temperature: 0.2 };
  })],
  ['BASE with temperature 0.2 written as 2e-1: same number, same identity', '3.4', variant((c) => {
    (c['parameters'] as Record<string, unknown>)['temperature'] = 2e-1;
  })],
  ['BASE with one more excluded field: identity unchanged', '2.4', variant((c) => {
    c['excluded'] = { stream: true, user: 'u-123' };
  })],
  ['BASE with a different reported runtime: same request identity, different run identity', '5.5', variant((c) => {
    (c['served'] as Record<string, { value: unknown }>)['runtime']!.value = 'llama.cpp b4501';
  })],
  ['BASE with the system prompt in NFD instead of NFC: code points are hashed as given', '3.4', variant((c) => {
    c['system'] = ['Re\u0301ponds en franc\u0327ais.'];
  })],
  ['BASE with the system prompt in NFC', '3.4', variant((c) => {
    c['system'] = ['R\u00e9ponds en fran\u00e7ais.'];
  })],
  ['an empty string and an absent element differ: system [""]', '2.2', variant((c) => void (c['system'] = ['']))],
  ['an empty system list', '2.2', variant((c) => void (c['system'] = []))],
  ['BASE with the input salted: salted element digests, root and component digest as in 5.3 and 5.4', '5.6', variant((c) => {
    c['salts'] = { input: SALT_A };
  })],
  ['BASE with the parameters salted: a salted value component', '5.6', variant((c) => {
    c['salts'] = { parameters: SALT_A };
  })],
  ['BASE with the system instructions salted with salt A', '5.6', variant((c) => {
    c['salts'] = { system: SALT_A };
  })],
  ['BASE with the system instructions salted with salt B: same content, another salt, another identity', '5.6', variant((c) => {
    c['salts'] = { system: SALT_B };
  })],
  ['BASE with every request component salted', '5.6', variant((c) => {
    c['salts'] = { model: SALT_A, system: SALT_B, input: SALT_A, context: SALT_B, tools: SALT_A, parameters: SALT_B, configuration: SALT_A };
  })],
  ['BASE with an empty "salts" object: nothing salted, the identity of BASE', '2.5', variant((c) => {
    c['salts'] = {};
  })],
];

function documents(): VectorFile {
  const vectors = COMPOSITIONS.map(([desc, spec, composition]) => {
    const identity = computeIdentity(composition);
    return { desc, spec, composition, wantIdentity: identity };
  });
  return {
    path: 'identity/compositions.json',
    content: {
      desc: 'Compositions and their complete identity documents (SPEC 7)',
      spec: '7',
      generated: true,
      vectors,
    },
  };
}

const BAD_COMPOSITIONS: Array<[string, string, unknown]> = [
  ['not an object', '2', []],
  ['unknown version', '8', { ...MINIMAL, version: 'runprint/v2' }],
  ['missing version', '2', (({ version, ...rest }) => rest)(MINIMAL)],
  ['missing a component', '2', (({ context, ...rest }) => rest)(MINIMAL)],
  ['unknown top-level member', '2', { ...MINIMAL, prompt: 'x' }],
  ['a list component that is an object', '2', { ...MINIMAL, input: {} }],
  ['a value component that is an array', '2', { ...MINIMAL, parameters: [] }],
  ['model without a name', '2', { ...MINIMAL, model: { digest: { sha256: '00' } } }],
  ['model with an empty name', '2', { ...MINIMAL, model: { name: '' } }],
  ['a served fact with an unknown source', '2.3', { ...MINIMAL, served: { model: { source: 'guessed', value: 'x' } } }],
  ['a served fact without a value', '2.3', { ...MINIMAL, served: { model: { source: 'reported' } } }],
  ['a served fact with an extra member', '2.3', { ...MINIMAL, served: { model: { source: 'reported', value: 'x', note: 1 } } }],
  ['excluded that is not an object', '2.4', { ...MINIMAL, excluded: 'stream' }],
  ['an unsafe integer inside an element', '3.2', { ...MINIMAL, input: [{ n: 2 ** 53 }] }],
  ['salts that is not an object', '2.5', { ...MINIMAL, salts: [SALT_A] }],
  ['a salt for the served facts', '2.5', { ...MINIMAL, salts: { served: SALT_A } }],
  ['a salt for an unknown component', '2.5', { ...MINIMAL, salts: { prompt: SALT_A } }],
  ['a salt in uppercase hex', '2.5', { ...MINIMAL, salts: { system: SALT_A.toUpperCase() } }],
  ['a salt of 31 bytes', '2.5', { ...MINIMAL, salts: { system: SALT_A.slice(2) } }],
  ['a salt that is a number', '2.5', { ...MINIMAL, salts: { system: 1 } }],
];

function badCompositions(): VectorFile {
  return {
    path: 'identity/composition-errors.json',
    content: {
      desc: 'Compositions that must be rejected, with the error code',
      spec: '2',
      generated: true,
      vectors: BAD_COMPOSITIONS.map(([desc, spec, composition]) => ({
        desc,
        spec,
        composition,
        wantErr: errorCode(() => computeIdentity(composition)),
      })),
    },
  };
}

const STRINGS: Array<[string, string]> = [
  ['canonical request identity', `rp-req-v1-sha256-${'0'.repeat(64)}`],
  ['canonical run identity', `rp-run-v1-sha256-${'ab'.repeat(32)}`],
  ['uppercase hex', `rp-run-v1-sha256-${'AB'.repeat(32)}`],
  ['uppercase scheme', `RP-run-v1-sha256-${'ab'.repeat(32)}`],
  ['digest one digit short', `rp-run-v1-sha256-${'a'.repeat(63)}`],
  ['digest one digit long', `rp-run-v1-sha256-${'a'.repeat(65)}`],
  ['unknown kind', `rp-out-v1-sha256-${'a'.repeat(64)}`],
  ['future version', `rp-run-v2-sha256-${'a'.repeat(64)}`],
  ['version with a leading zero', `rp-run-v01-sha256-${'a'.repeat(64)}`],
  ['other algorithm', `rp-run-v1-sha512-${'a'.repeat(128)}`],
  ['colon separators', `rp:run:v1:sha256:${'a'.repeat(64)}`],
  ['trailing newline', `rp-run-v1-sha256-${'a'.repeat(64)}\n`],
  ['leading space', ` rp-run-v1-sha256-${'a'.repeat(64)}`],
  ['empty string', ''],
];

function identityStrings(): VectorFile {
  const vectors = STRINGS.map(([desc, text]) => {
    try {
      const parsed = parseIdentity(text);
      return { desc, spec: '6', text, want: { kind: parsed.kind, version: parsed.version, algorithm: parsed.algorithm, digest: toHex(parsed.digest) } };
    } catch (error) {
      if (!(error instanceof RunprintError)) throw error;
      return { desc, spec: '6', text, wantErr: error.code };
    }
  });
  return {
    path: 'identity/identity-strings.json',
    content: { desc: 'Identity strings: the one canonical spelling and rejected spellings', spec: '6', generated: true, vectors },
  };
}

function diffs(): VectorFile {
  const cases: Array<[string, unknown, unknown]> = [
    ['identical compositions', BASE, structuredClone(BASE)],
    ['only an excluded field differs: equal', BASE, variant((c) => void (c['excluded'] = { stream: true }))],
    ['a parameter changed', BASE, variant((c) => void ((c['parameters'] as Record<string, unknown>)['temperature'] = 0.7))],
    ['a message text changed', BASE, variant((c) => void ((c['input'] as Array<Record<string, unknown>>)[2]!['content'] = 'Und der Montblanc?'))],
    ['a message appended', BASE, variant((c) => void (c['input'] as unknown[]).push({ role: 'user', content: 'Danke!' }))],
    ['a context document removed', BASE, variant((c) => void (c['context'] as unknown[]).shift())],
    ['two messages swapped', BASE, variant((c) => {
      const input = c['input'] as unknown[];
      [input[0], input[1]] = [input[1]!, input[0]!];
    })],
    ['a served fact changed', BASE, variant((c) => void ((c['served'] as Record<string, { value: unknown }>)['runtime']!.value = 'vllm 0.9'))],
  ];
  const vectors = cases.map(([desc, a, b]) => {
    const result = diffCompositions(a, b);
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
