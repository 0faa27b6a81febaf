/** The heavier variant of test/log-reliability.test.ts: more kill -9 rounds, more submitters, later kills. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { killDuringSubmissions } from '../helpers/log-reliability.ts';
import { killServeProcesses } from '../helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

const seed = Number(process.env['RUNPRINT_TEST_SEED'] ?? Date.now() % 2 ** 31);

test('kill -9 during concurrent submissions, 12 rounds of 16 submitters: nothing acknowledged lost, every checkpoint consistent, runprint log monitor accepts every restart', { timeout: 600_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'runprint-reliability-slow-'));
  folders.push(work);
  const result = await killDuringSubmissions({
    data: join(work, 'data'),
    work,
    rounds: 12,
    submitters: 16,
    minAcks: 20,
    maxAcks: 3000,
    seed,
    earlyKills: true,
    log: (line) => t.diagnostic(line),
  });
  assert.ok(result.answers >= 6 * 20 + 6, `answers in every round (${result.answers})`);
  assert.ok(result.size >= result.acknowledged);
});
