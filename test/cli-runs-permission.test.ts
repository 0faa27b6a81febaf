/**
 * A run store this user may not reach is said as such (ERR_STORE_PERMISSION, exit 4) on the path
 * that keeps it out, never as a store that is not there: a data directory it may not enter names
 * the folder; a runs.sqlite it may not read, in a folder it may read but not write, names the file
 * (not the folder, which a reader does not need to write). The commands run as a process file
 * modes apply to (as root: with every capability dropped).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { storeRuns } from './helpers/stored-runs.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { runprintUnprivileged } from './helpers/unprivileged.ts';

const scratch = scratchFolders('runprint-runs-permission-');
after(() => scratch.removeAll());

const COMMANDS = [['runs', 'list'], ['runs', 'show'], ['runs', 'verify'], ['runs', 'receipt'], ['replay']];

test('a data directory this user may not enter: ERR_STORE_PERMISSION naming it, not "no run store"', { timeout: 60_000 }, async () => {
  const root = scratch.tempDir();
  const data = join(root, 'data');
  mkdirSync(data, { mode: 0o700 });
  const [id] = await storeRuns(data, 1);
  chmodSync(data, 0o000);
  try {
    for (const command of COMMANDS) {
      const args = [...command, ...(command.length === 1 || command[1] !== 'list' ? [id!] : []), '--data', 'data'];
      const result = await runprintUnprivileged(args, root);
      assert.deepEqual(result, { code: 4, stdout: '', stderr: 'runprint: ERR_STORE_PERMISSION: data directory data (this user may not enter it, or a folder above it): permission denied\n' }, args.join(' '));
    }
  } finally {
    chmodSync(data, 0o700);
  }
});

test('a runs.sqlite this user may not read, in a folder it may read but not write: ERR_STORE_PERMISSION naming the file', { timeout: 60_000 }, async () => {
  const root = scratch.tempDir();
  const data = join(root, 'data');
  mkdirSync(data, { mode: 0o700 });
  const [id] = await storeRuns(data, 1);
  const file = join(data, 'runs.sqlite');
  chmodSync(file, 0o000);
  chmodSync(data, 0o555);
  try {
    for (const command of COMMANDS) {
      const args = [...command, ...(command.length === 1 || command[1] !== 'list' ? [id!] : []), '--data', data];
      const result = await runprintUnprivileged(args, root);
      assert.deepEqual(result, { code: 4, stdout: '', stderr: `runprint: ERR_STORE_PERMISSION: run database ${file}: permission denied\n` }, args.join(' '));
    }
  } finally {
    chmodSync(data, 0o700);
    chmodSync(file, 0o600);
  }
});
