/**
 * A salted run's receipt states no declared document of a salted component (docs/RECEIPTS.md
 * 13.2): its source and the plain SHA-256 of its text, in the clear, would let anyone holding the
 * receipt or the log confirm a guess of the document and link the runs resting on it, which the
 * salted commitment is there to prevent. Real calls through runprintFetch to the fake upstream
 * into a real SQLite run store; the receipts are read back and checked by `runprint runs verify`.
 * A receipt signed before this rule (every entry stated) still agrees with its record.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { runprintFetch, withRetrieval } from '../src/capture-node/index.ts';
import { retrievalAgreement, type ReceiptRetrieval } from '../src/receipt/index.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import type { StoredRun } from '../src/store/run-storage.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';

const DOC_INPUT = 'Dossier 4471: the claimant moved to Ghent in March.';
const DOC_SYSTEM = 'House rule 12: never quote the reserve price.';
const DOCS = [{ source: 'kb://claims/4471', text: DOC_INPUT }, { source: 'kb://house/rule-12', text: DOC_SYSTEM }];
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const ENTRIES: ReceiptRetrieval[] = [
  { source: 'kb://claims/4471', digest: { sha256: sha256(DOC_INPUT) }, component: 'input', element: 0 },
  { source: 'kb://house/rule-12', digest: { sha256: sha256(DOC_SYSTEM) }, component: 'system', element: 0 },
];

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-salted-retrieval-');
before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const statementOf = (receipt: string): Record<string, any> => JSON.parse(Buffer.from(JSON.parse(receipt).payload, 'base64').toString('utf8'));

/** One declared call captured with `salt` into a fresh store: the stored run and its data directory. */
async function captured(salt: string[] | undefined): Promise<{ run: StoredRun; data: string }> {
  const data = scratch.tempDir();
  const wrapped = runprintFetch({ data, ...(salt === undefined ? {} : { salt }), onError: (error) => assert.fail(error) });
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${upstream.url}/v1`, fetch: wrapped, maxRetries: 0 });
  await withRetrieval(DOCS, () => client.chat.completions.create({
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: DOC_SYSTEM },
      { role: 'user', content: `Documents:\n${DOC_INPUT}\n\nWhere does the claimant live?` },
    ],
  }));
  await wrapped.flush();
  await wrapped.close();
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    const [run] = await store.list({});
    assert.ok(run?.receipt !== null && run?.receipt !== undefined, 'the run is signed');
    assert.deepEqual(run.record.retrieval, ENTRIES, 'the record keeps the whole declaration');
    return { run, data };
  } finally {
    await store.close();
  }
}

/** `runprint runs verify`'s receipt check of the run. */
async function receiptCheck(run: StoredRun, data: string): Promise<{ status: string; message?: string }> {
  const out = await runCliInProcess(['runs', 'verify', run.record.captureId, '--data', data, '--json']);
  const result = JSON.parse(out.stdout) as { checks: { name: string; status: string; message?: string }[] };
  return result.checks.find((check) => check.name === 'receipt')!;
}

test('unsalted, the receipt states every declared document (as before)', async () => {
  const { run, data } = await captured(undefined);
  assert.deepEqual(statementOf(run.receipt!)['predicate']['runDetails']['retrieval'], ENTRIES);
  assert.equal((await receiptCheck(run, data)).status, 'pass');
});

test('with system salted, the receipt states the documents of input only: no source or plain digest of the system document', async () => {
  const { run, data } = await captured(['system']);
  assert.equal(run.identity!.components.system.salted, true);
  assert.deepEqual(statementOf(run.receipt!)['predicate']['runDetails']['retrieval'], [ENTRIES[0]]);
  const payload = Buffer.from(JSON.parse(run.receipt!).payload, 'base64').toString('utf8');
  assert.ok(!payload.includes('kb://house/rule-12') && !payload.includes(sha256(DOC_SYSTEM)), 'nothing of the salted document in the receipt');
  const check = await receiptCheck(run, data);
  assert.deepEqual([check.status, check.message], ['pass', undefined], 'runs verify: the receipt agrees with the record');
});

test('with every component salted, the receipt has no runDetails.retrieval; runs verify passes and says why the declaration is not checked', async () => {
  const { run, data } = await captured(['all']);
  const payload = Buffer.from(JSON.parse(run.receipt!).payload, 'base64').toString('utf8');
  assert.equal(statementOf(run.receipt!)['predicate']['runDetails']['retrieval'], undefined);
  for (const leak of [...DOCS.map((doc) => doc.source), sha256(DOC_INPUT), sha256(DOC_SYSTEM)]) assert.ok(!payload.includes(leak), `the receipt holds no ${leak}`);
  const check = await receiptCheck(run, data);
  assert.equal(check.status, 'pass');
  assert.match(check.message ?? '', /declared retrieval is not checked: its documents are in salted components/);
  // A receipt signed before salted documents were left out states them all: it still agrees.
  assert.equal(retrievalAgreement(run.record.retrieval, ENTRIES, run.identity!), 'signed');
  assert.equal(retrievalAgreement(run.record.retrieval, [ENTRIES[1]!], run.identity!), 'differs');
  assert.equal(retrievalAgreement(run.record.retrieval, undefined, run.identity!), 'withheld');
});
