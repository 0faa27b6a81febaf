/**
 * A local model's weights checked before a replay (docs/REPLAY.md section 3.2): the original's
 * derived served fact `weights` (SPEC 9.6: the OMS digest and its serialization parameters) is
 * recomputed from the files given with `--weights`, with the same parameters, and must be equal.
 */
import type { RunRecord } from '../capture/run-record.ts';
import type { ServedFact } from '../identity/composition.ts';
import { isJsonObject, type JsonObject } from '../jcs/json-value.ts';
import { computeModelDigest, type ModelDigest, type ModelDigestOptions } from '../model-digest/index.ts';
import type { ReplayReason } from './verdict.ts';

/** What the check found: the digest recorded and the one recomputed, `sha256:<hex>`. */
export interface WeightsCheck {
  recorded: string;
  found: string;
  equal: boolean;
}

/**
 * A model's weights for replays: its digest under each serialization a recorded fact names,
 * computed once per serialization (a batch checks many runs against the same files).
 */
export interface ModelWeights {
  readonly path: string;
  digest(options: ModelDigestOptions): Promise<ModelDigest>;
}

/** The weights at `path` (a file or a directory, as `model-digest` takes it), digested when first asked. */
export function modelWeights(path: string): ModelWeights {
  const digests = new Map<string, Promise<ModelDigest>>();
  return {
    path,
    digest(options) {
      const key = JSON.stringify([options.method, options.shardSize ?? null, options.allowSymlinks ?? false, options.ignorePaths ?? null]);
      let digest = digests.get(key);
      if (digest === undefined) {
        digest = computeModelDigest(path, options);
        digests.set(key, digest);
      }
      return digest;
    },
  };
}

/** The serialization of a recorded weights fact as model-digest options; undefined when it is not one model-digest makes. */
function digestOptions(serialization: JsonObject): ModelDigestOptions | undefined {
  const { method, hash_type: hashType, shard_size: shardSize, allow_symlinks: allowSymlinks, ignore_paths: ignorePaths } = serialization;
  if (hashType !== 'sha256' || typeof allowSymlinks !== 'boolean' || !Array.isArray(ignorePaths) || !ignorePaths.every((path) => typeof path === 'string')) return undefined;
  const common = { allowSymlinks, ignorePaths: ignorePaths as string[], concurrency: 2 };
  if (method === 'files' && shardSize === undefined) return { method, ...common };
  if (method === 'shards' && typeof shardSize === 'number' && Number.isSafeInteger(shardSize) && shardSize > 0) return { method, shardSize, ...common };
  return undefined;
}

/**
 * Recomputes the weights digest of the model at `path` with the serialization the original's
 * `weights` fact names. Gives the fact to record for the replay when it is equal, else the reason
 * (ERR_REPLAY_WEIGHTS_NOT_RECORDED, ERR_REPLAY_WEIGHTS_MISMATCH) not to send. A model that cannot
 * be digested throws its ERR_MODEL_* error.
 */
export async function checkWeights(original: RunRecord, weights: string | ModelWeights): Promise<{ check: WeightsCheck; fact: ServedFact } | { check?: WeightsCheck; reason: ReplayReason }> {
  const fact = original.served?.['weights'];
  const value = fact?.value;
  const digest = isJsonObject(value) && isJsonObject(value['digest']) ? value['digest']['sha256'] : undefined;
  const serialization = isJsonObject(value) && isJsonObject(value['serialization']) ? value['serialization'] : undefined;
  const options = serialization === undefined ? undefined : digestOptions(serialization);
  if (fact === undefined || fact.source !== 'derived' || typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest) || options === undefined) {
    return {
      reason: {
        code: 'ERR_REPLAY_WEIGHTS_NOT_RECORDED',
        message: fact === undefined ? 'the original run has no served fact "weights" (SPEC 9.6): there is nothing to check --weights against' : 'the original run\'s "weights" fact is not a derived model digest with its serialization (SPEC 9.6): there is nothing to check --weights against',
      },
    };
  }
  const found = await (typeof weights === 'string' ? modelWeights(weights) : weights).digest(options);
  const check: WeightsCheck = { recorded: `sha256:${digest}`, found: `sha256:${found.digest.sha256}`, equal: found.digest.sha256 === digest };
  if (!check.equal) {
    return { check, reason: { code: 'ERR_REPLAY_WEIGHTS_MISMATCH', message: `the weights given with --weights have digest ${check.found}, the original run was served by ${check.recorded}: another model; nothing was sent` } };
  }
  return { check, fact: { source: 'derived', value: { digest: { sha256: found.digest.sha256 }, serialization: found.serialization } as unknown as JsonObject } };
}
