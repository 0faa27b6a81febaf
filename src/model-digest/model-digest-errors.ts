/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9): the errors it reports. */
import { ModelDigestError } from '../errors.ts';

// One fixed sentence per failure. Messages name the kind of entry, never its path or content:
// model directories are attacker-controlled input and their names may carry anything.

export function modelNotFound(): ModelDigestError {
  return new ModelDigestError('ERR_MODEL_NOT_FOUND', 'model path does not exist');
}

export function danglingSymlink(): ModelDigestError {
  return new ModelDigestError('ERR_MODEL_NOT_FOUND', 'a symbolic link in the model points to nothing');
}

export function modelUnreadable(): ModelDigestError {
  return new ModelDigestError('ERR_MODEL_UNREADABLE', 'a model file or directory cannot be read');
}

export function modelChanged(): ModelDigestError {
  return new ModelDigestError('ERR_MODEL_UNREADABLE', 'a model file changed while it was being digested');
}

export function symlinkNotAllowed(): ModelDigestError {
  return new ModelDigestError(
    'ERR_MODEL_UNSUPPORTED_ENTRY',
    'model contains a symbolic link and symbolic links are not allowed',
  );
}

export function symlinkToDirectory(): ModelDigestError {
  return new ModelDigestError('ERR_MODEL_UNSUPPORTED_ENTRY', 'model contains a symbolic link to a directory');
}

export function specialEntry(): ModelDigestError {
  return new ModelDigestError(
    'ERR_MODEL_UNSUPPORTED_ENTRY',
    'model contains an entry that is neither a regular file nor a directory',
  );
}

export function nameNotUtf8(): ModelDigestError {
  return new ModelDigestError('ERR_MODEL_UNSUPPORTED_ENTRY', 'model contains a file name that is not valid UTF-8');
}

export function nameHasColon(): ModelDigestError {
  return new ModelDigestError(
    'ERR_MODEL_UNSUPPORTED_ENTRY',
    'model contains a file name with a colon, which the shards serialization cannot name',
  );
}

export function emptyModel(): ModelDigestError {
  return new ModelDigestError(
    'ERR_MODEL_UNSUPPORTED_ENTRY',
    'model has no resource to digest: no regular file, or only empty files under the shards method',
  );
}

/** Maps a Node.js file system error to the model error it means. */
export function fromFileSystemError(error: unknown): ModelDigestError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return modelNotFound();
  return modelUnreadable();
}
