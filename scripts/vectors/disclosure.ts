/** Generates testdata/disclosure/*.json: RFC 9162 inclusion proofs and disclosures verified against a receipt statement (SPEC 17). */
import { toHex } from '../../src/hash/sha256.ts';
import { computeIdentity } from '../../src/identity/identity.ts';
import { proveInclusion, verifyInclusion } from '../../src/merkle/inclusion.ts';
import { hashLeaf, rootFromLeafHashes } from '../../src/merkle/rfc6962.ts';
import { createDisclosure, type Reveal } from '../../src/receipt/disclosure.ts';
import { verifyDisclosure } from '../../src/receipt/disclosure-verify.ts';
import { buildStatement, type Statement } from '../../src/receipt/statement.ts';
import type { VectorFile } from '../generate-vectors.ts';
import { variant } from './fixtures/identity.ts';

// Fixed salts so the vectors are reproducible. Real salts come from createSalts (random); never
// reuse these.
export const SALTS = {
  system: '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
  input: '8a6f7e3c2b1d0e9f8a6f7e3c2b1d0e9f8a6f7e3c2b1d0e9f8a6f7e3c2b1d0e9f',
  parameters: 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00',
} as const;

/** The run of every disclosure vector: BASE with five input messages and three salted components. */
export function disclosureComposition(): Record<string, unknown> {
  return variant((c) => {
    (c['input'] as unknown[]).push(
      { role: 'assistant', content: 'Der Mont Blanc ist 4805 m hoch.' },
      { role: 'user', content: 'Welcher ist älter?' },
    );
    c['salts'] = { ...SALTS };
  });
}

/** The in-toto statement of a receipt for `composition` (unsigned: disclosures verify against the statement). */
export function statementOf(composition: unknown): Statement {
  return buildStatement({
    identity: computeIdentity(composition),
    requestedModel: 'llama-3.1-8b-instruct',
    output: {
      digest: { sha256: '11'.repeat(32) },
      rawDigest: { sha256: '22'.repeat(32) },
      finishReason: 'stop',
      usage: null,
      stream: false,
    },
    capture: 'sdk',
    runprintVersion: '0.1.0',
    startedOn: '2026-01-01T00:00:00Z',
    finishedOn: '2026-01-01T00:00:02Z',
  });
}

function inclusionVectors(): VectorFile {
  const vectors: unknown[] = [];
  const flip = (hex: string, bit: number) => {
    const bytes = Buffer.from(hex, 'hex');
    bytes[bit >> 3]! ^= 1 << (bit & 7);
    return bytes.toString('hex');
  };
  for (let size = 1; size <= 8; size++) {
    const leaves = Array.from({ length: size }, (_, i) => hashLeaf(new TextEncoder().encode(`leaf ${i}`)));
    const rootHash = toHex(rootFromLeafHashes(leaves));
    for (let index = 0; index < size; index++) {
      const proof = proveInclusion(leaves, index).map(toHex);
      const leafHash = toHex(leaves[index]!);
      const base = { spec: 'RFC 9162 2.1.3', leafHash, index, size, proof, rootHash };
      vectors.push({ desc: `size ${size}, index ${index}: valid`, ...base, leafHashes: leaves.map(toHex), wantValid: true });
      const broken: Array<[string, Record<string, unknown>]> = [
        ['leaf hash with one bit flipped', { leafHash: flip(leafHash, 7) }],
        ['root hash with one bit flipped', { rootHash: flip(rootHash, 255) }],
        ['index one past the last leaf', { index: size }],
        ['one hash too many', { proof: [...proof, rootHash] }],
      ];
      if (proof.length > 0) {
        broken.push(['last proof hash with one bit flipped', { proof: [...proof.slice(0, -1), flip(proof.at(-1)!, 0)] }]);
        broken.push(['one hash too few', { proof: proof.slice(0, -1) }]);
        broken.push([`index ${index === 0 ? 1 : index - 1} instead of ${index}`, { index: index === 0 ? 1 : index - 1 }]);
      }
      for (const [what, change] of broken) {
        const vector = { ...base, ...change };
        const valid = verifyInclusion(Buffer.from(vector.leafHash, 'hex'), vector.index, vector.size, vector.proof.map((h) => Buffer.from(h, 'hex')), Buffer.from(vector.rootHash, 'hex'));
        if (valid) throw new Error(`broken inclusion vector verifies: size ${size} index ${index}: ${what}`);
        vectors.push({ desc: `size ${size}, index ${index}: ${what}`, ...vector, wantValid: false });
      }
    }
  }
  return {
    path: 'disclosure/rfc9162-inclusion-proofs.json',
    content: {
      desc: 'RFC 9162 section 2.1.3 inclusion proofs over the leaf hashes SHA-256(0x00 || "leaf <i>"), every index of sizes 1 to 8, with broken variants that must not verify',
      spec: 'RFC 9162 2.1.3',
      generated: true,
      vectors,
    },
  };
}

type Change = (disclosure: Record<string, any>) => void;

function disclosureVectors(): VectorFile {
  const composition = disclosureComposition();
  const statement = statementOf(composition);
  const create = (reveal: Reveal[]) => createDisclosure(composition, { reveal }) as unknown as Record<string, any>;
  const input2 = (): Record<string, any> => create([{ component: 'input', index: 2 }]);
  const vectors: unknown[] = [];
  const expect = (desc: string, spec: string, disclosure: unknown, extra: Record<string, unknown> = {}) => {
    const against = 'statement' in extra ? extra['statement'] : 'predicate' in extra ? extra['predicate'] : statement;
    const input = 'disclosureText' in extra ? extra['disclosureText'] : disclosure;
    const report = verifyDisclosure(input, against);
    const failed = report.checks.find((check) => !check.ok);
    const vector: Record<string, unknown> = { desc, spec };
    if (!('disclosureText' in extra)) vector['disclosure'] = disclosure;
    Object.assign(vector, extra);
    if (report.ok) {
      vector['wantChecks'] = report.checks.map((check) => check.name);
      vector['wantRunId'] = report.runId;
    } else {
      vector['wantCheck'] = failed!.name;
      vector['wantErr'] = failed!.code;
    }
    vectors.push(vector);
  };
  const changed = (base: () => Record<string, any>, change: Change) => {
    const disclosure = base();
    change(disclosure);
    return disclosure;
  };

  expect('salted system instructions revealed whole, with the component salt', '17.2', create([{ component: 'system' }]));
  expect('element 2 of 5 of the salted input: the element, its own salt and the audit path, no other element', '17.2', input2());
  expect('element 0 of the unsalted context: no salt', '17.2', create([{ component: 'context', index: 0 }]));
  expect('the salted parameters and the unsalted model revealed whole', '17.2', create([{ component: 'model' }, { component: 'parameters' }]));
  expect('several parts at once: system, input 0 and 4, tools', '17.2', create([{ component: 'system' }, { component: 'input', index: 4 }, { component: 'input', index: 0 }, { component: 'tools' }]));
  expect('verified against the predicate alone', '17.3', input2(), { predicate: statement.predicate });

  // A revealed part that does not match the receipt.
  expect('element content changed', '17.3', changed(input2, (d) => void (d['elements'][0].element.content = 'Welcher ist höher?')));
  expect('salted element revealed without its salt', '17.3', changed(input2, (d) => void delete d['elements'][0].salt));
  expect('the list salt given instead of the element salt', '17.3', changed(input2, (d) => void (d['elements'][0].salt = SALTS.input)));
  expect('another element\'s salt', '17.3', changed(input2, (d) => {
    d['elements'][0].salt = (create([{ component: 'input', index: 3 }])['elements'] as Array<{ salt: string }>)[0]!.salt;
  }));
  expect('a proof hash with one bit flipped', '17.3', changed(input2, (d) => {
    const hash: string = d['elements'][0].proof[1];
    d['elements'][0].proof[1] = (Number.parseInt(hash[0]!, 16) ^ 1).toString(16) + hash.slice(1);
  }));
  expect('the proof one hash short', '17.3', changed(input2, (d) => void d['elements'][0].proof.pop()));
  expect('another index for the same element', '17.3', changed(input2, (d) => void (d['elements'][0].index = 3)));
  expect('a size other than the list count in the receipt', '17.3', changed(input2, (d) => void (d['elements'][0].size = 6)));
  expect('system instructions changed by one character', '17.3', changed(() => create([{ component: 'system' }]), (d) => {
    d['components'].system.value[0] = `${d['components'].system.value[0]} `;
  }));
  expect('salted component revealed without its salt', '17.3', changed(() => create([{ component: 'parameters' }]), (d) => void delete d['components'].parameters.salt));
  expect('salted component with another salt', '17.3', changed(() => create([{ component: 'parameters' }]), (d) => void (d['components'].parameters.salt = SALTS.system)));
  expect('unsalted component revealed with a salt', '17.3', changed(() => create([{ component: 'model' }]), (d) => void (d['components'].model.salt = SALTS.system)));
  const otherRun = computeIdentity({ ...composition, served: {} }).runId;
  expect('a disclosure about another run', '17.3', changed(input2, (d) => void (d['runId'] = otherRun)));

  // A disclosure of the wrong shape.
  const invalid: Array<[string, Change]> = [
    ['unknown top-level member', (d) => void (d['note'] = 'verified')],
    ['unknown member of a revealed element', (d) => void (d['elements'][0].digest = { sha256: '00'.repeat(32) })],
    ['another version', (d) => void (d['version'] = 'runprint.disclosure/v2')],
    ['runId that is a request identity', (d) => void (d['runId'] = d['runId'].replace('rp-run-', 'rp-req-'))],
    ['reveals nothing', (d) => void (d['elements'] = [])],
    ['the same element twice', (d) => void d['elements'].push(structuredClone(d['elements'][0]))],
    ['a component revealed whole and by element', (d) => void (d['components'] = { input: { salt: SALTS.input, value: [] } })],
    ['an uppercase salt', (d) => void (d['elements'][0].salt = d['elements'][0].salt.toUpperCase())],
    ['index not less than size', (d) => void (d['elements'][0].index = 5)],
    ['an element of a value component', (d) => void (d['elements'][0].component = 'parameters')],
    ['a proof hash that is not hex', (d) => void (d['elements'][0].proof[0] = 'z'.repeat(64))],
    ['a proof of 54 hashes', (d) => void (d['elements'][0].proof = Array.from({ length: 54 }, () => '00'.repeat(32)))],
    ['a list component revealed as an object', (d) => void (d['components'] = { system: { value: {} } })],
    ['a component that is not a request component', (d) => void (d['components'] = { served: { value: {} } })],
  ];
  for (const [desc, change] of invalid) expect(desc, '17.1', changed(input2, change));
  const text = JSON.stringify(input2(), null, 2);
  expect('a duplicate member name in the disclosure text', '17.1', undefined, { disclosureText: text.replace('"version":', '"runId": "x",\n  "version":') });

  // A receipt whose digests do not add up, or is not a statement.
  const badStatement = structuredClone(statement) as unknown as Record<string, any>;
  badStatement['predicate'].buildDefinition.resolvedDependencies[2].annotations.elements[1].sha256 = '00'.repeat(32);
  expect('a receipt whose input element digests do not give the list root', '17.3', input2(), { statement: badStatement });
  const wrongType = { ...structuredClone(statement), _type: 'https://in-toto.io/Statement/v0.1' };
  expect('a receipt statement of another type', '17.3', input2(), { statement: wrongType });

  return {
    path: 'disclosure/disclosures.json',
    content: {
      desc: 'Disclosures verified against the statement of a receipt (in "statement" at the top, unless a vector has its own "statement" or "predicate"); salts are fixed test values',
      spec: '17',
      generated: true,
      composition,
      statement,
      vectors,
    },
  };
}

export function generate(): VectorFile[] {
  return [inclusionVectors(), disclosureVectors()];
}
