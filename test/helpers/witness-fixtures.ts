/** Shared pieces of the witness tests: a log made of leaf hashes, its signed checkpoints, and a witness app on SQLite. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCheckpoint } from '../../src/log/checkpoint.ts';
import { cosignatureSigner, cosignatureVerifier } from '../../src/log/cosignature.ts';
import { noteSigner, noteVerifier } from '../../src/log/note-keys.ts';
import { signNote, type NoteSigner, type NoteVerifier } from '../../src/log/note.ts';
import { witnessedLogs } from '../../src/log/witness.ts';
import { proveConsistency, rootHashAt } from '../../src/merkle/consistency.ts';
import { hashLeaf } from '../../src/merkle/rfc6962.ts';
import { generateKeyFiles, parsePrivateKey, type SigningKey } from '../../src/keys/keys.ts';
import { createApp, type App } from '../../src/server/app.ts';
import type { WitnessState } from '../../src/server/witness-routes.ts';
import { SqliteLog } from '../../src/store/sqlite-log.ts';

export async function newKey(name = 'k'): Promise<SigningKey> {
  return parsePrivateKey((await generateKeyFiles(name)).privateKeyPem);
}

/** A log held in memory: leaf hashes, its key, and signed checkpoints at any size. */
export class TestLog {
  readonly leaves: Uint8Array[] = [];
  readonly origin: string;
  readonly key: SigningKey;
  readonly signer: NoteSigner;
  readonly verifier: NoteVerifier;
  constructor(origin: string, key: SigningKey) {
    this.origin = origin;
    this.key = key;
    this.signer = noteSigner(origin, key);
    this.verifier = noteVerifier(origin, key.publicKey);
  }
  static async create(origin: string, leaves = 0): Promise<TestLog> {
    const log = new TestLog(origin, await newKey(origin));
    log.grow(leaves);
    return log;
  }
  grow(count: number): void {
    for (let i = 0; i < count; i++) this.leaves.push(hashLeaf(new TextEncoder().encode(`${this.origin} entry ${this.leaves.length}`)));
  }
  root(size: number): Uint8Array {
    return rootHashAt(this.leaves, size);
  }
  checkpointText(size: number, rootHash = this.root(size)): string {
    return formatCheckpoint({ origin: this.origin, size, rootHash });
  }
  async note(size: number, options: { rootHash?: Uint8Array; signers?: NoteSigner[] } = {}): Promise<string> {
    return signNote(this.checkpointText(size, options.rootHash), options.signers ?? [this.signer]);
  }
  proof(oldSize: number, newSize: number): Uint8Array[] {
    return proveConsistency(this.leaves, oldSize, newSize);
  }
}

export interface TestWitness {
  app: App;
  file: string;
  storage: SqliteLog;
  signer: NoteSigner;
  verifier: NoteVerifier;
  key: SigningKey;
  close(): Promise<void>;
}

const folders: string[] = [];
export async function removeFolders(): Promise<void> {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
}

export async function tempFile(name: string): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'runprint-witness-'));
  folders.push(folder);
  return join(folder, name);
}

export const WITNESS_NAME = 'witness.example/w1';

/** A witness app on a SQLite file (a new one unless `file` is given) witnessing `logs`. */
export async function startWitness(
  logs: NoteVerifier[],
  options: { file?: string; key?: SigningKey; now?: () => number; wrapState?: (state: WitnessState) => WitnessState } = {},
): Promise<TestWitness> {
  const file = options.file ?? (await tempFile('witness.sqlite'));
  const storage = SqliteLog.open(file);
  const key = options.key ?? (await newKey(WITNESS_NAME));
  const signer = cosignatureSigner(WITNESS_NAME, key, options.now);
  const verifier = cosignatureVerifier(WITNESS_NAME, key.publicKey);
  const state: WitnessState = {
    witnessed: (origin) => storage.witnessed(origin),
    saveWitnessed: (origin, previous, checkpoint) => storage.saveWitnessed(origin, previous, checkpoint),
  };
  const app = createApp({ witness: { logs: witnessedLogs(logs), signers: [signer], state: options.wrapState?.(state) ?? state } });
  return { app, file, storage, signer, verifier, key, close: () => storage.close() };
}
