/**
 * `replay` and `replay --runs` add runs only to a run store serve made, and read the store the
 * runs commands would: real `runprint` processes on real SQLite files, and PostgreSQL for the
 * store the environment names.
 *
 * - An empty runs.sqlite, or a log database copied in its place, is ERR_INPUT_NOT_FOUND (exit 4)
 *   as runs list says it, and the file is left byte for byte, with the same mtime and nothing
 *   made beside it (SQLite's open made the tables, 90 KB of them, before).
 * - --data with --runs-db is refused (ERR_CLI_USAGE, exit 2); with the URL from RUNPRINT_RUNS_DB
 *   and --data, a line on stderr says the runs are read from PostgreSQL, as the runs commands say.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { SqliteLog } from '../src/store/sqlite-log.ts';
import { pgSchemas, type PgSchemas } from './helpers/pg-schemas.ts';
import { dataWithTwoRuns, runprintChild } from './helpers/runprint-child.ts';
import { scratchFolders } from './helpers/scratch.ts';

const scratch = scratchFolders('runprint-replay-store-');
const UUID = '3f0c52a1-0000-4000-8000-000000000000';
const runprint = (args: string[], options?: { env?: Record<string, string>; stdin?: string }) => runprintChild(scratch, args, options);

let pgs: PgSchemas;
before(async () => {
  pgs = await pgSchemas();
});
after(async () => {
  scratch.removeAll();
  await pgs.drop();
});

/** A folder's files with their bytes and mtimes: what a refused command must leave as it was. */
function snapshot(dir: string): Record<string, { bytes: string; mtimeNs: bigint }> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, { bytes: readFileSync(join(dir, name)).toString('base64'), mtimeNs: statSync(join(dir, name), { bigint: true }).mtimeNs }]));
}

test('replay and replay --runs on a runs.sqlite that holds no run store (empty, or a log database copied there): ERR_INPUT_NOT_FOUND, exit 4, the file left as it was', { timeout: 300_000 }, async () => {
  const logCopy = scratch.tempDir();
  const log = SqliteLog.open(join(logCopy, 'log.sqlite'));
  await log.close();
  for (const [what, make] of [
    ['an empty file', (path: string) => copyFileSync('/dev/null', path)],
    ['a log database', (path: string) => copyFileSync(join(logCopy, 'log.sqlite'), path)],
  ] as const) {
    const data = scratch.tempDir();
    const path = join(data, 'runs.sqlite');
    make(path);
    const before = snapshot(data);
    const refused = `runprint: ERR_INPUT_NOT_FOUND: no run store in ${path}: the file holds no runs table (runprint serve creates it when it captures)\n`;
    // As runs list says it of the same file.
    assert.deepEqual(await runprint(['runs', 'list', '--data', data]), { code: 4, stdout: '', stderr: refused }, `${what}: runs list`);
    assert.deepEqual(await runprint(['replay', UUID, '--data', data]), { code: 4, stdout: '', stderr: refused }, `${what}: replay`);
    const report = join(scratch.tempDir(), 'replays.json');
    assert.deepEqual(await runprint(['replay', '--runs', 'all', '--json', report, '--data', data]), { code: 4, stdout: '', stderr: refused }, `${what}: replay --runs`);
    assert.deepEqual(snapshot(data), before, `${what}: nothing made or changed`);
    assert.throws(() => statSync(`${report}.state`), { code: 'ENOENT' }, 'no batch state');
  }
});

test('replay and replay --runs refuse --runs-db with --data, and say that they read the store RUNPRINT_RUNS_DB names, as the runs commands do', { timeout: 300_000 }, async () => {
  const { data } = await dataWithTwoRuns(scratch);
  const { url } = await pgs.fresh('runprint_replay_data');
  await (await PostgresRuns.open(url)).close();
  const report = join(scratch.tempDir(), 'replays.json');
  for (const [command, args] of [['replay', ['replay', UUID]], ['replay --runs', ['replay', '--runs', 'all', '--json', report]]] as const) {
    assert.deepEqual(await runprint([...args, '--data', data, '--runs-db', url]), {
      code: 2,
      stdout: '',
      stderr: `runprint: ERR_CLI_USAGE: --runs-db and --data name two run stores and ${command} reads one: give --runs-db for the runs in PostgreSQL, or --data for the data directory's runs.sqlite\n`,
    }, command);
  }
  const note = (command: string) => `runprint: ${command} reads the runs from the PostgreSQL run store RUNPRINT_RUNS_DB names, not from --data, which it does not use (unset RUNPRINT_RUNS_DB to read the data directory's runs.sqlite)\n`;
  // The run is looked for in PostgreSQL, where there is none: said after the note.
  assert.deepEqual(await runprint(['replay', UUID, '--data', data], { env: { RUNPRINT_RUNS_DB: url } }), { code: 3, stdout: '', stderr: `${note('replay')}runprint: ERR_RUN_NOT_FOUND: no captured run has that id\n` });
  const batch = await runprint(['replay', '--runs', 'all', '--json', report, '--data', data], { env: { RUNPRINT_RUNS_DB: url } });
  assert.equal(batch.stderr, note('replay --runs'));
  assert.equal(batch.code, 0, 'no run in PostgreSQL: an empty batch');
  assert.equal((JSON.parse(readFileSync(report, 'utf8')) as { total: number }).total, 0);
});
