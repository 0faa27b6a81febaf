/**
 * Misuse of runprint/capture (docs/API.md): captureFetch, captureRun, retrievalHeader,
 * readRetrievalHeader and routeOf throw TypeErrors with Node's stable codes, as runprintFetch does
 * (capture/misuse.ts): ERR_INVALID_ARG_TYPE for a value of the wrong type, ERR_INVALID_ARG_VALUE
 * for one of the right type that is not allowed (an unknown option, an empty source), never a
 * bare TypeError of the runtime's (`value.split is not a function`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureFetch, captureRun, readRetrievalHeader, retrievalHeader, routeOf, type CaptureFetchOptions } from '../src/capture/index.ts';
import { withRetrieval } from '../src/capture-node/index.ts';
import { refused } from './helpers/type-errors.ts';


/** The TypeError `fn` throws, with its code. */
function catchOf(fn: () => unknown): TypeError & { code?: unknown } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof TypeError, `a TypeError: ${String(error)}`);
    return error;
  }
  assert.fail('no error');
}

const onRun = () => undefined;
const options = (value: unknown) => () => captureFetch(globalThis.fetch, value as CaptureFetchOptions);

test('captureFetch: a fetchImpl or option of the wrong type, and an option name it does not have, are TypeErrors with a code', () => {
  refused(() => captureFetch('x' as never, { onRun }), 'ERR_INVALID_ARG_TYPE', /^captureFetch: fetchImpl must be a function \(.*\), not string$/);
  refused(options(5), 'ERR_INVALID_ARG_TYPE', /^captureFetch: options must be an object, such as \{ onRun\(record\) \{\} \}, not number$/);
  refused(options(null), 'ERR_INVALID_ARG_TYPE', /not null$/);
  refused(options({}), 'ERR_INVALID_ARG_TYPE', /^options.onRun must be a function \(or give options.onCapturedRun\)$/);
  refused(options({ onRun: 5 }), 'ERR_INVALID_ARG_TYPE', /^options.onRun must be a function, not number$/);
  refused(options({ onCapturedRun: 'x' }), 'ERR_INVALID_ARG_TYPE', /^options.onCapturedRun must be a function, not string$/);
  for (const name of ['onStart', 'onError', 'parents', 'steps', 'retrieval', 'derived', 'salts', 'now']) {
    refused(options({ onRun, [name]: 5 }), 'ERR_INVALID_ARG_TYPE', new RegExp(`^options.${name} must be a function, not number$`));
  }
  refused(options({ onRun, holdEnd: 'yes' }), 'ERR_INVALID_ARG_TYPE', /^options.holdEnd must be true or false, not string$/);
  refused(options({ onRun, idHeaders: 1 }), 'ERR_INVALID_ARG_TYPE', /^options.idHeaders must be true or false, not number$/);
  refused(options({ onRun, idHeader: true }), 'ERR_INVALID_ARG_VALUE', /^options.idHeader is not an option of captureFetch: did you mean idHeaders\?$/);
  refused(options({ onRun, verbose: true }), 'ERR_INVALID_ARG_VALUE', /^options.verbose is not an option of captureFetch \(its options: onRun, onCapturedRun, onStart, onError, parents, steps, retrieval, derived, salts, now, holdEnd, idHeaders\)$/);
  assert.equal(typeof options({ onRun, onError: undefined, holdEnd: false })(), 'function', 'undefined options are as not given');
});

test('captureRun, retrievalHeader, readRetrievalHeader and routeOf: wrong arguments are TypeErrors with a code', () => {
  refused(() => captureRun({} as never), 'ERR_INVALID_ARG_TYPE', /^requestBytes and responseBytes must be Uint8Arrays$/);
  refused(() => captureRun(null as never), 'ERR_INVALID_ARG_TYPE', /^captureRun takes an exchange object .*, not null$/);
  refused(() => retrievalHeader('x' as never), 'ERR_INVALID_ARG_TYPE', /^retrievalHeader takes an array of \{ source, text \}, two non-empty strings, not string$/);
  refused(() => retrievalHeader([5] as never), 'ERR_INVALID_ARG_TYPE', /^retrievalHeader takes an array of \{ source, text \}, two non-empty strings: \[0\] is number, not an object$/);
  refused(() => retrievalHeader([{ source: '', text: 'x' }]), 'ERR_INVALID_ARG_VALUE', /^retrievalHeader takes an array of \{ source, text \}, two non-empty strings: \[0\]\.source is empty$/);
  // A wrong type is ERR_INVALID_ARG_TYPE, as withRetrieval's (one check for both).
  refused(() => retrievalHeader([{ source: 5, text: 'x' }] as never), 'ERR_INVALID_ARG_TYPE', /: \[0\]\.source is number, not a string$/);
  refused(() => retrievalHeader([{ source: 's', text: 't', extra: 1 }] as never), 'ERR_INVALID_ARG_VALUE', /: \[0\] has a member other than source and text: "extra"$/);
  for (const [documents, code] of [[[{ source: 5, text: 'x' }], 'ERR_INVALID_ARG_TYPE'], [[{ source: 's' }], 'ERR_INVALID_ARG_TYPE'], [[null], 'ERR_INVALID_ARG_TYPE'], [[{ source: 's', text: '' }], 'ERR_INVALID_ARG_VALUE'], [[{ source: 's', text: 't', score: 0.9 }], 'ERR_INVALID_ARG_VALUE']] as const) {
    const header = catchOf(() => retrievalHeader(documents as never));
    const within = catchOf(() => withRetrieval(documents as never, () => 1));
    assert.equal(header.code, code, header.message);
    assert.equal(within.code, code, within.message);
    assert.equal(within.message.replace(/^withRetrieval/, ''), header.message.replace(/^retrievalHeader/, ''), 'the same check');
  }
  refused(() => readRetrievalHeader(5 as never), 'ERR_INVALID_ARG_TYPE', /^readRetrievalHeader: value must be the header's value, a string, or null for none, not number$/);
  refused(() => readRetrievalHeader('', '10' as never), 'ERR_INVALID_ARG_TYPE', /^readRetrievalHeader: maxBytes must be a number of bytes, not string$/);
  assert.deepEqual(readRetrievalHeader(null), []);
  assert.deepEqual(readRetrievalHeader(retrievalHeader([{ source: 's', text: 't' }])), [{ source: 's', text: 't' }]);
  refused(() => routeOf(5 as never, '/v1/chat/completions'), 'ERR_INVALID_ARG_TYPE', /^routeOf: method must be a string, such as "POST", not number$/);
  refused(() => routeOf('POST', 5 as never), 'ERR_INVALID_ARG_TYPE', /^routeOf: path must be a string, such as "\/v1\/chat\/completions", not number$/);
  assert.equal(routeOf('post', '/v1/chat/completions'), 'openai-chat');
});
