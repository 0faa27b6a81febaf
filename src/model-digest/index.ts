/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9): the `runprint/model-digest` entry. */
export {
  computeModelDigest,
  DEFAULT_IGNORE_PATHS,
  DEFAULT_METHOD,
  DEFAULT_SHARD_SIZE,
  OMS_REFERENCE_SHARD_SIZE,
} from './model-digest.ts';
export type { ModelDigest, ModelDigestOptions, ModelResource, ModelSerialization } from './model-digest.ts';
export type { SerializationMethod } from './resource-plan.ts';
