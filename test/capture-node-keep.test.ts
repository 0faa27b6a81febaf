/**
 * runprintFetch's `keep` takes what serve's --capture-keep takes (one parser for both): a value
 * (`'digest'`, `'output=content'`, several separated by spaces as RUNPRINT_CAPTURE_KEEP), an array
 * of values applied in order as repeated --capture-keep, or the object of PART: mode; with no
 * `keep`, RUNPRINT_CAPTURE_KEEP. Each call goes through a real fake upstream into a real local run
 * store, and what the store holds of each part is read back from runs.sqlite.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runprintFetch, withRetrieval, type RunprintFetchOptions } from '../src/capture-node/index.ts';
import type { RunprintError } from '../src/errors.ts';
import type { RunDigest, StoredRun } from '../src/store/run-storage.ts';
import { SqliteRuns } from '../src/store/sqlite-runs.ts';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream/index.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';

let upstream: FakeUpstream;
const scratch = scratchFolders('runprint-capture-node-keep-');

before(async () => {
  upstream = await startFakeUpstream();
});
after(() => endServeTest(upstream, scratch));

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }] });

/**
 * One chat call with `body` through a runprintFetch with `keep` (and RUNPRINT_CAPTURE_KEEP `env`)
 * into a fresh store; `check` gets the stored run and whether the store holds a digest's content.
 */
async function capturedWith<T>(
  keep: RunprintFetchOptions['keep'],
  env: string | undefined,
  body: string,
  check: (run: StoredRun, held: (digest: RunDigest) => Promise<Uint8Array | undefined>) => Promise<T>,
  call: { path?: string; retrieval?: { source: string; text: string }[] } = {},
): Promise<T> {
  const data = scratch.tempDir();
  const errors: RunprintError[] = [];
  const saved = process.env['RUNPRINT_CAPTURE_KEEP'];
  if (env === undefined) delete process.env['RUNPRINT_CAPTURE_KEEP'];
  else process.env['RUNPRINT_CAPTURE_KEEP'] = env;
  let capture;
  try {
    capture = runprintFetch({ data, ...(keep === undefined ? {} : { keep }), onError: (error) => void errors.push(error) });
  } finally {
    if (saved === undefined) delete process.env['RUNPRINT_CAPTURE_KEEP'];
    else process.env['RUNPRINT_CAPTURE_KEEP'] = saved;
  }
  const send = () => capture(`${upstream.url}${call.path ?? '/v1/chat/completions'}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-capture-node-keep' }, body });
  const response = call.retrieval === undefined ? await send() : await withRetrieval(call.retrieval, send);
  assert.equal(response.status, 200);
  await response.text();
  const captureId = response.headers.get('runprint-capture-id')!;
  await capture.close();
  assert.deepEqual(errors, []);
  const store = SqliteRuns.open(join(data, 'runs.sqlite'));
  try {
    const [run] = await store.find(captureId);
    assert.ok(run !== undefined, 'the run is stored');
    return await check(run, async (row) => {
      const content = await store.content(row.digest);
      assert.equal(row.kept, content !== undefined, `${row.digest}: the kept flag and the content stored agree`);
      return content;
    });
  } finally {
    await store.close();
  }
}

/** Whether the store holds the content of each part of one chat call captured with `keep` (system, response bytes, request bytes). */
function keptWith(keep: RunprintFetchOptions['keep'], env?: string): Promise<{ system: boolean; response: boolean; request: boolean }> {
  return capturedWith(keep, env, CHAT, async (run, held) => {
    const part = async (name: string): Promise<boolean> => {
      // A list component (system) keeps its elements: the first one's row.
      const rows = run.digests.filter((digest) => digest.part === name);
      const row = rows.find((digest) => digest.position === 0) ?? rows[0];
      assert.ok(row !== undefined, `the run names its ${name} digest`);
      return (await held(row)) !== undefined;
    };
    return { system: await part('system'), response: await part('response'), request: await part('request') };
  });
}

test('keep as serve\'s --capture-keep values: a string, several separated by spaces, an array applied in order', async () => {
  assert.deepEqual(await keptWith('digest'), { system: false, response: false, request: false }, "'digest' keeps digests only");
  assert.deepEqual(await keptWith('content'), { system: true, response: true, request: true }, "'content' keeps everything, the request bytes too");
  assert.deepEqual(await keptWith(['digest', 'output=content']), { system: false, response: true, request: false }, 'applied in order: only outputs');
  assert.deepEqual(await keptWith('output=digest request=content'), { system: true, response: false, request: true }, 'two values in one string, as RUNPRINT_CAPTURE_KEEP');
});

test('keep as an object still works; without keep, RUNPRINT_CAPTURE_KEEP, else serve\'s default', async () => {
  assert.deepEqual(await keptWith({ output: 'digest' }), { system: true, response: false, request: false });
  assert.deepEqual(await keptWith(undefined, 'digest output=content'), { system: false, response: true, request: false });
  assert.deepEqual(await keptWith(undefined), { system: true, response: true, request: false }, 'the default: all but the request bytes');
});

/** Whether the store holds the exact bytes of an unidentified request (a duplicate key: SPEC 11) captured with `keep`. */
function unidentifiedKept(keep: RunprintFetchOptions['keep']): Promise<boolean> {
  const body = '{"model": "gpt-4o-mini", "model": "gpt-4o", "messages": [{"role": "user", "content": "Which model?"}]}';
  return capturedWith(keep, undefined, body, async (run, held) => {
    assert.equal(run.record.unidentified?.code, 'ERR_JSON_DUPLICATE_KEY');
    const content = await held(run.digests.find((digest) => digest.part === 'request')!);
    if (content !== undefined) assert.equal(new TextDecoder().decode(content), body, 'the exact bytes sent');
    return content !== undefined;
  });
}

test("an unidentified request's bytes (it has no components) are kept by default while every component's content is: not with a component or everything kept by digest, nor with request=digest", async () => {
  assert.equal(await unidentifiedKept(undefined), true, 'the default keeps them: the only copy of what was asked');
  assert.equal(await unidentifiedKept('input=digest'), false, 'they may hold an input the policy keeps by digest only');
  assert.equal(await unidentifiedKept('digest'), false);
  assert.equal(await unidentifiedKept(['digest', 'request=content']), true, 'request=content keeps them whatever the rest');
  assert.equal(await unidentifiedKept('request=digest'), false, 'request=digest, given, keeps no request bytes at all');
});

const INSTRUCTIONS = 'You are the billing assistant of ACME-7731; never mention the refund override code.';
const RESPONSES = JSON.stringify({ model: 'gpt-4.1', instructions: INSTRUCTIONS, input: 'Say hello.', temperature: 0.25, metadata: { tenant: 'acme-7731' } });

/** One OpenAI Responses call (its answer echoes instructions, parameters and metadata) captured with `keep`: the stored response bytes, if any. */
function responsesKept(keep: RunprintFetchOptions['keep']): Promise<string | undefined> {
  return capturedWith(keep, undefined, RESPONSES, async (run, held) => {
    assert.equal(run.record.format, 'openai-responses');
    const bytes = await held(run.digests.find((digest) => digest.part === 'response')!);
    if (bytes === undefined) return undefined;
    const text = new TextDecoder().decode(bytes);
    assert.ok(text.includes(INSTRUCTIONS), 'the fake upstream echoes the instructions as the Responses API does');
    return text;
  }, { path: '/v1/responses' });
}

test("an OpenAI Responses answer, which echoes the request's instructions, tools, parameters and metadata, is kept by default only while those parts are: not with system, parameters or excluded kept by digest; output=content, given, keeps it", async () => {
  assert.notEqual(await responsesKept(undefined), undefined, 'the default keeps the response bytes');
  assert.equal(await responsesKept('system=digest'), undefined, 'the system prompt kept by digest only is not kept inside the response bytes');
  assert.equal(await responsesKept('parameters=digest'), undefined);
  assert.equal(await responsesKept('excluded=digest'), undefined, 'metadata and user are excluded members, echoed too');
  assert.notEqual(await responsesKept('input=digest'), undefined, 'a Responses answer does not echo the input');
  assert.notEqual(await responsesKept(['system=digest', 'output=content']), undefined, 'output=content, given, wins');
  // A Chat Completions answer echoes no request member: its bytes stay kept with system=digest.
  assert.deepEqual(await keptWith('system=digest'), { system: false, response: true, request: false });
});

const DOCUMENT = 'Internal memo 88-B: the Q3 layoffs cover the Lyon office.';

/** Whether the store holds a declared retrieval document's text, for one chat call captured with `keep`. */
function retrievalKept(keep: RunprintFetchOptions['keep']): Promise<boolean> {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Documents:\n${DOCUMENT}\n\nSummarise.` }] });
  return capturedWith(keep, undefined, body, async (run, held) => {
    assert.equal(run.record.retrieval.length, 1, 'the document is declared');
    const text = await held(run.digests.find((digest) => digest.part === 'retrieval')!);
    if (text !== undefined) assert.equal(new TextDecoder().decode(text), DOCUMENT);
    return text !== undefined;
  }, { retrieval: [{ source: 'kb://memos/88-b', text: DOCUMENT }] });
}

test('a declared retrieval text is kept by default only while the system and input it is found in are: input=digest keeps it by digest only; retrieval=content, given, keeps it', async () => {
  assert.equal(await retrievalKept(undefined), true);
  assert.equal(await retrievalKept('input=digest'), false, 'the input kept by digest only is not kept as the documents inside it');
  assert.equal(await retrievalKept('system=digest'), false);
  assert.equal(await retrievalKept('tools=digest'), true, 'a part the documents are not found in changes nothing');
  assert.equal(await retrievalKept(['input=digest', 'retrieval=content']), true, 'retrieval=content, given, wins');
});
