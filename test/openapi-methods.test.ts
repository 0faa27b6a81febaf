/**
 * docs/openapi.json against a real `runprint serve` (log, witness, signing and capture on): every
 * path answers each method it does not list with 405 ERR_HTTP_METHOD_NOT_ALLOWED, as the document's
 * components/responses/MethodNotAllowed gives it, with an Allow header naming exactly the methods the
 * document lists for that path (and HEAD wherever GET is).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkRaw, DOCUMENT, exchange, fullServeArgs, METHODS, pathOf, requestOf } from './helpers/openapi-check.ts';
import { killServeProcesses, startServe } from './helpers/serve-process.ts';

const folders: string[] = [];
after(async () => {
  await killServeProcesses();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

test('every path answers a method it does not list with 405 and Allow naming the methods the document lists there', async () => {
  const data = await mkdtemp(join(tmpdir(), 'runprint-openapi-methods-'));
  folders.push(data);
  const serve = await startServe({ data, token: 'log-token-1', args: (await fullServeArgs(data, 'example.test/openapi-methods')).args });
  const problems: string[] = [];
  for (const [template, item] of Object.entries(DOCUMENT.paths)) {
    const path = pathOf(template);
    const listed = Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => method.toUpperCase());
    const allow = [...listed, ...(listed.includes('GET') ? ['HEAD'] : [])].sort().join(', ');
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].filter((other) => !listed.includes(other))) {
      const answer = await exchange(serve.port, requestOf(method, path));
      checkRaw(problems, answer, 405, template, method, path, DOCUMENT.components.responses['MethodNotAllowed']);
      const given = answer.headers.get('allow');
      if (answer.status === 405 && given?.split(', ').sort().join(', ') !== allow) problems.push(`${method} ${path} -> 405: Allow ${given}, want ${allow}`);
    }
  }
  assert.deepEqual(problems, []);
  await serve.stop();
});
