/**
 * POST /v1/exchanges of 1 MiB or more (server/ingest-routes.ts) is parsed, read and its request's
 * base64 decoded in turns of the event loop (decodeBase64Steps): the same runs and the same
 * refusals as an exchange read in one go. The request identity is what `runprint id` gives for
 * the request's bytes, in either base64 alphabet; a request that is not base64 of one spelling is
 * refused at $['request'], and a member checked before the request still comes first.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chatExchange, postExchange } from './helpers/exchanges.ts';
import { endServeTest, scratchFolders } from './helpers/scratch.ts';
import { runRunprint, startServe, type ServeProcess } from './helpers/serve-process.ts';

const scratch = scratchFolders('runprint-exchange-large-');
let serve: ServeProcess;
let data: string;
before(async () => {
  data = scratch.tempDir();
  serve = await startServe({ data });
});
after(() => endServeTest(undefined, scratch));

const ANSWER = JSON.stringify({ id: 'chatcmpl-large', object: 'chat.completion', created: 1767225600, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Read.' } }] });

/** A chat request of 2,000 messages: about 1.6 MB, 2.2 MB as base64 (past 1 MiB, and a few steps of the decode). */
const REQUEST = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: Array.from({ length: 2000 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i}: ${'lorem ipsum dolor sit amet?>> '.repeat(28)}` })) }));

/** `text` with 'A's added until its length is one past a multiple of 4: no number of bytes has it. */
function oneOver(text: string): string {
  let over = text;
  while (over.length % 4 !== 1) over += 'A';
  return over;
}

type Answer = { status: number; body: { requestId?: string; error?: { code: string; path?: string } } };
const post = async (exchange: unknown): Promise<Answer> => {
  const response = await postExchange(serve.base, exchange);
  return { status: response.status, body: (await response.json()) as Answer['body'] };
};

test('a large exchange\'s request, in standard or URL-safe base64, gets the identity runprint id gives its bytes', async () => {
  assert.ok(REQUEST.length > 1 << 20 && REQUEST.toString('base64').length > 2 << 20, `${REQUEST.length} bytes`);
  const file = join(data, 'large-request.json');
  writeFileSync(file, REQUEST);
  const id = await runRunprint(['id', file]);
  assert.equal(id.code, 0, id.stderr);
  // URL-safe base64 of these bytes holds '-' and '_' ('?>>' gives them): the other alphabet, not the same text.
  const urlSafe = REQUEST.toString('base64url');
  assert.ok(urlSafe.includes('-') && urlSafe.includes('_'), 'the URL-safe text has its own characters');
  for (const request of [REQUEST.toString('base64'), urlSafe]) {
    const answer = await post(chatExchange(REQUEST, ANSWER, { request }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.requestId, id.stdout.trim());
  }
});

test('a large exchange whose request is not base64 of one spelling is refused at $[\'request\'], as a small one is; a member read before it is refused first', async () => {
  const standard = REQUEST.toString('base64');
  const small = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi?' }] })).toString('base64');
  const spoilt: Array<[string, (text: string) => string]> = [
    ['a character outside the alphabet, at the end', (text) => `${text.slice(0, -4)}*AAA`],
    ['a character outside the alphabet, in the first slice', (text) => `${text.slice(0, 10)}*${text.slice(11)}`],
    ['both alphabets', (text) => `_+${text.slice(2)}`],
    ['white space', (text) => `${text.slice(0, 1000)}\n${text.slice(1000)}`],
    ['padding in the middle', (text) => `${text.slice(0, 2000)}==${text.slice(2002)}`],
    ['a length that is no number of bytes', (text) => oneOver(text.replace(/=+$/, ''))],
  ];
  for (const [what, spoil] of spoilt) {
    for (const request of [spoil(standard), spoil(small)]) {
      const answer = await post(chatExchange(REQUEST, ANSWER, { request }));
      assert.equal(answer.status, 400, `${what} (${request.length} characters): ${JSON.stringify(answer.body)}`);
      assert.deepEqual([answer.body.error?.code, answer.body.error?.path], ['ERR_HTTP_BAD_REQUEST', "$['request']"], what);
    }
  }
  // The capture id is read before the request: a large exchange with a bad one says so, whether its request is good or not.
  for (const request of [standard, spoilt[0]![1](standard)]) {
    const answer = await post(chatExchange(REQUEST, ANSWER, { request, captureId: 'not-a-uuid' }));
    assert.equal(answer.status, 400);
    assert.deepEqual([answer.body.error?.code, answer.body.error?.path], ['ERR_HTTP_BAD_REQUEST', "$['captureId']"]);
  }
});
