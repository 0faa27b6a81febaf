/**
 * `runprint runs show` says, per part of a run, where its content is: stored because this run
 * keeps it, stored because another run keeps the same content (readable: --composition and runs
 * verify use it), or not stored (kept as digest only; once retention expired the run, deleted or
 * kept as digest only). Before, an expired run said "deleted (retention)" of content a newer run
 * still kept, and a run kept as digests only said nothing of it. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type ContentPolicy, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';

const pgs = await pgSchemas();
const folders: string[] = [];
after(async () => {
  await pgs.drop();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const DAY = 86_400_000;
const encoder = new TextEncoder();

/** A chat run with a system message and two user messages (the first the same in every run), answered `answer`, started `started`. */
function chat(user: string, answer: string, started: number, status = 200) {
  const requestBytes = encoder.encode(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Shared question' }, { role: 'user', content: user }] }));
  const responseBytes = encoder.encode(status === 200
    ? JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: answer } }] })
    : JSON.stringify({ error: { message: answer, type: 'server_error' } }));
  const run = captureRunWith({ format: 'openai-chat', method: 'POST', path: '/v1/chat/completions', requestBytes, status, headers: new Headers({ 'content-type': 'application/json' }), responseBytes, outcome: 'complete', times: { started, response: started + 5, ended: started + 10 } });
  return { run, bytes: { requestBytes, responseBytes } };
}

const policy = (changes: Partial<ContentPolicy>): ContentPolicy => ({ ...defaultContentPolicy(), ...changes });
const digestsOnly = policy(Object.fromEntries(Object.keys(defaultContentPolicy()).map((part) => [part, 'digest'])));

/** Stores the runs (their capture ids into `ids`) and expires the oldest, as a retention sweep a day back would. */
async function fill(store: RunStorage, ids: Record<string, string>): Promise<void> {
  const now = Date.now();
  const runs: Array<[string, ReturnType<typeof chat>, ContentPolicy]> = [
    // Expired below: its system message, first user message and answer are the newer run's too, its second user message is not.
    ['old', chat('First question', 'Same answer.', now - 3 * DAY), defaultContentPolicy()],
    ['new', chat('Second question', 'Same answer.', now), defaultContentPolicy()],
    // Kept as digests only (serve --capture-keep digest): nothing of it is stored but what another run keeps.
    ['digests', chat('Third question', 'Another answer.', now + 1000), digestsOnly],
    // input kept as digest only (--capture-keep input=digest); one of its two messages is stored for the other runs.
    ['input-digest', chat('Fourth question', 'A third answer.', now + 2000), policy({ input: 'digest' })],
    ['error', chat('Fifth question', 'The server failed.', now + 3000, 500), defaultContentPolicy()],
  ];
  for (const [name, { run }] of runs) ids[name] = run.record.captureId;
  await store.put(runs.map(([, { run, bytes }, keep]) => runToStore(run, bytes, keep, 'proxy', true)));
  assert.equal(await store.expire(new Date(now - DAY).toISOString()), 1);
}

const STORES: Array<[string, () => Promise<{ store: RunStorage; where: string[] }>]> = [
  ['SQLite', async () => {
    const data = mkdtempSync(join(tmpdir(), 'runprint-runs-show-content-'));
    folders.push(data);
    return { store: SqliteRuns.open(join(data, 'runs.sqlite')), where: ['--data', data] };
  }],
  ['PostgreSQL', async () => {
    const { url } = await pgs.fresh('runprint_show_content');
    return { store: await PostgresRuns.open(url), where: ['--runs-db', url] };
  }],
];

for (const [kind, open] of STORES) {
  describe(`runs show on ${kind}`, () => {
    const ids: Record<string, string> = {};
    let where: string[];
    before(async () => {
      const opened = await open();
      where = opened.where;
      try {
        await fill(opened.store, ids);
      } finally {
        await opened.store.close();
      }
    });

    const rows = async (name: string) => {
      const shown = await runCliInProcess(['runs', 'show', ids[name]!, ...where]);
      assert.equal(shown.code, 0, shown.stderr);
      const row = (label: string) => new RegExp(`^${label}  +(.*)$`, 'm').exec(shown.stdout)?.[1];
      return { content: row('content'), stored: row('stored'), elsewhere: row('stored elsewhere'), digestOnly: row('digest only'), notStored: row('not stored'), out: shown.stdout };
    };

    test('an expired run says which content another run still keeps (readable) and which is gone, not that all of it was deleted', async () => {
      const shown = await rows('old');
      assert.doesNotMatch(shown.out, /deleted \(retention\); digests remain/);
      assert.equal(shown.content, 'past retention: this run keeps no content now; its digests, record and receipt remain');
      assert.equal(shown.stored, undefined);
      assert.equal(shown.elsewhere, 'model, system, input (1 of 2 elements), parameters, configuration, response (another run keeps the same content)');
      assert.equal(shown.notStored, 'input (1 of 2 elements), request (deleted by retention, or kept as digest only)');
      // As it says: its composition lacks the one message no other run has.
      const composition = await runCliInProcess(['runs', 'show', ids['old']!, ...where, '--composition']);
      assert.match(composition.stderr, /ERR_REPLAY_CONTENT_NOT_STORED/);
      assert.notEqual(composition.code, 0);
    });

    test('a run of the default policy: what it keeps, and the request bytes kept as digest only', async () => {
      const shown = await rows('new');
      assert.equal(shown.content, undefined);
      assert.equal(shown.stored, 'model, system, input, parameters, configuration, response (this run keeps them)');
      assert.equal(shown.digestOnly, 'request (content not stored)');
      assert.equal(shown.elsewhere, undefined);
    });

    test('a run kept as digests only says so per part, and which of its content another run keeps', async () => {
      const all = await rows('digests');
      assert.equal(all.stored, undefined);
      assert.equal(all.elsewhere, 'model, system, input (1 of 2 elements), parameters, configuration (another run keeps the same content; this run kept the digests only)');
      assert.equal(all.digestOnly, 'input (1 of 2 elements), request, response (content not stored)');
      const input = await rows('input-digest');
      assert.equal(input.stored, 'model, system, parameters, configuration, response (this run keeps them)');
      assert.equal(input.elsewhere, 'input (1 of 2 elements) (another run keeps the same content; this run kept the digests only)');
      assert.equal(input.digestOnly, 'input (1 of 2 elements), request (content not stored)');
    });

    test('an error body is said to be kept as digest only, whatever the policy', async () => {
      const shown = await rows('error');
      assert.equal(shown.digestOnly, 'request, response (an error body, never kept) (content not stored)');
    });
  });
}
