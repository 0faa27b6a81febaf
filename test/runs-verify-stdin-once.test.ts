/**
 * `runs verify` reads standard input once: a second `-` among --key, --log-key, --witness and
 * --monitor-state is ERR_CLI_USAGE before anything is read, as verify, sign, show and diff say it
 * (the second read found it empty: a misleading ERR_KEY_INVALID). Real `runprint` processes.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { dataWithTwoRuns, runprintChild } from './helpers/runprint-child.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-verify-stdin-');
const runprint = (args: string[], options?: { env?: Record<string, string>; stdin?: string }) => runprintChild(scratch, args, options);
after(() => scratch.removeAll());

test('runs verify reads standard input once: two of --key, --log-key, --witness and --monitor-state given as - are ERR_CLI_USAGE', { timeout: 300_000 }, async () => {
  const { data, ids } = await dataWithTwoRuns(scratch);
  const refused = { code: 2, stdout: '', stderr: 'runprint: ERR_CLI_USAGE: only one input can be standard input\n' };
  for (const pair of [
    ['--key', '-', '--log-key', '-'],
    ['--key', '-', '--witness', '-'],
    ['--log-key', '-', '--monitor-state', '-'],
    ['--witness', '-', '--witness', '-'],
    ['--key', '-', '--monitor-state', '-'],
  ]) {
    assert.deepEqual(await runprint(['runs', 'verify', ids[0]!, '--data', data, ...pair], { stdin: 'x' }), refused, pair.join(' '));
  }
});
