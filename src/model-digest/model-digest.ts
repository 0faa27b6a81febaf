/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9): digest a model file or directory. */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { hashResources } from './hash-pool.ts';
import { modelChanged } from './model-digest-errors.ts';
import { sameState, stateOf } from './file-state.ts';
import { listModelFiles, normalizeIgnorePaths } from './model-files.ts';
import type { ModelFile } from './model-files.ts';
import { planResources } from './resource-plan.ts';
import type { SerializationMethod } from './resource-plan.ts';

/**
 * runprint's default shard size, 2^28 bytes (256 MiB). The OMS reference defaults to 10^9; a
 * smaller shard splits a large file more evenly among workers (section 9.5 gives the numbers).
 * Any size is valid OMS and is recorded, so the reference recomputes the digest from it.
 */
export const DEFAULT_SHARD_SIZE = 268_435_456;

/** The OMS reference library's default shard size, for callers who want its exact defaults. */
export const OMS_REFERENCE_SHARD_SIZE = 1_000_000_000;

/** runprint's default serialization method (section 9.5 says why it is not the OMS default). */
export const DEFAULT_METHOD: SerializationMethod = 'shards';

/** Paths the OMS reference ignores by default: git metadata is not part of a model. */
export const DEFAULT_IGNORE_PATHS: readonly string[] = Object.freeze([
  '.git',
  '.gitattributes',
  '.github',
  '.gitignore',
]);

/** The OMS predicate's `serialization` object: everything needed to recompute the digest. */
export type ModelSerialization =
  | { method: 'files'; hash_type: 'sha256'; allow_symlinks: boolean; ignore_paths: string[] }
  | {
      method: 'shards';
      hash_type: 'sha256';
      shard_size: number;
      allow_symlinks: boolean;
      ignore_paths: string[];
    };

/** One resource: a file (`files`) or a shard `path:start:end` (`shards`), with its SHA-256. */
export interface ModelResource {
  name: string;
  digest: { sha256: string };
}

/** A model digest as JSON: the OMS subject digest, how it was made, and what it covers. */
export interface ModelDigest {
  /** SHA-256 over the resources' 32-byte digests, concatenated in resource order. */
  digest: { sha256: string };
  serialization: ModelSerialization;
  /** In OMS order (section 9.3). */
  resources: ModelResource[];
  /** Bytes hashed: the total size of the files the resources cover. */
  bytes: number;
}

export interface ModelDigestOptions {
  /** `shards` (default) or `files`. */
  method?: SerializationMethod;
  /** Shard size in bytes, `shards` only; default DEFAULT_SHARD_SIZE. */
  shardSize?: number;
  /** Follow symbolic links to regular files instead of refusing them (OMS `allow_symlinks`). */
  allowSymlinks?: boolean;
  /** Relative POSIX paths left out of the model, each with everything below it. */
  ignorePaths?: readonly string[];
  /** Worker threads; default os.availableParallelism(). */
  concurrency?: number;
  /** Called as bytes are hashed, first with 0, last with bytesTotal. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/**
 * Computes the OMS v1.0 model digest of the file or directory at `path`: lists its regular files,
 * splits them into resources, hashes the resources in parallel worker threads, and hashes the
 * concatenated resource digests. Rejects with a ModelDigestError (ERR_MODEL_*) when the model
 * cannot be digested faithfully.
 */
export async function computeModelDigest(path: string, options: ModelDigestOptions = {}): Promise<ModelDigest> {
  const serialization = describeSerialization(options);
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError('concurrency must be a positive integer');
  }

  const files = await listModelFiles(resolve(path), {
    allowSymlinks: serialization.allow_symlinks,
    ignorePaths: serialization.ignore_paths,
  });
  const shardSize = serialization.method === 'shards' ? serialization.shard_size : 0;
  const plan = planResources(files, serialization.method, shardSize);

  const bytesTotal = files.reduce((sum, file) => sum + Number(file.state.size), 0);
  let bytesDone = 0;
  options.onProgress?.(0, bytesTotal);
  const tasks = plan.map((resource, id) => {
    const file = files[resource.file]!;
    return { id, path: file.path, start: resource.start, end: resource.end, state: file.state };
  });
  const digests = await hashResources(tasks, {
    concurrency,
    onBytes: (bytes) => {
      bytesDone += bytes;
      options.onProgress?.(bytesDone, bytesTotal);
    },
  });
  await checkUnchanged(files);

  const model = createHash('sha256');
  for (const digest of digests) model.update(digest);
  return {
    digest: { sha256: model.digest('hex') },
    serialization,
    resources: plan.map((resource, i) => ({
      name: resource.name,
      digest: { sha256: Buffer.from(digests[i]!).toString('hex') },
    })),
    bytes: bytesTotal,
  };
}

function describeSerialization(options: ModelDigestOptions): ModelSerialization {
  const method = options.method ?? DEFAULT_METHOD;
  const allowSymlinks = options.allowSymlinks ?? false;
  if (typeof allowSymlinks !== 'boolean') throw new TypeError('allowSymlinks must be a boolean');
  const ignorePaths = normalizeIgnorePaths(options.ignorePaths ?? DEFAULT_IGNORE_PATHS);
  if (method === 'files') {
    if (options.shardSize !== undefined) throw new TypeError('shardSize applies only to the shards method');
    return { method, hash_type: 'sha256', allow_symlinks: allowSymlinks, ignore_paths: ignorePaths };
  }
  if (method !== 'shards') throw new TypeError("method must be 'files' or 'shards'");
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  if (!Number.isSafeInteger(shardSize) || shardSize < 1) {
    throw new RangeError('shardSize must be a positive integer');
  }
  return {
    method,
    hash_type: 'sha256',
    shard_size: shardSize,
    allow_symlinks: allowSymlinks,
    ignore_paths: ignorePaths,
  };
}

// Workers check each file before and after each range they read; this last look also catches a
// file touched after its ranges were done but before the whole model was.
async function checkUnchanged(files: readonly ModelFile[]): Promise<void> {
  const states = await Promise.all(
    files.map((file) => stat(file.path, { bigint: true }).then(stateOf, () => undefined)),
  );
  states.forEach((state, i) => {
    if (state === undefined || !sameState(state, files[i]!.state)) throw modelChanged();
  });
}
