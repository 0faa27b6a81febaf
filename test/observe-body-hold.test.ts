/**
 * observeBody's hold of a stream's terminal event (the proxy's and in-process sync durability):
 * the chunk with the terminal event reaches the reader only after onEnd's promise settled; the
 * record is made as soon as the event is whole, not when the source closes; and bytes held when
 * the source fails reach the reader before the error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { terminalEventComplete, terminalEventIn } from '../src/capture/capture-fetch.ts';
import { latin1, observeBody, type ObservedBody } from '../src/capture/observe-body.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MARKERS = ['\ndata: [DONE]'];
const FIRST = 'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n';
const DONE = 'data: [DONE]\n\n';

/** A source that gives `chunks`, then stays open (never closes) or fails, as told. */
function source(chunks: string[], then: 'hang' | 'fail'): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < chunks.length) return controller.enqueue(encoder.encode(chunks[i++]!));
      if (then === 'fail') return controller.error(new TypeError('connection reset'));
      await new Promise(() => undefined);
    },
  }, { highWaterMark: 0 });
}

function observed(body: ReadableStream<Uint8Array>, ends: ObservedBody[], commitMs: number): ReadableStream<Uint8Array> {
  return observeBody(body, {
    holdEnd: true,
    holdFrom: terminalEventIn(MARKERS),
    heldComplete: terminalEventComplete(MARKERS),
    onEnd: async (end) => {
      await new Promise((resolve) => setTimeout(resolve, commitMs));
      ends.push(end);
    },
  });
}

test('an upstream that keeps the connection open after [DONE]: the record is made at [DONE], then the reader gets it', async () => {
  const ends: ObservedBody[] = [];
  const reader = observed(source([FIRST, `\n${DONE}`], 'hang'), ends, 100).getReader();
  assert.equal(decoder.decode((await reader.read()).value), FIRST);
  assert.equal(ends.length, 0);
  const last = await Promise.race([reader.read(), new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 2000))]);
  assert.notEqual(last, 'timeout', 'the terminal event is not held until the upstream closes');
  assert.equal(decoder.decode((last as ReadableStreamReadResult<Uint8Array>).value), `\n${DONE}`);
  assert.equal(ends.length, 1, 'recorded before the reader got the terminal event');
  assert.equal(ends[0]!.outcome, 'complete');
  assert.equal(decoder.decode(ends[0]!.bytes), `${FIRST}\n${DONE}`);
  void reader.cancel();
});

test('a source that fails after [DONE]: the reader gets the held bytes, then the error', async () => {
  const ends: ObservedBody[] = [];
  // The marker's chunk without its blank line: still held when the failure comes.
  const reader = observed(source([FIRST, '\ndata: [DONE]'], 'fail'), ends, 10).getReader();
  assert.equal(decoder.decode((await reader.read()).value), FIRST);
  const held = await reader.read();
  assert.equal(decoder.decode(held.value), '\ndata: [DONE]', 'the held bytes arrive before the error');
  await assert.rejects(reader.read(), /connection reset/);
  assert.equal(ends.length, 1);
  assert.equal(ends[0]!.outcome, 'network-error');
});

test('latin1 gives one character per byte, ASCII bytes as themselves, so markers are found at byte offsets in any body', () => {
  const every = Uint8Array.from({ length: 256 }, (_, i) => i);
  const text = latin1(every);
  assert.equal(text.length, 256);
  for (let i = 0; i < 128; i++) assert.equal(text.charCodeAt(i), i);
  // Bytes that are not UTF-8 (a lone continuation byte, 0xff) before a marker do not hide it or move it.
  const body = Uint8Array.from([0x80, 0xff, 0xc3, ...encoder.encode(DONE)]);
  assert.equal(latin1(body).indexOf('data: [DONE]'), 3);
  assert.equal(terminalEventIn(MARKERS)(body.subarray(3), '\n'), true);
  assert.equal(terminalEventIn(MARKERS)(body.subarray(3), ''), false);
});

test('endedBy: a reader that cancels after a whole terminal or error event ended the stream (complete); before one, or mid-event, it aborted', async () => {
  const ERROR = 'data: {"error":{"message":"The server had an error.","type":"server_error"}}\n\n';
  const markers = ['\ndata: [DONE]', '\ndata: {"error"'];
  const cases: Array<[string, string[], 'complete' | 'aborted']> = [
    ['after [DONE]', [FIRST, DONE], 'complete'],
    ['after an error event', [FIRST, ERROR], 'complete'],
    // The body's first event: its line start is the body's start.
    ['after an error event that is the whole body', [ERROR], 'complete'],
    ['mid-stream', [FIRST], 'aborted'],
    ['inside the error event (no blank line after it yet)', [FIRST, ERROR.slice(0, 30)], 'aborted'],
    // In a JSON string the quotes are escaped: no marker.
    ['a content that quotes an error event', ['data: {"choices":[{"delta":{"content":"data: {\\"error\\"..."}}]}\n\n'], 'aborted'],
  ];
  for (const [what, chunks, want] of cases) {
    const ends: ObservedBody[] = [];
    const reader = observeBody(source(chunks, 'hang'), { endedBy: terminalEventComplete(markers), onEnd: (end) => void ends.push(end) }).getReader();
    for (let i = 0; i < chunks.length; i++) await reader.read();
    await reader.cancel(new DOMException('The operation was aborted.', 'AbortError'));
    assert.equal(ends.length, 1, what);
    assert.equal(ends[0]!.outcome, want, what);
    assert.equal(decoder.decode(ends[0]!.bytes), chunks.join(''), what);
  }
  // Without endedBy a cancel is an abort, whatever was read.
  const ends: ObservedBody[] = [];
  const reader = observeBody(source([FIRST, DONE], 'hang'), { onEnd: (end) => void ends.push(end) }).getReader();
  await reader.read();
  await reader.read();
  await reader.cancel();
  assert.equal(ends[0]!.outcome, 'aborted');
});
