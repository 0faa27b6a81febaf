/**
 * Misuse of runprint/capture-node (docs/API.md): every programmer error is a TypeError thrown at
 * once, with Node's stable codes (ERR_INVALID_ARG_TYPE for a value of the wrong type,
 * ERR_INVALID_ARG_VALUE for one of the right type that is not allowed) and a message that says
 * what is wrong: an unknown option names the one meant, a URL without its scheme or with the
 * exchanges route says so, withParent and withRetrieval say what they take.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runprintFetch, withParent, withRetrieval, type RunprintFetchOptions } from '../src/capture-node/index.ts';
import { refused } from './helpers/type-errors.ts';

const RUN = `rp-run-v1-sha256-${'ab'.repeat(32)}`;


const options = (value: unknown) => () => runprintFetch(value as RunprintFetchOptions);

test('runprintFetch: each bad option is a TypeError with a code', () => {
  const cases: Array<[unknown, 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE', RegExp]> = [
    ['runprint-data', 'ERR_INVALID_ARG_TYPE', /^options must be an object/],
    [{ data: 42 }, 'ERR_INVALID_ARG_TYPE', /^options.data must be a string/],
    [{ data: '' }, 'ERR_INVALID_ARG_VALUE', /^options.data must be a directory path, not empty$/],
    [{ fetch: 'x' }, 'ERR_INVALID_ARG_TYPE', /^options.fetch must be a function$/],
    [{ durability: 'fast' }, 'ERR_INVALID_ARG_VALUE', /^options.durability must be sync or async$/],
    [{ durability: 1 }, 'ERR_INVALID_ARG_TYPE', /^options.durability must be a string/],
    [{ keep: 42 }, 'ERR_INVALID_ARG_TYPE', /^options.keep must be a string or an array of strings as --capture-keep takes them/],
    [{ keep: ['digest', 1] }, 'ERR_INVALID_ARG_TYPE', /^options.keep must be a string or an array of strings/],
    [{ keep: '' }, 'ERR_INVALID_ARG_VALUE', /^options.keep is empty: give content, digest, or PART=content\|digest with PART one of model, system, /],
    [{ keep: 'none' }, 'ERR_INVALID_ARG_VALUE', /^options.keep: "none" is not content, digest, or PART=content\|digest with PART one of model, system, /],
    [{ keep: ['digest', 'output=all'] }, 'ERR_INVALID_ARG_VALUE', /^options.keep: "output=all" is not content, digest, or PART=content\|digest/],
    [{ keep: 'outputs=digest' }, 'ERR_INVALID_ARG_VALUE', /^options.keep: "outputs=digest": unknown part "outputs" \(did you mean output\?\); PART is one of model, system, /],
    [{ keep: 'output=digest,request=content' }, 'ERR_INVALID_ARG_VALUE', /^options.keep: "output=digest,request=content" is not .*; one value each, not comma-separated: \["output=digest","request=content"\]$/],
    [{ keep: { foo: 'digest' } }, 'ERR_INVALID_ARG_VALUE', /^options.keep: unknown part "foo"; PART is one of /],
    [{ keep: { outptu: 'digest' } }, 'ERR_INVALID_ARG_VALUE', /^options.keep: unknown part "outptu" \(did you mean output\?\)/],
    [{ keep: { output: 'none' } }, 'ERR_INVALID_ARG_VALUE', /^options.keep: each part is "content" or "digest", not "none" for output$/],
    [{ retention: '30' }, 'ERR_INVALID_ARG_TYPE', /^options.retention must be a number of days from 1 to 99999, not a string$/],
    [{ retention: 0 }, 'ERR_INVALID_ARG_VALUE', /^options.retention must be a number of days from 1 to 99999, a whole number: not 0$/],
    [{ retention: 1.5 }, 'ERR_INVALID_ARG_VALUE', /a whole number: not 1.5$/],
    [{ retention: 100_000 }, 'ERR_INVALID_ARG_VALUE', /from 1 to 99999, a whole number: not 100000$/],
    [{ retention: Number.NaN }, 'ERR_INVALID_ARG_VALUE', /not NaN$/],
    [{ url: 'http://127.0.0.1:1', retention: 30 }, 'ERR_INVALID_ARG_VALUE', /^options.retention needs the local run store \(no url\): the server deletes content after its own --capture-retention$/],
    [{ url: 'http://127.0.0.1:1', keep: 'digest' }, 'ERR_INVALID_ARG_VALUE', /^options.keep needs the local run store \(no url\): the server keeps what its own --capture-keep says$/],
    [{ salt: 'system' }, 'ERR_INVALID_ARG_TYPE', /^options.salt must be an array/],
    [{ salt: ['nope'] }, 'ERR_INVALID_ARG_VALUE', /^options.salt: /],
    [{ salt: [1] }, 'ERR_INVALID_ARG_TYPE', /^options.salt: /],
    [{ spans: 'no' }, 'ERR_INVALID_ARG_TYPE', /^options.spans must be true or false$/],
    [{ spans: 0 }, 'ERR_INVALID_ARG_TYPE', /^options.spans must be true or false$/],
    [{ onError: 'x' }, 'ERR_INVALID_ARG_TYPE', /^options.onError must be a function$/],
    [{ parents: ['x'] }, 'ERR_INVALID_ARG_TYPE', /^options.parents must be a function$/],
    [{ servedFacts: {} }, 'ERR_INVALID_ARG_TYPE', /^options.servedFacts must be a function$/],
    [{ token: 7 }, 'ERR_INVALID_ARG_TYPE', /^options.token must be a string$/],
    [{ token: 'has space' }, 'ERR_INVALID_ARG_VALUE', /visible ASCII/],
    [{ token: 't' }, 'ERR_INVALID_ARG_VALUE', /^options.token needs url \(or RUNPRINT_URL\): it is the runprint server's capture token; the local run store takes none$/],
    [{ url: 5 }, 'ERR_INVALID_ARG_TYPE', /^options.url must be a string$/],
    [{ url: 'ftp://runprint.example' }, 'ERR_INVALID_ARG_VALUE', /^options.url must be an http\(s\) URL$/],
    [{ url: 'https://user:pw@runprint.example' }, 'ERR_INVALID_ARG_VALUE', /without query, fragment, user name or password/],
    [{ url: 'http://127.0.0.1:1', servedFacts: () => ({}) }, 'ERR_INVALID_ARG_VALUE', /^options.servedFacts needs the local run store/],
  ];
  for (const [value, code, message] of cases) refused(options(value), code, message);
});

test('runprintFetch: a RUNPRINT_CAPTURE_KEEP that serve would refuse is refused, naming the variable; with url it is the server\'s and not read', async () => {
  const saved = process.env['RUNPRINT_CAPTURE_KEEP'];
  process.env['RUNPRINT_CAPTURE_KEEP'] = 'digest output=al';
  const data = mkdtempSync(join(tmpdir(), 'runprint-capture-node-options-'));
  try {
    refused(() => runprintFetch({ data }), 'ERR_INVALID_ARG_VALUE', /^RUNPRINT_CAPTURE_KEEP: "output=al" is not content, digest, or PART=content\|digest/);
    const remote = runprintFetch({ url: 'http://127.0.0.1:9', data });
    assert.equal(remote.url, 'http://127.0.0.1:9');
    await remote.close();
  } finally {
    rmSync(data, { recursive: true, force: true });
    if (saved === undefined) delete process.env['RUNPRINT_CAPTURE_KEEP'];
    else process.env['RUNPRINT_CAPTURE_KEEP'] = saved;
  }
});

test('runprintFetch: a RUNPRINT_CAPTURE_RETENTION that serve would refuse is refused, naming the variable; with url it is the server\'s and not read', async () => {
  const saved = process.env['RUNPRINT_CAPTURE_RETENTION'];
  const data = mkdtempSync(join(tmpdir(), 'runprint-capture-node-options-'));
  try {
    for (const value of ['0', '30d', '-1', '100000', '1.5']) {
      process.env['RUNPRINT_CAPTURE_RETENTION'] = value;
      refused(() => runprintFetch({ data }), 'ERR_INVALID_ARG_VALUE', /^RUNPRINT_CAPTURE_RETENTION must be a number of days from 1 to 99999$/);
    }
    const remote = runprintFetch({ url: 'http://127.0.0.1:9', data });
    assert.equal(remote.url, 'http://127.0.0.1:9');
    await remote.close();
  } finally {
    rmSync(data, { recursive: true, force: true });
    if (saved === undefined) delete process.env['RUNPRINT_CAPTURE_RETENTION'];
    else process.env['RUNPRINT_CAPTURE_RETENTION'] = saved;
  }
});

test('runprintFetch: an unknown option is refused, naming the option meant', () => {
  refused(options({ durabilty: 'async' }), 'ERR_INVALID_ARG_VALUE', /^options.durabilty is not an option of runprintFetch: did you mean durability\?$/);
  refused(options({ dataDir: '/tmp/x' }), 'ERR_INVALID_ARG_VALUE', /^options.dataDir is not an option of runprintFetch: did you mean data\?$/);
  refused(options({ onerror: () => {} }), 'ERR_INVALID_ARG_VALUE', /did you mean onError\?$/);
  refused(options({ verbose: true }), 'ERR_INVALID_ARG_VALUE', /^options.verbose is not an option of runprintFetch \(its options: data, fetch, url, token, durability, keep, retention, salt, spans, servedFacts, parents, onError\)$/);
});

test('runprintFetch: a server URL without its scheme, or with the exchanges route, says so', () => {
  refused(options({ url: 'localhost:8480' }), 'ERR_INVALID_ARG_VALUE', /^options.url has no scheme: it must be an http\(s\) URL: http:\/\/localhost:8480\?$/);
  refused(options({ url: '127.0.0.1:8480' }), 'ERR_INVALID_ARG_VALUE', /^options.url has no scheme: it must be an http\(s\) URL: http:\/\/127\.0\.0\.1:8480\?$/);
  refused(options({ url: 'not a url' }), 'ERR_INVALID_ARG_VALUE', /^options.url has no scheme: it must be an http\(s\) URL, such as http:\/\/127\.0\.0\.1:8480$/);
  refused(options({ url: 'http://127.0.0.1:8480/v1/exchanges' }), 'ERR_INVALID_ARG_VALUE', /^options.url is the runprint server's base URL, without \/v1\/exchanges \(runprintFetch posts to \/v1\/exchanges under it\): http:\/\/127\.0\.0\.1:8480$/);
  // The prefix is kept: a serve behind a reverse proxy at a path.
  refused(options({ url: 'https://runprint.example/base/v1/exchanges/' }), 'ERR_INVALID_ARG_VALUE', /base URL, without \/v1\/exchanges .*: https:\/\/runprint\.example\/base$/);
  // A provider's base URL (the proxy's, or one ending in /v1): posted to PATH/v1/exchanges, which serve does not answer.
  refused(options({ url: 'http://127.0.0.1:8480/openai/v1' }), 'ERR_INVALID_ARG_VALUE', /^options.url must be the runprint serve's address \(its root, or the path prefix a reverse proxy serves it under\), not a provider's base URL: "\/openai\/v1" names serve's openai provider route .*, such as http:\/\/127\.0\.0\.1:8480$/);
  refused(options({ url: 'http://127.0.0.1:8480/anthropic' }), 'ERR_INVALID_ARG_VALUE', /not a provider's base URL: "\/anthropic" names serve's anthropic provider route/);
  refused(options({ url: 'https://runprint.example/v1/' }), 'ERR_INVALID_ARG_VALUE', /not a provider's base URL: "\/v1" ends in \/v1 .*, such as https:\/\/runprint\.example$/);
  refused(options({ url: 'https://gw.example/runprint/v1' }), 'ERR_INVALID_ARG_VALUE', /not a provider's base URL: "\/runprint\/v1" ends in \/v1/);
  // An http(s) URL whose host or port URL refuses says which (not "must be an http(s) URL").
  refused(options({ url: 'http://256.1.1.1:80' }), 'ERR_INVALID_ARG_VALUE', /^options.url is an http\(s\) URL whose host is not valid: "256\.1\.1\.1:80"$/);
  refused(options({ url: 'http://127.0.0.1:99999' }), 'ERR_INVALID_ARG_VALUE', /^options.url is an http\(s\) URL whose port is not valid: "127\.0\.0\.1:99999"$/);
  const saved = process.env['RUNPRINT_URL'];
  process.env['RUNPRINT_URL'] = 'localhost:8480';
  try {
    refused(() => runprintFetch(), 'ERR_INVALID_ARG_VALUE', /^RUNPRINT_URL has no scheme: it must be an http\(s\) URL: http:\/\/localhost:8480\?$/);
  } finally {
    if (saved === undefined) delete process.env['RUNPRINT_URL'];
    else process.env['RUNPRINT_URL'] = saved;
  }
});

test('runprintFetch: a serve behind a reverse proxy at a path prefix is taken, and trailing slashes go', async () => {
  const data = mkdtempSync(join(tmpdir(), 'runprint-url-'));
  try {
    for (const [given, url] of [
      ['https://gw.example/runprint', 'https://gw.example/runprint'],
      ['https://gw.example/team/runprint/', 'https://gw.example/team/runprint'],
      ['http://127.0.0.1:8480//', 'http://127.0.0.1:8480'],
      ['http://127.0.0.1:8480/runprint///', 'http://127.0.0.1:8480/runprint'],
    ] as const) {
      const fetch = runprintFetch({ data, url: given, fetch: () => Promise.reject(new Error('not sent')), onError: () => {} });
      assert.equal(fetch.url, url);
      await fetch.close();
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('withParent and withRetrieval: a parent that is not a run identity, a document of the wrong shape, a callback that is not a function', () => {
  refused(() => withParent(42 as never, () => 1), 'ERR_INVALID_ARG_TYPE', /^withParent: a parent must be a run identity \(rp-run-\.\.\.\), or an array of them, or null for none, not number$/);
  // A failed step's runId is null, and runOf may give null: both name no parent, and fn runs (test/capture-node-collect.test.ts has its calls' parents).
  assert.equal(withParent(null, () => 'ran'), 'ran');
  assert.equal(withParent(undefined, () => 'ran'), 'ran');
  refused(() => withParent(null, 5 as never), 'ERR_INVALID_ARG_TYPE', /^withParent: the callback must be a function$/);
  refused(() => withParent('rp-req-nope', () => 1), 'ERR_INVALID_ARG_VALUE', /^withParent: a parent must be a run identity \(rp-run-\.\.\.\)$/);
  refused(() => withParent([RUN, 7] as never, () => 1), 'ERR_INVALID_ARG_VALUE', /a parent must be a run identity/);
  refused(() => withParent(RUN, 5 as never), 'ERR_INVALID_ARG_TYPE', /^withParent: the callback must be a function$/);
  assert.equal(withParent(new Set([RUN]) as never, () => 'ran'), 'ran', 'any iterable of run identities');
  refused(() => withRetrieval('doc' as never, () => 1), 'ERR_INVALID_ARG_TYPE', /^withRetrieval takes an array of \{ source, text \}, two non-empty strings, not string$/);
  refused(() => withRetrieval([{ source: 's' }] as never, () => 1), 'ERR_INVALID_ARG_TYPE', /: \[0\]\.text is undefined, not a string$/);
  refused(() => withRetrieval([{ source: 's', text: '' }], () => 1), 'ERR_INVALID_ARG_VALUE', /: \[0\]\.text is empty$/);
  refused(() => withRetrieval([{ source: 's', text: 't' }], 5 as never), 'ERR_INVALID_ARG_TYPE', /^withRetrieval: the callback must be a function$/);
});
