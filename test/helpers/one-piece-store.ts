/**
 * A run store read one piece at a time: its `contents` made of `content` calls, one per digest, so a
 * composition rebuilt through it checks the store's one-query `contents` (RunStorage) against them.
 */
import type { RunStorage } from '../../src/store/run-storage.ts';

export function onePieceAtATime(store: Pick<RunStorage, 'content'>): RunStorage {
  const contents = async (digests: readonly string[]): Promise<Map<string, Uint8Array>> => {
    const found = new Map<string, Uint8Array>();
    for (const digest of digests) {
      const bytes = await store.content(digest);
      if (bytes !== undefined) found.set(digest, bytes);
    }
    return found;
  };
  return { content: (digest: string) => store.content(digest), contents } as unknown as RunStorage;
}
