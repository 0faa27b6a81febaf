/**
 * A run is named by a whole id: a truncated or malformed run identity is ERR_CLI_USAGE (exit 2),
 * as a truncated capture id is, not ERR_RUN_NOT_FOUND (exit 3); runs diff names the side, A or B,
 * of an id it refuses or cannot find. Real `runprint` processes on a real SQLite store (over HTTP:
 * run-analysis-routes.test.ts).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { dataWithTwoRuns, runprintChild } from './helpers/runprint-child.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-run-id-whole-');
const runprint = (args: string[], options?: { env?: Record<string, string>; stdin?: string }) => runprintChild(scratch, args, options);
after(() => scratch.removeAll());

test('a truncated or malformed run identity is ERR_CLI_USAGE (exit 2), as a truncated capture id is, not an unknown run; runs diff names the side', { timeout: 300_000 }, async () => {
  const { data, ids } = await dataWithTwoRuns(scratch);
  const named = 'a run is named by its capture id (a UUID), its record digest (64 lower-case hex digits) or its run identity (rp-run-v1-sha256- and 64 lower-case hex digits)';
  for (const id of ['rp-run-v1-sha256-25f77768', 'rp-run-v1-sha256-XYZ', `rp-run-v1-sha256-${'A'.repeat(64)}`, `rp-run-v2-sha256-${'a'.repeat(64)}`, ids[0]!.slice(0, 8)]) {
    assert.deepEqual(await runprint(['runs', 'show', id, '--data', data]), { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: ${named}\n` }, `runs show ${id}`);
    assert.deepEqual(await runprint(['runs', 'diff', ids[0]!, id, '--data', data]), { code: 2, stdout: '', stderr: `runprint: ERR_CLI_USAGE: B is not a run id: ${named}\n` }, `runs diff A ${id}`);
  }
  // A whole run identity of no run is an unknown run; runs diff says which of its two it is.
  const unknown = `rp-run-v1-sha256-${'0'.repeat(64)}`;
  assert.deepEqual(await runprint(['runs', 'show', unknown, '--data', data]), { code: 3, stdout: '', stderr: 'runprint: ERR_RUN_NOT_FOUND: no captured run has that id\n' });
  assert.deepEqual(await runprint(['runs', 'diff', ids[0]!, unknown, '--data', data]), { code: 3, stdout: '', stderr: 'runprint: ERR_RUN_NOT_FOUND: no captured run has the id given as B\n' });
  assert.deepEqual(await runprint(['runs', 'diff', unknown, ids[0]!, '--data', data]), { code: 3, stdout: '', stderr: 'runprint: ERR_RUN_NOT_FOUND: no captured run has the id given as A\n' });
});
