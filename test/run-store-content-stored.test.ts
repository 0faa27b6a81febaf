/**
 * The run store says which digests name stored content without reading it (RunStorage.contentStored,
 * one query for many digests), and where a run's content is (runs show, the views' `content`) is
 * learnt from it: before, runs show read each piece's bytes (store.content) only to learn whether
 * it was there. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runContent } from '../src/server/run-routes.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type ContentPolicy, type RunStorage, type StoredRun } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { chatRun } from './helpers/stored-runs.ts';

const scratch = scratchFolders('runprint-content-stored-');
const pgs = await pgSchemas();
after(async () => {
  await pgs.drop();
  scratch.removeAll();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const digestsOnly = Object.fromEntries(Object.keys(defaultContentPolicy()).map((part) => [part, 'digest'])) as ContentPolicy;

/** The store, counting the calls of `content` and `contentStored` made through it. */
function counted(store: RunStorage): { storage: RunStorage; calls: { content: number; contentStored: number } } {
  const calls = { content: 0, contentStored: 0 };
  const storage = new Proxy(store, {
    get(target, name) {
      if (name === 'content' || name === 'contentStored') calls[name]++;
      const value = Reflect.get(target, name, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { storage, calls };
}

const STORES: Array<[string, () => Promise<{ store: RunStorage; where: string[] }>]> = [
  ['SQLite', async () => {
    const data = scratch.tempDir();
    return { store: SqliteRuns.open(join(data, 'runs.sqlite')), where: ['--data', data] };
  }],
  ['PostgreSQL', async () => {
    const { url } = await pgs.fresh('runprint_content_stored');
    return { store: await PostgresRuns.open(url), where: ['--runs-db', url] };
  }],
];

for (const [kind, open] of STORES) {
  describe(`contentStored on ${kind}`, () => {
    let store: RunStorage;
    let where: string[];
    const runs: StoredRun[] = [];
    before(async () => {
      ({ store, where } = await open());
      // Two runs share a system message; the second keeps only digests, and has its own user message.
      const kept = chatRun('A kept question', 'Shared system.');
      const digests = chatRun('A question kept as digest only', 'Shared system.');
      await store.put([runToStore(kept.run, kept.bytes, defaultContentPolicy(), 'proxy', false), runToStore(digests.run, digests.bytes, digestsOnly, 'proxy', false)]);
      runs.push(...(await store.find(kept.run.record.captureId)), ...(await store.find(digests.run.record.captureId)));
    });
    after(async () => store.close());

    const digestOf = (run: StoredRun, part: string, position: number) => run.digests.find((digest) => digest.part === part && digest.position === position)!.digest;

    test('answers the digests of stored content among those asked, in one call, whatever else is asked', async () => {
      const [kept, digests] = runs as [StoredRun, StoredRun];
      const stored = [digestOf(kept, 'system', 0), digestOf(kept, 'input', 0), digestOf(kept, 'response', -1)];
      const notStored = [digestOf(digests, 'input', 0), digestOf(digests, 'response', -1), digestOf(kept, 'request', -1), sha256('never stored')];
      for (const digest of stored) assert.notEqual(await store.content(digest), undefined);
      for (const digest of notStored) assert.equal(await store.content(digest), undefined);
      // The shared system message is stored once: asked by either run's digest (the same), twice, it is answered once.
      assert.equal(digestOf(digests, 'system', 0), stored[0]);
      const asked = [...notStored, ...stored, stored[0]!, ...Array.from({ length: 3000 }, (_, i) => sha256(`absent ${i}`))];
      assert.deepEqual([...(await store.contentStored(asked))].sort(), [...stored].sort());
      assert.deepEqual(await store.contentStored([]), new Set());
      assert.deepEqual(await store.contentStored(notStored), new Set());
    });

    test('where a run\'s content is comes from one contentStored call for all the runs, and no content is read', async () => {
      const { storage, calls } = counted(store);
      const [kept, digests] = await runContent(storage, runs);
      assert.deepEqual(calls, { content: 0, contentStored: 1 });
      const states = (parts: typeof kept) => Object.fromEntries(parts!.map(({ part, states }) => [part, states.join(' ')]));
      assert.deepEqual(states(kept), { model: 'kept', system: 'kept', input: 'kept', parameters: 'kept', configuration: 'kept', request: 'none', response: 'kept' });
      assert.deepEqual(states(digests), { model: 'elsewhere', system: 'elsewhere', input: 'none', parameters: 'elsewhere', configuration: 'elsewhere', request: 'none', response: 'none' });
      // runs show says the same.
      const shown = await runCliInProcess(['runs', 'show', runs[1]!.record.captureId, ...where]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^stored elsewhere +model, system, parameters, configuration \(another run keeps the same content; this run kept the digests only\)$/m);
      assert.match(shown.stdout, /^digest only +input, request, response \(content not stored\)$/m);
    });
  });
}
