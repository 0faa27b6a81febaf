/**
 * `runprint runs verify` and `GET /v1/runs/{id}/verify` compare every fact the run store states
 * that the run's receipt signs (docs/RECEIPTS.md 13.2; docs/REPLAY.md section 7): a store changed
 * after signing, its record rewritten with the record digest made to match, or its model or
 * capture column changed, fails the receipt check with ERR_IDENTITY_MISMATCH naming each fact that
 * differs with both values. Runs a real `runprint serve` captured from the fake upstream, signed
 * and logged; each fact is changed in a copy of its data directory; an untouched copy still passes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { canonicalize } from '../src/jcs/canonicalize.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';
import { captureChat, untilLogged } from './helpers/proxy-calls.ts';

const OPENAI_KEY = 'sk-test-signed-facts-0123456789';

interface Check { name: string; status: string; code?: string; message?: string }
interface Verification { ok: boolean; checks: Check[] }

let upstream: FakeUpstream;
let data: string;
const scratch: string[] = [];
/** The run changed in the copies, and another run whose identity a changed record names as its parent. */
let target: string;
let otherRunId: string;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runprint-signed-facts-'));
  scratch.push(dir);
  return dir;
}

/** A copy of the stopped serve's data directory with `change` made to the target run's row. */
function changedCopy(change: (db: DatabaseSync, record: Record<string, any>) => Record<string, any> | undefined): string {
  const copy = tempDir();
  cpSync(data, copy, { recursive: true });
  const db = new DatabaseSync(join(copy, 'runs.sqlite'));
  try {
    const { record } = db.prepare('SELECT record FROM runs WHERE capture_id = ?').get(target) as { record: string };
    const changed = change(db, JSON.parse(record) as Record<string, any>);
    if (changed !== undefined) {
      // The record rewritten, its digest made to match: the record check passes.
      const text = canonicalize(changed);
      const digest = createHash('sha256').update(text).digest('hex');
      assert.equal(db.prepare('UPDATE runs SET record = ?, record_digest = ? WHERE capture_id = ?').run(text, digest, target).changes, 1);
    }
  } finally {
    db.close();
  }
  return copy;
}

async function verify(dir: string): Promise<{ code: number; result: Verification }> {
  const out = await runCliInProcess(['runs', 'verify', target, '--data', dir, '--json']);
  return { code: out.code, result: JSON.parse(out.stdout) as Verification };
}

const receiptCheck = (result: Verification) => result.checks.find((check) => check.name === 'receipt')!;

before(async () => {
  upstream = await startFakeUpstream();
  data = tempDir();
  const serve = await startServe({ data, args: ['--upstream', `openai=${upstream.url}`] });
  const other = await captureChat(serve.base, OPENAI_KEY, 'Name a colour.');
  target = await captureChat(serve.base, OPENAI_KEY, 'Name a river.');
  await untilLogged(serve.base, other);
  await untilLogged(serve.base, target);
  otherRunId = ((await (await fetch(`${serve.base}/v1/runs/${other}`)).json()) as { runs: Array<{ record: { runId: string } }> }).runs[0]!.record.runId;
  assert.equal(await serve.stop(), 0);
});

after(async () => {
  await killServeProcesses();
  await upstream.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('runs verify compares the facts the receipt signs', () => {
  test('an untouched run passes the receipt check', async () => {
    const { code, result } = await verify(changedCopy(() => undefined));
    assert.equal(code, 0);
    assert.equal(result.ok, true);
    assert.equal(receiptCheck(result).status, 'pass');
  });

  // Each: what is changed, the fact named, and the run store's value as the message shows it.
  const cases: Array<{ fact: string; change: (db: DatabaseSync, record: Record<string, any>) => Record<string, any> | undefined; stored: () => string }> = [
    { fact: 'parents', change: (_db, record) => ({ ...record, parents: [otherRunId] }), stored: () => JSON.stringify([otherRunId]) },
    { fact: 'started', change: (_db, record) => ({ ...record, times: { ...record['times'], started: '2020-01-01T00:00:00.000Z' } }), stored: () => '"2020-01-01T00:00:00.000Z"' },
    { fact: 'ended', change: (_db, record) => ({ ...record, times: { ...record['times'], ended: '2099-01-01T00:00:00.000Z' } }), stored: () => '"2099-01-01T00:00:00.000Z"' },
    { fact: 'finish reason', change: (_db, record) => ({ ...record, output: { ...record['output'], finishReason: 'length' } }), stored: () => '"length"' },
    { fact: 'usage', change: (_db, record) => ({ ...record, output: { ...record['output'], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } }), stored: () => '{"completion_tokens":1,"prompt_tokens":1,"total_tokens":2}' },
    { fact: 'output digest', change: (_db, record) => ({ ...record, output: { ...record['output'], digest: { sha256: '0'.repeat(64) } } }), stored: () => `"${'0'.repeat(64)}"` },
    { fact: 'stream', change: (_db, record) => ({ ...record, response: { ...record['response'], stream: true } }), stored: () => 'true' },
    { fact: 'served facts', change: (_db, record) => ({ ...record, served: { ...record['served'], systemFingerprint: { source: 'reported', value: 'fp_FAKE' } } }), stored: () => '{"' },
    {
      fact: 'model',
      change: (db) => {
        assert.equal(db.prepare('UPDATE runs SET model = ? WHERE capture_id = ?').run('gpt-5-FAKE', target).changes, 1);
        return undefined;
      },
      stored: () => '"gpt-5-FAKE"',
    },
    {
      fact: 'capture',
      change: (db) => {
        assert.equal(db.prepare('UPDATE runs SET capture = ? WHERE capture_id = ?').run('sdk', target).changes, 1);
        return undefined;
      },
      stored: () => '"sdk"',
    },
  ];
  for (const { fact, change, stored } of cases) {
    test(`a changed ${fact} fails the receipt check, naming it with both values`, async () => {
      const { code, result } = await verify(changedCopy(change));
      assert.equal(code, 1);
      assert.equal(result.ok, false);
      const receipt = receiptCheck(result);
      assert.equal(receipt.status, 'fail', receipt.message);
      assert.equal(receipt.code, 'ERR_IDENTITY_MISMATCH');
      assert.match(receipt.message!, /^signed-facts: the run store states other facts than the receipt signs: /);
      const said = new RegExp(`(?:: |; )${fact.replace(/ /g, ' ')}: the run store says ${stored().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*?, the receipt signs \\S`);
      assert.match(receipt.message!, said);
      if (fact === 'served facts') assert.match(receipt.message!, /served facts: the run store says \{[^;]*"fp_FAKE"[^;]*, the receipt signs /);
    });
  }

  test('several changed facts are each named, and the text form says them', async () => {
    const copy = changedCopy((db, record) => {
      db.prepare('UPDATE runs SET model = ? WHERE capture_id = ?').run('gpt-5-FAKE', target);
      return { ...record, parents: [otherRunId], times: { ...record['times'], started: '2020-01-01T00:00:00.000Z' } };
    });
    const out = await runCliInProcess(['runs', 'verify', target, '--data', copy]);
    assert.equal(out.code, 1);
    assert.match(out.stdout, /^FAILED /);
    assert.match(out.stdout, /^FAIL {8}receipt  ERR_IDENTITY_MISMATCH: signed-facts: .*model: the run store says "gpt-5-FAKE", the receipt signs "gpt-4o"; .*parents: .*; started: the run store says "2020-01-01T00:00:00.000Z", the receipt signs "20\d\d-/m);
    assert.match(out.stdout, /^pass {8}record\n/m, 'the record gives its (recomputed) digest');
  });

  test('runs show says its facts are not checked against the receipt, and names runs verify', async () => {
    const copy = changedCopy((_db, record) => ({ ...record, parents: [otherRunId] }));
    const out = await runCliInProcess(['runs', 'show', target, '--data', copy]);
    assert.equal(out.code, 0);
    assert.match(out.stdout, new RegExp(`^parents +${otherRunId}$`, 'm'));
    assert.match(out.stdout, /^receipt +signed, log index 1; not checked here: runs verify compares the facts shown with what the receipt signs$/m);
  });

  test('GET /v1/runs/{id}/verify fails the same way', async () => {
    const copy = changedCopy((_db, record) => ({ ...record, parents: [otherRunId] }));
    const serve = await startServe({ data: copy, args: ['--upstream', `openai=${upstream.url}`] });
    try {
      const response = await fetch(`${serve.base}/v1/runs/${target}/verify`);
      assert.equal(response.status, 200);
      const result = (await response.json()) as Verification;
      assert.equal(result.ok, false);
      const receipt = receiptCheck(result);
      assert.equal(receipt.status, 'fail');
      assert.equal(receipt.code, 'ERR_IDENTITY_MISMATCH');
      assert.match(receipt.message!, new RegExp(`parents: the run store says \\["${otherRunId}"\\], the receipt signs \\[\\]`));
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});
