/**
 * `runs group --values` never shows stored content that does not give its digest: a content row
 * changed in a copy of the store ("Be brief." -> "Be brisk.") is ERR_REPLAY_CONTENT_MISMATCH,
 * exit 3, as replay, runs diff and runs show --composition refuse it (it printed the altered text
 * under the old digest, exit 0). Real `runprint` processes on a real SQLite store.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { dataWithTwoRuns, runprintChild } from './helpers/runprint-child.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-group-altered-');
const runprint = (args: string[], options?: { env?: Record<string, string>; stdin?: string }) => runprintChild(scratch, args, options);
after(() => scratch.removeAll());

test('runs group --values refuses stored content that does not give its digest, as replay, runs diff and runs show --composition do', { timeout: 300_000 }, async () => {
  const { data, ids } = await dataWithTwoRuns(scratch);
  const shown = await runprint(['runs', 'group', '--by', 'element=system', '--values', '--data', data]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /"Be brief\."/);
  // The content row of the system message, changed in place: its digest no longer names it.
  const db = new DatabaseSync(join(data, 'runs.sqlite'));
  try {
    const rows = db.prepare('SELECT digest, bytes FROM content').all() as Array<{ digest: string; bytes: Uint8Array }>;
    const row = rows.find(({ bytes }) => Buffer.from(bytes).includes('Be brief.'))!;
    const changed = Buffer.from(row.bytes).toString('utf8').replace('Be brief.', 'Be brisk.');
    assert.equal(db.prepare('UPDATE content SET bytes = ? WHERE digest = ?').run(Buffer.from(changed), row.digest).changes, 1);
  } finally {
    db.close();
  }
  const mismatch = (piece: string) => `runprint: ERR_REPLAY_CONTENT_MISMATCH: the stored content of ${piece} does not give the digest that names it: the run store is damaged or altered\n`;
  const diff = await runprint(['runs', 'diff', ids[0]!, ids[1]!, '--values', '--data', data]);
  assert.deepEqual(diff, { code: 3, stdout: '', stderr: mismatch('element 0 of component "system"') }, 'runs diff');
  for (const by of ['element=system', 'component=system']) {
    for (const json of [[], ['--json']]) {
      const group = await runprint(['runs', 'group', '--by', by, '--values', ...json, '--data', data]);
      assert.deepEqual(group, { code: 3, stdout: '', stderr: mismatch('element 0 of component "system"') }, `${by} ${json.join(' ')}`);
    }
  }
  // Without --values no content is read: the counts stand.
  const counted = await runprint(['runs', 'group', '--by', 'element=system', '--data', data]);
  assert.equal(counted.code, 0, counted.stderr);
  assert.match(counted.stdout, /^2 runs, 1 distinct by element=system\n/);
  assert.doesNotMatch(counted.stdout, /brisk/);
});
