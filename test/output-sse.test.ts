/** docs/SPEC.md section 12.1: the event stream parser (WHATWG server-sent events) under any split of the bytes. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OutputError } from '../src/errors.ts';
import { SseParser, parseEventStream, runOutputFrom, type RequestFormat } from '../src/providers/index.ts';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

function fixture(format: RequestFormat, name: string): Uint8Array {
  return readFileSync(new URL(`./fixtures/output/${format}/${name}`, import.meta.url));
}

describe('SSE parser (SPEC 12.1)', () => {
  it('dispatches events at empty lines, joins data lines with LF and keeps the event name', () => {
    const { events, pending } = parseEventStream(bytes('event: a\ndata: one\ndata:two\n\ndata: three\n\n'));
    assert.deepEqual(events, [
      { event: 'a', data: 'one\ntwo' },
      { event: null, data: 'three' },
    ]);
    assert.equal(pending, false);
  });

  it('accepts CRLF, LF and CR line endings alike', () => {
    const want = parseEventStream(bytes('event: x\ndata: 1\n\ndata: 2\n\n')).events;
    assert.deepEqual(parseEventStream(bytes('event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n')).events, want);
    assert.deepEqual(parseEventStream(bytes('event: x\rdata: 1\r\rdata: 2\r\r')).events, want);
    assert.deepEqual(parseEventStream(bytes('event: x\r\ndata: 1\n\rdata: 2\r\n\n')).events, want);
  });

  it('ignores comments, id, retry and unknown fields; strips one space only; a line without colon is a field', () => {
    const { events } = parseEventStream(bytes(': keep-alive\nid: 7\nretry: 100\nfoo: bar\ndata:  two spaces\n\ndata\n\n'));
    assert.deepEqual(events, [
      { event: null, data: ' two spaces' },
      { event: null, data: '' },
    ]);
  });

  it('drops one leading byte order mark, as the standard says', () => {
    assert.deepEqual(parseEventStream(bytes('\uFEFFdata: x\n\n')).events, [{ event: null, data: 'x' }]);
  });

  it('does not dispatch an event with no data, and discards an event the body does not end', () => {
    assert.deepEqual(parseEventStream(bytes('event: ping\n\n')).events, []);
    const cut = parseEventStream(bytes('data: 1\n\ndata: 2\n'));
    assert.deepEqual(cut.events, [{ event: null, data: '1' }]);
    assert.equal(cut.pending, true);
  });

  it('rejects bytes that are not UTF-8 with ERR_OUTPUT_INVALID', () => {
    assert.throws(
      () => parseEventStream(new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xc3, 0x28, 0x0a, 0x0a])),
      (error: unknown) => {
        assert.ok(error instanceof OutputError);
        assert.equal(error.code, 'ERR_OUTPUT_INVALID');
        assert.equal(error.message, 'event stream is not well-formed UTF-8');
        return true;
      },
    );
  });

  it('refuses to be used after end (programmer error)', () => {
    const parser = new SseParser();
    parser.end();
    assert.throws(() => parser.push(bytes('x')), RangeError);
  });
});

describe('Unicode split across network chunks', () => {
  it('a stream fed one byte at a time, splitting every multi-byte character, gives the same output', () => {
    for (const [format, name] of [['openai-chat', 'unicode.sse'], ['anthropic-messages', 'stop-sequence.sse']] as const) {
      const body = fixture(format, name);
      const parser = new SseParser();
      for (let i = 0; i < body.length; i++) parser.push(body.subarray(i, i + 1));
      parser.end();
      assert.deepEqual(parser.events, parseEventStream(body).events);
    }
  });
});

describe('properties', () => {
  const streams: Array<[RequestFormat, string]> = [
    ['openai-chat', 'unicode.sse'],
    ['openai-chat', 'two-choices.sse'],
    ['openai-responses', 'function-call.sse'],
    ['anthropic-messages', 'stop-sequence.sse'],
    ['anthropic-messages', 'tool-use.sse'],
  ];

  it('splitting a stream into chunks at any byte positions gives the same events', () => {
    for (const [format, name] of streams) {
      const body = fixture(format, name);
      const whole = parseEventStream(body).events;
      fc.assert(
        fc.property(fc.uniqueArray(fc.integer({ min: 1, max: body.length - 1 }), { maxLength: 40 }), (cuts) => {
          const parser = new SseParser();
          let start = 0;
          for (const cut of [...cuts].sort((a, b) => a - b)) {
            parser.push(body.subarray(start, cut));
            start = cut;
          }
          parser.push(body.subarray(start));
          parser.end();
          assert.deepEqual(parser.events, whole);
        }),
        { numRuns: 200 },
      );
    }
  });

  // A CR ending followed by an empty line ending in LF would read as one CRLF, as the standard
  // says; so CR is checked for whole streams and CRLF and LF are mixed freely.
  it('the choice of CRLF or LF for each line ending, or CR for all, never changes the output or its digest', () => {
    for (const [format, name] of streams) {
      const text = new TextDecoder().decode(fixture(format, name)).replaceAll('\r\n', '\n');
      const lines = text.split('\n');
      const want = runOutputFrom(bytes(text), format);
      fc.assert(
        fc.property(fc.array(fc.constantFrom('\n', '\r\n'), { minLength: lines.length, maxLength: lines.length }), (endings) => {
          const rebuilt = lines.map((line, i) => (i === lines.length - 1 ? line : line + endings[i])).join('');
          const got = runOutputFrom(bytes(rebuilt), format);
          assert.deepEqual(got.output, want.output);
          assert.deepEqual(got.digest, want.digest);
          assert.equal(got.finishReason, want.finishReason);
        }),
        { numRuns: 50 },
      );
      assert.deepEqual(runOutputFrom(bytes(lines.join('\r')), format).output, want.output);
    }
  });
});
