/**
 * What serve says of a host: a --host it cannot listen on is named on one line, cut to 80
 * characters with its control characters escaped (README: errors are one line, names as given
 * cut and escaped). Real `runprint serve` processes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-serve-host-');
after(() => endServeTest(undefined, scratch));

test('a --host serve cannot listen on is named on one line, cut to 80 characters, its control characters escaped', async () => {
  const data = join(scratch.tempDir(), 'data');
  const escapes = await runRunprint(['serve', '--host', 'a\u001b[31mRED\nline2', '--port', '0', '--data', data]);
  assert.deepEqual(escapes, { code: 4, stdout: '', stderr: 'runprint: ERR_HTTP_LISTEN: cannot listen on that address (a\\u001b[31mRED\\u000aline2:0)\n' });
  const long = await runRunprint(['serve', '--host', 'h'.repeat(2000), '--port', '0', '--data', data]);
  assert.deepEqual(long, { code: 4, stdout: '', stderr: `runprint: ERR_HTTP_LISTEN: cannot listen on that address (${'h'.repeat(80)}…:0)\n` });
});
