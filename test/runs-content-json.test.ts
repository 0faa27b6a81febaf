/**
 * `runs show --json`, `runs list --json` and `GET /v1/runs/{id}` say per part of a run where its
 * content is (`content`), as the text of `runs show` does: kept by this run, stored because another
 * run keeps the same content, or not stored; a list part counts its elements in each state and
 * gives each element's. Before, only the text said it, so a script could not learn it. On SQLite
 * and PostgreSQL, the HTTP answer from a real server on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { captureRunWith } from '../src/capture/capture-run.ts';
import { createApp } from '../src/server/app.ts';
import { listen } from '../src/server/listen.ts';
import { PostgresRuns } from '../src/store/postgres-runs.ts';
import { defaultContentPolicy, runToStore, type ContentPolicy, type RunStorage } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { validate } from './helpers/json-schema.ts';
import { pgSchemas } from './helpers/pg-schemas.ts';
import { runCliInProcess } from './helpers/run-cli.ts';
import { scratchFolders } from './helpers/scratch.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const scratch = scratchFolders('runprint-runs-content-json-');
const pgs = await pgSchemas();
after(async () => {
  await pgs.drop();
  scratch.removeAll();
});

const DAY = 86_400_000;
const encoder = new TextEncoder();
const OPENAPI = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** A chat run: a system message and two user messages (the first the same in every run), answered `answer`. */
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

const one = (state: 'kept' | 'elsewhere' | 'none') => ({ kept: state === 'kept' ? 1 : 0, elsewhere: state === 'elsewhere' ? 1 : 0, none: state === 'none' ? 1 : 0 });
type States = Array<'kept' | 'elsewhere' | 'none'>;
const list = (elements: States) => ({ ...Object.fromEntries((['kept', 'elsewhere', 'none'] as const).map((state) => [state, elements.filter((each) => each === state).length])), elements });

/** What `content` says of each run fill stores (the text of runs show says the same: test/cli-runs-show-content.test.ts). */
const EXPECTED: Record<string, Record<string, unknown>> = {
  // Expired: what the newer run shares is elsewhere, its own second user message and its request bytes gone.
  old: { model: one('elsewhere'), system: list(['elsewhere']), input: list(['elsewhere', 'none']), parameters: one('elsewhere'), configuration: one('elsewhere'), request: one('none'), response: one('elsewhere') },
  new: { model: one('kept'), system: list(['kept']), input: list(['kept', 'kept']), parameters: one('kept'), configuration: one('kept'), request: one('none'), response: one('kept') },
  digests: { model: one('elsewhere'), system: list(['elsewhere']), input: list(['elsewhere', 'none']), parameters: one('elsewhere'), configuration: one('elsewhere'), request: one('none'), response: one('none') },
  'input-digest': { model: one('kept'), system: list(['kept']), input: list(['elsewhere', 'none']), parameters: one('kept'), configuration: one('kept'), request: one('none'), response: one('kept') },
  error: { model: one('kept'), system: list(['kept']), input: list(['kept', 'kept']), parameters: one('kept'), configuration: one('kept'), request: one('none'), response: one('none') },
};

async function fill(store: RunStorage, ids: Record<string, string>): Promise<void> {
  const now = Date.now();
  const runs: Array<[string, ReturnType<typeof chat>, ContentPolicy]> = [
    ['old', chat('First question', 'Same answer.', now - 3 * DAY), defaultContentPolicy()],
    ['new', chat('Second question', 'Same answer.', now), defaultContentPolicy()],
    ['digests', chat('Third question', 'Another answer.', now + 1000), digestsOnly],
    ['input-digest', chat('Fourth question', 'A third answer.', now + 2000), policy({ input: 'digest' })],
    ['error', chat('Fifth question', 'The server failed.', now + 3000, 500), defaultContentPolicy()],
  ];
  for (const [name, { run }] of runs) ids[name] = run.record.captureId;
  await store.put(runs.map(([, { run, bytes }, keep]) => runToStore(run, bytes, keep, 'proxy', true)));
  assert.equal(await store.expire(new Date(now - DAY).toISOString()), 1);
}

const STORES: Array<[string, () => Promise<{ store: RunStorage; where: string[] }>]> = [
  ['SQLite', async () => {
    const data = scratch.tempDir();
    return { store: SqliteRuns.open(join(data, 'runs.sqlite')), where: ['--data', data] };
  }],
  ['PostgreSQL', async () => {
    const { url } = await pgs.fresh('runprint_content_json');
    return { store: await PostgresRuns.open(url), where: ['--runs-db', url] };
  }],
];

type View = { captureId: string; content: Record<string, unknown>; contentExpired: boolean };

for (const [kind, open] of STORES) {
  describe(`content in the JSON views on ${kind}`, () => {
    const ids: Record<string, string> = {};
    let where: string[];
    let store: RunStorage;
    before(async () => {
      const opened = await open();
      where = opened.where;
      store = opened.store;
      await fill(store, ids);
    });
    after(async () => store.close());

    test('runs show --json says per part how many pieces are kept, elsewhere and not stored, and each element of a list part', async () => {
      for (const [name, expected] of Object.entries(EXPECTED)) {
        const shown = await runCliInProcess(['runs', 'show', ids[name]!, ...where, '--json']);
        assert.equal(shown.code, 0, shown.stderr);
        const [view] = (JSON.parse(shown.stdout) as { runs: View[] }).runs;
        assert.deepEqual(view!.content, expected, name);
        // Its keys in the order runs show names the parts.
        assert.deepEqual(Object.keys(view!.content), ['model', 'system', 'input', 'parameters', 'configuration', 'request', 'response'], name);
        assert.equal(view!.contentExpired, name === 'old');
      }
    });

    test('runs list --json gives every run the same content', async () => {
      const listed = await runCliInProcess(['runs', 'list', ...where, '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      const views = (JSON.parse(listed.stdout) as { runs: View[] }).runs;
      assert.equal(views.length, 5);
      for (const view of views) {
        const name = Object.keys(ids).find((each) => ids[each] === view.captureId)!;
        assert.deepEqual(view.content, EXPECTED[name], name);
      }
    });

    test('GET /v1/runs/{id} and GET /v1/runs answer the same content, valid against docs/openapi.json', async () => {
      const server = await listen(createApp({ runs: { storage: store } }), { host: '127.0.0.1', port: 0 });
      try {
        let body: { runs: View[] } | undefined;
        for (const [name, expected] of Object.entries(EXPECTED)) {
          const answer = await fetch(`${server.url}/v1/runs/${ids[name]}`);
          assert.equal(answer.status, 200);
          body = (await answer.json()) as { runs: View[] };
          assert.deepEqual(body.runs[0]!.content, expected, name);
          assert.deepEqual(validate(body, { $ref: '#/components/schemas/RunList' }, OPENAPI), [], name);
        }
        // The document says it: a required member of a view, its parts and their states.
        const schemas = (OPENAPI['components'] as { schemas: Record<string, { required: string[] }> }).schemas;
        assert.ok(schemas['RunView']!.required.includes('content'));
        assert.notDeepEqual(validate({ ...body!.runs[0], content: { model: { kept: 1, elsewhere: 0 } } }, { $ref: '#/components/schemas/RunView' }, OPENAPI), [], 'a part without none is refused');
        assert.notDeepEqual(validate({ ...body!.runs[0], content: { input: { kept: 1, elsewhere: 0, none: 0 } } }, { $ref: '#/components/schemas/RunView' }, OPENAPI), [], 'a list part without elements is refused');
        const all = (await (await fetch(`${server.url}/v1/runs`)).json()) as { runs: View[] };
        assert.deepEqual(validate(all, { $ref: '#/components/schemas/RunList' }, OPENAPI), []);
        assert.deepEqual(all.runs.map((view) => view.content), ['error', 'input-digest', 'digests', 'new', 'old'].map((name) => EXPECTED[name]));
      } finally {
        await server.close();
      }
    });

    test('the text of runs show says what content says (one definition)', async () => {
      const shown = await runCliInProcess(['runs', 'show', ids['input-digest']!, ...where]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^stored elsewhere +input \(1 of 2 elements\) \(another run keeps/m);
      assert.match(shown.stdout, /^digest only +input \(1 of 2 elements\), request \(content not stored\)$/m);
    });
  });
}
