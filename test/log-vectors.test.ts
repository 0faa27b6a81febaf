/** testdata/log/*.json: every vector gives its expected result or its error code (SPEC 18). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LogError } from '../src/errors.ts';
import {
  entriesPath,
  formatEntryBundle,
  parseCheckpoint,
  parseCosignerKey,
  parseEntryBundle,
  parseNoteVerifier,
  parseTilePath,
  tilePath,
  verifyNote,
  verifyTlogProof,
} from '../src/log/index.ts';
import { verifyConsistency, verifyInclusion } from '../src/merkle/index.ts';

interface Vector {
  desc: string;
  wantErr?: string;
  [key: string]: unknown;
}

function vectors(name: string): Vector[] {
  const file = JSON.parse(readFileSync(new URL(`../testdata/log/${name}.json`, import.meta.url), 'utf8')) as { vectors: Vector[] };
  assert.ok(file.vectors.length > 0);
  return file.vectors;
}

const bytes = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));
const hex = (value: Uint8Array) => Buffer.from(value).toString('hex');

async function codeOf(run: () => unknown): Promise<string | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof LogError, `${String(error)}`);
    assert.ok(error.message.length > 0 && !error.message.includes('\n'));
    return error.code;
  }
}

test('inclusion-proofs.json', () => {
  for (const v of vectors('inclusion-proofs')) {
    const valid = verifyInclusion(bytes(v.leafHash as string), v.index as number, v.size as number, (v.proof as string[]).map(bytes), bytes(v.rootHash as string));
    assert.equal(valid ? undefined : 'ERR_LOG_PROOF_INVALID', v.wantErr, v.desc);
  }
});

test('consistency-proofs.json', () => {
  for (const v of vectors('consistency-proofs')) {
    const valid = verifyConsistency(v.oldSize as number, v.newSize as number, (v.proof as string[]).map(bytes), bytes(v.oldRoot as string), bytes(v.newRoot as string));
    assert.equal(valid ? undefined : 'ERR_LOG_INCONSISTENT', v.wantErr, v.desc);
  }
});

test('checkpoints.json', async () => {
  for (const v of vectors('checkpoints')) {
    if (v.wantErr !== undefined) {
      assert.equal(await codeOf(() => parseCheckpoint(v.inputText as string)), v.wantErr, v.desc);
      continue;
    }
    const checkpoint = parseCheckpoint(v.inputText as string);
    const want = v.want as { origin: string; size: number; rootHash: string; extensions?: string[] };
    assert.deepEqual({ ...checkpoint, rootHash: Buffer.from(checkpoint.rootHash).toString('base64') }, want, v.desc);
  }
});

test('signed-notes.json', async () => {
  for (const v of vectors('signed-notes')) {
    const verifiers = await Promise.all((v.verifierKeys as string[]).map(parseNoteVerifier));
    if (v.wantErr !== undefined) {
      assert.equal(await codeOf(() => verifyNote(v.inputText as string, verifiers)), v.wantErr, v.desc);
      continue;
    }
    const verified = await verifyNote(v.inputText as string, verifiers);
    assert.equal(verified.text, v.wantText, v.desc);
    if (v.wantVerified !== undefined) assert.deepEqual(verified.verified.map((signature) => signature.name), v.wantVerified, v.desc);
  }
});

test('tile-paths.json', async () => {
  for (const v of vectors('tile-paths')) {
    if (v.wantErr !== undefined) {
      assert.equal(await codeOf(() => parseTilePath(v.path as string)), v.wantErr, v.desc);
      continue;
    }
    const tile = v.tile as { level: number; index: number; width: number } | undefined;
    const entries = v.entries as { index: number; width: number } | undefined;
    assert.equal(tile !== undefined ? tilePath(tile) : entriesPath(entries!), v.wantPath, v.desc);
    assert.deepEqual(parseTilePath(v.wantPath as string), tile !== undefined ? { kind: 'hashes', tile } : { kind: 'entries', bundle: entries }, v.desc);
  }
});

test('entry-bundles.json', async () => {
  for (const v of vectors('entry-bundles')) {
    if (v.wantErr !== undefined) {
      assert.equal(await codeOf(() => parseEntryBundle(bytes(v.inputHex as string), v.width as number)), v.wantErr, v.desc);
      continue;
    }
    const entries = (v.entriesHex as string[]).map(bytes);
    assert.equal(hex(formatEntryBundle(entries)), v.wantHex, v.desc);
    assert.deepEqual(parseEntryBundle(bytes(v.wantHex as string), v.width as number).map(hex), v.entriesHex, v.desc);
  }
});

test('tlog-proofs.json', async () => {
  for (const v of vectors('tlog-proofs')) {
    const policy = v.policy as { logKey: string; witnesses: string[]; threshold: number };
    const options = { logKey: await parseNoteVerifier(policy.logKey), witnesses: await Promise.all(policy.witnesses.map(parseCosignerKey)), threshold: policy.threshold };
    const run = () => verifyTlogProof(v.inputText as string, bytes(v.entryHex as string), options);
    if (v.wantErr !== undefined) {
      assert.equal(await codeOf(run), v.wantErr, v.desc);
      continue;
    }
    const verified = await run();
    assert.equal(verified.index, v.wantIndex, v.desc);
    assert.deepEqual(verified.cosignatures.map((c) => c.name).sort(), v.wantCosigners, v.desc);
  }
});
