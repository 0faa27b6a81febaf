/** OpenSSF Model Signing v1.0 model digest (docs/SPEC.md section 9.3): resources, names, order. */
import { emptyModel, nameHasColon } from './model-digest-errors.ts';
import type { ModelFile } from './model-files.ts';

/** The two OMS v1.0 serialization methods. */
export type SerializationMethod = 'files' | 'shards';

/** One resource to hash: a whole file, or the bytes [start, end) of one. */
export interface PlannedResource {
  /** `path` for `files`; `path:start:end` (decimal, no padding) for `shards`. */
  name: string;
  /** Index into the listed files. */
  file: number;
  start: number;
  end: number;
}

/**
 * Splits the listed files into resources and puts them in OMS order.
 *
 * `files`: one resource per regular file, empty files included, named by the file's path.
 * `shards`: each non-empty file is cut at every multiple of `shardSize`, the last shard holding
 * the rest; an empty file yields no shard (OMS v1.0, as its reference library does).
 *
 * Order is the OMS reference's: by path compared component by component (each component by
 * Unicode code point, a prefix first), then by start and end as integers, so `f:8:16` comes
 * before `f:16:24` and `a/b` before `a-b`. This is not plain string order.
 */
export function planResources(
  files: readonly ModelFile[],
  method: SerializationMethod,
  shardSize: number,
): PlannedResource[] {
  const order = files.map((file, index) => ({ index, key: pathKey(file.name) }));
  order.sort((a, b) => comparePathKeys(a.key, b.key));

  const resources: PlannedResource[] = [];
  for (const { index } of order) {
    const file = files[index]!;
    const size = Number(file.state.size);
    if (method === 'files') {
      resources.push({ name: file.name, file: index, start: 0, end: size });
      continue;
    }
    if (file.name.includes(':')) throw nameHasColon();
    for (let start = 0; start < size; start += shardSize) {
      const end = Math.min(start + shardSize, size);
      resources.push({ name: `${file.name}:${start}:${end}`, file: index, start, end });
    }
  }
  if (resources.length === 0) throw emptyModel();
  return resources;
}

// A path as the list of its components' UTF-8 bytes. Byte order of UTF-8 is code point order,
// which is how the OMS reference (Python) compares strings; JavaScript's `<` compares UTF-16
// code units and would misplace characters above U+FFFF.
function pathKey(name: string): Buffer[] {
  return name === '.' ? [] : name.split('/').map((part) => Buffer.from(part, 'utf8'));
}

function comparePathKeys(a: readonly Buffer[], b: readonly Buffer[]): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const order = Buffer.compare(a[i]!, b[i]!);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}
